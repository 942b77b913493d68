/* SPDX-License-Identifier: MIT */
/* A learning L2 switch inside the I/O partition (claims 17-19, 25): ports are the network
 * clients of one switch name. Frames arrive whole and already copied out of guest memory, so
 * the guest cannot change a frame between learning and delivery. No process-wide state: one
 * struct vswitch per switch name; time is passed in so tests control ageing. */
#ifndef IO_SWITCH_H
#define IO_SWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net_gso.h"

#define SW_PORTS_MAX 64
#define SW_MACS_MAX 256
#define SW_FRAME_MIN 14                    /* destination, source, ethertype */
#define SW_FRAME_MAX 1518                  /* 1500-byte payload, one VLAN tag, no FCS */
#define SW_GSO_MAX (65535 + 18)            /* a TSO frame: the largest IP packet, one tag */
#define SW_AGE_NS (300ull * 1000000000ull) /* IEEE 802.1D's default ageing time */

/* Hands a frame to a port's owner: 0 when delivered, negative errno when dropped (no receive
 * buffer, port not running). vh says which offloads the frame uses (all zero: a plain frame
 * with complete checksums); only ones the port takes (sw_takes_fn) are ever used. The frame is
 * only valid during the call. */
typedef int (*sw_deliver_fn)(void *owner, const struct virtio_net_hdr *vh, const uint8_t *frame,
                             size_t len);
/* The NET_OFF_* offloads a port takes now (its guest's negotiated features may change). */
typedef uint32_t (*sw_takes_fn)(void *owner);

struct sw_counters {
	uint64_t in;        /* frames accepted from the port */
	uint64_t out;       /* frames delivered to the port */
	uint64_t drop_size; /* from the port: shorter than 14 or longer than SW_FRAME_MAX */
	uint64_t drop_src;  /* from the port: multicast or all-zero source address */
	uint64_t drop_out;  /* to the port: not running, no (usable) buffer */
	uint64_t filtered;  /* from the port: destination learnt on the same port (no hairpin) */
	uint64_t drop_hdr;  /* from the port: offload header inconsistent with the frame */
	uint64_t gso_in;    /* from the port: TSO frames accepted */
	uint64_t gso_out;   /* to the port: TSO frames delivered whole */
	uint64_t segmented; /* to the port: TSO frames cut into segments in software */
	uint64_t csummed;   /* to the port: partial checksums completed in software */
};

struct sw_port {
	void *owner; /* NULL: free slot */
	sw_deliver_fn deliver;
	sw_takes_fn takes; /* NULL: takes plain frames only */
	struct sw_counters c;
};

struct sw_mac {
	uint8_t addr[6];
	uint16_t port; /* index into ports[] */
	uint64_t seen; /* last time (ns) a frame came from addr */
	bool used;
};

struct vswitch {
	char name[32];
	uint64_t age_ns;
	struct sw_port ports[SW_PORTS_MAX];
	struct sw_mac macs[SW_MACS_MAX];
	uint64_t flooded; /* frames sent to every other port (broadcast, multicast, unknown) */
	uint8_t seg[SW_FRAME_MAX]; /* a segment or checksummed copy for a port without offloads */
};

/* Initialises sw (age_ns 0: SW_AGE_NS). */
void sw_init(struct vswitch *sw, const char *name, uint64_t age_ns);
/* Adds a port; returns its index or -ENOSPC. */
int sw_port_add(struct vswitch *sw, void *owner, sw_deliver_fn deliver);
/* Removes a port and forgets every address learnt on it. */
void sw_port_del(struct vswitch *sw, int port);
/* Says which offloads port takes (before frames arrive for it). */
void sw_port_takes(struct vswitch *sw, int port, sw_takes_fn takes);
/* Switches one plain frame that came in on port at time now (ns, monotonic). */
void sw_input(struct vswitch *sw, int port, const uint8_t *frame, size_t len, uint64_t now);
/* The same for a frame with a virtio-net header, from a port that negotiated the offloads in
 * allowed (NET_OFF_*): a header inconsistent with the frame drops it (drop_hdr). A port that
 * takes the offloads the frame uses gets it whole; any other gets it segmented or with its
 * checksum completed. */
void sw_input_vh(struct vswitch *sw, int port, const struct virtio_net_hdr *vh, uint32_t allowed,
                 const uint8_t *frame, size_t len, uint64_t now);
/* The port addr was learnt on and has not aged out at now, or -1. */
int sw_lookup(const struct vswitch *sw, const uint8_t addr[6], uint64_t now);
/* The monotonic clock, in ns, for sw_input. */
uint64_t sw_now(void);
/* Logs a port's counters on stderr, named who (before sw_port_del). */
void sw_port_print(const struct vswitch *sw, int port, const char *who);

#endif
