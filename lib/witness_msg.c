/* SPDX-License-Identifier: MIT */
/* The witness's JSON lines (docs/ops-ha.md "The witness"), in the envelope of lib/jsonapi.c:
 *
 *   {"version":1,"execute":"lease","arguments":{"name":N,"epoch":E,"lease_ms":L}}
 *   {"version":1,"execute":"witness-status"}
 *   -> {"return":{"granted":B,"holder":N,"epoch":E,"lease_ms":L,"left_ms":T}} | {"error":...}
 *
 * Both ends read bytes from the network: every member is checked for type and bounds, and no
 * member outside these is accepted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonapi.h"
#include "witness.h"

static const char *const lease_args[] = {"name", "epoch", "lease_ms", NULL};
static const char *const no_args[] = {NULL};
static const char *const answer_keys[] = {"granted",  "holder",  "epoch",
                                          "lease_ms", "left_ms", NULL};

/* o's member key as an integer in min..max. */
static bool get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	errno = 0;
	n = json_object_get_int64(v);
	if (errno || n < min || n > max)
		return false;
	*out = n;
	return true;
}

/* o's member key as a name (or, with empty_ok, ""), copied into out. */
static bool get_name(json_object *o, const char *key, bool empty_ok, char *out)
{
	json_object *v;
	const char *s;
	size_t n;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (strlen(s) != n || !(uv_wit_name_ok(s, n) || (empty_ok && n == 0)))
		return false;
	memcpy(out, s, n + 1);
	return true;
}

/* Parses exactly len bytes as one JSON value, and nothing after it. */
static json_object *parse(const char *line, size_t len)
{
	struct json_tokener *t;
	json_object *o;

	if (len >= UV_WIT_LINE_MAX || memchr(line, 0, len) || !(t = json_tokener_new()))
		return NULL;
	o = json_tokener_parse_ex(t, line, (int)len);
	if (o && (json_tokener_get_error(t) != json_tokener_success ||
	          json_tokener_get_parse_end(t) != len)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(t);
	return o;
}

static int lease_args_decode(json_object *args, struct uv_wit_ask *ask, const char **code,
                             char *err, size_t errlen)
{
	struct uv_wit_ask a = {0};
	int64_t epoch, ms;

	if (uv_api_args_known(args, lease_args, "lease", code, err, errlen))
		return -EINVAL;
	if (!args || !get_name(args, "name", false, a.name) ||
	    !get_int(args, "epoch", 1, INT64_MAX, &epoch) ||
	    !get_int(args, "lease_ms", UV_WIT_LEASE_MIN_MS, UV_WIT_LEASE_MAX_MS, &ms)) {
		*code = "bad-request";
		snprintf(err, errlen,
		         "lease: name (1..%d printable characters), epoch (1 or more) and lease_ms "
		         "(%d..%d) required",
		         UV_WIT_HOLDER_MAX - 1, UV_WIT_LEASE_MIN_MS, UV_WIT_LEASE_MAX_MS);
		return -EINVAL;
	}
	a.epoch = (uint64_t)epoch;
	a.lease_ms = (uint32_t)ms;
	*ask = a;
	return 0;
}

int uv_wit_request_decode(const char *line, size_t len, enum uv_wit_verb *verb,
                          struct uv_wit_ask *ask, const char **code, char *err, size_t errlen)
{
	json_object *req = parse(line, len), *args = NULL;
	const char *name;
	int rc = -EINVAL;

	if (!req) {
		*code = "bad-request";
		snprintf(err, errlen, "not one JSON object of at most %d bytes",
		         UV_WIT_LINE_MAX - 1);
		return -EINVAL;
	}
	if (!(name = uv_api_envelope(req, UV_WIT_API_VERSION, "the witness", &args, code, err,
	                             errlen)))
		goto out;
	if (!strcmp(name, "lease")) {
		if (!(rc = lease_args_decode(args, ask, code, err, errlen)))
			*verb = UV_WIT_VERB_LEASE;
	} else if (!strcmp(name, "witness-status")) {
		if (!(rc = uv_api_args_known(args, no_args, name, code, err, errlen) ? -EINVAL : 0))
			*verb = UV_WIT_VERB_STATUS;
	} else {
		*code = "unknown-command";
		snprintf(err, errlen, "execute: unknown command \"%.64s\"", name);
	}
out:
	json_object_put(req);
	return rc;
}

char *uv_wit_request_encode(const struct uv_wit_ask *a)
{
	json_object *req = json_object_new_object(), *args = json_object_new_object();
	char *line;

	json_object_object_add(args, "name", json_object_new_string(a->name));
	json_object_object_add(args, "epoch", json_object_new_int64((int64_t)a->epoch));
	json_object_object_add(args, "lease_ms", json_object_new_int64(a->lease_ms));
	json_object_object_add(req, "version", json_object_new_int(UV_WIT_API_VERSION));
	json_object_object_add(req, "execute", json_object_new_string("lease"));
	json_object_object_add(req, "arguments", args);
	line = strdup(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	return line;
}

char *uv_wit_answer_encode(const struct uv_wit_answer *a)
{
	json_object *ret = json_object_new_object(), *rep;
	char *line;

	json_object_object_add(ret, "granted", json_object_new_boolean(a->granted));
	json_object_object_add(ret, "holder", json_object_new_string(a->holder));
	json_object_object_add(ret, "epoch", json_object_new_int64((int64_t)a->epoch));
	json_object_object_add(ret, "lease_ms", json_object_new_int64(a->lease_ms));
	json_object_object_add(ret, "left_ms", json_object_new_int64(a->left_ms));
	rep = uv_api_reply(ret, NULL, NULL);
	line = strdup(json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN));
	json_object_put(rep);
	return line;
}

/* {"error":{"code":C,"message":M}} into err; false when it is not that. */
static bool error_answer(json_object *rep, char *err, size_t errlen)
{
	json_object *e, *c, *m;

	if (json_object_object_length(rep) != 1 || !json_object_object_get_ex(rep, "error", &e) ||
	    !json_object_is_type(e, json_type_object) ||
	    !json_object_object_get_ex(e, "code", &c) ||
	    !json_object_is_type(c, json_type_string) ||
	    !json_object_object_get_ex(e, "message", &m) ||
	    !json_object_is_type(m, json_type_string))
		return false;
	snprintf(err, errlen, "%.160s (%.40s)", json_object_get_string(m),
	         json_object_get_string(c));
	return true;
}

static bool only_keys(json_object *o, const char *const *keys)
{
	json_object_object_foreach(o, k, v)
	{
		size_t i = 0;

		(void)v;
		while (keys[i] && strcmp(keys[i], k))
			i++;
		if (!keys[i])
			return false;
	}
	return true;
}

int uv_wit_answer_decode(const char *line, size_t len, struct uv_wit_answer *out, char *err,
                         size_t errlen)
{
	json_object *rep = parse(line, len), *ret, *g;
	struct uv_wit_answer a = {0};
	int64_t epoch, ms, left;
	int rc = -EINVAL;

	if (!rep || !json_object_is_type(rep, json_type_object)) {
		snprintf(err, errlen, "the witness's answer is not a JSON object");
		goto out;
	}
	if (error_answer(rep, err, errlen)) {
		rc = -EPROTO;
		goto out;
	}
	if (json_object_object_length(rep) != 1 ||
	    !json_object_object_get_ex(rep, "return", &ret) ||
	    !json_object_is_type(ret, json_type_object) || !only_keys(ret, answer_keys) ||
	    !json_object_object_get_ex(ret, "granted", &g) ||
	    !json_object_is_type(g, json_type_boolean) ||
	    !get_name(ret, "holder", true, a.holder) ||
	    !get_int(ret, "epoch", 0, INT64_MAX, &epoch) ||
	    !get_int(ret, "lease_ms", 0, UV_WIT_LEASE_MAX_MS, &ms) ||
	    !get_int(ret, "left_ms", 0, UV_WIT_LEASE_MAX_MS, &left)) {
		snprintf(err, errlen, "the witness's answer lacks a member or has a bad one");
		goto out;
	}
	a.granted = json_object_get_boolean(g);
	a.epoch = (uint64_t)epoch;
	a.lease_ms = (uint32_t)ms;
	a.left_ms = (uint32_t)left;
	if (a.granted && (!a.holder[0] || !a.epoch || a.lease_ms < UV_WIT_LEASE_MIN_MS)) {
		snprintf(err, errlen, "the witness granted a lease to no one");
		goto out;
	}
	*out = a;
	rc = 0;
out:
	json_object_put(rep);
	return rc;
}
