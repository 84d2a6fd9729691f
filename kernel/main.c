// SPDX-License-Identifier: GPL-2.0
/*
 * unetmm.ko: U-Net/MM, a user-level network interface whose NIC translates
 * process virtual addresses through a TLB kept coherent with the kernel's VM.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/string.h>

#include "unet.h"
#include "agent/agent.h"
#include "nic/nic.h"
#include "tlb/tlb.h"

static char *netdev = "";
module_param(netdev, charp, 0444);
MODULE_PARM_DESC(netdev,
		 "comma-separated netdevs to attach a NIC to (none: one loopback-only NIC)");

/*
 * How the TLB translates, for every NIC: "pin" pins each page an entry
 * maps (FOLL_LONGTERM); "nopin" pins nothing, and keeps the TLB coherent
 * with an interval notifier that waits for copies in flight (see
 * docs/ARCHITECTURE.md, "Pin-free translation").
 */
static char *translate = "pin";
module_param(translate, charp, 0444);
MODULE_PARM_DESC(translate, "pin or nopin: whether TLB entries pin their pages (default pin)");
bool unet_nopin;

/*
 * 1024 entries reach 4 MiB: sixteen 64 KiB messages in flight for each of
 * four busy endpoints, while bounding pinned memory per NIC to 4 MiB.
 * docs/ARCHITECTURE.md explains the choice.  A pin-free entry costs only
 * its own 48 bytes, so translate=nopin defaults to 4096 entries (16 MiB
 * of reach for 192 KiB per NIC).
 */
unsigned int unet_tlb_size;
module_param_named(tlb_entries, unet_tlb_size, uint, 0444);
MODULE_PARM_DESC(tlb_entries, "TLB entries per NIC, power of two (default 1024; 4096 with translate=nopin)");

unsigned int unet_tlb_ways = 4;
module_param_named(tlb_ways, unet_tlb_ways, uint, 0444);
MODULE_PARM_DESC(tlb_ways, "TLB associativity, power of two >= 2 (default 4)");

/*
 * A miss translates the rest of its buffer, up to an adaptive batch of at
 * most this many pages (and a quarter of the TLB): a cold 64 KiB message
 * costs one miss, not sixteen.  1 translates one page per miss.
 */
unsigned int unet_tlb_batch_max = UNET_TLB_BATCH_MAX;
module_param_named(tlb_batch, unet_tlb_batch_max, uint, 0444);
MODULE_PARM_DESC(tlb_batch, "most pages one TLB miss translates, 1..64 (default 64)");

/*
 * A sender whose own system call runs the send engine (the doorbell found
 * the NIC idle) translates its message's buffers there before copying,
 * instead of missing and waiting for the agent's worker (agent.c,
 * unet_agent_fill_now()).  Writable at run time so that one boot can
 * measure both ways side by side.
 */
bool unet_sync_fill = true;
module_param_named(sync_fill, unet_sync_fill, bool, 0644);
MODULE_PARM_DESC(sync_fill, "translate a sender's buffers in its own system call (default Y)");

/*
 * Which idle way a miss evicts (kernel/tlb/tlb.h).  "ahead": LRU, but a
 * page translated ahead of use is kept until it is used, while younger
 * than 32 clock ticks per entry; under a job's cyclic streams LRU evicts
 * the batch a process will use next before its turn comes
 * (eval/tlbsim: 64 processes streaming 1 MiB each through 1024 entries,
 * 1.1 misses per 64 KiB message against LRU's 5.8).  "lru" and "scan"
 * (bimodal insertion) for comparison.
 */
static char *unet_tlb_policy_name = "ahead";
module_param_named(tlb_policy, unet_tlb_policy_name, charp, 0444);
MODULE_PARM_DESC(tlb_policy, "TLB replacement: ahead, lru or scan (default ahead)");
unsigned int unet_tlb_policy;

/*
 * A page of a 2 MiB transparent huge page or hugetlbfs page, mapped whole,
 * takes one TLB entry for its 2 MiB, which pins its 512 pages: at most
 * this many such entries per NIC, so that what a NIC pins stays bounded
 * (4 MiB of 4 KiB entries and 32 MiB of huge ones by default).
 */
unsigned int unet_tlb_huge = 16;
module_param_named(tlb_huge, unet_tlb_huge, uint, 0444);
MODULE_PARM_DESC(tlb_huge, "2 MiB TLB entries per NIC at most, 0 for none (default 16)");

/*
 * A receiver with 64 free buffers of 64 KiB lets its sender have 64
 * messages, 2880 frames of 1500 bytes, on the way: all of them may arrive
 * while its first buffer is translated.  At 2048 frames the rest were
 * dropped (drop_backlog) and unet_bw --check lost messages across the
 * wire.  4096 frames are 6 MB: what arrives at 50 MB/s during a 120 ms
 * translation, the slowest seen under load, or at 10 Gb/s during 5 ms.
 */
unsigned int unet_backlog_frames = 4096;
module_param_named(backlog_frames, unet_backlog_frames, uint, 0444);
MODULE_PARM_DESC(backlog_frames,
		 "frames an endpoint may hold while its receive buffers are translated (default 4096)");

/*
 * What arrives during a slow translation, in memory: a 1514-byte frame
 * takes 2.77 KiB (its skb's truesize, on 6.1's and 6.12's virtio-net
 * alike), so those 2880 frames take 7.8 MiB; one endpoint may take half
 * of the NIC's 16 MiB.  docs/ARCHITECTURE.md.
 */
unsigned int unet_backlog_kib = 16384;
module_param_named(backlog_kib, unet_backlog_kib, uint, 0444);
MODULE_PARM_DESC(backlog_kib,
		 "KiB of frames a NIC may hold for all its endpoints together while buffers are translated (default 16384)");

unsigned int unet_reasm_timeout_ms = 1000;
module_param_named(reasm_timeout_ms, unet_reasm_timeout_ms, uint, 0444);
MODULE_PARM_DESC(reasm_timeout_ms,
		 "drop a message whose fragments, or parked frames, have not moved for this long (default 1000)");

/*
 * A loopback message stopped on its sender's page (a fault that takes its
 * time, or never ends) holds an rx slot and buffers of its receiver: they
 * go back after this long.  Longer than reasm_timeout_ms, because the
 * sender is on this host and merely slow, not lost.
 */
unsigned int unet_stall_timeout_ms = 10000;
module_param_named(stall_timeout_ms, unet_stall_timeout_ms, uint, 0444);
MODULE_PARM_DESC(stall_timeout_ms,
		 "drop a loopback message whose sender's page has not come for this long (default 10000)");

unsigned int unet_max_endpoints = 65535;
module_param_named(max_endpoints, unet_max_endpoints, uint, 0444);
MODULE_PARM_DESC(max_endpoints,
		 "endpoints a NIC serves at once, 1..65535 (default 65535); ids cycle through this many slots");

/*
 * A fault-in that waits (a userfaultfd, a FUSE server) holds one of the
 * agent's workers; 16 per user leave the workqueue's 512 to 32 users.
 */
unsigned int unet_max_user_faults = 16;
module_param_named(max_user_faults, unet_max_user_faults, uint, 0444);
MODULE_PARM_DESC(max_user_faults,
		 "page faults one user's buffers may have waiting at once (default 16)");

/* See tx.c: the driver's ring bounds frames in flight; this only caps them. */
unsigned int unet_tx_inflight_max = 1024;
module_param_named(tx_inflight_max, unet_tx_inflight_max, uint, 0444);
MODULE_PARM_DESC(tx_inflight_max,
		 "frames one endpoint may have in the netdev's driver at once, 16..65536 (default 1024)");

int unet_wire_group = -1;
module_param_named(wire_group, unet_wire_group, int, 0444);
MODULE_PARM_DESC(wire_group,
		 "group id whose members may send on the wire without CAP_NET_RAW (default -1: none)");

struct dentry *unet_debugfs_root;
struct workqueue_struct *unet_free_wq;

static int __init unet_init(void)
{
	u32 sets;
	int ret;

	if (sysfs_streq(translate, "nopin")) {
		unet_nopin = true;
	} else if (!sysfs_streq(translate, "pin")) {
		pr_err("translate=%s: need pin or nopin\n", translate);
		return -EINVAL;
	}
	if (!unet_tlb_size)
		unet_tlb_size = unet_nopin ? 4096 : 1024;
	if (unet_tlb_ways < 2 ||
	    unet_tlb_geometry(unet_tlb_size, unet_tlb_ways, &sets)) {
		pr_err("tlb_entries=%u tlb_ways=%u: need powers of two, 2 <= ways <= 64, ways <= entries\n",
		       unet_tlb_size, unet_tlb_ways);
		return -EINVAL;
	}
	if (!strcmp(unet_tlb_policy_name, "ahead")) {
		unet_tlb_policy = UNET_TLB_AHEAD_FIRST;
	} else if (!strcmp(unet_tlb_policy_name, "lru")) {
		unet_tlb_policy = UNET_TLB_LRU;
	} else if (!strcmp(unet_tlb_policy_name, "scan")) {
		unet_tlb_policy = UNET_TLB_SCAN_RESISTANT;
	} else {
		pr_err("tlb_policy=%s: need ahead, lru or scan\n",
		       unet_tlb_policy_name);
		return -EINVAL;
	}
	if (!unet_tlb_batch_max || unet_tlb_batch_max > UNET_TLB_BATCH_MAX) {
		pr_err("tlb_batch=%u: need 1..%u\n", unet_tlb_batch_max,
		       UNET_TLB_BATCH_MAX);
		return -EINVAL;
	}
	if (!unet_backlog_frames || !unet_backlog_kib ||
	    !unet_reasm_timeout_ms || !unet_stall_timeout_ms ||
	    !unet_max_user_faults) {
		pr_err("backlog_frames, backlog_kib, reasm_timeout_ms, stall_timeout_ms and max_user_faults must be positive\n");
		return -EINVAL;
	}
	if (unet_tx_inflight_max < 16 || unet_tx_inflight_max > 65536) {
		pr_err("tx_inflight_max=%u: need 16..65536\n",
		       unet_tx_inflight_max);
		return -EINVAL;
	}
	if (!unet_max_endpoints ||
	    unet_max_endpoints >= 1u << UNET_EP_SLOT_BITS) {
		pr_err("max_endpoints=%u: need 1..%u\n", unet_max_endpoints,
		       (1u << UNET_EP_SLOT_BITS) - 1);
		return -EINVAL;
	}

	unet_free_wq = alloc_workqueue("unetmm-free", 0, 0);
	if (!unet_free_wq)
		return -ENOMEM;
	ret = unet_agent_init();
	if (ret)
		goto err_free_wq;
	unet_debugfs_root = debugfs_create_dir("unetmm", NULL);
	ret = unet_nics_init(netdev);
	if (ret)
		goto err_agent;
	ret = unet_chardev_init();
	if (ret)
		goto err_nics;
	pr_info("U-Net/MM ABI %d: %u NIC(s), TLB %u entries %u-way, translate=%s\n",
		UNET_ABI_VERSION, unet_nr_nics(), unet_tlb_size, unet_tlb_ways,
		unet_nopin ? "nopin" : "pin");
	return 0;

err_nics:
	unet_nics_stop();
	unet_nics_free();
err_agent:
	debugfs_remove_recursive(unet_debugfs_root);
	unet_agent_exit();
err_free_wq:
	destroy_workqueue(unet_free_wq);
	return ret;
}

/*
 * No context is left (each holds a module reference), but the last
 * frees may still be running: the engines first, then the agent, then the
 * frees they queue, whose counters reach the NICs, then the NICs.
 */
static void __exit unet_exit(void)
{
	unet_chardev_exit();
	unet_nics_stop();
	unet_agent_exit();
	destroy_workqueue(unet_free_wq);
	rcu_barrier();		/* endpoints are freed by RCU callbacks */
	unet_nics_free();
	debugfs_remove_recursive(unet_debugfs_root);
}

module_init(unet_init);
module_exit(unet_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The unetmm developers");
MODULE_DESCRIPTION("U-Net/MM: user-level network interface with a VM-coupled NIC TLB");
