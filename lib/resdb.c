/* SPDX-License-Identifier: MIT */
/*
 * Resource database region: layout, set-up, lookups and the read-only view (claims 2, 10, 31).
 * Transactions: resdb_apply.c, resdb_undo.c; snapshots: resdb_snap.c.
 */
#include <errno.h>
#include <string.h>

#include "resdb_int.h"

#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((uint64_t)(a)-1))
#define READ_RETRIES 1000

struct layout {
	uint64_t part_off, chan_off, dev_off, pagemap_off, pagemap_size, total;
};

static int cfg_ok(const struct uv_resdb_config *cfg)
{
	return cfg && cfg->max_partitions >= 2 && cfg->max_partitions <= UV_RESDB_PARTITIONS_MAX &&
	       cfg->max_channels <= UV_RESDB_CHANNELS_MAX &&
	       cfg->max_devices <= UV_RESDB_DEVICES_MAX && uv_pagemap_size_for(cfg->pool_bytes);
}

static int plan(const struct uv_resdb_config *cfg, struct layout *l)
{
	if (!cfg_ok(cfg))
		return -EINVAL;
	/* Mem(G,M,K) with wordsize 8 puts partition P at P * 8 KiB: the table is dense. */
	l->part_off = (uint64_t)cfg->max_partitions * UV_RESDB_SLOT_SIZE;
	l->chan_off = l->part_off + (uint64_t)cfg->max_partitions * sizeof(struct uv_resdb_part);
	l->dev_off = l->chan_off + (uint64_t)cfg->max_channels * sizeof(struct uv_resdb_chan);
	l->pagemap_off =
	    ALIGN_UP(l->dev_off + (uint64_t)cfg->max_devices * sizeof(struct uv_resdb_dev),
	             UV_PM_IPAGE_BYTES);
	l->pagemap_size = uv_pagemap_size_for(cfg->pool_bytes);
	l->total = l->pagemap_off + l->pagemap_size;
	return 0;
}

size_t uv_resdb_size_for(const struct uv_resdb_config *cfg)
{
	struct layout l;

	return plan(cfg, &l) ? 0 : (size_t)l.total;
}

static int roles_ok(const struct uv_resdb_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_system; i++) {
		uint32_t p = cfg->system[i].partition;
		uint8_t r = cfg->system[i].role;

		if (!p || p >= cfg->max_partitions || r == UV_ROLE_ULTRAVISOR ||
		    r == UV_ROLE_MONITOR || r == UV_ROLE_GUEST || r >= UV_ROLE_COUNT)
			return 0;
	}
	return 1;
}

static void write_hdr(struct uv_resdb_hdr *h, const struct uv_resdb_config *cfg,
                      const struct layout *l)
{
	memset(h, 0, sizeof(*h));
	h->magic = UV_RESDB_MAGIC;
	h->version = UV_RESDB_VERSION;
	h->hdr_size = sizeof(*h);
	h->total_size = l->total;
	h->wordsize = UV_RESDB_WORDSIZE;
	h->slot_size = UV_RESDB_SLOT_SIZE;
	h->max_partitions = cfg->max_partitions;
	h->max_channels = cfg->max_channels;
	h->max_devices = cfg->max_devices;
	h->part_off = l->part_off;
	h->chan_off = l->chan_off;
	h->dev_off = l->dev_off;
	h->pagemap_off = l->pagemap_off;
	h->pagemap_size = l->pagemap_size;
	h->pool_bytes = cfg->pool_bytes;
	h->n_partitions = 1;
}

static void init_parts(struct uv_resdb *db, const struct uv_resdb_config *cfg)
{
	uint32_t p;
	size_t i;

	for (p = 0; p < cfg->max_partitions; p++) {
		rdb_part(db, p)->id = p;
		rdb_part(db, p)->role = UV_ROLE_GUEST;
	}
	for (i = 0; i < cfg->n_system; i++)
		rdb_part(db, cfg->system[i].partition)->role = cfg->system[i].role;
	rdb_part(db, 0)->role = UV_ROLE_ULTRAVISOR;
	rdb_part(db, 0)->status = UV_RESDB_LIVE;
	rdb_part(db, 0)->state = UV_STATE_RUNNING;
}

int uv_resdb_init(struct uv_resdb *db, void *area, size_t size, const struct uv_resdb_config *cfg)
{
	struct uv_resdb d = {0};
	struct layout l;
	int r;

	if (!area || plan(cfg, &l) || size < l.total || !roles_ok(cfg))
		return -EINVAL;
	d.base = area;
	d.h = area;
	/* Descriptor slots are written on create; only the records must start zeroed. */
	memset(d.base + l.part_off, 0, l.pagemap_off - l.part_off);
	r = uv_pagemap_init(&d.pm, d.base + l.pagemap_off, l.pagemap_size, cfg->pool_bytes);
	if (r)
		return r;
	write_hdr(d.h, cfg, &l);
	init_parts(&d, cfg);
	db->base = d.base;
	db->h = d.h;
	db->pm = d.pm;
	return 0;
}

const struct uv_resdb_part *uv_resdb_part(const struct uv_resdb *db, uint32_t partition)
{
	return partition < db->h->max_partitions ? rdb_part(db, partition) : NULL;
}

const struct uv_partition_desc *uv_resdb_desc(const struct uv_resdb *db, uint32_t partition)
{
	if (!partition || partition >= db->h->max_partitions ||
	    rdb_part(db, partition)->status == UV_RESDB_FREE)
		return NULL;
	return rdb_desc(db, partition);
}

long rdb_chan_index(const struct uv_resdb *db, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < db->h->max_channels; i++)
		if (rdb_chan(db, i)->in_use && rdb_chan(db, i)->id == id)
			return i;
	return -1;
}

long rdb_free_chan(const struct uv_resdb *db)
{
	uint32_t i;

	for (i = 0; i < db->h->max_channels; i++)
		if (!rdb_chan(db, i)->in_use)
			return i;
	return -1;
}

long rdb_dev_index(const struct uv_resdb *db, const char *path)
{
	uint32_t i;

	for (i = 0; i < db->h->max_devices; i++)
		if (rdb_dev(db, i)->in_use &&
		    !strncmp(rdb_dev(db, i)->device.path, path, UV_PATH_MAX))
			return i;
	return -1;
}

long rdb_free_dev(const struct uv_resdb *db)
{
	uint32_t i;

	for (i = 0; i < db->h->max_devices; i++)
		if (!rdb_dev(db, i)->in_use)
			return i;
	return -1;
}

const struct uv_resdb_chan *uv_resdb_chan_find(const struct uv_resdb *db, uint32_t channel_id)
{
	long i = rdb_chan_index(db, channel_id);

	return i < 0 ? NULL : rdb_chan(db, (uint32_t)i);
}

const struct uv_resdb_chan *uv_resdb_chan_at(const struct uv_resdb *db, uint32_t i)
{
	const struct uv_resdb_chan *ch;

	if (i >= db->h->max_channels)
		return NULL;
	ch = rdb_chan(db, i);
	return ch->in_use ? ch : NULL;
}

const struct uv_resdb_dev *uv_resdb_dev_find(const struct uv_resdb *db, const char *path)
{
	long i = rdb_dev_index(db, path);

	return i < 0 ? NULL : rdb_dev(db, (uint32_t)i);
}

int uv_resdb_command_up(const struct uv_resdb *db)
{
	uint32_t p;

	for (p = 1; p < db->h->max_partitions; p++) {
		const struct uv_resdb_part *r = rdb_part(db, p);

		if (r->role == UV_ROLE_COMMAND && r->status == UV_RESDB_LIVE &&
		    r->state == UV_STATE_RUNNING)
			return 1;
	}
	return 0;
}

/* --- Read-only view. --- */

static int geo_ok(const struct uv_resdb_hdr *g, size_t size)
{
	struct uv_resdb_config cfg = {
	    .pool_bytes = g->pool_bytes,
	    .max_partitions = g->max_partitions,
	    .max_channels = g->max_channels,
	    .max_devices = g->max_devices,
	};
	struct layout l;

	if (g->magic != UV_RESDB_MAGIC || g->version != UV_RESDB_VERSION ||
	    g->hdr_size != sizeof(*g) || g->wordsize != UV_RESDB_WORDSIZE ||
	    g->slot_size != UV_RESDB_SLOT_SIZE || g->desc_off || plan(&cfg, &l))
		return 0;
	return l.part_off == g->part_off && l.chan_off == g->chan_off && l.dev_off == g->dev_off &&
	       l.pagemap_off == g->pagemap_off && l.pagemap_size == g->pagemap_size &&
	       l.total == g->total_size && l.total <= size;
}

int uv_resdb_view_attach(struct uv_resdb_view *v, const void *area, size_t size)
{
	struct uv_resdb_view n = {.base = area, .size = size};
	int r;

	if (!area || size < sizeof(n.geo))
		return -EINVAL;
	memcpy(&n.geo, area, sizeof(n.geo));
	if (!geo_ok(&n.geo, size))
		return -EINVAL;
	r = uv_pagemap_view_attach(&n.pm, n.base + n.geo.pagemap_off, n.geo.pagemap_size);
	if (r)
		return r;
	*v = n;
	return 0;
}

static uint64_t read_gen(const struct uv_resdb_view *v)
{
	return __atomic_load_n(&((const struct uv_resdb_hdr *)v->base)->gen, __ATOMIC_ACQUIRE);
}

/* Copies [src, src + len) and, if b is not NULL, [sb, sb + lb) as the writer left them between
 * two changes (the generation was even and did not move): 0, or -EAGAIN. */
static int read_stable(const struct uv_resdb_view *v, void *dst, const void *src, size_t len,
                       void *b, const void *sb, size_t lb)
{
	for (int i = 0; i < READ_RETRIES; i++) {
		uint64_t g = read_gen(v);

		if (g & 1)
			continue;
		memcpy(dst, src, len);
		if (b)
			memcpy(b, sb, lb);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (read_gen(v) == g)
			return 0;
	}
	return -EAGAIN;
}

int uv_resdb_read_desc(const struct uv_resdb_view *v, uint32_t partition,
                       struct uv_partition_desc *out, struct uv_resdb_part *rec)
{
	const uint8_t *slot = v->base + (uint64_t)partition * UV_RESDB_SLOT_SIZE;
	const uint8_t *recp = v->base + v->geo.part_off + partition * sizeof(struct uv_resdb_part);
	struct uv_partition_desc d;
	struct uv_resdb_part p;
	int r;

	if (!partition || partition >= v->geo.max_partitions)
		return -ENOENT;
	if ((r = read_stable(v, &p, recp, sizeof(p), &d, slot, sizeof(d))))
		return r;
	if (p.status == UV_RESDB_FREE)
		return -ENOENT;
	*out = d;
	if (rec)
		*rec = p;
	return 0;
}

int uv_resdb_read_chan(const struct uv_resdb_view *v, uint32_t i, struct uv_resdb_chan *out)
{
	const uint8_t *recp =
	    v->base + v->geo.chan_off + (uint64_t)i * sizeof(struct uv_resdb_chan);
	struct uv_resdb_chan ch;
	int r;

	if (i >= v->geo.max_channels)
		return -ENOENT;
	if ((r = read_stable(v, &ch, recp, sizeof(ch), NULL, NULL, 0)))
		return r;
	if (!ch.in_use)
		return -ENOENT;
	*out = ch;
	return 0;
}
