/* SPDX-License-Identifier: MIT */
/*
 * A direct disk's I/O limit on the host's block layer (claims 19, 22; docs/io-partition.md).
 * The engine does a direct disk's I/O itself (O_DIRECT, io_uring), so the limit can only be the
 * kernel's: the engine's cgroup gets io.max (cgroup v2) or blkio.throttle.* (v1) for the block
 * device that holds the image. The kernel counts per device and per direction: a read or write
 * limit is its direction's, and a total (reads and writes together) is written as the limit of
 * each direction, as it always was (claims 19, 22).
 */
#ifndef ULTRA_LIB_CGIO_H
#define ULTRA_LIB_CGIO_H

#include <stddef.h>
#include <stdint.h>

#include <ultra/descriptor.h>

#include "cgcpu.h"

/* The block device the kernel throttles for image: the disk under its file system (a file) or
 * the disk itself (a block device); for a partition, its whole disk, which is what io.max
 * takes. sys_root is "/sys" but for tests. A file on a file system without a block device of
 * its own (tmpfs, overlay, btrfs, NFS, FUSE: a device number with major 0) cannot be limited:
 * -ENODEV with why saying so; other errors as negative errno, also with why. */
int uv_cg_io_device(const char *image, const char *sys_root, unsigned *major, unsigned *minor,
                    char *why, size_t whylen);

/* Why a host without the controller cannot limit a direct disk (the monitor and the command
 * partition say it alike). */
#define UV_CG_IO_MISSING                                                                           \
	"a direct disk's limit needs the kernel's io controller, and no cgroup v2 mount lists io " \
	"in cgroup.controllers nor is a cgroup v1 hierarchy mounted with blkio (/proc/mounts)"

/* Whether the host can already tell that a limit on a direct disk at image cannot be enforced
 * (docs/io-partition.md, "Changing a limit"): -ENOTSUP without the io controller (mounts_path
 * lists the cgroup mounts), -ENODEV for an image on a file system with no block device; why
 * says which. An image that does not exist yet, or cannot be looked at now, is not refused: 0,
 * and the monitor checks again when the partition starts. */
int uv_cg_io_enforceable(const char *mounts_path, const char *image, const char *sys_root,
                         char *why, size_t whylen);

/* Holds the cgroup dir's I/O to device major:minor to lim: each direction to its own limit, else
 * to the total (lib/disk_limit.h; 0: no limit of that kind; none at all lifts the limit). v2
 * writes io.max's rbps/wbps/riops/wiops, v1 blkio.throttle.{read,write}_{bps,iops}_device. */
int uv_cg_write_io_limits(const char *dir, enum uv_cg_kind kind, unsigned major, unsigned minor,
                          const struct uv_disk_limit *lim);

#endif
