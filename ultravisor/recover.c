/* SPDX-License-Identifier: MIT */
/*
 * Start-up: rebuild the database from the newest snapshot and the committed transactions after
 * it (claims 5, 7, 53). Transactions that were begun but never committed were never
 * acknowledged; the log records their abort and they are simply not re-applied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvd.h"

struct replay_ctx {
	struct uvd *u;
	uint64_t applied, pending;
	char *err;
	size_t errlen;
};

static int on_snapshot(void *opaque, const void *state, size_t len, uint64_t next_seq)
{
	struct replay_ctx *c = opaque;
	int r = uv_resdb_load(&c->u->db, state, len);

	if (r)
		snprintf(c->err, c->errlen, "snapshot before seq %llu does not load: %s",
		         (unsigned long long)next_seq, strerror(-r));
	return r;
}

static int on_committed(void *opaque, const struct uv_log_entry *e)
{
	struct replay_ctx *c = opaque;
	enum uv_txn_reason reason;
	struct uv_txn t;

	reason = uv_txn_decode(e->payload, e->length, &t);
	if (reason == UV_TXN_OK)
		reason = uv_resdb_apply(&c->u->db, &t, &c->u->res);
	if (reason != UV_TXN_OK) {
		/* A committed record that no longer applies means the log and the code disagree:
		 * starting would serve a database that differs from what was acknowledged. */
		char why[256];

		uv_txn_explain(e->payload, e->length, reason, why, sizeof(why));
		snprintf(c->err, c->errlen, "committed transaction seq %llu does not re-apply: %s",
		         (unsigned long long)e->seq, why);
		return -EUCLEAN;
	}
	c->applied++;
	if (uvd_mem_track(c->u, &t, e->seq) < 0)
		fprintf(stderr,
		        "ultravisor: WARNING: no memory object for seq %llu (host memory?)\n",
		        (unsigned long long)e->seq);
	return 0;
}

static int on_pending(void *opaque, const struct uv_log_entry *e)
{
	struct replay_ctx *c = opaque;

	c->pending++; /* never applied during replay, so rolling back is not applying it */
	return 0;
}

int uvd_recover(struct uvd *u, char *err, size_t errlen)
{
	struct replay_ctx c = {.u = u, .err = err, .errlen = errlen};
	struct uv_log_replay replay = {
	    .snapshot = on_snapshot, .committed = on_committed, .pending = on_pending, .ctx = &c};
	struct uv_log_report rep;
	int r;

	err[0] = 0;
	r = uv_log_open(u->state_dir, &replay, &u->log, &rep);
	if (r) {
		if (!err[0])
			snprintf(err, errlen, "audit log in %s: %s", u->state_dir, strerror(-r));
		return r;
	}
	fprintf(stderr,
	        "ultravisor: recovered %llu committed transactions, rolled back %llu pending",
	        (unsigned long long)c.applied, (unsigned long long)c.pending);
	if (rep.damage != UV_LOG_INTACT)
		fprintf(stderr, "; WARNING: log %s at segment %llu offset %llu, %llu bytes cut",
		        uv_log_damage_str(rep.damage), (unsigned long long)rep.damage_segment,
		        (unsigned long long)rep.damage_offset,
		        (unsigned long long)rep.truncated_bytes);
	fprintf(stderr, "\n");
	return 0;
}

int uvd_checkpoint(struct uvd *u)
{
	size_t cap = uv_resdb_save_size(&u->db);
	void *buf = malloc(cap);
	ssize_t n;
	int r;

	if (!buf)
		return -ENOMEM;
	n = uv_resdb_save(&u->db, buf, cap);
	r = n < 0 ? (int)n : uv_log_checkpoint(u->log, buf, (size_t)n);
	free(buf);
	if (!r)
		u->since_checkpoint = 0;
	return r;
}
