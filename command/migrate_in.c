/* SPDX-License-Identifier: MIT */
/*
 * The target side of a live migration (claim 44, docs/migration.md): the partition is defined
 * here from the definition the source sent, granted its memory by transactions as any start is,
 * and its monitor starts an engine that waits for the memory stream (state incoming) instead of
 * booting. If the migration fails, the source has it destroyed and undefined here again, so the
 * memory returns to this host's pool.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "desc.h"
#include "migrate.h"

#define INCOMING_WAIT_MS 30000 /* QEMU's start under TCG on a busy host, and its QMP */
#define ABORT_WAIT_MS 15000

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static const char *monitor_state(struct cmdp *c, const char *name, char *reason, size_t cap,
                                 pid_t *monitor)
{
	json_object *st = cmd_monitor_status(c, name), *v;
	static const char *const known[] = {"starting", "incoming", "running",
	                                    "crashed",  "stopped",  "stopping"};
	const char *s = NULL;

	reason[0] = 0;
	*monitor = 0;
	if (st && json_object_object_get_ex(st, "reason", &v))
		snprintf(reason, cap, "%s", json_object_get_string(v));
	if (st && json_object_object_get_ex(st, "monitor_pid", &v))
		*monitor = (pid_t)json_object_get_int(v);
	if (st && json_object_object_get_ex(st, "state", &v))
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcmp(json_object_get_string(v), known[i]))
				s = known[i];
	json_object_put(st);
	return s;
}

/* The monitor reports starting first, incoming once its engine listens for the stream. */
static int wait_incoming(struct cmdp *c, const char *name, struct api_err *e)
{
	char reason[256];
	const char *s = NULL;
	pid_t mon;

	for (int ms = 0; ms < INCOMING_WAIT_MS; ms += 20) {
		s = monitor_state(c, name, reason, sizeof(reason), &mon);
		if (s && !strcmp(s, "incoming"))
			return 0;
		if (s && (!strcmp(s, "crashed") || !strcmp(s, "stopped")))
			return api_fail(e, "monitor", "partition %s did not start: %s", name,
			                reason);
		nap_ms(20);
	}
	return api_fail(e, "monitor",
	                "partition %s: its engine did not wait for the stream within "
	                "%d s (%s)",
	                name, INCOMING_WAIT_MS / 1000, s ? s : "no state");
}

json_object *cmd_migrate_in(struct cmdp *c, json_object *def, const char *base_dir, bool want_token,
                            int timeout_s, struct api_err *e)
{
	struct cmd_part p = {0};
	struct api_err ignore;
	char why[400], stream[512], token[UV_STREAM_TOKEN_LEN + 1] = "";
	json_object *o;
	int r;

	if (cmd_define(c, def, base_dir, &p, e))
		return NULL; /* exists, invalid-definition: nothing was made */
	if (uv_mig_refusal(&p.desc, why, sizeof(why))) {
		api_fail(e, "unsupported", "partition %s cannot migrate: %s", p.desc.name, why);
		goto undo;
	}
	if (cmd_monitor_dir(c, p.desc.name, "migrate.sock", stream, sizeof(stream)) ||
	    strlen(stream) >= UV_MIG_PATH_MAX) {
		api_fail(e, "internal", "the run directory is too long for %s's stream socket",
		         p.desc.name);
		goto undo;
	}
	/* no-space here is the usual refusal: this host cannot hold the guest's memory. */
	if (cmd_start_incoming(c, p.desc.name, &p, e) || wait_incoming(c, p.desc.name, e))
		goto undo;
	if (cmd_view_find(c, p.desc.name, &p)) {
		api_fail(e, "internal", "partition %s vanished while starting", p.desc.name);
		goto undo;
	}
	/* A source on another host reaches the stream through our gateway, which splices it to
	 * the socket this token names, once (docs/migration.md, "Over the network"). */
	if (want_token &&
	    (r = uv_stream_tokens_issue(&c->tokens, p.desc.name, stream, cmd_mono_ms(),
	                                UV_STREAM_TOKEN_TTL_MS, token))) {
		api_fail(e, r == -ENOSPC ? "busy" : "internal", "partition %s: no stream token: %s",
		         p.desc.name, strerror(-r));
		goto undo;
	}
	cmd_incoming_arm(c, p.desc.name, timeout_s);
	o = cmd_part_json(c, &p);
	json_object_object_add(o, "stream", json_object_new_string(stream));
	if (token[0])
		json_object_object_add(o, "stream_token", json_object_new_string(token));
	return o;
undo:
	if (cmd_migrate_abort(c, p.desc.name, &ignore))
		fprintf(stderr, "ultra-command: partition %s: undoing the incoming start: %s\n",
		        p.desc.name, ignore.message);
	return NULL;
}

int cmd_migrate_abort(struct cmdp *c, const char *name, struct api_err *e)
{
	struct cmd_part p = {0};
	char reason[256];
	struct api_err ignore;
	pid_t mon = 0;
	int ms;

	if (cmd_view_find(c, name, &p))
		return api_fail(e, "no-such-partition", "no partition named %s", name);
	uv_stream_tokens_drop(&c->tokens, name);
	cmd_incoming_forget(c, name);
	/* A guest that runs here is the migrated one: the source stopped its own copy. */
	if (p.rec.state == UV_STATE_RUNNING || p.rec.state == UV_STATE_PAUSED ||
	    p.rec.state == UV_STATE_MIGRATING)
		return api_fail(e, "busy", "partition %s is %s here: it is no longer incoming",
		                name, uv_state_name(p.rec.state));
	monitor_state(c, name, reason, sizeof(reason), &mon);
	if (cmd_pid_alive(mon))
		cmd_monitor_call(c, name, "destroy", NULL, NULL, &ignore);
	/* The engine goes, its monitor reports it and exits; then nothing holds the memory. */
	for (ms = 0; ms < ABORT_WAIT_MS; ms += 50) {
		if (cmd_view_find(c, name, &p))
			return 0;
		if (!cmd_state_active(p.rec.state) && !cmd_pid_alive(mon))
			break;
		nap_ms(50);
	}
	if (ms >= ABORT_WAIT_MS)
		return api_fail(e, "monitor", "partition %s: its monitor did not end within %d s",
		                name, ABORT_WAIT_MS / 1000);
	return cmd_undefine(c, name, e);
}
