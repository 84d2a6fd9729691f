/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the robustness suite (tests/fuzz/), compiled once
 * (fuzz_common.c) and linked into every fuzzer.
 *
 *  - a seeded PRNG: every fuzzer prints its seed and takes --seed, so a run
 *    is reproducible (up to scheduling);
 *  - raw endpoints: the ABI without libunet, so a hostile process can write
 *    anything into its own mapped queues;
 *  - checked streams: byte-verified, sequence-numbered, flow-controlled
 *    traffic between two endpoints (libunet), with guard bytes around every
 *    posted receive buffer.  A stream reports messages lost, misdelivered
 *    (wrong channel, wrong bytes, duplicate or reordered sequence, guard
 *    bytes overwritten) and the endpoint's drop counters, so that
 *    "lost without a counter saying so" can be computed;
 *  - the NIC gauges that must return to zero once every process is gone;
 *  - one summary line per fuzzer: `FUZZJSON {...}` which tests/fuzz/run-fuzz
 *    aggregates into results/robustness.json.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "guest_test.h"
#include "raw_ep.h"

/* ------------------------------------------------------------ PRNG ---- */

extern uint64_t fz_rng;

uint64_t fz_rand(void);

uint32_t fz_below(uint32_t n);

bool fz_chance(unsigned int pct);

void fz_bytes(void *p, size_t n);

/* An "interesting" 32-bit number. */
uint32_t fz_u32(void);

uint64_t fz_seed_arg(int argc, char **argv, const char *name);

long fz_long_arg(int argc, char **argv, const char *opt,
		 long def);

const char *fz_str_arg(int argc, char **argv, const char *opt,
		       const char *def);

/* Shared memory that survives fork (MAP_SHARED anonymous). */
void *fz_shared(size_t n);

#define fz_ld(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define fz_st(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* ----------------------------------------------------- NIC gauges ---- */

#define FZ_NGAUGES 7

int fz_nic_stats(struct unet_nic_stats *st);

/*
 * Waits up to @ms for every gauge to return to @base (the values before a
 * phase); returns 0, or the number of gauges still off, and says which.
 */
int fz_gauges_settle(const long *base, int ms, const char *what);

void fz_gauges_read(long *g);

/* ---------------------------------------------------- raw endpoint ---- */

#define fz_rep raw_ep

int fz_rep_create(struct raw_ep *e, int fd, uint32_t mode,
		  uint32_t tx, uint32_t rx, uint32_t fq,
		  uint32_t seg);

#define fz_rep_destroy	raw_ep_destroy
#define fz_chan		raw_chan
#define fz_kick		raw_kick

/* ------------------------------------------------- checked streams ---- */

/*
 * A stream is one endpoint with one channel to its peer's endpoint; both
 * sides send @count data messages and check the peer's.  Every message
 * starts with a header; data bytes follow a pattern seeded by (stream, seq).
 * The header carries how many of the peer's messages this side has
 * received, which is the sender's window (FZ_WINDOW messages in flight), so
 * a checked stream never loses a message to an empty free queue.  Free
 * buffers sit in 4 KiB slots with FZ_GUARD bytes of guard pattern on each
 * side; they are checked after every message.
 */
#define FZ_MAGIC	0x55464d5au
#define FZ_ACK		0x41434b21u
#define FZ_SLOT		4096u
#define FZ_BUFOFF	512u
#define FZ_BUFLEN	3072u		/* posted length of a free buffer */
#define FZ_NSLOT	64
#define FZ_WINDOW	6
#define FZ_MAXMSG	16384u		/* 6 * 16 KiB < 64 * 3 KiB */
#define FZ_GUARDB	0x5a

struct fz_hdr {
	uint32_t magic;		/* FZ_MAGIC data, FZ_ACK pure ack */
	uint32_t stream;
	uint32_t seq;
	uint32_t len;
	uint32_t acked;		/* peer messages received so far */
	uint32_t pad;
};

struct fz_stream_res {
	uint64_t sent;		/* data messages completed OK */
	uint64_t tx_err;	/* data sends completed with an error */
	uint64_t received;	/* good data messages received */
	uint64_t lost;		/* count - received (peer's count) */
	uint64_t misdelivered;	/* wrong channel/bytes/seq, guard damage */
	uint64_t drops_counted;	/* rx_drop_* of this endpoint */
	uint64_t rx_err;	/* messages returned with an error status */
	uint64_t unaccounted;	/* lost beyond what the counters say */
	int done;
	char why[160];
};

struct fz_stream {
	struct unet *u;
	struct unet_ep *ep;
	uint32_t mode;
	uint8_t *pool;		/* FZ_NSLOT slots */
	uint8_t *txbuf;
	uint8_t *scratch;
	int ch;
	uint32_t id;		/* stream id: pattern seed */
	uint32_t peer_id;
	uint32_t count;
	uint32_t next_seq;	/* next seq to send */
	uint32_t expect;	/* next seq expected */
	uint32_t peer_acked;
	uint32_t acked_sent;
	uint32_t maxlen;
	uint64_t drop0;
	double last_progress;
	uint64_t rng;
	struct fz_stream_res *res;
};

uint64_t fz_s_addr(struct fz_stream *s, void *p);

uint64_t fz_ep_drops(struct unet_ep *ep);

void fz_stream_init(struct fz_stream *s, struct unet *u,
		    uint32_t mode, uint32_t id, uint32_t count,
		    struct fz_stream_res *res);

void fz_stream_connect(struct fz_stream *s, const uint8_t mac[6],
		       uint32_t peer_ep);

void fz_misdeliver(struct fz_stream *s, const char *fmt, ...);

/* Guard bytes of the slot that holds buffer @addr. */
void fz_check_guard(struct fz_stream *s, uint64_t addr);

void fz_check_all_guards(struct fz_stream *s);

static inline uint8_t fz_pat(uint32_t stream, uint32_t seq, size_t i)
{
	return gt_pattern(stream * 7919u + seq, i);
}

/* Handles one received message. */
void fz_stream_take(struct fz_stream *s, struct unet_recv *r);

uint32_t fz_s_rand(struct fz_stream *s, uint32_t n);

int fz_stream_send(struct fz_stream *s, uint32_t magic);

/*
 * One step; returns true while the stream has work.  The send buffer is
 * reused, so each send is reaped before the next one is queued.
 */
bool fz_stream_step(struct fz_stream *s);

/* Finishes the books of a stream (after its last step). */
void fz_stream_finish(struct fz_stream *s);

/*
 * Runs streams until all are done, or nothing moved for @idle_ms (then
 * what is missing is lost), or *@stop is set and @idle_ms passed since.
 */
void fz_streams_run(struct fz_stream **s, int n, int idle_ms);

void fz_stream_print(const char *name, struct fz_stream_res *r);

/*
 * A checked loopback pair in two child processes (each its own context):
 * stream A in one, B in the other, @count messages each way.  Results land
 * in res[0..1] (shared memory).  Returns the two pids.
 */
struct fz_pair_shm {
	uint32_t id[2];
	volatile int ready[2];
	volatile int connected[2];
	struct fz_stream_res res[2];
};

void fz_pair_child(struct fz_pair_shm *sh, int side,
		   uint32_t mode, uint32_t sid, uint32_t count);

void fz_pair_start(struct fz_pair_shm *sh, uint32_t sid,
		   uint32_t count, pid_t pid[2]);

/* Waits for a pair; returns how many of its results are bad (and adds). */
struct fz_tally {
	uint64_t misdelivered, lost_unaccounted, checked_msgs, checked_lost;
	uint64_t failures;
};

void fz_pair_wait(struct fz_pair_shm *sh, pid_t pid[2],
		  struct fz_tally *t, const char *name);

/*
 * A checked loopback pair in the background, round after round of @count
 * messages each way, until stopped: it overlaps every fault of a run
 * whatever the run's pace, where one fixed-count pair may finish first.
 * Each round is a fresh fz_pair_start() (new processes, new endpoints);
 * the tally of all rounds lands in @bg, which must be shared memory
 * (fz_shared).  Only a round with something wrong is printed.
 */
struct fz_bg {
	volatile int stop;
	uint32_t rounds;
	struct fz_tally t;
	struct fz_pair_shm pair;
};

pid_t fz_bg_start(struct fz_bg *bg, uint32_t sid,
		  uint32_t count);

/* Stops the background pair after its current round; returns its tally. */
struct fz_tally fz_bg_stop(struct fz_bg *bg, pid_t pid);

/* Exchanges arrays of ids with the peer guest (a barrier too). */
void fz_swap_array(bool listener, const char *peer_ip,
		   int port, const uint32_t *mine,
		   uint32_t *theirs, int n);

#endif /* FUZZ_H */
