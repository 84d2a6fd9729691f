// SPDX-License-Identifier: MIT
/*
 * Sleeping instead of spinning: unet_wait(), unet_wait_send() and poll()
 * on the device fd.
 * A sender and a receiver in separate contexts (two opens of /dev/unet),
 * so each fd sees only its own events:
 *  - nothing pending: unet_wait() times out;
 *  - a send completes: the sender's fd reports POLLWRBAND, unet_wait_send()
 *    returns at once while unet_wait() (messages only) still sleeps;
 *    returns at once; once the completion is taken it sleeps again;
 *  - a message arrives: the receiver's fd reports POLLIN;
 *  - a waiter asleep in unet_wait_send() is woken by a completion or an arrival
 *    made by another thread, well before its timeout.
 */
#include <poll.h>
#include <pthread.h>

#include "guest_test.h"

#define LEN	8192

static struct unet *su, *ru;
static struct unet_ep *sep, *rep;
static int ch;
static uint8_t msg[LEN], rxbuf[4 * LEN];

static short revents(struct unet *u, short events)
{
	struct pollfd p = { .fd = unet_fd(u), .events = events };

	if (poll(&p, 1, 0) < 0)
		gt_die("poll");
	return p.revents;
}

static void drain_receiver(void)
{
	struct unet_recv r;

	while (unet_recv_poll(rep, &r) == 1) {
		unet_recv_done(rep, &r);
		unet_post_free(rep, (uintptr_t)rxbuf, sizeof(rxbuf), 0);
	}
}

static void *send_later(void *arg)
{
	(void)arg;
	usleep(300000);
	if (unet_send_buf(sep, ch, msg, LEN, 0))
		gt_die("send");
	return NULL;
}

/* Sleeps in unet_wait_send(@u) while another thread sends after 300 ms. */
static void woken(const char *name, struct unet *u)
{
	pthread_t t;
	double t0, ms;
	int rc;

	if (pthread_create(&t, NULL, send_later, NULL))
		gt_die("thread");
	t0 = gt_now_ms();
	rc = unet_wait_send(u, 10000);
	ms = gt_now_ms() - t0;
	pthread_join(t, NULL);
	gt_result(rc == 1 && ms < 8000, name,
		  "unet_wait_send returned %d after %.0f ms (timeout 10000)", rc,
		  ms);
}

int main(void)
{
	struct unet_send_comp c;
	double t0;
	int rc;

	su = gt_open();
	ru = gt_open();
	sep = gt_ep(su, UNET_MODE_MM, 0);
	rep = gt_ep(ru, UNET_MODE_MM, 0);
	ch = gt_chan_local(sep, rep);
	if (gt_chan_local(rep, sep) < 0 ||
	    unet_post_free(rep, (uintptr_t)rxbuf, sizeof(rxbuf), 0))
		gt_die("setup");
	gt_fill(msg, LEN, 1);

	t0 = gt_now_ms();
	rc = unet_wait(su, 200);
	gt_result(rc == 0 && gt_now_ms() - t0 >= 150, "wait-idle-times-out",
		  "unet_wait returned %d after %.0f ms (timeout 200)", rc,
		  gt_now_ms() - t0);

	if (unet_send_buf(sep, ch, msg, LEN, 0))
		gt_die("send");
	if (gt_send_done(sep, 5000) != UNET_ST_OK)	/* peeks by reaping */
		gt_die("send completion");
	gt_result(!(revents(su, POLLWRBAND) & POLLWRBAND),
		  "wait-reaped-completion-is-not-news",
		  "POLLWRBAND still set after the completion was taken");
	gt_result(revents(ru, POLLIN) & POLLIN, "wait-arrival-pollin",
		  "the receiver's fd does not report POLLIN");
	gt_result(!(revents(su, POLLIN) & POLLIN), "wait-sender-not-readable",
		  "the sender's fd reports POLLIN with nothing to receive");
	drain_receiver();
	gt_result(!(revents(ru, POLLIN) & POLLIN), "wait-drained-not-readable",
		  "POLLIN after every message was taken");

	/* A completion not yet taken is news for unet_wait_send() only. */
	if (unet_send_buf(sep, ch, msg, LEN, 0))
		gt_die("send");
	t0 = gt_now_ms();
	while (!(revents(su, POLLWRBAND) & POLLWRBAND) &&
	       gt_now_ms() - t0 < 5000)
		usleep(100);
	gt_result(revents(su, POLLWRBAND) & POLLWRBAND,
		  "wait-completion-pollwrband",
		  "no POLLWRBAND within 5 s of a send");
	rc = unet_wait(su, 200);
	gt_result(rc == 0, "wait-completion-not-a-message",
		  "unet_wait returned %d for an unreaped completion", rc);
	rc = unet_wait_send(su, 5000);
	gt_result(rc == 1 && gt_now_ms() - t0 < 4000,
		  "wait-completion-wakes", "unet_wait_send returned %d", rc);
	if (unet_send_poll(sep, &c, 1) != 1 || c.status != UNET_ST_OK)
		gt_die("completion");
	t0 = gt_now_ms();
	rc = unet_wait_send(su, 200);
	gt_result(rc == 0, "wait-taken-completion-sleeps",
		  "unet_wait_send returned %d after %.0f ms with nothing new", rc,
		  gt_now_ms() - t0);
	drain_receiver();

	/* Asleep first, then woken by the event. */
	woken("wait-woken-by-completion", su);
	if (gt_send_done(sep, 5000) != UNET_ST_OK)
		gt_die("send completion");
	drain_receiver();
	woken("wait-woken-by-arrival", ru);
	if (gt_send_done(sep, 5000) != UNET_ST_OK)
		gt_die("send completion");
	drain_receiver();

	unet_ep_destroy(sep);
	unet_ep_destroy(rep);
	unet_close(su);
	unet_close(ru);
	return gt_exit();
}
