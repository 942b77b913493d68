/* SPDX-License-Identifier: MIT */
/* The switch's optional uplink: a tap interface as one more port (claim 25). With offloads
 * the tap carries a virtio-net header both ways (IFF_VNET_HDR) and the kernel sends and takes
 * partial checksums and TSO frames (TUNSETOFFLOAD), so the host's TCP and the guests' exchange
 * 64 KiB segments; without, frames go whole and plain. */
#ifndef IO_TAP_H
#define IO_TAP_H

#include <stdbool.h>

#include "switch.h"
#include "vhost_user.h"

struct tap_port;

/* Opens (or creates) the tap interface name and makes it a port of sw, served from s's loop.
 * Needs CAP_NET_ADMIN unless the tap already exists and belongs to us; before the sandbox. */
int tap_open(const char *name, struct vswitch *sw, struct vhu_server *s, bool offload,
             struct tap_port **out);
/* Whether the kernel agreed to exchange offloaded frames. */
bool tap_offloads(const struct tap_port *t);
void tap_close(struct tap_port *t);

#endif
