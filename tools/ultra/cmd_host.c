/* SPDX-License-Identifier: MIT */
/* ultra host add NAME ADDRESS [--zone Z] [--location L] | remove NAME | list: the hosts the
 * operations partition places partitions on (docs/operations.md, claims 39, 41-43, 45). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ultra.h"

static int add(struct ultra *u, int argc, char **argv)
{
	json_object *a = json_object_new_object(), *ret = NULL;
	int i, rc;

	json_object_object_add(a, "name", json_object_new_string(argv[0]));
	json_object_object_add(a, "address", json_object_new_string(argv[1]));
	for (i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--zone"))
			json_object_object_add(a, "zone", json_object_new_string(argv[i + 1]));
		else if (!strcmp(argv[i], "--location"))
			json_object_object_add(a, "location", json_object_new_string(argv[i + 1]));
		else
			break;
	}
	if (i != argc) {
		json_object_put(a);
		return ULTRA_USAGE;
	}
	if ((rc = ultra_call_ops(u, "host-add", a, &ret)))
		return rc;
	json_object_put(ret);
	printf(u->json ? "{}\n" : "host %s added\n", argv[0]);
	return ULTRA_OK;
}

static long long nested(json_object *h, const char *outer, const char *key, double *d)
{
	json_object *o, *v;

	if (!json_object_object_get_ex(h, outer, &o) || !json_object_object_get_ex(o, key, &v))
		return -1;
	if (d)
		*d = json_object_get_double(v);
	return json_object_get_int64(v);
}

static int list(struct ultra *u)
{
	json_object *ret = NULL, *h;
	char mem[48], cpu[48];
	double total = 0, committed = 0;
	size_t i, n;
	int rc;

	if ((rc = ultra_call_ops(u, "host-list", NULL, &ret)))
		return rc;
	if (u->json) {
		ultra_print_json(ret);
		json_object_put(ret);
		return ULTRA_OK;
	}
	printf("%-12s %-8s %-8s %-14s %-10s %s\n", "HOST", "ZONE", "STATE", "FREE(MiB)", "CPUS",
	       "PARTITIONS");
	n = json_object_array_length(ret);
	for (i = 0; i < n; i++) {
		h = json_object_array_get_idx(ret, i);
		if (nested(h, "memory_mib", "free", NULL) >= 0) {
			snprintf(mem, sizeof(mem), "%lld/%lld",
			         nested(h, "memory_mib", "free", NULL),
			         nested(h, "memory_mib", "total", NULL));
			nested(h, "cpus", "total", &total);
			nested(h, "cpus", "committed", &committed);
			snprintf(cpu, sizeof(cpu), "%.2f/%.0f", committed, total);
		} else {
			snprintf(mem, sizeof(mem), "-");
			snprintf(cpu, sizeof(cpu), "-");
		}
		printf("%-12s %-8s %-8s %-14s %-10s", ultra_str(h, "name"),
		       ultra_str(h, "zone")[0] ? ultra_str(h, "zone") : "-", ultra_str(h, "state"),
		       mem, cpu);
		ultra_print_names(h, "partitions");
	}
	json_object_put(ret);
	return ULTRA_OK;
}

int ultra_cmd_host(struct ultra *u, int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[0], "add"))
		return add(u, argc - 1, argv + 1);
	if (argc == 1 && !strcmp(argv[0], "list"))
		return list(u);
	if (argc != 2 || strcmp(argv[0], "remove"))
		return ULTRA_USAGE;
	return ultra_ops_named(u, "host-remove", "host", argv[1], "removed");
}
