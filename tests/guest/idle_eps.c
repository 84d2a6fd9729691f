// SPDX-License-Identifier: MIT
/*
 * Idle endpoints cost the NIC nothing in softirq.  The NIC's 100 ms poll
 * (reassembly timeouts, translating newly posted buffers) and the wake-up
 * of senders waiting for ring room run in softirq; if they walked every
 * endpoint, ten thousand idle ones would steal the CPU from everyone.
 *
 * Measured twice, with no endpoint and with 10,000 idle ones (in 157
 * contexts): the share of CPU time the guest spends in softirq over a few
 * seconds (/proc/stat), and the time the NIC's poll takes per tick
 * (poll_ns / polls).  An endpoint counts as active in its first second,
 * so the measurement starts after that.
 *
 *   idle_eps
 */
#include "guest_test.h"

#define NEPS		10000
#define WINDOW_MS	3000

struct sample {
	double softirq_pct;	/* of all CPU time in the window */
	double poll_us;		/* per NIC poll, -1 if not reported */
};

static void proc_stat(unsigned long long *total, unsigned long long *softirq)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
			 &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			 &v[7]) != 8)
		gt_die("read /proc/stat");
	fclose(f);
	*softirq = v[6];
	*total = 0;
	for (int i = 0; i < 8; i++)
		*total += v[i];
}

/* Time the NIC's poll took, and how many polls. */
static void poll_counters(struct unet *u, long *ns, long *n)
{
	*ns = gt_nic_counter(u, UNET_NIC_poll_ns);
	*n = gt_nic_counter(u, UNET_NIC_polls);
}

static struct sample measure(struct unet *u)
{
	unsigned long long t0, s0, t1, s1;
	long ns0, n0, ns1, n1;
	struct sample r;

	proc_stat(&t0, &s0);
	poll_counters(u, &ns0, &n0);
	usleep(WINDOW_MS * 1000);
	proc_stat(&t1, &s1);
	poll_counters(u, &ns1, &n1);
	r.softirq_pct = t1 > t0 ? 100.0 * (double)(s1 - s0) /
				  (double)(t1 - t0) : 0;
	r.poll_us = n1 > n0 ? (double)(ns1 - ns0) / (n1 - n0) / 1e3 : -1;
	return r;
}

int main(void)
{
	static struct unet *ctx[NEPS / UNET_EP_PER_CTX + 1];
	struct unet *u = gt_open();
	struct sample none, many;
	int made = 0, nctx = 0;
	double t0;

	none = measure(u);
	t0 = gt_now_ms();
	while (made < NEPS) {
		struct unet_ep_attr a;
		struct unet *c = gt_open();

		ctx[nctx++] = c;
		unet_ep_attr_init(&a);
		a.tx_entries = a.rx_entries = a.fq_entries = UNET_RING_MIN;
		for (int i = 0; i < UNET_EP_PER_CTX && made < NEPS; i++) {
			if (!unet_ep_create(c, &a))
				gt_die("create endpoint");
			made++;
		}
	}
	printf("# %d idle endpoints in %d contexts made in %.0f ms\n", made,
	       nctx, gt_now_ms() - t0);
	/* A new endpoint counts as active for its first second. */
	usleep(1500 * 1000);
	many = measure(u);
	printf("# softirq share: %.2f%% with no endpoint, %.2f%% with %d "
	       "idle; NIC poll: %.1f us vs %.1f us per tick\n",
	       none.softirq_pct, many.softirq_pct, made, none.poll_us,
	       many.poll_us);
	gt_result(many.softirq_pct <= none.softirq_pct + 1.0,
		  "idle-endpoints-no-softirq-cost",
		  "softirq took %.2f%% of the CPU with %d idle endpoints, "
		  "%.2f%% with none", many.softirq_pct, made,
		  none.softirq_pct);
	gt_result(many.poll_us >= 0 && many.poll_us <= 2 * none.poll_us + 20,
			  "idle-endpoints-poll-time-flat",
			  "the NIC's poll took %.1f us per tick with %d idle "
			  "endpoints, %.1f us with none", many.poll_us, made,
			  none.poll_us);
	t0 = gt_now_ms();
	for (int i = 0; i < nctx; i++)
		unet_close(ctx[i]);	/* exit would do it too; time it */
	printf("# closed them in %.0f ms\n", gt_now_ms() - t0);
	unet_close(u);
	return gt_exit();
}
