/* SPDX-License-Identifier: MIT */
/*
 * SET_DISK_LIMITS (claims 3, 7, 19; docs/io-partition.md, "Changing a limit"): one disk's I/O
 * limit in the partition's descriptor, defined or running. Only the stored descriptor changes
 * here, so a snapshot, a replayed log and a restarted enforcer all find the limit last committed.
 * The totals it replaced go back to the sender in the response; undo restores the whole limit
 * (totals and each direction, claim 22's read and write limits) kept in the result.
 */
#include "resdb_ops.h"

static enum uv_txn_reason limits_check(const struct uv_resdb *db, const struct uv_txn *t)
{
	const struct uv_txn_disk_limits *l = &t->u.disk_limits;
	enum uv_txn_reason r = rdb_live(db, l->partition_id);

	if (r)
		return r;
	return l->disk < rdb_desc(db, l->partition_id)->n_disk ? UV_TXN_OK : UV_TXN_NO_SUCH_DEVICE;
}

static enum uv_txn_reason limits_apply(struct uv_resdb *db, const struct uv_txn *t,
                                       struct uv_resdb_result *res)
{
	const struct uv_txn_disk_limits *l = &t->u.disk_limits;
	struct uv_disk_limit *now = &rdb_desc(db, l->partition_id)->disk_limit[l->disk];

	res->value[0] = now->bytes_per_sec;
	res->value[1] = now->iops;
	res->limit = *now;
	*now = l->limit;
	return UV_TXN_OK;
}

static enum uv_txn_reason limits_undo_check(const struct uv_resdb *db, const struct uv_txn *t,
                                            const struct uv_resdb_result *res)
{
	(void)res;
	return limits_check(db, t);
}

static void limits_undo(struct uv_resdb *db, const struct uv_txn *t,
                        const struct uv_resdb_result *res)
{
	const struct uv_txn_disk_limits *l = &t->u.disk_limits;
	struct uv_disk_limit *now = &rdb_desc(db, l->partition_id)->disk_limit[l->disk];

	*now = res->limit;
}

const struct rdb_ops rdb_ops_disk_limits = {
    limits_check,
    limits_apply,
    limits_undo_check,
    limits_undo,
};
