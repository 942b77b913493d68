/* SPDX-License-Identifier: MIT */
/* ultra info NAME: one partition in detail, a "key: value" line per member. */
#include <stdio.h>
#include <string.h>

#include "disk_limit.h"
#include "ultra.h"

/* A line per disk: "disk0        a.img (direct): in all 50 requests and 1048576 bytes a second";
 * the kinds as lib/disk_limit.c says them, totals and each direction (claims 19, 22). */
static void print_limits(json_object *a)
{
	size_t n = json_object_array_length(a);

	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(a, i), *v;
		struct uv_disk_limit l = {0};
		char key[16], lim[200];
		int direct =
		    json_object_object_get_ex(d, "direct", &v) && json_object_get_boolean(v);

		for (unsigned k = 0; k < UV_DISK_LIMIT_KEYS; k++)
			if (ultra_int(d, uv_disk_limit_key(k)) > 0)
				uv_disk_limit_set(&l, k,
				                  (uint64_t)ultra_int(d, uv_disk_limit_key(k)));
		snprintf(key, sizeof(key), "disk%lld", ultra_int(d, "disk"));
		uv_disk_limit_describe(&l, lim, sizeof(lim));
		printf("%-12s %s%s: %s\n", key, ultra_str(d, "image"), direct ? " (direct)" : "",
		       uv_disk_limit_none(&l) ? "no limit" : lim);
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
