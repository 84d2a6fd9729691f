// SPDX-License-Identifier: MIT
/*
 * Shared plumbing of unet_lat and unet_bw; see common.h.
 *
 * The two sides meet over TCP in the manner of perftest: the server listens,
 * the client connects and sends a hello carrying its NIC's MAC, its
 * endpoint id and the test parameters; the server adopts the parameters,
 * builds its own endpoint and answers with its address.  Each side then
 * asks the kernel for a channel to the other, and every measured byte
 * travels over U-Net.  The TCP connection carries only the hello, the
 * results at the end, and, by closing, the news that a side gave up.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define PAGE_BYTES		4096u
#define PERF_MAGIC		0x554e5046u	/* "UNPF" */
#define PERF_PROTO		1
#define PERF_HELLO_CHECK	(1u << 0)

/* How often an idle side looks at the clock and at the TCP socket. */
#define PERF_SPINS_PER_CHECK	1024u
#define PERF_PEEK_NS		(100ull * 1000 * 1000)
#define PERF_SLEEP_MS		100
/* Per-message complaints before going quiet. */
#define PERF_ERRORS_SHOWN	10

#define NSEC_PER_SEC		1000000000ull

static const char *prog = "unet";
static char last_error[160];

/* ---- small helpers ---- */

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

uint64_t perf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

const char *perf_mode_name(uint32_t mode)
{
	return mode == UNET_MODE_BASE ? "base" : "mm";
}

void perf_mac_str(char out[18], const uint8_t mac[6])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static bool mac_is_zero(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return !memcmp(mac, zero, 6);
}

int perf_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", prog, last_error);
	return -1;
}

void perf_error_limited(struct perf_ctx *pc, const char *fmt, ...)
{
	va_list ap;

	if (pc->errors_shown > PERF_ERRORS_SHOWN)
		return;
	if (pc->errors_shown++ == PERF_ERRORS_SHOWN) {
		fprintf(stderr, "%s: further errors are counted, not shown\n",
			prog);
		return;
	}
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void perf_pattern_fill(void *buf, size_t len, uint64_t seq, size_t off)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = perf_pattern_byte(seq, off + i);
}

uint64_t perf_pattern_check(const void *buf, size_t len, uint64_t seq,
			    size_t off)
{
	const uint8_t *p = buf;
	uint64_t bad = 0;
	size_t i;

	for (i = 0; i < len; i++)
		bad += p[i] != perf_pattern_byte(seq, off + i);
	return bad;
}

/* ---- options ---- */

static const char common_usage[] =
"COMMON OPTIONS\n"
"       -p, --port PORT\n"
"              TCP port of the setup connection (default 18515).\n"
"\n"
"       -d, --nic N\n"
"              Use U-Net NIC N (default 0); unetstat lists them.\n"
"\n"
"       -m, --mode mm|base\n"
"              mm (default): U-Net/MM; buffers are ordinary memory of the\n"
"              process, named by virtual address, and the NIC reads and\n"
"              writes them in place.  base: base-level U-Net; buffers live\n"
"              in a pinned communication segment, and the tool copies each\n"
"              message into it before sending and out of it after\n"
"              receiving, as an application must there.  A server takes\n"
"              the client's mode unless given one.\n"
"\n"
"       --segment BYTES\n"
"              Base mode: size of the segment, a multiple of 4096 (default:\n"
"              just enough for the receive buffers and the send slots).\n"
"              It is pinned and counts against RLIMIT_MEMLOCK.\n"
"\n"
"       --rx-bufs N\n"
"              Receive buffers to post, 1 to 4096 (default 64).  Each is\n"
"              reposted as soon as its message has been consumed.\n"
"\n"
"       --buf-size BYTES\n"
"              Size of each receive buffer, 1 to 65536 (default: the\n"
"              message size rounded up to a multiple of 4096, at least\n"
"              4096).  A larger message fills several, at most 256.\n"
"\n"
"       -b, --block\n"
"              Sleep in unet_wait() while waiting for a message instead of\n"
"              busy-polling the receive queue.\n"
"\n"
"       -c, --check\n"
"              Fill every message with a pattern derived from its sequence\n"
"              number and byte offset, and verify every byte received.\n"
"              Mismatches are counted and reported.  Costs time on both\n"
"              sides.\n"
"\n"
"       --json\n"
"              Print the result as one JSON object on standard output, and\n"
"              nothing else there.\n"
"\n"
"       --connect-timeout SEC\n"
"              Client: keep trying to reach HOST for SEC seconds (default\n"
"              30), since the server may not be listening yet.\n"
"\n"
"       -t, --timeout SEC\n"
"              Give up when no message or completion arrives for SEC\n"
"              seconds (default 10; 0 waits forever), since a lost message\n"
"              would otherwise stall a test for good.\n"
"\n"
"       --forever\n"
"              Server: serve one client after another instead of exiting\n"
"              after the first test.\n"
"\n"
"       -h, --help\n"
"              Print this text and exit.\n"
"\n";

static const char exit_usage[] =
"EXIT STATUS\n"
"       0 on success; 1 on a runtime failure, or if any message was lost,\n"
"       any send completed with an error or any data mismatched, on either\n"
"       side; 2 on a usage error.\n";

static void usage(const struct perf_tool *tool, FILE *f)
{
	fputs(tool->usage_head, f);
	fputs(common_usage, f);
	fputs(tool->usage_tail, f);
	fputs(exit_usage, f);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
usage_error(const struct perf_tool *tool, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	usage(tool, stderr);
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
	{ "connect-timeout",	required_argument,	NULL, OPT_CONNECT_TIMEOUT },
	{ "timeout",		required_argument,	NULL, 't' },
	{ "json",		no_argument,		NULL, OPT_JSON },
	{ "check",		no_argument,		NULL, 'c' },
	{ "block",		no_argument,		NULL, 'b' },
	{ "forever",		no_argument,		NULL, OPT_FOREVER },
	{ NULL, 0, NULL, 0 },
};

static void parse_args(const struct perf_tool *tool, int argc, char **argv,
		       struct perf_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->port = PERF_DEFAULT_PORT;
	o->mode = UNET_MODE_MM;
	o->rx_bufs = 64;
	o->size = tool->default_size;
	o->count = tool->default_count;
	o->warmup = 100;
	o->window = 32;
	o->connect_timeout = 30;
	o->timeout = 10;

	while ((c = getopt_long(argc, argv, "hp:d:m:s:n:w:W:t:cb",
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
			if (!(tool->opts & PERF_OPT_WARMUP))
				usage_error(tool, "-w/--warmup is not an option of %s",
					    tool->name);
			o->warmup = parse_u32(tool, "--warmup", optarg, 0,
					      UINT32_MAX / 2, false);
			o->set |= PERF_SET_WARMUP;
			break;
		case 'W':
			if (!(tool->opts & PERF_OPT_WINDOW))
				usage_error(tool, "-W/--window is not an option of %s",
					    tool->name);
			o->window = parse_u32(tool, "--window", optarg, 1,
					      UNET_RING_MAX, false);
			o->set |= PERF_SET_WINDOW;
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
		default:
			/* getopt has said what was wrong. */
			fputc('\n', stderr);
			usage(tool, stderr);
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

/* ---- TCP ---- */

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 0, or -1 with errno: ETIMEDOUT, ENODATA for an orderly close, or why. */
static int read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = perf_now_ns() + (uint64_t)timeout_ms * 1000000;
	char *p = buf;

	while (len) {
		ssize_t n;

		if (timeout_ms >= 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			uint64_t now = perf_now_ns();
			int r;

			if (now >= deadline) {
				errno = ETIMEDOUT;
				return -1;
			}
			r = poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1);
			if (r < 0 && errno != EINTR)
				return -1;
			if (r <= 0)
				continue;
		}
		n = recv(fd, p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENODATA;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static const char *conn_strerror(int err)
{
	return err == ENODATA ? "connection closed by the peer" : strerror(err);
}

static void set_nodelay(int fd)
{
	int one = 1;

	/* Only small, latency-bound exchanges go over it. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void name_peer(int fd, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[64], serv[16];

	snprintf(out, len, "the peer");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv,
			sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV))
		return;
	/* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d. */
	if (!strncmp(host, "::ffff:", 7) && strchr(host, '.'))
		snprintf(out, len, "%s:%s", host + 7, serv);
	else
		snprintf(out, len, strchr(host, ':') ? "[%s]:%s" : "%s:%s",
			 host, serv);
}

/* Whether both ends of the connection have the same IP address. */
static bool same_host(int fd)
{
	struct sockaddr_storage a, b;
	socklen_t al = sizeof(a), bl = sizeof(b);

	if (getsockname(fd, (struct sockaddr *)&a, &al) ||
	    getpeername(fd, (struct sockaddr *)&b, &bl) ||
	    a.ss_family != b.ss_family)
		return false;
	if (a.ss_family == AF_INET)
		return ((struct sockaddr_in *)&a)->sin_addr.s_addr ==
		       ((struct sockaddr_in *)&b)->sin_addr.s_addr;
	if (a.ss_family == AF_INET6)
		return !memcmp(&((struct sockaddr_in6 *)&a)->sin6_addr,
			       &((struct sockaddr_in6 *)&b)->sin6_addr,
			       sizeof(struct in6_addr));
	return false;
}

/*
 * Dual-stack if the kernel has IPv6, plain IPv4 if not: small guests are
 * often built without it.
 */
static int tcp_listen(const char *port)
{
	uint16_t p = (uint16_t)strtoul(port, NULL, 0);
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(p),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(p),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1, zero = 0, fd;

	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (!bind(fd, (struct sockaddr *)&a6, sizeof(a6)))
			goto bound;
		if (errno == EADDRINUSE)
			goto err;
		close(fd);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return perf_error("cannot create a TCP socket: %s",
				  strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)))
		goto err;
bound:
	if (listen(fd, 4))
		goto err;
	return fd;
err:
	perf_error("cannot listen on TCP port %s: %s%s", port, strerror(errno),
		   errno == EADDRINUSE ?
		   " (another server running? pick one with -p)" : "");
	close(fd);
	return -1;
}

/* One attempt, bounded: a SYN into the void would block for minutes. */
static int try_connect(const struct addrinfo *ai, int timeout_ms)
{
	struct pollfd pfd = { .events = POLLOUT };
	socklen_t sl = sizeof(int);
	int fd, err = 0, r;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		errno = r ? errno : ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) || err) {
		errno = err ? err : errno;
		goto fail;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

static int tcp_connect(const char *host, const char *port, uint32_t timeout_s)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM };
	uint64_t deadline = perf_now_ns() + timeout_s * NSEC_PER_SEC;
	int last_err = ETIMEDOUT;

	for (;;) {
		struct addrinfo *res, *ai;
		int r = getaddrinfo(host, port, &hints, &res);
		uint64_t now;

		if (r && r != EAI_AGAIN)
			return perf_error("cannot resolve %s: %s", host,
					  r == EAI_SYSTEM ? strerror(errno) :
					  gai_strerror(r));
		if (!r) {
			for (ai = res; ai; ai = ai->ai_next) {
				int fd = try_connect(ai, 2000);

				if (fd >= 0) {
					freeaddrinfo(res);
					set_nodelay(fd);
					return fd;
				}
				last_err = errno;
			}
			freeaddrinfo(res);
		}
		now = perf_now_ns();
		if (now >= deadline)
			break;
		/* The server may not be listening yet. */
		usleep(100 * 1000);
	}
	return perf_error("cannot connect to %s port %s within %" PRIu32
			  " s: %s%s", host, port, timeout_s,
			  strerror(last_err),
			  last_err == ECONNREFUSED ?
			  " (is the server running?)" : "");
}

/* ---- handshake and results on the wire ---- */

/* Every field travels big-endian; the list drives the conversion. */
#define PERF_HELLO_U32(X)						\
	X(magic) X(proto) X(tool) X(status) X(ep_id) X(mode) X(size)	\
	X(count) X(warmup) X(window) X(flags) X(credits)

struct perf_hello {
	uint32_t magic;
	uint32_t proto;
	uint32_t tool;		/* enum perf_tool_id */
	uint32_t status;	/* answer: nonzero refuses, error says why */
	uint8_t mac[6];
	uint8_t pad[2];
	uint32_t ep_id;
	uint32_t mode;
	uint32_t size;
	uint32_t count;
	uint32_t warmup;
	uint32_t window;
	uint32_t flags;		/* PERF_HELLO_* */
	uint32_t credits;	/* messages the other side may have in flight */
	char error[160];
};
_Static_assert(sizeof(struct perf_hello) == 216, "wire layout");

static void hello_swap(struct perf_hello *h)
{
#define PERF_HELLO_SWAP(f) h->f = htonl(h->f);
	PERF_HELLO_U32(PERF_HELLO_SWAP)
#undef PERF_HELLO_SWAP
}

static int send_hello(struct perf_ctx *pc, const struct perf_hello *h)
{
	struct perf_hello w = *h;

	hello_swap(&w);
	if (write_full(pc->sock, &w, sizeof(w)))
		return perf_error("cannot send to %s: %s", pc->peer_name,
				  strerror(errno));
	return 0;
}

static int recv_hello(struct perf_ctx *pc, struct perf_hello *h,
		      int timeout_ms)
{
	if (read_full(pc->sock, h, sizeof(*h), timeout_ms))
		return perf_error("no hello from %s: %s", pc->peer_name,
				  conn_strerror(errno));
	hello_swap(h);
	h->error[sizeof(h->error) - 1] = '\0';
	if (h->magic != PERF_MAGIC || h->proto != PERF_PROTO)
		return perf_error("%s does not speak this tool's protocol",
				  pc->peer_name);
	return 0;
}

static void fill_hello(struct perf_ctx *pc, struct perf_hello *h)
{
	const struct perf_opts *o = pc->o;

	memset(h, 0, sizeof(*h));
	h->magic = PERF_MAGIC;
	h->proto = PERF_PROTO;
	h->tool = pc->tool->id;
	memcpy(h->mac, pc->nic.mac, 6);
	h->ep_id = unet_ep_id(pc->ep);
	h->mode = o->mode;
	h->size = o->size;
	h->count = o->count;
	h->warmup = o->warmup;
	h->window = o->window;
	h->flags = o->check ? PERF_HELLO_CHECK : 0;
	h->credits = pc->credits;
}

static void refuse(struct perf_ctx *pc)
{
	struct perf_hello h = {
		.magic = PERF_MAGIC,
		.proto = PERF_PROTO,
		.tool = pc->tool->id,
		.status = 1,
	};

	snprintf(h.error, sizeof(h.error), "%s", last_error);
	send_hello(pc, &h);
}

#define PERF_RESULT_COUNT_FIELD(name) + 1
#define PERF_RESULT_WORDS (1 PERF_RESULT_FIELDS(PERF_RESULT_COUNT_FIELD))

static int exchange_results(struct perf_ctx *pc, const struct perf_result *mine,
			    struct perf_result *peer)
{
	uint64_t w[PERF_RESULT_WORDS];
	unsigned int i = 0;

	w[i++] = htobe64(PERF_MAGIC);
#define PERF_RESULT_PUT(name) w[i++] = htobe64(mine->name);
	PERF_RESULT_FIELDS(PERF_RESULT_PUT)
#undef PERF_RESULT_PUT
	if (write_full(pc->sock, w, sizeof(w)))
		return perf_error("cannot send results to %s: %s",
				  pc->peer_name, strerror(errno));
	/* The peer may still be measuring; its own watchdog bounds this. */
	if (read_full(pc->sock, w, sizeof(w), -1))
		return perf_error("no results from %s: %s", pc->peer_name,
				  conn_strerror(errno));
	i = 0;
	if (be64toh(w[i++]) != PERF_MAGIC)
		return perf_error("garbled results from %s", pc->peer_name);
#define PERF_RESULT_GET(name) peer->name = be64toh(w[i++]);
	PERF_RESULT_FIELDS(PERF_RESULT_GET)
#undef PERF_RESULT_GET
	return 0;
}

/* ---- endpoint, buffers, channel ---- */

static int nic_setup(struct perf_ctx *pc)
{
	int rc = unet_nic_info(pc->u, pc->o->nic, &pc->nic);

	if (rc == -ENODEV)
		return perf_error("NIC %" PRIu32 " does not exist (unetstat lists the NICs)",
				  pc->o->nic);
	if (rc)
		return perf_error("cannot query NIC %" PRIu32 ": %s",
				  pc->o->nic, strerror(-rc));
	return 0;
}

static uint32_t ring_entries(uint32_t want)
{
	uint32_t n = UNET_RING_MIN;

	while (n < want && n < UNET_RING_MAX)
		n <<= 1;
	return n;
}

static int ep_setup(struct perf_ctx *pc)
{
	const struct perf_opts *o = pc->o;
	bool base = o->mode == UNET_MODE_BASE;
	uint32_t app_bytes = max_u32(o->size, 1);
	struct unet_ep_attr attr;
	uint64_t rx_bytes, tx_bytes, need;
	char *seg;
	uint32_t i;

	pc->buf_size = o->buf_size ? o->buf_size :
		       (uint32_t)round_up(app_bytes, PAGE_BYTES);
	pc->bufs_per_msg = o->size > UNET_INLINE_MAX ?
			   (o->size + pc->buf_size - 1) / pc->buf_size : 0;
	if (pc->bufs_per_msg > UNET_MAX_RX_BUFS)
		return perf_error("a %" PRIu32 "-byte message would fill %" PRIu32
				  " buffers of %" PRIu32 " bytes, more than the %d one message may use (raise --buf-size)",
				  o->size, pc->bufs_per_msg, pc->buf_size,
				  UNET_MAX_RX_BUFS);
	if (pc->bufs_per_msg > o->rx_bufs)
		return perf_error("%" PRIu32 " receive buffers of %" PRIu32
				  " bytes cannot hold one %" PRIu32 "-byte message (raise --rx-bufs or --buf-size)",
				  o->rx_bufs, pc->buf_size, o->size);
	pc->rx_bufs = o->rx_bufs;
	pc->tx_slots = (pc->tool->opts & PERF_OPT_WINDOW) && !pc->server ?
		       o->window : 1;
	pc->tx_slot_size = (uint32_t)round_up(app_bytes, 64);
	rx_bytes = (uint64_t)pc->rx_bufs * pc->buf_size;
	tx_bytes = (uint64_t)pc->tx_slots * pc->tx_slot_size;

	unet_ep_attr_init(&attr);
	attr.nic = o->nic;
	attr.mode = o->mode;
	attr.tx_entries = ring_entries(max_u32(256, pc->tx_slots));
	attr.rx_entries = ring_entries(max_u32(256, pc->rx_bufs));
	attr.fq_entries = ring_entries(pc->rx_bufs);
	if (base) {
		/* Receive buffers first, page aligned; send slots after. */
		need = round_up(rx_bytes + tx_bytes, PAGE_BYTES);
		if (need > UNET_SEGMENT_MAX)
			return perf_error("the segment would need %" PRIu64
					  " bytes, more than the %u allowed (lower --rx-bufs or --buf-size)",
					  need, UNET_SEGMENT_MAX);
		if (o->segment && o->segment < need)
			return perf_error("--segment %" PRIu32 " is too small: %" PRIu32
					  " receive buffers of %" PRIu32 " bytes and %" PRIu32
					  " send slots of %" PRIu32 " bytes need %" PRIu64,
					  o->segment, pc->rx_bufs, pc->buf_size,
					  pc->tx_slots, pc->tx_slot_size, need);
		attr.segment_size = o->segment ? o->segment : (uint32_t)need;
	}
	pc->ep = unet_ep_create(pc->u, &attr);
	if (!pc->ep) {
		int e = errno;

		return perf_error("cannot create a %s endpoint on NIC %" PRIu32 ": %s%s",
				  perf_mode_name(o->mode), o->nic, strerror(e),
				  base && (e == ENOMEM || e == EPERM || e == EAGAIN) ?
				  " (the segment is pinned memory: check ulimit -l)" : "");
	}
	pc->rx_entries = attr.rx_entries;

	if (base) {
		seg = unet_ep_segment(pc->ep, NULL);
		pc->rx_area = seg;
		pc->tx_area = seg + rx_bytes;
	} else {
		pc->mm_areas = true;
		pc->rx_area = aligned_alloc(PAGE_BYTES, round_up(rx_bytes, PAGE_BYTES));
		pc->tx_area = aligned_alloc(PAGE_BYTES, round_up(tx_bytes, PAGE_BYTES));
		if (!pc->rx_area || !pc->tx_area)
			return perf_error("cannot allocate %" PRIu64 " bytes of buffers",
					  rx_bytes + tx_bytes);
		/* Present before the NIC first looks, as a real heap would be. */
		memset(pc->rx_area, 0, rx_bytes);
		memset(pc->tx_area, 0, tx_bytes);
	}
	pc->app_tx = calloc(1, app_bytes);
	pc->app_rx = calloc(1, app_bytes);
	if (!pc->app_tx || !pc->app_rx)
		return perf_error("out of memory");

	for (i = 0; i < pc->rx_bufs; i++) {
		uint64_t off = (uint64_t)i * pc->buf_size;
		uint64_t addr = base ? off : (uint64_t)(uintptr_t)(pc->rx_area + off);
		int rc = unet_post_free(pc->ep, addr, pc->buf_size);

		if (rc)
			return perf_error("cannot post receive buffer %" PRIu32 ": %s",
					  i, strerror(-rc));
	}
	pc->credits = pc->bufs_per_msg ?
		      min_u32(pc->rx_bufs / pc->bufs_per_msg, pc->rx_entries) :
		      pc->rx_entries;
	return 0;
}

static void ep_teardown(struct perf_ctx *pc)
{
	/* First, so that the NIC stops touching the memory freed below. */
	if (pc->ep)
		unet_ep_destroy(pc->ep);
	pc->ep = NULL;
	if (pc->mm_areas) {
		free(pc->rx_area);
		free(pc->tx_area);
	}
	pc->rx_area = pc->tx_area = NULL;
	free(pc->app_tx);
	free(pc->app_rx);
	pc->app_tx = pc->app_rx = NULL;
}

static int chan_setup(struct perf_ctx *pc)
{
	char mac[18];
	int rc;

	perf_mac_str(mac, pc->peer_mac);
	if (!memcmp(pc->peer_mac, pc->nic.mac, 6) && !same_host(pc->sock))
		fprintf(stderr, "%s: warning: %s is on another host but its NIC has this NIC's MAC %s; messages will loop back inside this host (give each NIC its own MAC)\n",
			prog, pc->peer_name, mac);
	rc = unet_chan_create(pc->ep, pc->peer_mac, pc->peer_ep);
	if (rc < 0)
		return perf_error("cannot create a channel to endpoint %" PRIu32
				  " at %s: %s%s", pc->peer_ep, mac,
				  strerror(-rc),
				  rc == -EINVAL && mac_is_zero(pc->peer_mac) ?
				  " (the peer's NIC is loopback-only; run both sides on one host, on the same NIC)" :
				  "");
	pc->chan = rc;
	return 0;
}

/* ---- receiving and sending ---- */

int perf_recv(struct perf_ctx *pc, struct perf_msg *m)
{
	int rc = unet_recv_poll(pc->ep, &m->r);
	unsigned int i;

	if (rc < 0)
		return perf_error("the receive queue is corrupt: %s",
				  strerror(-rc));
	if (!rc)
		return 0;
	/*
	 * The descriptor, and with it the library's view of the buffers,
	 * may be reused once the slot is released: keep our own list.
	 */
	m->done = false;
	m->nbuf = m->r.nbuf;
	for (i = 0; i < m->nbuf; i++)
		m->bufs[i] = *unet_recv_buf(pc->ep, &m->r, i);
	perf_progress(pc);
	return 1;
}

size_t perf_msg_copy(struct perf_ctx *pc, const struct perf_msg *m, void *dst)
{
	size_t len = m->r.length < pc->o->size ? m->r.length : pc->o->size;
	size_t done = 0;
	unsigned int i;

	if (m->r.data) {
		memcpy(dst, m->r.data, len);
		return len;
	}
	for (i = 0; i < m->nbuf && done < len; i++) {
		size_t n = m->bufs[i].len < len - done ? m->bufs[i].len :
			   len - done;

		memcpy((char *)dst + done, unet_buf_ptr(pc->ep, &m->bufs[i]), n);
		done += n;
	}
	return done;
}

uint64_t perf_msg_check(struct perf_ctx *pc, const struct perf_msg *m,
			uint64_t seq)
{
	size_t len = m->r.length, done = 0;
	uint64_t bad = 0;
	unsigned int i;

	if (m->r.data)
		return perf_pattern_check(m->r.data, len, seq, 0);
	for (i = 0; i < m->nbuf && done < len; i++) {
		size_t n = m->bufs[i].len < len - done ? m->bufs[i].len :
			   len - done;

		bad += perf_pattern_check(unet_buf_ptr(pc->ep, &m->bufs[i]), n,
					  seq, done);
		done += n;
	}
	return bad;
}

void perf_msg_done(struct perf_ctx *pc, struct perf_msg *m)
{
	if (!m->done)
		unet_recv_done(pc->ep, &m->r);
	m->done = true;
}

int perf_msg_repost(struct perf_ctx *pc, struct perf_msg *m)
{
	unsigned int i;

	perf_msg_done(pc, m);
	for (i = 0; i < m->nbuf; i++) {
		int rc = unet_post_free(pc->ep, m->bufs[i].addr,
					m->bufs[i].len);

		if (rc)
			return perf_error("cannot repost a receive buffer: %s",
					  strerror(-rc));
	}
	m->nbuf = 0;
	return 0;
}

int perf_reap(struct perf_ctx *pc, uint64_t *errors)
{
	struct unet_send_comp comps[64];
	int n, i, total = 0;

	do {
		n = unet_send_poll(pc->ep, comps, 64);
		if (n < 0)
			return perf_error("the send queue is corrupt: %s",
					  strerror(-n));
		for (i = 0; i < n; i++) {
			if (comps[i].status == UNET_ST_OK)
				continue;
			(*errors)++;
			perf_error_limited(pc, "send %" PRIu32 " failed: %s",
					   comps[i].cookie,
					   unet_status_str(comps[i].status));
		}
		total += n;
	} while (n == 64);
	if (total)
		perf_progress(pc);
	return total;
}

int perf_reap_all(struct perf_ctx *pc, uint64_t *errors)
{
	while (unet_send_outstanding(pc->ep)) {
		if (perf_reap(pc, errors) < 0)
			return -1;
		if (unet_send_outstanding(pc->ep) &&
		    perf_idle(pc, "waiting for send completions") < 0)
			return -1;
	}
	return 0;
}

/*
 * Posts one send, reaping completions while the queue is full: a buffer
 * (@sge NULL; inline when small) or a gather list.
 */
static int post_send(struct perf_ctx *pc, const void *data, uint32_t len,
		     const struct unet_sge *sge, unsigned int nsge,
		     uint32_t cookie, uint64_t *errors)
{
	int rc;

	for (;;) {
		rc = sge ? unet_send(pc->ep, (uint32_t)pc->chan, sge, nsge,
				     cookie) :
			   unet_send_buf(pc->ep, (uint32_t)pc->chan, data, len,
					 cookie);
		if (rc != -EAGAIN)
			break;
		if (perf_reap(pc, errors) < 0 ||
		    perf_idle(pc, "waiting for room in the send queue") < 0)
			return -1;
	}
	if (rc)
		return perf_error("cannot send: %s", strerror(-rc));
	perf_progress(pc);
	return 0;
}

int perf_send(struct perf_ctx *pc, const void *data, uint32_t len,
	      uint32_t cookie, uint64_t *errors)
{
	return post_send(pc, data, len, NULL, 0, cookie, errors);
}

int perf_send_sge(struct perf_ctx *pc, const struct unet_sge *sge,
		  unsigned int nsge, uint32_t cookie, uint64_t *errors)
{
	return post_send(pc, NULL, 0, sge, nsge, cookie, errors);
}

/* ---- watchdog ---- */

void perf_watch_start(struct perf_ctx *pc)
{
	uint64_t now = perf_now_ns();

	pc->wd_deadline = pc->o->timeout ?
			  now + pc->o->timeout * NSEC_PER_SEC : 0;
	pc->wd_next_peek = now + PERF_PEEK_NS;
	pc->wd_spins = 0;
	pc->wd_progress = false;
	pc->peer_data = false;
}

static int perf_watch(struct perf_ctx *pc, const char *what)
{
	uint64_t now = perf_now_ns();

	if (pc->wd_progress) {
		pc->wd_progress = false;
		if (pc->o->timeout)
			pc->wd_deadline = now + pc->o->timeout * NSEC_PER_SEC;
	}
	if (now >= pc->wd_next_peek) {
		ssize_t n;
		char c;

		pc->wd_next_peek = now + PERF_PEEK_NS;
		/*
		 * Data is fine (the peer's results may overtake our last
		 * message); an orderly close means the peer gave up.
		 */
		n = recv(pc->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0)
			return perf_error("%s closed the connection while this side was %s",
					  pc->peer_name, what);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return perf_error("lost the connection to %s while %s: %s",
					  pc->peer_name, what, strerror(errno));
		if (n > 0)
			pc->peer_data = true;
	}
	if (pc->wd_deadline && now >= pc->wd_deadline)
		return perf_error("nothing happened for %" PRIu32 " s while %s; giving up (message lost?)",
				  pc->o->timeout, what);
	return 1;
}

int perf_idle(struct perf_ctx *pc, const char *what)
{
	if (pc->o->block) {
		/* The perf loops reap completions as they go. */
		int rc = unet_wait_send(pc->u, PERF_SLEEP_MS);

		if (rc < 0 && rc != -EINTR)
			return perf_error("unet_wait_send: %s", strerror(-rc));
		return perf_watch(pc, what);
	}
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
	if (++pc->wd_spins % PERF_SPINS_PER_CHECK)
		return 0;
	return perf_watch(pc, what);
}

/* ---- JSON ---- */

void perf_json_double(double v)
{
	/* JSON has no NaN or infinity. */
	if (!isfinite(v))
		v = 0;
	printf("%.3f", v);
}

void perf_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* ---- the two roles ---- */

static void ctx_init(struct perf_ctx *pc, const struct perf_tool *tool,
		     struct perf_opts *o, struct unet *u, bool server)
{
	memset(pc, 0, sizeof(*pc));
	pc->tool = tool;
	pc->o = o;
	pc->u = u;
	pc->server = server;
	pc->priv = tool->priv;
	pc->sock = -1;
	pc->chan = -1;
	snprintf(pc->peer_name, sizeof(pc->peer_name), "the peer");
}

static bool result_failed(const struct perf_result *r)
{
	return r->lost || r->errors || r->mismatches;
}

/* The measurement and its reporting, once the channel is up. */
static int run_test(struct perf_ctx *pc)
{
	struct perf_result mine = { .mode = pc->o->mode }, peer = { 0 };

	if (pc->tool->run(pc, &mine))
		return 1;
	if (exchange_results(pc, &mine, &peer))
		return 1;
	pc->tool->report(pc, &mine, &peer);
	fflush(stdout);
	return result_failed(&mine) || result_failed(&peer);
}

static int run_client(const struct perf_tool *tool, struct perf_opts *o,
		      struct unet *u)
{
	/* The server builds its endpoint first: give it a while. */
	int reply_ms = (int)max_u32(o->connect_timeout, 30) * 1000;
	struct perf_hello h;
	struct perf_ctx pc;
	int ret = 1;

	ctx_init(&pc, tool, o, u, false);
	if (nic_setup(&pc) || ep_setup(&pc))
		goto out;
	pc.sock = tcp_connect(o->host, o->port, o->connect_timeout);
	if (pc.sock < 0)
		goto out;
	name_peer(pc.sock, pc.peer_name, sizeof(pc.peer_name));
	fill_hello(&pc, &h);
	if (send_hello(&pc, &h) || recv_hello(&pc, &h, reply_ms))
		goto out;
	if (h.status) {
		perf_error("%s refused the test: %s", pc.peer_name, h.error);
		goto out;
	}
	memcpy(pc.peer_mac, h.mac, 6);
	pc.peer_ep = h.ep_id;
	pc.peer_mode = h.mode;
	pc.peer_credits = h.credits;
	if (chan_setup(&pc))
		goto out;
	ret = run_test(&pc);
out:
	ep_teardown(&pc);
	if (pc.sock >= 0)
		close(pc.sock);
	return ret;
}

static const char *tool_name(uint32_t id)
{
	return id == PERF_TOOL_LAT ? "unet_lat" :
	       id == PERF_TOOL_BW ? "unet_bw" : "an unknown test";
}

/* Takes the client's parameters, unless this side was given others. */
static int adopt(struct perf_ctx *pc, const struct perf_hello *h)
{
	struct perf_opts *o = pc->o;
	bool check = h->flags & PERF_HELLO_CHECK;

	if (h->tool != pc->tool->id)
		return perf_error("%s runs %s, this is %s", pc->peer_name,
				  tool_name(h->tool), pc->tool->name);
#define PERF_ADOPT(field, flag, what)					\
	do {								\
		if ((o->set & (flag)) && o->field != h->field)		\
			return perf_error("%s: the client asks for %" PRIu32 \
					  ", this server was given %" PRIu32, \
					  what, h->field, o->field);	\
		o->field = h->field;					\
	} while (0)
	PERF_ADOPT(size, PERF_SET_SIZE, "message size");
	if (pc->tool->id == PERF_TOOL_LAT) {
		PERF_ADOPT(count, PERF_SET_COUNT, "iterations");
		PERF_ADOPT(warmup, PERF_SET_WARMUP, "warmup iterations");
	} else {
		PERF_ADOPT(count, PERF_SET_COUNT, "messages");
		PERF_ADOPT(window, PERF_SET_WINDOW, "window");
	}
#undef PERF_ADOPT
	if ((o->set & PERF_SET_CHECK) && o->check != check)
		return perf_error("--check: the client %s it, this server %s",
				  check ? "asks for" : "does not use",
				  o->check ? "was given it" : "was not");
	o->check = check;
	if (!(o->set & PERF_SET_MODE))
		o->mode = h->mode;
	/* The client may be another build: trust nothing. */
	if (o->size > UNET_MAX_MSG || !o->count || o->count > UINT32_MAX / 2 ||
	    o->warmup > UINT32_MAX / 2 - o->count || !o->window ||
	    o->window > UNET_RING_MAX ||
	    (o->mode != UNET_MODE_MM && o->mode != UNET_MODE_BASE))
		return perf_error("%s asks for impossible parameters",
				  pc->peer_name);
	return 0;
}

static int serve_one(const struct perf_tool *tool,
		     const struct perf_opts *defaults, struct unet *u, int fd)
{
	struct perf_opts o = *defaults;	/* each client agrees afresh */
	struct perf_hello h;
	struct perf_ctx pc;
	int ret = 1;

	ctx_init(&pc, tool, &o, u, true);
	pc.sock = fd;
	set_nodelay(fd);
	name_peer(fd, pc.peer_name, sizeof(pc.peer_name));
	if (recv_hello(&pc, &h, 30 * 1000))
		goto out;
	memcpy(pc.peer_mac, h.mac, 6);
	pc.peer_ep = h.ep_id;
	pc.peer_mode = h.mode;
	pc.peer_credits = h.credits;
	if (adopt(&pc, &h) || nic_setup(&pc) || ep_setup(&pc) ||
	    chan_setup(&pc)) {
		refuse(&pc);
		goto out;
	}
	fill_hello(&pc, &h);
	if (send_hello(&pc, &h))
		goto out;
	ret = run_test(&pc);
out:
	ep_teardown(&pc);
	close(fd);
	return ret;
}

static int run_server(const struct perf_tool *tool, struct perf_opts *o,
		      struct unet *u)
{
	int lfd = tcp_listen(o->port), ret = 1;

	if (lfd < 0)
		return 1;
	/* stdout is for results only. */
	fprintf(stderr, "%s: waiting for a client on TCP port %s\n", prog,
		o->port);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perf_error("accept: %s", strerror(errno));
			break;
		}
		ret = serve_one(tool, o, u, fd);
		if (!o->forever)
			break;
	}
	close(lfd);
	return ret;
}

static const char *open_hint(int err)
{
	switch (err) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return " (is unetmm.ko loaded?)";
	case EACCES:
	case EPERM:
		return " (no permission to open it)";
	}
	return "";
}

int perf_main(const struct perf_tool *tool, int argc, char **argv)
{
	struct perf_opts o;
	struct unet *u;
	int ret;

	prog = tool->name;
	parse_args(tool, argc, argv, &o);
	/* A peer that vanishes must show up as an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	u = unet_open();
	if (!u) {
		int e = errno;

		perf_error("cannot open %s: %s%s", UNET_DEVICE_PATH,
			   strerror(e), open_hint(e));
		return 1;
	}
	ret = o.host ? run_client(tool, &o, u) : run_server(tool, &o, u);
	unet_close(u);
	return ret;
}

void perf_report_problems(const char *who, const struct perf_result *r)
{
	if (r->lost || r->errors || r->mismatches)
		fprintf(stderr, "%s: %s: %" PRIu64 " lost, %" PRIu64
			" send errors, %" PRIu64 " mismatches\n", prog, who,
			r->lost, r->errors, r->mismatches);
}
