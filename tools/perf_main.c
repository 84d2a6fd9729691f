// SPDX-License-Identifier: MIT
/*
 * perf_main(): the client and server roles of a perf tool, and what they
 * agree on before the tool's run() measures.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "perf_setup.h"

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static void ctx_init(struct perf_ctx *pc, const struct perf_tool *tool,
		     struct perf_opts *o, struct unet *u, bool server)
{
	memset(pc, 0, sizeof(*pc));
	pc->tool = tool;
	pc->o = o;
	pc->u = u;
	pc->server = server;
	pc->priv = tool->priv;
	pc->sock = -1;
	pc->chan = -1;
	snprintf(pc->peer_name, sizeof(pc->peer_name), "the peer");
}

static bool result_failed(const struct perf_result *r)
{
	return r->lost || r->errors || r->mismatches;
}

/* The measurement and its reporting, once the channel is up. */
static int run_test(struct perf_ctx *pc)
{
	struct perf_result mine = { .mode = pc->o->mode }, peer = { 0 };

	if (pc->tool->run(pc, &mine))
		return 1;
	if (perf_exchange_results(pc, &mine, &peer))
		return 1;
	pc->tool->report(pc, &mine, &peer);
	fflush(stdout);
	return result_failed(&mine) || result_failed(&peer);
}

static int run_client(const struct perf_tool *tool, struct perf_opts *o,
		      struct unet *u)
{
	/* The server builds its endpoint first: give it a while. */
	int reply_ms = (int)max_u32(o->connect_timeout, 30) * 1000;
	struct perf_hello h;
	struct perf_ctx pc;
	int ret = 1;

	ctx_init(&pc, tool, o, u, false);
	if (perf_nic_setup(&pc) || perf_ep_setup(&pc))
		goto out;
	pc.sock = perf_tcp_connect(o->host, o->port, o->connect_timeout);
	if (pc.sock < 0)
		goto out;
	perf_name_peer(pc.sock, pc.peer_name, sizeof(pc.peer_name));
	perf_fill_hello(&pc, &h);
	if (perf_send_hello(&pc, &h) || perf_recv_hello(&pc, &h, reply_ms))
		goto out;
	if (h.status) {
		perf_error("%s refused the test: %s", pc.peer_name, h.error);
		goto out;
	}
	memcpy(pc.peer_addr, h.addr, UNET_ADDR_LEN);
	pc.peer_loopback_only = h.flags & PERF_HELLO_LOOPBACK_ONLY;
	pc.peer_mode = h.mode;
	pc.peer_credits = h.credits;
	if (perf_chan_setup(&pc))
		goto out;
	ret = run_test(&pc);
out:
	perf_ep_teardown(&pc);
	if (pc.sock >= 0)
		close(pc.sock);
	return ret;
}

static const char *tool_name(uint32_t id)
{
	return id == PERF_TOOL_LAT ? "unet_lat" :
	       id == PERF_TOOL_BW ? "unet_bw" : "an unknown test";
}

/* Takes the client's parameters, unless this side was given others. */
static int adopt(struct perf_ctx *pc, const struct perf_hello *h)
{
	struct perf_opts *o = pc->o;
	bool check = h->flags & PERF_HELLO_CHECK;

	if (h->tool != pc->tool->id)
		return perf_error("%s runs %s, this is %s", pc->peer_name,
				  tool_name(h->tool), pc->tool->name);
#define PERF_ADOPT(field, flag, what)					\
	do {								\
		if ((o->set & (flag)) && o->field != h->field)		\
			return perf_error("%s: the client asks for %" PRIu32 \
					  ", this server was given %" PRIu32, \
					  what, h->field, o->field);	\
		o->field = h->field;					\
	} while (0)
	PERF_ADOPT(size, PERF_SET_SIZE, "message size");
	if (pc->tool->id == PERF_TOOL_LAT) {
		PERF_ADOPT(count, PERF_SET_COUNT, "iterations");
		PERF_ADOPT(warmup, PERF_SET_WARMUP, "warmup iterations");
	} else {
		PERF_ADOPT(count, PERF_SET_COUNT, "messages");
		PERF_ADOPT(window, PERF_SET_WINDOW, "window");
	}
#undef PERF_ADOPT
	if ((o->set & PERF_SET_CHECK) && o->check != check)
		return perf_error("--check: the client %s it, this server %s",
				  check ? "asks for" : "does not use",
				  o->check ? "was given it" : "was not");
	o->check = check;
	if (!(o->set & PERF_SET_MODE))
		o->mode = h->mode;
	/* The client may be another build: trust nothing. */
	if (o->size > UNET_MAX_MSG || !o->count || o->count > UINT32_MAX / 2 ||
	    o->warmup > UINT32_MAX / 2 - o->count || !o->window ||
	    o->window > UNET_RING_MAX ||
	    (o->mode != UNET_MODE_MM && o->mode != UNET_MODE_BASE))
		return perf_error("%s asks for impossible parameters",
				  pc->peer_name);
	return 0;
}

static int serve_one(const struct perf_tool *tool,
		     const struct perf_opts *defaults, struct unet *u, int fd)
{
	struct perf_opts o = *defaults;	/* each client agrees afresh */
	struct perf_hello h;
	struct perf_ctx pc;
	int ret = 1;

	ctx_init(&pc, tool, &o, u, true);
	pc.sock = fd;
	perf_set_nodelay(fd);
	perf_name_peer(fd, pc.peer_name, sizeof(pc.peer_name));
	if (perf_recv_hello(&pc, &h, 30 * 1000))
		goto out;
	memcpy(pc.peer_addr, h.addr, UNET_ADDR_LEN);
	pc.peer_loopback_only = h.flags & PERF_HELLO_LOOPBACK_ONLY;
	pc.peer_mode = h.mode;
	pc.peer_credits = h.credits;
	if (adopt(&pc, &h) || perf_nic_setup(&pc) || perf_ep_setup(&pc) ||
	    perf_chan_setup(&pc)) {
		perf_refuse(&pc);
		goto out;
	}
	perf_fill_hello(&pc, &h);
	if (perf_send_hello(&pc, &h))
		goto out;
	ret = run_test(&pc);
out:
	perf_ep_teardown(&pc);
	close(fd);
	return ret;
}

static int run_server(const struct perf_tool *tool, struct perf_opts *o,
		      struct unet *u)
{
	int lfd = perf_tcp_listen(o->port), ret = 1;

	if (lfd < 0)
		return 1;
	/* stdout is for results only. */
	fprintf(stderr, "%s: waiting for a client on TCP port %s\n", perf_prog,
		o->port);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perf_error("accept: %s", strerror(errno));
			break;
		}
		ret = serve_one(tool, o, u, fd);
		if (!o->forever)
			break;
	}
	close(lfd);
	return ret;
}

static const char *open_hint(int err)
{
	switch (err) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return " (is unetmm.ko loaded?)";
	case EACCES:
	case EPERM:
		return " (no permission to open it)";
	}
	return "";
}

int perf_main(const struct perf_tool *tool, int argc, char **argv)
{
	struct perf_opts o;
	struct unet *u;
	int ret;

		perf_parse_args(tool, argc, argv, &o);
	/* A peer that vanishes must show up as an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	u = unet_open();
	if (!u) {
		int e = errno;

		perf_error("cannot open %s: %s%s", UNET_DEVICE_PATH,
			   strerror(e), open_hint(e));
		return 1;
	}
	ret = o.host ? run_client(tool, &o, u) : run_server(tool, &o, u);
	unet_close(u);
	return ret;
}
