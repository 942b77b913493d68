/* SPDX-License-Identifier: MIT */
/*
 * The I/O partition's control socket (claims 17-19, 53, 55; docs/io-partition.md): how the
 * command partition, which owns placement, adds and removes exports of a running ultra-io.
 *
 * A SOCK_SEQPACKET socket, one message per request and per reply. The command partition opens
 * the image and binds the export's listening socket itself and passes both over SCM_RIGHTS, so a
 * sandboxed ultra-io needs no open, socket or bind to take on a new export.
 *
 *   request  struct uv_ioctl_msg (count 0 or 1) [+ struct uv_ioctl_export]   fds (see op)
 *   reply    struct uv_ioctl_msg (status)       [+ count struct uv_ioctl_export for LIST]
 *
 *   LIST      every export added here, in no particular order
 *   ADD_BLK   fds: listening socket, image (O_RDWR, or O_RDONLY with UV_DEV_F_READONLY);
 *             limit (struct uv_disk_limit, 0: none of a kind) holds the export's requests, in
 *             all and each direction, over all its clients: ultra-io delays what goes beyond
 *             (claims 19, 22); a limit with a total and a direction of one kind is EINVAL
 *   ADD_NET   fds: listening socket; the export's clients become ports of switch sw
 *   REMOVE    by path: clients dropped, socket closed and unlinked, image closed
 *   ADD_DIRECT fd: the image (with O_DIRECT; O_RDWR, or O_RDONLY with UV_DEV_F_READONLY).
 *             Nothing is served: the image is a client's direct disk (the fast path, claims
 *             22, 23, 68, 69), recorded under path (a name, no socket) so the I/O partition,
 *             which owns the storage, knows of it, lists it and exports it to nobody else.
 *             ultra-io keeps only the image's identity, not the fd.
 *   SET_LIMIT by path, no fds: a served disk's limit from now on (0: none of a kind),
 *             changed in place (docs/io-partition.md, "Changing a limit"): its clients stay
 *             connected, requests in flight go on, what the bucket owes is carried over. ENOENT
 *             for no such export, EINVAL for a NIC or a direct disk (whose limit is its
 *             engine's cgroup, set by its monitor). LIST repeats the limit in force.
 *
 * Versions: a new op leaves the version alone (the layout is the same); an ultra-io older than
 * the op answers EOPNOTSUPP, so the caller knows and can fall back (the command partition then
 * re-adds the export with the new limit, as before SET_LIMIT existed). A change to a message's
 * layout or an existing field's meaning bumps it, and both ends must then agree exactly: ultra-io
 * answers a request of another version EPROTO in a reply of its own version, so the command
 * partition can say which two versions met (EPROTONOSUPPORT to its callers).
 *
 * An image (st_dev, st_ino) is in at most one export or direct disk: ADD_BLK and ADD_DIRECT
 * of an image in use are refused with EBUSY.
 *
 * Every export is for one partition (the export's partition field, version 2): ultra-io lets
 * a vhost-user client in only if SO_PEERCRED says it runs as that partition's engine uid
 * (lib/engine_uid.h), and the command partition chowns the socket it binds to that uid, so
 * that engine, and no other, can reach it by path (docs/io-partition.md).
 */
#ifndef ULTRA_IO_CTL_H
#define ULTRA_IO_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <ultra/descriptor.h>

#define UV_IOCTL_MAGIC 0x4c544349u /* "ICTL" little-endian */
/* 2: an export's I/O limit; 3: the partition it is for; 4: the limit read and write apart */
#define UV_IOCTL_VERSION 4u
#define UV_IOCTL_PATH_MAX 108 /* sun_path */
#define UV_IOCTL_EXPORTS_MAX 48

enum uv_ioctl_op {
	UV_IOCTL_LIST = 1,
	UV_IOCTL_ADD_BLK = 2,
	UV_IOCTL_ADD_NET = 3,
	UV_IOCTL_REMOVE = 4,
	UV_IOCTL_ADD_DIRECT = 5,
	UV_IOCTL_SET_LIMIT = 6,
};

struct uv_ioctl_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t hdr_size; /* sizeof(struct uv_ioctl_msg) */
	uint32_t op;       /* enum uv_ioctl_op; a reply repeats it */
	int32_t status;    /* reply: 0 or a negative errno; request: 0 */
	uint32_t count;    /* struct uv_ioctl_export records that follow */
	uint32_t reserved;
};

struct uv_ioctl_export {
	uint32_t kind;      /* UV_DEV_VHOST_USER_BLK, _NET or UV_DEV_DIRECT_BLK */
	uint32_t flags;     /* UV_DEV_F_READONLY */
	uint64_t size;      /* blk: bytes; needed for block devices (fstat says 0), else ignored */
	uint64_t image_dev; /* reply: the image's st_dev and st_ino, so a caller knows which */
	uint64_t image_ino; /* image an export serves */
	char sw[UV_NAME_MAX];             /* net: the switch */
	char path[UV_IOCTL_PATH_MAX + 4]; /* the export's socket (direct: a name): its key */
	uint32_t partition;               /* whose engine alone may connect (its number) */
	uint32_t reserved;                /* 0 */
	struct uv_disk_limit limit;       /* blk: the limit (0: none); LIST repeats it */
};

_Static_assert(sizeof(struct uv_ioctl_msg) == 24, "io control ABI");
_Static_assert(offsetof(struct uv_ioctl_msg, op) == 8, "io control ABI");
_Static_assert(offsetof(struct uv_ioctl_msg, status) == 12, "io control ABI");
_Static_assert(offsetof(struct uv_ioctl_msg, count) == 16, "io control ABI");
_Static_assert(sizeof(struct uv_ioctl_export) == 224, "io control ABI");
_Static_assert(offsetof(struct uv_ioctl_export, reserved) == 180, "io control ABI");
_Static_assert(offsetof(struct uv_ioctl_export, limit) == 184, "io control ABI");
_Static_assert(offsetof(struct uv_ioctl_export, size) == 8, "io control ABI");
_Static_assert(offsetof(struct uv_ioctl_export, image_dev) == 16, "io control ABI");
_Static_assert(offsetof(struct uv_ioctl_export, sw) == 32, "io control ABI");
_Static_assert(offsetof(struct uv_ioctl_export, path) == 64, "io control ABI");
_Static_assert(offsetof(struct uv_ioctl_export, partition) == 176, "io control ABI");

#endif
