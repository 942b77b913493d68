/* SPDX-License-Identifier: MIT */
/* Channel internals shared by channel.c (attach), channel_ring.c (I/O) and channel_wait.c. */
#ifndef ULTRA_LIB_CHANNEL_PRIV_H
#define ULTRA_LIB_CHANNEL_PRIV_H

#include "channel.h"

/* One queue as this side sees it. The geometry is copied from the validated header at attach and
 * never read from shared memory again; head/tail are our private copies of the indices. */
struct uv_chan_q {
	struct uv_chan_qctl *ctl;
	uint8_t *slots;
	uint64_t ring_bytes;
	uint32_t slot_count;
	uint32_t slot_shift; /* log2(slot_size) */
	uint32_t max_len;    /* largest payload */
	/* A batch publishes its index at least every quarter ring, so the peer can start on the
	 * first large messages while we copy the rest. */
	uint32_t publish_slots;
	int tx;            /* we are the producer */
	uint32_t head;     /* consumer: ours; producer: last value seen from the peer */
	uint32_t tail;     /* producer: ours; consumer: last value seen from the peer */
	uint32_t peeked;   /* consumer: slots of the message uv_chan_recv_peek showed, or 0 */
	uint32_t reserved; /* producer: slots uv_chan_send_reserve set aside, or 0 */
};

struct uv_chan {
	struct uv_chan_state *st;
	uint32_t side;
	int wait_fd;
	int wait_blocking; /* wait_fd lacks O_NONBLOCK: an endless wait can sleep in read() */
	int signal_fd;
	int broken; /* 0 or -EPROTO, sticky */
	unsigned spin_us;
	unsigned n_queues;
	struct uv_chan_stats stats;
	struct uv_chan_q q[UV_CHAN_QUEUES_MAX];
};

/* Slots a message of len payload bytes occupies. */
static inline uint32_t uv_chan_msg_slots(const struct uv_chan_q *q, size_t len)
{
	uint64_t bytes = UV_CHAN_MSG_HDR_SIZE + (uint64_t)len;

	return (uint32_t)((bytes + (1ull << q->slot_shift) - 1) >> q->slot_shift);
}

/* Byte offset in the ring of free-running slot index idx. */
static inline size_t uv_chan_ring_pos(const struct uv_chan_q *q, uint32_t idx)
{
	return (size_t)(idx & (q->slot_count - 1)) << q->slot_shift;
}

/* The peer's state word, validated: a value outside the enum breaks the channel. */
int uv_chan_peer_state(struct uv_chan *ch);
/* Marks the channel broken (sticky -EPROTO), tells the peer through our state word and doorbell. */
int uv_chan_break(struct uv_chan *ch);
/* Rings the peer's doorbell if flag says it sleeps; the flag is cleared by us, the waker. */
void uv_chan_wake_peer(struct uv_chan *ch, _Atomic uint32_t *flag);
void uv_chan_ring(struct uv_chan *ch);
/* Returns the queue if it exists and we are on the wanted end of it, else NULL. */
struct uv_chan_q *uv_chan_queue(struct uv_chan *ch, unsigned q, int tx);

/* Makes our index visible, then rings the peer if it sleeps waiting for it. */
void uv_chan_publish(struct uv_chan *ch, _Atomic uint32_t *idx, uint32_t val,
                     _Atomic uint32_t *peer_waiting);
/* 1 if the peer closed or failed, 0 if not, or -EPROTO for a garbage state word. */
int uv_chan_peer_gone(struct uv_chan *ch);
/* Refresh our copy of the peer's index, checked (-EPROTO if it moved backwards or too far). */
int uv_chan_load_head(struct uv_chan *ch, struct uv_chan_q *q);
int uv_chan_load_tail(struct uv_chan *ch, struct uv_chan_q *q);
/* Consumer: steps over skip markers, then checks the header of the message at head. Returns 0
 * with its length and slots, -EAGAIN if nothing is left up to our copy of tail, or -EPROTO. */
int uv_chan_msg_next(struct uv_chan *ch, struct uv_chan_q *q, uint32_t *len, uint32_t *slots);
/* Consumer found nothing: -EPIPE if the peer is gone and nothing arrived, -EAGAIN, or 0 when
 * a last look at tail shows something after all. */
int uv_chan_recv_empty(struct uv_chan *ch, struct uv_chan_q *q);

#endif
