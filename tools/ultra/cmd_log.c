/* SPDX-License-Identifier: MIT */
/* ultra log [DIR]: the ultravisor's audit log, a record per line (DIR: its state directory). */
#include <stdio.h>
#include <string.h>

#include "txn_log.h"
#include "ultra.h"

int ultra_cmd_log(struct ultra *u, int argc, char **argv)
{
	const char *dir = argc == 1 ? argv[0] : u->state_dir;
	int r;

	if (argc > 1)
		return ULTRA_USAGE;
	if ((r = uv_log_dump(dir, stdout))) {
		fprintf(stderr, "ultra: log: %s: %s\n", dir, strerror(-r));
		return ULTRA_FAILED;
	}
	return ULTRA_OK;
}
