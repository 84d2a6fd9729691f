/* SPDX-License-Identifier: MIT */
/*
 * The framework of the perf tools (unet_lat, unet_bw), in the manner of
 * perftest: a tool describes itself in a struct perf_tool and hands control
 * to perf_main(), which parses the options (perf_options.c), meets the
 * peer over TCP (perf_rendezvous.c), builds the endpoint, its buffers and
 * the channel (perf_endpoint.c), and calls the tool's run() on a ready
 * channel and its report() with both sides' results (perf_main.c).  run()
 * moves messages with perf_io.c and waits with perf_watchdog.c.
 */
#ifndef UNET_TOOLS_PERF_H
#define UNET_TOOLS_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unet.h"

#define PERF_DEFAULT_PORT	"18515"

/* Tool identities, also carried in the handshake to catch mismatches. */
enum perf_tool_id {
	PERF_TOOL_LAT	= 1,
	PERF_TOOL_BW	= 2,
};

/* Options only some tools accept. */
#define PERF_OPT_WARMUP		(1u << 0)
#define PERF_OPT_WINDOW		(1u << 1)

/* Test parameters given explicitly: a server must not silently drop them. */
#define PERF_SET_SIZE		(1u << 0)
#define PERF_SET_COUNT		(1u << 1)
#define PERF_SET_WARMUP		(1u << 2)
#define PERF_SET_WINDOW		(1u << 3)
#define PERF_SET_MODE		(1u << 4)
#define PERF_SET_CHECK		(1u << 5)

struct perf_opts {
	const char *host;	/* NULL: server */
	const char *port;
	uint32_t nic;
	uint32_t mode;		/* enum unet_mode */
	uint32_t segment;	/* base mode; 0: just enough */
	uint32_t rx_bufs;
	uint32_t buf_size;	/* 0: one message, page rounded */
	uint32_t size;		/* message bytes */
	uint32_t count;		/* lat: timed round trips; bw: messages */
	uint32_t warmup;
	uint32_t window;
	uint32_t batch;		/* bw sender: sends per submit */
	uint32_t connect_timeout;	/* seconds */
	uint32_t timeout;		/* seconds without progress; 0: none */
	bool json;
	bool check;
	bool block;
	bool forever;
	uint32_t busy_poll;	/* µs per unet_busy_poll(); 0: never */
	unsigned int set;	/* PERF_SET_* */
};

/*
 * What one side reports to the other after a test.  Counters a tool does
 * not measure stay zero.
 */
#define PERF_RESULT_FIELDS(X)						\
	X(mode)		/* enum unet_mode of this side */		\
	X(msgs)		/* messages received with status ok */		\
	X(bytes)	/* their bytes */				\
	X(lost)		/* messages that did not arrive intact */	\
	X(errors)	/* failed send completions */			\
	X(mismatches)	/* messages with wrong bytes or length */	\
	X(rx_ns)	/* first to last message received */		\
	X(sent)		/* messages sent */				\
	X(tx_ns)	/* first send to last completion */

struct perf_result {
#define PERF_RESULT_MEMBER(name) uint64_t name;
	PERF_RESULT_FIELDS(PERF_RESULT_MEMBER)
#undef PERF_RESULT_MEMBER
};

struct perf_ctx;

struct perf_tool {
	const char *name;
	uint32_t id;			/* enum perf_tool_id */
	unsigned int opts;		/* PERF_OPT_* */
	uint32_t default_size;
	uint32_t default_count;
	const char *synopsis;		/* the usage's first lines */
	const char *options;		/* its own options, one line each */
	/* Measures on a ready channel; 0, or -1 after reporting why. */
	int (*run)(struct perf_ctx *pc, struct perf_result *mine);
	/* Prints this side's summary; @peer is the other side's view. */
	void (*report)(struct perf_ctx *pc, const struct perf_result *mine,
		       const struct perf_result *peer);
	void *priv;			/* becomes perf_ctx.priv */
};

/* One test: a connection to the peer, an endpoint and a channel. */
struct perf_ctx {
	const struct perf_tool *tool;
	struct perf_opts *o;		/* agreed parameters */
	bool server;
	int sock;			/* TCP, setup and results only */
	char peer_name[80];

	struct unet *u;
	struct unet_nic_info nic;
	struct unet_ep *ep;
	int chan;
	uint8_t my_addr[UNET_ADDR_LEN];
	uint8_t peer_addr[UNET_ADDR_LEN];
	bool peer_loopback_only;	/* the peer's NIC has no netdev */
	uint32_t peer_mode;
	/* Messages the peer lets us have sent and it not yet consumed. */
	uint32_t peer_credits;
	/* The same, that we grant the peer. */
	uint32_t credits;

	/* Receive buffers: rx_bufs of buf_size, contiguous from rx_area. */
	uint32_t rx_bufs;
	uint32_t buf_size;
	uint32_t bufs_per_msg;		/* 0 if messages travel inline */
	uint32_t rx_entries;
	char *rx_area;			/* base: inside the segment */
	/* Send slots the NIC reads from (base: inside the segment). */
	uint32_t tx_slots;
	uint32_t tx_slot_size;
	char *tx_area;
	/*
	 * The application's own copy of a message, where base mode copies
	 * to and from, and where inline messages are taken out.
	 */
	char *app_tx;
	char *app_rx;
	bool mm_areas;			/* rx_area/tx_area are malloc'd */

	/* Watchdog over a test's progress. */
	uint64_t wd_deadline;
	uint64_t wd_next_peek;
	unsigned int wd_spins;
	/* Spins before unet_busy_poll() is tried again after ENODATA. */
	uint32_t bp_skip;
	bool wd_progress;
	bool peer_data;			/* the peer wrote to the TCP socket */

	unsigned int errors_shown;
	void *priv;			/* the tool's */
};

/* A received message, its buffers copied out of the library's view. */
struct perf_msg {
	struct unet_recv r;
	bool done;			/* unet_recv_done() called */
	unsigned int nbuf;
	struct unet_buf bufs[UNET_MAX_RX_BUFS];
};

int perf_main(const struct perf_tool *tool, int argc, char **argv);

/* ---- perf_util.c ---- */

/* The tool's name, for messages. */
extern const char *perf_prog;
/*
 * Prints "tool: message" on stderr and keeps the text, which a server
 * sends to a client it refuses; returns -1 for tail calls.
 */
int perf_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last text perf_error() printed. */
const char *perf_last_error(void);
/* The same, but quiet after a few: per-message failures can be many. */
void perf_error_limited(struct perf_ctx *pc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Says on stderr what went wrong on one side (@who), if anything did. */
void perf_report_problems(const char *who, const struct perf_result *r);

uint64_t perf_now_ns(void);
const char *perf_mode_name(uint32_t mode);

/* The byte at @off of message @seq under --check. */
static inline uint8_t perf_pattern_byte(uint64_t seq, size_t off)
{
	uint32_t x = (uint32_t)(seq + 1) * 2654435761u ^ (uint32_t)off * 40503u;

	return (uint8_t)(x ^ (x >> 11) ^ (x >> 23));
}
void perf_pattern_fill(void *buf, size_t len, uint64_t seq, size_t off);
/* Counts the bytes of @buf that differ from message @seq at @off. */
uint64_t perf_pattern_check(const void *buf, size_t len, uint64_t seq,
			    size_t off);

/* ---- perf_io.c: the data path ---- */

/*
 * Receiving.  perf_recv() returns 1 with @m filled, 0 if nothing waits, -1
 * on a broken queue.  Inline bytes (m->r.data) are valid until
 * perf_msg_done(); buffer contents until perf_msg_repost().
 */
int perf_recv(struct perf_ctx *pc, struct perf_msg *m);
/* Copies the message to @dst (at most the agreed size), inline or not. */
size_t perf_msg_copy(struct perf_ctx *pc, const struct perf_msg *m,
		     void *dst);
/* Mismatching bytes of a message against the pattern of @seq, in place. */
uint64_t perf_msg_check(struct perf_ctx *pc, const struct perf_msg *m,
			uint64_t seq);
void perf_msg_done(struct perf_ctx *pc, struct perf_msg *m);
/* Releases the message if needed and gives its buffers back, in one go. */
int perf_msg_repost(struct perf_ctx *pc, struct perf_msg *m);

/*
 * Sending.  perf_send() queues one buffer (waiting while the send queue is
 * full); perf_reap() takes completions, counting and reporting failures in
 * @errors; perf_reap_all() waits until no send is outstanding.
 */
int perf_send(struct perf_ctx *pc, const void *data, uint32_t len,
	      uint64_t context, uint64_t *errors);
int perf_send_sge(struct perf_ctx *pc, const struct unet_sge *sge,
		  unsigned int nsge, uint64_t context, uint64_t *errors);
int perf_reap(struct perf_ctx *pc, uint64_t *errors);
int perf_reap_all(struct perf_ctx *pc, uint64_t *errors);

/* ---- perf_watchdog.c ---- */

/*
 * Call perf_watch_start() before a test's loop, perf_progress() whenever
 * something happened, and perf_idle() when a poll found nothing: it spins
 * or sleeps (--block: in unet_wait_send(), until a message or a send
 * completion), and every so often checks the clock and the TCP socket.
 * Returns 0 after a plain spin, 1 after such a check, -1 when the peer
 * left or nothing happened for --timeout seconds.
 */
void perf_watch_start(struct perf_ctx *pc);
static inline void perf_progress(struct perf_ctx *pc)
{
	pc->wd_progress = true;
}
int perf_idle(struct perf_ctx *pc, const char *what);

#endif /* UNET_TOOLS_PERF_H */
