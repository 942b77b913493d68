/* SPDX-License-Identifier: MIT */
/*
 * One entry per transaction type: check (reads only), then apply under the generation counter;
 * undo_check and undo the same way for the reverse. apply may still fail for reasons check cannot
 * see cheaply (the page map could not fit the blocks in the extents a record holds); it then
 * leaves the ownership of every page unchanged.
 */
#ifndef ULTRA_LIB_RESDB_OPS_H
#define ULTRA_LIB_RESDB_OPS_H

#include "resdb_int.h"

struct rdb_ops {
	enum uv_txn_reason (*check)(const struct uv_resdb *db, const struct uv_txn *t);
	enum uv_txn_reason (*apply)(struct uv_resdb *db, const struct uv_txn *t,
	                            struct uv_resdb_result *res);
	enum uv_txn_reason (*undo_check)(const struct uv_resdb *db, const struct uv_txn *t,
	                                 const struct uv_resdb_result *res);
	void (*undo)(struct uv_resdb *db, const struct uv_txn *t,
	             const struct uv_resdb_result *res);
};

/* Indexed by enum uv_txn_type; NULL entries are not requests. */
extern const struct rdb_ops *const rdb_ops_table[UV_TXN_TYPE_COUNT];

extern const struct rdb_ops rdb_ops_partition_create, rdb_ops_partition_destroy;
extern const struct rdb_ops rdb_ops_memory_grant, rdb_ops_memory_revoke;
extern const struct rdb_ops rdb_ops_channel_create, rdb_ops_channel_destroy;
extern const struct rdb_ops rdb_ops_device_assign, rdb_ops_device_release;
extern const struct rdb_ops rdb_ops_cpu_share, rdb_ops_state, rdb_ops_disk_limits;

/* Common target check: NO_SUCH_PARTITION if free or out of range, BUSY if preserved. */
enum uv_txn_reason rdb_live(const struct uv_resdb *db, uint32_t p);

#endif
