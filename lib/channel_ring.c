/* SPDX-License-Identifier: MIT */
/*
 * Ring I/O. The producer writes message bytes into slots, then publishes tail with release; the
 * consumer loads tail with acquire, copies the messages out, then publishes head with release so
 * the producer never overwrites a slot still being read. Each index the peer publishes is checked
 * to move only forward and only within the ring before anything is derived from it.
 */
#include "channel_priv.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int uv_chan_peer_state(struct uv_chan *ch)
{
	uint32_t s = atomic_load_explicit(&ch->st->side[!ch->side], memory_order_acquire);

	if (s > UV_CHAN_ST_MAX)
		return uv_chan_break(ch);
	return (int)s;
}

void uv_chan_ring(struct uv_chan *ch)
{
	uint64_t one = 1;

	if (ch->signal_fd < 0)
		return;
	/* EAGAIN means the counter is saturated: the peer is awake anyway. */
	if (write(ch->signal_fd, &one, sizeof(one)) == sizeof(one))
		ch->stats.signals++;
}

int uv_chan_break(struct uv_chan *ch)
{
	if (!ch->broken) {
		ch->broken = -EPROTO;
		atomic_store_explicit(&ch->st->side[ch->side], UV_CHAN_ST_ERROR,
		                      memory_order_release);
		uv_chan_ring(ch);
	}
	return ch->broken;
}

void uv_chan_wake_peer(struct uv_chan *ch, _Atomic uint32_t *flag)
{
	/* Pairs with the fence in the sleeper's arm: our index store is ordered before this load,
	 * its flag store before its index load, so one of us sees the other. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(flag, memory_order_relaxed) &&
	    atomic_exchange_explicit(flag, 0, memory_order_relaxed))
		uv_chan_ring(ch);
}

void uv_chan_publish(struct uv_chan *ch, _Atomic uint32_t *idx, uint32_t val,
                     _Atomic uint32_t *peer_waiting)
{
	atomic_store_explicit(idx, val, memory_order_release);
	uv_chan_wake_peer(ch, peer_waiting);
}

struct uv_chan_q *uv_chan_queue(struct uv_chan *ch, unsigned q, int tx)
{
	if (q >= ch->n_queues || ch->q[q].tx != tx)
		return NULL;
	return &ch->q[q];
}

/* Copies len bytes to ring byte offset pos, wrapping at the end of the ring. */
static void copy_in(struct uv_chan_q *q, size_t pos, const void *src, size_t len)
{
	size_t first = q->ring_bytes - pos;

	if (!len)
		return; /* src may be NULL for an empty message */
	if (len <= first) {
		memcpy(q->slots + pos, src, len);
		return;
	}
	memcpy(q->slots + pos, src, first);
	memcpy(q->slots, (const uint8_t *)src + first, len - first);
}

static void copy_out(const struct uv_chan_q *q, size_t pos, void *dst, size_t len)
{
	size_t first = q->ring_bytes - pos;

	if (!len)
		return;
	if (len <= first) {
		memcpy(dst, q->slots + pos, len);
		return;
	}
	memcpy(dst, q->slots + pos, first);
	memcpy((uint8_t *)dst + first, q->slots, len - first);
}

/* Producer side: the consumer's head may only move forward, and never past our tail. */
int uv_chan_load_head(struct uv_chan *ch, struct uv_chan_q *q)
{
	uint32_t head = atomic_load_explicit(&q->ctl->head, memory_order_acquire);

	if (head - q->head > q->tail - q->head)
		return uv_chan_break(ch);
	q->head = head;
	return 0;
}

/* Consumer side: the producer's tail may only move forward, and never more than a ring ahead of
 * our head. */
int uv_chan_load_tail(struct uv_chan *ch, struct uv_chan_q *q)
{
	uint32_t tail = atomic_load_explicit(&q->ctl->tail, memory_order_acquire);

	if (tail - q->tail > q->head + q->slot_count - q->tail)
		return uv_chan_break(ch);
	q->tail = tail;
	return 0;
}

int uv_chan_peer_gone(struct uv_chan *ch)
{
	int s = uv_chan_peer_state(ch);

	if (s < 0)
		return s;
	return s == UV_CHAN_ST_CLOSED || s == UV_CHAN_ST_ERROR;
}

int uv_chan_send(struct uv_chan *ch, unsigned qi, const struct iovec *msgs, unsigned n)
{
	struct uv_chan_q *q = uv_chan_queue(ch, qi, 1);
	struct uv_chan_msg_hdr mh = {0};
	uint32_t free_slots, need, published;
	unsigned i;
	int r;

	if (!q || !msgs || !n)
		return -EINVAL;
	if (ch->broken)
		return ch->broken;
	q->reserved = 0; /* its slots are about to be overwritten: commit is no longer valid */
	r = uv_chan_peer_gone(ch);
	if (r)
		return r < 0 ? r : -EPIPE;
	r = uv_chan_load_head(ch, q);
	if (r)
		return r;
	free_slots = q->slot_count - (q->tail - q->head);
	published = q->tail;
	for (i = 0; i < n; i++) {
		if (msgs[i].iov_len > q->max_len)
			break;
		need = uv_chan_msg_slots(q, msgs[i].iov_len);
		if (need > free_slots)
			break;
		mh.len = (uint32_t)msgs[i].iov_len;
		/* A message starts on a slot and slots are >= 16 bytes: its header never wraps. */
		memcpy(q->slots + uv_chan_ring_pos(q, q->tail), &mh, sizeof(mh));
		copy_in(q, uv_chan_ring_pos(q, q->tail) + sizeof(mh), msgs[i].iov_base,
		        msgs[i].iov_len);
		q->tail += need;
		free_slots -= need;
		if (q->tail - published >= q->publish_slots) {
			uv_chan_publish(ch, &q->ctl->tail, q->tail, &q->ctl->cons_waiting);
			published = q->tail;
		}
	}
	if (!i)
		return msgs[0].iov_len > q->max_len ? -EMSGSIZE : -EAGAIN;
	if (q->tail != published)
		uv_chan_publish(ch, &q->ctl->tail, q->tail, &q->ctl->cons_waiting);
	ch->stats.sent += i;
	return (int)i;
}

int uv_chan_msg_next(struct uv_chan *ch, struct uv_chan_q *q, uint32_t *len, uint32_t *slots)
{
	struct uv_chan_msg_hdr mh;
	uint32_t used, n;

	for (;;) {
		used = q->tail - q->head;
		if (!used)
			return -EAGAIN;
		memcpy(&mh, q->slots + uv_chan_ring_pos(q, q->head), sizeof(mh));
		if (mh.flags == UV_CHAN_MSG_SKIP && !mh.len) {
			/* Padding to the ring's end: bounded by the ring, then by what is
			 * published. */
			n = q->slot_count - (q->head & (q->slot_count - 1));
			if (n > used)
				return uv_chan_break(ch);
			q->head += n;
			continue;
		}
		if (mh.flags || mh.len > q->max_len)
			return uv_chan_break(ch);
		n = uv_chan_msg_slots(q, mh.len);
		/* The producer publishes whole messages: one running past tail is garbage. */
		if (n > used)
			return uv_chan_break(ch);
		*len = mh.len;
		*slots = n;
		return 0;
	}
}

/* Nothing queued: -EPIPE if the peer is gone (checked before a last look at tail, so a message
 * it sent just before closing is not lost), else -EAGAIN. */
int uv_chan_recv_empty(struct uv_chan *ch, struct uv_chan_q *q)
{
	int gone = uv_chan_peer_gone(ch), r;

	if (gone < 0)
		return gone;
	r = uv_chan_load_tail(ch, q);
	if (r)
		return r;
	if (q->tail != q->head)
		return 0;
	return gone ? -EPIPE : -EAGAIN;
}

int uv_chan_recv(struct uv_chan *ch, unsigned qi, struct uv_chan_buf *bufs, unsigned n)
{
	struct uv_chan_q *q = uv_chan_queue(ch, qi, 0);
	uint32_t len = 0, slots = 0, published;
	unsigned i;
	int r = 0;

	if (!q || !bufs || !n)
		return -EINVAL;
	if (ch->broken)
		return ch->broken;
	r = uv_chan_load_tail(ch, q);
	if (r)
		return r;
	if (q->tail == q->head) {
		r = uv_chan_recv_empty(ch, q);
		if (r)
			return r;
	}
	q->peeked = 0; /* a message shown by peek is now taken by copy */
	published = q->head;
	for (i = 0; i < n; i++) {
		r = uv_chan_msg_next(ch, q, &len, &slots);
		if (r == -EAGAIN)
			break;
		if (r)
			return r;
		if (len > bufs[i].cap) {
			if (i)
				break;
			bufs[0].len = len;
			r = -EMSGSIZE;
			break;
		}
		copy_out(q, uv_chan_ring_pos(q, q->head) + UV_CHAN_MSG_HDR_SIZE, bufs[i].data, len);
		bufs[i].len = len;
		q->head += slots;
		if (q->head - published >= q->publish_slots) {
			uv_chan_publish(ch, &q->ctl->head, q->head, &q->ctl->prod_waiting);
			published = q->head;
		}
	}
	/* Also frees the slots of skip markers stepped over. */
	if (q->head != published)
		uv_chan_publish(ch, &q->ctl->head, q->head, &q->ctl->prod_waiting);
	ch->stats.received += i;
	if (i)
		return (int)i;
	if (r)
		return r;
	/* Only a skip marker was queued. */
	r = uv_chan_recv_empty(ch, q);
	return r ? r : -EAGAIN;
}
