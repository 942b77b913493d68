/* SPDX-License-Identifier: MIT */
/* One request to the witness, one answer (docs/ops-ha.md "The witness"). The rules are
 * lib/witness_lease.c's; here they meet the clock and the disk. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jsonapi.h"
#include "wit_daemon.h"

long long witness_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const verdicts[] = {"granted", "held by another", "stale epoch"};

static char *error_line(const char *code, const char *msg)
{
	json_object *rep = uv_api_reply(NULL, code, msg);
	char *line = strdup(json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN));

	json_object_put(rep);
	return line;
}

/* Decides on a lease request; false when the new holder could not be recorded. */
static bool decide(struct witness *w, const struct uv_wit_ask *a, long long now, bool *granted)
{
	struct uv_wit_lease next;
	enum uv_wit_verdict v = uv_wit_lease_ask(&w->lease, a, now, &next);
	int rc;

	*granted = v == UV_WIT_GRANTED;
	if (!*granted) {
		if (strcmp(a->name, w->lease.rec.holder))
			fprintf(stderr,
			        "ultra-witness: %s at epoch %llu: refused (%s: %s at %llu)\n",
			        a->name, (unsigned long long)a->epoch, verdicts[v],
			        w->lease.rec.holder, (unsigned long long)w->lease.rec.epoch);
		return true;
	}
	if (strcmp(next.rec.holder, w->lease.rec.holder) || next.rec.epoch != w->lease.rec.epoch ||
	    next.rec.lease_ms != w->lease.rec.lease_ms) {
		/* Durable before the answer: a restart must never forget a holder it granted. */
		if ((rc = uv_wit_record_save(w->state_path, &next.rec))) {
			fprintf(stderr, "ultra-witness: %s: saving: %s; %s refused\n",
			        w->state_path, strerror(-rc), a->name);
			return false;
		}
		if (strcmp(next.rec.holder, w->lease.rec.holder) ||
		    next.rec.epoch != w->lease.rec.epoch)
			fprintf(stderr, "ultra-witness: lease to %s at epoch %llu for %u ms\n",
			        next.rec.holder, (unsigned long long)next.rec.epoch,
			        next.rec.lease_ms);
	}
	w->lease = next;
	return true;
}

char *witness_answer(struct witness *w, const char *line, size_t len)
{
	struct uv_wit_answer ans = {0};
	struct uv_wit_ask ask;
	enum uv_wit_verb verb;
	const char *code = "bad-request";
	long long now = witness_mono_ms();
	char err[256];

	if (uv_wit_request_decode(line, len, &verb, &ask, &code, err, sizeof(err)))
		return error_line(code, err);
	if (verb == UV_WIT_VERB_LEASE && !decide(w, &ask, now, &ans.granted))
		return error_line("internal", "the witness cannot record the lease");
	memcpy(ans.holder, w->lease.rec.holder, sizeof(ans.holder));
	ans.epoch = w->lease.rec.epoch;
	ans.lease_ms = w->lease.rec.lease_ms;
	ans.left_ms = (uint32_t)uv_wit_lease_left(&w->lease, now);
	return uv_wit_answer_encode(&ans);
}
