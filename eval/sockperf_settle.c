// SPDX-License-Identifier: MIT
/*
 * sockperf_settle.so: preloaded into make demo's sockperf clients, it
 * shortens the one pause sockperf takes that measures nothing.
 *
 * sockperf's client (3.7 in Debian 12) calls sleep(2) between its
 * warm-up and its measurement, with no option to change it
 * (--pre-warmup-wait is a different sleep, and refuses 0).  The demo runs
 * 48 sockperf clients per setup, so the pause alone is over a minute and
 * a half of each setup.  With this library, a call of sleep(2) sleeps
 * SOCKPERF_SETTLE_MS milliseconds instead (default 200: the warm-up's
 * replies arrive in well under a millisecond here, and sockperf then
 * ignores the first 400 ms of its measurement as well).  Every other
 * sleep() keeps its length.
 *
 *   LD_PRELOAD=build/eval/sockperf_settle.so sockperf ping-pong ...
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define SOCKPERF_PAUSE_S	2u
#define DEFAULT_SETTLE_MS	200L

static long settle_ms(void)
{
	const char *s = getenv("SOCKPERF_SETTLE_MS");
	char *end;
	long ms;

	if (!s || !*s)
		return DEFAULT_SETTLE_MS;
	errno = 0;
	ms = strtol(s, &end, 10);
	if (errno || *end || ms < 0 || ms > 1000L * SOCKPERF_PAUSE_S)
		return DEFAULT_SETTLE_MS;
	return ms;
}

/* sleep(3) as glibc has it, but for the one call shortened. */
unsigned int sleep(unsigned int seconds)
{
	struct timespec left, req = { .tv_sec = seconds };

	if (seconds == SOCKPERF_PAUSE_S) {
		long ms = settle_ms();

		req.tv_sec = ms / 1000;
		req.tv_nsec = ms % 1000 * 1000000L;
	}
	if (nanosleep(&req, &left) == 0)
		return 0;
	return (unsigned int)left.tv_sec + (left.tv_nsec > 0);
}
