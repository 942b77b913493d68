/* SPDX-License-Identifier: MIT */
/*
 * Range changes: claim, free and "mark unavailable" are all "set every page of [a,b) from state
 * expect to state set". A read-only pass first proves the whole range is in state expect and
 * counts the index pages that splitting the edge blocks will take, so the writing pass cannot
 * fail half-way.
 */
#include "pagemap_int.h"

#include <errno.h>

struct range_op {
	uint64_t a, b;
	uint32_t expect, set;
	uint64_t need; /* index pages the writing pass will take */
};

static int covers(const struct range_op *op, uint64_t base, unsigned tier)
{
	return op->a <= base && base + UV_PM_TIER_BYTES(tier) <= op->b;
}

/* Index pages needed to carve the range out of one uniform tier-t block it partly covers: one for
 * this block, and more for the (at most two) children that the range's edges cut. */
static uint64_t splits_needed(const struct range_op *op, uint64_t base, unsigned tier)
{
	uint64_t cs = UV_PM_TIER_BYTES(tier - 1), n = 1, lo, hi, c1, c2;

	lo = op->a > base ? op->a : base;
	hi = op->b < base + UV_PM_TIER_BYTES(tier) ? op->b : base + UV_PM_TIER_BYTES(tier);
	c1 = base + (lo - base) / cs * cs;
	c2 = base + (hi - 1 - base) / cs * cs;
	if (!covers(op, c1, tier - 1))
		n += splits_needed(op, c1, tier - 1);
	if (c2 != c1 && !covers(op, c2, tier - 1))
		n += splits_needed(op, c2, tier - 1);
	return n;
}

/* First and last child slot of a tier-t block at base that the range touches. */
static void child_span(const struct range_op *op, uint64_t base, unsigned tier, unsigned *first,
                       unsigned *last)
{
	unsigned shift = UV_PM_TIER_SHIFT(tier - 1);
	uint64_t lo = op->a > base ? op->a : base;
	uint64_t end = base + UV_PM_TIER_BYTES(tier);
	uint64_t hi = op->b < end ? op->b : end;

	*first = (unsigned)((lo - base) >> shift);
	*last = (unsigned)((hi - 1 - base) >> shift);
}

static int range_check(const struct uv_pagemap *pm, uint32_t e, unsigned tier, uint64_t base,
                       struct range_op *op)
{
	unsigned i, first, last;
	uint32_t *ents;
	uint64_t cbase;
	int r;

	if (!pm_is_sub(e)) {
		if (e != op->expect)
			return -EBUSY;
		if (!covers(op, base, tier))
			op->need += splits_needed(op, base, tier);
		return 0;
	}
	if (tier == 0)
		return -EUCLEAN;
	ents = pm_entries(pm, e & UV_PM_E_VALUE);
	child_span(op, base, tier, &first, &last);
	for (i = first; i <= last; i++) {
		cbase = base + ((uint64_t)i << UV_PM_TIER_SHIFT(tier - 1));
		if (ents[i] == op->expect && covers(op, cbase, tier - 1))
			continue; /* the common case, without a call */
		r = range_check(pm, ents[i], tier - 1, cbase, op);
		if (r < 0)
			return r;
	}
	return 0;
}

static void range_apply(struct uv_pagemap *pm, uint32_t k, unsigned slot, unsigned tier,
                        uint64_t base, const struct range_op *op)
{
	uint32_t *ep = pm_entry(pm, k, slot), *cp, n;
	unsigned i, first, last;
	int64_t delta = 0;
	uint64_t cbase;

	if (*ep == op->expect && covers(op, base, tier)) {
		*ep = op->set;
		if (op->expect == UV_PM_E_FREE)
			pm_count(pm, k, tier, -1);
		if (op->set == UV_PM_E_FREE)
			pm_count(pm, k, tier, 1);
		return;
	}
	if (pm_is_sub(*ep))
		n = *ep & UV_PM_E_VALUE;
	else
		n = pm_split(pm, k, slot, tier); /* the check pass reserved it */
	if (n == UV_PM_NONE)
		return;
	child_span(op, base, tier, &first, &last);
	for (i = first; i <= last; i++) {
		cbase = base + ((uint64_t)i << UV_PM_TIER_SHIFT(tier - 1));
		cp = &pm_entries(pm, n)[i];
		/* Whole children are counted once per page below: counting walks the ancestors. */
		if (*cp == op->expect && covers(op, cbase, tier - 1)) {
			*cp = op->set;
			delta += (op->set == UV_PM_E_FREE) - (op->expect == UV_PM_E_FREE);
			continue;
		}
		range_apply(pm, n, i, tier - 1, cbase, op);
	}
	if (delta)
		pm_count(pm, n, tier - 1, delta);
	if (op->set == UV_PM_E_FREE)
		pm_merge_child(pm, k, slot);
}

int pm_range(struct uv_pagemap *pm, uint64_t off, uint64_t size, uint32_t expect, uint32_t set)
{
	struct range_op op = {.a = off, .b = off + size, .expect = expect, .set = set};
	int r;

	r = range_check(pm, pm->h->root, PM_TOP, 0, &op);
	if (r < 0)
		return r;
	if (op.need > uv_pagemap_ipages_avail(pm))
		return -ENOMEM;
	range_apply(pm, UV_PM_NONE, 0, PM_TOP, 0, &op);
	return 0;
}

static int extent_ok(const struct uv_pagemap *pm, const struct uv_pm_extent *e)
{
	uint64_t page = UV_PM_TIER_BYTES(0);

	return e->size && e->offset % page == 0 && e->size % page == 0 &&
	       e->offset < pm->h->pool_bytes && e->size <= pm->h->pool_bytes - e->offset;
}

static int extents_ok(const struct uv_pagemap *pm, uint32_t owner, const struct uv_pm_extent *ext,
                      size_t n)
{
	size_t i;

	if (owner > UV_PM_OWNER_MAX || (n && !ext))
		return 0;
	for (i = 0; i < n; i++)
		if (!extent_ok(pm, &ext[i]))
			return 0;
	return 1;
}

/* Applies ext[0..n) one by one; on failure undoes the ones done, newest first. Undoing cannot
 * fail: it only needs the index pages that the forward step just released. */
static int apply_all(struct uv_pagemap *pm, const struct uv_pm_extent *ext, size_t n,
                     uint32_t expect, uint32_t set)
{
	size_t i;
	int r = 0;

	pm_write_begin(pm);
	for (i = 0; i < n; i++) {
		r = pm_range(pm, ext[i].offset, ext[i].size, expect, set);
		if (r < 0)
			break;
	}
	if (r < 0)
		while (i--)
			pm_range(pm, ext[i].offset, ext[i].size, set, expect);
	pm_write_end(pm);
	return r;
}

int uv_pagemap_claim(struct uv_pagemap *pm, uint32_t owner, const struct uv_pm_extent *ext,
                     size_t n)
{
	if (!extents_ok(pm, owner, ext, n))
		return -EINVAL;
	return apply_all(pm, ext, n, UV_PM_E_FREE, pm_owned(owner));
}

int uv_pagemap_free(struct uv_pagemap *pm, uint32_t owner, const struct uv_pm_extent *ext, size_t n)
{
	int r;

	if (!extents_ok(pm, owner, ext, n))
		return -EINVAL;
	r = apply_all(pm, ext, n, pm_owned(owner), UV_PM_E_FREE);
	/* Freeing what the owner does not hold is a bad request, not contention. */
	return r == -EBUSY ? -EINVAL : r;
}

static uint64_t free_owner_at(struct uv_pagemap *pm, uint32_t k, unsigned slot, unsigned tier,
                              uint32_t want)
{
	uint32_t *ep = pm_entry(pm, k, slot), *ents, n;
	uint64_t freed = 0;
	int64_t leaves = 0;
	unsigned i;

	if (*ep == want) {
		*ep = UV_PM_E_FREE;
		pm_count(pm, k, tier, 1);
		return pm_pages(tier);
	}
	if (!pm_is_sub(*ep) || tier == 0)
		return 0;
	n = *ep & UV_PM_E_VALUE;
	ents = pm_entries(pm, n);
	for (i = 0; i < PM_FAN; i++) {
		if (ents[i] == want) { /* counted once per page below */
			ents[i] = UV_PM_E_FREE;
			leaves++;
		} else {
			freed += free_owner_at(pm, n, i, tier - 1, want);
		}
	}
	if (leaves)
		pm_count(pm, n, tier - 1, leaves);
	freed += (uint64_t)leaves * pm_pages(tier - 1);
	if (freed)
		pm_merge_child(pm, k, slot);
	return freed;
}

int64_t uv_pagemap_free_owner(struct uv_pagemap *pm, uint32_t owner)
{
	uint64_t freed;

	if (owner > UV_PM_OWNER_MAX)
		return -EINVAL;
	pm_write_begin(pm);
	freed = free_owner_at(pm, UV_PM_NONE, 0, PM_TOP, pm_owned(owner));
	pm_write_end(pm);
	return (int64_t)freed;
}
