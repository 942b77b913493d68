/* SPDX-License-Identifier: MIT */
/* The inflight region (vhost-user INFLIGHT_SHMFD; claim 24): shared memory the front end keeps
 * across back-end deaths, in which the back end marks every request it has popped and not yet
 * completed, so the next back end (a restart, or the standby of a redundant pair) redoes exactly
 * those, in the order they were first taken. The front end may write the region at any time:
 * every field read from it is read once and checked. */
#ifndef IO_INFLIGHT_H
#define IO_INFLIGHT_H

#include <stdint.h>

#include "ultra/vhost_user.h"

struct inflight {
	uint8_t *base; /* NULL when none */
	uint64_t size;
	uint16_t nqueues;
	uint16_t qsize;
};

/* Checks a SET_INFLIGHT_FD (or GET_INFLIGHT_FD, where size and offset are ignored) payload:
 * 1..max_queues queues, a queue size a power of two up to VRING_MAX_SIZE, and for SET a size
 * of exactly nqueues queue regions at a page-aligned offset that does not wrap. */
int inflight_check(const struct vhu_inflight *p, unsigned max_queues, int set);

/* GET_INFLIGHT_FD: a fresh sealed memfd holding every queue region (headers written, entries
 * zero), mapped into *out; *fd and *reply are what the front end is sent. */
int inflight_create(const struct vhu_inflight *want, unsigned max_queues, struct inflight *out,
                    int *fd, struct vhu_inflight *reply);

/* SET_INFLIGHT_FD: maps the region the front end hands back. The fd must be a memfd sealed
 * against shrinking and long enough (so no access can fault); every queue header must name
 * version 1 and the queue size. *out untouched on error. */
int inflight_map(const struct vhu_inflight *p, int fd, unsigned max_queues, struct inflight *out);

void inflight_unmap(struct inflight *f);

/* Queue region i, or NULL past the end. */
struct vhu_inflight_queue *inflight_queue(const struct inflight *f, unsigned i);

/* Reconnect: repairs the last completion a dead back end published without clearing its entry
 * (the region's used_idx differs from the ring's), then lists the heads still marked in flight
 * in heads[] (num entries) oldest first. Returns how many, or -EINVAL for a header that does not
 * describe num entries or an entry that is neither 0 nor 1; *max_counter is the largest counter
 * seen (the next back end counts on from it). */
int inflight_scan(struct vhu_inflight_queue *q, uint32_t num, uint16_t ring_used_idx,
                  uint16_t *heads, uint64_t *max_counter);

#endif
