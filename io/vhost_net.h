/* SPDX-License-Identifier: MIT */
/* virtio-net over vhost-user (claims 17-19, 25): each client is a port of a learning switch
 * (switch.h) inside the I/O partition. One receive and one transmit queue; checksum and TCP
 * segmentation offloads both ways and mergeable receive buffers (claims 18-21, 24), each
 * client negotiating its own: the switch segments or checksums for a port without them. */
#ifndef IO_VHOST_NET_H
#define IO_VHOST_NET_H

#include <stdbool.h>

#include "switch.h"
#include "vhost_user.h"

struct vhost_net {
	struct vhu_device dev; /* first: the server hands us &dev */
	struct vswitch *sw;    /* shared with the other exports on the same switch name */
	uint64_t refused;      /* chains refused (bad address, flags or layout) */
	uint64_t tx, rx;       /* frames from and to this export's clients */
	uint8_t *frame;        /* SW_GSO_MAX bytes: a transmitted frame, copied out of the guest */
};

/* What an export with offloads offers (virtio 1.2, 5.1.3). */
#define VHOST_NET_OFFLOADS                                                                         \
	((1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |                         \
	 (1ull << VIRTIO_NET_F_GUEST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO6) |                   \
	 (1ull << VIRTIO_NET_F_GUEST_ECN) | (1ull << VIRTIO_NET_F_HOST_TSO4) |                     \
	 (1ull << VIRTIO_NET_F_HOST_TSO6) | (1ull << VIRTIO_NET_F_HOST_ECN) |                      \
	 (1ull << VIRTIO_NET_F_MRG_RXBUF))

/* sw is not owned: it may outlive this export and serve others. Without offload the export
 * offers plain frames only (a guest that must not use them, or debugging). */
int vhost_net_new(const char *name, struct vswitch *sw, bool offload, struct vhost_net **out);
void vhost_net_free(struct vhost_net *n);

/* The bytes of virtio-net header a client with these features puts before each frame. */
uint32_t vhost_net_hdr_len(uint64_t features);

#endif
