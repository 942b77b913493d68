/* SPDX-License-Identifier: MIT */
/* ultra schedule add [--domain] TARGET FROM-TO SETTING=VALUE | remove ID | list: settings the
 * operations partition changes by time of day (claims 46, 86; docs/operations.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ultra.h"

static int add(struct ultra *u, int argc, char **argv)
{
	json_object *a, *ret = NULL;
	int domain = argc == 4 && !strcmp(argv[0], "--domain");
	char *eq, *end, *setting;
	double x;
	int rc;

	if (domain) {
		argc--;
		argv++;
	}
	if (argc != 3 || !(eq = strchr(argv[2], '=')) || eq == argv[2])
		return ULTRA_USAGE;
	x = strtod(eq + 1, &end);
	if (*end || end == eq + 1)
		return ULTRA_USAGE;
	setting = strndup(argv[2], (size_t)(eq - argv[2]));
	a = json_object_new_object();
	json_object_object_add(a, domain ? "domain" : "partition", json_object_new_string(argv[0]));
	json_object_object_add(a, "window", json_object_new_string(argv[1]));
	json_object_object_add(a, "setting", json_object_new_string(setting ? setting : ""));
	json_object_object_add(a, "value",
	                       strcmp(setting ? setting : "", "cpu_share")
	                           ? json_object_new_int64((long long)x)
	                           : json_object_new_double(x));
	free(setting);
	if ((rc = ultra_call_ops(u, "schedule-add", a, &ret)))
		return rc;
	if (u->json)
		ultra_print_json(ret);
	else
		printf("schedule %lld: %s %s %s\n", ultra_int(ret, "id"), argv[0], argv[1],
		       argv[2]);
	json_object_put(ret);
	return ULTRA_OK;
}

static int list(struct ultra *u)
{
	json_object *ret = NULL, *s, *v;
	size_t i, n;
	int rc;

	if ((rc = ultra_call_ops(u, "schedule-list", NULL, &ret)))
		return rc;
	if (u->json) {
		ultra_print_json(ret);
		json_object_put(ret);
		return ULTRA_OK;
	}
	printf("%-4s %-24s %-12s %-18s %s\n", "ID", "TARGET", "WINDOW", "SETTING", "ACTIVE");
	n = json_object_array_length(ret);
	for (i = 0; i < n; i++) {
		char target[48], set[40];
		int dom;

		s = json_object_array_get_idx(ret, i);
		dom = json_object_object_get_ex(s, "domain", &v);
		snprintf(target, sizeof(target), "%s%s", dom ? "domain " : "",
		         dom ? json_object_get_string(v) : ultra_str(s, "partition"));
		snprintf(set, sizeof(set), "%s=%s", ultra_str(s, "setting"), ultra_str(s, "value"));
		printf("%-4lld %-24s %-12s %-18s %s\n", ultra_int(s, "id"), target,
		       ultra_str(s, "window"), set,
		       json_object_object_get_ex(s, "active", &v) && json_object_get_boolean(v)
		           ? "yes"
		           : "no");
	}
	json_object_put(ret);
	return ULTRA_OK;
}

int ultra_cmd_schedule(struct ultra *u, int argc, char **argv)
{
	json_object *a, *ret = NULL;
	char *end;
	long long id;
	int rc;

	if (argc >= 1 && !strcmp(argv[0], "add"))
		return add(u, argc - 1, argv + 1);
	if (argc == 1 && !strcmp(argv[0], "list"))
		return list(u);
	if (argc != 2 || strcmp(argv[0], "remove"))
		return ULTRA_USAGE;
	id = strtoll(argv[1], &end, 10);
	if (*end || id <= 0)
		return ULTRA_USAGE;
	a = json_object_new_object();
	json_object_object_add(a, "id", json_object_new_int64(id));
	if ((rc = ultra_call_ops(u, "schedule-remove", a, &ret)))
		return rc;
	json_object_put(ret);
	printf(u->json ? "{}\n" : "schedule %lld removed\n", id);
	return ULTRA_OK;
}
