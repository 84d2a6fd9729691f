// SPDX-License-Identifier: MIT
/*
 * unet_lat: ping-pong round-trip latency over U-Net.  See unet_lat(1).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "perf.h"

static const char synopsis[] =
"Usage: unet_lat [OPTIONS]          server\n"
"       unet_lat [OPTIONS] HOST     client\n"
"Round-trip latency between two U-Net endpoints: the client sends SIZE\n"
"bytes, the server echoes them, the client prints the times.\n";

static const char options[] =
"  -s, --size BYTES         message size, 0 to 65536 (default 8)\n"
"  -n, --iters N            timed round trips (default 1000)\n"
"  -w, --warmup N           untimed round trips before them (default 100)\n";

struct lat_stats {
	double median, p99, p999, avg, min, max;	/* microseconds */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void summarize(uint64_t *ns, size_t n, struct lat_stats *s)
{
	double sum = 0;
	size_t i, rank;

	qsort(ns, n, sizeof(*ns), cmp_u64);
	for (i = 0; i < n; i++)
		sum += (double)ns[i];
	s->median = n % 2 ? (double)ns[n / 2] :
		    ((double)ns[n / 2 - 1] + (double)ns[n / 2]) / 2;
	/* Nearest rank: the smallest sample at or above 99 % of them. */
	rank = (n * 99 + 99) / 100;
	s->p99 = (double)ns[rank - 1];
	rank = (n * 999 + 999) / 1000;
	s->p999 = (double)ns[rank - 1];
	s->avg = sum / (double)n;
	s->min = (double)ns[0];
	s->max = (double)ns[n - 1];
	s->median /= 1000;
	s->p99 /= 1000;
	s->p999 /= 1000;
	s->avg /= 1000;
	s->min /= 1000;
	s->max /= 1000;
}

/* Waits for the next message; 1 when there, -1 on failure. */
static int wait_msg(struct perf_ctx *pc, struct perf_msg *m, uint64_t *errors,
		    const char *what)
{
	for (;;) {
		int rc = perf_recv(pc, m);

		if (rc)
			return rc;
		if (perf_reap(pc, errors) < 0 || perf_idle(pc, what) < 0)
			return -1;
	}
}

static int lat_client(struct perf_ctx *pc, struct perf_result *res)
{
	const struct perf_opts *o = pc->o;
	bool base = o->mode == UNET_MODE_BASE;
	bool small = o->size <= UNET_INLINE_MAX;
	uint32_t total = o->warmup + o->count, i;
	struct lat_stats *stats = pc->priv;
	/*
	 * The application's message: in MM mode the NIC reads it where it
	 * is; base mode copies it into the segment's send slot each time.
	 */
	char *src = base ? pc->app_tx : pc->tx_area;
	const void *wire = small ? src : pc->tx_area;
	struct perf_msg *m = malloc(sizeof(*m));
	uint64_t *samples = calloc(o->count, sizeof(*samples));
	int ret = -1;

	if (!m || !samples) {
		perf_error("out of memory");
		goto out;
	}
	perf_pattern_fill(src, o->size, 0, 0);
	perf_watch_start(pc);
	for (i = 0; i < total; i++) {
		uint64_t t0, t1, bad = 0;
		bool copied;

		if (o->check)
			perf_pattern_fill(src, o->size, i, 0);
		t0 = perf_now_ns();
		if (base && !small)
			memcpy(pc->tx_area, pc->app_tx, o->size);
		if (perf_send(pc, wire, o->size, i, &res->errors))
			goto out;
		res->sent++;
		if (wait_msg(pc, m, &res->errors, "waiting for an echo") < 0)
			goto out;
		/*
		 * Base mode must copy the echo out of the segment; inline
		 * bytes must leave the descriptor in either mode.  MM mode
		 * reads the rest where the NIC put it.
		 */
		copied = m->r.status == UNET_ST_OK && (base || m->r.data);
		if (copied)
			perf_msg_copy(pc, m, pc->app_rx);
		t1 = perf_now_ns();

		if (m->r.status != UNET_ST_OK) {
			res->lost++;
			perf_msg_repost(pc, m);
			perf_error("the echo of message %" PRIu32 " was lost: %s",
				   i, unet_status_str(m->r.status));
			goto out;
		}
		res->msgs++;
		res->bytes += m->r.length;
		if (m->r.length != o->size) {
			res->mismatches++;
			perf_error_limited(pc, "echo %" PRIu32 " has %" PRIu32
					   " bytes, %" PRIu32 " were sent", i,
					   m->r.length, o->size);
		} else if (o->check) {
			bad = copied ? perf_pattern_check(pc->app_rx, o->size, i, 0) :
				       perf_msg_check(pc, m, i);
		}
		if (bad) {
			res->mismatches++;
			perf_error_limited(pc, "echo %" PRIu32 ": %" PRIu64
					   " of %" PRIu32 " bytes differ", i,
					   bad, o->size);
		}
		if (perf_msg_repost(pc, m))
			goto out;
		if (i >= o->warmup)
			samples[i - o->warmup] = t1 - t0;
		/* The send slot is refilled next round. */
		if (perf_reap_all(pc, &res->errors))
			goto out;
	}
	summarize(samples, o->count, stats);
	ret = 0;
out:
	free(samples);
	free(m);
	return ret;
}

/* MM mode: send the message back from the buffers it arrived in. */
static int echo_in_place(struct perf_ctx *pc, struct perf_msg *m,
			 uint32_t seq, uint64_t *errors)
{
	struct unet_sge sge[UNET_MAX_GATHER];
	uint32_t left = m->r.length;
	unsigned int n = 0;

	perf_msg_done(pc, m);
	if (m->nbuf > UNET_MAX_GATHER) {
		/* More pieces than one send gathers: assemble them. */
		uint32_t len = (uint32_t)perf_msg_copy(pc, m, pc->tx_area);

		if (perf_msg_repost(pc, m) ||
		    perf_send(pc, pc->tx_area, len, seq, errors))
			return -1;
		/* The slot is refilled for the next message. */
		return perf_reap_all(pc, errors);
	}
	while (left && n < m->nbuf) {
		sge[n].addr = m->bufs[n].addr;
		sge[n].len = m->bufs[n].len < left ? m->bufs[n].len : left;
		sge[n].reserved = 0;
		left -= sge[n].len;
		n++;
	}
	if (perf_send_sge(pc, sge, n, seq, errors))
		return -1;
	/* The NIC reads the buffers until the send completes. */
	if (perf_reap_all(pc, errors))
		return -1;
	return perf_msg_repost(pc, m);
}

static int lat_server(struct perf_ctx *pc, struct perf_result *res)
{
	const struct perf_opts *o = pc->o;
	bool base = o->mode == UNET_MODE_BASE;
	uint32_t total = o->warmup + o->count, i;
	struct perf_msg *m = malloc(sizeof(*m));
	int ret = -1;

	if (!m)
		return perf_error("out of memory");
	perf_watch_start(pc);
	for (i = 0; i < total; i++) {
		uint32_t len;
		uint64_t bad = 0;

		if (wait_msg(pc, m, &res->errors,
			     "waiting for the next message") < 0)
			goto out;
		if (m->r.status != UNET_ST_OK) {
			/* The client waits for this echo in vain: stop. */
			res->lost++;
			perf_msg_repost(pc, m);
			perf_error("message %" PRIu32 " was lost: %s", i,
				   unet_status_str(m->r.status));
			goto out;
		}
		len = m->r.length;
		res->msgs++;
		res->bytes += len;
		if (len != o->size) {
			res->mismatches++;
			perf_error_limited(pc, "message %" PRIu32 " has %" PRIu32
					   " bytes, expected %" PRIu32, i, len,
					   o->size);
		}

		if (m->r.data) {
			/* Inline: the same in both modes, sent from the descriptor. */
			if (o->check)
				bad = perf_pattern_check(m->r.data, len, i, 0);
			if (perf_send(pc, m->r.data, len, i, &res->errors) ||
			    perf_msg_repost(pc, m))
				goto out;
		} else if (!base) {
			if (o->check)
				bad = perf_msg_check(pc, m, i);
			if (echo_in_place(pc, m, i, &res->errors))
				goto out;
		} else {
			/* Out of the segment, then the reply back into it. */
			len = (uint32_t)perf_msg_copy(pc, m, pc->app_rx);
			if (perf_msg_repost(pc, m))
				goto out;
			if (o->check)
				bad = perf_pattern_check(pc->app_rx, len, i, 0);
			memcpy(pc->tx_area, pc->app_rx, len);
			if (perf_send(pc, pc->tx_area, len, i, &res->errors) ||
			    perf_reap_all(pc, &res->errors))
				goto out;
		}
		res->sent++;
		if (bad) {
			res->mismatches++;
			perf_error_limited(pc, "message %" PRIu32 ": %" PRIu64
					   " of %" PRIu32 " bytes differ", i, bad,
					   len);
		}
	}
	if (perf_reap_all(pc, &res->errors))
		goto out;
	ret = 0;
out:
	free(m);
	return ret;
}

static int lat_run(struct perf_ctx *pc, struct perf_result *res)
{
	return pc->server ? lat_server(pc, res) : lat_client(pc, res);
}

static json_t *json_counters(const struct perf_result *r)
{
	return json_pack("{s:o,s:o,s:o,s:o}", "msgs", json_out_u64(r->msgs),
			 "lost", json_out_u64(r->lost),
			 "errors", json_out_u64(r->errors),
			 "mismatches", json_out_u64(r->mismatches));
}

static void lat_report(struct perf_ctx *pc, const struct perf_result *mine,
		       const struct perf_result *peer)
{
	const struct perf_opts *o = pc->o;
	const struct lat_stats *s = pc->priv;
	const char *mode = perf_mode_name(o->mode);
	const char *peer_mode = perf_mode_name((uint32_t)peer->mode);
	char modes[16];

	if (pc->server) {
		if (o->json) {
			json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I}",
					      "tool", "unet_lat",
					      "role", "server", "mode", mode,
					      "peer_mode", peer_mode,
					      "size", (json_int_t)o->size,
					      "iters", (json_int_t)o->count,
					      "warmup", (json_int_t)o->warmup);

			json_object_set_new(j, "block", json_boolean(o->block));
			json_object_set_new(j, "busy_poll_us",
					    json_integer(o->block ? 0 :
							 o->busy_poll));
			json_object_set_new(j, "check", json_boolean(o->check));
			json_object_update_new(j, json_counters(mine));
			json_object_set_new(j, "client", json_counters(peer));
			json_out_print(j);
		} else {
			printf("unet_lat: served %" PRIu64 " round trips of %" PRIu32
			       " bytes to %s (mode %s, client %s)\n", mine->msgs,
			       o->size, pc->peer_name, mode, peer_mode);
		}
		perf_report_problems("server", mine);
		perf_report_problems("client", peer);
		return;
	}

	if (o->json) {
		json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I}",
				      "tool", "unet_lat", "role", "client",
				      "mode", mode, "peer_mode", peer_mode,
				      "size", (json_int_t)o->size,
				      "iters", (json_int_t)o->count,
				      "warmup", (json_int_t)o->warmup);

		json_object_set_new(j, "rtt_us",
				    json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}",
					      "median", json_out_real(s->median),
					      "p99", json_out_real(s->p99),
					      "p99.9", json_out_real(s->p999),
					      "avg", json_out_real(s->avg),
					      "min", json_out_real(s->min),
					      "max", json_out_real(s->max)));
		json_object_set_new(j, "block", json_boolean(o->block));
		json_object_set_new(j, "busy_poll_us",
				    json_integer(o->block ? 0 : o->busy_poll));
		json_object_set_new(j, "check", json_boolean(o->check));
		json_object_update_new(j, json_counters(mine));
		json_object_set_new(j, "server", json_counters(peer));
		json_out_print(j);
	} else {
		if (mine->mode == peer->mode)
			snprintf(modes, sizeof(modes), "%s", mode);
		else
			snprintf(modes, sizeof(modes), "%s/%s", mode, peer_mode);
		printf("%-8s %-8s %11s %11s %11s %11s %11s  %s\n", "#bytes",
		       "#iters", "median[us]", "p99[us]", "avg[us]", "min[us]",
		       "max[us]", "mode");
		printf("%-8" PRIu32 " %-8" PRIu32 " %11.2f %11.2f %11.2f %11.2f %11.2f  %s\n",
		       o->size, o->count, s->median, s->p99, s->avg, s->min,
		       s->max, modes);
	}
	perf_report_problems("client", mine);
	perf_report_problems("server", peer);
}

static struct lat_stats stats;

int main(int argc, char **argv)
{
	static const struct perf_tool tool = {
		.name = "unet_lat",
		.id = PERF_TOOL_LAT,
		.opts = PERF_OPT_WARMUP,
		.default_size = 8,
		.default_count = 1000,
		.synopsis = synopsis,
		.options = options,
		.run = lat_run,
		.report = lat_report,
		.priv = &stats,
	};

	return perf_main(&tool, argc, argv);
}
