/* SPDX-License-Identifier: MIT */
/* What the gateway reads of a restricted client's request line (lib/reqverb.c), on arbitrary
 * bytes: a verb is found only in one whole JSON object and is what json-c reads there, a C
 * string that fits; a verb list is valid only if every name in it is found by uv_verbs_has
 * and a name it lacks is not. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reqverb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const uint8_t *data, size_t size)
{
	char verb[UV_VERB_MAX], *copy = malloc(size + 1);
	json_object *o, *ex;

	if (!copy)
		return;
	memcpy(copy, data, size);
	copy[size] = 0;
	if (uv_req_verb(copy, size, verb, sizeof(verb))) {
		/* A NUL-free line that json-c reads whole gives the same verb. */
		if (strlen(verb) >= sizeof(verb) || memchr(copy, 0, size))
			abort();
		o = json_tokener_parse(copy);
		if (!o || !json_object_object_get_ex(o, "execute", &ex) ||
		    strcmp(json_object_get_string(ex), verb))
			abort();
		json_object_put(o);
	}
	free(copy);
}

static void check_list(const uint8_t *data, size_t size)
{
	char list[256], name[UV_VERB_MAX + 2];
	size_t n = size < sizeof(list) - 1 ? size : sizeof(list) - 1;

	memcpy(list, data, n);
	list[n] = 0;
	if (strlen(list) != n || !uv_verbs_valid(list))
		return;
	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		size_t k = strcspn(p, ",");

		if (k >= UV_VERB_MAX)
			abort();
		memcpy(name, p, k);
		name[k] = 0;
		if (!uv_verbs_has(list, name))
			abort();
		/* One more letter is another verb: found only if the list names it too. */
		name[k] = 'z';
		name[k + 1] = 0;
		if (uv_verbs_has(list, name) && !strstr(list, name))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_line(data, size);
	check_list(data, size);
	return 0;
}
