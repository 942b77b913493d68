/* SPDX-License-Identifier: MIT */
/*
 * Inside the redundant operations partition (claim 47; docs/ops-ha.md): the state the replica
 * thread (replica.c: it asks the peer, applies its snapshots, takes over) shares with the main
 * thread (api_replica.c: it answers the peer, refuses writes while standby; the tick acts only
 * while active). Every member below mu is read and written under it.
 */
#ifndef ULTRA_OPS_REPLICA_H
#define ULTRA_OPS_REPLICA_H

#include <pthread.h>
#include <stdatomic.h>

#include "ops.h"
#include "ops_replica.h"
#include "witness.h"

struct ops_replica {
	/* Fixed before the thread starts. */
	char peer[OPS_ADDR_MAX];    /* the peer's ops.sock: a path or its gateway's tls://H:P */
	char name[UV_NAME_MAX];     /* ours, unique between the two */
	char witness[OPS_ADDR_MAX]; /* --witness: its witness.sock or gateway; "" without */
	const struct uv_tls_files *tls;
	unsigned dead_ms, tick_ms;
	struct opsdb *db;        /* the thread's own connection to the store */
	struct uv_cmdconn *conn; /* the thread's to the peer; NULL while there is none */
	pthread_t thread;
	atomic_bool stop;
	bool acting;              /* main thread only: the role its last tick acted in */
	pthread_t lease_thread;   /* with a witness: renews our lease while we are active */
	struct uv_cmdconn *wconn; /* the lease thread's to the witness */
	char wit_note[200];       /* replica thread only: the refusal last logged */
	uint64_t followed_epoch;  /* replica thread only: the active epoch it last followed */

	pthread_mutex_t mu;
	enum uv_ops_role role;
	uint64_t epoch;          /* ours: the store's, cached */
	uint64_t peer_epoch_max; /* the highest epoch the peer ever showed */
	long long heard_ms;      /* monotonic: the peer's last answer or request */
	bool peer_known;         /* peer_* below hold what it last said */
	enum uv_ops_role peer_role;
	uint64_t peer_epoch, peer_seq;
	char peer_name[UV_NAME_MAX];
	char peer_err[256]; /* why the last call to it failed; "" when it answered */
	long long round_ms; /* monotonic: when the last completed round began */
	long long ack_ms;   /* monotonic: began the last round the peer answered as our standby */
	long long lease_until;    /* monotonic: we may act on the witness's grant until then */
	bool wit_known;           /* wit below holds the witness's last answer */
	struct uv_wit_answer wit; /* with wit_heard_ms, when it came */
	long long wit_heard_ms;
	char wit_err[256]; /* why the last call to the witness failed; "" when it answered */

	/* Main thread only: a pushed snapshot arriving in chunks (api_replica.c). */
	struct uv_ops_chunks chunks;
};

/* Whether an active one may act now (under mu). With a witness: while it holds the witness's
 * lease, or its last round the peer answered as its standby began less than 3/4 of dead_ms
 * ago (two votes of three either way; docs/ops-ha.md "The witness"). Without: its last
 * completed round began less than 3/4 of dead_ms ago. The peer heard from us no earlier than that
 * round began and takes over only after dead_ms of silence, so it cannot have taken over yet. What
 * the round learnt was said after it began: a reply or request that waited out a pause of ours does
 * not count. A process that was stopped or starved that long waits for a round begun after the
 * pause, which tells it of a newer epoch before it acts on an old one (docs/ops-ha.md "Fencing").
 */
bool ops_replica_fresh(const struct ops_replica *r, long long now_ms);
/* A thread's loop: round(r) once a tick until r->stop; returns NULL for pthread_create. */
void *ops_replica_every_tick(struct ops_replica *r, void (*round)(struct ops_replica *r));
/* One request on c and its "return" object in *ret (put it); args is consumed. 0, or a
 * negative errno with err (-EPROTO: the peer answered with an error, named in err). */
int ops_replica_request(struct uv_cmdconn *c, int timeout_ms, const char *execute,
                        json_object *args, json_object **ret, char *err, size_t errlen);
/* A reply's {name, role, epoch, seq}; false when a member is missing or wrong. v->name points
 * into o. */
bool ops_replica_parse_view(json_object *o, struct uv_ops_peer_view *v);
/* {name, role, epoch, seq}: what replica-sync and replica-push say of their sender. */
json_object *ops_replica_view_json(const char *name, enum uv_ops_role role, uint64_t epoch,
                                   uint64_t seq);
/* db's snapshot frame as a base64 string, or NULL (logged). */
json_object *ops_replica_snapshot_json(struct opsdb *db);
/* Decodes, checks and imports a peer's snapshot (a base64 string) into db: 0, or a negative
 * errno with err (db unchanged). */
int ops_replica_apply(struct ops_replica *r, struct opsdb *db, json_object *b64, char *err,
                      size_t errlen);
/* How long one call to the peer may take: half of dead_ms, 0.2..5 s. */
unsigned ops_replica_call_ms(const struct ops_replica *r);

/* witness.c: the lease from the witness (docs/ops-ha.md "The witness"). */
int ops_witness_start(struct ops_replica *r, char *err, size_t errlen);
void ops_witness_stop(struct ops_replica *r);
/* Asks the witness for the lease at epoch (a takeover), on a connection of its own: true when
 * granted, with lease_until set (under mu); false with the refusal logged when it changed. */
bool ops_witness_take(struct ops_replica *r, uint64_t epoch);
/* {address, holder?, epoch?, left_ms?, error?} for replica-status; under mu. */
json_object *ops_witness_status_json(const struct ops_replica *r);

/* Records what the peer said (a reply, or its request to us); under mu. */
void ops_replica_heard(struct ops_replica *r, enum uv_ops_role role, uint64_t epoch, uint64_t seq,
                       const char *name);

#endif
