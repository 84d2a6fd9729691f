// SPDX-License-Identifier: MIT
/*
 * The perf tools' data path: receiving with the buffers copied out of the
 * library's view, reposting them with one release store per message,
 * sending and reaping.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "perf.h"

int perf_recv(struct perf_ctx *pc, struct perf_msg *m)
{
	int rc = unet_recv_poll(pc->ep, &m->r);
	unsigned int i;

	if (rc < 0)
		return perf_error("the receive queue is corrupt: %s",
				  strerror(-rc));
	if (!rc)
		return 0;
	/*
	 * The library's view of the buffers lasts until the message is
	 * released, and an echo still reads them after that: keep a copy.
	 */
	m->done = false;
	m->nbuf = m->r.nbuf;
	for (i = 0; i < m->nbuf; i++)
		m->bufs[i] = *unet_recv_buf(pc->ep, &m->r, i);
	perf_progress(pc);
	return 1;
}

size_t perf_msg_copy(struct perf_ctx *pc, const struct perf_msg *m, void *dst)
{
	size_t len = m->r.length < pc->o->size ? m->r.length : pc->o->size;
	size_t done = 0;
	unsigned int i;

	if (m->r.data) {
		memcpy(dst, m->r.data, len);
		return len;
	}
	for (i = 0; i < m->nbuf && done < len; i++) {
		size_t n = m->bufs[i].len < len - done ? m->bufs[i].len :
			   len - done;

		memcpy((char *)dst + done, unet_buf_ptr(pc->ep, &m->bufs[i]), n);
		done += n;
	}
	return done;
}

uint64_t perf_msg_check(struct perf_ctx *pc, const struct perf_msg *m,
			uint64_t seq)
{
	size_t len = m->r.length, done = 0;
	uint64_t bad = 0;
	unsigned int i;

	if (m->r.data)
		return perf_pattern_check(m->r.data, len, seq, 0);
	for (i = 0; i < m->nbuf && done < len; i++) {
		size_t n = m->bufs[i].len < len - done ? m->bufs[i].len :
			   len - done;

		bad += perf_pattern_check(unet_buf_ptr(pc->ep, &m->bufs[i]), n,
					  seq, done);
		done += n;
	}
	return bad;
}

void perf_msg_done(struct perf_ctx *pc, struct perf_msg *m)
{
	if (!m->done)
		unet_recv_done(pc->ep, &m->r);
	m->done = true;
}

int perf_msg_repost(struct perf_ctx *pc, struct perf_msg *m)
{
	uint32_t idx;
	unsigned int i;

	perf_msg_done(pc, m);
	if (!m->nbuf)
		return 0;
	if (unet_fq_reserve(pc->ep, m->nbuf, &idx) != m->nbuf) {
		unet_fq_submit(pc->ep, 0);
		return perf_error("no room to repost %u receive buffers",
				  m->nbuf);
	}
	for (i = 0; i < m->nbuf; i++)
		unet_fq_prep(pc->ep, idx + i, m->bufs[i].addr, m->bufs[i].len,
			     m->bufs[i].context);
	m->nbuf = 0;
	return unet_fq_submit(pc->ep, i);
}

int perf_reap(struct perf_ctx *pc, uint64_t *errors)
{
	struct unet_send_comp comps[64];
	int n, i, total = 0;

	do {
		n = unet_send_poll(pc->ep, comps, 64);
		if (n < 0)
			return perf_error("the send queue is corrupt: %s",
					  strerror(-n));
		for (i = 0; i < n; i++) {
			if (comps[i].status == UNET_ST_OK)
				continue;
			(*errors)++;
			perf_error_limited(pc, "send %" PRIu64 " failed: %s",
					   comps[i].context,
					   unet_status_str(comps[i].status));
		}
		total += n;
	} while (n == 64);
	if (total)
		perf_progress(pc);
	return total;
}

int perf_reap_all(struct perf_ctx *pc, uint64_t *errors)
{
	while (unet_send_outstanding(pc->ep)) {
		if (perf_reap(pc, errors) < 0)
			return -1;
		if (unet_send_outstanding(pc->ep) &&
		    perf_idle(pc, "waiting for send completions") < 0)
			return -1;
	}
	return 0;
}

/*
 * Posts one send, reaping completions while the queue is full: a buffer
 * (@sge NULL; inline when small) or a gather list.
 */
static int post_send(struct perf_ctx *pc, const void *data, uint32_t len,
		     const struct unet_sge *sge, unsigned int nsge,
		     uint64_t context, uint64_t *errors)
{
	int rc;

	for (;;) {
		rc = sge ? unet_send(pc->ep, (uint32_t)pc->chan, sge, nsge,
				     context) :
			   unet_send_buf(pc->ep, (uint32_t)pc->chan, data, len,
					 context);
		if (rc != -EAGAIN)
			break;
		if (perf_reap(pc, errors) < 0 ||
		    perf_idle(pc, "waiting for room in the send queue") < 0)
			return -1;
	}
	if (rc)
		return perf_error("cannot send: %s", strerror(-rc));
	perf_progress(pc);
	return 0;
}

int perf_send(struct perf_ctx *pc, const void *data, uint32_t len,
	      uint64_t context, uint64_t *errors)
{
	return post_send(pc, data, len, NULL, 0, context, errors);
}

int perf_send_sge(struct perf_ctx *pc, const struct unet_sge *sge,
		  unsigned int nsge, uint64_t context, uint64_t *errors)
{
	return post_send(pc, NULL, 0, sge, nsge, context, errors);
}
