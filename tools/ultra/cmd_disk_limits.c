/* SPDX-License-Identifier: MIT */
/* ultra set-disk-limits NAME DISK [--iops N] [--bytes-per-sec N]: a disk's I/O limit from now on,
 * running or not (0: none of that kind; left out: as it is). DISK is its index in the
 * definition's disks, or its image's path or file name (docs/command.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ultra.h"

static int number(const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return !s[0] || *end || errno || *out < 0 ? -1 : 0;
}

int ultra_cmd_set_disk_limits(struct ultra *u, int argc, char **argv)
{
	json_object *args, *ret = NULL, *v;
	long long x;
	int i, rc, set = 0;

	if (argc < 2 || argv[0][0] == '-' || argv[1][0] == '-')
		return ULTRA_USAGE;
	args = ultra_name_arg(argv[0]);
	json_object_object_add(args, "disk", json_object_new_string(argv[1]));
	for (i = 2; i < argc; i++) {
		const char *key = !strcmp(argv[i], "--iops")            ? "iops"
		                  : !strcmp(argv[i], "--bytes-per-sec") ? "bytes_per_sec"
		                                                        : NULL;

		if (!key || i + 1 >= argc || number(argv[++i], &x)) {
			fprintf(stderr,
			        "ultra: set-disk-limits: %s: expected --iops N or "
			        "--bytes-per-sec N with N >= 0 (0: no limit)\n",
			        argv[i]);
			json_object_put(args);
			return ULTRA_USAGE;
		}
		json_object_object_add(args, key, json_object_new_int64(x));
		set++;
	}
	if (!set) {
		fprintf(stderr,
		        "ultra: set-disk-limits: nothing to set (--iops, --bytes-per-sec)\n");
		json_object_put(args);
		return ULTRA_USAGE;
	}
	if ((rc = ultra_call_managed(u, "set-disk-limits", args, &ret)))
		return rc;
	if (u->json) {
		ultra_print_json(ret);
	} else if (json_object_object_get_ex(ret, "name", &v)) {
		printf("partition %s: disk %s limit set\n", json_object_get_string(v), argv[1]);
	}
	json_object_put(ret);
	return ULTRA_OK;
}
