// SPDX-License-Identifier: MIT
/*
 * U-Net/MM: translations that wait for ever, and everyone else.
 *
 * A "blocker" posts a receive buffer in a userfaultfd page that nobody will
 * ever serve and sends itself a message into it, so the kernel agent waits
 * in that page's fault.  Then:
 *
 *  - with eight blockers waiting at once, another process's round trips,
 *    whose every buffer is a fresh page (two TLB misses each), keep
 *    completing, none slower than 100 ms: an address space whose fault
 *    blocks holds up only itself;
 *  - a blocker killed with SIGKILL is gone within 2 s, whatever the order
 *    of its /dev/unet and userfaultfd descriptors and whether its queues
 *    are still mapped (exit must never wait for a miss: the process may be
 *    the only one that could resolve it);
 *  - afterwards the NIC holds nothing of the blockers.
 *
 *   mm_unserved
 */
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "mm_common.h"

#define BLOCKERS	8
#define TRIPS		24
#define TRIP_LIMIT_MS	100
#define GONE_MS		2000
#define LEN		2000

static int open_uffd_page(uint8_t **page)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	int uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC);

	*page = mm_map_anon(MM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		return -1;
	reg.range.start = (uintptr_t)*page;
	reg.range.len = MM_PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return -1;
	return uffd;
}

/*
 * Forks a blocker.  It opens userfaultfd before /dev/unet if @uffd_first
 * (so its descriptor number is lower), makes the agent wait on its
 * unserved page, destroys its endpoints (unmapping the queues) if
 * @unmap, says so on the pipe, and sleeps until killed.
 */
static pid_t blocker(bool uffd_first, bool unmap)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe(ready))
		gt_die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (!pid) {
		struct unet *u = NULL;
		struct mm_pair p;
		uint8_t *page, msg[LEN];
		int uffd;

		if (!uffd_first)
			u = gt_open();
		uffd = open_uffd_page(&page);
		if (uffd < 0)
			_exit(2);
		if (uffd_first)
			u = gt_open();
		mm_pair_init(&p, u, 0);
		if (unet_post_free(p.rx, (uintptr_t)page, MM_PAGE, 0))
			_exit(2);
		gt_fill(msg, LEN, 7);
		if (unet_send_buf(p.tx, p.ch, msg, LEN, 0))
			_exit(2);
		usleep(300000);		/* the agent is in the fault by now */
		if (unmap)
			mm_pair_destroy(&p);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		gt_die("blocker did not start");
	close(ready[0]);
	return pid;
}

/* SIGKILLs @pid; ms until it was reaped, or -1 if not within @limit_ms. */
static double kill_and_reap(pid_t pid, int limit_ms)
{
	double t0 = gt_now_ms();
	int st;

	kill(pid, SIGKILL);
	while (waitpid(pid, &st, WNOHANG) != pid) {
		if (gt_now_ms() - t0 > limit_ms)
			return -1;
		usleep(5000);
	}
	return gt_now_ms() - t0;
}

/* Round trips through fresh pages; the slowest one in ms, or -1. */
static double fresh_round_trips(struct unet *u, double *total)
{
	uint8_t *mem = mm_map_anon(2 * TRIPS * MM_PAGE,
				   PROT_READ | PROT_WRITE, MAP_PRIVATE);
	struct mm_pair p;
	double worst = 0, t0 = gt_now_ms();
	int i;

	memset(mem, 1, 2 * TRIPS * MM_PAGE);	/* resident, not translated */
	mm_pair_init(&p, u, 0);
	for (i = 0; i < TRIPS; i++) {
		uint8_t *out = mem + 2 * i * MM_PAGE, *in = out + MM_PAGE;
		struct unet_recv r;
		double t = gt_now_ms();
		int st;

		gt_fill(out, LEN, 300 + i);
		if (unet_post_free(p.rx, (uintptr_t)in, MM_PAGE, 0) ||
		    unet_send_buf(p.tx, p.ch, out, LEN, 0))
			gt_die("post");
		/* Bounded, so that a stalled agent fails rather than hangs. */
		if (gt_recv(p.rx, &r, 2000) != 1) {
			printf("# round trip %d: nothing arrived in 2 s\n", i);
			mm_pair_destroy(&p);
			return -1;
		}
		st = (int)r.status;
		unet_recv_done(p.rx, &r);
		if (gt_send_done(p.tx, 2000) != UNET_ST_OK ||
		    st != UNET_ST_OK || gt_verify(in, LEN, 300 + i) >= 0) {
			printf("# round trip %d: status %s\n", i, mm_st(st));
			mm_pair_destroy(&p);
			return -1;
		}
		t = gt_now_ms() - t;
		if (t > worst)
			worst = t;
	}
	*total = gt_now_ms() - t0;
	mm_pair_destroy(&p);
	munmap(mem, 2 * TRIPS * MM_PAGE);
	return worst;
}

static void settled(struct unet *u, long endpoints, const char *name)
{
	long q = mm_wait_ctr_le(u, UNET_NIC_misses_queued, 0, 5000);
	long e = mm_wait_ctr_le(u, UNET_NIC_endpoints, endpoints, 5000);
	long pin = mm_wait_ctr_le(u, UNET_NIC_pinned_pages, 0, 5000);

	gt_result(q == 0 && e == endpoints && pin == 0, name,
		  "misses_queued %ld, endpoints %ld (want %ld), pinned %ld",
		  q, e, endpoints, pin);
}

int main(void)
{
	struct unet *u = gt_open();
	pid_t b[BLOCKERS];
	double worst, total = 0, slowest = 0;
	int i, gone = 0;

	for (i = 0; i < BLOCKERS; i++)
		b[i] = blocker(i & 1, false);
	usleep(200000);
	worst = fresh_round_trips(u, &total);
	printf("# with %d address spaces blocked in a fault: %d round trips "
	       "(2 misses each) in %.1f ms, slowest %.1f ms\n", BLOCKERS,
	       TRIPS, total, worst);
	gt_result(worst >= 0 && worst <= TRIP_LIMIT_MS,
		  "unserved-others-keep-going",
		  "slowest round trip %.1f ms (-1: stalled), limit %d ms",
		  worst, TRIP_LIMIT_MS);
	for (i = 0; i < BLOCKERS; i++) {
		double ms = kill_and_reap(b[i], GONE_MS);

		if (ms >= 0)
			gone++;
		if (ms > slowest || ms < 0)
			slowest = ms < 0 ? 1e9 : ms;
	}
	gt_result(gone == BLOCKERS, "unserved-eight-killed-gone",
		  "%d of %d blocked processes reaped within %d ms", gone,
		  BLOCKERS, GONE_MS);
	settled(u, 0, "unserved-eight-released");

	/*
	 * More blocked than one user's fault budget: only max_user_faults
	 * of them wait in a fault (each holding one of the agent's workers);
	 * the rest wait in their queues, holding nothing.
	 */
	{
		long budget = gt_module_param("max_user_faults", 16), waiting;
		pid_t many[24];

		for (i = 0; i < 24; i++)
			many[i] = blocker(i & 1, false);
		usleep(500000);
		waiting = mm_ctr(u, UNET_NIC_faults_waiting);
		worst = fresh_round_trips(u, &total);
		printf("# 24 blocked: %ld fault-ins waiting (budget %ld); round "
		       "trips slowest %.1f ms\n", waiting, budget, worst);
		gt_result(waiting == (budget < 24 ? budget : 24),
			  "unserved-fault-budget", "%ld fault-ins waiting, the "
			  "user's budget is %ld", waiting, budget);
		gt_result(worst >= 0 && worst <= TRIP_LIMIT_MS,
			  "unserved-over-budget-others-keep-going",
			  "slowest round trip %.1f ms", worst);
		for (i = 0; i < 24; i++)
			kill_and_reap(many[i], GONE_MS);
		settled(u, 0, "unserved-over-budget-released");
	}

	for (int v = 0; v < 4; v++) {
		bool uffd_first = v & 1, unmap = v & 2;
		char name[96];
		double ms;

		ms = kill_and_reap(blocker(uffd_first, unmap), GONE_MS);
		snprintf(name, sizeof(name), "unserved-killed-%s-%s",
			 uffd_first ? "uffd-fd-first" : "unet-fd-first",
			 unmap ? "unmapped" : "mapped");
		gt_result(ms >= 0, name, "not reaped within %d ms of SIGKILL",
			  GONE_MS);
		snprintf(name, sizeof(name), "unserved-killed-%s-%s-released",
			 uffd_first ? "uffd-fd-first" : "unet-fd-first",
			 unmap ? "unmapped" : "mapped");
		settled(u, 0, name);
	}
	unet_close(u);
	return gt_exit();
}
