/* SPDX-License-Identifier: MIT */
/*
 * Direct disks' I/O limits (claims 19, 22; docs/io-partition.md). A direct disk's data never
 * passes through the I/O partition, so its limit is the host kernel's: QEMU lives in the cgroup
 * ultravisor/<name> of the io controller (cgroup v2 io.max, v1 blkio.throttle.*), limited on the
 * block device that holds each limited image. A limit that cannot be enforced, for want of the
 * controller or of a real block device under the image, stops the start with the reason: a
 * partition never runs believing in a limit that is not there.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

static int plan_one(struct monitor *m, unsigned k, const struct uv_disk_limit *l, char *err,
                    size_t errlen)
{
	const char *image = m->desc->disk[k].image;
	unsigned ma, mi;
	char why[512];
	int r;

	if (!m->cg_io_kind) {
		snprintf(
		    err, errlen,
		    "disks[%u].limits: a direct disk's limit needs the kernel's io controller, "
		    "and no cgroup v2 mount lists io in cgroup.controllers nor is a cgroup v1 "
		    "hierarchy mounted with blkio (/proc/mounts)",
		    k);
		return -ENOTSUP;
	}
	if ((r = uv_cg_io_device(image, "/sys", &ma, &mi, why, sizeof(why)))) {
		snprintf(err, errlen, "disks[%u].limits: %s", k, why);
		return r;
	}
	for (unsigned i = 0; i < m->n_io_limit; i++)
		if (m->io_limit[i].major == ma && m->io_limit[i].minor == mi) {
			snprintf(
			    err, errlen,
			    "disks[%u].limits: %s is on device %u:%u like another limited direct "
			    "disk; the kernel limits a partition per device, so their limits "
			    "cannot be kept apart",
			    k, image, ma, mi);
			return -EINVAL;
		}
	m->io_limit[m->n_io_limit++] = (struct mon_io_limit){ma, mi, l->iops, l->bytes_per_sec};
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

		if (k < 0 || (!d->disk_limit[k].iops && !d->disk_limit[k].bytes_per_sec))
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

		r = uv_cg_write_io_limits(m->cg_io, m->cg_io_kind, l->major, l->minor, l->iops,
		                          l->bytes_per_sec);
	}
	if (!r)
		r = uv_cg_enter(m->cg_io, m->qemu_pid);
	if (r)
		snprintf(err, errlen, "io cgroup %s: %s", m->cg_io, strerror(-r));
	return r;
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
		fprintf(
		    stderr,
		    "monitor[%s]: direct disk I/O on %u:%u held to %llu requests and %llu bytes "
		    "a second each way (0: no limit) by %s\n",
		    m->desc->name, m->io_limit[i].major, m->io_limit[i].minor,
		    (unsigned long long)m->io_limit[i].iops,
		    (unsigned long long)m->io_limit[i].bytes_per_sec, m->cg_io);
	return 0;
}

int mon_blkio_reattach(struct monitor *m, char *err, size_t errlen)
{
	int r;

	if ((r = mon_blkio_plan(m, err, errlen)) || !m->n_io_limit)
		return r;
	/* The engine keeps its group, and the group its limits, while no monitor watches; a group
	 * lost meanwhile is made afresh. */
	if (group_exists(m->cg_io) && uv_cg_holds(m->cg_io, m->qemu_pid) == 1)
		return 0;
	return apply(m, err, errlen);
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
