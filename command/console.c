/* SPDX-License-Identifier: MIT */
/*
 * The partition's serial console for an operator on another host (claims 9-12, 36, 43;
 * docs/cmdnet.md, "The console"). The console is the monitor's console.sock on this host; a
 * client of the gateway asks here (console-token) for a one-time token bound to that socket,
 * opens a second TLS connection to the gateway whose first line names it, and the gateway,
 * once we answered its stream-claim with the path (migrate_net.c, which checks that the
 * partition still has an engine), splices the connection to the socket. The
 * tokens are the migration stream's (lib/migstream.c): single use, short-lived, constant-time.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "desc.h"

bool cmd_console_live(enum uv_part_state s)
{
	return s == UV_STATE_RUNNING || s == UV_STATE_PAUSED || s == UV_STATE_MIGRATING;
}

json_object *cmd_console_token(struct cmdp *c, const char *name, struct api_err *e)
{
	char path[UV_STREAM_PATH_MAX], token[UV_STREAM_TOKEN_LEN + 1];
	struct cmd_part p = {0};
	json_object *o;
	int r;

	if (cmd_view_find(c, name, &p)) {
		api_fail(e, "no-such-partition", "no partition named %s", name);
		return NULL;
	}
	if (!cmd_console_live(p.rec.state)) {
		api_fail(e, "not-running", "partition %s is %s: it has no console now", name,
		         uv_state_name(p.rec.state));
		return NULL;
	}
	if (cmd_monitor_dir(c, name, "console.sock", path, sizeof(path))) {
		api_fail(e, "internal", "the run directory is too long for %s's console", name);
		return NULL;
	}
	r = uv_stream_tokens_issue_kind(&c->tokens, UV_STREAM_CONSOLE, name, path, cmd_mono_ms(),
	                                UV_STREAM_CONSOLE_TTL_MS, token);
	if (r) {
		api_fail(e, r == -ENOSPC ? "busy" : "internal",
		         "partition %s: no console token: %s", name,
		         r == -ENOSPC ? "too many console connections being opened" : strerror(-r));
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "stream_token", json_object_new_string(token));
	json_object_object_add(o, "expires_ms", json_object_new_int(UV_STREAM_CONSOLE_TTL_MS));
	return o;
}
