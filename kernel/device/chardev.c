// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/unet: each open file is a context bound to the opener's address
 * space.  The control path (ioctl, mmap) lives here; the data path is the
 * mapped queues and the one-word doorbell, UNET_IOC_KICK.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "device.h"
#include "../nic/nic.h"
#include "../nic/ring.h"
#include "../agent/agent.h"

static DEFINE_IDA(asid_ida);

void unet_ctx_wake(struct unet_context *ctx)
{
	if (wq_has_sleeper(&ctx->wait))
		wake_up_interruptible_poll(&ctx->wait,
					   EPOLLIN | EPOLLOUT | EPOLLWRBAND);
}

static int unet_open(struct inode *inode, struct file *file)
{
	struct unet_context *ctx;
	int ret;

	if (!current->mm)
		return -EINVAL;
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return -ENOMEM;
	ret = ida_alloc_min(&asid_ida, 1, GFP_KERNEL);
	if (ret < 0)
		goto err_free;
	ctx->asid = ret;
	mutex_init(&ctx->lock);
	xa_init_flags(&ctx->endpoints, XA_FLAGS_ALLOC1);
	init_waitqueue_head(&ctx->wait);
	ctx->mm = current->mm;
	mmgrab(ctx->mm);
	ret = unet_agent_ctx_init(ctx);
	if (ret)
		goto err_mm;
	file->private_data = ctx;
	return nonseekable_open(inode, file);

err_mm:
	mmdrop(ctx->mm);
	ida_free(&asid_ida, ctx->asid);
err_free:
	kfree(ctx);
	return ret;
}

static int unet_release(struct inode *inode, struct file *file)
{
	struct unet_context *ctx = file->private_data;

	unet_ep_destroy_all(ctx);
	unet_agent_ctx_exit(ctx);
	xa_destroy(&ctx->endpoints);
	mmdrop(ctx->mm);
	ida_free(&asid_ida, ctx->asid);
	kfree(ctx);
	return 0;
}

static long ioc_nic_info(void __user *arg)
{
	struct unet_nic_info info;
	struct unet_nic *nic;

	if (copy_from_user(&info, arg, sizeof(info)))
		return -EFAULT;
	nic = unet_nic_by_index(info.nic);
	if (!nic)
		return -ENODEV;
	memset(&info, 0, sizeof(info));
	info.nic = nic->index;
	unet_nic_info(nic, &info);
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long ioc_nic_stats(void __user *arg)
{
	struct unet_nic_stats *st;
	struct unet_nic *nic;
	u32 index;
	long ret;
	int i;

	if (get_user(index, (u32 __user *)arg))
		return -EFAULT;
	nic = unet_nic_by_index(index);
	if (!nic)
		return -ENODEV;
	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	st->nic = index;
	for (i = 0; i < UNET_NIC_NR_COUNTERS; i++)
		st->ctr[i] = atomic64_read(&nic->ctr[i]);
	for (i = 0; i < UNET_MISS_HIST_BUCKETS; i++)
		st->miss_hist[i] = atomic64_read(&nic->miss_hist[i]);
	ret = copy_to_user(arg, st, sizeof(*st)) ? -EFAULT : 0;
	kfree(st);
	return ret;
}

static long ioc_ep_create(struct unet_context *ctx, void __user *arg)
{
	struct unet_ep_create req;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	ret = unet_ep_create(ctx, &req);
	if (ret)
		return ret;
	if (copy_to_user(arg, &req, sizeof(req))) {
		unet_ep_destroy(ctx, req.handle);
		return -EFAULT;
	}
	return 0;
}

static long ioc_ep_stats(struct unet_context *ctx, void __user *arg)
{
	struct unet_ep_stats st = { 0 };
	struct unet_endpoint *ep;
	int i;

	if (get_user(st.handle, (u32 __user *)arg))
		return -EFAULT;
	ep = unet_ep_lookup(ctx, st.handle);
	if (!ep)
		return -ENOENT;
	for (i = 0; i < UNET_EP_NR_COUNTERS; i++)
		st.ctr[i] = atomic64_read(&ep->ctr[i]);
	st.ctr[UNET_CTR_pinned_pages] = atomic_long_read(&ctx->pinned);
	unet_ep_put(ep);
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long ioc_kick(struct unet_context *ctx, u32 __user *arg)
{
	struct unet_endpoint *ep;
	u32 handle;

	if (get_user(handle, arg))
		return -EFAULT;
	ep = unet_ep_lookup(ctx, handle);
	if (!ep)
		return -ENOENT;
	unet_tx_kick(ep);
	unet_ep_put(ep);
	return 0;
}

static long unet_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct unet_context *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;
	union {
		struct unet_chan_create cc;
		struct unet_chan_destroy cd;
	} u;
	u32 handle;
	long ret;

	switch (cmd) {
	case UNET_IOC_NIC_INFO:
		return ioc_nic_info(uarg);
	case UNET_IOC_NIC_STATS:
		return ioc_nic_stats(uarg);
	}

	/* Everything else acts on the context's own address space. */
	if (current->mm != ctx->mm)
		return -EPERM;

	switch (cmd) {
	case UNET_IOC_KICK:
		return ioc_kick(ctx, uarg);
	case UNET_IOC_EP_CREATE:
		return ioc_ep_create(ctx, uarg);
	case UNET_IOC_EP_DESTROY:
		if (get_user(handle, (u32 __user *)uarg))
			return -EFAULT;
		return unet_ep_destroy(ctx, handle);
	case UNET_IOC_CHAN_CREATE:
		if (copy_from_user(&u.cc, uarg, sizeof(u.cc)))
			return -EFAULT;
		ret = unet_chan_create(ctx, &u.cc);
		if (!ret && copy_to_user(uarg, &u.cc, sizeof(u.cc))) {
			/* The caller never learns the id: take it back. */
			u.cd = (struct unet_chan_destroy){
				.handle = u.cc.handle,
				.channel = u.cc.channel,
			};
			unet_chan_destroy(ctx, &u.cd);
			ret = -EFAULT;
		}
		return ret;
	case UNET_IOC_CHAN_DESTROY:
		if (copy_from_user(&u.cd, uarg, sizeof(u.cd)))
			return -EFAULT;
		return unet_chan_destroy(ctx, &u.cd);
	case UNET_IOC_EP_STATS:
		return ioc_ep_stats(ctx, uarg);
	}
	return -ENOTTY;
}

static int unet_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct unet_context *ctx = file->private_data;

	if (current->mm != ctx->mm)
		return -EPERM;
	return unet_ep_mmap(ctx, vma);
}

/*
 * Readable when an endpoint has a message the process has not consumed,
 * writable when an endpoint's send queue has room, EPOLLWRBAND when a send
 * completed that the process has not taken yet (by the count it publishes
 * in tx_reaped).  Only NIC-owned indices are trusted; the process's are
 * compared against them and can only confuse its own poll.
 */
static __poll_t unet_poll(struct file *file, poll_table *wait)
{
	struct unet_context *ctx = file->private_data;
	struct unet_endpoint *ep;
	unsigned long handle;
	__poll_t mask = 0;

	poll_wait(file, &ctx->wait, wait);
	rcu_read_lock();
	xa_for_each(&ctx->endpoints, handle, ep) {
		u32 rx_cons = READ_ONCE(ep->ctrl->rx.cons);
		u32 tx_prod = READ_ONCE(ep->ctrl->tx.prod);
		int used = unet_ring_pending(tx_prod, READ_ONCE(ep->tx_cons),
					     ep->tx_entries);

		if (READ_ONCE(ep->rx_prod) != rx_cons)
			mask |= EPOLLIN | EPOLLRDNORM;
		if (used >= 0 && used < ep->tx_entries)
			mask |= EPOLLOUT | EPOLLWRNORM;
		if (READ_ONCE(ep->tx_cons) != READ_ONCE(ep->ctrl->tx_reaped))
			mask |= EPOLLWRBAND;
	}
	rcu_read_unlock();
	return mask;
}

static const struct file_operations unet_fops = {
	.owner = THIS_MODULE,
	.open = unet_open,
	.release = unet_release,
	.unlocked_ioctl = unet_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = unet_mmap,
	.poll = unet_poll,
	.llseek = no_llseek,
};

static struct miscdevice unet_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "unet",
	.fops = &unet_fops,
	.mode = 0666,
};

int unet_chardev_init(void)
{
	return misc_register(&unet_miscdev);
}

void unet_chardev_exit(void)
{
	misc_deregister(&unet_miscdev);
}
