// SPDX-License-Identifier: MIT
/*
 * regcost: what verbs charge for memory, on Soft-RoCE (libibverbs over
 * rdma_rxe): the cost U-Net/MM exists to remove (eval/firstuse.c measures
 * U-Net/MM's side).
 *
 *   registration  ibv_reg_mr (IBV_ACCESS_LOCAL_WRITE) and ibv_dereg_mr of
 *                 4 KiB .. 256 MiB of anonymous memory the application
 *                 has written (so registration pins, it does not fault
 *                 in); the median of several (20 up to 1 MiB, 3 at 16 MiB,
 *                 1 at 256 MiB), each size on a fresh mapping.
 *   fresh         -n messages of 64 KiB (default 10000), each from a fresh
 *                 mapping written by the application, sent over an RC
 *                 queue pair to a second one of the same process (16 in
 *                 flight, 32 receives posted into registered 64 KiB
 *                 buffers) in two ways:
 *                 register: ibv_reg_mr the buffer, send from it, and when
 *                 the send completes ibv_dereg_mr and unmap it;
 *                 bounce: copy it into one of 16 slots of a buffer
 *                 registered once, unmap it, send from the slot.
 *                 MB/s that arrived.
 *
 *   regcost [-d DEVICE] [-n MSGS] [--json]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "eval_util.h"

#define die(what, err)	eval_die("regcost", (what), (err))

#include <infiniband/verbs.h>

#define MSG	65536u
#define WINDOW	16u
#define RXBUFS	32u

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct ibv_cq *scq, *rcq;
static struct ibv_qp *qa, *qb;
static struct ibv_mr *rx_mr;
static char *rx;



static char *fresh_map(size_t len, int fill)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap", errno);
	memset(p, fill, len);
	return p;
}

static void open_dev(const char *name)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	int i;

	if (!list)
		die("ibv_get_device_list", errno);
	for (i = 0; list[i]; i++)
		if (!name || !strcmp(ibv_get_device_name(list[i]), name))
			break;
	if (!list[i]) {
		fprintf(stderr, "regcost: no RDMA device %s\n",
			name ? name : "at all");
		exit(1);
	}
	ctx = ibv_open_device(list[i]);
	if (!ctx)
		die("ibv_open_device", errno);
	ibv_free_device_list(list);
	pd = ibv_alloc_pd(ctx);
	if (!pd)
		die("ibv_alloc_pd", errno);
}

static struct ibv_qp *make_qp(void)
{
	struct ibv_qp_init_attr ia = {
		.send_cq = scq, .recv_cq = rcq, .qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = WINDOW * 2, .max_recv_wr = RXBUFS * 2,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT, .port_num = 1,
		.qp_access_flags = IBV_ACCESS_LOCAL_WRITE,
	};
	struct ibv_qp *qp = ibv_create_qp(pd, &ia);

	if (!qp)
		die("ibv_create_qp", errno);
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
			  IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
		die("modify to INIT", errno);
	return qp;
}

/* Connects @qp to @peer on this port: RTR, then RTS. */
static void connect_qp(struct ibv_qp *qp, struct ibv_qp *peer,
		       const union ibv_gid *gid, enum ibv_mtu mtu)
{
	struct ibv_qp_attr a;
	int e;

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = mtu;
	a.dest_qp_num = peer->qp_num;
	a.rq_psn = 1;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 1;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = *gid;
	a.ah_attr.grh.sgid_index = 0;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.port_num = 1;
	e = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			  IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
	if (e)
		die("modify to RTR", e);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = 1;
	a.max_rd_atomic = 1;
	e = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
			  IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
			  IBV_QP_MAX_QP_RD_ATOMIC);
	if (e)
		die("modify to RTS", e);
}

static void post_recv(unsigned int i)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)(rx + (size_t)i * MSG), .length = MSG,
		.lkey = rx_mr->lkey,
	};
	struct ibv_recv_wr wr = { .wr_id = i, .sg_list = &sge, .num_sge = 1 };
	struct ibv_recv_wr *bad;
	int e = ibv_post_recv(qb, &wr, &bad);

	if (e)
		die("ibv_post_recv", e);
}

static void setup_qps(void)
{
	struct ibv_port_attr pa;
	union ibv_gid gid;
	unsigned int i;

	scq = ibv_create_cq(ctx, WINDOW * 4, NULL, NULL, 0);
	rcq = ibv_create_cq(ctx, RXBUFS * 4, NULL, NULL, 0);
	if (!scq || !rcq)
		die("ibv_create_cq", errno);
	qa = make_qp();
	qb = make_qp();
	if (ibv_query_port(ctx, 1, &pa))
		die("ibv_query_port", errno);
	if (ibv_query_gid(ctx, 1, 0, &gid))
		die("ibv_query_gid", errno);
	connect_qp(qa, qb, &gid, pa.active_mtu);
	connect_qp(qb, qa, &gid, pa.active_mtu);
	rx = fresh_map((size_t)RXBUFS * MSG, 0);
	rx_mr = ibv_reg_mr(pd, rx, (size_t)RXBUFS * MSG, IBV_ACCESS_LOCAL_WRITE);
	if (!rx_mr)
		die("ibv_reg_mr (receive buffers)", errno);
	for (i = 0; i < RXBUFS; i++)
		post_recv(i);
}

struct inflight {
	char *buf;
	struct ibv_mr *mr;
};

/*
 * Sends @n fresh 64 KiB messages, registering each (@bounce false) or
 * copying each into a slot of a buffer registered once (@bounce); returns
 * microseconds.
 */
static double fresh(size_t n, bool bounce)
{
	struct inflight fl[WINDOW];
	struct ibv_mr *bmr = NULL;
	char *bbuf = NULL;
	size_t sent = 0, done = 0, arrived = 0;
	double t0, limit;

	memset(fl, 0, sizeof(fl));
	if (bounce) {
		bbuf = fresh_map((size_t)WINDOW * MSG, 0);
		bmr = ibv_reg_mr(pd, bbuf, (size_t)WINDOW * MSG,
				 IBV_ACCESS_LOCAL_WRITE);
		if (!bmr)
			die("ibv_reg_mr (bounce buffer)", errno);
	}
	t0 = eval_now_us();
	limit = t0 + 600e6;
	while (arrived < n || done < sent) {
		struct ibv_wc wc[WINDOW];
		int k, got;

		while (sent < n && sent - done < WINDOW) {
			unsigned int slot = (unsigned int)(sent % WINDOW);
			char *p = fresh_map(MSG, (int)(sent & 0xff));
			struct ibv_sge sge = { .length = MSG };
			struct ibv_send_wr wr = {
				.wr_id = sent, .sg_list = &sge, .num_sge = 1,
				.opcode = IBV_WR_SEND,
				.send_flags = IBV_SEND_SIGNALED,
			};
			struct ibv_send_wr *bad;
			int e;

			if (bounce) {
				memcpy(bbuf + (size_t)slot * MSG, p, MSG);
				munmap(p, MSG);
				sge.addr = (uintptr_t)(bbuf + (size_t)slot * MSG);
				sge.lkey = bmr->lkey;
			} else {
				fl[slot].buf = p;
				fl[slot].mr = ibv_reg_mr(pd, p, MSG,
							 IBV_ACCESS_LOCAL_WRITE);
				if (!fl[slot].mr)
					die("ibv_reg_mr", errno);
				sge.addr = (uintptr_t)p;
				sge.lkey = fl[slot].mr->lkey;
			}
			e = ibv_post_send(qa, &wr, &bad);
			if (e)
				die("ibv_post_send", e);
			sent++;
		}
		got = ibv_poll_cq(scq, WINDOW, wc);
		if (got < 0)
			die("ibv_poll_cq", EIO);
		for (k = 0; k < got; k++) {
			unsigned int slot = (unsigned int)(wc[k].wr_id % WINDOW);

			if (wc[k].status != IBV_WC_SUCCESS) {
				fprintf(stderr, "regcost: send: %s\n",
					ibv_wc_status_str(wc[k].status));
				exit(1);
			}
			if (!bounce) {
				if (ibv_dereg_mr(fl[slot].mr))
					die("ibv_dereg_mr", errno);
				munmap(fl[slot].buf, MSG);
			}
			done++;
		}
		got = ibv_poll_cq(rcq, WINDOW, wc);
		if (got < 0)
			die("ibv_poll_cq", EIO);
		for (k = 0; k < got; k++) {
			if (wc[k].status != IBV_WC_SUCCESS) {
				fprintf(stderr, "regcost: receive: %s\n",
					ibv_wc_status_str(wc[k].status));
				exit(1);
			}
			post_recv((unsigned int)wc[k].wr_id);
			arrived++;
		}
		if (eval_now_us() > limit)
			die("fresh-buffer stream", ETIMEDOUT);
	}
	t0 = eval_now_us() - t0;
	if (bmr) {
		ibv_dereg_mr(bmr);
		munmap(bbuf, (size_t)WINDOW * MSG);
	}
	return t0;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 4096, 65536, 1u << 20, 16u << 20,
					256u << 20 };
	enum { NSIZES = sizeof(sizes) / sizeof(sizes[0]) };
	double reg[NSIZES], dereg[NSIZES], rs[20], ds[20], treg, tbounce;
	const char *dev = NULL;
	size_t n = 10000, i;
	int json = 0, k;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "-d") && k + 1 < argc)
			dev = argv[++k];
		else if (!strcmp(argv[k], "-n") && k + 1 < argc)
			n = strtoul(argv[++k], NULL, 0);
		else if (!strcmp(argv[k], "--json"))
			json = 1;
		else {
			fprintf(stderr, "usage: regcost [-d DEVICE] [-n MSGS] [--json]\n");
			return 2;
		}
	}
	if (!n)
		n = 1;
	open_dev(dev);
	for (i = 0; i < NSIZES; i++) {
		size_t reps = sizes[i] <= (1u << 20) ? 20 : sizes[i] <= (16u << 20) ? 3 : 1;
		size_t r;

		for (r = 0; r < reps; r++) {
			char *p = fresh_map(sizes[i], (int)r);
			struct ibv_mr *mr;
			double t0 = eval_now_us();

			mr = ibv_reg_mr(pd, p, sizes[i], IBV_ACCESS_LOCAL_WRITE);
			rs[r] = eval_now_us() - t0;
			if (!mr)
				die("ibv_reg_mr", errno);
			t0 = eval_now_us();
			if (ibv_dereg_mr(mr))
				die("ibv_dereg_mr", errno);
			ds[r] = eval_now_us() - t0;
			munmap(p, sizes[i]);
		}
		reg[i] = eval_median(rs, reps);
		dereg[i] = eval_median(ds, reps);
	}
	setup_qps();
	treg = fresh(n, false);
	tbounce = fresh(n, true);

	if (json) {
		printf("{\"tool\":\"regcost\",\"device\":\"%s\",\"sizes\":[",
		       ibv_get_device_name(ctx->device));
		for (i = 0; i < NSIZES; i++)
			printf("%s%zu", i ? "," : "", sizes[i]);
		printf("],\"verbs_reg_us\":[");
		for (i = 0; i < NSIZES; i++)
			printf("%s%.2f", i ? "," : "", reg[i]);
		printf("],\"verbs_dereg_us\":[");
		for (i = 0; i < NSIZES; i++)
			printf("%s%.2f", i ? "," : "", dereg[i]);
		printf("],\"fresh_msgs\":%zu,\"fresh_register_MBps\":%.2f,"
		       "\"fresh_bounce_MBps\":%.2f}\n", n,
		       (double)n * MSG / treg, (double)n * MSG / tbounce);
	} else {
		for (i = 0; i < NSIZES; i++)
			printf("%10zu bytes: ibv_reg_mr %10.2f us, ibv_dereg_mr %10.2f us\n",
			       sizes[i], reg[i], dereg[i]);
		printf("fresh buffers: %zu x 64 KiB: register each %.2f MB/s, "
		       "bounce %.2f MB/s\n", n, (double)n * MSG / treg,
		       (double)n * MSG / tbounce);
	}
	ibv_destroy_qp(qa);
	ibv_destroy_qp(qb);
	ibv_dereg_mr(rx_mr);
	ibv_destroy_cq(scq);
	ibv_destroy_cq(rcq);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	return 0;
}
