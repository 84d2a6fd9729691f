// SPDX-License-Identifier: GPL-2.0
/*
 * broken.ko - deliberately misbehaves on load, so tests/harness/selftest can
 * prove that unet-vm notices kernel trouble and fails the run.
 *   insmod broken.ko            NULL dereference in init -> Oops (+ panic)
 *   insmod broken.ko mode=warn  WARN() and load normally -> "WARNING:" only
 * On the debug kernel (make debug-kernel), each detector once:
 *   mode=uaf     read after kfree            -> "BUG: KASAN: use-after-free"
 *   mode=lockdep A then B, later B then A    -> "possible circular locking
 *                                               dependency"
 *   mode=sleep   mutex_lock() under a spinlock -> "BUG: sleeping function
 *                                               called from invalid context"
 *                (msleep() would not do: it has no might_sleep() and only
 *                "scheduling while atomic" tells)
 *   mode=leak    kmalloc() and forget it     -> a kmemleak suspect
 * Each of these loads normally; only the kernel's report tells.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>

static char *mode = "oops";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "oops (default), warn, uaf, lockdep, sleep or leak");

static DEFINE_MUTEX(broken_a);
static DEFINE_MUTEX(broken_b);
static DEFINE_SPINLOCK(broken_lock);

static int __init broken_init(void)
{
	/* volatile: keep the compiler from proving the NULL and dropping it */
	int *volatile p = NULL;
	char *volatile q;

	if (!strcmp(mode, "warn")) {
		WARN(1, "broken: deliberate warning\n");
		return 0;
	}
	if (!strcmp(mode, "uaf")) {
		q = kmalloc(64, GFP_KERNEL);
		if (!q)
			return -ENOMEM;
		kfree(q);
		pr_info("broken: read after free: %d\n", q[3]);
		return 0;
	}
	if (!strcmp(mode, "lockdep")) {
		mutex_lock(&broken_a);
		mutex_lock(&broken_b);
		mutex_unlock(&broken_b);
		mutex_unlock(&broken_a);
		mutex_lock(&broken_b);
		mutex_lock(&broken_a);
		mutex_unlock(&broken_a);
		mutex_unlock(&broken_b);
		return 0;
	}
	if (!strcmp(mode, "sleep")) {
		spin_lock(&broken_lock);
		mutex_lock(&broken_a);	/* uncontended: might_sleep() only */
		mutex_unlock(&broken_a);
		spin_unlock(&broken_lock);
		return 0;
	}
	if (!strcmp(mode, "leak")) {
		q = kmalloc(200, GFP_KERNEL);
		pr_info("broken: leaking %px\n", q);
		return 0;
	}
	pr_info("broken: about to dereference NULL\n");
	*p = 42;
	return 0;
}

static void __exit broken_exit(void)
{
}

module_init(broken_init);
module_exit(broken_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("unet harness self-test: misbehave on load");
