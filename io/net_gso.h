/* SPDX-License-Identifier: MIT */
/* Offload metadata of a frame on the switch (claims 18-21, 24): the virtio-net header a port
 * sent with it, checked against the frame's own bytes, and the software fallbacks for a port
 * that did not negotiate the offload: TCP segmentation (IPv4 and IPv6) and checksum filling.
 * The sender is hostile: nothing here reads or writes outside the frame it is given. */
#ifndef IO_NET_GSO_H
#define IO_NET_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ultra/vhost_user.h"

/* What a port may send, or is able to take, beyond plain frames with complete checksums. */
#define NET_OFF_CSUM 1u /* partial checksums (NEEDS_CSUM) */
#define NET_OFF_TSO4 2u /* TCP over IPv4 segments of gso_size */
#define NET_OFF_TSO6 4u /* TCP over IPv6 */
#define NET_OFF_ECN 8u  /* either, from a flow with ECN (CWR on the first segment only) */
#define NET_OFF_ALL 15u

/* Past this many segments a TSO frame is refused: a tiny gso_size would make one frame cost
 * the switch as much as hundreds of kilobytes of plain traffic. 64 KiB at an MSS of 128. */
#define NET_GSO_SEGS_MAX 512u

/* A frame's checked offload layout. */
struct net_offload {
	struct virtio_net_hdr vh; /* what a port that takes the offloads gets (num_buffers 0) */
	uint32_t needs;           /* NET_OFF_* a port must take to get the frame as it is */
	uint16_t l3, l4, hdr;     /* GSO: offsets of the IP header, TCP header and payload */
	bool v6;
};

/* Checks vh (from a port allowed to send the offloads in allowed) against the frame and fills
 * *o: 0, or -EPROTO for a header that does not fit the frame or asks for an offload not
 * negotiated (the frame must be dropped). hdr_len is only checked to lie inside the frame;
 * *o carries the length of the headers found. Unknown flag bits are ignored (virtio 1.2,
 * 5.1.6.2.2). *o untouched on failure. */
int net_offload_check(const struct virtio_net_hdr *vh, uint32_t allowed, const uint8_t *frame,
                      size_t len, struct net_offload *o);

typedef int (*net_emit_fn)(void *ctx, const uint8_t *frame, size_t len);

/* Cuts a checked TSO frame into plain frames with complete checksums, each built in buf (cap
 * bytes) and handed to emit: sequence numbers advance by gso_size, FIN and PSH only on the
 * last segment, CWR only on the first, IPv4 id counts up, lengths and checksums are redone.
 * Returns how many segments emit accepted (returned 0 for), or -EMSGSIZE before emitting any
 * if a segment would not fit in cap. */
int net_gso_segment(const struct net_offload *o, const uint8_t *frame, size_t len, uint8_t *buf,
                    size_t cap, net_emit_fn emit, void *ctx);

/* Copies a checked non-GSO frame with a partial checksum into buf (cap bytes) and completes
 * the checksum there: the frame's length, or -EMSGSIZE. */
int net_csum_copy(const struct net_offload *o, const uint8_t *frame, size_t len, uint8_t *buf,
                  size_t cap);

#endif
