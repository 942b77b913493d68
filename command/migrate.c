/* SPDX-License-Identifier: MIT */
/*
 * The source side of a live migration (claim 44, docs/migration.md):
 *
 *   1. the definition goes to the target's command partition (migrate-in): it defines the
 *      partition there, grants its memory and starts an engine that waits (incoming)
 *   2. our monitor connects to the target's stream socket and lends the connection to QEMU,
 *      which sends the guest's memory while the guest runs, then stops it for the switchover
 *   3. completed and the target runs it: our engine is destroyed and the partition undefined
 *      here, its memory back in this host's pool (the partition lives on the target now; a copy
 *      left defined here could be started a second time on the same disks)
 *
 * Any failure leaves the guest running here (resumed if the switchover had paused it) and has
 * the target destroy and undefine its copy (migrate-abort), so its memory is free again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "desc.h"
#include "migrate.h"

#define PEER_MS 60000       /* migrate-in: the target starts an engine */
#define TARGET_RUN_MS 30000 /* completed: the target's engine resumes the guest */
#define CANCEL_MS 15000     /* a cancelled stream: QEMU says so and resumes the guest */
#define SOURCE_STOP_MS 15000
#define ABORT_RETRY_MS 30000 /* a target that does not answer migrate-abort is asked again */

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_object *name_args(const char *name)
{
	json_object *a = json_object_new_object();

	json_object_object_add(a, "name", json_object_new_string(name));
	return a;
}

/* The target's copy goes, and its memory with it; a copy that runs there is not touched. A
 * target that does not answer (a network link down, its gateway restarting) is asked again for
 * a while: its copy would otherwise keep the memory it was granted. */
static int target_abort(struct cmdp *c, const char *target, const char *name, struct api_err *why)
{
	long long t0 = now_ms();
	json_object *a = name_args(name), *ret = NULL;
	struct api_err e;
	int r, tries = 0;

	while ((r = cmd_peer_call(c, target, "migrate-abort", a, &ret, PEER_MS, &e)) &&
	       !strcmp(e.code, "migration") && now_ms() - t0 < ABORT_RETRY_MS) {
		if (!tries++)
			fprintf(stderr,
			        "ultra-command: partition %s: the target does not answer "
			        "migrate-abort (%s); asking again for %d s\n",
			        name, e.message, ABORT_RETRY_MS / 1000);
		nap_ms(500);
	}
	json_object_put(a);
	json_object_put(ret);
	if (r && !strcmp(e.code, "no-such-partition"))
		return 0; /* gone already: the target gave it up at its own deadline */
	if (r && !strcmp(e.code, "busy"))
		return 1;
	if (r)
		fprintf(stderr,
		        "ultra-command: partition %s: the target kept its copy: %s (after: "
		        "%s)\n",
		        name, e.message, why->message);
	return 0;
}

/* The target's view of the partition: its state, or "" when it cannot say. */
static json_object *target_info(struct cmdp *c, const char *target, const char *name, char *state,
                                size_t cap)
{
	json_object *a = name_args(name), *ret = NULL, *v;
	struct api_err e;

	state[0] = 0;
	if (cmd_peer_call(c, target, "info", a, &ret, 5000, &e) == 0 &&
	    json_object_is_type(ret, json_type_object) &&
	    json_object_object_get_ex(ret, "state", &v) && json_object_is_type(v, json_type_string))
		snprintf(state, cap, "%s", json_object_get_string(v));
	json_object_put(a);
	return ret;
}

/* Our monitor's migrate-status: the progress object and its status in status. */
static json_object *progress(struct cmdp *c, const char *name, char *status, size_t cap)
{
	json_object *ret = NULL, *v;
	struct api_err e;

	status[0] = 0;
	if (cmd_monitor_call(c, name, "migrate-status", NULL, &ret, &e))
		return NULL;
	if (json_object_object_get_ex(ret, "status", &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(status, cap, "%s", json_object_get_string(v));
	return ret;
}

static int64_t total_ms(json_object *p)
{
	json_object *v;

	return json_object_object_get_ex(p, "total_ms", &v) ? json_object_get_int64(v) : 0;
}

/* Follows the stream to its end, cancelling it at the deadline. */
static json_object *follow(struct cmdp *c, const char *name, int timeout_s, char *status,
                           size_t cap)
{
	long long deadline = now_ms() + timeout_s * 1000ll, cancelled = 0;
	json_object *p = NULL;
	int settle = 0;
	struct api_err e;

	for (;;) {
		json_object_put(p);
		p = progress(c, name, status, cap);
		if (p && !strcmp(status, "completed") && !total_ms(p) && settle++ < 5) {
			nap_ms(20); /* QEMU says completed a moment before it has the times */
			continue;
		}
		if (!p || uv_mig_status_final(status))
			return p;
		if (!cancelled && now_ms() > deadline) {
			cmd_monitor_call(c, name, "migrate-cancel", NULL, NULL, &e);
			cancelled = now_ms();
		}
		if (cancelled && now_ms() - cancelled > CANCEL_MS)
			return p;
		nap_ms(100);
	}
}

/* The engine here is destroyed; once its monitor reports it stopped the partition is undefined,
 * which revokes its memory. */
static int release_source(struct cmdp *c, const char *name, struct api_err *e)
{
	struct cmd_part p = {0};

	if (cmd_monitor_call(c, name, "destroy", NULL, NULL, e))
		return -1;
	for (int ms = 0; ms < SOURCE_STOP_MS; ms += 50) {
		if (cmd_view_find(c, name, &p))
			return api_fail(e, "internal", "partition %s vanished", name);
		if (!cmd_state_active(p.rec.state))
			return cmd_undefine(c, name, e);
		nap_ms(50);
	}
	return api_fail(e, "monitor", "partition %s: its engine here did not stop within %d s",
	                name, SOURCE_STOP_MS / 1000);
}

static json_object *fail_back(struct cmdp *c, const char *name, const char *target,
                              json_object *prog, struct api_err *e)
{
	struct api_err ignore;

	/* The target's copy first: two running copies must never exist. Before the stream
	 * completed it cannot run there. */
	target_abort(c, target, name, e);
	cmd_monitor_call(c, name, "migrate-cancel", NULL, NULL, &ignore);
	json_object_put(prog);
	return NULL;
}

json_object *cmd_migrate(struct cmdp *c, const char *name, const char *target, int timeout_s,
                         struct api_err *e)
{
	struct cmd_part p = {0};
	char why[400], stream[UV_MIG_PATH_MAX], uri[UV_MIG_PATH_MAX + 8], status[24], tstate[24];
	json_object *def = NULL, *a, *ret = NULL, *prog = NULL, *tinfo = NULL, *o;
	struct api_err rel = {"internal", ""};
	long long t0 = now_ms();
	char token[UV_STREAM_TOKEN_LEN + 1];
	bool net = !strncmp(target, "tls://", 6);

	if (cmd_view_find(c, name, &p)) {
		api_fail(e, "no-such-partition", "no partition named %s", name);
		return NULL;
	}
	if (p.rec.state != UV_STATE_RUNNING) {
		api_fail(e, "busy", "partition %s is %s: only a running partition migrates", name,
		         uv_state_name(p.rec.state));
		return NULL;
	}
	if (uv_mig_refusal(&p.desc, why, sizeof(why))) {
		api_fail(e, "unsupported", "partition %s cannot migrate: %s", name, why);
		return NULL;
	}
	if (uv_desc_to_def(&p.desc, &def)) {
		api_fail(e, "internal", "out of memory");
		return NULL;
	}
	a = json_object_new_object();
	json_object_object_add(a, "definition", def);
	if (net)
		json_object_object_add(a, "stream_token", json_object_new_boolean(1));
	json_object_object_add(a, "timeout", json_object_new_int(timeout_s));
	if (cmd_peer_call(c, target, "migrate-in", a, &ret, PEER_MS, e)) {
		json_object_put(a);
		return NULL; /* the target undid whatever it had made */
	}
	json_object_put(a);
	if (uv_mig_in_reply_parse(ret, name, stream, sizeof(stream)) ||
	    (net && uv_stream_reply_token(ret, token))) {
		json_object_put(ret);
		api_fail(e, "migration", "the target's migrate-in answer names no usable stream");
		return fail_back(c, name, target, NULL, e);
	}
	json_object_put(ret);
	/* Over the network the stream goes through the gateway we reached, with the token. */
	if (net)
		a = cmd_mig_net_args(c, target, token);
	else {
		snprintf(uri, sizeof(uri), "unix:%s", stream);
		a = json_object_new_object();
		json_object_object_add(a, "uri", json_object_new_string(uri));
	}
	if (cmd_monitor_call(c, name, "migrate", a, NULL, e)) {
		json_object_put(a);
		return fail_back(c, name, target, NULL, e);
	}
	json_object_put(a);
	prog = follow(c, name, timeout_s, status, sizeof(status));
	if (strcmp(status, "completed")) {
		json_object *v = NULL;
		const char *err = prog && json_object_object_get_ex(prog, "error", &v)
		                      ? json_object_get_string(v)
		                      : "";
		api_fail(e, "migration", "partition %s stays on this host: the stream %s%s%s%s",
		         name, status[0] ? status : "could not be followed", err[0] ? ": " : "",
		         err, !strcmp(status, "cancelled") ? " (timeout)" : "");
		return fail_back(c, name, target, prog, e);
	}
	/* Sent: the target resumes the guest; until it says so, ours waits, stopped. */
	for (long long t = now_ms(); now_ms() - t < TARGET_RUN_MS; nap_ms(100)) {
		json_object_put(tinfo);
		tinfo = target_info(c, target, name, tstate, sizeof(tstate));
		if (!strcmp(tstate, "running") || !strcmp(tstate, "crashed") ||
		    !strcmp(tstate, "stopped"))
			break;
	}
	if (strcmp(tstate, "running")) {
		json_object_put(tinfo);
		tinfo = NULL;
		api_fail(e, "migration",
		         "partition %s stays on this host: the target's copy is %s "
		         "after the stream completed",
		         name, tstate[0] ? tstate : "unknown");
		if (target_abort(c, target, name, e) == 1)
			goto moved; /* it came up in the meantime */
		return fail_back(c, name, target, prog, e);
	}
moved:
	o = json_object_new_object();
	if (release_source(c, name, &rel))
		fprintf(stderr,
		        "ultra-command: partition %s: migrated, but not released here: %s\n", name,
		        rel.message);
	json_object_object_add(o, "partition", tinfo ? tinfo : json_object_new_object());
	json_object_object_add(o, "target", json_object_new_string(target));
	json_object_object_add(o, "migration", prog);
	json_object_object_add(o, "elapsed_ms", json_object_new_int64(now_ms() - t0));
	json_object_object_add(o, "source",
	                       json_object_new_string(rel.message[0] ? rel.message : "undefined"));
	return o;
}
