// SPDX-License-Identifier: MIT
/*
 * The tools' JSON writer (tools/json_out.c) on the values that break
 * printf-made JSON: NaN and the infinities must come out as null, large
 * counters as integers, and the line must parse back.  Prints one
 * `PASS host/json-...` or `FAIL host/json-...: why` line per check, like
 * every test here, and the printed object last for tests/host/tools.sh to
 * check with a second parser.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_out.h"

static int failed;

static void check(bool ok, const char *name, const char *why)
{
	printf("%s host/json-%s%s%s\n", ok ? "PASS" : "FAIL", name,
	       ok ? "" : ": ", ok ? "" : why);
	failed += !ok;
}

/* What json_out_print() writes, captured through a pipe. */
static char *print_to_string(json_t *obj)
{
	static char buf[4096];
	int fds[2], saved = dup(STDOUT_FILENO);
	ssize_t n;

	fflush(stdout);
	if (pipe(fds) || saved < 0)
		return NULL;
	dup2(fds[1], STDOUT_FILENO);
	json_out_print(obj);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(fds[1]);
	close(saved);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

int main(void)
{
	json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}",
			      "nan", json_out_real(NAN),
			      "inf", json_out_real(INFINITY),
			      "minus_inf", json_out_real(-INFINITY),
			      "rate", json_out_real(6.8),
			      "third", json_out_real(1.0 / 3),
			      "big", json_out_u64(UINT64_MAX));
	const char *text = print_to_string(o);
	json_error_t err;
	json_t *back;

	if (!text || !*text) {
		check(false, "printed", "nothing was printed");
		return 1;
	}
	check(strchr(text, '\n') == text + strlen(text) - 1, "one-line",
	      "not exactly one line");
	/* jansson's own parser is strict: no NaN, no Infinity. */
	back = json_loads(text, 0, &err);
	check(back != NULL, "parses", err.text);
	check(back && json_is_null(json_object_get(back, "nan")), "nan-is-null",
	      text);
	check(back && json_is_null(json_object_get(back, "inf")) &&
	      json_is_null(json_object_get(back, "minus_inf")), "inf-is-null",
	      text);
	check(back && json_real_value(json_object_get(back, "rate")) == 6.8 &&
	      strstr(text, "\"rate\":6.8,"), "decimal-stays-short", text);
	check(back && json_real_value(json_object_get(back, "third")) == 0.333,
	      "thousandths", text);
	check(back && json_integer_value(json_object_get(back, "big")) ==
	      INT64_MAX, "counter-saturates", text);
	check(!strstr(text, ":nan") && !strstr(text, ":inf") &&
	      !strstr(text, ":-inf") && !strstr(text, ":NaN") &&
	      !strstr(text, "Infinity"), "no-bare-nan", text);
	json_decref(back);
	fputs(text, stdout);
	return failed ? 1 : 0;
}
