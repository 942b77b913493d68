/* SPDX-License-Identifier: MIT */
/*
 * Memory channel ABI (claims 4, 15, 16, 51, 61, 62): shared memory granted to exactly two
 * partitions, side A and side B. See docs/channels.md for the diagram and the protocol.
 *
 *   offset 0    struct uv_chan_hdr   identity and geometry, written once by the ultravisor when
 *                                    it formats the region, then only read (and validated)
 *   offset 320  struct uv_chan_state one state word per side, each written only by its side
 *   queue i     at hdr.q[i].offset: struct uv_chan_qctl (producer line, consumer line) followed
 *               by slot_count slots of slot_size bytes: one single-producer/single-consumer ring
 *
 * A message starts at a slot boundary with a struct uv_chan_msg_hdr and occupies
 * ceil((8 + len) / slot_size) consecutive slots; its bytes wrap around the end of the ring like
 * the indices do, so any message up to the ring's size minus 8 bytes fits. A skip marker (flags
 * UV_CHAN_MSG_SKIP, len 0) is no message: it fills the ring from its slot to the ring's end, so
 * the next message starts at slot 0 in one piece (written by the in-place send, feature
 * UV_CHAN_F_SKIP).
 *
 * Indices are free-running 32-bit slot counters (head: next slot the consumer reads; tail: next
 * slot the producer writes); tail - head is the number of slots in use and never exceeds
 * slot_count. Everything is little-endian; the indices, wait flags and state words are C11
 * atomics, everything else is plain data written before it is published.
 */
#ifndef ULTRA_CHANNEL_H
#define ULTRA_CHANNEL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define UV_CHAN_MAGIC 0x4e484355u /* "UCHN" little-endian */
#define UV_CHAN_VERSION 1u
#define UV_CHAN_QUEUES_MAX 8u
#define UV_CHAN_ALIGN 64u /* cache line: region base, queue blocks, control lines */

/* Slot size and count bounds: slots are powers of two so a slot index becomes a byte offset by a
 * shift, a message header never straddles the ring's end, and the peer controls no divisor. */
#define UV_CHAN_SLOT_MIN 16u
#define UV_CHAN_SLOT_MAX (1u << 20)
#define UV_CHAN_SLOTS_MIN 2u
#define UV_CHAN_SLOTS_MAX (1u << 24)
#define UV_CHAN_RING_MAX (1ull << 30) /* slot_size * slot_count */

/* Feature bits. A reader refuses bits it does not know, so a library that predates a bit refuses
 * the channel at attach instead of failing on the first message it cannot parse. */
#define UV_CHAN_F_SKIP (1u << 0) /* the producer may write skip markers (UV_CHAN_MSG_SKIP) */
#define UV_CHAN_FEATURES_KNOWN UV_CHAN_F_SKIP

enum uv_chan_side {
	UV_CHAN_SIDE_A = 0,
	UV_CHAN_SIDE_B = 1,
};

enum uv_chan_state_word {
	UV_CHAN_ST_FREE = 0,      /* formatted, nobody attached yet */
	UV_CHAN_ST_ATTACHING = 1, /* validating the header */
	UV_CHAN_ST_READY = 2,
	UV_CHAN_ST_CLOSED = 3, /* detached cleanly; what it sent can still be drained */
	UV_CHAN_ST_ERROR = 4,  /* it saw garbage from the peer and stopped using the channel */
	UV_CHAN_ST_MAX = 4,
};

struct uv_chan_qdesc {
	uint64_t offset; /* of this queue's struct uv_chan_qctl; the slots follow it */
	uint32_t slot_size;
	uint32_t slot_count;
	uint32_t producer; /* enum uv_chan_side that sends on this queue */
	uint32_t flags;    /* reserved, 0 */
	uint64_t reserved; /* 0 */
};

struct uv_chan_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t hdr_size; /* sizeof(struct uv_chan_hdr) + sizeof(struct uv_chan_state) */
	uint32_t features;
	uint64_t total_size; /* of the whole region */
	uint32_t part_id[2]; /* endpoint partitions, indexed by enum uv_chan_side */
	uint32_t n_queues;
	uint32_t reserved[7]; /* 0 */
	struct uv_chan_qdesc q[UV_CHAN_QUEUES_MAX];
};

/* Each side writes only its own word; both are read by the peer and validated. */
struct uv_chan_state {
	_Atomic uint32_t side[2]; /* enum uv_chan_state_word */
	uint8_t pad[56];
};

/*
 * Per-queue control block: the producer's and the consumer's words on separate cache lines so
 * the two sides do not bounce one line between cores on every message.
 * tail and head are written only by the producer and the consumer respectively. A side that is
 * going to sleep sets its own *_waiting flag; the other side clears it (exchange) and rings the
 * sleeper's doorbell eventfd. See docs/channels.md for the barriers.
 */
struct uv_chan_qctl {
	_Atomic uint32_t tail;
	_Atomic uint32_t cons_waiting; /* consumer sleeps until tail moves */
	uint8_t pad0[56];
	_Atomic uint32_t head;
	_Atomic uint32_t prod_waiting; /* producer sleeps until head moves */
	uint8_t pad1[56];
};

struct uv_chan_msg_hdr {
	uint32_t len;   /* payload bytes that follow this header */
	uint32_t flags; /* 0, or UV_CHAN_MSG_SKIP with len 0 */
};

#define UV_CHAN_MSG_SKIP 1u /* padding up to the ring's end, no message */

#define UV_CHAN_HDR_SIZE (sizeof(struct uv_chan_hdr) + sizeof(struct uv_chan_state))
#define UV_CHAN_MSG_HDR_SIZE (sizeof(struct uv_chan_msg_hdr))

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "channel ABI is little-endian");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && _Alignof(_Atomic uint32_t) == 4, "atomic u32");
_Static_assert(sizeof(struct uv_chan_qdesc) == 32, "qdesc ABI");
_Static_assert(offsetof(struct uv_chan_qdesc, slot_size) == 8, "qdesc ABI");
_Static_assert(offsetof(struct uv_chan_qdesc, slot_count) == 12, "qdesc ABI");
_Static_assert(offsetof(struct uv_chan_qdesc, producer) == 16, "qdesc ABI");
_Static_assert(offsetof(struct uv_chan_qdesc, flags) == 20, "qdesc ABI");
_Static_assert(offsetof(struct uv_chan_qdesc, reserved) == 24, "qdesc ABI");
_Static_assert(offsetof(struct uv_chan_hdr, version) == 4, "hdr ABI");
_Static_assert(offsetof(struct uv_chan_hdr, hdr_size) == 8, "hdr ABI");
_Static_assert(offsetof(struct uv_chan_hdr, features) == 12, "hdr ABI");
_Static_assert(offsetof(struct uv_chan_hdr, total_size) == 16, "hdr ABI");
_Static_assert(offsetof(struct uv_chan_hdr, part_id) == 24, "hdr ABI");
_Static_assert(offsetof(struct uv_chan_hdr, n_queues) == 32, "hdr ABI");
_Static_assert(offsetof(struct uv_chan_hdr, reserved) == 36, "hdr ABI");
_Static_assert(offsetof(struct uv_chan_hdr, q) == 64, "hdr ABI");
_Static_assert(sizeof(struct uv_chan_hdr) == 320, "hdr ABI");
_Static_assert(sizeof(struct uv_chan_state) == 64, "state ABI");
_Static_assert(offsetof(struct uv_chan_state, side) == 0, "state ABI");
_Static_assert(sizeof(struct uv_chan_qctl) == 128, "qctl ABI");
_Static_assert(offsetof(struct uv_chan_qctl, cons_waiting) == 4, "qctl ABI");
_Static_assert(offsetof(struct uv_chan_qctl, head) == 64, "qctl ABI");
_Static_assert(offsetof(struct uv_chan_qctl, prod_waiting) == 68, "qctl ABI");
_Static_assert(sizeof(struct uv_chan_msg_hdr) == 8, "message header ABI");
_Static_assert(offsetof(struct uv_chan_msg_hdr, flags) == 4, "message header ABI");
_Static_assert(UV_CHAN_HDR_SIZE == 384 && UV_CHAN_HDR_SIZE % UV_CHAN_ALIGN == 0, "hdr ABI");
_Static_assert(UV_CHAN_SLOT_MIN >= 2 * UV_CHAN_MSG_HDR_SIZE, "a slot holds a message header");
_Static_assert((uint64_t)UV_CHAN_SLOT_MAX *UV_CHAN_SLOTS_MAX >= UV_CHAN_RING_MAX, "bounds");

#endif
