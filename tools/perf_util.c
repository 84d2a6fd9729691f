// SPDX-License-Identifier: MIT
/* Messages, clocks and the --check pattern of the perf tools. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "perf.h"

/* Per-message complaints before going quiet. */
#define PERF_ERRORS_SHOWN	10

const char *perf_prog = "unet";
static char last_error[160];

int perf_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", perf_prog, last_error);
	return -1;
}

const char *perf_last_error(void)
{
	return last_error;
}

void perf_error_limited(struct perf_ctx *pc, const char *fmt, ...)
{
	va_list ap;

	if (pc->errors_shown > PERF_ERRORS_SHOWN)
		return;
	if (pc->errors_shown++ == PERF_ERRORS_SHOWN) {
		fprintf(stderr, "%s: further errors are counted, not shown\n",
			perf_prog);
		return;
	}
	fprintf(stderr, "%s: ", perf_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void perf_report_problems(const char *who, const struct perf_result *r)
{
	if (r->lost || r->errors || r->mismatches)
		fprintf(stderr, "%s: %s: %" PRIu64 " lost, %" PRIu64
			" send errors, %" PRIu64 " mismatches\n", perf_prog,
			who, r->lost, r->errors, r->mismatches);
}

uint64_t perf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *perf_mode_name(uint32_t mode)
{
	return mode == UNET_MODE_BASE ? "base" : "mm";
}

void perf_pattern_fill(void *buf, size_t len, uint64_t seq, size_t off)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = perf_pattern_byte(seq, off + i);
}

uint64_t perf_pattern_check(const void *buf, size_t len, uint64_t seq,
			    size_t off)
{
	const uint8_t *p = buf;
	uint64_t bad = 0;
	size_t i;

	for (i = 0; i < len; i++)
		bad += p[i] != perf_pattern_byte(seq, off + i);
	return bad;
}
