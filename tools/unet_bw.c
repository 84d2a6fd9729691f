// SPDX-License-Identifier: MIT
/*
 * unet_bw: streaming bandwidth over U-Net, with credit flow control so
 * that a healthy run loses nothing.  See unet_bw(1).
 *
 * The receiver grants as many messages in flight as its posted buffers
 * (and receive ring) can hold, and returns a small inline credit message,
 * carrying the count of messages it has consumed so far, every ack_every
 * messages.  The counts are cumulative, so a lost credit costs nothing
 * but time.
 */
#include <endian.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "perf.h"

static const char synopsis[] =
"Usage: unet_bw [OPTIONS]           server (receiver)\n"
"       unet_bw [OPTIONS] HOST      client (sender)\n"
"Streaming bandwidth between two U-Net endpoints: the client sends N\n"
"messages of SIZE bytes under the server's credit, and prints the rates.\n";

static const char options[] =
"  -s, --size BYTES         message size, 0 to 65536 (default 65536)\n"
"  -n, --msgs N             messages to send (default 2000)\n"
"  -W, --window W           sends kept outstanding, 1 to 4096 (default 32)\n"
"  -B, --batch N            sends posted per submit, 1 to 4096 (default 32)\n";

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

/*
 * Posts as many sends as the window, the receiver's credit and --batch
 * allow, with one doorbell check for all of them.  Returns how many, or
 * -1.
 */
static int post_batch(struct perf_ctx *pc, uint64_t *sent, uint64_t acked,
		      uint64_t *t_first)
{
	const struct perf_opts *o = pc->o;
	bool base = o->mode == UNET_MODE_BASE;
	bool small = o->size <= UNET_INLINE_MAX;
	uint64_t want = o->count - *sent;
	uint32_t outstanding = unet_send_outstanding(pc->ep), idx, got, k;
	int rc;

	if (outstanding >= o->window || *sent - acked >= pc->peer_credits)
		return 0;
	if (want > o->window - outstanding)
		want = o->window - outstanding;
	if (want > pc->peer_credits - (*sent - acked))
		want = pc->peer_credits - (*sent - acked);
	if (want > o->batch)
		want = o->batch;
	if (!want)
		return 0;
	got = unet_send_reserve(pc->ep, (unsigned int)want, &idx);
	for (k = 0; k < got; k++) {
		uint64_t seq = *sent + k;
		/*
		 * Completions are reaped in order, so with fewer than
		 * @window outstanding, slot seq % window is free again.
		 */
		char *slot = pc->tx_area +
			     (size_t)(seq % o->window) * pc->tx_slot_size;
		/* MM mode: the application writes where the NIC reads. */
		char *src = base ? pc->app_tx : slot;

		if (o->check)
			perf_pattern_fill(src, o->size, seq, 0);
		if (!seq)
			*t_first = perf_now_ns();
		if (base && !small)
			memcpy(slot, pc->app_tx, o->size);
		rc = unet_send_prep(pc->ep, idx + k, (uint32_t)pc->chan,
				    small ? src : slot, o->size, seq);
		if (rc) {
			unet_send_submit(pc->ep, k);
			*sent += k;
			return perf_error("cannot send: %s", strerror(-rc));
		}
	}
	rc = unet_send_submit(pc->ep, got);
	*sent += got;
	if (rc)
		return perf_error("cannot send: %s", strerror(-rc));
	if (got)
		perf_progress(pc);
	return (int)got;
}

static int bw_client(struct perf_ctx *pc, struct perf_result *res)
{
	const struct perf_opts *o = pc->o;
	uint64_t n = o->count, sent = 0, acked = 0;
	uint64_t t_first = 0, t_last = 0;
	uint32_t credits = pc->peer_credits, i;
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

		rc = post_batch(pc, &sent, acked, &t_first);
		if (rc < 0)
			goto out;
		if (rc)
			busy = true;
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

			if (perf_send(pc, &v, sizeof(v), received,
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
 * The receiver's interval runs from the first arrival to the last, so it
 * spans one message fewer than arrived.  No interval, no rate: NaN, which
 * the text shows as nan and JSON as null.
 */
static struct rate rx_rate(const struct perf_result *r, uint32_t size)
{
	struct rate x = { NAN, NAN };

	if (r->msgs > 1 && r->rx_ns) {
		x.msg_rate = (double)(r->msgs - 1) * 1e9 / (double)r->rx_ns;
		x.mbps = x.msg_rate * size / 1e6;
	}
	return x;
}

static struct rate tx_rate(const struct perf_result *r, uint32_t size)
{
	struct rate x = { NAN, NAN };

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
		json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:o,s:o,s:o}",
				      "tool", "unet_bw",
				      "role", pc->server ? "server" : "client",
				      "mode", mode, "peer_mode", peer_mode,
				      "size", (json_int_t)o->size,
				      "msgs", (json_int_t)o->count,
				      "window", (json_int_t)o->window,
				      "batch", (json_int_t)o->batch,
				      "received", json_out_u64(rx->msgs),
				      "MBps", json_out_real(r.mbps),
				      "msg_rate", json_out_real(r.msg_rate));

		json_object_set_new(j, "block", json_boolean(o->block));
		json_object_set_new(j, "busy_poll_us",
				    json_integer(o->block ? 0 : o->busy_poll));
		json_object_set_new(j, "check", json_boolean(o->check));
		json_object_set_new(j, "lost", json_out_u64(rx->lost));
		json_object_set_new(j, "sender",
				    json_pack("{s:o,s:o}",
					      "MBps", json_out_real(s.mbps),
					      "msg_rate", json_out_real(s.msg_rate)));
		json_object_set_new(j, "errors",
				    json_out_u64(mine->errors + peer->errors));
		json_object_set_new(j, "mismatches",
				    json_out_u64(mine->mismatches +
						 peer->mismatches));
		json_out_print(j);
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
		.synopsis = synopsis,
		.options = options,
		.run = bw_run,
		.report = bw_report,
	};

	return perf_main(&tool, argc, argv);
}
