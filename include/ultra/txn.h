/* SPDX-License-Identifier: MIT */
/*
 * Resource transactions (claims 3-8, 50-53): the records a system partition sends the ultravisor
 * on the command channel to change the resource database, and the response it gets back.
 *
 * A record is a common header followed by a body whose layout depends on the type; memory
 * grants and revocations then carry an array of extents. Records cross a process boundary and
 * are stored verbatim in the audit log, so every field is fixed-width little-endian with explicit
 * padding (reserved bytes must be zero), and every size and offset is asserted below.
 *
 *   0         8          16           24          32
 *   +---------+----------+------------+-----------+----------------+------------------+
 *   | magic   | type     | sender id  | request   | body           | extents (grant / |
 *   | version | flags    | role, pad  | id        | (per type)     |  revoke only)    |
 *   | hdr size| length   |            |           |                |                  |
 *   +---------+----------+------------+-----------+----------------+------------------+
 */
#ifndef ULTRA_TXN_H
#define ULTRA_TXN_H

#include <stddef.h>
#include <stdint.h>
#include <ultra/descriptor.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "records are little-endian on the wire");

#define UV_TXN_MAGIC 0x4e585455u /* "UTXN" little-endian */
#define UV_TXN_VERSION 1u
/* A grant is backed by the blocks the tiered page map handed out; the allocator takes the largest
 * tier that fits, so even a badly fragmented pool needs few extents. The bound keeps a record
 * (and a hostile count) small. */
#define UV_TXN_EXTENTS_MAX 1024u
#define UV_TXN_PAGE_SIZE 4096u
#define UV_TXN_CPU_SHARE_MAX (UV_VCPUS_MAX * 1000u)

enum uv_txn_type {
	UV_TXN_NONE = 0,
	UV_TXN_CREATE_PARTITION = 1,
	UV_TXN_DESTROY_PARTITION = 2,
	UV_TXN_GRANT_MEMORY = 3,
	UV_TXN_REVOKE_MEMORY = 4,
	UV_TXN_CREATE_CHANNEL = 5,
	UV_TXN_DESTROY_CHANNEL = 6,
	UV_TXN_ASSIGN_DEVICE = 7,
	UV_TXN_RELEASE_DEVICE = 8,
	UV_TXN_SET_CPU_SHARE = 9,
	UV_TXN_SET_STATE = 10,
	UV_TXN_RESPONSE = 11,        /* ultravisor -> sender: the outcome of request_id */
	UV_TXN_SET_DISK_LIMITS = 12, /* a request numbered after RESPONSE: older numbers stay */
	UV_TXN_TYPE_COUNT = 13,
};

/* Who sent a record. The ultravisor checks it against the channel it arrived on; the table in
 * txn_codec.h says which role may send which type (claims 6, 8). */
enum uv_role {
	UV_ROLE_ULTRAVISOR = 0, /* responses, and compensating records during rollback */
	UV_ROLE_BOOT = 1,
	UV_ROLE_COMMAND = 2,
	UV_ROLE_OPERATIONS = 3,
	UV_ROLE_IO = 4,
	UV_ROLE_MONITOR = 5,
	UV_ROLE_GUEST = 6,
	UV_ROLE_COUNT = 7,
};

/* Why a record was refused; UV_TXN_OK in a response means it was applied. The first group is
 * found by the decoder from the bytes alone, the second by the ultravisor against the database. */
enum uv_txn_reason {
	UV_TXN_OK = 0,
	UV_TXN_BAD_MAGIC = 1,
	UV_TXN_BAD_VERSION = 2,
	UV_TXN_BAD_HEADER_SIZE = 3,
	UV_TXN_BAD_SIZE = 4, /* length disagrees with the buffer or with the type's layout */
	UV_TXN_UNKNOWN_TYPE = 5,
	UV_TXN_BAD_FLAGS = 6,
	UV_TXN_BAD_ROLE = 7,
	UV_TXN_BAD_RESERVED = 8, /* a padding or reserved field is not zero */
	UV_TXN_BAD_COUNT = 9,    /* a count beyond its bound or overflowing the record */
	UV_TXN_BAD_STRING = 10,  /* a string field is not NUL-terminated or is empty */
	UV_TXN_BAD_VALUE = 11,   /* an enum or number outside its range */
	UV_TXN_BAD_EXTENT = 12,  /* misaligned, empty, overlapping or not adding up to the total */
	UV_TXN_BAD_DESC = 13,    /* the partition descriptor fails its own validation */
	UV_TXN_NO_SPACE = 32,
	UV_TXN_DOUBLE_ALLOC = 33,
	UV_TXN_NO_SUCH_PARTITION = 34,
	UV_TXN_NO_SUCH_CHANNEL = 35,
	UV_TXN_NO_SUCH_DEVICE = 36,
	UV_TXN_NOT_PERMITTED = 37,
	UV_TXN_EXISTS = 38,
	UV_TXN_BUSY = 39,     /* the target is in a state that forbids the change right now */
	UV_TXN_IO_ERROR = 40, /* the audit log could not make the record durable */
};

/* The boot partition asks on behalf of a system partition it is (re)starting (claims 8, 55). */
#define UV_TXN_F_ON_BEHALF 0x1u
#define UV_TXN_F_ALL UV_TXN_F_ON_BEHALF

struct uv_txn_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t header_size; /* sizeof(struct uv_txn_hdr) */
	uint16_t type;        /* enum uv_txn_type */
	uint16_t flags;       /* UV_TXN_F_* */
	uint32_t length;      /* whole record: header, body, extents */
	uint32_t sender_id;   /* partition number of the sender */
	uint8_t sender_role;  /* enum uv_role */
	uint8_t pad[3];
	uint64_t request_id; /* chosen by the sender; echoed in the response */
};

/* CREATE_PARTITION: the body is a struct uv_partition_desc. */

/* DESTROY_PARTITION */
struct uv_txn_partition {
	uint32_t partition_id;
	uint32_t reserved;
};

/* GRANT_MEMORY and REVOKE_MEMORY: the exact blocks, so replaying the log rebuilds the same map. */
struct uv_txn_extent {
	uint64_t pool_offset; /* in the host's partitionable memory pool */
	uint64_t size;
};

struct uv_txn_memory {
	uint32_t partition_id;
	uint32_t n_extents; /* followed by n_extents struct uv_txn_extent, ascending, disjoint */
	uint64_t bytes;     /* sum of the extents' sizes */
};

/* CREATE_CHANNEL and DESTROY_CHANNEL (claims 4, 16) */
struct uv_txn_channel {
	uint32_t channel_id;
	uint32_t endpoint[2]; /* partition numbers of the two ends; must differ */
	uint32_t reserved;
	uint64_t size; /* bytes of shared memory, a multiple of the page size */
};

/* ASSIGN_DEVICE and RELEASE_DEVICE */
struct uv_txn_device {
	uint32_t partition_id;
	uint32_t reserved;
	struct uv_device device;
};

/* SET_CPU_SHARE (claim 26) */
struct uv_txn_cpu_share {
	uint32_t partition_id;
	uint32_t cpu_share_milli; /* 1000 = one whole host CPU; 0 = unlimited */
};

/* SET_STATE */
struct uv_txn_state {
	uint32_t partition_id;
	uint32_t state; /* enum uv_part_state */
};

/* SET_DISK_LIMITS (claims 3, 7, 19, 59; docs/io-partition.md, "Changing a limit"): the I/O
 * limit of disk number disk in the partition's descriptor, for a defined or a running partition.
 * Whoever enforces it (ultra-io for a served disk, the monitor for a direct one) is told by the
 * command partition; the database is what a restarted enforcer goes back to. The response's
 * result[] carries the totals it replaced: bytes_per_sec, iops. Descriptor version 4 made the
 * body 48 bytes (reads and writes apart, claims 19, 22); a 24-byte body an older build logged
 * (bytes_per_sec u64, iops u32, reserved u32 after disk) still decodes, as totals. */
struct uv_txn_disk_limits {
	uint32_t partition_id;
	uint32_t disk; /* index into the descriptor's disk[] */
	struct uv_disk_limit limit;
};

/* RESPONSE: header.request_id is the request being answered. */
struct uv_txn_response {
	uint32_t reason;       /* enum uv_txn_reason */
	uint16_t request_type; /* enum uv_txn_type of the request */
	uint16_t reserved;
	uint64_t result[2]; /* type-specific: e.g. the new partition or channel id */
	uint64_t log_seq;   /* audit log sequence number of the transaction; 0 when refused */
};

_Static_assert(sizeof(struct uv_txn_hdr) == 32, "txn header ABI");
_Static_assert(offsetof(struct uv_txn_hdr, version) == 4, "txn header ABI");
_Static_assert(offsetof(struct uv_txn_hdr, header_size) == 6, "txn header ABI");
_Static_assert(offsetof(struct uv_txn_hdr, type) == 8, "txn header ABI");
_Static_assert(offsetof(struct uv_txn_hdr, flags) == 10, "txn header ABI");
_Static_assert(offsetof(struct uv_txn_hdr, length) == 12, "txn header ABI");
_Static_assert(offsetof(struct uv_txn_hdr, sender_id) == 16, "txn header ABI");
_Static_assert(offsetof(struct uv_txn_hdr, sender_role) == 20, "txn header ABI");
_Static_assert(offsetof(struct uv_txn_hdr, pad) == 21, "txn header ABI");
_Static_assert(offsetof(struct uv_txn_hdr, request_id) == 24, "txn header ABI");
_Static_assert(sizeof(struct uv_txn_partition) == 8, "txn body ABI");
_Static_assert(sizeof(struct uv_txn_extent) == 16, "txn extent ABI");
_Static_assert(offsetof(struct uv_txn_extent, size) == 8, "txn extent ABI");
_Static_assert(sizeof(struct uv_txn_memory) == 16, "txn body ABI");
_Static_assert(offsetof(struct uv_txn_memory, n_extents) == 4, "txn body ABI");
_Static_assert(offsetof(struct uv_txn_memory, bytes) == 8, "txn body ABI");
_Static_assert(sizeof(struct uv_txn_channel) == 24, "txn body ABI");
_Static_assert(offsetof(struct uv_txn_channel, endpoint) == 4, "txn body ABI");
_Static_assert(offsetof(struct uv_txn_channel, reserved) == 12, "txn body ABI");
_Static_assert(offsetof(struct uv_txn_channel, size) == 16, "txn body ABI");
_Static_assert(sizeof(struct uv_txn_device) == 272, "txn body ABI");
_Static_assert(offsetof(struct uv_txn_device, device) == 8, "txn body ABI");
_Static_assert(sizeof(struct uv_txn_cpu_share) == 8, "txn body ABI");
_Static_assert(offsetof(struct uv_txn_cpu_share, cpu_share_milli) == 4, "txn body ABI");
_Static_assert(sizeof(struct uv_txn_state) == 8, "txn body ABI");
_Static_assert(offsetof(struct uv_txn_state, state) == 4, "txn body ABI");
_Static_assert(sizeof(struct uv_txn_disk_limits) == 48, "txn body ABI");
_Static_assert(offsetof(struct uv_txn_disk_limits, disk) == 4, "txn body ABI");
_Static_assert(offsetof(struct uv_txn_disk_limits, limit) == 8, "txn body ABI");
_Static_assert(sizeof(struct uv_txn_response) == 32, "txn body ABI");
_Static_assert(offsetof(struct uv_txn_response, request_type) == 4, "txn body ABI");
_Static_assert(offsetof(struct uv_txn_response, result) == 8, "txn body ABI");
_Static_assert(offsetof(struct uv_txn_response, log_seq) == 24, "txn body ABI");
_Static_assert(sizeof(struct uv_partition_desc) % 8 == 0, "bodies keep extents 8-aligned");

#endif
