/* SPDX-License-Identifier: MIT */
/*
 * CPU shares on the host scheduler (claims 26-28): finding a usable cgroup controller, turning a
 * share into a bandwidth quota and a weight, and the cgroup files that carry them.
 *
 * A share is in thousandths of one host CPU (uv_partition_desc.cpu_share_milli). The quota caps
 * the partition at its share over every period (the scheduler's timer-driven bandwidth control);
 * the weight splits the CPU in the same proportions when the host is overcommitted, so a busy
 * neighbour outside the partitions cannot skew one partition against another.
 */
#ifndef ULTRA_LIB_CGCPU_H
#define ULTRA_LIB_CGCPU_H

#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UV_CG_PARENT "ultravisor"
#define UV_CG_PERIOD_US 100000u      /* the kernel's default CFS period */
#define UV_CG_PERIOD_MAX_US 1000000u /* the kernel's limits on a period... */
#define UV_CG_QUOTA_MIN_US 1000u     /* ...and on a quota */

enum uv_cg_kind {
	UV_CG_NONE = 0,
	UV_CG_V1 = 1, /* cpu.cfs_quota_us / cpu.cfs_period_us / cpu.shares */
	UV_CG_V2 = 2, /* cpu.max / cpu.weight on the unified hierarchy */
};

/* Where the controllers are mounted; an empty root means none usable. */
struct uv_cg_layout {
	enum uv_cg_kind cpu_kind;
	char cpu_root[PATH_MAX];
	enum uv_cg_kind cpuset_kind;
	char cpuset_root[PATH_MAX];
	enum uv_cg_kind io_kind; /* v2 io (io.max) or v1 blkio (blkio.throttle.*): lib/cgio.h */
	char io_root[PATH_MAX];
};

struct uv_cpu_limits {
	uint64_t quota_us; /* 0: unlimited */
	uint64_t period_us;
	uint32_t shares_v1; /* cpu.shares: 1024 per CPU */
	uint32_t weight_v2; /* cpu.weight: 100 per CPU */
};

/* Reads a mount table in /proc/mounts format (mounts_path) and picks the cpu controller: the
 * unified hierarchy when its cgroup.controllers lists cpu, else a v1 hierarchy mounted with the
 * cpu option; the same for cpuset, and for io (v1: blkio). -ENOENT if the file cannot be read. */
int uv_cg_detect(const char *mounts_path, struct uv_cg_layout *out);

/* The quota, period and weight for share_milli (> 0). Shares under 10 milli-CPUs lengthen the
 * period so the quota stays at the kernel's 1 ms minimum and the ratio exact. */
int uv_cpu_limits(uint32_t share_milli, struct uv_cpu_limits *out);
/* The share a quota and period stand for, rounded to the nearest milli-CPU; 0 if unlimited. */
uint32_t uv_cpu_share_of(uint64_t quota_us, uint64_t period_us);

/* "root/ultravisor/name"; -EINVAL for a name that could leave the parent (empty, '.', '/'),
 * -ENAMETOOLONG if it does not fit. */
int uv_cg_path(const char *root, const char *name, char *out, size_t outlen);

/* Writes the limits into the cgroup directory dir of the given kind (share 0: no limit). */
int uv_cg_write_limits(const char *dir, enum uv_cg_kind kind, uint32_t share_milli);
/* Reads back the share a cgroup enforces (0 = unlimited). */
int uv_cg_read_share(const char *dir, enum uv_cg_kind kind, uint32_t *share_milli);

/* Makes dir (and its parent) a cgroup of the given controller; for v2 it enables the controller
 * ("cpu" or "cpuset") in the parents' subtree_control, for a v1 cpuset it gives the new groups
 * their parent's cpus and mems (v1 leaves them empty). */
int uv_cg_create(const char *root, const char *dir, enum uv_cg_kind kind, const char *ctrl);
/* Moves every process of dir to root, then removes dir. 0 if dir did not exist. */
int uv_cg_remove(const char *root, const char *dir);
/* Moves process pid, with all its threads, into dir. */
int uv_cg_enter(const char *dir, pid_t pid);
/* Is pid in dir's cgroup.procs? 1 yes, 0 no, <0 error. */
int uv_cg_holds(const char *dir, pid_t pid);

/* CPU lists as cpuset files write them: "0-3,8,10-11". */
int uv_cpulist_parse(const char *s, cpu_set_t *out);
int uv_cpulist_format(const cpu_set_t *set, char *out, size_t outlen);
/* Picks n CPUs of allowed, those the fewest partitions use first (use[c], c < CPU_SETSIZE),
 * lowest number on a tie. -ERANGE if allowed has fewer than n. */
int uv_cpu_pick(const cpu_set_t *allowed, const unsigned *use, unsigned n, cpu_set_t *out);

/* Small file helpers shared by the code above and the monitor. */
int uv_cg_read_file(const char *dir, const char *leaf, char *buf, size_t len);
int uv_cg_write_file(const char *dir, const char *leaf, const char *val);

#endif
