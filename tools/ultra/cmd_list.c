/* SPDX-License-Identifier: MIT */
/* ultra list: every guest partition, a line each (or the API's array with --json). */
#include <stdio.h>

#include "ultra.h"

static void cpus(json_object *p, char *buf, size_t cap)
{
	json_object *v;
	double share =
	    json_object_object_get_ex(p, "cpu_share", &v) ? json_object_get_double(v) : 0;

	if (share > 0)
		snprintf(buf, cap, "%lld (%.2f)", ultra_int(p, "vcpus"), share);
	else
		snprintf(buf, cap, "%lld", ultra_int(p, "vcpus"));
}

int ultra_cmd_list(struct ultra *u, int argc, char **argv)
{
	json_object *ret = NULL, *p;
	char up[32], cpu[32];
	size_t i, n;
	int rc;

	if (argc != 0)
		return ULTRA_USAGE;
	if ((rc = ultra_call(u, "list", NULL, &ret)))
		return rc;
	if (u->json) {
		ultra_print_json(ret);
		json_object_put(ret);
		return ULTRA_OK;
	}
	printf("%-4s %-20s %-9s %8s %-12s %s\n", "ID", "NAME", "STATE", "MEMORY", "CPUS", "UPTIME");
	n = json_object_array_length(ret);
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(ret, i);
		ultra_fmt_uptime(ultra_int(p, "uptime_s"), up, sizeof(up));
		cpus(p, cpu, sizeof(cpu));
		printf("%-4lld %-20s %-9s %5lldMiB %-12s %s\n", ultra_int(p, "id"),
		       ultra_str(p, "name"), ultra_str(p, "state"), ultra_int(p, "memory_mib"), cpu,
		       up);
	}
	json_object_put(ret);
	return ULTRA_OK;
}
