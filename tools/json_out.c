// SPDX-License-Identifier: MIT
/* The tools' --json output: see json_out.h. */
#include <math.h>
#include <stdio.h>

#include "json_out.h"

json_t *json_out_real(double v)
{
	if (!isfinite(v))
		return json_null();
	return json_real(round(v * 1000) / 1000);
}

json_t *json_out_u64(uint64_t v)
{
	/* Counters never reach 2^63; saturate rather than turn negative. */
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

int json_out_print(json_t *obj)
{
	int err;

	if (!obj) {
		fprintf(stderr, "JSON output: out of memory\n");
		return -1;
	}
	/* 15 digits: what a double holds of a decimal, so 6.8 stays 6.8. */
	err = json_dumpf(obj, stdout, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(obj);
	if (err) {
		fprintf(stderr, "JSON output: cannot write\n");
		return -1;
	}
	putchar('\n');
	fflush(stdout);
	return 0;
}
