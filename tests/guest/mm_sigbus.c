// SPDX-License-Identifier: MIT
/*
 * U-Net/MM: buffers whose pages exist in the mapping but cannot be faulted
 * in (a touch would raise SIGBUS).  A shared memfd mapped past its end of
 * file, and a userfaultfd region registered with UFFD_FEATURE_SIGBUS, are
 * mapped readable and writable, so nothing about the VMA refuses them; the
 * fault itself fails.  The agent must call that an error, not a miss to
 * retry: a send from such a page completes with UNET_ST_BAD_ADDR, a receive
 * buffer there comes back with UNET_ST_BAD_ADDR, each within a second, and
 * afterwards nothing keeps missing on the buffer's behalf (the NIC's miss
 * counter stands still).  The endpoints go on working after every case.
 *
 *   mm_sigbus
 */
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "mm_common.h"

#define LEN		4000
#define DEADLINE_MS	1000
#define QUIET_MS	500

static struct mm_pair P;
static uint8_t *good_src, *good_dst;
static int seed = 100;

/* Waits up to @ms for the send completion: its status, or -1. */
static int send_status(uint64_t addr, int ms, double *took)
{
	struct unet_sge sge = { .addr = addr, .len = LEN };
	double t0 = gt_now_ms();
	int st;

	if (unet_send(P.tx, P.ch, &sge, 1, 0))
		return -1;
	st = gt_send_done(P.tx, ms);
	*took = gt_now_ms() - t0;
	return st;
}

/* Waits up to @ms for the next message on P.rx: its status, or -1. */
static int recv_status(int ms, double t0, double *took)
{
	struct unet_recv r;
	int st;

	if (gt_recv(P.rx, &r, ms) != 1)
		return -1;
	*took = gt_now_ms() - t0;
	st = (int)r.status;
	unet_recv_done(P.rx, &r);
	return st;
}

/* The NIC's miss counter must not move for QUIET_MS once a case is over. */
static void misses_stop(const char *name)
{
	long m0 = mm_ctr(P.u, UNET_NIC_tlb_misses), m1;
	char n[96];

	usleep(QUIET_MS * 1000);
	m1 = mm_ctr(P.u, UNET_NIC_tlb_misses);
	snprintf(n, sizeof(n), "%s-misses-stop", name);
	gt_result(m1 == m0, n, "tlb_misses grew by %ld in %d ms after the "
		  "buffer was refused", m1 - m0, QUIET_MS);
}

/* A good message both ways still goes through: the endpoints survived. */
static void still_works(const char *name)
{
	uint32_t got = 0;
	char n[96];
	int st;

	seed++;
	if (unet_post_free(P.rx, (uintptr_t)good_dst, MM_PAGE, 0))
		gt_die("post free");
	gt_fill(good_src, LEN, seed);
	st = mm_send(&P, good_src, LEN);
	if (st == UNET_ST_OK)
		st = mm_recv_ok(P.rx, NULL, 0, &got, false, NULL);
	snprintf(n, sizeof(n), "%s-then-works", name);
	gt_result(st == UNET_ST_OK && got == LEN &&
		  gt_verify(good_dst, LEN, seed) < 0, n,
		  "status %s, %u bytes", mm_st(st), got);
}

static void send_case(const char *name, uint8_t *bad)
{
	double took = 0;
	char n[96];
	int st;

	/* A receiver without buffers would drop it unread. */
	if (unet_post_free(P.rx, (uintptr_t)good_dst, MM_PAGE, 0))
		gt_die("post free");
	st = send_status((uintptr_t)bad, 5000, &took);

	snprintf(n, sizeof(n), "%s-send", name);
	gt_result(st == UNET_ST_BAD_ADDR && took <= DEADLINE_MS, n,
		  "send completed %s after %.0f ms (want bad address within "
		  "%d ms)", mm_st(st), took, DEADLINE_MS);
	if (st < 0) {
		printf("# the send never completed; the endpoints are stuck\n");
		return;
	}
	misses_stop(n);
	/* The receiver got the buffer back with the message dropped. */
	mm_drain(P.rx, false);
	still_works(n);
}

static void recv_case(const char *name, uint8_t *bad)
{
	double t0, took = 0;
	char n[96];
	int st;

	if (unet_post_free(P.rx, (uintptr_t)bad, MM_PAGE, 0))
		gt_die("post free");
	gt_fill(good_src, LEN, ++seed);
	t0 = gt_now_ms();
	if (unet_send_buf(P.tx, P.ch, good_src, LEN, 0))
		gt_die("send");
	st = recv_status(5000, t0, &took);
	/* A loopback send completes once its receiver is done with it. */
	if (gt_send_done(P.tx, 2000) < 0)
		printf("# the send never completed\n");
	snprintf(n, sizeof(n), "%s-recv", name);
	gt_result(st == UNET_ST_BAD_ADDR && took <= DEADLINE_MS, n,
		  "receive buffer came back %s after %.0f ms (want bad address "
		  "within %d ms)", mm_st(st), took, DEADLINE_MS);
	if (st < 0) {
		printf("# nothing came back; the endpoints are stuck\n");
		return;
	}
	misses_stop(n);
	still_works(n);
}

/* Page 1 of a two-page shared mapping of a one-page memfd: past EOF. */
static uint8_t *past_eof(void)
{
	int fd = mm_memfd("unet-sigbus", MM_PAGE);
	uint8_t *p = mmap(NULL, 2 * MM_PAGE, PROT_READ | PROT_WRITE,
			  MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		gt_die("mmap memfd");
	close(fd);
	p[0] = 1;	/* the first page is fine */
	return p + MM_PAGE;
}

/* A page of a userfaultfd region whose missing faults raise SIGBUS. */
static uint8_t *uffd_sigbus(void)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_SIGBUS,
	};
	struct uffdio_register reg = { 0 };
	int uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC);
	uint8_t *p = mm_map_anon(MM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);

	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		gt_die("userfaultfd with UFFD_FEATURE_SIGBUS");
	reg.range.start = (uintptr_t)p;
	reg.range.len = MM_PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		gt_die("UFFDIO_REGISTER");
	/* uffd stays open: closing it would unregister the range. */
	return p;
}

int main(void)
{
	struct unet *u = gt_open();

	mm_pair_init(&P, u, 0);
	good_src = mm_map_anon(MM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	good_dst = mm_map_anon(MM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	still_works("sigbus-setup");

	send_case("sigbus-memfd-past-eof", past_eof());
	recv_case("sigbus-memfd-past-eof", past_eof());
	send_case("sigbus-uffd", uffd_sigbus());
	recv_case("sigbus-uffd", uffd_sigbus());

	mm_pair_destroy(&P);
	unet_close(u);
	return gt_exit();
}
