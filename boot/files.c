/* SPDX-License-Identifier: MIT */
/*
 * The files the boot partition keeps: the system partitions' definitions in its state directory,
 * the copy it bootstraps from (claim 38), and its status in the run directory. Both are replaced
 * atomically (write a temporary, fsync, rename), so a reader never sees half of one.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"

static const char *role_name(uint8_t role)
{
	static const char *const names[] = {"ultravisor", "boot", "command", "operations", "io"};
	return role < sizeof(names) / sizeof(names[0]) ? names[role] : "?";
}

static int write_atomic(const char *dir, const char *leaf, const char *text, bool durable)
{
	char path[512], tmp[520];
	size_t len = strlen(text);
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, leaf);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || (durable && fsync(fd) < 0))
		r = errno ? -errno : -EIO;
	close(fd);
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r) {
		unlink(tmp);
		return r;
	}
	if (durable) { /* the rename itself must survive a crash */
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	return 0;
}

static json_object *child_json(const struct boot_child *c, bool status)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "partition", json_object_new_int64(c->partition));
	json_object_object_add(o, "role",
	                       json_object_new_string(c->helper ? "helper" : role_name(c->role)));
	if (!status) {
		json_object_object_add(o, "cmdline", json_object_new_string(c->cmdline));
		return o;
	}
	json_object_object_add(o, "pid", json_object_new_int64(c->pid));
	json_object_object_add(o, "state",
	                       json_object_new_string(c->failed ? "failed"
	                                              : c->pid  ? "running"
	                                              : c->cmdline[0] || !c->partition
	                                                  ? "down"
	                                                  : "recorded"));
	json_object_object_add(o, "restarts", json_object_new_int64(c->restarts));
	json_object_object_add(o, "last_restart_ms",
	                       json_object_new_int64((int64_t)c->last_restart_ms));
	return o;
}

static int write_json(const char *dir, const char *leaf, json_object *root, bool durable)
{
	int r = write_atomic(
	    dir, leaf, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY), durable);
	json_object_put(root);
	return r;
}

/* {"version":1,"system":[{"name","partition","role","cmdline"}...]} */
int boot_write_definitions(const struct boot *b)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(root, "version", json_object_new_int(1));
	for (unsigned i = 0; i < b->n_sys; i++)
		json_object_array_add(arr, child_json(&b->sys[i], false));
	json_object_object_add(root, "system", arr);
	return write_json(b->cfg.state_dir, "boot-definitions.json", root, true);
}

/* {"pid","ultravisor":{...},"system":[{...,"pid","state","restarts","last_restart_ms"}]} */
int boot_write_status(const struct boot *b)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(root, "pid", json_object_new_int64(getpid()));
	json_object_object_add(root, "socket", json_object_new_string(b->sock_path));
	json_object_object_add(root, "ultravisor", child_json(&b->uv, true));
	for (unsigned i = 0; i < b->n_sys; i++)
		json_object_array_add(arr, child_json(&b->sys[i], true));
	json_object_object_add(root, "system", arr);
	return write_json(b->cfg.run_dir, "boot-status.json", root, false);
}
