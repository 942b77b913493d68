/* SPDX-License-Identifier: MIT */
/*
 * The replica thread of a redundant operations partition (claim 47; docs/ops-ha.md). Once a
 * tick it sends the peer our role, epoch and change counter (replica-sync); an active peer
 * answers with a snapshot when ours differs, which is applied to our store. The rules of
 * lib/ops_replica_rules.c then say whether to take over (peer silent for --peer-dead-ms, or
 * an election between two standbys) or step down (a newer epoch). A takeover writes the new
 * epoch to the store before the main thread's tick may act on it.
 *
 * It is a thread so that the main loop keeps answering the peer while this one waits for the
 * peer's answer: two single-threaded peers calling each other would each wait for the other.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "opsdb_replica.h"
#include "replica.h"

void ops_replica_heard(struct ops_replica *r, enum uv_ops_role role, uint64_t epoch, uint64_t seq,
                       const char *name)
{
	r->peer_known = true;
	r->peer_role = role;
	r->peer_epoch = epoch;
	r->peer_seq = seq;
	snprintf(r->peer_name, sizeof(r->peer_name), "%s", name);
	if (epoch > r->peer_epoch_max)
		r->peer_epoch_max = epoch;
	r->heard_ms = ops_mono_ms();
	r->peer_err[0] = 0;
}

unsigned ops_replica_call_ms(const struct ops_replica *r)
{
	unsigned t = r->dead_ms / 2;

	return t < 200 ? 200 : t > 5000 ? 5000 : t;
}

int ops_replica_request(struct uv_cmdconn *c, int timeout_ms, const char *execute,
                        json_object *args, json_object **ret, char *err, size_t errlen)
{
	json_object *req = json_object_new_object(), *rep = NULL, *v, *e;
	char *line = NULL;
	int rc;

	json_object_object_add(req, "version", json_object_new_int(OPS_API_VERSION));
	json_object_object_add(req, "execute", json_object_new_string(execute));
	json_object_object_add(req, "arguments", args);
	if ((rc = uv_cmdconn_write_line(c,
	                                json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN),
	                                timeout_ms, err, errlen)) ||
	    (rc = uv_cmdconn_read_line(c, &line, timeout_ms, err, errlen)))
		goto out;
	rep = json_tokener_parse(line);
	if (rep && json_object_object_get_ex(rep, "error", &e)) {
		snprintf(err, errlen, "%s: %s", execute,
		         json_object_get_string(json_object_object_get(e, "message")));
		rc = -EPROTO;
	} else if (!rep || !json_object_object_get_ex(rep, "return", &v) ||
	           !json_object_is_type(v, json_type_object)) {
		snprintf(err, errlen, "the peer's answer to %s is not one: %.160s", execute, line);
		rc = -EPROTO;
	} else {
		*ret = json_object_get(v);
	}
out:
	json_object_put(rep);
	json_object_put(req);
	free(line);
	return rc;
}

/* One request on the thread's connection to the peer, opened when there is none; args is
 * consumed. Any failure closes it, so a late answer to one round is never read as the next
 * round's. */
static int peer_call(struct ops_replica *r, const char *execute, json_object *args,
                     json_object **ret, char *err, size_t errlen)
{
	int t = (int)ops_replica_call_ms(r), rc;

	if (!r->conn && (rc = uv_cmdconn_open(r->peer, r->tls, t, &r->conn, err, errlen))) {
		json_object_put(args);
		return rc;
	}
	if ((rc = ops_replica_request(r->conn, t, execute, args, ret, err, errlen))) {
		uv_cmdconn_close(r->conn);
		r->conn = NULL;
	}
	return rc;
}

json_object *ops_replica_view_json(const char *name, enum uv_ops_role role, uint64_t epoch,
                                   uint64_t seq)
{
	json_object *v = json_object_new_object();

	json_object_object_add(v, "name", json_object_new_string(name));
	json_object_object_add(v, "role", json_object_new_string(uv_ops_role_name(role)));
	json_object_object_add(v, "epoch", json_object_new_int64((int64_t)epoch));
	json_object_object_add(v, "seq", json_object_new_int64((int64_t)seq));
	return v;
}

json_object *ops_replica_snapshot_json(struct opsdb *db)
{
	uint8_t *image = NULL;
	uint64_t epoch, seq;
	char *b64 = NULL;
	json_object *s = NULL;
	size_t len;
	int rc;

	if ((rc = opsdb_replica_export(db, &image, &len, &epoch, &seq)) ||
	    (rc = uv_ops_snap_encode(epoch, seq, image, len, &b64)))
		fprintf(stderr, "ultra-ops: replica: snapshot of the store: %s\n", strerror(-rc));
	else
		s = json_object_new_string(b64);
	free(image);
	free(b64);
	return s;
}

static bool get_u64(json_object *o, const char *key, uint64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return false;
	*out = (uint64_t)json_object_get_int64(v);
	return true;
}

bool ops_replica_parse_view(json_object *o, struct uv_ops_peer_view *v)
{
	json_object *n, *role;

	return json_object_object_get_ex(o, "name", &n) &&
	       json_object_is_type(n, json_type_string) &&
	       json_object_object_get_ex(o, "role", &role) &&
	       !uv_ops_role_parse(json_object_get_string(role), &v->role) &&
	       get_u64(o, "epoch", &v->epoch) && get_u64(o, "seq", &v->seq) &&
	       (v->name = json_object_get_string(n));
}

/* Applies the snapshot in an active peer's reply, if there is one. */
int ops_replica_apply(struct ops_replica *r, struct opsdb *db, json_object *b64, char *err,
                      size_t errlen)
{
	struct uv_ops_snap s = {0};
	int rc;

	if (!json_object_is_type(b64, json_type_string)) {
		snprintf(err, errlen, "snapshot: expected a string");
		return -EINVAL;
	}
	if (!(rc = uv_ops_snap_decode(json_object_get_string(b64),
	                              (size_t)json_object_get_string_len(b64), &s, err, errlen)) &&
	    !(rc = opsdb_replica_import(db, &s, err, errlen))) {
		pthread_mutex_lock(&r->mu);
		r->epoch = s.epoch;
		pthread_mutex_unlock(&r->mu);
	}
	free(s.image);
	return rc;
}

/* Applies the snapshot in an active peer's reply, if there is one. */
static void apply_snapshot(struct ops_replica *r, json_object *rep)
{
	json_object *b64;
	char err[256];

	if (json_object_object_get_ex(rep, "snapshot", &b64) &&
	    ops_replica_apply(r, r->db, b64, err, sizeof(err)))
		fprintf(stderr, "ultra-ops: replica: the peer's snapshot refused: %s\n", err);
}

static void take_over(struct ops_replica *r, uint64_t mine, long long silent_ms, bool answered)
{
	char over[UV_NAME_MAX];
	uint64_t next;
	int rc;

	pthread_mutex_lock(&r->mu);
	next = uv_ops_next_epoch(mine, r->peer_epoch_max);
	snprintf(over, sizeof(over), "%s", r->peer_name);
	pthread_mutex_unlock(&r->mu);
	/* With a witness, only its grant makes us active: a peer we cannot reach may be alive
	 * and holding the lease (docs/ops-ha.md "The witness"). */
	if (r->witness[0] && !ops_witness_take(r, next))
		return;
	/* Durable before acting: a restart of ours, or the peer reading our store's copy, must
	 * never see an active one of an older epoch than the one that acted. */
	if ((rc = opsdb_replica_set_epoch(r->db, next))) {
		fprintf(stderr, "ultra-ops: replica: recording epoch %llu: %s; not taking over\n",
		        (unsigned long long)next, strerror(-rc));
		return;
	}
	pthread_mutex_lock(&r->mu);
	r->role = UV_OPS_ACTIVE;
	r->epoch = next;
	pthread_mutex_unlock(&r->mu);
	if (answered)
		fprintf(stderr,
		        "ultra-ops: replica: active at epoch %llu (elected over standby %s)\n",
		        (unsigned long long)next, over);
	else
		fprintf(
		    stderr,
		    "ultra-ops: replica: active at epoch %llu (the peer at %s silent for %lld ms)\n",
		    (unsigned long long)next, r->peer, silent_ms);
}

bool ops_replica_fresh(const struct ops_replica *r, long long now_ms)
{
	long long window = (long long)r->dead_ms * 3 / 4;

	if (r->witness[0])
		return now_ms < r->lease_until || now_ms - r->ack_ms < window;
	return now_ms - r->round_ms < window;
}

/* One round: ask, apply, decide. */
static void round_once(struct ops_replica *r)
{
	struct uv_ops_peer_view me = {.name = r->name}, peer;
	enum uv_ops_action act;
	json_object *rep = NULL;
	uint64_t epoch, seq;
	long long silent;
	char err[256] = "";
	long long began = ops_mono_ms();
	bool answered;

	if (opsdb_replica_get(r->db, &epoch, &seq))
		return;
	pthread_mutex_lock(&r->mu);
	me.role = r->role;
	pthread_mutex_unlock(&r->mu);
	answered =
	    !peer_call(r, "replica-sync", ops_replica_view_json(r->name, me.role, epoch, seq), &rep,
	               err, sizeof(err)) &&
	    ops_replica_parse_view(rep, &peer);
	pthread_mutex_lock(&r->mu);
	if (answered && !strcmp(peer.name, r->name)) {
		snprintf(r->peer_err, sizeof(r->peer_err), "the peer has our name \"%s\"", r->name);
		answered = false;
	} else if (answered) {
		ops_replica_heard(r, peer.role, peer.epoch, peer.seq, peer.name);
	} else {
		snprintf(r->peer_err, sizeof(r->peer_err), "%s", err[0] ? err : "a bad reply");
	}
	me.role = r->role; /* the main thread may have stepped us down meanwhile */
	pthread_mutex_unlock(&r->mu);
	if (answered && me.role == UV_OPS_STANDBY && peer.role == UV_OPS_ACTIVE &&
	    peer.epoch >= epoch) {
		if (peer.epoch != r->followed_epoch)
			fprintf(stderr,
			        "ultra-ops: replica: standby of %s, active at epoch %llu (ours "
			        "was %llu)\n",
			        peer.name, (unsigned long long)peer.epoch,
			        (unsigned long long)epoch);
		r->followed_epoch = peer.epoch;
		apply_snapshot(r, rep);
	}
	if (opsdb_replica_get(r->db, &me.epoch, &me.seq))
		goto out;
	pthread_mutex_lock(&r->mu);
	silent = ops_mono_ms() - r->heard_ms;
	me.role = r->role;
	act = uv_ops_decide(&me, answered ? &peer : NULL, silent, r->dead_ms);
	if (act == UV_OPS_STEP_DOWN) {
		r->role = UV_OPS_STANDBY;
		fprintf(stderr,
		        "ultra-ops: replica: standby: %s is %s at epoch %llu, ours is %llu\n",
		        peer.name, uv_ops_role_name(peer.role), (unsigned long long)peer.epoch,
		        (unsigned long long)me.epoch);
	}
	r->round_ms = began;
	/* The peer answered as our standby: it heard us after began and will not take over
	 * for dead_ms from then, so it is the second vote for acting until 3/4 of that. */
	if (answered && act == UV_OPS_STAY && me.role == UV_OPS_ACTIVE &&
	    peer.role == UV_OPS_STANDBY)
		r->ack_ms = began;
	pthread_mutex_unlock(&r->mu);
	if (act == UV_OPS_TAKE_OVER)
		take_over(r, me.epoch, silent, answered);
out:
	json_object_put(rep);
}

void *ops_replica_every_tick(struct ops_replica *r, void (*round)(struct ops_replica *r))
{
	while (!atomic_load(&r->stop)) {
		long long until = ops_mono_ms() + r->tick_ms;

		round(r);
		while (!atomic_load(&r->stop) && ops_mono_ms() < until)
			usleep(20000);
	}
	return NULL;
}

static void *replica_main(void *arg) { return ops_replica_every_tick(arg, round_once); }

int ops_replica_start(struct ops *o, const char *db_path, const char *peer, const char *witness,
                      const char *name, unsigned dead_ms, char *err, size_t errlen)
{
	struct ops_replica *r = calloc(1, sizeof(*r));
	uint64_t seq;
	int rc;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	snprintf(r->witness, sizeof(r->witness), "%s", witness ? witness : "");
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->tls = &o->tls;
	r->dead_ms = dead_ms;
	r->tick_ms = o->tick_ms;
	r->role = UV_OPS_STANDBY; /* always: a returning active learns the epoch before acting */
	r->heard_ms = ops_mono_ms();
	r->ack_ms = LLONG_MIN / 2; /* never acknowledged, however short the uptime */
	pthread_mutex_init(&r->mu, NULL);
	if ((rc = opsdb_replica_prepare(o->db)) ||
	    (rc = opsdb_replica_get(o->db, &r->epoch, &seq))) {
		snprintf(err, errlen, "preparing the store for a peer: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = opsdb_open(db_path, &r->db, err, errlen)))
		goto fail;
	if ((rc = -pthread_create(&r->thread, NULL, replica_main, r))) {
		snprintf(err, errlen, "starting the replica thread: %s", strerror(-rc));
		opsdb_close(r->db);
		goto fail;
	}
	if ((rc = ops_witness_start(r, err, errlen))) {
		atomic_store(&r->stop, true);
		pthread_join(r->thread, NULL);
		uv_cmdconn_close(r->conn);
		opsdb_close(r->db);
		goto fail;
	}
	o->replica = r;
	return 0;
fail:
	pthread_mutex_destroy(&r->mu);
	free(r);
	return rc;
}

void ops_replica_stop(struct ops *o)
{
	struct ops_replica *r = o->replica;

	if (!r)
		return;
	atomic_store(&r->stop, true);
	pthread_join(r->thread, NULL);
	ops_witness_stop(r);
	uv_cmdconn_close(r->conn);
	opsdb_close(r->db);
	pthread_mutex_destroy(&r->mu);
	uv_ops_chunks_reset(&r->chunks);
	free(r);
	o->replica = NULL;
}

bool ops_replica_acting(struct ops *o)
{
	struct ops_replica *r = o->replica;
	bool active, fresh;
	int rc;

	if (!r)
		return true;
	pthread_mutex_lock(&r->mu);
	active = r->role == UV_OPS_ACTIVE;
	fresh = ops_replica_fresh(r, ops_mono_ms());
	pthread_mutex_unlock(&r->mu);
	if (active && !r->acting) {
		/* The hosts may have changed in the store while we followed; every host is
		 * treated as a restarted ultra-ops treats it (claim 38: definitions pushed where
		 * missing, autostart partitions started). */
		if ((rc = ops_nodes_load(o))) {
			fprintf(stderr, "ultra-ops: replica: reading the hosts: %s\n",
			        strerror(-rc));
			return false;
		}
		for (size_t i = 0; i < o->n_nodes; i++) {
			/* Heard of from now on: a host gets its full --host-dead-ms before it
			 * counts as down, and is fenced before it is up. */
			o->nodes[i].state = OPS_NODE_UNKNOWN;
			o->nodes[i].last_ok_ms = ops_mono_ms();
			o->nodes[i].reconciled_gen = o->nodes[i].link.gen - 1;
		}
	}
	r->acting = active;
	return active && fresh;
}
