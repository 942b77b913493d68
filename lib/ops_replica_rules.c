/* SPDX-License-Identifier: MIT */
/*
 * Which of two operations partitions acts (claim 47; docs/ops-ha.md "Epochs"). Both peers
 * apply the same rules to the same facts, so they never both decide to act on one exchange;
 * what is left (a peer cut off but alive) is the limit docs/ops-ha.md names.
 */
#include <errno.h>
#include <string.h>

#include "ops_replica.h"

static int name_cmp(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

/* a's claim to be active beats b's: the newer term, then the lower name. */
static bool outranks(const struct uv_ops_peer_view *a, const struct uv_ops_peer_view *b)
{
	if (a->epoch != b->epoch)
		return a->epoch > b->epoch;
	return name_cmp(a->name, b->name) < 0;
}

/* Two standbys: the newer term, then the store with more changes, then the lower name. */
static bool wins_election(const struct uv_ops_peer_view *me, const struct uv_ops_peer_view *p)
{
	if (me->epoch != p->epoch)
		return me->epoch > p->epoch;
	if (me->seq != p->seq)
		return me->seq > p->seq;
	return name_cmp(me->name, p->name) < 0;
}

enum uv_ops_action uv_ops_decide(const struct uv_ops_peer_view *me,
                                 const struct uv_ops_peer_view *peer, long long silent_ms,
                                 unsigned dead_ms)
{
	if (!peer)
		return me->role == UV_OPS_STANDBY && silent_ms >= (long long)dead_ms
		           ? UV_OPS_TAKE_OVER
		           : UV_OPS_STAY;
	if (me->role == UV_OPS_ACTIVE) {
		if (peer->epoch > me->epoch)
			return UV_OPS_STEP_DOWN;
		if (peer->role == UV_OPS_ACTIVE && outranks(peer, me))
			return UV_OPS_STEP_DOWN;
		return UV_OPS_STAY;
	}
	/* A standby follows an active peer, whatever its epoch: if ours is higher, the peer
	 * steps down when it reads our request, and the election below follows. */
	if (peer->role == UV_OPS_STANDBY && wins_election(me, peer))
		return UV_OPS_TAKE_OVER;
	return UV_OPS_STAY;
}

uint64_t uv_ops_next_epoch(uint64_t mine, uint64_t peer_seen)
{
	return (mine > peer_seen ? mine : peer_seen) + 1;
}

const char *uv_ops_role_name(enum uv_ops_role r)
{
	return r == UV_OPS_ACTIVE ? "active" : "standby";
}

int uv_ops_role_parse(const char *s, enum uv_ops_role *out)
{
	if (s && !strcmp(s, "active"))
		*out = UV_OPS_ACTIVE;
	else if (s && !strcmp(s, "standby"))
		*out = UV_OPS_STANDBY;
	else
		return -EINVAL;
	return 0;
}
