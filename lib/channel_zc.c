/* SPDX-License-Identifier: MIT */
/*
 * In-place I/O (claims 4, 51, 62): the consumer reads a message where it lies in the ring, the
 * producer writes its payload straight into the ring, so neither needs a buffer of its own.
 * The rules of the copying API hold: geometry is our private copy, every index and header read
 * from shared memory is checked before a pointer is formed from it, and the pointers handed out
 * lie inside the message's validated slots. What they do not give is a private copy: the peer can
 * still write those bytes while we look at them (see docs/channels.md).
 */
#include "channel_priv.h"

#include <errno.h>
#include <string.h>

/* Producer: 0 once `need` slots are free, refreshing the consumer's head only when our copy
 * says they are not, so a stream of sends does not pull the consumer's line every time. */
static int make_room(struct uv_chan *ch, struct uv_chan_q *q, uint32_t need)
{
	int r;

	if (q->slot_count - (q->tail - q->head) >= need)
		return 0;
	r = uv_chan_load_head(ch, q);
	if (r)
		return r;
	return q->slot_count - (q->tail - q->head) >= need ? 0 : -EAGAIN;
}

/* A message that would run past the ring's end goes to slot 0: the slots up to the end become a
 * skip marker, published at once so the consumer can free them while we wait for room. */
static int skip_to_start(struct uv_chan *ch, struct uv_chan_q *q)
{
	struct uv_chan_msg_hdr mh = {.len = 0, .flags = UV_CHAN_MSG_SKIP};
	uint32_t n = q->slot_count - (q->tail & (q->slot_count - 1));
	int r = make_room(ch, q, n);

	if (r)
		return r;
	memcpy(q->slots + uv_chan_ring_pos(q, q->tail), &mh, sizeof(mh));
	q->tail += n;
	uv_chan_publish(ch, &q->ctl->tail, q->tail, &q->ctl->cons_waiting);
	return 0;
}

int uv_chan_send_reserve(struct uv_chan *ch, unsigned qi, size_t len, void **p)
{
	struct uv_chan_q *q = uv_chan_queue(ch, qi, 1);
	struct uv_chan_msg_hdr mh = {0};
	uint32_t need;
	int r;

	if (!q || !p)
		return -EINVAL;
	if (ch->broken)
		return ch->broken;
	r = uv_chan_peer_gone(ch);
	if (r)
		return r < 0 ? r : -EPIPE;
	if (len > q->max_len)
		return -EMSGSIZE;
	q->reserved = 0;
	need = uv_chan_msg_slots(q, len);
	if (need > q->slot_count - (q->tail & (q->slot_count - 1))) {
		r = skip_to_start(ch, q);
		if (r)
			return r;
	}
	r = make_room(ch, q, need);
	if (r)
		return r;
	mh.len = (uint32_t)len;
	memcpy(q->slots + uv_chan_ring_pos(q, q->tail), &mh, sizeof(mh));
	q->reserved = need;
	*p = q->slots + uv_chan_ring_pos(q, q->tail) + UV_CHAN_MSG_HDR_SIZE;
	return 0;
}

int uv_chan_send_commit(struct uv_chan *ch, unsigned qi)
{
	struct uv_chan_q *q = uv_chan_queue(ch, qi, 1);

	if (!q || !q->reserved)
		return -EINVAL;
	if (ch->broken)
		return ch->broken;
	q->tail += q->reserved;
	q->reserved = 0;
	uv_chan_publish(ch, &q->ctl->tail, q->tail, &q->ctl->cons_waiting);
	ch->stats.sent++;
	return 0;
}

/* Describes the message at head: one piece, or two when a copying sender wrapped it. */
static void view_of(const struct uv_chan_q *q, uint32_t len, struct uv_chan_view *v)
{
	size_t pos = uv_chan_ring_pos(q, q->head) + UV_CHAN_MSG_HDR_SIZE;
	size_t first = q->ring_bytes - pos;

	v->data = q->slots + pos;
	v->len = len;
	v->data_len = len < first ? len : first;
	v->wrap = len > first ? q->slots : NULL;
	v->wrap_len = len - v->data_len;
}

int uv_chan_recv_peek(struct uv_chan *ch, unsigned qi, struct uv_chan_view *v)
{
	struct uv_chan_q *q = uv_chan_queue(ch, qi, 0);
	uint32_t len = 0, slots = 0, before;
	int r;

	if (!q || !v)
		return -EINVAL;
	if (ch->broken)
		return ch->broken;
	/* Like make_room: the producer's line is read only when our copy shows nothing. */
	if (q->tail == q->head) {
		r = uv_chan_load_tail(ch, q);
		if (r)
			return r;
	}
	before = q->head;
	r = uv_chan_msg_next(ch, q, &len, &slots);
	if (q->head != before) /* skip markers stepped over: their slots are free */
		uv_chan_publish(ch, &q->ctl->head, q->head, &q->ctl->prod_waiting);
	if (r == -EAGAIN) {
		q->peeked = 0;
		r = uv_chan_recv_empty(ch, q);
		return r ? r : -EAGAIN;
	}
	if (r)
		return r;
	q->peeked = slots;
	view_of(q, len, v);
	return 0;
}

int uv_chan_recv_release(struct uv_chan *ch, unsigned qi)
{
	struct uv_chan_q *q = uv_chan_queue(ch, qi, 0);

	if (!q || !q->peeked)
		return -EINVAL;
	if (ch->broken)
		return ch->broken;
	q->head += q->peeked;
	q->peeked = 0;
	uv_chan_publish(ch, &q->ctl->head, q->head, &q->ctl->prod_waiting);
	ch->stats.received++;
	return 0;
}
