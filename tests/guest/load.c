// SPDX-License-Identifier: MIT
/*
 * Load: 64 endpoints in 16 processes, each endpoint streaming a fixed
 * count of checked messages to a partner endpoint in another process
 * (loopback), or 32 endpoints in 8 processes per guest, each streaming to
 * and from its twin in the other guest (wire: 64 endpoints in 16
 * processes across the two).  Every receive buffer a message needs is
 * posted before it is sent, so nothing may be lost (the link between the
 * guests is lossless); then one endpoint per process posts fewer buffers
 * than messages, and exactly the shortfall must be counted as dropped for
 * want of buffers.
 *
 *   load loopback
 *   load wire 1|2
 */
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "guest_test.h"

#define PROCS_LOCAL	16
#define PROCS_WIRE	8
#define EPS		4
#define MSGS		60
#define BUF		4096
#define WINDOW		8	/* sends in flight per endpoint */
#define SHORT_BUFS	40	/* the starved endpoint's free buffers */
#define BIG_BUF		16384	/* ... each big enough for any message */

struct ids {
	uint32_t id[PROCS_LOCAL][EPS];		/* ours */
	uint32_t peer[PROCS_LOCAL][EPS];	/* the other guest's (wire) */
};

/* Who a worker talks to: process indices into ids->id, or the peer's. */
struct plan {
	int procs;
	const uint8_t *peer_mac;	/* NULL: loopback */
	bool starve;
};

static int send_to(const struct plan *pl, int p)
{
	return pl->peer_mac ? p : (p + 1) % pl->procs;
}

static int recv_from(const struct plan *pl, int p)
{
	return pl->peer_mac ? p : (p + pl->procs - 1) % pl->procs;
}

/*
 * Message j from (process p, endpoint e): inline, or up to one buffer.
 * 64 endpoints' buffers already overflow the TLB four times; bigger
 * messages would only make the run longer under TCG.
 */
static uint32_t msg_len(int p, int e, int j)
{
	static const uint32_t sizes[] = { 8, 100, 113, 1500, 2900, 4000,
					  4096 };

	return sizes[(p * 7 + e * 3 + j) % 7];
}

static uint32_t seed_of(int p, int e, int j)
{
	return (uint32_t)(p << 20 | e << 16 | j);
}

struct result {
	int bad;		/* wrong bytes, order or channel */
	int lost;		/* never arrived */
	int send_errors;
	bool starved_ok;	/* got and dropped exactly what it should */
};

/*
 * A starved endpoint with SHORT_BUFS big buffers gets every inline message
 * (they need no buffer) and the first SHORT_BUFS others; the rest must be
 * counted as dropped for want of buffers.
 */
static void starved_expect(int sender, int *got, int *dropped)
{
	int j, big = 0;

	*got = 0;
	for (j = 0; j < MSGS; j++) {
		if (msg_len(sender, 0, j) <= UNET_INLINE_MAX)
			(*got)++;
		else
			big++;
	}
	*got += big < SHORT_BUFS ? big : SHORT_BUFS;
	*dropped = big > SHORT_BUFS ? big - SHORT_BUFS : 0;
}

/* Messages @ep has dropped for any reason; fills @st. */
static uint64_t ep_drops(struct unet_ep *ep, struct unet_ep_stats *st)
{
	if (unet_ep_stats(ep, st))
		gt_die("endpoint stats");
	return st->ctr[UNET_CTR_rx_drop_no_bufs] +
	       st->ctr[UNET_CTR_rx_drop_queue_full] +
	       st->ctr[UNET_CTR_rx_drop_bad_buf] +
	       st->ctr[UNET_CTR_rx_drop_reasm] +
	       st->ctr[UNET_CTR_rx_drop_backlog];
}

/*
 * One process: EPS endpoints receive from the partner process's endpoints
 * and send to the next process's.  Endpoint 0 is starved when @starve.
 */
static void worker(int p, const struct plan *pl, struct ids *ids,
		   int ready_fd, const int *go_fd, int res_fd)
{
	const int src = recv_from(pl, p), dst = send_to(pl, p);
	bool starve = pl->starve;
	struct unet *u = gt_open();
	struct unet_ep *ep[EPS];
	int ch_out[EPS], ch_in[EPS], got[EPS] = { 0 }, sent[EPS] = { 0 };
	uint8_t mac[6], *pool, *tx;
	struct result res = { 0 };
	double end;
	int e, posted[EPS];
	char c;

	for (e = 0; e < EPS; e++) {
		struct unet_ep_attr a;

		unet_ep_attr_init(&a);
		a.fq_entries = 512;
		a.rx_entries = 256;
		ep[e] = unet_ep_create(u, &a);
		if (!ep[e])
			gt_die("create endpoint");
		ids->id[p][e] = unet_ep_id(ep[e]);
	}
	if (write(ready_fd, "r", 1) != 1 || read(go_fd[0], &c, 1) != 1)
		gt_die("sync");

	if (pl->peer_mac)
		memcpy(mac, pl->peer_mac, 6);
	else
		gt_nic_mac(u, mac);
	pool = malloc((size_t)EPS * MSGS * BUF + SHORT_BUFS * BIG_BUF);
	/* A send buffer per message in flight: reused only once reaped. */
	tx = malloc((size_t)EPS * WINDOW * BUF);
	if (!pool || !tx)
		gt_die("alloc");
	for (e = 0; e < EPS; e++) {
		uint32_t (*to)[EPS] = pl->peer_mac ? ids->peer : ids->id;
		bool starved = starve && e == 0;
		int want = starved ? SHORT_BUFS : MSGS;
		size_t size = starved ? BIG_BUF : BUF;
		uint8_t *base = starved ? pool + (size_t)EPS * MSGS * BUF :
					  pool + (size_t)e * MSGS * BUF;

		ch_out[e] = gt_chan_to(ep[e], mac, to[dst][e]);
		/* On the wire one channel goes both ways. */
		ch_in[e] = src == dst ? ch_out[e] :
			   gt_chan_to(ep[e], mac, to[src][e]);
		if (ch_out[e] < 0 || ch_in[e] < 0)
			gt_die("channels");
		/* Every buffer any message will need, posted up front. */
		for (posted[e] = 0; posted[e] < want; posted[e]++)
			if (unet_post_free(ep[e], (uintptr_t)(base +
					   (size_t)posted[e] * size), size, 0))
				gt_die("post free");
	}
	/* Everyone's channels exist before anyone sends. */
	if (write(ready_fd, "c", 1) != 1 || read(go_fd[1], &c, 1) != 1)
		gt_die("sync");

	end = gt_now_ms() + 120000;
	for (;;) {
		bool busy = false;

		for (e = 0; e < EPS; e++) {
			struct unet_send_comp comp;
			struct unet_recv r;

			if (sent[e] < MSGS &&
			    unet_send_outstanding(ep[e]) < WINDOW) {
				uint32_t len = msg_len(p, e, sent[e]);
				uint8_t *b = tx + ((size_t)e * WINDOW +
						   sent[e] % WINDOW) * BUF;

				gt_fill(b, len, seed_of(p, e, sent[e]));
				if (!unet_send_buf(ep[e], ch_out[e], b, len, 0))
					sent[e]++;
				busy = true;
			}
			while (unet_send_poll(ep[e], &comp, 1) == 1)
				if (comp.status != UNET_ST_OK)
					res.send_errors++;
			while (unet_recv_poll(ep[e], &r) == 1) {
				uint32_t want = msg_len(src, e, got[e]);
				uint8_t buf[16384];
				size_t n = unet_recv_copy(ep[e], &r, buf,
							  sizeof(buf));

				if (r.status != UNET_ST_OK ||
				    r.channel != (uint32_t)ch_in[e] ||
				    r.length != want || n != want ||
				    gt_verify(buf, n,
					      seed_of(src, e, got[e])) >= 0) {
					if (res.bad++ < 3)	/* the first tell why */
						printf("# p%d e%d msg %d: status %s channel %u len %u want %u\n",
						       p, e, got[e],
						       unet_status_str(r.status),
						       r.channel, r.length, want);
				}
				unet_recv_done(ep[e], &r);	/* no repost */
				got[e]++;
				busy = true;
			}
		}
		if (!busy) {
			bool done = true;

			for (e = 0; e < EPS; e++) {
				int expect = MSGS, dropped;

				if (starve && e == 0)
					starved_expect(src, &expect, &dropped);
				if (sent[e] < MSGS || got[e] < expect)
					done = false;
			}
			if (done || gt_now_ms() > end)
				break;
			usleep(100);
		}
	}
	/*
	 * Count only once every message the partner sent has landed or been
	 * dropped: a starved endpoint has all it will get before the partner's
	 * last, dropped, messages arrive, and a fixed pause would bet on how
	 * soon they come.  Only a message lost without trace runs the clock.
	 */
	end += 10000;
	for (e = 0; e < EPS; e++) {
		struct unet_ep_stats st;
		struct unet_recv r;
		int expect = MSGS, dropped = 0;

		for (;;) {
			while (unet_recv_poll(ep[e], &r) == 1) {
				got[e]++;
				unet_recv_done(ep[e], &r);
			}
			if (got[e] + ep_drops(ep[e], &st) >= MSGS ||
			    gt_now_ms() > end)
				break;
			usleep(1000);
		}
		if (starve && e == 0) {
			starved_expect(src, &expect, &dropped);
			res.starved_ok = got[e] == expect &&
				st.ctr[UNET_CTR_rx_drop_no_bufs] ==
					(uint64_t)dropped;
			if (!res.starved_ok)
				printf("# p%d starved: got %d of %d, rx_drop_no_bufs %llu of %d\n",
				       p, got[e], expect,
				       (unsigned long long)st.ctr[UNET_CTR_rx_drop_no_bufs],
				       dropped);
		} else if (got[e] < expect) {
			res.lost += expect - got[e];
		}
	}
	if (write(res_fd, &res, sizeof(res)) != sizeof(res))
		gt_die("report");
	/* Stay until everyone has counted: our sends must not vanish. */
	if (read(go_fd[2], &c, 1) != 1)
		gt_die("sync");
	exit(0);
}

/*
 * Across the wire both guests run the same steps; these exchanges keep
 * them in step (and carry the endpoint ids).  Nothing to do on loopback.
 */
static void peer_sync(int guest, uint32_t *mine, uint32_t *theirs, int n)
{
	static int round;
	uint32_t dummy = 0;

	if (!guest)
		return;
	if (!mine)
		mine = theirs = &dummy, n = 1;
	gt_swap_array(guest == 1, "169.254.88.1", 18650 + round++, mine,
		      theirs, n);
}

/* @guest: 0 on loopback, else which of the two wire guests we are. */
static void run(const char *setup, const struct plan *pl, int guest)
{
	struct ids *ids = mmap(NULL, sizeof(*ids), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	/* One pipe per barrier: a fast worker must not eat a slow one's go. */
	int ready[2], go[3][2], gor[3], res[2], p, i, bad = 0, lost = 0;
	int errs = 0, procs = pl->procs;
	long starved_ok = 0;
	char name[64], c;

	if (ids == MAP_FAILED || pipe(ready) || pipe(res) || pipe(go[0]) ||
	    pipe(go[1]) || pipe(go[2]))
		gt_die("setup");
	for (i = 0; i < 3; i++)
		gor[i] = go[i][0];
	for (p = 0; p < procs; p++) {
		pid_t pid = fork();

		if (pid < 0)
			gt_die("fork");
		if (!pid)
			worker(p, pl, ids, ready[1], gor, res[1]);
	}
	/*
	 * Two rounds: endpoints made (then the guests swap ids), channels
	 * made and buffers posted (then both guests may send).
	 */
	for (i = 0; i < 2; i++) {
		for (p = 0; p < procs; p++)
			if (read(ready[0], &c, 1) != 1)
				gt_die("a worker failed");
		if (i == 0)
			peer_sync(guest, &ids->id[0][0], &ids->peer[0][0],
				  PROCS_LOCAL * EPS);
		else
			peer_sync(guest, NULL, NULL, 0);
		for (p = 0; p < procs; p++)
			if (write(go[i][1], "g", 1) != 1)
				gt_die("go");
	}
	for (p = 0; p < procs; p++) {
		struct result r;

		if (read(res[0], &r, sizeof(r)) != sizeof(r))
			gt_die("a worker died");
		bad += r.bad;
		lost += r.lost;
		errs += r.send_errors;
		if (pl->starve)
			starved_ok += r.starved_ok;
	}
	/* Our endpoints stay until the peer has counted what we sent. */
	peer_sync(guest, NULL, NULL, 0);
	for (p = 0; p < procs; p++)
		if (write(go[2][1], "x", 1) != 1)
			gt_die("release");
	while (wait(NULL) > 0)
		;
	snprintf(name, sizeof(name), "load-%s-%dx%d%s", setup, procs, EPS,
		 pl->starve ? "-starved" : "");
	gt_result(!bad && !lost && !errs, name,
		  "%d wrong, %d lost with buffers posted, %d send errors",
		  bad, lost, errs);
	if (pl->starve) {
		snprintf(name, sizeof(name), "load-%s-starved-counted", setup);
		gt_result(starved_ok == procs, name,
			  "%ld of %d starved endpoints got exactly what their %d buffers held, the rest counted as rx_drop_no_bufs",
			  starved_ok, procs, SHORT_BUFS);
	}
	munmap(ids, sizeof(*ids));
}

int main(int argc, char **argv)
{
	uint8_t mac[6];
	char setup[32];
	int g;

	if (argc == 2 && !strcmp(argv[1], "loopback")) {
		struct plan pl = { .procs = PROCS_LOCAL };

		run("loopback", &pl, 0);
		pl.starve = true;
		run("loopback", &pl, 0);
		return gt_exit();
	}
	g = argc == 3 ? atoi(argv[2]) : 0;
	if (argc == 3 && !strcmp(argv[1], "wire") && (g == 1 || g == 2)) {
		struct plan pl = { .procs = PROCS_WIRE, .peer_mac = mac };

		gt_peer_mac(3 - g, mac);
		snprintf(setup, sizeof(setup), "wire-g%d", g);
		run(setup, &pl, g);
		pl.starve = true;
		run(setup, &pl, g);
		return gt_exit();
	}
	fprintf(stderr,
		"usage: load loopback        16 processes x 4 endpoints, one guest\n"
		"       load wire 1|2        8 x 4 in each of two guests, each endpoint\n"
		"                            streaming to and from its twin in the other\n");
	return 2;
}
