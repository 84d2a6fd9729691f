/* SPDX-License-Identifier: MIT */
/*
 * The tools' --json output, through jansson: objects are built, then
 * printed whole as one line, so that what reaches standard output is
 * valid JSON or nothing.
 */
#ifndef UNET_TOOLS_JSON_OUT_H
#define UNET_TOOLS_JSON_OUT_H

#include <stdint.h>

#include <jansson.h>

/*
 * A measurement: rounded to a thousandth, and null where it is NaN or
 * infinite (a rate over no time), which JSON cannot carry.
 */
json_t *json_out_real(double v);
/* A counter; JSON integers are signed 64-bit here. */
json_t *json_out_u64(uint64_t v);
/* Prints @obj as one line on standard output and frees it; 0 or -1. */
int json_out_print(json_t *obj);

#endif /* UNET_TOOLS_JSON_OUT_H */
