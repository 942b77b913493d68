/* SPDX-License-Identifier: MIT */
/* Request verbs and verb lists (reqverb.h). */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "reqverb.h"

bool uv_verbs_valid(const char *list)
{
	size_t run = 0;

	for (const char *p = list;; p++) {
		if (*p == ',' || !*p) {
			if (!run)
				return false; /* empty: "", ",x", "x,,y" or "x," */
			if (!*p)
				return true;
			run = 0;
		} else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-') ||
		           ++run >= UV_VERB_MAX) {
			return false;
		}
	}
}

bool uv_verbs_has(const char *list, const char *verb)
{
	size_t n = strlen(verb);
	const char *p = list;

	while (n) {
		if (!strncmp(p, verb, n) && (p[n] == ',' || !p[n]))
			return true;
		if (!(p = strchr(p, ',')))
			break;
		p++;
	}
	return false;
}

bool uv_req_verb(const char *line, size_t len, char *out, size_t cap)
{
	json_tokener *tok = len <= (size_t)__INT_MAX__ ? json_tokener_new() : NULL;
	json_object *req = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL, *ex;
	bool ok = false;

	/* One whole object and nothing after it: what the partition behind would read. */
	if (req && json_tokener_get_error(tok) == json_tokener_success &&
	    json_tokener_get_parse_end(tok) == len && json_object_is_type(req, json_type_object) &&
	    json_object_object_get_ex(req, "execute", &ex) &&
	    json_object_is_type(ex, json_type_string) &&
	    (size_t)json_object_get_string_len(ex) < cap &&
	    strlen(json_object_get_string(ex)) == (size_t)json_object_get_string_len(ex)) {
		snprintf(out, cap, "%s", json_object_get_string(ex));
		ok = true;
	}
	json_object_put(req);
	if (tok)
		json_tokener_free(tok);
	return ok;
}
