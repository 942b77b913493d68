/* SPDX-License-Identifier: MIT */
/* The JSON control APIs' envelope (docs/command.md, docs/operations.md). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jsonapi.h"

int api_fail(struct api_err *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

static const char *refuse(const char **code, const char *c, char *msg, size_t cap, const char *what,
                          const char *detail)
{
	*code = c;
	snprintf(msg, cap, "%s%s", what, detail);
	return NULL;
}

const char *uv_api_envelope(json_object *req, int version, const char *who, json_object **args,
                            const char **code, char *msg, size_t cap)
{
	json_object *v;

	if (!req || !json_object_is_type(req, json_type_object))
		return refuse(code, "bad-request", msg, cap,
		              "a request is one JSON object per line", "");
	json_object_object_foreach(req, key, val)
	{
		(void)val;
		if (strcmp(key, "version") && strcmp(key, "execute") && strcmp(key, "arguments"))
			return refuse(code, "bad-request", msg, cap, key, ": unknown member");
	}
	if (!json_object_object_get_ex(req, "version", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) != version) {
		*code = "bad-version";
		snprintf(msg, cap, "version: %s speaks version %d", who, version);
		return NULL;
	}
	if (!json_object_object_get_ex(req, "execute", &v) ||
	    !json_object_is_type(v, json_type_string))
		return refuse(code, "bad-request", msg, cap, "execute: expected a command name",
		              "");
	*args = NULL;
	if (json_object_object_get_ex(req, "arguments", args) &&
	    !json_object_is_type(*args, json_type_object))
		return refuse(code, "bad-request", msg, cap, "arguments: expected an object", "");
	return json_object_get_string(v);
}

int uv_api_args_known(json_object *args, const char *const *allowed, const char *verb,
                      const char **code, char *msg, size_t cap)
{
	const char *const *a;

	if (!args)
		return 0;
	json_object_object_foreach(args, key, val)
	{
		(void)val;
		for (a = allowed; *a && strcmp(*a, key); a++)
			;
		if (!*a) {
			*code = "bad-request";
			snprintf(msg, cap, "arguments.%s: unknown argument of %s", key, verb);
			return -1;
		}
	}
	return 0;
}

json_object *uv_api_reply(json_object *ret, const char *code, const char *message)
{
	json_object *reply = json_object_new_object(), *err;

	if (ret) {
		json_object_object_add(reply, "return", ret);
		return reply;
	}
	err = json_object_new_object();
	json_object_object_add(err, "code", json_object_new_string(code));
	json_object_object_add(err, "message", json_object_new_string(message));
	json_object_object_add(reply, "error", err);
	return reply;
}

const char *uv_api_command_code(const char *code, const char *fallback)
{
	static const char *const codes[] = {"bad-request",
	                                    "bad-version",
	                                    "unknown-command",
	                                    "invalid-definition",
	                                    "no-such-partition",
	                                    "exists",
	                                    "busy",
	                                    "not-running",
	                                    "no-space",
	                                    "not-permitted",
	                                    "refused",
	                                    "monitor",
	                                    "io",
	                                    "ultravisor",
	                                    "internal",
	                                    "no-such-disk",
	                                    "cannot-enforce",
	                                    "unsupported",
	                                    "migration"};

	for (size_t i = 0; code && i < sizeof(codes) / sizeof(codes[0]); i++)
		if (!strcmp(code, codes[i]))
			return codes[i];
	return fallback;
}
