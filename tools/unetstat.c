// SPDX-License-Identifier: MIT
/*
 * unetstat: the counters of every U-Net NIC, and optionally of every
 * endpoint.  NIC counters come from UNET_IOC_NIC_STATS, named by the ABI
 * header's own X-macro so that a counter added there shows up here without
 * an edit; per-endpoint counters of all processes are only in debugfs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#ifndef DEBUGFS_DIR
#define DEBUGFS_DIR	"/sys/kernel/debug/unetmm"
#endif

static const char usage_text[] =
"NAME\n"
"       unetstat - show U-Net NIC and endpoint counters\n"
"\n"
"SYNOPSIS\n"
"       unetstat [-e] [-d N] [--json] [-w SEC [-c COUNT]]\n"
"\n"
"DESCRIPTION\n"
"       Prints, for every NIC of the unetmm module, its interface, MAC\n"
"       address, MTU and TLB geometry, then each counter as a \"name value\"\n"
"       line, then the TLB miss service-time histogram, where bucket\n"
"       miss_us_lt_N counts misses served in less than N microseconds\n"
"       (N = 2^i).  Counters are totals since the module was loaded.\n"
"\n"
"OPTIONS\n"
"       -e, --endpoints\n"
"              Also print every endpoint's counters, from\n"
"              " DEBUGFS_DIR "/nicN/endpoints.  That needs\n"
"              debugfs mounted and, usually, root; without them a warning\n"
"              is printed and the NIC counters still are.\n"
"\n"
"       -d, --nic N\n"
"              Only NIC N.\n"
"\n"
"       --json\n"
"              Print one JSON object per report on standard output:\n"
"\n"
"                {\"nics\":[{\"nic\":0,\"ifname\":\"eth0\",\n"
"                  \"mac\":\"52:54:00:12:34:56\",\"mtu\":1500,\"wire\":true,\n"
"                  \"link_up\":true,\"tlb_entries\":512,\"tlb_ways\":4,\n"
"                  \"counters\":{\"tx_msgs\":0,...},\n"
"                  \"miss_hist_us\":[...],\n"
"                  \"endpoints\":[{\"ep\":1,\"mode\":\"mm\",\n"
"                                 \"counters\":{...}}]}]}\n"
"\n"
"              miss_hist_us[i] counts misses served in less than 2^i\n"
"              microseconds; \"endpoints\" is there with -e only.  With -w\n"
"              each report is one line and carries \"time\", seconds since\n"
"              the epoch.\n"
"\n"
"       -w, --watch SEC\n"
"              Report again every SEC seconds, until interrupted.\n"
"\n"
"       -c, --count COUNT\n"
"              With -w, stop after COUNT reports.\n"
"\n"
"       -h, --help\n"
"              Print this text and exit.\n"
"\n"
"EXIT STATUS\n"
"       0 on success, 1 if the device or a NIC cannot be read, 2 on a\n"
"       usage error.\n";

static const char *const nic_counter_names[] = {
#define UNETSTAT_NAME(name) #name,
	UNET_NIC_COUNTERS(UNETSTAT_NAME)
#undef UNETSTAT_NAME
};
_Static_assert(sizeof(nic_counter_names) / sizeof(nic_counter_names[0]) ==
	       UNET_NIC_NR_COUNTERS, "one name per counter");

struct stat_opts {
	bool json;
	bool endpoints;
	bool one_nic;
	uint32_t nic;
	uint32_t interval;	/* seconds; 0: once */
	uint32_t count;		/* reports; 0: no limit */
};

static bool endpoints_warned;

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "unetstat: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	fputs(usage_text, stderr);
	exit(2);
}

static uint32_t parse_u32(const char *what, const char *arg, uint32_t min)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (end == arg || *end || errno || arg[0] == '-' || v > UINT32_MAX ||
	    v < min)
		usage_error("'%s' is not %s", arg, what);
	return (uint32_t)v;
}

static void parse_args(int argc, char **argv, struct stat_opts *o)
{
	static const struct option long_options[] = {
		{ "help",	no_argument,		NULL, 'h' },
		{ "endpoints",	no_argument,		NULL, 'e' },
		{ "nic",	required_argument,	NULL, 'd' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "watch",	required_argument,	NULL, 'w' },
		{ "count",	required_argument,	NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "hed:w:c:", long_options,
				NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'e':
			o->endpoints = true;
			break;
		case 'd':
			o->one_nic = true;
			o->nic = parse_u32("a NIC index", optarg, 0);
			break;
		case 'j':
			o->json = true;
			break;
		case 'w':
			o->interval = parse_u32("a whole number of seconds >= 1",
						optarg, 1);
			break;
		case 'c':
			o->count = parse_u32("a count >= 1", optarg, 1);
			break;
		default:
			fputc('\n', stderr);
			fputs(usage_text, stderr);
			exit(2);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (o->count && !o->interval)
		usage_error("-c needs -w");
}

/* The whole of a debugfs file, whose size stat() does not tell. */
static char *read_file(const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	FILE *f = fopen(path, "r");

	if (!f || !buf) {
		int e = errno;

		if (f)
			fclose(f);
		free(buf);
		errno = e;
		return NULL;
	}
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		char *bigger;

		len += n;
		if (len < cap - 1)
			break;
		bigger = realloc(buf, cap * 2);
		if (!bigger) {
			free(buf);
			fclose(f);
			errno = ENOMEM;
			return NULL;
		}
		buf = bigger;
		cap *= 2;
	}
	buf[len] = '\0';
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	return buf;
}

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	if (*s == '-')
		s++;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * Each line: "ep <id> mode <mm|base> name value name value ...".  Lines
 * of another shape are passed over: the file belongs to the kernel.
 */
static void print_endpoints(const struct stat_opts *o, uint32_t nic)
{
	char path[128], *buf, *line, *save_line = NULL;
	bool first = true;

	snprintf(path, sizeof(path), DEBUGFS_DIR "/nic%" PRIu32 "/endpoints",
		 nic);
	buf = read_file(path);
	if (!buf) {
		if (!endpoints_warned)
			fprintf(stderr, "unetstat: no per-endpoint counters: cannot read %s: %s (is debugfs mounted? are you root?)\n",
				path, strerror(errno));
		endpoints_warned = true;
		if (o->json)
			printf(",\"endpoints\":null");
		return;
	}
	if (o->json)
		printf(",\"endpoints\":[");
	for (line = strtok_r(buf, "\n", &save_line); line;
	     line = strtok_r(NULL, "\n", &save_line)) {
		char *save = NULL, *tok[4], *name, *value;
		bool first_ctr = true;
		int i;

		for (i = 0; i < 4; i++)
			tok[i] = strtok_r(i ? NULL : line, " \t", &save);
		if (!tok[3] || strcmp(tok[0], "ep") || !is_number(tok[1]) ||
		    strcmp(tok[2], "mode"))
			continue;
		if (o->json) {
			printf("%s{\"ep\":%s,\"mode\":", first ? "" : ",", tok[1]);
			perf_json_string(tok[3]);
			printf(",\"counters\":{");
		} else {
			printf("  ep %s mode %s\n", tok[1], tok[3]);
		}
		first = false;
		while ((name = strtok_r(NULL, " \t", &save)) &&
		       (value = strtok_r(NULL, " \t", &save))) {
			if (!o->json) {
				printf("    %-24s %s\n", name, value);
				continue;
			}
			printf("%s", first_ctr ? "" : ",");
			perf_json_string(name);
			putchar(':');
			if (is_number(value))
				printf("%s", value);
			else
				perf_json_string(value);
			first_ctr = false;
		}
		if (o->json)
			printf("}}");
	}
	if (o->json)
		printf("]");
	free(buf);
}

static void print_nic(const struct stat_opts *o,
		      const struct unet_nic_info *info,
		      const struct unet_nic_stats *st)
{
	bool wire = info->flags & UNET_NIC_WIRE;
	bool up = info->flags & UNET_NIC_LINK_UP;
	char ifname[sizeof(info->ifname) + 1], mac[18];
	int i;

	memcpy(ifname, info->ifname, sizeof(info->ifname));
	ifname[sizeof(info->ifname)] = '\0';
	perf_mac_str(mac, info->mac);

	if (!o->json) {
		printf("nic%" PRIu32 ": ifname %s mac %s mtu %" PRIu32
		       " %s%s tlb_entries %" PRIu32 " tlb_ways %" PRIu32 "\n",
		       info->nic, ifname, mac, info->mtu,
		       wire ? "wire" : "loopback-only",
		       wire ? (up ? " link-up" : " link-down") : "",
		       info->tlb_entries, info->tlb_ways);
		for (i = 0; i < UNET_NIC_NR_COUNTERS; i++)
			printf("  %-24s %" PRIu64 "\n", nic_counter_names[i],
			       (uint64_t)st->ctr[i]);
		for (i = 0; i < UNET_MISS_HIST_BUCKETS; i++)
			printf("  miss_us_lt_%-12u %" PRIu64 "\n", 1u << i,
			       (uint64_t)st->miss_hist[i]);
		if (o->endpoints)
			print_endpoints(o, info->nic);
		return;
	}

	printf("{\"nic\":%" PRIu32 ",\"ifname\":", info->nic);
	perf_json_string(ifname);
	printf(",\"mac\":\"%s\",\"mtu\":%" PRIu32 ",\"wire\":%s,\"link_up\":%s"
	       ",\"tlb_entries\":%" PRIu32 ",\"tlb_ways\":%" PRIu32
	       ",\"counters\":{", mac, info->mtu, wire ? "true" : "false",
	       up ? "true" : "false", info->tlb_entries, info->tlb_ways);
	for (i = 0; i < UNET_NIC_NR_COUNTERS; i++)
		printf("%s\"%s\":%" PRIu64, i ? "," : "", nic_counter_names[i],
		       (uint64_t)st->ctr[i]);
	printf("},\"miss_hist_us\":[");
	for (i = 0; i < UNET_MISS_HIST_BUCKETS; i++)
		printf("%s%" PRIu64, i ? "," : "", (uint64_t)st->miss_hist[i]);
	printf("]");
	if (o->endpoints)
		print_endpoints(o, info->nic);
	printf("}");
}

static int report(struct unet *u, const struct stat_opts *o)
{
	struct unet_nic_info info;
	struct unet_nic_stats st;
	uint32_t first = o->one_nic ? o->nic : 0, last, nic, shown = 0;
	int rc, ret = 0;

	rc = unet_nic_info(u, first, &info);
	if (rc == -ENODEV && !o->one_nic) {
		last = 0;	/* no NIC at all */
	} else if (rc) {
		fprintf(stderr, "unetstat: NIC %" PRIu32 ": %s\n", first,
			rc == -ENODEV ? "no such NIC" : strerror(-rc));
		return 1;
	} else {
		last = o->one_nic ? first + 1 : info.nr_nics;
	}

	if (o->json) {
		printf("{");
		if (o->interval) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			printf("\"time\":%lld.%03ld,", (long long)ts.tv_sec,
			       ts.tv_nsec / 1000000);
		}
		printf("\"nics\":[");
	} else if (o->interval) {
		time_t now = time(NULL);
		char when[32];

		strftime(when, sizeof(when), "%F %T", localtime(&now));
		printf("# %s\n", when);
	}
	for (nic = first; nic < last; nic++) {
		if (nic != first) {
			rc = unet_nic_info(u, nic, &info);
			if (rc == -ENODEV)
				break;	/* went away meanwhile */
		}
		if (!rc)
			rc = unet_nic_stats(u, nic, &st);
		if (rc) {
			fprintf(stderr, "unetstat: NIC %" PRIu32 ": %s\n", nic,
				strerror(-rc));
			ret = 1;
			continue;
		}
		if (shown++)
			printf(o->json ? "," : "\n");
		print_nic(o, &info, &st);
	}
	if (o->json)
		printf("]}\n");
	else if (o->interval)
		printf("\n");
	fflush(stdout);
	return ret;
}

int main(int argc, char **argv)
{
	struct stat_opts o;
	struct unet *u;
	uint32_t n;
	int ret = 0;

	parse_args(argc, argv, &o);
	u = unet_open();
	if (!u) {
		int e = errno;

		fprintf(stderr, "unetstat: cannot open %s: %s%s\n",
			UNET_DEVICE_PATH, strerror(e),
			e == ENOENT || e == ENODEV || e == ENXIO ?
			" (is unetmm.ko loaded?)" : "");
		return 1;
	}
	for (n = 1;; n++) {
		ret |= report(u, &o);
		if (!o.interval || (o.count && n >= o.count))
			break;
		sleep(o.interval);
	}
	unet_close(u);
	return ret;
}
