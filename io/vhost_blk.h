/* SPDX-License-Identifier: MIT */
/* virtio-blk over vhost-user (claims 17-21, 63-67): requests from a client's queues onto one
 * disk backend shared by every client of the export. */
#ifndef IO_VHOST_BLK_H
#define IO_VHOST_BLK_H

#include <ultra/descriptor.h>

#include "disk.h"
#include "vhost_user.h"

#define VHOST_BLK_QUEUES 4
#define VHOST_BLK_SEG_MAX 126 /* QEMU's default queue size, less header and status */

struct blk_req;
struct blk_inflight;
struct blk_throttle;

struct vhost_blk {
	struct vhu_device dev; /* first: the server hands us &dev */
	struct disk *disk;
	struct blk_req *req;           /* scratch for the request being served (32 KiB of iovecs) */
	struct blk_inflight *inflight; /* reads and writes on the disk, completed later */
	unsigned nqueues;
	struct blk_throttle *throttle; /* the export's I/O limit (blk_throttle.h); NULL: none */
	uint64_t refused;              /* chains refused (bad layout, range or address) */
	uint64_t requests;             /* chains completed */
	uint64_t batched; /* of those, reads and writes queued while another was in flight */
};

/* Takes ownership of disk. */
int vhost_blk_new(const char *name, struct disk *disk, struct vhost_blk **out);
void vhost_blk_free(struct vhost_blk *b);
/* Limits the export's requests of all its clients, in all and in each direction (lim: 0 no
 * limit of that kind); what goes beyond waits in the event loop of s (claims 19, 22). Called again
 * on a served export it changes the limit live: requests in flight go on, held queues are looked at
 * again (blk_throttle_set). */
int vhost_blk_limit(struct vhost_blk *b, struct vhu_server *s, const struct uv_disk_limit *lim);

#endif
