// SPDX-License-Identifier: MIT
/*
 * fi_check: the unet provider through the libfabric API only, between two
 * processes.  Each check prints one "PASS guest/fabric-LABEL-NAME" or
 * "FAIL guest/fabric-LABEL-NAME: why" line.
 *
 *   fi_check self LABEL        two processes in this host (fork)
 *   fi_check wire LABEL 1|2    one process per guest; addresses swapped
 *                              over TCP between 169.254.88.1 and .2
 *   fi_check kill LABEL        the receiving process is killed while the
 *                              sender streams: the sender's CQ must report
 *                              errors (set UNET_FI_PEER_TIMEOUT_MS small)
 *   fi_check close LABEL       the receiver closes as soon as its message
 *                              is in, and the sender loses its ACK: the
 *                              send must still complete, without error
 *   fi_check lazy LABEL        the receiver of small messages stays away
 *                              from the provider, its ACK kept, for longer
 *                              than the sender's peer timeout: the sender
 *                              must not give it up
 *
 * Run with FI_PROVIDER_PATH pointing at libunet-fi.so; UNET_FI_DROP makes
 * the provider discard that fraction of what it receives, and the RDM
 * checks must still see every message exactly once and in order.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#define PORT 47611
#define COMP_TIMEOUT_MS 60000

static const char *label = "x";
static int failures;

struct fab {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_av *av;
	struct fid_ep *ep;
	struct fid_cq *txcq, *rxcq;
	fi_addr_t peer;
	int sock;
};

static void result(const char *name, bool ok, const char *fmt, ...)
{
	char why[256] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (ok) {
		printf("PASS guest/fabric-%s-%s\n", label, name);
	} else {
		printf("FAIL guest/fabric-%s-%s: %s\n", label, name, why);
		failures++;
	}
	fflush(stdout);
}

static void die(const char *what, int err)
{
	printf("FAIL guest/fabric-%s-setup: %s: %s\n", label, what,
	       fi_strerror(err < 0 ? -err : err));
	exit(1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The endpoint open now, if any: progress is manual, so a process that
 * waits for its peer on the socket must keep progressing the fabric, or
 * the peer's sends are never acknowledged (and after
 * UNET_FI_PEER_TIMEOUT_MS the peer gives this process up). */
static struct fid_cq *progress_cq;

static void sock_sync(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	char c = 's';

	if (write(sock, &c, 1) != 1)
		die("socket sync", errno);
	while (poll(&p, 1, progress_cq ? 5 : -1) == 0)
		fi_cq_read(progress_cq, NULL, 0);
	if (read(sock, &c, 1) != 1)
		die("socket sync", errno);
}

/* The provider's objects, up to an enabled endpoint whose address is in
 * @mine (*len bytes); @threading 0 asks for none in particular. */
static void fab_make(struct fab *f, enum fi_ep_type type,
		     enum fi_threading threading, char *mine, size_t *len)
{
	struct fi_info *hints = fi_allocinfo();
	struct fi_cq_attr cqa = { 0 };
	struct fi_av_attr ava = { 0 };
	int err;

	hints->ep_attr->type = type;
	hints->caps = FI_MSG | FI_TAGGED | FI_SOURCE | FI_DIRECTED_RECV |
		      FI_REMOTE_CQ_DATA;
	hints->fabric_attr->prov_name = strdup("unet");
	hints->domain_attr->av_type = FI_AV_TABLE;
	hints->domain_attr->threading = threading;
	err = fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, hints, &f->info);
	fi_freeinfo(hints);
	if (err)
		die("fi_getinfo", err);
	/* Ours, not a utility provider layered on it ("unet;ofi_rxd"). */
	if (strcmp(f->info->fabric_attr->prov_name, "unet"))
		die(f->info->fabric_attr->prov_name, FI_EINVAL);
	if ((err = fi_fabric(f->info->fabric_attr, &f->fabric, NULL)) ||
	    (err = fi_domain(f->fabric, f->info, &f->domain, NULL)))
		die("fabric/domain", err);
	/* The two CQ formats at the ends of the range: context for sends,
	 * tagged (with data and source) for receives. */
	cqa.format = FI_CQ_FORMAT_CONTEXT;
	cqa.wait_obj = FI_WAIT_NONE;
	if ((err = fi_cq_open(f->domain, &cqa, &f->txcq, NULL)))
		die("fi_cq_open tx", err);
	cqa.format = FI_CQ_FORMAT_TAGGED;
	cqa.wait_obj = FI_WAIT_FD;
	if ((err = fi_cq_open(f->domain, &cqa, &f->rxcq, NULL)))
		die("fi_cq_open rx", err);
	ava.type = FI_AV_TABLE;
	if ((err = fi_av_open(f->domain, &ava, &f->av, NULL)) ||
	    (err = fi_endpoint(f->domain, f->info, &f->ep, NULL)) ||
	    (err = fi_ep_bind(f->ep, &f->av->fid, 0)) ||
	    (err = fi_ep_bind(f->ep, &f->txcq->fid, FI_TRANSMIT)) ||
	    (err = fi_ep_bind(f->ep, &f->rxcq->fid, FI_RECV)) ||
	    (err = fi_enable(f->ep)) ||
	    (err = fi_getname(&f->ep->fid, mine, len)))
		die("endpoint", err);
}

static void fab_open(struct fab *f, enum fi_ep_type type)
{
	char mine[64], theirs[64];
	size_t len = sizeof(mine);

	fab_make(f, type, FI_THREAD_UNSPEC, mine, &len);
	if (write(f->sock, &len, sizeof(len)) != sizeof(len) ||
	    write(f->sock, mine, len) != (ssize_t)len ||
	    read(f->sock, &len, sizeof(len)) != sizeof(len) || len > sizeof(theirs) ||
	    read(f->sock, theirs, len) != (ssize_t)len)
		die("address exchange", errno);
	if (fi_av_insert(f->av, theirs, 1, &f->peer, 0, NULL) != 1)
		die("fi_av_insert", FI_EINVAL);
	progress_cq = f->rxcq;	/* one CQ read progresses the endpoint */
	/* Both sides have a channel before anything is sent. */
	sock_sync(f->sock);
}

static void fab_close(struct fab *f)
{
	progress_cq = NULL;
	fi_close(&f->ep->fid);
	fi_close(&f->av->fid);
	fi_close(&f->rxcq->fid);
	fi_close(&f->txcq->fid);
	fi_close(&f->domain->fid);
	fi_close(&f->fabric->fid);
	fi_freeinfo(f->info);
}

/* One completion from @cq (tagged format for the rx CQ, context for tx);
 * 0, or the error of an error completion (err_out filled), or -FI_ETIMEDOUT. */
static int wait_rx(struct fab *f, struct fi_cq_tagged_entry *c, fi_addr_t *src,
		   struct fi_cq_err_entry *err_out, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		ssize_t n = fi_cq_sreadfrom(f->rxcq, c, 1, src, NULL, 100);

		if (n == 1)
			return 0;
		if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry e = { 0 };

			fi_cq_readerr(f->rxcq, &e, 0);
			if (err_out)
				*err_out = e;
			return e.err ? e.err : FI_EOTHER;
		}
		if (now_ms() > end)
			return -FI_ETIMEDOUT;
	}
}

static int wait_tx(struct fab *f, void **ctx, struct fi_cq_err_entry *err_out,
		   int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	struct fi_cq_entry c;

	for (;;) {
		ssize_t n = fi_cq_read(f->txcq, &c, 1);

		if (n == 1) {
			if (ctx)
				*ctx = c.op_context;
			return 0;
		}
		if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry e = { 0 };

			fi_cq_readerr(f->txcq, &e, 0);
			if (err_out)
				*err_out = e;
			if (ctx)
				*ctx = e.op_context;
			return e.err ? e.err : FI_EOTHER;
		}
		/* The receiver progresses only while we let it run. */
		fi_cq_read(f->rxcq, NULL, 0);
		if (now_ms() > end)
			return -FI_ETIMEDOUT;
	}
}

static uint8_t pattern(uint64_t idx, size_t off)
{
	return (uint8_t)(idx * 131 + off * 7 + (off >> 8));
}

static void fill(uint8_t *b, uint64_t idx, size_t len)
{
	for (size_t i = 0; i < len; i++)
		b[i] = pattern(idx, i);
}

static size_t check(const uint8_t *b, uint64_t idx, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (b[i] != pattern(idx, i))
			return i;
	return len;
}

/* Sizes around every boundary the provider has: inline (72 payload
 * bytes), a U-Net message (65496 payload bytes), segmentation, and large. */
static const size_t stream_sizes[] = {
	0, 1, 8, 71, 72, 73, 112, 1000, 4096, 65495, 65496, 65497, 131072,
	200003, 1048576, 4194304 + 5,
};
#define NSIZES (sizeof(stream_sizes) / sizeof(stream_sizes[0]))
#define MAXSZ (4194304 + 5)
#define INFLIGHT 4

/* Untagged messages carrying their index as remote CQ data: completions
 * must come back in order, each once, every byte right. */
static void check_stream(struct fab *f, bool sender, int rounds, const char *name)
{
	unsigned total = (unsigned)(NSIZES * (size_t)rounds), i;
	uint8_t *bufs[INFLIGHT];
	char why[200] = "";
	bool ok = true;

	for (i = 0; i < INFLIGHT; i++)
		bufs[i] = malloc(MAXSZ);
	if (sender) {
		unsigned posted = 0, done = 0;
		bool *completed = calloc(total, sizeof(bool));
		bool busy[INFLIGHT] = { false };

		while (done < total && ok) {
			/* A buffer is reused only once its own send completed. */
			while (posted < total && !busy[posted % INFLIGHT]) {
				size_t len = stream_sizes[posted % NSIZES];
				uint8_t *b = bufs[posted % INFLIGHT];
				ssize_t r;

				fill(b, posted, len);
				r = fi_senddata(f->ep, b, len, NULL, posted, f->peer,
						(void *)(uintptr_t)(posted + 1));
				if (r == -FI_EAGAIN)
					break;
				if (r) {
					snprintf(why, sizeof(why), "fi_senddata: %s", fi_strerror((int)-r));
					ok = false;
					break;
				}
				busy[posted % INFLIGHT] = true;
				posted++;
			}
			if (ok) {
				void *ctx;
				int e = wait_tx(f, &ctx, NULL, COMP_TIMEOUT_MS);

				if (e) {
					snprintf(why, sizeof(why), "send %u: %s", done, fi_strerror(e < 0 ? -e : e));
					ok = false;
				} else if ((uintptr_t)ctx < 1 || (uintptr_t)ctx > posted ||
					   completed[(uintptr_t)ctx - 1]) {
					/* Send completions may come out of order
					 * (comp_order none: small sends complete
					 * when posted), but each exactly once. */
					snprintf(why, sizeof(why), "send completion %lu unknown or twice",
						 (unsigned long)(uintptr_t)ctx - 1);
					ok = false;
				} else {
					completed[(uintptr_t)ctx - 1] = true;
					busy[((uintptr_t)ctx - 1) % INFLIGHT] = false;
				}
				done++;
			}
		}
		free(completed);
		sock_sync(f->sock);
		{
			char n[64];

			snprintf(n, sizeof(n), "%s-send", name);
			result(n, ok, "%s", why);
		}
	} else {
		unsigned posted = 0, got = 0;

		while (got < total && ok) {
			struct fi_cq_tagged_entry c;
			fi_addr_t src;
			size_t bad;
			int e;

			while (posted < total && posted - got < INFLIGHT) {
				if (fi_recv(f->ep, bufs[posted % INFLIGHT], MAXSZ, NULL,
					    FI_ADDR_UNSPEC, (void *)(uintptr_t)(posted + 1)))
					break;
				posted++;
			}
			e = wait_rx(f, &c, &src, NULL, COMP_TIMEOUT_MS);
			if (e) {
				snprintf(why, sizeof(why), "receive %u: %s", got, fi_strerror(e < 0 ? -e : e));
				ok = false;
				break;
			}
			if ((uintptr_t)c.op_context != got + 1 || c.data != got ||
			    !(c.flags & FI_REMOTE_CQ_DATA) || src != f->peer ||
			    c.len != stream_sizes[got % NSIZES]) {
				snprintf(why, sizeof(why),
					 "receive %u: context %lu data %" PRIu64 " len %zu src %" PRIu64 " (expected len %zu, src %" PRIu64 ")",
					 got, (unsigned long)(uintptr_t)c.op_context - 1, c.data, c.len,
					 src, stream_sizes[got % NSIZES], f->peer);
				ok = false;
				break;
			}
			bad = check(bufs[got % INFLIGHT], got, c.len);
			if (bad != c.len) {
				snprintf(why, sizeof(why), "message %u (%zu B): byte %zu wrong", got, c.len, bad);
				ok = false;
			}
			got++;
		}
		sock_sync(f->sock);
		/* Exactly once: nothing more may arrive, retransmissions
		 * included, even with a receive waiting for it. */
		if (ok) {
			struct fi_cq_tagged_entry c;

			fi_recv(f->ep, bufs[0], MAXSZ, NULL, FI_ADDR_UNSPEC, (void *)1);
			if (wait_rx(f, &c, NULL, NULL, 500) != -FI_ETIMEDOUT) {
				snprintf(why, sizeof(why), "a message beyond the %u sent arrived", total);
				ok = false;
			}
			fi_cancel(&f->ep->fid, (void *)1);
			{
				struct fi_cq_err_entry e;

				wait_rx(f, &c, NULL, &e, 1000);
			}
		}
		char n[64];

		snprintf(n, sizeof(n), "%s-recv", name);
		result(n, ok, "%u messages of %zu sizes (0 B .. 4 MiB), in order: %s",
		       total, NSIZES, why);
	}
	for (i = 0; i < INFLIGHT; i++)
		free(bufs[i]);
}

/* Takes the unexpected message @tag the FI_PEEK | FI_CLAIM way: peek
 * and set it aside (a completion with its length), refuse a claim with
 * more iov entries than the provider's limit, then claim it into @buf
 * (whose completion the caller waits for). */
static bool claim_first(struct fab *f, uint8_t *buf, size_t cap, uint64_t tag,
			char *why, size_t whylen)
{
	struct iovec iov[5];
	struct fi_msg_tagged m = { .msg_iov = iov, .iov_count = 1,
				   .addr = f->peer, .tag = tag, .context = buf };
	struct fi_cq_tagged_entry c;
	ssize_t rc;
	int k, e;

	for (k = 0; k < 5; k++) {
		iov[k].iov_base = buf;
		iov[k].iov_len = cap / 5;
	}
	iov[0].iov_len = cap;
	rc = fi_trecvmsg(f->ep, &m, FI_PEEK | FI_CLAIM);
	e = rc ? (int)rc : wait_rx(f, &c, NULL, NULL, COMP_TIMEOUT_MS);
	if (e || c.op_context != buf || c.tag != tag) {
		snprintf(why, whylen, "FI_PEEK | FI_CLAIM of tag %#" PRIx64 ": %s",
			 tag, e ? fi_strerror(e < 0 ? -e : e) : "wrong completion");
		return false;
	}
	m.iov_count = 5;	/* the provider's iov_limit is 4 */
	rc = fi_trecvmsg(f->ep, &m, FI_CLAIM);
	if (rc != -FI_EINVAL) {
		snprintf(why, whylen, "FI_CLAIM with 5 iov entries returned %zd, not -FI_EINVAL", rc);
		return false;
	}
	m.iov_count = 1;
	rc = fi_trecvmsg(f->ep, &m, FI_CLAIM);
	if (rc) {
		snprintf(why, whylen, "FI_CLAIM: %s", fi_strerror((int)-rc));
		return false;
	}
	return true;
}

/* Tagged messages sent before any receive is posted (the unexpected
 * queue), then taken in reverse order by exact tag, one by an ignore mask,
 * one by FI_PEEK | FI_CLAIM. */
#define NUNEXP 12
static void check_unexpected(struct fab *f, bool sender)
{
	static const size_t sizes[NUNEXP] = { 1, 72, 73, 500, 4096, 65496,
		65497, 100000, 300000, 16, 0, 2000000 };
	char why[200] = "";
	bool ok = true;
	int i;

	if (sender) {
		uint8_t *b[NUNEXP];

		for (i = 0; i < NUNEXP; i++) {
			b[i] = malloc(sizes[i] + 1);
			fill(b[i], 1000 + (uint64_t)i, sizes[i]);
			if (fi_tsend(f->ep, b[i], sizes[i], NULL, f->peer,
				     0x5500 + (uint64_t)i, NULL)) {
				ok = false;
				snprintf(why, sizeof(why), "fi_tsend %d refused", i);
			}
		}
		/* Tell the receiver they are posted; it waits, then receives. */
		sock_sync(f->sock);
		for (i = 0; i < NUNEXP && ok; i++) {
			int e = wait_tx(f, NULL, NULL, COMP_TIMEOUT_MS);

			if (e) {
				ok = false;
				snprintf(why, sizeof(why), "send completion %d: %s", i, fi_strerror(e < 0 ? -e : e));
			}
		}
		for (i = 0; i < NUNEXP; i++)
			free(b[i]);
		sock_sync(f->sock);
		result("unexpected-send", ok, "%s", why);
		return;
	}
	sock_sync(f->sock);
	/* Let everything arrive first (progress, not posting). */
	for (uint64_t end = now_ms() + 1500; now_ms() < end;)
		fi_cq_read(f->rxcq, NULL, 0);
	for (i = NUNEXP - 1; i >= 0 && ok; i--) {
		uint8_t *buf = malloc(sizes[i] + 1);
		struct fi_cq_tagged_entry c;
		uint64_t tag = 0x5500 + (uint64_t)i, ignore = 0;
		int e;

		if (i == 3) {	/* any tag of 0x55xx whose low nibble is 3 */
			tag = 0x5503 | 0xf0;
			ignore = 0xf0;
		}
		if (i == 0 && !claim_first(f, buf, sizes[i] + 1, tag, why, sizeof(why))) {
			ok = false;
		} else if (i != 0 &&
			   fi_trecv(f->ep, buf, sizes[i] + 1, NULL, f->peer, tag, ignore, buf)) {
			ok = false;
			snprintf(why, sizeof(why), "fi_trecv %d refused", i);
		} else if ((e = wait_rx(f, &c, NULL, NULL, COMP_TIMEOUT_MS))) {
			ok = false;
			snprintf(why, sizeof(why), "tag %#" PRIx64 ": %s", tag, fi_strerror(e < 0 ? -e : e));
		} else if (c.op_context != buf || c.tag != 0x5500 + (uint64_t)i ||
			   c.len != sizes[i] || !(c.flags & FI_TAGGED) ||
			   check(buf, 1000 + (uint64_t)i, sizes[i]) != sizes[i]) {
			ok = false;
			snprintf(why, sizeof(why), "tag %#" PRIx64 ": got tag %#" PRIx64 " len %zu, or wrong bytes",
				 tag, c.tag, c.len);
		}
		free(buf);
	}
	sock_sync(f->sock);
	result("unexpected-recv", ok, "%d tagged messages taken in reverse order: %s", NUNEXP, why);
}

/* Truncation, cancel and a directed receive. */
static void check_errors(struct fab *f, bool sender)
{
	static uint8_t small[50], big[100];
	struct fi_cq_tagged_entry c;
	struct fi_cq_err_entry e = { 0 };
	char why[200] = "";
	bool ok = true;
	int err;

	if (sender) {
		fill(big, 7, sizeof(big));
		sock_sync(f->sock);	/* the receive is posted */
		if (fi_tsend(f->ep, big, sizeof(big), NULL, f->peer, 7, NULL) ||
		    wait_tx(f, NULL, NULL, COMP_TIMEOUT_MS))
			ok = false;
		sock_sync(f->sock);
		result("truncate-send", ok, "send of 100 B failed");
		return;
	}
	fi_trecv(f->ep, small, sizeof(small), NULL, f->peer, 7, 0, small);
	sock_sync(f->sock);
	err = wait_rx(f, &c, NULL, &e, COMP_TIMEOUT_MS);
	if (err != FI_ETRUNC || e.olen != 50 || e.len != 50 ||
	    check(small, 7, sizeof(small)) != sizeof(small)) {
		ok = false;
		snprintf(why, sizeof(why), "100 B into 50: err %d olen %zu len %zu", err, e.olen, e.len);
	}
	sock_sync(f->sock);
	result("truncate", ok, "%s", why);

	ok = true;
	fi_trecv(f->ep, small, sizeof(small), NULL, FI_ADDR_UNSPEC, 999, 0, (void *)0x999);
	if (fi_cancel(&f->ep->fid, (void *)0x999) ||
	    wait_rx(f, &c, NULL, &e, 1000) != FI_ECANCELED ||
	    e.op_context != (void *)0x999) {
		ok = false;
		snprintf(why, sizeof(why), "no FI_ECANCELED completion");
	}
	result("cancel", ok, "%s", why);
}

static void check_dgram(struct fab *f, bool sender, int rounds)
{
	enum { BURST = 16 };
	static const size_t sizes[BURST] = { 0, 1, 40, 72, 73, 200, 1500, 4000,
		9000, 20000, 40000, 65000, 65495, 65496, 3, 100 };
	uint8_t *bufs[BURST];
	char why[200] = "";
	bool ok = true;
	int r, i;

	for (i = 0; i < BURST; i++)
		bufs[i] = malloc(65536);
	for (r = 0; r < rounds && ok; r++) {
		if (!sender)
			for (i = 0; i < BURST; i++)
				fi_recv(f->ep, bufs[i], 65536, NULL, FI_ADDR_UNSPEC, bufs[i]);
		sock_sync(f->sock);	/* receives are posted */
		for (i = 0; i < BURST && ok; i++) {
			uint64_t idx = (uint64_t)r * BURST + (uint64_t)i;

			if (sender) {
				fill(bufs[i], idx, sizes[i]);
				if (fi_send(f->ep, bufs[i], sizes[i], NULL, f->peer, NULL) ||
				    wait_tx(f, NULL, NULL, COMP_TIMEOUT_MS)) {
					ok = false;
					snprintf(why, sizeof(why), "send %d of round %d", i, r);
				}
			} else {
				struct fi_cq_tagged_entry c;
				int e = wait_rx(f, &c, NULL, NULL, 10000);

				if (e || c.op_context != bufs[i] || c.len != sizes[i] ||
				    check(bufs[i], idx, sizes[i]) != sizes[i]) {
					ok = false;
					snprintf(why, sizeof(why), "datagram %d of round %d: err %d len %zu", i, r, e, e ? 0 : c.len);
				}
			}
		}
		sock_sync(f->sock);
	}
	for (i = 0; i < BURST; i++)
		free(bufs[i]);
	result(sender ? "dgram-send" : "dgram-recv", ok, "%s", why);
}

static void run_role(int sock, bool first)
{
	struct fab f = { .sock = sock };
	const char *drop = getenv("UNET_FI_DROP");
	bool lossy = drop && strtod(drop, NULL) > 0;

	fab_open(&f, FI_EP_RDM);
	check_stream(&f, first, 2, "stream");
	check_stream(&f, !first, 1, "stream-back");	/* the other way */
	check_unexpected(&f, first);
	check_errors(&f, first);
	fab_close(&f);
	if (!lossy) {	/* datagrams are lost as they should be under loss */
		fab_open(&f, FI_EP_DGRAM);
		check_dgram(&f, first, 4);
		fab_close(&f);
	}
}

/* The survivor of a killed peer: streaming 4 MiB sends, it must get
 * error completions (not hang) once the receiver is gone. */
static void run_kill(void)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair", errno);
	pid = fork();
	if (pid == 0) {
		struct fab f = { .sock = sv[1] };
		uint8_t *buf = malloc(MAXSZ);
		struct fi_cq_tagged_entry c;

		fab_open(&f, FI_EP_RDM);
		fi_recv(f.ep, buf, MAXSZ, NULL, FI_ADDR_UNSPEC, buf);
		wait_rx(&f, &c, NULL, NULL, COMP_TIMEOUT_MS);
		sock_sync(f.sock);		/* one message in: kill me now */
		for (;;)
			fi_cq_read(f.rxcq, NULL, 0);	/* receive no more */
	} else {
		struct fab f = { .sock = sv[0] };
		uint8_t *buf = malloc(MAXSZ);
		struct fi_cq_err_entry e = { 0 };
		uint64_t t0;
		int i, err = 0, errors = 0, oks = 0;

		fab_open(&f, FI_EP_RDM);
		for (i = 0; i < 4; i++)
			fi_send(f.ep, buf, MAXSZ, NULL, f.peer, NULL);
		sock_sync(f.sock);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		t0 = now_ms();
		for (i = 0; i < 4; i++) {
			err = wait_tx(&f, NULL, &e, COMP_TIMEOUT_MS);
			if (err == -FI_ETIMEDOUT)
				break;
			if (err)
				errors++;
			else
				oks++;
		}
		result("killed-peer", errors > 0 && err != -FI_ETIMEDOUT && oks + errors == 4,
		       "of 4 sends: %d completed, %d failed, then %s", oks, errors,
		       fi_strerror(err < 0 ? -err : err));
		printf("# killed peer noticed after %" PRIu64 " ms\n", now_ms() - t0);
		/* Later sends to the dead peer fail at once. */
		fi_send(f.ep, buf, 10, NULL, f.peer, NULL);
		err = wait_tx(&f, NULL, &e, 5000);
		result("killed-peer-after", err == FI_EIO, "a send to a dead peer gave %d", err);
		fab_close(&f);
	}
}

/* Runs @child in a forked process and @parent in this one, joined by a
 * socket pair; a child that fails (or dies) is a failure here too. */
static void run_forked(void (*child)(int sock), void (*parent)(int sock))
{
	int sv[2], status;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair", errno);
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		child(sv[1]);
		exit(failures ? 1 : 0);	/* not _exit: ASan's leak check */
	}
	parent(sv[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		failures++;
}

/* A receiver that closes its endpoint as soon as the message is in (as
 * fi_pingpong's server does after its last "fin"), while the sender
 * discards the first ACK it gets (UNET_FI_DROP_ACKS=1): the sender sends
 * again, and the closing endpoint must still be there to acknowledge, or
 * the send of a delivered message fails with FI_EIO once the peer timeout
 * (3 s here) runs out.  The close must not take long either. */
static void close_receiver(int sock)
{
	struct fab f = { .sock = sock };
	uint8_t buf[1000];
	struct fi_cq_tagged_entry c;
	uint64_t t0;
	int err;

	fab_open(&f, FI_EP_RDM);
	fi_recv(f.ep, buf, sizeof(buf), NULL, FI_ADDR_UNSPEC, buf);
	sock_sync(f.sock);
	err = wait_rx(&f, &c, NULL, NULL, COMP_TIMEOUT_MS);
	result("close-received", err == 0, "the message did not arrive: %d", err);
	t0 = now_ms();
	fab_close(&f);
	printf("# receiver's close took %" PRIu64 " ms\n", now_ms() - t0);
	result("close-bounded", now_ms() - t0 < 5000, "fi_close took %" PRIu64 " ms",
	       now_ms() - t0);
}

static void close_sender(int sock)
{
	struct fab f = { .sock = sock };
	uint8_t buf[1000];
	struct fi_cq_err_entry e = { 0 };
	uint64_t t0;
	int err;

	setenv("UNET_FI_DROP_ACKS", "1", 1);
	setenv("UNET_FI_PEER_TIMEOUT_MS", "3000", 1);
	fab_open(&f, FI_EP_RDM);
	sock_sync(f.sock);
	memset(buf, 0x5a, sizeof(buf));
	t0 = now_ms();
	fi_send(f.ep, buf, sizeof(buf), NULL, f.peer, buf);
	err = wait_tx(&f, NULL, &e, COMP_TIMEOUT_MS);
	result("close-last-ack", err == 0,
	       "the send to a peer that received it and closed gave %s after %" PRIu64 " ms",
	       fi_strerror(err < 0 ? -err : err), now_ms() - t0);
	fab_close(&f);
}

/* Lazy ACKs (docs/FABRIC.md): a receiver takes small messages, whose
 * sends completed when posted, and then stays away from the provider for
 * longer than the sender's peer timeout (1 s here), as a process does
 * between an MPI receive and a long computation.  The ACK it kept for a
 * reply is not sent meanwhile; the sender waits for nothing, so it must
 * not give the peer up: once the receiver is back, a send that does wait
 * for its ACK completes without error.  Twice: with the sender calling the
 * provider while the receiver is away ("lazy"), and with both away, the
 * sender back first with that send ("lazy-both-away": its silence clock
 * must start at the send, not at the last ACK, seconds before). */
#define LAZY_MSGS	3
#define LAZY_AWAY_MS	2500

static bool lazy_both_away;

static const char *lazy_name(const char *what)
{
	static char name[64];

	snprintf(name, sizeof(name), "lazy-%s%s",
		 lazy_both_away ? "both-away-" : "", what);
	return name;
}

static void lazy_receiver(int sock)
{
	struct fab f = { .sock = sock };
	uint8_t small[LAZY_MSGS][8], big[1000];
	struct fi_cq_tagged_entry c[LAZY_MSGS];
	struct fi_cq_err_entry e = { 0 };
	uint64_t end;
	int i, got = 0, err;
	bool inorder = true;

	fab_open(&f, FI_EP_RDM);
	for (i = 0; i < LAZY_MSGS; i++)
		fi_recv(f.ep, small[i], sizeof(small[i]), NULL, FI_ADDR_UNSPEC,
			small[i]);
	sock_sync(f.sock);
	/* Plain reads, and none after the last message: its ACK is still
	 * owed when we go away. */
	end = now_ms() + COMP_TIMEOUT_MS;
	while (got < LAZY_MSGS && now_ms() < end) {
		ssize_t n = fi_cq_read(f.rxcq, &c[got], LAZY_MSGS - got);

		if (n > 0)
			got += (int)n;
	}
	for (i = 0; i < got; i++)
		inorder &= c[i].op_context == small[i] &&
			   (c[i].flags & FI_REMOTE_CQ_DATA) &&
			   c[i].data == (uint64_t)i;
	result(lazy_name("received"), got == LAZY_MSGS && inorder,
	       "%d of %d small messages, in order: %d", got, LAZY_MSGS, inorder);
	progress_cq = NULL;	/* away: not one call into the provider */
	sock_sync(f.sock);
	/* Both away: the sender comes back first and sends at once. */
	usleep((LAZY_AWAY_MS + (lazy_both_away ? 500 : 0)) * 1000);
	progress_cq = f.rxcq;
	fi_recv(f.ep, big, sizeof(big), NULL, FI_ADDR_UNSPEC, big);
	if (!lazy_both_away)
		sock_sync(f.sock);
	err = wait_rx(&f, &c[0], NULL, &e, COMP_TIMEOUT_MS);
	result(lazy_name("back"), err == 0 && c[0].len == sizeof(big) &&
	       check(big, 99, sizeof(big)) == sizeof(big),
	       "the message after the pause: %d, %zu bytes", err, c[0].len);
	fab_close(&f);
}

static void lazy_sender(int sock)
{
	struct fab f = { .sock = sock };
	uint8_t small[8] = "lazyack", big[1000];
	struct fi_cq_err_entry e = { 0 };
	uint64_t end;
	int i, err = 0;

	setenv("UNET_FI_PEER_TIMEOUT_MS", "1000", 1);
	fab_open(&f, FI_EP_RDM);
	sock_sync(f.sock);
	for (i = 0; i < LAZY_MSGS && !err; i++) {
		fi_senddata(f.ep, small, sizeof(small), NULL, (uint64_t)i,
			    f.peer, NULL);
		err = wait_tx(&f, NULL, &e, COMP_TIMEOUT_MS);
	}
	result(lazy_name("sent"), err == 0, "a small send gave %d", err);
	sock_sync(f.sock);
	if (lazy_both_away) {
		usleep(LAZY_AWAY_MS * 1000);	/* away too, no calls */
	} else {
		/* Keep progressing past our peer timeout. */
		end = now_ms() + LAZY_AWAY_MS;
		while (now_ms() < end) {
			fi_cq_read(f.txcq, NULL, 0);
			usleep(1000);
		}
		sock_sync(f.sock);
	}
	fill(big, 99, sizeof(big));
	fi_send(f.ep, big, sizeof(big), NULL, f.peer, big);
	err = wait_tx(&f, NULL, &e, COMP_TIMEOUT_MS);
	result(lazy_name("peer-kept"), err == 0,
	       "a send to the peer that came back gave %s",
	       fi_strerror(err < 0 ? -err : err));
	fab_close(&f);
}

static void self_first(int sock)
{
	run_role(sock, true);
}

static void self_second(int sock)
{
	run_role(sock, false);
}

/*
 * FI_THREAD_SAFE: THREADS threads share one RDM endpoint, its two CQs and
 * its AV (which holds the endpoint's own address).  Each posts tagged
 * receives for its own tags, sends them to itself from buffers of its
 * own, and reads both CQs, completing whichever thread's operations it
 * finds there; every receive is checked byte by byte by the thread that
 * takes its completion, and every operation must complete exactly once.
 */
#define THREADS 4
#define PER_THREAD 64
static const size_t thread_sizes[] = { 1, 72, 73, 4096, 65496, 65497, 200000,
	4194304 };
#define NTSIZES (sizeof(thread_sizes) / sizeof(thread_sizes[0]))

struct thr_op {
	uint8_t *buf;
	size_t len;
	uint64_t idx;
	int done;		/* completions seen (atomic) */
	bool bad;
};

struct thr_ctx {
	struct fab *f;
	int id;
	struct thr_op rx[PER_THREAD], tx[PER_THREAD];
	char why[160];
};

static struct thr_ctx thr_ctxs[THREADS];
static int thr_bad_completions;

static uint64_t thr_tag(int t, int k)
{
	return 0x7700000000ull | (uint64_t)t << 16 | (uint64_t)k;
}

/* Reads both CQs once; the completions may be any thread's. */
static void thr_reap(struct fab *f)
{
	struct fi_cq_tagged_entry c[8];
	struct fi_cq_entry t[8];
	ssize_t n, i;

	n = fi_cq_read(f->rxcq, c, 8);
	for (i = 0; i < n; i++) {
		struct thr_op *op = c[i].op_context;

		if (check(op->buf, op->idx, op->len) != op->len ||
		    c[i].len != op->len)
			op->bad = true;
		__atomic_add_fetch(&op->done, 1, __ATOMIC_SEQ_CST);
	}
	if (n == -FI_EAVAIL) {
		struct fi_cq_err_entry e = { 0 };

		if (fi_cq_readerr(f->rxcq, &e, 0) == 1)
			__atomic_add_fetch(&thr_bad_completions, 1, __ATOMIC_SEQ_CST);
	}
	n = fi_cq_read(f->txcq, t, 8);
	for (i = 0; i < n; i++)
		__atomic_add_fetch(&((struct thr_op *)t[i].op_context)->done, 1,
				   __ATOMIC_SEQ_CST);
	if (n == -FI_EAVAIL) {
		struct fi_cq_err_entry e = { 0 };

		if (fi_cq_readerr(f->txcq, &e, 0) == 1)
			__atomic_add_fetch(&thr_bad_completions, 1, __ATOMIC_SEQ_CST);
	}
}

static int thr_pending(const struct thr_ctx *x)
{
	int k, n = 0;

	for (k = 0; k < PER_THREAD; k++)
		n += !__atomic_load_n(&x->rx[k].done, __ATOMIC_SEQ_CST) +
		     !__atomic_load_n(&x->tx[k].done, __ATOMIC_SEQ_CST);
	return n;
}

static void *thr_main(void *arg)
{
	struct thr_ctx *x = arg;
	struct fab *f = x->f;
	uint64_t end = now_ms() + COMP_TIMEOUT_MS;
	int k;

	for (k = 0; k < PER_THREAD; k++) {
		struct thr_op *r = &x->rx[k], *s = &x->tx[k];
		uint64_t tag = thr_tag(x->id, k);
		ssize_t rc;

		r->len = s->len = thread_sizes[(size_t)(k + x->id) % NTSIZES];
		r->idx = s->idx = (uint64_t)x->id * PER_THREAD + (uint64_t)k;
		r->buf = calloc(1, r->len);
		s->buf = malloc(s->len);
		fill(s->buf, s->idx, s->len);
		while ((rc = fi_trecv(f->ep, r->buf, r->len, NULL, f->peer, tag, 0,
				      r)) == -FI_EAGAIN)
			thr_reap(f);
		while (!rc && (rc = fi_tsend(f->ep, s->buf, s->len, NULL, f->peer,
					     tag, s)) == -FI_EAGAIN)
			thr_reap(f);
		if (rc) {
			snprintf(x->why, sizeof(x->why), "post %d: %s", k,
				 fi_strerror((int)-rc));
			return NULL;
		}
		thr_reap(f);
	}
	while (thr_pending(x) && now_ms() < end)
		thr_reap(f);
	/* Others may still need this thread's reads of the shared CQs. */
	for (k = 0; k < THREADS; k++)
		while (thr_pending(&thr_ctxs[k]) && now_ms() < end)
			thr_reap(f);
	return NULL;
}

static void run_threads(void)
{
	pthread_t th[THREADS];
	char mine[64], why[200] = "";
	size_t len = sizeof(mine);
	struct fab fab = { 0 }, *f = &fab;
	int t, k, lost = 0, twice = 0, bad = 0;

	fab_make(f, FI_EP_RDM, FI_THREAD_SAFE, mine, &len);
	result("threads-offered", f->info->domain_attr->threading == FI_THREAD_SAFE,
	       "fi_getinfo gave threading %d", f->info->domain_attr->threading);
	if (fi_av_insert(f->av, mine, 1, &f->peer, 0, NULL) != 1)
		die("fi_av_insert", FI_EINVAL);
	for (t = 0; t < THREADS; t++) {
		thr_ctxs[t].f = f;
		thr_ctxs[t].id = t;
		if (pthread_create(&th[t], NULL, thr_main, &thr_ctxs[t]))
			die("pthread_create", errno);
	}
	for (t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	/* Nothing more may come: a late duplicate would count twice. */
	for (uint64_t end = now_ms() + 200; now_ms() < end;)
		thr_reap(f);
	fab_close(f);
	for (t = 0; t < THREADS; t++) {
		if (thr_ctxs[t].why[0])
			snprintf(why, sizeof(why), "thread %d: %s", t, thr_ctxs[t].why);
		for (k = 0; k < PER_THREAD; k++) {
			struct thr_op *r = &thr_ctxs[t].rx[k], *s = &thr_ctxs[t].tx[k];

			lost += !r->done + !s->done;
			twice += (r->done > 1) + (s->done > 1);
			bad += r->bad;
			free(r->buf);
			free(s->buf);
		}
	}
	result("threads", !why[0] && !lost && !twice && !bad && !thr_bad_completions,
	       "%d threads x %d tagged messages to self on one endpoint: %d not completed, %d completed twice, %d with wrong bytes, %d error completions %s",
	       THREADS, PER_THREAD, lost, twice, bad, thr_bad_completions, why);
}

static int tcp_pair(int guest)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (guest == 1) {
		int c;

		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		a.sin_addr.s_addr = htonl(INADDR_ANY);
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1))
			die("listen", errno);
		c = accept(s, NULL, NULL);
		close(s);
		return c;
	}
	inet_pton(AF_INET, "169.254.88.1", &a.sin_addr);
	for (int i = 0; i < 600; i++) {
		if (!connect(s, (struct sockaddr *)&a, sizeof(a)))
			return s;
		close(s);
		s = socket(AF_INET, SOCK_STREAM, 0);
		usleep(100000);
	}
	die("connect to guest 1", errno);
	return -1;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: fi_check self|kill|close|lazy|threads LABEL | fi_check wire LABEL 1|2\n");
		return 2;
	}
	label = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "kill")) {
		run_kill();
		return failures ? 1 : 0;
	}
	if (!strcmp(argv[1], "close")) {
		run_forked(close_receiver, close_sender);
		return failures ? 1 : 0;
	}
	if (!strcmp(argv[1], "lazy")) {
		run_forked(lazy_receiver, lazy_sender);
		lazy_both_away = true;
		run_forked(lazy_receiver, lazy_sender);
		return failures ? 1 : 0;
	}
	if (!strcmp(argv[1], "threads")) {
		run_threads();
		return failures ? 1 : 0;
	}
	if (!strcmp(argv[1], "wire") && argc > 3) {
		int guest = atoi(argv[3]);

		run_role(tcp_pair(guest), guest == 1);
		return failures ? 1 : 0;
	}
	run_forked(self_second, self_first);
	return failures ? 1 : 0;
}
