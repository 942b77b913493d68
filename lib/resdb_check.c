/* SPDX-License-Identifier: MIT */
/* Consistency check and comparison of resource databases (tests, fuzzing, snapshot loading). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "resdb_int.h"

struct owned {
	uint64_t *bytes; /* per partition number */
	uint32_t max;
	int bad;
};

static int owned_cb(const struct uv_pm_block *b, void *ctx)
{
	struct owned *o = ctx;

	if (b->state != UV_PM_OWNED)
		return 0;
	if (b->owner >= o->max)
		return -EUCLEAN;
	o->bytes[b->owner] += b->size;
	return 0;
}

static int map_view(const struct uv_resdb *db, struct uv_pagemap_view *v)
{
	return uv_pagemap_view_attach(v, db->base + db->h->pagemap_off, db->h->pagemap_size);
}

static int chans_ok(const struct uv_resdb *db, uint32_t *per_part, uint64_t *chan_bytes)
{
	uint32_t i, j, n = 0;

	for (i = 0; i < db->h->max_channels; i++) {
		const struct uv_resdb_chan *c = rdb_chan(db, i);
		uint64_t sum = 0;

		if (!c->in_use)
			continue;
		if (c->in_use != 1 || c->n_ext > UV_RESDB_CHAN_EXT_MAX ||
		    rdb_chan_index(db, c->id) != i || c->endpoint[0] == c->endpoint[1])
			return 0;
		for (j = 0; j < 2; j++) {
			if (c->endpoint[j] >= db->h->max_partitions ||
			    rdb_part(db, c->endpoint[j])->status == UV_RESDB_FREE)
				return 0;
			per_part[c->endpoint[j]]++;
		}
		for (j = 0; j < c->n_ext; j++) {
			struct uv_txn_extent e = {c->ext[j].offset, c->ext[j].size};

			if (!rdb_extents_are(db, &e, 1, UV_RESDB_CHANNEL_OWNER) ||
			    (j && c->ext[j].offset <= c->ext[j - 1].offset))
				return 0;
			sum += e.size;
		}
		if (sum != c->size)
			return 0;
		*chan_bytes += sum;
		n++;
	}
	return n == db->h->n_channels;
}

static int devs_ok(const struct uv_resdb *db)
{
	uint32_t i, n = 0;

	for (i = 0; i < db->h->max_devices; i++) {
		const struct uv_resdb_dev *d = rdb_dev(db, i);
		const struct uv_partition_desc *desc;
		uint32_t k;

		if (!d->in_use)
			continue;
		if (d->in_use != 1 || !memchr(d->device.path, 0, UV_PATH_MAX) ||
		    rdb_dev_index(db, d->device.path) != i || !d->partition ||
		    d->partition >= db->h->max_partitions ||
		    rdb_part(db, d->partition)->status == UV_RESDB_FREE)
			return 0;
		desc = rdb_desc(db, d->partition);
		for (k = 0; k < desc->n_dev; k++)
			if (!memcmp(&desc->dev[k], &d->device, sizeof(d->device)))
				break;
		if (k == desc->n_dev)
			return 0;
		n++;
	}
	return n == db->h->n_devices;
}

static int part_ok(const struct uv_resdb *db, uint32_t p, uint32_t n_chan, uint64_t bytes)
{
	const struct uv_resdb_part *r = rdb_part(db, p);
	const struct uv_partition_desc *d = rdb_desc(db, p);

	if (r->id != p)
		return 0;
	if (r->status == UV_RESDB_FREE)
		return !n_chan && !bytes;
	if (r->status != UV_RESDB_LIVE && r->status != UV_RESDB_PRESERVED)
		return 0;
	if ((r->status == UV_RESDB_PRESERVED) != (r->state == UV_STATE_CRASHED))
		return 0;
	return d->id == p && d->state == r->state && d->cpu_share_milli == r->cpu_share_milli &&
	       d->n_dev == r->n_devices && d->n_dev <= UV_DEVICES_MAX && r->n_channels == n_chan &&
	       r->mem_bytes == bytes;
}

static int parts_ok(const struct uv_resdb *db, const uint32_t *n_chan, const uint64_t *bytes)
{
	uint32_t p, live = 1;

	if (rdb_part(db, 0)->status != UV_RESDB_LIVE ||
	    rdb_part(db, 0)->role != UV_ROLE_ULTRAVISOR || rdb_part(db, 0)->n_channels != n_chan[0])
		return 0;
	for (p = 1; p < db->h->max_partitions; p++) {
		if (!part_ok(db, p, n_chan[p], bytes[p]))
			return 0;
		live += rdb_part(db, p)->status != UV_RESDB_FREE;
	}
	return live == db->h->n_partitions;
}

int uv_resdb_check(const struct uv_resdb *db)
{
	uint32_t max = db->h->max_partitions;
	struct owned o = {.max = max};
	uint32_t *n_chan = calloc(max, sizeof(*n_chan));
	uint64_t chan_bytes = 0;
	struct uv_pagemap_view v;
	int ok = 0;

	o.bytes = calloc(max, sizeof(*o.bytes));
	if (!n_chan || !o.bytes)
		goto out;
	if (uv_pagemap_check(&db->pm) || map_view(db, &v) ||
	    uv_pagemap_walk(&v, UV_PM_NONE, owned_cb, &o))
		goto out;
	ok = chans_ok(db, n_chan, &chan_bytes) && chan_bytes == o.bytes[0] && devs_ok(db) &&
	     parts_ok(db, n_chan, o.bytes);
out:
	free(n_chan);
	free(o.bytes);
	return ok ? 0 : -EUCLEAN;
}

/* --- Comparison. --- */

/* Walks report runs of same-tier blocks. An owner may hold a 4 MiB block as one entry or as
 * 1024 pages depending on history, so compare maximal runs of one owner, ignoring tiers. */
struct runlist {
	struct uv_pm_block *b;
	size_t n, cap;
	int err;
};

static int collect_cb(const struct uv_pm_block *b, void *ctx)
{
	struct runlist *l = ctx;

	if (b->state == UV_PM_UNAVAIL)
		return 0; /* past the pool end; the geometry was compared already */
	if (l->n && l->b[l->n - 1].state == b->state && l->b[l->n - 1].owner == b->owner &&
	    l->b[l->n - 1].offset + l->b[l->n - 1].size == b->offset) {
		l->b[l->n - 1].size += b->size;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct uv_pm_block *nb = realloc(l->b, cap * sizeof(*nb));

		if (!nb)
			return -ENOMEM;
		l->b = nb;
		l->cap = cap;
	}
	l->b[l->n] = *b;
	if (b->state != UV_PM_OWNED)
		l->b[l->n].owner = 0;
	l->n++;
	return 0;
}

static int collect(const struct uv_resdb *db, struct runlist *l)
{
	struct uv_pagemap_view v;

	return map_view(db, &v) ? -EUCLEAN : uv_pagemap_walk(&v, UV_PM_NONE, collect_cb, l);
}

static int same_block(const struct uv_pm_block *x, const struct uv_pm_block *y)
{
	return x->offset == y->offset && x->size == y->size && x->state == y->state &&
	       x->owner == y->owner;
}

static int maps_equal(const struct uv_resdb *a, const struct uv_resdb *b)
{
	struct runlist x = {0}, y = {0};
	int eq = !collect(a, &x) && !collect(b, &y) && x.n == y.n;
	size_t i;

	for (i = 0; eq && i < x.n; i++)
		eq = same_block(&x.b[i], &y.b[i]);
	free(x.b);
	free(y.b);
	return eq;
}

static int parts_equal(const struct uv_resdb *a, const struct uv_resdb *b)
{
	uint32_t p;

	for (p = 0; p < a->h->max_partitions; p++) {
		const struct uv_resdb_part *x = rdb_part(a, p), *y = rdb_part(b, p);

		if (x->role != y->role || x->status != y->status)
			return 0;
		if (x->status == UV_RESDB_FREE || !p)
			continue;
		if (memcmp(x, y, sizeof(*x)) ||
		    memcmp(rdb_desc(a, p), rdb_desc(b, p), sizeof(struct uv_partition_desc)))
			return 0;
	}
	return 1;
}

static int chans_equal(const struct uv_resdb *a, const struct uv_resdb *b)
{
	uint32_t i;

	for (i = 0; i < a->h->max_channels; i++) {
		const struct uv_resdb_chan *x = rdb_chan(a, i), *y;

		if (!x->in_use)
			continue;
		y = uv_resdb_chan_find(b, x->id);
		if (!y || memcmp(x, y, sizeof(*x)))
			return 0;
	}
	return a->h->n_channels == b->h->n_channels;
}

static int devs_equal(const struct uv_resdb *a, const struct uv_resdb *b)
{
	uint32_t i;

	for (i = 0; i < a->h->max_devices; i++) {
		const struct uv_resdb_dev *x = rdb_dev(a, i), *y;

		if (!x->in_use)
			continue;
		y = uv_resdb_dev_find(b, x->device.path);
		if (!y || memcmp(x, y, sizeof(*x)))
			return 0;
	}
	return a->h->n_devices == b->h->n_devices;
}

int uv_resdb_equal(const struct uv_resdb *a, const struct uv_resdb *b)
{
	const struct uv_resdb_hdr *x = a->h, *y = b->h;

	if (x->pool_bytes != y->pool_bytes || x->max_partitions != y->max_partitions ||
	    x->max_channels != y->max_channels || x->max_devices != y->max_devices ||
	    x->n_partitions != y->n_partitions)
		return 0;
	return parts_equal(a, b) && chans_equal(a, b) && devs_equal(a, b) && maps_equal(a, b);
}
