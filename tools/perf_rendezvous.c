// SPDX-License-Identifier: MIT
/*
 * How the two sides of a perf test meet, in the manner of perftest: the
 * server listens on TCP, the client connects and sends a hello carrying
 * its endpoint's address and the test parameters; the server adopts the
 * parameters, builds its own endpoint and answers with its address.  Each
 * side then makes a channel to the other's address, and every measured
 * byte travels over U-Net.  The TCP connection carries only the hellos,
 * the results at the end, and, by closing, the news that a side gave up.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "perf_setup.h"

#define PERF_MAGIC	0x554e5046u	/* "UNPF" */
#define PERF_PROTO	2		/* 2: addresses instead of (MAC, id) */

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

void perf_set_nodelay(int fd)
{
	int one = 1;

	/* Only small, latency-bound exchanges go over it. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void perf_name_peer(int fd, char *out, size_t len)
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
bool perf_same_host(int fd)
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
int perf_tcp_listen(const char *port)
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

int perf_tcp_connect(const char *host, const char *port, uint32_t timeout_s)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM };
	uint64_t deadline = perf_now_ns() + timeout_s * 1000000000ull;
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
					perf_set_nodelay(fd);
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

/* Every integer travels big-endian; the list drives the conversion. */
#define PERF_HELLO_U32(X)						\
	X(magic) X(proto) X(tool) X(status) X(mode) X(size) X(count)	\
	X(warmup) X(window) X(flags) X(credits)

_Static_assert(sizeof(struct perf_hello) == 220, "wire layout");

static void hello_swap(struct perf_hello *h)
{
#define PERF_HELLO_SWAP(f) h->f = htonl(h->f);
	PERF_HELLO_U32(PERF_HELLO_SWAP)
#undef PERF_HELLO_SWAP
}

int perf_send_hello(struct perf_ctx *pc, const struct perf_hello *h)
{
	struct perf_hello w = *h;

	hello_swap(&w);
	if (write_full(pc->sock, &w, sizeof(w)))
		return perf_error("cannot send to %s: %s", pc->peer_name,
				  strerror(errno));
	return 0;
}

int perf_recv_hello(struct perf_ctx *pc, struct perf_hello *h,
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

void perf_fill_hello(struct perf_ctx *pc, struct perf_hello *h)
{
	const struct perf_opts *o = pc->o;

	memset(h, 0, sizeof(*h));
	h->magic = PERF_MAGIC;
	h->proto = PERF_PROTO;
	h->tool = pc->tool->id;
	memcpy(h->addr, pc->my_addr, UNET_ADDR_LEN);
	h->mode = o->mode;
	h->size = o->size;
	h->count = o->count;
	h->warmup = o->warmup;
	h->window = o->window;
	h->flags = o->check ? PERF_HELLO_CHECK : 0;
	if (!(pc->nic.flags & UNET_NIC_WIRE))
		h->flags |= PERF_HELLO_LOOPBACK_ONLY;
	h->credits = pc->credits;
}

void perf_refuse(struct perf_ctx *pc)
{
	struct perf_hello h = {
		.magic = PERF_MAGIC,
		.proto = PERF_PROTO,
		.tool = pc->tool->id,
		.status = 1,
	};

	snprintf(h.error, sizeof(h.error), "%s", perf_last_error());
	perf_send_hello(pc, &h);
}

#define PERF_RESULT_COUNT_FIELD(name) + 1
#define PERF_RESULT_WORDS (1 PERF_RESULT_FIELDS(PERF_RESULT_COUNT_FIELD))

int perf_exchange_results(struct perf_ctx *pc, const struct perf_result *mine,
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
