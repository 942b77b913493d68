/* SPDX-License-Identifier: MIT */
/* ultra set-cpu-share NAME CPUS: a partition's CPU share from now on, in host CPUs (0: none),
 * running or not (virsh schedinfo --set). Through the operations partition while it runs, so
 * that its store and schedules know it (docs/operations.md); else the command partition's. */
#include <stdio.h>
#include <stdlib.h>

#include "ultra.h"

int ultra_cmd_set_cpu_share(struct ultra *u, int argc, char **argv)
{
	json_object *args, *ret = NULL, *v;
	double cpus;
	char *end;
	int rc;

	if (argc != 2)
		return ULTRA_USAGE;
	cpus = strtod(argv[1], &end);
	if (*end || end == argv[1] || cpus < 0) {
		fprintf(stderr, "ultra: set-cpu-share: %s: expected a number of host CPUs\n",
		        argv[1]);
		return ULTRA_USAGE;
	}
	args = ultra_name_arg(argv[0]);
	json_object_object_add(args, "cpu_share", json_object_new_double(cpus));
	if ((rc = ultra_call_managed(u, "set-cpu-share", args, &ret)))
		return rc;
	if (u->json)
		ultra_print_json(ret);
	else if (json_object_object_get_ex(ret, "in_force", &v))
		printf("partition %s: cpu_share %s (in force now: %s)\n", argv[0], argv[1],
		       json_object_get_string(v));
	else
		printf("partition %s: cpu_share %s\n", argv[0], argv[1]);
	json_object_put(ret);
	return ULTRA_OK;
}
