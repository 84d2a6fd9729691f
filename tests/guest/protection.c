// SPDX-License-Identifier: MIT
/*
 * Protection between processes: a process sends only on channels the
 * kernel gave its own endpoint; a forked child cannot drive its parent's
 * context through the inherited fd, nor touch the parent's queue mappings;
 * another process's context cannot map or destroy this one's endpoints.
 *
 *   protection
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "guest_test.h"
#include "raw_ep.h"

static uint8_t mac[6];

/* @got: 0 or -errno, as tests/lib's calls return; @want: errno or 0. */
static void expect_err(const char *name, int got, int want)
{
	gt_result(got == -want, name, "got %s (%d), want %s", strerror(-got),
		  got, want ? strerror(want) : "success");
}

static void xwrite(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		gt_die("pipe write");
}

static void xread(int fd, void *p, size_t n)
{
	if (read(fd, p, n) != (ssize_t)n)
		gt_die("pipe read");
}

/* Waits for @pid; true if it exited 0. */
static bool child_ok(pid_t pid, const char *name)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		gt_die("waitpid");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	if (WIFSIGNALED(status))
		gt_result(false, name, "child killed by signal %d",
			  WTERMSIG(status));
	else
		gt_result(false, name, "child exited %d", WEXITSTATUS(status));
	return false;
}

static long nic(struct unet *u, int c)
{
	return gt_nic_counter(u, c);
}

static struct unet *u;
static struct gt_side E, Q;	/* parent's sender and receiver */

/* E sends to Q and Q gets it: the parent's endpoints still work. */
static void still_works(const char *name)
{
	static uint32_t seed = 500;
	const char *why;
	int st = gt_send_pattern(&E, 3000, ++seed);

	if (st != UNET_ST_OK) {
		gt_result(false, name, "send status %d", st);
		return;
	}
	why = gt_recv_pattern(&Q, 3000, seed, 5000);
	gt_result(!why, name, "%s", why);
}

/*
 * 1. Sends naming a channel the endpoint does not own complete with
 * BAD_CHANNEL and reach nobody, not even the endpoint another process's
 * channel of that number points to.
 */
static void foreign_channels(void)
{
	const uint32_t FOREIGN = 10;
	int down[2], up[2];
	uint32_t ids[2], ce_id;
	pid_t pid;
	char c = 'x';

	if (pipe(down) || pipe(up))
		gt_die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (pid == 0) {
		/* Child: its endpoint CE owns channels 0..11. */
		struct unet *cu = gt_open();
		struct gt_side ce;
		struct unet_recv r = { 0 };
		uint32_t i, msg[2];
		int ch;

		close(down[1]);
		close(up[0]);
		gt_side_init(&ce, cu, UNET_MODE_BASE);
		for (i = 0; i < FOREIGN; i++) {
			ch = gt_chan_to(ce.ep, mac, 100000 + i);
			if (ch != (int)i)
				gt_die("child channel");
		}
		xread(down[0], ids, sizeof(ids));	/* E's and Q's ids */
		ch = gt_chan_to(ce.ep, mac, ids[1]);	/* to Q */
		if (ch != (int)FOREIGN)
			gt_die("child channel to Q");
		ch = gt_chan_to(ce.ep, mac, ids[0]);	/* from E */
		if (ch < 0)
			gt_die("child channel from E");
		msg[0] = unet_ep_id(ce.ep);
		msg[1] = FOREIGN;
		xwrite(up[1], msg, sizeof(msg));
		xread(down[0], &c, 1);	/* the parent's bad sends are done */
		gt_result(unet_recv_poll(ce.ep, &r) == 0,
			  "protection-foreign-channel-child-got-nothing",
			  "the child's endpoint received a message (channel %u)",
			  r.channel);
		xwrite(up[1], &c, 1);
		xread(down[0], &c, 1);
		exit(gt_exit());
	}
	close(down[0]);
	close(up[1]);

	ids[0] = unet_ep_id(E.ep);
	ids[1] = unet_ep_id(Q.ep);
	xwrite(down[1], ids, sizeof(ids));
	xread(up[0], ids, sizeof(ids));
	ce_id = ids[0];
	/* Q would accept messages from CE, so a misrouted send would show. */
	if (gt_chan_to(Q.ep, mac, ce_id) < 0)
		gt_die("Q channel from child");

	{
		/* A channel E had and gave back. */
		int gone = gt_chan_to(E.ep, mac, ce_id);

		if (gone < 0 || unet_chan_destroy(E.ep, gone))
			gt_die("E destroyed channel");
		const uint32_t bad[] = { FOREIGN, 5, (uint32_t)gone,
					 UNET_MAX_CHANNELS - 1,
					 UNET_MAX_CHANNELS, 1000, 0xffffffffu };
		const char *names[] = { "other-process-channel-10",
					"unused-slot-5", "destroyed-channel",
					"slot-255", "channel-256",
					"channel-1000", "channel-ffffffff" };
		long lb0 = nic(u, UNET_NIC_loopback_msgs);
		long rx0 = nic(u, UNET_NIC_rx_msgs);
		long nc0 = nic(u, UNET_NIC_drop_no_channel);
		long ne0 = nic(u, UNET_NIC_drop_no_endpoint);
		struct unet_recv r = { 0 };
		char name[96];
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			int st;

			snprintf(name, sizeof(name), "protection-send-on-%s",
				 names[i]);
			gt_fill(E.tx_buf, 3000, 42);
			st = unet_send_buf(E.ep, bad[i], E.tx_buf, 3000, 1);
			if (!st)
				st = gt_send_done(E.ep, 10000);
			else
				st = -1000 + st;
			gt_result(st == UNET_ST_BAD_CHANNEL, name,
				  "status %d, want BAD_CHANNEL", st);
			snprintf(name, sizeof(name),
				 "protection-send-on-%s-inline", names[i]);
			st = unet_send_buf(E.ep, bad[i], E.tx_buf, 20, 2);
			if (!st)
				st = gt_send_done(E.ep, 10000);
			gt_result(st == UNET_ST_BAD_CHANNEL, name,
				  "status %d, want BAD_CHANNEL", st);
		}
		gt_result(unet_recv_poll(Q.ep, &r) == 0,
			  "protection-bad-channels-q-got-nothing",
			  "Q received a message on channel %u", r.channel);
		gt_result(nic(u, UNET_NIC_loopback_msgs) == lb0 &&
			  nic(u, UNET_NIC_rx_msgs) == rx0 &&
			  nic(u, UNET_NIC_drop_no_channel) == nc0 &&
			  nic(u, UNET_NIC_drop_no_endpoint) == ne0,
			  "protection-bad-channels-nothing-moved",
			  "NIC counters moved: loopback %ld->%ld rx %ld->%ld "
			  "no_channel %ld->%ld no_endpoint %ld->%ld",
			  lb0, nic(u, UNET_NIC_loopback_msgs), rx0,
			  nic(u, UNET_NIC_rx_msgs), nc0,
			  nic(u, UNET_NIC_drop_no_channel), ne0,
			  nic(u, UNET_NIC_drop_no_endpoint));
	}
	xwrite(down[1], &c, 1);
	xread(up[0], &c, 1);
	xwrite(down[1], &c, 1);
	child_ok(pid, "protection-foreign-channel-child");
	close(down[1]);
	close(up[0]);
	still_works("protection-bad-channels-then-ok");
}

/*
 * A raw endpoint of the parent, made on the libunet context's fd: its
 * handle and offsets are what a child and another context try to use.
 */
static struct raw_ep raw;

static void make_raw(int fd)
{
	int err = raw_ep_create(&raw, fd, 0, UNET_MODE_BASE, 16, 16, 16, 65536);

	if (err) {
		errno = -err;
		gt_die("raw endpoint");
	}
}

/* The endpoint's counters, as UNET_IOC_STATS asks for them. */
static struct unet_stats ep_stats_req(uint32_t handle)
{
	static uint64_t v[UNET_EP_NR_COUNTERS];

	return (struct unet_stats){ .scope = UNET_STATS_EP, .id = handle,
				    .count = UNET_EP_NR_COUNTERS,
				    .values = (uintptr_t)v };
}

static bool raw_alive(int fd)
{
	uint64_t v[UNET_EP_NR_COUNTERS];

	return raw_stats(fd, UNET_STATS_EP, raw.req.handle, v,
			 UNET_EP_NR_COUNTERS) >= 0;
}

/* 2a. The inherited fd is not the child's context. */
static void inherited_fd(void)
{
	int fd = unet_fd(u);
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (pid == 0) {
		struct unet_ep_create req = {
			.mode = UNET_MODE_MM, .tx_entries = 16,
			.rx_entries = 16, .fq_entries = 16,
		};
		struct unet_chan_create cc = { .handle = raw.req.handle,
					       .remote_ep = 1 };
		struct unet_chan_destroy cd = { .handle = raw.req.handle };
		struct unet_stats es = ep_stats_req(raw.req.handle);
		struct unet_nic_info ni = { .nic = 0 };
		uint32_t h = raw.req.handle;
		void *p;

		memcpy(cc.remote_mac, mac, 6);
		expect_err("protection-inherited-ep-create",
			   raw_ioctl(fd, UNET_IOC_EP_CREATE, &req), EPERM);
		expect_err("protection-inherited-kick",
			   raw_ioctl(fd, UNET_IOC_KICK, &h), EPERM);
		expect_err("protection-inherited-chan-create",
			   raw_ioctl(fd, UNET_IOC_CHAN_CREATE, &cc), EPERM);
		expect_err("protection-inherited-chan-destroy",
			   raw_ioctl(fd, UNET_IOC_CHAN_DESTROY, &cd), EPERM);
		expect_err("protection-inherited-ep-stats",
			   raw_ioctl(fd, UNET_IOC_STATS, &es), EPERM);
		expect_err("protection-inherited-ep-destroy",
			   raw_ioctl(fd, UNET_IOC_EP_DESTROY, &h), EPERM);
		expect_err("protection-inherited-nic-info-allowed",
			   raw_ioctl(fd, UNET_IOC_NIC_INFO, &ni), 0);
		p = mmap(NULL, raw.req.queue_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, (off_t)raw.req.queue_offset);
		expect_err("protection-inherited-mmap-queue",
			   p == MAP_FAILED ? -errno : 0, EPERM);
		p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 (off_t)raw.req.segment_offset);
		expect_err("protection-inherited-mmap-segment",
			   p == MAP_FAILED ? -errno : 0, EPERM);
		exit(gt_exit());
	}
	child_ok(pid, "protection-inherited-fd-child");
	gt_result(raw_alive(fd), "protection-inherited-endpoint-survives",
		  "the parent's endpoint is gone after the child's EP_DESTROY");
	still_works("protection-inherited-then-ok");
}

/* 2b. The queue mappings are not inherited: the child faults on them. */
static void touch_in_child(const char *name, volatile uint8_t *p, bool write)
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		signal(SIGSEGV, SIG_DFL);
		if (write)
			*p = 1;
		else
			(void)*p;
		_exit(0);	/* it was mapped */
	}
	if (waitpid(pid, &status, 0) != pid)
		gt_die("waitpid");
	gt_result(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, name,
		  "child %s (status 0x%x), want SIGSEGV",
		  WIFSIGNALED(status) ? "killed by another signal" :
					"read it without faulting", status);
}

static void not_inherited(void)
{
	uint8_t *seg = unet_ep_segment(E.ep, NULL);

	/* The parent itself may. */
	raw.seg[0] = 7;
	gt_result(raw.seg[0] == 7 && ((struct unet_ctrl *)raw.q)->nic_idle <= 1,
		  "protection-parent-reads-own-mappings", "odd contents");
	touch_in_child("protection-child-reads-queue-segv", raw.q, false);
	touch_in_child("protection-child-writes-queue-segv", raw.q, true);
	touch_in_child("protection-child-reads-segment-segv", raw.seg, false);
	touch_in_child("protection-child-reads-libunet-segment-segv", seg,
		       false);
	touch_in_child("protection-child-writes-libunet-segment-segv",
		       seg + 4096, true);
	still_works("protection-not-inherited-then-ok");
}

/* 3. Another process's own context knows none of our handles. */
static void other_context(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (pid == 0) {
		int fd = open(UNET_DEVICE_PATH, O_RDWR), err;
		struct raw_ep mine;
		uint32_t h;
		void *p;

		if (fd < 0)
			gt_die("open");
		/* It owns handle 1; the parent has 1, 2 and raw.req.handle. */
		err = raw_ep_create(&mine, fd, 0, UNET_MODE_BASE, 16, 16, 16,
				    65536);
		gt_result(!err, "protection-other-ctx-maps-own", "%s",
			  strerror(-err));
		p = mmap(NULL, raw.req.queue_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, (off_t)raw.req.queue_offset);
		gt_result(p == MAP_FAILED, "protection-other-ctx-mmap-queue",
			  "mapped the other process's queues");
		p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 (off_t)raw.req.segment_offset);
		gt_result(p == MAP_FAILED, "protection-other-ctx-mmap-segment",
			  "mapped the other process's segment");
		p = mmap(NULL, raw.req.queue_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, (off_t)((uint64_t)2 << 32));
		gt_result(p == MAP_FAILED, "protection-other-ctx-mmap-handle-2",
			  "mapped a queue by the other process's handle 2");
		h = raw.req.handle;
		expect_err("protection-other-ctx-destroy",
			   raw_ioctl(fd, UNET_IOC_EP_DESTROY, &h), ENOENT);
		h = 2;
		expect_err("protection-other-ctx-destroy-2",
			   raw_ioctl(fd, UNET_IOC_EP_DESTROY, &h), ENOENT);
		h = raw.req.handle;
		expect_err("protection-other-ctx-kick",
			   raw_ioctl(fd, UNET_IOC_KICK, &h), ENOENT);
		{
			struct unet_stats s = ep_stats_req(raw.req.handle);
			struct unet_chan_create c = { .handle = raw.req.handle,
						      .remote_ep = 1 };

			memcpy(c.remote_mac, mac, 6);
			expect_err("protection-other-ctx-stats",
				   raw_ioctl(fd, UNET_IOC_STATS, &s),
				   ENOENT);
			expect_err("protection-other-ctx-chan-create",
				   raw_ioctl(fd, UNET_IOC_CHAN_CREATE, &c),
				   ENOENT);
		}
		close(fd);
		exit(gt_exit());
	}
	child_ok(pid, "protection-other-ctx-child");
	gt_result(raw_alive(unet_fd(u)), "protection-other-ctx-endpoint-survives",
		  "the parent's endpoint is gone");
	gt_result(raw.seg[0] == 7, "protection-other-ctx-segment-intact",
		  "segment contents changed");
	still_works("protection-other-ctx-then-ok");
}

int main(void)
{
	u = gt_open();
	gt_nic_mac(u, mac);
	gt_side_init(&E, u, UNET_MODE_BASE);	/* handle 1 */
	gt_side_init(&Q, u, UNET_MODE_BASE);	/* handle 2 */
	E.ch = gt_chan_local(E.ep, Q.ep);
	Q.ch = gt_chan_local(Q.ep, E.ep);
	make_raw(unet_fd(u));			/* handle 3 */
	still_works("protection-start");

	foreign_channels();
	inherited_fd();
	not_inherited();
	other_context();
	unet_close(u);
	return gt_exit();
}
