/* SPDX-License-Identifier: MIT */
/*
 * Live migration over the network, the command partition's part (claims 43, 44;
 * docs/migration.md, "Over the network"). On the target, a stream token names an incoming
 * partition's stream socket; the gateway, after a source's TLS handshake and its first line,
 * asks here (stream-claim) where the token leads, and splices the connection there. A token is
 * good once, for UV_STREAM_TOKEN_TTL_MS, and only while its partition still waits for the
 * stream.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "command.h"

uint64_t cmd_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The token's partition must still be what the stream needs: incoming for a migration, with an
 * engine for a console. 0, or -1 with e set and the refusal logged. */
static int still_there(struct cmdp *c, enum uv_stream_kind kind, const char *name, const char *peer,
                       struct api_err *e)
{
	const bool console = kind == UV_STREAM_CONSOLE;
	const char *what = console ? "console stream" : "stream";
	const char *why = console ? "no longer runs" : "no longer waits for a stream";
	struct cmd_part p = {0};

	peer = peer ? peer : "a local client";
	if (cmd_view_find(c, name, &p) ||
	    (console ? !cmd_console_live(p.rec.state) : p.rec.state != UV_STATE_INCOMING)) {
		fprintf(stderr, "ultra-command: a %s from %s refused: partition %s %s\n", what,
		        peer, name, why);
		api_fail(e, "refused", "partition %s %s", name, why);
		return -1;
	}
	fprintf(stderr, "ultra-command: partition %s: the %s from %s goes to its engine\n", name,
	        what, peer);
	return 0;
}

json_object *cmd_stream_claim(struct cmdp *c, const char *token, const char *peer,
                              struct api_err *e)
{
	char name[UV_STREAM_NAME_MAX], path[UV_STREAM_PATH_MAX];
	enum uv_stream_kind kind;
	json_object *o;
	int r;

	if (!token) {
		api_fail(e, "bad-request", "arguments.token: expected a stream token");
		return NULL;
	}
	r = uv_stream_tokens_claim_kind(&c->tokens, token, cmd_mono_ms(), name, sizeof(name), path,
	                                sizeof(path), &kind);
	if (r) {
		fprintf(stderr, "ultra-command: a stream from %s refused: %s\n",
		        peer ? peer : "a local client", uv_stream_claim_error(r));
		api_fail(e, "refused", "%s", uv_stream_claim_error(r));
		return NULL;
	}
	if (still_there(c, kind, name, peer, e))
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "path", json_object_new_string(path));
	return o;
}

json_object *cmd_mig_net_args(struct cmdp *c, const char *target, const char *token)
{
	json_object *a = json_object_new_object(), *tls = json_object_new_object();

	/* The monitor opens the connection itself (it owns the relay), with our certificate. */
	json_object_object_add(tls, "ca", json_object_new_string(c->tls.ca));
	json_object_object_add(tls, "cert", json_object_new_string(c->tls.cert));
	json_object_object_add(tls, "key", json_object_new_string(c->tls.key));
	if (c->tls.crl)
		json_object_object_add(tls, "crl", json_object_new_string(c->tls.crl));
	json_object_object_add(a, "uri", json_object_new_string(target));
	json_object_object_add(a, "token", json_object_new_string(token));
	json_object_object_add(a, "tls", tls);
	return a;
}
