// SPDX-License-Identifier: MIT
/* What the fault fuzzers share, compiled once: see faults_common.h. */
#include "faults_common.h"

struct tally fault_tally;
uint8_t local_mac[6];
int uffd = -1;
uint8_t *held_region, *held_src;

void fault_fail(uint64_t *what, const char *fmt, ...)
{
	va_list ap;

	if (what)
		(*what)++;
	fault_tally.failures++;
	printf("# fault: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/*
 * Messages to an endpoint that is gone: drop_no_endpoint, since an id is
 * never handed out again (slots cycle and carry a generation), or
 * drop_no_channel on a module that reuses ids, where a later endpoint
 * holding the id has no channel to the sender.
 */
uint64_t nic_gone(void)
{
	struct unet_nic_stats st;

	if (fz_nic_stats(&st))
		gt_die("nic stats");
	return st.ctr[UNET_NIC_drop_no_endpoint] +
	       st.ctr[UNET_NIC_drop_no_channel];
}

bool late(double deadline)
{
	return gt_now_ms() > deadline;
}

/* ------------------------------------------------------- messages ---- */

/* Message lengths: a quarter inline-sized, the rest up to @max. */
uint32_t rand_len(uint32_t max)
{
	if (fz_chance(25))
		return sizeof(struct mhdr) +
		       fz_below(UNET_INLINE_MAX - sizeof(struct mhdr) + 1);
	return UNET_INLINE_MAX + 1 + fz_below(max - UNET_INLINE_MAX);
}

void msg_fill(uint8_t *p, uint32_t stream, uint32_t seq, uint32_t len)
{
	struct mhdr h = { MSG_MAGIC, stream, seq, len };

	memcpy(p, &h, sizeof(h));
	for (uint32_t i = sizeof(h); i < len; i++)
		p[i] = fz_pat(stream, seq, i);
}

/*
 * Checks a message gathered into @p; on success moves *@next past its
 * sequence number (a gap is a message lost or failed, counted elsewhere).
 */
bool msg_ok(const uint8_t *p, uint32_t len, uint32_t stream,
	    uint32_t *next, char *why, size_t whylen)
{
	struct mhdr h;

	if (len < sizeof(h)) {
		snprintf(why, whylen, "message of %u bytes", len);
		return false;
	}
	memcpy(&h, p, sizeof(h));
	if (h.magic != MSG_MAGIC || h.stream != stream || h.len != len) {
		snprintf(why, whylen,
			 "foreign header (magic %#x stream %u/%u len %u/%u)",
			 h.magic, h.stream, stream, h.len, len);
		return false;
	}
	for (uint32_t i = sizeof(h); i < len; i++)
		if (p[i] != fz_pat(stream, h.seq, i)) {
			snprintf(why, whylen, "seq %u byte %u is %#x%s", h.seq,
				 i, p[i], p[i] == POISON ?
				 " (the poison: read after munmap)" : "");
			return false;
		}
	if (h.seq < *next) {
		snprintf(why, whylen, "seq %u again or out of order (next %u)",
			 h.seq, *next);
		return false;
	}
	*next = h.seq + 1;
	return true;
}

/* ---------------------------------------------- slots with guards ---- */

uint8_t *slot_buf(uint8_t *base, unsigned int i)
{
	return base + (size_t)i * SLOT + GUARD;
}

void slots_init(uint8_t *base, unsigned int n)
{
	memset(base, FZ_GUARDB, (size_t)n * SLOT);
	for (unsigned int i = 0; i < n; i++)
		memset(slot_buf(base, i), 0, BUFLEN);
}

/* Offset in @base of the first guard byte changed, or -1. */
long slots_guard_bad(const uint8_t *base, unsigned int n)
{
	for (size_t i = 0; i < (size_t)n * SLOT; i++) {
		size_t o = i % SLOT;

		if ((o < GUARD || o >= GUARD + BUFLEN) && base[i] != FZ_GUARDB)
			return (long)i;
	}
	return -1;
}

bool all_are(const uint8_t *p, size_t n, uint8_t c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return false;
	return true;
}

long first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

/* ---------------------------------------------------------- sender ---- */


bool window_open(uint64_t *taken, uint64_t *seen, double *at,
		 uint32_t seq)
{
	uint64_t t;

	if (!taken)
		return true;
	t = fz_ld(taken);
	if (t != *seen || !*at) {
		*seen = t;
		*at = gt_now_ms();
	}
	return seq - t < WINDOW || gt_now_ms() - *at > 3000;
}

void flow_init(struct flow *f, struct unet_ep *ep, int ch,
	       uint32_t stream, uint32_t maxlen)
{
	memset(f, 0, sizeof(*f));
	f->ep = ep;
	f->ch = ch;
	f->stream = stream;
	f->maxlen = maxlen;
	f->src = aligned_alloc(PAGE, (size_t)WINDOW * MAXMSG);
	if (!f->src)
		gt_die("alloc");
}

void flow_reap(struct flow *f)
{
	struct unet_send_comp c[8];
	int n;

	uffd_pump();
	while ((n = unet_send_poll(f->ep, c, 8)) > 0)
		for (int i = 0; i < n; i++) {
			if (c[i].status == UNET_ST_OK) {
				f->ok++;
			} else if (c[i].status == UNET_ST_NO_ROUTE) {
				f->no_route++;
			} else {
				f->err++;
				f->bad_status = c[i].status;
			}
		}
}

/* Posts the next message if the window has room. */
bool flow_send(struct flow *f)
{
	uint8_t *p = f->src + (size_t)(f->seq % WINDOW) * MAXMSG;
	uint32_t len = rand_len(f->maxlen);

	flow_reap(f);
	if (unet_send_outstanding(f->ep) >= WINDOW ||
	    !window_open(f->taken, &f->taken_seen, &f->taken_at, f->seq))
		return false;
	msg_fill(p, f->stream, f->seq, len);
	if (unet_send_buf(f->ep, f->ch, p, len, 1))
		return false;
	f->seq++;
	return true;
}

bool flow_drain(struct flow *f, int ms)
{
	double end = gt_now_ms() + ms;

	for (;;) {
		flow_reap(f);
		if (!unet_send_outstanding(f->ep))
			return true;
		if (late(end))
			return false;
		usleep(50);
	}
}

/* Sends @n messages and waits for their completions. */
bool flow_run(struct flow *f, unsigned int n, int ms)
{
	double end = gt_now_ms() + ms;

	while (n && !late(end)) {
		if (flow_send(f))
			n--;
		else
			usleep(50);
	}
	return !n && flow_drain(f, ms);
}

void flow_free(struct flow *f)
{
	free(f->src);
}

/* Waits for @pid up to @ms, then kills it; true if it exited 0. */
bool reap_child(pid_t pid, int ms, const char *what)
{
	double end = gt_now_ms() + ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (r < 0)
			return false;
		if (late(end)) {
			printf("# %s: pid %d still running after %d ms, killed\n",
			       what, pid, ms);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return false;
		}
		usleep(1000);
	}
	return WIFEXITED(st) && !WEXITSTATUS(st);
}


/* A private page range registered with userfaultfd, nothing in it yet. */
uint8_t *uffd_region(size_t len)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	if (p == MAP_FAILED)
		gt_die("mmap");
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		gt_die("UFFDIO_REGISTER");
	return p;
}

/* Waits up to @ms for a fault on the userfaultfd; its address or 0. */
uint64_t uffd_wait(int ms)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, ms) != 1 ||
	    read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return 0;
	return msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1);
}

/* Resolves the fault at @page of @region with the bytes from @src. */
void uffd_serve(uint8_t *region, uint64_t page, const uint8_t *src)
{
	struct uffdio_copy c = {
		.dst = page, .src = (uintptr_t)(src + (page - (uintptr_t)region)),
		.len = PAGE,
	};

	if (ioctl(uffd, UFFDIO_COPY, &c) && errno != EEXIST)
		gt_die("UFFDIO_COPY");
}

void uffd_pump(void)
{
	uint64_t page;

	while (held_region && (page = uffd_wait(0)))
		uffd_serve(held_region, page, held_src);
}

/* -------------------------------------------------------------- main ---- */

static void uffd_open(void)
{
	struct uffdio_api api = { .api = UFFD_API };

	uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd >= 0 && !ioctl(uffd, UFFDIO_API, &api))
		return;
	printf("# userfaultfd unavailable (%s): no half-written close cases\n",
	       strerror(errno));
	if (uffd >= 0)
		close(uffd);
	uffd = -1;
}

int faults_main(int argc, char **argv, const char *mode,
		void (*run)(int rep))
{
	uint64_t seed;
	long reps, checked;
	struct fz_bg *bg;
	struct fz_tally ct;
	long base[FZ_NGAUGES];
	const struct tally *t = &fault_tally;
	struct unet *u;
	char name[64];
	double t0;
	pid_t bgp;

	/* What a forked child execs: it only has to start and go. */
	if (argc > 1 && !strcmp(argv[1], "--exec-child"))
		return 0;
	snprintf(name, sizeof(name), "fuzz_faults_%s", mode);
	seed = fz_seed_arg(argc, argv, name);
	reps = fz_long_arg(argc, argv, "--reps", 10);
	checked = fz_long_arg(argc, argv, "--checked", 200);
	u = gt_open();
	gt_nic_mac(u, local_mac);
	unet_close(u);
	fz_gauges_read(base);
	uffd_open();
	bg = fz_shared(sizeof(*bg));
	bgp = fz_bg_start(bg, 4000, (uint32_t)checked);
	t0 = gt_now_ms();
	for (long rep = 0; rep < reps; rep++) {
		run((int)rep);
		fault_tally.cases++;
	}
	snprintf(name, sizeof(name), "fuzz-faults-%s", mode);
	gt_result(!t->failures, name,
		  "%llu failures in %llu repetitions (see # fault: lines)",
		  (unsigned long long)t->failures,
		  (unsigned long long)t->cases);
	printf("# %s: %llu cases in %.1f s\n", mode,
	       (unsigned long long)t->cases, (gt_now_ms() - t0) / 1000);
	ct = fz_bg_stop(bg, bgp);
	printf("# background pair: %u rounds, %llu messages checked\n",
	       bg->rounds, (unsigned long long)ct.checked_msgs);
	snprintf(name, sizeof(name), "fuzz-faults-%s-checked-traffic", mode);
	gt_result(!ct.misdelivered && !ct.lost_unaccounted && !ct.failures &&
		  !ct.checked_lost && bg->rounds, name,
		  "rounds %u misdelivered %llu unaccounted %llu lost %llu failures %llu",
		  bg->rounds, (unsigned long long)ct.misdelivered,
		  (unsigned long long)ct.lost_unaccounted,
		  (unsigned long long)ct.checked_lost,
		  (unsigned long long)ct.failures);
	snprintf(name, sizeof(name), "fuzz-faults-%s-gauges", mode);
	gt_result(!fz_gauges_settle(base, 10000, "fuzz_faults"), name,
		  "NIC gauges not back to their values before the run");
	printf("# fault streams: %llu messages sent, %llu received whole, "
	       "%llu with an error status; %llu sent toward a receiver while "
	       "it went, %llu held half-written (%llu seen in the receiver's "
	       "buffers); %llu sends from a hole; %llu forks (%llu exec)\n",
	       (unsigned long long)t->sent, (unsigned long long)t->received,
	       (unsigned long long)t->rx_errors,
	       (unsigned long long)t->inflight, (unsigned long long)t->half,
	       (unsigned long long)t->half_seen,
	       (unsigned long long)t->hole_sends,
	       (unsigned long long)t->forks, (unsigned long long)t->execs);
	printf("FUZZJSON {\"fuzzer\":\"faults-%s\",\"seed\":%llu,"
	       "\"fault_cases\":%llu,\"misdelivered\":%llu,"
	       "\"lost_accounted\":%llu,\"failures\":%llu,"
	       "\"checked_msgs\":%llu,\"fault_msgs\":%llu,"
	       "\"half_written\":%llu,\"hole_sends\":%llu,\"forks\":%llu}\n",
	       mode, (unsigned long long)seed, (unsigned long long)t->cases,
	       (unsigned long long)(t->misdelivered + ct.misdelivered),
	       (unsigned long long)(t->unaccounted + ct.lost_unaccounted),
	       (unsigned long long)(t->failures + ct.failures),
	       (unsigned long long)ct.checked_msgs,
	       (unsigned long long)t->sent, (unsigned long long)t->half,
	       (unsigned long long)t->hole_sends,
	       (unsigned long long)t->forks);
	return gt_exit();
}
