// SPDX-License-Identifier: MIT
/*
 * Base-level segments are pinned memory charged to RLIMIT_MEMLOCK (the
 * process's locked_vm, VmLck in /proc/self/status).  An unprivileged
 * process (no CAP_IPC_LOCK) is refused beyond its limit with ENOMEM, what
 * account_locked_vm() returns in Linux 6.1; a refusal charges nothing.
 * Every endpoint's kernel memory (queues, segment, bookkeeping) is also
 * charged to the memory cgroup of the process that made it.
 *
 *   memlock
 */
#include <grp.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "guest_test.h"

#define KB	1024u

/* VmLck of this process in kB, or -1. */
static long vmlck_kb(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

static bool cap_eff_zero(void)
{
	char line[256];
	unsigned long long v = 1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &v) == 1)
			break;
	fclose(f);
	return v == 0;
}

static struct unet_ep *base_ep(struct unet *u, uint32_t size)
{
	struct unet_ep_attr a;

	unet_ep_attr_init(&a);
	a.mode = UNET_MODE_BASE;
	a.segment_size = size;
	a.tx_entries = a.rx_entries = a.fq_entries = 16;
	return unet_ep_create(u, &a);
}

static void set_limit(rlim_t bytes)
{
	struct rlimit rl = { bytes, bytes };

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		gt_die("setrlimit");
}

/* Refused with ENOMEM, charging nothing. */
static void expect_refused(struct unet *u, uint32_t size, const char *name,
			   long lck0, long seg0)
{
	struct unet_ep *ep;
	int e;

	errno = 0;
	ep = base_ep(u, size);
	e = errno;
	if (ep) {
		gt_result(false, name, "a %u KiB segment was allowed",
			  size / KB);
		unet_ep_destroy(ep);
		return;
	}
	if (e != ENOMEM) {
		gt_result(false, name, "errno %s, want ENOMEM", strerror(e));
		return;
	}
	if (vmlck_kb() != lck0) {
		gt_result(false, name, "VmLck %ld kB, was %ld", vmlck_kb(), lck0);
		return;
	}
	gt_result(gt_nic_counter(u, UNET_NIC_segment_pages) == seg0, name,
		  "NIC segment_pages %ld, was %ld",
		  gt_nic_counter(u, UNET_NIC_segment_pages), seg0);
}

/* Allowed, charging exactly the segment. */
static struct unet_ep *expect_allowed(struct unet *u, uint32_t size,
				      const char *name, long lck0, long seg0)
{
	struct unet_ep *ep;

	ep = base_ep(u, size);
	if (!ep) {
		gt_result(false, name, "%u KiB segment refused: %s", size / KB,
			  strerror(errno));
		return NULL;
	}
	if (vmlck_kb() != lck0 + (long)(size / KB))
		gt_result(false, name, "VmLck %ld kB, want %ld", vmlck_kb(),
			  lck0 + (long)(size / KB));
	else
		gt_result(gt_nic_counter(u, UNET_NIC_segment_pages) ==
				  seg0 + (long)(size / 4096), name,
			  "NIC segment_pages %ld, want %ld",
			  gt_nic_counter(u, UNET_NIC_segment_pages),
			  seg0 + (long)(size / 4096));
	return ep;
}

static void unprivileged(void)
{
	struct unet *u;
	struct unet_ep *a, *b, *c, *m;
	struct unet_ep_attr ma;
	long lck0, seg0;

	set_limit(256 * KB);
	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		gt_die("drop privileges");
	gt_result(geteuid() == 65534 && cap_eff_zero(),
		  "memlock-unprivileged-no-caps", "euid %u, CapEff not zero",
		  geteuid());
	u = unet_open();
	if (!u) {
		gt_result(false, "memlock-unprivileged-open",
			  "open /dev/unet as nobody: %s", strerror(errno));
		return;
	}
	lck0 = vmlck_kb();
	seg0 = gt_nic_counter(u, UNET_NIC_segment_pages);

	expect_refused(u, 1024 * KB, "memlock-1MiB-over-limit-enomem", lck0,
		       seg0);
	a = expect_allowed(u, 128 * KB, "memlock-128KiB-allowed", lck0, seg0);
	if (!a)
		return;
	/* Up to the limit exactly. */
	b = expect_allowed(u, 128 * KB, "memlock-second-128KiB-up-to-limit",
			   lck0 + 128, seg0 + 32);
	if (!b)
		return;
	expect_refused(u, 4 * KB, "memlock-one-page-past-limit-enomem",
		       lck0 + 256, seg0 + 64);
	/* MM endpoints pin lazily, not at creation: not charged here. */
	unet_ep_attr_init(&ma);
	m = unet_ep_create(u, &ma);
	gt_result(m && vmlck_kb() == lck0 + 256, "memlock-mm-endpoint-not-charged",
		  "%s, VmLck %ld", m ? "created" : strerror(errno), vmlck_kb());
	/* Giving one back makes room again. */
	unet_ep_destroy(a);
	gt_result(vmlck_kb() == lck0 + 128 &&
			  gt_nic_counter(u, UNET_NIC_segment_pages) == seg0 + 32,
		  "memlock-destroy-uncharges", "VmLck %ld, segment_pages %ld",
		  vmlck_kb(), gt_nic_counter(u, UNET_NIC_segment_pages));
	c = expect_allowed(u, 128 * KB, "memlock-128KiB-again-after-destroy",
			   lck0 + 128, seg0 + 32);
	/* Destroying the rest gives it all back. */
	unet_ep_destroy(b);
	if (c)
		unet_ep_destroy(c);
	if (m)
		unet_ep_destroy(m);
	gt_result(vmlck_kb() == lck0 &&
			  gt_nic_counter(u, UNET_NIC_segment_pages) == seg0,
		  "memlock-destroy-all-uncharges", "VmLck %ld (want %ld), "
		  "segment_pages %ld (want %ld)", vmlck_kb(), lck0,
		  gt_nic_counter(u, UNET_NIC_segment_pages), seg0);
	/* One left for exit to clean up (the parent checks the NIC). */
	expect_allowed(u, 128 * KB, "memlock-128KiB-left-for-exit", lck0, seg0);
}

/* Root keeps CAP_IPC_LOCK: the limit does not apply, the charge still does. */
static void privileged(void)
{
	struct unet *u;
	struct unet_ep *ep;
	long lck0, seg0;

	set_limit(256 * KB);
	u = gt_open();
	lck0 = vmlck_kb();
	seg0 = gt_nic_counter(u, UNET_NIC_segment_pages);
	ep = expect_allowed(u, 1024 * KB, "memlock-root-cap-ipc-lock-1MiB",
			    lck0, seg0);
	if (ep)
		unet_ep_destroy(ep);
	gt_result(vmlck_kb() == lck0, "memlock-root-destroy-uncharges",
		  "VmLck %ld, want %ld", vmlck_kb(), lck0);
	unet_close(u);
}

#define CG_ROOT	"/tmp/unet-cgroup"
#define CG	CG_ROOT "/unet-memcg-test"
/*
 * 4 kB control page, tx and rx 4096 x 128 B, fq 4096 x 16 B, 1 MiB segment:
 * 2116 kB of vmalloc memory, which memory.stat counts exactly.
 * (memory.current is no good for this: each CPU keeps up to 64 pages
 * charged in advance, so it moves by up to 256 kB per CPU either way.)
 */
#define CHARGED	(2116 * (long)KB)

static void cg_write(const char *file, const char *what)
{
	FILE *f = fopen(file, "w");

	if (!f || fputs(what, f) < 0 || fclose(f))
		gt_die(file);
}

/* The cgroup's vmalloc memory in bytes (memory.stat). */
static long cg_vmalloc(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen(CG "/memory.stat", "r");

	if (!f)
		gt_die("open memory.stat");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "vmalloc %ld", &v) == 1)
			break;
	fclose(f);
	if (v < 0)
		gt_die("no vmalloc line in memory.stat");
	return v;
}

/* memory.stat is flushed every 2 s at most: wait for it to say @want. */
static long cg_vmalloc_settle(long want, int ms)
{
	double end = gt_now_ms() + ms;
	long v;

	while ((v = cg_vmalloc()) != want && gt_now_ms() < end)
		usleep(50000);
	return v;
}

/*
 * In a fresh memory cgroup: an endpoint with 4096-entry rings (1 MiB of
 * queues, and a 1 MiB segment in base mode) is charged to it, all of it,
 * and destroying it gives all of it back.
 */
static void memcg(void)
{
	struct unet_ep_attr a;
	struct unet *u;
	struct unet_ep *ep;
	long c0, c1, c2;
	char pid[32];

	mkdir(CG_ROOT, 0755);
	if (mount("none", CG_ROOT, "cgroup2", 0, NULL) && errno != EBUSY)
		gt_die("mount cgroup2");
	cg_write(CG_ROOT "/cgroup.subtree_control", "+memory");
	if (mkdir(CG, 0755) && errno != EEXIST)
		gt_die("mkdir cgroup");
	snprintf(pid, sizeof(pid), "%d", getpid());
	cg_write(CG "/cgroup.procs", pid);

	u = gt_open();
	unet_ep_attr_init(&a);
	a.mode = UNET_MODE_BASE;
	a.segment_size = 1024 * KB;
	a.tx_entries = a.rx_entries = a.fq_entries = 4096;
	usleep(2500000);	/* memory.stat has been flushed since the move */
	c0 = cg_vmalloc();
	ep = unet_ep_create(u, &a);
	if (!ep)
		gt_die("create endpoint");
	c1 = cg_vmalloc_settle(c0 + CHARGED, 5000);
	unet_ep_destroy(ep);
	/* The endpoint is freed from a workqueue once its last user left. */
	c2 = cg_vmalloc_settle(c0, 5000);
	gt_result(c1 - c0 == CHARGED, "memcg-endpoint-charged",
		  "vmalloc +%ld kB for 2116 kB of queues and segment",
		  (c1 - c0) / (long)KB);
	gt_result(c2 == c0, "memcg-destroy-uncharges",
		  "vmalloc %+ld kB against before the endpoint, once it went",
		  (c2 - c0) / (long)KB);
	unet_close(u);
}

static void in_child(void (*fn)(void), const char *name)
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		gt_die("fork");
	if (pid == 0) {
		fn();
		exit(gt_exit());
	}
	if (waitpid(pid, &status, 0) != pid)
		gt_die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		gt_failed++;
		if (!WIFEXITED(status))
			gt_result(false, name, "child died, status 0x%x",
				  status);
	}
}

int main(void)
{
	struct unet *u = gt_open();
	long seg0 = gt_nic_counter(u, UNET_NIC_segment_pages);

	in_child(unprivileged, "memlock-unprivileged");
	in_child(privileged, "memlock-privileged");
	in_child(memcg, "memcg");
	/* The child has exited: its cgroup is empty and can go. */
	if (rmdir(CG))
		gt_die("rmdir cgroup");
	umount(CG_ROOT);
	gt_result(gt_nic_counter(u, UNET_NIC_segment_pages) == seg0,
		  "memlock-segment-pages-back", "segment_pages %ld, was %ld",
		  gt_nic_counter(u, UNET_NIC_segment_pages), seg0);
	unet_close(u);
	return gt_exit();
}
