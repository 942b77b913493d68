/* SPDX-License-Identifier: MIT */
/* Another host's command partition, reached through its control API (docs/command.md) as any
 * client reaches it: the source of a live migration talks to the target's this way (claim 44),
 * over its socket or, on another machine, through its gateway over TLS (lib/cmdconn.h, claim 43).
 * Its answers are a peer's bytes: read with a bound on length and time, checked before use. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"

#define PEER_CONNECT_MS 5000

int cmd_peer_call(struct cmdp *c, const char *addr, const char *execute, json_object *args,
                  json_object **ret, int timeout_ms, struct api_err *e)
{
	json_object *req = json_object_new_object(), *reply = NULL, *v, *err;
	struct uv_cmdconn *conn = NULL;
	char *line = NULL, why[300] = "";
	int r;

	json_object_object_add(req, "version", json_object_new_int(CMD_API_VERSION));
	json_object_object_add(req, "execute", json_object_new_string(execute));
	if (args)
		json_object_object_add(req, "arguments", json_object_get(args));
	/* Connecting (TCP and TLS handshake) is quick on any working link: a peer that does not
	 * get that far in PEER_CONNECT_MS is not there, whatever the request may take after. */
	if ((r = uv_cmdconn_open(addr, &c->tls,
	                         timeout_ms < PEER_CONNECT_MS ? timeout_ms : PEER_CONNECT_MS, &conn,
	                         why, sizeof(why)))) {
		api_fail(e, "migration", "the target's command partition at %s: %s", addr, why);
		r = -1;
		goto out;
	}
	if (uv_cmdconn_write_line(conn, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN),
	                          timeout_ms, why, sizeof(why)) ||
	    uv_cmdconn_read_line(conn, &line, timeout_ms, why, sizeof(why)) ||
	    !(reply = json_tokener_parse(line)) || !json_object_is_type(reply, json_type_object)) {
		api_fail(e, "migration",
		         "the target's command partition at %s did not answer %s%s%s", addr,
		         execute, why[0] ? ": " : "", why);
		r = -1;
		goto out;
	}
	r = -1;
	if (json_object_object_get_ex(reply, "return", &v)) {
		*ret = json_object_get(v);
		r = 0;
	} else if (json_object_object_get_ex(reply, "error", &err) &&
	           json_object_is_type(err, json_type_object)) {
		json_object *code = NULL, *msg = NULL;

		json_object_object_get_ex(err, "code", &code);
		json_object_object_get_ex(err, "message", &msg);
		api_fail(e,
		         uv_api_command_code(json_object_is_type(code, json_type_string)
		                                 ? json_object_get_string(code)
		                                 : NULL,
		                             "refused"),
		         "the target refused %s: %.400s", execute,
		         json_object_is_type(msg, json_type_string) ? json_object_get_string(msg)
		                                                    : "no reason given");
	} else {
		api_fail(e, "migration",
		         "the target's command partition answered %s with neither "
		         "return nor error",
		         execute);
	}
out:
	uv_cmdconn_close(conn);
	free(line);
	json_object_put(reply);
	json_object_put(req);
	return r;
}
