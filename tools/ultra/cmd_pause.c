/* SPDX-License-Identifier: MIT */
/* ultra pause NAME / ultra resume NAME: the guest's vCPUs stop and go on (virsh suspend and
 * resume); memory, devices and grants stay. Each waits until the partition is listed so. */
#include <stdio.h>

#include "ultra.h"

static int run_state(struct ultra *u, int argc, char **argv, const char *verb, const char *state,
                     const char *doing)
{
	const char *const done[] = {state, NULL};
	json_object *ret = NULL;
	int rc;

	if (argc != 1)
		return ULTRA_USAGE;
	if ((rc = ultra_call(u, verb, ultra_name_arg(argv[0]), &ret)))
		return rc;
	json_object_put(ret);
	if ((rc = ultra_wait_state(u, argv[0], done, 20, doing)))
		return rc;
	if (!u->json)
		printf("partition %s %s\n", argv[0], state);
	return ULTRA_OK;
}

int ultra_cmd_pause(struct ultra *u, int argc, char **argv)
{
	return run_state(u, argc, argv, "pause", "paused", "pausing");
}

int ultra_cmd_resume(struct ultra *u, int argc, char **argv)
{
	return run_state(u, argc, argv, "resume", "running", "resuming");
}
