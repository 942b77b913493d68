/* SPDX-License-Identifier: MIT */
/*
 * The redundant operations partition's verbs (claim 47; docs/ops-ha.md): replica-sync, which
 * the peer's replica thread calls once a tick, replica-status for operators, and the refusal of
 * writes while this one is the standby.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsdb_replica.h"
#include "replica.h"

/* What a standby still answers: reads of its copy of the store and the replica verbs. */
static const char *const standby_verbs[] = {"list",         "status",         "domain-list",
                                            "host-list",    "schedule-list",  "replica-sync",
                                            "replica-push", "replica-status", NULL};

static bool read_only(const char *verb)
{
	for (size_t i = 0; standby_verbs[i]; i++)
		if (!strcmp(standby_verbs[i], verb))
			return true;
	return false;
}

void ops_replica_after_write(struct ops *o, const char *verb)
{
	if (o->replica && !read_only(verb))
		ops_replica_push(o);
}

uint64_t ops_replica_seq(struct ops *o)
{
	uint64_t epoch, seq;

	return o->replica && !opsdb_replica_get(o->db, &epoch, &seq) ? seq : 0;
}

/* The standby would otherwise get the tick's changes only at its next pull, a tick later or,
 * while it cannot reach us, not at all. */
void ops_replica_after_tick(struct ops *o, uint64_t seq_before)
{
	if (o->replica && ops_replica_seq(o) != seq_before)
		ops_replica_push(o);
}

bool ops_replica_refuses(struct ops *o, const char *verb, struct api_err *e)
{
	struct ops_replica *r = o->replica;
	bool refuse;

	if (!r || read_only(verb))
		return false;
	pthread_mutex_lock(&r->mu);
	refuse = r->role != UV_OPS_ACTIVE || !ops_replica_fresh(r, ops_mono_ms());
	if (refuse && r->role == UV_OPS_ACTIVE && r->witness[0])
		api_fail(e, "standby",
		         "this operations partition (%s) holds no lease from its witness at %s "
		         "(%s) and has not heard from its peer at %s lately: it acts only with one "
		         "of them behind it; try again in a second",
		         r->name, r->witness, r->wit_err[0] ? r->wit_err : "no grant lately",
		         r->peer);
	else if (refuse && r->role == UV_OPS_ACTIVE)
		api_fail(
		    e, "standby",
		    "this operations partition (%s) has not heard from its peer at %s lately and "
		    "is confirming that it is still the active one; try again in a second",
		    r->name, r->peer);
	else if (refuse && r->peer_known && r->peer_role == UV_OPS_ACTIVE)
		api_fail(
		    e, "standby",
		    "this operations partition (%s) is the standby; the active one is %s at %s "
		    "(epoch %llu)",
		    r->name, r->peer_name, r->peer, (unsigned long long)r->peer_epoch);
	else if (refuse)
		api_fail(e, "standby",
		         "this operations partition (%s) is the standby and no active one is known "
		         "yet (its peer at %s: %s)",
		         r->name, r->peer, r->peer_err[0] ? r->peer_err : "not active");
	pthread_mutex_unlock(&r->mu);
	return refuse;
}

static bool arg_u64(json_object *args, const char *key, uint64_t *out, struct api_err *e)
{
	json_object *v;

	if (!json_object_object_get_ex(args, key, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0) {
		api_fail(e, "bad-request", "%s: a number of 0 or more is required", key);
		return false;
	}
	*out = (uint64_t)json_object_get_int64(v);
	return true;
}

/* The peer tells us where it is and gets where we are, and our store if it is behind. Hearing a
 * newer epoch here steps an active one down at once, before its next tick could act. */
static json_object *v_sync(struct ops *o, json_object *args, struct api_err *e)
{
	struct ops_replica *r = o->replica;
	struct uv_ops_peer_view me = {.name = r ? r->name : ""}, peer = {0};
	const char *name = ops_arg_str(args, "name");
	enum uv_ops_action act;
	json_object *ret;
	int rc;

	if (!r) {
		api_fail(e, "no-peer", "this operations partition has no peer (--peer)");
		return NULL;
	}
	if (!name || uv_ops_role_parse(ops_arg_str(args, "role"), &peer.role) ||
	    !arg_u64(args, "epoch", &peer.epoch, e) || !arg_u64(args, "seq", &peer.seq, e)) {
		if (!e->code || !strcmp(e->code, "internal"))
			api_fail(e, "bad-request",
			         "name, role (active|standby), epoch, seq required");
		return NULL;
	}
	peer.name = name;
	if ((rc = opsdb_replica_get(o->db, &me.epoch, &me.seq))) {
		api_fail(e, "internal", "reading the store: %s", strerror(-rc));
		return NULL;
	}
	pthread_mutex_lock(&r->mu);
	if (strcmp(name, r->name))
		ops_replica_heard(r, peer.role, peer.epoch, peer.seq, name);
	me.role = r->role;
	act = uv_ops_decide(&me, &peer, 0, r->dead_ms);
	if (act == UV_OPS_STEP_DOWN && strcmp(name, r->name)) {
		r->role = me.role = UV_OPS_STANDBY;
		fprintf(stderr,
		        "ultra-ops: replica: standby: %s is %s at epoch %llu, ours is %llu\n", name,
		        uv_ops_role_name(peer.role), (unsigned long long)peer.epoch,
		        (unsigned long long)me.epoch);
	}
	pthread_mutex_unlock(&r->mu);
	ret = ops_replica_view_json(r->name, me.role, me.epoch, me.seq);
	if (me.role == UV_OPS_ACTIVE && (peer.epoch != me.epoch || peer.seq != me.seq)) {
		json_object *s = ops_replica_snapshot_json(o->db);

		if (s)
			json_object_object_add(ret, "snapshot", s);
	}
	return ret;
}

/* Adds one chunk of a pushed snapshot: 1 once the whole text is in r->chunks, 0 while more is
 * to come, -1 on a bad chunk (e says why; what was gathered is dropped). */
static int chunks_add(struct ops_replica *r, json_object *args, uint64_t epoch, uint64_t seq,
                      struct api_err *e)
{
	uint64_t total, off;
	json_object *data;
	int rc;

	if (!arg_u64(args, "total", &total, e) || !arg_u64(args, "offset", &off, e))
		return -1;
	if (!json_object_object_get_ex(args, "data", &data) ||
	    !json_object_is_type(data, json_type_string)) {
		api_fail(e, "bad-request", "data: a string is required");
		return -1;
	}
	rc = uv_ops_chunks_add(&r->chunks, epoch, seq, total, off, json_object_get_string(data),
	                       (size_t)json_object_get_string_len(data));
	if (rc == -EMSGSIZE)
		api_fail(e, "bad-request", "a snapshot of %llu bytes is over the bound",
		         (unsigned long long)total);
	else if (rc < 0)
		api_fail(e, "bad-request",
		         "a snapshot chunk out of order; start again at offset 0");
	return rc < 0 ? -1 : rc;
}

/* The active one's store after one of its writes, before it answers its client, in chunks:
 * applied here once whole, while we are the standby of an epoch no newer than the sender's. An
 * older sender is an active one that missed a takeover: it is refused, and our reply (our
 * epoch) makes it step down. */
static json_object *v_push(struct ops *o, json_object *args, struct api_err *e)
{
	struct ops_replica *r = o->replica;
	struct uv_ops_peer_view me = {.name = r ? r->name : ""}, peer = {.role = UV_OPS_ACTIVE};
	const char *name = ops_arg_str(args, "name");
	json_object *whole;
	bool take;
	char err[256];
	int rc;

	if (!r) {
		api_fail(e, "no-peer", "this operations partition has no peer (--peer)");
		return NULL;
	}
	if (!name || !strcmp(name, r->name) || !arg_u64(args, "epoch", &peer.epoch, e) ||
	    !arg_u64(args, "seq", &peer.seq, e)) {
		api_fail(e, "bad-request", "name (the peer's), epoch, seq required");
		return NULL;
	}
	peer.name = name;
	if ((rc = opsdb_replica_get(o->db, &me.epoch, &me.seq))) {
		api_fail(e, "internal", "reading the store: %s", strerror(-rc));
		return NULL;
	}
	pthread_mutex_lock(&r->mu);
	ops_replica_heard(r, UV_OPS_ACTIVE, peer.epoch, peer.seq, name);
	me.role = r->role;
	if (uv_ops_decide(&me, &peer, 0, r->dead_ms) == UV_OPS_STEP_DOWN) {
		r->role = me.role = UV_OPS_STANDBY;
		fprintf(stderr,
		        "ultra-ops: replica: standby: %s is active at epoch %llu, ours is %llu\n",
		        name, (unsigned long long)peer.epoch, (unsigned long long)me.epoch);
	}
	take = me.role == UV_OPS_STANDBY && peer.epoch >= me.epoch;
	pthread_mutex_unlock(&r->mu);
	if (!take) {
		uv_ops_chunks_reset(&r->chunks);
		return ops_replica_view_json(r->name, me.role, me.epoch, me.seq);
	}
	if ((rc = chunks_add(r, args, peer.epoch, peer.seq, e)) <= 0)
		return rc ? NULL : ops_replica_view_json(r->name, me.role, me.epoch, me.seq);
	whole = json_object_new_string_len(r->chunks.text, (int)r->chunks.len);
	uv_ops_chunks_reset(&r->chunks);
	rc = ops_replica_apply(r, o->db, whole, err, sizeof(err));
	json_object_put(whole);
	if (rc) {
		fprintf(stderr, "ultra-ops: replica: the peer's snapshot refused: %s\n", err);
		api_fail(e, "bad-request", "snapshot refused: %s", err);
		return NULL;
	}
	if (opsdb_replica_get(o->db, &me.epoch, &me.seq)) {
		api_fail(e, "internal", "reading the store");
		return NULL;
	}
	return ops_replica_view_json(r->name, me.role, me.epoch, me.seq);
}

static json_object *v_status(struct ops *o, json_object *args, struct api_err *e)
{
	struct ops_replica *r = o->replica;
	json_object *ret, *p;
	uint64_t epoch = 0, seq = 0;
	int rc;

	(void)args;
	if (!r) {
		api_fail(e, "no-peer", "this operations partition has no peer (--peer)");
		return NULL;
	}
	if ((rc = opsdb_replica_get(o->db, &epoch, &seq))) {
		api_fail(e, "internal", "reading the store: %s", strerror(-rc));
		return NULL;
	}
	pthread_mutex_lock(&r->mu);
	ret = ops_replica_view_json(r->name, r->role, epoch, seq);
	p = json_object_new_object();
	json_object_object_add(p, "address", json_object_new_string(r->peer));
	if (r->peer_known) {
		json_object_object_add(p, "name", json_object_new_string(r->peer_name));
		json_object_object_add(p, "role",
		                       json_object_new_string(uv_ops_role_name(r->peer_role)));
		json_object_object_add(p, "epoch", json_object_new_int64((int64_t)r->peer_epoch));
		json_object_object_add(p, "seq", json_object_new_int64((int64_t)r->peer_seq));
	}
	json_object_object_add(p, "heard_ms_ago",
	                       json_object_new_int64(ops_mono_ms() - r->heard_ms));
	if (r->peer_err[0])
		json_object_object_add(p, "error", json_object_new_string(r->peer_err));
	if (r->witness[0])
		json_object_object_add(ret, "witness", ops_witness_status_json(r));
	pthread_mutex_unlock(&r->mu);
	json_object_object_add(ret, "peer", p);
	return ret;
}

static const char *const sync_args[] = {"name", "role", "epoch", "seq", NULL};
static const char *const push_args[] = {"name",  "role",   "epoch", "seq",
                                        "total", "offset", "data",  NULL};
static const char *const no_args[] = {NULL};

const struct ops_verb ops_replica_verbs[] = {
    {"replica-sync", sync_args, v_sync},
    {"replica-push", push_args, v_push},
    {"replica-status", no_args, v_status},
    {NULL, NULL, NULL},
};
