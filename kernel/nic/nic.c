// SPDX-License-Identifier: GPL-2.0
/*
 * NIC instances: one per attached netdev, or a single loopback-only NIC.
 * Each owns its endpoint table, its TLB (through the agent) and its
 * counters, and follows its netdev's life through a netdevice notifier.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/rtnetlink.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "nic.h"
#include "../agent/agent.h"

extern struct dentry *unet_debugfs_root;

static struct unet_nic *nics[UNET_MAX_NICS];
static u32 nr_nics;
static bool notifier_registered;

u32 unet_nr_nics(void)
{
	return nr_nics;
}

struct unet_nic *unet_nic_by_index(u32 index)
{
	return index < nr_nics ? nics[index] : NULL;
}

void unet_nic_mac(struct unet_nic *nic, u8 *mac)
{
	unsigned int seq;

	do {
		seq = read_seqbegin(&nic->mac_lock);
		ether_addr_copy(mac, nic->mac);
	} while (read_seqretry(&nic->mac_lock, seq));
}

bool unet_nic_is_local(struct unet_nic *nic, const u8 *mac)
{
	u8 ours[ETH_ALEN] __aligned(2);

	unet_nic_mac(nic, ours);
	return ether_addr_equal(mac, ours);
}

void unet_nic_info(struct unet_nic *nic, struct unet_nic_info *info)
{
	struct net_device *dev;

	info->nr_nics = nr_nics;
	info->tlb_entries = unet_tlb_entries(&nic->tlb);
	info->tlb_ways = nic->tlb.ways;
	info->max_endpoints = unet_max_endpoints;
	unet_nic_mac(nic, info->mac);
	rcu_read_lock();
	dev = rcu_dereference(nic->netdev);
	if (dev) {
		info->flags |= UNET_NIC_WIRE;
		if (netif_running(dev) && netif_carrier_ok(dev))
			info->flags |= UNET_NIC_LINK_UP;
		strscpy(info->ifname, dev->name, sizeof(info->ifname));
		info->mtu = dev->mtu;
	} else {
		strscpy(info->ifname, "loopback", sizeof(info->ifname));
	}
	rcu_read_unlock();
}

int unet_nic_add_endpoint(struct unet_nic *nic, struct unet_endpoint *ep)
{
	u32 slot;
	int ret;

	mutex_lock(&nic->ep_lock);
	/* Reserved first: rx must not see the endpoint before its id. */
	ret = xa_alloc_cyclic(&nic->endpoints, &slot, NULL,
			      XA_LIMIT(1, unet_max_endpoints), &nic->next_slot,
			      GFP_KERNEL);
	if (ret == 1) {
		nic->generation++;	/* the slots wrapped */
		ret = 0;
	}
	if (!ret) {
		ep->id = (u32)nic->generation << UNET_EP_SLOT_BITS | slot;
		xa_store(&nic->endpoints, slot, ep, GFP_KERNEL);
		unet_nic_count(nic, UNET_NIC_endpoints, 1);
	}
	mutex_unlock(&nic->ep_lock);
	if (ret == -EBUSY)
		ret = -ENOSPC;
	if (!ret)
		unet_nic_activate(ep);
	return ret;
}

/* After this and an RCU grace period, the rx path cannot find @ep. */
void unet_nic_remove_endpoint(struct unet_nic *nic, struct unet_endpoint *ep)
{
	xa_erase(&nic->endpoints, UNET_EP_SLOT(ep->id));
	unet_nic_count(nic, UNET_NIC_endpoints, -1);
}

struct unet_endpoint *unet_nic_find_ep(struct unet_nic *nic, u32 id)
{
	struct unet_endpoint *ep;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "unet_nic_find_ep without RCU");
	ep = xa_load(&nic->endpoints, UNET_EP_SLOT(id));
	return ep && READ_ONCE(ep->id) == id ? ep : NULL;
}

void unet_nic_activate(struct unet_endpoint *ep)
{
	struct unet_nic *nic = ep->nic;

	WRITE_ONCE(ep->last_active, jiffies);
	/* Pairs with nic_poll()'s: one of us sees the other's store. */
	smp_mb();
	if (READ_ONCE(ep->on_active))
		return;
	spin_lock_bh(&nic->active_lock);
	if (!ep->on_active && !READ_ONCE(ep->dead)) {
		list_add_tail(&ep->active_node, &nic->active);
		WRITE_ONCE(ep->on_active, true);
	}
	spin_unlock_bh(&nic->active_lock);
}

/* The endpoint is dead: the poll must not look at it any more. */
void unet_nic_deactivate(struct unet_endpoint *ep)
{
	struct unet_nic *nic = ep->nic;

	spin_lock_bh(&nic->active_lock);
	if (ep->on_active) {
		list_del_init(&ep->active_node);
		WRITE_ONCE(ep->on_active, false);
	}
	spin_unlock_bh(&nic->active_lock);
}

/*
 * The NIC's slow poll, every 100 ms: drops messages whose fragments
 * stopped coming and frames parked for too long, and translates newly
 * posted free buffers, for the endpoints that were active lately or have
 * something in progress.  Idle endpoints cost it nothing.
 */
static void nic_poll(struct timer_list *t)
{
	struct unet_nic *nic = from_timer(nic, t, poll_timer);
	struct unet_endpoint *ep, *tmp;
	u64 t0 = ktime_get_ns();

	spin_lock(&nic->active_lock);
	list_for_each_entry_safe(ep, tmp, &nic->active, active_node) {
		bool busy = unet_rx_poll(ep);

		if (busy || !time_after(jiffies, READ_ONCE(ep->last_active) +
					HZ))
			continue;
		list_del_init(&ep->active_node);
		WRITE_ONCE(ep->on_active, false);
		/*
		 * Activated meanwhile?  It saw on_active still set, so it did
		 * not add itself: put it back.
		 */
		smp_mb();
		if (!time_after(jiffies, READ_ONCE(ep->last_active) + HZ)) {
			list_add_tail(&ep->active_node, &nic->active);
			WRITE_ONCE(ep->on_active, true);
		}
	}
	spin_unlock(&nic->active_lock);
	/* In case no frame of ours completes to say the ring has room. */
	unet_tx_wake_room(nic, UNET_TX_WAKE_TICK);
	unet_nic_count(nic, UNET_NIC_polls, 1);
	unet_nic_count(nic, UNET_NIC_poll_ns, ktime_get_ns() - t0);
	if (!READ_ONCE(nic->stopping))
		mod_timer(t, jiffies + HZ / 10);
}

const char *const unet_nic_counter_names[] = {
#define UNET_COUNTER_NAME(name) #name,
	UNET_NIC_COUNTERS(UNET_COUNTER_NAME)
#undef UNET_COUNTER_NAME
};

const char *const unet_ep_counter_names[] = {
#define UNET_COUNTER_NAME(name) #name,
	UNET_EP_COUNTERS(UNET_COUNTER_NAME)
#undef UNET_COUNTER_NAME
};

static int counters_show(struct seq_file *m, void *v)
{
	struct unet_nic *nic = m->private;
	int i;

	for (i = 0; i < UNET_NIC_NR_COUNTERS; i++)
		seq_printf(m, "%s %lld\n", unet_nic_counter_names[i],
			   atomic64_read(&nic->ctr[i]));
	for (i = 0; i < UNET_MISS_HIST_BUCKETS; i++)
		seq_printf(m, "miss_us_lt_%u %lld\n", 1u << i,
			   atomic64_read(&nic->miss_hist[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(counters);

static int endpoints_show(struct seq_file *m, void *v)
{
	struct unet_nic *nic = m->private;
	struct unet_endpoint *ep;
	unsigned long id;
	int i;

	rcu_read_lock();
	xa_for_each(&nic->endpoints, id, ep) {
		seq_printf(m, "ep %u mode %s", ep->id,
			   ep->mode == UNET_MODE_MM ? "mm" : "base");
		for (i = 0; i < UNET_EP_NR_COUNTERS; i++)
			seq_printf(m, " %s %lld", unet_ep_counter_names[i],
				   atomic64_read(&ep->ctr[i]));
		seq_putc(m, '\n');
	}
	rcu_read_unlock();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(endpoints);

static void nic_debugfs_init(struct unet_nic *nic)
{
	char name[16];

	snprintf(name, sizeof(name), "nic%u", nic->index);
	nic->debugfs = debugfs_create_dir(name, unet_debugfs_root);
	debugfs_create_file("counters", 0400, nic->debugfs, nic,
			    &counters_fops);
	debugfs_create_file("endpoints", 0400, nic->debugfs, nic,
			    &endpoints_fops);
}

static void nic_attach(struct unet_nic *nic, struct net_device *dev)
{
	nic->mtu = dev->mtu;
	ether_addr_copy(nic->mac, dev->dev_addr);
	nic->ptype.type = htons(UNET_ETHERTYPE);
	nic->ptype.dev = dev;
	nic->ptype.func = unet_rx_frame;
	nic->ptype.af_packet_priv = nic;
	rcu_assign_pointer(nic->netdev, dev);
	dev_add_pack(&nic->ptype);
}

/* The netdev is going away: become loopback-only, keep the endpoints. */
static void nic_detach(struct unet_nic *nic)
{
	struct net_device *dev = rtnl_dereference(nic->netdev);

	if (!dev)
		return;
	RCU_INIT_POINTER(nic->netdev, NULL);
	dev_remove_pack(&nic->ptype);	/* waits for receivers and senders */
	netdev_put(dev, &nic->dev_tracker);
	pr_info("nic%u: detached from %s\n", nic->index, dev->name);
}

static struct unet_nic *nic_create(u32 index, struct net_device *dev)
{
	struct unet_nic *nic;
	int ret;

	nic = kzalloc(sizeof(*nic), GFP_KERNEL);
	if (!nic)
		return ERR_PTR(-ENOMEM);
	nic->index = index;
	seqlock_init(&nic->mac_lock);
	xa_init_flags(&nic->endpoints, XA_FLAGS_ALLOC1);
	mutex_init(&nic->ep_lock);
	spin_lock_init(&nic->active_lock);
	INIT_LIST_HEAD(&nic->active);
	spin_lock_init(&nic->room_lock);
	INIT_LIST_HEAD(&nic->room_waiters);
	/*
	 * The engines resumed after a miss, as a NIC would: ahead of the
	 * processes that poll for them.  No WQ_MEM_RECLAIM: nothing in
	 * reclaim waits for the engines.
	 */
	nic->wq = alloc_workqueue("unetmm-nic%u", WQ_UNBOUND | WQ_HIGHPRI, 0,
				  index);
	if (!nic->wq) {
		ret = -ENOMEM;
		goto err_free;
	}
	timer_setup(&nic->poll_timer, nic_poll, 0);
	timer_setup(&nic->room_timer, unet_tx_room_timer, 0);
	ret = unet_agent_nic_init(nic);
	if (ret)
		goto err_wq;
	if (dev)
		nic_attach(nic, dev);
	mod_timer(&nic->poll_timer, jiffies + HZ / 10);
	nic_debugfs_init(nic);
	return nic;

err_wq:
	destroy_workqueue(nic->wq);
err_free:
	kfree(nic);
	return ERR_PTR(ret);
}

/* Stops the NIC's engines and drains its work; the NIC stays readable. */
static void nic_stop(struct unet_nic *nic)
{
	debugfs_remove_recursive(nic->debugfs);
	nic->debugfs = NULL;
	rtnl_lock();
	nic_detach(nic);
	rtnl_unlock();
	WRITE_ONCE(nic->stopping, true);
	del_timer_sync(&nic->poll_timer);
	/* No endpoint is left to arm it again: each holds the module. */
	del_timer_sync(&nic->room_timer);
	drain_workqueue(nic->wq);
}

static void nic_free(struct unet_nic *nic)
{
	unet_agent_nic_exit(nic);
	destroy_workqueue(nic->wq);
	WARN_ON(!xa_empty(&nic->endpoints));
	WARN_ON(atomic_long_read(&nic->backlog_bytes));
	xa_destroy(&nic->endpoints);
	kfree(nic);
}

static int nic_netdev_event(struct notifier_block *nb, unsigned long event,
			    void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);
	u32 i;

	for (i = 0; i < nr_nics; i++) {
		struct unet_nic *nic = nics[i];

		if (rtnl_dereference(nic->netdev) != dev)
			continue;
		switch (event) {
		case NETDEV_UNREGISTER:
			nic_detach(nic);
			break;
		case NETDEV_CHANGEMTU:
			WRITE_ONCE(nic->mtu, dev->mtu);
			break;
		case NETDEV_CHANGEADDR:
			/* Readers run in softirq: keep it out meanwhile. */
			write_seqlock_bh(&nic->mac_lock);
			ether_addr_copy(nic->mac, dev->dev_addr);
			write_sequnlock_bh(&nic->mac_lock);
			break;
		}
	}
	return NOTIFY_DONE;
}

static struct notifier_block nic_netdev_notifier = {
	.notifier_call = nic_netdev_event,
};

int unet_nics_init(const char *netdevs)
{
	char *list, *cur, *name;
	int ret;

	list = kstrdup(netdevs ? netdevs : "", GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	/*
	 * Listening before any netdev is held: an unregister that came in
	 * between would wait for our reference for ever.
	 */
	ret = register_netdevice_notifier_net(&init_net, &nic_netdev_notifier);
	if (ret)
		goto out;
	notifier_registered = true;

	rtnl_lock();
	cur = list;
	while ((name = strsep(&cur, ",")) != NULL) {
		struct net_device *dev;
		struct unet_nic *nic;

		name = strim(name);
		if (!*name)
			continue;
		if (nr_nics == UNET_MAX_NICS) {
			pr_err("at most %d netdevs\n", UNET_MAX_NICS);
			ret = -E2BIG;
			break;
		}
		dev = __dev_get_by_name(&init_net, name);
		if (!dev || dev->type != ARPHRD_ETHER) {
			pr_err("netdev %s: %s\n", name,
			       dev ? "not Ethernet" : "no such device");
			ret = -ENODEV;
			break;
		}
		nic = nic_create(nr_nics, dev);
		if (IS_ERR(nic)) {
			ret = PTR_ERR(nic);
			break;
		}
		netdev_hold(dev, &nic->dev_tracker, GFP_KERNEL);
		nics[nr_nics++] = nic;
		pr_info("nic%u: attached to %s, mtu %u, %pM\n", nic->index,
			name, dev->mtu, nic->mac);
	}
	rtnl_unlock();

	if (!ret && !nr_nics) {
		struct unet_nic *nic = nic_create(0, NULL);

		if (IS_ERR(nic)) {
			ret = PTR_ERR(nic);
		} else {
			nics[nr_nics++] = nic;
			pr_info("nic0: loopback only (no netdev= given)\n");
		}
	}
	if (ret) {
		unet_nics_stop();
		unet_nics_free();
	}
out:
	kfree(list);
	return ret;
}

/* Detaches every NIC and drains its engines' work. */
void unet_nics_stop(void)
{
	u32 i;

	if (notifier_registered)
		unregister_netdevice_notifier_net(&init_net,
						  &nic_netdev_notifier);
	notifier_registered = false;
	for (i = 0; i < nr_nics; i++)
		nic_stop(nics[i]);
}

void unet_nics_free(void)
{
	while (nr_nics)
		nic_free(nics[--nr_nics]);
}

/* Queues an engine's work; the queued work holds a reference. */
void unet_ep_queue_work(struct unet_endpoint *ep, struct work_struct *work)
{
	unet_ep_get(ep);
	if (!queue_work(ep->nic->wq, work))
		unet_ep_put(ep);
}

/* Resumes the engine that waited for the translation. */
void unet_nic_translation_ready(struct unet_endpoint *ep,
				enum unet_engine engine)
{
	if (READ_ONCE(ep->dead))
		return;
	unet_ep_queue_work(ep, engine == UNET_ENGINE_TX ? &ep->tx.work :
							  &ep->rx.work);
}
