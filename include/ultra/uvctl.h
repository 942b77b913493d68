/* SPDX-License-Identifier: MIT */
/*
 * The ultravisor's control socket (SOCK_SEQPACKET, one request and one response per message,
 * file descriptors as SCM_RIGHTS). It only hands out capabilities: the resource database
 * (read-only), memory objects, and command channels. Resources themselves change only through
 * transactions on a command channel (claims 3, 4, 6).
 */
#ifndef ULTRA_UVCTL_H
#define ULTRA_UVCTL_H

#include <stddef.h>
#include <stdint.h>

#define UV_CTL_MAGIC 0x4c544355u /* "UCTL" */
#define UV_CTL_VERSION 1u
#define UV_CTL_FDS_MAX 8

enum uv_ctl_op {
	/* -> fd[0]: the resource database, read-only (claim 10); size = region bytes */
	UV_CTL_GET_DB = 1,
	/* partition -> one memory object per grant of that partition, in grant order;
	 * size = bytes of all of them (claims 29-32) */
	UV_CTL_GET_MEMORY = 2,
	/* partition, role -> fd[0] channel memory, fd[1] the caller's doorbell (the ultravisor
	 * signals it), fd[2] the ultravisor's doorbell; size = channel bytes; the caller is side B
	 * and sends transactions on queue 0, receives responses on queue 1 (claims 4, 6) */
	UV_CTL_OPEN_COMMAND = 3,
	/* partition failed: its pending work is rolled back, its resources preserved (claim 5) */
	UV_CTL_PARTITION_FAILED = 4,
	/* partition's restarted instance takes its preserved resources back (claims 5, 8) */
	UV_CTL_PARTITION_RESTARTED = 5,
	/* partition -> one channel memory object per channel that has the partition as an
	 * endpoint, in channel id order (claims 4, 15, 16); the response is followed, in the same
	 * message, by one struct uv_ctl_channel per fd; size = bytes of all of them. Channels of
	 * other partitions are never included. */
	UV_CTL_GET_CHANNELS = 6,
	/* partition, fds: the memory objects the partition's running engine holds, sent by its
	 * monitor after the ultravisor restarted. Memory objects are made afresh at recovery;
	 * this hands the live ones back so every later holder (an I/O partition, a new monitor)
	 * gets the guest's real memory (claims 5, 29-32). Only on the partition's monitor
	 * connection; each fd must be a memory object of that partition the database knows. */
	UV_CTL_ADOPT_MEMORY = 7,
	/* The same for the channel memory objects the engine holds: only the monitor of one of
	 * the channel's endpoints, only an object of that channel (name, endpoints, size). */
	UV_CTL_ADOPT_CHANNELS = 8,
};

struct uv_ctl_req {
	uint32_t magic;
	uint16_t version;
	uint16_t op; /* enum uv_ctl_op */
	uint32_t partition;
	uint8_t role; /* enum uv_role, for UV_CTL_OPEN_COMMAND */
	uint8_t pad[3];
	uint64_t reserved; /* 0 */
};

struct uv_ctl_resp {
	uint32_t magic;
	uint16_t version;
	uint16_t op;
	int32_t error; /* 0 or a negative errno */
	uint32_t n_fds;
	uint64_t size;
	char message[96]; /* a sentence when error != 0 */
};

_Static_assert(sizeof(struct uv_ctl_req) == 24, "ctl ABI");
_Static_assert(offsetof(struct uv_ctl_req, partition) == 8, "ctl ABI");
_Static_assert(offsetof(struct uv_ctl_req, role) == 12, "ctl ABI");
_Static_assert(offsetof(struct uv_ctl_req, reserved) == 16, "ctl ABI");
_Static_assert(sizeof(struct uv_ctl_resp) == 120, "ctl ABI");
_Static_assert(offsetof(struct uv_ctl_resp, error) == 8, "ctl ABI");
_Static_assert(offsetof(struct uv_ctl_resp, n_fds) == 12, "ctl ABI");
_Static_assert(offsetof(struct uv_ctl_resp, size) == 16, "ctl ABI");
_Static_assert(offsetof(struct uv_ctl_resp, message) == 24, "ctl ABI");

/* One granted channel, after struct uv_ctl_resp in a UV_CTL_GET_CHANNELS response; entry i
 * describes fd i. The memory object is already formatted (uv_chan_format) for the two
 * endpoints; side is where the asking partition attaches. */
struct uv_ctl_channel {
	uint32_t channel_id;
	uint32_t side;     /* enum uv_chan_side of the asking partition */
	uint32_t peer;     /* the other endpoint's partition */
	uint32_t reserved; /* 0 */
	uint64_t size;     /* bytes of the memory object: a power of two >= 4 KiB (a PCI BAR) */
};

_Static_assert(sizeof(struct uv_ctl_channel) == 24, "ctl ABI");
_Static_assert(offsetof(struct uv_ctl_channel, side) == 4, "ctl ABI");
_Static_assert(offsetof(struct uv_ctl_channel, peer) == 8, "ctl ABI");
_Static_assert(offsetof(struct uv_ctl_channel, size) == 16, "ctl ABI");

/* Guest channel geometry (the ultravisor formats every CREATE_CHANNEL object so): two queues,
 * queue 0 sent by side A (the record's endpoint[0]), queue 1 by side B, 64-byte slots, each
 * queue as many slots (a power of two) as fit in half the object. */
#define UV_GCHAN_SLOT_SIZE 64u
#define UV_GCHAN_SIZE_MIN 4096u

/* Command channel geometry: queue 0 carries requests (side B -> A), queue 1 responses. */
#define UV_CMD_SLOT_SIZE 256u
#define UV_CMD_SLOTS 256u

#endif
