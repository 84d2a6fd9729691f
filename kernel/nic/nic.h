/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The software NIC.  The device hands it endpoints and doorbells; the agent
 * hands it translations.  Nothing here calls into the VM system.
 */
#ifndef UNET_NIC_H
#define UNET_NIC_H

#include "../unet.h"

/* nic.c: instances, one per attached netdev (or one loopback-only NIC). */
int unet_nics_init(const char *netdevs);
void unet_nics_stop(void);
void unet_nics_free(void);
u32 unet_nr_nics(void);
struct unet_nic *unet_nic_by_index(u32 index);

/**
 * unet_nic_add_endpoint() - give an endpoint its id on a NIC
 * @nic: the NIC
 * @ep: the endpoint, not yet visible to anyone
 *
 * Takes the next free slot after the last one handed out; when the slots
 * wrap, the NIC's generation advances, so an id is not handed out again
 * before 2^16 wraps.  Return: 0, or -ENOSPC when every slot is taken.
 */
int unet_nic_add_endpoint(struct unet_nic *nic, struct unet_endpoint *ep);
void unet_nic_remove_endpoint(struct unet_nic *nic, struct unet_endpoint *ep);

/**
 * unet_nic_find_ep() - the live endpoint an id names, under rcu_read_lock()
 * @nic: the NIC
 * @id: a wire tag; a stale generation names nothing
 */
struct unet_endpoint *unet_nic_find_ep(struct unet_nic *nic, u32 id);

extern const char *const unet_nic_counter_names[];
extern const char *const unet_ep_counter_names[];

void unet_nic_mac(struct unet_nic *nic, u8 *mac);
bool unet_nic_is_local(struct unet_nic *nic, const u8 *mac);
void unet_nic_info(struct unet_nic *nic, struct unet_nic_info *info);

/**
 * unet_nic_activate() - put an endpoint on the NIC's poll list for a while
 * @ep: an endpoint that just had traffic (or was just made)
 *
 * The NIC's 100 ms poll visits only endpoints active in the last second or
 * with fragments or frames in progress.  Call without ep->rx.lock held.
 */
void unet_nic_activate(struct unet_endpoint *ep);
void unet_nic_deactivate(struct unet_endpoint *ep);

/* tx.c: the send engine. */
void unet_tx_kick(struct unet_endpoint *ep);
void unet_tx_work(struct work_struct *work);
void unet_tx_stop(struct unet_endpoint *ep);
void unet_tx_wake_room(struct unet_nic *nic, enum unet_tx_wake cause);
void unet_tx_room_timer(struct timer_list *t);

/* rx.c: the receive engine. */
int unet_rx_frame(struct sk_buff *skb, struct net_device *dev,
		  struct packet_type *pt, struct net_device *orig_dev);
int unet_rx_local(struct unet_endpoint *dst, struct unet_endpoint *src,
		  struct unet_tx_msg *msg);
void unet_rx_local_abort(struct unet_endpoint *dst, struct unet_endpoint *src,
			 struct unet_tx_msg *msg);
void unet_rx_work(struct work_struct *work);
int unet_rx_busy_poll(struct unet_endpoint *ep, u32 usecs);
void unet_rx_stop(struct unet_endpoint *ep);
void unet_rx_abort_channel(struct unet_endpoint *ep, u32 channel);
bool unet_rx_poll(struct unet_endpoint *ep);
int unet_rx_find_channel(struct unet_endpoint *ep, bool local,
			 const u8 *mac, u32 remote_ep);

/*
 * dma.c: the DMA engine, the only code that touches process buffers.
 * A span is one side of a copy: kernel memory, an skb, or a list of an
 * endpoint's buffers (segment offsets or virtual addresses by its mode).
 */
enum unet_span_kind { UNET_SPAN_KERNEL, UNET_SPAN_SKB, UNET_SPAN_EP };

struct unet_span {
	enum unet_span_kind kind;
	union {
		u8 *kbuf;
		struct {
			struct sk_buff *skb;
			u32 skb_off;
		};
		struct {
			struct unet_endpoint *ep;
			const struct unet_sge *sge;
			u32 nsge;
			bool write;
			/* who to resume when a miss is served */
			struct unet_endpoint *waiter;
			enum unet_engine engine;
		};
	};
	int fault;		/* enum unet_status of a refused buffer */
	bool missed;		/* a copy stopped on a miss of this side */
};

int unet_dma_copy(struct unet_span *dst, u32 doff, struct unet_span *src,
		  u32 soff, u32 len, u32 *copied);
int unet_dma_check_sge(struct unet_endpoint *ep, const struct unet_sge *sge);
void unet_dma_translate_now(struct unet_endpoint *ep,
			    const struct unet_sge *sge, u32 nsge, bool write);
u32 unet_dma_prefetch(struct unet_endpoint *ep, const struct unet_sge *sge,
		      u32 nsge, bool write, u32 max_pages);

void unet_ep_queue_work(struct unet_endpoint *ep, struct work_struct *work);

/**
 * unet_nic_translation_ready() - the agent answered a miss
 * @ep: the endpoint whose engine waited
 * @engine: that engine, which resumes from where it stopped
 */
void unet_nic_translation_ready(struct unet_endpoint *ep,
				enum unet_engine engine);

#endif /* UNET_NIC_H */
