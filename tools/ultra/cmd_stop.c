/* SPDX-License-Identifier: MIT */
/* ultra stop [--timeout S] [--no-wait] NAME: the ACPI power button, forced after S seconds; waits
 * for the partition to be stopped unless told not to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ultra.h"

int ultra_cmd_stop(struct ultra *u, int argc, char **argv)
{
	static const char *const done[] = {"stopped", "crashed", NULL};
	json_object *args, *ret = NULL;
	long timeout = 30;
	int wait = 1, i, rc;
	char *end;

	for (i = 0; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--no-wait")) {
			wait = 0;
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc - 1) {
			timeout = strtol(argv[++i], &end, 10);
			if (*end || timeout < 1 || timeout > 3600)
				return ULTRA_USAGE;
		} else {
			return ULTRA_USAGE;
		}
	}
	if (argc < 1 || argv[argc - 1][0] == '-')
		return ULTRA_USAGE;
	args = ultra_name_arg(argv[argc - 1]);
	json_object_object_add(args, "timeout", json_object_new_int((int)timeout));
	if ((rc = ultra_call(u, "stop", args, &ret)))
		return rc;
	json_object_put(ret);
	if (wait && (rc = ultra_wait_state(u, argv[argc - 1], done, (int)timeout + 15, "stopping")))
		return rc;
	if (!u->json)
		printf("partition %s %s\n", argv[argc - 1], wait ? "stopped" : "is stopping");
	return ULTRA_OK;
}
