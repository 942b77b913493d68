/* SPDX-License-Identifier: MIT */
/* ultra set-disk-limits NAME DISK [--iops N] [--bytes-per-sec N] [--read-iops N]
 *   [--write-iops N] [--read-bytes-per-sec N] [--write-bytes-per-sec N]: a disk's I/O limits from
 * now on, running or not (0: none of that kind; left out: as it is; a total clears the
 * directions of its kind and a direction the total, as virsh blkdeviotune). DISK is its index in
 * the definition's disks, or its image's path or file name (docs/command.md; claims 19, 22). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk_limit.h"
#include "ultra.h"

/* --read-bytes-per-sec: the kind named read_bytes_per_sec, or NULL. */
static const char *kind_of(const char *opt)
{
	char want[40];

	for (unsigned k = 0; k < UV_DISK_LIMIT_KEYS; k++) {
		snprintf(want, sizeof(want), "--%s", uv_disk_limit_key(k));
		for (char *c = want; *c; c++)
			*c = *c == '_' ? '-' : *c;
		if (!strcmp(opt, want))
			return uv_disk_limit_key(k);
	}
	return NULL;
}

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
		const char *key = kind_of(argv[i]);

		if (!key || i + 1 >= argc || number(argv[++i], &x)) {
			fprintf(stderr,
			        "ultra: set-disk-limits: %s: expected --iops, --bytes-per-sec, "
			        "--read-iops, --write-iops, --read-bytes-per-sec or "
			        "--write-bytes-per-sec N with N >= 0 (0: no limit)\n",
			        argv[i]);
			json_object_put(args);
			return ULTRA_USAGE;
		}
		json_object_object_add(args, key, json_object_new_int64(x));
		set++;
	}
	if (!set) {
		fprintf(
		    stderr,
		    "ultra: set-disk-limits: nothing to set (--iops, --bytes-per-sec, "
		    "--read-iops, --write-iops, --read-bytes-per-sec, --write-bytes-per-sec)\n");
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
