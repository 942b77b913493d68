/* SPDX-License-Identifier: MIT */
/* CREATE_PARTITION and DESTROY_PARTITION: descriptor slots and the devices they name. */
#include <string.h>

#include "resdb_ops.h"

enum uv_txn_reason rdb_live(const struct uv_resdb *db, uint32_t p)
{
	if (p >= db->h->max_partitions || rdb_part(db, p)->status == UV_RESDB_FREE)
		return UV_TXN_NO_SUCH_PARTITION;
	/* A failed partition's resources are frozen until its restarted instance takes them. */
	return rdb_part(db, p)->status == UV_RESDB_PRESERVED ? UV_TXN_BUSY : UV_TXN_OK;
}

/* Can every device the descriptor lists get a record? */
static enum uv_txn_reason devices_free(const struct uv_resdb *db, const struct uv_partition_desc *d)
{
	uint32_t i, j, avail = 0;

	for (i = 0; i < d->n_dev; i++) {
		if (rdb_dev_index(db, d->dev[i].path) >= 0)
			return UV_TXN_DOUBLE_ALLOC;
		for (j = 0; j < i; j++)
			if (!strncmp(d->dev[i].path, d->dev[j].path, UV_PATH_MAX))
				return UV_TXN_DOUBLE_ALLOC;
	}
	for (i = 0; i < db->h->max_devices && avail < d->n_dev; i++)
		avail += !rdb_dev(db, i)->in_use;
	return avail < d->n_dev ? UV_TXN_NO_SPACE : UV_TXN_OK;
}

static void records_add(struct uv_resdb *db, uint32_t p)
{
	const struct uv_partition_desc *d = rdb_desc(db, p);
	uint32_t i;

	for (i = 0; i < d->n_dev; i++) {
		struct uv_resdb_dev *rec = rdb_dev(db, (uint32_t)rdb_free_dev(db));

		rec->in_use = 1;
		rec->partition = p;
		rec->device = d->dev[i];
	}
	rdb_part(db, p)->n_devices = d->n_dev;
	db->h->n_devices += d->n_dev;
}

static void records_drop(struct uv_resdb *db, uint32_t p)
{
	const struct uv_partition_desc *d = rdb_desc(db, p);
	uint32_t i;

	for (i = 0; i < d->n_dev; i++)
		memset(rdb_dev(db, (uint32_t)rdb_dev_index(db, d->dev[i].path)), 0,
		       sizeof(struct uv_resdb_dev));
	rdb_part(db, p)->n_devices = 0;
	db->h->n_devices -= d->n_dev;
}

static enum uv_txn_reason create_check(const struct uv_resdb *db, const struct uv_txn *t)
{
	const struct uv_partition_desc *d = &t->u.create;

	if (d->id >= db->h->max_partitions)
		return UV_TXN_NO_SPACE;
	if (rdb_part(db, d->id)->status != UV_RESDB_FREE)
		return UV_TXN_EXISTS;
	if (d->state != UV_STATE_DEFINED)
		return UV_TXN_BAD_VALUE;
	return devices_free(db, d);
}

static enum uv_txn_reason create_apply(struct uv_resdb *db, const struct uv_txn *t,
                                       struct uv_resdb_result *res)
{
	const struct uv_partition_desc *d = &t->u.create;
	struct uv_resdb_part *p = rdb_part(db, d->id);

	memset(rdb_desc(db, d->id), 0, UV_RESDB_SLOT_SIZE);
	*rdb_desc(db, d->id) = *d;
	records_add(db, d->id);
	p->status = UV_RESDB_LIVE;
	p->creator = t->hdr.sender_id;
	p->state = d->state;
	p->cpu_share_milli = d->cpu_share_milli;
	p->mem_bytes = 0;
	p->n_channels = 0;
	p->failed_state = 0;
	db->h->n_partitions++;
	res->value[0] = d->id;
	return UV_TXN_OK;
}

static enum uv_txn_reason create_undo_check(const struct uv_resdb *db, const struct uv_txn *t,
                                            const struct uv_resdb_result *res)
{
	const struct uv_resdb_part *p = rdb_part(db, t->u.create.id);
	enum uv_txn_reason r = rdb_live(db, t->u.create.id);

	if (r)
		return r;
	return p->mem_bytes || p->n_channels ? UV_TXN_BUSY : UV_TXN_OK;
}

static void create_undo(struct uv_resdb *db, const struct uv_txn *t,
                        const struct uv_resdb_result *res)
{
	records_drop(db, t->u.create.id);
	rdb_part(db, t->u.create.id)->status = UV_RESDB_FREE;
	db->h->n_partitions--;
}

const struct rdb_ops rdb_ops_partition_create = {
    create_check,
    create_apply,
    create_undo_check,
    create_undo,
};

static int active(uint32_t state)
{
	return state == UV_STATE_STARTING || state == UV_STATE_RUNNING ||
	       state == UV_STATE_PAUSED || state == UV_STATE_STOPPING ||
	       state == UV_STATE_INCOMING || state == UV_STATE_MIGRATING;
}

/* A partition is destroyed once it is stopped and its memory and channels were taken back; its
 * devices go with it. The slot keeps the descriptor so undo can bring it back. */
static enum uv_txn_reason destroy_check(const struct uv_resdb *db, const struct uv_txn *t)
{
	uint32_t id = t->u.partition.partition_id;
	enum uv_txn_reason r = rdb_live(db, id);

	if (r)
		return r;
	if (active(rdb_part(db, id)->state) || rdb_part(db, id)->n_channels ||
	    rdb_part(db, id)->mem_bytes)
		return UV_TXN_BUSY;
	return UV_TXN_OK;
}

static enum uv_txn_reason destroy_apply(struct uv_resdb *db, const struct uv_txn *t,
                                        struct uv_resdb_result *res)
{
	uint32_t id = t->u.partition.partition_id;

	records_drop(db, id);
	rdb_part(db, id)->status = UV_RESDB_FREE;
	db->h->n_partitions--;
	return UV_TXN_OK;
}

static enum uv_txn_reason destroy_undo_check(const struct uv_resdb *db, const struct uv_txn *t,
                                             const struct uv_resdb_result *res)
{
	uint32_t id = t->u.partition.partition_id;

	if (rdb_part(db, id)->status != UV_RESDB_FREE)
		return UV_TXN_EXISTS;
	return devices_free(db, rdb_desc(db, id));
}

static void destroy_undo(struct uv_resdb *db, const struct uv_txn *t,
                         const struct uv_resdb_result *res)
{
	uint32_t id = t->u.partition.partition_id;

	records_add(db, id);
	rdb_part(db, id)->status = UV_RESDB_LIVE;
	db->h->n_partitions++;
}

const struct rdb_ops rdb_ops_partition_destroy = {
    destroy_check,
    destroy_apply,
    destroy_undo_check,
    destroy_undo,
};
