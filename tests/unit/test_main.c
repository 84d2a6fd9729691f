// SPDX-License-Identifier: GPL-2.0
/*
 * Runs the host unit tests.
 *
 *   unit [--prefix P] [FILTER]
 *
 * runs every registered test whose name contains FILTER (all if none) and
 * prints one PASS/FAIL line per test, then "N passed, N failed".  Lines
 * read "PASS P/name"; P is --prefix, else $UNIT_PREFIX, else "unit".
 * Exits 1 if a test failed or the filter matched nothing, 2 on bad usage.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define UNIT_MAX_TESTS	256

static struct {
	const char *name;
	unit_fn fn;
} tests[UNIT_MAX_TESTS];
static int nr_tests;

static bool cur_failed;
static char cur_msg[512];

void unit_register(const char *name, unit_fn fn)
{
	if (nr_tests == UNIT_MAX_TESTS) {
		fprintf(stderr, "unit: too many tests (raise UNIT_MAX_TESTS)\n");
		exit(2);
	}
	tests[nr_tests].name = name;
	tests[nr_tests].fn = fn;
	nr_tests++;
}

bool unit_check(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (cond)
		return true;
	if (cur_failed)
		return false;
	cur_failed = true;
	n = snprintf(cur_msg, sizeof(cur_msg), "%s:%d: ", file, line);
	if (n < 0 || (size_t)n >= sizeof(cur_msg))
		return false;
	va_start(ap, fmt);
	vsnprintf(cur_msg + n, sizeof(cur_msg) - n, fmt, ap);
	va_end(ap);
	return false;
}

bool unit_failed(void)
{
	return cur_failed;
}

/* Registration order across files is up to the linker: sort by name. */
static int by_name(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--prefix P] [FILTER]\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *prefix = getenv("UNIT_PREFIX");
	const char *filter = NULL;
	int i, passed = 0, failed = 0;

	if (!prefix || !*prefix)
		prefix = "unit";
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--prefix")) {
			if (++i == argc)
				usage(argv[0]);
			prefix = argv[i];
		} else if (!strncmp(argv[i], "--prefix=", 9)) {
			prefix = argv[i] + 9;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(argv[0]);
		} else if (argv[i][0] == '-' || filter) {
			usage(argv[0]);
		} else {
			filter = argv[i];
		}
	}

	/* tests[] starts with name, so it sorts as an array of strings. */
	qsort(tests, nr_tests, sizeof(tests[0]), by_name);

	for (i = 0; i < nr_tests; i++) {
		if (filter && !strstr(tests[i].name, filter))
			continue;
		cur_failed = false;
		cur_msg[0] = '\0';
		tests[i].fn();
		if (cur_failed) {
			printf("FAIL %s/%s: %s\n", prefix, tests[i].name, cur_msg);
			failed++;
		} else {
			printf("PASS %s/%s\n", prefix, tests[i].name);
			passed++;
		}
		fflush(stdout);
	}
	printf("%d passed, %d failed\n", passed, failed);
	if (!passed && !failed)
		fprintf(stderr, "unit: no test matches '%s'\n",
			filter ? filter : "");
	return failed || !passed ? 1 : 0;
}
