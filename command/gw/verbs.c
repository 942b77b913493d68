/* SPDX-License-Identifier: MIT */
/*
 * Certificates that may ask only some things (--allow-cn CN=VERB,...; claims 36, 43;
 * docs/cmdnet.md, "What a certificate may ask"). A monitoring system's certificate that may
 * only list, or a migration source's that may only migrate in, is worth less to whoever steals
 * it than one that may define and destroy. The gateway reads such a client's request far
 * enough to find its verb; a verb not listed, or a line it cannot read, is answered here in the
 * API's own words and never reaches the partition behind. Other clients' lines are relayed
 * unread, as before.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "jsonapi.h"
#include "reqverb.h"

int gw_verbs_check(struct gw_conn *c, size_t len, bool *moved)
{
	char verb[UV_VERB_MAX], msg[512];
	bool readable = uv_req_verb(c->up.buf, len - 1, verb, sizeof(verb));
	json_object *o;
	bool queued;

	if (readable && uv_verbs_has(c->verbs, verb))
		return 0;
	if (readable)
		snprintf(msg, sizeof(msg),
		         "the certificate of CN \"%s\" may not ask %s here (only %s)", c->cn, verb,
		         c->verbs);
	else
		snprintf(msg, sizeof(msg),
		         "the certificate of CN \"%s\" may ask only %s, in a request this gateway "
		         "can read (one JSON object with execute)",
		         c->cn, c->verbs);
	o = uv_api_reply(NULL, "not-permitted", msg);
	queued = !gw_conn_queue(c, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	if (!queued)
		return 1; /* the client reads its earlier answers first */
	gw_log("%s (CN \"%s\"): refused %s: not among its verbs", c->peer, c->cn,
	       readable ? verb : "a request it could not read");
	uv_linebuf_consume(&c->up, len);
	*moved = true;
	return 1;
}
