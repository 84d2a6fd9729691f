/* SPDX-License-Identifier: MIT */
/*
 * What the fault fuzzers share (fuzz_faults_close.c, fuzz_faults_munmap.c,
 * fuzz_faults_fork.c): the tally of a run, numbered and checked messages,
 * receive slots between guard bytes, a sending flow with a window,
 * userfaultfd pages held back, and faults_main(), which runs one
 * scenario's repetitions beside a background checked pair and checks the
 * NIC's gauges after them.  Compiled once (faults_common.c).
 */
#ifndef FAULTS_COMMON_H
#define FAULTS_COMMON_H

#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>

#include "fuzz.h"

#define PAGE		4096u
#define SLOT		(20u << 10)	/* guard, buffer, guard */
#define GUARD		2048u
#define BUFLEN		(16u << 10)
#define MAXMSG		UNET_MAX_MSG
#define WINDOW		4		/* sends in flight */
#define POISON		0xa5
#define REP_MS		60000		/* a repetition that takes longer hangs */

struct tally {
	uint64_t cases, misdelivered, unaccounted, failures;
	uint64_t sent, received;	/* fault streams' messages */
	uint64_t half, half_seen;	/* close: half-written heads */
	uint64_t inflight;		/* close: sent toward it as it went */
	uint64_t rx_errors;		/* munmap: messages with an error */
	uint64_t hole_sends;		/* munmap: sends from the hole */
	uint64_t forks, execs;
};

extern struct tally fault_tally;
extern uint8_t local_mac[6];
/* The userfaultfd, or -1 where there is none. */
extern int uffd;
/* Once its receiver is gone, faults on this range are served at once. */
extern uint8_t *held_region, *held_src;

#define MSG_MAGIC	0x464c5446u

struct mhdr {
	uint32_t magic, stream, seq, len;
};

/*
 * Streams numbered messages on one channel, WINDOW in flight.  Message i
 * comes from source slot i % WINDOW, free again by then: completions come
 * in order and fewer than WINDOW are unreaped when one is posted.
 *
 * With @taken (the receiver's count of messages it has taken, in shared
 * memory), also at most WINDOW messages not yet taken: a completed send
 * holds receive buffers until the receiver gets to it, and a receiver
 * that fell behind would have no buffers left, drop messages (counted)
 * without reading their source, and make faults miss their target.  A
 * receiver that took nothing for 3 s does not hold the sender back.
 */
struct flow {
	struct unet_ep *ep;
	int ch;
	uint32_t stream, seq;
	uint8_t *src;			/* WINDOW * MAXMSG */
	uint32_t maxlen;
	uint64_t ok, err;
	uint64_t no_route;		/* the local receiver was gone */
	uint32_t bad_status;
	uint64_t *taken, taken_seen;
	double taken_at;
};

void fault_fail(uint64_t *what, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint64_t nic_gone(void);
bool late(double deadline);
uint32_t rand_len(uint32_t max);
void msg_fill(uint8_t *p, uint32_t stream, uint32_t seq, uint32_t len);
bool msg_ok(const uint8_t *p, uint32_t len, uint32_t stream,
	    uint32_t *next, char *why, size_t whylen);
uint8_t *slot_buf(uint8_t *base, unsigned int i);
void slots_init(uint8_t *base, unsigned int n);
long slots_guard_bad(const uint8_t *base, unsigned int n);
bool all_are(const uint8_t *p, size_t n, uint8_t c);
long first_diff(const uint8_t *a, const uint8_t *b, size_t n);
bool window_open(uint64_t *taken, uint64_t *seen, double *at,
		 uint32_t seq);
void flow_init(struct flow *f, struct unet_ep *ep, int ch,
	       uint32_t stream, uint32_t maxlen);
void flow_reap(struct flow *f);
bool flow_send(struct flow *f);
bool flow_drain(struct flow *f, int ms);
bool flow_run(struct flow *f, unsigned int n, int ms);
void flow_free(struct flow *f);
bool reap_child(pid_t pid, int ms, const char *what);
uint8_t *uffd_region(size_t len);
uint64_t uffd_wait(int ms);
void uffd_serve(uint8_t *region, uint64_t page, const uint8_t *src);
void uffd_pump(void);

/*
 * The main() of a fault fuzzer: runs @run(rep) for --reps N repetitions
 * (default 10, each one fault case) beside a background checked pair of
 * --checked N messages a round, then checks that pair's traffic and the
 * NIC gauges, and prints the PASS/FAIL lines and FUZZJSON for @mode.
 * Takes --seed N; a process it forks may exec it with --exec-child.
 */
int faults_main(int argc, char **argv, const char *mode,
		void (*run)(int rep));

#endif /* FAULTS_COMMON_H */
