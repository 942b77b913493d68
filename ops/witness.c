/* SPDX-License-Identifier: MIT */
/*
 * The lease from the witness (claim 47; docs/ops-ha.md "The witness"): with --witness, an
 * active operations partition acts only while the witness or its peer backs it, and a standby
 * takes over only when the witness grants it the lease. This file is the client: a thread that
 * renews the lease once a tick while we are active (so a peer that does not answer, and holds
 * the replica thread for a whole call, never delays a renewal), and the one-off request of a
 * takeover. A lease is a duration from when its request was sent (lib/witness_lease.c), so the
 * two machines' clocks need only run at a similar rate.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica.h"

/* One lease request for epoch on *c (opened when NULL, closed on any failure). A grant must
 * name us and that epoch. */
static int ask(struct ops_replica *r, struct uv_cmdconn **c, uint64_t epoch,
               struct uv_wit_answer *a, char *err, size_t errlen)
{
	struct uv_wit_ask q = {.epoch = epoch, .lease_ms = r->dead_ms};
	int t = (int)ops_replica_call_ms(r), rc;
	char *line = NULL, *req;

	snprintf(q.name, sizeof(q.name), "%s", r->name);
	if (!(req = uv_wit_request_encode(&q))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((!*c && (rc = uv_cmdconn_open(r->witness, r->tls, t, c, err, errlen))) ||
	    (rc = uv_cmdconn_write_line(*c, req, t, err, errlen)) ||
	    (rc = uv_cmdconn_read_line(*c, &line, t, err, errlen)) ||
	    (rc = uv_wit_answer_decode(line, strlen(line), a, err, errlen)))
		goto out;
	if (a->granted && (strcmp(a->holder, r->name) || a->epoch != epoch)) {
		snprintf(err, errlen,
		         "the witness granted the lease to %s at epoch %llu, not to us", a->holder,
		         (unsigned long long)a->epoch);
		rc = -EPROTO;
	}
out:
	if (rc) {
		uv_cmdconn_close(*c);
		*c = NULL;
	}
	free(req);
	free(line);
	return rc;
}

/* Under mu: what the witness said, or (a NULL) why it said nothing. */
static void heard(struct ops_replica *r, const struct uv_wit_answer *a, const char *err)
{
	if (!a) {
		snprintf(r->wit_err, sizeof(r->wit_err), "%s", err);
		return;
	}
	r->wit = *a;
	r->wit_known = true;
	r->wit_heard_ms = ops_mono_ms();
	r->wit_err[0] = 0;
	if (a->epoch > r->peer_epoch_max)
		r->peer_epoch_max = a->epoch; /* a takeover goes above the witness's epoch too */
}

/* While active: renew. A refusal means the witness backs someone else now (it granted a
 * standby that found us silent): step down at once. A grant arriving after our epoch changed
 * speaks of the old one and is dropped. */
static void renew(struct ops_replica *r)
{
	struct uv_wit_answer a;
	uint64_t epoch;
	long long sent = ops_mono_ms();
	char err[256] = "";
	bool active;
	int rc;

	pthread_mutex_lock(&r->mu);
	active = r->role == UV_OPS_ACTIVE;
	epoch = r->epoch;
	pthread_mutex_unlock(&r->mu);
	if (!active)
		return;
	rc = ask(r, &r->wconn, epoch, &a, err, sizeof(err));
	pthread_mutex_lock(&r->mu);
	heard(r, rc ? NULL : &a, err);
	if (!rc && r->role == UV_OPS_ACTIVE && r->epoch == epoch) {
		if (a.granted) {
			r->lease_until = uv_wit_holder_until(sent, r->dead_ms);
		} else {
			r->role = UV_OPS_STANDBY;
			r->lease_until = 0;
			fprintf(stderr,
			        "ultra-ops: replica: standby: the witness gives the lease to %s at "
			        "epoch %llu, ours is %llu\n",
			        a.holder, (unsigned long long)a.epoch, (unsigned long long)epoch);
		}
	}
	pthread_mutex_unlock(&r->mu);
}

static void *lease_main(void *arg) { return ops_replica_every_tick(arg, renew); }

bool ops_witness_take(struct ops_replica *r, uint64_t epoch)
{
	struct uv_cmdconn *c = NULL;
	struct uv_wit_answer a;
	long long sent = ops_mono_ms();
	char err[256] = "", note[sizeof(r->wit_note)];
	int rc = ask(r, &c, epoch, &a, err, sizeof(err));

	uv_cmdconn_close(c);
	pthread_mutex_lock(&r->mu);
	heard(r, rc ? NULL : &a, err);
	if (!rc && a.granted)
		r->lease_until = uv_wit_holder_until(sent, r->dead_ms);
	pthread_mutex_unlock(&r->mu);
	if (!rc && a.granted) {
		r->wit_note[0] = 0; /* the next refusal is news */
		return true;
	}
	if (rc)
		snprintf(note, sizeof(note), "did not answer (%.150s)", err);
	else
		snprintf(note, sizeof(note), "refuses: %s holds the lease at epoch %llu", a.holder,
		         (unsigned long long)a.epoch);
	if (strcmp(note, r->wit_note))
		fprintf(stderr,
		        "ultra-ops: replica: not taking over at epoch %llu: the witness at %s %s\n",
		        (unsigned long long)epoch, r->witness, note);
	memcpy(r->wit_note, note, sizeof(note));
	return false;
}

json_object *ops_witness_status_json(const struct ops_replica *r)
{
	json_object *w = json_object_new_object();
	long long now = ops_mono_ms();

	json_object_object_add(w, "address", json_object_new_string(r->witness));
	if (r->wit_known) {
		json_object_object_add(w, "holder", json_object_new_string(r->wit.holder));
		json_object_object_add(w, "epoch", json_object_new_int64((int64_t)r->wit.epoch));
		json_object_object_add(w, "heard_ms_ago",
		                       json_object_new_int64(now - r->wit_heard_ms));
	}
	json_object_object_add(
	    w, "lease_ms_left",
	    json_object_new_int64(r->lease_until > now ? r->lease_until - now : 0));
	if (r->wit_err[0])
		json_object_object_add(w, "error", json_object_new_string(r->wit_err));
	return w;
}

int ops_witness_start(struct ops_replica *r, char *err, size_t errlen)
{
	int rc;

	if (!r->witness[0])
		return 0;
	if ((rc = -pthread_create(&r->lease_thread, NULL, lease_main, r)))
		snprintf(err, errlen, "starting the lease thread: %s", strerror(-rc));
	return rc;
}

void ops_witness_stop(struct ops_replica *r)
{
	if (!r->witness[0])
		return;
	pthread_join(r->lease_thread, NULL);
	uv_cmdconn_close(r->wconn);
	r->wconn = NULL;
}
