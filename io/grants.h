/* SPDX-License-Identifier: MIT */
/* Does a client's memory table claim only what the resource database grants its partition
 * (claims 20, 21)? Pure checks over what uvlink.c fetched; no system calls. */
#ifndef IO_GRANTS_H
#define IO_GRANTS_H

#include <stdbool.h>
#include <stdint.h>

#include "resdb.h"
#include "ultra/descriptor.h"
#include "ultra/uvctl.h"
#include "ultra/vhost_user.h"

/* A memory object as the kernel knows it: the file (device, inode) behind an fd, and its
 * size. Two fds name the same memory exactly when device and inode agree, whichever file
 * description they came from (QEMU reopens its RAM through /proc/self/fd). */
struct io_obj {
	uint64_t dev;
	uint64_t ino;
	uint64_t size;
};

/* Memory grants, channel objects and channel-device files of one partition. */
#define IO_GRANTS_MAX (2 * UV_CTL_FDS_MAX + UV_DEVICES_MAX)
struct io_grants {
	unsigned n;
	struct io_obj o[IO_GRANTS_MAX];
};

/* Why a region was refused; io_refusal_str() ends in "to", for the partition's number. */
enum io_refusal {
	IO_REF_NONE = 0,
	IO_REF_NOT_GRANTED, /* its object is none of the partition's */
	IO_REF_OUTSIDE,     /* [mmap_offset, mmap_offset + size) leaves the granted object */
};
const char *io_refusal_str(enum io_refusal why);

/* 0 when every region r[i] (backed by objs[i]) lies in one of g's objects; otherwise -EPERM,
 * with the first bad region in *bad and the reason in *why. */
int io_grants_check(const struct io_grants *g, const struct vhu_region *r,
                    const struct io_obj *objs, unsigned n, unsigned *bad, enum io_refusal *why);

/* The partition whose descriptor has a device of kind (UV_DEV_VHOST_USER_BLK or _NET) whose
 * path is_export() accepts. 0 and *owner; -ENOENT if none; -ENOTUNIQ if several partitions
 * claim it (nobody's, then: a client could not be told apart); -EAGAIN if the writer kept
 * changing the region. */
int io_grants_owner(const struct uv_resdb_view *v, uint32_t kind,
                    bool (*is_export)(const char *path, void *ctx), void *ctx, uint32_t *owner);

#endif
