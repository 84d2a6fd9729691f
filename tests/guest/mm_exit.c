// SPDX-License-Identifier: MIT
/*
 * U-Net/MM: a process's translations die with it.  A child sends and
 * receives through many distinct pages (so the NIC's TLB holds and pins
 * them), then exits normally / exits with sends still queued / is killed
 * with SIGKILL while streaming; the NIC's pinned_pages counter must come
 * back to its value from before the child.
 */
#include "mm_common.h"

#define NPAGES	64
/*
 * The streaming child is killed only after this many rounds, not after a
 * fixed time: a defect that shows after N rounds (a queue that grows by
 * one a round) must not depend on how fast the guest runs.
 */
#define KILL_AFTER_ROUNDS	200
/* The streaming child's exit status when a round fails: base + traffic(). */
#define STREAM_FAILED	30

enum how { EXIT_NORMAL, EXIT_QUEUED, KILL_STREAMING, KILL_IDLE };

static const char *how_name[] = {
	[EXIT_NORMAL] = "exit-normal",
	[EXIT_QUEUED] = "exit-sends-queued",
	[KILL_STREAMING] = "sigkill-streaming",
	[KILL_IDLE] = "sigkill-idle",
};

/* One round of traffic over every page of src and pool; 0 or error. */
static int traffic(struct mm_pair *p, uint8_t *src, uint8_t *pool,
		   uint8_t *scratch, uint32_t seed)
{
	const uint32_t len = 16 * MM_PAGE;
	int m;

	for (m = 0; m < NPAGES / 16; m++) {
		uint8_t *s = src + m * len;
		uint32_t got = 0;
		int st;

		gt_fill(s, len, seed + m);
		if (unet_post_free(p->rx, (uintptr_t)(pool + m * len), len, 0))
			return 1;
		st = mm_send(p, s, len);
		if (st != UNET_ST_OK)
			return 2;
		st = mm_recv_msg(p->rx, scratch, len, &got, false, NULL, 0,
				 NULL);
		if (st != UNET_ST_OK || got != len ||
		    gt_verify(scratch, len, seed + m) >= 0)
			return 3;
	}
	return 0;
}

static void child(enum how how, int ready_fd, int go_fd,
		  volatile unsigned int *rounds)
{
	struct unet *u = unet_open();
	struct mm_pair p;
	struct unet_ep_stats es;
	uint8_t *src = aligned_alloc(MM_PAGE, NPAGES * MM_PAGE);
	uint8_t *pool = aligned_alloc(MM_PAGE, NPAGES * MM_PAGE);
	uint8_t *scratch = malloc(UNET_MAX_MSG);
	long pinned;
	char c;
	int i;

	if (!u || !src || !pool || !scratch)
		_exit(20);
	mm_pair_init(&p, u, 64);
	if (traffic(&p, src, pool, scratch, 1))
		_exit(21);
	if (unet_ep_stats(p.tx, &es))
		_exit(22);
	pinned = (long)es.ctr[UNET_CTR_pinned_pages];
	c = pinned > 0 ? 'y' : 'n';
	if (write(ready_fd, &c, 1) != 1)
		_exit(23);
	/* The parent samples the counter while we still hold the pages. */
	if (read(go_fd, &c, 1) != 1)
		_exit(27);
	switch (how) {
	case EXIT_NORMAL:
		exit(0);	/* no unet_close: the kernel cleans up */
	case EXIT_QUEUED:
		for (i = 0; i < 4; i++) {
			if (unet_post_free(p.rx, (uintptr_t)(pool + i * 16 * MM_PAGE),
					   16 * MM_PAGE, 0))
				_exit(24);
		}
		for (i = 0; i < 12; i++)
			unet_send_buf(p.tx, p.ch, src + (i % 4) * 16 * MM_PAGE,
				      16 * MM_PAGE, i);
		_exit(0);
	case KILL_STREAMING:
		/*
		 * One spare free buffer stays queued ahead of each round's,
		 * so the kill finds one posted; posting it every round
		 * would grow the free queue until it is full.
		 */
		if (unet_post_free(p.rx, (uintptr_t)pool, 16 * MM_PAGE, 0))
			_exit(STREAM_FAILED + 1);
		for (i = 2;; i++) {
			int rc;

			/* Evictions and misses keep coming: fresh pages. */
			rc = traffic(&p, src, pool, scratch, i);
			if (rc)
				_exit(STREAM_FAILED + rc);
			__atomic_add_fetch(rounds, 1, __ATOMIC_RELEASE);
		}
	case KILL_IDLE:
		for (;;)
			pause();
	}
	_exit(26);
}

static void one(struct unet *u, enum how how)
{
	long before = mm_ctr(u, UNET_NIC_pinned_pages), during, after;
	char name[64], c = 0;
	int fds[2], go[2], status = 0;
	volatile unsigned int *rounds;
	unsigned int streamed = 0;
	bool reaped = false;
	pid_t pid;

	snprintf(name, sizeof(name), "exit-%s", how_name[how]);
	if (pipe(fds) || pipe(go))
		gt_die("pipe");
	rounds = mmap(NULL, sizeof(*rounds), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rounds == MAP_FAILED)
		gt_die("mmap shared");
	*rounds = 0;
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (pid == 0) {
		close(fds[0]);
		close(go[1]);
		child(how, fds[1], go[0], rounds);
	}
	close(fds[1]);
	close(go[0]);
	if (read(fds[0], &c, 1) != 1) {
		close(go[1]);
		waitpid(pid, &status, 0);
		gt_result(false, name, "child failed before it was ready (status %#x)",
			  status);
		close(fds[0]);
		munmap((void *)rounds, sizeof(*rounds));
		return;
	}
	close(fds[0]);
	during = mm_ctr(u, UNET_NIC_pinned_pages);
	if (write(go[1], "g", 1) != 1)
		gt_die("write pipe");
	close(go[1]);
	if (how == KILL_STREAMING) {
		/* Until enough rounds, the child's own end, or 60 s. */
		for (int ms = 0; ms < 60000; ms++) {
			streamed = __atomic_load_n(rounds, __ATOMIC_ACQUIRE);
			if (streamed >= KILL_AFTER_ROUNDS)
				break;
			reaped = waitpid(pid, &status, WNOHANG) == pid;
			if (reaped)
				break;
			usleep(1000);
		}
		if (!reaped)	/* a reaped pid may be someone else's now */
			kill(pid, SIGKILL);
	} else if (how == KILL_IDLE) {
		usleep(10000);
		kill(pid, SIGKILL);
	}
	if (!reaped && waitpid(pid, &status, 0) != pid)
		gt_die("waitpid");
	munmap((void *)rounds, sizeof(*rounds));
	after = mm_wait_ctr_le(u, UNET_NIC_pinned_pages, before, 10000);
	printf("# %s: pinned_pages before %ld, child running %ld, after %ld\n",
	       how_name[how], before, during, after);
	if (how == KILL_STREAMING && WIFEXITED(status) &&
	    WEXITSTATUS(status) > STREAM_FAILED) {
		gt_result(false, name,
			  "the streaming child's round %u failed: traffic() %d (1 post_free, 2 send, 3 receive)",
			  streamed + 1, WEXITSTATUS(status) - STREAM_FAILED);
		return;
	}
	if (how == KILL_STREAMING && streamed < KILL_AFTER_ROUNDS) {
		gt_result(false, name, "the child streamed %u rounds of %d in 60 s",
			  streamed, KILL_AFTER_ROUNDS);
		return;
	}
	if (how == KILL_STREAMING || how == KILL_IDLE) {
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
			gt_result(false, name, "child not killed (status %#x)",
				  status);
			return;
		}
	} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		gt_result(false, name, "child failed (status %#x)", status);
		return;
	}
	if (mm_nopin()) {
		/* Pin-free: the child's traffic must have pinned nothing. */
		gt_result(c == 'n' && before == 0 && during == 0 && after == 0,
			  name, "translate=nopin but pinned_pages %ld -> %ld -> %ld (ctx %c)",
			  before, during, after, c);
		return;
	}
	if (c != 'y' || during <= before) {
		gt_result(false, name,
			  "the child's traffic pinned nothing (ctx %c, nic %ld -> %ld)",
			  c, before, during);
		return;
	}
	gt_result(after == before, name,
		  "pinned_pages %ld after the child, %ld before", after, before);
}

int main(void)
{
	struct unet *u = gt_open();

	one(u, EXIT_NORMAL);
	one(u, EXIT_QUEUED);
	one(u, KILL_STREAMING);
	one(u, KILL_IDLE);

	/* The NIC still works for a fresh process-local pair. */
	{
		struct mm_pair p;
		uint8_t *src = aligned_alloc(MM_PAGE, NPAGES * MM_PAGE);
		uint8_t *pool = aligned_alloc(MM_PAGE, NPAGES * MM_PAGE);
		uint8_t *scratch = malloc(UNET_MAX_MSG);

		if (!src || !pool || !scratch)
			gt_die("alloc");
		mm_pair_init(&p, u, 64);
		gt_result(traffic(&p, src, pool, scratch, 77) == 0,
			  "exit-nic-still-works", "traffic failed");
		mm_pair_destroy(&p);
	}
	/* Translations belong to the context: gone when it closes. */
	unet_close(u);
	u = gt_open();
	gt_result(mm_wait_ctr_le(u, UNET_NIC_pinned_pages, 0, 10000) == 0,
		  "exit-all-unpinned", "pinned_pages %ld with no context left",
		  mm_ctr(u, UNET_NIC_pinned_pages));
	unet_close(u);
	return gt_exit();
}
