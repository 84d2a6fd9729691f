// SPDX-License-Identifier: MIT
/* Helpers for the guest integration tests: see guest_test.h. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "guest_test.h"

int gt_failed;

void gt_result(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("PASS guest/%s\n", name);
	} else {
		gt_failed++;
		printf("FAIL guest/%s: ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

void gt_pass(const char *name)
{
	gt_result(true, name, "%s", "");
}

void gt_die(const char *what)
{
	printf("FAIL guest/setup: %s: %s\n", what, strerror(errno));
	exit(1);
}

double gt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int gt_exit(void)
{
	return gt_failed ? 1 : 0;
}

struct unet *gt_open(void)
{
	struct unet *u = unet_open();

	if (!u)
		gt_die("open /dev/unet");
	return u;
}

struct unet_ep *gt_ep(struct unet *u, uint32_t mode, uint32_t seg)
{
	struct unet_ep_attr a;
	struct unet_ep *ep;

	unet_ep_attr_init(&a);
	a.mode = mode;
	a.segment_size = mode == UNET_MODE_BASE ? seg : 0;
	ep = unet_ep_create(u, &a);
	if (!ep)
		gt_die("create endpoint");
	return ep;
}

void gt_nic_mac(struct unet *u, uint8_t mac[6])
{
	struct unet_nic_info info;

	if (unet_nic_info(u, 0, &info))
		gt_die("nic info");
	memcpy(mac, info.mac, 6);
}

long gt_nic_counter(struct unet *u, int ctr)
{
	struct unet_nic_stats st;

	if (unet_nic_stats(u, 0, &st))
		gt_die("nic stats");
	return (long)st.ctr[ctr];
}

static FILE *param_open(const char *name, const char *mode)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/unetmm/parameters/%s", name);
	return fopen(path, mode);
}

bool gt_module_param_str(const char *name, char *buf, size_t len)
{
	bool ok;
	FILE *f = param_open(name, "r");

	if (!f)
		return false;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = 0;
	return ok;
}

bool gt_module_param_set(const char *name, const char *value)
{
	bool ok;
	FILE *f = param_open(name, "w");

	if (!f)
		return false;
	ok = fputs(value, f) >= 0;
	return fclose(f) == 0 && ok;
}

long gt_module_param(const char *name, long dflt)
{
	char text[32], *end;
	long v;

	if (!gt_module_param_str(name, text, sizeof(text)))
		return dflt;
	v = strtol(text, &end, 0);
	return end == text ? dflt : v;
}

void gt_addr(struct unet_ep *ep, uint8_t addr[UNET_ADDR_LEN])
{
	size_t len = UNET_ADDR_LEN;
	int err = unet_ep_addr(ep, addr, &len);

	if (err || len != UNET_ADDR_LEN) {
		errno = err ? -err : EINVAL;
		gt_die("unet_ep_addr");
	}
}

void gt_addr_make(uint8_t addr[UNET_ADDR_LEN], const uint8_t mac[6],
		  uint32_t ep_id)
{
	memset(addr, 0, UNET_ADDR_LEN);
	addr[0] = 1;			/* format 1 */
	memcpy(addr + 2, mac, 6);
	addr[8] = (uint8_t)(ep_id >> 24);
	addr[9] = (uint8_t)(ep_id >> 16);
	addr[10] = (uint8_t)(ep_id >> 8);
	addr[11] = (uint8_t)ep_id;
}

int gt_chan_to(struct unet_ep *ep, const uint8_t mac[6], uint32_t ep_id)
{
	uint8_t addr[UNET_ADDR_LEN];

	gt_addr_make(addr, mac, ep_id);
	return unet_chan_create(ep, addr, sizeof(addr));
}

int gt_chan_local(struct unet_ep *from, struct unet_ep *to)
{
	uint8_t addr[UNET_ADDR_LEN];
	int ch;

	gt_addr(to, addr);
	ch = unet_chan_create(from, addr, sizeof(addr));
	if (ch < 0) {
		errno = -ch;
		gt_die("create channel");
	}
	return ch;
}

int gt_recv(struct unet_ep *ep, struct unet_recv *r, int ms)
{
	double end = gt_now_ms() + ms;

	for (;;) {
		int n = unet_recv_poll(ep, r);

		if (n)
			return n;
		if (gt_now_ms() > end)
			return 0;
		usleep(50);
	}
}

int gt_send_done(struct unet_ep *ep, int ms)
{
	struct unet_send_comp c;
	double end = gt_now_ms() + ms;

	for (;;) {
		int n = unet_send_poll(ep, &c, 1);

		if (n == 1)
			return (int)c.status;
		if (n < 0 || gt_now_ms() > end)
			return -1;
		usleep(50);
	}
}

void gt_fill(void *buf, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		((uint8_t *)buf)[i] = gt_pattern(seed, i);
}

long gt_verify(const void *buf, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (((const uint8_t *)buf)[i] != gt_pattern(seed, i))
			return (long)i;
	return -1;
}

/* ---- buffers and a two-party exchange ---- */

uint64_t gt_buf_addr(struct gt_side *s, void *p)
{
	uint8_t *seg = unet_ep_segment(s->ep, NULL);

	if (s->mode == UNET_MODE_BASE)
		return (uint64_t)((uint8_t *)p - seg);
	return (uint64_t)(uintptr_t)p;
}

void gt_side_init(struct gt_side *s, struct unet *u, uint32_t mode)
{
	memset(s, 0, sizeof(*s));
	s->u = u;
	s->mode = mode;
	s->ep = gt_ep(u, mode, GT_NBUF * GT_BUFSZ + GT_MAXMSG);
	if (mode == UNET_MODE_BASE) {
		uint8_t *seg = unet_ep_segment(s->ep, NULL);

		s->rx_pool = seg;
		s->tx_buf = seg + GT_NBUF * GT_BUFSZ;
	} else {
		s->rx_pool = aligned_alloc(4096, GT_NBUF * GT_BUFSZ);
		s->tx_buf = aligned_alloc(4096, GT_MAXMSG);
		if (!s->rx_pool || !s->tx_buf)
			gt_die("alloc");
	}
	s->scratch = malloc(GT_MAXMSG);
	if (!s->scratch)
		gt_die("alloc");
	for (int i = 0; i < GT_NBUF; i++) {
		uint8_t *buf = s->rx_pool + i * GT_BUFSZ;

		if (unet_post_free(s->ep, gt_buf_addr(s, buf), GT_BUFSZ,
				   (uintptr_t)buf))
			gt_die("post free");
	}
}

void gt_repost(struct gt_side *s, struct unet_recv *r)
{
	struct unet_buf bufs[GT_NBUF];
	unsigned int i, n = r->nbuf;

	for (i = 0; i < n && i < GT_NBUF; i++)
		bufs[i] = *unet_recv_buf(s->ep, r, i);
	unet_recv_done(s->ep, r);
	for (i = 0; i < n && i < GT_NBUF; i++)
		unet_post_free(s->ep, bufs[i].addr, bufs[i].len,
			       bufs[i].context);
}

int gt_send_pattern(struct gt_side *s, uint32_t len, uint32_t seed)
{
	int ret;

	gt_fill(s->tx_buf, len, seed);
	ret = unet_send_buf(s->ep, s->ch, s->tx_buf, len, seed);
	if (ret)
		return -ret;
	return gt_send_done(s->ep, 10000);
}

const char *gt_recv_pattern(struct gt_side *s, uint32_t len, uint32_t seed,
			    int ms)
{
	static char why[128];
	struct unet_recv r;
	long bad;
	size_t got;

	if (!gt_recv(s->ep, &r, ms))
		return "no message arrived";
	if (r.status != UNET_ST_OK) {
		snprintf(why, sizeof(why), "rx status %s",
			 unet_status_str(r.status));
		gt_repost(s, &r);
		return why;
	}
	got = unet_recv_copy(s->ep, &r, s->scratch, GT_MAXMSG);
	gt_repost(s, &r);
	if (r.length != len || got != len) {
		snprintf(why, sizeof(why), "length %u (copied %zu), want %u",
			 r.length, got, len);
		return why;
	}
	bad = gt_verify(s->scratch, len, seed);
	if (bad >= 0) {
		snprintf(why, sizeof(why), "byte %ld differs", bad);
		return why;
	}
	return NULL;
}

/* ---- the peer guest ---- */

/* One exchange of @n u32s on a connected socket; @mine may be @theirs. */
static int swap_on(int c, const uint32_t *mine, uint32_t *theirs, int n)
{
	uint32_t buf[256];
	size_t len, got;
	int i;

	if (n <= 0 || n > 256)
		return -1;
	len = (size_t)n * 4;
	for (i = 0; i < n; i++)
		buf[i] = htonl(mine[i]);
	if (write(c, buf, len) != (ssize_t)len)
		return -1;
	for (got = 0; got < len;) {
		ssize_t k = read(c, (uint8_t *)buf + got, len - got);

		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	for (i = 0; i < n; i++)
		theirs[i] = ntohl(buf[i]);
	return 0;
}

void gt_swap_array(bool listener, const char *peer_ip, int port,
		   const uint32_t *mine, uint32_t *theirs, int n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	double end = gt_now_ms() + 120000;
	int fd, c, one = 1;

	sa.sin_port = htons(port);
	if (listener) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
		if (fd < 0 || bind(fd, (void *)&sa, sizeof(sa)) ||
		    listen(fd, 4))
			gt_die("listen");
		for (;;) {
			c = accept(fd, NULL, NULL);
			if (c < 0)
				gt_die("accept");
			if (!swap_on(c, mine, theirs, n))
				break;
			close(c);
		}
		close(c);
		close(fd);
		return;
	}
	inet_pton(AF_INET, peer_ip, &sa.sin_addr);
	while (gt_now_ms() < end) {
		c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0)
			gt_die("socket");
		if (!connect(c, (void *)&sa, sizeof(sa)) &&
		    !swap_on(c, mine, theirs, n)) {
			close(c);
			return;
		}
		close(c);
		usleep(100000);
	}
	gt_die("exchange with the peer guest");
}

/* A port per round: no stale connection of the last one interferes. */
static int swap_round;

uint32_t gt_swap_ids(bool listener, const char *peer_ip, uint32_t mine)
{
	uint32_t theirs;

	gt_swap_array(listener, peer_ip, 18600 + swap_round++, &mine, &theirs,
		      1);
	return theirs;
}

void gt_swap_addrs(bool listener, const char *peer_ip,
		   const uint8_t mine[UNET_ADDR_LEN],
		   uint8_t theirs[UNET_ADDR_LEN])
{
	uint32_t out[UNET_ADDR_LEN / 4], in[UNET_ADDR_LEN / 4];

	/* Bytes as they are: the address is the same on every host. */
	memcpy(out, mine, UNET_ADDR_LEN);
	gt_swap_array(listener, peer_ip, 18600 + swap_round++, out, in,
		      UNET_ADDR_LEN / 4);
	memcpy(theirs, in, UNET_ADDR_LEN);
}

void gt_peer_mac(int peer_guest, uint8_t mac[6])
{
	const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x88, 0xb5, 0x00 };

	memcpy(mac, base, 6);
	mac[5] = (uint8_t)peer_guest;
}
