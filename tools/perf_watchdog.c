// SPDX-License-Identifier: MIT
/*
 * Waiting in a perf test: spin or sleep, and every so often look at the
 * clock and at the TCP connection, so that a lost message or a peer that
 * gave up ends the test instead of hanging it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "perf.h"

#define NSEC_PER_SEC		1000000000ull
/* How often an idle side looks at the clock and at the TCP socket. */
#define PERF_SPINS_PER_CHECK	1024u
#define PERF_PEEK_NS		(100ull * 1000 * 1000)
#define PERF_SLEEP_MS		100

void perf_watch_start(struct perf_ctx *pc)
{
	uint64_t now = perf_now_ns();

	pc->wd_deadline = pc->o->timeout ?
			  now + pc->o->timeout * NSEC_PER_SEC : 0;
	pc->wd_next_peek = now + PERF_PEEK_NS;
	pc->wd_spins = 0;
	pc->wd_progress = false;
	pc->peer_data = false;
}

static int check_progress(struct perf_ctx *pc, const char *what)
{
	uint64_t now = perf_now_ns();

	if (pc->wd_progress) {
		pc->wd_progress = false;
		if (pc->o->timeout)
			pc->wd_deadline = now + pc->o->timeout * NSEC_PER_SEC;
	}
	if (now >= pc->wd_next_peek) {
		ssize_t n;
		char c;

		pc->wd_next_peek = now + PERF_PEEK_NS;
		/*
		 * Data is fine (the peer's results may overtake our last
		 * message); an orderly close means the peer gave up.
		 */
		n = recv(pc->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0)
			return perf_error("%s closed the connection while this side was %s",
					  pc->peer_name, what);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return perf_error("lost the connection to %s while %s: %s",
					  pc->peer_name, what, strerror(errno));
		if (n > 0)
			pc->peer_data = true;
	}
	if (pc->wd_deadline && now >= pc->wd_deadline)
		return perf_error("nothing happened for %" PRIu32 " s while %s; giving up (message lost?)",
				  pc->o->timeout, what);
	return 1;
}

int perf_idle(struct perf_ctx *pc, const char *what)
{
	if (pc->o->block) {
		/* The perf loops reap completions as they go. */
		int rc = unet_wait_send(pc->u, PERF_SLEEP_MS);

		if (rc < 0 && rc != -EINTR)
			return perf_error("unet_wait_send: %s", strerror(-rc));
		return check_progress(pc, what);
	}
	if (pc->o->busy_poll && !pc->bp_skip) {
		int rc = unet_busy_poll(pc->ep, pc->o->busy_poll);

		if (rc == -ENODATA) {
			/* Nothing from the wire yet: nothing to poll. */
			pc->bp_skip = PERF_SPINS_PER_CHECK;
		} else if (rc < 0 && rc != -EINTR) {
			fprintf(stderr, "%s: warning: unet_busy_poll: %s; polling the queues only\n",
				perf_prog, strerror(-rc));
			pc->o->busy_poll = 0;
		}
	} else {
		if (pc->bp_skip)
			pc->bp_skip--;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	if (++pc->wd_spins % PERF_SPINS_PER_CHECK)
		return 0;
	return check_progress(pc, what);
}
