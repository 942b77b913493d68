/* SPDX-License-Identifier: MIT */
/* Page map set-up and the primitives every change is made of: index pages, counts, split, merge. */
#include "pagemap_int.h"

#include <errno.h>
#include <string.h>

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

static int pool_ok(uint64_t pool_bytes)
{
	return pool_bytes && pool_bytes <= UV_PM_POOL_MAX && pool_bytes % UV_PM_TIER_BYTES(0) == 0;
}

uint32_t uv_pagemap_ipages_for(uint64_t pool_bytes)
{
	uint64_t pages = pool_bytes >> UV_PM_PAGE_SHIFT;

	if (!pool_ok(pool_bytes))
		return 0;
	/* One page per 4 MiB block and per 4 GiB block that may be sub-allocated, plus the root. */
	return (uint32_t)((pages + pm_pages(1) - 1) / pm_pages(1) +
	                  (pages + pm_pages(2) - 1) / pm_pages(2) + 1);
}

static uint64_t meta_end(uint32_t n_ipages)
{
	return sizeof(struct uv_pagemap_hdr) + (uint64_t)n_ipages * sizeof(struct uv_pagemap_imeta);
}

size_t uv_pagemap_size_with(uint64_t pool_bytes, uint32_t n_ipages)
{
	if (!pool_ok(pool_bytes))
		return 0;
	return align_up(meta_end(n_ipages), UV_PM_IPAGE_BYTES) +
	       (uint64_t)n_ipages * UV_PM_IPAGE_BYTES;
}

size_t uv_pagemap_size_for(uint64_t pool_bytes)
{
	return uv_pagemap_size_with(pool_bytes, uv_pagemap_ipages_for(pool_bytes));
}

/* The most index pages an area of this size holds, capped at what the pool can ever use. */
static uint32_t ipages_fitting(uint64_t pool_bytes, size_t area_size)
{
	uint64_t per = UV_PM_IPAGE_BYTES + sizeof(struct uv_pagemap_imeta);
	uint64_t n, max = uv_pagemap_ipages_for(pool_bytes);

	if (area_size < sizeof(struct uv_pagemap_hdr) + UV_PM_IPAGE_BYTES)
		return 0;
	n = (area_size - sizeof(struct uv_pagemap_hdr)) / per;
	if (n > max)
		n = max;
	while (n && uv_pagemap_size_with(pool_bytes, (uint32_t)n) > area_size)
		n--;
	return (uint32_t)n;
}

static uint32_t ipage_get(struct uv_pagemap *pm)
{
	struct uv_pagemap_hdr *h = pm->h;
	uint32_t n;

	if (h->free_head != UV_PM_NONE) {
		n = h->free_head;
		h->free_head = pm_meta(pm, n)->next_free;
	} else if (h->ipages_used < h->n_ipages) {
		n = h->ipages_used++;
	} else {
		return UV_PM_NONE;
	}
	h->ipages_live++;
	return n;
}

static void ipage_put(struct uv_pagemap *pm, uint32_t n)
{
	pm_meta(pm, n)->next_free = pm->h->free_head;
	pm->h->free_head = n;
	pm->h->ipages_live--;
}

void pm_count(struct uv_pagemap *pm, uint32_t k, unsigned tier, int64_t delta)
{
	for (; k != UV_PM_NONE; k = pm_meta(pm, k)->parent)
		pm_meta(pm, k)->nfree[tier] += (int32_t)delta;
	pm->h->free_blocks[tier] += (uint64_t)delta;
	pm->h->free_pages += (uint64_t)delta * pm_pages(tier);
}

uint32_t pm_split(struct uv_pagemap *pm, uint32_t k, unsigned slot, unsigned tier)
{
	uint32_t *ep = pm_entry(pm, k, slot);
	uint32_t old = *ep, n, *ents, i;
	struct uv_pagemap_imeta *m;

	n = ipage_get(pm);
	if (n == UV_PM_NONE)
		return UV_PM_NONE;
	ents = pm_entries(pm, n);
	for (i = 0; i < PM_FAN; i++)
		ents[i] = old;
	m = pm_meta(pm, n);
	memset(m, 0, sizeof(*m));
	m->parent = k;
	m->slot = (uint16_t)slot;
	m->level = (uint8_t)tier;
	m->next_free = UV_PM_NONE;
	*ep = UV_PM_E_SUB | n;
	if (old == UV_PM_E_FREE) {
		m->nfree[tier - 1] = PM_FAN;
		pm_count(pm, k, tier, -1);
		pm_count(pm, k, tier - 1, PM_FAN);
	}
	return n;
}

void pm_merge_child(struct uv_pagemap *pm, uint32_t k, unsigned slot)
{
	uint32_t *ep = pm_entry(pm, k, slot);
	uint32_t n;
	unsigned level;

	if (!pm_is_sub(*ep))
		return;
	n = *ep & UV_PM_E_VALUE;
	level = pm_meta(pm, n)->level;
	if (pm_meta(pm, n)->nfree[level - 1] != PM_FAN)
		return;
	*ep = UV_PM_E_FREE;
	pm_count(pm, k, level - 1, -(int64_t)PM_FAN);
	pm_count(pm, k, level, 1);
	ipage_put(pm, n);
}

void pm_merge_up(struct uv_pagemap *pm, uint32_t k)
{
	const struct uv_pagemap_imeta *m;
	uint32_t parent;
	unsigned slot;

	while (k != UV_PM_NONE) {
		m = pm_meta(pm, k);
		if (m->nfree[m->level - 1] != PM_FAN)
			return;
		parent = m->parent;
		slot = m->slot;
		pm_merge_child(pm, parent, slot);
		k = parent;
	}
}

int uv_pagemap_init(struct uv_pagemap *pm, void *area, size_t area_size, uint64_t pool_bytes)
{
	struct uv_pagemap tmp;
	struct uv_pagemap_hdr *h = area;
	uint32_t n;
	int r;

	if (!area || (uintptr_t)area % 8 || !pool_ok(pool_bytes))
		return -EINVAL;
	n = ipages_fitting(pool_bytes, area_size);
	if (!n)
		return -EINVAL;
	memset(h, 0, sizeof(*h));
	h->magic = UV_PM_MAGIC;
	h->version = UV_PM_VERSION;
	h->hdr_size = sizeof(*h);
	h->area_size = area_size;
	h->pool_bytes = pool_bytes;
	h->root = UV_PM_E_FREE;
	h->n_ipages = n;
	h->free_head = UV_PM_NONE;
	h->meta_off = sizeof(*h);
	h->ipage_off = align_up(meta_end(n), UV_PM_IPAGE_BYTES);
	h->free_blocks[PM_TOP] = 1;
	h->free_pages = pm_pages(PM_TOP);
	tmp.base = area;
	tmp.h = h;
	/* Blocks past the pool end become unavailable once; the few pages that straddle the end
	 * stay sub-allocated for good, which is what keeps them from ever coalescing. */
	if (pool_bytes < UV_PM_POOL_MAX) {
		r = pm_range(&tmp, pool_bytes, UV_PM_POOL_MAX - pool_bytes, UV_PM_E_FREE,
		             UV_PM_E_UNAVAIL);
		if (r < 0) {
			h->magic = 0;
			return r == -ENOMEM ? -EINVAL : r;
		}
	}
	*pm = tmp;
	return 0;
}

uint64_t uv_pagemap_free_bytes(const struct uv_pagemap *pm)
{
	return pm->h->free_pages << UV_PM_PAGE_SHIFT;
}

uint32_t uv_pagemap_ipages_avail(const struct uv_pagemap *pm)
{
	return pm->h->n_ipages - pm->h->ipages_live;
}
