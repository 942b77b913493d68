/* SPDX-License-Identifier: MIT */
/*
 * CREATE_CHANNEL and DESTROY_CHANNEL (claims 4, 16, 51): shared memory between two partitions,
 * carved from the pool by the page map and owned there by the ultravisor, which hands it to both
 * ends. Partition 0 (the ultravisor) may be an endpoint: that is the command channel.
 */
#include <string.h>

#include "resdb_ops.h"

static enum uv_txn_reason endpoints_live(const struct uv_resdb *db, const uint32_t ep[2])
{
	unsigned i;

	for (i = 0; i < 2; i++) {
		enum uv_txn_reason r = rdb_live(db, ep[i]);

		if (r)
			return r;
	}
	return UV_TXN_OK;
}

static void link_ends(struct uv_resdb *db, const uint32_t ep[2], int delta)
{
	rdb_part(db, ep[0])->n_channels += delta;
	rdb_part(db, ep[1])->n_channels += delta;
	db->h->n_channels += delta;
}

static enum uv_txn_reason create_check(const struct uv_resdb *db, const struct uv_txn *t)
{
	const struct uv_txn_channel *c = &t->u.channel;
	enum uv_txn_reason r;

	if (rdb_chan_index(db, c->channel_id) >= 0)
		return UV_TXN_EXISTS;
	r = endpoints_live(db, c->endpoint);
	if (r)
		return r;
	if (rdb_free_chan(db) < 0 || c->size > uv_pagemap_free_bytes(&db->pm))
		return UV_TXN_NO_SPACE;
	return UV_TXN_OK;
}

static void fill(struct uv_resdb_chan *ch, const struct uv_txn_channel *c,
                 const struct uv_resdb_result *res)
{
	uint32_t i;

	memset(ch, 0, sizeof(*ch));
	ch->id = c->channel_id;
	ch->in_use = 1;
	ch->endpoint[0] = c->endpoint[0];
	ch->endpoint[1] = c->endpoint[1];
	ch->size = c->size;
	ch->n_ext = res->n_extents;
	for (i = 0; i < res->n_extents; i++) {
		ch->ext[i].offset = res->extents[i].pool_offset;
		ch->ext[i].size = res->extents[i].size;
	}
}

static enum uv_txn_reason create_apply(struct uv_resdb *db, const struct uv_txn *t,
                                       struct uv_resdb_result *res)
{
	const struct uv_txn_channel *c = &t->u.channel;

	if (rdb_alloc(db, UV_RESDB_CHANNEL_OWNER, c->size, res))
		return UV_TXN_NO_SPACE;
	if (res->n_extents > UV_RESDB_CHAN_EXT_MAX) {
		/* The pool is too fragmented for a channel record: give the blocks back. */
		rdb_free(db, UV_RESDB_CHANNEL_OWNER, res->extents, res->n_extents);
		res->n_extents = 0;
		return UV_TXN_NO_SPACE;
	}
	fill(rdb_chan(db, (uint32_t)rdb_free_chan(db)), c, res);
	link_ends(db, c->endpoint, 1);
	res->value[0] = c->channel_id;
	return UV_TXN_OK;
}

static enum uv_txn_reason create_undo_check(const struct uv_resdb *db, const struct uv_txn *t,
                                            const struct uv_resdb_result *res)
{
	return rdb_chan_index(db, t->u.channel.channel_id) < 0 ? UV_TXN_NO_SUCH_CHANNEL : UV_TXN_OK;
}

static void drop(struct uv_resdb *db, uint32_t id, struct uv_resdb_result *res)
{
	struct uv_resdb_chan *ch = rdb_chan(db, (uint32_t)rdb_chan_index(db, id));
	struct uv_txn_extent e[UV_RESDB_CHAN_EXT_MAX];
	uint32_t i;

	for (i = 0; i < ch->n_ext; i++)
		e[i] = (struct uv_txn_extent){ch->ext[i].offset, ch->ext[i].size};
	if (res) {
		memcpy(res->extents, e, ch->n_ext * sizeof(e[0]));
		res->n_extents = ch->n_ext;
	}
	rdb_free(db, UV_RESDB_CHANNEL_OWNER, e, ch->n_ext);
	link_ends(db, ch->endpoint, -1);
	memset(ch, 0, sizeof(*ch));
}

static void create_undo(struct uv_resdb *db, const struct uv_txn *t,
                        const struct uv_resdb_result *res)
{
	drop(db, t->u.channel.channel_id, NULL);
}

const struct rdb_ops rdb_ops_channel_create = {
    create_check,
    create_apply,
    create_undo_check,
    create_undo,
};

/* The record must name the channel exactly: its id, its two ends in order, its size. */
static enum uv_txn_reason destroy_check(const struct uv_resdb *db, const struct uv_txn *t)
{
	const struct uv_txn_channel *c = &t->u.channel;
	long i = rdb_chan_index(db, c->channel_id);
	const struct uv_resdb_chan *ch;

	if (i < 0)
		return UV_TXN_NO_SUCH_CHANNEL;
	ch = rdb_chan(db, (uint32_t)i);
	if (ch->endpoint[0] != c->endpoint[0] || ch->endpoint[1] != c->endpoint[1] ||
	    ch->size != c->size)
		return UV_TXN_NO_SUCH_CHANNEL;
	return endpoints_live(db, c->endpoint);
}

static enum uv_txn_reason destroy_apply(struct uv_resdb *db, const struct uv_txn *t,
                                        struct uv_resdb_result *res)
{
	drop(db, t->u.channel.channel_id, res);
	res->value[0] = t->u.channel.channel_id;
	return UV_TXN_OK;
}

static enum uv_txn_reason destroy_undo_check(const struct uv_resdb *db, const struct uv_txn *t,
                                             const struct uv_resdb_result *res)
{
	const struct uv_txn_channel *c = &t->u.channel;
	unsigned i;

	if (rdb_chan_index(db, c->channel_id) >= 0)
		return UV_TXN_EXISTS;
	if (rdb_free_chan(db) < 0)
		return UV_TXN_NO_SPACE;
	for (i = 0; i < 2; i++)
		if (rdb_part(db, c->endpoint[i])->status == UV_RESDB_FREE)
			return UV_TXN_NO_SUCH_PARTITION;
	return rdb_extents_are(db, res->extents, res->n_extents, UV_PM_NONE) ? UV_TXN_OK
	                                                                     : UV_TXN_DOUBLE_ALLOC;
}

static void destroy_undo(struct uv_resdb *db, const struct uv_txn *t,
                         const struct uv_resdb_result *res)
{
	rdb_claim(db, UV_RESDB_CHANNEL_OWNER, res->extents, res->n_extents);
	fill(rdb_chan(db, (uint32_t)rdb_free_chan(db)), &t->u.channel, res);
	link_ends(db, t->u.channel.endpoint, 1);
}

const struct rdb_ops rdb_ops_channel_destroy = {
    destroy_check,
    destroy_apply,
    destroy_undo_check,
    destroy_undo,
};
