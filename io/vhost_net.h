/* SPDX-License-Identifier: MIT */
/* virtio-net over vhost-user (claims 17-19, 25): each client is a port of a learning switch
 * (switch.h) inside the I/O partition. One receive and one transmit queue, no offloads. */
#ifndef IO_VHOST_NET_H
#define IO_VHOST_NET_H

#include "switch.h"
#include "vhost_user.h"

struct vhost_net {
	struct vhu_device dev; /* first: the server hands us &dev */
	struct vswitch *sw;    /* shared with the other exports on the same switch name */
	uint64_t refused;      /* chains refused (bad address, flags or layout) */
	uint64_t tx, rx;       /* frames from and to this export's clients */
};

/* sw is not owned: it may outlive this export and serve others. */
int vhost_net_new(const char *name, struct vswitch *sw, struct vhost_net **out);
void vhost_net_free(struct vhost_net *n);

/* The bytes of virtio-net header a client with these features puts before each frame. */
uint32_t vhost_net_hdr_len(uint64_t features);

#endif
