/* SPDX-License-Identifier: MIT */
/*
 * The partition's CPU share (claims 26-28). QEMU, with every thread it has or will have, lives in
 * the cgroup ultravisor/<name> of the cpu controller, whose bandwidth quota is the share
 * (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us/cpu.cfs_period_us) and whose weight is
 * proportional to it. A whole number of CPUs is also pinned: a cpuset group of its own (QEMU's
 * seccomp sandbox denies it sched_setaffinity, and a cpuset cannot be left even without it),
 * or, where no cpuset controller is mounted, the affinity of every QEMU thread.
 * QEMU is moved in right after it is spawned, while it still waits on -S: the guest's first
 * instruction already runs under the quota.
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor.h"

static int detect(struct monitor *m, char *err, size_t errlen)
{
	int r = uv_cg_detect("/proc/mounts", &m->cg);

	if (r) {
		snprintf(err, errlen, "/proc/mounts: %s", strerror(-r));
		return r;
	}
	m->cg_cpu[0] = m->cg_cpuset[0] = 0;
	if (m->cg.cpu_kind &&
	    (r = uv_cg_path(m->cg.cpu_root, m->desc->name, m->cg_cpu, sizeof(m->cg_cpu))))
		goto bad;
	if (m->cg.cpuset_kind &&
	    (r = uv_cg_path(m->cg.cpuset_root, m->desc->name, m->cg_cpuset, sizeof(m->cg_cpuset))))
		goto bad;
	/* On a unified hierarchy with both controllers, one group carries both. */
	return 0;
bad:
	snprintf(err, errlen, "cgroup for partition \"%s\": %s", m->desc->name, strerror(-r));
	return r;
}

static bool exists(const char *dir)
{
	struct stat st;

	return dir[0] && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* How many other partitions' cpusets hold each CPU. */
static void cpu_use(const struct monitor *m, unsigned *use)
{
	char parent[PATH_MAX], dir[PATH_MAX], buf[4096];
	struct dirent *e;
	cpu_set_t set;
	DIR *d;

	if (snprintf(parent, sizeof(parent), "%s/%s", m->cg.cpuset_root, UV_CG_PARENT) >=
	        (int)sizeof(parent) ||
	    !(d = opendir(parent)))
		return;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.' || !strcmp(e->d_name, m->desc->name))
			continue;
		if (snprintf(dir, sizeof(dir), "%s/%s", parent, e->d_name) >= (int)sizeof(dir) ||
		    uv_cg_read_file(dir, "cpuset.cpus", buf, sizeof(buf)) ||
		    uv_cpulist_parse(buf, &set))
			continue;
		for (int c = 0; c < CPU_SETSIZE; c++)
			use[c] += CPU_ISSET(c, &set) ? 1 : 0;
	}
	closedir(d);
}

static int allowed_cpus(const struct monitor *m, cpu_set_t *set)
{
	char buf[4096];
	int r;

	if (!m->cg.cpuset_kind)
		return sched_getaffinity(0, sizeof(*set), set) < 0 ? -errno : 0;
	/* Every CPU of the hierarchy's root: the partitions' parent group may not exist yet. */
	r = uv_cg_read_file(m->cg.cpuset_root,
	                    m->cg.cpuset_kind == UV_CG_V2 ? "cpuset.cpus.effective" : "cpuset.cpus",
	                    buf, sizeof(buf));
	return r ? r : uv_cpulist_parse(buf, set);
}

/* Without a cpuset controller: every thread's affinity, twice over in case one was being born. */
static int pin_threads(pid_t pid, const cpu_set_t *set)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	for (int round = 0; round < 2 && !r; round++) {
		if (!(d = opendir(path)))
			return -errno;
		while ((e = readdir(d)) && !r)
			if (e->d_name[0] != '.' &&
			    sched_setaffinity((pid_t)atoi(e->d_name), sizeof(*set), set) < 0 &&
			    errno != ESRCH)
				r = -errno;
		closedir(d);
	}
	return r;
}

static int set_pinning(struct monitor *m, uint32_t share, char *err, size_t errlen)
{
	unsigned use[CPU_SETSIZE], whole = share / 1000;
	bool was_pinned = m->cpus_pinned[0] != 0;
	cpu_set_t allowed, pick;
	int r;

	bool pin;

	if ((r = allowed_cpus(m, &allowed))) {
		snprintf(err, errlen, "host CPUs: %s", strerror(-r));
		return r;
	}
	pin = share && share % 1000 == 0 && whole <= (unsigned)CPU_COUNT(&allowed);
	if (!pin && !was_pinned && !exists(m->cg_cpuset))
		return 0; /* neither pinned now nor before: nothing to pin or to widen */
	pick = allowed;
	m->cpus_pinned[0] = 0;
	if (pin) {
		memset(use, 0, sizeof(use));
		if (m->cg.cpuset_kind)
			cpu_use(m, use);
		uv_cpu_pick(&allowed, use, whole, &pick);
		uv_cpulist_format(&pick, m->cpus_pinned, sizeof(m->cpus_pinned));
	}
	if (!m->cg.cpuset_kind) {
		if ((r = pin_threads(m->qemu_pid, &pick)))
			snprintf(err, errlen, "pinning QEMU's threads: %s", strerror(-r));
		return r;
	}
	char list[sizeof(m->cpus_pinned)];
	if (uv_cpulist_format(&pick, list, sizeof(list)) == -ENOSPC)
		return -ENOSPC;
	if ((r = uv_cg_create(m->cg.cpuset_root, m->cg_cpuset, m->cg.cpuset_kind, "cpuset")) ||
	    (r = uv_cg_write_file(m->cg_cpuset, "cpuset.cpus", list)) ||
	    (r = uv_cg_enter(m->cg_cpuset, m->qemu_pid)))
		snprintf(err, errlen, "cpuset %s: %s", m->cg_cpuset, strerror(-r));
	return r;
}

int mon_cpu_set(struct monitor *m, uint32_t share, char *err, size_t errlen)
{
	int r;

	if (share && !m->cg.cpu_kind) {
		snprintf(
		    err, errlen,
		    "cpu_share %u.%03u needs the cpu controller, and no cgroup v2 mount lists it "
		    "in cgroup.controllers nor is a cgroup v1 hierarchy mounted with it "
		    "(/proc/mounts)",
		    share / 1000, share % 1000);
		return -ENOTSUP;
	}
	if (share || exists(m->cg_cpu)) {
		if ((r = uv_cg_create(m->cg.cpu_root, m->cg_cpu, m->cg.cpu_kind, "cpu")) ||
		    (r = uv_cg_write_limits(m->cg_cpu, m->cg.cpu_kind, share)) ||
		    (r = uv_cg_enter(m->cg_cpu, m->qemu_pid))) {
			snprintf(err, errlen, "cgroup %s: %s", m->cg_cpu, strerror(-r));
			return r;
		}
	}
	if ((r = set_pinning(m, share, err, errlen)))
		return r;
	m->cpu_share_milli = share;
	return 0;
}

int mon_cpu_start(struct monitor *m, char *err, size_t errlen)
{
	int r = detect(m, err, errlen);

	if (r)
		return r;
	/* A group left by an engine that ended unwatched is stale: its settings are not ours. */
	if (m->cg_cpu[0] && (r = uv_cg_remove(m->cg.cpu_root, m->cg_cpu)))
		goto stale;
	if (m->cg_cpuset[0] && strcmp(m->cg_cpuset, m->cg_cpu) &&
	    (r = uv_cg_remove(m->cg.cpuset_root, m->cg_cpuset)))
		goto stale;
	return mon_cpu_set(m, m->desc->cpu_share_milli, err, errlen);
stale:
	snprintf(err, errlen, "removing a stale cgroup for %s: %s", m->desc->name, strerror(-r));
	return r;
}

int mon_cpu_reattach(struct monitor *m, char *err, size_t errlen)
{
	char buf[256];
	int r = detect(m, err, errlen);

	if (r)
		return r;
	/* The share in force may differ from the descriptor (set-cpu-share): the group keeps it. */
	if (!exists(m->cg_cpu))
		return mon_cpu_set(m, m->desc->cpu_share_milli, err, errlen);
	if ((r = uv_cg_read_share(m->cg_cpu, m->cg.cpu_kind, &m->cpu_share_milli)) ||
	    (uv_cg_holds(m->cg_cpu, m->qemu_pid) != 1 &&
	     (r = uv_cg_enter(m->cg_cpu, m->qemu_pid)))) {
		snprintf(err, errlen, "cgroup %s: %s", m->cg_cpu, strerror(-r));
		return r;
	}
	m->cpus_pinned[0] = 0;
	if (m->cpu_share_milli % 1000 == 0 && m->cpu_share_milli && exists(m->cg_cpuset) &&
	    !uv_cg_read_file(m->cg_cpuset, "cpuset.cpus", buf, sizeof(buf)))
		snprintf(m->cpus_pinned, sizeof(m->cpus_pinned), "%.*s", (int)strcspn(buf, "\n"),
		         buf);
	return 0;
}

void mon_cpu_release(struct monitor *m)
{
	int r;

	if (m->cg_cpu[0] && (r = uv_cg_remove(m->cg.cpu_root, m->cg_cpu)))
		fprintf(stderr, "monitor[%s]: cannot remove %s: %s\n", m->desc->name, m->cg_cpu,
		        strerror(-r));
	if (m->cg_cpuset[0] && strcmp(m->cg_cpuset, m->cg_cpu) &&
	    (r = uv_cg_remove(m->cg.cpuset_root, m->cg_cpuset)))
		fprintf(stderr, "monitor[%s]: cannot remove %s: %s\n", m->desc->name, m->cg_cpuset,
		        strerror(-r));
}
