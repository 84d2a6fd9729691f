// SPDX-License-Identifier: MIT
/*
 * A fault in the middle of traffic, each repetition one fault case, while
 * a checked loopback pair runs round after round in the background (its
 * traffic must stay whole):
 *
 *  munmap  receive: buffers posted in a memfd mapping are unmapped by the
 *          receiving process while messages stream into them; the receiver
 *          reposts into the hole or into fresh heap buffers.  send: a thread
 *          unmaps the memfd mapping a sender sends from, mid-stream; the
 *          sender poisons the old pages through a second mapping, sends a
 *          few messages from the hole, then from the heap.  Asserts: after
 *          munmap returns the old pages (second mapping) never change (and
 *          a send never carries the poison); no byte outside posted buffers
 *          changes; every message is delivered intact, returned with an
 *          error status, or counted by a drop counter (sent = received OK +
 *          received with error + counted, error statuses = rx_drop_bad_buf
 *          + rx_drop_reasm); sends from the hole fail with BAD_ADDR, later
 *          sends from the heap arrive intact.
 *
 *   fuzz_faults_munmap [--reps N] [--seed N] [--checked N]
 *
 * --checked is the background pair's messages per round and direction.
 * Prints `FUZZJSON {...}` (fault_cases, misdelivered, lost_accounted, ...)
 * at the end; guest-fuzz.sh checks the NIC gauges after it, and this
 * program checks them against their values before it started.
 */
#include "faults_common.h"

#define M_NSLOT		16
#define M_MAXMSG	(48u << 10)	/* up to 3 buffers */
#define M_HOLE		4		/* sends from the hole */
#define M_AFTER		12

struct munmap_shm {
	uint32_t a_id, b_id;
	volatile int ready, go, unmapped, done;
	uint64_t taken, ok, err, wrong, changed, guard, nodesc, desc;
	uint64_t sent_ok, sent_err, hole_ok, hole_err, after_err, odd;
	int64_t changed_at, guard_at;
	uint32_t odd_status;
	char why[160];
};

/* Memory mapped twice: the buffers the NIC uses, and a view of them. */
static void memfd_twice(size_t len, uint8_t **buf, uint8_t **view)
{
	int fd = memfd_create("fuzz-faults", 0);

	if (fd < 0 || ftruncate(fd, (off_t)len))
		gt_die("memfd");
	*buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	*view = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*buf == MAP_FAILED || *view == MAP_FAILED)
		gt_die("mmap memfd");
	close(fd);
}

/* Rest of both munmap cases: the receiving side's books. */
struct rxside {
	struct unet_ep *ep;
	uint32_t stream, next;
	uint8_t *mbuf, *mview;		/* memfd slots (receive case) */
	uint8_t *heap;			/* heap slots */
	bool heap_posted[M_NSLOT];
	unsigned int heap_next;
	bool unmapped;
	uint8_t *scratch;
	struct munmap_shm *sh;
};

static bool in_mbuf(struct rxside *x, uint64_t a)
{
	return x->mbuf && a >= (uintptr_t)x->mbuf &&
	       a < (uintptr_t)x->mbuf + (size_t)M_NSLOT * SLOT;
}

/* Where this process can read a buffer's bytes (the view once unmapped). */
static const uint8_t *rx_bytes(struct rxside *x, uint64_t a)
{
	return in_mbuf(x, a) ? x->mview + (a - (uintptr_t)x->mbuf) :
			       (const uint8_t *)(uintptr_t)a;
}

static void rx_take(struct rxside *x, struct unet_recv *r)
{
	struct unet_buf b[8];
	unsigned int n = r->nbuf < 8 ? r->nbuf : 8;
	uint32_t got = 0;

	for (unsigned int i = 0; i < n; i++)
		b[i] = *unet_recv_buf(x->ep, r, i);
	if (r->status == UNET_ST_OK && (r->nbuf > 8 || r->length > M_MAXMSG)) {
		x->sh->wrong++;
		snprintf(x->sh->why, sizeof(x->sh->why),
			 "message of %u bytes in %u buffers", r->length,
			 r->nbuf);
	} else if (r->status == UNET_ST_OK) {
		if (!r->nbuf) {
			memcpy(x->scratch, r->data, r->length);
			got = r->length;
		}
		for (unsigned int i = 0; i < n && got < r->length; i++) {
			uint32_t k = r->length - got;

			k = k < b[i].len ? k : b[i].len;
			memcpy(x->scratch + got, rx_bytes(x, b[i].addr), k);
			got += k;
		}
		if (got == r->length &&
		    msg_ok(x->scratch, got, x->stream, &x->next, x->sh->why,
			   sizeof(x->sh->why)))
			x->sh->ok++;
		else
			x->sh->wrong++;
	} else {
		x->sh->err++;
	}
	unet_recv_done(x->ep, r);
	fz_st(&x->sh->taken, x->sh->taken + 1);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t a = b[i].addr;

		/* Into the hole, or swapped for a heap buffer. */
		if (x->unmapped && in_mbuf(x, a) && x->heap_next < M_NSLOT &&
		    fz_chance(50))
			a = (uintptr_t)slot_buf(x->heap, x->heap_next++);
		unet_post_free(x->ep, a, BUFLEN, 0);
	}
}

/*
 * One pass of a receive loop: takes a message if one is there; false once
 * the sender is done and nothing came for 300 ms (what was still in flight
 * lands first).
 */
static bool rx_step(struct rxside *x, double *quiet)
{
	struct unet_recv r;

	if (unet_recv_poll(x->ep, &r) == 1) {
		rx_take(x, &r);
		*quiet = 0;
		return true;
	}
	if (fz_ld(&x->sh->done)) {
		if (!*quiet)
			*quiet = gt_now_ms();
		else if (gt_now_ms() - *quiet > 300)
			return false;
	}
	usleep(50);
	return true;
}

static void rx_books(struct rxside *x)
{
	struct unet_ep_stats st;
	long bad;

	if (unet_ep_stats(x->ep, &st))
		gt_die("endpoint stats");
	x->sh->nodesc = st.ctr[UNET_CTR_rx_drop_no_bufs] +
			st.ctr[UNET_CTR_rx_drop_queue_full] +
			st.ctr[UNET_CTR_rx_drop_backlog];
	x->sh->desc = st.ctr[UNET_CTR_rx_drop_bad_buf] +
		      st.ctr[UNET_CTR_rx_drop_reasm];
	bad = slots_guard_bad(x->heap, M_NSLOT);
	if (bad < 0 && x->mview)
		bad = slots_guard_bad(x->mview, M_NSLOT);
	if (bad >= 0) {
		x->sh->guard++;
		x->sh->guard_at = bad;
	}
}

/* The receiving child of the receive case. */
static void munmap_receiver(struct munmap_shm *sh, uint32_t stream)
{
	const size_t len = (size_t)M_NSLOT * SLOT;
	struct unet *u = gt_open();
	struct rxside x = { .sh = sh, .stream = stream };
	uint8_t *snap = malloc(len);
	double quiet = 0;

	alarm(REP_MS / 1000);
	x.ep = gt_ep(u, UNET_MODE_MM, 0);
	x.heap = aligned_alloc(PAGE, len);
	x.scratch = malloc(MAXMSG);
	memfd_twice(len, &x.mbuf, &x.mview);
	if (!snap || !x.heap || !x.scratch ||
	    gt_chan_to(x.ep, local_mac, sh->a_id) < 0)
		gt_die("receiver setup");
	slots_init(x.mview, M_NSLOT);
	slots_init(x.heap, M_NSLOT);
	for (unsigned int i = 0; i < M_NSLOT; i++)
		unet_post_free(x.ep, (uintptr_t)slot_buf(x.mbuf, i), BUFLEN, 0);
	fz_st(&sh->b_id, unet_ep_id(x.ep));
	fz_st(&sh->ready, 1);
	for (;;) {
		if (fz_ld(&sh->go) && !x.unmapped) {
			munmap(x.mbuf, len);
			/* From here on the NIC must leave these pages be. */
			memcpy(snap, x.mview, len);
			x.unmapped = true;
			fz_st(&sh->unmapped, 1);
		}
		if (!rx_step(&x, &quiet))
			break;
	}
	if (x.unmapped) {
		long bad = first_diff(snap, x.mview, len);

		if (bad >= 0) {
			sh->changed++;
			sh->changed_at = bad;
		}
	}
	rx_books(&x);
	_exit(0);
}

static void munmap_recv(int rep)
{
	struct munmap_shm *sh = fz_shared(sizeof(*sh));
	uint32_t stream = 8000 + (uint32_t)rep;
	struct unet *u = gt_open();
	struct unet_ep *ep = gt_ep(u, UNET_MODE_MM, 0);
	double end = gt_now_ms() + REP_MS;
	struct flow f = { .src = NULL };
	pid_t r;

	sh->a_id = unet_ep_id(ep);
	fflush(stdout);
	r = fork();
	if (r < 0)
		gt_die("fork");
	if (!r)
		munmap_receiver(sh, stream);
	while (!fz_ld(&sh->ready) && !late(end))
		usleep(1000);
	flow_init(&f, ep, gt_chan_to(ep, local_mac, sh->b_id), stream,
		  M_MAXMSG);
	f.taken = &sh->taken;
	if (!sh->ready || f.ch < 0) {
		fault_fail(NULL, "munmap-recv rep %d: receiver not ready", rep);
		goto out;
	}
	if (!flow_run(&f, 2 + fz_below(16), REP_MS))
		goto stuck;
	/* The unmap lands while messages stream into the buffers. */
	fz_st(&sh->go, 1);
	while (!fz_ld(&sh->unmapped) && !late(end))
		if (!flow_send(&f))
			usleep(50);
	if (!flow_run(&f, M_AFTER, REP_MS))
		goto stuck;
	goto done;
stuck:
	fault_fail(NULL, "munmap-recv rep %d: sends did not complete", rep);
done:
	fz_st(&sh->done, 1);
	if (!reap_child(r, REP_MS, "munmap receiver")) {
		fault_fail(NULL, "munmap-recv rep %d: receiver failed", rep);
		goto out;
	}
	if (sh->wrong) {
		fault_tally.misdelivered += sh->wrong;
		fault_fail(NULL, "munmap-recv rep %d: %llu messages wrong: %s",
			   rep, (unsigned long long)sh->wrong, sh->why);
	}
	if (sh->changed)
		fault_fail(&fault_tally.misdelivered,
			   "munmap-recv rep %d: the NIC wrote to the pages after munmap (offset %lld)",
			   rep, (long long)sh->changed_at);
	if (sh->guard)
		fault_fail(&fault_tally.misdelivered,
			   "munmap-recv rep %d: guard byte at offset %lld changed",
			   rep, (long long)sh->guard_at);
	if (f.err)
		fault_fail(NULL, "munmap-recv rep %d: %llu sends completed with status %u",
			   rep, (unsigned long long)f.err, f.bad_status);
	if (f.ok + f.err != sh->ok + sh->wrong + sh->err + sh->nodesc ||
	    sh->err != sh->desc)
		fault_fail(&fault_tally.unaccounted,
			   "munmap-recv rep %d: sent %llu ok %llu failed; received %llu ok, %llu with an error status; counted %llu with and %llu without a descriptor",
			   rep, (unsigned long long)f.ok,
			   (unsigned long long)f.err,
			   (unsigned long long)sh->ok,
			   (unsigned long long)sh->err,
			   (unsigned long long)sh->desc,
			   (unsigned long long)sh->nodesc);
	fault_tally.sent += f.ok;
	fault_tally.received += sh->ok;
	fault_tally.rx_errors += sh->err;
out:
	unet_ep_destroy(ep);
	unet_close(u);
	flow_free(&f);
	munmap(sh, sizeof(*sh));
}

/* The sending child of the send case: a thread unmaps under it. */
struct unmapper {
	uint8_t *buf;
	size_t len;
	unsigned int delay_us;
	struct munmap_shm *sh;
};

static void *unmapper_run(void *arg)
{
	struct unmapper *m = arg;

	usleep(m->delay_us);
	munmap(m->buf, m->len);
	fz_st(&m->sh->unmapped, 1);
	return NULL;
}

enum { K_BEFORE = 1, K_HOLE, K_AFTER };

static void munmap_sender(struct munmap_shm *sh, uint32_t stream,
			  unsigned int delay_us)
{
	const size_t len = (size_t)WINDOW * M_MAXMSG;
	struct unet *u = gt_open();
	struct unet_ep *ep = gt_ep(u, UNET_MODE_MM, 0);
	struct unmapper m = { .len = len, .delay_us = delay_us, .sh = sh };
	uint8_t *view, *heap = aligned_alloc(PAGE, len);
	unsigned int hole = 0, after = 0;
	bool poisoned = false;
	uint32_t seq = 0;
	uint64_t taken_seen = 0;
	double end = gt_now_ms() + REP_MS, taken_at = 0;
	pthread_t t;
	int ch;

	alarm(REP_MS / 1000);
	memfd_twice(len, &m.buf, &view);
	fz_st(&sh->a_id, unet_ep_id(ep));
	fz_st(&sh->ready, 1);
	while (!fz_ld(&sh->go))
		usleep(1000);
	ch = gt_chan_to(ep, local_mac, sh->b_id);
	if (!heap || ch < 0 || pthread_create(&t, NULL, unmapper_run, &m))
		gt_die("sender setup");
	while (after < M_AFTER || unet_send_outstanding(ep)) {
		struct unet_send_comp c[8];
		int n = unet_send_poll(ep, c, 8);
		unsigned int slot = seq % WINDOW;
		uint32_t l, kind;
		uint8_t *p;

		for (int i = 0; i < n; i++) {
			if (c[i].status == UNET_ST_OK)
				sh->sent_ok++;
			else
				sh->sent_err++;
			if (c[i].context == K_HOLE) {
				sh->hole_ok += c[i].status == UNET_ST_OK;
				sh->hole_err += c[i].status == UNET_ST_BAD_ADDR;
			} else if (c[i].context == K_AFTER) {
				sh->after_err += c[i].status != UNET_ST_OK;
			}
			if (c[i].status != UNET_ST_OK &&
			    c[i].status != UNET_ST_BAD_ADDR) {
				sh->odd++;
				sh->odd_status = c[i].status;
			}
		}
		if (late(end))
			break;
		if (after == M_AFTER || unet_send_outstanding(ep) >= WINDOW ||
		    !window_open(&sh->taken, &taken_seen, &taken_at, seq)) {
			usleep(50);
			continue;
		}
		if (fz_ld(&sh->unmapped) && !poisoned) {
			/*
			 * munmap has returned: a send that still read these
			 * pages would carry the poison.
			 */
			memset(view, POISON, len);
			poisoned = true;
		}
		if (!poisoned) {
			/* Written through the view: the thread may unmap buf. */
			l = UNET_INLINE_MAX + 1 +
			    fz_below(M_MAXMSG - UNET_INLINE_MAX);
			msg_fill(view + (size_t)slot * M_MAXMSG, stream, seq, l);
			p = m.buf + (size_t)slot * M_MAXMSG;
			kind = K_BEFORE;
		} else if (hole < M_HOLE) {
			l = UNET_INLINE_MAX + 1 +
			    fz_below(M_MAXMSG - UNET_INLINE_MAX);
			p = m.buf + (size_t)slot * M_MAXMSG;
			kind = K_HOLE;
		} else {
			l = rand_len(M_MAXMSG);
			p = heap + (size_t)slot * M_MAXMSG;
			msg_fill(p, stream, seq, l);
			kind = K_AFTER;
		}
		if (unet_send_buf(ep, ch, p, l, kind))
			continue;
		seq++;
		hole += kind == K_HOLE;
		after += kind == K_AFTER;
	}
	pthread_join(t, NULL);
	fz_st(&sh->done, 1);
	_exit(0);
}

static void munmap_send(int rep)
{
	struct munmap_shm *sh = fz_shared(sizeof(*sh));
	uint32_t stream = 8500 + (uint32_t)rep;
	struct unet *u = gt_open();
	struct rxside x = { .sh = sh, .stream = stream };
	double end = gt_now_ms() + REP_MS, quiet = 0;
	unsigned int delay = 1000 + fz_below(25000);
	pid_t s;

	x.ep = gt_ep(u, UNET_MODE_MM, 0);
	x.heap = aligned_alloc(PAGE, (size_t)M_NSLOT * SLOT);
	x.scratch = malloc(MAXMSG);
	if (!x.heap || !x.scratch)
		gt_die("alloc");
	slots_init(x.heap, M_NSLOT);
	for (unsigned int i = 0; i < M_NSLOT; i++)
		unet_post_free(x.ep, (uintptr_t)slot_buf(x.heap, i), BUFLEN, 0);
	sh->b_id = unet_ep_id(x.ep);
	fflush(stdout);
	s = fork();
	if (s < 0)
		gt_die("fork");
	if (!s)
		munmap_sender(sh, stream, delay);
	while (!fz_ld(&sh->ready) && !late(end))
		usleep(1000);
	if (!sh->ready || gt_chan_to(x.ep, local_mac, sh->a_id) < 0) {
		fault_fail(NULL, "munmap-send rep %d: sender not ready", rep);
		goto out;
	}
	fz_st(&sh->go, 1);
	while (!late(end) && rx_step(&x, &quiet))
		;
	if (!reap_child(s, REP_MS, "munmap sender") || !sh->done) {
		fault_fail(NULL, "munmap-send rep %d: sender failed", rep);
		goto out;
	}
	rx_books(&x);
	if (sh->wrong) {
		fault_tally.misdelivered += sh->wrong;
		fault_fail(NULL, "munmap-send rep %d: %llu messages wrong: %s",
			   rep, (unsigned long long)sh->wrong, sh->why);
	}
	if (sh->guard)
		fault_fail(&fault_tally.misdelivered,
			   "munmap-send rep %d: guard byte at offset %lld changed",
			   rep, (long long)sh->guard_at);
	/*
	 * A stale read that got delivered carries the poison (wrong above);
	 * one that completed OK without a drop read something it must not
	 * have.  Only a message the receiver dropped for want of buffers
	 * completes OK unread.
	 */
	if (sh->hole_ok > sh->nodesc)
		fault_fail(&fault_tally.misdelivered,
			   "munmap-send rep %d: %llu sends from the unmapped range completed OK (receiver dropped %llu for want of buffers)",
			   rep, (unsigned long long)sh->hole_ok,
			   (unsigned long long)sh->nodesc);
	if (sh->hole_err + sh->hole_ok != M_HOLE || sh->after_err || sh->odd)
		fault_fail(NULL, "munmap-send rep %d: %llu of %d hole sends BAD_ADDR, %llu later sends failed, %llu odd statuses (%u)",
			   rep, (unsigned long long)sh->hole_err, M_HOLE,
			   (unsigned long long)sh->after_err,
			   (unsigned long long)sh->odd, sh->odd_status);
	if (sh->sent_ok + sh->sent_err !=
	    sh->ok + sh->wrong + sh->err + sh->nodesc ||
	    sh->err != sh->desc)
		fault_fail(&fault_tally.unaccounted,
			   "munmap-send rep %d: sent %llu ok %llu failed; received %llu ok, %llu with an error status; counted %llu with and %llu without a descriptor",
			   rep, (unsigned long long)sh->sent_ok,
			   (unsigned long long)sh->sent_err,
			   (unsigned long long)sh->ok,
			   (unsigned long long)sh->err,
			   (unsigned long long)sh->desc,
			   (unsigned long long)sh->nodesc);
	fault_tally.sent += sh->sent_ok;
	fault_tally.received += sh->ok;
	fault_tally.rx_errors += sh->err;
	fault_tally.hole_sends += sh->hole_err + sh->hole_ok;
out:
	unet_ep_destroy(x.ep);
	unet_close(u);
	free(x.heap);
	free(x.scratch);
	munmap(sh, sizeof(*sh));
}

static void fault_munmap(int rep)
{
	if (rep % 2)
		munmap_send(rep);
	else
		munmap_recv(rep);
}

int main(int argc, char **argv)
{
	return faults_main(argc, argv, "munmap", fault_munmap);
}
