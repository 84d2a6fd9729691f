// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/unet: each open file is a context bound to the opener's address
 * space.  The control path (ioctl, mmap) lives here; the data path is the
 * mapped queues and the one-word doorbell, UNET_IOC_KICK.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
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

void unet_ctx_get(struct unet_context *ctx)
{
	kref_get(&ctx->ref);
}

/*
 * The last reference may go in softirq (a sender's frame, a miss posted
 * from the receive path) or under locks: freeing waits for a work item.
 */
static void ctx_free_work(struct work_struct *work)
{
	struct unet_context *ctx = container_of(work, struct unet_context,
						free_work);

	unet_agent_ctx_free(ctx);
	xa_destroy(&ctx->endpoints);
	mmdrop(ctx->mm);
	ida_free(&asid_ida, ctx->asid);
	kfree(ctx);
	/* The module's exit drains this workqueue before it goes. */
	module_put(THIS_MODULE);
}

static void ctx_release(struct kref *ref)
{
	struct unet_context *ctx = container_of(ref, struct unet_context, ref);

	queue_work(unet_free_wq, &ctx->free_work);
}

void unet_ctx_put(struct unet_context *ctx)
{
	kref_put(&ctx->ref, ctx_release);
}

/*
 * Who may put frames on the wire: the opener's rights, fixed at open like
 * a socket's.  A raw packet socket needs CAP_NET_RAW; so does a channel to
 * another host, unless the opener is in the group of wire_group.
 */
static bool may_use_wire(struct file *file)
{
	if (file_ns_capable(file, &init_user_ns, CAP_NET_RAW))
		return true;
	return unet_wire_group >= 0 &&
	       in_group_p(make_kgid(&init_user_ns, unet_wire_group));
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
	kref_init(&ctx->ref);
	INIT_WORK(&ctx->free_work, ctx_free_work);
	mutex_init(&ctx->lock);
	xa_init_flags(&ctx->endpoints, XA_FLAGS_ALLOC1);
	init_waitqueue_head(&ctx->wait);
	ctx->wire_ok = may_use_wire(file);
	ctx->mm = current->mm;
	mmgrab(ctx->mm);
	ret = unet_agent_ctx_init(ctx);
	if (ret)
		goto err_mm;
	__module_get(THIS_MODULE);	/* for the context, beyond the file */
	file->private_data = ctx;
	return nonseekable_open(inode, file);

err_mm:
	mmdrop(ctx->mm);
	ida_free(&asid_ida, ctx->asid);
err_free:
	kfree(ctx);
	return ret;
}

/*
 * The file is gone: the endpoints go now, the context with its last
 * reference, which a miss in service may hold for as long as its page
 * fault waits.  Nothing here waits for one.
 */
static int unet_release(struct inode *inode, struct file *file)
{
	struct unet_context *ctx = file->private_data;

	unet_ep_destroy_all(ctx);
	unet_agent_ctx_exit(ctx);
	unet_ctx_put(ctx);
	return 0;
}

static long ioc_dev_info(void __user *arg)
{
	struct unet_dev_info info = {
		.abi_version = UNET_ABI_VERSION,
		.nr_nics = unet_nr_nics(),
		.features = UNET_FEAT_MODE_MM | UNET_FEAT_MODE_BASE |
			    UNET_FEAT_WAIT_SEND | UNET_FEAT_STATS_NAMES |
			    UNET_FEAT_EP_GEN | UNET_FEAT_BUSY_POLL,
		.nic_counters = UNET_NIC_NR_COUNTERS,
		.ep_counters = UNET_EP_NR_COUNTERS,
	};

	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long ioc_nic_info(struct unet_context *ctx, void __user *arg)
{
	struct unet_nic_info info;
	struct unet_nic *nic;

	if (copy_from_user(&info, arg, sizeof(info)))
		return -EFAULT;
	if (memchr_inv(info.reserved, 0, sizeof(info.reserved)))
		return -EINVAL;
	nic = unet_nic_by_index(info.nic);
	if (!nic)
		return -ENODEV;
	memset(&info, 0, sizeof(info));
	info.nic = nic->index;
	unet_nic_info(nic, &info);
	if (ctx->wire_ok && (info.flags & UNET_NIC_WIRE))
		info.flags |= UNET_NIC_WIRE_ACCESS;
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

/* Copies a set's names and values out; @fill reads value i. */
static long stats_copy_out(struct unet_stats *req, u32 n,
			   u64 (*fill)(void *src, u32 i), void *src,
			   const char *const *names, const char *name_fmt)
{
	u64 __user *values = u64_to_user_ptr(req->values);
	char __user *unames = u64_to_user_ptr(req->names);
	u32 i, want = min(req->count, n);

	for (i = 0; req->values && i < want; i++)
		if (put_user(fill(src, i), values + i))
			return -EFAULT;
	for (i = 0; req->names && i < want; i++) {
		char name[UNET_STAT_NAME_LEN] = { 0 };

		if (names)
			strscpy(name, names[i], sizeof(name));
		else
			snprintf(name, sizeof(name), name_fmt, 1u << i);
		if (copy_to_user(unames + (size_t)i * UNET_STAT_NAME_LEN, name,
				 sizeof(name)))
			return -EFAULT;
	}
	req->count = n;
	return 0;
}

static u64 read_atomic64(void *src, u32 i)
{
	return atomic64_read((atomic64_t *)src + i);
}

/* An endpoint's pinned_pages is its context's: pins are per space. */
struct ep_stats_src {
	struct unet_endpoint *ep;
	u64 pinned;
};

static u64 read_ep_counter(void *src, u32 i)
{
	struct ep_stats_src *s = src;

	if (i == UNET_CTR_pinned_pages)
		return s->pinned;
	return atomic64_read(&s->ep->ctr[i]);
}

static long ioc_stats(struct unet_context *ctx, void __user *arg)
{
	struct unet_stats req;
	struct unet_nic *nic;
	long ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || memchr_inv(req.reserved, 0, sizeof(req.reserved)))
		return -EINVAL;
	switch (req.scope) {
	case UNET_STATS_NIC:
		nic = unet_nic_by_index(req.id);
		if (!nic)
			return -ENODEV;
		ret = stats_copy_out(&req, UNET_NIC_NR_COUNTERS, read_atomic64,
				     nic->ctr, unet_nic_counter_names, NULL);
		break;
	case UNET_STATS_MISS_HIST:
		nic = unet_nic_by_index(req.id);
		if (!nic)
			return -ENODEV;
		ret = stats_copy_out(&req, UNET_MISS_HIST_BUCKETS,
				     read_atomic64, nic->miss_hist, NULL,
				     "miss_us_lt_%u");
		break;
	case UNET_STATS_EP: {
		struct ep_stats_src src;

		if (current->mm != ctx->mm)
			return -EPERM;
		src.ep = unet_ep_lookup(ctx, req.id);
		if (!src.ep)
			return -ENOENT;
		src.pinned = unet_agent_ctx_pinned(ctx);
		ret = stats_copy_out(&req, UNET_EP_NR_COUNTERS,
				     read_ep_counter, &src,
				     unet_ep_counter_names, NULL);
		unet_ep_put(src.ep);
		break;
	}
	default:
		return -EINVAL;
	}
	if (ret)
		return ret;
	return put_user(req.count, &((struct unet_stats __user *)arg)->count);
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

static long ioc_busy_poll(struct unet_context *ctx, void __user *arg)
{
	struct unet_busy_poll req;
	struct unet_endpoint *ep;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || req.reserved || !req.usecs ||
	    req.usecs > UNET_BUSY_POLL_MAX_US)
		return -EINVAL;
	ep = unet_ep_lookup(ctx, req.handle);
	if (!ep)
		return -ENOENT;
	ret = unet_rx_busy_poll(ep, req.usecs);
	unet_ep_put(ep);
	return ret;
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
	case UNET_IOC_DEV_INFO:
		return ioc_dev_info(uarg);
	case UNET_IOC_NIC_INFO:
		return ioc_nic_info(ctx, uarg);
	case UNET_IOC_STATS:
		return ioc_stats(ctx, uarg);
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
	case UNET_IOC_BUSY_POLL:
		return ioc_busy_poll(ctx, uarg);
	case UNET_IOC_CHAN_DESTROY:
		if (copy_from_user(&u.cd, uarg, sizeof(u.cd)))
			return -EFAULT;
		return unet_chan_destroy(ctx, &u.cd);
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
		int used = unet_ring_pending(tx_prod, READ_ONCE(ep->tx.cons),
					     ep->tx_entries);

		if (READ_ONCE(ep->rx.prod) != rx_cons)
			mask |= EPOLLIN | EPOLLRDNORM;
		if (used >= 0 && used < ep->tx_entries)
			mask |= EPOLLOUT | EPOLLWRNORM;
		if (READ_ONCE(ep->tx.cons) != READ_ONCE(ep->ctrl->tx_reaped))
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
	/* No .llseek: nonseekable_open() makes lseek fail with ESPIPE. */
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
