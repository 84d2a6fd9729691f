// SPDX-License-Identifier: MIT
/*
 * U-Net/MM across fork(): a thread of the parent streams messages from
 * buffer P (pattern A) to its own receiving endpoint while the main thread
 * forks.  The child at once writes pattern B over its copy of P, opens its
 * own /dev/unet context and exchanges its own data over loopback.  Every
 * message the parent receives must carry A (the child's writes never reach
 * the parent's pinned pages) and the child's carry B.  Then the parent
 * writes C into P and sends: the receiver must see C, not a page the NIC
 * pinned before the fork.  Several rounds.
 */
#include "mm_common.h"

#define PLEN	(6 * MM_PAGE + 1000)	/* spans 7 pages */
#define ROUNDS	6

static uint8_t *P;			/* the buffer everyone fights over */
static uint8_t *PPOOL;			/* the parent's receive buffer */

struct streamer {
	struct mm_pair *pair;
	uint32_t seed;			/* pattern in P */
	volatile bool stop;
	long sent, good, bad, errors;
	char why[160];
	uint8_t *pool, *scratch;
};

static void *stream(void *arg)
{
	struct streamer *s = arg;
	struct mm_pair *p = s->pair;

	while (!s->stop) {
		uint32_t got = 0;
		long bad;
		int st;

		if (unet_post_free(p->rx, (uintptr_t)s->pool, UNET_MAX_MSG, 0)) {
			snprintf(s->why, sizeof(s->why), "post free failed");
			s->errors++;
			break;
		}
		st = mm_send(p, P, PLEN);
		if (st != UNET_ST_OK) {
			snprintf(s->why, sizeof(s->why), "send status %s",
				 mm_st(st));
			s->errors++;
			break;
		}
		s->sent++;
		st = mm_recv_msg(p->rx, s->scratch, UNET_MAX_MSG, &got, false,
				 NULL, 0, NULL);
		if (st != UNET_ST_OK || got != PLEN) {
			snprintf(s->why, sizeof(s->why),
				 "rx status %s length %u", mm_st(st), got);
			s->errors++;
			break;
		}
		bad = gt_verify(s->scratch, PLEN, s->seed);
		if (bad >= 0) {
			if (!s->bad)
				snprintf(s->why, sizeof(s->why),
					 "message %ld byte %ld is %#x, want %#x (pattern A)%s",
					 s->sent, bad, s->scratch[bad],
					 gt_pattern(s->seed, bad),
					 gt_verify(s->scratch, PLEN,
						   s->seed + 1000) < 0 ?
					 ": it is the child's pattern B" : "");
			s->bad++;
		} else {
			s->good++;
		}
	}
	return NULL;
}

/* The child: scribble B over P, then its own context and traffic. */
static int child(uint32_t seed_b)
{
	struct mm_pair c;
	struct unet *u;
	uint8_t *pool = malloc(UNET_MAX_MSG), *scratch = malloc(UNET_MAX_MSG);
	uint8_t *own = malloc(3 * MM_PAGE);
	int i;

	gt_fill(P, PLEN, seed_b);
	memset(PPOOL, 0xCC, UNET_MAX_MSG);	/* its copy of the rx buffer */
	if (!pool || !scratch || !own)
		return 10;
	u = unet_open();
	if (!u)
		return 11;
	mm_pair_init(&c, u, 16);
	for (i = 0; i < 8; i++) {
		const uint8_t *src = i & 1 ? own : P;
		uint32_t len = i & 1 ? 3 * MM_PAGE : PLEN, got = 0;
		uint32_t seed = i & 1 ? seed_b + 7 + i : seed_b;
		int st;

		if (i & 1)
			gt_fill(own, len, seed);
		if (unet_post_free(c.rx, (uintptr_t)pool, UNET_MAX_MSG, 0))
			return 12;
		st = mm_send(&c, src, len);
		if (st != UNET_ST_OK) {
			printf("# child: send status %s\n", mm_st(st));
			return 13;
		}
		st = mm_recv_msg(c.rx, scratch, UNET_MAX_MSG, &got, false,
				 NULL, 0, NULL);
		if (st != UNET_ST_OK || got != len) {
			printf("# child: rx status %s len %u\n", mm_st(st), got);
			return 14;
		}
		if (gt_verify(scratch, len, seed) >= 0) {
			printf("# child: message %d is not its own data%s\n", i,
			       !(i & 1) && gt_verify(scratch, len, seed_b - 1000) < 0 ?
			       " (it is the parent's pattern A)" : "");
			return 15;
		}
	}
	/* The parent's context is not the child's to use. */
	mm_pair_destroy(&c);
	unet_close(u);
	return 0;
}

int main(void)
{
	struct unet *u = gt_open();
	struct mm_pair pair;
	struct streamer s;
	uint8_t *pool, *scratch;
	int round;

	mm_pair_init(&pair, u, 16);
	P = aligned_alloc(MM_PAGE, 8 * MM_PAGE);
	pool = aligned_alloc(MM_PAGE, UNET_MAX_MSG);
	scratch = malloc(UNET_MAX_MSG);
	if (!P || !pool || !scratch)
		gt_die("alloc");
	PPOOL = pool;
	P += 500;			/* not page aligned */

	for (round = 0; round < ROUNDS; round++) {
		uint32_t seed_a = 100 + round * 3, seed_c = seed_a + 1;
		char name[64];
		pthread_t t;
		pid_t pid;
		int status = 0, i;
		long sent_at_fork;
		const char *why = NULL;

		memset(&s, 0, sizeof(s));
		s.pair = &pair;
		s.seed = seed_a;
		s.pool = pool;
		s.scratch = scratch;
		gt_fill(P, PLEN, seed_a);
		if (pthread_create(&t, NULL, stream, &s))
			gt_die("pthread_create");
		/* Let traffic get going (and the TLB pin P) before forking. */
		for (i = 0; i < 100000 && s.sent < 3 && !s.errors; i++)
			usleep(1000);
		sent_at_fork = s.sent;
		pid = fork();
		if (pid < 0)
			gt_die("fork");
		if (pid == 0)
			_exit(child(seed_a + 1000));
		if (waitpid(pid, &status, 0) != pid)
			gt_die("waitpid");
		/* A few more messages after the child wrote B. */
		for (i = 0; i < 100000 && s.sent < sent_at_fork + 3 &&
			    !s.errors; i++)
			usleep(1000);
		s.stop = true;
		pthread_join(t, NULL);

		snprintf(name, sizeof(name), "fork-%d-parent-sees-A", round);
		gt_result(!s.errors && !s.bad && s.good > sent_at_fork, name,
			  "%ld good, %ld wrong, %ld errors: %s", s.good, s.bad,
			  s.errors, s.why);
		snprintf(name, sizeof(name), "fork-%d-child-traffic", round);
		gt_result(WIFEXITED(status) && WEXITSTATUS(status) == 0, name,
			  "child %s %d", WIFEXITED(status) ? "exited" : "killed by",
			  WIFEXITED(status) ? WEXITSTATUS(status) :
			  WTERMSIG(status));

		/* The parent writes C: the NIC must send C. */
		gt_fill(P, PLEN, seed_c);
		if (unet_post_free(pair.rx, (uintptr_t)pool, UNET_MAX_MSG, 0))
			gt_die("post free");
		{
			int st = mm_send(&pair, P, PLEN);
			uint32_t got = 0;

			if (st != UNET_ST_OK) {
				why = "send failed";
			} else {
				st = mm_recv_msg(pair.rx, scratch, UNET_MAX_MSG,
						 &got, false, NULL, 0, NULL);
				if (st != UNET_ST_OK || got != PLEN)
					why = "receive failed";
				else if (gt_verify(scratch, PLEN, seed_c) >= 0)
					why = gt_verify(scratch, PLEN, seed_a) < 0 ?
					      "receiver got the old pattern A (stale pinned page)" :
					      gt_verify(scratch, PLEN, seed_a + 1000) < 0 ?
					      "receiver got the child's pattern B" :
					      "receiver got neither C nor A";
			}
		}
		snprintf(name, sizeof(name), "fork-%d-parent-writes-C", round);
		gt_result(!why, name, "%s", why);
	}
	printf("# tlb_inval_protect %ld unmap %ld other %ld\n",
	       mm_ctr(u, UNET_NIC_tlb_inval_protect),
	       mm_ctr(u, UNET_NIC_tlb_inval_unmap),
	       mm_ctr(u, UNET_NIC_tlb_inval_other));
	mm_pair_destroy(&pair);
	unet_close(u);
	return gt_exit();
}
