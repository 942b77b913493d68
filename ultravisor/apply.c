/* SPDX-License-Identifier: MIT */
/*
 * One transaction: validate and apply it to the database, record it in the audit log, keep the
 * memory objects in step. Durability comes from the caller's group commit (uv_log_sync), and no
 * response leaves before it (claims 3, 7, 50).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "uvd.h"

enum uv_txn_reason uvd_execute(struct uvd *u, const struct uv_txn *t, uint64_t *seq, uint64_t *lsn,
                               uint64_t result[2])
{
	enum uv_txn_reason reason;
	struct uv_txn done;
	ssize_t len;
	int r;

	reason = uv_resdb_apply(&u->db, t, &u->res);
	if (reason != UV_TXN_OK) {
		u->refused++;
		return reason;
	}
	/* A grant logs the blocks it got, so replay claims exactly them. */
	uv_resdb_complete(t, &u->res, &done);
	len = uv_txn_encode(&done, u->logbuf, sizeof(u->logbuf), &reason);
	if (len < 0)
		goto undo;
	r = uv_log_begin(u->log, t->hdr.sender_id, t->hdr.sender_role, u->logbuf, (uint32_t)len,
	                 seq);
	if (r)
		goto undo;
	/* A grant's memory object exists before the grant commits: a host that cannot back it
	 * (huge pages exhausted, memory limits) refuses the grant instead of failing the guest
	 * later. */
	if (done.hdr.type == UV_TXN_GRANT_MEMORY && uvd_mem_track(u, &done, *seq) < 0) {
		uv_log_abort(u->log, *seq);
		uv_resdb_undo(&u->db, &done, &u->res);
		u->refused++;
		return UV_TXN_NO_SPACE;
	}
	r = uv_log_end(u->log, *seq, UV_LOG_COMMIT, lsn);
	if (r) {
		uv_log_abort(u->log, *seq);
		uvd_mem_forget(u, *seq);
		goto undo;
	}
	if (done.hdr.type != UV_TXN_GRANT_MEMORY)
		uvd_mem_track(u, &done, *seq); /* revoke/destroy retire objects; cannot fail */
	if (uvd_chanobj_track(u, &done) < 0) {
		/* Likewise: GET_CHANNELS omits the channel until the next recovery remakes it. */
	}
	result[0] = u->res.value[0];
	result[1] = u->res.value[1];
	u->committed++;
	u->since_checkpoint++;
	return UV_TXN_OK;
undo:
	uv_resdb_undo(&u->db, &done, &u->res);
	u->refused++;
	return UV_TXN_IO_ERROR;
}

/* A state change the ultravisor makes itself (a partition failed or restarted), logged and made
 * durable before it is acknowledged. */
int uvd_system_change(struct uvd *u, uint32_t partition, enum uv_part_state state)
{
	enum uv_txn_reason reason;
	struct uv_txn t;
	uint64_t seq, lsn;
	ssize_t len;
	int r;

	uv_resdb_state_txn(&t, partition, state);
	r = state == UV_STATE_CRASHED ? uv_resdb_partition_failed(&u->db, partition)
	                              : uv_resdb_partition_restarted(&u->db, partition);
	if (r)
		return r;
	/* The database already changed; log the equivalent record so replay does the same. */
	len = uv_txn_encode(&t, u->logbuf, sizeof(u->logbuf), &reason);
	if (len < 0)
		return (int)len;
	if ((r = uv_log_begin(u->log, 0, UV_ROLE_ULTRAVISOR, u->logbuf, (uint32_t)len, &seq)))
		return r;
	if ((r = uv_log_end(u->log, seq, UV_LOG_COMMIT, &lsn)))
		return r;
	u->committed++;
	return uv_log_sync(u->log, lsn);
}

/* The boot partition is the first system partition (claim 8); nobody else can ask for it, so the
 * ultravisor records it itself when the database does not have it yet. */
int uvd_bootstrap(struct uvd *u)
{
	struct uv_partition_desc *d;
	struct uv_txn t;
	uint64_t seq, lsn = 0, result[2];
	enum uv_txn_reason reason;

	for (size_t i = 0; i < u->cfg.n_system; i++) {
		uint32_t id = u->system[i].partition;

		if (u->system[i].role != UV_ROLE_BOOT || uv_resdb_desc(&u->db, id))
			continue;
		memset(&t, 0, sizeof(t));
		t.hdr.type = UV_TXN_CREATE_PARTITION;
		t.hdr.sender_id = 0;
		t.hdr.sender_role = UV_ROLE_ULTRAVISOR;
		d = &t.u.create;
		d->magic = UV_DESC_MAGIC;
		d->version = UV_DESC_VERSION;
		d->size = sizeof(*d);
		d->id = id;
		snprintf(d->name, sizeof(d->name), "boot");
		d->vcpus = 1;
		d->n_mem = 1;
		d->mem[0].size = UV_MEM_MIN;
		d->mem_bytes = UV_MEM_MIN;
		/* A system partition is a process: its "kernel" names its program. */
		snprintf(d->kernel, sizeof(d->kernel), "system:boot");
		reason = uvd_execute(u, &t, &seq, &lsn, result);
		if (reason != UV_TXN_OK)
			return -EINVAL;
	}
	return lsn ? uv_log_sync(u->log, lsn) : 0;
}
