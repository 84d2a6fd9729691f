// SPDX-License-Identifier: MIT
/*
 * The provider's entry point and what fi_getinfo offers: one fi_info per
 * endpoint type (RDM, DGRAM), each filtered against the caller's hints.
 * Also the fabric, domain, EQ and MR objects, which carry no protocol.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ufi.h"

struct ufi_env ufi_env;

static unsigned env_unsigned(const char *name, unsigned dflt)
{
	const char *s = getenv(name);

	return s && *s ? (unsigned)strtoul(s, NULL, 0) : dflt;
}

void ufi_env_load(void)
{
	const char *drop = getenv("UNET_FI_DROP");

	ufi_env.drop = drop ? strtod(drop, NULL) : 0.0;
	if (ufi_env.drop < 0 || ufi_env.drop >= 1)
		ufi_env.drop = 0;
	ufi_env.seed = env_unsigned("UNET_FI_SEED", (unsigned)getpid());
	ufi_env.rto_ms = env_unsigned("UNET_FI_RTO_MS", 20);
	ufi_env.peer_timeout_ms = env_unsigned("UNET_FI_PEER_TIMEOUT_MS", 10000);
	ufi_env.rx_bufs = env_unsigned("UNET_FI_RX_BUFS", 512);
	if (ufi_env.rx_bufs < 64)
		ufi_env.rx_bufs = 64;
	if (ufi_env.rx_bufs > UNET_RING_MAX)
		ufi_env.rx_bufs = UNET_RING_MAX;
	ufi_env.stats = env_unsigned("UNET_FI_STATS", 0) != 0;
	ufi_env.lazy_ack = env_unsigned("UNET_FI_LAZY_ACK", 1) != 0;
	ufi_env.drop_acks = env_unsigned("UNET_FI_DROP_ACKS", 0);
	ufi_env.busy_poll_us = env_unsigned("UNET_FI_BUSY_POLL_US", 50);
	ufi_env.rndv_min = env_unsigned("UNET_FI_RNDV", 4194304);
}

/* --- stubs for operations an object does not offer --- */

int ufi_no_bind(struct fid *fid, struct fid *bfid, uint64_t flags)
{
	(void)fid; (void)bfid; (void)flags;
	return -FI_ENOSYS;
}

int ufi_no_control(struct fid *fid, int command, void *arg)
{
	(void)fid; (void)command; (void)arg;
	return -FI_ENOSYS;
}

int ufi_no_ops_open(struct fid *fid, const char *name, uint64_t flags,
		    void **ops, void *context)
{
	(void)fid; (void)name; (void)flags; (void)ops; (void)context;
	return -FI_ENOSYS;
}

/* --- what is offered --- */

#define UFI_CAPS (FI_MSG | FI_TAGGED | FI_SEND | FI_RECV | FI_SOURCE | \
		  FI_DIRECTED_RECV | FI_REMOTE_CQ_DATA)
/* Secondary capabilities a caller may ask for without us listing them as
 * primary ones; FI_LOCAL_COMM and FI_REMOTE_COMM are both true: a peer in
 * this host goes through the NIC's loopback, one elsewhere over the wire. */
#define UFI_CAPS_ALL (UFI_CAPS | FI_LOCAL_COMM | FI_REMOTE_COMM)

static struct fi_info *ufi_info_template(enum fi_ep_type type)
{
	struct fi_info *fi = fi_allocinfo();

	if (!fi)
		return NULL;
	fi->caps = UFI_CAPS_ALL;
	fi->mode = 0;			/* no FI_CONTEXT, no prefix, no MR */
	fi->addr_format = FI_FORMAT_UNSPEC;
	fi->tx_attr->caps = UFI_CAPS_ALL & ~(FI_RECV | FI_SOURCE | FI_DIRECTED_RECV);
	/* Sends complete when acknowledged (FI_TRANSMIT_COMPLETE), except
	 * those of at most inject_size bytes, which complete when posted
	 * (FI_INJECT_COMPLETE) unless a completion flag asks for more. */
	fi->tx_attr->op_flags = 0;
	fi->tx_attr->msg_order = type == FI_EP_RDM ? FI_ORDER_SAS : FI_ORDER_NONE;
	fi->tx_attr->comp_order = FI_ORDER_NONE;
	fi->tx_attr->inject_size = UFI_INLINE_PAYLOAD;
	fi->tx_attr->size = UFI_TX_SIZE;
	fi->tx_attr->iov_limit = UFI_IOV_LIMIT;
	fi->tx_attr->rma_iov_limit = 0;
	fi->rx_attr->caps = UFI_CAPS_ALL & ~FI_SEND;
	fi->rx_attr->op_flags = 0;
	fi->rx_attr->msg_order = fi->tx_attr->msg_order;
	fi->rx_attr->comp_order = FI_ORDER_NONE;
	fi->rx_attr->total_buffered_recv = 0;
	fi->rx_attr->size = UFI_RX_SIZE;
	fi->rx_attr->iov_limit = UFI_IOV_LIMIT;
	fi->ep_attr->type = type;
	fi->ep_attr->protocol = FI_PROTO_UNSPEC;
	fi->ep_attr->protocol_version = UFI_PROTO_VERSION;
	/* RDM segments and reassembles; DGRAM is one U-Net message. */
	fi->ep_attr->max_msg_size = type == FI_EP_RDM ? (size_t)1 << 32 : UFI_SEG_MAX;
	fi->ep_attr->msg_prefix_size = 0;
	fi->ep_attr->max_order_raw_size = 0;
	fi->ep_attr->max_order_war_size = 0;
	fi->ep_attr->max_order_waw_size = 0;
	/* Every one of the 64 tag bits is matched (under the ignore mask):
	 * Open MPI's OFI MTL counts the bits it may use from this, and
	 * refuses a provider that says none. */
	fi->ep_attr->mem_tag_format = ~0ULL;
	fi->ep_attr->tx_ctx_cnt = 1;
	fi->ep_attr->rx_ctx_cnt = 1;
	fi->domain_attr->name = strdup("unet0");
	fi->domain_attr->threading = FI_THREAD_DOMAIN;
	fi->domain_attr->control_progress = FI_PROGRESS_MANUAL;
	fi->domain_attr->data_progress = FI_PROGRESS_MANUAL;
	fi->domain_attr->resource_mgmt = FI_RM_ENABLED;
	fi->domain_attr->av_type = FI_AV_UNSPEC;
	fi->domain_attr->mr_mode = 0;	/* any buffer works: U-Net/MM's point */
	fi->domain_attr->mr_key_size = sizeof(uint64_t);
	fi->domain_attr->cq_data_size = sizeof(uint64_t);
	fi->domain_attr->cq_cnt = 64;
	fi->domain_attr->ep_cnt = UNET_EP_PER_CTX;
	fi->domain_attr->tx_ctx_cnt = UNET_EP_PER_CTX;
	fi->domain_attr->rx_ctx_cnt = UNET_EP_PER_CTX;
	fi->domain_attr->max_ep_tx_ctx = 1;
	fi->domain_attr->max_ep_rx_ctx = 1;
	fi->domain_attr->mr_iov_limit = 1;
	fi->domain_attr->mr_cnt = 1 << 16;
	fi->domain_attr->caps = FI_LOCAL_COMM | FI_REMOTE_COMM;
	fi->fabric_attr->name = strdup(UFI_FABRIC_NAME);
	fi->fabric_attr->prov_version = UFI_PROV_VERSION;
	fi->fabric_attr->api_version = UFI_API_VERSION;
	if (!fi->domain_attr->name || !fi->fabric_attr->name) {
		fi_freeinfo(fi);
		return NULL;
	}
	return fi;
}

/* Does the caller's hint ask for nothing we lack?  Narrows @fi to it. */
static bool ufi_fits_hints(struct fi_info *fi, const struct fi_info *hints)
{
	if (!hints)
		return true;
	if (hints->caps & ~UFI_CAPS_ALL)
		return false;
	if (hints->caps)
		fi->caps = hints->caps | (fi->caps & (FI_LOCAL_COMM | FI_REMOTE_COMM));
	/* A mode bit is something the caller can live with: we need none. */
	if (hints->addr_format != FI_FORMAT_UNSPEC)
		return false;
	if (hints->ep_attr) {
		if (hints->ep_attr->type != FI_EP_UNSPEC &&
		    hints->ep_attr->type != fi->ep_attr->type)
			return false;
		if (hints->ep_attr->protocol != FI_PROTO_UNSPEC)
			return false;
		if (hints->ep_attr->max_msg_size > fi->ep_attr->max_msg_size)
			return false;
		if (hints->ep_attr->mem_tag_format)
			fi->ep_attr->mem_tag_format = hints->ep_attr->mem_tag_format;
	}
	if (hints->tx_attr) {
		if (hints->tx_attr->msg_order & ~fi->tx_attr->msg_order)
			return false;
		if (hints->tx_attr->inject_size > fi->tx_attr->inject_size ||
		    hints->tx_attr->size > fi->tx_attr->size ||
		    hints->tx_attr->iov_limit > fi->tx_attr->iov_limit)
			return false;
		if (hints->tx_attr->op_flags)
			fi->tx_attr->op_flags = hints->tx_attr->op_flags;
	}
	if (hints->rx_attr) {
		if (hints->rx_attr->msg_order & ~fi->rx_attr->msg_order)
			return false;
		if (hints->rx_attr->size > fi->rx_attr->size ||
		    hints->rx_attr->iov_limit > fi->rx_attr->iov_limit ||
		    hints->rx_attr->total_buffered_recv)
			return false;
		if (hints->rx_attr->op_flags)
			fi->rx_attr->op_flags = hints->rx_attr->op_flags;
	}
	if (hints->domain_attr) {
		const struct fi_domain_attr *d = hints->domain_attr;

		if (d->name && strcmp(d->name, fi->domain_attr->name))
			return false;
		/* Every level: all but DOMAIN take the domain's lock in
		 * every call (struct ufi_domain). */
		if (d->threading)
			fi->domain_attr->threading = d->threading;
		if (d->control_progress == FI_PROGRESS_AUTO ||
		    d->data_progress == FI_PROGRESS_AUTO)
			return false;
		if (d->av_type != FI_AV_UNSPEC)
			fi->domain_attr->av_type = d->av_type;
		if (d->cq_data_size > fi->domain_attr->cq_data_size)
			return false;
	}
	if (hints->fabric_attr) {
		if (hints->fabric_attr->name &&
		    strcmp(hints->fabric_attr->name, UFI_FABRIC_NAME))
			return false;
		if (hints->fabric_attr->prov_name &&
		    !strstr(hints->fabric_attr->prov_name, UFI_PROV_NAME))
			return false;
	}
	fi->tx_attr->caps = fi->caps & ~(FI_RECV | FI_SOURCE | FI_DIRECTED_RECV);
	fi->rx_attr->caps = fi->caps & ~FI_SEND;
	return true;
}

/* Is /dev/unet there and of our ABI?  An fi_info names no device that
 * cannot be opened: fi_info -p unet must be truthful. */
static bool ufi_device_present(void)
{
	struct unet *u = unet_open();

	if (!u)
		return false;
	unet_close(u);
	return true;
}

static int ufi_getinfo(uint32_t version, const char *node,
		       const char *service, uint64_t flags,
		       const struct fi_info *hints, struct fi_info **info)
{
	static const enum fi_ep_type types[] = { FI_EP_RDM, FI_EP_DGRAM };
	struct fi_info *head = NULL, *tail = NULL;
	size_t i;

	(void)version; (void)service;
	/* Addresses are opaque U-Net endpoint addresses, not host names. */
	if (node && !(flags & FI_SOURCE))
		return -FI_ENODATA;
	if (!ufi_device_present())
		return -FI_ENODATA;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct fi_info *fi = ufi_info_template(types[i]);

		if (!fi)
			goto nomem;
		if (!ufi_fits_hints(fi, hints)) {
			fi_freeinfo(fi);
			continue;
		}
		if (tail)
			tail->next = fi;
		else
			head = fi;
		tail = fi;
	}
	if (!head)
		return -FI_ENODATA;
	*info = head;
	return 0;
nomem:
	fi_freeinfo(head);
	return -FI_ENOMEM;
}

/* --- memory registration: accepted, never needed --- */

static int ufi_mr_close(struct fid *fid)
{
	free(ufi_container_of(fid, struct fid_mr, fid));
	return 0;
}

static struct fi_ops ufi_mr_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = ufi_mr_close,
	.bind = ufi_no_bind,
	.control = ufi_no_control,
	.ops_open = ufi_no_ops_open,
};

static int ufi_mr_reg(struct fid *fid, const void *buf, size_t len,
		      uint64_t access, uint64_t offset, uint64_t requested_key,
		      uint64_t flags, struct fid_mr **mr_out, void *context)
{
	struct fid_mr *mr = calloc(1, sizeof(*mr));

	(void)fid; (void)buf; (void)len; (void)access; (void)offset; (void)flags;
	if (!mr)
		return -FI_ENOMEM;
	mr->fid.fclass = FI_CLASS_MR;
	mr->fid.context = context;
	mr->fid.ops = &ufi_mr_fi_ops;
	/* No descriptor is needed by any operation: NIC access goes through
	 * the U-Net/MM TLB, filled from the process's page tables. */
	mr->mem_desc = NULL;
	mr->key = requested_key;
	*mr_out = mr;
	return 0;
}

static int ufi_mr_regv(struct fid *fid, const struct iovec *iov, size_t count,
		       uint64_t access, uint64_t offset, uint64_t requested_key,
		       uint64_t flags, struct fid_mr **mr, void *context)
{
	if (count > 1)
		return -FI_EINVAL;
	return ufi_mr_reg(fid, count ? iov[0].iov_base : NULL,
			  count ? iov[0].iov_len : 0, access, offset,
			  requested_key, flags, mr, context);
}

static int ufi_mr_regattr(struct fid *fid, const struct fi_mr_attr *attr,
			  uint64_t flags, struct fid_mr **mr)
{
	return ufi_mr_regv(fid, attr->mr_iov, attr->iov_count, attr->access,
			   attr->offset, attr->requested_key, flags, mr,
			   attr->context);
}

static struct fi_ops_mr ufi_mr_ops = {
	.size = sizeof(struct fi_ops_mr),
	.reg = ufi_mr_reg,
	.regv = ufi_mr_regv,
	.regattr = ufi_mr_regattr,
};

/* --- domain --- */

static int ufi_domain_close(struct fid *fid)
{
	struct ufi_domain *dom = ufi_container_of(fid, struct ufi_domain,
						  domain.fid);

	if (dom->refs)
		return -FI_EBUSY;
	unet_close(dom->dev);
	if (dom->thread_safe)
		pthread_mutex_destroy(&dom->lock);
	free(dom);
	return 0;
}

static struct fi_ops ufi_domain_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = ufi_domain_close,
	.bind = ufi_no_bind,
	.control = ufi_no_control,
	.ops_open = ufi_no_ops_open,
};

static int ufi_no_scalable_ep(struct fid_domain *d, struct fi_info *i,
			      struct fid_ep **ep, void *c)
{
	(void)d; (void)i; (void)ep; (void)c;
	return -FI_ENOSYS;
}

static int ufi_no_cntr_open(struct fid_domain *d, struct fi_cntr_attr *a,
			    struct fid_cntr **cntr, void *c)
{
	(void)d; (void)a; (void)cntr; (void)c;
	return -FI_ENOSYS;
}

static int ufi_no_poll_open(struct fid_domain *d, struct fi_poll_attr *a,
			    struct fid_poll **p)
{
	(void)d; (void)a; (void)p;
	return -FI_ENOSYS;
}

static int ufi_no_stx_ctx(struct fid_domain *d, struct fi_tx_attr *a,
			  struct fid_stx **s, void *c)
{
	(void)d; (void)a; (void)s; (void)c;
	return -FI_ENOSYS;
}

static int ufi_no_srx_ctx(struct fid_domain *d, struct fi_rx_attr *a,
			  struct fid_ep **e, void *c)
{
	(void)d; (void)a; (void)e; (void)c;
	return -FI_ENOSYS;
}

static int ufi_no_query_atomic(struct fid_domain *d, enum fi_datatype t,
			       enum fi_op o, struct fi_atomic_attr *a,
			       uint64_t f)
{
	(void)d; (void)t; (void)o; (void)a; (void)f;
	return -FI_ENOSYS;
}

static int ufi_no_query_collective(struct fid_domain *d,
				   enum fi_collective_op o,
				   struct fi_collective_attr *a, uint64_t f)
{
	(void)d; (void)o; (void)a; (void)f;
	return -FI_ENOSYS;
}

static struct fi_ops_domain ufi_domain_ops = {
	.size = sizeof(struct fi_ops_domain),
	.av_open = ufi_av_open,
	.cq_open = ufi_cq_open,
	.endpoint = ufi_endpoint,
	.scalable_ep = ufi_no_scalable_ep,
	.cntr_open = ufi_no_cntr_open,
	.poll_open = ufi_no_poll_open,
	.stx_ctx = ufi_no_stx_ctx,
	.srx_ctx = ufi_no_srx_ctx,
	.query_atomic = ufi_no_query_atomic,
	.query_collective = ufi_no_query_collective,
};

static int ufi_domain_open(struct fid_fabric *fabric, struct fi_info *info,
			   struct fid_domain **out, void *context)
{
	struct ufi_domain *dom = calloc(1, sizeof(*dom));
	pthread_mutexattr_t attr;

	if (!dom)
		return -FI_ENOMEM;
	/* FI_THREAD_DOMAIN serialises every call for us; the other levels
	 * let threads use different objects (or any) at once, and those
	 * share the domain's state (CQs, AVs): one lock for all. */
	if (info && info->domain_attr &&
	    info->domain_attr->threading != FI_THREAD_UNSPEC &&
	    info->domain_attr->threading != FI_THREAD_DOMAIN) {
		pthread_mutexattr_init(&attr);
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
		if (pthread_mutex_init(&dom->lock, &attr)) {
			pthread_mutexattr_destroy(&attr);
			free(dom);
			return -FI_ENOMEM;
		}
		pthread_mutexattr_destroy(&attr);
		dom->thread_safe = true;
	}
	dom->dev = unet_open();
	if (!dom->dev) {
		int err = errno;

		if (dom->thread_safe)
			pthread_mutex_destroy(&dom->lock);
		free(dom);
		return -(err ? err : FI_ENODEV);
	}
	dom->fabric = ufi_container_of(fabric, struct ufi_fabric, fabric);
	dom->domain.fid.fclass = FI_CLASS_DOMAIN;
	dom->domain.fid.context = context;
	dom->domain.fid.ops = &ufi_domain_fi_ops;
	dom->domain.ops = &ufi_domain_ops;
	dom->domain.mr = &ufi_mr_ops;
	*out = &dom->domain;
	return 0;
}

/* --- EQ: no connection management events exist on RDM and DGRAM; the
 * object is there because programs (fi_pingpong) open one anyway. --- */

struct ufi_eq {
	struct fid_eq eq;
};

static int ufi_eq_close(struct fid *fid)
{
	free(ufi_container_of(fid, struct ufi_eq, eq.fid));
	return 0;
}

static ssize_t ufi_eq_read(struct fid_eq *eq, uint32_t *event, void *buf,
			   size_t len, uint64_t flags)
{
	(void)eq; (void)event; (void)buf; (void)len; (void)flags;
	return -FI_EAGAIN;
}

static ssize_t ufi_eq_readerr(struct fid_eq *eq, struct fi_eq_err_entry *buf,
			      uint64_t flags)
{
	(void)eq; (void)buf; (void)flags;
	return -FI_EAGAIN;
}

static ssize_t ufi_eq_write(struct fid_eq *eq, uint32_t event,
			    const void *buf, size_t len, uint64_t flags)
{
	(void)eq; (void)event; (void)buf; (void)len; (void)flags;
	return -FI_ENOSYS;
}

static ssize_t ufi_eq_sread(struct fid_eq *eq, uint32_t *event, void *buf,
			    size_t len, int timeout, uint64_t flags)
{
	(void)eq; (void)event; (void)buf; (void)len; (void)flags;
	if (timeout > 0)
		usleep((useconds_t)timeout * 1000);
	return -FI_EAGAIN;
}

static const char *ufi_eq_strerror(struct fid_eq *eq, int prov_errno,
				   const void *err_data, char *buf, size_t len)
{
	(void)eq; (void)err_data;
	if (buf && len) {
		snprintf(buf, len, "%s", fi_strerror(prov_errno));
		return buf;
	}
	return fi_strerror(prov_errno);
}

static struct fi_ops ufi_eq_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = ufi_eq_close,
	.bind = ufi_no_bind,
	.control = ufi_no_control,
	.ops_open = ufi_no_ops_open,
};

static struct fi_ops_eq ufi_eq_ops = {
	.size = sizeof(struct fi_ops_eq),
	.read = ufi_eq_read,
	.readerr = ufi_eq_readerr,
	.write = ufi_eq_write,
	.sread = ufi_eq_sread,
	.strerror = ufi_eq_strerror,
};

static int ufi_eq_open(struct fid_fabric *fabric, struct fi_eq_attr *attr,
		       struct fid_eq **out, void *context)
{
	struct ufi_eq *eq = calloc(1, sizeof(*eq));

	(void)fabric; (void)attr;
	if (!eq)
		return -FI_ENOMEM;
	eq->eq.fid.fclass = FI_CLASS_EQ;
	eq->eq.fid.context = context;
	eq->eq.fid.ops = &ufi_eq_fi_ops;
	eq->eq.ops = &ufi_eq_ops;
	*out = &eq->eq;
	return 0;
}

/* --- fabric --- */

static int ufi_fabric_close(struct fid *fid)
{
	free(ufi_container_of(fid, struct ufi_fabric, fabric.fid));
	return 0;
}

static struct fi_ops ufi_fabric_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = ufi_fabric_close,
	.bind = ufi_no_bind,
	.control = ufi_no_control,
	.ops_open = ufi_no_ops_open,
};

static int ufi_no_passive_ep(struct fid_fabric *f, struct fi_info *i,
			     struct fid_pep **p, void *c)
{
	(void)f; (void)i; (void)p; (void)c;
	return -FI_ENOSYS;
}

static int ufi_no_wait_open(struct fid_fabric *f, struct fi_wait_attr *a,
			    struct fid_wait **w)
{
	(void)f; (void)a; (void)w;
	return -FI_ENOSYS;
}

/* fi_trywait: every CQ's wait object is the device's descriptor, and
 * progress is manual, so it is always safe to wait after a read; the
 * ACKs a CQ's endpoints kept for a reply go first (none comes while the
 * application sleeps). */
static int ufi_trywait(struct fid_fabric *f, struct fid **fids, int count)
{
	int i;

	(void)f;
	for (i = 0; i < count; i++)
		if (fids[i] && fids[i]->fclass == FI_CLASS_CQ) {
			struct ufi_cq *cq = ufi_container_of(fids[i],
							     struct ufi_cq,
							     cq.fid);

			ufi_lock(cq->domain);
			ufi_cq_flush_acks(cq);
			ufi_unlock(cq->domain);
		}
	return 0;
}

static struct fi_ops_fabric ufi_fabric_ops = {
	.size = sizeof(struct fi_ops_fabric),
	.domain = ufi_domain_open,
	.passive_ep = ufi_no_passive_ep,
	.eq_open = ufi_eq_open,
	.wait_open = ufi_no_wait_open,
	.trywait = ufi_trywait,
};

static int ufi_fabric(struct fi_fabric_attr *attr, struct fid_fabric **out,
		      void *context)
{
	struct ufi_fabric *fab;

	if (attr && attr->name && strcmp(attr->name, UFI_FABRIC_NAME))
		return -FI_ENODATA;
	fab = calloc(1, sizeof(*fab));
	if (!fab)
		return -FI_ENOMEM;
	fab->fabric.fid.fclass = FI_CLASS_FABRIC;
	fab->fabric.fid.context = context;
	fab->fabric.fid.ops = &ufi_fabric_fi_ops;
	fab->fabric.ops = &ufi_fabric_ops;
	*out = &fab->fabric;
	return 0;
}

static void ufi_cleanup(void)
{
}

struct fi_provider ufi_prov = {
	.version = UFI_PROV_VERSION,
	.fi_version = UFI_API_VERSION,
	.name = UFI_PROV_NAME,
	.getinfo = ufi_getinfo,
	.fabric = ufi_fabric,
	.cleanup = ufi_cleanup,
};

FI_EXT_INI
{
	/* The knobs are UNET_FI_* environment variables (docs/FABRIC.md),
	 * read once here. */
	ufi_env_load();
	return &ufi_prov;
}
