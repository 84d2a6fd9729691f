// SPDX-License-Identifier: MIT
/*
 * memcpy_bw: the limit for any copy-based message path, measured the way
 * the NIC copies: 64 KiB (or -s) blocks from a source region into a
 * destination region larger than the last-level cache.
 *
 *   memcpy_bw [-s SIZE] [-t SECONDS] [--json]
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
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else {
			fprintf(stderr,
				"usage: memcpy_bw [-s SIZE] [-t SECONDS] [--json]\n");
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
		printf("{\"tool\":\"memcpy_bw\",\"size\":%zu,\"MBps\":%.1f}\n",
		       size, bytes / t / 1e6);
	else
		printf("memcpy %zu-byte blocks: %.1f MB/s\n", size,
		       bytes / t / 1e6);
	return dst[off] == 3;	/* keep the copies */
}
