/* SPDX-License-Identifier: MIT */
/*
 * RUN/ops.sock, version 1 (docs/operations.md): the command partition's envelope,
 *   {"version":1,"execute":VERB,"arguments":{...}} -> {"return":...} | {"error":{code,message}}
 * with unknown members and arguments refused by name.
 */
#include <string.h>

#include "ops.h"

const char *ops_arg_str(json_object *args, const char *key)
{
	json_object *v;

	if (!args || !json_object_object_get_ex(args, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static const struct ops_verb *find_verb(const char *name)
{
	const struct ops_verb *tables[] = {ops_part_verbs, ops_domain_verbs};

	for (size_t t = 0; t < 2; t++)
		for (const struct ops_verb *v = tables[t]; v->name; v++)
			if (!strcmp(v->name, name))
				return v;
	return NULL;
}

static int arg_known(const struct ops_verb *v, const char *key)
{
	for (const char *const *a = v->args; *a; a++)
		if (!strcmp(*a, key))
			return 1;
	return 0;
}

static const struct ops_verb *envelope(json_object *req, json_object **args, struct ops_err *e)
{
	const struct ops_verb *verb;
	json_object *v;

	if (!json_object_is_type(req, json_type_object)) {
		ops_fail(e, "bad-request", "a request is one JSON object per line");
		return NULL;
	}
	json_object_object_foreach(req, key, val)
	{
		(void)val;
		if (strcmp(key, "version") && strcmp(key, "execute") && strcmp(key, "arguments")) {
			ops_fail(e, "bad-request", "%s: unknown member", key);
			return NULL;
		}
	}
	if (!json_object_object_get_ex(req, "version", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != OPS_API_VERSION) {
		ops_fail(e, "bad-version", "version: the operations partition speaks version %d",
			 OPS_API_VERSION);
		return NULL;
	}
	if (!json_object_object_get_ex(req, "execute", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		ops_fail(e, "bad-request", "execute: expected a command name");
		return NULL;
	}
	if (!(verb = find_verb(json_object_get_string(v)))) {
		ops_fail(e, "unknown-command", "execute: unknown command \"%s\"",
			 json_object_get_string(v));
		return NULL;
	}
	*args = NULL;
	if (json_object_object_get_ex(req, "arguments", args) &&
	    !json_object_is_type(*args, json_type_object)) {
		ops_fail(e, "bad-request", "arguments: expected an object");
		return NULL;
	}
	if (*args) {
		json_object_object_foreach(*args, akey, aval)
		{
			(void)aval;
			if (!arg_known(verb, akey)) {
				ops_fail(e, "bad-request", "arguments.%s: unknown argument of %s", akey,
					 verb->name);
				return NULL;
			}
		}
	}
	return verb;
}

json_object *ops_api_handle(struct ops *o, const char *line)
{
	json_object *req = json_tokener_parse(line), *args = NULL, *ret = NULL, *reply, *err;
	struct ops_err e = {"internal", "no result"};
	const struct ops_verb *verb = req ? envelope(req, &args, &e) : NULL;

	if (!req)
		ops_fail(&e, "bad-request", "a request is one JSON object per line");
	if (verb)
		ret = verb->fn(o, args, &e);
	reply = json_object_new_object();
	if (ret) {
		json_object_object_add(reply, "return", ret);
	} else {
		err = json_object_new_object();
		json_object_object_add(err, "code", json_object_new_string(e.code));
		json_object_object_add(err, "message", json_object_new_string(e.message));
		json_object_object_add(reply, "error", err);
	}
	json_object_put(req);
	return reply;
}
