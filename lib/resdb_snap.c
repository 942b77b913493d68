/* SPDX-License-Identifier: MIT */
/*
 * Snapshots of the resource database for the audit log's checkpoints (claims 7, 54): a compact
 * list of what exists (include/ultra/resdb.h, struct uv_resdb_snap_hdr), not the region itself,
 * whose page map reservation is mostly untouched address space.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "desc.h"
#include "desc_upgrade.h"
#include "resdb_int.h"

struct cursor {
	uint8_t *out; /* NULL when only counting */
	const uint8_t *in;
	size_t len, cap;
};

static int put(struct cursor *c, const void *p, size_t n)
{
	if (c->out) {
		if (c->cap - c->len < n)
			return -ENOSPC;
		memcpy(c->out + c->len, p, n);
	}
	c->len += n;
	return 0;
}

static int get(struct cursor *c, void *p, size_t n)
{
	if (c->cap - c->len < n)
		return -EINVAL;
	memcpy(p, c->in + c->len, n);
	c->len += n;
	return 0;
}

struct runs {
	struct cursor *c;
	struct uv_resdb_snap_run cur;
	uint32_t n;
	int err;
};

static int flush_run(struct runs *r)
{
	int e = 0;

	if (r->cur.size) {
		e = put(r->c, &r->cur, sizeof(r->cur));
		r->n++;
	}
	memset(&r->cur, 0, sizeof(r->cur));
	return e;
}

static int run_cb(const struct uv_pm_block *b, void *ctx)
{
	struct runs *r = ctx;

	if (b->state != UV_PM_OWNED)
		return 0;
	if (r->cur.size && r->cur.owner == b->owner && r->cur.offset + r->cur.size == b->offset) {
		r->cur.size += b->size;
		return 0;
	}
	if (flush_run(r))
		return -ENOSPC;
	r->cur.offset = b->offset;
	r->cur.size = b->size;
	r->cur.owner = b->owner;
	return 0;
}

static int put_runs(const struct uv_resdb *db, struct cursor *c, uint32_t *n)
{
	struct runs r = {.c = c};
	struct uv_pagemap_view v;
	int e = uv_pagemap_view_attach(&v, db->base + db->h->pagemap_off, db->h->pagemap_size);

	if (!e)
		e = uv_pagemap_walk(&v, UV_PM_NONE, run_cb, &r);
	if (!e)
		e = flush_run(&r);
	*n = r.n;
	return e;
}

static int put_records(const struct uv_resdb *db, struct cursor *c, struct uv_resdb_snap_hdr *s)
{
	uint32_t i;
	int e = 0;

	for (i = 1; i < db->h->max_partitions && !e; i++) {
		struct uv_resdb_snap_role r = {.partition = i, .role = rdb_part(db, i)->role};

		if (r.role != UV_ROLE_GUEST) {
			e = put(c, &r, sizeof(r));
			s->n_roles++;
		}
	}
	for (i = 1; i < db->h->max_partitions && !e; i++) {
		if (rdb_part(db, i)->status == UV_RESDB_FREE)
			continue;
		e = put(c, rdb_part(db, i), sizeof(struct uv_resdb_part));
		if (!e)
			e = put(c, rdb_desc(db, i), sizeof(struct uv_partition_desc));
		s->n_parts++;
	}
	for (i = 0; i < db->h->max_channels && !e; i++) {
		if (rdb_chan(db, i)->in_use) {
			e = put(c, rdb_chan(db, i), sizeof(struct uv_resdb_chan));
			s->n_chans++;
		}
	}
	for (i = 0; i < db->h->max_devices && !e; i++) {
		if (rdb_dev(db, i)->in_use) {
			e = put(c, rdb_dev(db, i), sizeof(struct uv_resdb_dev));
			s->n_devs++;
		}
	}
	return e ? e : put_runs(db, c, &s->n_runs);
}

static ssize_t save(const struct uv_resdb *db, struct cursor *c)
{
	struct uv_resdb_snap_hdr s = {
	    .magic = UV_RESDB_SNAP_MAGIC,
	    .version = UV_RESDB_SNAP_VERSION,
	    .hdr_size = sizeof(s),
	    .pool_bytes = db->h->pool_bytes,
	    .max_partitions = db->h->max_partitions,
	    .max_channels = db->h->max_channels,
	    .max_devices = db->h->max_devices,
	};
	int e;

	c->len = sizeof(s);
	e = put_records(db, c, &s);
	if (e)
		return e;
	s.length = c->len;
	if (c->out)
		memcpy(c->out, &s, sizeof(s));
	return (ssize_t)c->len;
}

size_t uv_resdb_save_size(const struct uv_resdb *db)
{
	struct cursor c = {0};
	ssize_t n = save(db, &c);

	return n < 0 ? 0 : (size_t)n;
}

ssize_t uv_resdb_save(const struct uv_resdb *db, void *buf, size_t cap)
{
	struct cursor c = {.out = buf, .cap = cap};

	if (cap < sizeof(struct uv_resdb_snap_hdr))
		return -ENOSPC;
	return save(db, &c);
}

/* --- Loading. --- */

static int load_roles(struct uv_resdb *db, struct cursor *c, uint32_t n)
{
	uint32_t i;

	for (i = 1; i < db->h->max_partitions; i++)
		rdb_part(db, i)->role = UV_ROLE_GUEST;
	for (i = 0; i < n; i++) {
		struct uv_resdb_snap_role r;

		if (get(c, &r, sizeof(r)) || !r.partition || r.partition >= db->h->max_partitions ||
		    r.role == UV_ROLE_ULTRAVISOR || r.role == UV_ROLE_GUEST ||
		    r.role == UV_ROLE_MONITOR || r.role >= UV_ROLE_COUNT)
			return -EINVAL;
		rdb_part(db, r.partition)->role = r.role;
	}
	return 0;
}

/* A snapshot written by an earlier build holds that build's shorter descriptors (docs/txn-log.md,
 * "Upgrading"); each one's own header says how long it is, and it is read as the current form. */
static int get_desc(struct cursor *c, struct uv_partition_desc *d)
{
	size_t n = uv_desc_stored_size(c->in + c->len, c->cap - c->len);

	if (!n || c->cap - c->len < n || uv_desc_upgrade(c->in + c->len, n, d, NULL, 0))
		return -EINVAL;
	c->len += n;
	return 0;
}

static int load_parts(struct uv_resdb *db, struct cursor *c, uint32_t n)
{
	uint32_t i, last = 0;

	for (i = 0; i < n; i++) {
		struct uv_resdb_part p;
		struct uv_partition_desc d;

		if (get(c, &p, sizeof(p)) || get_desc(c, &d))
			return -EINVAL;
		/* Ascending ids: no duplicates, and the role is the configured one. */
		if (p.id <= last || p.id >= db->h->max_partitions || d.id != p.id ||
		    p.role != rdb_part(db, p.id)->role ||
		    (p.status != UV_RESDB_LIVE && p.status != UV_RESDB_PRESERVED) ||
		    uv_desc_validate(&d, 0, NULL, 0))
			return -EINVAL;
		last = p.id;
		memset(rdb_desc(db, p.id), 0, UV_RESDB_SLOT_SIZE);
		*rdb_desc(db, p.id) = d;
		*rdb_part(db, p.id) = p;
		db->h->n_partitions++;
	}
	return 0;
}

static int load_chans(struct uv_resdb *db, struct cursor *c, uint32_t n)
{
	uint32_t i;

	if (n > db->h->max_channels)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct uv_resdb_chan ch;

		if (get(c, &ch, sizeof(ch)) || ch.in_use != 1 || rdb_chan_index(db, ch.id) >= 0)
			return -EINVAL;
		*rdb_chan(db, i) = ch;
		db->h->n_channels++;
		/* Partition 0 has no record in the snapshot: count its channels here. */
		rdb_part(db, 0)->n_channels += (ch.endpoint[0] == 0) + (ch.endpoint[1] == 0);
	}
	return 0;
}

static int load_devs(struct uv_resdb *db, struct cursor *c, uint32_t n)
{
	uint32_t i;

	if (n > db->h->max_devices)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct uv_resdb_dev d;

		if (get(c, &d, sizeof(d)) || d.in_use != 1 ||
		    !memchr(d.device.path, 0, sizeof(d.device.path)) ||
		    rdb_dev_index(db, d.device.path) >= 0)
			return -EINVAL;
		*rdb_dev(db, i) = d;
		db->h->n_devices++;
	}
	return 0;
}

static int load_runs(struct uv_resdb *db, struct cursor *c, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct uv_resdb_snap_run r;
		struct uv_pm_extent e;
		int err;

		if (get(c, &r, sizeof(r)) || r.owner >= db->h->max_partitions)
			return -EINVAL;
		e = (struct uv_pm_extent){.offset = r.offset, .size = r.size};
		err = uv_pagemap_claim(&db->pm, r.owner, &e, 1);
		if (err)
			return err == -EBUSY ? -EBUSY : -EINVAL;
	}
	return 0;
}

static int load(struct uv_resdb *db, const void *buf, size_t len)
{
	struct cursor c = {.in = buf, .cap = len};
	struct uv_resdb_snap_hdr s;
	int e;

	if (get(&c, &s, sizeof(s)) || s.magic != UV_RESDB_SNAP_MAGIC ||
	    s.version != UV_RESDB_SNAP_VERSION || s.hdr_size != sizeof(s) || s.length != len ||
	    s.pool_bytes != db->h->pool_bytes || s.max_partitions != db->h->max_partitions ||
	    s.max_channels != db->h->max_channels || s.max_devices != db->h->max_devices)
		return -EINVAL;
	e = load_roles(db, &c, s.n_roles);
	if (!e)
		e = load_parts(db, &c, s.n_parts);
	if (!e)
		e = load_chans(db, &c, s.n_chans);
	if (!e)
		e = load_devs(db, &c, s.n_devs);
	if (!e)
		e = load_runs(db, &c, s.n_runs);
	if (!e && c.len != len)
		e = -EINVAL;
	/* Counts, cross references and the map: a snapshot must be a database we could build. */
	if (!e && uv_resdb_check(db))
		e = -EINVAL;
	return e;
}

static int is_fresh(const struct uv_resdb *db)
{
	return db->h->n_partitions == 1 && !db->h->n_channels && !db->h->n_devices &&
	       uv_pagemap_free_bytes(&db->pm) == db->h->pool_bytes;
}

int uv_resdb_load(struct uv_resdb *db, const void *buf, size_t len)
{
	struct uv_resdb_config cfg = {
	    .pool_bytes = db->h->pool_bytes,
	    .max_partitions = db->h->max_partitions,
	    .max_channels = db->h->max_channels,
	    .max_devices = db->h->max_devices,
	};
	uint8_t *roles;
	uint32_t i;
	int e;

	if (!buf || !is_fresh(db))
		return -EINVAL;
	roles = malloc(cfg.max_partitions);
	if (!roles)
		return -ENOMEM;
	for (i = 0; i < cfg.max_partitions; i++)
		roles[i] = rdb_part(db, i)->role;
	rdb_write_begin(db);
	e = load(db, buf, len);
	if (e) {
		uint64_t gen = db->h->gen;

		uv_resdb_init(db, db->base, db->h->total_size, &cfg);
		db->h->gen = gen;
		for (i = 1; i < cfg.max_partitions; i++)
			rdb_part(db, i)->role = roles[i];
	}
	rdb_write_end(db);
	free(roles);
	return e;
}
