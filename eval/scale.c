// SPDX-License-Identifier: MIT
/*
 * scale: pinned memory and bandwidth when N processes each stream from
 * their own region of buffers (1 MiB unless told) through the NIC's
 * loopback path.
 *
 * Each process owns an endpoint pair and its region of application
 * memory: half of it messages to send, half a receive pool.  In MM mode the NIC
 * reads and writes that memory through its TLB; in base mode it lives in a
 * 1 MiB pinned segment and the process copies into and out of it, as a
 * U-Net application must.  The parent samples the NIC's pinned-page
 * counters while they run and reports the peak.
 *
 *   scale -p PROCS [--mode mm|base] [-n MSGS] [--region BYTES] [--json]
 *
 * The JSON says which translation the module used (its translate
 * parameter: pin, nopin; "pin" for a module without one).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eval_pair.h"

#define MSG	65536u
#define REGION_MIN	(2 * MSG)
#define REGION_MAX	(256u << 20)	/* base: half of it is a segment (64 MiB at most) */

static size_t region = 1u << 20;
#define HALF	(region / 2)
#define NMSG_SLOTS (HALF / MSG)
#define WINDOW	4

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct report {
	double start, end;
	uint64_t bytes;
	int errors;
};

static void die(const char *what)
{
	fprintf(stderr, "scale: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void child(uint32_t mode, int nmsg, int ready_fd, int go_fd,
		  int report_fd, int release_fd)
{
	struct unet_ep_attr attr;
	struct report rep = { 0 };
	struct eval_pair p;
	struct unet_ep *a, *b;
	char *app, *seg = NULL, *tx, *rx;
	int ch, sent = 0, got = 0, i;
	char c = 1;

	/* Base mode: a segment of half the region each, window and pool. */
	unet_ep_attr_init(&attr);
	attr.mode = mode;
	attr.segment_size = mode == UNET_MODE_BASE ? HALF : 0;
	/* Room for a receive buffer per slot of the pool. */
	while (attr.fq_entries < NMSG_SLOTS)
		attr.fq_entries *= 2;
	attr.rx_entries = attr.fq_entries;
	eval_pair_open("scale", &p, &attr);
	a = p.a;
	b = p.b;
	ch = p.ch_ab;

	app = malloc(region);
	if (!app)
		die("malloc");
	memset(app, 0x11, region);
	seg = unet_ep_segment(a, NULL);
	tx = mode == UNET_MODE_BASE ? seg : app;
	rx = mode == UNET_MODE_BASE ? unet_ep_segment(b, NULL) : app + HALF;
	for (i = 0; i < (int)NMSG_SLOTS; i++) {
		uint64_t addr = mode == UNET_MODE_BASE ? (uint64_t)i * MSG :
			(uint64_t)(uintptr_t)(rx + (size_t)i * MSG);

		errno = unet_post_free(b, addr, MSG, 0);
		if (errno) {
			errno = -errno;
			die("post free");
		}
	}

	if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1)
		die("sync");
	rep.start = now();
	while (got < nmsg) {
		struct unet_recv r;

		while (sent < nmsg && sent - got < WINDOW) {
			size_t off = (size_t)(sent % NMSG_SLOTS) * MSG;

			if (mode == UNET_MODE_BASE)	/* into the window */
				memcpy(seg + off, app + off, MSG);
			if (unet_send_buf(a, ch, tx + off, MSG, 0))
				break;
			sent++;
		}
		unet_send_poll(a, NULL, WINDOW * 2);
		if (unet_recv_poll(b, &r) <= 0)
			continue;
		if (r.status != UNET_ST_OK || r.length != MSG)
			rep.errors++;
		if (mode == UNET_MODE_BASE)	/* out of the window */
			unet_recv_copy(b, &r, app + HALF, MSG);
		{
			struct unet_buf buf = *unet_recv_buf(b, &r, 0);

			unet_recv_done(b, &r);
			unet_post_free(b, buf.addr, buf.len, 0);
		}
		rep.bytes += r.length;
		got++;
	}
	rep.end = now();
	if (write(report_fd, &rep, sizeof(rep)) != sizeof(rep))
		die("report");
	/* Keep the address space (and its TLB entries) until sampled. */
	if (read(release_fd, &c, 1) != 1)
		die("release");
	exit(0);
}

static uint64_t pinned_pages(struct unet *u, uint32_t mode)
{
	struct unet_nic_stats st;

	if (unet_nic_stats(u, 0, &st))
		die("nic stats");
	return mode == UNET_MODE_BASE ? st.ctr[UNET_NIC_segment_pages] :
					st.ctr[UNET_NIC_pinned_pages];
}

/* The module's translate parameter; "pin" for a module without one. */
static const char *translation(void)
{
	static char buf[16] = "pin";
	FILE *f = fopen("/sys/module/unetmm/parameters/translate", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			strcpy(buf, "?");
		buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
	return buf;
}

int main(int argc, char **argv)
{
	int procs = 1, nmsg = 64, json = 0, i, ready[2], go[2], rep[2], rel[2];
	uint32_t mode = UNET_MODE_MM;
	uint64_t peak = 0, base_pinned;
	double start = 1e30, end = 0;
	uint64_t bytes = 0;
	int errors = 0, alive;
	struct unet *u;
	char c;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-p") && i + 1 < argc)
			procs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			nmsg = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			mode = strcmp(argv[++i], "base") ? UNET_MODE_MM :
							   UNET_MODE_BASE;
		else if (!strcmp(argv[i], "--region") && i + 1 < argc)
			region = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else
			break;
	}
	if (i < argc || procs < 1 || nmsg < 1 || region < REGION_MIN ||
	    region > REGION_MAX || region % MSG) {
		fprintf(stderr,
			"usage: scale -p PROCS [--mode mm|base] [-n MSGS] [--region BYTES] [--json]\n"
			"       (BYTES: a multiple of 64 KiB, 128 KiB to 256 MiB)\n");
		return 2;
	}
	u = unet_open();
	if (!u)
		die("open /dev/unet (is unetmm.ko loaded?)");
	base_pinned = pinned_pages(u, mode);
	if (pipe(ready) || pipe(go) || pipe(rep) || pipe(rel))
		die("pipe");
	for (i = 0; i < procs; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (!pid) {
			unet_close(u);
			child(mode, nmsg, ready[1], go[0], rep[1], rel[0]);
		}
	}
	/* Only the children write these: a child that dies is an EOF. */
	close(ready[1]);
	close(rep[1]);
	for (i = 0; i < procs; i++)
		if (read(ready[0], &c, 1) != 1) {
			errno = ECHILD;
			die("a child failed to set up");
		}
	for (i = 0; i < procs; i++)
		if (write(go[1], "g", 1) != 1)
			die("go");
	/* Sample while they stream; each report marks one child done. */
	alive = procs;
	while (alive) {
		struct report r;
		struct timespec ts = { 0, 2000000 };
		uint64_t p = pinned_pages(u, mode) - base_pinned;
		fd_set fds;
		struct timeval tv = { 0, 2000 };

		if (p > peak)
			peak = p;
		FD_ZERO(&fds);
		FD_SET(rep[0], &fds);
		if (select(rep[0] + 1, &fds, NULL, NULL, &tv) > 0) {
			if (read(rep[0], &r, sizeof(r)) != sizeof(r))
				break;
			if (r.start < start)
				start = r.start;
			if (r.end > end)
				end = r.end;
			bytes += r.bytes;
			errors += r.errors;
			alive--;
		} else {
			nanosleep(&ts, NULL);
		}
	}
	/* Every child is done and still holds its pages: one last look. */
	{
		uint64_t p = pinned_pages(u, mode) - base_pinned;

		if (p > peak)
			peak = p;
	}
	for (i = 0; i < procs; i++)
		if (write(rel[1], "x", 1) != 1)
			die("release");
	while (wait(NULL) > 0)
		;
	if (alive)
		errors++;
	if (json)
		printf("{\"tool\":\"scale\",\"mode\":\"%s\",\"translate\":\"%s\","
		       "\"processes\":%d,\"region_kib\":%zu,"
		       "\"pinned_kib\":%llu,\"MBps\":%.1f,\"errors\":%d}\n",
		       mode == UNET_MODE_MM ? "mm" : "base", translation(), procs,
		       region >> 10, (unsigned long long)peak * 4,
		       bytes / (end - start) / 1e6, errors);
	else
		printf("%d processes, %s mode: pinned peak %llu KiB, %.1f MB/s, %d errors\n",
		       procs, mode == UNET_MODE_MM ? "mm" : "base",
		       (unsigned long long)peak * 4, bytes / (end - start) / 1e6,
		       errors);
	unet_close(u);
	return errors ? 1 : 0;
}
