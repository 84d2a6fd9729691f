// SPDX-License-Identifier: MIT
/*
 * Faults in the middle of traffic, each repetition one fault case, while a
 * checked loopback pair runs round after round in the background (its
 * traffic must stay whole):
 *
 *  close   a receiver goes away while a sender streams messages of up to
 *          64 KiB (several receive buffers each) at it: it destroys its
 *          endpoint, unmaps its queues and closes its fd (either order),
 *          exits, or is killed.  Every other repetition the message at the
 *          head is half-written into the receiver's buffers when it goes:
 *          its second part comes from a userfaultfd page the sender does
 *          not serve until the receiver is gone.  Asserts: what the receiver
 *          got before was whole and in order; once its close returned (or it
 *          was reaped) its memory, seen through a MAP_SHARED mapping the
 *          sender keeps, never changes; the sender's completions are OK
 *          for what went before, UNET_ST_NO_ROUTE for every message sent
 *          afterwards (and the half-written one), each of which is counted
 *          in drop_no_endpoint; no byte outside a posted buffer changes.
 *  munmap  receive: buffers posted in a memfd mapping are unmapped by the
 *          receiving process while messages stream into them; the receiver
 *          reposts into the hole or into fresh heap buffers.  send: a thread
 *          unmaps the memfd mapping a sender sends from, mid-stream; the
 *          sender poisons the old pages through a second mapping, sends a
 *          few messages from the hole, then from the heap.  Asserts: after
 *          munmap returns the old pages (second mapping) never change (and
 *          a send never carries the poison); no byte outside posted buffers
 *          changes; every message is delivered intact, returned with an
 *          error status, or counted by a drop counter (sent = received OK +
 *          received with error + counted, error statuses = rx_drop_bad_buf
 *          + rx_drop_reasm); sends from the hole fail with BAD_ADDR, later
 *          sends from the heap arrive intact.
 *  fork    a process streams checked messages from heap and stack buffers
 *          into heap and stack buffers of its own (4 in flight) and forks
 *          children repeatedly; it rewrites its send buffers and clears
 *          receive buffers after the forks (COW breaks on its side).
 *          Children watch their copies, or scribble over them, for a few
 *          ms, or exec, or exit.  Asserts: the parent's messages arrive
 *          whole, in its own pages, guards intact; no child's copy ever
 *          changes under it.
 *
 *   fuzz_faults --mode close|munmap|fork|all [--reps N] [--seed N]
 *               [--checked N]
 *
 * --checked is the background pair's messages per round and direction.
 * Prints `FUZZJSON {...}` (fault_cases, misdelivered, lost_accounted, ...)
 * at the end; guest-fuzz.sh checks the NIC gauges after each mode, and this
 * program checks them against their values before it started.
 */
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

static struct tally T;
static uint8_t local_mac[6];
static int uffd = -1;
/* Once its receiver is gone, faults on this range are served at once. */
static uint8_t *held_region, *held_src;

static void uffd_pump(void);

static void fault_fail(uint64_t *what, const char *fmt, ...)
{
	va_list ap;

	if (what)
		(*what)++;
	T.failures++;
	printf("# fault: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/*
 * Messages to an endpoint that is gone.  Endpoint ids are reused at once
 * (lowest free), so a later endpoint may hold the id: without a channel to
 * the sender it counts the message as drop_no_channel.
 */
static uint64_t nic_gone(void)
{
	struct unet_nic_stats st;

	if (fz_nic_stats(&st))
		gt_die("nic stats");
	return st.ctr[UNET_NIC_drop_no_endpoint] +
	       st.ctr[UNET_NIC_drop_no_channel];
}

static bool late(double deadline)
{
	return gt_now_ms() > deadline;
}

/* ------------------------------------------------------- messages ---- */

#define MSG_MAGIC	0x464c5446u

struct mhdr {
	uint32_t magic, stream, seq, len;
};

/* Message lengths: a quarter inline-sized, the rest up to @max. */
static uint32_t rand_len(uint32_t max)
{
	if (fz_chance(25))
		return sizeof(struct mhdr) +
		       fz_below(UNET_INLINE_MAX - sizeof(struct mhdr) + 1);
	return UNET_INLINE_MAX + 1 + fz_below(max - UNET_INLINE_MAX);
}

static void msg_fill(uint8_t *p, uint32_t stream, uint32_t seq, uint32_t len)
{
	struct mhdr h = { MSG_MAGIC, stream, seq, len };

	memcpy(p, &h, sizeof(h));
	for (uint32_t i = sizeof(h); i < len; i++)
		p[i] = fz_pat(stream, seq, i);
}

/*
 * Checks a message gathered into @p; on success moves *@next past its
 * sequence number (a gap is a message lost or failed, counted elsewhere).
 */
static bool msg_ok(const uint8_t *p, uint32_t len, uint32_t stream,
		   uint32_t *next, char *why, size_t whylen)
{
	struct mhdr h;

	if (len < sizeof(h)) {
		snprintf(why, whylen, "message of %u bytes", len);
		return false;
	}
	memcpy(&h, p, sizeof(h));
	if (h.magic != MSG_MAGIC || h.stream != stream || h.len != len) {
		snprintf(why, whylen,
			 "foreign header (magic %#x stream %u/%u len %u/%u)",
			 h.magic, h.stream, stream, h.len, len);
		return false;
	}
	for (uint32_t i = sizeof(h); i < len; i++)
		if (p[i] != fz_pat(stream, h.seq, i)) {
			snprintf(why, whylen, "seq %u byte %u is %#x%s", h.seq,
				 i, p[i], p[i] == POISON ?
				 " (the poison: read after munmap)" : "");
			return false;
		}
	if (h.seq < *next) {
		snprintf(why, whylen, "seq %u again or out of order (next %u)",
			 h.seq, *next);
		return false;
	}
	*next = h.seq + 1;
	return true;
}

/* ---------------------------------------------- slots with guards ---- */

static uint8_t *slot_buf(uint8_t *base, unsigned int i)
{
	return base + (size_t)i * SLOT + GUARD;
}

static void slots_init(uint8_t *base, unsigned int n)
{
	memset(base, FZ_GUARDB, (size_t)n * SLOT);
	for (unsigned int i = 0; i < n; i++)
		memset(slot_buf(base, i), 0, BUFLEN);
}

/* Offset in @base of the first guard byte changed, or -1. */
static long slots_guard_bad(const uint8_t *base, unsigned int n)
{
	for (size_t i = 0; i < (size_t)n * SLOT; i++) {
		size_t o = i % SLOT;

		if ((o < GUARD || o >= GUARD + BUFLEN) && base[i] != FZ_GUARDB)
			return (long)i;
	}
	return -1;
}

static bool all_are(const uint8_t *p, size_t n, uint8_t c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return false;
	return true;
}

static long first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

/* ---------------------------------------------------------- sender ---- */

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

static bool window_open(uint64_t *taken, uint64_t *seen, double *at,
			uint32_t seq)
{
	uint64_t t;

	if (!taken)
		return true;
	t = fz_ld(taken);
	if (t != *seen || !*at) {
		*seen = t;
		*at = gt_now_ms();
	}
	return seq - t < WINDOW || gt_now_ms() - *at > 3000;
}

static void flow_init(struct flow *f, struct unet_ep *ep, int ch,
		      uint32_t stream, uint32_t maxlen)
{
	memset(f, 0, sizeof(*f));
	f->ep = ep;
	f->ch = ch;
	f->stream = stream;
	f->maxlen = maxlen;
	f->src = aligned_alloc(PAGE, (size_t)WINDOW * MAXMSG);
	if (!f->src)
		gt_die("alloc");
}

static void flow_reap(struct flow *f)
{
	struct unet_send_comp c[8];
	int n;

	uffd_pump();
	while ((n = unet_send_poll(f->ep, c, 8)) > 0)
		for (int i = 0; i < n; i++) {
			if (c[i].status == UNET_ST_OK) {
				f->ok++;
			} else if (c[i].status == UNET_ST_NO_ROUTE) {
				f->no_route++;
			} else {
				f->err++;
				f->bad_status = c[i].status;
			}
		}
}

/* Posts the next message if the window has room. */
static bool flow_send(struct flow *f)
{
	uint8_t *p = f->src + (size_t)(f->seq % WINDOW) * MAXMSG;
	uint32_t len = rand_len(f->maxlen);

	flow_reap(f);
	if (unet_send_outstanding(f->ep) >= WINDOW ||
	    !window_open(f->taken, &f->taken_seen, &f->taken_at, f->seq))
		return false;
	msg_fill(p, f->stream, f->seq, len);
	if (unet_send_buf(f->ep, f->ch, p, len, 1))
		return false;
	f->seq++;
	return true;
}

static bool flow_drain(struct flow *f, int ms)
{
	double end = gt_now_ms() + ms;

	for (;;) {
		flow_reap(f);
		if (!unet_send_outstanding(f->ep))
			return true;
		if (late(end))
			return false;
		usleep(50);
	}
}

/* Sends @n messages and waits for their completions. */
static bool flow_run(struct flow *f, unsigned int n, int ms)
{
	double end = gt_now_ms() + ms;

	while (n && !late(end)) {
		if (flow_send(f))
			n--;
		else
			usleep(50);
	}
	return !n && flow_drain(f, ms);
}

static void flow_free(struct flow *f)
{
	free(f->src);
}

/* Waits for @pid up to @ms, then kills it; true if it exited 0. */
static bool reap_child(pid_t pid, int ms, const char *what)
{
	double end = gt_now_ms() + ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (r < 0)
			return false;
		if (late(end)) {
			printf("# %s: pid %d still running after %d ms, killed\n",
			       what, pid, ms);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return false;
		}
		usleep(1000);
	}
	return WIFEXITED(st) && !WEXITSTATUS(st);
}

/* ------------------------------------------------------------ close ---- */

enum { HOW_DESTROY, HOW_UNMAP_CLOSE, HOW_CLOSE_UNMAP, HOW_EXIT, HOW_KILL,
       HOW_N };
static const char *const how_name[] = {
	"destroy", "munmap+close", "close+munmap", "exit", "kill",
};

#define C_NSLOT		24
#define C_RING		64
#define C_AFTER		8

struct close_shm {
	uint32_t sender_id, victim_id;
	volatile int ready, go, closed, finish;
	uint64_t taken, received, wrong;
	char why[160];
};

/*
 * The receiver: raw rings, so that it can unmap its queues and close its
 * fd (libunet keeps the mapping, which keeps the file, until exit).
 */
static void victim(struct close_shm *sh, uint8_t *mem, int how,
		   uint32_t stream)
{
	uint64_t posted[C_RING];
	uint8_t *scratch = malloc(MAXMSG);
	uint32_t fqp = 0, rxc = 0, next = 0;
	struct fz_rep e;
	int fd = open(UNET_DEVICE_PATH, O_RDWR);

	alarm(REP_MS / 1000);
	if (!scratch || fd < 0 ||
	    fz_rep_create(&e, fd, UNET_MODE_MM, 8, C_RING, C_RING, 0) ||
	    fz_chan(fd, e.req.handle, local_mac, sh->sender_id) < 0)
		gt_die("victim setup");
	for (unsigned int i = 0; i < C_NSLOT; i++) {
		e.fq[fqp % C_RING] = (struct unet_sge){
			.addr = (uintptr_t)slot_buf(mem, i), .len = BUFLEN };
		posted[fqp % C_RING] = (uintptr_t)slot_buf(mem, i);
		fqp++;
	}
	fz_st(&e.ctrl->fq.prod, fqp);
	fz_st(&sh->victim_id, e.req.ep_id);
	fz_st(&sh->ready, 1);
	while (!fz_ld(&sh->go)) {
		uint32_t prod = fz_ld(&e.ctrl->rx.prod);

		if (prod == rxc) {
			usleep(50);
			continue;
		}
		for (; rxc != prod; rxc++) {
			struct unet_rx_desc d = e.rxq[rxc % C_RING];
			uint32_t got = 0;

			if (d.status != UNET_ST_OK || d.length > MAXMSG) {
				sh->wrong++;
				snprintf(sh->why, sizeof(sh->why),
					 "message with status %u, %u bytes",
					 d.status, d.length);
				d.status = UNET_ST_DROPPED;
			} else if (d.flags & UNET_RX_INLINE) {
				got = d.length <= UNET_INLINE_MAX ? d.length : 0;
				memcpy(scratch, d.inline_data, got);
			}
			for (unsigned int i = 0;
			     !(d.flags & UNET_RX_INLINE) && i < d.nbuf; i++) {
				uint64_t a = posted[(d.first_buf + i) % C_RING];
				uint32_t n = d.length - got;

				if (d.status == UNET_ST_OK) {
					n = n < BUFLEN ? n : BUFLEN;
					memcpy(scratch + got,
					       (uint8_t *)(uintptr_t)a, n);
					got += n;
				}
				e.fq[fqp % C_RING] = (struct unet_sge){
					.addr = a, .len = BUFLEN };
				posted[fqp % C_RING] = a;
				fqp++;
			}
			fz_st(&e.ctrl->fq.prod, fqp);
			if (d.status == UNET_ST_OK) {
				if (got == d.length &&
				    msg_ok(scratch, got, stream, &next, sh->why,
					   sizeof(sh->why)))
					sh->received++;
				else
					sh->wrong++;
			}
			fz_st(&e.ctrl->rx.cons, rxc + 1);
			fz_st(&sh->taken, sh->taken + 1);
		}
	}
	switch (how) {
	case HOW_DESTROY:
		ioctl(fd, UNET_IOC_EP_DESTROY, &e.req.handle);
		break;
	case HOW_UNMAP_CLOSE:
		munmap(e.q, e.req.queue_size);
		close(fd);
		break;
	case HOW_CLOSE_UNMAP:
		/* The mapping holds the file: the context goes at munmap. */
		close(fd);
		munmap(e.q, e.req.queue_size);
		break;
	default:
		_exit(0);
	}
	fz_st(&sh->closed, 1);
	/* Alive, its address space too, until the sender has looked. */
	while (!fz_ld(&sh->finish))
		usleep(1000);
	_exit(0);
}

/* A private page range registered with userfaultfd, nothing in it yet. */
static uint8_t *uffd_region(size_t len)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	if (p == MAP_FAILED)
		gt_die("mmap");
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		gt_die("UFFDIO_REGISTER");
	return p;
}

/* Waits up to @ms for a fault on the userfaultfd; its address or 0. */
static uint64_t uffd_wait(int ms)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, ms) != 1 ||
	    read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return 0;
	return msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1);
}

/* Resolves the fault at @page of @region with the bytes from @src. */
static void uffd_serve(uint8_t *region, uint64_t page, const uint8_t *src)
{
	struct uffdio_copy c = {
		.dst = page, .src = (uintptr_t)(src + (page - (uintptr_t)region)),
		.len = PAGE,
	};

	if (ioctl(uffd, UFFDIO_COPY, &c) && errno != EEXIST)
		gt_die("UFFDIO_COPY");
}

static void uffd_pump(void)
{
	uint64_t page;

	while (held_region && (page = uffd_wait(0)))
		uffd_serve(held_region, page, held_src);
}

/* Offset of a buffer in @mem that starts with message (@stream, @seq). */
static long find_head(const uint8_t *mem, uint32_t stream, uint32_t seq)
{
	for (unsigned int i = 0; i < C_NSLOT; i++) {
		struct mhdr h;

		memcpy(&h, slot_buf((uint8_t *)mem, i), sizeof(h));
		if (h.magic == MSG_MAGIC && h.stream == stream && h.seq == seq)
			return (long)(slot_buf((uint8_t *)mem, i) - mem);
	}
	return -1;
}

#define HALF_A		(24u << 10)	/* written before the held page */
#define HALF_B		(8u << 10)	/* userfaultfd pages */

static void fault_close(int rep)
{
	const size_t memlen = (size_t)C_NSLOT * SLOT;
	int how = (rep / 2) % HOW_N;
	bool half = rep % 2 && uffd >= 0;
	uint32_t stream = 7000 + (uint32_t)rep;
	struct close_shm *sh = fz_shared(sizeof(*sh));
	uint8_t *mem = fz_shared(memlen), *snap = malloc(memlen);
	uint8_t *hmsg = NULL, *hreg = NULL;
	struct unet *u = gt_open();
	struct unet_ep *ep = gt_ep(u, UNET_MODE_MM, 0);
	double end = gt_now_ms() + REP_MS;
	uint64_t noep0, ok0, nr0, held = 0, seq0;
	bool gone = false, exited = false;
	struct flow f;
	long bad;
	pid_t v;
	int st;

	if (!snap)
		gt_die("alloc");
	slots_init(mem, C_NSLOT);
	sh->sender_id = unet_ep_id(ep);
	fflush(stdout);
	v = fork();
	if (v < 0)
		gt_die("fork");
	if (!v)
		victim(sh, mem, how, stream);
	while (!fz_ld(&sh->ready) && !late(end))
		usleep(1000);
	flow_init(&f, ep, gt_chan_to(ep, local_mac, sh->victim_id),
		  stream, MAXMSG);
	f.taken = &sh->taken;
	if (!sh->ready || f.ch < 0) {
		fault_fail(NULL, "close rep %d: victim not ready", rep);
		goto out;
	}
	/* Traffic the victim takes whole. */
	if (!flow_run(&f, 2 + fz_below(12), REP_MS)) {
		fault_fail(NULL, "close rep %d: first messages did not complete",
			   rep);
		goto out;
	}
	/* From here on the victim goes: no waiting for it. */
	f.taken = NULL;
	if (half) {
		/*
		 * One message, 24 KiB from the heap then 8 KiB of pages
		 * nobody has touched in a userfaultfd range: the NIC writes
		 * the first part into the victim's buffers and waits on the
		 * agent, which waits on us.
		 */
		uint8_t *p = f.src + (size_t)(f.seq % WINDOW) * MAXMSG;
		struct unet_sge sge[2];

		while (fz_ld(&sh->taken) < f.seq && !late(end))
			usleep(100);
		hmsg = malloc(HALF_A + HALF_B);
		hreg = uffd_region(HALF_B);
		if (!hmsg)
			gt_die("alloc");
		msg_fill(hmsg, stream, f.seq, HALF_A + HALF_B);
		sge[0] = (struct unet_sge){ .addr = (uintptr_t)p,
					    .len = HALF_A };
		sge[1] = (struct unet_sge){ .addr = (uintptr_t)hreg,
					    .len = HALF_B };
		memcpy(p, hmsg, HALF_A);
		if (unet_send(ep, f.ch, sge, 2, 1))
			gt_die("send");
		f.seq++;
		held = uffd_wait(5000);
		if (held) {
			T.half++;
			if (find_head(mem, stream, f.seq - 1) >= 0)
				T.half_seen++;
			else
				printf("# close rep %d: held message not found in the victim's buffers\n",
				       rep);
		} else {
			printf("# close rep %d: the userfaultfd page was not asked for\n",
			       rep);
		}
	} else {
		flow_send(&f);
	}
	/* Not completed by now, or sent from now on: toward a closing end. */
	seq0 = f.seq - unet_send_outstanding(ep);
	if (how == HOW_KILL)
		kill(v, SIGKILL);
	else
		fz_st(&sh->go, 1);
	/* Streams on until the victim is gone, then looks at once. */
	while (!late(end)) {
		if (how >= HOW_EXIT) {
			if (waitpid(v, &st, WNOHANG) == v) {
				exited = true;
				break;
			}
		} else if (fz_ld(&sh->closed)) {
			break;
		}
		if (half || !flow_send(&f))
			usleep(50);
	}
	gone = exited || fz_ld(&sh->closed);
	memcpy(snap, mem, memlen);
	T.inflight += f.seq - seq0;
	if (!gone) {
		fault_fail(NULL, "close rep %d (%s): victim did not go", rep,
			   how_name[how]);
		goto out;
	}
	if (hreg) {
		held_region = hreg;
		held_src = hmsg + HALF_A;
	}
	if (held) {
		/* Gone: let the held message go on, into nothing. */
		noep0 = nic_gone();
		nr0 = f.no_route;
		uffd_serve(hreg, held, hmsg + HALF_A);
		while (unet_send_outstanding(ep) && !late(end)) {
			flow_reap(&f);
			usleep(50);
		}
		if (f.no_route != nr0 + 1 ||
		    nic_gone() != noep0 + 1)
			fault_fail(&T.unaccounted,
				   "close rep %d (%s, half): held message completed %s, drop_no_endpoint/channel +%llu",
				   rep, how_name[how],
				   f.no_route == nr0 + 1 ? "no route" :
				   "other than no route",
				   (unsigned long long)(nic_gone() -
							noep0));
	}
	if (!flow_drain(&f, REP_MS)) {
		fault_fail(NULL, "close rep %d: sends did not complete", rep);
		goto out;
	}
	noep0 = nic_gone();
	ok0 = f.ok;
	nr0 = f.no_route;
	if (!flow_run(&f, C_AFTER, REP_MS))
		fault_fail(NULL, "close rep %d: later sends did not complete",
			   rep);
	if (f.ok != ok0 || f.no_route - nr0 != C_AFTER ||
	    nic_gone() - noep0 != C_AFTER)
		fault_fail(&T.unaccounted,
			   "close rep %d (%s%s): of %d sent after the receiver went %llu completed OK, %llu no route; drop_no_endpoint/channel +%llu",
			   rep, how_name[how], half ? ", half" : "", C_AFTER,
			   (unsigned long long)(f.ok - ok0),
			   (unsigned long long)(f.no_route - nr0),
			   (unsigned long long)(nic_gone() -
						noep0));
	usleep(20000);
	bad = first_diff(snap, mem, memlen);
	if (bad >= 0)
		fault_fail(&T.misdelivered,
			   "close rep %d (%s%s): the gone receiver's memory changed at offset %ld (slot %ld, +%ld)",
			   rep, how_name[how], half ? ", half" : "", bad,
			   bad / (long)SLOT, bad % (long)SLOT);
	bad = slots_guard_bad(mem, C_NSLOT);
	if (bad >= 0)
		fault_fail(&T.misdelivered,
			   "close rep %d: guard byte at offset %ld changed",
			   rep, bad);
	if (f.err)
		fault_fail(NULL, "close rep %d (%s): %llu sends completed with status %u",
			   rep, how_name[how], (unsigned long long)f.err,
			   f.bad_status);
	if (sh->wrong) {
		T.misdelivered += sh->wrong;
		fault_fail(NULL, "close rep %d: victim got %llu wrong: %s",
			   rep, (unsigned long long)sh->wrong, sh->why);
	}
	T.sent += f.ok;
	T.received += sh->received;
out:
	fz_st(&sh->finish, 1);
	if (!exited && !reap_child(v, 10000, "victim") && how < HOW_EXIT)
		fault_fail(NULL, "close rep %d: victim did not exit cleanly",
			   rep);
	/* Whatever is still held must be served before our context goes. */
	if (hreg) {
		held_region = hreg;
		held_src = hmsg + HALF_A;
		uffd_pump();
		held_region = NULL;
		munmap(hreg, HALF_B);
	}
	unet_ep_destroy(ep);
	unet_close(u);
	flow_free(&f);
	free(hmsg);
	free(snap);
	munmap(mem, memlen);
	munmap(sh, sizeof(*sh));
}

/* ----------------------------------------------------------- munmap ---- */

#define M_NSLOT		16
#define M_MAXMSG	(48u << 10)	/* up to 3 buffers */
#define M_HOLE		4		/* sends from the hole */
#define M_AFTER		12

struct munmap_shm {
	uint32_t a_id, b_id;
	volatile int ready, go, unmapped, done;
	uint64_t taken, ok, err, wrong, changed, guard, nodesc, desc;
	uint64_t sent_ok, sent_err, hole_ok, hole_err, after_err, odd;
	int64_t changed_at, guard_at;
	uint32_t odd_status;
	char why[160];
};

/* Memory mapped twice: the buffers the NIC uses, and a view of them. */
static void memfd_twice(size_t len, uint8_t **buf, uint8_t **view)
{
	int fd = memfd_create("fuzz-faults", 0);

	if (fd < 0 || ftruncate(fd, (off_t)len))
		gt_die("memfd");
	*buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	*view = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*buf == MAP_FAILED || *view == MAP_FAILED)
		gt_die("mmap memfd");
	close(fd);
}

/* Rest of both munmap cases: the receiving side's books. */
struct rxside {
	struct unet_ep *ep;
	uint32_t stream, next;
	uint8_t *mbuf, *mview;		/* memfd slots (receive case) */
	uint8_t *heap;			/* heap slots */
	bool heap_posted[M_NSLOT];
	unsigned int heap_next;
	bool unmapped;
	uint8_t *scratch;
	struct munmap_shm *sh;
};

static bool in_mbuf(struct rxside *x, uint64_t a)
{
	return x->mbuf && a >= (uintptr_t)x->mbuf &&
	       a < (uintptr_t)x->mbuf + (size_t)M_NSLOT * SLOT;
}

/* Where this process can read a buffer's bytes (the view once unmapped). */
static const uint8_t *rx_bytes(struct rxside *x, uint64_t a)
{
	return in_mbuf(x, a) ? x->mview + (a - (uintptr_t)x->mbuf) :
			       (const uint8_t *)(uintptr_t)a;
}

static void rx_take(struct rxside *x, struct unet_recv *r)
{
	struct unet_buf b[8];
	unsigned int n = r->nbuf < 8 ? r->nbuf : 8;
	uint32_t got = 0;

	for (unsigned int i = 0; i < n; i++)
		b[i] = *unet_recv_buf(x->ep, r, i);
	if (r->status == UNET_ST_OK && (r->nbuf > 8 || r->length > M_MAXMSG)) {
		x->sh->wrong++;
		snprintf(x->sh->why, sizeof(x->sh->why),
			 "message of %u bytes in %u buffers", r->length,
			 r->nbuf);
	} else if (r->status == UNET_ST_OK) {
		if (!r->nbuf) {
			memcpy(x->scratch, r->data, r->length);
			got = r->length;
		}
		for (unsigned int i = 0; i < n && got < r->length; i++) {
			uint32_t k = r->length - got;

			k = k < b[i].len ? k : b[i].len;
			memcpy(x->scratch + got, rx_bytes(x, b[i].addr), k);
			got += k;
		}
		if (got == r->length &&
		    msg_ok(x->scratch, got, x->stream, &x->next, x->sh->why,
			   sizeof(x->sh->why)))
			x->sh->ok++;
		else
			x->sh->wrong++;
	} else {
		x->sh->err++;
	}
	unet_recv_done(x->ep, r);
	fz_st(&x->sh->taken, x->sh->taken + 1);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t a = b[i].addr;

		/* Into the hole, or swapped for a heap buffer. */
		if (x->unmapped && in_mbuf(x, a) && x->heap_next < M_NSLOT &&
		    fz_chance(50))
			a = (uintptr_t)slot_buf(x->heap, x->heap_next++);
		unet_post_free(x->ep, a, BUFLEN, 0);
	}
}

/*
 * One pass of a receive loop: takes a message if one is there; false once
 * the sender is done and nothing came for 300 ms (what was still in flight
 * lands first).
 */
static bool rx_step(struct rxside *x, double *quiet)
{
	struct unet_recv r;

	if (unet_recv_poll(x->ep, &r) == 1) {
		rx_take(x, &r);
		*quiet = 0;
		return true;
	}
	if (fz_ld(&x->sh->done)) {
		if (!*quiet)
			*quiet = gt_now_ms();
		else if (gt_now_ms() - *quiet > 300)
			return false;
	}
	usleep(50);
	return true;
}

static void rx_books(struct rxside *x)
{
	struct unet_ep_stats st;
	long bad;

	if (unet_ep_stats(x->ep, &st))
		gt_die("endpoint stats");
	x->sh->nodesc = st.ctr[UNET_CTR_rx_drop_no_bufs] +
			st.ctr[UNET_CTR_rx_drop_queue_full] +
			st.ctr[UNET_CTR_rx_drop_backlog];
	x->sh->desc = st.ctr[UNET_CTR_rx_drop_bad_buf] +
		      st.ctr[UNET_CTR_rx_drop_reasm];
	bad = slots_guard_bad(x->heap, M_NSLOT);
	if (bad < 0 && x->mview)
		bad = slots_guard_bad(x->mview, M_NSLOT);
	if (bad >= 0) {
		x->sh->guard++;
		x->sh->guard_at = bad;
	}
}

/* The receiving child of the receive case. */
static void munmap_receiver(struct munmap_shm *sh, uint32_t stream)
{
	const size_t len = (size_t)M_NSLOT * SLOT;
	struct unet *u = gt_open();
	struct rxside x = { .sh = sh, .stream = stream };
	uint8_t *snap = malloc(len);
	double quiet = 0;

	alarm(REP_MS / 1000);
	x.ep = gt_ep(u, UNET_MODE_MM, 0);
	x.heap = aligned_alloc(PAGE, len);
	x.scratch = malloc(MAXMSG);
	memfd_twice(len, &x.mbuf, &x.mview);
	if (!snap || !x.heap || !x.scratch ||
	    gt_chan_to(x.ep, local_mac, sh->a_id) < 0)
		gt_die("receiver setup");
	slots_init(x.mview, M_NSLOT);
	slots_init(x.heap, M_NSLOT);
	for (unsigned int i = 0; i < M_NSLOT; i++)
		unet_post_free(x.ep, (uintptr_t)slot_buf(x.mbuf, i), BUFLEN, 0);
	fz_st(&sh->b_id, unet_ep_id(x.ep));
	fz_st(&sh->ready, 1);
	for (;;) {
		if (fz_ld(&sh->go) && !x.unmapped) {
			munmap(x.mbuf, len);
			/* From here on the NIC must leave these pages be. */
			memcpy(snap, x.mview, len);
			x.unmapped = true;
			fz_st(&sh->unmapped, 1);
		}
		if (!rx_step(&x, &quiet))
			break;
	}
	if (x.unmapped) {
		long bad = first_diff(snap, x.mview, len);

		if (bad >= 0) {
			sh->changed++;
			sh->changed_at = bad;
		}
	}
	rx_books(&x);
	_exit(0);
}

static void munmap_recv(int rep)
{
	struct munmap_shm *sh = fz_shared(sizeof(*sh));
	uint32_t stream = 8000 + (uint32_t)rep;
	struct unet *u = gt_open();
	struct unet_ep *ep = gt_ep(u, UNET_MODE_MM, 0);
	double end = gt_now_ms() + REP_MS;
	struct flow f = { .src = NULL };
	pid_t r;

	sh->a_id = unet_ep_id(ep);
	fflush(stdout);
	r = fork();
	if (r < 0)
		gt_die("fork");
	if (!r)
		munmap_receiver(sh, stream);
	while (!fz_ld(&sh->ready) && !late(end))
		usleep(1000);
	flow_init(&f, ep, gt_chan_to(ep, local_mac, sh->b_id), stream,
		  M_MAXMSG);
	f.taken = &sh->taken;
	if (!sh->ready || f.ch < 0) {
		fault_fail(NULL, "munmap-recv rep %d: receiver not ready", rep);
		goto out;
	}
	if (!flow_run(&f, 2 + fz_below(16), REP_MS))
		goto stuck;
	/* The unmap lands while messages stream into the buffers. */
	fz_st(&sh->go, 1);
	while (!fz_ld(&sh->unmapped) && !late(end))
		if (!flow_send(&f))
			usleep(50);
	if (!flow_run(&f, M_AFTER, REP_MS))
		goto stuck;
	goto done;
stuck:
	fault_fail(NULL, "munmap-recv rep %d: sends did not complete", rep);
done:
	fz_st(&sh->done, 1);
	if (!reap_child(r, REP_MS, "munmap receiver")) {
		fault_fail(NULL, "munmap-recv rep %d: receiver failed", rep);
		goto out;
	}
	if (sh->wrong) {
		T.misdelivered += sh->wrong;
		fault_fail(NULL, "munmap-recv rep %d: %llu messages wrong: %s",
			   rep, (unsigned long long)sh->wrong, sh->why);
	}
	if (sh->changed)
		fault_fail(&T.misdelivered,
			   "munmap-recv rep %d: the NIC wrote to the pages after munmap (offset %lld)",
			   rep, (long long)sh->changed_at);
	if (sh->guard)
		fault_fail(&T.misdelivered,
			   "munmap-recv rep %d: guard byte at offset %lld changed",
			   rep, (long long)sh->guard_at);
	if (f.err)
		fault_fail(NULL, "munmap-recv rep %d: %llu sends completed with status %u",
			   rep, (unsigned long long)f.err, f.bad_status);
	if (f.ok + f.err != sh->ok + sh->wrong + sh->err + sh->nodesc ||
	    sh->err != sh->desc)
		fault_fail(&T.unaccounted,
			   "munmap-recv rep %d: sent %llu ok %llu failed; received %llu ok, %llu with an error status; counted %llu with and %llu without a descriptor",
			   rep, (unsigned long long)f.ok,
			   (unsigned long long)f.err,
			   (unsigned long long)sh->ok,
			   (unsigned long long)sh->err,
			   (unsigned long long)sh->desc,
			   (unsigned long long)sh->nodesc);
	T.sent += f.ok;
	T.received += sh->ok;
	T.rx_errors += sh->err;
out:
	unet_ep_destroy(ep);
	unet_close(u);
	flow_free(&f);
	munmap(sh, sizeof(*sh));
}

/* The sending child of the send case: a thread unmaps under it. */
struct unmapper {
	uint8_t *buf;
	size_t len;
	unsigned int delay_us;
	struct munmap_shm *sh;
};

static void *unmapper_run(void *arg)
{
	struct unmapper *m = arg;

	usleep(m->delay_us);
	munmap(m->buf, m->len);
	fz_st(&m->sh->unmapped, 1);
	return NULL;
}

enum { K_BEFORE = 1, K_HOLE, K_AFTER };

static void munmap_sender(struct munmap_shm *sh, uint32_t stream,
			  unsigned int delay_us)
{
	const size_t len = (size_t)WINDOW * M_MAXMSG;
	struct unet *u = gt_open();
	struct unet_ep *ep = gt_ep(u, UNET_MODE_MM, 0);
	struct unmapper m = { .len = len, .delay_us = delay_us, .sh = sh };
	uint8_t *view, *heap = aligned_alloc(PAGE, len);
	unsigned int hole = 0, after = 0;
	bool poisoned = false;
	uint32_t seq = 0;
	uint64_t taken_seen = 0;
	double end = gt_now_ms() + REP_MS, taken_at = 0;
	pthread_t t;
	int ch;

	alarm(REP_MS / 1000);
	memfd_twice(len, &m.buf, &view);
	fz_st(&sh->a_id, unet_ep_id(ep));
	fz_st(&sh->ready, 1);
	while (!fz_ld(&sh->go))
		usleep(1000);
	ch = gt_chan_to(ep, local_mac, sh->b_id);
	if (!heap || ch < 0 || pthread_create(&t, NULL, unmapper_run, &m))
		gt_die("sender setup");
	while (after < M_AFTER || unet_send_outstanding(ep)) {
		struct unet_send_comp c[8];
		int n = unet_send_poll(ep, c, 8);
		unsigned int slot = seq % WINDOW;
		uint32_t l, kind;
		uint8_t *p;

		for (int i = 0; i < n; i++) {
			if (c[i].status == UNET_ST_OK)
				sh->sent_ok++;
			else
				sh->sent_err++;
			if (c[i].context == K_HOLE) {
				sh->hole_ok += c[i].status == UNET_ST_OK;
				sh->hole_err += c[i].status == UNET_ST_BAD_ADDR;
			} else if (c[i].context == K_AFTER) {
				sh->after_err += c[i].status != UNET_ST_OK;
			}
			if (c[i].status != UNET_ST_OK &&
			    c[i].status != UNET_ST_BAD_ADDR) {
				sh->odd++;
				sh->odd_status = c[i].status;
			}
		}
		if (late(end))
			break;
		if (after == M_AFTER || unet_send_outstanding(ep) >= WINDOW ||
		    !window_open(&sh->taken, &taken_seen, &taken_at, seq)) {
			usleep(50);
			continue;
		}
		if (fz_ld(&sh->unmapped) && !poisoned) {
			/*
			 * munmap has returned: a send that still read these
			 * pages would carry the poison.
			 */
			memset(view, POISON, len);
			poisoned = true;
		}
		if (!poisoned) {
			/* Written through the view: the thread may unmap buf. */
			l = UNET_INLINE_MAX + 1 +
			    fz_below(M_MAXMSG - UNET_INLINE_MAX);
			msg_fill(view + (size_t)slot * M_MAXMSG, stream, seq, l);
			p = m.buf + (size_t)slot * M_MAXMSG;
			kind = K_BEFORE;
		} else if (hole < M_HOLE) {
			l = UNET_INLINE_MAX + 1 +
			    fz_below(M_MAXMSG - UNET_INLINE_MAX);
			p = m.buf + (size_t)slot * M_MAXMSG;
			kind = K_HOLE;
		} else {
			l = rand_len(M_MAXMSG);
			p = heap + (size_t)slot * M_MAXMSG;
			msg_fill(p, stream, seq, l);
			kind = K_AFTER;
		}
		if (unet_send_buf(ep, ch, p, l, kind))
			continue;
		seq++;
		hole += kind == K_HOLE;
		after += kind == K_AFTER;
	}
	pthread_join(t, NULL);
	fz_st(&sh->done, 1);
	_exit(0);
}

static void munmap_send(int rep)
{
	struct munmap_shm *sh = fz_shared(sizeof(*sh));
	uint32_t stream = 8500 + (uint32_t)rep;
	struct unet *u = gt_open();
	struct rxside x = { .sh = sh, .stream = stream };
	double end = gt_now_ms() + REP_MS, quiet = 0;
	unsigned int delay = 1000 + fz_below(25000);
	pid_t s;

	x.ep = gt_ep(u, UNET_MODE_MM, 0);
	x.heap = aligned_alloc(PAGE, (size_t)M_NSLOT * SLOT);
	x.scratch = malloc(MAXMSG);
	if (!x.heap || !x.scratch)
		gt_die("alloc");
	slots_init(x.heap, M_NSLOT);
	for (unsigned int i = 0; i < M_NSLOT; i++)
		unet_post_free(x.ep, (uintptr_t)slot_buf(x.heap, i), BUFLEN, 0);
	sh->b_id = unet_ep_id(x.ep);
	fflush(stdout);
	s = fork();
	if (s < 0)
		gt_die("fork");
	if (!s)
		munmap_sender(sh, stream, delay);
	while (!fz_ld(&sh->ready) && !late(end))
		usleep(1000);
	if (!sh->ready || gt_chan_to(x.ep, local_mac, sh->a_id) < 0) {
		fault_fail(NULL, "munmap-send rep %d: sender not ready", rep);
		goto out;
	}
	fz_st(&sh->go, 1);
	while (!late(end) && rx_step(&x, &quiet))
		;
	if (!reap_child(s, REP_MS, "munmap sender") || !sh->done) {
		fault_fail(NULL, "munmap-send rep %d: sender failed", rep);
		goto out;
	}
	rx_books(&x);
	if (sh->wrong) {
		T.misdelivered += sh->wrong;
		fault_fail(NULL, "munmap-send rep %d: %llu messages wrong: %s",
			   rep, (unsigned long long)sh->wrong, sh->why);
	}
	if (sh->guard)
		fault_fail(&T.misdelivered,
			   "munmap-send rep %d: guard byte at offset %lld changed",
			   rep, (long long)sh->guard_at);
	/*
	 * A stale read that got delivered carries the poison (wrong above);
	 * one that completed OK without a drop read something it must not
	 * have.  Only a message the receiver dropped for want of buffers
	 * completes OK unread.
	 */
	if (sh->hole_ok > sh->nodesc)
		fault_fail(&T.misdelivered,
			   "munmap-send rep %d: %llu sends from the unmapped range completed OK (receiver dropped %llu for want of buffers)",
			   rep, (unsigned long long)sh->hole_ok,
			   (unsigned long long)sh->nodesc);
	if (sh->hole_err + sh->hole_ok != M_HOLE || sh->after_err || sh->odd)
		fault_fail(NULL, "munmap-send rep %d: %llu of %d hole sends BAD_ADDR, %llu later sends failed, %llu odd statuses (%u)",
			   rep, (unsigned long long)sh->hole_err, M_HOLE,
			   (unsigned long long)sh->after_err,
			   (unsigned long long)sh->odd, sh->odd_status);
	if (sh->sent_ok + sh->sent_err !=
	    sh->ok + sh->wrong + sh->err + sh->nodesc ||
	    sh->err != sh->desc)
		fault_fail(&T.unaccounted,
			   "munmap-send rep %d: sent %llu ok %llu failed; received %llu ok, %llu with an error status; counted %llu with and %llu without a descriptor",
			   rep, (unsigned long long)sh->sent_ok,
			   (unsigned long long)sh->sent_err,
			   (unsigned long long)sh->ok,
			   (unsigned long long)sh->err,
			   (unsigned long long)sh->desc,
			   (unsigned long long)sh->nodesc);
	T.sent += sh->sent_ok;
	T.received += sh->ok;
	T.rx_errors += sh->err;
	T.hole_sends += sh->hole_err + sh->hole_ok;
out:
	unet_ep_destroy(x.ep);
	unet_close(u);
	free(x.heap);
	free(x.scratch);
	munmap(sh, sizeof(*sh));
}

static void fault_munmap(int rep)
{
	if (rep % 2)
		munmap_send(rep);
	else
		munmap_recv(rep);
}

/* ------------------------------------------------------------- fork ---- */

#define F_MSGS		48
#define F_HEAP		12		/* receive slots on the heap */
#define F_STACK		4		/* and on the stack */
#define F_MAXMSG	(40u << 10)
#define F_KIDS		32

struct fork_shm {
	uint64_t ok, wrong, rx_err, tx_err, guard, kids_bad, forks, execs;
	uint64_t nodesc;
	int done;
	char why[160];
};

/* In a child: its copies of the buffers must not change under it. */
static void fork_child(int how, uint8_t *heap_rx, uint8_t *stack_rx,
		       uint8_t *heap_tx, uint8_t *stack_tx)
{
	const size_t hl = (size_t)F_HEAP * SLOT, sl = (size_t)F_STACK * SLOT;
	const size_t tl = (size_t)WINDOW * F_MAXMSG;
	unsigned int us = 1000 + fz_below(15000);

	switch (how) {
	case 0: {	/* watch */
		uint8_t *h = malloc(hl), *s = malloc(sl);

		if (!h || !s)
			_exit(5);
		memcpy(h, heap_rx, hl);
		memcpy(s, stack_rx, sl);
		usleep(us);
		_exit(memcmp(h, heap_rx, hl) || memcmp(s, stack_rx, sl) ? 3 : 0);
	}
	case 1:		/* scribble */
	case 2:		/* scribble, then exec */
		memset(heap_rx, 0xcc, hl);
		memset(stack_rx, 0xcc, sl);
		memset(heap_tx, 0xcc, tl);
		memset(stack_tx, 0xcc, tl);
		if (how == 2)
			break;
		usleep(us);
		if (!all_are(heap_rx, hl, 0xcc) || !all_are(stack_rx, sl, 0xcc))
			_exit(2);
		_exit(0);
	case 3:		/* exec at once */
		break;
	default:
		_exit(0);
	}
	execl("/proc/self/exe", "fuzz_faults", "--exec-child", (char *)NULL);
	_exit(4);
}

static uint8_t *fork_rx_addr(uint8_t *heap_rx, uint8_t *stack_rx,
			     uint64_t a, size_t *slot_off)
{
	uint64_t h = (uintptr_t)heap_rx, s = (uintptr_t)stack_rx;

	if (a >= h && a < h + (size_t)F_HEAP * SLOT) {
		*slot_off = (a - h) % SLOT;
		return heap_rx + (a - h) - *slot_off;
	}
	if (a >= s && a < s + (size_t)F_STACK * SLOT) {
		*slot_off = (a - s) % SLOT;
		return stack_rx + (a - s) - *slot_off;
	}
	return NULL;
}

static bool slot_guards_ok(const uint8_t *slot)
{
	for (size_t i = 0; i < SLOT; i++)
		if ((i < GUARD || i >= GUARD + BUFLEN) && slot[i] != FZ_GUARDB)
			return false;
	return true;
}

static void fork_proc(int rep, struct fork_shm *sh)
{
	uint8_t stack_rx[F_STACK * SLOT] __attribute__((aligned(4096)));
	uint8_t stack_tx[WINDOW * F_MAXMSG] __attribute__((aligned(4096)));
	uint8_t *heap_rx = aligned_alloc(PAGE, (size_t)F_HEAP * SLOT);
	uint8_t *heap_tx = aligned_alloc(PAGE, (size_t)WINDOW * F_MAXMSG);
	uint8_t *scratch = malloc(MAXMSG);
	uint32_t stream = 9000 + (uint32_t)rep, sent = 0, next = 0;
	struct unet *u = gt_open();
	struct unet_ep *a = gt_ep(u, UNET_MODE_MM, 0);
	struct unet_ep *b = gt_ep(u, UNET_MODE_MM, 0);
	int ch = gt_chan_local(a, b), nkids = 0;
	double end = gt_now_ms() + REP_MS, last = gt_now_ms();
	pid_t kids[F_KIDS];
	struct unet_ep_stats st;

	alarm(REP_MS / 1000);
	if (!heap_rx || !heap_tx || !scratch)
		gt_die("alloc");
	gt_chan_local(b, a);
	slots_init(heap_rx, F_HEAP);
	slots_init(stack_rx, F_STACK);
	/* Heap and stack buffers taken in turns. */
	for (unsigned int i = 0; i < F_HEAP + F_STACK; i++) {
		uint8_t *p = i % 4 == 3 ? slot_buf(stack_rx, i / 4) :
					  slot_buf(heap_rx, i - i / 4);

		unet_post_free(b, (uintptr_t)p, BUFLEN, 0);
	}
	/* Until every message is in, or nothing came for 2 s after the last. */
	while (sh->ok + sh->rx_err + sh->wrong < F_MSGS && !late(end) &&
	       (sent < F_MSGS || unet_send_outstanding(a) ||
		gt_now_ms() - last < 2000)) {
		struct unet_send_comp c[8];
		struct unet_recv r;
		int n = unet_send_poll(a, c, 8);

		for (int i = 0; i < n; i++)
			sh->tx_err += c[i].status != UNET_ST_OK;
		if (sent < F_MSGS && unet_send_outstanding(a) < WINDOW) {
			/* Source slots: heap for a window, stack the next. */
			uint8_t *p = ((sent / WINDOW) % 2 ? stack_tx : heap_tx) +
				     (size_t)(sent % WINDOW) * F_MAXMSG;
			uint32_t l = rand_len(F_MAXMSG);

			msg_fill(p, stream, sent, l);
			if (!unet_send_buf(a, ch, p, l, 1))
				sent++;
			if (nkids < F_KIDS && fz_chance(20)) {
				int how = (int)fz_below(5);
				pid_t k;

				fflush(stdout);
				k = fork();
				if (k < 0)
					gt_die("fork");
				if (!k)
					fork_child(how, heap_rx, stack_rx,
						   heap_tx, stack_tx);
				kids[nkids++] = k;
				sh->forks++;
				sh->execs += how == 2 || how == 3;
			}
		}
		while (unet_recv_poll(b, &r) == 1) {
			struct unet_buf bufs[8];
			unsigned int nb = r.nbuf < 8 ? r.nbuf : 8;
			uint32_t got = 0;

			last = gt_now_ms();

			for (unsigned int i = 0; i < nb; i++)
				bufs[i] = *unet_recv_buf(b, &r, i);
			if (r.status != UNET_ST_OK) {
				sh->rx_err++;
			} else if (!r.nbuf) {
				memcpy(scratch, r.data, r.length);
				got = r.length;
			}
			/* Read from this process's own buffers. */
			for (unsigned int i = 0;
			     r.status == UNET_ST_OK && i < nb; i++) {
				uint32_t k = r.length - got;

				k = k < BUFLEN ? k : BUFLEN;
				memcpy(scratch + got,
				       (uint8_t *)(uintptr_t)bufs[i].addr, k);
				got += k;
			}
			if (r.status == UNET_ST_OK) {
				if (got == r.length &&
				    msg_ok(scratch, got, stream, &next, sh->why,
					   sizeof(sh->why)))
					sh->ok++;
				else
					sh->wrong++;
			}
			unet_recv_done(b, &r);
			for (unsigned int i = 0; i < nb; i++) {
				size_t off;
				uint8_t *slot = fork_rx_addr(heap_rx, stack_rx,
							     bufs[i].addr, &off);

				if (!slot || !slot_guards_ok(slot)) {
					sh->guard++;
					if (slot)
						slots_init(slot, 1);
				}
				/* A write here breaks COW on our side. */
				if (slot && fz_chance(50))
					memset(slot + GUARD, 0, BUFLEN);
				unet_post_free(b, bufs[i].addr, BUFLEN, 0);
			}
		}
		usleep(20);
	}
	if (slots_guard_bad(heap_rx, F_HEAP) >= 0 ||
	    slots_guard_bad(stack_rx, F_STACK) >= 0)
		sh->guard++;
	if (!unet_ep_stats(b, &st))
		sh->nodesc = st.ctr[UNET_CTR_rx_drop_no_bufs] +
			     st.ctr[UNET_CTR_rx_drop_queue_full];
	for (int i = 0; i < nkids; i++) {
		int s;

		if (waitpid(kids[i], &s, 0) != kids[i] || !WIFEXITED(s) ||
		    WEXITSTATUS(s)) {
			sh->kids_bad++;
			snprintf(sh->why, sizeof(sh->why),
				 "child %d: %s %d", i,
				 WIFEXITED(s) ? "exit status" : "signal",
				 WIFEXITED(s) ? WEXITSTATUS(s) : WTERMSIG(s));
		}
	}
	sh->done = 1;
	unet_ep_destroy(a);
	unet_ep_destroy(b);
	unet_close(u);
	_exit(0);
}

static void fault_fork(int rep)
{
	struct fork_shm *sh = fz_shared(sizeof(*sh));
	pid_t p;

	fflush(stdout);
	p = fork();
	if (p < 0)
		gt_die("fork");
	if (!p) {
		fz_rng ^= (uint64_t)rep * 0x9e3779b97f4a7c15ull;
		fork_proc(rep, sh);
	}
	if (!reap_child(p, REP_MS + 5000, "fork streamer") || !sh->done) {
		fault_fail(NULL, "fork rep %d: the streaming process failed (%s)",
			   rep, sh->why);
	} else {
		if (sh->wrong) {
			T.misdelivered += sh->wrong;
			fault_fail(NULL, "fork rep %d: %llu messages wrong: %s",
				   rep, (unsigned long long)sh->wrong, sh->why);
		}
		if (sh->guard)
			fault_fail(&T.misdelivered,
				   "fork rep %d: guard bytes changed", rep);
		if (sh->kids_bad)
			fault_fail(&T.misdelivered,
				   "fork rep %d: %llu of %llu children saw their copies change or failed (%s)",
				   rep, (unsigned long long)sh->kids_bad,
				   (unsigned long long)sh->forks, sh->why);
		if (sh->rx_err || sh->tx_err)
			fault_fail(NULL, "fork rep %d: %llu receives and %llu sends failed",
				   rep, (unsigned long long)sh->rx_err,
				   (unsigned long long)sh->tx_err);
		if (sh->ok + sh->rx_err + sh->wrong + sh->nodesc < F_MSGS)
			fault_fail(&T.unaccounted,
				   "fork rep %d: %llu of %d messages arrived, %llu counted dropped",
				   rep, (unsigned long long)sh->ok, F_MSGS,
				   (unsigned long long)sh->nodesc);
	}
	T.sent += F_MSGS;
	T.received += sh->ok;
	T.forks += sh->forks;
	T.execs += sh->execs;
	munmap(sh, sizeof(*sh));
}

/* -------------------------------------------------------------- main ---- */

static const struct {
	const char *name;
	void (*run)(int rep);
} modes[] = {
	{ "close", fault_close },
	{ "munmap", fault_munmap },
	{ "fork", fault_fork },
};

static void uffd_open(void)
{
	struct uffdio_api api = { .api = UFFD_API };

	uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd >= 0 && !ioctl(uffd, UFFDIO_API, &api))
		return;
	printf("# userfaultfd unavailable (%s): no half-written close cases\n",
	       strerror(errno));
	if (uffd >= 0)
		close(uffd);
	uffd = -1;
}

int main(int argc, char **argv)
{
	const char *mode;
	uint64_t seed;
	long reps, checked;
	struct fz_bg *bg;
	struct fz_tally ct;
	long base[FZ_NGAUGES];
	struct unet *u;
	char name[64];
	bool any = false;
	pid_t bgp;

	/* What a forked child execs: it only has to start and go. */
	if (argc > 1 && !strcmp(argv[1], "--exec-child"))
		return 0;
	seed = fz_seed_arg(argc, argv, "fuzz_faults");
	mode = fz_str_arg(argc, argv, "--mode", "all");
	reps = fz_long_arg(argc, argv, "--reps", 10);
	checked = fz_long_arg(argc, argv, "--checked", 200);
	u = gt_open();
	gt_nic_mac(u, local_mac);
	unet_close(u);
	fz_gauges_read(base);
	uffd_open();
	bg = fz_shared(sizeof(*bg));
	bgp = fz_bg_start(bg, 4000, (uint32_t)checked);
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		uint64_t before = T.failures, cases = T.cases;
		double t0 = gt_now_ms();

		if (strcmp(mode, "all") && strcmp(mode, modes[m].name))
			continue;
		any = true;
		for (long rep = 0; rep < reps; rep++) {
			modes[m].run((int)rep);
			T.cases++;
		}
		snprintf(name, sizeof(name), "fuzz-faults-%s", modes[m].name);
		gt_result(T.failures == before, name,
			  "%llu failures in %llu repetitions (see # fault: lines)",
			  (unsigned long long)(T.failures - before),
			  (unsigned long long)(T.cases - cases));
		printf("# %s: %llu cases in %.1f s\n", modes[m].name,
		       (unsigned long long)(T.cases - cases),
		       (gt_now_ms() - t0) / 1000);
	}
	if (!any) {
		printf("FAIL guest/fuzz-faults-usage: unknown --mode %s\n", mode);
		fz_bg_stop(bg, bgp);
		return 2;
	}
	ct = fz_bg_stop(bg, bgp);
	printf("# background pair: %u rounds, %llu messages checked\n",
	       bg->rounds, (unsigned long long)ct.checked_msgs);
	snprintf(name, sizeof(name), "fuzz-faults-%s-checked-traffic", mode);
	gt_result(!ct.misdelivered && !ct.lost_unaccounted && !ct.failures &&
		  !ct.checked_lost && bg->rounds, name,
		  "rounds %u misdelivered %llu unaccounted %llu lost %llu failures %llu",
		  bg->rounds, (unsigned long long)ct.misdelivered,
		  (unsigned long long)ct.lost_unaccounted,
		  (unsigned long long)ct.checked_lost,
		  (unsigned long long)ct.failures);
	snprintf(name, sizeof(name), "fuzz-faults-%s-gauges", mode);
	gt_result(!fz_gauges_settle(base, 10000, "fuzz_faults"), name,
		  "NIC gauges not back to their values before the run");
	printf("# fault streams: %llu messages sent, %llu received whole, "
	       "%llu with an error status; %llu sent toward a receiver while "
	       "it went, %llu held half-written (%llu seen in the receiver's "
	       "buffers); %llu sends from a hole; %llu forks (%llu exec)\n",
	       (unsigned long long)T.sent, (unsigned long long)T.received,
	       (unsigned long long)T.rx_errors, (unsigned long long)T.inflight,
	       (unsigned long long)T.half, (unsigned long long)T.half_seen,
	       (unsigned long long)T.hole_sends, (unsigned long long)T.forks,
	       (unsigned long long)T.execs);
	printf("FUZZJSON {\"fuzzer\":\"faults-%s\",\"seed\":%llu,"
	       "\"fault_cases\":%llu,\"misdelivered\":%llu,"
	       "\"lost_accounted\":%llu,\"failures\":%llu,"
	       "\"checked_msgs\":%llu,\"fault_msgs\":%llu,"
	       "\"half_written\":%llu,\"hole_sends\":%llu,\"forks\":%llu}\n",
	       mode, (unsigned long long)seed, (unsigned long long)T.cases,
	       (unsigned long long)(T.misdelivered + ct.misdelivered),
	       (unsigned long long)(T.unaccounted + ct.lost_unaccounted),
	       (unsigned long long)(T.failures + ct.failures),
	       (unsigned long long)ct.checked_msgs,
	       (unsigned long long)T.sent, (unsigned long long)T.half,
	       (unsigned long long)T.hole_sends,
	       (unsigned long long)T.forks);
	return gt_exit();
}
