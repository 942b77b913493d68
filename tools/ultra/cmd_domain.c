/* SPDX-License-Identifier: MIT */
/* ultra domain create NAME [--memory-mib N] [--cpu-share X] | delete NAME | list: domains of
 * the operations partition (docs/operations.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ultra.h"

static int create(struct ultra *u, int argc, char **argv)
{
	json_object *a = json_object_new_object(), *ret = NULL;
	char *end;
	int i, rc;

	json_object_object_add(a, "name", json_object_new_string(argv[0]));
	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--memory-mib")) {
			long long n = strtoll(argv[i + 1], &end, 10);

			if (*end || n < 0)
				break;
			json_object_object_add(a, "memory_mib", json_object_new_int64(n));
		} else if (!strcmp(argv[i], "--cpu-share")) {
			double x = strtod(argv[i + 1], &end);

			if (*end || x < 0)
				break;
			json_object_object_add(a, "cpu_share", json_object_new_double(x));
		} else {
			break;
		}
	}
	if (i != argc) {
		json_object_put(a);
		return ULTRA_USAGE;
	}
	if ((rc = ultra_call_ops(u, "domain-create", a, &ret)))
		return rc;
	json_object_put(ret);
	if (!u->json)
		printf("domain %s created\n", argv[0]);
	else
		printf("{}\n");
	return ULTRA_OK;
}

/* "used/limit" with prec decimals; "-" for no limit. */
static void limit(json_object *d, const char *used, const char *now, int prec, char *buf,
                  size_t cap)
{
	json_object *v;
	double u = json_object_object_get_ex(d, used, &v) ? json_object_get_double(v) : 0;
	double l = json_object_object_get_ex(d, now, &v) ? json_object_get_double(v) : 0;

	if (l > 0)
		snprintf(buf, cap, "%.*f/%.*f", prec, u, prec, l);
	else
		snprintf(buf, cap, "%.*f/-", prec, u);
}

static int list(struct ultra *u)
{
	json_object *ret = NULL, *d;
	char mem[48], cpu[48];
	size_t i, n;
	int rc;

	if ((rc = ultra_call_ops(u, "domain-list", NULL, &ret)))
		return rc;
	if (u->json) {
		ultra_print_json(ret);
		json_object_put(ret);
		return ULTRA_OK;
	}
	printf("%-16s %-16s %-14s %s\n", "DOMAIN", "MEMORY(MiB)", "CPUS", "PARTITIONS");
	n = json_object_array_length(ret);
	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(ret, i);
		limit(d, "used_memory_mib", "memory_mib_now", 0, mem, sizeof(mem));
		limit(d, "used_cpu_share", "cpu_share_now", 2, cpu, sizeof(cpu));
		printf("%-16s %-16s %-14s", ultra_str(d, "name"), mem, cpu);
		ultra_print_names(d, "partitions");
	}
	json_object_put(ret);
	return ULTRA_OK;
}

int ultra_cmd_domain(struct ultra *u, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[0], "create"))
		return create(u, argc - 1, argv + 1);
	if (argc == 1 && !strcmp(argv[0], "list"))
		return list(u);
	if (argc != 2 || strcmp(argv[0], "delete"))
		return ULTRA_USAGE;
	return ultra_ops_named(u, "domain-delete", "domain", argv[1], "deleted");
}
