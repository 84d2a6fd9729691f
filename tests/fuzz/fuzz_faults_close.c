// SPDX-License-Identifier: MIT
/*
 * A fault in the middle of traffic, each repetition one fault case, while
 * a checked loopback pair runs round after round in the background (its
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
 *
 *   fuzz_faults_close [--reps N] [--seed N] [--checked N]
 *
 * --checked is the background pair's messages per round and direction.
 * Prints `FUZZJSON {...}` (fault_cases, misdelivered, lost_accounted, ...)
 * at the end; guest-fuzz.sh checks the NIC gauges after it, and this
 * program checks them against their values before it started.
 */
#include "faults_common.h"

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
			fault_tally.half++;
			if (find_head(mem, stream, f.seq - 1) >= 0)
				fault_tally.half_seen++;
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
	fault_tally.inflight += f.seq - seq0;
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
			fault_fail(&fault_tally.unaccounted,
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
		fault_fail(&fault_tally.unaccounted,
			   "close rep %d (%s%s): of %d sent after the receiver went %llu completed OK, %llu no route; drop_no_endpoint/channel +%llu",
			   rep, how_name[how], half ? ", half" : "", C_AFTER,
			   (unsigned long long)(f.ok - ok0),
			   (unsigned long long)(f.no_route - nr0),
			   (unsigned long long)(nic_gone() -
						noep0));
	usleep(20000);
	bad = first_diff(snap, mem, memlen);
	if (bad >= 0)
		fault_fail(&fault_tally.misdelivered,
			   "close rep %d (%s%s): the gone receiver's memory changed at offset %ld (slot %ld, +%ld)",
			   rep, how_name[how], half ? ", half" : "", bad,
			   bad / (long)SLOT, bad % (long)SLOT);
	bad = slots_guard_bad(mem, C_NSLOT);
	if (bad >= 0)
		fault_fail(&fault_tally.misdelivered,
			   "close rep %d: guard byte at offset %ld changed",
			   rep, bad);
	if (f.err)
		fault_fail(NULL, "close rep %d (%s): %llu sends completed with status %u",
			   rep, how_name[how], (unsigned long long)f.err,
			   f.bad_status);
	if (sh->wrong) {
		fault_tally.misdelivered += sh->wrong;
		fault_fail(NULL, "close rep %d: victim got %llu wrong: %s",
			   rep, (unsigned long long)sh->wrong, sh->why);
	}
	fault_tally.sent += f.ok;
	fault_tally.received += sh->received;
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

int main(int argc, char **argv)
{
	return faults_main(argc, argv, "close", fault_close);
}
