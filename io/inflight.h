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
	uint32_t entries; /* per queue region (desc_num): at least any ring it tracks */
};

/* Checks a SET_INFLIGHT_FD (or GET_INFLIGHT_FD, where size and offset are ignored) payload:
 * 1..max_queues queues, a queue size a power of two up to VRING_MAX_SIZE, and for SET a
 * page-aligned offset whose end fits a signed 64-bit file offset. */
int inflight_check(const struct vhu_inflight *p, unsigned max_queues, int set);

/* Entries per queue region for a front end's queue size. */
uint32_t inflight_entries(uint16_t queue_size);

/* GET_INFLIGHT_FD: a fresh sealed memfd holding every queue region of inflight_entries()
 * entries (headers written, entries zero), mapped into *out; *fd and *reply are what the front
 * end is sent. */
int inflight_create(const struct vhu_inflight *want, unsigned max_queues, struct inflight *out,
                    int *fd, struct vhu_inflight *reply);

/* SET_INFLIGHT_FD: maps the region the front end hands back. The fd must be a memfd sealed
 * against shrinking and long enough (so no access can fault); the first queue header's desc_num
 * (a power of two, at least queue_size, at most VRING_MAX_SIZE) must make mmap_size exactly
 * nqueues queue regions, and every header must name version 1 and that desc_num. *out
 * untouched on error. */
int inflight_map(const struct vhu_inflight *p, int fd, unsigned max_queues, struct inflight *out);

void inflight_unmap(struct inflight *f);

/* Queue region i, or NULL past the end. */
struct vhu_inflight_queue *inflight_queue(const struct inflight *f, unsigned i);

/* Reconnect: repairs the last completion a dead back end published without clearing its entry
 * (the region's used_idx differs from the ring's), then lists the heads still marked in flight
 * in heads[] (num entries, num the ring's size, at most entries) oldest first. Returns how many,
 * or -EINVAL for a header that does not describe entries entries, a ring larger than that, an
 * entry that is neither 0 nor 1, or one marked for a head the ring does not have; *max_counter
 * is the largest counter seen (the next back end counts on from it). */
int inflight_scan(struct vhu_inflight_queue *q, uint32_t entries, uint32_t num,
                  uint16_t ring_used_idx, uint16_t *heads, uint64_t *max_counter);

#endif
