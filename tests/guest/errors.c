// SPDX-License-Identifier: MIT
/*
 * Bad input through the raw ABI: descriptors, ring indices and control-path
 * requests a careless or hostile process can hand the NIC.  Each one must
 * end in its documented status or errno (never an oops), and the endpoint
 * it was aimed at must still deliver a good message afterwards.
 *
 * No libunet here for the data path: the test opens /dev/unet, creates
 * endpoints with UNET_IOC_EP_CREATE, maps their queues and writes the
 * descriptors and indices itself.
 *
 *   errors
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "guest_test.h"
#include "raw_ep.h"

#define SEG_BIT		(1ull << 31)
#define RBUF		4096

/* A raw endpoint: the kernel's view plus our own side of the rings. */
struct rep {
	int fd;
	struct unet_ep_create req;
	uint32_t handle, id, mode;
	uint8_t *q;
	uint8_t *seg;
	size_t seg_size;
	struct unet_ctrl *ctrl;
	struct unet_tx_desc *txq;
	struct unet_rx_desc *rxq;
	struct unet_sge *fq;
	uint32_t tx_prod, rx_cons, fq_prod;
	struct unet_sge *shadow;	/* what we posted, by fq sequence */
	bool *shadow_bad;		/* posted on purpose outside the segment */
};

static uint8_t nic_mac[6];

/* VmLck of this process in kB, or -1. */
static long vmlck_kb(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}
static char why[256];

#define ld(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)

#define ep_create_raw	raw_ep_create_req

static void rep_create(struct rep *e, int fd, uint32_t mode, uint32_t seg)
{
	struct raw_ep r;
	int err;

	memset(e, 0, sizeof(*e));
	err = raw_ep_create(&r, fd, 0, mode, 64, 64, 64, seg);
	if (err) {
		errno = -err;
		gt_die("EP_CREATE");
	}
	e->fd = fd;
	e->mode = mode;
	e->req = r.req;
	e->handle = r.req.handle;
	e->id = r.req.ep_id;
	e->q = r.q;
	e->seg = r.seg;
	e->seg_size = r.seg_size;
	e->ctrl = r.ctrl;
	e->txq = r.txq;
	e->rxq = r.rxq;
	e->fq = r.fq;
	e->shadow = calloc(e->req.fq_entries, sizeof(*e->shadow));
	e->shadow_bad = calloc(e->req.fq_entries, sizeof(bool));
	if (!e->shadow || !e->shadow_bad)
		gt_die("alloc");
}

/* A channel; *chan (may be NULL) gets its id.  0 or -errno. */
static int chan_raw(int fd, uint32_t handle, const uint8_t mac[6],
		    uint32_t remote, uint32_t *chan)
{
	int ch = raw_chan(fd, handle, mac, remote);

	if (ch < 0)
		return ch;
	if (chan)
		*chan = (uint32_t)ch;
	return 0;
}

#define chan_destroy_raw	raw_chan_destroy

static int kick(struct rep *e)
{
	return raw_ioctl(e->fd, UNET_IOC_KICK, &e->handle);
}

static uint64_t ep_ctr(struct rep *e, int c)
{
	uint64_t v[UNET_EP_NR_COUNTERS];

	if (raw_stats(e->fd, UNET_STATS_EP, e->handle, v,
		      UNET_EP_NR_COUNTERS) < 0)
		gt_die("STATS ep");
	return v[c];
}

static uint64_t nic_ctr(int fd, int c)
{
	return raw_nic_ctr(fd, 0, c);
}

/* Reserved bits the next fq_post() writes (they must be zero). */
static uint32_t fq_reserved;

static void fq_post(struct rep *e, uint64_t addr, uint32_t len, bool bad)
{
	uint32_t slot = e->fq_prod & (e->req.fq_entries - 1);

	e->shadow[slot].addr = addr;
	e->shadow[slot].len = len;
	e->shadow[slot].reserved = fq_reserved;
	fq_reserved = 0;
	e->shadow_bad[slot] = bad;
	e->fq[slot] = e->shadow[slot];
	STORE(&e->ctrl->fq.prod, ++e->fq_prod);
}

/*
 * Posts @d (status cleared) and rings; waits for its completion.
 * Returns the status the NIC wrote, or -1 if it never completed.
 */
static int tx_raw(struct rep *e, const struct unet_tx_desc *d)
{
	struct unet_tx_desc *slot =
		&e->txq[e->tx_prod & (e->req.tx_entries - 1)];
	double end;

	*slot = *d;
	slot->status = UNET_ST_PENDING;
	STORE(&e->ctrl->tx.prod, ++e->tx_prod);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (kick(e))
		return -1;
	end = gt_now_ms() + 10000;
	while (ld(&e->ctrl->tx.cons) != e->tx_prod) {
		if (gt_now_ms() > end)
			return -1;
		usleep(100);
	}
	return ld(&slot->status);
}

static int send_gather(struct rep *e, uint32_t chan, const struct unet_sge *sge,
		       unsigned int nsge, uint16_t flags)
{
	struct unet_tx_desc d;

	memset(&d, 0, sizeof(d));
	d.channel = chan;
	d.flags = flags;
	d.nsge = (uint8_t)nsge;
	d.cookie = 77;
	memcpy(d.sge, sge, (nsge > UNET_MAX_GATHER ? UNET_MAX_GATHER : nsge) *
	       sizeof(*sge));
	return tx_raw(e, &d);
}

static int send_inline(struct rep *e, uint32_t chan, uint32_t len,
		       uint32_t seed)
{
	struct unet_tx_desc d;

	memset(&d, 0, sizeof(d));
	d.channel = chan;
	d.flags = UNET_TX_INLINE;
	d.length = len;
	gt_fill(d.inline_data, len < UNET_INLINE_MAX ? len : UNET_INLINE_MAX,
		seed);
	return tx_raw(e, &d);
}

/* Sends @len bytes of pattern @seed from segment offset @off (base sender). */
static int send_seg(struct rep *e, uint32_t chan, uint32_t off, uint32_t len,
		    uint32_t seed)
{
	struct unet_sge s = { .addr = off, .len = len };

	gt_fill(e->seg + off, len, seed);
	return send_gather(e, chan, &s, 1, 0);
}

static char stray[160];
static void rx_done(struct rep *e, const struct unet_rx_desc *d, bool repost);

/*
 * True if nothing new is on the receive queue.  Otherwise describes what
 * is there in stray[] and consumes it (its buffers go back), so that one
 * stray message fails one check, not every later one.
 */
static bool rx_empty(struct rep *e)
{
	struct unet_rx_desc *d;

	if (ld(&e->ctrl->rx.prod) == e->rx_cons)
		return true;
	d = &e->rxq[e->rx_cons & (e->req.rx_entries - 1)];
	snprintf(stray, sizeof(stray),
		 "unexpected rx: status %u channel %u length %u nbuf %u flags %u",
		 d->status, d->channel, d->length, d->nbuf, d->flags);
	printf("# %s\n", stray);
	rx_done(e, d, true);
	return false;
}

/* Takes the next rx descriptor (copy in *d); false if none within @ms. */
static bool rx_next(struct rep *e, struct unet_rx_desc *d, int ms)
{
	double end = gt_now_ms() + ms;

	while (ld(&e->ctrl->rx.prod) == e->rx_cons) {
		if (gt_now_ms() > end)
			return false;
		usleep(100);
	}
	*d = e->rxq[e->rx_cons & (e->req.rx_entries - 1)];
	return true;
}

/* Releases the rx slot; reposts its good buffers if @repost. */
static void rx_done(struct rep *e, const struct unet_rx_desc *d, bool repost)
{
	uint32_t i;

	STORE(&e->ctrl->rx.cons, ++e->rx_cons);
	if (!repost || (d->flags & UNET_RX_INLINE))
		return;
	for (i = 0; i < d->nbuf; i++) {
		uint32_t slot = (d->first_buf + i) & (e->req.fq_entries - 1);

		if (!e->shadow_bad[slot])
			fq_post(e, e->shadow[slot].addr, e->shadow[slot].len,
				false);
	}
}

/* Receives one message on @e and checks it; NULL or a reason. */
static const char *rx_check(struct rep *e, uint32_t chan, uint32_t len,
			    uint32_t seed, bool repost)
{
	static uint8_t buf[UNET_MAX_MSG];
	struct unet_rx_desc d;
	uint32_t i, got = 0;
	long bad;

	if (!rx_next(e, &d, 5000))
		return "no message arrived";
	if (d.status != UNET_ST_OK) {
		snprintf(why, sizeof(why), "rx status %u", d.status);
		rx_done(e, &d, repost);
		return why;
	}
	if (d.channel != chan || d.length != len) {
		snprintf(why, sizeof(why), "channel %u length %u, want %u/%u",
			 d.channel, d.length, chan, len);
		rx_done(e, &d, repost);
		return why;
	}
	if (d.flags & UNET_RX_INLINE) {
		memcpy(buf, d.inline_data, len);
		got = len;
	} else {
		for (i = 0; i < d.nbuf && got < len; i++) {
			const struct unet_sge *b = &e->shadow[(d.first_buf + i) &
						(e->req.fq_entries - 1)];
			uint32_t n = b->len < len - got ? b->len : len - got;

			memcpy(buf + got, e->seg + b->addr, n);
			got += n;
		}
	}
	rx_done(e, &d, repost);
	if (got != len) {
		snprintf(why, sizeof(why), "only %u of %u bytes in buffers",
			 got, len);
		return why;
	}
	bad = gt_verify(buf, len, seed);
	if (bad >= 0) {
		snprintf(why, sizeof(why), "byte %ld differs", bad);
		return why;
	}
	return NULL;
}

/* ---- the endpoints under test ---- */

static int fd;
static struct rep A, B, R;	/* sender; receiver; fq-test receiver */
static uint32_t chAB, chAR, chBA, chRA;
static uint32_t seedctr = 100;

/* One good gathered message and one inline message from A to B. */
static void good_ab(const char *after)
{
	char name[96];
	const char *w;
	uint32_t s = seedctr++;
	int st;

	snprintf(name, sizeof(name), "errors-%s-then-ok", after);
	st = send_seg(&A, chAB, 0, 300, s);
	if (st != UNET_ST_OK) {
		gt_result(false, name, "good send status %d", st);
		return;
	}
	w = rx_check(&B, chBA, 300, s, true);
	if (w) {
		gt_result(false, name, "good gather message: %s", w);
		return;
	}
	st = send_inline(&A, chAB, 40, s + 1);
	if (st != UNET_ST_OK) {
		gt_result(false, name, "good inline send status %d", st);
		return;
	}
	w = rx_check(&B, chBA, 40, s + 1, true);
	gt_result(!w, name, "good inline message: %s", w);
}

/* One good 6000-byte message from A to R, in two freshly posted buffers. */
static void good_ar(const char *after)
{
	char name[96];
	const char *w;
	uint32_t s = seedctr++;
	int st;

	snprintf(name, sizeof(name), "errors-%s-then-ok", after);
	fq_post(&R, 0, RBUF, false);
	fq_post(&R, RBUF, RBUF, false);
	st = send_seg(&A, chAR, 0, 6000, s);
	if (st != UNET_ST_OK) {
		gt_result(false, name, "good send status %d", st);
		return;
	}
	w = rx_check(&R, chRA, 6000, s, false);
	gt_result(!w, name, "%s", w);
}

/* A send that must fail with @want and deliver nothing to B. */
static void bad_send(const char *what, int want, const struct unet_tx_desc *d)
{
	char name[96];
	uint64_t err0 = ep_ctr(&A, UNET_CTR_tx_errors);
	uint64_t lb0 = nic_ctr(fd, UNET_NIC_loopback_msgs);
	int st = tx_raw(&A, d);

	snprintf(name, sizeof(name), "errors-%s", what);
	if (st != want)
		gt_result(false, name, "status %d, want %d", st, want);
	else if (!rx_empty(&B))
		gt_result(false, name, "%s", stray);
	else if (ep_ctr(&A, UNET_CTR_tx_errors) != err0 + 1)
		gt_result(false, name, "tx_errors did not go up by one");
	else if (nic_ctr(fd, UNET_NIC_loopback_msgs) != lb0)
		gt_result(false, name, "NIC loopback_msgs moved");
	else
		gt_pass(name);
	good_ab(what);
}

static void desc_gather(struct unet_tx_desc *d, uint32_t chan)
{
	memset(d, 0, sizeof(*d));
	d->channel = chan;
}

static void tx_cases(void)
{
	struct unet_tx_desc d;
	uint32_t seg = (uint32_t)A.seg_size;
	int i;

	desc_gather(&d, chAB);
	d.nsge = 1;
	d.sge[0].addr = seg;
	d.sge[0].len = 100;
	bad_send("base-offset-past-segment", UNET_ST_BAD_ADDR, &d);

	d.sge[0].addr = (uint64_t)seg + 4096 * 100;
	d.sge[0].len = 1;
	bad_send("base-offset-far-outside", UNET_ST_BAD_ADDR, &d);

	d.sge[0].addr = seg - 100;
	d.sge[0].len = 200;
	bad_send("base-length-past-segment-end", UNET_ST_BAD_ADDR, &d);

	d.sge[0].addr = 0xffffffffffffff00ull;
	d.sge[0].len = 0x200;
	bad_send("base-addr-len-overflow", UNET_ST_BAD_ADDR, &d);

	/* A good first entry does not excuse a bad second one. */
	d.nsge = 2;
	d.sge[0].addr = 0;
	d.sge[0].len = 200;
	d.sge[1].addr = seg - 8;
	d.sge[1].len = 16;
	bad_send("base-second-sge-past-end", UNET_ST_BAD_ADDR, &d);

	desc_gather(&d, chAB);
	d.nsge = 8;
	for (i = 0; i < UNET_MAX_GATHER; i++) {
		d.sge[i].addr = 0;
		d.sge[i].len = 10;
	}
	bad_send("nsge-8", UNET_ST_BAD_GATHER, &d);
	d.nsge = 255;
	bad_send("nsge-255", UNET_ST_BAD_GATHER, &d);

	memset(&d, 0, sizeof(d));
	d.channel = chAB;
	d.flags = UNET_TX_INLINE;
	d.length = UNET_INLINE_MAX + 1;
	bad_send("inline-length-113", UNET_ST_BAD_LENGTH, &d);
	d.length = 0xffffffffu;
	bad_send("inline-length-0xffffffff", UNET_ST_BAD_LENGTH, &d);

	desc_gather(&d, chAB);
	d.nsge = 7;
	for (i = 0; i < 7; i++) {
		d.sge[i].addr = (uint64_t)i * 10000;
		d.sge[i].len = 10000;
	}
	bad_send("gather-total-70000", UNET_ST_BAD_LENGTH, &d);
	d.nsge = 2;
	d.sge[0].addr = 0;
	d.sge[0].len = 32768;
	d.sge[1].addr = 32768;
	d.sge[1].len = 32769;
	bad_send("gather-total-65537", UNET_ST_BAD_LENGTH, &d);

	desc_gather(&d, chAB);
	d.nsge = 1;
	d.sge[0].len = 200;
	d.flags = 1u << 1;
	bad_send("unknown-flag-bit1", UNET_ST_BAD_DESC, &d);
	d.flags = 0x8000;
	bad_send("unknown-flag-bit15", UNET_ST_BAD_DESC, &d);
	d.flags = UNET_TX_INLINE | 0x100;
	d.length = 10;
	bad_send("inline-plus-unknown-flag", UNET_ST_BAD_DESC, &d);
	/* Reserved fields of a gather entry must be zero. */
	desc_gather(&d, chAB);
	d.nsge = 2;
	d.sge[0].len = 200;
	d.sge[1].addr = 4096;
	d.sge[1].len = 100;
	d.sge[1].reserved = 1;
	bad_send("sge-reserved-nonzero", UNET_ST_BAD_DESC, &d);
	d.sge[1].reserved = 0x80000000u;
	bad_send("sge-reserved-top-bit", UNET_ST_BAD_DESC, &d);

	/* The largest legal message, gathered from seven pieces, works. */
	{
		uint32_t s = seedctr++, off = 0;
		const char *w;
		int st;

		gt_fill(A.seg, UNET_MAX_MSG, s);
		desc_gather(&d, chAB);
		d.nsge = 7;
		for (i = 0; i < 7; i++) {
			uint32_t n = i < 6 ? 9000 : UNET_MAX_MSG - 6 * 9000;

			d.sge[i].addr = off;
			d.sge[i].len = n;
			off += n;
		}
		st = tx_raw(&A, &d);
		w = st == UNET_ST_OK ? rx_check(&B, chBA, UNET_MAX_MSG, s, true)
				     : "send failed";
		gt_result(!w, "errors-gather-7-total-65536-ok", "%s (status %d)",
			  w, st);
	}
}

/* A corrupt tx producer: the NIC must process nothing and count it. */
static void bad_tx_prod(const char *what, uint32_t prod)
{
	char name[96];
	uint32_t cons0 = ld(&A.ctrl->tx.cons);
	uint64_t bi0 = ep_ctr(&A, UNET_CTR_bad_index);
	uint64_t msgs0 = ep_ctr(&A, UNET_CTR_tx_msgs);
	uint64_t errs0 = ep_ctr(&A, UNET_CTR_tx_errors);
	int k;

	snprintf(name, sizeof(name), "errors-%s", what);
	STORE(&A.ctrl->tx.prod, prod);
	k = kick(&A);
	usleep(20000);
	if (k)
		gt_result(false, name, "KICK failed: %s", strerror(-k));
	else if (ld(&A.ctrl->tx.cons) != cons0)
		gt_result(false, name, "tx consumer moved %u -> %u", cons0,
			  ld(&A.ctrl->tx.cons));
	else if (ep_ctr(&A, UNET_CTR_bad_index) <= bi0)
		gt_result(false, name, "bad_index did not go up");
	else if (ep_ctr(&A, UNET_CTR_tx_msgs) != msgs0 ||
		 ep_ctr(&A, UNET_CTR_tx_errors) != errs0)
		gt_result(false, name, "a descriptor was processed");
	else if (!rx_empty(&B))
		gt_result(false, name, "%s", stray);
	else
		gt_pass(name);
	/* Put the right producer back; sends work again. */
	STORE(&A.ctrl->tx.prod, A.tx_prod);
	good_ab(what);
}

/* An fq entry the receiver may not name: BAD_ADDR, its buffers returned. */
static void bad_fq_entry_st(const char *what, uint64_t addr, uint32_t len,
			    bool good_first, uint32_t msg_len, uint32_t rsvd,
			    int want)
{
	char name[96];
	uint64_t bb0 = ep_ctr(&R, UNET_CTR_rx_drop_bad_buf);
	uint64_t nbb0 = nic_ctr(fd, UNET_NIC_drop_bad_buf);
	uint32_t first = R.fq_prod;
	struct unet_rx_desc d;
	int st;

	snprintf(name, sizeof(name), "errors-%s", what);
	if (good_first)
		fq_post(&R, 0, RBUF, false);
	fq_reserved = rsvd;
	fq_post(&R, addr, len, true);
	st = send_seg(&A, chAR, 0, msg_len, seedctr++);
	if (st != UNET_ST_OK)
		gt_result(false, name, "send status %d (the sender is fine)",
			  st);
	else if (!rx_next(&R, &d, 5000))
		gt_result(false, name, "no rx descriptor came back");
	else {
		rx_done(&R, &d, false);
		if (d.status != want)
			gt_result(false, name, "rx status %u, want %s",
				  d.status, unet_status_str(want));
		else if (d.first_buf != first ||
			 d.nbuf != (good_first ? 2 : 1))
			gt_result(false, name,
				  "buffers returned first %u n %u, want %u n %u",
				  d.first_buf, d.nbuf, first,
				  good_first ? 2 : 1);
		else if (d.channel != chRA)
			gt_result(false, name, "channel %u, want %u", d.channel,
				  chRA);
		else if (ld(&R.ctrl->fq.cons) != R.fq_prod)
			gt_result(false, name, "fq consumer %u, want %u",
				  ld(&R.ctrl->fq.cons), R.fq_prod);
		else if (ep_ctr(&R, UNET_CTR_rx_drop_bad_buf) != bb0 + 1)
			gt_result(false, name, "rx_drop_bad_buf did not go up");
		else if (nic_ctr(fd, UNET_NIC_drop_bad_buf) != nbb0 + 1)
			gt_result(false, name, "NIC drop_bad_buf did not go up");
		else
			gt_pass(name);
	}
	good_ar(what);
}

static void bad_fq_entry(const char *what, uint64_t addr, uint32_t len,
			 bool good_first, uint32_t msg_len)
{
	bad_fq_entry_st(what, addr, len, good_first, msg_len, 0,
			UNET_ST_BAD_ADDR);
}

static void bad_fq_prod(const char *what, uint32_t prod)
{
	char name[96];
	uint32_t cons0 = ld(&R.ctrl->fq.cons), rxp0 = ld(&R.ctrl->rx.prod);
	uint64_t bi0 = ep_ctr(&R, UNET_CTR_bad_index);
	uint64_t nb0 = ep_ctr(&R, UNET_CTR_rx_drop_no_bufs);
	int st;

	snprintf(name, sizeof(name), "errors-%s", what);
	/* Valid-looking entries sit in the slots it would take. */
	for (uint32_t i = 0; i < R.req.fq_entries; i++) {
		R.fq[i].addr = 0;
		R.fq[i].len = RBUF;
	}
	STORE(&R.ctrl->fq.prod, prod);
	st = send_seg(&A, chAR, 0, 3000, seedctr++);
	if (st != UNET_ST_OK)
		gt_result(false, name, "send status %d", st);
	else if (ld(&R.ctrl->fq.cons) != cons0)
		gt_result(false, name, "buffers were taken (fq cons %u -> %u)",
			  cons0, ld(&R.ctrl->fq.cons));
	else if (ld(&R.ctrl->rx.prod) != rxp0)
		gt_result(false, name, "an rx descriptor was published");
	else if (ep_ctr(&R, UNET_CTR_rx_drop_no_bufs) != nb0 + 1)
		gt_result(false, name, "rx_drop_no_bufs did not go up by one");
	else if (ep_ctr(&R, UNET_CTR_bad_index) <= bi0)
		gt_result(false, name, "bad_index did not go up");
	else
		gt_pass(name);
	STORE(&R.ctrl->fq.prod, R.fq_prod);
	good_ar(what);
}

static void bad_rx_cons(const char *what, uint32_t cons)
{
	char name[96];
	uint32_t rxp0 = ld(&B.ctrl->rx.prod), fqc0 = ld(&B.ctrl->fq.cons);
	uint64_t qf0 = ep_ctr(&B, UNET_CTR_rx_drop_queue_full);
	uint64_t nqf0 = nic_ctr(fd, UNET_NIC_drop_queue_full);
	int s1, s2;

	snprintf(name, sizeof(name), "errors-%s", what);
	STORE(&B.ctrl->rx.cons, cons);
	s1 = send_seg(&A, chAB, 0, 3000, seedctr++);
	s2 = send_inline(&A, chAB, 50, seedctr++);
	if (s1 != UNET_ST_OK || s2 != UNET_ST_OK)
		gt_result(false, name, "send status %d/%d", s1, s2);
	else if (ld(&B.ctrl->rx.prod) != rxp0)
		gt_result(false, name, "rx producer moved past a bad consumer");
	else if (ld(&B.ctrl->fq.cons) != fqc0)
		gt_result(false, name, "free buffers were taken");
	else if (ep_ctr(&B, UNET_CTR_rx_drop_queue_full) != qf0 + 2)
		gt_result(false, name, "rx_drop_queue_full %llu, want %llu",
			  (unsigned long long)ep_ctr(&B,
					UNET_CTR_rx_drop_queue_full),
			  (unsigned long long)qf0 + 2);
	else if (nic_ctr(fd, UNET_NIC_drop_queue_full) != nqf0 + 2)
		gt_result(false, name, "NIC drop_queue_full did not go up by 2");
	else
		gt_pass(name);
	STORE(&B.ctrl->rx.cons, B.rx_cons);
	good_ab(what);
}

static void index_cases(void)
{
	uint32_t c = ld(&A.ctrl->tx.cons);

	bad_tx_prod("tx-prod-cons-plus-entries-plus-5",
		    c + A.req.tx_entries + 5);
	c = ld(&A.ctrl->tx.cons);
	bad_tx_prod("tx-prod-cons-minus-1", c - 1);
	c = ld(&A.ctrl->tx.cons);
	bad_tx_prod("tx-prod-cons-plus-2e31", c + 0x80000000u);

	bad_fq_entry("fq-entry-past-segment", R.seg_size, RBUF, false, 300);
	bad_fq_entry("fq-entry-runs-past-end", R.seg_size - 100, RBUF, true,
		     6000);
	bad_fq_entry("fq-entry-overflow", 0xfffffffffffff000ull, RBUF, false,
		     300);
	bad_fq_entry("fq-entry-zero-length", 0, 0, false, 300);
	bad_fq_entry_st("fq-entry-reserved-nonzero", 0, RBUF, false, 300, 1,
			UNET_ST_BAD_DESC);
	bad_fq_entry_st("fq-entry-reserved-second", RBUF, RBUF, true, 6000,
			0x10000, UNET_ST_BAD_DESC);

	bad_fq_prod("fq-prod-cons-plus-entries-plus-5",
		    ld(&R.ctrl->fq.cons) + R.req.fq_entries + 5);
	bad_fq_prod("fq-prod-cons-minus-1", ld(&R.ctrl->fq.cons) - 1);

	bad_rx_cons("rx-cons-ahead-by-1", B.rx_cons + 1);
	bad_rx_cons("rx-cons-ahead-by-2e31", B.rx_cons + 0x80000000u);
}

static void mm_bad(const char *name, struct rep *m, uint32_t ch,
		   const struct unet_sge *s, bool may_drop)
{
	int st = send_gather(m, ch, s, 1, 0);
	struct unet_rx_desc d;

	if (st != UNET_ST_BAD_ADDR) {
		gt_result(false, name, "status %d, want BAD_ADDR", st);
		return;
	}
	if (may_drop && ld(&B.ctrl->rx.prod) != B.rx_cons) {
		d = B.rxq[B.rx_cons & (B.req.rx_entries - 1)];
		if (d.status == UNET_ST_DROPPED && d.length == 0) {
			rx_done(&B, &d, true);
			printf("# %s: receiver got DROPPED, %u buffers back\n",
			       name, d.nbuf);
		}
	}
	gt_result(rx_empty(&B), name, "%s", stray);
}

/* An MM sender naming memory that is not its own user memory. */
static void mm_cases(void)
{
	struct rep M;
	uint32_t chMB, chBM;
	struct unet_sge s;
	void *gone;
	int st, e1, e2;

	rep_create(&M, fd, UNET_MODE_MM, 0);
	(void)st;
	e1 = chan_raw(fd, M.handle, nic_mac, B.id, &chMB);
	e2 = chan_raw(fd, B.handle, nic_mac, M.id, &chBM);
	if (e1 || e2) {
		gt_result(false, "errors-mm-setup", "channels: %s",
			  strerror(-(e1 ? e1 : e2)));
		return;
	}
	s.addr = 0xffff888000000000ull;
	s.len = 200;
	s.reserved = 0;
	mm_bad("errors-mm-kernel-address", &M, chMB, &s, false);
	/* Past the top of user space even with 5-level paging: refused. */
	s.addr = 0x00fffffffffff000ull;
	s.len = 0x2000;
	mm_bad("errors-mm-past-user-space", &M, chMB, &s, false);
	/*
	 * Across the 4-level top: refused outright, or (5-level paging, as
	 * QEMU's TCG may offer) found unmapped by the agent.
	 */
	s.addr = 0x00007ffffffff000ull;
	mm_bad("errors-mm-across-47-bit-top", &M, chMB, &s, true);
	s.addr = ~0ull - 100;
	s.len = 200;
	mm_bad("errors-mm-addr-len-overflow", &M, chMB, &s, false);
	gone = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (gone == MAP_FAILED)
		gt_die("mmap");
	munmap(gone, 8192);
	s.addr = (uint64_t)(uintptr_t)gone;
	s.len = 300;
	/*
	 * Found only when the agent fails to translate it, after the
	 * receiver took buffers: those may come back as DROPPED.
	 */
	mm_bad("errors-mm-unmapped-address", &M, chMB, &s, true);
	/* And it still sends. */
	{
		static uint8_t buf[300];
		uint32_t sd = seedctr++;
		const char *w;

		gt_fill(buf, sizeof(buf), sd);
		s.addr = (uint64_t)(uintptr_t)buf;
		s.len = sizeof(buf);
		st = send_gather(&M, chMB, &s, 1, 0);
		w = st == UNET_ST_OK ? rx_check(&B, chBM, 300, sd, true)
				     : "send failed";
		gt_result(!w, "errors-mm-bad-then-ok", "%s (status %d)", w, st);
	}
	munmap(M.q, M.req.queue_size);
	if (ioctl(fd, UNET_IOC_EP_DESTROY, &M.handle) < 0)
		gt_die("EP_DESTROY");
}

/* A send on a channel the endpoint does not have. */
static void channel_cases(void)
{
	const uint32_t bad[] = { 7, UNET_MAX_CHANNELS - 1, UNET_MAX_CHANNELS,
				 0xffffffffu };
	char what[64];
	struct unet_tx_desc d;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		desc_gather(&d, bad[i]);
		d.nsge = 1;
		d.sge[0].len = 200;
		snprintf(what, sizeof(what), "channel-%u", bad[i]);
		bad_send(what, UNET_ST_BAD_CHANNEL, &d);
	}
}

/* ---- control path ---- */

/* @got: 0 or -errno from the call; @want: the errno it must fail with. */
static void expect_err(const char *name, int got, int want)
{
	gt_result(got == -want, name, "got %s (%d), want %s", strerror(-got),
		  got, want ? strerror(want) : "success");
}

/* A NIC index meaning "the first one past the last". */
#define NIC_PAST_LAST	0xfffffff0u

struct ep_req {
	uint32_t nic, mode, tx, rx, fq, seg;
};

/* Endpoints the kernel must refuse: {name, request, errno}. */
static const struct {
	const char *name;
	struct ep_req req;
	int err;
} ep_create_cases[] = {
	/* Ring sizes. */
	{ "tx-not-pow2",		{ 0, UNET_MODE_MM, 100, 64, 64, 0 }, EINVAL },
	{ "rx-not-pow2",		{ 0, UNET_MODE_MM, 64, 24, 64, 0 }, EINVAL },
	{ "fq-not-pow2",		{ 0, UNET_MODE_MM, 64, 64, 4095, 0 }, EINVAL },
	{ "ring-too-small",		{ 0, UNET_MODE_MM, 4, 64, 64, 0 }, EINVAL },
	{ "ring-zero",			{ 0, UNET_MODE_MM, 64, 0, 64, 0 }, EINVAL },
	{ "ring-too-large",		{ 0, UNET_MODE_MM, 64, 64, 8192, 0 }, EINVAL },
	{ "ring-2e31",			{ 0, UNET_MODE_MM, 0x80000000u, 64, 64, 0 }, EINVAL },
	/* Modes and segments. */
	{ "bad-mode",			{ 0, 2, 64, 64, 64, 0 }, EINVAL },
	{ "bad-mode-ffffffff",		{ 0, 0xffffffffu, 64, 64, 64, 4096 }, EINVAL },
	{ "mm-with-segment",		{ 0, UNET_MODE_MM, 64, 64, 64, 65536 }, EINVAL },
	{ "base-segment-0",		{ 0, UNET_MODE_BASE, 64, 64, 64, 0 }, EINVAL },
	{ "base-segment-4097",		{ 0, UNET_MODE_BASE, 64, 64, 64, 4097 }, EINVAL },
	{ "base-segment-1000",		{ 0, UNET_MODE_BASE, 64, 64, 64, 1000 }, EINVAL },
	{ "base-segment-too-large",	{ 0, UNET_MODE_BASE, 64, 64, 64, UNET_SEGMENT_MAX + 4096 }, EINVAL },
	{ "base-segment-fffff000",	{ 0, UNET_MODE_BASE, 64, 64, 64, 0xfffff000u }, EINVAL },
	/* NICs. */
	{ "bad-nic-nr_nics",		{ NIC_PAST_LAST, UNET_MODE_MM, 64, 64, 64, 0 }, ENODEV },
	{ "bad-nic-ffffffff",		{ 0xffffffffu, UNET_MODE_MM, 64, 64, 64, 0 }, ENODEV },
};

/* Requests on nothing, or on the wrong thing: {name, ioctl, argument, errno}. */
static uint32_t handle_999 = 999, handle_0;
static uint64_t junk[64];
static const struct {
	const char *name;
	unsigned long cmd;
	void *arg;
	int err;
} ioctl_cases[] = {
	{ "destroy-unknown",	UNET_IOC_EP_DESTROY, &handle_999, ENOENT },
	{ "destroy-handle-0",	UNET_IOC_EP_DESTROY, &handle_0, ENOENT },
	{ "kick-unknown",	UNET_IOC_KICK, &handle_999, ENOENT },
	/* Arguments the kernel cannot read or write back. */
	{ "ep-create-null-arg",	UNET_IOC_EP_CREATE, NULL, EFAULT },
	{ "chan-create-null-arg", UNET_IOC_CHAN_CREATE, NULL, EFAULT },
	/* Numbers, sizes and magics that are not this device's. */
	{ "ioctl-nr-99",	_IO(UNET_IOC_MAGIC, 99), NULL, ENOTTY },
	{ "ioctl-nr-0",		_IO(UNET_IOC_MAGIC, 0), NULL, ENOTTY },
	{ "ioctl-wrong-size",	_IOWR(UNET_IOC_MAGIC, 2, uint64_t), junk, ENOTTY },
	{ "ioctl-other-magic",	_IOWR('T', 6, uint32_t), junk, ENOTTY },
};

enum mac_kind { MAC_NIC, MAC_MULTICAST, MAC_BROADCAST, MAC_ZERO };

/*
 * Channel requests on one fresh endpoint, in this order (each may depend
 * on those before): {name, create or destroy, MAC, remote endpoint or
 * channel, handle (0: the endpoint's), errno}.
 */
static const struct {
	const char *name;
	bool destroy;
	enum mac_kind mac;
	uint32_t remote;	/* create: endpoint id; destroy: channel */
	uint32_t handle;
	int err;
} chan_cases[] = {
	{ "chan-remote-ep-0",		false, MAC_NIC, 0, 0, EINVAL },
	{ "chan-multicast-mac",		false, MAC_MULTICAST, 5, 0, EINVAL },
	{ "chan-broadcast-mac",		false, MAC_BROADCAST, 5, 0, EINVAL },
	{ "chan-zero-mac",		false, MAC_ZERO, 5, 0, EINVAL },
	{ "chan-unknown-handle",	false, MAC_NIC, 5, 999, ENOENT },
	{ "chan-first",			false, MAC_NIC, 1, 0, 0 },
	{ "chan-duplicate",		false, MAC_NIC, 1, 0, EEXIST },
};

/* The same once the endpoint has UNET_MAX_CHANNELS channels (2 .. 256). */
static const struct {
	const char *name;
	bool destroy;
	uint32_t remote;
	uint32_t handle;
	int err;
} full_chan_cases[] = {
	{ "chan-257th-enospc",		false, 100000, 0, ENOSPC },
	{ "chan-duplicate-when-full",	false, 17, 0, EEXIST },
	{ "chan-destroy-256",		true, UNET_MAX_CHANNELS, 0, ENOENT },
	{ "chan-destroy-ffffffff",	true, 0xffffffffu, 0, ENOENT },
	{ "chan-destroy-ok",		true, 200, 0, 0 },
	{ "chan-destroy-twice",		true, 200, 0, ENOENT },
	{ "chan-destroy-unknown-handle", true, 0, 999, ENOENT },
};

static void ctl_cases(void)
{
	struct unet_nic_info info = { .nic = 0 };
	struct unet_ep_create mm, base;
	const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t zero[6] = { 0 };
	const uint8_t *macs[] = { nic_mac, mcast, bcast, zero };
	uint32_t handles[UNET_EP_PER_CTX], ch = 0, h;
	char name[96];
	int cfd, err = 0, i, n;
	size_t k;
	void *p;

	if (ioctl(fd, UNET_IOC_NIC_INFO, &info) < 0)
		gt_die("NIC_INFO");

	for (k = 0; k < sizeof(ep_create_cases) / sizeof(ep_create_cases[0]); k++) {
		const struct ep_req *r = &ep_create_cases[k].req;

		snprintf(name, sizeof(name), "errors-ctl-%s",
			 ep_create_cases[k].name);
		expect_err(name, ep_create_raw(fd, r->nic == NIC_PAST_LAST ?
					       info.nr_nics : r->nic, r->mode,
					       r->tx, r->rx, r->fq, r->seg, NULL),
			   ep_create_cases[k].err);
	}
	for (k = 0; k < sizeof(ioctl_cases) / sizeof(ioctl_cases[0]); k++) {
		snprintf(name, sizeof(name), "errors-ctl-%s",
			 ioctl_cases[k].name);
		expect_err(name, raw_ioctl(fd, ioctl_cases[k].cmd,
					   ioctl_cases[k].arg),
			   ioctl_cases[k].err);
	}
	{
		struct unet_nic_info bi = { .nic = info.nr_nics };
		uint64_t v[4];
		int got;

		expect_err("errors-ctl-nic-info-bad-nic",
			   raw_ioctl(fd, UNET_IOC_NIC_INFO, &bi), ENODEV);
		got = raw_stats(fd, UNET_STATS_NIC, 1000, v, 4);
		expect_err("errors-ctl-nic-stats-bad-nic", got < 0 ? got : 0,
			   ENODEV);
	}

	/* Endpoints per context, on a context of its own. */
	cfd = open(UNET_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (cfd < 0)
		gt_die("open");
	for (n = 0; n < UNET_EP_PER_CTX; n++) {
		struct unet_ep_create r;

		err = ep_create_raw(cfd, 0, UNET_MODE_MM, 8, 8, 8, 0, &r);
		if (err)
			break;
		handles[n] = r.handle;
	}
	gt_result(n == UNET_EP_PER_CTX, "errors-ctl-64-endpoints",
		  "only %d endpoints: %s", n, strerror(-err));
	expect_err("errors-ctl-65th-endpoint-emfile",
		   ep_create_raw(cfd, 0, UNET_MODE_MM, 8, 8, 8, 0, NULL),
		   EMFILE);
	{
		long lck0 = vmlck_kb();
		uint64_t seg0 = nic_ctr(fd, UNET_NIC_segment_pages);
		uint64_t eps0 = nic_ctr(fd, UNET_NIC_endpoints);

		expect_err("errors-ctl-65th-base-endpoint-emfile",
			   ep_create_raw(cfd, 0, UNET_MODE_BASE, 8, 8, 8,
					 1 << 20, NULL), EMFILE);
		gt_result(vmlck_kb() == lck0 &&
				  nic_ctr(fd, UNET_NIC_segment_pages) == seg0 &&
				  nic_ctr(fd, UNET_NIC_endpoints) == eps0,
			  "errors-ctl-65th-base-endpoint-uncharged",
			  "VmLck %ld->%ld segment_pages %llu->%llu "
			  "endpoints %llu->%llu", lck0, vmlck_kb(),
			  (unsigned long long)seg0,
			  (unsigned long long)nic_ctr(fd, UNET_NIC_segment_pages),
			  (unsigned long long)eps0,
			  (unsigned long long)nic_ctr(fd, UNET_NIC_endpoints));
	}
	if (n > 0) {
		h = handles[n / 2];
		err = raw_ioctl(cfd, UNET_IOC_EP_DESTROY, &h);
		expect_err("errors-ctl-destroy-one-of-64", err, 0);
		expect_err("errors-ctl-create-after-destroy",
			   ep_create_raw(cfd, 0, UNET_MODE_MM, 8, 8, 8, 0, NULL),
			   0);
	}
	close(cfd);

	/* Channels, on a fresh endpoint of the main context. */
	if (ep_create_raw(fd, 0, UNET_MODE_MM, 8, 8, 8, 0, &mm))
		gt_die("EP_CREATE");
	for (k = 0; k < sizeof(chan_cases) / sizeof(chan_cases[0]); k++) {
		uint32_t on = chan_cases[k].handle ? chan_cases[k].handle :
			      mm.handle;

		/* The all-zero MAC is this NIC's own when it has no netdev. */
		if (chan_cases[k].mac == MAC_ZERO && !memcmp(nic_mac, zero, 6))
			continue;
		snprintf(name, sizeof(name), "errors-ctl-%s",
			 chan_cases[k].name);
		expect_err(name, chan_cases[k].destroy ?
			   chan_destroy_raw(fd, on, chan_cases[k].remote) :
			   chan_raw(fd, on, macs[chan_cases[k].mac],
				    chan_cases[k].remote, &ch),
			   chan_cases[k].err);
	}
	for (i = 1; i < UNET_MAX_CHANNELS; i++) {
		err = chan_raw(fd, mm.handle, nic_mac, 1 + i, NULL);
		if (err)
			break;
	}
	gt_result(i == UNET_MAX_CHANNELS, "errors-ctl-chan-256",
		  "channel %d: %s", i, strerror(-err));
	for (k = 0; k < sizeof(full_chan_cases) / sizeof(full_chan_cases[0]); k++) {
		uint32_t on = full_chan_cases[k].handle ?
			      full_chan_cases[k].handle : mm.handle;

		snprintf(name, sizeof(name), "errors-ctl-%s",
			 full_chan_cases[k].name);
		expect_err(name, full_chan_cases[k].destroy ?
			   chan_destroy_raw(fd, on, full_chan_cases[k].remote) :
			   chan_raw(fd, on, nic_mac, full_chan_cases[k].remote,
				    NULL),
			   full_chan_cases[k].err);
	}
	expect_err("errors-ctl-chan-reuse-freed-slot",
		   chan_raw(fd, mm.handle, nic_mac, 100000, &ch), 0);
	gt_result(ch == 200, "errors-ctl-chan-reuse-slot-200", "got slot %u",
		  ch);

	/* Readable requests whose answers cannot be written back. */
	{
		struct unet_ep_create *ro;
		struct unet_chan_create *rc;
		long lck0 = vmlck_kb();
		uint64_t seg0 = nic_ctr(fd, UNET_NIC_segment_pages);
		uint64_t eps0 = nic_ctr(fd, UNET_NIC_endpoints);
		uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (page == MAP_FAILED)
			gt_die("mmap");
		ro = (void *)page;
		memset(ro, 0, sizeof(*ro));
		ro->mode = UNET_MODE_BASE;
		ro->tx_entries = ro->rx_entries = ro->fq_entries = 8;
		ro->segment_size = 1 << 20;
		rc = (void *)(page + 2048);
		rc->handle = mm.handle;
		rc->remote_ep = 4242;
		memcpy(rc->remote_mac, nic_mac, 6);
		mprotect(page, 4096, PROT_READ);
		if (chan_destroy_raw(fd, mm.handle, 100))	/* room for one */
			gt_die("CHAN_DESTROY");
		/* Readable request, unwritable answer: nothing may remain. */
		expect_err("errors-ctl-ep-create-readonly-arg",
			   raw_ioctl(fd, UNET_IOC_EP_CREATE, ro),
			   EFAULT);
		gt_result(vmlck_kb() == lck0 &&
				  nic_ctr(fd, UNET_NIC_segment_pages) == seg0 &&
				  nic_ctr(fd, UNET_NIC_endpoints) == eps0,
			  "errors-ctl-ep-create-readonly-arg-no-leak",
			  "VmLck %ld->%ld segment_pages %llu->%llu "
			  "endpoints %llu->%llu", lck0, vmlck_kb(),
			  (unsigned long long)seg0,
			  (unsigned long long)nic_ctr(fd, UNET_NIC_segment_pages),
			  (unsigned long long)eps0,
			  (unsigned long long)nic_ctr(fd, UNET_NIC_endpoints));
		expect_err("errors-ctl-chan-create-readonly-arg",
			   raw_ioctl(fd, UNET_IOC_CHAN_CREATE, rc),
			   EFAULT);
		/*
		 * The failed call must not have taken a slot (EP_CREATE undoes
		 * itself the same way): the same channel can be made now.
		 */
		expect_err("errors-ctl-chan-create-readonly-arg-no-side-effect",
			   chan_raw(fd, mm.handle, nic_mac, 4242, NULL), 0);
		munmap(page, 4096);
	}

	/* mmap. */
	if (ep_create_raw(fd, 0, UNET_MODE_BASE, 8, 8, 8, 65536, &base))
		gt_die("EP_CREATE");
#define MMAP_FAILS(name, len, off)                                          \
	do {                                                                \
		p = mmap(NULL, (len), PROT_READ | PROT_WRITE, MAP_SHARED,   \
			 fd, (off_t)(off));                                 \
		err = p == MAP_FAILED ? errno : 0;                          \
		if (p != MAP_FAILED)                                        \
			munmap(p, (len));                                   \
		gt_result(p == MAP_FAILED, name, "mmap succeeded");         \
	} while (0)
	MMAP_FAILS("errors-ctl-mmap-offset-0", 4096, 0);
	MMAP_FAILS("errors-ctl-mmap-unknown-handle", mm.queue_size,
		   (uint64_t)999 << 32);
	MMAP_FAILS("errors-ctl-mmap-low-bits", mm.queue_size - 4096,
		   mm.queue_offset + 4096);
	MMAP_FAILS("errors-ctl-mmap-queue-too-big", mm.queue_size + 4096,
		   mm.queue_offset);
	MMAP_FAILS("errors-ctl-mmap-queue-too-small", mm.queue_size - 4096,
		   mm.queue_offset);
	MMAP_FAILS("errors-ctl-mmap-mm-segment", 65536, mm.queue_offset | SEG_BIT);
	MMAP_FAILS("errors-ctl-mmap-mm-segment-4096", 4096,
		   mm.queue_offset | SEG_BIT);
	MMAP_FAILS("errors-ctl-mmap-segment-too-big", 65536 + 4096,
		   base.segment_offset);
	MMAP_FAILS("errors-ctl-mmap-segment-too-small", 4096,
		   base.segment_offset);
	MMAP_FAILS("errors-ctl-mmap-segment-plus-page", 4096,
		   base.segment_offset + 4096);
	p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)base.segment_offset);
	gt_result(p != MAP_FAILED, "errors-ctl-mmap-segment-right-size-ok",
		  "%s", strerror(errno));
	if (p != MAP_FAILED)
		munmap(p, 65536);

	/* A destroyed endpoint's handle names nothing. */
	h = base.handle;
	expect_err("errors-ctl-destroy-base",
		   raw_ioctl(fd, UNET_IOC_EP_DESTROY, &h), 0);
	expect_err("errors-ctl-dead-kick",
		   raw_ioctl(fd, UNET_IOC_KICK, &h), ENOENT);
	{
		uint64_t v[4];
		int got = raw_stats(fd, UNET_STATS_EP, h, v, 4);

		expect_err("errors-ctl-dead-stats", got < 0 ? got : 0, ENOENT);
	}
	expect_err("errors-ctl-dead-chan-create",
		   chan_raw(fd, h, nic_mac, 5, NULL), ENOENT);
	expect_err("errors-ctl-dead-chan-destroy",
		   chan_destroy_raw(fd, h, 0), ENOENT);
	expect_err("errors-ctl-dead-destroy-again",
		   raw_ioctl(fd, UNET_IOC_EP_DESTROY, &h), ENOENT);
	MMAP_FAILS("errors-ctl-dead-mmap-queue", base.queue_size,
		   base.queue_offset);
	MMAP_FAILS("errors-ctl-dead-mmap-segment", 65536, base.segment_offset);

	h = mm.handle;
	if (ioctl(fd, UNET_IOC_EP_DESTROY, &h) < 0)
		gt_die("EP_DESTROY");

	/* Destroyed while mapped: the mappings stay usable memory. */
	{
		struct rep X;
		uint64_t seg0 = nic_ctr(fd, UNET_NIC_segment_pages);
		uint64_t eps0 = nic_ctr(fd, UNET_NIC_endpoints);
		long bad;

		rep_create(&X, fd, UNET_MODE_BASE, 256 * 1024);
		gt_fill(X.seg, X.seg_size, 31);
		X.ctrl->tx.prod = 12345;
		h = X.handle;
		expect_err("errors-destroy-while-mapped",
			   raw_ioctl(fd, UNET_IOC_EP_DESTROY, &h), 0);
		/*
		 * The segment is still memory the process holds: it stays
		 * charged until unmapped, or destroy-while-mapped would be a
		 * way around RLIMIT_MEMLOCK.
		 */
		gt_result(nic_ctr(fd, UNET_NIC_segment_pages) == seg0 + 64 &&
				  nic_ctr(fd, UNET_NIC_endpoints) == eps0,
			  "errors-destroy-while-mapped-still-charged",
			  "segment_pages %llu (was %llu before create) "
			  "endpoints %llu (was %llu)",
			  (unsigned long long)nic_ctr(fd,
					UNET_NIC_segment_pages),
			  (unsigned long long)seg0,
			  (unsigned long long)nic_ctr(fd, UNET_NIC_endpoints),
			  (unsigned long long)eps0);
		bad = gt_verify(X.seg, X.seg_size, 31);
		gt_result(bad < 0 && X.ctrl->tx.prod == 12345,
			  "errors-destroy-while-mapped-memory-intact",
			  "segment byte %ld / ctrl changed after destroy", bad);
		memset(X.seg, 0x5a, X.seg_size);	/* still ours */
		memset(X.q + 4096, 0xa5, X.req.queue_size - 4096);
		munmap(X.seg, X.seg_size);
		munmap(X.q, X.req.queue_size);
		{
			double until = gt_now_ms() + 5000;

			while (nic_ctr(fd, UNET_NIC_segment_pages) != seg0 &&
			       gt_now_ms() < until)
				usleep(10000);
		}
		gt_result(nic_ctr(fd, UNET_NIC_segment_pages) == seg0,
			  "errors-destroy-while-mapped-uncharged-on-unmap",
			  "segment_pages %llu, want %llu",
			  (unsigned long long)nic_ctr(fd, UNET_NIC_segment_pages),
			  (unsigned long long)seg0);
		good_ab("destroy-while-mapped");
	}
	(void)err;
}

/* ---- the ABI's rules for growing (botching-up-ioctls.rst) ---- */

static const char *const nic_names[] = {
#define NAME(n) #n,
	UNET_NIC_COUNTERS(NAME)
#undef NAME
};

static const char *const ep_names[] = {
#define NAME(n) #n,
	UNET_EP_COUNTERS(NAME)
#undef NAME
};

/* A set's names as the kernel gives them match this header's, in order. */
static void names_match(const char *name, uint32_t scope, uint32_t id,
			const char *const *want, uint32_t n, const char *fmt)
{
	static char got[256][UNET_STAT_NAME_LEN];
	struct unet_stats req = {
		.scope = scope, .id = id, .count = 256,
		.names = (uintptr_t)got,
	};
	uint32_t i;
	int err;

	memset(got, 0, sizeof(got));
	err = raw_ioctl(fd, UNET_IOC_STATS, &req);
	if (err) {
		gt_result(false, name, "STATS: %s", strerror(-err));
		return;
	}
	if (req.count != n) {
		gt_result(false, name, "%u counters, this header has %u",
			  req.count, n);
		return;
	}
	for (i = 0; i < n; i++) {
		char w[UNET_STAT_NAME_LEN];

		if (want)
			snprintf(w, sizeof(w), "%s", want[i]);
		else
			snprintf(w, sizeof(w), fmt, 1u << i);
		if (strncmp(got[i], w, UNET_STAT_NAME_LEN)) {
			gt_result(false, name, "counter %u is \"%.32s\", want "
				  "\"%s\"", i, got[i], w);
			return;
		}
	}
	gt_pass(name);
}

static void abi_cases(void)
{
	struct unet_dev_info di;
	uint64_t eps0 = nic_ctr(fd, UNET_NIC_endpoints);
	int i;

	memset(&di, 0, sizeof(di));
	expect_err("errors-abi-dev-info", raw_ioctl(fd, UNET_IOC_DEV_INFO, &di),
		   0);
	gt_result(di.abi_version == UNET_ABI_VERSION &&
		  di.nic_counters == UNET_NIC_NR_COUNTERS &&
		  di.ep_counters == UNET_EP_NR_COUNTERS && di.nr_nics >= 1,
		  "errors-abi-dev-info-values", "abi %u nic counters %u ep "
		  "counters %u nics %u", di.abi_version, di.nic_counters,
		  di.ep_counters, di.nr_nics);
	gt_result((di.features & (UNET_FEAT_MODE_MM | UNET_FEAT_MODE_BASE |
				  UNET_FEAT_WAIT_SEND | UNET_FEAT_STATS_NAMES |
				  UNET_FEAT_EP_GEN | UNET_FEAT_BUSY_POLL)) ==
		  (UNET_FEAT_MODE_MM | UNET_FEAT_MODE_BASE |
		   UNET_FEAT_WAIT_SEND | UNET_FEAT_STATS_NAMES |
		   UNET_FEAT_EP_GEN | UNET_FEAT_BUSY_POLL), "errors-abi-features",
		  "features %#llx", (unsigned long long)di.features);
	{
		/* ABI 1 used magic 0xB5, which belongs to rpmsg. */
		uint8_t old[48] = { 0 };

		expect_err("errors-abi-old-magic-refused",
			   raw_ioctl(fd, _IOWR(0xB5, 1, uint8_t[48]), old),
			   ENOTTY);
	}

	/* Every reserved field and flag bit must be zero. */
	for (i = 0; i < 8; i++) {
		struct unet_nic_info ni = { .nic = 0 };
		char name[64];

		ni.reserved[i] = 1u << (i * 4);
		snprintf(name, sizeof(name), "errors-abi-nic-info-reserved-%d", i);
		expect_err(name, raw_ioctl(fd, UNET_IOC_NIC_INFO, &ni), EINVAL);
	}
	for (i = 0; i < 8; i++) {
		struct unet_ep_create r = {
			.mode = UNET_MODE_MM, .tx_entries = 8,
			.rx_entries = 8, .fq_entries = 8,
		};
		const char *what[] = { "flags-bit0", "flags-bit31",
				       "reserved0", "reserved1",
				       "reserved2-0", "reserved2-1",
				       "reserved2-2", "reserved2-3" };
		char name[64];

		switch (i) {
		case 0: r.flags = 1; break;
		case 1: r.flags = 0x80000000u; break;
		case 2: r.reserved0 = 1; break;
		case 3: r.reserved1 = 1; break;
		default: r.reserved2[i - 4] = 1ull << 63; break;
		}
		snprintf(name, sizeof(name), "errors-abi-ep-create-%s", what[i]);
		expect_err(name, raw_ioctl(fd, UNET_IOC_EP_CREATE, &r), EINVAL);
	}
	gt_result(nic_ctr(fd, UNET_NIC_endpoints) == eps0,
		  "errors-abi-ep-create-refused-leaves-nothing",
		  "endpoints %llu, was %llu",
		  (unsigned long long)nic_ctr(fd, UNET_NIC_endpoints),
		  (unsigned long long)eps0);
	{
		struct unet_chan_create c = { .handle = A.handle,
					      .remote_ep = 77 };

		memcpy(c.remote_mac, nic_mac, 6);
		c.flags = 1;
		expect_err("errors-abi-chan-create-flags",
			   raw_ioctl(fd, UNET_IOC_CHAN_CREATE, &c), EINVAL);
		c.flags = 0;
		c.reserved = 1;
		expect_err("errors-abi-chan-create-reserved",
			   raw_ioctl(fd, UNET_IOC_CHAN_CREATE, &c), EINVAL);
	}

	/* Counters: by count, so a set can grow without a new ioctl. */
	{
		uint64_t v[8];
		struct unet_stats req = { .scope = UNET_STATS_NIC, .count = 2,
					  .values = (uintptr_t)v };

		for (i = 0; i < 8; i++)
			v[i] = 0xabababababababab;
		expect_err("errors-abi-stats-short", raw_ioctl(fd, UNET_IOC_STATS,
							       &req), 0);
		gt_result(req.count == UNET_NIC_NR_COUNTERS &&
			  v[2] == 0xabababababababab &&
			  v[1] != 0xabababababababab,
			  "errors-abi-stats-short-count",
			  "count %u (want the set's %u), wrote past the room: %s",
			  req.count, UNET_NIC_NR_COUNTERS,
			  v[2] == 0xabababababababab ? "no" : "yes");
		req.values = 0;
		req.count = 0;
		expect_err("errors-abi-stats-count-only",
			   raw_ioctl(fd, UNET_IOC_STATS, &req), 0);
		gt_result(req.count == UNET_NIC_NR_COUNTERS,
			  "errors-abi-stats-count-only-value", "count %u",
			  req.count);
		req.count = 8;
		req.values = (uintptr_t)v;
		req.flags = 1;
		expect_err("errors-abi-stats-flags",
			   raw_ioctl(fd, UNET_IOC_STATS, &req), EINVAL);
		req.flags = 0;
		req.reserved[1] = 1;
		expect_err("errors-abi-stats-reserved",
			   raw_ioctl(fd, UNET_IOC_STATS, &req), EINVAL);
		req.reserved[1] = 0;
		req.scope = 3;
		expect_err("errors-abi-stats-bad-scope",
			   raw_ioctl(fd, UNET_IOC_STATS, &req), EINVAL);
		req.scope = UNET_STATS_EP;
		req.id = 999;
		expect_err("errors-abi-stats-ep-unknown",
			   raw_ioctl(fd, UNET_IOC_STATS, &req), ENOENT);
		req.scope = UNET_STATS_NIC;
		req.id = 0;
		req.values = 16;
		expect_err("errors-abi-stats-bad-values-pointer",
			   raw_ioctl(fd, UNET_IOC_STATS, &req), EFAULT);
		req.values = 0;
		req.names = 16;
		expect_err("errors-abi-stats-bad-names-pointer",
			   raw_ioctl(fd, UNET_IOC_STATS, &req), EFAULT);
	}
	names_match("errors-abi-stats-nic-names", UNET_STATS_NIC, 0, nic_names,
		    UNET_NIC_NR_COUNTERS, NULL);
	names_match("errors-abi-stats-ep-names", UNET_STATS_EP, A.handle,
		    ep_names, UNET_EP_NR_COUNTERS, NULL);
	names_match("errors-abi-stats-miss-hist-names", UNET_STATS_MISS_HIST, 0,
		    NULL, UNET_MISS_HIST_BUCKETS, "miss_us_lt_%u");
}

/*
 * UNET_IOC_BUSY_POLL: its arguments are checked, and an endpoint that has
 * only ever heard from its own NIC (A and B talk over loopback) has no
 * device to poll: ENODATA, at once, counted nowhere.
 */
static void busy_poll_cases(void)
{
	static const struct {
		const char *name;
		uint32_t usecs, flags, reserved;
		bool unknown;
		int err;
	} cases[] = {
		{ "busy-poll-zero-usecs",	0, 0, 0, false, EINVAL },
		{ "busy-poll-too-long",	UNET_BUSY_POLL_MAX_US + 1, 0, 0, false,
		  EINVAL },
		{ "busy-poll-flags",		10, 1, 0, false, EINVAL },
		{ "busy-poll-reserved",	10, 0, 1, false, EINVAL },
		{ "busy-poll-unknown-ep",	10, 0, 0, true, ENOENT },
		{ "busy-poll-loopback-only",	10, 0, 0, false, ENODATA },
		{ "busy-poll-loopback-only-max", UNET_BUSY_POLL_MAX_US, 0, 0,
		  false, ENODATA },
	};
	uint64_t polls = nic_ctr(fd, UNET_NIC_busy_polls);
	char name[96];
	size_t k;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct unet_busy_poll bp = {
			.handle = cases[k].unknown ? 999 : A.handle,
			.usecs = cases[k].usecs,
			.flags = cases[k].flags,
			.reserved = cases[k].reserved,
		};

		snprintf(name, sizeof(name), "errors-%s", cases[k].name);
		expect_err(name, raw_ioctl(fd, UNET_IOC_BUSY_POLL, &bp),
			   cases[k].err);
	}
	gt_result(nic_ctr(fd, UNET_NIC_busy_polls) == polls,
		  "errors-busy-poll-not-counted",
		  "busy_polls moved by %llu with nothing polled",
		  (unsigned long long)(nic_ctr(fd, UNET_NIC_busy_polls) - polls));
}

int main(void)
{
	struct unet_nic_info info = { .nic = 0 };
	int i;

	fd = open(UNET_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		gt_die("open " UNET_DEVICE_PATH);
	if (ioctl(fd, UNET_IOC_NIC_INFO, &info) < 0)
		gt_die("NIC_INFO");
	memcpy(nic_mac, info.mac, 6);

	rep_create(&A, fd, UNET_MODE_BASE, 128 * 1024);
	rep_create(&B, fd, UNET_MODE_BASE, 128 * 1024);
	rep_create(&R, fd, UNET_MODE_BASE, 64 * 1024);
	if (chan_raw(fd, A.handle, nic_mac, B.id, &chAB) ||
	    chan_raw(fd, A.handle, nic_mac, R.id, &chAR) ||
	    chan_raw(fd, B.handle, nic_mac, A.id, &chBA) ||
	    chan_raw(fd, R.handle, nic_mac, A.id, &chRA))
		gt_die("CHAN_CREATE");
	/* B keeps 24 buffers posted (enough for 64 KiB); R posts per test. */
	for (i = 0; i < 24; i++)
		fq_post(&B, (uint64_t)i * RBUF, RBUF, false);

	good_ab("start");
	good_ar("start-r");
	tx_cases();
	channel_cases();
	index_cases();
	mm_cases();
	ctl_cases();
	abi_cases();
	busy_poll_cases();
	good_ab("end");
	close(fd);
	return gt_exit();
}
