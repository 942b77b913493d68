/* SPDX-License-Identifier: MIT */
/*
 * Decoding, encoding and describing transaction records (include/ultra/txn.h).
 *
 * The decoder trusts nothing: it is handed raw bytes from another partition's channel or from a
 * log file and either fills a struct uv_txn or names what is wrong with an enum uv_txn_reason.
 */
#ifndef ULTRA_LIB_TXN_CODEC_H
#define ULTRA_LIB_TXN_CODEC_H

#include <stddef.h>
#include <sys/types.h>
#include <ultra/txn.h>

/* A decoded record: native copies of the header and body. The extents of a grant or revoke stay
 * in the caller's buffer (which need not be aligned); read them with uv_txn_extent_at(). When
 * encoding, point extents at an array of memory.n_extents struct uv_txn_extent. */
struct uv_txn {
	struct uv_txn_hdr hdr;
	union {
		struct uv_partition_desc create;
		struct uv_txn_partition partition;
		struct uv_txn_memory memory;
		struct uv_txn_channel channel;
		struct uv_txn_device device;
		struct uv_txn_cpu_share cpu;
		struct uv_txn_state state;
		struct uv_txn_response response;
		struct uv_txn_disk_limits disk_limits;
	} u;
	const void *extents;
};

/* Validates the len bytes at buf as exactly one record. On UV_TXN_OK *out is filled (its extents
 * point into buf); on any other reason *out is untouched. */
enum uv_txn_reason uv_txn_decode(const void *buf, size_t len, struct uv_txn *out);
/* Why the len bytes at buf decode as reason, for a person: the reason's text and, for a
 * create-partition record, what is wrong with its descriptor (a version this build cannot read
 * names both versions; docs/txn-log.md, "Upgrading"). Always NUL-terminates out. */
void uv_txn_explain(const void *buf, size_t len, enum uv_txn_reason reason, char *out, size_t cap);

struct uv_txn_extent uv_txn_extent_at(const struct uv_txn *t, uint32_t i);

/* Bytes uv_txn_encode() needs for t, or 0 when t's type or extent count is out of range. */
size_t uv_txn_encoded_size(const struct uv_txn *t);

/* Writes t as a record into buf: fills magic, version, header size and length, copies type,
 * flags, sender and request id from t->hdr, zeroes padding. Returns the record's length, -ENOSPC
 * when cap is too small, or -EINVAL when the result would not decode (*reason, if not NULL, then
 * says why). */
ssize_t uv_txn_encode(const struct uv_txn *t, void *buf, size_t cap, enum uv_txn_reason *reason);

/* Fills *resp as the ultravisor's answer to the request whose header is req. */
void uv_txn_response_init(struct uv_txn *resp, const struct uv_txn_hdr *req,
                          enum uv_txn_reason reason, uint64_t log_seq);

/* A sentence per reason, for the sender's logs; "unknown reason" for values not in the enum. */
const char *uv_txn_reason_str(enum uv_txn_reason r);
/* The enum's name without prefix ("BAD_MAGIC"), or NULL for values not in the enum. */
const char *uv_txn_reason_name(enum uv_txn_reason r);
const char *uv_txn_type_name(enum uv_txn_type t);
const char *uv_role_name(enum uv_role r);

/* One line describing t ("grant-memory partition=5 bytes=8388608 extents=2"); like snprintf it
 * returns the length it wanted. */
int uv_txn_summary(const struct uv_txn *t, char *buf, size_t len);

/* Which partitions a role may target with a type (claims 6, 8). The ultravisor knows which
 * partitions are system partitions and which is the sender, so it applies the scope. */
enum uv_txn_scope {
	UV_SCOPE_NONE = 0,   /* refused: UV_TXN_NOT_PERMITTED */
	UV_SCOPE_SELF = 1,   /* only the sender's own partition */
	UV_SCOPE_SYSTEM = 2, /* only system partitions (never guests) */
	UV_SCOPE_ANY = 3,
};

/* command_up: the command partition has announced itself; until then the boot partition may
 * request resources for system partitions, afterwards only the command partition allocates. */
enum uv_txn_scope uv_txn_scope(enum uv_role role, enum uv_txn_type type, int command_up);

#endif
