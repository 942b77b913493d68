/* SPDX-License-Identifier: MIT */
/*
 * A snapshot of the operations store as one operations partition sends it to its redundant
 * peer on another host (claims 35-38, 47; docs/ops-ha.md). It crosses hosts, so every field is
 * fixed-width little-endian and every offset is asserted:
 *
 *   [uv_ops_snap_hdr: 48 bytes][image: length bytes, an SQLite database file]
 *
 * The CRC32C covers the header up to its crc field and then the whole image, so a torn or
 * altered frame is refused before SQLite ever reads it. epoch and seq must equal what the
 * image's own replica table says (the receiver checks that too).
 */
#ifndef ULTRA_OPS_REPLICA_ABI_H
#define ULTRA_OPS_REPLICA_ABI_H

#include <stddef.h>
#include <stdint.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "snapshot frames are little-endian");

#define UV_OPS_SNAP_MAGIC 0x534f5655u /* "UVOS" */
#define UV_OPS_SNAP_VERSION 1u
/* Bounds a garbage length field: a store of definitions is KiBs; 2 MiB is thousands of them,
 * and the base64 of it still fits a 4 MiB reply line (lib/cmdconn.h). */
#define UV_OPS_SNAP_IMAGE_MAX (2u << 20)

struct uv_ops_snap_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t header_size;
	uint64_t epoch;  /* the sender's term as active (docs/ops-ha.md "Epochs") */
	uint64_t seq;    /* the store's change counter at the snapshot */
	uint32_t length; /* image bytes that follow */
	uint32_t reserved;
	uint8_t reserved2[8];
	uint32_t reserved3;
	uint32_t crc; /* CRC32C of the bytes before this field, continued over the image */
};

_Static_assert(sizeof(struct uv_ops_snap_hdr) == 48, "snapshot header size");
_Static_assert(offsetof(struct uv_ops_snap_hdr, magic) == 0, "magic");
_Static_assert(offsetof(struct uv_ops_snap_hdr, version) == 4, "version");
_Static_assert(offsetof(struct uv_ops_snap_hdr, header_size) == 6, "header_size");
_Static_assert(offsetof(struct uv_ops_snap_hdr, epoch) == 8, "epoch");
_Static_assert(offsetof(struct uv_ops_snap_hdr, seq) == 16, "seq");
_Static_assert(offsetof(struct uv_ops_snap_hdr, length) == 24, "length");
_Static_assert(offsetof(struct uv_ops_snap_hdr, reserved) == 28, "reserved");
_Static_assert(offsetof(struct uv_ops_snap_hdr, reserved2) == 32, "reserved2");
_Static_assert(offsetof(struct uv_ops_snap_hdr, reserved3) == 40, "reserved3");
_Static_assert(offsetof(struct uv_ops_snap_hdr, crc) == 44, "crc");

#endif
