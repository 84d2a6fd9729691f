/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel APIs that changed between the kernels unetmm supports (Linux
 * 6.1 and 6.12; anything in between should build too).  The code is written
 * for the newer API; each shim below gives it to the older kernel, with the
 * version, and the subject of the upstream commit, that changed it.  Nothing else in the module tests
 * LINUX_VERSION_CODE.
 */
#ifndef UNET_COMPAT_H
#define UNET_COMPAT_H

#include <linux/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/version.h>

/*
 * 6.5, "mm/gup: remove vmas parameter from pin_user_pages_remote()":
 * no vmas argument.
 */
static inline long unet_pin_user_pages_remote(struct mm_struct *mm,
					      unsigned long start,
					      unsigned long nr_pages,
					      unsigned int gup_flags,
					      struct page **pages)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	return pin_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     NULL);
#else
	return pin_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     NULL, NULL);
#endif
}

/*
 * 6.3, "mm: introduce vma->vm_flags wrapper functions": vm_flags is
 * read-only, changed with vm_flags_set().
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void vm_flags_set(struct vm_area_struct *vma,
				unsigned long flags)
{
	vma->vm_flags |= flags;
}
#endif

/*
 * 6.7, "mm: shrinker: add infrastructure for dynamically allocating
 * shrinker" (and the removal of register_shrinker() that followed):
 * shrinkers are allocated by shrinker_alloc(), carry private_data and go
 * with shrinker_free().  On older kernels the same shape is kept by hand.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
static inline struct shrinker *unet_shrinker_create(void *private_data,
						    const char *fmt, u32 id)
{
	struct shrinker *s = shrinker_alloc(0, fmt, id);

	if (s)
		s->private_data = private_data;
	return s;
}

static inline int unet_shrinker_register(struct shrinker *s)
{
	shrinker_register(s);
	return 0;
}

static inline void *unet_shrinker_private(struct shrinker *s)
{
	return s->private_data;
}

static inline void unet_shrinker_free(struct shrinker *s, bool registered)
{
	shrinker_free(s);
}
#else
struct unet_compat_shrinker {
	struct shrinker shrinker;
	void *private_data;
	char name[32];
};

static inline struct shrinker *unet_shrinker_create(void *private_data,
						    const char *fmt, u32 id)
{
	struct unet_compat_shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return NULL;
	s->private_data = private_data;
	snprintf(s->name, sizeof(s->name), fmt, id);
	return &s->shrinker;
}

static inline int unet_shrinker_register(struct shrinker *s)
{
	struct unet_compat_shrinker *cs =
		container_of(s, struct unet_compat_shrinker, shrinker);

	return register_shrinker(s, "%s", cs->name);
}

static inline void *unet_shrinker_private(struct shrinker *s)
{
	return container_of(s, struct unet_compat_shrinker,
			    shrinker)->private_data;
}

static inline void unet_shrinker_free(struct shrinker *s, bool registered)
{
	if (registered)
		unregister_shrinker(s);
	kfree(container_of(s, struct unet_compat_shrinker, shrinker));
}
#endif

#endif /* UNET_COMPAT_H */
