/* SPDX-License-Identifier: MIT */
/*
 * Synchronous replication of operators' writes (claim 47; docs/ops-ha.md "Every committed
 * change"): after a write verb succeeds, the active one sends its store to the standby and
 * waits for it to be applied before its client gets the answer, so a change acknowledged to an
 * operator survives the active's host. The snapshot goes in chunks of a request line each
 * (ops.sock and the gateway take lines of at most 64 KiB), on one connection.
 *
 * The standby's main thread answers without calling anyone, so this wait cannot close a loop;
 * a standby silent for --peer-dead-ms is not waited for (it pulls when it is back).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsdb_replica.h"
#include "replica.h"

/* base64 characters per request: a line with its JSON around it stays under 64 KiB. */
#define PUSH_CHUNK (48 * 1024)

static json_object *chunk_args(struct ops_replica *r, uint64_t epoch, uint64_t seq, const char *b64,
                               size_t total, size_t off)
{
	size_t n = total - off < PUSH_CHUNK ? total - off : PUSH_CHUNK;
	json_object *a = ops_replica_view_json(r->name, UV_OPS_ACTIVE, epoch, seq);

	json_object_object_add(a, "total", json_object_new_int64((int64_t)total));
	json_object_object_add(a, "offset", json_object_new_int64((int64_t)off));
	json_object_object_add(a, "data", json_object_new_string_len(b64 + off, (int)n));
	return a;
}

/* Sends every chunk; the last reply (the standby's view) in *ret. */
static int send_chunks(struct ops_replica *r, uint64_t epoch, uint64_t seq, const char *b64,
                       json_object **ret, char *err, size_t errlen)
{
	struct uv_cmdconn *c = NULL;
	size_t total = strlen(b64), off = 0;
	int t = (int)ops_replica_call_ms(r), rc;
	json_object *rep = NULL;

	if ((rc = uv_cmdconn_open(r->peer, r->tls, t, &c, err, errlen)))
		return rc;
	do {
		json_object_put(rep);
		rep = NULL;
		rc = ops_replica_request(c, t, "replica-push",
		                         chunk_args(r, epoch, seq, b64, total, off), &rep, err,
		                         errlen);
		off += total - off < PUSH_CHUNK ? total - off : PUSH_CHUNK;
	} while (!rc && off < total);
	uv_cmdconn_close(c);
	if (rc)
		json_object_put(rep);
	else
		*ret = rep;
	return rc;
}

void ops_replica_push(struct ops *o)
{
	struct ops_replica *r = o->replica;
	struct uv_ops_peer_view me = {.role = UV_OPS_ACTIVE, .name = r->name}, peer;
	json_object *snap, *rep = NULL;
	char err[256] = "";
	bool skip;

	pthread_mutex_lock(&r->mu);
	skip = r->role != UV_OPS_ACTIVE || ops_mono_ms() - r->heard_ms > r->dead_ms;
	pthread_mutex_unlock(&r->mu);
	if (skip || opsdb_replica_get(o->db, &me.epoch, &me.seq) ||
	    !(snap = ops_replica_snapshot_json(o->db)))
		return;
	if (send_chunks(r, me.epoch, me.seq, json_object_get_string(snap), &rep, err,
	                sizeof(err)) ||
	    !ops_replica_parse_view(rep, &peer)) {
		fprintf(stderr, "ultra-ops: replica: the standby did not take change %llu: %s\n",
		        (unsigned long long)me.seq, err[0] ? err : "a bad reply");
		goto out;
	}
	pthread_mutex_lock(&r->mu);
	ops_replica_heard(r, peer.role, peer.epoch, peer.seq, peer.name);
	if (uv_ops_decide(&me, &peer, 0, r->dead_ms) == UV_OPS_STEP_DOWN) {
		r->role = UV_OPS_STANDBY;
		fprintf(stderr,
		        "ultra-ops: replica: standby: %s is %s at epoch %llu, ours is %llu\n",
		        peer.name, uv_ops_role_name(peer.role), (unsigned long long)peer.epoch,
		        (unsigned long long)me.epoch);
	}
	pthread_mutex_unlock(&r->mu);
out:
	json_object_put(rep);
	json_object_put(snap);
}
