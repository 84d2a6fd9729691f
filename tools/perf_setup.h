/* SPDX-License-Identifier: MIT */
/*
 * Between the files of the perf framework (perf.h is what a tool sees):
 * options, the TCP rendezvous and the endpoint's setup, which perf_main.c
 * puts together.
 */
#ifndef UNET_TOOLS_PERF_SETUP_H
#define UNET_TOOLS_PERF_SETUP_H

#include "perf.h"

/* ---- perf_options.c ---- */

/* Fills @o from the command line; exits on --help and on usage errors. */
void perf_parse_args(const struct perf_tool *tool, int argc, char **argv,
		     struct perf_opts *o);

/* ---- perf_rendezvous.c ---- */

/*
 * The hello each side sends: its endpoint's address and, from the client,
 * the test parameters; from the server, the answer.  Every integer
 * travels big-endian.
 */
struct perf_hello {
	uint32_t magic;
	uint32_t proto;
	uint32_t tool;		/* enum perf_tool_id */
	uint32_t status;	/* answer: nonzero refuses, error says why */
	uint8_t addr[UNET_ADDR_LEN];
	uint32_t mode;
	uint32_t size;
	uint32_t count;
	uint32_t warmup;
	uint32_t window;
	uint32_t flags;		/* PERF_HELLO_* */
	uint32_t credits;	/* messages the other side may have in flight */
	char error[160];
};
#define PERF_HELLO_CHECK		(1u << 0)
#define PERF_HELLO_LOOPBACK_ONLY	(1u << 1)	/* NIC without netdev */

int perf_tcp_listen(const char *port);
/* Keeps trying for @timeout_s seconds: the server may not listen yet. */
int perf_tcp_connect(const char *host, const char *port, uint32_t timeout_s);
void perf_set_nodelay(int fd);
/* "host:port" of the other end, for messages. */
void perf_name_peer(int fd, char *out, size_t len);
/* Whether both ends of the connection have the same IP address. */
bool perf_same_host(int fd);

void perf_fill_hello(struct perf_ctx *pc, struct perf_hello *h);
int perf_send_hello(struct perf_ctx *pc, const struct perf_hello *h);
int perf_recv_hello(struct perf_ctx *pc, struct perf_hello *h,
		    int timeout_ms);
/* Tells the client why this server will not run its test. */
void perf_refuse(struct perf_ctx *pc);
/* Sends this side's results and takes the peer's. */
int perf_exchange_results(struct perf_ctx *pc, const struct perf_result *mine,
			  struct perf_result *peer);

/* ---- perf_endpoint.c ---- */

int perf_nic_setup(struct perf_ctx *pc);
/* The endpoint, its buffers in either mode, receive buffers posted. */
int perf_ep_setup(struct perf_ctx *pc);
void perf_ep_teardown(struct perf_ctx *pc);
/* The channel to pc->peer_addr. */
int perf_chan_setup(struct perf_ctx *pc);

#endif /* UNET_TOOLS_PERF_SETUP_H */
