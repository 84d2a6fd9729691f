// SPDX-License-Identifier: MIT
/*
 * A fault in the middle of traffic, each repetition one fault case, while
 * a checked loopback pair runs round after round in the background (its
 * traffic must stay whole):
 *
 *  fork    a process streams checked messages from heap and stack buffers
 *          into heap and stack buffers of its own (4 in flight) and forks
 *          children repeatedly; it rewrites its send buffers and clears
 *          receive buffers after the forks (COW breaks on its side).
 *          Children watch their copies, or scribble over them, for a few
 *          ms, or exec, or exit.  Asserts: the parent's messages arrive
 *          whole, in its own pages, guards intact; no child's copy ever
 *          changes under it.
 *
 *   fuzz_faults_fork [--reps N] [--seed N] [--checked N]
 *
 * --checked is the background pair's messages per round and direction.
 * Prints `FUZZJSON {...}` (fault_cases, misdelivered, lost_accounted, ...)
 * at the end; guest-fuzz.sh checks the NIC gauges after it, and this
 * program checks them against their values before it started.
 */
#include "faults_common.h"

#define F_MSGS		48
#define F_HEAP		12		/* receive slots on the heap */
#define F_STACK		4		/* and on the stack */
#define F_MAXMSG	(40u << 10)
#define F_KIDS		32

struct fork_shm {
	uint64_t ok, wrong, rx_err, tx_err, guard, kids_bad, forks, execs;
	uint64_t nodesc;
	int done;
	char why[160];
};

/* In a child: its copies of the buffers must not change under it. */
static void fork_child(int how, uint8_t *heap_rx, uint8_t *stack_rx,
		       uint8_t *heap_tx, uint8_t *stack_tx)
{
	const size_t hl = (size_t)F_HEAP * SLOT, sl = (size_t)F_STACK * SLOT;
	const size_t tl = (size_t)WINDOW * F_MAXMSG;
	unsigned int us = 1000 + fz_below(15000);

	switch (how) {
	case 0: {	/* watch */
		uint8_t *h = malloc(hl), *s = malloc(sl);

		if (!h || !s)
			_exit(5);
		memcpy(h, heap_rx, hl);
		memcpy(s, stack_rx, sl);
		usleep(us);
		_exit(memcmp(h, heap_rx, hl) || memcmp(s, stack_rx, sl) ? 3 : 0);
	}
	case 1:		/* scribble */
	case 2:		/* scribble, then exec */
		memset(heap_rx, 0xcc, hl);
		memset(stack_rx, 0xcc, sl);
		memset(heap_tx, 0xcc, tl);
		memset(stack_tx, 0xcc, tl);
		if (how == 2)
			break;
		usleep(us);
		if (!all_are(heap_rx, hl, 0xcc) || !all_are(stack_rx, sl, 0xcc))
			_exit(2);
		_exit(0);
	case 3:		/* exec at once */
		break;
	default:
		_exit(0);
	}
	execl("/proc/self/exe", "fuzz_faults", "--exec-child", (char *)NULL);
	_exit(4);
}

static uint8_t *fork_rx_addr(uint8_t *heap_rx, uint8_t *stack_rx,
			     uint64_t a, size_t *slot_off)
{
	uint64_t h = (uintptr_t)heap_rx, s = (uintptr_t)stack_rx;

	if (a >= h && a < h + (size_t)F_HEAP * SLOT) {
		*slot_off = (a - h) % SLOT;
		return heap_rx + (a - h) - *slot_off;
	}
	if (a >= s && a < s + (size_t)F_STACK * SLOT) {
		*slot_off = (a - s) % SLOT;
		return stack_rx + (a - s) - *slot_off;
	}
	return NULL;
}

static bool slot_guards_ok(const uint8_t *slot)
{
	for (size_t i = 0; i < SLOT; i++)
		if ((i < GUARD || i >= GUARD + BUFLEN) && slot[i] != FZ_GUARDB)
			return false;
	return true;
}

static void fork_proc(int rep, struct fork_shm *sh)
{
	uint8_t stack_rx[F_STACK * SLOT] __attribute__((aligned(4096)));
	uint8_t stack_tx[WINDOW * F_MAXMSG] __attribute__((aligned(4096)));
	uint8_t *heap_rx = aligned_alloc(PAGE, (size_t)F_HEAP * SLOT);
	uint8_t *heap_tx = aligned_alloc(PAGE, (size_t)WINDOW * F_MAXMSG);
	uint8_t *scratch = malloc(MAXMSG);
	uint32_t stream = 9000 + (uint32_t)rep, sent = 0, next = 0;
	struct unet *u = gt_open();
	struct unet_ep *a = gt_ep(u, UNET_MODE_MM, 0);
	struct unet_ep *b = gt_ep(u, UNET_MODE_MM, 0);
	int ch = gt_chan_local(a, b), nkids = 0;
	double end = gt_now_ms() + REP_MS, last = gt_now_ms();
	pid_t kids[F_KIDS];
	struct unet_ep_stats st;

	alarm(REP_MS / 1000);
	if (!heap_rx || !heap_tx || !scratch)
		gt_die("alloc");
	gt_chan_local(b, a);
	slots_init(heap_rx, F_HEAP);
	slots_init(stack_rx, F_STACK);
	/* Heap and stack buffers taken in turns. */
	for (unsigned int i = 0; i < F_HEAP + F_STACK; i++) {
		uint8_t *p = i % 4 == 3 ? slot_buf(stack_rx, i / 4) :
					  slot_buf(heap_rx, i - i / 4);

		unet_post_free(b, (uintptr_t)p, BUFLEN, 0);
	}
	/* Until every message is in, or nothing came for 2 s after the last. */
	while (sh->ok + sh->rx_err + sh->wrong < F_MSGS && !late(end) &&
	       (sent < F_MSGS || unet_send_outstanding(a) ||
		gt_now_ms() - last < 2000)) {
		struct unet_send_comp c[8];
		struct unet_recv r;
		int n = unet_send_poll(a, c, 8);

		for (int i = 0; i < n; i++)
			sh->tx_err += c[i].status != UNET_ST_OK;
		if (sent < F_MSGS && unet_send_outstanding(a) < WINDOW) {
			/* Source slots: heap for a window, stack the next. */
			uint8_t *p = ((sent / WINDOW) % 2 ? stack_tx : heap_tx) +
				     (size_t)(sent % WINDOW) * F_MAXMSG;
			uint32_t l = rand_len(F_MAXMSG);

			msg_fill(p, stream, sent, l);
			if (!unet_send_buf(a, ch, p, l, 1))
				sent++;
			if (nkids < F_KIDS && fz_chance(20)) {
				int how = (int)fz_below(5);
				pid_t k;

				fflush(stdout);
				k = fork();
				if (k < 0)
					gt_die("fork");
				if (!k)
					fork_child(how, heap_rx, stack_rx,
						   heap_tx, stack_tx);
				kids[nkids++] = k;
				sh->forks++;
				sh->execs += how == 2 || how == 3;
			}
		}
		while (unet_recv_poll(b, &r) == 1) {
			struct unet_buf bufs[8];
			unsigned int nb = r.nbuf < 8 ? r.nbuf : 8;
			uint32_t got = 0;

			last = gt_now_ms();

			for (unsigned int i = 0; i < nb; i++)
				bufs[i] = *unet_recv_buf(b, &r, i);
			if (r.status != UNET_ST_OK) {
				sh->rx_err++;
			} else if (!r.nbuf) {
				memcpy(scratch, r.data, r.length);
				got = r.length;
			}
			/* Read from this process's own buffers. */
			for (unsigned int i = 0;
			     r.status == UNET_ST_OK && i < nb; i++) {
				uint32_t k = r.length - got;

				k = k < BUFLEN ? k : BUFLEN;
				memcpy(scratch + got,
				       (uint8_t *)(uintptr_t)bufs[i].addr, k);
				got += k;
			}
			if (r.status == UNET_ST_OK) {
				if (got == r.length &&
				    msg_ok(scratch, got, stream, &next, sh->why,
					   sizeof(sh->why)))
					sh->ok++;
				else
					sh->wrong++;
			}
			unet_recv_done(b, &r);
			for (unsigned int i = 0; i < nb; i++) {
				size_t off;
				uint8_t *slot = fork_rx_addr(heap_rx, stack_rx,
							     bufs[i].addr, &off);

				if (!slot || !slot_guards_ok(slot)) {
					sh->guard++;
					if (slot)
						slots_init(slot, 1);
				}
				/* A write here breaks COW on our side. */
				if (slot && fz_chance(50))
					memset(slot + GUARD, 0, BUFLEN);
				unet_post_free(b, bufs[i].addr, BUFLEN, 0);
			}
		}
		usleep(20);
	}
	if (slots_guard_bad(heap_rx, F_HEAP) >= 0 ||
	    slots_guard_bad(stack_rx, F_STACK) >= 0)
		sh->guard++;
	if (!unet_ep_stats(b, &st))
		sh->nodesc = st.ctr[UNET_CTR_rx_drop_no_bufs] +
			     st.ctr[UNET_CTR_rx_drop_queue_full];
	for (int i = 0; i < nkids; i++) {
		int s;

		if (waitpid(kids[i], &s, 0) != kids[i] || !WIFEXITED(s) ||
		    WEXITSTATUS(s)) {
			sh->kids_bad++;
			snprintf(sh->why, sizeof(sh->why),
				 "child %d: %s %d", i,
				 WIFEXITED(s) ? "exit status" : "signal",
				 WIFEXITED(s) ? WEXITSTATUS(s) : WTERMSIG(s));
		}
	}
	sh->done = 1;
	unet_ep_destroy(a);
	unet_ep_destroy(b);
	unet_close(u);
	_exit(0);
}

static void fault_fork(int rep)
{
	struct fork_shm *sh = fz_shared(sizeof(*sh));
	pid_t p;

	fflush(stdout);
	p = fork();
	if (p < 0)
		gt_die("fork");
	if (!p) {
		fz_rng ^= (uint64_t)rep * 0x9e3779b97f4a7c15ull;
		fork_proc(rep, sh);
	}
	if (!reap_child(p, REP_MS + 5000, "fork streamer") || !sh->done) {
		fault_fail(NULL, "fork rep %d: the streaming process failed (%s)",
			   rep, sh->why);
	} else {
		if (sh->wrong) {
			fault_tally.misdelivered += sh->wrong;
			fault_fail(NULL, "fork rep %d: %llu messages wrong: %s",
				   rep, (unsigned long long)sh->wrong, sh->why);
		}
		if (sh->guard)
			fault_fail(&fault_tally.misdelivered,
				   "fork rep %d: guard bytes changed", rep);
		if (sh->kids_bad)
			fault_fail(&fault_tally.misdelivered,
				   "fork rep %d: %llu of %llu children saw their copies change or failed (%s)",
				   rep, (unsigned long long)sh->kids_bad,
				   (unsigned long long)sh->forks, sh->why);
		if (sh->rx_err || sh->tx_err)
			fault_fail(NULL, "fork rep %d: %llu receives and %llu sends failed",
				   rep, (unsigned long long)sh->rx_err,
				   (unsigned long long)sh->tx_err);
		if (sh->ok + sh->rx_err + sh->wrong + sh->nodesc < F_MSGS)
			fault_fail(&fault_tally.unaccounted,
				   "fork rep %d: %llu of %d messages arrived, %llu counted dropped",
				   rep, (unsigned long long)sh->ok, F_MSGS,
				   (unsigned long long)sh->nodesc);
	}
	fault_tally.sent += F_MSGS;
	fault_tally.received += sh->ok;
	fault_tally.forks += sh->forks;
	fault_tally.execs += sh->execs;
	munmap(sh, sizeof(*sh));
}

int main(int argc, char **argv)
{
	return faults_main(argc, argv, "fork", fault_fork);
}
