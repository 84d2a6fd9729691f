// SPDX-License-Identifier: GPL-2.0
/* Wire header codec and validation: kernel/nic/wire.[ch]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "../../kernel/nic/wire.h"

#include <unetmm.h>

#define FRAME_MAX	(UNET_WIRE_HDR_LEN + 65535)

static struct unet_wire_hdr hdr(u32 msg_len, u16 frag_size, u32 frag_off,
				u16 frag_len)
{
	struct unet_wire_hdr h = {
		.version = UNET_WIRE_VERSION,
		.type = UNET_WIRE_DATA,
		.frag_size = frag_size,
		.dst_ep = 7,
		.src_ep = 9,
		.msg_id = 42,
		.msg_len = msg_len,
		.frag_off = frag_off,
		.frag_len = frag_len,
	};
	return h;
}

static bool hdr_eq(const struct unet_wire_hdr *a, const struct unet_wire_hdr *b)
{
	return a->version == b->version && a->type == b->type &&
	       a->frag_size == b->frag_size && a->dst_ep == b->dst_ep &&
	       a->src_ep == b->src_ep && a->msg_id == b->msg_id &&
	       a->msg_len == b->msg_len && a->frag_off == b->frag_off &&
	       a->frag_len == b->frag_len;
}

/*
 * Encodes h into a heap buffer of exactly len bytes (len >= header) and
 * decodes it from there, so the sanitizer catches any read past len.
 */
static int roundtrip(const struct unet_wire_hdr *h, u32 len,
		     struct unet_wire_hdr *out)
{
	u8 *buf = malloc(len ? len : 1);
	u8 tmp[UNET_WIRE_HDR_LEN];
	int ret;

	if (!buf)
		abort();
	unet_wire_encode(h, tmp);
	memset(buf, 0xa5, len);
	memcpy(buf, tmp, len < UNET_WIRE_HDR_LEN ? len : UNET_WIRE_HDR_LEN);
	memset(out, 0, sizeof(*out));
	ret = unet_wire_decode(buf, len, out);
	free(buf);
	return ret;
}

/* Header plus exactly frag_len payload bytes. */
static int check_frame(struct unet_wire_hdr h)
{
	struct unet_wire_hdr out;

	return roundtrip(&h, UNET_WIRE_HDR_LEN + h.frag_len, &out);
}

TEST(wire_roundtrip)
{
	unsigned long long seed = 0x5eed0001;
	struct unet_wire_hdr h, out;
	u8 buf[UNET_WIRE_HDR_LEN], again[UNET_WIRE_HDR_LEN];
	int i;

	for (i = 0; i < 20000 && !UNIT_FAILED(); i++) {
		u32 msg_len, frag_size, frag_off, frag_len, nfrags;

		/* A valid fragment of a random message. */
		msg_len = unit_below(&seed, UNET_MAX_MSG + 1);
		if (i % 5 == 0) {
			if (msg_len > 65535)	/* frag_len is 16 bits */
				msg_len = 65535;
			/* Single frame, any frag_size >= msg_len. */
			frag_size = msg_len + unit_below(&seed, 65536 - msg_len);
			if (!frag_size)
				frag_size = 1;
			if (frag_size > 65535)
				frag_size = 65535;
			frag_off = 0;
			frag_len = msg_len;
		} else {
			frag_size = UNET_WIRE_MIN_FRAG +
				    unit_below(&seed, 9000 - UNET_WIRE_MIN_FRAG);
			nfrags = unet_wire_nfrags(msg_len, frag_size);
			frag_off = unit_below(&seed, nfrags) * frag_size;
			frag_len = msg_len - frag_off < frag_size ?
				   msg_len - frag_off : frag_size;
			if (!msg_len)
				frag_len = 0;
		}
		h = hdr(msg_len, frag_size, frag_off, frag_len);
		h.dst_ep = (u32)unit_rand(&seed);
		h.src_ep = (u32)unit_rand(&seed);
		h.msg_id = (u32)unit_rand(&seed);

		CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN + frag_len, &out),
			 UNET_WIRE_OK);
		CHECK(hdr_eq(&h, &out));
		/* Re-encoding the decoded header gives the same bytes. */
		unet_wire_encode(&h, buf);
		unet_wire_encode(&out, again);
		CHECK(!memcmp(buf, again, sizeof(buf)));
		CHECK(unet_wire_frag_index(&out) < UNET_WIRE_MAX_FRAGS);
	}

	/* Extreme field values survive as well. */
	h = hdr(UNET_MAX_MSG, 65535, 65535, 1);
	h.dst_ep = UINT32_MAX;
	h.src_ep = 0x80000001u;
	h.msg_id = UINT32_MAX;
	CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN + 1, &out), UNET_WIRE_OK);
	CHECK(hdr_eq(&h, &out));
}

TEST(wire_byte_order)
{
	struct unet_wire_hdr h = hdr(0x00010000, 0x05c0, 0x0000b800, 0x05c0);
	static const u8 want[UNET_WIRE_HDR_LEN] = {
		0x01, 0x01, 0x05, 0xc0,			/* version type frag_size */
		0x11, 0x22, 0x33, 0x44,			/* dst_ep */
		0x55, 0x66, 0x77, 0x88,			/* src_ep */
		0x99, 0xaa, 0xbb, 0xcc,			/* msg_id */
		0x00, 0x01, 0x00, 0x00,			/* msg_len */
		0x00, 0x00, 0xb8, 0x00,			/* frag_off */
		0x05, 0xc0, 0x00, 0x00,			/* frag_len, reserved */
	};
	u8 buf[UNET_WIRE_HDR_LEN];
	int i;

	h.dst_ep = 0x11223344;
	h.src_ep = 0x55667788;
	h.msg_id = 0x99aabbcc;
	memset(buf, 0xff, sizeof(buf));
	unet_wire_encode(&h, buf);
	for (i = 0; i < UNET_WIRE_HDR_LEN; i++)
		if (!unit_check(buf[i] == want[i], __FILE__, __LINE__,
				"byte %d: %#x, want %#x", i, buf[i], want[i]))
			break;
}

TEST(wire_decode_raw_bytes)
{
	/* Decoding hand-made big-endian bytes gives the host values. */
	u8 buf[UNET_WIRE_HDR_LEN + 3] = {
		0x01, 0x01, 0x01, 0x00,
		0xde, 0xad, 0xbe, 0xef,
		0x00, 0x00, 0x00, 0x02,
		0x00, 0x00, 0x01, 0x00,
		0x00, 0x00, 0x01, 0x03,			/* msg_len 259 */
		0x00, 0x00, 0x01, 0x00,			/* frag_off 256 */
		0x00, 0x03, 0x12, 0x34,			/* frag_len 3, reserved */
		'a', 'b', 'c',
	};
	struct unet_wire_hdr h;

	CHECK_EQ(unet_wire_decode(buf, sizeof(buf), &h), UNET_WIRE_OK);
	CHECK_EQ(h.version, 1);
	CHECK_EQ(h.type, UNET_WIRE_DATA);
	CHECK_EQ(h.frag_size, 256);
	CHECK_EQ(h.dst_ep, 0xdeadbeefu);
	CHECK_EQ(h.src_ep, 2);
	CHECK_EQ(h.msg_id, 256);
	CHECK_EQ(h.msg_len, 259);
	CHECK_EQ(h.frag_off, 256);
	CHECK_EQ(h.frag_len, 3);
	CHECK_EQ(unet_wire_frag_index(&h), 1);
}

TEST(wire_short)
{
	struct unet_wire_hdr h = hdr(10, 10, 0, 10), out;
	u32 len;

	/* Shorter than the header, down to nothing. */
	for (len = 0; len < UNET_WIRE_HDR_LEN; len++)
		CHECK_EQ(roundtrip(&h, len, &out), UNET_WIRE_SHORT);
	/* Header present, payload not all there. */
	for (len = UNET_WIRE_HDR_LEN; len < UNET_WIRE_HDR_LEN + 10; len++)
		CHECK_EQ(roundtrip(&h, len, &out), UNET_WIRE_SHORT);
	CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN + 10, &out), UNET_WIRE_OK);
	/* Padding after the payload (minimum Ethernet frame) is fine. */
	CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN + 40, &out), UNET_WIRE_OK);
	CHECK_EQ(out.frag_len, 10);

	/* A huge frag_len with a bare header. */
	h = hdr(65535, 65535, 0, 65535);
	CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN, &out), UNET_WIRE_SHORT);
	CHECK_EQ(roundtrip(&h, FRAME_MAX - 1, &out), UNET_WIRE_SHORT);
	CHECK_EQ(roundtrip(&h, FRAME_MAX, &out), UNET_WIRE_OK);
}

TEST(wire_bad_version)
{
	struct unet_wire_hdr h = hdr(10, 10, 0, 10), out;
	int v;

	for (v = 0; v < 256; v++) {
		if (v == UNET_WIRE_VERSION)
			continue;
		h.version = v;
		CHECK_EQ(check_frame(h), UNET_WIRE_VERSION_MISMATCH);
	}
	/* Reported even with nothing after the header. */
	h.version = 2;
	h.frag_len = 10;
	CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN, &out),
		 UNET_WIRE_VERSION_MISMATCH);
}

TEST(wire_bad_type)
{
	struct unet_wire_hdr h = hdr(10, 10, 0, 10);
	int t;

	for (t = 0; t < 256; t++) {
		if (t == UNET_WIRE_DATA)
			continue;
		h.type = t;
		CHECK_EQ(check_frame(h), UNET_WIRE_BAD_TYPE);
	}
}

TEST(wire_msg_too_long)
{
	CHECK_EQ(check_frame(hdr(UNET_MAX_MSG + 1, 1024, 0, 1024)),
		 UNET_WIRE_BAD_LENGTH);
	CHECK_EQ(check_frame(hdr(UINT32_MAX, 1024, 0, 1024)),
		 UNET_WIRE_BAD_LENGTH);
	CHECK_EQ(check_frame(hdr(UNET_MAX_MSG + 1, 1024, UNET_MAX_MSG, 1)),
		 UNET_WIRE_BAD_LENGTH);
	/* The boundary itself is fine. */
	CHECK_EQ(check_frame(hdr(UNET_MAX_MSG, 1024, 0, 1024)), UNET_WIRE_OK);
	CHECK_EQ(check_frame(hdr(UNET_MAX_MSG, 1024, UNET_MAX_MSG - 1024, 1024)),
		 UNET_WIRE_OK);
}

TEST(wire_frag_past_end)
{
	/* Starts past the end. */
	CHECK_EQ(check_frame(hdr(1000, 256, 1024, 0)), UNET_WIRE_BAD_LENGTH);
	CHECK_EQ(check_frame(hdr(1000, 256, 1024, 10)), UNET_WIRE_BAD_LENGTH);
	CHECK_EQ(check_frame(hdr(0, 256, 256, 0)), UNET_WIRE_BAD_LENGTH);
	CHECK_EQ(check_frame(hdr(1000, 256, UINT32_MAX, 1)),
		 UNET_WIRE_BAD_LENGTH);
	/* Runs past the end. */
	CHECK_EQ(check_frame(hdr(1000, 256, 768, 256)), UNET_WIRE_BAD_LENGTH);
	CHECK_EQ(check_frame(hdr(1000, 1000, 0, 1001)), UNET_WIRE_BAD_LENGTH);
	CHECK_EQ(check_frame(hdr(0, 1, 0, 1)), UNET_WIRE_BAD_LENGTH);
	/* frag_off + frag_len overflowing 32 bits must not sneak through. */
	CHECK_EQ(check_frame(hdr(1000, 256, UINT32_MAX - 100, 256)),
		 UNET_WIRE_BAD_LENGTH);
	/* Exactly to the end is fine. */
	CHECK_EQ(check_frame(hdr(1000, 256, 768, 232)), UNET_WIRE_OK);
}

TEST(wire_frag_len_beyond_frame)
{
	struct unet_wire_hdr h = hdr(4096, 1024, 1024, 1024), out;

	CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN + 1023, &out),
		 UNET_WIRE_SHORT);
	CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN + 1, &out), UNET_WIRE_SHORT);
	CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN, &out), UNET_WIRE_SHORT);
	CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN + 1024, &out), UNET_WIRE_OK);
}

TEST(wire_frag_size_zero)
{
	CHECK_EQ(check_frame(hdr(10, 0, 0, 10)), UNET_WIRE_BAD_FRAG);
	CHECK_EQ(check_frame(hdr(0, 0, 0, 0)), UNET_WIRE_BAD_FRAG);
	CHECK_EQ(check_frame(hdr(4096, 0, 1024, 1024)), UNET_WIRE_BAD_FRAG);
}

TEST(wire_short_nonfinal_frag)
{
	/* Every fragment but the last carries exactly frag_size bytes. */
	CHECK_EQ(check_frame(hdr(4096, 1024, 0, 1023)), UNET_WIRE_BAD_FRAG);
	CHECK_EQ(check_frame(hdr(4096, 1024, 1024, 1)), UNET_WIRE_BAD_FRAG);
	CHECK_EQ(check_frame(hdr(4096, 1024, 2048, 512)), UNET_WIRE_BAD_FRAG);
	/* The last one may be short. */
	CHECK_EQ(check_frame(hdr(4000, 1024, 3072, 928)), UNET_WIRE_OK);
	/* ... but not shorter than what is left of the message. */
	CHECK_EQ(check_frame(hdr(4000, 1024, 3072, 927)), UNET_WIRE_BAD_FRAG);
	/* And no fragment is longer than frag_size. */
	CHECK_EQ(check_frame(hdr(4096, 1024, 0, 2048)), UNET_WIRE_BAD_FRAG);
	CHECK_EQ(check_frame(hdr(4096, 1024, 3072 - 1024, 2048)),
		 UNET_WIRE_BAD_FRAG);
}

TEST(wire_frag_off_misaligned)
{
	CHECK_EQ(check_frame(hdr(4096, 1024, 1, 1024)), UNET_WIRE_BAD_FRAG);
	CHECK_EQ(check_frame(hdr(4096, 1024, 1000, 1024)), UNET_WIRE_BAD_FRAG);
	CHECK_EQ(check_frame(hdr(4096, 1024, 3073, 1023)), UNET_WIRE_BAD_FRAG);
	CHECK_EQ(check_frame(hdr(4096, 1472, 1024, 1472)), UNET_WIRE_BAD_FRAG);
	CHECK_EQ(check_frame(hdr(4096, 1024, 2048, 1024)), UNET_WIRE_OK);
}

TEST(wire_frag_size_below_min)
{
	u32 fs;

	/* Multi-fragment messages need frag_size >= UNET_WIRE_MIN_FRAG... */
	for (fs = 1; fs < UNET_WIRE_MIN_FRAG; fs++) {
		CHECK_EQ(check_frame(hdr(4 * fs, fs, 0, fs)),
			 UNET_WIRE_BAD_FRAG);
		CHECK_EQ(check_frame(hdr(4 * fs, fs, 3 * fs, fs)),
			 UNET_WIRE_BAD_FRAG);
	}
	CHECK_EQ(check_frame(hdr(4 * UNET_WIRE_MIN_FRAG, UNET_WIRE_MIN_FRAG,
				 UNET_WIRE_MIN_FRAG, UNET_WIRE_MIN_FRAG)),
		 UNET_WIRE_OK);
	/* ... while a single frame message may use any. */
	CHECK_EQ(check_frame(hdr(1, 1, 0, 1)), UNET_WIRE_OK);
	CHECK_EQ(check_frame(hdr(100, 100, 0, 100)), UNET_WIRE_OK);
	CHECK_EQ(check_frame(hdr(100, 200, 0, 100)), UNET_WIRE_OK);
}

TEST(wire_zero_len_frag)
{
	/* An empty fragment of a non-empty message, at its end. */
	CHECK_EQ(check_frame(hdr(512, 256, 512, 0)), UNET_WIRE_BAD_FRAG);
	CHECK_EQ(check_frame(hdr(UNET_MAX_MSG, 256, UNET_MAX_MSG, 0)),
		 UNET_WIRE_BAD_FRAG);
	/* ... or in the middle. */
	CHECK_EQ(check_frame(hdr(1024, 256, 256, 0)), UNET_WIRE_BAD_FRAG);
	CHECK_EQ(check_frame(hdr(1024, 256, 0, 0)), UNET_WIRE_BAD_FRAG);
	CHECK_EQ(check_frame(hdr(100, 100, 0, 0)), UNET_WIRE_BAD_FRAG);
}

TEST(wire_single_frame)
{
	struct unet_wire_hdr h, out;
	u32 len;

	/* The empty message. */
	h = hdr(0, 1, 0, 0);
	CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN, &out), UNET_WIRE_OK);
	CHECK_EQ(out.msg_len, 0);
	CHECK_EQ(out.frag_len, 0);
	CHECK_EQ(unet_wire_frag_index(&out), 0);
	h = hdr(0, 1472, 0, 0);
	CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN, &out), UNET_WIRE_OK);
	CHECK_EQ(unet_wire_nfrags(0, 1472), 1);

	for (len = 1; len <= 1472; len += 13) {
		CHECK_EQ(check_frame(hdr(len, 1472, 0, len)), UNET_WIRE_OK);
		CHECK_EQ(check_frame(hdr(len, len, 0, len)), UNET_WIRE_OK);
		CHECK_EQ(unet_wire_nfrags(len, 1472), 1);
	}
	CHECK_EQ(check_frame(hdr(65535, 65535, 0, 65535)), UNET_WIRE_OK);
}

TEST(wire_fragmented_64k)
{
	const u32 msg_len = UNET_MAX_MSG, fs = 1472;
	u32 nfrags = unet_wire_nfrags(msg_len, fs), i, covered = 0;
	struct unet_wire_hdr h, out;

	CHECK_EQ(nfrags, 45);
	CHECK(nfrags <= UNET_WIRE_MAX_FRAGS);
	for (i = 0; i < nfrags; i++) {
		u32 off = i * fs;
		u16 flen = msg_len - off < fs ? msg_len - off : fs;

		h = hdr(msg_len, fs, off, flen);
		CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN + flen, &out),
			 UNET_WIRE_OK);
		CHECK(hdr_eq(&h, &out));
		CHECK_EQ(unet_wire_frag_index(&out), i);
		CHECK(unet_wire_frag_index(&out) < UNET_WIRE_MAX_FRAGS);
		covered += out.frag_len;
	}
	CHECK_EQ(covered, msg_len);
	CHECK_EQ(msg_len - (nfrags - 1) * fs, 768);

	/* The smallest fragments give the most of them: all fit the bitmap. */
	nfrags = unet_wire_nfrags(msg_len, UNET_WIRE_MIN_FRAG);
	CHECK_EQ(nfrags, UNET_WIRE_MAX_FRAGS);
	for (i = 0; i < nfrags; i++) {
		h = hdr(msg_len, UNET_WIRE_MIN_FRAG, i * UNET_WIRE_MIN_FRAG,
			UNET_WIRE_MIN_FRAG);
		CHECK_EQ(roundtrip(&h, UNET_WIRE_HDR_LEN + UNET_WIRE_MIN_FRAG,
				   &out), UNET_WIRE_OK);
		CHECK_EQ(unet_wire_frag_index(&out), i);
		CHECK(unet_wire_frag_index(&out) < UNET_WIRE_MAX_FRAGS);
	}
}

static void check_ok_invariants(const struct unet_wire_hdr *h, u32 len)
{
	CHECK_EQ(h->version, UNET_WIRE_VERSION);
	CHECK_EQ(h->type, UNET_WIRE_DATA);
	CHECK(h->msg_len <= UNET_MAX_MSG);
	CHECK((unsigned long long)h->frag_off + h->frag_len <= h->msg_len);
	CHECK(UNET_WIRE_HDR_LEN + (u32)h->frag_len <= len);
	CHECK(h->frag_size != 0);
	if (h->frag_size)
		CHECK(unet_wire_frag_index(h) < UNET_WIRE_MAX_FRAGS);
	if (h->msg_len)
		CHECK(h->frag_len > 0);
}

/*
 * Random frames, mostly near-valid so the later checks are reached too.
 * Each decodes from a heap block of exactly len bytes: under ASan a read
 * past len is a heap-buffer-overflow.
 */
TEST(wire_fuzz)
{
	unsigned long long seed = 0xf022f022;
	u32 iter, ok = 0, err = 0;

	for (iter = 0; iter < 200000 && !UNIT_FAILED(); iter++) {
		u32 len = unit_below(&seed, 65), i;
		u8 *buf = malloc(len ? len : 1);
		struct unet_wire_hdr h;
		int ret;

		if (!buf)
			abort();
		for (i = 0; i < len; i++)
			buf[i] = (u8)unit_rand(&seed);
		if (len >= UNET_WIRE_HDR_LEN && unit_below(&seed, 4)) {
			/*
			 * Start from a plausible header (a whole message, or
			 * the last fragment of one), then flip a few bytes.
			 */
			struct unet_wire_hdr v = { 0 };
			u32 room = len - UNET_WIRE_HDR_LEN, flips;

			v.version = UNET_WIRE_VERSION;
			v.type = UNET_WIRE_DATA;
			v.dst_ep = (u32)unit_rand(&seed);
			v.frag_len = unit_below(&seed, room + 1);
			if (unit_below(&seed, 2)) {
				v.frag_size = 1 + unit_below(&seed, 65535);
				v.msg_len = v.frag_len;
			} else {
				v.frag_size = UNET_WIRE_MIN_FRAG +
					      unit_below(&seed, 2048);
				v.frag_off = v.frag_size *
					     unit_below(&seed, UNET_WIRE_MAX_FRAGS);
				v.msg_len = v.frag_off + v.frag_len;
			}
			unet_wire_encode(&v, buf);
			for (flips = unit_below(&seed, 4); flips; flips--)
				buf[unit_below(&seed, UNET_WIRE_HDR_LEN)] ^=
					1u << unit_below(&seed, 8);
		}
		memset(&h, 0, sizeof(h));
		ret = unet_wire_decode(buf, len, &h);
		CHECK(ret >= UNET_WIRE_OK && ret <= UNET_WIRE_BAD_FRAG);
		if (ret == UNET_WIRE_OK) {
			ok++;
			check_ok_invariants(&h, len);
		} else {
			err++;
		}
		if (len < UNET_WIRE_HDR_LEN)
			CHECK_EQ(ret, UNET_WIRE_SHORT);
		free(buf);
	}
	/* The bias must actually reach the OK path. */
	CHECK(ok > 10000);
	CHECK(err > 10000);
}

static int add_cand(u32 *c, int n, long long v)
{
	int i;

	if (v < 0 || v > 65535)
		return n;
	for (i = 0; i < n; i++)
		if (c[i] == v)
			return n;
	c[n] = v;
	return n + 1;
}

/*
 * Over many small geometries and every interesting offset and length near
 * them: OK exactly when a straightforward reference says so.
 */
TEST(wire_geometry_reference)
{
	static const u32 sizes[] = { 1, 100, 255, 256, 300, 1024, 1472 };
	static const u32 lens[] = { 0, 1, 100, 255, 256, 257, 600, 1024, 2000,
				    4416, 65536 };
	unsigned si, li;

	for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
			long long fs = sizes[si], ml = lens[li], k;
			u32 offs[64], flens[16];
			int no = 0, nl, oi, fi;

			for (k = -1; k <= 1; k++) {
				no = add_cand(offs, no, k);
				no = add_cand(offs, no, fs + k);
				no = add_cand(offs, no, 2 * fs + k);
				no = add_cand(offs, no, ml + k);
				no = add_cand(offs, no, ml - fs + k);
				no = add_cand(offs, no, (ml / fs) * fs + k);
				no = add_cand(offs, no, ((ml - 1) / fs) * fs + k);
			}
			for (oi = 0; oi < no; oi++) {
				long long off = offs[oi];

				nl = 0;
				for (k = -1; k <= 1; k++) {
					nl = add_cand(flens, nl, k);
					nl = add_cand(flens, nl, fs + k);
					nl = add_cand(flens, nl, ml - off + k);
				}
				for (fi = 0; fi < nl; fi++) {
					long long flen = flens[fi];
					bool single = off == 0 && flen == ml &&
						      flen <= fs;
					bool multi = fs >= UNET_WIRE_MIN_FRAG &&
						     off % fs == 0 &&
						     off + flen <= ml &&
						     flen > 0 &&
						     (flen == fs ||
						      (off + flen == ml &&
						       flen < fs));
					bool want = ml <= UNET_MAX_MSG &&
						    (single || multi);
					int ret = check_frame(hdr(ml, fs, off,
								  flen));

					if (!unit_check((ret == UNET_WIRE_OK) == want,
							__FILE__, __LINE__,
							"msg_len %lld frag_size %lld off %lld len %lld: ret %d",
							ml, fs, off, flen, ret))
						return;
				}
			}
		}
	}
}
