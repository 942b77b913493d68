/* SPDX-License-Identifier: MIT */
/*
 * The record's own values, checked again before apply. uv_txn_decode() already refuses all of
 * this for records from a channel or the log, but the daemon also builds records in-process
 * (allocate-for-me grants, its own SET_STATE), and apply must never trust a count or a string.
 */
#include "resdb_values.h"
#include "desc.h"
#include "disk_limit.h"

static enum uv_txn_reason extents_ok(const struct uv_txn *t, int may_be_empty)
{
	const struct uv_txn_memory *m = &t->u.memory;
	uint64_t end = 0, total = 0;
	uint32_t i;

	if (m->n_extents > UV_TXN_EXTENTS_MAX || (!m->n_extents && !may_be_empty))
		return UV_TXN_BAD_COUNT;
	if (m->n_extents && !t->extents)
		return UV_TXN_BAD_EXTENT;
	for (i = 0; i < m->n_extents; i++) {
		struct uv_txn_extent e = uv_txn_extent_at(t, i);

		if (!e.size || e.size % UV_TXN_PAGE_SIZE || e.pool_offset % UV_TXN_PAGE_SIZE ||
		    e.pool_offset < end || e.pool_offset + e.size < e.pool_offset)
			return UV_TXN_BAD_EXTENT;
		end = e.pool_offset + e.size;
		total += e.size;
	}
	return m->n_extents && total != m->bytes ? UV_TXN_BAD_EXTENT : UV_TXN_OK;
}

static int path_ok(const char *p)
{
	uint32_t i;

	for (i = 0; i < UV_PATH_MAX; i++)
		if (!p[i])
			return i > 0;
	return 0;
}

enum uv_txn_reason rdb_check_values(const struct uv_txn *t)
{
	const struct uv_txn_channel *c = &t->u.channel;

	switch (t->hdr.type) {
	case UV_TXN_CREATE_PARTITION:
		return uv_desc_validate(&t->u.create, 0, NULL, 0) ? UV_TXN_BAD_DESC : UV_TXN_OK;
	case UV_TXN_GRANT_MEMORY:
		return extents_ok(t, 1);
	case UV_TXN_REVOKE_MEMORY:
		return extents_ok(t, 0);
	case UV_TXN_CREATE_CHANNEL:
	case UV_TXN_DESTROY_CHANNEL:
		return c->endpoint[0] == c->endpoint[1] || !c->size || c->size % UV_TXN_PAGE_SIZE
		           ? UV_TXN_BAD_VALUE
		           : UV_TXN_OK;
	case UV_TXN_ASSIGN_DEVICE:
	case UV_TXN_RELEASE_DEVICE:
		return path_ok(t->u.device.device.path) ? UV_TXN_OK : UV_TXN_BAD_STRING;
	case UV_TXN_SET_CPU_SHARE:
		return t->u.cpu.cpu_share_milli > UV_TXN_CPU_SHARE_MAX ? UV_TXN_BAD_VALUE
		                                                       : UV_TXN_OK;
	case UV_TXN_SET_STATE:
		return t->u.state.state > UV_STATE_MAX ? UV_TXN_BAD_VALUE : UV_TXN_OK;
	case UV_TXN_SET_DISK_LIMITS:
		if (t->u.disk_limits.limit.reserved)
			return UV_TXN_BAD_RESERVED;
		if (uv_disk_limit_check(&t->u.disk_limits.limit, "limits", NULL, 0))
			return UV_TXN_BAD_VALUE;
		return t->u.disk_limits.disk >= UV_DISKS_MAX ? UV_TXN_BAD_VALUE : UV_TXN_OK;
	default:
		return UV_TXN_OK;
	}
}
