/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user dirty log (live migration, claim 44; vhost-user.rst "Migration"): while the
 * front end migrates, every guest page the back end writes (buffers the device fills, the used
 * ring) must be marked in a bitmap the front end shares with us, or the target gets a stale
 * copy of it. Marking is here, inline, so the ring code that writes guest memory can call it;
 * the mapping is dirty_log.c's.
 */
#ifndef IO_DIRTY_LOG_H
#define IO_DIRTY_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "ultra/vhost_user.h"

struct dirty_log {
	uint8_t *bits; /* NULL until SET_LOG_BASE */
	uint64_t len;  /* bytes of bitmap: pages below len * 8 can be marked */
	void *map;
	uint64_t map_len;
	bool on; /* VHOST_F_LOG_ALL negotiated and a log mapped: mark */
};

static inline bool dirty_log_on(const struct dirty_log *l) { return l && l->on && l->bits; }

/* Marks every page of [gpa, gpa + len): the bits are set atomically, since the front end
 * clears them concurrently. A range that wraps 2^64 or a page beyond the log is ignored past
 * that point (such an address was never guest memory the front end sized the log for). */
static inline void dirty_log_mark(const struct dirty_log *l, uint64_t gpa, uint64_t len)
{
	uint64_t page, last;

	if (!dirty_log_on(l) || len == 0)
		return;
	last = gpa + (len - 1);
	if (last < gpa)
		last = UINT64_MAX; /* wraps: up to the end of the address space */
	last /= VHU_LOG_PAGE;
	for (page = gpa / VHU_LOG_PAGE; page <= last && page / 8 < l->len; page++)
		__atomic_fetch_or(&l->bits[page / 8], (uint8_t)(1u << (page % 8)),
		                  __ATOMIC_RELAXED);
}

/* Maps the front end's log (fd: at least offset + size bytes), replacing l's; 0, or a
 * negative errno with l as it was. The fd stays the caller's. */
int dirty_log_map(struct dirty_log *l, int fd, uint64_t size, uint64_t offset);
void dirty_log_unmap(struct dirty_log *l);

#endif
