/* SPDX-License-Identifier: MIT */
/*
 * Direct disks' I/O limits (claims 19, 22; docs/io-partition.md). A direct disk's data never
 * passes through the I/O partition, so its limit is the host kernel's: QEMU lives in the cgroup
 * ultravisor/<name> of the io controller (cgroup v2 io.max, v1 blkio.throttle.*), limited on the
 * block device that holds each limited image. A limit that cannot be enforced, for want of the
 * controller or of a real block device under the image, stops the start with the reason: a
 * partition never runs believing in a limit that is not there. A running partition's limit is
 * changed in place (mon_blkio_set): the same checks, then the group's files; on failure the old
 * limit is written back, so what the kernel holds is always one of the two.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "disk_limit.h"
#include "monitor.h"

/* The disk request behind a direct-blk grant: the grant names its image. */
static int request_of(const struct uv_partition_desc *d, const char *image)
{
	for (uint32_t i = 0; i < d->n_disk && i < UV_DISKS_MAX; i++)
		if ((d->disk[i].flags & UV_DISK_F_DIRECT) &&
		    !strncmp(d->disk[i].image, image, sizeof(d->disk[i].image)))
			return (int)i;
	return -1;
}

/* Where disk k's limit is held: the device under its image, which no other limited direct
 * disk of the partition may share (the kernel limits a group per device). */
static int device_of(struct monitor *m, unsigned k, unsigned *ma, unsigned *mi, char *err,
                     size_t errlen)
{
	const char *image = m->desc->disk[k].image;
	char why[512];
	int r;

	if (!m->cg_io_kind) {
		snprintf(err, errlen, "disks[%u].limits: %s", k, UV_CG_IO_MISSING);
		return -ENOTSUP;
	}
	if ((r = uv_cg_io_device(image, "/sys", ma, mi, why, sizeof(why)))) {
		snprintf(err, errlen, "disks[%u].limits: %s", k, why);
		return r;
	}
	for (unsigned i = 0; i < m->n_io_limit; i++)
		if (m->io_limit[i].disk != k && m->io_limit[i].major == *ma &&
		    m->io_limit[i].minor == *mi) {
			snprintf(
			    err, errlen,
			    "disks[%u].limits: %s is on device %u:%u like another limited direct "
			    "disk; the kernel limits a partition per device, so their limits "
			    "cannot be kept apart",
			    k, image, *ma, *mi);
			return -EINVAL;
		}
	return 0;
}

static int plan_one(struct monitor *m, unsigned k, const struct uv_disk_limit *l, char *err,
                    size_t errlen)
{
	unsigned ma, mi;
	int r;

	if ((r = device_of(m, k, &ma, &mi, err, errlen)))
		return r;
	m->io_limit[m->n_io_limit++] = (struct mon_io_limit){k, ma, mi, *l};
	return 0;
}

int mon_blkio_plan(struct monitor *m, char *err, size_t errlen)
{
	const struct uv_partition_desc *d = m->desc;
	struct uv_cg_layout cg;
	int r;

	m->n_io_limit = 0;
	m->cg_io[0] = 0;
	if ((r = uv_cg_detect("/proc/mounts", &cg))) {
		snprintf(err, errlen, "/proc/mounts: %s", strerror(-r));
		return r;
	}
	m->cg_io_kind = cg.io_kind;
	snprintf(m->cg_io_root, sizeof(m->cg_io_root), "%s", cg.io_root);
	if (cg.io_kind && (r = uv_cg_path(cg.io_root, d->name, m->cg_io, sizeof(m->cg_io)))) {
		snprintf(err, errlen, "io cgroup for partition \"%s\": %s", d->name, strerror(-r));
		return r;
	}
	for (uint32_t i = 0; i < d->n_dev && i < UV_DEVICES_MAX; i++) {
		int k = d->dev[i].kind == UV_DEV_DIRECT_BLK ? request_of(d, d->dev[i].path) : -1;

		if (k < 0 || uv_disk_limit_none(&d->disk_limit[k]))
			continue;
		if ((r = plan_one(m, (unsigned)k, &d->disk_limit[k], err, errlen)))
			return r;
	}
	return 0;
}

static bool group_exists(const char *dir)
{
	struct stat st;

	return dir[0] && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

static int apply(struct monitor *m, char *err, size_t errlen)
{
	int r = uv_cg_create(m->cg_io_root, m->cg_io, m->cg_io_kind, "io");

	for (unsigned i = 0; !r && i < m->n_io_limit; i++) {
		const struct mon_io_limit *l = &m->io_limit[i];

		r = uv_cg_write_io_limits(m->cg_io, m->cg_io_kind, l->major, l->minor, &l->lim);
	}
	if (!r)
		r = uv_cg_enter(m->cg_io, m->qemu_pid);
	if (r)
		snprintf(err, errlen, "io cgroup %s: %s", m->cg_io, strerror(-r));
	return r;
}

/* A total is held each way by the kernel (it counts reads and writes apart): said so. */
static void say_held(const struct monitor *m, const struct mon_io_limit *l, const char *when)
{
	char what[200];

	uv_disk_limit_describe(&l->lim, what, sizeof(what));
	fprintf(stderr,
	        "monitor[%s]: direct disk %u (%u:%u)%s held to %s (a total each way) by %s\n",
	        m->desc->name, l->disk, l->major, l->minor, when, what, m->cg_io);
}

int mon_blkio_start(struct monitor *m, char *err, size_t errlen)
{
	int r;

	/* A group left by an engine that ended unwatched is stale (on cgroup v2 it is the cpu
	 * group, which mon_cpu_start has just made afresh: not stale). */
	if (m->cg_io[0] && strcmp(m->cg_io, m->cg_cpu) &&
	    (r = uv_cg_remove(m->cg_io_root, m->cg_io))) {
		snprintf(err, errlen, "removing a stale cgroup %s: %s", m->cg_io, strerror(-r));
		return r;
	}
	if (!m->n_io_limit)
		return 0;
	if ((r = apply(m, err, errlen)))
		return r;
	for (unsigned i = 0; i < m->n_io_limit; i++)
		say_held(m, &m->io_limit[i], "");
	return 0;
}

static int entry_of(const struct monitor *m, unsigned k);

/* A direct disk without a limit in the database holds none in the group either. Best effort:
 * a disk whose device cannot be found now had no limit the kernel could hold. */
static void lift_unlimited(struct monitor *m)
{
	char why[512];
	unsigned ma, mi;

	for (unsigned k = 0; k < m->desc->n_disk && k < UV_DISKS_MAX; k++)
		if (mon_blkio_is_direct(m, k) && entry_of(m, k) < 0 &&
		    uv_cg_io_device(m->desc->disk[k].image, "/sys", &ma, &mi, why, sizeof(why)) ==
		        0)
			uv_cg_write_io_limits(m->cg_io, m->cg_io_kind, ma, mi,
			                      &(struct uv_disk_limit){0});
}

int mon_blkio_reattach(struct monitor *m, char *err, size_t errlen)
{
	int r;

	if ((r = mon_blkio_plan(m, err, errlen)))
		return r;
	/* The engine keeps its group while no monitor watches, but the limits written again are
	 * the database's: set-disk-limits may have changed them meanwhile, lifted ones too (a
	 * group lost is made afresh). */
	if (group_exists(m->cg_io))
		lift_unlimited(m);
	return m->n_io_limit ? apply(m, err, errlen) : 0;
}

bool mon_blkio_is_direct(const struct monitor *m, unsigned k)
{
	const struct uv_partition_desc *d = m->desc;

	if (k >= d->n_disk || k >= UV_DISKS_MAX || !(d->disk[k].flags & UV_DISK_F_DIRECT))
		return false;
	for (uint32_t i = 0; i < d->n_dev && i < UV_DEVICES_MAX; i++)
		if (d->dev[i].kind == UV_DEV_DIRECT_BLK && request_of(d, d->dev[i].path) == (int)k)
			return true;
	return false;
}

static int entry_of(const struct monitor *m, unsigned k)
{
	for (unsigned i = 0; i < m->n_io_limit; i++)
		if (m->io_limit[i].disk == k)
			return (int)i;
	return -1;
}

struct uv_disk_limit mon_blkio_limit(const struct monitor *m, unsigned k)
{
	int i = entry_of(m, k);

	if (i < 0)
		return (struct uv_disk_limit){0};
	return m->io_limit[i].lim;
}

/* The group holds l, with QEMU in it. */
static int write_one(struct monitor *m, const struct mon_io_limit *l)
{
	int r = uv_cg_create(m->cg_io_root, m->cg_io, m->cg_io_kind, "io");

	if (!r)
		r = uv_cg_write_io_limits(m->cg_io, m->cg_io_kind, l->major, l->minor, &l->lim);
	if (!r && uv_cg_holds(m->cg_io, m->qemu_pid) != 1)
		r = uv_cg_enter(m->cg_io, m->qemu_pid);
	return r;
}

int mon_blkio_set(struct monitor *m, unsigned k, const struct uv_disk_limit *lim, char *err,
                  size_t errlen)
{
	int i = entry_of(m, k), r;
	struct mon_io_limit old, now;

	if (!mon_blkio_is_direct(m, k)) {
		snprintf(err, errlen, "disks[%u] is not a direct disk of partition %s", k,
		         m->desc->name);
		return -EINVAL;
	}
	if (m->qemu_pid <= 0) {
		snprintf(err, errlen, "partition is not running (no engine)");
		return -ESRCH;
	}
	if (uv_disk_limit_check(lim, "limits", err, errlen))
		return -EINVAL;
	if (i < 0 && uv_disk_limit_none(lim))
		return 0; /* none before, none now */
	if (i < 0) {
		if (m->n_io_limit >= UV_DISKS_MAX) {
			snprintf(err, errlen, "disks[%u]: no room for another limit", k);
			return -ENOSPC;
		}
		now = (struct mon_io_limit){.disk = k};
		if ((r = device_of(m, k, &now.major, &now.minor, err, errlen)))
			return r;
		old = now; /* nothing held: lifting is the way back */
	} else {
		old = now = m->io_limit[i];
	}
	now.lim = *lim;
	if ((r = write_one(m, &now))) {
		snprintf(err, errlen, "io cgroup %s: %s", m->cg_io, strerror(-r));
		if (write_one(m, &old))
			fprintf(stderr,
			        "monitor[%s]: disks[%u]: the old limit could not be put back "
			        "either\n",
			        m->desc->name, k);
		return r;
	}
	if (i < 0)
		i = (int)m->n_io_limit++;
	m->io_limit[i] = now;
	if (uv_disk_limit_none(lim)) /* lifted: written as no limit, forgotten */
		m->io_limit[i] = m->io_limit[--m->n_io_limit];
	say_held(m, &now, " now");
	return 0;
}

void mon_blkio_release(struct monitor *m)
{
	int r;

	if (!m->cg_io[0] || !strcmp(m->cg_io, m->cg_cpu) || !group_exists(m->cg_io))
		return;
	if ((r = uv_cg_remove(m->cg_io_root, m->cg_io)))
		fprintf(stderr, "monitor[%s]: cannot remove %s: %s\n", m->desc->name, m->cg_io,
		        strerror(-r));
}
