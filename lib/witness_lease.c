/* SPDX-License-Identifier: MIT */
/* The witness's lease rules (claim 47; docs/ops-ha.md "The witness"). Pure: the caller brings
 * the clock. Together with the peer's own vote they make a majority of three: an active
 * operations partition acts only while it holds the lease or its peer acknowledges it, and a
 * standby takes over only with the lease. */
#include <string.h>

#include "witness.h"

void uv_wit_lease_restart(struct uv_wit_lease *l, const struct uv_wit_record *rec, long long now_ms)
{
	l->rec = *rec;
	l->expires_ms = rec->holder[0] ? now_ms + rec->lease_ms : now_ms;
}

enum uv_wit_verdict uv_wit_lease_ask(const struct uv_wit_lease *l, const struct uv_wit_ask *a,
                                     long long now_ms, struct uv_wit_lease *next)
{
	bool mine = l->rec.holder[0] && !strcmp(l->rec.holder, a->name);
	struct uv_wit_lease n = *l;
	long long until = now_ms + a->lease_ms;

	if (a->epoch == 0 || (mine && a->epoch < l->rec.epoch))
		return UV_WIT_STALE; /* an older incarnation of the holder */
	if (!mine) {
		if (l->rec.holder[0] && now_ms < l->expires_ms)
			return UV_WIT_HELD;
		if (a->epoch <= l->rec.epoch)
			return UV_WIT_STALE;
		memset(n.rec.holder, 0, sizeof(n.rec.holder));
		memcpy(n.rec.holder, a->name, strnlen(a->name, sizeof(n.rec.holder) - 1));
	}
	n.rec.epoch = a->epoch;
	n.rec.lease_ms = a->lease_ms;
	/* A renewal never shortens what was granted: the holder may be acting on it. */
	n.expires_ms = mine && l->expires_ms > until ? l->expires_ms : until;
	*next = n;
	return UV_WIT_GRANTED;
}

long long uv_wit_lease_left(const struct uv_wit_lease *l, long long now_ms)
{
	return l->rec.holder[0] && l->expires_ms > now_ms ? l->expires_ms - now_ms : 0;
}

long long uv_wit_holder_until(long long sent_ms, uint32_t lease_ms)
{
	return sent_ms + lease_ms - lease_ms / 4;
}
