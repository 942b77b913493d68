/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user wire format (QEMU docs/interop/vhost-user.rst) and the split-virtqueue and
 * virtio-blk layouts (virtio 1.2, sections 2.7 and 5.2) that the I/O partition reads from guest
 * memory. All little-endian (x86 host, VERSION_1 only). Claims 17-21, 63-67.
 */
#ifndef ULTRA_VHOST_USER_H
#define ULTRA_VHOST_USER_H

#include <stddef.h>
#include <stdint.h>

/* ---- message header ------------------------------------------------------------------------ */
#define VHU_FLAG_VERSION 0x1u
#define VHU_FLAG_VERSION_MASK 0x3u
#define VHU_FLAG_REPLY 0x4u
#define VHU_FLAG_NEED_REPLY 0x8u

struct vhu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes after the header */
};
_Static_assert(sizeof(struct vhu_hdr) == 12, "vhost-user header is 12 bytes");

enum vhu_request {
	VHU_GET_FEATURES = 1,
	VHU_SET_FEATURES = 2,
	VHU_SET_OWNER = 3,
	VHU_RESET_OWNER = 4,
	VHU_SET_MEM_TABLE = 5,
	VHU_SET_LOG_BASE = 6,
	VHU_SET_LOG_FD = 7,
	VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10,
	VHU_GET_VRING_BASE = 11,
	VHU_SET_VRING_KICK = 12,
	VHU_SET_VRING_CALL = 13,
	VHU_SET_VRING_ERR = 14,
	VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16,
	VHU_GET_QUEUE_NUM = 17,
	VHU_SET_VRING_ENABLE = 18,
	VHU_GET_CONFIG = 24,
	VHU_SET_CONFIG = 25,
	VHU_GET_INFLIGHT_FD = 31,
	VHU_SET_INFLIGHT_FD = 32,
	VHU_RESET_DEVICE = 34,
	VHU_GET_MAX_MEM_SLOTS = 36,
	VHU_REQUEST_MAX = 64,
};

/* Feature bits (virtio + vhost-user). */
#define VHOST_F_LOG_ALL 26 /* the back end logs the guest pages it writes (live migration) */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29
#define VHU_F_PROTOCOL_FEATURES 30
#define VIRTIO_F_VERSION_1 32

/* Protocol feature bits. */
#define VHU_PROTO_MQ 0
#define VHU_PROTO_LOG_SHMFD 1 /* SET_LOG_BASE brings the log as a shared memory fd */
#define VHU_PROTO_REPLY_ACK 3
#define VHU_PROTO_CONFIG 9
#define VHU_PROTO_INFLIGHT 12

/* ---- payloads ------------------------------------------------------------------------------ */
#define VHU_MAX_REGIONS 8 /* VHOST_MEMORY_BASELINE_NREGIONS */
#define VHU_MAX_FDS 8

struct vhu_region {
	uint64_t guest_addr;
	uint64_t size;
	uint64_t user_addr; /* the front end's virtual address; ring addresses use this space */
	uint64_t mmap_offset;
};
_Static_assert(sizeof(struct vhu_region) == 32, "memory region is 32 bytes");

struct vhu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vhu_region regions[VHU_MAX_REGIONS];
};
_Static_assert(offsetof(struct vhu_mem_table, regions) == 8, "regions follow 8 header bytes");

struct vhu_vring_state {
	uint32_t index;
	uint32_t num;
};
_Static_assert(sizeof(struct vhu_vring_state) == 8, "vring state is 8 bytes");

struct vhu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};
_Static_assert(sizeof(struct vhu_vring_addr) == 40, "vring address is 40 bytes");
_Static_assert(offsetof(struct vhu_vring_addr, used) == 16, "used follows desc");

/* vhu_vring_addr.flags: log this ring's used-ring writes at guest address .log */
#define VHU_VRING_F_LOG 0x1u

/* SET_LOG_BASE payload (with one fd): the dirty log, one bit per VHU_LOG_PAGE bytes of guest
 * physical memory, bit (gpa / VHU_LOG_PAGE) % 8 of byte (gpa / VHU_LOG_PAGE) / 8. The front end
 * reads and clears it while migrating; the back end sets the bits of every page it writes. */
#define VHU_LOG_PAGE 4096u
struct vhu_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};
_Static_assert(sizeof(struct vhu_log) == 16, "log payload is 16 bytes");
_Static_assert(offsetof(struct vhu_log, mmap_offset) == 8, "mmap_offset at 8");

/* SET_VRING_KICK/CALL/ERR: u64, bits 0-7 the queue, bit 8 "no fd" (polling). */
#define VHU_VRING_IDX_MASK 0xffu
#define VHU_VRING_NOFD 0x100u

#define VHU_CONFIG_MAX 256
struct vhu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t payload[VHU_CONFIG_MAX];
};
_Static_assert(offsetof(struct vhu_config, payload) == 12, "config payload follows 12 bytes");

/* GET_INFLIGHT_FD / SET_INFLIGHT_FD payload (with one fd: the shared region). */
struct vhu_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint8_t padding[4]; /* the C layout front ends send: 24 bytes */
};
_Static_assert(sizeof(struct vhu_inflight) == 24, "inflight payload is 24 bytes");
_Static_assert(offsetof(struct vhu_inflight, num_queues) == 16, "num_queues at 16");
_Static_assert(offsetof(struct vhu_inflight, queue_size) == 18, "queue_size at 18");

/* ---- inflight region, split rings (vhost-user.rst, "Inflight I/O tracking") ----------------
 * The back end allocates it (GET_INFLIGHT_FD), the front end keeps it across back-end deaths
 * and hands it to the next back end (SET_INFLIGHT_FD). One queue region per queue, each a
 * header and desc_num entries, each region rounded up to VHU_INFLIGHT_ALIGN bytes. */
#define VHU_INFLIGHT_VERSION 1u
#define VHU_INFLIGHT_ALIGN 64u
/* Entries per queue region we allocate at least: the driver, not the front end, picks the
 * ring size (virtio-mmio lets it go up to 1024 whatever queue_size the front end was given),
 * and desc_num in each header says what the region holds. */
#define VHU_INFLIGHT_MIN_ENTRIES 1024u

struct vhu_inflight_desc {
	uint8_t inflight; /* 1: popped from the avail ring, not yet in the used ring */
	uint8_t padding[5];
	uint16_t next;    /* packed rings only; unused for split */
	uint64_t counter; /* order in which heads were popped: resubmit in this order */
};
_Static_assert(sizeof(struct vhu_inflight_desc) == 16, "inflight entry is 16 bytes");
_Static_assert(offsetof(struct vhu_inflight_desc, next) == 6, "next at 6");
_Static_assert(offsetof(struct vhu_inflight_desc, counter) == 8, "counter at 8");

struct vhu_inflight_queue {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head; /* head of the last used element published */
	uint16_t used_idx;        /* used->idx once that element's entry is cleared */
	struct vhu_inflight_desc desc[];
};
_Static_assert(sizeof(struct vhu_inflight_queue) == 16, "queue region header is 16 bytes");
_Static_assert(offsetof(struct vhu_inflight_queue, version) == 8, "version at 8");
_Static_assert(offsetof(struct vhu_inflight_queue, desc_num) == 10, "desc_num at 10");
_Static_assert(offsetof(struct vhu_inflight_queue, last_batch_head) == 12, "last head at 12");
_Static_assert(offsetof(struct vhu_inflight_queue, used_idx) == 14, "used_idx at 14");
_Static_assert(offsetof(struct vhu_inflight_queue, desc) == 16, "entries follow the header");

/* Bytes of one queue region for a ring of num descriptors. */
static inline uint64_t vhu_inflight_queue_bytes(uint32_t num)
{
	uint64_t raw = sizeof(struct vhu_inflight_queue) + sizeof(struct vhu_inflight_desc) * num;
	return (raw + VHU_INFLIGHT_ALIGN - 1) & ~(uint64_t)(VHU_INFLIGHT_ALIGN - 1);
}

/* ---- split virtqueue (virtio 1.2, 2.7) ----------------------------------------------------- */
#define VRING_DESC_F_NEXT 1u
#define VRING_DESC_F_WRITE 2u
#define VRING_DESC_F_INDIRECT 4u
#define VRING_AVAIL_F_NO_INTERRUPT 1u
#define VRING_MAX_SIZE 32768u

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct vring_desc) == 16, "descriptor is 16 bytes");

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* num entries, then used_event */
};
_Static_assert(sizeof(struct vring_avail) == 4, "avail header is 4 bytes");

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};
_Static_assert(sizeof(struct vring_used_elem) == 8, "used element is 8 bytes");

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[]; /* num entries, then avail_event */
};
_Static_assert(sizeof(struct vring_used) == 4, "used header is 4 bytes");

/* Full sizes including the trailing event index. */
static inline uint64_t vring_desc_bytes(uint32_t num) { return 16ull * num; }
static inline uint64_t vring_avail_bytes(uint32_t num) { return 6ull + 2ull * num; }
static inline uint64_t vring_used_bytes(uint32_t num) { return 6ull + 8ull * num; }

/* ---- virtio-blk (virtio 1.2, 5.2) ---------------------------------------------------------- */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_SECTOR 512u

struct virtio_blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};
_Static_assert(sizeof(struct virtio_blk_req_hdr) == 16, "blk request header is 16 bytes");

struct virtio_blk_discard {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};
_Static_assert(sizeof(struct virtio_blk_discard) == 16, "discard segment is 16 bytes");

struct virtio_blk_cfg {
	uint64_t capacity; /* in 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
};
_Static_assert(offsetof(struct virtio_blk_cfg, blk_size) == 20, "blk_size at 20");
_Static_assert(offsetof(struct virtio_blk_cfg, num_queues) == 34, "num_queues at 34");
_Static_assert(offsetof(struct virtio_blk_cfg, max_discard_sectors) == 36, "discard at 36");
/* The device's config space is 60 bytes; the C struct is padded to 64 by the u64. */
#define VIRTIO_BLK_CFG_BYTES 60u
_Static_assert(offsetof(struct virtio_blk_cfg, unused1) + 3 == VIRTIO_BLK_CFG_BYTES,
               "virtio-blk config is 60 bytes");

/* ---- virtio-net (virtio 1.2, 5.1) ---- */

#define VIRTIO_NET_F_CSUM 0       /* device takes partial checksums */
#define VIRTIO_NET_F_GUEST_CSUM 1 /* driver takes partial checksums */
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1

/* Precedes every frame on both queues. With VERSION_1 (or MRG_RXBUF) num_buffers is present
 * (12 bytes); a legacy driver without MRG_RXBUF uses the first 10. */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
_Static_assert(sizeof(struct virtio_net_hdr) == 12, "net header is 12 bytes");
_Static_assert(offsetof(struct virtio_net_hdr, num_buffers) == 10, "num_buffers at 10");
#define VIRTIO_NET_HDR_LEGACY_BYTES 10u
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1 /* checksum csum_start.. into csum_start + csum_offset */
#define VIRTIO_NET_HDR_F_DATA_VALID 2 /* receive only: the checksum was verified */
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80 /* or'ed into gso_type: the TCP flow uses ECN */

struct virtio_net_cfg {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
};
_Static_assert(sizeof(struct virtio_net_cfg) == 12, "net config is 12 bytes");
_Static_assert(offsetof(struct virtio_net_cfg, status) == 6, "status at 6");

#endif
