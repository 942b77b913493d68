/* SPDX-License-Identifier: MIT */
/*
 * Allocation policy: largest tier first; within a tier, free blocks of exactly that tier before
 * splitting a bigger one, and the lowest address first. The free counts kept per index page steer
 * every descent straight to a subtree that has what is wanted, so no step scans the pool.
 */
#include "pagemap_int.h"

#include <errno.h>

struct take {
	uint32_t owner;
	uint64_t remaining; /* pages */
	struct uv_pm_extent *ext;
	size_t cap, n;
};

/* Pool offset of the block that index page k subdivides. */
static uint64_t page_base(const struct uv_pagemap *pm, uint32_t k)
{
	uint64_t base = 0;
	const struct uv_pagemap_imeta *m;

	while (k != UV_PM_NONE) {
		m = pm_meta(pm, k);
		base += (uint64_t)m->slot << UV_PM_TIER_SHIFT(pm_meta(pm, k)->level);
		k = m->parent;
	}
	return base;
}

/* Leftmost free entry of tier t (t < 3) as (page, slot); -ENOENT when the counts say none. */
static int find_free(const struct uv_pagemap *pm, unsigned t, uint32_t *page, unsigned *slot)
{
	uint32_t k, e, *ents;
	unsigned i, level;

	if (!pm->h->free_blocks[t] || !pm_is_sub(pm->h->root))
		return -ENOENT;
	k = pm->h->root & UV_PM_E_VALUE;
	for (;;) {
		level = pm_meta(pm, k)->level;
		ents = pm_entries(pm, k);
		for (i = 0; i < PM_FAN; i++) {
			e = ents[i];
			if (level - 1 == t
			        ? e == UV_PM_E_FREE
			        : pm_is_sub(e) && pm_meta(pm, e & UV_PM_E_VALUE)->nfree[t])
				break;
		}
		if (i == PM_FAN)
			return -EUCLEAN; /* counts and entries disagree */
		if (level - 1 == t) {
			*page = k;
			*slot = i;
			return 0;
		}
		k = e & UV_PM_E_VALUE;
	}
}

static int record(struct take *tk, uint64_t off, unsigned t)
{
	struct uv_pm_extent *last = tk->n ? &tk->ext[tk->n - 1] : NULL;
	uint64_t size = UV_PM_TIER_BYTES(t);

	if (last && last->tier == t && last->offset + last->size == off) {
		last->size += size;
		return 0;
	}
	if (tk->n == tk->cap)
		return -ENOBUFS;
	tk->ext[tk->n++] = (struct uv_pm_extent){.offset = off, .size = size, .tier = t};
	return 0;
}

/* Takes free tier-t entries of page k from slot on, while the request still needs whole ones. */
static int take_from_page(struct uv_pagemap *pm, struct take *tk, uint32_t k, unsigned slot,
                          unsigned t)
{
	uint32_t *ents = pm_entries(pm, k);
	uint64_t base = page_base(pm, k);
	int64_t taken = 0;
	unsigned i;
	int r = 0;

	for (i = slot; i < PM_FAN && tk->remaining >= pm_pages(t); i++) {
		if (ents[i] != UV_PM_E_FREE)
			continue;
		r = record(tk, base + ((uint64_t)i << UV_PM_TIER_SHIFT(t)), t);
		if (r < 0)
			break;
		ents[i] = pm_owned(tk->owner);
		taken++;
		tk->remaining -= pm_pages(t);
	}
	/* One count update per page, not per entry: it walks every ancestor. */
	if (taken)
		pm_count(pm, k, t, -taken);
	return r;
}

/* Takes free tier-t entries in address order in one pass over the subtrees whose counts say
 * they have some, instead of descending from the root again for every index page. */
static int take_walk(struct uv_pagemap *pm, struct take *tk, uint32_t k, unsigned t)
{
	uint32_t *ents = pm_entries(pm, k), e;
	unsigned i;
	int r;

	if (pm_meta(pm, k)->level - 1u == t)
		return take_from_page(pm, tk, k, 0, t);
	for (i = 0; i < PM_FAN && tk->remaining >= pm_pages(t); i++) {
		e = ents[i];
		if (!pm_is_sub(e) || !pm_meta(pm, e & UV_PM_E_VALUE)->nfree[t])
			continue;
		r = take_walk(pm, tk, e & UV_PM_E_VALUE, t);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Splits the leftmost free block of the smallest tier above t down to a page of tier-t entries. */
static int split_down_to(struct uv_pagemap *pm, unsigned t, uint32_t *page)
{
	uint32_t k;
	unsigned u, slot = 0, v;
	int r;

	for (u = t + 1; u <= PM_TOP && !pm->h->free_blocks[u]; u++)
		;
	if (u > PM_TOP)
		return -ENOENT;
	if (uv_pagemap_ipages_avail(pm) < u - t)
		return -ENOMEM;
	if (u == PM_TOP) {
		k = UV_PM_NONE;
	} else {
		r = find_free(pm, u, &k, &slot);
		if (r < 0)
			return r;
	}
	for (v = u; v > t; v--) {
		k = pm_split(pm, k, slot, v);
		slot = 0;
	}
	*page = k;
	return 0;
}

static int take_tier(struct uv_pagemap *pm, struct take *tk, unsigned t)
{
	uint32_t k;
	int r;

	if (t == PM_TOP) {
		if (pm->h->root != UV_PM_E_FREE)
			return -ENOENT;
		r = record(tk, 0, t);
		if (r < 0)
			return r;
		pm->h->root = pm_owned(tk->owner);
		pm_count(pm, UV_PM_NONE, t, -1);
		tk->remaining -= pm_pages(t);
		return 0;
	}
	if (pm->h->free_blocks[t])
		return pm_is_sub(pm->h->root) ? take_walk(pm, tk, pm->h->root & UV_PM_E_VALUE, t)
		                              : -EUCLEAN;
	r = split_down_to(pm, t, &k);
	if (r < 0)
		return r;
	r = take_from_page(pm, tk, k, 0, t);
	/* Nothing taken from the freshly split pages: fold them back so the map stays canonical. */
	if (r < 0)
		pm_merge_up(pm, k);
	return r;
}

static int take_all(struct uv_pagemap *pm, struct take *tk)
{
	int t, r;

	for (t = PM_TOP; t >= 0; t--) {
		while (tk->remaining >= pm_pages((unsigned)t)) {
			r = take_tier(pm, tk, (unsigned)t);
			if (r == -ENOENT)
				break;
			if (r < 0)
				return r;
		}
	}
	return tk->remaining ? -ENOMEM : 0;
}

int uv_pagemap_alloc(struct uv_pagemap *pm, uint32_t owner, uint64_t bytes,
                     struct uv_pm_extent *ext, size_t cap, size_t *n_ext)
{
	struct take tk = {.owner = owner, .ext = ext, .cap = cap};
	size_t i;
	int r;

	if (owner > UV_PM_OWNER_MAX || !bytes || bytes % UV_PM_TIER_BYTES(0) || !ext || !n_ext)
		return -EINVAL;
	tk.remaining = bytes >> UV_PM_PAGE_SHIFT;
	if (tk.remaining > pm->h->free_pages)
		return -ENOMEM;
	pm_write_begin(pm);
	r = take_all(pm, &tk);
	if (r < 0)
		for (i = tk.n; i--;)
			pm_range(pm, ext[i].offset, ext[i].size, pm_owned(owner), UV_PM_E_FREE);
	pm_write_end(pm);
	if (r == 0)
		*n_ext = tk.n;
	return r;
}
