/* SPDX-License-Identifier: MIT */
/*
 * The audit log on disk (claims 7, 54): how the ultravisor records every transaction so that
 * after a crash it can re-apply the committed ones and roll back the pending ones.
 *
 * A log directory holds numbered segments and snapshots:
 *
 *   seg-0000000000000000.log   segment header, then records, appended only
 *   snap-0000000000000003.snap state covering every transaction before segment 3
 *   seg-0000000000000003.log   records after that snapshot
 *
 * Segment:   [uv_log_seg_hdr][rec][payload pad][rec][rec][payload pad] ...
 * Record:    32-byte header, then `length` payload bytes (an encoded transaction for BEGIN,
 *            nothing for COMMIT and ABORT), then zero padding to a multiple of 8 bytes.
 *
 * Every record carries a CRC32C, so a torn or damaged tail is found and cut off on recovery.
 * Fields are little-endian; every size and offset is asserted below.
 */
#ifndef ULTRA_TXN_LOG_H
#define ULTRA_TXN_LOG_H

#include <stddef.h>
#include <stdint.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "log files are little-endian");

#define UV_LOG_SEG_MAGIC 0x474c5655u  /* "UVLG" */
#define UV_LOG_REC_MAGIC 0x43524c55u  /* "ULRC" */
#define UV_LOG_SNAP_MAGIC 0x4e535655u /* "UVSN" */
#define UV_LOG_VERSION 1u
#define UV_LOG_ALIGN 8u
/* Bounds a garbage length field; a transaction record is at most a few KiB. */
#define UV_LOG_PAYLOAD_MAX (64u * 1024)

enum uv_log_kind {
	UV_LOG_BEGIN = 1,  /* a transaction was received and is being applied; payload = record */
	UV_LOG_COMMIT = 2, /* seq's changes are in the database for good */
	UV_LOG_ABORT = 3,  /* seq's changes were undone (refused, or rolled back after a crash) */
};

struct uv_log_seg_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t header_size;
	uint64_t segment;   /* equals the number in the file name */
	uint64_t first_seq; /* the sequence number the first BEGIN in this segment must carry */
	uint32_t reserved;
	uint32_t crc; /* CRC32C of the bytes before this field */
};

struct uv_log_rec {
	uint32_t magic;
	uint32_t crc;        /* CRC32C from `length` to the end of the padded payload */
	uint32_t length;     /* payload bytes, without padding */
	uint8_t kind;        /* enum uv_log_kind */
	uint8_t sender_role; /* enum uv_role of the partition that sent the transaction */
	uint16_t reserved;
	uint32_t sender; /* partition number of that partition */
	uint32_t reserved2;
	uint64_t seq; /* transaction sequence number: BEGINs count up by one, no gaps */
};

struct uv_log_snap_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t header_size;
	uint64_t segment;  /* the first segment to replay on top of this state */
	uint64_t next_seq; /* every sequence number below this one is decided */
	uint64_t length;   /* bytes of caller state that follow */
	uint32_t reserved;
	uint32_t crc; /* CRC32C of the bytes before this field, then of the state */
};

_Static_assert(sizeof(struct uv_log_seg_hdr) == 32, "log segment ABI");
_Static_assert(offsetof(struct uv_log_seg_hdr, version) == 4, "log segment ABI");
_Static_assert(offsetof(struct uv_log_seg_hdr, header_size) == 6, "log segment ABI");
_Static_assert(offsetof(struct uv_log_seg_hdr, segment) == 8, "log segment ABI");
_Static_assert(offsetof(struct uv_log_seg_hdr, first_seq) == 16, "log segment ABI");
_Static_assert(offsetof(struct uv_log_seg_hdr, crc) == 28, "log segment ABI");
_Static_assert(sizeof(struct uv_log_rec) == 32, "log record ABI");
_Static_assert(offsetof(struct uv_log_rec, crc) == 4, "log record ABI");
_Static_assert(offsetof(struct uv_log_rec, length) == 8, "log record ABI");
_Static_assert(offsetof(struct uv_log_rec, kind) == 12, "log record ABI");
_Static_assert(offsetof(struct uv_log_rec, sender_role) == 13, "log record ABI");
_Static_assert(offsetof(struct uv_log_rec, sender) == 16, "log record ABI");
_Static_assert(offsetof(struct uv_log_rec, seq) == 24, "log record ABI");
_Static_assert(sizeof(struct uv_log_snap_hdr) == 40, "log snapshot ABI");
_Static_assert(offsetof(struct uv_log_snap_hdr, segment) == 8, "log snapshot ABI");
_Static_assert(offsetof(struct uv_log_snap_hdr, next_seq) == 16, "log snapshot ABI");
_Static_assert(offsetof(struct uv_log_snap_hdr, length) == 24, "log snapshot ABI");
_Static_assert(offsetof(struct uv_log_snap_hdr, crc) == 36, "log snapshot ABI");

#endif
