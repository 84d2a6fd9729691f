/* SPDX-License-Identifier: MIT */
/*
 * Hostile hosts: raw 0x88B5 frames from guest 2 (AF_PACKET on eth0) to
 * guest 1's MAC, while a checked stream runs between the guests on a
 * legitimate channel.
 *
 *   fuzz_frames 1|2 [--seed N] [--frames N] [--checked N]
 *
 * Guest 1 owns: R, the checked stream's endpoint (channel to guest 2's S);
 * V0, V1, victims whose only channel is from guest 2's endpoint L, which
 * never sends; F, a sink with channels from (guest 2's MAC, 0x7000+k),
 * k < 8, so that hostile fragments reach its reassembly engine.  Guest 2
 * sends random bytes, truncated and oversized headers, bad versions and
 * types, bad lengths, tags of no endpoint and of R/V from unknown sources,
 * and fragment games (overlapping, out of range, duplicated, never
 * completed, changing geometry) on F's channels.
 *
 * Ethernet has no sender authentication: a frame carrying exactly the
 * (source MAC, source endpoint) of a channel is that channel's by design.
 * So the fuzzer never sends (guest 2's MAC, S) to R or (guest 2's MAC, L)
 * to V0/V1; everything else it does send must never reach R, V0 or V1.
 *
 * Checks (guest 1): R's stream complete and byte-exact; nothing reaches
 * V0/V1; guard bytes around every free buffer of R, V, F intact; F's
 * messages only on F's channels; reasm_active never above the number of
 * channels; and the NIC's drop_bad_header / drop_no_endpoint /
 * drop_no_channel / drop_not_host deltas equal what an independent
 * decoder (written from docs/WIRE.md) predicts for the frames guest 2
 * sent.  Among them: broadcast and multicast frames carrying the tags of
 * live channels, and tags naming a live endpoint's slot, or a channel's
 * source, with another generation (stale ids).
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>

#include "fuzz.h"

#define NFCH	8
#define FBASE	0x7000u

static uint8_t g1mac[6], g2mac[6];

/* The decoder's rules, from docs/WIRE.md.  0: accepted. */
static int oracle_decode(const uint8_t *p, uint32_t len, uint32_t *dst,
			 uint32_t *src)
{
	uint32_t fs, ml, fo, fl;

	if (len < 28 || p[0] != 1 || p[1] != 1)
		return 1;
	fs = (uint32_t)p[2] << 8 | p[3];
	*dst = ntohl(*(uint32_t *)(p + 4));
	*src = ntohl(*(uint32_t *)(p + 8));
	ml = ntohl(*(uint32_t *)(p + 16));
	fo = ntohl(*(uint32_t *)(p + 20));
	fl = (uint32_t)p[24] << 8 | p[25];
	if (fl > len - 28)
		return 1;
	if (ml > 65536 || fo > ml || fl > ml - fo)
		return 1;
	if (!fs)
		return 1;
	if (fo == 0 && fl == ml && fl <= fs)
		return 0;
	if (fs < 256 || fo % fs)
		return 1;
	if (fl != fs && fo + fl != ml)
		return 1;
	if (fl > fs || (!fl && ml))
		return 1;
	return 0;
}

static void put_hdr(uint8_t *p, uint8_t ver, uint8_t type, uint16_t fs,
		    uint32_t dst, uint32_t src, uint32_t id, uint32_t ml,
		    uint32_t fo, uint16_t fl)
{
	p[0] = ver;
	p[1] = type;
	p[2] = fs >> 8;
	p[3] = (uint8_t)fs;
	*(uint32_t *)(p + 4) = htonl(dst);
	*(uint32_t *)(p + 8) = htonl(src);
	*(uint32_t *)(p + 12) = htonl(id);
	*(uint32_t *)(p + 16) = htonl(ml);
	*(uint32_t *)(p + 20) = htonl(fo);
	p[24] = fl >> 8;
	p[25] = (uint8_t)fl;
	p[26] = p[27] = 0;
}

/* ----------------------------------------------------------- guest 2 ---- */

struct g2_counts {
	uint32_t sent, bad, noep, nochan, tof, nothost;
};

static void hostile(uint32_t nframes, const uint32_t *ids, uint32_t S,
		    uint32_t L, struct g2_counts *c)
{
	uint32_t R = ids[0], V0 = ids[1], V1 = ids[2], F = ids[3];
	int sk = socket(AF_PACKET, SOCK_RAW, htons(UNET_ETHERTYPE));
	struct sockaddr_ll sa = { .sll_family = AF_PACKET,
				  .sll_protocol = htons(UNET_ETHERTYPE),
				  .sll_halen = 6 };
	static uint8_t fr[1600];
	uint32_t msg_id[NFCH] = { 0 };

	if (sk < 0)
		gt_die("AF_PACKET socket");
	sa.sll_ifindex = (int)if_nametoindex("eth0");
	memcpy(sa.sll_addr, g1mac, 6);
	while (c->sent < nframes) {
		uint8_t *p = fr + 14;
		uint32_t plen = 28, cls = fz_below(100), dst = 0, src = 0;
		uint32_t mtu_pay = 1500 - 28;

		memcpy(fr, g1mac, 6);
		memcpy(fr + 6, g2mac, 6);
		fr[12] = 0x88;
		fr[13] = 0xb5;
		if (fz_chance(10)) {
			fz_bytes(fr + 6, 6);
			fr[6] &= 0xfe;		/* unicast source */
		}
		if (fz_chance(6)) {
			/*
			 * Broadcast or multicast, even with the exact tag of a
			 * legitimate channel: for no endpoint in particular.
			 */
			static const uint8_t group[2][6] = {
				{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
				{ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 },
			};

			memcpy(fr, group[fz_below(2)], 6);
			memcpy(fr + 6, g2mac, 6);
			put_hdr(p, 1, 1, 100, fz_chance(50) ? R : F,
				fz_chance(50) ? S : FBASE + fz_below(NFCH),
				(uint32_t)fz_rand(), 100, 0, 100);
			fz_bytes(p + 28, 100);
			plen = 128;
			c->nothost++;
			goto send;
		}
		if (fz_chance(6)) {
			/*
			 * A stale id: a live endpoint's slot with another
			 * generation, as destination, or a channel's source
			 * with another generation.
			 */
			uint32_t gen = (1 + fz_below(0xffff)) << 16;
			uint32_t d = (uint32_t[]){ R, V0, V1, F }[fz_below(4)];
			uint32_t sr = FBASE + fz_below(NFCH);

			memcpy(fr + 6, g2mac, 6);
			if (fz_chance(50)) {
				put_hdr(p, 1, 1, 200, d ^ gen, sr, fz_below(9),
					200, 0, 200);
				c->noep++;
			} else {
				put_hdr(p, 1, 1, 200, F, sr ^ gen, fz_below(9),
					200, 0, 200);
				c->nochan++;
			}
			fz_bytes(p + 28, 200);
			plen = 228;
			goto send;
		}
		if (cls < 10) {
			plen = fz_below(1501);
			fz_bytes(p, plen);
		} else if (cls < 18) {
			plen = fz_below(28);
			fz_bytes(p, plen);
			if (plen >= 2)
				p[0] = p[1] = 1;
		} else if (cls < 26) {
			put_hdr(p, fz_chance(50) ? (uint8_t)fz_rand() : 1,
				fz_chance(50) ? (uint8_t)fz_rand() : 1,
				(uint16_t)fz_rand(), F, FBASE + fz_below(NFCH),
				(uint32_t)fz_rand(), fz_below(100), 0,
				fz_below(100));
			plen = 28 + fz_below(100);
		} else if (cls < 40) {
			/* Lengths that do not add up. */
			uint32_t ml = fz_u32(), fo = fz_u32();
			uint16_t fl = (uint16_t)fz_u32();

			put_hdr(p, 1, 1, (uint16_t)fz_u32(),
				fz_chance(50) ? F : R, FBASE + fz_below(NFCH),
				(uint32_t)fz_rand(), ml, fo, fl);
			plen = 28 + fz_below(1472);
			fz_bytes(p + 28, plen - 28);
		} else if (cls < 50) {
			put_hdr(p, 1, 1, 1472,
				fz_chance(30) ? 0 : 0x40000000u + fz_below(1u << 30),
				(uint32_t)fz_rand(), 1, 64, 0, 64);
			plen = 28 + 64;
		} else if (cls < 62) {
			/* Tags of R and the victims, from sources they do not know. */
			uint32_t d = (uint32_t[]){ R, V0, V1 }[fz_below(3)];
			uint32_t s = fz_chance(50) ? fz_u32() : S + 1 + fz_below(4);

			put_hdr(p, 1, 1, 1472, d, s, fz_below(4), 2000,
				fz_below(2) * 1472, 0);
			p[24] = 0;
			p[25] = 200;
			*(uint32_t *)(p + 16) = htonl(fz_chance(50) ? 80 : 3000);
			*(uint32_t *)(p + 20) = 0;
			plen = 28 + 200;
			if (ntohl(*(uint32_t *)(p + 16)) == 80) {
				p[25] = 80;
				plen = 28 + 80;
			}
			fz_bytes(p + 28, plen - 28);
		} else {
			/* Fragment games on F's channels. */
			uint32_t k = fz_below(NFCH);
			uint16_t fs = fz_chance(80) ? (uint16_t)(256 + fz_below(mtu_pay - 255))
						    : (uint16_t)fz_u32();
			uint32_t ml, nfr, idx, fo, fl;

			if (fz_chance(30))
				msg_id[k]++;
			if (fz_chance(10))
				msg_id[k] = (uint32_t)fz_rand();
			ml = fz_chance(20) ? fz_below(200) : fz_below(65537);
			if (!fs)
				fs = 256;
			nfr = (ml + fs - 1) / fs;
			if (!nfr)
				nfr = 1;
			idx = fz_below(nfr + (fz_chance(10) ? 3 : 0));
			fo = idx * fs + (fz_chance(10) ? fz_below(fs) : 0);
			fl = fo < ml ? ml - fo : 0;
			if (fl > fs)
				fl = fs;
			if (fz_chance(10))
				fl = fz_below(mtu_pay);
			if (fl > mtu_pay)
				fl = mtu_pay;
			put_hdr(p, 1, 1, fs, F, FBASE + k, msg_id[k], ml, fo,
				(uint16_t)fl);
			plen = 28 + fl;
			fz_bytes(p + 28, fl);
			if (fz_chance(5) && plen > 28)
				plen -= 1 + fz_below(plen - 28);	/* short */
		}
		/* Never the exact tag of a legitimate channel (see above). */
		if (plen >= 12) {
			uint32_t d = ntohl(*(uint32_t *)(p + 4));
			uint32_t s = ntohl(*(uint32_t *)(p + 8));

			if (!memcmp(fr + 6, g2mac, 6) &&
			    ((d == R && s == S) ||
			     ((d == V0 || d == V1) && s == L)))
				*(uint32_t *)(p + 8) = htonl(s + 100000);
		}
		/* Pad as Ethernet would, so the oracle sees what the NIC sees. */
		if (plen < 46) {
			memset(p + plen, 0, 46 - plen);
			plen = 46;
		}
		if (oracle_decode(p, plen, &dst, &src)) {
			c->bad++;
		} else if (dst != R && dst != V0 && dst != V1 && dst != F) {
			c->noep++;
		} else if (dst != F || memcmp(fr + 6, g2mac, 6) ||
			   src < FBASE || src >= FBASE + NFCH) {
			c->nochan++;
		} else {
			c->tof++;
		}
send:
		while (sendto(sk, fr, 14 + plen, 0, (void *)&sa,
			      sizeof(sa)) < 0) {
			if (errno != ENOBUFS && errno != EAGAIN)
				gt_die("sendto");
			usleep(200);
		}
		c->sent++;
		if ((c->sent & 63) == 0)
			usleep(100);	/* let the checked stream breathe */
	}
	close(sk);
}

static int guest2(uint32_t nframes, uint32_t checked)
{
	struct unet *u = gt_open();
	struct unet_ep *L = gt_ep(u, UNET_MODE_MM, 0);
	struct fz_stream_res *res = fz_shared(sizeof(*res));
	struct fz_stream s, *sp = &s;
	uint32_t mine[4], ids[4], bar;
	struct g2_counts *cp = fz_shared(sizeof(*cp)), c;
	uint32_t out[8], in[8];
	struct unet_nic_stats n0, n1;
	pid_t pid;
	int st;

	fz_stream_init(&s, u, UNET_MODE_MM, 3001, checked, res);
	s.peer_id = 3000;
	mine[0] = unet_ep_id(s.ep);
	mine[1] = unet_ep_id(L);
	mine[2] = mine[3] = 0;
	fz_swap_array(false, "169.254.88.1", 18700, mine, ids, 4);
	fz_stream_connect(&s, g1mac, ids[0]);
	/* Before the barrier: guest 1 may send the moment it passes it. */
	if (fz_nic_stats(&n0))
		gt_die("stats");
	fz_swap_array(false, "169.254.88.1", 18701, mine, &bar, 1);
	/* The hostile sender needs no context: it may be the child. */
	pid = fork();
	if (pid == 0) {
		hostile(nframes, ids, mine[0], mine[1], cp);
		_exit(0);
	}
	s.last_progress = gt_now_ms();
	fz_streams_run(&sp, 1, 10000);
	waitpid(pid, &st, 0);
	c = *cp;
	if (fz_nic_stats(&n1))
		gt_die("stats");
	printf("# guest 2: %u frames: %u bad header, %u no endpoint, %u no channel, %u to F, %u broadcast/multicast\n",
	       c.sent, c.bad, c.noep, c.nochan, c.tof, c.nothost);
	fz_stream_print("frames-checked-g2", res);
	out[0] = c.sent; out[1] = c.bad; out[2] = c.noep; out[3] = c.nochan;
	out[4] = (uint32_t)res->misdelivered;
	out[5] = (uint32_t)res->unaccounted;
	out[6] = (uint32_t)(n1.ctr[UNET_NIC_tx_frames] - n0.ctr[UNET_NIC_tx_frames]);
	out[7] = c.nothost;
	fz_swap_array(false, "169.254.88.1", 18702, out, in, 8);
	/* The other direction of the lossless link: in[0] is what guest 1's
	 * NIC sent us, all of it before the exchange. */
	usleep(300000);
	if (fz_nic_stats(&n1))
		gt_die("stats");
	gt_result(n1.ctr[UNET_NIC_rx_frames] - n0.ctr[UNET_NIC_rx_frames] ==
		  in[0], "fuzz-frames-link-lossless-g2",
		  "guest 1 sent %u frames, %llu reached guest 2's NIC", in[0],
		  (unsigned long long)(n1.ctr[UNET_NIC_rx_frames] -
				       n0.ctr[UNET_NIC_rx_frames]));
	return gt_exit();
}

/* ----------------------------------------------------------- guest 1 ---- */

static void sink_drain(struct fz_stream *f, int nch, uint64_t *foreign)
{
	struct unet_recv r;

	for (int i = 0; i < 64 && unet_recv_poll(f->ep, &r) > 0; i++) {
		struct unet_buf bufs[FZ_NSLOT];
		unsigned int n = r.nbuf < FZ_NSLOT ? r.nbuf : FZ_NSLOT;

		if ((int)r.channel >= nch)
			(*foreign)++;
		for (unsigned int k = 0; k < n; k++)
			bufs[k] = *unet_recv_buf(f->ep, &r, k);
		unet_recv_done(f->ep, &r);
		for (unsigned int k = 0; k < n; k++) {
			fz_check_guard(f, bufs[k].addr);
			unet_post_free(f->ep, bufs[k].addr, bufs[k].len, 0);
		}
	}
}

static long nic(struct unet_nic_stats *st, int c)
{
	return (long)st->ctr[c];
}

static int guest1(uint32_t checked)
{
	struct unet *u = gt_open();
	struct fz_stream_res *res = fz_shared(sizeof(*res) * 4);
	struct fz_stream R, V[2], F, *rp = &R;
	struct unet_nic_stats a, b;
	uint32_t mine[4], theirs[4], bar = 0, in[8], out[8] = { 0 };
	long link_lost;
	uint64_t foreign = 0, victim_msgs = 0;
	long reasm_max = 0;
	long mis, unacc, d_bad, d_noep, d_nochan, d_nothost;
	uint64_t seed_dummy = 0;

	(void)seed_dummy;
	fz_stream_init(&R, u, UNET_MODE_MM, 3000, checked, &res[0]);
	R.peer_id = 3001;
	fz_stream_init(&V[0], u, UNET_MODE_MM, 3100, 0, &res[1]);
	fz_stream_init(&V[1], u, UNET_MODE_BASE, 3101, 0, &res[2]);
	fz_stream_init(&F, u, UNET_MODE_MM, 3200, 0, &res[3]);
	mine[0] = unet_ep_id(R.ep);
	mine[1] = unet_ep_id(V[0].ep);
	mine[2] = unet_ep_id(V[1].ep);
	mine[3] = unet_ep_id(F.ep);
	fz_swap_array(true, NULL, 18700, mine, theirs, 4);
	fz_stream_connect(&R, g2mac, theirs[0]);
	fz_stream_connect(&V[0], g2mac, theirs[1]);
	fz_stream_connect(&V[1], g2mac, theirs[1]);
	for (int k = 0; k < NFCH; k++)
		if (gt_chan_to(F.ep, g2mac, FBASE + k) < 0)
			gt_die("sink channel");
	if (fz_nic_stats(&a))
		gt_die("stats");
	fz_swap_array(true, NULL, 18701, &bar, &bar, 1);
	R.last_progress = gt_now_ms();

	/* Until R's stream is done; V and F drained all along. */
	{
		double last = gt_now_ms();
		uint64_t prev = 0;

		for (;;) {
			bool busy = fz_stream_step(&R);
			uint64_t now = R.res->received + R.res->sent + R.peer_acked;
			struct unet_nic_stats st;

			for (int i = 0; i < 2; i++) {
				struct unet_recv r;

				while (unet_recv_poll(V[i].ep, &r) > 0) {
					victim_msgs++;
					fz_stream_take(&V[i], &r);
				}
			}
			sink_drain(&F, NFCH, &foreign);
			if (!fz_nic_stats(&st) &&
			    nic(&st, UNET_NIC_reasm_active) > reasm_max)
				reasm_max = nic(&st, UNET_NIC_reasm_active);
			if (!busy)
				break;
			if (now != prev) {
				prev = now;
				last = gt_now_ms();
			} else if (gt_now_ms() - last > 15000) {
				break;
			} else {
				usleep(200);
			}
		}
	}
	fz_stream_finish(&R);
	(void)rp;
	/* Guest 2 reports when its hostile frames are all sent; we tell it
	 * how many frames our NIC sent it. */
	if (fz_nic_stats(&b))
		gt_die("stats");
	out[0] = (uint32_t)(nic(&b, UNET_NIC_tx_frames) -
			    nic(&a, UNET_NIC_tx_frames));
	fz_swap_array(true, NULL, 18702, out, in, 8);
	usleep(300000);
	for (int i = 0; i < 2; i++) {
		struct unet_recv r;

		while (unet_recv_poll(V[i].ep, &r) > 0) {
			victim_msgs++;
			fz_stream_take(&V[i], &r);
		}
		fz_check_all_guards(&V[i]);
	}
	sink_drain(&F, NFCH, &foreign);
	fz_check_all_guards(&F);
	if (fz_nic_stats(&b))
		gt_die("stats");
	d_bad = nic(&b, UNET_NIC_drop_bad_header) - nic(&a, UNET_NIC_drop_bad_header);
	d_noep = nic(&b, UNET_NIC_drop_no_endpoint) - nic(&a, UNET_NIC_drop_no_endpoint);
	d_nochan = nic(&b, UNET_NIC_drop_no_channel) - nic(&a, UNET_NIC_drop_no_channel);
	d_nothost = nic(&b, UNET_NIC_drop_not_host) - nic(&a, UNET_NIC_drop_not_host);
	printf("# guest 1: rx_frames +%ld; drops bad_header +%ld (predicted %u), "
	       "no_endpoint +%ld (%u), no_channel +%ld (%u), not_host +%ld (%u); "
	       "reasm_active max %ld; reasm timeouts +%ld, bad frags +%ld\n",
	       nic(&b, UNET_NIC_rx_frames) - nic(&a, UNET_NIC_rx_frames),
	       d_bad, in[1], d_noep, in[2], d_nochan, in[3], d_nothost, in[7],
	       reasm_max,
	       nic(&b, UNET_NIC_drop_reasm_timeout) - nic(&a, UNET_NIC_drop_reasm_timeout),
	       nic(&b, UNET_NIC_drop_reasm_bad_frag) - nic(&a, UNET_NIC_drop_reasm_bad_frag));
	fz_stream_print("frames-checked-g1", R.res);
	mis = (long)(R.res->misdelivered + V[0].res->misdelivered +
		     V[1].res->misdelivered + V[0].res->rx_err +
		     V[1].res->rx_err + F.res->misdelivered + foreign + in[4]);
	/*
	 * Frames guest 1's NIC never saw: sent (hostile + guest 2's NIC)
	 * minus received.  The link between the guests is lossless and
	 * flow-controlled, so any deficit is a loss no counter explains;
	 * a checked message lost that way is an unaccounted loss, however
	 * the stream's own accounting saw it.
	 */
	link_lost = (long)in[0] + (long)in[6] -
		    (nic(&b, UNET_NIC_rx_frames) - nic(&a, UNET_NIC_rx_frames));
	unacc = (long)R.res->unaccounted + (long)in[5] + labs(link_lost);
	printf("# link: %ld frames sent never reached guest 1's NIC\n", link_lost);
	gt_result(!victim_msgs, "fuzz-frames-victims", "%llu messages reached victims",
		  (unsigned long long)victim_msgs);
	gt_result(!mis, "fuzz-frames-misdelivery", "%ld misdelivered", mis);
	gt_result(!link_lost, "fuzz-frames-link-lossless",
		  "%ld frames sent, %ld reached guest 1's NIC",
		  (long)in[0] + (long)in[6],
		  nic(&b, UNET_NIC_rx_frames) - nic(&a, UNET_NIC_rx_frames));
	gt_result(!unacc, "fuzz-frames-checked-traffic",
		  "lost %llu (unaccounted %ld)",
		  (unsigned long long)R.res->lost, unacc);
	gt_result(reasm_max <= NFCH + 2, "fuzz-frames-reasm-bounded",
		  "reasm_active reached %ld with %d channels", reasm_max,
		  NFCH + 3);
	/*
	 * Every hostile frame the independent decoder says must be dropped
	 * is counted, in its own class: not one more, not one less.
	 */
	gt_result(d_bad == in[1] && d_noep == in[2] && d_nochan == in[3] &&
		  d_nothost == in[7], "fuzz-frames-drops-counted",
		  "bad_header %ld of %u, no_endpoint %ld of %u, no_channel %ld of %u, not_host %ld of %u",
		  d_bad, in[1], d_noep, in[2], d_nochan, in[3], d_nothost,
		  in[7]);
	printf("FUZZJSON {\"fuzzer\":\"frames\",\"frame_cases\":%u,"
	       "\"misdelivered\":%ld,\"lost_accounted\":%ld,"
	       "\"checked_msgs\":%llu,\"reasm_active_max\":%ld,"
	       "\"drop_count_mismatch\":%ld,\"link_lost_frames\":%ld,\"failures\":%d}\n",
	       in[0], mis, unacc, (unsigned long long)R.res->received,
	       reasm_max,
	       labs(d_bad - (long)in[1]) + labs(d_noep - (long)in[2]) +
	       labs(d_nochan - (long)in[3]) + labs(d_nothost - (long)in[7]),
	       link_lost, gt_failed);
	return gt_exit();
}

int main(int argc, char **argv)
{
	int g = argc > 1 ? atoi(argv[1]) : 0;
	uint64_t seed;

	if (g != 1 && g != 2) {
		fprintf(stderr, "usage: fuzz_frames 1|2 [--seed N] [--frames N] [--checked N]\n");
		return 2;
	}
	seed = fz_seed_arg(argc, argv, "fuzz_frames");
	(void)seed;
	gt_peer_mac(1, g1mac);
	gt_peer_mac(2, g2mac);
	if (g == 2)
		return guest2((uint32_t)fz_long_arg(argc, argv, "--frames", 100000),
			      (uint32_t)fz_long_arg(argc, argv, "--checked", 1000));
	return guest1((uint32_t)fz_long_arg(argc, argv, "--checked", 1000));
}
