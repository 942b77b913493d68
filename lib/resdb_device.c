/* SPDX-License-Identifier: MIT */
/*
 * ASSIGN_DEVICE and RELEASE_DEVICE: a device (named by its path) belongs to at most one
 * partition, and the partition's descriptor lists it, so its monitor grants exactly those.
 */
#include <string.h>

#include "resdb_ops.h"

/* Position of path in P's descriptor, or -1. */
static long desc_pos(const struct uv_resdb *db, uint32_t p, const char *path)
{
	const struct uv_partition_desc *d = rdb_desc(db, p);
	uint32_t i;

	for (i = 0; i < d->n_dev && i < UV_DEVICES_MAX; i++)
		if (!strncmp(d->dev[i].path, path, UV_PATH_MAX))
			return i;
	return -1;
}

static enum uv_txn_reason room_for(const struct uv_resdb *db, uint32_t p)
{
	if (rdb_desc(db, p)->n_dev >= UV_DEVICES_MAX || rdb_free_dev(db) < 0)
		return UV_TXN_NO_SPACE;
	return UV_TXN_OK;
}

static enum uv_txn_reason assign_check(const struct uv_resdb *db, const struct uv_txn *t)
{
	const struct uv_txn_device *d = &t->u.device;
	enum uv_txn_reason r = rdb_live(db, d->partition_id);
	long i;

	if (r)
		return r;
	i = rdb_dev_index(db, d->device.path);
	if (i >= 0)
		return rdb_dev(db, (uint32_t)i)->partition == d->partition_id ? UV_TXN_EXISTS
		                                                              : UV_TXN_DOUBLE_ALLOC;
	return room_for(db, d->partition_id);
}

static enum uv_txn_reason assign_apply(struct uv_resdb *db, const struct uv_txn *t,
                                       struct uv_resdb_result *res)
{
	const struct uv_txn_device *d = &t->u.device;
	uint32_t pos = rdb_desc(db, d->partition_id)->n_dev;

	rdb_dev_attach(db, d->partition_id, &d->device, pos);
	res->prev[0] = pos;
	return UV_TXN_OK;
}

static enum uv_txn_reason owned_check(const struct uv_resdb *db, const struct uv_txn *t)
{
	const struct uv_txn_device *d = &t->u.device;
	long i = rdb_dev_index(db, d->device.path);

	if (i < 0 || rdb_dev(db, (uint32_t)i)->partition != d->partition_id)
		return UV_TXN_NO_SUCH_DEVICE;
	return UV_TXN_OK;
}

static enum uv_txn_reason assign_undo_check(const struct uv_resdb *db, const struct uv_txn *t,
                                            const struct uv_resdb_result *res)
{
	return owned_check(db, t);
}

static void assign_undo(struct uv_resdb *db, const struct uv_txn *t,
                        const struct uv_resdb_result *res)
{
	const struct uv_txn_device *d = &t->u.device;

	rdb_dev_detach(db, d->partition_id,
	               (uint32_t)desc_pos(db, d->partition_id, d->device.path));
}

const struct rdb_ops rdb_ops_device_assign = {
    assign_check,
    assign_apply,
    assign_undo_check,
    assign_undo,
};

static enum uv_txn_reason release_check(const struct uv_resdb *db, const struct uv_txn *t)
{
	enum uv_txn_reason r = rdb_live(db, t->u.device.partition_id);

	return r ? r : owned_check(db, t);
}

static enum uv_txn_reason release_apply(struct uv_resdb *db, const struct uv_txn *t,
                                        struct uv_resdb_result *res)
{
	const struct uv_txn_device *d = &t->u.device;
	uint32_t pos = (uint32_t)desc_pos(db, d->partition_id, d->device.path);

	/* Undo puts the device back where it was, with the kind and flags it had. */
	res->prev[0] = pos;
	res->device = rdb_desc(db, d->partition_id)->dev[pos];
	rdb_dev_detach(db, d->partition_id, pos);
	return UV_TXN_OK;
}

static enum uv_txn_reason release_undo_check(const struct uv_resdb *db, const struct uv_txn *t,
                                             const struct uv_resdb_result *res)
{
	const struct uv_txn_device *d = &t->u.device;

	if (rdb_part(db, d->partition_id)->status == UV_RESDB_FREE)
		return UV_TXN_NO_SUCH_PARTITION;
	if (rdb_dev_index(db, d->device.path) >= 0)
		return UV_TXN_DOUBLE_ALLOC;
	if (res->prev[0] > rdb_desc(db, d->partition_id)->n_dev)
		return UV_TXN_BUSY;
	return room_for(db, d->partition_id);
}

static void release_undo(struct uv_resdb *db, const struct uv_txn *t,
                         const struct uv_resdb_result *res)
{
	rdb_dev_attach(db, t->u.device.partition_id, &res->device, res->prev[0]);
}

const struct rdb_ops rdb_ops_device_release = {
    release_check,
    release_apply,
    release_undo_check,
    release_undo,
};
