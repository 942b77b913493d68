/* SPDX-License-Identifier: MIT */
/*
 * SET_CPU_SHARE and SET_STATE. SET_STATE carries the failure state machine (claims 5, 52):
 *
 *   LIVE --CRASHED--> PRESERVED --STARTING--> LIVE
 *                               --STOPPED---> LIVE
 *
 * While PRESERVED every resource stays recorded for the partition and no transaction may touch
 * it except the restart (uv_resdb_partition_failed / _restarted are these two records) or the
 * command partition's decision not to restart it now (STOPPED: a crashed guest that its owner
 * will start again, or undefine, later).
 */
#include "resdb_ops.h"

static enum uv_txn_reason cpu_check(const struct uv_resdb *db, const struct uv_txn *t)
{
	uint32_t id = t->u.cpu.partition_id;
	enum uv_txn_reason r = rdb_live(db, id);

	if (r)
		return r;
	/* The same bound uv_desc_validate() puts on a descriptor. */
	return t->u.cpu.cpu_share_milli > rdb_desc(db, id)->vcpus * 1000u ? UV_TXN_BAD_VALUE
	                                                                  : UV_TXN_OK;
}

static void set_cpu(struct uv_resdb *db, uint32_t id, uint32_t share)
{
	rdb_part(db, id)->cpu_share_milli = share;
	rdb_desc(db, id)->cpu_share_milli = share;
}

static enum uv_txn_reason cpu_apply(struct uv_resdb *db, const struct uv_txn *t,
                                    struct uv_resdb_result *res)
{
	res->prev[0] = rdb_part(db, t->u.cpu.partition_id)->cpu_share_milli;
	set_cpu(db, t->u.cpu.partition_id, t->u.cpu.cpu_share_milli);
	return UV_TXN_OK;
}

static enum uv_txn_reason cpu_undo_check(const struct uv_resdb *db, const struct uv_txn *t,
                                         const struct uv_resdb_result *res)
{
	return rdb_live(db, t->u.cpu.partition_id);
}

static void cpu_undo(struct uv_resdb *db, const struct uv_txn *t, const struct uv_resdb_result *res)
{
	set_cpu(db, t->u.cpu.partition_id, res->prev[0]);
}

const struct rdb_ops rdb_ops_cpu_share = {
    cpu_check,
    cpu_apply,
    cpu_undo_check,
    cpu_undo,
};

static enum uv_txn_reason state_check(const struct uv_resdb *db, const struct uv_txn *t)
{
	uint32_t id = t->u.state.partition_id;
	enum uv_txn_reason r = rdb_live(db, id);

	if (r == UV_TXN_BUSY &&
	    (t->u.state.state == UV_STATE_STARTING || t->u.state.state == UV_STATE_STOPPED))
		return UV_TXN_OK; /* the restart of a preserved partition, or its settling */
	return r;
}

static void set_state(struct uv_resdb *db, uint32_t id, uint32_t status, uint32_t state)
{
	rdb_part(db, id)->status = status;
	rdb_part(db, id)->state = state;
	rdb_desc(db, id)->state = state;
}

static enum uv_txn_reason state_apply(struct uv_resdb *db, const struct uv_txn *t,
                                      struct uv_resdb_result *res)
{
	uint32_t id = t->u.state.partition_id, state = t->u.state.state;
	struct uv_resdb_part *p = rdb_part(db, id);

	res->prev[0] = p->state;
	res->prev[1] = p->status;
	res->value[1] = p->failed_state;
	if (state == UV_STATE_CRASHED) {
		p->failed_state = p->state;
		set_state(db, id, UV_RESDB_PRESERVED, state);
	} else {
		set_state(db, id, UV_RESDB_LIVE, state);
	}
	return UV_TXN_OK;
}

static enum uv_txn_reason state_undo_check(const struct uv_resdb *db, const struct uv_txn *t,
                                           const struct uv_resdb_result *res)
{
	uint32_t id = t->u.state.partition_id;

	return rdb_part(db, id)->status == UV_RESDB_FREE ? UV_TXN_NO_SUCH_PARTITION : UV_TXN_OK;
}

static void state_undo(struct uv_resdb *db, const struct uv_txn *t,
                       const struct uv_resdb_result *res)
{
	uint32_t id = t->u.state.partition_id;

	set_state(db, id, res->prev[1], res->prev[0]);
	rdb_part(db, id)->failed_state = (uint32_t)res->value[1];
}

const struct rdb_ops rdb_ops_state = {
    state_check,
    state_apply,
    state_undo_check,
    state_undo,
};
