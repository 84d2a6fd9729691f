// SPDX-License-Identifier: MIT
/*
 * The perf tools' command line.  --help is a summary; unet_lat(1) and
 * unet_bw(1) are the manual.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf_setup.h"

#define PAGE_BYTES	4096u

static const char common_options[] =
"  -p, --port PORT          TCP port of the setup connection (default 18515)\n"
"  -d, --nic N              U-Net NIC to use (default 0)\n"
"  -m, --mode mm|base       U-Net/MM (default) or base-level U-Net\n"
"      --segment BYTES      base mode: segment size (default: just enough)\n"
"      --rx-bufs N          receive buffers to post (default 64)\n"
"      --buf-size BYTES     receive buffer size (default: a message, page\n"
"                           rounded)\n"
"  -b, --block              sleep in unet_wait() instead of polling\n"
"      --busy-poll US       polling found nothing: run the device's receive\n"
"                           (NAPI) for up to US us (default 50; 0: never)\n"
"  -c, --check              fill and verify every byte of every message\n"
"      --json               print the result as one JSON object\n"
"      --connect-timeout S  client: keep trying to connect for S seconds\n"
"                           (default 30)\n"
"  -t, --timeout S          give up after S seconds without progress\n"
"                           (default 10; 0: never)\n"
"      --forever            server: serve one client after another\n"
"  -h, --help               print this summary\n";

static void usage(const struct perf_tool *tool, FILE *f)
{
	fputs(tool->synopsis, f);
	fputs("\n", f);
	fputs(tool->options, f);
	fputs(common_options, f);
	fprintf(f, "\nSee %s(1) for the details.\n", tool->name);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
usage_error(const struct perf_tool *tool, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", perf_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help', or see %s(1).\n", tool->name,
		tool->name);
	exit(2);
}

/*
 * A number in [min, max]; with @bytes, a K, M or G suffix multiplies by a
 * power of 1024, as sizes usually are.
 */
static uint32_t parse_u32(const struct perf_tool *tool, const char *opt,
			  const char *arg, uint32_t min, uint32_t max,
			  bool bytes)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 0);
	if (end == arg || errno || arg[0] == '-')
		usage_error(tool, "%s: '%s' is not a number", opt, arg);
	if (bytes && *end) {
		unsigned int shift = 0;

		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		}
		if (shift && v <= (~0ull >> shift)) {
			v <<= shift;
			end++;
		}
	}
	if (*end)
		usage_error(tool, "%s: '%s' is not a number", opt, arg);
	if (v < min || v > max)
		usage_error(tool, "%s: %s is out of range %" PRIu32 "..%" PRIu32,
			    opt, arg, min, max);
	return (uint32_t)v;
}

enum {
	OPT_SEGMENT = 256,
	OPT_RX_BUFS,
	OPT_BUF_SIZE,
	OPT_JSON,
	OPT_CONNECT_TIMEOUT,
	OPT_FOREVER,
	OPT_BUSY_POLL,
};

static const struct option long_options[] = {
	{ "help",		no_argument,		NULL, 'h' },
	{ "port",		required_argument,	NULL, 'p' },
	{ "nic",		required_argument,	NULL, 'd' },
	{ "mode",		required_argument,	NULL, 'm' },
	{ "segment",		required_argument,	NULL, OPT_SEGMENT },
	{ "rx-bufs",		required_argument,	NULL, OPT_RX_BUFS },
	{ "buf-size",		required_argument,	NULL, OPT_BUF_SIZE },
	{ "size",		required_argument,	NULL, 's' },
	{ "iters",		required_argument,	NULL, 'n' },
	{ "msgs",		required_argument,	NULL, 'n' },
	{ "warmup",		required_argument,	NULL, 'w' },
	{ "window",		required_argument,	NULL, 'W' },
	{ "batch",		required_argument,	NULL, 'B' },
	{ "connect-timeout",	required_argument,	NULL, OPT_CONNECT_TIMEOUT },
	{ "timeout",		required_argument,	NULL, 't' },
	{ "json",		no_argument,		NULL, OPT_JSON },
	{ "check",		no_argument,		NULL, 'c' },
	{ "block",		no_argument,		NULL, 'b' },
	{ "forever",		no_argument,		NULL, OPT_FOREVER },
	{ "busy-poll",		required_argument,	NULL, OPT_BUSY_POLL },
	{ NULL, 0, NULL, 0 },
};

static void only_for(const struct perf_tool *tool, unsigned int opt,
		     const char *name)
{
	if (!(tool->opts & opt))
		usage_error(tool, "%s is not an option of %s", name,
			    tool->name);
}

void perf_parse_args(const struct perf_tool *tool, int argc, char **argv,
		     struct perf_opts *o)
{
	int c;

	perf_prog = tool->name;
	memset(o, 0, sizeof(*o));
	o->port = PERF_DEFAULT_PORT;
	o->mode = UNET_MODE_MM;
	o->rx_bufs = 64;
	o->size = tool->default_size;
	o->count = tool->default_count;
	o->warmup = 100;
	o->window = 32;
	o->batch = 32;
	o->connect_timeout = 30;
	o->timeout = 10;
	o->busy_poll = 50;

	while ((c = getopt_long(argc, argv, "hp:d:m:s:n:w:W:B:t:cb",
				long_options, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(tool, stdout);
			exit(0);
		case 'p':
			parse_u32(tool, "--port", optarg, 1, 65535, false);
			o->port = optarg;
			break;
		case 'd':
			o->nic = parse_u32(tool, "--nic", optarg, 0, UINT32_MAX,
					   false);
			break;
		case 'm':
			if (!strcmp(optarg, "mm"))
				o->mode = UNET_MODE_MM;
			else if (!strcmp(optarg, "base"))
				o->mode = UNET_MODE_BASE;
			else
				usage_error(tool, "--mode: '%s' is neither mm nor base",
					    optarg);
			o->set |= PERF_SET_MODE;
			break;
		case OPT_SEGMENT:
			o->segment = parse_u32(tool, "--segment", optarg,
					       PAGE_BYTES, UNET_SEGMENT_MAX,
					       true);
			if (o->segment % PAGE_BYTES)
				usage_error(tool, "--segment: %s is not a multiple of 4096",
					    optarg);
			break;
		case OPT_RX_BUFS:
			o->rx_bufs = parse_u32(tool, "--rx-bufs", optarg, 1,
					       UNET_RING_MAX, false);
			break;
		case OPT_BUF_SIZE:
			o->buf_size = parse_u32(tool, "--buf-size", optarg, 1,
						UNET_MAX_MSG, true);
			break;
		case 's':
			o->size = parse_u32(tool, "--size", optarg, 0,
					    UNET_MAX_MSG, true);
			o->set |= PERF_SET_SIZE;
			break;
		case 'n':
			o->count = parse_u32(tool, "-n", optarg, 1,
					     UINT32_MAX / 2, false);
			o->set |= PERF_SET_COUNT;
			break;
		case 'w':
			only_for(tool, PERF_OPT_WARMUP, "-w/--warmup");
			o->warmup = parse_u32(tool, "--warmup", optarg, 0,
					      UINT32_MAX / 2, false);
			o->set |= PERF_SET_WARMUP;
			break;
		case 'W':
			only_for(tool, PERF_OPT_WINDOW, "-W/--window");
			o->window = parse_u32(tool, "--window", optarg, 1,
					      UNET_RING_MAX, false);
			o->set |= PERF_SET_WINDOW;
			break;
		case 'B':
			only_for(tool, PERF_OPT_WINDOW, "-B/--batch");
			o->batch = parse_u32(tool, "--batch", optarg, 1,
					     UNET_RING_MAX, false);
			break;
		case OPT_CONNECT_TIMEOUT:
			o->connect_timeout = parse_u32(tool, "--connect-timeout",
						       optarg, 0, 86400, false);
			break;
		case 't':
			o->timeout = parse_u32(tool, "--timeout", optarg, 0,
					       86400, false);
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'c':
			o->check = true;
			o->set |= PERF_SET_CHECK;
			break;
		case 'b':
			o->block = true;
			break;
		case OPT_FOREVER:
			o->forever = true;
			break;
		case OPT_BUSY_POLL:
			o->busy_poll = parse_u32(tool, "--busy-poll", optarg, 0,
						 UNET_BUSY_POLL_MAX_US, false);
			break;
		default:
			/* getopt has said what was wrong. */
			fprintf(stderr, "Try '%s --help', or see %s(1).\n",
				tool->name, tool->name);
			exit(2);
		}
	}
	if (optind < argc)
		o->host = argv[optind++];
	if (optind < argc)
		usage_error(tool, "unexpected argument '%s'", argv[optind]);
	if (o->host && o->forever)
		usage_error(tool, "--forever is for the server (no HOST)");
	if (o->warmup > UINT32_MAX / 2 - o->count)
		usage_error(tool, "-n plus --warmup is too many");
}
