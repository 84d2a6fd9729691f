// SPDX-License-Identifier: MIT
/*
 * pingpong: two processes bounce a 256-byte message between buffers on
 * their stacks.  In U-Net/MM mode a buffer is any address of the process:
 * the NIC reads the message from one stack and writes it into the other,
 * and nothing is registered or pinned beforehand.
 *
 * Build: cc -O2 -o pingpong pingpong.c $(pkg-config --cflags --libs unet)
 * Run:   ./pingpong [ROUNDS]        (unetmm.ko must be loaded)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unet.h>
#include <unistd.h>

#define MSG 256		/* more than fits in a descriptor: the NIC copies */

static void die(const char *what, int err)
{
	fprintf(stderr, "pingpong: %s: %s\n", what, strerror(err));
	exit(1);
}

/* Our address to the peer, the peer's back; a channel to it. */
static int connect_peer(struct unet_ep *ep, int sock)
{
	uint8_t mine[UNET_ADDR_LEN], theirs[UNET_ADDR_LEN];
	size_t len = sizeof(mine);
	int ch = unet_ep_addr(ep, mine, &len);
	char ready;

	if (ch || write(sock, mine, len) != (ssize_t)len ||
	    read(sock, theirs, len) != (ssize_t)len)
		die("address exchange", errno);
	ch = unet_chan_create(ep, theirs, len);
	/* Both channels exist before anyone sends. */
	if (ch < 0 || write(sock, "r", 1) != 1 || read(sock, &ready, 1) != 1)
		die("channel", ch < 0 ? -ch : errno);
	return ch;
}

/* Spin, then sleep: two spinners on one CPU hand over only at a tick. */
#define SPINS 1000

/* Waits for the next message; returns the index of the buffer it is in. */
static int receive(struct unet *u, struct unet_ep *ep)
{
	struct unet_recv r;
	int which, spins = 0;

	while (unet_recv_poll(ep, &r) == 0)
		if (++spins > SPINS)
			unet_wait(u, 100);
	if (r.status != UNET_ST_OK || r.length != MSG || r.nbuf != 1)
		die("receive", EIO);
	which = (int)unet_recv_buf(ep, &r, 0)->context;
	unet_recv_done(ep, &r);		/* the buffer is ours again */
	return which;
}

static void send_and_reap(struct unet *u, struct unet_ep *ep, int ch,
			  const char *buf)
{
	struct unet_send_comp c;
	int err = unet_send_buf(ep, ch, buf, MSG, 0), spins = 0;

	if (err)
		die("unet_send_buf", -err);
	/* The NIC reads the stack until the send completes. */
	while (unet_send_poll(ep, &c, 1) == 0)
		if (++spins > SPINS)
			unet_wait_send(u, 100);
	if (c.status != UNET_ST_OK)
		die(unet_status_str(c.status), EIO);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void run(int sock, int rounds, int ping)
{
	/* On this function's stack: two to receive into, one to send. */
	char rx[2][MSG], tx[MSG];
	struct unet *u = unet_open();
	/* NULL: the defaults, MM mode. */
	struct unet_ep *ep = u ? unet_ep_create(u, NULL) : NULL;
	double t0;
	int ch, i, k;

	if (!ep)
		die("endpoint", errno);
	/* Posted in turn, taken in turn; the context says which. */
	for (k = 0; k < 2; k++)
		unet_post_free(ep, (uintptr_t)rx[k], MSG, (uint64_t)k);
	ch = connect_peer(ep, sock);
	memset(tx, 'p', sizeof(tx));
	t0 = now_us();
	for (i = 0; i < rounds; i++) {
		if (ping) {
			send_and_reap(u, ep, ch, tx);
			k = receive(u, ep);
			if (memcmp(rx[k], tx, MSG))
				die("the echo differs", EIO);
		} else {
			k = receive(u, ep);
			send_and_reap(u, ep, ch, rx[k]);	/* echo in place */
		}
		unet_post_free(ep, (uintptr_t)rx[k], MSG, (uint64_t)k);
	}
	if (ping)
		printf("%d round trips of %d bytes, stack to stack: %.1f us each\n",
		       rounds, MSG, (now_us() - t0) / rounds);
	unet_ep_destroy(ep);
	unet_close(u);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 1000, sv[2], status;
	pid_t pid;

	if (rounds < 1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("setup", errno ? errno : EINVAL);
	/* Each process opens /dev/unet itself: a context is per process. */
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		run(sv[1], rounds, 0);
		return 0;
	}
	run(sv[0], rounds, 1);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		die("the echoing process failed", EIO);
	return 0;
}
