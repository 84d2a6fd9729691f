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
	u32 id;
	int ret;

	ret = xa_alloc(&nic->endpoints, &id, ep, XA_LIMIT(1, INT_MAX),
		       GFP_KERNEL);
	if (ret)
		return ret;
	ep->id = id;
	unet_nic_count(nic, UNET_NIC_endpoints, 1);
	return 0;
}

/* After this and an RCU grace period, the rx path cannot find @ep. */
void unet_nic_remove_endpoint(struct unet_nic *nic, struct unet_endpoint *ep)
{
	xa_erase(&nic->endpoints, ep->id);
	unet_nic_count(nic, UNET_NIC_endpoints, -1);
}

static const char *const nic_counter_names[] = {
#define UNET_COUNTER_NAME(name) #name,
	UNET_NIC_COUNTERS(UNET_COUNTER_NAME)
#undef UNET_COUNTER_NAME
};

static const char *const ep_counter_names[] = {
#define UNET_COUNTER_NAME(name) #name,
	UNET_EP_COUNTERS(UNET_COUNTER_NAME)
#undef UNET_COUNTER_NAME
};

static int counters_show(struct seq_file *m, void *v)
{
	struct unet_nic *nic = m->private;
	int i;

	for (i = 0; i < UNET_NIC_NR_COUNTERS; i++)
		seq_printf(m, "%s %lld\n", nic_counter_names[i],
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
			seq_printf(m, " %s %lld", ep_counter_names[i],
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
	nic->wq = alloc_workqueue("unetmm-nic%u", WQ_UNBOUND | WQ_MEM_RECLAIM,
				  0, index);
	if (!nic->wq) {
		ret = -ENOMEM;
		goto err_free;
	}
	timer_setup(&nic->reasm_timer, unet_rx_reasm_timer, 0);
	ret = unet_agent_nic_init(nic);
	if (ret)
		goto err_wq;
	if (dev)
		nic_attach(nic, dev);
	mod_timer(&nic->reasm_timer, jiffies + HZ / 10);
	nic_debugfs_init(nic);
	return nic;

err_wq:
	destroy_workqueue(nic->wq);
err_free:
	kfree(nic);
	return ERR_PTR(ret);
}

static void nic_destroy(struct unet_nic *nic)
{
	debugfs_remove_recursive(nic->debugfs);
	rtnl_lock();
	nic_detach(nic);
	rtnl_unlock();
	WRITE_ONCE(nic->stopping, true);
	del_timer_sync(&nic->reasm_timer);
	unet_agent_nic_exit(nic);
	destroy_workqueue(nic->wq);
	WARN_ON(!xa_empty(&nic->endpoints));
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
	int ret = 0;

	list = kstrdup(netdevs ? netdevs : "", GFP_KERNEL);
	if (!list)
		return -ENOMEM;

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
	kfree(list);
	if (!ret) {
		ret = register_netdevice_notifier_net(&init_net,
						      &nic_netdev_notifier);
		notifier_registered = !ret;
	}

	if (!ret && !nr_nics) {
		struct unet_nic *nic = nic_create(0, NULL);

		if (IS_ERR(nic)) {
			ret = PTR_ERR(nic);
		} else {
			nics[nr_nics++] = nic;
			pr_info("nic0: loopback only (no netdev= given)\n");
		}
	}
	if (ret)
		unet_nics_exit();
	return ret;
}

void unet_nics_exit(void)
{
	if (notifier_registered)
		unregister_netdevice_notifier_net(&init_net,
						  &nic_netdev_notifier);
	notifier_registered = false;
	while (nr_nics)
		nic_destroy(nics[--nr_nics]);
}

/* Queues an engine's work; the queued work holds a reference. */
void unet_ep_queue_work(struct unet_endpoint *ep, struct work_struct *work)
{
	unet_ep_get(ep);
	if (!queue_work(ep->nic->wq, work))
		unet_ep_put(ep);
}

/*
 * Both engines retry: the translation may be for either, and the receive
 * backlog may be filled only after the miss was posted (and served).
 */
void unet_nic_translation_ready(struct unet_endpoint *ep)
{
	if (READ_ONCE(ep->dead))
		return;
	unet_ep_queue_work(ep, &ep->tx_work);
	unet_ep_queue_work(ep, &ep->rx_work);
}
