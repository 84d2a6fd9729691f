// SPDX-License-Identifier: MIT
/*
 * Faults in the middle of traffic, repeated, beside a checked pair of
 * processes whose traffic must stay correct:
 *
 *  close     a receiver goes away (destroys its endpoint, closes its
 *            context, or exits) while 16 KiB messages stream at it.  Its
 *            receive memory must not change once it is gone, and every
 *            message sent to it afterwards must be counted as
 *            drop_no_endpoint.
 *  munmap    a receiver unmaps the memory its posted buffers live in, or a
 *            sender the memory it sends from, while the NIC uses it.  The
 *            old pages (seen through a second mapping of the same memfd)
 *            must not change after munmap returns; every message must be
 *            delivered intact, returned with an error status, or counted.
 *  fork      a process streaming checked messages through heap buffers
 *            forks; the child scribbles over its copies and exits.  The
 *            parent's data must be intact and the NIC must never write into
 *            the child's copies.
 *
 *   fuzz_faults [--seed N] [--reps N] [--checked N]
 *
 * Each repetition of each fault is one fault case.  guest-fuzz.sh checks
 * that the NIC gauges (pinned pages, endpoints, ...) return to zero once
 * the run is over.  Prints `FUZZJSON {...}` at the end.
 */
#include <pthread.h>
#include <stdarg.h>

#include "fuzz.h"

#define LEN		16384u
#define NBUF		8
#define REGION		(LEN * NBUF)
#define AFTER_MSGS	16

struct tally {
	uint64_t cases, misdelivered, unaccounted, leaks, failures;
};

static struct tally T;
static uint8_t local_mac[6];

static void fault_fail(uint64_t *what, const char *fmt, ...)
{
	va_list ap;

	if (what)
		(*what)++;
	T.failures++;
	printf("# fault: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static uint64_t nic_ctr(int c)
{
	struct unet_nic_stats st;

	if (fz_nic_stats(&st))
		gt_die("nic stats");
	return st.ctr[c];
}

static uint64_t ep_drops(struct unet_ep *ep)
{
	struct unet_ep_stats st;

	if (unet_ep_stats(ep, &st))
		gt_die("endpoint stats");
	return st.ctr[UNET_CTR_rx_drop_no_bufs] +
	       st.ctr[UNET_CTR_rx_drop_queue_full] +
	       st.ctr[UNET_CTR_rx_drop_bad_buf] +
	       st.ctr[UNET_CTR_rx_drop_reasm] +
	       st.ctr[UNET_CTR_rx_drop_backlog];
}

/* A memfd mapped twice: the buffer the NIC uses and a view of its pages. */
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

/*
 * A sending thread: streams LEN-byte messages, a few in flight, until told
 * to pause (then drains and says so), then sends @after more and stops.
 */
struct sender {
	struct unet_ep *ep;
	int ch;
	const uint8_t *src;
	volatile int pause, paused, resume;
	uint64_t ok, err, ok_after;
	unsigned int after;
};

static void reap(struct sender *s, bool after)
{
	struct unet_send_comp c;

	while (unet_send_poll(s->ep, &c, 1) == 1) {
		if (c.status == UNET_ST_OK) {
			s->ok++;
			s->ok_after += after;
		} else {
			s->err++;
		}
	}
}

static void *sender_run(void *arg)
{
	struct sender *s = arg;
	unsigned int n = 0;

	while (!s->pause) {
		if (unet_send_outstanding(s->ep) < 4)
			unet_send_buf(s->ep, s->ch, s->src, LEN, 0);
		reap(s, false);
		usleep(100);
	}
	while (unet_send_outstanding(s->ep)) {
		reap(s, false);
		usleep(100);
	}
	s->paused = 1;
	while (!s->resume)
		usleep(1000);
	while (n < s->after || unet_send_outstanding(s->ep)) {
		if (n < s->after && unet_send_outstanding(s->ep) < 4 &&
		    !unet_send_buf(s->ep, s->ch, s->src, LEN, 0))
			n++;
		reap(s, true);
		usleep(100);
	}
	return NULL;
}

static void sender_pause(struct sender *s)
{
	s->pause = 1;
	while (!s->paused)
		usleep(1000);
}

/*
 * The next message on @ep, or false once @finished (called on every turn,
 * so it may also act) has said the other side is done and nothing came for
 * 200 ms: what was still in flight lands first.
 */
static bool recv_until_quiet(struct unet_ep *ep, struct unet_recv *r,
			     bool (*finished)(void *arg), void *arg)
{
	double quiet = 0;

	for (;;) {
		bool done = finished(arg);

		if (unet_recv_poll(ep, r) == 1)
			return true;
		if (quiet && gt_now_ms() - quiet > 200)
			return false;
		if (done && !quiet)
			quiet = gt_now_ms();
		usleep(50);
	}
}

/* How a child receiver and the sender find each other (shared memory). */
struct peers {
	uint32_t sender_id, receiver_id;
	volatile int ready;
};

/*
 * Makes the sending endpoint, forks @child (which receives, publishes its
 * endpoint in @p and never returns), connects and starts the sending
 * thread.  Returns the child's pid.
 */
static pid_t start_stream(struct unet *u, struct sender *s,
			  const uint8_t *src, struct peers *p,
			  void (*child)(void *shm, uint8_t *mem, int arg),
			  void *shm, uint8_t *mem, int arg, pthread_t *t)
{
	pid_t pid;

	s->ep = gt_ep(u, UNET_MODE_MM, 0);
	s->src = src;
	p->sender_id = unet_ep_id(s->ep);
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (!pid)
		child(shm, mem, arg);
	while (!fz_ld(&p->ready))
		usleep(1000);
	s->ch = unet_chan_create(s->ep, local_mac, p->receiver_id);
	if (s->ch < 0 || pthread_create(t, NULL, sender_run, s))
		gt_die("sender");
	return pid;
}

/* ------------------------------------------------------------ close ---- */

struct victim_shm {
	struct peers p;
	volatile int die;
};

static void close_victim(void *shm, uint8_t *mem, int how)
{
	struct victim_shm *sh = shm;
	struct unet *u = gt_open();
	struct unet_ep *ep = gt_ep(u, UNET_MODE_MM, 0);
	struct unet_recv r;

	if (unet_chan_create(ep, local_mac, sh->p.sender_id) < 0)
		gt_die("victim channel");
	for (int i = 0; i < NBUF; i++)
		unet_post_free(ep, (uintptr_t)(mem + (size_t)i * LEN), LEN);
	fz_st(&sh->p.receiver_id, unet_ep_id(ep));
	fz_st(&sh->p.ready, 1);
	while (!fz_ld(&sh->die)) {
		/* Take what arrives and repost: messages stay in flight. */
		while (unet_recv_poll(ep, &r) == 1) {
			uint64_t a = r.nbuf ? unet_recv_buf(ep, &r, 0)->addr : 0;

			unet_recv_done(ep, &r);
			if (a)
				unet_post_free(ep, a, LEN);
		}
		usleep(50);
	}
	if (how == 0)
		unet_ep_destroy(ep);
	else if (how == 1)
		unet_close(u);	/* the context, and its endpoint with it */
	_exit(0);		/* how 2: the kernel tears everything down */
}

static void fault_close(int rep)
{
	struct victim_shm *sh = fz_shared(sizeof(*sh));
	uint8_t *mem = fz_shared(REGION), *snap = malloc(REGION);
	struct unet *u = gt_open();
	struct sender s = { .after = AFTER_MSGS };
	uint8_t *src = malloc(LEN);
	uint64_t noep0;
	pthread_t t;
	pid_t v;
	int st;

	if (!snap || !src)
		gt_die("alloc");
	gt_fill(src, LEN, (uint32_t)rep);
	v = start_stream(u, &s, src, &sh->p, close_victim, sh, mem, rep % 3,
			 &t);
	usleep(2000 + fz_below(30000));
	fz_st(&sh->die, 1);
	waitpid(v, &st, 0);
	sender_pause(&s);
	/* Gone: from now on its memory is just memory, and sends are lost. */
	memcpy(snap, mem, REGION);
	noep0 = nic_ctr(UNET_NIC_drop_no_endpoint);
	s.resume = 1;
	pthread_join(t, NULL);
	usleep(20000);
	if (memcmp(snap, mem, REGION))
		fault_fail(&T.misdelivered,
			   "close rep %d: the gone receiver's memory changed", rep);
	if (nic_ctr(UNET_NIC_drop_no_endpoint) - noep0 != s.ok_after)
		fault_fail(&T.unaccounted,
			   "close rep %d: %llu sent after the receiver went, drop_no_endpoint +%llu",
			   rep, (unsigned long long)s.ok_after,
			   (unsigned long long)(nic_ctr(UNET_NIC_drop_no_endpoint) -
						noep0));
	unet_close(u);
	munmap(sh, sizeof(*sh));
	munmap(mem, REGION);
	free(snap);
	free(src);
}

/* ----------------------------------------------------------- munmap ---- */

struct munmap_shm {
	struct peers p;
	volatile int unmap, stop, unmapped;
	uint64_t ok, err, drops, wrong, view_changed;
};

static uint8_t *sh_buf, *sh_view, *sh_snap;	/* the receiver child's */

/* Unmaps the buffers when told to; true once the sender is done. */
static bool receiver_turn(void *arg)
{
	struct munmap_shm *sh = arg;

	if (fz_ld(&sh->unmap) && !sh->unmapped) {
		munmap(sh_buf, REGION);
		memcpy(sh_snap, sh_view, REGION);
		fz_st(&sh->unmapped, 1);
	}
	return fz_ld(&sh->stop);
}

/* The receiver: posts buffers in a memfd mapping it unmaps on request. */
static void munmap_receiver(void *shm, uint8_t *unused, int arg)
{
	struct munmap_shm *sh = shm;
	struct unet *u = gt_open();
	struct unet_ep *ep = gt_ep(u, UNET_MODE_MM, 0);
	uint8_t *buf, *view, *snap = malloc(REGION);

	memfd_twice(REGION, &buf, &view);
	(void)unused;
	(void)arg;
	if (!snap || unet_chan_create(ep, local_mac, sh->p.sender_id) < 0)
		gt_die("receiver setup");
	for (int i = 0; i < NBUF; i++)
		unet_post_free(ep, (uintptr_t)(buf + (size_t)i * LEN), LEN);
	fz_st(&sh->p.receiver_id, unet_ep_id(ep));
	fz_st(&sh->p.ready, 1);
	sh_view = view;
	sh_buf = buf;
	sh_snap = snap;
	for (;;) {
		struct unet_recv r;

		if (!recv_until_quiet(ep, &r, receiver_turn, sh))
			break;
		if (r.status == UNET_ST_OK) {
			uint64_t off = unet_recv_buf(ep, &r, 0)->addr -
				       (uintptr_t)buf;

			sh->ok++;
			/* Only before the unmap can we read it (via the view). */
			if (!sh->unmapped &&
			    (r.length != LEN || off >= REGION ||
			     gt_verify(view + off, LEN, 0x5eed) >= 0))
				sh->wrong++;
		} else {
			sh->err++;
		}
		if (r.nbuf) {
			uint64_t a = unet_recv_buf(ep, &r, 0)->addr;

			unet_recv_done(ep, &r);
			unet_post_free(ep, a, LEN);	/* maybe into a hole */
		} else {
			unet_recv_done(ep, &r);
		}
	}
	if (sh->unmapped && memcmp(snap, view, REGION))
		sh->view_changed++;
	sh->drops = ep_drops(ep);
	_exit(0);
}

static void fault_munmap_recv(int rep)
{
	struct munmap_shm *sh = fz_shared(sizeof(*sh));
	struct unet *u = gt_open();
	struct sender s = { .after = AFTER_MSGS };
	uint8_t *src = malloc(LEN);
	pthread_t t;
	pid_t r;
	int st;

	if (!src)
		gt_die("alloc");
	gt_fill(src, LEN, 0x5eed);
	r = start_stream(u, &s, src, &sh->p, munmap_receiver, sh, NULL, 0, &t);
	usleep(2000 + fz_below(30000));
	fz_st(&sh->unmap, 1);
	while (!fz_ld(&sh->unmapped))
		usleep(1000);
	usleep(fz_below(10000));
	sender_pause(&s);
	s.resume = 1;
	pthread_join(t, NULL);
	fz_st(&sh->stop, 1);
	waitpid(r, &st, 0);
	if (sh->wrong)
		fault_fail(&T.misdelivered, "munmap-recv rep %d: %llu messages wrong",
			   rep, (unsigned long long)sh->wrong);
	if (sh->view_changed)
		fault_fail(&T.misdelivered,
			   "munmap-recv rep %d: the NIC wrote to pages after munmap",
			   rep);
	/* A message returned with an error status is counted as well. */
	if (sh->ok + sh->drops != s.ok || sh->err > sh->drops)
		fault_fail(&T.unaccounted,
			   "munmap-recv rep %d: sent %llu ok; received %llu ok, %llu with errors, %llu counted dropped",
			   rep, (unsigned long long)s.ok,
			   (unsigned long long)sh->ok,
			   (unsigned long long)sh->err,
			   (unsigned long long)sh->drops);
	unet_close(u);
	munmap(sh, sizeof(*sh));
	free(src);
}

static bool sender_exited(void *arg)
{
	pid_t *pid = arg;
	int st;

	if (*pid > 0 && waitpid(*pid, &st, WNOHANG) == *pid)
		*pid = 0;
	return *pid == 0;
}

/* The sender unmaps the memory it sends from; the receiver checks all. */
static void fault_munmap_send(int rep)
{
	struct munmap_shm *sh = fz_shared(sizeof(*sh));
	struct unet *u = gt_open();
	struct unet_ep *rx = gt_ep(u, UNET_MODE_MM, 0);
	uint8_t *pool = malloc(REGION), *copy = malloc(LEN);
	uint64_t ok = 0, wrong = 0, errs = 0;
	pid_t s;

	if (!pool || !copy)
		gt_die("alloc");
	for (int i = 0; i < NBUF; i++)
		unet_post_free(rx, (uintptr_t)(pool + (size_t)i * LEN), LEN);
	sh->p.receiver_id = unet_ep_id(rx);
	s = fork();
	if (s < 0)
		gt_die("fork");
	if (!s) {
		struct unet *su = gt_open();
		struct sender snd = { .after = 0 };
		uint8_t *buf, *view;
		pthread_t t;

		memfd_twice(LEN, &buf, &view);
		gt_fill(view, LEN, 0x5eed);
		snd.ep = gt_ep(su, UNET_MODE_MM, 0);
		snd.src = buf;
		fz_st(&sh->p.sender_id, unet_ep_id(snd.ep));
		fz_st(&sh->p.ready, 1);
		while (!fz_ld(&sh->unmap))	/* here: the receiver is ready */
			usleep(1000);
		snd.ch = unet_chan_create(snd.ep, local_mac, sh->p.receiver_id);
		if (snd.ch < 0 || pthread_create(&t, NULL, sender_run, &snd))
			gt_die("sender");
		usleep(2000 + fz_below(20000));
		munmap(buf, LEN);	/* mid-send, most likely */
		usleep(5000);
		sender_pause(&snd);
		snd.resume = 1;
		pthread_join(t, NULL);
		sh->ok = snd.ok;
		sh->err = snd.err;
		_exit(0);
	}
	while (!fz_ld(&sh->p.ready))
		usleep(1000);
	if (unet_chan_create(rx, local_mac, sh->p.sender_id) < 0)
		gt_die("receiver channel");
	fz_st(&sh->unmap, 1);
	for (;;) {
		struct unet_recv r;
		uint64_t a;

		if (!recv_until_quiet(rx, &r, sender_exited, &s))
			break;
		a = r.nbuf ? unet_recv_buf(rx, &r, 0)->addr : 0;
		if (r.status == UNET_ST_OK) {
			ok++;
			if (r.length != LEN ||
			    unet_recv_copy(rx, &r, copy, LEN) != LEN ||
			    gt_verify(copy, LEN, 0x5eed) >= 0)
				wrong++;
		} else {
			errs++;
		}
		unet_recv_done(rx, &r);
		if (a)
			unet_post_free(rx, a, LEN);
	}
	if (wrong)
		fault_fail(&T.misdelivered,
			   "munmap-send rep %d: %llu delivered messages wrong", rep,
			   (unsigned long long)wrong);
	/* A send that failed mid-way leaves nothing, or a dropped message. */
	if (ok + ep_drops(rx) < sh->ok || ok > sh->ok)
		fault_fail(&T.unaccounted,
			   "munmap-send rep %d: %llu sent ok, %llu arrived, %llu counted",
			   rep, (unsigned long long)sh->ok,
			   (unsigned long long)ok,
			   (unsigned long long)ep_drops(rx));
	unet_close(u);
	munmap(sh, sizeof(*sh));
	free(pool);
	free(copy);
}

/* ------------------------------------------------------------- fork ---- */

static void fault_fork(int rep)
{
	struct unet *u = gt_open();
	struct unet_ep *a = gt_ep(u, UNET_MODE_MM, 0);
	struct unet_ep *b = gt_ep(u, UNET_MODE_MM, 0);
	uint8_t *pool = malloc(REGION), *tx = malloc(LEN);
	int ch = gt_chan_local(u, a, b), msgs = 24, got = 0, kids = 0;
	int i, st, bad_kids = 0;
	uint64_t wrong = 0;

	if (!pool || !tx || gt_chan_local(u, b, a) < 0)
		gt_die("fork setup");
	memset(pool, 0, REGION);
	for (i = 0; i < NBUF; i++)
		unet_post_free(b, (uintptr_t)(pool + (size_t)i * LEN), LEN);
	for (i = 0; i < msgs; i++) {
		struct unet_recv r;
		uint32_t seed = (uint32_t)(rep << 8 | i);

		gt_fill(tx, LEN, seed);
		if (unet_send_buf(a, ch, tx, LEN, 0))
			gt_die("send");
		if (i % 4 == 1) {
			pid_t k = fork();

			if (k < 0)
				gt_die("fork");
			if (!k) {
				/* COW copies: scribble, then they must stay. */
				memset(pool, 0xcc, REGION);
				memset(tx, 0xcc, LEN);
				usleep(5000 + fz_below(10000));
				for (size_t j = 0; j < REGION; j++)
					if (pool[j] != 0xcc)
						_exit(1);
				_exit(0);
			}
			kids++;
		}
		if (gt_recv(b, &r, 10000) != 1) {
			fault_fail(&T.unaccounted, "fork rep %d: message %d never came",
				   rep, i);
			break;
		}
		if (r.status != UNET_ST_OK || r.length != LEN ||
		    gt_verify(unet_buf_ptr(b, unet_recv_buf(b, &r, 0)), LEN,
			      seed) >= 0)
			wrong++;
		got++;
		{
			uint64_t addr = unet_recv_buf(b, &r, 0)->addr;

			unet_recv_done(b, &r);
			unet_post_free(b, addr, LEN);
		}
		if (gt_send_done(a, 10000) != UNET_ST_OK)
			wrong++;
	}
	while (kids--) {
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			bad_kids++;
	}
	if (wrong)
		fault_fail(&T.misdelivered, "fork rep %d: %llu messages wrong",
			   rep, (unsigned long long)wrong);
	if (bad_kids)
		fault_fail(&T.misdelivered,
			   "fork rep %d: %d children saw the NIC write their copies",
			   rep, bad_kids);
	unet_close(u);
	free(pool);
	free(tx);
}

/* -------------------------------------------------------------- main ---- */

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*run)(int rep);
	} faults[] = {
		{ "close", fault_close },
		{ "munmap-recv", fault_munmap_recv },
		{ "munmap-send", fault_munmap_send },
		{ "fork", fault_fork },
	};
	uint64_t seed = fz_seed_arg(argc, argv, "fuzz_faults");
	long reps = fz_long_arg(argc, argv, "--reps", 10);
	long checked = fz_long_arg(argc, argv, "--checked", 300);
	struct fz_pair_shm *pair = fz_shared(sizeof(*pair));
	struct fz_tally ct = { 0 };
	struct unet *u = gt_open();
	pid_t ppid[2];

	gt_nic_mac(u, local_mac);
	unet_close(u);
	fz_pair_start(pair, 4000, (uint32_t)checked, ppid);
	for (size_t f = 0; f < sizeof(faults) / sizeof(faults[0]); f++) {
		uint64_t before = T.failures;

		for (long rep = 0; rep < reps; rep++) {
			faults[f].run((int)rep);
			T.cases++;
		}
		gt_result(T.failures == before, faults[f].name[0] == 'c' ?
			  "fuzz-faults-close-inflight" :
			  faults[f].name[0] == 'f' ? "fuzz-faults-fork" :
			  faults[f].name[7] == 'r' ? "fuzz-faults-munmap-recv" :
			  "fuzz-faults-munmap-send",
			  "%llu failures in %ld repetitions",
			  (unsigned long long)(T.failures - before), reps);
	}
	fz_pair_wait(pair, ppid, &ct, "faults-checked");
	gt_result(!ct.misdelivered && !ct.lost_unaccounted && !ct.failures &&
		  !ct.checked_lost, "fuzz-faults-checked-traffic",
		  "misdelivered %llu unaccounted %llu lost %llu",
		  (unsigned long long)ct.misdelivered,
		  (unsigned long long)ct.lost_unaccounted,
		  (unsigned long long)ct.checked_lost);
	printf("FUZZJSON {\"fuzzer\":\"faults-inflight\",\"seed\":%llu,"
	       "\"fault_cases\":%llu,\"misdelivered\":%llu,"
	       "\"lost_accounted\":%llu,\"failures\":%llu}\n",
	       (unsigned long long)seed, (unsigned long long)T.cases,
	       (unsigned long long)(T.misdelivered + ct.misdelivered),
	       (unsigned long long)(T.unaccounted + ct.lost_unaccounted),
	       (unsigned long long)(T.failures + ct.failures));
	return gt_exit();
}
