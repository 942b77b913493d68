/* SPDX-License-Identifier: MIT */
/*
 * Full consistency check of a writer's map: recomputes every count from the entries, proves each
 * index page is either in the tree exactly once or on the free list exactly once, and that the
 * map is canonical (no sub-allocated block whose sub-blocks are all free, nothing usable past
 * the pool end).
 */
#include "pagemap_int.h"

#include <errno.h>
#include <stdlib.h>

struct chk {
	const struct uv_pagemap *pm;
	uint8_t *seen;
	uint64_t free_blocks[UV_PM_TIERS];
	uint32_t live;
};

static int check_entry(struct chk *c, uint32_t e, unsigned t, uint64_t base, uint32_t k,
                       unsigned slot, uint64_t acc[UV_PM_TIERS]);

static int check_page(struct chk *c, uint32_t n, uint32_t parent, unsigned slot, unsigned level,
                      uint64_t base, uint64_t acc[UV_PM_TIERS])
{
	const struct uv_pagemap_imeta *m;
	uint64_t local[UV_PM_TIERS] = {0};
	unsigned i, t;
	int r;

	if (n >= c->pm->h->ipages_used || c->seen[n])
		return -EUCLEAN;
	c->seen[n] = 1;
	c->live++;
	m = pm_meta(c->pm, n);
	if (m->parent != parent || m->slot != slot || m->level != level)
		return -EUCLEAN;
	for (i = 0; i < PM_FAN; i++) {
		r = check_entry(c, pm_entries(c->pm, n)[i], level - 1,
		                base + ((uint64_t)i << UV_PM_TIER_SHIFT(level - 1)), n, i, local);
		if (r < 0)
			return r;
	}
	for (t = 0; t < PM_TOP; t++)
		if (m->nfree[t] != local[t])
			return -EUCLEAN;
	if (local[level - 1] == PM_FAN)
		return -EUCLEAN; /* should have coalesced */
	for (t = 0; t < PM_TOP; t++)
		acc[t] += local[t];
	return 0;
}

static int check_entry(struct chk *c, uint32_t e, unsigned t, uint64_t base, uint32_t k,
                       unsigned slot, uint64_t acc[UV_PM_TIERS])
{
	uint64_t pool = c->pm->h->pool_bytes;

	if (base >= pool)
		return e == UV_PM_E_UNAVAIL ? 0 : -EUCLEAN;
	if (base + UV_PM_TIER_BYTES(t) > pool && !pm_is_sub(e))
		return -EUCLEAN;
	if (e == UV_PM_E_FREE) {
		acc[t]++;
		c->free_blocks[t]++;
		return 0;
	}
	if (pm_is_sub(e))
		return t ? check_page(c, e & UV_PM_E_VALUE, k, slot, t, base, acc) : -EUCLEAN;
	return (e & UV_PM_E_SUB) ? -EUCLEAN : 0;
}

static int check_free_list(struct chk *c)
{
	const struct uv_pagemap_hdr *h = c->pm->h;
	uint32_t k, n = 0;

	for (k = h->free_head; k != UV_PM_NONE; k = pm_meta(c->pm, k)->next_free) {
		if (k >= h->ipages_used || c->seen[k])
			return -EUCLEAN;
		c->seen[k] = 1;
		n++;
	}
	return n + c->live == h->ipages_used ? 0 : -EUCLEAN;
}

int uv_pagemap_check(const struct uv_pagemap *pm)
{
	const struct uv_pagemap_hdr *h = pm->h;
	struct chk c = {.pm = pm};
	uint64_t acc[UV_PM_TIERS] = {0}, pages = 0;
	unsigned t;
	int r;

	if (h->ipages_used > h->n_ipages)
		return -EUCLEAN;
	c.seen = calloc(h->ipages_used + 1, 1);
	if (!c.seen)
		return -ENOMEM;
	r = check_entry(&c, h->root, PM_TOP, 0, UV_PM_NONE, 0, acc);
	if (r < 0)
		goto out;
	r = -EUCLEAN;
	for (t = 0; t < UV_PM_TIERS; t++) {
		if (c.free_blocks[t] != h->free_blocks[t])
			goto out;
		pages += c.free_blocks[t] * pm_pages(t);
	}
	if (pages != h->free_pages || c.live != h->ipages_live)
		goto out;
	r = check_free_list(&c);
out:
	free(c.seen);
	return r;
}
