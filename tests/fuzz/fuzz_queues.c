/* SPDX-License-Identifier: MIT */
/*
 * Hostile processes: random and adversarial contents in the mapped queues
 * of the process's own endpoints, both modes, with doorbells, while another
 * pair of processes carries checked traffic that must stay correct and
 * complete.
 *
 *   fuzz_queues [--seed N] [--cases N] [--procs P] [--checked N]
 *
 * Every worker (P processes, each its own context) owns up to three
 * endpoints it keeps re-creating; a case is one thing written into a
 * queue: a send descriptor (bad channels, flags, inline lengths, gather
 * lists into holes, read-only or kernel memory, lengths near 2^32, segment
 * offsets out of range), a free-queue entry, an index (tx.prod / fq.prod /
 * rx.cons backwards, far ahead, random), or a word of the control page.
 * Prints `FUZZJSON {...}` at the end.
 */
#include "fuzz.h"

#define ARENA		(256u * 4096)
#define NEP		3

struct worker_shm {
	uint64_t cases;
	uint64_t kicks;
	uint64_t recreated;
	uint64_t statuses[16];
	int done;
};

static uint8_t *arena;		/* with holes, RO and PROT_NONE pages */
static uint8_t local_mac[6];
static uint32_t victim_id;

struct hep {
	struct fz_rep r;
	bool live;
	uint32_t tx_prod, fq_prod, rx_cons;
	int nch;
};

static struct hep eps[NEP];
static int ctx_fd;

static uint64_t hostile_addr(struct hep *e)
{
	static const uint64_t special[] = {
		0, 1, 0xfff, 0x1000, 0x7ffffffff000ull, 0x7fffffffffffull,
		0x800000000000ull, 0xffff800000000000ull,
		0xffff888000000000ull, 0xffffffff81000000ull,
		0xfffffffffffff000ull, 0xffffffffffffffffull,
	};

	switch (fz_below(8)) {
	case 0:
		return special[fz_below(sizeof(special) / sizeof(special[0]))];
	case 1:
		return fz_rand();
	case 2: case 3: case 4:
		if (e->r.mode == UNET_MODE_BASE)
			return fz_below(e->r.req.segment_size + 8192);
		return (uint64_t)(uintptr_t)(arena + fz_below(ARENA));
	case 5:
		if (e->r.mode == UNET_MODE_BASE)
			return e->r.req.segment_size - fz_below(64);
		return (uint64_t)(uintptr_t)(arena + ARENA - fz_below(64));
	case 6:
		/* The queue pages themselves (vmalloc memory mapped in). */
		/*
		 * The queue pages themselves: off by default, since a long
		 * buffer there runs into whatever the kernel mapped next to
		 * them (the process's own TLS, say) and the worker, rightly,
		 * dies of what it asked for.
		 */
		if (!getenv("FZ_QPAGES"))
			return (uint64_t)(uintptr_t)(arena + fz_below(ARENA));
		return (uint64_t)(uintptr_t)(e->r.q + fz_below(4096));
	default:
		return (uint64_t)(uintptr_t)(arena + fz_below(16) * 4096);
	}
}

static uint32_t hostile_len(void)
{
	switch (fz_below(4)) {
	case 0:
		return fz_u32();
	case 1:
		return fz_below(65537);
	default:
		return fz_below(4097);
	}
}

static void hostile_sge(struct hep *e, struct unet_sge *s)
{
	s->addr = hostile_addr(e);
	s->len = hostile_len();
	s->reserved = fz_chance(90) ? 0 : (uint32_t)fz_rand();
}

static void hostile_desc(struct hep *e, struct unet_tx_desc *d)
{
	if (fz_chance(3)) {
		fz_bytes(d, sizeof(*d));
		return;
	}
	memset(d, 0, sizeof(*d));
	d->channel = fz_chance(80) ? fz_below(e->nch + 1) : fz_u32();
	d->cookie = (uint32_t)fz_rand();
	d->status = (uint8_t)fz_rand();
	switch (fz_below(10)) {
	case 0:
		d->flags = (uint16_t)fz_rand();
		break;
	case 1: case 2: case 3:
		d->flags = UNET_TX_INLINE;
		break;
	default:
		d->flags = 0;
	}
	if (d->flags & UNET_TX_INLINE) {
		d->length = fz_chance(70) ? fz_below(UNET_INLINE_MAX + 1)
					  : fz_u32();
		fz_bytes(d->inline_data, UNET_INLINE_MAX);
	} else {
		d->length = fz_u32();
		d->nsge = fz_chance(90) ? fz_below(UNET_MAX_GATHER + 1)
					: (uint8_t)fz_rand();
		for (int i = 0; i < UNET_MAX_GATHER; i++)
			hostile_sge(e, &d->sge[i]);
	}
}

static uint32_t hostile_index(uint32_t mine, uint32_t entries)
{
	switch (fz_below(6)) {
	case 0:
		return mine - 1 - fz_below(entries);		/* backwards */
	case 1:
		return mine + entries + 1 + fz_below(entries);	/* too far */
	case 2:
		return fz_u32();
	case 3:
		return mine + entries;				/* exactly full */
	default:
		return (uint32_t)fz_rand();
	}
}

static void ep_channels(struct hep *e, int self)
{
	uint8_t far_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30 };

	e->nch = 0;
	for (int j = 0; j < NEP; j++)
		if (eps[j].live && fz_chance(70) &&
		    fz_chan(ctx_fd, e->r.req.handle, local_mac,
			    eps[j].r.req.ep_id) >= 0)
			e->nch++;
	/* The checked pair's endpoint has no channel from us: never lands. */
	if (fz_chan(ctx_fd, e->r.req.handle, local_mac, victim_id) >= 0)
		e->nch++;
	if (fz_chan(ctx_fd, e->r.req.handle, local_mac, 0x7fff0000u) >= 0)
		e->nch++;
	if (fz_chance(30) &&
	    fz_chan(ctx_fd, e->r.req.handle, far_mac, 1 + fz_below(8)) >= 0)
		e->nch++;
	(void)self;
}

static void ep_make(int i)
{
	static const uint32_t sizes[] = { 8, 16, 64, 256 };
	struct hep *e = &eps[i];
	uint32_t mode = fz_below(2) ? UNET_MODE_BASE : UNET_MODE_MM;

	memset(e, 0, sizeof(*e));
	if (fz_rep_create(&e->r, ctx_fd, mode, sizes[fz_below(4)],
			  sizes[fz_below(4)], sizes[fz_below(4)],
			  4096 * (1 + fz_below(16))))
		return;
	e->live = true;
	ep_channels(e, i);
	/* Some honest free buffers. */
	for (uint32_t k = 0; k < e->r.req.fq_entries / 2; k++) {
		struct unet_sge *s = &e->r.fq[k];

		if (mode == UNET_MODE_BASE) {
			s->addr = fz_below(e->r.req.segment_size / 2);
			s->len = fz_below(e->r.req.segment_size / 2) + 1;
		} else {
			s->addr = (uintptr_t)(arena + 64 * 4096 +
					      fz_below(64) * 4096);
			s->len = 1 + fz_below(8192);
		}
	}
	e->fq_prod = e->r.req.fq_entries / 2;
	fz_st(&e->r.ctrl->fq.prod, e->fq_prod);
}

static void ep_drop(int i)
{
	if (eps[i].live)
		fz_rep_destroy(&eps[i].r);
	eps[i].live = false;
}

/* Consumes what arrived, as an honest process would (mostly). */
static void drain(struct hep *e, struct worker_shm *w)
{
	uint32_t prod = fz_ld(&e->r.ctrl->rx.prod);
	uint32_t n = 0;

	while (e->rx_cons != prod && n++ < e->r.req.rx_entries) {
		struct unet_rx_desc *d =
			&e->r.rxq[e->rx_cons & (e->r.req.rx_entries - 1)];

		w->statuses[d->status & 15]++;
		e->rx_cons++;
	}
	fz_st(&e->r.ctrl->rx.cons, e->rx_cons);
}

static void one_case(struct worker_shm *w)
{
	struct hep *e = &eps[fz_below(NEP)];
	uint32_t op = fz_below(100);

	if (!e->live) {
		ep_make((int)(e - eps));
		w->recreated++;
		return;
	}
	if (op < 55) {
		/* 1..4 send descriptors, then an index, then the doorbell. */
		uint32_t k = 1 + fz_below(4), ent = e->r.req.tx_entries;

		e->tx_prod = fz_ld(&e->r.ctrl->tx.cons);
		for (uint32_t i = 0; i < k; i++) {
			struct unet_tx_desc d;

			hostile_desc(e, &d);
			memcpy(&e->r.txq[(e->tx_prod + i) & (ent - 1)], &d,
			       sizeof(d));
			w->cases++;
		}
		if (fz_chance(85))
			fz_st(&e->r.ctrl->tx.prod, e->tx_prod + k);
		else
			fz_st(&e->r.ctrl->tx.prod, hostile_index(e->tx_prod, ent));
		if (fz_chance(90)) {
			fz_kick(&e->r);
			w->kicks++;
		}
	} else if (op < 75) {
		/* Free-queue entries, honest or not, and fq.prod. */
		uint32_t k = 1 + fz_below(8), ent = e->r.req.fq_entries;

		e->fq_prod = fz_ld(&e->r.ctrl->fq.cons);
		for (uint32_t i = 0; i < k; i++) {
			hostile_sge(e, &e->r.fq[(e->fq_prod + i) & (ent - 1)]);
			w->cases++;
		}
		if (fz_chance(80))
			fz_st(&e->r.ctrl->fq.prod, e->fq_prod + k);
		else
			fz_st(&e->r.ctrl->fq.prod, hostile_index(e->fq_prod, ent));
		w->cases++;
	} else if (op < 85) {
		drain(e, w);
		if (fz_chance(30)) {
			fz_st(&e->r.ctrl->rx.cons,
			      hostile_index(e->rx_cons, e->r.req.rx_entries));
			w->cases++;
		}
	} else if (op < 93) {
		/* Any word of the control page, the NIC's included. */
		uint32_t *word = (uint32_t *)e->r.q + fz_below(4096 / 4);

		*word = fz_u32();
		w->cases++;
		fz_kick(&e->r);
		w->kicks++;
	} else if (op < 97) {
		/* Rewrite a descriptor the NIC may be working on right now. */
		uint32_t ent = e->r.req.tx_entries;
		struct unet_tx_desc *d =
			&e->r.txq[fz_ld(&e->r.ctrl->tx.cons) & (ent - 1)];

		fz_bytes(d, sizeof(*d));
		fz_st(&e->r.ctrl->tx.prod, fz_ld(&e->r.ctrl->tx.cons) + 1);
		fz_kick(&e->r);
		w->cases++;
	} else if (op < 99) {
		/* A new channel or a dead one. */
		if (fz_chance(50)) {
			struct unet_chan_destroy cd = {
				.handle = e->r.req.handle,
				.channel = fz_below(e->nch + 2),
			};
			ioctl(ctx_fd, UNET_IOC_CHAN_DESTROY, &cd);
		} else {
			ep_channels(e, 0);
		}
		w->cases++;
	} else {
		ep_drop((int)(e - eps));
	}
}

static void worker(struct worker_shm *w, uint64_t seed, uint64_t cases)
{
	fz_rng = seed;
	ctx_fd = open(UNET_DEVICE_PATH, O_RDWR);
	if (ctx_fd < 0)
		gt_die("open");
	/*
	 * The arena sits in the middle of 2 MiB of PROT_NONE on each side:
	 * a buffer that runs past it (a message writes at most 64 KiB) hits
	 * nothing of the worker's own, so the worker survives its own buffers.
	 */
	arena = mmap(NULL, ARENA + (4u << 20), PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (arena == MAP_FAILED)
		gt_die("mmap reserve");
	arena += 2u << 20;
	if (mmap(arena, ARENA, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		gt_die("mmap arena");
	memset(arena, 0x11, ARENA);
	/* Holes, read-only and inaccessible pages among the usable ones. */
	for (int p = 0; p < 256; p += 7) {
		if (p % 3 == 0)
			munmap(arena + p * 4096, 4096);
		else if (p % 3 == 1)
			mprotect(arena + p * 4096, 4096, PROT_READ);
		else
			mprotect(arena + p * 4096, 4096, PROT_NONE);
	}
	for (int i = 0; i < NEP; i++)
		ep_make(i);
	while (w->cases < cases) {
		one_case(w);
		if (fz_chance(1))
			for (int i = 0; i < NEP; i++)
				if (eps[i].live)
					drain(&eps[i], w);
	}
	/* Leave the last endpoints to close(): the exit path is tested too. */
	if (fz_chance(50))
		for (int i = 0; i < NEP; i++)
			ep_drop(i);
	w->done = 1;
	_exit(0);
}

int main(int argc, char **argv)
{
	uint64_t seed = fz_seed_arg(argc, argv, "fuzz_queues");
	long cases = fz_long_arg(argc, argv, "--cases", 100000);
	int procs = (int)fz_long_arg(argc, argv, "--procs", 2);
	uint32_t checked = (uint32_t)fz_long_arg(argc, argv, "--checked", 2000);
	struct fz_pair_shm *pair = fz_shared(sizeof(*pair));
	struct worker_shm *w = fz_shared(sizeof(*w) * procs);
	struct fz_tally t = { 0 };
	struct unet *u = gt_open();
	pid_t ppid[2], *wp = calloc(procs, sizeof(pid_t));
	uint64_t total = 0, kicks = 0, st[16] = { 0 };
	double t0 = gt_now_ms();
	int bad_workers = 0;

	gt_nic_mac(u, local_mac);
	unet_close(u);
	fz_pair_start(pair, 1000, checked, ppid);
	while (!fz_ld(&pair->ready[0]))
		usleep(1000);
	victim_id = fz_ld(&pair->id[0]);

	for (int i = 0; i < procs; i++) {
		wp[i] = fork();
		if (wp[i] < 0)
			gt_die("fork");
		if (!wp[i])
			worker(&w[i], seed + i * 0x1234567ull, cases / procs + 1);
	}
	for (int i = 0; i < procs; i++) {
		int status;

		waitpid(wp[i], &status, 0);
		if (!w[i].done) {
			bad_workers++;
			printf("# worker %d died: status %#x\n", i, status);
		}
		total += w[i].cases;
		kicks += w[i].kicks;
		for (int k = 0; k < 16; k++)
			st[k] += w[i].statuses[k];
	}
	printf("# hostile: %llu cases, %llu kicks in %.1f s\n",
	       (unsigned long long)total, (unsigned long long)kicks,
	       (gt_now_ms() - t0) / 1000);
	fz_pair_wait(pair, ppid, &t, "queues-checked");
	gt_result(!bad_workers, "fuzz-queues-workers", "%d workers died",
		  bad_workers);
	gt_result(t.misdelivered == 0 && t.lost_unaccounted == 0 &&
		  !t.failures && t.checked_lost == 0,
		  "fuzz-queues-checked-traffic",
		  "misdelivered %llu unaccounted %llu lost %llu failures %llu",
		  (unsigned long long)t.misdelivered,
		  (unsigned long long)t.lost_unaccounted,
		  (unsigned long long)t.checked_lost,
		  (unsigned long long)t.failures);
	gt_result((long)total >= cases, "fuzz-queues-cases", "%llu < %ld",
		  (unsigned long long)total, cases);
	printf("FUZZJSON {\"fuzzer\":\"queues\",\"seed\":%llu,"
	       "\"descriptor_cases\":%llu,\"misdelivered\":%llu,"
	       "\"lost_accounted\":%llu,\"checked_msgs\":%llu,"
	       "\"checked_lost\":%llu,\"failures\":%llu}\n",
	       (unsigned long long)seed, (unsigned long long)total,
	       (unsigned long long)t.misdelivered,
	       (unsigned long long)t.lost_unaccounted,
	       (unsigned long long)t.checked_msgs,
	       (unsigned long long)t.checked_lost,
	       (unsigned long long)(t.failures + bad_workers));
	return gt_exit();
}
