// SPDX-License-Identifier: MIT
/* The robustness suite's shared pieces, compiled once: see fuzz.h. */
#include "fuzz.h"

uint64_t fz_rng;

uint64_t fz_rand(void)
{
	uint64_t z = (fz_rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t fz_below(uint32_t n)
{
	return n ? (uint32_t)(fz_rand() % n) : 0;
}

bool fz_chance(unsigned int pct)
{
	return fz_below(100) < pct;
}

void fz_bytes(void *p, size_t n)
{
	uint8_t *b = p;

	while (n >= 8) {
		uint64_t v = fz_rand();

		memcpy(b, &v, 8);
		b += 8;
		n -= 8;
	}
	while (n--)
		*b++ = (uint8_t)fz_rand();
}

uint32_t fz_u32(void)
{
	static const uint32_t v[] = {
		0, 1, 2, 7, 8, 63, 64, 111, 112, 113, 127, 128, 255, 256, 4095,
		4096, 4097, 65535, 65536, 65537, 0x7fffffff, 0x80000000u,
		0xfffffffeu, 0xffffffffu, 0xfffff000u, 0x10000000u,
	};

	switch (fz_below(4)) {
	case 0:
		return v[fz_below(sizeof(v) / sizeof(v[0]))];
	case 1:
		return (uint32_t)fz_rand();
	case 2:
		return fz_below(256);
	default:
		return v[fz_below(sizeof(v) / sizeof(v[0]))] +
		       (uint32_t)(int)(fz_below(5) - 2);
	}
}

uint64_t fz_seed_arg(int argc, char **argv, const char *name)
{
	uint64_t seed = 0;

	for (int i = 1; i < argc - 1; i++)
		if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 0);
	if (!seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec ^
		       ((uint64_t)getpid() << 20);
	}
	fz_rng = seed;
	printf("# %s: seed %llu (reproduce with --seed %llu)\n", name,
	       (unsigned long long)seed, (unsigned long long)seed);
	fflush(stdout);
	return seed;
}

long fz_long_arg(int argc, char **argv, const char *opt,
		 long def)
{
	for (int i = 1; i < argc - 1; i++)
		if (!strcmp(argv[i], opt))
			return strtol(argv[i + 1], NULL, 0);
	return def;
}

const char *fz_str_arg(int argc, char **argv, const char *opt,
		       const char *def)
{
	for (int i = 1; i < argc - 1; i++)
		if (!strcmp(argv[i], opt))
			return argv[i + 1];
	return def;
}

void *fz_shared(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		gt_die("mmap shared");
	memset(p, 0, n);
	return p;
}

static const int fz_gauge_ids[] = {
	UNET_NIC_pinned_pages, UNET_NIC_segment_pages, UNET_NIC_endpoints,
	UNET_NIC_backlog_frames, UNET_NIC_reasm_active, UNET_NIC_misses_queued,
	UNET_NIC_backlog_bytes,
};

static const char *const fz_gauge_names[] = {
	"pinned_pages", "segment_pages", "endpoints", "backlog_frames",
	"reasm_active", "misses_queued", "backlog_bytes",
};

int fz_nic_stats(struct unet_nic_stats *st)
{
	int fd = open(UNET_DEVICE_PATH, O_RDWR);
	int ret;

	if (fd < 0)
		return -1;
	memset(st, 0, sizeof(*st));
	ret = raw_stats(fd, UNET_STATS_NIC, 0, st->ctr, UNET_NIC_NR_COUNTERS);
	close(fd);
	return ret < 0 ? -1 : 0;
}

int fz_gauges_settle(const long *base, int ms, const char *what)
{
	double end = gt_now_ms() + ms;
	struct unet_nic_stats st;
	int off;

	for (;;) {
		off = 0;
		if (fz_nic_stats(&st))
			return FZ_NGAUGES;
		for (int i = 0; i < FZ_NGAUGES; i++)
			if ((long)st.ctr[fz_gauge_ids[i]] != base[i])
				off++;
		if (!off || gt_now_ms() > end)
			break;
		usleep(20000);
	}
	if (off) {
		printf("# %s: gauges not back:", what);
		for (int i = 0; i < FZ_NGAUGES; i++)
			printf(" %s=%ld(base %ld)", fz_gauge_names[i],
			       (long)st.ctr[fz_gauge_ids[i]], base[i]);
		printf("\n");
	}
	return off;
}

void fz_gauges_read(long *g)
{
	struct unet_nic_stats st;

	if (fz_nic_stats(&st))
		gt_die("nic stats");
	for (int i = 0; i < FZ_NGAUGES; i++)
		g[i] = (long)st.ctr[fz_gauge_ids[i]];
}

int fz_rep_create(struct raw_ep *e, int fd, uint32_t mode,
		  uint32_t tx, uint32_t rx, uint32_t fq,
		  uint32_t seg)
{
	return raw_ep_create(e, fd, 0, mode, tx, rx, fq, seg);
}

uint64_t fz_s_addr(struct fz_stream *s, void *p)
{
	if (s->mode == UNET_MODE_BASE)
		return (uint64_t)((uint8_t *)p -
				  (uint8_t *)unet_ep_segment(s->ep, NULL));
	return (uint64_t)(uintptr_t)p;
}

uint64_t fz_ep_drops(struct unet_ep *ep)
{
	struct unet_ep_stats st;

	if (unet_ep_stats(ep, &st))
		return 0;
	return st.ctr[UNET_CTR_rx_drop_no_bufs] +
	       st.ctr[UNET_CTR_rx_drop_queue_full] +
	       st.ctr[UNET_CTR_rx_drop_bad_buf] +
	       st.ctr[UNET_CTR_rx_drop_reasm] +
	       st.ctr[UNET_CTR_rx_drop_backlog];
}

void fz_stream_init(struct fz_stream *s, struct unet *u,
		    uint32_t mode, uint32_t id, uint32_t count,
		    struct fz_stream_res *res)
{
	struct unet_ep_attr a;

	memset(s, 0, sizeof(*s));
	s->u = u;
	s->mode = mode;
	s->id = id;
	s->count = count;
	s->res = res;
	s->maxlen = FZ_MAXMSG;
	s->rng = id * 0x9e3779b97f4a7c15ull + 1;
	memset(res, 0, sizeof(*res));
	unet_ep_attr_init(&a);
	a.mode = mode;
	a.rx_entries = 256;
	a.fq_entries = 256;
	a.tx_entries = 64;
	if (mode == UNET_MODE_BASE)
		a.segment_size = FZ_NSLOT * FZ_SLOT + FZ_MAXMSG + 4096;
	s->ep = unet_ep_create(u, &a);
	if (!s->ep)
		gt_die("stream endpoint");
	if (mode == UNET_MODE_BASE) {
		s->pool = unet_ep_segment(s->ep, NULL);
		s->txbuf = s->pool + FZ_NSLOT * FZ_SLOT;
	} else {
		s->pool = aligned_alloc(4096, FZ_NSLOT * FZ_SLOT);
		s->txbuf = aligned_alloc(4096, FZ_MAXMSG + 4096);
	}
	s->scratch = malloc(FZ_MAXMSG + 4096);
	if (!s->pool || !s->txbuf || !s->scratch)
		gt_die("alloc");
	memset(s->pool, FZ_GUARDB, FZ_NSLOT * FZ_SLOT);
	for (int i = 0; i < FZ_NSLOT; i++)
		if (unet_post_free(s->ep, fz_s_addr(s, s->pool + i * FZ_SLOT +
						    FZ_BUFOFF), FZ_BUFLEN, 0))
			gt_die("post free");
	s->drop0 = fz_ep_drops(s->ep);
	s->last_progress = gt_now_ms();
}

void fz_stream_connect(struct fz_stream *s, const uint8_t mac[6],
		       uint32_t peer_ep)
{
	s->ch = gt_chan_to(s->ep, mac, peer_ep);
	if (s->ch < 0) {
		errno = -s->ch;
		gt_die("stream channel");
	}
}

void fz_misdeliver(struct fz_stream *s, const char *fmt, ...)
{
	va_list ap;

	s->res->misdelivered++;
	if (!s->res->why[0]) {
		va_start(ap, fmt);
		vsnprintf(s->res->why, sizeof(s->res->why), fmt, ap);
		va_end(ap);
		printf("# stream %u: %s\n", s->id, s->res->why);
		fflush(stdout);
	}
}

void fz_check_guard(struct fz_stream *s, uint64_t addr)
{
	uint8_t *p = s->mode == UNET_MODE_BASE ?
		     (uint8_t *)unet_ep_segment(s->ep, NULL) + addr :
		     (uint8_t *)(uintptr_t)addr;
	uint8_t *slot = p - FZ_BUFOFF;
	size_t i;

	if (p < s->pool + FZ_BUFOFF || p >= s->pool + FZ_NSLOT * FZ_SLOT) {
		fz_misdeliver(s, "buffer %p outside the pool", (void *)p);
		return;
	}
	for (i = 0; i < FZ_BUFOFF; i++)
		if (slot[i] != FZ_GUARDB)
			goto bad;
	for (i = FZ_BUFOFF + FZ_BUFLEN; i < FZ_SLOT; i++)
		if (slot[i] != FZ_GUARDB)
			goto bad;
	return;
bad:
	fz_misdeliver(s, "guard byte %zu of a receive slot overwritten", i);
	memset(slot, FZ_GUARDB, FZ_BUFOFF);
	memset(slot + FZ_BUFOFF + FZ_BUFLEN, FZ_GUARDB,
	       FZ_SLOT - FZ_BUFOFF - FZ_BUFLEN);
}

void fz_check_all_guards(struct fz_stream *s)
{
	for (int i = 0; i < FZ_NSLOT; i++)
		fz_check_guard(s, fz_s_addr(s, s->pool + i * FZ_SLOT +
					    FZ_BUFOFF));
}

void fz_stream_take(struct fz_stream *s, struct unet_recv *r)
{
	struct unet_buf bufs[FZ_NSLOT];
	unsigned int i, n = r->nbuf < FZ_NSLOT ? r->nbuf : FZ_NSLOT;
	struct fz_hdr h;
	size_t got = 0;

	if (r->nbuf > FZ_NSLOT)
		fz_misdeliver(s, "message spans %u buffers", r->nbuf);
	for (i = 0; i < n; i++)
		bufs[i] = *unet_recv_buf(s->ep, r, i);
	if (r->status == UNET_ST_OK)
		got = unet_recv_copy(s->ep, r, s->scratch, FZ_MAXMSG + 4096);
	unet_recv_done(s->ep, r);
	for (i = 0; i < n; i++) {
		fz_check_guard(s, bufs[i].addr);
		unet_post_free(s->ep, bufs[i].addr, bufs[i].len, 0);
	}
	if (r->status != UNET_ST_OK) {
		s->res->rx_err++;
		return;
	}
	if ((int)r->channel != s->ch) {
		fz_misdeliver(s, "message on channel %u, only %d exists",
			      r->channel, s->ch);
		return;
	}
	if (got != r->length || got < sizeof(h)) {
		fz_misdeliver(s, "message of %zu bytes", got);
		return;
	}
	memcpy(&h, s->scratch, sizeof(h));
	if ((h.magic != FZ_MAGIC && h.magic != FZ_ACK) ||
	    h.stream != s->peer_id || h.len != got) {
		fz_misdeliver(s, "foreign message (magic %#x stream %u len %u/%zu)",
			      h.magic, h.stream, h.len, got);
		return;
	}
	if ((int32_t)(h.acked - s->peer_acked) > 0)
		s->peer_acked = h.acked;
	if (h.magic == FZ_ACK)
		return;
	for (i = sizeof(h); i < got; i++)
		if (s->scratch[i] != fz_pat(h.stream, h.seq, i)) {
			fz_misdeliver(s, "seq %u byte %u differs", h.seq, i);
			return;
		}
	if (h.seq < s->expect) {
		fz_misdeliver(s, "seq %u again or out of order (expect %u)",
			      h.seq, s->expect);
		return;
	}
	s->expect = h.seq + 1;	/* a gap is a loss, found at the end */
	s->res->received++;
	s->last_progress = gt_now_ms();
}

uint32_t fz_s_rand(struct fz_stream *s, uint32_t n)
{
	s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((s->rng >> 33) % n);
}

int fz_stream_send(struct fz_stream *s, uint32_t magic)
{
	struct fz_hdr h = {
		.magic = magic, .stream = s->id, .seq = s->next_seq,
		.acked = s->res->received,
	};
	uint32_t len = sizeof(h);
	int ret;

	if (magic == FZ_MAGIC) {
		uint32_t k = fz_s_rand(s, 4);

		len = k == 0 ? sizeof(h) + fz_s_rand(s, UNET_INLINE_MAX - sizeof(h) + 1)
		      : sizeof(h) + fz_s_rand(s, s->maxlen - sizeof(h) + 1);
	}
	h.len = len;
	memcpy(s->txbuf, &h, sizeof(h));
	if (magic == FZ_MAGIC)
		for (uint32_t i = sizeof(h); i < len; i++)
			s->txbuf[i] = fz_pat(s->id, s->next_seq, i);
	ret = unet_send_buf(s->ep, s->ch, s->txbuf, len,
			    magic == FZ_MAGIC ? 1 : 0);
	if (ret)
		return ret;
	s->acked_sent = s->res->received;
	if (magic == FZ_MAGIC)
		s->next_seq++;
	return 0;
}

bool fz_stream_step(struct fz_stream *s)
{
	struct unet_send_comp c[8];
	struct unet_recv r;
	int n, i;
	double now;

	while ((n = unet_send_poll(s->ep, c, 8)) > 0)
		for (i = 0; i < n; i++) {
			if (!c[i].context)
				continue;
			if (c[i].status == UNET_ST_OK)
				s->res->sent++;
			else
				s->res->tx_err++;
		}
	for (i = 0; i < 32 && unet_recv_poll(s->ep, &r) > 0; i++)
		fz_stream_take(s, &r);
	now = gt_now_ms();
	if (unet_send_outstanding(s->ep) == 0) {
		bool stalled = now - s->last_progress > 1000;

		if (s->next_seq < s->count &&
		    (s->next_seq - s->peer_acked < FZ_WINDOW || stalled)) {
			if (!fz_stream_send(s, FZ_MAGIC))
				s->last_progress = stalled ? now : s->last_progress;
		} else if (s->res->received != s->acked_sent &&
			   (s->res->received - s->acked_sent >= FZ_WINDOW / 2 ||
			    s->res->received == s->count || stalled)) {
			fz_stream_send(s, FZ_ACK);
		}
	}
	if (s->next_seq < s->count || s->res->received < s->count ||
	    unet_send_outstanding(s->ep) || s->acked_sent != s->res->received ||
	    s->peer_acked < s->count)
		return true;
	return false;
}

void fz_stream_finish(struct fz_stream *s)
{
	struct fz_stream_res *res = s->res;

	fz_check_all_guards(s);
	res->lost = s->count > res->received ? s->count - res->received : 0;
	res->drops_counted = fz_ep_drops(s->ep) - s->drop0;
	res->unaccounted = res->lost > res->drops_counted ?
			   res->lost - res->drops_counted : 0;
	if (res->lost || res->misdelivered) {
		struct unet_ep_stats st;

		if (!unet_ep_stats(s->ep, &st)) {
			printf("# stream %u (ep %u, mode %u) lost %llu, expect seq %u; ep counters:",
			       s->id, unet_ep_id(s->ep), s->mode,
			       (unsigned long long)res->lost, s->expect);
			for (int i = 0; i < UNET_EP_NR_COUNTERS; i++)
				printf(" %llu", (unsigned long long)st.ctr[i]);
			printf("\n");
		}
	}
	res->done = 1;
}

void fz_streams_run(struct fz_stream **s, int n, int idle_ms)
{
	double last = gt_now_ms();
	bool busy = true;

	while (busy) {
		uint64_t before = 0, after = 0;

		busy = false;
		for (int i = 0; i < n; i++) {
			before += s[i]->res->received + s[i]->res->sent +
				  s[i]->peer_acked;
			if (fz_stream_step(s[i]))
				busy = true;
			after += s[i]->res->received + s[i]->res->sent +
				 s[i]->peer_acked;
		}
		if (after != before)
			last = gt_now_ms();
		else if (gt_now_ms() - last > idle_ms)
			break;
		else
			usleep(after != before ? 0 : 100);
	}
	for (int i = 0; i < n; i++)
		fz_stream_finish(s[i]);
}

void fz_stream_print(const char *name, struct fz_stream_res *r)
{
	printf("# stream %s: sent %llu tx_err %llu received %llu lost %llu "
	       "counted %llu rx_err %llu misdelivered %llu unaccounted %llu\n",
	       name, (unsigned long long)r->sent,
	       (unsigned long long)r->tx_err,
	       (unsigned long long)r->received, (unsigned long long)r->lost,
	       (unsigned long long)r->drops_counted,
	       (unsigned long long)r->rx_err,
	       (unsigned long long)r->misdelivered,
	       (unsigned long long)r->unaccounted);
	fflush(stdout);
}

void fz_pair_child(struct fz_pair_shm *sh, int side,
		   uint32_t mode, uint32_t sid, uint32_t count)
{
	struct unet *u = gt_open();
	struct fz_stream s, *sp = &s;
	uint8_t mac[6];
	double end;

	fz_stream_init(&s, u, mode, sid + side, count, &sh->res[side]);
	s.peer_id = sid + !side;
	fz_st(&sh->id[side], unet_ep_id(s.ep));
	fz_st(&sh->ready[side], 1);
	end = gt_now_ms() + 20000;
	while (!fz_ld(&sh->ready[!side]) && gt_now_ms() < end)
		usleep(1000);
	gt_nic_mac(u, mac);
	fz_stream_connect(&s, mac, fz_ld(&sh->id[!side]));
	/* Both channels exist before the first message: none is lost. */
	fz_st(&sh->connected[side], 1);
	while (!fz_ld(&sh->connected[!side]) && gt_now_ms() < end)
		usleep(1000);
	s.last_progress = gt_now_ms();
	fz_streams_run(&sp, 1, 8000);
	_exit(0);
}

void fz_pair_start(struct fz_pair_shm *sh, uint32_t sid,
		   uint32_t count, pid_t pid[2])
{
	memset(sh, 0, sizeof(*sh));
	for (int side = 0; side < 2; side++) {
		pid[side] = fork();
		if (pid[side] < 0)
			gt_die("fork");
		if (!pid[side])
			fz_pair_child(sh, side, side ? UNET_MODE_BASE :
				      UNET_MODE_MM, sid, count);
	}
}

void fz_pair_wait(struct fz_pair_shm *sh, pid_t pid[2],
		  struct fz_tally *t, const char *name)
{
	for (int side = 0; side < 2; side++) {
		int st;

		waitpid(pid[side], &st, 0);
		if (!sh->res[side].done) {
			printf("# %s side %d did not finish (status %#x)\n",
			       name, side, st);
			t->failures++;
			/* Its messages are unaccounted for. */
			t->lost_unaccounted++;
			continue;
		}
		fz_stream_print(name, &sh->res[side]);
		t->misdelivered += sh->res[side].misdelivered;
		t->lost_unaccounted += sh->res[side].unaccounted;
		t->checked_msgs += sh->res[side].received;
		t->checked_lost += sh->res[side].lost;
	}
}

pid_t fz_bg_start(struct fz_bg *bg, uint32_t sid,
		  uint32_t count)
{
	pid_t pid = fork();

	if (pid < 0)
		gt_die("fork");
	if (pid)
		return pid;
	while (!fz_ld(&bg->stop)) {
		pid_t p[2];

		fz_pair_start(&bg->pair, sid + 2 * bg->rounds, count, p);
		for (int side = 0; side < 2; side++) {
			struct fz_stream_res *r = &bg->pair.res[side];
			int st;

			waitpid(p[side], &st, 0);
			if (!r->done) {
				printf("# background pair round %u side %d did not finish (status %#x)\n",
				       bg->rounds, side, st);
				bg->t.failures++;
				bg->t.lost_unaccounted++;
				continue;
			}
			if (r->lost || r->misdelivered || r->unaccounted)
				fz_stream_print("background", r);
			bg->t.misdelivered += r->misdelivered;
			bg->t.lost_unaccounted += r->unaccounted;
			bg->t.checked_msgs += r->received;
			bg->t.checked_lost += r->lost;
		}
		bg->rounds++;
	}
	_exit(0);
}

struct fz_tally fz_bg_stop(struct fz_bg *bg, pid_t pid)
{
	int st;

	fz_st(&bg->stop, 1);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		bg->t.failures++;
	return bg->t;
}

void fz_swap_array(bool listener, const char *peer_ip,
		   int port, const uint32_t *mine,
		   uint32_t *theirs, int n)
{
	gt_swap_array(listener, peer_ip, port, mine, theirs, n);
}
