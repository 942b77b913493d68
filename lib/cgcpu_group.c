/* SPDX-License-Identifier: MIT */
/* Creating, filling and removing one partition's cgroup. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgcpu.h"

static int mkdir_ok(const char *dir)
{
	return mkdir(dir, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* A v1 cpuset group starts with no CPUs and no memory nodes and refuses tasks until given some. */
static int inherit_cpuset(const char *from, const char *to)
{
	static const char *const leaves[] = {"cpuset.cpus", "cpuset.mems"};
	char cur[4096], val[4096];
	int r;

	for (int i = 0; i < 2; i++) {
		if ((r = uv_cg_read_file(to, leaves[i], cur, sizeof(cur))))
			return r;
		if (cur[0] && cur[0] != '\n')
			continue;
		if ((r = uv_cg_read_file(from, leaves[i], val, sizeof(val))) ||
		    (r = uv_cg_write_file(to, leaves[i], val)))
			return r;
	}
	return 0;
}

int uv_cg_create(const char *root, const char *dir, enum uv_cg_kind kind, const char *ctrl)
{
	char parent[PATH_MAX], enable[32];
	int r;

	if (snprintf(parent, sizeof(parent), "%s/%s", root, UV_CG_PARENT) >= (int)sizeof(parent))
		return -ENAMETOOLONG;
	snprintf(enable, sizeof(enable), "+%s", ctrl);
	if (kind == UV_CG_V2 && (r = uv_cg_write_file(root, "cgroup.subtree_control", enable)))
		return r;
	if ((r = mkdir_ok(parent)))
		return r;
	if (kind == UV_CG_V2 && (r = uv_cg_write_file(parent, "cgroup.subtree_control", enable)))
		return r;
	if (kind == UV_CG_V1 && !strcmp(ctrl, "cpuset") && (r = inherit_cpuset(root, parent)))
		return r;
	if ((r = mkdir_ok(dir)))
		return r;
	if (kind == UV_CG_V1 && !strcmp(ctrl, "cpuset"))
		return inherit_cpuset(parent, dir);
	return 0;
}

int uv_cg_enter(const char *dir, pid_t pid)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	/* cgroup.procs moves the whole thread group; threads made later inherit the group. */
	return uv_cg_write_file(dir, "cgroup.procs", buf);
}

int uv_cg_holds(const char *dir, pid_t pid)
{
	char path[PATH_MAX];
	FILE *f;
	int p, found = 0;

	if (snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!found && fscanf(f, "%d", &p) == 1)
		found = p == (int)pid;
	fclose(f);
	return found;
}

int uv_cg_remove(const char *root, const char *dir)
{
	struct timespec nap = {.tv_nsec = 10 * 1000 * 1000};
	char path[PATH_MAX];
	FILE *f;
	int p, r = 0;

	if (snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	/* Left-overs (a stale group from an engine that ended while nobody watched) go back to the
	 * root rather than die with the group: they are not ours to kill. */
	while (fscanf(f, "%d", &p) == 1)
		uv_cg_enter(root, p);
	fclose(f);
	/* An engine that has just exited may still count as a member for a moment. */
	for (int i = 0; i < 100; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		r = -errno;
		if (errno != EBUSY)
			break;
		nanosleep(&nap, NULL);
	}
	return r;
}
