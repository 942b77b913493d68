/* SPDX-License-Identifier: MIT */
/*
 * Who may change what (claims 6, 8, 56): the sender must be who it says it is, and every
 * partition a transaction touches must lie in the scope uv_txn_scope() gives its role.
 */
#include "resdb_perm.h"

/* The partitions a transaction touches: one, or a channel's two endpoints. */
unsigned rdb_targets(const struct uv_txn *t, uint32_t id[2])
{
	switch (t->hdr.type) {
	case UV_TXN_CREATE_PARTITION:
		id[0] = t->u.create.id;
		return 1;
	case UV_TXN_DESTROY_PARTITION:
		id[0] = t->u.partition.partition_id;
		return 1;
	case UV_TXN_GRANT_MEMORY:
	case UV_TXN_REVOKE_MEMORY:
		id[0] = t->u.memory.partition_id;
		return 1;
	case UV_TXN_CREATE_CHANNEL:
	case UV_TXN_DESTROY_CHANNEL:
		id[0] = t->u.channel.endpoint[0];
		id[1] = t->u.channel.endpoint[1];
		return 2;
	case UV_TXN_ASSIGN_DEVICE:
	case UV_TXN_RELEASE_DEVICE:
		id[0] = t->u.device.partition_id;
		return 1;
	case UV_TXN_SET_CPU_SHARE:
		id[0] = t->u.cpu.partition_id;
		return 1;
	case UV_TXN_SET_STATE:
		id[0] = t->u.state.partition_id;
		return 1;
	case UV_TXN_SET_DISK_LIMITS:
		id[0] = t->u.disk_limits.partition_id;
		return 1;
	default:
		return 0;
	}
}

/* The ultravisor speaks as partition 0; a monitor for a partition that exists; a system role only
 * from the live partition configured with that role. */
static int sender_ok(const struct uv_resdb *db, const struct uv_txn_hdr *h)
{
	const struct uv_resdb_part *s;

	if (h->sender_role == UV_ROLE_ULTRAVISOR)
		return h->sender_id == 0;
	if (!h->sender_id || h->sender_id >= db->h->max_partitions)
		return 0;
	s = rdb_part(db, h->sender_id);
	if (h->sender_role == UV_ROLE_MONITOR)
		return s->status != UV_RESDB_FREE;
	return s->status == UV_RESDB_LIVE && s->role == h->sender_role;
}

static int in_scope(const struct uv_resdb *db, enum uv_txn_scope scope, uint32_t sender,
                    uint32_t id, int channel)
{
	if (id >= db->h->max_partitions)
		return 1; /* capacity or existence: the type's own check names it */
	if (!id && !channel)
		return 0; /* partition 0 is the ultravisor: no transaction changes it */
	switch (scope) {
	case UV_SCOPE_ANY:
		return 1;
	case UV_SCOPE_SELF:
		return id == sender;
	case UV_SCOPE_SYSTEM:
		return rdb_part(db, id)->role != UV_ROLE_GUEST;
	case UV_SCOPE_NONE:
		break;
	}
	return 0;
}

enum uv_txn_reason rdb_check_sender(const struct uv_resdb *db, const struct uv_txn *t)
{
	enum uv_txn_scope scope =
	    uv_txn_scope(t->hdr.sender_role, t->hdr.type, uv_resdb_command_up(db));
	int channel = t->hdr.type == UV_TXN_CREATE_CHANNEL || t->hdr.type == UV_TXN_DESTROY_CHANNEL;
	uint32_t id[2];
	unsigned i, n;

	if (scope == UV_SCOPE_NONE || t->hdr.type == UV_TXN_RESPONSE || !sender_ok(db, &t->hdr))
		return UV_TXN_NOT_PERMITTED;
	n = rdb_targets(t, id);
	if (!n)
		return UV_TXN_NOT_PERMITTED;
	for (i = 0; i < n; i++)
		if (!in_scope(db, scope, t->hdr.sender_id, id[i], channel))
			return UV_TXN_NOT_PERMITTED;
	return UV_TXN_OK;
}
