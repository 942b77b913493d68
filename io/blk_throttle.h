/* SPDX-License-Identifier: MIT */
/*
 * An exported disk's I/O limit in the event loop (claims 19, 22; docs/io-partition.md): three
 * token buckets of throttle.h (reads and writes together, reads, writes), a timerfd in the
 * server's epoll set, and the queues waiting for it. A request is let through only when every
 * bucket that applies to it lets it: the total, and its own direction's (a flush or a GET_ID is
 * in no direction: the total alone). So a write limit holds writers while readers run free.
 *
 * A queue over the limit is simply not served: its requests stay in the guest's ring, delayed,
 * never failed, while every other queue, disk and guest of the process is served as before.
 * When the bucket allows the next request the timer kicks each waiting queue's eventfd, and the
 * event loop serves it as after any kick.
 */
#ifndef IO_BLK_THROTTLE_H
#define IO_BLK_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include <ultra/descriptor.h>

#include "throttle.h"
#include "vhost_user.h"

#define BLK_THROTTLE_WAITERS 64 /* queues of one disk waiting at once: 16 clients of 4 queues */

/* Which buckets a request is held to besides the total. */
enum blk_dir {
	BLK_DIR_NONE = 0, /* the total's only (flush, GET_ID, a refused chain) */
	BLK_DIR_READ = 1,
	BLK_DIR_WRITE = 2, /* writes and discards */
	BLK_DIRS = 3,      /* tb[]'s length: tb[BLK_DIR_NONE] is the total */
};

struct blk_throttle {
	struct throttle tb[BLK_DIRS];
	int timer_fd;
	struct vhu_watch watch;
	struct vhu_queue *waiting[BLK_THROTTLE_WAITERS];
	unsigned nwaiting;
	uint64_t delayed; /* times a queue was held back */
	uint64_t missed;  /* times one could not be, for want of room in waiting[] */
};

/* A disk with no limit has no throttle (NULL), and every call below takes NULL as "no limit".
 * lim is the limit as the descriptor holds it (a total and a direction of one kind never both). */
int blk_throttle_new(struct vhu_server *s, const struct uv_disk_limit *lim,
                     struct blk_throttle **out);
void blk_throttle_free(struct blk_throttle *t);
/* Changes *t's limits in place (claims 19, 22; docs/io-partition.md, "Changing a limit"): each
 * bucket keeps what requests already let through owe (throttle_set), requests in flight are not
 * touched, and every held queue is kicked to be looked at again under the new limits. A disk
 * that had no limit gets a throttle, one whose limits are lifted loses it (*t NULL). On failure
 * (no timer for a newly limited disk) nothing changes. */
int blk_throttle_set(struct vhu_server *s, struct blk_throttle **t,
                     const struct uv_disk_limit *lim);
/* Must q wait before its next request, one in direction dir? If so it is kicked once the
 * buckets that apply (the total and dir's) all allow one. */
bool blk_throttle_hold(struct blk_throttle *t, struct vhu_queue *q, enum blk_dir dir);
/* Charges the chain just popped (one request, its data bytes) to the total and to dir's. */
void blk_throttle_charge(struct blk_throttle *t, const struct vq_chain *c, enum blk_dir dir);
/* c is going away: its queues wait no more. */
void blk_throttle_forget(struct blk_throttle *t, const struct vhu_client *c);

#endif
