// SPDX-License-Identifier: GPL-2.0
/*
 * broken.ko - deliberately misbehaves on load, so tests/harness/selftest can
 * prove that unet-vm notices kernel trouble and fails the run.
 *   insmod broken.ko            NULL dereference in init -> Oops (+ panic)
 *   insmod broken.ko mode=warn  WARN() and load normally -> "WARNING:" only
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/string.h>

static char *mode = "oops";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "oops (default) or warn");

static int __init broken_init(void)
{
	/* volatile: keep the compiler from proving the NULL and dropping it */
	int *volatile p = NULL;

	if (!strcmp(mode, "warn")) {
		WARN(1, "broken: deliberate warning\n");
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
