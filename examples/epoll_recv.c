// SPDX-License-Identifier: MIT
/*
 * epoll_recv: a receiver that sleeps in epoll_wait() until a message comes,
 * next to whatever else it waits for.  unet_fd() is an ordinary pollable
 * fd: POLLIN when a message waits, POLLWRBAND when a send completion does,
 * POLLOUT when a send queue has room.  A child sends a message every
 * 20 ms; the receiver wakes once per message and uses no CPU in between.
 *
 * Build: cc -O2 -o epoll_recv epoll_recv.c $(pkg-config --cflags --libs unet)
 * Run:   ./epoll_recv [MESSAGES]     (unetmm.ko must be loaded)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unet.h>
#include <unistd.h>

static void die(const char *what, int err)
{
	fprintf(stderr, "epoll_recv: %s: %s\n", what, strerror(err));
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

static void sender(int sock, uint32_t n)
{
	struct unet *u = unet_open();
	struct unet_ep *ep = u ? unet_ep_create(u, NULL) : NULL;
	int ch;

	if (!ep)
		die("sender endpoint", errno);
	ch = connect_peer(ep, sock);
	for (uint32_t i = 0; i < n; i++) {
		usleep(20 * 1000);
		/* Small: the bytes travel inside the descriptor. */
		if (unet_send_buf(ep, ch, &i, sizeof(i), i))
			die("unet_send_buf", EIO);
		/* Sleeps for the completion too; it is reaped, not waited on. */
		while (unet_send_poll(ep, NULL, 1) == 0)
			unet_wait_send(u, 100);
	}
	unet_ep_destroy(ep);
	unet_close(u);
}

static int receiver(int sock, uint32_t n)
{
	struct unet *u = unet_open();
	struct unet_ep *ep = u ? unet_ep_create(u, NULL) : NULL;
	struct epoll_event ev = { .events = EPOLLIN }, out;
	uint32_t got = 0, wakeups = 0, v;
	struct rusage ru;
	struct unet_recv r;
	int efd;

	if (!ep)
		die("receiver endpoint", errno);
	connect_peer(ep, sock);
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (efd < 0 || epoll_ctl(efd, EPOLL_CTL_ADD, unet_fd(u), &ev))
		die("epoll", errno);
	while (got < n) {
		int k = epoll_wait(efd, &out, 1, 5000);

		if (k < 0 && errno != EINTR)
			die("epoll_wait", errno);
		if (k == 0)
			die("no message for 5 s", ETIMEDOUT);
		wakeups++;
		/* Level-triggered: take everything that is there. */
		while (unet_recv_poll(ep, &r) == 1) {
			memcpy(&v, r.data, sizeof(v));
			if (r.status != UNET_ST_OK || v != got)
				die("message out of order", EIO);
			unet_recv_done(ep, &r);
			got++;
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("%u messages, %u wakeups, %.3f s of CPU\n", got, wakeups,
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	close(efd);
	unet_ep_destroy(ep);
	unet_close(u);
	/* Sleeping, not spinning: about one wakeup per message. */
	return wakeups > 2 * n;
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 50;
	int sv[2], status, bad;
	pid_t pid;

	if (!n || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("setup", errno ? errno : EINVAL);
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		sender(sv[1], n);
		return 0;
	}
	bad = receiver(sv[0], n);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		die("the sender failed", EIO);
	if (bad)
		die("woken more than twice per message", EIO);
	return 0;
}
