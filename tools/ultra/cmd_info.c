/* SPDX-License-Identifier: MIT */
/* ultra info NAME: one partition in detail, a "key: value" line per member. */
#include <stdio.h>

#include "ultra.h"

int ultra_cmd_info(struct ultra *u, int argc, char **argv)
{
	json_object *ret = NULL;
	int rc;

	if (argc != 1)
		return ULTRA_USAGE;
	if ((rc = ultra_call(u, "info", ultra_name_arg(argv[0]), &ret)))
		return rc;
	if (u->json) {
		ultra_print_json(ret);
	} else {
		json_object_object_foreach(ret, key, val)
		{
			printf("%-12s %s\n", key, json_object_get_string(val));
		}
	}
	json_object_put(ret);
	return ULTRA_OK;
}
