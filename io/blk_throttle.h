/* SPDX-License-Identifier: MIT */
/*
 * An exported disk's I/O limit in the event loop (claim 19; docs/io-partition.md): the token
 * bucket of throttle.h, a timerfd in the server's epoll set, and the queues waiting for it.
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

#include "throttle.h"
#include "vhost_user.h"

#define BLK_THROTTLE_WAITERS 64 /* queues of one disk waiting at once: 16 clients of 4 queues */

struct blk_throttle {
	struct throttle tb;
	int timer_fd;
	struct vhu_watch watch;
	struct vhu_queue *waiting[BLK_THROTTLE_WAITERS];
	unsigned nwaiting;
	uint64_t delayed; /* times a queue was held back */
	uint64_t missed;  /* times one could not be, for want of room in waiting[] */
};

/* A disk with no limit has no throttle (NULL), and every call below takes NULL as "no limit". */
int blk_throttle_new(struct vhu_server *s, uint64_t iops, uint64_t bytes_per_sec,
                     struct blk_throttle **out);
void blk_throttle_free(struct blk_throttle *t);
/* Changes *t's limits in place (claim 19; docs/io-partition.md, "Changing a limit"): the
 * bucket keeps what requests already let through owe (throttle_set), requests in flight are not
 * touched, and every held queue is kicked to be looked at again under the new limits. A disk
 * that had no limit gets a throttle, one whose limits are lifted loses it (*t NULL). On failure
 * (no timer for a newly limited disk) nothing changes. */
int blk_throttle_set(struct vhu_server *s, struct blk_throttle **t, uint64_t iops,
                     uint64_t bytes_per_sec);
/* Must q wait before its next request? If so it is kicked once the bucket allows one. */
bool blk_throttle_hold(struct blk_throttle *t, struct vhu_queue *q);
/* Charges the chain just popped (one request, its data bytes). */
void blk_throttle_charge(struct blk_throttle *t, const struct vq_chain *c);
/* c is going away: its queues wait no more. */
void blk_throttle_forget(struct blk_throttle *t, const struct vhu_client *c);

#endif
