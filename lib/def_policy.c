/* SPDX-License-Identifier: MIT */
/* The operations partition's keys of a definition: domain, autostart and zone. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "def_policy.h"

static const char name_chars[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

int uv_def_policy_key(const char *key)
{
	return !strcmp(key, "domain") || !strcmp(key, "autostart") || !strcmp(key, "zone");
}

int uv_def_policy_check(const char *key, json_object *val, char *err, size_t errlen)
{
	const char *s;
	size_t n;

	if (!strcmp(key, "autostart")) {
		if (json_object_is_type(val, json_type_boolean))
			return 0;
		snprintf(err, errlen, "autostart: expected true or false");
		return -EINVAL;
	}
	if (!json_object_is_type(val, json_type_string)) {
		snprintf(err, errlen, "%s: expected a %s name (a string)", key, key);
		return -EINVAL;
	}
	s = json_object_get_string(val);
	n = (size_t)json_object_get_string_len(val);
	if (!n || n >= UV_NAME_MAX || strspn(s, name_chars) != n || s[0] == '.') {
		snprintf(err, errlen, "%s: \"%.40s\" is not a %s name (1..%d of [A-Za-z0-9._-])",
		         key, s, key, UV_NAME_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

int uv_def_policy_take(json_object *def, struct uv_def_policy *out, char *err, size_t errlen)
{
	struct uv_def_policy p = {0};
	json_object *v;
	int r;

	if (!json_object_is_type(def, json_type_object)) {
		snprintf(err, errlen, "definition: expected a JSON object");
		return -EINVAL;
	}
	if (json_object_object_get_ex(def, "domain", &v)) {
		if ((r = uv_def_policy_check("domain", v, err, errlen)))
			return r;
		snprintf(p.domain, sizeof(p.domain), "%s", json_object_get_string(v));
	}
	if (json_object_object_get_ex(def, "autostart", &v)) {
		if ((r = uv_def_policy_check("autostart", v, err, errlen)))
			return r;
		p.autostart = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(def, "zone", &v)) {
		if ((r = uv_def_policy_check("zone", v, err, errlen)))
			return r;
		snprintf(p.zone, sizeof(p.zone), "%s", json_object_get_string(v));
	}
	json_object_object_del(def, "domain");
	json_object_object_del(def, "autostart");
	json_object_object_del(def, "zone");
	*out = p;
	return 0;
}
