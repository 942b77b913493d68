/* SPDX-License-Identifier: MIT */
/*
 * Partition descriptor: the record that says what one partition may use (claims 10-13, 31-32).
 *
 * It crosses process boundaries: the ultravisor writes it into the resource database, a monitor
 * reads it (read-only) and confines its execution engine to exactly what it grants. Every field
 * is fixed-width little-endian with explicit padding, and every offset a peer relies on is
 * asserted below, so a reader built separately can never disagree about the layout.
 */
#ifndef ULTRA_DESCRIPTOR_H
#define ULTRA_DESCRIPTOR_H

#include <stddef.h>
#include <stdint.h>

#define UV_DESC_MAGIC 0x43534455u /* "UDSC" little-endian */
/* 2: disks, NICs and channels a definition asks for; 3: disk limits; 4: reads and writes limited
 * apart (desc_upgrade.c turns an older record into this one). */
#define UV_DESC_VERSION 4u

#define UV_NAME_MAX 32
#define UV_PATH_MAX 256
#define UV_CMDLINE_MAX 512
#define UV_MEM_REGIONS_MAX 8
#define UV_DEVICES_MAX 16
#define UV_VCPUS_MAX 64
#define UV_DISKS_MAX 4
#define UV_NICS_MAX 4
#define UV_CHANNELS_MAX 8

/* Guest RAM granularity: 1 MiB keeps every region a whole number of 4 KiB pages and of the
 * 2 MiB-aligned pieces QEMU's memory backends prefer, while letting small test guests exist. */
#define UV_MEM_ALIGN (1ull << 20)
#define UV_MEM_MIN (32ull << 20)
/* microvm puts RAM contiguously below the 32-bit PCI hole; larger guests are split above 4 GiB by
 * QEMU itself, so one region is what the descriptor describes for now. */
#define UV_MEM_MAX (1ull << 40)

/* Channel memory shown through ivshmem: a PCI BAR, so a power of two; one page at least, and at
 * most 1 GiB so it fits the PCIe window of microvm with room to spare. */
#define UV_CHAN_MEM_MIN 4096u
#define UV_CHAN_MEM_MAX (1ull << 30)

enum uv_accel {
	UV_ACCEL_AUTO = 0, /* KVM only where it can run a Linux guest, TCG otherwise */
	UV_ACCEL_KVM = 1,
	UV_ACCEL_TCG = 2,
};

enum uv_part_state {
	UV_STATE_DEFINED = 0,
	UV_STATE_STARTING = 1,
	UV_STATE_RUNNING = 2,
	UV_STATE_PAUSED = 3,
	UV_STATE_STOPPING = 4,
	UV_STATE_STOPPED = 5,
	UV_STATE_CRASHED = 6,
	/* Live migration (claim 44, docs/migration.md): the target's engine waits for the memory
	 * stream and has not run yet; the source's guest runs while its memory is sent. */
	UV_STATE_INCOMING = 7,
	UV_STATE_MIGRATING = 8,
	UV_STATE_MAX = 8,
};

enum uv_dev_kind {
	UV_DEV_NONE = 0,
	UV_DEV_RNG = 1, /* virtio-rng fed from the host's /dev/urandom */
	UV_DEV_BLK = 2, /* virtio-blk over a raw image (the I/O partition takes this over) */
	UV_DEV_VHOST_USER_BLK = 3, /* served by an I/O partition */
	UV_DEV_VHOST_USER_NET = 4, /* served by an I/O partition */
	/* A memory channel (claims 15, 16) shown to the guest as an ivshmem-plain PCI device whose
	 * BAR 2 is the channel's memory object at path (a power-of-two size, as ivshmem needs). */
	UV_DEV_CHANNEL = 5,
	/* The fast path (claims 22, 23, 68, 69; docs/io-partition.md): a raw image at path that
	 * the engine itself reads and writes with O_DIRECT through io_uring, no I/O partition on
	 * the data path. Granted by placement only, for a disk request with UV_DISK_F_DIRECT. */
	UV_DEV_DIRECT_BLK = 6,
	UV_DEV_KIND_MAX = 6,
};

#define UV_DEV_F_READONLY 0x1u
/* uv_disk_req.flags only: the disk takes the fast path (a direct-blk grant, no export). */
#define UV_DISK_F_DIRECT 0x2u

struct uv_mem_region {
	uint64_t pool_offset; /* offset of the region in the memory object behind the grant */
	uint64_t guest_phys;  /* where the guest sees it */
	uint64_t size;
};

struct uv_device {
	uint32_t kind;  /* enum uv_dev_kind */
	uint32_t flags; /* UV_DEV_F_* */
	/* image file, vhost-user socket or channel memory; NUL-terminated */
	char path[UV_PATH_MAX];
};

/*
 * What a definition asks the command partition to place when the partition starts (issue 6 item
 * 1; claims 17-19, 53): disks and NICs served by an I/O partition, which end up granted as
 * vhost-user devices in dev[], and channels to other partitions, granted by CREATE_CHANNEL.
 * These are requests: the grants that carry them out are recorded where grants always are.
 */
struct uv_disk_req {
	uint32_t flags; /* UV_DEV_F_READONLY, UV_DISK_F_DIRECT */
	uint32_t reserved;
	char image[UV_PATH_MAX]; /* raw image file or block device; NUL-terminated */
};

/* A disk's I/O limits (docs/definitions.md, "limits"), per second; 0 means no limit of that
 * kind. A total counts reads and writes together, read_* and write_* one direction each, like
 * libvirt's total_bytes_sec / read_bytes_sec / write_bytes_sec; a total and a direction of the
 * same kind (bytes or requests) are never both set (uv_disk_limit_check). disk_limit[i] belongs
 * to disk[i]. The I/O partition enforces it for a served disk; the monitor has the kernel enforce
 * it for a direct one (claims 19, 22). Version 3 had only the totals, 16 bytes a disk. */
struct uv_disk_limit {
	uint64_t bytes_per_sec;
	uint64_t read_bytes_per_sec;
	uint64_t write_bytes_per_sec;
	uint32_t iops;
	uint32_t read_iops;
	uint32_t write_iops;
	uint32_t reserved;
};

struct uv_nic_req {
	char sw[UV_NAME_MAX]; /* the I/O partition's switch the NIC is a port of */
	uint32_t flags;       /* none defined: 0 */
	uint32_t reserved;
};

struct uv_chan_req {
	char peer[UV_NAME_MAX]; /* the other partition, by name */
	uint64_t size;          /* bytes: a power of two (an ivshmem BAR) */
};

struct uv_partition_desc {
	uint32_t magic;
	uint32_t version;
	uint32_t size; /* sizeof(struct uv_partition_desc) as the writer knew it */
	uint32_t id;   /* partition number, a (2,10,10,10) index (claim 33) */
	char name[UV_NAME_MAX];
	uint32_t vcpus;
	uint32_t cpu_share_milli; /* 1000 = one whole host CPU; 0 = unlimited */
	uint32_t accel;           /* enum uv_accel */
	uint32_t state;           /* enum uv_part_state */
	uint32_t n_mem;
	uint32_t n_dev;
	uint64_t mem_bytes; /* sum of the regions' sizes */
	struct uv_mem_region mem[UV_MEM_REGIONS_MAX];
	char kernel[UV_PATH_MAX];
	char initrd[UV_PATH_MAX];
	char cmdline[UV_CMDLINE_MAX];
	struct uv_device dev[UV_DEVICES_MAX];
	uint32_t n_disk;
	uint32_t n_nic;
	uint32_t n_chan;
	uint32_t reserved;
	struct uv_disk_req disk[UV_DISKS_MAX];
	struct uv_nic_req nic[UV_NICS_MAX];
	struct uv_chan_req chan[UV_CHANNELS_MAX];
	struct uv_disk_limit disk_limit[UV_DISKS_MAX]; /* version 3; 4: read and write */
};

_Static_assert(sizeof(struct uv_mem_region) == 24, "mem region ABI");
_Static_assert(sizeof(struct uv_device) == 264, "device ABI");
_Static_assert(offsetof(struct uv_device, path) == 8, "device ABI");
_Static_assert(offsetof(struct uv_partition_desc, size) == 8, "desc ABI");
_Static_assert(offsetof(struct uv_partition_desc, id) == 12, "desc ABI");
_Static_assert(offsetof(struct uv_partition_desc, name) == 16, "desc ABI");
_Static_assert(offsetof(struct uv_partition_desc, vcpus) == 48, "desc ABI");
_Static_assert(offsetof(struct uv_partition_desc, state) == 60, "desc ABI");
_Static_assert(offsetof(struct uv_partition_desc, mem_bytes) == 72, "desc ABI");
_Static_assert(offsetof(struct uv_partition_desc, mem) == 80, "desc ABI");
_Static_assert(offsetof(struct uv_partition_desc, kernel) == 272, "desc ABI");
_Static_assert(offsetof(struct uv_partition_desc, initrd) == 528, "desc ABI");
_Static_assert(offsetof(struct uv_partition_desc, cmdline) == 784, "desc ABI");
_Static_assert(offsetof(struct uv_partition_desc, dev) == 1296, "desc ABI");
_Static_assert(sizeof(struct uv_disk_req) == 264, "disk request ABI");
_Static_assert(offsetof(struct uv_disk_req, image) == 8, "disk request ABI");
_Static_assert(sizeof(struct uv_nic_req) == 40, "NIC request ABI");
_Static_assert(offsetof(struct uv_nic_req, flags) == 32, "NIC request ABI");
_Static_assert(sizeof(struct uv_chan_req) == 40, "channel request ABI");
_Static_assert(offsetof(struct uv_chan_req, size) == 32, "channel request ABI");
_Static_assert(offsetof(struct uv_partition_desc, n_disk) == 5520, "desc ABI");
_Static_assert(offsetof(struct uv_partition_desc, disk) == 5536, "desc ABI");
_Static_assert(offsetof(struct uv_partition_desc, nic) == 6592, "desc ABI");
_Static_assert(offsetof(struct uv_partition_desc, chan) == 6752, "desc ABI");
_Static_assert(sizeof(struct uv_disk_limit) == 40, "disk limit ABI");
_Static_assert(offsetof(struct uv_disk_limit, read_bytes_per_sec) == 8, "disk limit ABI");
_Static_assert(offsetof(struct uv_disk_limit, write_bytes_per_sec) == 16, "disk limit ABI");
_Static_assert(offsetof(struct uv_disk_limit, iops) == 24, "disk limit ABI");
_Static_assert(offsetof(struct uv_disk_limit, read_iops) == 28, "disk limit ABI");
_Static_assert(offsetof(struct uv_disk_limit, write_iops) == 32, "disk limit ABI");
_Static_assert(offsetof(struct uv_disk_limit, reserved) == 36, "disk limit ABI");
_Static_assert(offsetof(struct uv_partition_desc, disk_limit) == 7072, "desc ABI");
_Static_assert(sizeof(struct uv_partition_desc) == 7232, "desc ABI");
_Static_assert(sizeof(struct uv_partition_desc) % 8 == 0, "desc ABI");

#endif
