/* SPDX-License-Identifier: MIT */
/* ultra migrate NAME --to TARGET [--timeout S]: moves a running partition to another host's
 * command partition with its memory, while it runs (claim 44, docs/migration.md). TARGET is
 * that host's command socket, its run directory (whose command.sock is meant), its gateway
 * tls://HOST:PORT (claim 43: the stream then crosses the network over TLS too), or the name of a
 * host registered with the operations partition. While the operations partition runs the
 * request goes through it, so that its store follows the partition (docs/operations.md). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ultra.h"

static int target_socket(const char *arg, char *buf, size_t cap)
{
	char abs[PATH_MAX];
	struct stat st;

	/* Another machine's command partition, through its gateway (docs/migration.md). */
	if (!strncmp(arg, "tls://", 6)) {
		snprintf(buf, cap, "%s", arg);
		return ULTRA_OK;
	}
	if (!realpath(arg, abs)) {
		fprintf(stderr, "ultra: migrate: %s: no such target socket or run directory\n",
		        arg);
		return ULTRA_USAGE;
	}
	if (stat(abs, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(buf, cap, "%s/command.sock", abs);
	else
		snprintf(buf, cap, "%s", abs);
	return ULTRA_OK;
}

int ultra_cmd_migrate(struct ultra *u, int argc, char **argv)
{
	const char *name = NULL, *to = NULL;
	json_object *args, *ret = NULL, *mig, *part;
	char target[PATH_MAX + 16], *end;
	long timeout = 0;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--to") && i + 1 < argc) {
			to = argv[++i];
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout = strtol(argv[++i], &end, 10);
			if (*end || timeout < 1 || timeout > 3600)
				return ULTRA_USAGE;
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else {
			return ULTRA_USAGE;
		}
	}
	if (!name || !to)
		return ULTRA_USAGE;
	args = ultra_name_arg(name);
	if (timeout)
		json_object_object_add(args, "timeout", json_object_new_int((int)timeout));
	if (!strchr(to, '/') && !strchr(to, ':')) {
		/* A registered host's name: only the operations partition knows it. */
		snprintf(target, sizeof(target), "host %s", to);
		json_object_object_add(args, "host", json_object_new_string(to));
		rc = ultra_call_ops(u, "migrate", args, &ret);
	} else if (!(rc = target_socket(to, target, sizeof(target)))) {
		json_object_object_add(args, "target", json_object_new_string(target));
		rc = ultra_call_managed(u, "migrate", args, &ret);
	} else {
		json_object_put(args);
	}
	if (rc)
		return rc;
	if (u->json) {
		ultra_print_json(ret);
	} else {
		json_object_object_get_ex(ret, "migration", &mig);
		json_object_object_get_ex(ret, "partition", &part);
		printf("partition %s migrated to %s (there: %s) in %lld ms: %.1f MiB sent in %lld "
		       "passes, downtime %lld ms, dirty rate %.1f MiB/s; here: %s\n",
		       name, target, ultra_str(part, "state"), ultra_int(ret, "elapsed_ms"),
		       ultra_int(mig, "transferred_bytes") / 1048576.0, ultra_int(mig, "passes"),
		       ultra_int(mig, "downtime_ms"),
		       ultra_int(mig, "dirty_bytes_per_s") / 1048576.0, ultra_str(ret, "source"));
	}
	json_object_put(ret);
	return ULTRA_OK;
}
