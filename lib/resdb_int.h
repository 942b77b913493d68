/* SPDX-License-Identifier: MIT */
/* Internals shared by the resource database's files. */
#ifndef ULTRA_LIB_RESDB_INT_H
#define ULTRA_LIB_RESDB_INT_H

#include "resdb.h"

static inline struct uv_resdb_part *rdb_part(const struct uv_resdb *db, uint32_t p)
{
	return (struct uv_resdb_part *)(db->base + db->h->part_off) + p;
}

static inline struct uv_partition_desc *rdb_desc(const struct uv_resdb *db, uint32_t p)
{
	return (struct uv_partition_desc *)(db->base + db->h->desc_off +
	                                    (uint64_t)p * UV_RESDB_SLOT_SIZE);
}

static inline struct uv_resdb_chan *rdb_chan(const struct uv_resdb *db, uint32_t i)
{
	return (struct uv_resdb_chan *)(db->base + db->h->chan_off) + i;
}

static inline struct uv_resdb_dev *rdb_dev(const struct uv_resdb *db, uint32_t i)
{
	return (struct uv_resdb_dev *)(db->base + db->h->dev_off) + i;
}

/* Seqlock writer side: gen is odd while the region changes. */
static inline void rdb_write_begin(struct uv_resdb *db)
{
	__atomic_store_n(&db->h->gen, db->h->gen + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void rdb_write_end(struct uv_resdb *db)
{
	__atomic_store_n(&db->h->gen, db->h->gen + 1, __ATOMIC_RELEASE);
}

/* Index of channel id, or -1. */
long rdb_chan_index(const struct uv_resdb *db, uint32_t id);
/* Index of the device record with this path, or -1. */
long rdb_dev_index(const struct uv_resdb *db, const char *path);
long rdb_free_chan(const struct uv_resdb *db);
long rdb_free_dev(const struct uv_resdb *db);

/* Device bookkeeping of partition p: record plus descriptor list, at position pos. */
void rdb_dev_attach(struct uv_resdb *db, uint32_t p, const struct uv_device *d, uint32_t pos);
void rdb_dev_detach(struct uv_resdb *db, uint32_t p, uint32_t pos);

/* Pool memory helpers: results sorted and merged into res->extents. */
int rdb_alloc(struct uv_resdb *db, uint32_t owner, uint64_t bytes, struct uv_resdb_result *res);
int rdb_claim(struct uv_resdb *db, uint32_t owner, const struct uv_txn_extent *e, uint32_t n);
int rdb_free(struct uv_resdb *db, uint32_t owner, const struct uv_txn_extent *e, uint32_t n);
/* Every page of the n extents at e (which may be unaligned) is owned by owner, or free when
 * owner is UV_PM_NONE. */
int rdb_extents_are(const struct uv_resdb *db, const struct uv_txn_extent *e, uint32_t n,
                    uint32_t owner);

#endif
