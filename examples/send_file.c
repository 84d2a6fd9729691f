// SPDX-License-Identifier: MIT
/*
 * send_file: streams a file from its mmap()ed pages, read in place by the
 * NIC (no read(), no copy into a pinned area), in batches of one doorbell
 * check each, within the receiver's credit of as many 64 KiB messages as
 * it has buffers; the receiver checks what lands against the file.
 *
 * Build: cc -O2 -o send_file send_file.c $(pkg-config --cflags --libs unet)
 * Run:   ./send_file [FILE]    (default: this program; unetmm.ko loaded)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unet.h>
#include <unistd.h>

#define CHUNK	65536u		/* bytes per message, the largest there is */
#define NBUF	16u		/* receive buffers: the sender's credit */

/* The receiver's answer, inline; consumed: credit for as many more. */
struct reply { uint64_t consumed, done, bad; };

static void die(const char *what, int err)
{
	fprintf(stderr, "send_file: %s: %s\n", what, strerror(err));
	exit(1);
}

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

static void receiver(struct unet *u, struct unet_ep *ep, int sock,
		     const uint8_t *map, uint64_t size)
{
	struct reply rep = { 0, 0, 0 };
	uint8_t *pool = malloc((size_t)NBUF * CHUNK);	/* plain heap */
	uint64_t got = 0;
	struct unet_recv r;
	uint32_t idx, i;
	int ch;

	if (!pool || unet_fq_reserve(ep, NBUF, &idx) != NBUF)
		die("receive buffers", ENOMEM);
	for (i = 0; i < NBUF; i++)	/* all posted with one store */
		unet_fq_prep(ep, idx + i, (uintptr_t)pool + i * CHUNK, CHUNK, i);
	unet_fq_submit(ep, NBUF);
	ch = connect_peer(ep, sock);
	while (got < size) {
		while (unet_recv_poll(ep, &r) == 0)
			unet_wait(u, 1000);
		if (r.status != UNET_ST_OK)
			die(unet_status_str(r.status), EIO);
		/* Read where it landed (a short last chunk came inline). */
		const struct unet_buf *b = unet_recv_buf(ep, &r, 0);

		rep.bad += !!memcmp(b ? unet_buf_ptr(ep, b) : r.data, map + got,
				    r.length);
		got += r.length;
		if (b)
			unet_post_free(ep, b->addr, b->len, b->context);
		unet_recv_done(ep, &r);
		rep.done = got == size;
		if (++rep.consumed % (NBUF / 2) == 0 || rep.done)
			unet_send_buf(ep, ch, &rep, sizeof(rep), 0);
		do	/* and the last answer must have left */
			unet_send_poll(ep, NULL, NBUF);
		while (got == size && unet_send_outstanding(ep));
	}
}

static uint64_t sender(struct unet *u, struct unet_ep *ep, int sock,
		       const uint8_t *map, uint64_t size)
{
	int ch = connect_peer(ep, sock);
	struct reply rep = { 0, 0, 0 };
	uint64_t off = 0, sent = 0;
	uint32_t idx, n, i;

	while (!rep.done) {
		/* As many as the credit allows, in one batch. */
		n = off == size ? 0 :
		    unet_send_reserve(ep, NBUF - (sent - rep.consumed), &idx);
		for (i = 0; i < n && off < size; i++, sent++) {
			uint32_t len = size - off < CHUNK ? size - off : CHUNK;

			unet_send_prep(ep, idx + i, ch, map + off, len, off);
			off += len;
		}
		unet_send_submit(ep, i);	/* gives back what is unused */
		unet_send_poll(ep, NULL, NBUF);
		for (struct unet_recv r; unet_recv_poll(ep, &r) == 1;
		     unet_recv_done(ep, &r))
			memcpy(&rep, r.data, sizeof(rep));
		if (!i && !rep.done)
			unet_wait_send(u, 1000);	/* credit or completions */
	}
	printf("%llu messages, %llu wrong\n", (unsigned long long)sent,
	       (unsigned long long)rep.bad);
	return rep.bad;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/proc/self/exe";
	int fd = open(path, O_RDONLY), sv[2], status;
	struct stat st = { 0 };
	uint8_t *map;

	if (fd < 0 || fstat(fd, &st) || !st.st_size)
		die(path, fd < 0 ? errno : EINVAL);
	map = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("mmap", errno);
	pid_t pid = fork();	/* then each process opens /dev/unet */
	struct unet *u = unet_open();
	struct unet_ep *ep = u ? unet_ep_create(u, NULL) : NULL;

	if (pid < 0 || !ep)
		die("fork and endpoint", errno);
	if (pid == 0) {
		receiver(u, ep, sv[1], map, (uint64_t)st.st_size);
		return 0;
	}
	if (sender(u, ep, sv[0], map, (uint64_t)st.st_size) ||
	    waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		die("the file did not arrive intact", EIO);
	return 0;
}
