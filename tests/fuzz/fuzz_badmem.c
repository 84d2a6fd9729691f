// SPDX-License-Identifier: MIT
/*
 * Memory that is mapped but cannot be had, under traffic, while a checked
 * loopback pair runs in the background (its traffic must stay whole).
 * Each repetition picks one kind of bad page and one way to use it:
 *
 *  past-eof   a shared memfd mapping beyond the file's end (SIGBUS)
 *  uffd-sigbus  a userfaultfd range with UFFD_FEATURE_SIGBUS
 *  truncated  a memfd page that was a good buffer, then the file shrank
 *             under it (maybe while the NIC held it)
 *  unserved   a userfaultfd page nobody serves, in a child that is then
 *             killed at a random moment
 *
 * and uses it as all or part of a send (a gather list mixing it with good
 * pages) or as one of the receive buffers a message spans.  Asserts: every
 * send completes and every message comes back within a second, OK only if
 * no bad byte was involved and otherwise with UNET_ST_BAD_ADDR (a dropped
 * message where the sender failed); nothing keeps missing on the buffer's
 * behalf afterwards (the NIC's miss counter stands still); a killed child
 * is reaped within 2 s however its fault stood; good messages still go
 * through.  guest-fuzz.sh checks the NIC's gauges afterwards.
 *
 *   fuzz_badmem [--reps N] [--seed N] [--checked N]
 */
#include <linux/userfaultfd.h>
#include <sys/syscall.h>

#include "fuzz.h"

#define PAGE		4096u
#define DEADLINE_MS	1000
#define QUIET_MS	200

enum kind { PAST_EOF, UFFD_SIGBUS, TRUNCATED, UNSERVED, NKINDS };
static const char *const kind_name[] = { "past-eof", "uffd-sigbus",
					 "truncated", "unserved" };

static struct unet *u;
static struct unet_ep *tx, *rx;
static int ch;
static uint8_t *good;			/* 16 good pages */
static uint64_t failures, cases, bad_sends, bad_recvs;

static void fail(const char *fmt, ...)
{
	va_list ap;

	failures++;
	printf("# badmem: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* @n pages of which page @bad (or none, -1) cannot be had. */
struct region {
	uint8_t *p;
	size_t len;
	int fd;			/* memfd, or -1 */
	int uffd;		/* or -1 */
};

static struct region make_region(enum kind k, unsigned int n,
				 unsigned int bad)
{
	struct region r = { .len = (size_t)n * PAGE, .fd = -1, .uffd = -1 };

	if (k == PAST_EOF || k == TRUNCATED) {
		r.fd = memfd_create("badmem", 0);
		if (r.fd < 0 ||
		    ftruncate(r.fd, k == PAST_EOF ? (off_t)bad * PAGE :
						    (off_t)r.len))
			gt_die("memfd");
		r.p = mmap(NULL, r.len, PROT_READ | PROT_WRITE, MAP_SHARED,
			   r.fd, 0);
		if (r.p == MAP_FAILED)
			gt_die("mmap memfd");
		if (k == PAST_EOF)
			memset(r.p, 0x11, (size_t)bad * PAGE);
		else
			memset(r.p, 0x11, r.len);
	} else {
		struct uffdio_api api = { .api = UFFD_API,
			.features = k == UFFD_SIGBUS ? UFFD_FEATURE_SIGBUS : 0 };
		struct uffdio_register reg = { 0 };

		r.p = mmap(NULL, r.len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		r.uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC);
		if (r.p == MAP_FAILED || r.uffd < 0 ||
		    ioctl(r.uffd, UFFDIO_API, &api))
			gt_die("userfaultfd");
		/* Pages before the bad one exist; the bad one never will. */
		memset(r.p, 0x11, (size_t)bad * PAGE);
		reg.range.start = (uintptr_t)(r.p + (size_t)bad * PAGE);
		reg.range.len = r.len - (size_t)bad * PAGE;
		reg.mode = UFFDIO_REGISTER_MODE_MISSING;
		if (ioctl(r.uffd, UFFDIO_REGISTER, &reg))
			gt_die("UFFDIO_REGISTER");
	}
	return r;
}

static void free_region(struct region *r)
{
	munmap(r->p, r->len);
	if (r->fd >= 0)
		close(r->fd);
	if (r->uffd >= 0)
		close(r->uffd);
}

/* Misses on the pair's buffers (the background pair misses too). */
static long pair_misses(void)
{
	struct unet_ep_stats a, b;

	if (unet_ep_stats(tx, &a) || unet_ep_stats(rx, &b))
		gt_die("endpoint stats");
	return (long)(a.ctr[UNET_CTR_tlb_misses] + b.ctr[UNET_CTR_tlb_misses]);
}

/* The pair's miss counters stand still once a case is over. */
static void misses_stop(const char *what)
{
	long m0 = pair_misses(), m1;

	usleep(QUIET_MS * 1000);
	m1 = pair_misses();
	if (m1 != m0)
		fail("%s: its endpoints' tlb_misses grew by %ld in %d ms after "
		     "it ended", what, m1 - m0, QUIET_MS);
}

/* Takes every message waiting on rx (their buffers are not reposted). */
static int drain(int ms, uint32_t *last_status)
{
	struct unet_recv r;
	int n = 0;

	while (gt_recv(rx, &r, ms) == 1) {
		*last_status = r.status;
		unet_recv_done(rx, &r);
		n++;
		ms = 50;
	}
	return n;
}

/* A good message both ways still goes through. */
static void still_works(const char *what)
{
	uint32_t len = 1 + fz_below(8 * PAGE), seed = (uint32_t)fz_rand();
	struct unet_recv r;
	int st;

	for (int i = 0; i < 8; i++)
		if (unet_post_free(rx, (uintptr_t)(good + (8 + i) * PAGE), PAGE, 0))
			gt_die("post free");
	gt_fill(good, len, seed);
	if (unet_send_buf(tx, ch, good, len, 0))
		gt_die("send");
	st = gt_send_done(tx, 5000);
	if (st != UNET_ST_OK || gt_recv(rx, &r, 5000) != 1) {
		fail("%s: a good message after it: send %d, none arrived", what,
		     st);
		return;
	}
	if (r.status != UNET_ST_OK || r.length != len)
		fail("%s: a good message after it came back %s, %u bytes", what,
		     unet_status_str(r.status), r.length);
	else {
		uint8_t *copy = malloc(len);

		if (!copy)
			gt_die("alloc");
		unet_recv_copy(rx, &r, copy, len);
		if (gt_verify(copy, len, seed) >= 0)
			fail("%s: a good message after it came back wrong", what);
		free(copy);
	}
	unet_recv_done(rx, &r);
	drain(50, &(uint32_t){ 0 });
}

/* A send of a gather list in which region page @bad takes part. */
static void bad_send(enum kind k)
{
	unsigned int n = 1 + fz_below(4), bad = fz_below(n);
	struct region r = make_region(k, n, bad);
	struct unet_sge sge[3];
	unsigned int ns = 0;
	uint32_t st, last = 0;
	double t0;
	char what[64];

	snprintf(what, sizeof(what), "send from %s page %u of %u",
		 kind_name[k], bad, n);
	if (k == TRUNCATED) {
		/*
		 * A good page the NIC has translated, then the file shrinks:
		 * the TLB must let go of it, not send what it held.
		 */
		struct unet_sge once = { .addr = (uintptr_t)r.p +
					 (size_t)bad * PAGE, .len = PAGE };
		uint32_t last;

		if (unet_post_free(rx, (uintptr_t)(good + 8 * PAGE), PAGE, 0) ||
		    unet_send(tx, ch, &once, 1, 0))
			gt_die("send");
		if (gt_send_done(tx, 5000) != UNET_ST_OK)
			fail("%s: the page before truncation did not send", what);
		drain(1000, &last);
		if (ftruncate(r.fd, (off_t)bad * PAGE))
			gt_die("ftruncate");
	}
	if (fz_chance(50))
		sge[ns++] = (struct unet_sge){ .addr = (uintptr_t)good,
					       .len = 1 + fz_below(PAGE) };
	sge[ns++] = (struct unet_sge){ .addr = (uintptr_t)r.p +
				       fz_below((bad + 1) * PAGE),
				       .len = 0 };
	sge[ns - 1].len = (uint32_t)((uintptr_t)r.p + (bad + 1) * PAGE -
				     sge[ns - 1].addr);
	if (fz_chance(50))
		sge[ns++] = (struct unet_sge){ .addr = (uintptr_t)good + PAGE,
					       .len = 1 + fz_below(PAGE) };
	for (int i = 0; i < 8; i++)
		if (unet_post_free(rx, (uintptr_t)(good + (8 + i) * PAGE), PAGE, 0))
			gt_die("post free");
	t0 = gt_now_ms();
	if (unet_send(tx, ch, sge, ns, 0))
		gt_die("send");
	st = (uint32_t)gt_send_done(tx, 5000);
	if (gt_now_ms() - t0 > DEADLINE_MS || st != UNET_ST_BAD_ADDR)
		fail("%s: completed %s after %.0f ms", what,
		     (int)st < 0 ? "never" : unet_status_str(st),
		     gt_now_ms() - t0);
	bad_sends++;
	/* The receiver may have taken buffers: they come back dropped. */
	if (drain(200, &last) && last != UNET_ST_DROPPED)
		fail("%s: the receiver got %s", what, unet_status_str(last));
	misses_stop(what);
	free_region(&r);
	still_works(what);
}

/* A message spanning receive buffers of which one is a bad page. */
static void bad_recv(enum kind k)
{
	unsigned int n = 1 + fz_below(8), bad = fz_below(n);
	struct region r = make_region(k, n, bad);
	uint32_t len = (uint32_t)(bad * PAGE) + 1 + fz_below(PAGE) +
		       (fz_chance(50) ? fz_below((n - bad - 1) * PAGE + 1) : 0);
	struct unet_recv m;
	double t0;
	char what[64];

	/* An inline message takes no buffer: it would rightly come back ok. */
	if (len <= UNET_INLINE_MAX)
		len = UNET_INLINE_MAX + 1;

	snprintf(what, sizeof(what), "receive into %s page %u of %u",
		 kind_name[k], bad, n);
	for (unsigned int i = 0; i < n; i++)
		if (unet_post_free(rx, (uintptr_t)(r.p + i * PAGE), PAGE, 0))
			gt_die("post free");
	if (k == TRUNCATED && ftruncate(r.fd, (off_t)bad * PAGE))
		gt_die("ftruncate");	/* maybe after the NIC prefetched it */
	gt_fill(good, len, 5);
	t0 = gt_now_ms();
	if (unet_send_buf(tx, ch, good, len, 0))
		gt_die("send");
	if (gt_recv(rx, &m, 5000) != 1) {
		fail("%s: nothing came back", what);
	} else {
		if (gt_now_ms() - t0 > DEADLINE_MS ||
		    m.status != UNET_ST_BAD_ADDR)
			fail("%s: came back %s after %.0f ms", what,
			     unet_status_str(m.status), gt_now_ms() - t0);
		unet_recv_done(rx, &m);
	}
	if (gt_send_done(tx, 2000) < 0)
		fail("%s: the send never completed", what);
	bad_recvs++;
	drain(50, &(uint32_t){ 0 });
	misses_stop(what);
	/* Buffers it did not reach stay posted: the pair goes with them. */
	free_region(&r);
}

/* A child whose receive buffer is an unserved page, killed at random. */
static void unserved_child(void)
{
	int ready[2];
	double t0;
	pid_t pid;
	char c;

	if (pipe(ready))
		gt_die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (!pid) {
		struct unet *cu;
		struct unet_ep *a, *b;
		struct region r;
		uint8_t mac[6], msg[3000];
		bool send_side = fz_chance(50);

		close(ready[0]);
		/* Either descriptor may close first when it dies. */
		if (fz_chance(50)) {
			r = make_region(UNSERVED, 2, fz_below(2));
			cu = gt_open();
		} else {
			cu = gt_open();
			r = make_region(UNSERVED, 2, fz_below(2));
		}
		a = gt_ep(cu, UNET_MODE_MM, 0);
		b = gt_ep(cu, UNET_MODE_MM, 0);
		gt_nic_mac(cu, mac);
		if (gt_chan_to(a, mac, unet_ep_id(b)) < 0 ||
		    gt_chan_to(b, mac, unet_ep_id(a)) < 0)
			_exit(2);
		if (send_side) {
			unet_post_free(b, (uintptr_t)msg, sizeof(msg), 0);
			unet_send_buf(a, 0, r.p + PAGE - 100, 2000, 0);
		} else {
			unet_post_free(b, (uintptr_t)r.p, 2 * PAGE, 0);
			unet_send_buf(a, 0, msg, sizeof(msg), 0);
		}
		if (fz_chance(30)) {
			unet_ep_destroy(a);
			unet_ep_destroy(b);
		}
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		fail("unserved: the child did not start");
	close(ready[0]);
	usleep(fz_below(300) * 1000);
	t0 = gt_now_ms();
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, WNOHANG) != pid) {
		if (gt_now_ms() - t0 > 2000) {
			fail("unserved: a killed child was not reaped in 2 s");
			waitpid(pid, NULL, 0);
			break;
		}
		usleep(5000);
	}
}

static void pair_open(void)
{
	uint8_t mac[6];

	tx = gt_ep(u, UNET_MODE_MM, 0);
	rx = gt_ep(u, UNET_MODE_MM, 0);
	gt_nic_mac(u, mac);
	ch = gt_chan_to(tx, mac, unet_ep_id(rx));
	if (ch < 0 || gt_chan_to(rx, mac, unet_ep_id(tx)) < 0)
		gt_die("channels");
}

static void pair_close(void)
{
	unet_ep_destroy(tx);
	unet_ep_destroy(rx);
}

int main(int argc, char **argv)
{
	uint64_t seed = fz_seed_arg(argc, argv, "fuzz_badmem");
	long reps = fz_long_arg(argc, argv, "--reps", 20);
	long checked = fz_long_arg(argc, argv, "--checked", 100);
	struct fz_bg *bg = fz_shared(sizeof(*bg));
	struct fz_tally ct;
	pid_t bgp;

	u = gt_open();
	good = aligned_alloc(PAGE, 16 * PAGE);
	if (!good)
		gt_die("alloc");
	memset(good, 0x22, 16 * PAGE);
	bgp = fz_bg_start(bg, 5000, (uint32_t)checked);
	for (long rep = 0; rep < reps; rep++) {
		enum kind k = (enum kind)fz_below(NKINDS);

		pair_open();
		if (k == UNSERVED)
			unserved_child();
		else if (fz_chance(50))
			bad_send(k);
		else
			bad_recv(k);
		pair_close();
		cases++;
	}
	ct = fz_bg_stop(bg, bgp);
	gt_result(!failures, "fuzz-badmem",
		  "%llu failures in %llu cases (see # badmem: lines)",
		  (unsigned long long)failures, (unsigned long long)cases);
	gt_result(!ct.misdelivered && !ct.lost_unaccounted && !ct.failures &&
		  !ct.checked_lost && bg->rounds, "fuzz-badmem-checked-traffic",
		  "rounds %u misdelivered %llu unaccounted %llu lost %llu "
		  "failures %llu", bg->rounds,
		  (unsigned long long)ct.misdelivered,
		  (unsigned long long)ct.lost_unaccounted,
		  (unsigned long long)ct.checked_lost,
		  (unsigned long long)ct.failures);
	printf("# badmem: %llu cases: %llu bad sends, %llu bad receives\n",
	       (unsigned long long)cases, (unsigned long long)bad_sends,
	       (unsigned long long)bad_recvs);
	printf("FUZZJSON {\"fuzzer\":\"badmem\",\"seed\":%llu,"
	       "\"fault_cases\":%llu,\"misdelivered\":%llu,"
	       "\"lost_accounted\":%llu,\"failures\":%llu}\n",
	       (unsigned long long)seed, (unsigned long long)cases,
	       (unsigned long long)ct.misdelivered,
	       (unsigned long long)ct.lost_unaccounted,
	       (unsigned long long)(failures + ct.failures));
	unet_close(u);
	return gt_exit();
}
