/* SPDX-License-Identifier: MIT */
/*
 * The witness's memory (claim 47; docs/ops-ha.md "The witness"): who holds the lease to act as
 * the active operations partition, at which epoch, for how long a lease lasts. One record in a
 * file of its own, replaced whole (written aside, synced, renamed), so a restarted witness
 * knows whom it granted last and refuses everyone else for one lease length.
 *
 * It lives on disk, so every field is fixed-width little-endian and every offset asserted. The
 * CRC32C covers every byte before the crc field.
 */
#ifndef ULTRA_WITNESS_ABI_H
#define ULTRA_WITNESS_ABI_H

#include <stddef.h>
#include <stdint.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "witness records are little-endian");

#define UV_WIT_STATE_MAGIC 0x54575655u /* "UVWT" */
#define UV_WIT_STATE_VERSION 1u
#define UV_WIT_HOLDER_MAX 32 /* UV_NAME_MAX: an operations partition's --name and its NUL */

struct uv_wit_state_rec {
	uint32_t magic;
	uint16_t version;
	uint16_t header_size;           /* sizeof(struct uv_wit_state_rec) */
	uint64_t epoch;                 /* the holder's term; 0 before any grant */
	uint32_t lease_ms;              /* the length of the holder's lease; 0 before any grant */
	uint32_t reserved;              /* 0 */
	char holder[UV_WIT_HOLDER_MAX]; /* NUL-terminated and NUL-padded; "" before any grant */
	uint32_t reserved2;             /* 0 */
	uint32_t crc;                   /* CRC32C of the bytes before this field */
};

_Static_assert(sizeof(struct uv_wit_state_rec) == 64, "witness record size");
_Static_assert(offsetof(struct uv_wit_state_rec, magic) == 0, "magic");
_Static_assert(offsetof(struct uv_wit_state_rec, version) == 4, "version");
_Static_assert(offsetof(struct uv_wit_state_rec, header_size) == 6, "header_size");
_Static_assert(offsetof(struct uv_wit_state_rec, epoch) == 8, "epoch");
_Static_assert(offsetof(struct uv_wit_state_rec, lease_ms) == 16, "lease_ms");
_Static_assert(offsetof(struct uv_wit_state_rec, reserved) == 20, "reserved");
_Static_assert(offsetof(struct uv_wit_state_rec, holder) == 24, "holder");
_Static_assert(offsetof(struct uv_wit_state_rec, reserved2) == 56, "reserved2");
_Static_assert(offsetof(struct uv_wit_state_rec, crc) == 60, "crc");

#endif
