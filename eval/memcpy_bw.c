// SPDX-License-Identifier: MIT
/*
 * memcpy_bw: the limit for any copy-based message path, measured the way
 * the NIC copies: 64 KiB (or -s) blocks from a source region into a
 * destination region of the same size, round and round.  -r sets the
 * region: 2 MiB (warm: the working set of a 64 KiB stream with 16 receive
 * buffers, as the NIC copies it) or 64 MiB (the default; larger than the
 * last-level cache, so every block comes from memory).
 *
 *   memcpy_bw [-s SIZE] [-r REGION] [-t SECONDS] [--json]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t size = 65536, region = 64u << 20, off = 0;
	double secs = 1.0, t0, t;
	unsigned long long bytes = 0;
	int json = 0, i;
	char *src, *dst;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc)
			size = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-r") && i + 1 < argc)
			region = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else {
			fprintf(stderr,
				"usage: memcpy_bw [-s SIZE] [-r REGION] [-t SECONDS] [--json]\n");
			return 2;
		}
	}
	if (!size || size > region) {
		fprintf(stderr, "memcpy_bw: size must be 1..%zu\n", region);
		return 2;
	}
	src = malloc(region);
	dst = malloc(region);
	if (!src || !dst) {
		perror("memcpy_bw: malloc");
		return 1;
	}
	memset(src, 1, region);
	memset(dst, 2, region);
	t0 = now();
	do {
		for (i = 0; i < 64; i++) {
			memcpy(dst + off, src + off, size);
			off += size;
			if (off + size > region)
				off = 0;
			bytes += size;
		}
		t = now() - t0;
	} while (t < secs);
	if (json)
		printf("{\"tool\":\"memcpy_bw\",\"size\":%zu,\"region\":%zu,\"MBps\":%.1f}\n",
		       size, region, bytes / t / 1e6);
	else
		printf("memcpy %zu-byte blocks over %zu bytes: %.1f MB/s\n", size,
		       region, bytes / t / 1e6);
	return dst[off] == 3;	/* keep the copies */
}
