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

/* Copies a transmitted chain's frame (after the header) into frame[SW_FRAME_MAX]; returns the
 * frame's full length (which may exceed what was copied: the switch drops it) or -1 when the
 * chain is not a transmit buffer at all. */
static int64_t gather(const struct vq_chain *c, uint32_t hlen, uint8_t *frame)
{
	uint64_t skip = hlen, total = 0;

	if (c->nread != c->n)
		return -1; /* nothing in a transmit chain is for the device to write */
	for (uint32_t i = 0; i < c->n; i++) {
		const struct vq_buf *b = &c->buf[i];
		uint64_t k = skip < b->len ? skip : b->len;
		uint64_t m = b->len - k;
		skip -= k;
		if (total < SW_FRAME_MAX && m > 0) {
			uint64_t room = SW_FRAME_MAX - total;
			memcpy(frame + total, b->p + k, m < room ? m : room);
		}
		total += m;
	}
	return skip ? -1 : (int64_t)total;
}

static unsigned serve_tx(struct vhost_net *n, struct vhu_queue *q, struct net_port *p)
{
	uint32_t hlen = vhost_net_hdr_len(q->client->features);
	uint8_t frame[SW_FRAME_MAX];
	struct vq_chain c;
	unsigned served = 0;

	/* At most one ring's worth per wake-up, so one busy guest cannot starve the others. */
	while (served < q->vq.num && vq_pop(&q->vq, &c) > 0) {
		int64_t len = c.fault == VQ_OK ? gather(&c, hlen, frame) : -1;
		served++;
		if (len < 0) {
			refuse(n, q, &c);
			continue;
		}
		/* The frame is our copy now: the buffer goes back before the switch runs. */
		vq_push(&q->vq, c.head, 0);
		n->tx++;
		sw_input(n->sw, p->port, frame, (size_t)len, sw_now());
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

/* Scatters header and frame into a receive chain; false when they do not fit. */
static bool scatter(const struct vq_chain *c, const uint8_t *hdr, uint32_t hlen,
                    const uint8_t *frame, size_t len)
{
	uint64_t cap = 0, done = 0;

	for (uint32_t i = 0; i < c->n; i++)
		cap += c->buf[i].len;
	if (cap < hlen + len)
		return false;
	for (uint32_t i = 0; i < c->n && done < hlen + len; i++) {
		const struct vq_buf *b = &c->buf[i];
		for (uint32_t k = 0; k < b->len && done < hlen + len;) {
			const uint8_t *src = done < hlen ? hdr + done : frame + (done - hlen);
			uint64_t left = done < hlen ? hlen - done : hlen + len - done;
			uint64_t m = b->len - k < left ? b->len - k : left;
			memcpy(b->p + k, src, m);
			k += (uint32_t)m;
			done += m;
		}
	}
	return true;
}

static int deliver(void *owner, const uint8_t *frame, size_t len)
{
	struct net_port *p = owner;
	struct vhost_net *n = p->net;
	struct vhu_queue *q = &p->c->q[RXQ];
	struct virtio_net_hdr hdr = {.num_buffers = 1}; /* no offloads: plain frames */
	uint32_t hlen = vhost_net_hdr_len(p->c->features);
	struct vq_chain c;
	int r;

	if (p->c->dead || !q->started || !q->enabled || q->vq.broken)
		return -ENETDOWN;
	r = vq_pop(&q->vq, &c);
	if (r <= 0)
		return r == 0 ? -ENOBUFS : r;
	if (c.fault != VQ_OK || c.nread != 0) { /* or a receive buffer the device may not write */
		refuse(n, q, &c);
		vhu_queue_notify(q);
		return -EIO;
	}
	if (!scatter(&c, (const uint8_t *)&hdr, hlen, frame, len)) {
		vq_push(&q->vq, c.head, 0);
		vhu_queue_notify(q);
		return -EMSGSIZE;
	}
	vq_push(&q->vq, c.head, hlen + (uint32_t)len);
	vhu_queue_notify(q);
	n->rx++;
	return 0;
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
    .features = 0, /* no checksum, segmentation or mergeable-buffer offloads */
    .num_queues = net_num_queues,
    .config = net_config,
    .serve = net_serve,
    .attach = net_attach,
    .detach = net_detach,
};

int vhost_net_new(const char *name, struct vswitch *sw, struct vhost_net **out)
{
	struct vhost_net *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->dev.ops = &net_ops;
	n->dev.name = name;
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
	free(n);
}
