// SPDX-License-Identifier: MIT
/*
 * unetstat: the counters of every U-Net NIC, and optionally of every
 * endpoint.  See unetstat(8).  NIC counters come from UNET_IOC_STATS,
 * named by the ABI header's own X-macro so that a counter added there
 * shows up here without an edit; per-endpoint counters of all processes
 * are only in debugfs.
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

#include "json_out.h"
#include "unet.h"

#ifndef DEBUGFS_DIR
#define DEBUGFS_DIR	"/sys/kernel/debug/unetmm"
#endif

static const char usage_text[] =
"Usage: unetstat [-e] [-d N] [--json] [-w SEC [-c COUNT]]\n"
"The counters of every U-Net NIC, and of every endpoint.\n"
"\n"
"  -e, --endpoints          also every endpoint's counters (debugfs, root)\n"
"  -d, --nic N              only NIC N\n"
"      --json               one JSON object per report\n"
"  -w, --watch SEC          report again every SEC seconds\n"
"  -c, --count COUNT        with -w, stop after COUNT reports\n"
"  -h, --help               print this summary\n"
"\n"
"See unetstat(8) for the details.\n";

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
	fputs("\nTry 'unetstat --help', or see unetstat(8).\n", stderr);
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
			fputs("Try 'unetstat --help', or see unetstat(8).\n",
			      stderr);
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

/* A debugfs value: a number if it is one, else the text. */
static json_t *json_value(const char *v)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (*v && !*end && !errno)
		return json_integer(n);
	return json_string(v);
}

/*
 * Each line: "ep <id> mode <mm|base> name value name value ...".  Lines
 * of another shape are passed over: the file belongs to the kernel.
 * Prints the text form, or returns the JSON array (json_null() when the
 * file cannot be read).
 */
static json_t *endpoints(const struct stat_opts *o, uint32_t nic)
{
	char path[128], *buf, *line, *save_line = NULL;
	json_t *list;

	snprintf(path, sizeof(path), DEBUGFS_DIR "/nic%" PRIu32 "/endpoints",
		 nic);
	buf = read_file(path);
	if (!buf) {
		if (!endpoints_warned)
			fprintf(stderr, "unetstat: no per-endpoint counters: cannot read %s: %s (is debugfs mounted? are you root?)\n",
				path, strerror(errno));
		endpoints_warned = true;
		return json_null();
	}
	list = json_array();
	for (line = strtok_r(buf, "\n", &save_line); line;
	     line = strtok_r(NULL, "\n", &save_line)) {
		char *save = NULL, *tok[4], *name, *value;
		json_t *ctrs = json_object();
		int i;

		for (i = 0; i < 4; i++)
			tok[i] = strtok_r(i ? NULL : line, " \t", &save);
		if (!tok[3] || strcmp(tok[0], "ep") || !is_number(tok[1]) ||
		    strcmp(tok[2], "mode")) {
			json_decref(ctrs);
			continue;
		}
		if (!o->json)
			printf("  ep %s mode %s\n", tok[1], tok[3]);
		while ((name = strtok_r(NULL, " \t", &save)) &&
		       (value = strtok_r(NULL, " \t", &save))) {
			if (o->json)
				json_object_set_new(ctrs, name,
						    json_value(value));
			else
				printf("    %-24s %s\n", name, value);
		}
		json_array_append_new(list,
				      json_pack("{s:o,s:s,s:o}",
						"ep", json_value(tok[1]),
						"mode", tok[3],
						"counters", ctrs));
	}
	free(buf);
	return list;
}

static void mac_str(char out[18], const uint8_t mac[6])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
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
	mac_str(mac, info->mac);
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
		json_decref(endpoints(o, info->nic));
}

static json_t *nic_json(const struct stat_opts *o,
			const struct unet_nic_info *info,
			const struct unet_nic_stats *st)
{
	char ifname[sizeof(info->ifname) + 1], mac[18];
	json_t *ctrs = json_object(), *hist = json_array(), *j;
	int i;

	memcpy(ifname, info->ifname, sizeof(info->ifname));
	ifname[sizeof(info->ifname)] = '\0';
	mac_str(mac, info->mac);
	for (i = 0; i < UNET_NIC_NR_COUNTERS; i++)
		json_object_set_new(ctrs, nic_counter_names[i],
				    json_out_u64(st->ctr[i]));
	for (i = 0; i < UNET_MISS_HIST_BUCKETS; i++)
		json_array_append_new(hist, json_out_u64(st->miss_hist[i]));
	j = json_pack("{s:I,s:s,s:s,s:I,s:b,s:b,s:I,s:I,s:o,s:o}",
		      "nic", (json_int_t)info->nic, "ifname", ifname,
		      "mac", mac, "mtu", (json_int_t)info->mtu,
		      "wire", !!(info->flags & UNET_NIC_WIRE),
		      "link_up", !!(info->flags & UNET_NIC_LINK_UP),
		      "tlb_entries", (json_int_t)info->tlb_entries,
		      "tlb_ways", (json_int_t)info->tlb_ways,
		      "counters", ctrs, "miss_hist_us", hist);
	if (j && o->endpoints)
		json_object_set_new(j, "endpoints", endpoints(o, info->nic));
	return j;
}

static int report(struct unet *u, const struct stat_opts *o)
{
	struct unet_nic_info info;
	struct unet_nic_stats st;
	uint32_t first = o->one_nic ? o->nic : 0, last, nic, shown = 0;
	json_t *root = NULL, *nics = NULL;
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
		root = json_object();
		nics = json_array();
		if (o->interval) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			json_object_set_new(root, "time",
					    json_out_real((double)ts.tv_sec +
							  ts.tv_nsec / 1e9));
		}
		json_object_set_new(root, "nics", nics);
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
		if (o->json) {
			json_array_append_new(nics, nic_json(o, &info, &st));
			continue;
		}
		if (shown++)
			printf("\n");
		print_nic(o, &info, &st);
	}
	if (o->json) {
		if (json_out_print(root))
			ret = 1;
	} else if (o->interval) {
		printf("\n");
	}
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
