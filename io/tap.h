/* SPDX-License-Identifier: MIT */
/* The switch's optional uplink: a tap interface as one more port (claim 25). Frames go
 * between the tap and the switch whole, without a virtio-net header or offloads. */
#ifndef IO_TAP_H
#define IO_TAP_H

#include "switch.h"
#include "vhost_user.h"

struct tap_port;

/* Opens (or creates) the tap interface name and makes it a port of sw, served from s's loop.
 * Needs CAP_NET_ADMIN unless the tap already exists and belongs to us; before the sandbox. */
int tap_open(const char *name, struct vswitch *sw, struct vhu_server *s, struct tap_port **out);
void tap_close(struct tap_port *t);

#endif
