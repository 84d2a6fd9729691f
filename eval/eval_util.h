/* SPDX-License-Identifier: MIT */
/*
 * What the evaluation's small C programs share: failing loudly, a
 * microsecond clock and the median of a sample.  Header only, so that each
 * program stays one file to build.
 */
#ifndef UNET_EVAL_UTIL_H
#define UNET_EVAL_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "PROG: WHAT: strerror(err)" on stderr, exit 1. */
static inline void __attribute__((noreturn))
eval_die(const char *prog, const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(err));
	exit(1);
}

static inline double eval_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static inline int eval_cmp_double(const void *x, const void *y)
{
	double d = *(const double *)x - *(const double *)y;

	return d < 0 ? -1 : d > 0;
}

/* Sorts @v in place; the mean of the middle two when @n is even. */
static inline double eval_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), eval_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif /* UNET_EVAL_UTIL_H */
