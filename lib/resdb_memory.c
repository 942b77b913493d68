/* SPDX-License-Identifier: MIT */
/*
 * GRANT_MEMORY and REVOKE_MEMORY (claims 29-33). A grant without extents is allocated by the
 * page map (largest tier first, deterministic) and the result carries the blocks, so the daemon
 * logs them; a grant with extents (a replay) claims exactly those.
 */
#include <string.h>

#include "resdb_ops.h"

#define OWNER_FREE UV_PM_NONE

static struct uv_txn_extent extent_at(const struct uv_txn_extent *e, uint32_t i)
{
	struct uv_txn_extent x;

	memcpy(&x, (const unsigned char *)e + (size_t)i * sizeof(x), sizeof(x));
	return x;
}

/* Every page of [off, off+size) is free (owner OWNER_FREE) or owned by owner. */
static int range_is(const struct uv_resdb *db, uint64_t off, uint64_t size, uint32_t owner)
{
	struct uv_pagemap_view v;
	uint64_t end = off + size;

	if (end < off || end > db->h->pool_bytes ||
	    uv_pagemap_view_attach(&v, db->base + db->h->pagemap_off, db->h->pagemap_size))
		return 0;
	while (off < end) {
		struct uv_pm_block b;

		if (uv_pagemap_lookup(&v, off, &b))
			return 0;
		if (owner == OWNER_FREE ? b.state != UV_PM_FREE
		                        : b.state != UV_PM_OWNED || b.owner != owner)
			return 0;
		off = b.offset + b.size;
	}
	return 1;
}

int rdb_extents_are(const struct uv_resdb *db, const struct uv_txn_extent *e, uint32_t n,
                    uint32_t owner)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct uv_txn_extent x = extent_at(e, i);

		if (!range_is(db, x.pool_offset, x.size, owner))
			return 0;
	}
	return 1;
}

static void keep_extents(struct uv_resdb_result *res, const struct uv_txn *t)
{
	res->n_extents = t->u.memory.n_extents;
	memcpy(res->extents, t->extents, (size_t)res->n_extents * sizeof(res->extents[0]));
}

static enum uv_txn_reason grant_check(const struct uv_resdb *db, const struct uv_txn *t)
{
	const struct uv_txn_memory *m = &t->u.memory;
	enum uv_txn_reason r = rdb_live(db, m->partition_id);
	uint32_t i;

	if (r)
		return r;
	if (!m->n_extents) {
		if (!m->bytes || m->bytes % UV_TXN_PAGE_SIZE)
			return UV_TXN_BAD_VALUE;
		return m->bytes > uv_pagemap_free_bytes(&db->pm) ? UV_TXN_NO_SPACE : UV_TXN_OK;
	}
	for (i = 0; i < m->n_extents; i++) {
		struct uv_txn_extent x = extent_at(t->extents, i);

		if (x.pool_offset + x.size > db->h->pool_bytes)
			return UV_TXN_NO_SPACE;
	}
	return rdb_extents_are(db, t->extents, m->n_extents, OWNER_FREE) ? UV_TXN_OK
	                                                                 : UV_TXN_DOUBLE_ALLOC;
}

static enum uv_txn_reason grant_apply(struct uv_resdb *db, const struct uv_txn *t,
                                      struct uv_resdb_result *res)
{
	const struct uv_txn_memory *m = &t->u.memory;

	if (!m->n_extents) {
		if (rdb_alloc(db, m->partition_id, m->bytes, res))
			return UV_TXN_NO_SPACE;
	} else {
		if (rdb_claim(db, m->partition_id, t->extents, m->n_extents))
			return UV_TXN_NO_SPACE; /* index pages ran out: the area is undersized */
		keep_extents(res, t);
	}
	rdb_part(db, m->partition_id)->mem_bytes += m->bytes;
	res->value[0] = m->bytes;
	return UV_TXN_OK;
}

static enum uv_txn_reason grant_undo_check(const struct uv_resdb *db, const struct uv_txn *t,
                                           const struct uv_resdb_result *res)
{
	const struct uv_txn_memory *m = &t->u.memory;

	if (rdb_part(db, m->partition_id)->status == UV_RESDB_FREE)
		return UV_TXN_NO_SUCH_PARTITION;
	return rdb_extents_are(db, res->extents, res->n_extents, m->partition_id) ? UV_TXN_OK
	                                                                          : UV_TXN_BUSY;
}

static void grant_undo(struct uv_resdb *db, const struct uv_txn *t,
                       const struct uv_resdb_result *res)
{
	const struct uv_txn_memory *m = &t->u.memory;

	rdb_free(db, m->partition_id, res->extents, res->n_extents);
	rdb_part(db, m->partition_id)->mem_bytes -= m->bytes;
}

const struct rdb_ops rdb_ops_memory_grant = {
    grant_check,
    grant_apply,
    grant_undo_check,
    grant_undo,
};

/* Revoking blocks the partition does not hold names a bad extent. */
static enum uv_txn_reason revoke_check(const struct uv_resdb *db, const struct uv_txn *t)
{
	const struct uv_txn_memory *m = &t->u.memory;
	enum uv_txn_reason r = rdb_live(db, m->partition_id);

	if (r)
		return r;
	return rdb_extents_are(db, t->extents, m->n_extents, m->partition_id) ? UV_TXN_OK
	                                                                      : UV_TXN_BAD_EXTENT;
}

static enum uv_txn_reason revoke_apply(struct uv_resdb *db, const struct uv_txn *t,
                                       struct uv_resdb_result *res)
{
	const struct uv_txn_memory *m = &t->u.memory;

	if (rdb_free(db, m->partition_id, t->extents, m->n_extents))
		return UV_TXN_BAD_EXTENT;
	keep_extents(res, t);
	rdb_part(db, m->partition_id)->mem_bytes -= m->bytes;
	res->value[0] = m->bytes;
	return UV_TXN_OK;
}

static enum uv_txn_reason revoke_undo_check(const struct uv_resdb *db, const struct uv_txn *t,
                                            const struct uv_resdb_result *res)
{
	const struct uv_txn_memory *m = &t->u.memory;

	if (rdb_part(db, m->partition_id)->status == UV_RESDB_FREE)
		return UV_TXN_NO_SUCH_PARTITION;
	return rdb_extents_are(db, res->extents, res->n_extents, OWNER_FREE) ? UV_TXN_OK
	                                                                     : UV_TXN_DOUBLE_ALLOC;
}

static void revoke_undo(struct uv_resdb *db, const struct uv_txn *t,
                        const struct uv_resdb_result *res)
{
	const struct uv_txn_memory *m = &t->u.memory;

	rdb_claim(db, m->partition_id, res->extents, res->n_extents);
	rdb_part(db, m->partition_id)->mem_bytes += m->bytes;
}

const struct rdb_ops rdb_ops_memory_revoke = {
    revoke_check,
    revoke_apply,
    revoke_undo_check,
    revoke_undo,
};
