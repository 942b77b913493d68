/* SPDX-License-Identifier: MIT */
/* RUN/ops.sock, version 1 (docs/operations.md), in the envelope of lib/jsonapi.c. */
#include <string.h>

#include "jsonapi.h"
#include "ops.h"

const char *ops_arg_str(json_object *args, const char *key)
{
	json_object *v;

	if (!args || !json_object_object_get_ex(args, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

const char *ops_arg_name(json_object *args, struct api_err *e)
{
	const char *n = ops_arg_str(args, "name");

	if (!n || !n[0])
		api_fail(e, "bad-request", "arguments.name: expected a name");
	return n && n[0] ? n : NULL;
}

static const struct ops_verb *find_verb(const char *name)
{
	const struct ops_verb *tables[] = {ops_part_verbs, ops_domain_verbs, ops_host_verbs,
	                                   ops_move_verbs, ops_replica_verbs};

	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct ops_verb *v = tables[t]; v->name; v++)
			if (!strcmp(v->name, name))
				return v;
	return NULL;
}

static const struct ops_later_verb *find_later(const char *name)
{
	for (const struct ops_later_verb *v = ops_later_verbs; v->name; v++)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

json_object *ops_api_handle(struct ops *o, const char *line, unsigned *ticket)
{
	json_object *req = json_tokener_parse(line), *args = NULL, *ret = NULL, *reply;
	struct api_err e = {"internal", "no result"};
	const struct ops_verb *verb = NULL;
	const struct ops_later_verb *later = NULL;
	const char *name, *const *known = NULL;

	*ticket = 0;
	name = uv_api_envelope(req, OPS_API_VERSION, "the operations partition", &args, &e.code,
	                       e.message, sizeof(e.message));
	if (name && (verb = find_verb(name)))
		known = verb->args;
	else if (name && (later = find_later(name)))
		known = later->args;
	else if (name)
		api_fail(&e, "unknown-command", "execute: unknown command \"%s\"", name);
	if (known && !ops_replica_refuses(o, name, &e) &&
	    !uv_api_args_known(args, known, name, &e.code, e.message, sizeof(e.message))) {
		if (verb)
			ret = verb->fn(o, args, &e);
		else if (!later->start(o, args, ticket, &e)) {
			json_object_put(req);
			return NULL; /* moves.c answers once it has ended, and pushes its write */
		}
	}
	if (ret)
		ops_replica_after_write(o, name);
	reply = uv_api_reply(ret, e.code, e.message);
	json_object_put(req);
	return reply;
}
