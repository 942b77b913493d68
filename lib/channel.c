/* SPDX-License-Identifier: MIT */
/* Channel lifetime: formatting a region, attaching one side to it, detaching. */
#include "channel_check.h"
#include "channel_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

static uint64_t align_up(uint64_t v)
{
	return (v + UV_CHAN_ALIGN - 1) & ~(uint64_t)(UV_CHAN_ALIGN - 1);
}

/* Lays cfg out into a header: queue blocks one after another, each cache-line aligned. */
static int build_hdr(const struct uv_chan_config *cfg, struct uv_chan_hdr *h, uint64_t *end)
{
	uint64_t off = UV_CHAN_HDR_SIZE;
	unsigned i;

	if (!cfg || !cfg->n_queues || cfg->n_queues > UV_CHAN_QUEUES_MAX)
		return -EINVAL;
	memset(h, 0, sizeof(*h));
	h->magic = UV_CHAN_MAGIC;
	h->version = UV_CHAN_VERSION;
	h->hdr_size = UV_CHAN_HDR_SIZE;
	h->features = UV_CHAN_F_SKIP;
	h->part_id[0] = cfg->part_id[0];
	h->part_id[1] = cfg->part_id[1];
	h->n_queues = cfg->n_queues;
	for (i = 0; i < cfg->n_queues; i++) {
		h->q[i].offset = off;
		h->q[i].slot_size = cfg->q[i].slot_size;
		h->q[i].slot_count = cfg->q[i].slot_count;
		h->q[i].producer = cfg->q[i].producer;
		/* Both factors are < 2^32: no overflow before the check below bounds them. */
		off = align_up(off + uv_chan_queue_bytes(&h->q[i]));
	}
	h->total_size = off;
	*end = off;
	/* The same rules a peer is held to: format never writes what attach would refuse. */
	return uv_chan_hdr_check(h, off, NULL, 0) ? -EINVAL : 0;
}

size_t uv_chan_region_size(const struct uv_chan_config *cfg)
{
	struct uv_chan_hdr h;
	uint64_t end;

	if (build_hdr(cfg, &h, &end) || end > SIZE_MAX)
		return 0;
	return (size_t)end;
}

int uv_chan_format(void *base, size_t size, const struct uv_chan_config *cfg)
{
	struct uv_chan_hdr h;
	uint64_t end;
	int r;

	if (!base || (uintptr_t)base % UV_CHAN_ALIGN)
		return -EINVAL;
	r = build_hdr(cfg, &h, &end);
	if (r)
		return r;
	if (end > size)
		return -EINVAL;
	memset(base, 0, (size_t)end);
	memcpy(base, &h, sizeof(h));
	return 0;
}

/* Our private view of queue i: pointers and geometry from the validated copy, indices from
 * shared memory checked against each other. */
static int queue_init(struct uv_chan *ch, uint8_t *base, const struct uv_chan_qdesc *d, unsigned i,
                      char *err, size_t errlen)
{
	struct uv_chan_q *q = &ch->q[i];

	q->ctl = (struct uv_chan_qctl *)(base + d->offset);
	q->slots = base + d->offset + sizeof(struct uv_chan_qctl);
	q->slot_count = d->slot_count;
	q->slot_shift = (uint32_t)__builtin_ctz(d->slot_size);
	q->ring_bytes = (uint64_t)d->slot_size * d->slot_count;
	q->max_len = (uint32_t)(q->ring_bytes - UV_CHAN_MSG_HDR_SIZE);
	q->publish_slots = d->slot_count / 4 ? d->slot_count / 4 : 1;
	q->tx = d->producer == ch->side;
	q->head = atomic_load_explicit(&q->ctl->head, memory_order_acquire);
	q->tail = atomic_load_explicit(&q->ctl->tail, memory_order_acquire);
	if (q->tail - q->head > q->slot_count)
		return uv_chan_fail(-EPROTO, err, errlen,
		                    "queue %u: tail %u - head %u exceeds %u slots", i, q->tail,
		                    q->head, q->slot_count);
	return 0;
}

int uv_chan_attach(struct uv_chan **out, void *base, size_t size, const struct uv_chan_endpoint *ep,
                   char *err, size_t errlen)
{
	struct uv_chan_hdr h;
	struct uv_chan *ch = NULL;
	unsigned i;
	int r, fl;

	if (!out || !base || !ep || ep->side > UV_CHAN_SIDE_B || (uintptr_t)base % UV_CHAN_ALIGN)
		return uv_chan_fail(-EINVAL, err, errlen,
		                    "bad arguments (region must be %u-byte aligned)",
		                    UV_CHAN_ALIGN);
	if (size < UV_CHAN_HDR_SIZE)
		return uv_chan_fail(-EPROTO, err, errlen,
		                    "region of %zu bytes is smaller than the header", size);
	/* One copy, read once: the peer may rewrite the shared header at any time after this. */
	memcpy(&h, base, sizeof(h));
	r = uv_chan_hdr_check(&h, size, err, errlen);
	if (r)
		return r;
	if (ep->part_id != UV_CHAN_ANY_PART && ep->part_id != h.part_id[ep->side])
		return uv_chan_fail(-EACCES, err, errlen, "side %c belongs to partition %u, not %u",
		                    'A' + (int)ep->side, h.part_id[ep->side], ep->part_id);
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return uv_chan_fail(-ENOMEM, err, errlen, "out of memory");
	ch->st = (struct uv_chan_state *)((uint8_t *)base + sizeof(struct uv_chan_hdr));
	ch->side = ep->side;
	ch->wait_fd = ep->wait_fd;
	fl = ep->wait_fd >= 0 ? fcntl(ep->wait_fd, F_GETFL) : O_NONBLOCK;
	ch->wait_blocking = fl >= 0 && !(fl & O_NONBLOCK);
	ch->signal_fd = ep->signal_fd;
	ch->n_queues = h.n_queues;
	atomic_store_explicit(&ch->st->side[ch->side], UV_CHAN_ST_ATTACHING, memory_order_release);
	r = uv_chan_peer_state(ch);
	if (r < 0) {
		uv_chan_fail(r, err, errlen, "peer state word %u is not a state",
		             atomic_load_explicit(&ch->st->side[!ch->side], memory_order_relaxed));
		goto out;
	}
	for (i = 0; i < h.n_queues; i++) {
		r = queue_init(ch, base, &h.q[i], i, err, errlen);
		if (r)
			goto out;
	}
	atomic_store_explicit(&ch->st->side[ch->side], UV_CHAN_ST_READY, memory_order_release);
	*out = ch;
	ch = NULL;
	r = 0;
out:
	if (ch) {
		atomic_store_explicit(&ch->st->side[ch->side], UV_CHAN_ST_ERROR,
		                      memory_order_release);
		free(ch);
	}
	return r;
}

void uv_chan_detach(struct uv_chan *ch)
{
	if (!ch)
		return;
	if (!ch->broken)
		atomic_store_explicit(&ch->st->side[ch->side], UV_CHAN_ST_CLOSED,
		                      memory_order_release);
	/* Unconditional: a peer asleep on any queue must learn that we are gone. */
	uv_chan_ring(ch);
	free(ch);
}

unsigned uv_chan_queue_count(const struct uv_chan *ch) { return ch->n_queues; }

int uv_chan_is_sender(const struct uv_chan *ch, unsigned q)
{
	if (q >= ch->n_queues)
		return -EINVAL;
	return ch->q[q].tx;
}

size_t uv_chan_max_msg(const struct uv_chan *ch, unsigned q)
{
	return q < ch->n_queues ? ch->q[q].max_len : 0;
}

int uv_chan_error(const struct uv_chan *ch) { return ch->broken; }

void uv_chan_get_stats(const struct uv_chan *ch, struct uv_chan_stats *st) { *st = ch->stats; }
