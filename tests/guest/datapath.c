// SPDX-License-Identifier: MIT
/*
 * libunet's data path as a program sees it: addresses (unet_ep_addr(),
 * unet_addr_str(), unet_chan_create() refusing what is not an address),
 * batched posting of sends and free buffers (reserve, prepare, submit: one
 * doorbell for a batch, slots given back, an unprepared slot harmless),
 * 64-bit contexts that come back with send completions and with received
 * buffers, and the channel a message arrived on.
 *
 *   datapath
 */
#include "guest_test.h"

#define RING	8
#define BUF	4096

static struct unet *u;
static struct unet_ep *tx, *rx;
static int ch_tx, ch_rx;	/* tx -> rx, and rx's channel to tx */
static uint8_t pool[2 * RING][BUF] __attribute__((aligned(4096)));
static uint8_t src[RING][BUF];

static struct unet_ep *small_ep(void)
{
	struct unet_ep_attr a;
	struct unet_ep *ep;

	unet_ep_attr_init(&a);
	a.tx_entries = a.rx_entries = a.fq_entries = RING;
	ep = unet_ep_create(u, &a);
	if (!ep)
		gt_die("create endpoint");
	return ep;
}

static uint64_t kicks(struct unet_ep *ep)
{
	struct unet_ep_stats st;

	if (unet_ep_stats(ep, &st))
		gt_die("endpoint stats");
	return st.ctr[UNET_CTR_kicks];
}

/* A context no 32-bit cookie could carry: a pointer with high bits set. */
static uint64_t ctx_of(unsigned int i)
{
	return 0xfeedbeef00000000ull | (uintptr_t)&src[i];
}

static int reap(struct unet_ep *ep, struct unet_send_comp *c, unsigned int n)
{
	double end = gt_now_ms() + 10000;
	unsigned int got = 0;

	while (got < n && gt_now_ms() < end) {
		int k = unet_send_poll(ep, c + got, n - got);

		if (k < 0)
			return k;
		got += (unsigned int)k;
	}
	return (int)got;
}

/* Receives one message, checks it, gives its buffer back. */
static const char *take(uint32_t len, uint8_t first, uint64_t *ctx)
{
	static char why[160];
	const struct unet_buf *b;
	struct unet_recv r;
	const uint8_t *p;

	if (!gt_recv(rx, &r, 10000))
		return "no message";
	b = unet_recv_buf(rx, &r, 0);
	p = r.data ? r.data : b ? unet_buf_ptr(rx, b) : NULL;
	if (ctx)
		*ctx = b ? b->context : 0;
	snprintf(why, sizeof(why), "status %s length %u channel %u (want %u) first byte %d",
		 unet_status_str(r.status), r.length, r.channel, ch_rx,
		 p ? p[0] : -1);
	if (r.status != UNET_ST_OK || r.length != len ||
	    r.channel != (uint32_t)ch_rx || !p || p[0] != first) {
		unet_recv_done(rx, &r);
		return why;
	}
	if (unet_recv_buf(rx, &r, r.nbuf))
		return "a buffer past the message's last";
	unet_recv_done(rx, &r);
	if (b)
		unet_post_free(rx, b->addr, b->len, b->context);
	return NULL;
}

static void addresses(void)
{
	uint8_t addr[UNET_ADDR_LEN + 4], want[UNET_ADDR_LEN], mac[6], bad[UNET_ADDR_LEN];
	char str[UNET_ADDR_STRLEN], wstr[UNET_ADDR_STRLEN];
	size_t len = 4;
	int rc;

	rc = unet_ep_addr(rx, addr, &len);
	gt_result(rc == -ENOSPC && len == UNET_ADDR_LEN, "datapath-addr-too-small",
		  "rc %d len %zu", rc, len);
	len = sizeof(addr);
	rc = unet_ep_addr(rx, addr, &len);
	gt_nic_mac(u, mac);
	gt_addr_make(want, mac, unet_ep_id(rx));
	gt_result(!rc && len == UNET_ADDR_LEN && !memcmp(addr, want, len),
		  "datapath-addr-format-1", "rc %d len %zu", rc, len);
	unet_addr_str(addr, len, str, sizeof(str));
	snprintf(wstr, sizeof(wstr), "%02x:%02x:%02x:%02x:%02x:%02x/%u", mac[0],
		 mac[1], mac[2], mac[3], mac[4], mac[5], unet_ep_id(rx));
	gt_result(!strcmp(str, wstr), "datapath-addr-str", "'%s', want '%s'",
		  str, wstr);

	rc = unet_chan_create(tx, addr, UNET_ADDR_LEN - 1);
	gt_result(rc == -EINVAL, "datapath-chan-short-addr", "rc %d", rc);
	memcpy(bad, addr, sizeof(bad));
	bad[0] = 2;
	rc = unet_chan_create(tx, bad, sizeof(bad));
	gt_result(rc == -EINVAL, "datapath-chan-unknown-format", "rc %d", rc);
	memcpy(bad, addr, sizeof(bad));
	bad[UNET_ADDR_LEN - 1] = 1;
	rc = unet_chan_create(tx, bad, sizeof(bad));
	gt_result(rc == -EINVAL, "datapath-chan-reserved-bytes", "rc %d", rc);
	rc = unet_chan_create(tx, NULL, UNET_ADDR_LEN);
	gt_result(rc == -EINVAL, "datapath-chan-null-addr", "rc %d", rc);
	unet_addr_str(bad, sizeof(bad), str, sizeof(str));
	gt_result(strchr(str, '/') == NULL, "datapath-addr-str-invalid", "'%s'",
		  str);
	/* Another endpoint of the same NIC: tx's address from rx's. */
	memcpy(bad, addr, sizeof(bad));
	rc = unet_addr_set_id(bad, sizeof(bad), unet_ep_id(tx));
	gt_addr_make(want, mac, unet_ep_id(tx));
	gt_result(!rc && !memcmp(bad, want, sizeof(want)), "datapath-addr-set-id",
		  "rc %d", rc);
	bad[0] = 2;
	rc = unet_addr_set_id(bad, sizeof(bad), 1);
	gt_result(rc == -EINVAL && !memcmp(bad + 1, want + 1, sizeof(want) - 1),
		  "datapath-addr-set-id-invalid", "rc %d", rc);
	ch_tx = gt_chan_local(tx, rx);
	ch_rx = gt_chan_local(rx, tx);
}

static void send_batches(void)
{
	struct unet_send_comp c[RING];
	uint64_t k0, k1;
	uint32_t idx, idx2;
	unsigned int got, i;
	const char *why = NULL;
	int rc;

	got = unet_send_reserve(tx, 100, &idx);
	gt_result(got == RING, "datapath-reserve-caps-at-room", "got %u", got);
	got = unet_send_reserve(tx, 1, &idx2);
	gt_result(got == 0, "datapath-reserve-full", "got %u more", got);
	rc = unet_send_buf(tx, ch_tx, src[0], 8, 0);
	gt_result(rc == -EBUSY, "datapath-one-shot-during-batch", "rc %d", rc);
	rc = unet_send_submit(tx, RING + 1);
	gt_result(rc == -EINVAL, "datapath-submit-more-than-reserved", "rc %d", rc);
	rc = unet_send_prep(tx, idx + RING, ch_tx, src[0], 8, 0);
	gt_result(rc == -EINVAL, "datapath-prep-unreserved", "rc %d", rc);

	/* Eight at once, half inline, half from 4 KiB buffers. */
	for (i = 0; i < RING; i++) {
		src[i][0] = (uint8_t)(0x40 + i);
		rc = unet_send_prep(tx, idx + i, ch_tx, src[i], i % 2 ? BUF : 8,
				    ctx_of(i));
		if (rc)
			gt_die("prep");
	}
	k0 = kicks(tx);
	if (unet_send_submit(tx, RING))
		gt_die("submit");
	got = (unsigned int)reap(tx, c, RING);
	k1 = kicks(tx);
	for (i = 0; i < got && !why; i++)
		if (c[i].status != UNET_ST_OK || c[i].context != ctx_of(i))
			why = "a completion's status or context is wrong";
	gt_result(got == RING && !why, "datapath-batch-contexts-in-order",
		  "%u completions: %s", got, why ? why : "");
	gt_result(k1 - k0 == 1, "datapath-batch-one-doorbell",
		  "%llu kicks for one batch of %d",
		  (unsigned long long)(k1 - k0), RING);
	for (i = 0, why = NULL; i < RING && !why; i++)
		why = take(i % 2 ? BUF : 8, (uint8_t)(0x40 + i), NULL);
	gt_result(!why, "datapath-batch-delivered-in-order", "%s", why);

	/* Two of four submitted; the other two are given back. */
	unet_send_reserve(tx, 4, &idx);
	for (i = 0; i < 4; i++)
		unet_send_prep(tx, idx + i, ch_tx, src[i], 8, ctx_of(i));
	unet_send_submit(tx, 2);
	got = (unsigned int)reap(tx, c, 2);
	unet_send_reserve(tx, 1, &idx2);
	gt_result(got == 2 && unet_send_outstanding(tx) == 0 && idx2 == idx + 2,
		  "datapath-partial-submit-gives-back",
		  "%u completions, %u outstanding, next slot %u (want %u)", got,
		  unet_send_outstanding(tx), idx2, idx + 2);
	unet_send_submit(tx, 0);
	why = take(8, 0x40, NULL);
	if (!why)
		why = take(8, 0x41, NULL);
	gt_result(!why && !gt_recv(rx, &(struct unet_recv){ 0 }, 200),
		  "datapath-partial-submit-sends-two", "%s",
		  why ? why : "a third message arrived");

	/* Reserved, never prepared, submitted: refused, not resent. */
	unet_send_reserve(tx, 2, &idx);
	unet_send_prep(tx, idx, ch_tx, src[1], 8, 7);
	unet_send_submit(tx, 2);
	got = (unsigned int)reap(tx, c, 2);
	gt_result(got == 2 && c[0].status == UNET_ST_OK && c[0].context == 7 &&
		  c[1].status == UNET_ST_BAD_CHANNEL && c[1].context == 0,
		  "datapath-unprepared-slot-refused",
		  "%u completions, statuses %s / %s", got,
		  unet_status_str(c[0].status), unet_status_str(c[1].status));
	why = take(8, 0x41, NULL);
	gt_result(!why && !gt_recv(rx, &(struct unet_recv){ 0 }, 200),
		  "datapath-unprepared-slot-sends-nothing", "%s",
		  why ? why : "the unprepared slot was sent");
}

static void free_batches(void)
{
	uint64_t ctx = 0;
	uint32_t idx;
	unsigned int got, i;
	const char *why;

	got = unet_fq_reserve(rx, 100, &idx);
	gt_result(got == RING, "datapath-fq-reserve-caps-at-room", "got %u", got);
	for (i = 0; i < got; i++)
		unet_fq_prep(rx, idx + i, (uintptr_t)pool[i], BUF,
			     ctx_of(i) ^ 0xffull << 56);
	unet_fq_submit(rx, got);
	got = unet_fq_reserve(rx, 1, &idx);
	unet_fq_submit(rx, 0);
	gt_result(got == 0, "datapath-fq-full-while-posted", "got %u", got);
	gt_result(unet_post_free(rx, (uintptr_t)pool[RING], BUF, 0) == -EAGAIN,
		  "datapath-post-free-full", "posted into a full free queue");

	src[0][0] = 0x77;
	if (unet_send_buf(tx, ch_tx, src[0], BUF, 1) ||
	    gt_send_done(tx, 10000) != UNET_ST_OK)
		gt_die("send");
	why = take(BUF, 0x77, &ctx);
	gt_result(!why && ctx == (ctx_of(0) ^ 0xffull << 56),
		  "datapath-buffer-context", "%s; context %#llx", why ? why : "",
		  (unsigned long long)ctx);
}

int main(void)
{
	u = gt_open();
	tx = small_ep();
	rx = small_ep();
	addresses();
	free_batches();		/* leaves RING buffers posted */
	send_batches();
	unet_ep_destroy(tx);
	unet_ep_destroy(rx);
	unet_close(u);
	return gt_exit();
}
