/* SPDX-License-Identifier: MIT */
/* ultra define FILE: records a partition from its JSON definition (docs/definitions.md). */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ultra.h"

int ultra_cmd_define(struct ultra *u, int argc, char **argv)
{
	json_object *def, *args, *ret = NULL;
	char *real;
	int rc;

	if (argc != 1)
		return ULTRA_USAGE;
	def = json_object_from_file(argv[0]);
	if (!def) {
		fprintf(stderr, "ultra: define: %s: not readable JSON (%s)\n", argv[0],
		        json_util_get_last_err());
		return ULTRA_FAILED;
	}
	args = json_object_new_object();
	json_object_object_add(args, "definition", def);
	/* Relative kernel, initrd and device paths are the file's neighbours. */
	if ((real = realpath(argv[0], NULL))) {
		json_object_object_add(args, "base_dir", json_object_new_string(dirname(real)));
		free(real);
	}
	if ((rc = ultra_call_managed(u, "define", args, &ret)))
		return rc;
	if (u->json)
		ultra_print_json(ret);
	else if (!json_object_object_get_ex(ret, "id", NULL)) /* several hosts: placed at start */
		printf("partition %s defined; its host is chosen when it starts\n",
		       ultra_str(ret, "name"));
	else
		printf("partition %s defined as number %lld\n", ultra_str(ret, "name"),
		       ultra_int(ret, "id"));
	json_object_put(ret);
	return ULTRA_OK;
}
