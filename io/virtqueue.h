/* SPDX-License-Identifier: MIT */
/* Split-virtqueue walker (virtio 1.2, 2.7) over a client's memory table. The guest's vCPUs
 * are assumed hostile: every index, flag, length and address is read once, checked, and only
 * then used (claims 20, 21). An indirect table (when negotiated) is held to the same rules: one
 * per chain, at its head, inside one region, no longer than the queue. */
#ifndef IO_VIRTQUEUE_H
#define IO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "dirty_log.h"
#include "guest_mem.h"
#include "ultra/vhost_user.h"

struct vq_buf {
	uint8_t *p;
	uint32_t len;
	bool write; /* device-writable */
};

/* Why a chain was refused (counted per queue). */
enum vq_fault {
	VQ_OK,
	VQ_BAD_INDEX, /* head or next >= queue size */
	VQ_TOO_LONG,  /* more descriptors than the queue holds: a loop or garbage */
	VQ_BAD_FLAGS, /* unknown flags, INDIRECT not negotiated or not alone at the head, or
	               * readable after writable */
	VQ_BAD_ADDR,  /* empty, wrapping, outside the table or spanning regions */
	VQ_NFAULTS
};

struct vq_chain {
	uint16_t head;
	uint32_t n;         /* buffers in buf[] */
	uint32_t nread;     /* the first nread are device-readable */
	struct vq_buf *buf; /* the queue's scratch array (num entries) */
	enum vq_fault fault;
	/* For a refused chain: its last descriptor if the chain ended, is device-writable and
	 * lies inside the table (where a status byte may safely go), else NULL. */
	uint8_t *tail;
	uint32_t tail_len;
};

struct vq {
	uint32_t num; /* power of two, <= VRING_MAX_SIZE */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;
	uint16_t used_idx;
	const struct guest_mem *mem;
	struct vq_buf *scratch; /* num entries */
	uint64_t faults[VQ_NFAULTS];
	bool broken; /* avail->idx ran more than num ahead: stop */
	/* Inflight tracking (claim 24): when set, every popped head is marked in this queue
	 * region and cleared once its used element is published. */
	struct vhu_inflight_queue *track;
	uint64_t counter;   /* last counter given to a popped head */
	uint16_t *resubmit; /* heads a dead back end left in flight, oldest first (malloc) */
	uint32_t nresubmit, resubmitted;
	bool popped_resubmit; /* the last chain popped was one of resubmit[] (for vq_unpop) */
	/* VIRTIO_RING_F_EVENT_IDX (virtio 1.2, 2.7.7, 2.7.10): the driver says in used_event
	 * after which completion it wants an interrupt, we say in avail_event after which request
	 * we want a kick. signalled_used is our used_idx at the last decision (invalid at start:
	 * the first decision notifies). */
	bool event_idx;
	bool indirect; /* VIRTIO_RING_F_INDIRECT_DESC negotiated: a head may point to a table */
	bool signalled_valid;
	uint16_t signalled_used;
	/* Live migration (dirty_log.h): the client's log, and where the front end says the used
	 * ring lies in guest-physical memory (vhu_vring_addr.log) when it asked for that ring's
	 * writes to be logged (VHU_VRING_F_LOG). Every push then marks what it wrote. */
	const struct dirty_log *log;
	uint64_t log_used_gpa;
	bool log_used;
};

/* virtio 1.2, 2.7.7.2: has the other side's event index been passed by moving an index from
 * old to new_idx (event in [old, new_idx) modulo 2^16)? Any three values give an answer, so
 * a hostile event index costs at most one notification too many or too few. */
static inline bool vq_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* Translates and checks the ring addresses (front-end virtual addresses, full sizes including
 * the event words, alignment 16/2/4). On success fills q's ring pointers; q untouched on error. */
int vq_set_rings(struct vq *q, const struct guest_mem *mem, uint32_t num, uint64_t desc_uva,
                 uint64_t avail_uva, uint64_t used_uva);

/* VIRTIO_RING_F_INDIRECT_DESC negotiated or not: without it an INDIRECT head is refused. */
void vq_allow_indirect(struct vq *q, bool indirect);
/* A ring (re)starts: notification state from scratch, EVENT_IDX on or off as negotiated. */
void vq_start_events(struct vq *q, bool event_idx);

/* Pops the next chain: 1 and *c filled (c->fault says whether it is usable), 0 when the ring
 * is empty (with EVENT_IDX, avail_event then asks for a kick at the next request, and the ring
 * was found still empty after that), -EIO when the driver published an impossible avail index
 * (q->broken set). Heads left in q->resubmit come first, before anything new from the avail ring.
 * With tracking, the head is marked in flight before the chain is handed out. */
int vq_pop(struct vq *q, struct vq_chain *c);

/* Gives back the chain the last vq_pop returned, not yet pushed, as if it had not been popped:
 * the next vq_pop returns it again. For a device that must look at a request before it can say
 * whether it may start now (vhost_blk's read and write limits, claims 19, 22). A new head's
 * in-flight mark is cleared; a resubmitted one stays in flight, as it was. */
void vq_unpop(struct vq *q, const struct vq_chain *c);

/* Returns a chain to the driver: used element then used->idx with release ordering; with
 * tracking, in the order the inflight protocol needs to survive a death between any two steps:
 * element, last_batch_head, used->idx, the entry cleared, the region's used_idx. */
void vq_push(struct vq *q, uint16_t head, uint32_t len);

/* After pushes: must the driver be notified? (full barrier, then avail->flags, or with
 * EVENT_IDX used_event read once: has the used index passed it since the last decision?) */
bool vq_should_notify(struct vq *q);

#endif
