/* SPDX-License-Identifier: MIT */
/* ultra info NAME: one partition in detail, a "key: value" line per member. */
#include <stdio.h>
#include <string.h>

#include "ultra.h"

/* A line per disk: "disk0        a.img (direct): 50 iops, 1048576 bytes/s". */
static void print_limits(json_object *a)
{
	size_t n = json_object_array_length(a);

	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(a, i), *v;
		long long iops = ultra_int(d, "iops"), bps = ultra_int(d, "bytes_per_sec");
		char key[16], lim[96];
		int direct =
		    json_object_object_get_ex(d, "direct", &v) && json_object_get_boolean(v);

		snprintf(key, sizeof(key), "disk%lld", ultra_int(d, "disk"));
		if (!iops && !bps)
			snprintf(lim, sizeof(lim), "no limit");
		else
			snprintf(lim, sizeof(lim), "%lld iops, %lld bytes/s (0: none)", iops, bps);
		printf("%-12s %s%s: %s\n", key, ultra_str(d, "image"), direct ? " (direct)" : "",
		       lim);
	}
}

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
			if (!strcmp(key, "disk_limits"))
				print_limits(val);
			else
				printf("%-12s %s\n", key, json_object_get_string(val));
		}
	}
	json_object_put(ret);
	return ULTRA_OK;
}
