/* SPDX-License-Identifier: MIT */
/*
 * A token bucket for one exported disk's I/O limit (claim 19: one guest's requests must not take
 * a shared disk from the others), in requests and in bytes a second. No clock of its own: the
 * caller passes the time, so tests drive it with a fake one.
 *
 * Kept as a theoretical arrival time per dimension (GCRA): each request pushes it on by its
 * cost (1/iops seconds, bytes/bytes_per_sec seconds); a request may start while that time is
 * at most THROTTLE_BURST_NS ahead of now. A disk idle for a while may so go at full speed for
 * that long, and the admission does not depend on the request's size, so a request larger than
 * a second's budget still goes when its turn comes; what it costs beyond the budget its
 * followers wait for. Over any long interval the rate is the limit.
 */
#ifndef IO_THROTTLE_H
#define IO_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

/* The burst a rested disk may take at once: a tenth of a second's budget, QEMU's default. */
#define THROTTLE_BURST_NS 100000000ull

struct throttle {
	uint64_t iops;          /* 0: no limit on requests */
	uint64_t bytes_per_sec; /* 0: no limit on bytes */
	uint64_t tat_ops;       /* theoretical arrival times, ns on the caller's clock */
	uint64_t tat_bytes;
};

void throttle_init(struct throttle *t, uint64_t iops, uint64_t bytes_per_sec);
static inline bool throttle_limited(const struct throttle *t)
{
	return t->iops || t->bytes_per_sec;
}
/* 0 when a request may start at now; else how many ns until one may. */
uint64_t throttle_wait(const struct throttle *t, uint64_t now);
/* A request of bytes started at now. */
void throttle_charge(struct throttle *t, uint64_t now, uint64_t bytes);
/* New limits from now on (docs/io-partition.md, "Changing a limit"). The bucket's state is
 * carried over in requests and bytes, not in time: what requests already let through still owe
 * is paid off at the new rate, and the tokens a rested bucket holds stay as many (at most the
 * new burst), so a change neither forgets a debt nor hands out tokens twice. A dimension newly
 * limited starts rested; one no longer limited forgets its debt. */
void throttle_set(struct throttle *t, uint64_t now, uint64_t iops, uint64_t bytes_per_sec);

#endif
