// SPDX-License-Identifier: GPL-2.0
/*
 * The NIC's replacement policies on the same access streams, run through
 * the module's own TLB code (kernel/tlb/tlb.c, compiled here as in the
 * host unit tests).  No timing: it counts misses, which the TLB code
 * decides alone, so the figures are exact and the same on any machine.
 *
 * Each of P processes streams M-byte messages from its own buffer of W
 * bytes, round after round, the processes taking turns message by
 * message (a job whose ranks all send).  A message looks each page up
 * once per frame that touches it, as the DMA engine does; a page that
 * misses is translated with the miss's batch of following pages of the
 * buffer (unet_tlb_batch(), as the agent does), the rest filled ahead.
 * A second workload mixes a hot loop that fits the TLB with a stream
 * that does not (scan resistance).
 *
 *   tlbsim [--json]
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernel/tlb/tlb.h"

#define PAGE		4096u
#define FRAME		1472u		/* payload of one wire frame */
#define TLB_ENTRIES	1024u
#define TLB_WAYS	4u	/* the module's defaults */
#define BATCH_MAX	64u

static struct unet_tlb_entry mem[TLB_ENTRIES];
static char page_cookie;

static void release(struct unet_tlb_entry *e, void *arg)
{
	(void)e;
	(void)arg;
}

struct sim {
	struct unet_tlb tlb;
	uint64_t lookups, misses, msgs;
};

static void sim_init(struct sim *s, enum unet_tlb_policy policy)
{
	u32 sets;

	memset(s, 0, sizeof(*s));
	if (unet_tlb_geometry(TLB_ENTRIES, TLB_WAYS, &sets)) {
		fprintf(stderr, "tlbsim: bad geometry\n");
		exit(1);
	}
	unet_tlb_init(&s->tlb, mem, sets, TLB_WAYS);
	s->tlb.policy = policy;
}

/* Translates @vpn and up to a batch of pages after it, below @end. */
static void miss(struct sim *s, u32 asid, u64 vpn, u64 end)
{
	u32 batch = unet_tlb_batch(&s->tlb, BATCH_MAX), i;

	s->misses++;
	for (i = 0; i < batch && vpn + i < end; i++) {
		struct unet_tlb_entry *slot;
		bool evicted;

		if (i && unet_tlb_peek(&s->tlb, asid, vpn + i, false))
			continue;
		slot = unet_tlb_reserve(&s->tlb, asid, vpn + i, 0, release,
					NULL, &evicted);
		if (!slot)
			break;
		unet_tlb_fill(&s->tlb, slot, &page_cookie, NULL, false, i > 0,
			      release, NULL);
	}
}

static void access_page(struct sim *s, u32 asid, u64 vpn, u64 end)
{
	struct unet_tlb_entry *e;

	s->lookups++;
	e = unet_tlb_lookup(&s->tlb, asid, vpn, false);
	if (!e) {
		miss(s, asid, vpn, end);
		e = unet_tlb_lookup(&s->tlb, asid, vpn, false);
	}
	if (e)
		unet_tlb_put(&s->tlb, e, release, NULL);
}

/* One message of @len bytes at byte @off of a buffer of @pages pages. */
static void message(struct sim *s, u32 asid, u64 off, u32 len, u64 pages)
{
	u64 base = (u64)asid << 24, pos;

	for (pos = off; pos < off + len; pos += FRAME) {
		u64 last = pos + FRAME < off + len ? pos + FRAME : off + len;
		u64 p;

		for (p = pos / PAGE; p <= (last - 1) / PAGE; p++)
			access_page(s, asid, base + p, base + pages);
	}
	s->msgs++;
}

/* P processes, each streaming @msg-byte messages from @ws bytes. */
static double cyclic(enum unet_tlb_policy policy, u32 procs, u64 ws, u32 msg,
		     u32 rounds)
{
	u64 per = ws / msg, pages = ws / PAGE, warm = 0;
	struct sim s;
	u32 r, p;
	u64 i;

	sim_init(&s, policy);
	for (r = 0; r < rounds; r++) {
		if (r == 1) {		/* the first round fills: not counted */
			warm = s.misses;
			s.msgs = 0;
		}
		for (i = 0; i < per; i++)
			for (p = 0; p < procs; p++)
				message(&s, p + 1, i * msg, msg, pages);
	}
	return (double)(s.misses - warm) / (double)s.msgs;
}

/*
 * A hot buffer that fits (half the reach), sent from every other message,
 * beside a stream four times the reach: the misses of the hot messages.
 */
static double hot_and_scan(enum unet_tlb_policy policy, u32 msg)
{
	u64 hot = (u64)TLB_ENTRIES / 2 * PAGE, scan = (u64)TLB_ENTRIES * 4 * PAGE;
	u64 hot_msgs = hot / msg, scan_msgs = scan / msg, n = 0, hot_misses = 0;
	struct sim s;
	u64 i;

	sim_init(&s, policy);
	for (i = 0; i < 8 * scan_msgs; i++) {
		u64 before = s.misses;

		message(&s, 1, (i % hot_msgs) * msg, msg, hot / PAGE);
		if (i >= 2 * hot_msgs) {
			hot_misses += s.misses - before;
			n++;
		}
		message(&s, 2, (i % scan_msgs) * msg, msg, scan / PAGE);
	}
	return (double)hot_misses / (double)n;
}

int main(int argc, char **argv)
{
	static const double reach[] = { 0.25, 0.5, 0.9, 1.5, 2, 4, 16 };
	static const u32 procs[] = { 1, 4, 8, 16, 32, 64 };
	static const char *const names[] = { "lru", "scan_resistant",
					     "ahead_first" };
	bool json = argc > 1 && !strcmp(argv[1], "--json");
	u64 reach_bytes = (u64)TLB_ENTRIES * PAGE;
	u32 msg = 65536, pol, i, j;

	if (argc > 1 && !json) {
		fprintf(stderr, "usage: tlbsim [--json]\n");
		return 2;
	}
	if (json)
		printf("{\"tlb_entries\":%u,\"ways\":%u,\"msg\":%u,", TLB_ENTRIES,
		       TLB_WAYS, msg);
	else
		printf("misses per 64 KiB message, %u-entry %u-way TLB, batches up to %u pages\n",
		       TLB_ENTRIES, TLB_WAYS, BATCH_MAX);
	for (pol = 0; pol < 3; pol++) {
		if (json)
			printf("%s\"%s\":{\"one_process\":{", pol ? "," : "",
			       names[pol]);
		else
			printf("\n%s\n  one process, working set / reach:", names[pol]);
		for (i = 0; i < sizeof(reach) / sizeof(reach[0]); i++) {
			u64 ws = (u64)(reach[i] * (double)reach_bytes) / msg * msg;
			double m = cyclic(pol, 1, ws, msg, 6);

			if (json)
				printf("%s\"%g\":%.3f", i ? "," : "", reach[i], m);
			else
				printf(" %gx %.2f", reach[i], m);
		}
		if (json)
			printf("},\"processes_1MiB\":{");
		else
			printf("\n  processes streaming 1 MiB each:");
		for (j = 0; j < sizeof(procs) / sizeof(procs[0]); j++) {
			double m = cyclic(pol, procs[j], 1u << 20, msg, 4);

			if (json)
				printf("%s\"%u\":%.3f", j ? "," : "", procs[j], m);
			else
				printf(" %u: %.2f", procs[j], m);
		}
		if (json)
			printf("},\"hot_beside_scan\":%.3f}", hot_and_scan(pol, msg));
		else
			printf("\n  a hot half-reach buffer beside a 4x-reach stream: %.2f\n",
			       hot_and_scan(pol, msg));
	}
	if (json)
		printf("}\n");
	return 0;
}
