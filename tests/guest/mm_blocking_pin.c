// SPDX-License-Identifier: MIT
/*
 * U-Net/MM: a translation whose page fault blocks, and everyone else.
 *
 * Process A receives into memory registered with userfaultfd: the page
 * does not exist until A's handler thread supplies it, which it does only
 * HOLD_MS after the fault arrives.  The kernel agent must wait for it (the
 * way a user fault would) and then deliver A's message intact.  Meanwhile
 * process B streams round trips whose every buffer is a fresh page (a TLB
 * miss each way): the agent must keep serving B while A's miss waits, so
 * B's round trips, and B's teardown of its endpoints, finish long before
 * A's page exists.
 *
 * Then a process whose fault nobody will ever resolve (no handler thread)
 * goes away while the agent may be waiting for it: by exiting, and by
 * closing /dev/unet first.  Either must finish at once, and the NIC must
 * end up holding nothing of it.
 *
 *   mm_blocking_pin
 */
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "mm_common.h"

#define HOLD_MS		1500
#define B_TRIPS		24
#define B_LEN		2000
#define A_LEN		4000

struct handler {
	int uffd;
	int notify_fd;		/* one byte when the fault arrived */
	double fault_ms, resolved_ms;
	uint8_t *src;
};

static void *handle_faults(void *arg)
{
	struct handler *h = arg;
	struct uffd_msg msg;
	struct uffdio_copy copy;

	if (read(h->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		gt_die("read userfaultfd");
	h->fault_ms = gt_now_ms();
	if (write(h->notify_fd, "f", 1) != 1)
		gt_die("notify");
	usleep(HOLD_MS * 1000);
	copy.dst = msg.arg.pagefault.address & ~(MM_PAGE - 1);
	copy.src = (uintptr_t)h->src;
	copy.len = MM_PAGE;
	copy.mode = 0;
	h->resolved_ms = gt_now_ms();
	if (ioctl(h->uffd, UFFDIO_COPY, &copy))
		gt_die("UFFDIO_COPY");
	return NULL;
}

/*
 * B: round trips through fresh pages, then closes.  @ms gets the time the
 * round trips took and the time until B was done with U-Net; -1 on error.
 */
static void process_b(int go_fd, double ms[2])
{
	struct unet *u = gt_open();
	struct mm_pair p;
	uint8_t *mem = mmap(NULL, 4 * B_TRIPS * MM_PAGE,
			    PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double t0;
	char c;
	int i;

	if (mem == MAP_FAILED)
		gt_die("mmap");
	memset(mem, 1, 4 * B_TRIPS * MM_PAGE);	/* resident, not pinned */
	mm_pair_init(&p, u, 0);
	if (read(go_fd, &c, 1) != 1)
		gt_die("wait for A's fault");
	t0 = gt_now_ms();
	for (i = 0; i < B_TRIPS; i++) {
		uint8_t *out = mem + (4 * i) * MM_PAGE;
		uint8_t *in = mem + (4 * i + 1) * MM_PAGE;
		uint32_t got = 0;
		int st;

		gt_fill(out, B_LEN, 500 + i);
		if (unet_post_free(p.rx, (uintptr_t)in, MM_PAGE, 0))
			gt_die("post free");
		st = mm_send(&p, out, B_LEN);
		if (st == UNET_ST_OK)
			st = mm_recv_msg(p.rx, NULL, 0, &got, false, NULL, 0,
					 NULL);
		if (st != UNET_ST_OK || got != B_LEN ||
		    gt_verify(in, B_LEN, 500 + i) >= 0) {
			ms[0] = ms[1] = -1;
			return;
		}
	}
	ms[0] = gt_now_ms() - t0;
	mm_pair_destroy(&p);
	unet_close(u);
	ms[1] = gt_now_ms() - t0;
}

/*
 * A child posts a receive buffer in userfaultfd memory nobody serves, sends
 * itself a message so the agent waits on the fault, then closes /dev/unet
 * (@close_first) and/or exits.  Returns ms until it was reaped, or -1.
 */
static double abandon_fault(bool close_first)
{
	double t0;
	int go[2], st;
	pid_t pid;
	char c;

	if (pipe(go))
		gt_die("pipe");
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (!pid) {
		struct uffdio_api api = { .api = UFFD_API };
		struct uffdio_register reg;
		/* Its file closes after /dev/unet's when the process exits. */
		int uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC);
		struct unet *u = gt_open();
		struct mm_pair p;
		uint8_t *area, msg[A_LEN];

		area = mmap(NULL, MM_PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) ||
		    area == MAP_FAILED)
			_exit(2);
		reg.range.start = (uintptr_t)area;
		reg.range.len = MM_PAGE;
		reg.mode = UFFDIO_REGISTER_MODE_MISSING;
		if (ioctl(uffd, UFFDIO_REGISTER, &reg))
			_exit(2);
		mm_pair_init(&p, u, 0);
		if (unet_post_free(p.rx, (uintptr_t)area, MM_PAGE, 0))
			_exit(2);
		gt_fill(msg, A_LEN, 1);
		unet_send_buf(p.tx, p.ch, msg, A_LEN, 0);
		usleep(300000);		/* the agent is waiting on it now */
		if (write(go[1], "x", 1) != 1)
			_exit(2);
		if (close_first)
			unet_close(u);
		_exit(0);
	}
	if (read(go[0], &c, 1) != 1)
		return -1;
	t0 = gt_now_ms();
	while (waitpid(pid, &st, WNOHANG) != pid) {
		if (gt_now_ms() - t0 > 20000)
			return -1;	/* stuck: the test will say so */
		usleep(10000);
	}
	close(go[0]);
	close(go[1]);
	return WIFEXITED(st) && !WEXITSTATUS(st) ? gt_now_ms() - t0 : -1;
}

int main(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct handler h = { 0 };
	struct unet *u;
	struct mm_pair p;
	pthread_t thread;
	uint8_t *area, *msg;
	uint32_t got = 0;
	int go[2], res[2], st, status;
	double t0, a_ms, b_ms[2];
	pid_t b;

	if (pipe(go) || pipe(res))
		gt_die("pipe");
	b = fork();
	if (b < 0)
		gt_die("fork");
	if (!b) {
		process_b(go[0], b_ms);
		if (write(res[1], b_ms, sizeof(b_ms)) != sizeof(b_ms))
			_exit(1);
		_exit(0);
	}

	h.uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC);
	if (h.uffd < 0 || ioctl(h.uffd, UFFDIO_API, &api))
		gt_die("userfaultfd");
	area = mmap(NULL, MM_PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	h.src = malloc(MM_PAGE);
	msg = malloc(A_LEN);
	if (area == MAP_FAILED || !h.src || !msg)
		gt_die("alloc");
	memset(h.src, 0xee, MM_PAGE);
	reg.range.start = (uintptr_t)area;
	reg.range.len = MM_PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(h.uffd, UFFDIO_REGISTER, &reg))
		gt_die("UFFDIO_REGISTER");
	h.notify_fd = go[1];
	if (pthread_create(&thread, NULL, handle_faults, &h))
		gt_die("thread");

	u = gt_open();
	mm_pair_init(&p, u, 0);
	if (unet_post_free(p.rx, (uintptr_t)area, MM_PAGE, 0))
		gt_die("post free");
	gt_fill(msg, A_LEN, 4242);
	t0 = gt_now_ms();
	st = mm_send(&p, msg, A_LEN);
	if (st == UNET_ST_OK)
		st = mm_recv_msg(p.rx, NULL, 0, &got, false, NULL, 0, NULL);
	a_ms = gt_now_ms() - t0;
	pthread_join(thread, NULL);
	gt_result(st == UNET_ST_OK && got == A_LEN &&
		  gt_verify(area, A_LEN, 4242) < 0 &&
		  area[A_LEN] == 0xee, "mm-userfaultfd-buffer",
		  "status %s, %u bytes, after %.0f ms", mm_st(st), got, a_ms);
	gt_result(a_ms >= HOLD_MS * 0.9, "mm-userfaultfd-waited",
		  "delivered after %.0f ms, the page existed only after %d ms",
		  a_ms, HOLD_MS);

	if (read(res[0], b_ms, sizeof(b_ms)) != sizeof(b_ms))
		b_ms[0] = b_ms[1] = -1;
	waitpid(b, &status, 0);
	printf("# A's page fault held %.0f ms; B's %d round trips (2 misses each) took %.0f ms, %.0f ms with teardown\n",
	       h.resolved_ms - h.fault_ms, B_TRIPS, b_ms[0], b_ms[1]);
	gt_result(b_ms[0] >= 0 && b_ms[0] < HOLD_MS * 0.6,
		  "mm-blocked-pin-does-not-stall-others",
		  "B's round trips took %.0f ms while A's fault was held %d ms",
		  b_ms[0], HOLD_MS);
	gt_result(b_ms[1] >= 0 && b_ms[1] < HOLD_MS * 0.6,
		  "mm-blocked-pin-does-not-stall-teardown",
		  "B was done after %.0f ms while A's fault was held %d ms",
		  b_ms[1], HOLD_MS);
	mm_pair_destroy(&p);

	for (int close_first = 0; close_first < 2; close_first++) {
		const char *how = close_first ? "close" : "exit";
		double ms = abandon_fault(close_first);
		char name[64];

		snprintf(name, sizeof(name), "mm-unresolved-fault-%s", how);
		gt_result(ms >= 0 && ms < 5000, name,
			  "the process took %.0f ms to %s (-1: stuck or failed)",
			  ms, how);
		snprintf(name, sizeof(name), "mm-unresolved-fault-%s-released",
			 how);
		gt_result(mm_wait_ctr_le(u, UNET_NIC_misses_queued, 0, 10000) == 0 &&
			  mm_wait_ctr_le(u, UNET_NIC_endpoints, 0, 10000) == 0,
			  name, "misses_queued %ld, endpoints %ld afterwards",
			  mm_ctr(u, UNET_NIC_misses_queued),
			  mm_ctr(u, UNET_NIC_endpoints));
	}
	unet_close(u);
	return gt_exit();
}
