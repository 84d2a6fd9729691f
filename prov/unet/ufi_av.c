// SPDX-License-Identifier: MIT
/*
 * Address vectors.  An address is a U-Net endpoint address (unet_ep_addr,
 * UNET_ADDR_LEN bytes, what fi_getname returns).  FI_AV_TABLE and
 * FI_AV_MAP both hand out the entry's index as the fi_addr_t: a map may
 * use any value, and an index makes the per-peer state of an endpoint a
 * plain array.  Inserting an address makes a U-Net channel to it on every
 * bound endpoint at once, because a U-Net NIC drops frames from a peer
 * the receiver has no channel for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ufi.h"

static int ufi_av_close_unlocked(struct fid *fid)
{
	struct ufi_av *av = ufi_container_of(fid, struct ufi_av, av.fid);

	if (av->neps)
		return -FI_EBUSY;
	av->domain->refs--;
	free(av->addrs);
	free(av->valid);
	free(av);
	return 0;
}

#define AV_DOMAIN(fav)	(ufi_container_of(fav, struct ufi_av, av)->domain)

UFI_LOCKED(int, ufi_av_close, (struct fid *fid), (fid),
	   ufi_container_of(fid, struct ufi_av, av.fid)->domain)

static struct fi_ops ufi_av_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = ufi_av_close,
	.bind = ufi_no_bind,
	.control = ufi_no_control,
	.ops_open = ufi_no_ops_open,
};

static int ufi_av_insert_unlocked(struct fid_av *fav, const void *addr,
				  size_t count, fi_addr_t *fi_addr,
				  uint64_t flags, void *context)
{
	struct ufi_av *av = ufi_container_of(fav, struct ufi_av, av);
	size_t i;
	int done = 0, e;

	(void)flags; (void)context;
	for (i = 0; i < count; i++) {
		const uint8_t *a = (const uint8_t *)addr + i * UNET_ADDR_LEN;
		fi_addr_t idx = av->count;
		int err = 0;

		if (idx >= av->cap) {
			err = -FI_ENOSPC;
		} else {
			memcpy(av->addrs[idx], a, UNET_ADDR_LEN);
			av->valid[idx] = true;
			av->count++;
			for (e = 0; e < av->neps && !err; e++)
				err = ufi_ep_add_peer(av->eps[e], idx);
			if (err) {
				av->valid[idx] = false;
				av->count--;
			}
		}
		if (fi_addr)
			fi_addr[i] = err ? FI_ADDR_NOTAVAIL : idx;
		if (!err)
			done++;
	}
	return done;
}

UFI_LOCKED(int, ufi_av_insert,
	   (struct fid_av *fav, const void *addr, size_t count,
	    fi_addr_t *fi_addr, uint64_t flags, void *context),
	   (fav, addr, count, fi_addr, flags, context), AV_DOMAIN(fav))

static int ufi_av_insertsvc(struct fid_av *av, const char *node,
			    const char *service, fi_addr_t *fi_addr,
			    uint64_t flags, void *context)
{
	(void)av; (void)node; (void)service; (void)fi_addr; (void)flags;
	(void)context;
	return -FI_ENOSYS;
}

static int ufi_av_insertsym(struct fid_av *av, const char *node,
			    size_t nodecnt, const char *service, size_t svccnt,
			    fi_addr_t *fi_addr, uint64_t flags, void *context)
{
	(void)av; (void)node; (void)nodecnt; (void)service; (void)svccnt;
	(void)fi_addr; (void)flags; (void)context;
	return -FI_ENOSYS;
}

static int ufi_av_remove_unlocked(struct fid_av *fav, fi_addr_t *fi_addr,
				  size_t count, uint64_t flags)
{
	struct ufi_av *av = ufi_container_of(fav, struct ufi_av, av);
	size_t i;
	int e;

	(void)flags;
	for (i = 0; i < count; i++) {
		fi_addr_t idx = fi_addr[i];

		if (idx >= av->count || !av->valid[idx])
			return -FI_EINVAL;
		for (e = 0; e < av->neps; e++)
			ufi_ep_remove_peer(av->eps[e], idx);
		av->valid[idx] = false;
	}
	return 0;
}

UFI_LOCKED(int, ufi_av_remove,
	   (struct fid_av *fav, fi_addr_t *fi_addr, size_t count, uint64_t flags),
	   (fav, fi_addr, count, flags), AV_DOMAIN(fav))

static int ufi_av_lookup_unlocked(struct fid_av *fav, fi_addr_t fi_addr,
				  void *addr, size_t *addrlen)
{
	struct ufi_av *av = ufi_container_of(fav, struct ufi_av, av);
	size_t room = *addrlen;

	if (fi_addr >= av->count || !av->valid[fi_addr])
		return -FI_EINVAL;
	memcpy(addr, av->addrs[fi_addr], room < UNET_ADDR_LEN ? room : UNET_ADDR_LEN);
	*addrlen = UNET_ADDR_LEN;
	return 0;
}

UFI_LOCKED(int, ufi_av_lookup,
	   (struct fid_av *fav, fi_addr_t fi_addr, void *addr, size_t *addrlen),
	   (fav, fi_addr, addr, addrlen), AV_DOMAIN(fav))

static const char *ufi_av_straddr(struct fid_av *av, const void *addr,
				  char *buf, size_t *len)
{
	char tmp[UNET_ADDR_STRLEN + 8];

	(void)av;
	snprintf(tmp, sizeof(tmp), "unet://%s",
		 unet_addr_str(addr, UNET_ADDR_LEN, (char[UNET_ADDR_STRLEN]){0},
			       UNET_ADDR_STRLEN));
	if (buf && *len)
		snprintf(buf, *len, "%s", tmp);
	*len = strlen(tmp) + 1;
	return buf;
}

static struct fi_ops_av ufi_av_ops = {
	.size = sizeof(struct fi_ops_av),
	.insert = ufi_av_insert,
	.insertsvc = ufi_av_insertsvc,
	.insertsym = ufi_av_insertsym,
	.remove = ufi_av_remove,
	.lookup = ufi_av_lookup,
	.straddr = ufi_av_straddr,
};

int ufi_av_open(struct fid_domain *fdom, struct fi_av_attr *attr,
		struct fid_av **out, void *context)
{
	struct ufi_domain *dom = ufi_container_of(fdom, struct ufi_domain,
						  domain);
	struct ufi_av *av;

	if (attr && (attr->flags & (FI_EVENT | FI_READ)))
		return -FI_ENOSYS;	/* no async inserts, no shared AVs */
	if (attr && attr->name)
		return -FI_ENOSYS;
	av = calloc(1, sizeof(*av));
	if (!av)
		return -FI_ENOMEM;
	av->type = attr && attr->type != FI_AV_UNSPEC ? attr->type : FI_AV_MAP;
	/* Each address costs a U-Net channel on each bound endpoint. */
	av->cap = UFI_MAX_PEERS;
	av->addrs = calloc(av->cap, sizeof(*av->addrs));
	av->valid = calloc(av->cap, sizeof(*av->valid));
	if (!av->addrs || !av->valid) {
		free(av->addrs);
		free(av->valid);
		free(av);
		return -FI_ENOMEM;
	}
	if (attr)
		attr->type = av->type;
	av->domain = dom;
	av->av.fid.fclass = FI_CLASS_AV;
	av->av.fid.context = context;
	av->av.fid.ops = &ufi_av_fi_ops;
	av->av.ops = &ufi_av_ops;
	ufi_lock(dom);
	dom->refs++;
	ufi_unlock(dom);
	*out = &av->av;
	return 0;
}
