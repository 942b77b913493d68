/* SPDX-License-Identifier: MIT */
/*
 * Read-only access for monitors. The area may be stale, mid-update or corrupt: the geometry is
 * checked once at attach and copied, every index page number is bounded before it is followed,
 * descents are counted, and a block that claims to be usable past the pool end is refused.
 */
#include "pagemap.h"

#include <errno.h>

#define LOOKUP_TRIES 64

int uv_pagemap_view_attach(struct uv_pagemap_view *v, const void *area, size_t area_size)
{
	const struct uv_pagemap_hdr *h = area;
	uint64_t meta_end, ipage_end;

	if (!area || (uintptr_t)area % 8 || area_size < sizeof(*h))
		return -EINVAL;
	if (h->magic != UV_PM_MAGIC || h->version != UV_PM_VERSION || h->hdr_size != sizeof(*h))
		return -EUCLEAN;
	if (!h->pool_bytes || h->pool_bytes > UV_PM_POOL_MAX ||
	    h->pool_bytes % UV_PM_TIER_BYTES(0) || h->area_size > area_size)
		return -EUCLEAN;
	/* n_ipages < 2^32, so neither product can overflow 64 bits. */
	meta_end = h->meta_off + (uint64_t)h->n_ipages * sizeof(struct uv_pagemap_imeta);
	ipage_end = h->ipage_off + (uint64_t)h->n_ipages * UV_PM_IPAGE_BYTES;
	if (h->meta_off < sizeof(*h) || h->meta_off > area_size || meta_end > h->ipage_off ||
	    h->ipage_off % UV_PM_IPAGE_BYTES || h->ipage_off > area_size || ipage_end > area_size)
		return -EUCLEAN;
	*v = (struct uv_pagemap_view){
	    .base = area,
	    .area_size = area_size,
	    .pool_bytes = h->pool_bytes,
	    .n_ipages = h->n_ipages,
	    .meta_off = h->meta_off,
	    .ipage_off = h->ipage_off,
	};
	return 0;
}

static const struct uv_pagemap_hdr *hdr(const struct uv_pagemap_view *v)
{
	return (const struct uv_pagemap_hdr *)v->base;
}

uint32_t uv_pagemap_read_begin(const struct uv_pagemap_view *v)
{
	return __atomic_load_n(&hdr(v)->seq, __ATOMIC_ACQUIRE);
}

int uv_pagemap_read_changed(const struct uv_pagemap_view *v, uint32_t seq)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return (seq & 1) || __atomic_load_n(&hdr(v)->seq, __ATOMIC_RELAXED) != seq;
}

int uv_pagemap_view_free(const struct uv_pagemap_view *v, uint64_t *bytes)
{
	for (int tries = 0; tries < 100; tries++) {
		uint32_t seq = uv_pagemap_read_begin(v);
		uint64_t pages = __atomic_load_n(&hdr(v)->free_pages, __ATOMIC_RELAXED);

		if (uv_pagemap_read_changed(v, seq))
			continue;
		*bytes = pages > v->pool_bytes >> UV_PM_PAGE_SHIFT ? v->pool_bytes
		                                                   : pages << UV_PM_PAGE_SHIFT;
		return 0;
	}
	return -EAGAIN;
}

static uint32_t load_entry(const struct uv_pagemap_view *v, uint32_t k, unsigned slot)
{
	const uint32_t *ents =
	    (const uint32_t *)(v->base + v->ipage_off + (uint64_t)k * UV_PM_IPAGE_BYTES);

	return __atomic_load_n(&ents[slot], __ATOMIC_RELAXED);
}

static int is_sub(uint32_t e) { return (e & (UV_PM_E_SUB | UV_PM_E_OWNED)) == UV_PM_E_SUB; }

/* Fills b from a leaf entry e for the tier-t block at base; -EUCLEAN if e is no valid leaf. */
static int classify(const struct uv_pagemap_view *v, uint32_t e, unsigned t, uint64_t base,
                    struct uv_pm_block *b)
{
	int past_end = base + UV_PM_TIER_BYTES(t) > v->pool_bytes;

	*b = (struct uv_pm_block){.offset = base, .size = UV_PM_TIER_BYTES(t), .tier = t};
	if (e == UV_PM_E_UNAVAIL) {
		b->state = UV_PM_UNAVAIL;
		return base >= v->pool_bytes ? 0 : -EUCLEAN;
	}
	if (past_end || (e & UV_PM_E_SUB))
		return -EUCLEAN;
	if (e == UV_PM_E_FREE) {
		b->state = UV_PM_FREE;
		return 0;
	}
	if (!(e & UV_PM_E_OWNED))
		return -EUCLEAN;
	b->state = UV_PM_OWNED;
	b->owner = e & UV_PM_E_VALUE;
	return 0;
}

static int lookup_once(const struct uv_pagemap_view *v, uint64_t off, struct uv_pm_block *out)
{
	uint32_t e = __atomic_load_n(&hdr(v)->root, __ATOMIC_RELAXED), k;
	unsigned t = 3, slot;
	uint64_t base = 0;

	while (is_sub(e)) {
		k = e & UV_PM_E_VALUE;
		if (t == 0 || k >= v->n_ipages)
			return -EUCLEAN;
		t--;
		slot = (unsigned)((off - base) >> UV_PM_TIER_SHIFT(t));
		base += (uint64_t)slot << UV_PM_TIER_SHIFT(t);
		e = load_entry(v, k, slot);
	}
	return classify(v, e, t, base, out);
}

int uv_pagemap_lookup(const struct uv_pagemap_view *v, uint64_t off, struct uv_pm_block *out)
{
	struct uv_pm_block b;
	uint32_t seq;
	int i, r;

	if (off >= v->pool_bytes)
		return -EINVAL;
	for (i = 0; i < LOOKUP_TRIES; i++) {
		seq = uv_pagemap_read_begin(v);
		r = lookup_once(v, off, &b);
		if (uv_pagemap_read_changed(v, seq))
			continue;
		if (r == 0)
			*out = b;
		return r;
	}
	return -EAGAIN;
}

struct walk {
	const struct uv_pagemap_view *v;
	uint32_t owner;
	uv_pm_walk_cb cb;
	void *ctx;
	uint64_t budget; /* descents left: each index page is entered at most once in a sane map */
	struct uv_pm_block run; /* adjacent blocks of one state, owner and tier, not yet reported */
	int have_run;
};

static int emit(struct walk *w, const struct uv_pm_block *b)
{
	struct uv_pm_block *r = &w->run;
	int ret;

	if (w->owner != UV_PM_NONE && (b->state != UV_PM_OWNED || b->owner != w->owner))
		return 0;
	if (w->have_run && r->state == b->state && r->owner == b->owner && r->tier == b->tier &&
	    r->offset + r->size == b->offset) {
		r->size += b->size;
		return 0;
	}
	if (w->have_run) {
		ret = w->cb(r, w->ctx);
		if (ret)
			return ret;
	}
	*r = *b;
	w->have_run = 1;
	return 0;
}

static int walk_entry(struct walk *w, uint32_t e, unsigned t, uint64_t base)
{
	struct uv_pm_block b;
	uint32_t k;
	unsigned i;
	int r;

	if (base >= w->v->pool_bytes)
		return 0;
	if (!is_sub(e)) {
		r = classify(w->v, e, t, base, &b);
		return r ? r : emit(w, &b);
	}
	k = e & UV_PM_E_VALUE;
	if (t == 0 || k >= w->v->n_ipages || !w->budget)
		return -EUCLEAN;
	w->budget--;
	for (i = 0; i < UV_PM_FANOUT; i++) {
		r = walk_entry(w, load_entry(w->v, k, i), t - 1,
		               base + ((uint64_t)i << UV_PM_TIER_SHIFT(t - 1)));
		if (r)
			return r;
	}
	return 0;
}

int uv_pagemap_walk(const struct uv_pagemap_view *v, uint32_t owner, uv_pm_walk_cb cb, void *ctx)
{
	struct walk w = {.v = v, .owner = owner, .cb = cb, .ctx = ctx, .budget = v->n_ipages};
	int r;

	if (!cb || (owner != UV_PM_NONE && owner > UV_PM_OWNER_MAX))
		return -EINVAL;
	r = walk_entry(&w, __atomic_load_n(&hdr(v)->root, __ATOMIC_RELAXED), 3, 0);
	if (r == 0 && w.have_run)
		r = cb(&w.run, ctx);
	return r;
}
