/* SPDX-License-Identifier: MIT */
/* The Internet checksum (RFC 1071) for the switch's software offloads (claims 18-21, 24): what
 * a port that cannot take a partial checksum or a TSO frame gets done for it by the I/O
 * partition. Sums are of big-endian 16-bit words, kept unfolded in 32 bits between calls. */
#ifndef IO_NET_CSUM_H
#define IO_NET_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds len bytes at p to sum. Every piece but the last must have an even length (an odd last
 * byte is padded with zero). */
uint32_t net_csum_add(uint32_t sum, const uint8_t *p, size_t len);
/* Folds a sum to 16 bits (not complemented). */
uint16_t net_csum_fold(uint32_t sum);
/* The TCP/UDP pseudo-header sums: addresses in network order, len of the L4 header + data. */
uint32_t net_pseudo4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t len);
uint32_t net_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t len);
/* Completes a partial checksum in place (virtio's NEEDS_CSUM): the 16-bit field at
 * start + offset holds the pseudo-header sum; it gets the complement of the sum of everything
 * from start to the end of the frame, 0xffff for 0 as UDP requires. -EINVAL when the field
 * does not lie inside the frame. */
int net_csum_fill(uint8_t *frame, size_t len, size_t start, size_t offset);

#endif
