/* SPDX-License-Identifier: MIT */
/*
 * The resource database region (claims 2, 10, 29-33, 49): one shared-memory area that the
 * ultravisor daemon writes and every monitor maps read-only.
 *
 *   0             8 KiB        P*8 KiB                N*8 KiB
 *   +-------------+------------+---------+------------+-----------+----------+---------+----------+
 *   | header      | desc slot 1|   ...   | desc slot  | partition | channel  | device  | page map |
 *   | (= slot 0,  |            |         |   N-1      | records   | records  | records | (4K al.) |
 *   | partition 0)|            |         |            | [N]       | [C]      | [D]     |          |
 *   +-------------+------------+---------+------------+-----------+----------+---------+----------+
 *
 * The descriptor of partition P = (G,M,K) sits at Mem(G,M,K) = ((G*2^10+M)*2^10+K)*2^10*8 from
 * the region start (claim 31, wordsize 8): slot 0 belongs to partition 0, the ultravisor itself,
 * so it holds the region header instead. Offsets only, never pointers: every mapper reads the same.
 *
 * Readers take consistent copies with the header's generation counter (odd while the writer is
 * changing anything): read gen, copy, read gen again, retry if it moved or was odd.
 */
#ifndef ULTRA_RESDB_H
#define ULTRA_RESDB_H

#include <stddef.h>
#include <stdint.h>
#include <ultra/descriptor.h>
#include <ultra/pagemap.h>

#define UV_RESDB_MAGIC 0x42445255u /* "URDB" little-endian */
#define UV_RESDB_VERSION 1u
#define UV_RESDB_WORDSIZE 8u
#define UV_RESDB_SLOT_SIZE (1024u * UV_RESDB_WORDSIZE) /* 2^10 words per partition number */
/* Partition numbers are dense below max_partitions; 2^16 slots is 512 MiB of descriptors. */
#define UV_RESDB_PARTITIONS_MAX (1u << 16)
#define UV_RESDB_CHANNELS_MAX (1u << 16)
#define UV_RESDB_DEVICES_MAX (1u << 16)
/* Channel memory is carved by the page map (largest tier first): a handful of runs suffices. */
#define UV_RESDB_CHAN_EXT_MAX 8u
/* Owner of channel memory in the page map: the ultravisor, which shares it with both ends. */
#define UV_RESDB_CHANNEL_OWNER 0u

/* What a partition slot holds (claims 5, 52). */
enum uv_resdb_status {
	UV_RESDB_FREE = 0,      /* no partition with this number */
	UV_RESDB_LIVE = 1,      /* created; its descriptor slot is valid */
	UV_RESDB_PRESERVED = 2, /* failed: resources kept for its restarted instance */
};

struct uv_resdb_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t hdr_size;
	uint32_t flags; /* 0 */
	uint64_t gen;   /* odd while the writer changes the region */
	uint64_t total_size;
	uint32_t wordsize;  /* UV_RESDB_WORDSIZE */
	uint32_t slot_size; /* UV_RESDB_SLOT_SIZE */
	uint32_t max_partitions;
	uint32_t max_channels;
	uint32_t max_devices;
	uint32_t pad0;
	uint64_t desc_off; /* 0: Mem(G,M,K) is relative to the region start */
	uint64_t part_off; /* struct uv_resdb_part[max_partitions] */
	uint64_t chan_off; /* struct uv_resdb_chan[max_channels] */
	uint64_t dev_off;  /* struct uv_resdb_dev[max_devices] */
	uint64_t pagemap_off;
	uint64_t pagemap_size;
	uint64_t pool_bytes;
	uint32_t n_partitions; /* LIVE or PRESERVED */
	uint32_t n_channels;
	uint32_t n_devices;
	uint32_t pad1;
	uint64_t reserved[16];
};

/* One per partition number, indexed by it. role is fixed at init (system partitions are
 * configured, everything else is a guest) so it survives destroy and restart. */
struct uv_resdb_part {
	uint32_t id;
	uint32_t status; /* enum uv_resdb_status */
	uint8_t role;    /* enum uv_role */
	uint8_t pad[3];
	uint32_t creator;         /* sender of the CREATE_PARTITION */
	uint32_t state;           /* enum uv_part_state; mirrors the descriptor */
	uint32_t cpu_share_milli; /* mirrors the descriptor */
	uint64_t mem_bytes;       /* granted: the page map blocks it owns */
	uint32_t n_channels;      /* channels with an endpoint here */
	uint32_t n_devices;       /* device records assigned here */
	uint32_t failed_state;    /* state when it failed (PRESERVED only) */
	uint32_t pad2;
};

struct uv_resdb_extent {
	uint64_t offset; /* in the pool */
	uint64_t size;
};

struct uv_resdb_chan {
	uint32_t id;
	uint32_t in_use;
	uint32_t endpoint[2];
	uint64_t size;
	uint32_t n_ext;
	uint32_t pad;
	struct uv_resdb_extent ext[UV_RESDB_CHAN_EXT_MAX]; /* ascending, owned by the ultravisor */
};

/* A device is named by its path; it is assigned to at most one partition. */
struct uv_resdb_dev {
	uint32_t in_use;
	uint32_t partition;
	struct uv_device device;
};

_Static_assert(sizeof(struct uv_resdb_hdr) == 256, "resdb header ABI");
_Static_assert(sizeof(struct uv_resdb_hdr) <= UV_RESDB_SLOT_SIZE, "header fits in slot 0");
_Static_assert(sizeof(struct uv_partition_desc) <= UV_RESDB_SLOT_SIZE, "descriptor fits a slot");
_Static_assert(offsetof(struct uv_resdb_hdr, hdr_size) == 8, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, gen) == 16, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, total_size) == 24, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, wordsize) == 32, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, max_partitions) == 40, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, max_channels) == 44, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, max_devices) == 48, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, desc_off) == 56, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, part_off) == 64, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, chan_off) == 72, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, dev_off) == 80, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, pagemap_off) == 88, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, pagemap_size) == 96, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, pool_bytes) == 104, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, n_partitions) == 112, "resdb header ABI");
_Static_assert(offsetof(struct uv_resdb_hdr, reserved) == 128, "resdb header ABI");
_Static_assert(sizeof(struct uv_resdb_part) == 48, "resdb partition ABI");
_Static_assert(offsetof(struct uv_resdb_part, role) == 8, "resdb partition ABI");
_Static_assert(offsetof(struct uv_resdb_part, creator) == 12, "resdb partition ABI");
_Static_assert(offsetof(struct uv_resdb_part, state) == 16, "resdb partition ABI");
_Static_assert(offsetof(struct uv_resdb_part, mem_bytes) == 24, "resdb partition ABI");
_Static_assert(offsetof(struct uv_resdb_part, n_channels) == 32, "resdb partition ABI");
_Static_assert(offsetof(struct uv_resdb_part, failed_state) == 40, "resdb partition ABI");
_Static_assert(sizeof(struct uv_resdb_extent) == 16, "resdb extent ABI");
_Static_assert(sizeof(struct uv_resdb_chan) == 32 + 16 * UV_RESDB_CHAN_EXT_MAX, "channel ABI");
_Static_assert(offsetof(struct uv_resdb_chan, endpoint) == 8, "resdb channel ABI");
_Static_assert(offsetof(struct uv_resdb_chan, size) == 16, "resdb channel ABI");
_Static_assert(offsetof(struct uv_resdb_chan, n_ext) == 24, "resdb channel ABI");
_Static_assert(offsetof(struct uv_resdb_chan, ext) == 32, "resdb channel ABI");
_Static_assert(sizeof(struct uv_resdb_dev) == 272, "resdb device ABI");
_Static_assert(offsetof(struct uv_resdb_dev, device) == 8, "resdb device ABI");

/* Snapshot (what the daemon hands uv_log_checkpoint): this header, then n_roles roles, n_parts
 * x (record, descriptor), n_chans channel records, n_devs device records and n_runs owned runs of
 * the page map, all packed in that order. */
#define UV_RESDB_SNAP_MAGIC 0x4e535255u /* "URSN" little-endian */
#define UV_RESDB_SNAP_VERSION 1u

struct uv_resdb_snap_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t hdr_size;
	uint32_t pad;
	uint64_t pool_bytes;
	uint32_t max_partitions;
	uint32_t max_channels;
	uint32_t max_devices;
	uint32_t n_roles;
	uint32_t n_parts;
	uint32_t n_chans;
	uint32_t n_devs;
	uint32_t n_runs;
	uint64_t length; /* whole snapshot */
};

struct uv_resdb_snap_role {
	uint32_t partition;
	uint8_t role;
	uint8_t pad[3];
};

struct uv_resdb_snap_run {
	uint64_t offset;
	uint64_t size;
	uint32_t owner;
	uint32_t pad;
};

_Static_assert(sizeof(struct uv_resdb_snap_hdr) == 64, "resdb snapshot ABI");
_Static_assert(offsetof(struct uv_resdb_snap_hdr, pool_bytes) == 16, "resdb snapshot ABI");
_Static_assert(offsetof(struct uv_resdb_snap_hdr, max_partitions) == 24, "resdb snapshot ABI");
_Static_assert(offsetof(struct uv_resdb_snap_hdr, n_roles) == 36, "resdb snapshot ABI");
_Static_assert(offsetof(struct uv_resdb_snap_hdr, n_parts) == 40, "resdb snapshot ABI");
_Static_assert(offsetof(struct uv_resdb_snap_hdr, n_runs) == 52, "resdb snapshot ABI");
_Static_assert(offsetof(struct uv_resdb_snap_hdr, length) == 56, "resdb snapshot ABI");
_Static_assert(sizeof(struct uv_resdb_snap_role) == 8, "resdb snapshot ABI");
_Static_assert(sizeof(struct uv_resdb_snap_run) == 24, "resdb snapshot ABI");
_Static_assert(offsetof(struct uv_resdb_snap_run, owner) == 16, "resdb snapshot ABI");
_Static_assert((sizeof(struct uv_resdb_part) + sizeof(struct uv_partition_desc)) % 8 == 0,
               "snapshot entries stay 8-aligned");

#endif
