// SPDX-License-Identifier: MIT
/*
 * unet_bw: streaming bandwidth over U-Net, with credit flow control so
 * that a healthy run loses nothing.  See the usage text.
 *
 * The receiver grants as many messages in flight as its posted buffers
 * (and receive ring) can hold, and returns a small inline credit message,
 * carrying the count of messages it has consumed so far, every ack_every
 * messages.  The counts are cumulative, so a lost credit costs nothing
 * but time.
 */
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage_head[] =
"NAME\n"
"       unet_bw - streaming bandwidth between two U-Net endpoints\n"
"\n"
"SYNOPSIS\n"
"       unet_bw [OPTIONS]            server (receiver)\n"
"       unet_bw [OPTIONS] HOST       client (sender)\n"
"\n"
"DESCRIPTION\n"
"       Start the server first, without HOST; then the client, with the\n"
"       server's host name or address.  The two meet over TCP to swap their\n"
"       NICs' MAC addresses, endpoint ids and the test parameters, and at\n"
"       the end their results; every measured message travels over U-Net.\n"
"       Both may run on one host: the NIC then delivers through its loopback\n"
"       path.\n"
"\n"
"       The client sends N messages of SIZE bytes to the server, keeping up\n"
"       to WINDOW sends outstanding.  The server consumes each message (in\n"
"       base mode it copies it out of the segment), reposts its buffers, and\n"
"       returns a credit every so many messages; the client never has more\n"
"       messages unconsumed than the server has buffers for, so none is\n"
"       dropped for lack of buffers.  The rate is measured at the receiver,\n"
"       over the interval from the first message to the last (N-1 messages'\n"
"       worth), and at the sender, from its first send to its last\n"
"       completion.  MB/s is 10^6 bytes per second.\n"
"\n"
"       The server takes the size, message count, window, mode and --check\n"
"       from the client; any of them given to the server as well must match.\n"
"\n"
"OPTIONS\n"
"       -s, --size BYTES\n"
"              Message size, 0 to 65536 (default 65536).  K and M suffixes\n"
"              multiply by 1024 and 1048576.\n"
"\n"
"       -n, --msgs N\n"
"              Messages to send (default 2000).\n"
"\n"
"       -W, --window W\n"
"              Sends the client keeps outstanding, 1 to 4096 (default 32).\n"
"              The server acknowledges every min(W, its credit)/2 messages.\n"
"\n";

static const char usage_tail[] =
"OUTPUT\n"
"       The client prints a header line and a line of values: message size\n"
"       in bytes, messages sent, MB/s and messages/s at the receiver and at\n"
"       the sender, messages lost, and the mode (client/server when they\n"
"       differ).  A message is lost if it arrived with an error status or\n"
"       never arrived; a healthy run loses none.  With --json it prints\n"
"       instead\n"
"\n"
"         {\"tool\":\"unet_bw\",\"role\":\"client\",\"mode\":\"mm\",\n"
"          \"peer_mode\":\"mm\",\"size\":65536,\"msgs\":2000,\"window\":32,\n"
"          \"received\":2000,\"MBps\":..,\"msg_rate\":..,\"lost\":0,\n"
"          \"sender\":{\"MBps\":..,\"msg_rate\":..},\"errors\":0,\n"
"          \"mismatches\":0}\n"
"\n"
"       where MBps and msg_rate are the receiver's, and errors counts failed\n"
"       send completions on both sides.  The server prints the same from its\n"
"       side, with \"role\":\"server\".  Errors and warnings go to standard\n"
"       error.\n"
"\n"
"EXAMPLES\n"
"       unet_bw &  unet_bw -s 4096 -n 100000 localhost\n"
"       unet_bw --mode base --window 64 --json 192.168.1.2\n"
"\n";

/* After the sender says it is done, how long stragglers may take. */
#define BW_GRACE_NS	(2ull * 1000 * 1000 * 1000)

static int take_credit(struct perf_ctx *pc, struct perf_msg *m,
		       uint64_t sent, uint64_t *acked)
{
	uint64_t v;

	if (m->r.status != UNET_ST_OK || !m->r.data ||
	    m->r.length != sizeof(v)) {
		perf_error_limited(pc, "unexpected message from the receiver (%" PRIu32
				   " bytes, %s)", m->r.length,
				   unet_status_str(m->r.status));
		return perf_msg_repost(pc, m);
	}
	memcpy(&v, m->r.data, sizeof(v));
	v = be64toh(v);
	if (v > sent)
		perf_error_limited(pc, "credit for %" PRIu64 " messages, only %"
				   PRIu64 " were sent", v, sent);
	else if (v > *acked)
		*acked = v;
	return perf_msg_repost(pc, m);
}

static int bw_client(struct perf_ctx *pc, struct perf_result *res)
{
	const struct perf_opts *o = pc->o;
	bool base = o->mode == UNET_MODE_BASE;
	bool small = o->size <= UNET_INLINE_MAX;
	uint64_t n = o->count, sent = 0, acked = 0;
	uint64_t t_first = 0, t_last = 0;
	uint32_t window = o->window, credits = pc->peer_credits, i;
	struct perf_msg *m = malloc(sizeof(*m));
	int ret = -1;

	if (!m)
		return perf_error("out of memory");
	if (!credits) {
		perf_error("%s granted no credit", pc->peer_name);
		goto out;
	}
	/* Something to send when the pattern is not asked for. */
	for (i = 0; i < pc->tx_slots; i++)
		perf_pattern_fill(pc->tx_area + (size_t)i * pc->tx_slot_size,
				  o->size, i, 0);
	perf_pattern_fill(pc->app_tx, o->size, 0, 0);

	perf_watch_start(pc);
	while (sent < n || unet_send_outstanding(pc->ep)) {
		bool busy = false;
		int rc;

		rc = perf_reap(pc, &res->errors);
		if (rc < 0)
			goto out;
		if (rc) {
			t_last = perf_now_ns();
			busy = true;
		}
		while ((rc = perf_recv(pc, m)) > 0) {
			if (take_credit(pc, m, sent, &acked))
				goto out;
			busy = true;
		}
		if (rc < 0)
			goto out;

		/*
		 * Completions are reaped in order, so with fewer than
		 * @window outstanding, slot sent % window is free again.
		 */
		if (sent < n && unet_send_outstanding(pc->ep) < window &&
		    sent - acked < credits) {
			char *slot = pc->tx_area +
				     (size_t)(sent % window) * pc->tx_slot_size;
			/* MM mode: the application writes where the NIC reads. */
			char *src = base ? pc->app_tx : slot;

			if (o->check)
				perf_pattern_fill(src, o->size, sent, 0);
			if (!sent)
				t_first = perf_now_ns();
			if (base && !small)
				memcpy(slot, pc->app_tx, o->size);
			if (perf_send(pc, small ? src : slot, o->size,
				      (uint32_t)sent, &res->errors))
				goto out;
			sent++;
			busy = true;
		}
		if (!busy) {
			bool credit_bound = sent < n && sent - acked >= credits;

			if (perf_idle(pc, credit_bound ?
				      "waiting for credit from the receiver" :
				      "waiting for send completions") < 0)
				goto out;
		}
	}
	res->sent = sent;
	res->tx_ns = t_last - t_first;
	ret = 0;
out:
	free(m);
	return ret;
}

/* Consumes one message as an application would; returns bad bytes. */
static uint64_t consume(struct perf_ctx *pc, struct perf_msg *m, uint64_t seq)
{
	const struct perf_opts *o = pc->o;

	/*
	 * Base mode copies out of the segment, and inline bytes must leave
	 * the descriptor in either mode; MM mode reads the buffers where
	 * they are, so without --check it touches nothing.
	 */
	if (o->mode == UNET_MODE_BASE || m->r.data) {
		size_t len = perf_msg_copy(pc, m, pc->app_rx);

		return o->check ? perf_pattern_check(pc->app_rx, len, seq, 0) : 0;
	}
	return o->check ? perf_msg_check(pc, m, seq) : 0;
}

static int bw_server(struct perf_ctx *pc, struct perf_result *res)
{
	const struct perf_opts *o = pc->o;
	uint64_t n = o->count, received = 0, grace_end = 0;
	uint64_t t_first = 0, t_last = 0;
	uint32_t grant = o->window < pc->credits ? o->window : pc->credits;
	uint32_t ack_every = grant / 2 ? grant / 2 : 1;
	struct perf_msg *m = malloc(sizeof(*m));
	int ret = -1;

	if (!m)
		return perf_error("out of memory");
	perf_watch_start(pc);
	while (received < n) {
		uint64_t bad, now;
		int rc;

		if (perf_reap(pc, &res->errors) < 0)
			goto out;
		rc = perf_recv(pc, m);
		if (rc < 0)
			goto out;
		if (!rc) {
			rc = perf_idle(pc, "waiting for messages");
			if (rc < 0) {
				fprintf(stderr, "unet_bw: received %" PRIu64
					" of %" PRIu64 " messages\n", received,
					n);
				goto out;
			}
			/*
			 * The sender reports over TCP once its last send has
			 * completed; what has not come shortly after is lost.
			 */
			if (rc > 0 && pc->peer_data) {
				now = perf_now_ns();
				if (!grace_end)
					grace_end = now + BW_GRACE_NS;
				else if (now >= grace_end)
					break;
			}
			continue;
		}
		grace_end = 0;
		now = perf_now_ns();
		if (!received)
			t_first = now;
		t_last = now;

		if (m->r.status != UNET_ST_OK) {
			res->lost++;
			perf_error_limited(pc, "message %" PRIu64 " was lost: %s",
					   received,
					   unet_status_str(m->r.status));
		} else {
			res->msgs++;
			res->bytes += m->r.length;
			if (m->r.length != o->size) {
				res->mismatches++;
				perf_error_limited(pc, "message %" PRIu64 " has %"
						   PRIu32 " bytes, expected %"
						   PRIu32, received,
						   m->r.length, o->size);
			} else if ((bad = consume(pc, m, received))) {
				res->mismatches++;
				perf_error_limited(pc, "message %" PRIu64 ": %"
						   PRIu64 " of %" PRIu32
						   " bytes differ", received,
						   bad, o->size);
			}
		}
		/* A lost message gave its buffers back too: it counts. */
		if (perf_msg_repost(pc, m))
			goto out;
		received++;
		if (received % ack_every == 0) {
			uint64_t v = htobe64(received);

			if (perf_send(pc, &v, sizeof(v), (uint32_t)received,
				      &res->errors))
				goto out;
		}
	}
	res->lost += n - received;
	if (received < n)
		fprintf(stderr, "unet_bw: only %" PRIu64 " of %" PRIu64
			" messages arrived\n", received, n);
	res->rx_ns = t_last - t_first;
	if (perf_reap_all(pc, &res->errors))
		goto out;
	ret = 0;
out:
	free(m);
	return ret;
}

static int bw_run(struct perf_ctx *pc, struct perf_result *res)
{
	return pc->server ? bw_server(pc, res) : bw_client(pc, res);
}

struct rate {
	double mbps, msg_rate;
};

/*
 * The receiver's interval runs from the first arrival to the last, so
 * it spans one message fewer than arrived.
 */
static struct rate rx_rate(const struct perf_result *r, uint32_t size)
{
	struct rate x = { 0, 0 };

	if (r->msgs > 1 && r->rx_ns) {
		x.msg_rate = (double)(r->msgs - 1) * 1e9 / (double)r->rx_ns;
		x.mbps = x.msg_rate * size / 1e6;
	}
	return x;
}

static struct rate tx_rate(const struct perf_result *r, uint32_t size)
{
	struct rate x = { 0, 0 };

	if (r->sent && r->tx_ns) {
		x.msg_rate = (double)r->sent * 1e9 / (double)r->tx_ns;
		x.mbps = x.msg_rate * size / 1e6;
	}
	return x;
}

static void bw_report(struct perf_ctx *pc, const struct perf_result *mine,
		      const struct perf_result *peer)
{
	const struct perf_opts *o = pc->o;
	const struct perf_result *rx = pc->server ? mine : peer;
	const struct perf_result *tx = pc->server ? peer : mine;
	struct rate r = rx_rate(rx, o->size), s = tx_rate(tx, o->size);
	const char *mode = perf_mode_name(o->mode);
	const char *peer_mode = perf_mode_name((uint32_t)peer->mode);
	char modes[16];

	if (o->json) {
		printf("{\"tool\":\"unet_bw\",\"role\":\"%s\",\"mode\":\"%s\",\"peer_mode\":\"%s\",\"size\":%"
		       PRIu32 ",\"msgs\":%" PRIu32 ",\"window\":%" PRIu32
		       ",\"received\":%" PRIu64 ",\"MBps\":",
		       pc->server ? "server" : "client", mode, peer_mode,
		       o->size, o->count, o->window, rx->msgs);
		perf_json_double(r.mbps);
		printf(",\"msg_rate\":");
		perf_json_double(r.msg_rate);
		printf(",\"lost\":%" PRIu64 ",\"sender\":{\"MBps\":", rx->lost);
		perf_json_double(s.mbps);
		printf(",\"msg_rate\":");
		perf_json_double(s.msg_rate);
		printf("},\"errors\":%" PRIu64 ",\"mismatches\":%" PRIu64 "}\n",
		       mine->errors + peer->errors,
		       mine->mismatches + peer->mismatches);
	} else {
		if (mine->mode == peer->mode)
			snprintf(modes, sizeof(modes), "%s", mode);
		else if (pc->server)
			snprintf(modes, sizeof(modes), "%s/%s", peer_mode, mode);
		else
			snprintf(modes, sizeof(modes), "%s/%s", mode, peer_mode);
		printf("%-8s %-8s %12s %12s %12s %12s %6s  %s\n", "#bytes",
		       "#msgs", "MB/s", "msg/s", "tx MB/s", "tx msg/s", "lost",
		       "mode");
		printf("%-8" PRIu32 " %-8" PRIu32 " %12.2f %12.0f %12.2f %12.0f %6"
		       PRIu64 "  %s\n", o->size, o->count, r.mbps, r.msg_rate,
		       s.mbps, s.msg_rate, rx->lost, modes);
	}
	perf_report_problems(pc->server ? "server" : "client", mine);
	perf_report_problems(pc->server ? "client" : "server", peer);
}

int main(int argc, char **argv)
{
	static const struct perf_tool tool = {
		.name = "unet_bw",
		.id = PERF_TOOL_BW,
		.opts = PERF_OPT_WINDOW,
		.default_size = 65536,
		.default_count = 2000,
		.usage_head = usage_head,
		.usage_tail = usage_tail,
		.run = bw_run,
		.report = bw_report,
	};

	return perf_main(&tool, argc, argv);
}
