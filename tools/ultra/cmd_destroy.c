/* SPDX-License-Identifier: MIT */
/* ultra destroy NAME: pulls the plug (QEMU quits at once), as virsh destroy does. */
#include <stdio.h>

#include "ultra.h"

int ultra_cmd_destroy(struct ultra *u, int argc, char **argv)
{
	static const char *const done[] = {"stopped", "crashed", NULL};
	json_object *ret = NULL;
	int rc;

	if (argc != 1)
		return ULTRA_USAGE;
	if ((rc = ultra_call(u, "destroy", ultra_name_arg(argv[0]), &ret)))
		return rc;
	json_object_put(ret);
	if ((rc = ultra_wait_state(u, argv[0], done, 20, "destroying")))
		return rc;
	if (!u->json)
		printf("partition %s destroyed\n", argv[0]);
	return ULTRA_OK;
}
