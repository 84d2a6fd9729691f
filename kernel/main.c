// SPDX-License-Identifier: GPL-2.0
/*
 * unetmm.ko: U-Net/MM, a user-level network interface whose NIC translates
 * process virtual addresses through a TLB kept coherent with the kernel's VM.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/module.h>

#include "unet.h"
#include "nic/nic.h"
#include "tlb/tlb.h"

static char *netdev = "";
module_param(netdev, charp, 0444);
MODULE_PARM_DESC(netdev,
		 "comma-separated netdevs to attach a NIC to (none: one loopback-only NIC)");

/*
 * 1024 entries reach 4 MiB: sixteen 64 KiB messages in flight for each of
 * four busy endpoints, while bounding pinned memory per NIC to 4 MiB.
 * docs/ARCHITECTURE.md explains the choice.
 */
unsigned int unet_tlb_size = 1024;
module_param_named(tlb_entries, unet_tlb_size, uint, 0444);
MODULE_PARM_DESC(tlb_entries, "TLB entries per NIC, power of two (default 1024)");

unsigned int unet_tlb_ways = 4;
module_param_named(tlb_ways, unet_tlb_ways, uint, 0444);
MODULE_PARM_DESC(tlb_ways, "TLB associativity, power of two >= 2 (default 4)");

unsigned int unet_backlog_frames = 1024;
module_param_named(backlog_frames, unet_backlog_frames, uint, 0444);
MODULE_PARM_DESC(backlog_frames,
		 "frames an endpoint may hold while its receive buffers are translated (default 1024)");

unsigned int unet_reasm_timeout_ms = 1000;
module_param_named(reasm_timeout_ms, unet_reasm_timeout_ms, uint, 0444);
MODULE_PARM_DESC(reasm_timeout_ms,
		 "drop a message whose fragments have not all arrived after this long (default 1000)");

struct dentry *unet_debugfs_root;
struct workqueue_struct *unet_free_wq;

static int __init unet_init(void)
{
	u32 sets;
	int ret;

	if (unet_tlb_ways < 2 ||
	    unet_tlb_geometry(unet_tlb_size, unet_tlb_ways, &sets)) {
		pr_err("tlb_entries=%u tlb_ways=%u: need powers of two, 2 <= ways <= 64, ways <= entries\n",
		       unet_tlb_size, unet_tlb_ways);
		return -EINVAL;
	}
	if (!unet_backlog_frames || !unet_reasm_timeout_ms) {
		pr_err("backlog_frames and reasm_timeout_ms must be positive\n");
		return -EINVAL;
	}

	unet_free_wq = alloc_workqueue("unetmm-free", 0, 0);
	if (!unet_free_wq)
		return -ENOMEM;
	unet_debugfs_root = debugfs_create_dir("unetmm", NULL);
	ret = unet_nics_init(netdev);
	if (ret)
		goto err_debugfs;
	ret = unet_chardev_init();
	if (ret)
		goto err_nics;
	pr_info("U-Net/MM ABI %d: %u NIC(s), TLB %u entries %u-way\n",
		UNET_ABI_VERSION, unet_nr_nics(), unet_tlb_size, unet_tlb_ways);
	return 0;

err_nics:
	unet_nics_exit();
err_debugfs:
	debugfs_remove_recursive(unet_debugfs_root);
	destroy_workqueue(unet_free_wq);
	return ret;
}

static void __exit unet_exit(void)
{
	unet_chardev_exit();
	/* Endpoints' last frees still reach their NIC's counters. */
	destroy_workqueue(unet_free_wq);
	unet_nics_exit();
	debugfs_remove_recursive(unet_debugfs_root);
	rcu_barrier();		/* endpoints are freed by RCU callbacks */
}

module_init(unet_init);
module_exit(unet_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The unetmm developers");
MODULE_DESCRIPTION("U-Net/MM: user-level network interface with a VM-coupled NIC TLB");
