/* SPDX-License-Identifier: MIT */
#include "vhost_net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "vhost_priv.h"

#define BIT(n) (1ull << (n))
#define RXQ 0 /* even queues receive, odd ones transmit */
#define TXQ 1
/* A 64 KiB packet in mergeable buffers of at least 1518 bytes (Linux's least) takes 44. */
#define NET_RX_CHAINS_MAX 128

/* One client's port on the switch. */
struct net_port {
	struct vhost_net *net;
	struct vhu_client *c;
	int port;
};

static struct vhost_net *net_of(const struct vhu_device *d) { return (struct vhost_net *)d; }

uint32_t vhost_net_hdr_len(uint64_t features)
{
	if (features & (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MRG_RXBUF)))
		return sizeof(struct virtio_net_hdr);
	return VIRTIO_NET_HDR_LEGACY_BYTES;
}

static unsigned net_num_queues(const struct vhu_device *d)
{
	(void)d;
	return 2;
}

/* QEMU answers the guest's config reads itself (the MAC is its virtio-net-device's), so this
 * is only what a front end asking GET_CONFIG would see. */
static void net_config(const struct vhu_device *d, uint8_t *out, uint32_t len)
{
	struct virtio_net_cfg cfg = {.status = VIRTIO_NET_S_LINK_UP, .max_virtqueue_pairs = 1};

	(void)d;
	memcpy(out, &cfg, len < sizeof(cfg) ? len : sizeof(cfg));
}

static void refuse(struct vhost_net *n, struct vhu_queue *q, const struct vq_chain *c)
{
	n->refused++;
	fprintf(stderr, "ultra-io: %s: queue %u: chain %u refused (%s %d, %llu so far)\n",
	        n->dev.name, q->index, c->head, c->fault == VQ_OK ? "layout" : "fault",
	        (int)c->fault, (unsigned long long)n->refused);
	if (c->head < q->vq.num)
		vq_push(&q->vq, c->head, 0);
}

/* Gathers a transmitted chain: the header into *vh (hlen bytes, the rest zero) and the frame
 * after it into frame[SW_GSO_MAX]; returns the frame's full length (which may exceed what was
 * copied: the switch drops it) or -1 when the chain is not a transmit buffer at all. */
static int64_t gather(const struct vq_chain *c, uint32_t hlen, struct virtio_net_hdr *vh,
                      uint8_t *frame)
{
	uint64_t skip = hlen, total = 0;
	uint8_t *h = (uint8_t *)vh;

	if (c->nread != c->n)
		return -1; /* nothing in a transmit chain is for the device to write */
	memset(vh, 0, sizeof(*vh));
	for (uint32_t i = 0; i < c->n; i++) {
		const struct vq_buf *b = &c->buf[i];
		uint64_t k = skip < b->len ? skip : b->len;
		uint64_t m = b->len - k;
		memcpy(h + (hlen - skip), b->p, k);
		skip -= k;
		if (total < SW_GSO_MAX && m > 0) {
			uint64_t room = SW_GSO_MAX - total;
			memcpy(frame + total, b->p + k, m < room ? m : room);
		}
		total += m;
	}
	return skip ? -1 : (int64_t)total;
}

/* The offloads a client's negotiated features let it send (host_) or take (guest_). */
static uint32_t offloads(uint64_t f, unsigned csum, unsigned tso4, unsigned tso6, unsigned ecn)
{
	return (f & BIT(csum) ? NET_OFF_CSUM : 0) | (f & BIT(tso4) ? NET_OFF_TSO4 : 0) |
	       (f & BIT(tso6) ? NET_OFF_TSO6 : 0) | (f & BIT(ecn) ? NET_OFF_ECN : 0);
}

static uint32_t host_offloads(uint64_t f)
{
	return offloads(f, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6,
	                VIRTIO_NET_F_HOST_ECN);
}

static uint32_t port_takes(void *owner)
{
	const struct net_port *p = owner;

	return offloads(p->c->features, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4,
	                VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN);
}

static unsigned serve_tx(struct vhost_net *n, struct vhu_queue *q, struct net_port *p)
{
	uint32_t hlen = vhost_net_hdr_len(q->client->features);
	uint32_t allowed = host_offloads(q->client->features);
	struct virtio_net_hdr vh;
	struct vq_chain c;
	unsigned served = 0;

	/* At most one ring's worth per wake-up, so one busy guest cannot starve the others. */
	while (served < q->vq.num && vq_pop(&q->vq, &c) > 0) {
		int64_t len = c.fault == VQ_OK ? gather(&c, hlen, &vh, n->frame) : -1;
		served++;
		if (len < 0) {
			refuse(n, q, &c);
			continue;
		}
		/* The frame is our copy now: the buffer goes back before the switch runs. */
		vq_push(&q->vq, c.head, 0);
		n->tx++;
		/* Without offloads the header means nothing (virtio 1.2, 5.1.6.2: flags and
		 * gso_type must be zero) and is ignored, as before offloads existed. */
		if (allowed)
			sw_input_vh(n->sw, p->port, &vh, allowed, n->frame, (size_t)len, sw_now());
		else
			sw_input(n->sw, p->port, n->frame, (size_t)len, sw_now());
	}
	if (served)
		vhu_queue_notify(q);
	if (served == q->vq.num && q->kick_fd >= 0)
		eventfd_write(q->kick_fd, 1); /* come back after the others had their turn */
	return served;
}

/* A receive queue is filled from the switch (deliver), never on its own kick. */
static unsigned net_serve(struct vhu_device *d, struct vhu_queue *q)
{
	struct net_port *p = q->client->priv;

	if (q->index % 2 == RXQ || !p)
		return 0;
	return serve_tx(net_of(d), q, p);
}

/* Header then frame, written into one or more receive chains. */
struct rx_stream {
	const uint8_t *hdr;
	uint32_t hlen;
	const uint8_t *frame;
	uint64_t total; /* hlen + frame length */
	uint64_t done;
	uint8_t *nb[2]; /* where the header's num_buffers bytes went */
};

static uint32_t chain_room(const struct vq_chain *c)
{
	uint64_t cap = 0;

	for (uint32_t i = 0; i < c->n; i++)
		cap += c->buf[i].len;
	return cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
}

static void note_num_buffers(struct rx_stream *s, uint8_t *dst, uint64_t m)
{
	for (unsigned x = 0; x < 2; x++) {
		uint64_t at = offsetof(struct virtio_net_hdr, num_buffers) + x;
		if (at < s->hlen && at >= s->done && at < s->done + m)
			s->nb[x] = dst + (at - s->done);
	}
}

/* Writes as much of the stream as fits into c; returns the bytes written. */
static uint32_t fill(const struct vq_chain *c, struct rx_stream *s)
{
	uint32_t put = 0;

	for (uint32_t i = 0; i < c->n && s->done < s->total; i++) {
		const struct vq_buf *b = &c->buf[i];
		for (uint32_t k = 0; k < b->len && s->done < s->total;) {
			bool in_hdr = s->done < s->hlen;
			const uint8_t *src =
			    in_hdr ? s->hdr + s->done : s->frame + (s->done - s->hlen);
			uint64_t left = in_hdr ? s->hlen - s->done : s->total - s->done;
			uint64_t m = b->len - k < left ? b->len - k : left;
			memcpy(b->p + k, src, m);
			note_num_buffers(s, b->p + k, m);
			k += (uint32_t)m;
			s->done += m;
			put += (uint32_t)m;
		}
	}
	return put;
}

/* Pops a receive chain the device may write; 0 when there is none, -EIO after refusing one. */
static int pop_rx(struct vhost_net *n, struct vhu_queue *q, struct vq_chain *c)
{
	int r = vq_pop(&q->vq, c);

	if (r <= 0)
		return r == 0 ? -ENOBUFS : r;
	if (c->fault != VQ_OK || c->nread != 0) { /* or a receive buffer the device may not write */
		refuse(n, q, c);
		return -EIO;
	}
	return 0;
}

/* Without MRG_RXBUF the whole packet goes into one chain. */
static int deliver_one(struct vhost_net *n, struct vhu_queue *q, struct rx_stream *s)
{
	struct vq_chain c;
	int r = pop_rx(n, q, &c);

	if (r < 0)
		return r;
	if (chain_room(&c) < s->total) {
		vq_push(&q->vq, c.head, 0);
		return -EMSGSIZE;
	}
	vq_push(&q->vq, c.head, fill(&c, s));
	return 0;
}

/* Puts back chains popped but not used: nothing about them was published yet. */
static void unpop(struct vq *vq, uint16_t last_avail, uint32_t resubmitted)
{
	vq->last_avail = last_avail;
	vq->resubmitted = resubmitted;
}

/* With MRG_RXBUF the packet spans as many chains as it needs, num_buffers says how many; all
 * or nothing, so a guest never sees part of a packet. */
static int deliver_merged(struct vhost_net *n, struct vhu_queue *q, struct rx_stream *s)
{
	struct vring_used_elem used[NET_RX_CHAINS_MAX];
	uint16_t last_avail = q->vq.last_avail;
	uint32_t resubmitted = q->vq.resubmitted, k = 0;
	struct vq_chain c;
	int r = 0;

	while (s->done < s->total) {
		if (k == NET_RX_CHAINS_MAX) {
			unpop(&q->vq, last_avail, resubmitted);
			return -EMSGSIZE;
		}
		r = pop_rx(n, q, &c);
		if (r == -EIO)
			break; /* the guest broke its ring: those taken go back empty below */
		if (r < 0) {
			unpop(&q->vq, last_avail, resubmitted);
			return r;
		}
		used[k].id = c.head;
		used[k++].len = fill(&c, s);
	}
	if (r == 0 && s->nb[0] && s->nb[1]) {
		*s->nb[0] = (uint8_t)k; /* little-endian, as virtio 1 wants */
		*s->nb[1] = (uint8_t)(k >> 8);
	}
	for (uint32_t i = 0; i < k; i++)
		vq_push(&q->vq, (uint16_t)used[i].id, r == 0 ? used[i].len : 0);
	return r;
}

static int deliver(void *owner, const struct virtio_net_hdr *vh, const uint8_t *frame, size_t len)
{
	struct net_port *p = owner;
	struct vhost_net *n = p->net;
	struct vhu_queue *q = &p->c->q[RXQ];
	struct virtio_net_hdr hdr = *vh;
	struct rx_stream s = {.hdr = (const uint8_t *)&hdr, .frame = frame};
	int r;

	if (p->c->dead || !q->started || !q->enabled || q->vq.broken)
		return -ENETDOWN;
	hdr.num_buffers = 1;
	s.hlen = vhost_net_hdr_len(p->c->features);
	s.total = s.hlen + (uint64_t)len;
	if (p->c->features & BIT(VIRTIO_NET_F_MRG_RXBUF))
		r = deliver_merged(n, q, &s);
	else
		r = deliver_one(n, q, &s);
	if (r != -ENOBUFS)
		vhu_queue_notify(q);
	if (r == 0)
		n->rx++;
	return r;
}

static int net_attach(struct vhu_device *d, struct vhu_client *c)
{
	struct vhost_net *n = net_of(d);
	struct net_port *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->net = n;
	p->c = c;
	p->port = sw_port_add(n->sw, p, deliver);
	if (p->port < 0) {
		int r = p->port;
		free(p);
		return r;
	}
	sw_port_takes(n->sw, p->port, port_takes);
	c->priv = p;
	return 0;
}

static void net_detach(struct vhu_device *d, struct vhu_client *c)
{
	struct net_port *p = c->priv;
	char who[160];

	if (!p)
		return;
	snprintf(who, sizeof(who), "%s: client %u", d->name, c->id);
	sw_port_print(p->net->sw, p->port, who);
	sw_port_del(p->net->sw, p->port);
	c->priv = NULL;
	free(p);
}

static const struct vhu_device_ops net_ops = {
    .kind = "vhost-user-net",
    /* Ring slots for TSO packets; the offloads are the export's own (vhost_net_new). */
    .features = BIT(VIRTIO_RING_F_INDIRECT_DESC),
    .num_queues = net_num_queues,
    .config = net_config,
    .serve = net_serve,
    .attach = net_attach,
    .detach = net_detach,
};

int vhost_net_new(const char *name, struct vswitch *sw, bool offload, struct vhost_net **out)
{
	struct vhost_net *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->frame = malloc(SW_GSO_MAX);
	if (!n->frame) {
		free(n);
		return -ENOMEM;
	}
	n->dev.ops = &net_ops;
	n->dev.name = name;
	n->dev.features = offload ? VHOST_NET_OFFLOADS : 0;
	n->sw = sw;
	*out = n;
	return 0;
}

void vhost_net_free(struct vhost_net *n)
{
	if (!n)
		return;
	fprintf(stderr, "ultra-io: %s: %llu frames sent, %llu received, %llu chains refused\n",
	        n->dev.name, (unsigned long long)n->tx, (unsigned long long)n->rx,
	        (unsigned long long)n->refused);
	free(n->frame);
	free(n);
}
