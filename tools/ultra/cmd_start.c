/* SPDX-License-Identifier: MIT */
/* ultra start NAME: grants the partition its memory and starts its monitor. */
#include <stdio.h>

#include "ultra.h"

int ultra_cmd_start(struct ultra *u, int argc, char **argv)
{
	json_object *ret = NULL;
	int rc;

	if (argc != 1)
		return ULTRA_USAGE;
	if ((rc = ultra_call_managed(u, "start", ultra_name_arg(argv[0]), &ret)))
		return rc;
	if (u->json)
		ultra_print_json(ret);
	else
		printf("partition %s started (number %lld, %lld MiB)\n", argv[0],
		       ultra_int(ret, "id"), ultra_int(ret, "memory_mib"));
	json_object_put(ret);
	return ULTRA_OK;
}
