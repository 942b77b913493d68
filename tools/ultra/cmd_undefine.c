/* SPDX-License-Identifier: MIT */
/* ultra undefine NAME: gives a stopped partition's memory back and forgets it. */
#include <stdio.h>

#include "ultra.h"

int ultra_cmd_undefine(struct ultra *u, int argc, char **argv)
{
	json_object *ret = NULL;
	int rc;

	if (argc != 1)
		return ULTRA_USAGE;
	if ((rc = ultra_call_managed(u, "undefine", ultra_name_arg(argv[0]), &ret)))
		return rc;
	if (u->json)
		ultra_print_json(ret);
	else
		printf("partition %s undefined\n", argv[0]);
	json_object_put(ret);
	return ULTRA_OK;
}
