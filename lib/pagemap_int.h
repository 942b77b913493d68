/* SPDX-License-Identifier: MIT */
/* Internals shared by the page-map writer files; not for other users. */
#ifndef ULTRA_LIB_PAGEMAP_INT_H
#define ULTRA_LIB_PAGEMAP_INT_H

#include "pagemap.h"

#define PM_TOP 3 /* tier of the root entry */
#define PM_FAN UV_PM_FANOUT

static inline uint64_t pm_pages(unsigned tier) { return 1ull << (UV_PM_SCALE_SHIFT * tier); }

static inline uint32_t *pm_entries(const struct uv_pagemap *pm, uint32_t k)
{
	return (uint32_t *)(pm->base + pm->h->ipage_off + (uint64_t)k * UV_PM_IPAGE_BYTES);
}

static inline struct uv_pagemap_imeta *pm_meta(const struct uv_pagemap *pm, uint32_t k)
{
	return (struct uv_pagemap_imeta *)(pm->base + pm->h->meta_off) + k;
}

/* The entry at (page k, slot), or the root entry when k is UV_PM_NONE. */
static inline uint32_t *pm_entry(const struct uv_pagemap *pm, uint32_t k, unsigned slot)
{
	return k == UV_PM_NONE ? &pm->h->root : &pm_entries(pm, k)[slot];
}

static inline int pm_is_sub(uint32_t e)
{
	return (e & (UV_PM_E_SUB | UV_PM_E_OWNED)) == UV_PM_E_SUB;
}

static inline uint32_t pm_owned(uint32_t owner) { return UV_PM_E_OWNED | owner; }

/* Writers bracket every change so concurrent readers can detect a torn read. */
static inline void pm_write_begin(struct uv_pagemap *pm)
{
	__atomic_store_n(&pm->h->seq, pm->h->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void pm_write_end(struct uv_pagemap *pm)
{
	__atomic_store_n(&pm->h->seq, pm->h->seq + 1, __ATOMIC_RELEASE);
}

/* Free-count bookkeeping: the entry count of tier t below page k changed by delta. */
void pm_count(struct uv_pagemap *pm, uint32_t k, unsigned tier, int64_t delta);
/* Splits the free or owned tier-t entry at (k, slot) into a new index page of level t whose
 * entries all carry the old state. Returns the new page, or UV_PM_NONE when none is left. */
uint32_t pm_split(struct uv_pagemap *pm, uint32_t k, unsigned slot, unsigned tier);
/* If the index page behind the entry at (k, slot) is entirely free, folds it back into one free
 * entry and returns the page to the free list. */
void pm_merge_child(struct uv_pagemap *pm, uint32_t k, unsigned slot);
/* Folds index page k and then its ancestors while they are entirely free. */
void pm_merge_up(struct uv_pagemap *pm, uint32_t k);

/* Sets every page of the page-aligned range [off, off+size) from entry value expect to set, all
 * or nothing: -EBUSY if some page is not in state expect, -ENOMEM if splitting the blocks at the
 * range's edges needs more index pages than are left. No seq bracket: callers hold it. */
int pm_range(struct uv_pagemap *pm, uint64_t off, uint64_t size, uint32_t expect, uint32_t set);

#endif
