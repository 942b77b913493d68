/* SPDX-License-Identifier: MIT */
/*
 * Applying and undoing transactions (claims 3, 5, 7, 50, 52, 54): check everything first with
 * the region untouched, then change it inside one odd generation so readers never see half.
 */
#include <errno.h>
#include <string.h>

#include "resdb_ops.h"
#include "resdb_perm.h"
#include "resdb_values.h"

const struct rdb_ops *const rdb_ops_table[UV_TXN_TYPE_COUNT] = {
    [UV_TXN_CREATE_PARTITION] = &rdb_ops_partition_create,
    [UV_TXN_DESTROY_PARTITION] = &rdb_ops_partition_destroy,
    [UV_TXN_GRANT_MEMORY] = &rdb_ops_memory_grant,
    [UV_TXN_REVOKE_MEMORY] = &rdb_ops_memory_revoke,
    [UV_TXN_CREATE_CHANNEL] = &rdb_ops_channel_create,
    [UV_TXN_DESTROY_CHANNEL] = &rdb_ops_channel_destroy,
    [UV_TXN_ASSIGN_DEVICE] = &rdb_ops_device_assign,
    [UV_TXN_RELEASE_DEVICE] = &rdb_ops_device_release,
    [UV_TXN_SET_CPU_SHARE] = &rdb_ops_cpu_share,
    [UV_TXN_SET_STATE] = &rdb_ops_state,
    [UV_TXN_SET_DISK_LIMITS] = &rdb_ops_disk_limits,
};

static const struct rdb_ops *ops_of(const struct uv_txn *t)
{
	return t->hdr.type < UV_TXN_TYPE_COUNT ? rdb_ops_table[t->hdr.type] : NULL;
}

static void result_reset(struct uv_resdb_result *res)
{
	res->reason = UV_TXN_OK;
	res->value[0] = res->value[1] = 0;
	res->prev[0] = res->prev[1] = 0;
	memset(&res->device, 0, sizeof(res->device));
	res->n_extents = 0;
}

enum uv_txn_reason uv_resdb_apply(struct uv_resdb *db, const struct uv_txn *t,
                                  struct uv_resdb_result *res)
{
	const struct rdb_ops *ops = ops_of(t);
	enum uv_txn_reason r;

	result_reset(res);
	r = ops ? rdb_check_values(t) : UV_TXN_UNKNOWN_TYPE;
	if (!r)
		r = rdb_check_sender(db, t);
	if (!r)
		r = ops->check(db, t);
	if (!r) {
		rdb_write_begin(db);
		r = ops->apply(db, t, res);
		rdb_write_end(db);
	}
	res->reason = r;
	return r;
}

void uv_resdb_complete(const struct uv_txn *t, const struct uv_resdb_result *res,
                       struct uv_txn *out)
{
	*out = *t;
	if (t->hdr.type == UV_TXN_GRANT_MEMORY && !t->u.memory.n_extents &&
	    res->reason == UV_TXN_OK) {
		out->u.memory.n_extents = res->n_extents;
		out->extents = res->extents;
	}
}

enum uv_txn_reason uv_resdb_undo(struct uv_resdb *db, const struct uv_txn *t,
                                 const struct uv_resdb_result *res)
{
	const struct rdb_ops *ops = ops_of(t);
	enum uv_txn_reason r;

	if (!ops)
		return UV_TXN_UNKNOWN_TYPE;
	if (res->reason != UV_TXN_OK)
		return UV_TXN_OK; /* it was refused: nothing to undo */
	r = ops->undo_check(db, t, res);
	if (r)
		return r;
	rdb_write_begin(db);
	ops->undo(db, t, res);
	rdb_write_end(db);
	return UV_TXN_OK;
}

void uv_resdb_state_txn(struct uv_txn *t, uint32_t partition, enum uv_part_state state)
{
	memset(t, 0, sizeof(*t));
	t->hdr.magic = UV_TXN_MAGIC;
	t->hdr.version = UV_TXN_VERSION;
	t->hdr.header_size = sizeof(t->hdr);
	t->hdr.type = UV_TXN_SET_STATE;
	t->hdr.sender_id = 0;
	t->hdr.sender_role = UV_ROLE_ULTRAVISOR;
	t->u.state.partition_id = partition;
	t->u.state.state = state;
}

static int move_state(struct uv_resdb *db, uint32_t partition, enum uv_part_state state,
                      uint32_t from)
{
	struct uv_resdb_result res;
	struct uv_txn t;

	if (!partition || partition >= db->h->max_partitions ||
	    rdb_part(db, partition)->status != from)
		return -ENOENT;
	uv_resdb_state_txn(&t, partition, state);
	return uv_resdb_apply(db, &t, &res) == UV_TXN_OK ? 0 : -EINVAL;
}

int uv_resdb_partition_failed(struct uv_resdb *db, uint32_t partition)
{
	return move_state(db, partition, UV_STATE_CRASHED, UV_RESDB_LIVE);
}

int uv_resdb_partition_restarted(struct uv_resdb *db, uint32_t partition)
{
	return move_state(db, partition, UV_STATE_STARTING, UV_RESDB_PRESERVED);
}
