/* SPDX-License-Identifier: MIT */
/*
 * Hostile control calls: ioctls in and around the 0xB5 magic with bad
 * sizes, directions, numbers and arguments (NULL, unmapped, kernel,
 * read-only, misaligned, random contents); mmap with bad offsets and sizes;
 * calls on destroyed handles, on a context whose file is closed while its
 * queues stay mapped, and from a forked child; endpoints and channels
 * created and destroyed in random order -- while a checked pair carries
 * traffic that must stay correct and complete.
 *
 *   fuzz_control [--seed N] [--cases N] [--checked N]
 *
 * Oracles: no crash; a command number the ABI does not define, or a known
 * number with the wrong size/direction, is ENOTTY; a destroyed handle is
 * ENOENT; a call from the wrong address space is EPERM; a busy poll with
 * a bad time, flag or reserved word is refused.
 */
#include "fuzz.h"

#define MAXEP	UNET_EP_PER_CTX

struct cep {
	uint32_t handle;
	uint64_t qoff, qsize, soff, ssize;
	void *q;
};

static int fd;
static struct cep ceps[MAXEP];
static int nceps;
static uint8_t *ro_page, *none_page, *buf;
static uint64_t cases, oracle_fail, ok_calls;
static uint8_t mac[6];

static void oracle(bool ok, const char *what, long a, long b)
{
	if (ok)
		return;
	if (oracle_fail++ < 10)
		printf("# oracle: %s (%ld, %ld)\n", what, a, b);
}

static void *hostile_ptr(size_t size)
{
	switch (fz_below(10)) {
	case 0:
		return NULL;
	case 1:
		return (void *)(uintptr_t)0xffff888000000000ull;
	case 2:
		return ro_page;
	case 3:
		return none_page;
	case 4:
		return ro_page - size / 2;	/* straddles into read-only */
	case 5:
		return buf + 4096 - fz_below(64) - 1;	/* straddles a hole */
	case 6:
		return (void *)(uintptr_t)fz_rand();
	default:
		return buf + fz_below(64);
	}
}

static uint32_t pick_handle(void)
{
	if (nceps && fz_chance(70))
		return ceps[fz_below(nceps)].handle;
	return fz_u32();
}

static void ep_forget(int i)
{
	if (ceps[i].q)
		munmap(ceps[i].q, ceps[i].qsize);
	ceps[i] = ceps[--nceps];
}

static void do_create(void)
{
	static const uint32_t sz[] = { 0, 4, 7, 8, 16, 64, 4096, 8192, 12 };
	struct unet_ep_create *r = (void *)buf;

	memset(r, 0, sizeof(*r));
	r->nic = fz_chance(90) ? 0 : fz_u32();
	r->mode = fz_chance(90) ? fz_below(2) : fz_u32();
	r->tx_entries = fz_chance(70) ? 8u << fz_below(3) : sz[fz_below(9)];
	r->rx_entries = fz_chance(70) ? 8u << fz_below(3) : sz[fz_below(9)];
	r->fq_entries = fz_chance(70) ? 8u << fz_below(3) : sz[fz_below(9)];
	r->segment_size = r->mode == UNET_MODE_BASE && fz_chance(80) ?
			  4096 * (1 + fz_below(8)) : fz_u32();
	if (fz_chance(10))
		r->handle = fz_u32();	/* out fields with garbage in */
	if (ioctl(fd, UNET_IOC_EP_CREATE, r) == 0) {
		struct cep *c = &ceps[nceps];

		oracle(nceps < MAXEP, "more endpoints than the limit", nceps, 0);
		if (nceps >= MAXEP) {
			ioctl(fd, UNET_IOC_EP_DESTROY, &r->handle);
			return;
		}
		memset(c, 0, sizeof(*c));
		c->handle = r->handle;
		c->qoff = r->queue_offset;
		c->qsize = r->queue_size;
		c->soff = r->segment_offset;
		c->ssize = r->mode == UNET_MODE_BASE ? r->segment_size : 0;
		nceps++;
		if (fz_chance(60)) {
			c->q = mmap(NULL, c->qsize, PROT_READ | PROT_WRITE,
				    MAP_SHARED, fd, (off_t)c->qoff);
			oracle(c->q != MAP_FAILED, "mmap of a fresh queue", 0, errno);
			if (c->q == MAP_FAILED)
				c->q = NULL;
			else
				fz_bytes(c->q, 256);	/* garbage indices */
		}
		ok_calls++;
	}
}

static void do_mmap(void)
{
	uint64_t off;
	size_t len;
	void *p;
	int prot;

	if (nceps && fz_chance(70)) {
		struct cep *c = &ceps[fz_below(nceps)];

		off = fz_chance(50) ? c->qoff : c->soff;
		len = off == c->qoff ? c->qsize : c->ssize;
		switch (fz_below(5)) {
		case 0: len += 4096; break;
		case 1: len = len > 4096 ? len - 4096 : 4096; break;
		case 2: off += 4096 * (1 + fz_below(4)); break;
		case 3: off ^= 1ull << (12 + fz_below(52)); break;
		}
	} else {
		off = (fz_rand() & ~0xfffull);
		len = 4096 * (1 + fz_below(16));
	}
	if (!len)
		len = 4096;
	if (len > (64u << 20))
		len = 4096;
	prot = fz_chance(80) ? PROT_READ | PROT_WRITE : PROT_READ;
	p = mmap(NULL, len, prot, fz_chance(90) ? MAP_SHARED : MAP_PRIVATE,
		 fd, (off_t)off);
	if (p != MAP_FAILED) {
		ok_calls++;
		if ((prot & PROT_WRITE) && fz_chance(50))
			fz_bytes(p, 64 < len ? 64 : len);
		if (fz_chance(30) && len > 8192)
			munmap((uint8_t *)p + 4096, 4096);	/* split vma */
		munmap(p, len);
	}
}

/* A raw ioctl with a command in or near the magic. */
static void do_raw_ioctl(void)
{
	unsigned int dir = fz_below(4), nr, size, type;
	unsigned long cmd;
	void *arg;
	int ret;

	nr = fz_chance(80) ? fz_below(12) : fz_below(256);
	size = fz_chance(50) ? fz_below(600) : (uint32_t[]){ 4, 8, 16, 24,
		56, 64, 312, 320, 328, 472 }[fz_below(10)];
	type = fz_chance(95) ? UNET_IOC_MAGIC : fz_below(256);
	cmd = _IOC(dir, type, nr, size & 0x3fff);
	if (fz_chance(5))
		cmd = (uint32_t)fz_rand();
	arg = hostile_ptr(size);
	if (arg == buf + (uintptr_t)arg - (uintptr_t)buf && fz_chance(50))
		fz_bytes(buf, 1024);
	if (cmd == UNET_IOC_EP_DESTROY || cmd == UNET_IOC_EP_CREATE)
		return;		/* bookkeeping: done by their own cases */
	ret = ioctl(fd, cmd, arg);
	if (cmd != UNET_IOC_NIC_INFO && cmd != UNET_IOC_EP_CREATE &&
	    cmd != UNET_IOC_EP_DESTROY && cmd != UNET_IOC_CHAN_CREATE &&
	    cmd != UNET_IOC_CHAN_DESTROY && cmd != UNET_IOC_KICK &&
	    cmd != UNET_IOC_STATS && cmd != UNET_IOC_DEV_INFO &&
	    cmd != UNET_IOC_BUSY_POLL && type == UNET_IOC_MAGIC)
		oracle(ret < 0 && errno == ENOTTY, "unknown command not ENOTTY",
		       (long)cmd, errno);
	if (!ret)
		ok_calls++;
}

/* Known commands with random, mostly plausible, arguments. */
static void do_known(void)
{
	union {
		struct unet_chan_create cc;
		struct unet_chan_destroy cd;
		struct unet_stats st;
		struct unet_nic_info ni;
		struct unet_busy_poll bp;
		uint32_t h;
	} *a = (void *)buf;
	int ret = 0;

	fz_bytes(buf, 512);
	switch (fz_below(7)) {
	case 0:
		a->cc.handle = pick_handle();
		a->cc.remote_ep = fz_chance(50) ? fz_below(64) : fz_u32();
		if (fz_chance(50))
			memcpy(a->cc.remote_mac, mac, 6);
		else if (fz_chance(30))
			memset(a->cc.remote_mac, 0xff, 6);
		ret = ioctl(fd, UNET_IOC_CHAN_CREATE, a);
		break;
	case 1:
		a->cd.handle = pick_handle();
		a->cd.channel = fz_chance(60) ? fz_below(260) : fz_u32();
		ret = ioctl(fd, UNET_IOC_CHAN_DESTROY, a);
		break;
	case 2:
		a->h = pick_handle();
		ret = ioctl(fd, UNET_IOC_KICK, a);
		break;
	case 3:
	case 4:
		/* Counters of any set, into this buffer or a hostile one. */
		a->st.scope = fz_chance(90) ? fz_below(3) : fz_u32();
		a->st.id = a->st.scope == UNET_STATS_EP ? pick_handle() :
			   fz_chance(80) ? 0 : fz_u32();
		a->st.count = fz_chance(70) ? fz_below(80) : fz_u32();
		a->st.values = fz_chance(50) ? (uintptr_t)(buf + 512) :
			       (uintptr_t)hostile_ptr(8);
		a->st.names = fz_chance(50) ? 0 :
			      fz_chance(50) ? (uintptr_t)(buf + 512) :
			      (uintptr_t)hostile_ptr(32);
		if (a->st.values == (uintptr_t)(buf + 512) ||
		    a->st.names == (uintptr_t)(buf + 512))
			a->st.count = a->st.count % 8;	/* it must fit */
		if (fz_chance(80)) {
			a->st.flags = 0;
			memset(a->st.reserved, 0, sizeof(a->st.reserved));
		}
		ret = ioctl(fd, UNET_IOC_STATS, a);
		break;
	case 5:
		/* Short, mostly: a valid call spins for its whole time. */
		a->bp.handle = pick_handle();
		a->bp.usecs = fz_chance(90) ? fz_below(200) : fz_u32();
		if (fz_chance(80))
			a->bp.flags = a->bp.reserved = 0;
		ret = ioctl(fd, UNET_IOC_BUSY_POLL, a);
		oracle(ret < 0 || (a->bp.usecs && a->bp.usecs <=
				     UNET_BUSY_POLL_MAX_US && !a->bp.flags &&
				     !a->bp.reserved),
		       "busy poll accepted bad arguments", a->bp.usecs,
		       a->bp.flags);
		ret = ret < 0 ? ret : 0;
		break;
	default:
		a->ni.nic = fz_chance(80) ? 0 : fz_u32();
		ret = ioctl(fd, UNET_IOC_NIC_INFO, a);
	}
	if (!ret)
		ok_calls++;
}

static void do_destroy(void)
{
	uint32_t h;
	int i, ret;

	if (!nceps || fz_chance(20)) {
		h = fz_u32();
		for (i = 0; i < nceps; i++)
			if (ceps[i].handle == h)
				return;
		ret = ioctl(fd, UNET_IOC_EP_DESTROY, &h);
		oracle(ret < 0 && errno == ENOENT, "destroy of no endpoint",
		       h, errno);
		return;
	}
	i = fz_below(nceps);
	h = ceps[i].handle;
	ret = ioctl(fd, UNET_IOC_EP_DESTROY, &h);
	oracle(ret == 0, "destroy of a live endpoint", h, errno);
	/* The handle is dead now: everything on it is ENOENT. */
	ret = ioctl(fd, UNET_IOC_KICK, &h);
	oracle(ret < 0 && errno == ENOENT, "kick of a destroyed handle", h, errno);
	if (ceps[i].q) {
		/* Its mapping stays (the vma holds the memory): scribble. */
		fz_bytes(ceps[i].q, 512);
		if (fz_chance(50)) {
			ceps[i].q = NULL;	/* leak the map to exit */
		}
	}
	ep_forget(i);
}

/* A whole context: open, make things, close with maps alive, poke them. */
static void do_context_cycle(void)
{
	int f = open(UNET_DEVICE_PATH, O_RDWR);
	struct unet_ep_create r = { .mode = fz_below(2), .tx_entries = 8,
				    .rx_entries = 8, .fq_entries = 8 };
	void *q = MAP_FAILED;
	int ret;

	if (f < 0)
		return;
	if (r.mode == UNET_MODE_BASE)
		r.segment_size = 8192;
	if (!ioctl(f, UNET_IOC_EP_CREATE, &r)) {
		q = mmap(NULL, r.queue_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 f, (off_t)r.queue_offset);
		if (fz_chance(50)) {
			struct unet_chan_create cc = { .handle = r.handle,
						       .remote_ep = r.ep_id };
			memcpy(cc.remote_mac, mac, 6);
			ioctl(f, UNET_IOC_CHAN_CREATE, &cc);
		}
	}
	if (fz_chance(30)) {
		int g = dup(f);

		close(f);
		f = g;
	}
	if (fz_chance(20)) {
		pid_t p = fork();

		if (p == 0) {
			/* Another address space: refused. */
			ret = ioctl(f, UNET_IOC_KICK, &r.handle);
			_exit(ret < 0 && errno == EPERM ? 0 : 1);
		}
		if (p > 0) {
			int st;

			waitpid(p, &st, 0);
			oracle(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			       "child used the parent's context", st, 0);
		}
	}
	close(f);
	if (q != MAP_FAILED) {
		fz_bytes(q, 4096);	/* the context is gone, the map is not */
		munmap(q, r.queue_size);
	}
}

int main(int argc, char **argv)
{
	uint64_t seed = fz_seed_arg(argc, argv, "fuzz_control");
	long want = fz_long_arg(argc, argv, "--cases", 100000);
	uint32_t checked = (uint32_t)fz_long_arg(argc, argv, "--checked", 1000);
	struct fz_pair_shm *pair = fz_shared(sizeof(*pair));
	struct fz_tally t = { 0 };
	pid_t ppid[2];
	double t0 = gt_now_ms();
	struct unet *u = gt_open();

	gt_nic_mac(u, mac);
	unet_close(u);
	fz_pair_start(pair, 2000, checked, ppid);

	fd = open(UNET_DEVICE_PATH, O_RDWR);
	if (fd < 0)
		gt_die("open");
	buf = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		gt_die("mmap");
	munmap(buf + 4096, 4096);		/* a hole after the first page */
	ro_page = buf + 2 * 4096;
	mprotect(ro_page, 4096, PROT_READ);
	none_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);

	for (cases = 0; (long)cases < want; cases++) {
		uint32_t op = fz_below(100);

		if (op < 30)
			do_raw_ioctl();
		else if (op < 60)
			do_known();
		else if (op < 72)
			do_create();
		else if (op < 82)
			do_destroy();
		else if (op < 95)
			do_mmap();
		else if (op < 97)
			do_context_cycle();
		else {
			/* Reopen the context: everything left goes at close. */
			close(fd);
			nceps = 0;
			fd = open(UNET_DEVICE_PATH, O_RDWR);
			if (fd < 0)
				gt_die("reopen");
		}
	}
	close(fd);
	printf("# control: %llu cases (%llu succeeded) in %.1f s\n",
	       (unsigned long long)cases, (unsigned long long)ok_calls,
	       (gt_now_ms() - t0) / 1000);
	fz_pair_wait(pair, ppid, &t, "control-checked");
	gt_result(!oracle_fail, "fuzz-control-oracles",
		  "%llu calls answered wrongly", (unsigned long long)oracle_fail);
	gt_result(t.misdelivered == 0 && t.lost_unaccounted == 0 &&
		  !t.failures && t.checked_lost == 0,
		  "fuzz-control-checked-traffic",
		  "misdelivered %llu unaccounted %llu lost %llu",
		  (unsigned long long)t.misdelivered,
		  (unsigned long long)t.lost_unaccounted,
		  (unsigned long long)t.checked_lost);
	printf("FUZZJSON {\"fuzzer\":\"control\",\"seed\":%llu,"
	       "\"control_cases\":%llu,\"misdelivered\":%llu,"
	       "\"lost_accounted\":%llu,\"checked_msgs\":%llu,"
	       "\"oracle_failures\":%llu,\"failures\":%llu}\n",
	       (unsigned long long)seed, (unsigned long long)cases,
	       (unsigned long long)t.misdelivered,
	       (unsigned long long)t.lost_unaccounted,
	       (unsigned long long)t.checked_msgs,
	       (unsigned long long)oracle_fail,
	       (unsigned long long)(t.failures + oracle_fail));
	return gt_exit();
}
