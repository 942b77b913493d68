/* SPDX-License-Identifier: MIT */
/* The token bucket behind an export's I/O limit (throttle.h). */
#include "throttle.h"

void throttle_init(struct throttle *t, uint64_t iops, uint64_t bytes_per_sec)
{
	*t = (struct throttle){.iops = iops, .bytes_per_sec = bytes_per_sec};
}

static uint64_t wait_one(uint64_t tat, uint64_t now)
{
	return tat > now + THROTTLE_BURST_NS ? tat - now - THROTTLE_BURST_NS : 0;
}

uint64_t throttle_wait(const struct throttle *t, uint64_t now)
{
	uint64_t a = t->iops ? wait_one(t->tat_ops, now) : 0;
	uint64_t b = t->bytes_per_sec ? wait_one(t->tat_bytes, now) : 0;

	return a > b ? a : b;
}

/* A rested bucket starts from now: idle time earns no more than the burst. The division is
 * exact to a nanosecond per request, so rounding never adds up to a rate above the limit. */
static void push(uint64_t *tat, uint64_t now, uint64_t units, uint64_t per_sec)
{
	unsigned __int128 ns = ((unsigned __int128)units * 1000000000u + per_sec - 1) / per_sec;

	if (*tat < now)
		*tat = now;
	*tat += ns > UINT64_MAX - *tat ? UINT64_MAX - *tat : (uint64_t)ns;
}

void throttle_charge(struct throttle *t, uint64_t now, uint64_t bytes)
{
	if (t->iops)
		push(&t->tat_ops, now, 1, t->iops);
	if (t->bytes_per_sec)
		push(&t->tat_bytes, now, bytes, t->bytes_per_sec);
}

/* The bucket at now, in units of the old rate: a debt when tat is beyond now + burst (requests
 * let through that are not paid for yet), else tokens a request may still take at once. Both are
 * kept in units, not in time, at the new rate: a debt rounded up and tokens rounded down, so
 * rounding never lets a request through early, and tokens at most the new burst. */
static uint64_t rescale(uint64_t tat, uint64_t now, uint64_t old_rate, uint64_t new_rate)
{
	uint64_t ref = now + THROTTLE_BURST_NS, from = tat > now ? tat : now;
	unsigned __int128 ns;

	if (!new_rate || !old_rate)
		return 0; /* unlimited, or newly limited: a rested bucket */
	if (from >= ref) {
		ns = ((unsigned __int128)(from - ref) * old_rate + new_rate - 1) / new_rate;
		return ns > UINT64_MAX - ref ? UINT64_MAX : ref + (uint64_t)ns;
	}
	ns = (unsigned __int128)(ref - from) * old_rate / new_rate;
	return ns >= THROTTLE_BURST_NS ? now : ref - (uint64_t)ns;
}

void throttle_set(struct throttle *t, uint64_t now, uint64_t iops, uint64_t bytes_per_sec)
{
	t->tat_ops = rescale(t->tat_ops, now, t->iops, iops);
	t->tat_bytes = rescale(t->tat_bytes, now, t->bytes_per_sec, bytes_per_sec);
	t->iops = iops;
	t->bytes_per_sec = bytes_per_sec;
}
