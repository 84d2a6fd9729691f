// SPDX-License-Identifier: MIT
/*
 * firstuse: what U-Net/MM charges for memory it has not seen before, the
 * cost verbs charge as ibv_reg_mr (eval/regcost.c measures that).  Two
 * MM-mode endpoints of one process talk through the NIC's loopback path;
 * A sends, B receives into 32 warm 64 KiB buffers, 16 sends in flight.
 *
 *   first use   for each size (4 KiB .. 256 MiB): a fresh anonymous
 *               mapping, written by the application (memset), then sent
 *               once, whole, in messages of up to 64 KiB; every page
 *               misses the NIC's TLB.  Reported: that time minus the time
 *               to send the same bytes again right after it, warm in the
 *               TLB (so what remains is the first use): the same region
 *               when it fits in a quarter of the TLB (1 MiB of the default
 *               1024 entries, beside the receive buffers' 512), else one
 *               64 KiB buffer already warm, 16 MiB and 256 MiB being
 *               more than the TLB holds.  The median of these differences
 *               over several fresh mappings (100 up to 1 MiB, 3 at 16 MiB,
 *               1 at 256 MiB: at 1 MiB one difference moves by hundreds of
 *               microseconds under TCG, and the median of 20 did too).
 *   fresh       -n messages of 64 KiB (default 10000), each from a fresh
 *               mapping written by the application and unmapped once its
 *               send completed: MB/s that arrived.
 *
 *   firstuse [-n MSGS] [-s BYTES] [--json]
 *
 * -s BYTES measures the first use of that one size only (one of the five),
 * for a profile of it; the others are not printed (null in JSON).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "eval_pair.h"

#define die(what, err)	eval_die("firstuse", (what), (err))

#include "unet.h"

#define MSG	65536u
#define WINDOW	16u
#define RXBUFS	32u

static struct unet *u;
static struct unet_ep *a, *b;
static int ch_ab;
static char *rx;



static void setup(void)
{
	struct unet_ep_attr attr;
	struct eval_pair p;
	unsigned int i;

	unet_ep_attr_init(&attr);
	eval_pair_open("firstuse", &p, &attr);
	u = p.u;
	a = p.a;
	b = p.b;
	ch_ab = p.ch_ab;
	rx = mmap(NULL, (size_t)RXBUFS * MSG, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rx == MAP_FAILED)
		die("mmap", errno);
	memset(rx, 0, (size_t)RXBUFS * MSG);
	for (i = 0; i < RXBUFS; i++)
		if (unet_post_free(b, (uint64_t)(uintptr_t)(rx + (size_t)i * MSG),
				   MSG, i))
			die("post free", EIO);
}

/* A source of messages: the i-th message's bytes, and its release. */
struct source {
	const char *(*get)(struct source *s, size_t i, uint32_t *len);
	void (*put)(struct source *s, size_t i);
	char *base;
	size_t bytes;
	char *slot[WINDOW];
};

/* B takes what arrived and gives the buffer back; returns messages. */
static size_t drain_rx(void)
{
	struct unet_recv r;
	size_t got = 0;

	while (unet_recv_poll(b, &r) == 1) {
		unsigned int k;

		if (r.status != UNET_ST_OK) {
			fprintf(stderr, "firstuse: rx status %s\n",
				unet_status_str(r.status));
			exit(1);
		}
		for (k = 0; k < r.nbuf; k++) {
			const struct unet_buf *buf = unet_recv_buf(b, &r, k);

			if (unet_post_free(b, buf->addr, buf->len, buf->context))
				die("repost", EIO);
		}
		unet_recv_done(b, &r);
		got++;
	}
	return got;
}

/* Sends n messages from @s with WINDOW in flight; returns microseconds. */
static double stream(struct source *s, size_t n)
{
	size_t sent = 0, done = 0, arrived = 0;
	double t0 = eval_now_us(), limit = t0 + 120e6;

	while (arrived < n) {
		struct unet_send_comp c[WINDOW];
		int k, got;

		while (sent < n && sent - done < WINDOW) {
			uint32_t len;
			const char *p = s->get(s, sent, &len);
			int rc = unet_send_buf(a, (uint32_t)ch_ab, p, len, sent);

			if (rc == -EAGAIN)
				break;
			if (rc)
				die("send", -rc);
			sent++;
		}
		got = unet_send_poll(a, c, WINDOW);
		if (got < 0)
			die("send poll", -got);
		for (k = 0; k < got; k++) {
			if (c[k].status != UNET_ST_OK) {
				fprintf(stderr, "firstuse: send status %s\n",
					unet_status_str(c[k].status));
				exit(1);
			}
			if (s->put)
				s->put(s, (size_t)c[k].context);
			done++;
		}
		arrived += drain_rx();
		if (eval_now_us() > limit)
			die("stream", ETIMEDOUT);
	}
	while (done < sent) {
		struct unet_send_comp c[WINDOW];
		int k, got = unet_send_poll(a, c, WINDOW);

		for (k = 0; k < got; k++) {
			if (s->put)
				s->put(s, (size_t)c[k].context);
			done++;
		}
	}
	return eval_now_us() - t0;
}

/* A region sent once, whole. */
static const char *region_get(struct source *s, size_t i, uint32_t *len)
{
	size_t off = i * MSG;

	*len = (uint32_t)(s->bytes - off < MSG ? s->bytes - off : MSG);
	return s->base + off;
}

/* The same bytes from one warm buffer. */
static const char *warm_get(struct source *s, size_t i, uint32_t *len)
{
	size_t off = i * MSG;

	*len = (uint32_t)(s->bytes - off < MSG ? s->bytes - off : MSG);
	return s->slot[0];
}

/* Every message from a fresh mapping, unmapped when its send completes. */
static const char *fresh_get(struct source *s, size_t i, uint32_t *len)
{
	char *p = mmap(NULL, MSG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap", errno);
	memset(p, (int)(i & 0xff), MSG);
	s->slot[i % WINDOW] = p;
	*len = MSG;
	return p;
}

static void fresh_put(struct source *s, size_t i)
{
	munmap(s->slot[i % WINDOW], MSG);
	s->slot[i % WINDOW] = NULL;
}

static size_t msgs_for(size_t bytes)
{
	return (bytes + MSG - 1) / MSG;
}

/* Element @i of a JSON array of microseconds; null if not measured. */
static void json_us(size_t i, double us, int skipped)
{
	if (skipped)
		printf("%snull", i ? "," : "");
	else
		printf("%s%.2f", i ? "," : "", us);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 4096, 65536, 1u << 20, 16u << 20,
					256u << 20 };
	enum { NSIZES = sizeof(sizes) / sizeof(sizes[0]) };
	enum { REPS_MAX = 100 };
	double first[NSIZES], raw_first[NSIZES], samples[REPS_MAX];
	double warm[REPS_MAX], extra[REPS_MAX];
	size_t nfresh = 10000, only = 0, i;
	int json = 0, k;
	double fresh_mbps, t;
	struct unet_nic_info info;
	struct source s;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "-n") && k + 1 < argc)
			nfresh = strtoul(argv[++k], NULL, 0);
		else if (!strcmp(argv[k], "-s") && k + 1 < argc)
			only = strtoul(argv[++k], NULL, 0);
		else if (!strcmp(argv[k], "--json"))
			json = 1;
		else {
			fprintf(stderr, "usage: firstuse [-n MSGS] [-s BYTES] [--json]\n");
			return 2;
		}
	}
	if (!nfresh)
		nfresh = 1;
	for (i = 0; only && i < NSIZES && sizes[i] != only; i++)
		;
	if (i == NSIZES) {
		fprintf(stderr, "firstuse: -s takes 4096, 65536, 1048576, 16777216 or 268435456\n");
		return 2;
	}
	setup();
	if (unet_nic_info(u, 0, &info))
		die("nic info", EIO);
	memset(&s, 0, sizeof(s));
	s.slot[0] = malloc(MSG);
	if (!s.slot[0])
		die("malloc", ENOMEM);
	memset(s.slot[0], 7, MSG);
	s.get = warm_get;
	s.bytes = MSG;
	stream(&s, 64);		/* the warm buffer into the TLB */

	for (i = 0; i < NSIZES; i++) {
		size_t reps = sizes[i] <= (1u << 20) ? REPS_MAX :
			      sizes[i] <= (16u << 20) ? 3 : 1;
		size_t r;

		first[i] = raw_first[i] = 0;
		if (only && sizes[i] != only)
			continue;
		for (r = 0; r < reps; r++) {
			char *p = mmap(NULL, sizes[i], PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				die("mmap", errno);
			memset(p, (int)r, sizes[i]);
			s.get = region_get;
			s.base = p;
			s.bytes = sizes[i];
			samples[r] = stream(&s, msgs_for(sizes[i]));
			if (sizes[i] / 4096 > info.tlb_entries / 4)
				s.get = warm_get;
			warm[r] = stream(&s, msgs_for(sizes[i]));
			munmap(p, sizes[i]);
			s.get = warm_get;
		}
		/*
		 * Each fresh send is paired with the warm send right after
		 * it: the median of the differences, not the difference of
		 * the medians, which moved by milliseconds with the load on
		 * the host between the two series.
		 */
		for (r = 0; r < reps; r++)
			extra[r] = samples[r] - warm[r];
		raw_first[i] = eval_median(samples, reps);
		t = eval_median(extra, reps);
		first[i] = t > 0 ? t : 0;
	}

	memset(&s, 0, sizeof(s));
	s.get = fresh_get;
	s.put = fresh_put;
	t = stream(&s, nfresh);
	fresh_mbps = (double)nfresh * MSG / t;	/* bytes per us = MB/s */

	if (json) {
		printf("{\"tool\":\"firstuse\",\"sizes\":[");
		for (i = 0; i < NSIZES; i++)
			printf("%s%zu", i ? "," : "", sizes[i]);
		printf("],\"unetmm_first_use_us\":[");
		for (i = 0; i < NSIZES; i++)
			json_us(i, first[i], only && sizes[i] != only);
		printf("],\"first_send_us\":[");
		for (i = 0; i < NSIZES; i++)
			json_us(i, raw_first[i], only && sizes[i] != only);
		printf("],\"fresh_msgs\":%zu,\"fresh_MBps\":%.2f}\n", nfresh,
		       fresh_mbps);
	} else {
		for (i = 0; i < NSIZES; i++)
			if (!only || sizes[i] == only)
				printf("%10zu bytes: first use %10.2f us (first send %10.2f us)\n",
				       sizes[i], first[i], raw_first[i]);
		printf("fresh buffers: %zu x 64 KiB at %.2f MB/s\n", nfresh,
		       fresh_mbps);
	}
	unet_ep_destroy(a);
	unet_ep_destroy(b);
	unet_close(u);
	return 0;
}
