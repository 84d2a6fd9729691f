// SPDX-License-Identifier: MIT
/*
 * The netdev's MTU changes under a stream of multi-frame messages.  Guest 1
 * streams MSGS messages of 16 KiB (11 frames at MTU 1500) to guest 2 while
 * a child flips guest 1's eth0 between MTU 1500 and 1000.  A message keeps
 * the fragment size it started with, so the receiver can place every
 * fragment; one that no longer fits a shrunken MTU ends with
 * UNET_ST_NO_ROUTE.  The link is lossless, so guest 2 must get, intact and
 * in order, exactly the messages guest 1 saw complete with UNET_ST_OK, and
 * no more reassemblies may time out than messages guest 1 abandoned.  A
 * receiver that falls behind (a slow guest) may drop, but must count every
 * message it lost.
 *
 *   wire_mtu 1|2
 */
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "guest_test.h"

#define MSGS		1500
#define LEN		16384
#define WINDOW		8
#define RX_BUFS		128

static const char *peer_ip = "169.254.88.1";

/* Message @i: its index in the first 4 bytes, then a pattern seeded by it. */
static void fill_msg(uint8_t *buf, uint32_t i)
{
	memcpy(buf, &i, 4);
	gt_fill(buf + 4, LEN - 4, i);
}

static void set_mtu(int sk, int mtu)
{
	struct ifreq ifr = { .ifr_mtu = mtu };

	strcpy(ifr.ifr_name, "eth0");
	if (ioctl(sk, SIOCSIFMTU, &ifr))
		gt_die("SIOCSIFMTU eth0");
}

/* A child flipping the MTU every few milliseconds until killed. */
static pid_t start_mtu_flipper(void)
{
	pid_t pid = fork();
	int sk;

	if (pid < 0)
		gt_die("fork");
	if (pid)
		return pid;
	sk = socket(AF_INET, SOCK_DGRAM, 0);
	if (sk < 0)
		gt_die("socket");
	for (int k = 0;; k++) {
		set_mtu(sk, k & 1 ? 1500 : 1000);
		usleep(3000);
	}
}

static void sender(struct unet *u)
{
	struct unet_ep *ep = gt_ep(u, UNET_MODE_MM, 0);
	uint32_t sent = 0, done = 0, ok = 0, no_route = 0, other = 0, peer;
	uint8_t mac[6], *buf = malloc((size_t)WINDOW * LEN);
	double end;
	pid_t flipper;
	int ch, st;

	if (!buf)
		gt_die("alloc");
	peer = gt_swap_ids(true, NULL, unet_ep_id(ep));
	gt_peer_mac(2, mac);
	ch = gt_chan_to(ep, mac, peer);
	if (ch < 0)
		gt_die("channel to guest 2");
	gt_swap_ids(true, NULL, 0);	/* guest 2's buffers are posted */

	flipper = start_mtu_flipper();
	end = gt_now_ms() + 120000;
	while (done < MSGS && gt_now_ms() < end) {
		struct unet_send_comp c;

		if (sent < MSGS && sent - done < WINDOW) {
			uint8_t *b = buf + (size_t)(sent % WINDOW) * LEN;

			fill_msg(b, sent);
			if (!unet_send_buf(ep, ch, b, LEN, 0))
				sent++;
			continue;
		}
		if (unet_send_poll(ep, &c, 1) != 1) {
			usleep(50);
			continue;
		}
		done++;
		if (c.status == UNET_ST_OK)
			ok++;
		else if (c.status == UNET_ST_NO_ROUTE)
			no_route++;
		else
			other++;
	}
	kill(flipper, SIGKILL);
	waitpid(flipper, &st, 0);
	st = socket(AF_INET, SOCK_DGRAM, 0);
	set_mtu(st, 1500);
	close(st);
	printf("# sender: %u sent, %u ok, %u no_route, %u other\n", sent, ok,
	       no_route, other);
	gt_result(done == MSGS && !other, "wire-mtu-sender",
		  "%u of %u completed, %u with an unexpected status", done,
		  MSGS, other);
	gt_swap_ids(true, NULL, ok);
	gt_swap_ids(true, NULL, no_route);
	gt_swap_ids(true, NULL, 0);	/* guest 2 has counted */
	unet_ep_destroy(ep);
	free(buf);
}

static void receiver(struct unet *u)
{
	struct unet_ep *ep = gt_ep(u, UNET_MODE_MM, 0);
	uint8_t mac[6], *pool = malloc((size_t)RX_BUFS * LEN);
	uint8_t *copy = malloc(LEN);
	uint32_t got = 0, bad = 0, dropped = 0, next = 0, ok, no_route, peer;
	struct unet_ep_stats st;
	uint64_t no_bufs, timeouts;
	int ch;

	if (!pool || !copy)
		gt_die("alloc");
	for (int i = 0; i < RX_BUFS; i++)
		if (unet_post_free(ep, (uintptr_t)(pool + (size_t)i * LEN), LEN, 0))
			gt_die("post free");
	peer = gt_swap_ids(false, peer_ip, unet_ep_id(ep));
	gt_peer_mac(1, mac);
	ch = gt_chan_to(ep, mac, peer);
	if (ch < 0)
		gt_die("channel to guest 1");
	gt_swap_ids(false, peer_ip, 0);

	/*
	 * Until the link has been quiet for 3 s: the sender is then done and
	 * waits to tell us how many messages it completed.
	 */
	for (;;) {
		struct unet_recv r;
		uint64_t addr;

		if (gt_recv(ep, &r, 3000) != 1)
			break;
		addr = unet_recv_buf(ep, &r, 0)->addr;
		if (r.status == UNET_ST_DROPPED) {
			dropped++;	/* an abandoned message's buffers */
		} else if (r.status == UNET_ST_OK && r.length == LEN &&
			   unet_recv_copy(ep, &r, copy, LEN) == LEN) {
			uint32_t idx;

			memcpy(&idx, copy, 4);
			if (idx < next || gt_verify(copy + 4, LEN - 4, idx) >= 0)
				bad++;
			else
				got++;
			next = idx + 1;
		} else {
			bad++;
		}
		unet_recv_done(ep, &r);
		unet_post_free(ep, addr, LEN, 0);
	}
	ok = gt_swap_ids(false, peer_ip, 0);
	no_route = gt_swap_ids(false, peer_ip, 0);
	usleep(1500000);	/* reassembly timeout is 1 s */
	if (unet_ep_stats(ep, &st))
		gt_die("endpoint stats");
	/* Every drop that is not the MTU's doing counts as lost-but-counted. */
	no_bufs = st.ctr[UNET_CTR_rx_drop_no_bufs] +
		  st.ctr[UNET_CTR_rx_drop_backlog] +
		  st.ctr[UNET_CTR_rx_drop_queue_full] +
		  st.ctr[UNET_CTR_rx_drop_bad_buf];
	timeouts = st.ctr[UNET_CTR_rx_drop_reasm];
	printf("# receiver: %u intact, %u wrong, %u returned dropped; other drops %llu, reassembly drops %llu\n",
	       got, bad, dropped, (unsigned long long)no_bufs,
	       (unsigned long long)timeouts);
	gt_result(!bad, "wire-mtu-intact", "%u messages wrong or out of order",
		  bad);
	if (!no_bufs) {
		/* The receiver kept up: nothing may be missing. */
		gt_result(got == ok, "wire-mtu-every-ok-message-arrived",
			  "sender completed %u ok, %u arrived, none counted dropped",
			  ok, got);
		gt_result(timeouts <= no_route, "wire-mtu-abandoned-counted",
			  "%llu reassembly drops for %u abandoned messages",
			  (unsigned long long)timeouts, no_route);
	} else {
		/*
		 * It fell behind (a slow guest: frames parked on a miss went
		 * stale) and said so.  Backlog drops count frames, so a lost
		 * message shows as one or more of them, or as the one
		 * reassembly drop of the message its surviving fragments
		 * started; no message is ever dropped twice by reassembly.
		 */
		uint32_t lost = ok - got;

		gt_result(got <= ok && lost <= no_bufs + timeouts,
			  "wire-mtu-every-ok-message-arrived",
			  "sender completed %u ok, %u arrived, %llu frames or messages counted dropped, %llu reassembly drops",
			  ok, got, (unsigned long long)no_bufs,
			  (unsigned long long)timeouts);
		gt_result(got <= ok && timeouts <= no_route + lost,
			  "wire-mtu-abandoned-counted",
			  "%llu reassembly drops for %u abandoned and %u lost messages",
			  (unsigned long long)timeouts, no_route, lost);
	}
	gt_swap_ids(false, peer_ip, 0);
	unet_ep_destroy(ep);
	free(pool);
	free(copy);
}

int main(int argc, char **argv)
{
	struct unet *u;

	if (argc != 2 || (strcmp(argv[1], "1") && strcmp(argv[1], "2"))) {
		fprintf(stderr, "usage: wire_mtu 1|2   (guest 1 sends, guest 2 receives)\n");
		return 2;
	}
	u = gt_open();
	if (argv[1][0] == '1')
		sender(u);
	else
		receiver(u);
	unet_close(u);
	return gt_exit();
}
