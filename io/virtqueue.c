/* SPDX-License-Identifier: MIT */
#include "virtqueue.h"

#include <errno.h>
#include <string.h>

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

int vq_set_rings(struct vq *q, const struct guest_mem *mem, uint32_t num, uint64_t desc_uva,
                 uint64_t avail_uva, uint64_t used_uva)
{
	void *d, *a, *u;

	if (num == 0 || num > VRING_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	d = gm_uva(mem, desc_uva, vring_desc_bytes(num));
	a = gm_uva(mem, avail_uva, vring_avail_bytes(num));
	u = gm_uva(mem, used_uva, vring_used_bytes(num));
	if (!d || !a || !u)
		return -EFAULT;
	if (((uintptr_t)d & 15) || ((uintptr_t)a & 1) || ((uintptr_t)u & 3))
		return -EINVAL;
	q->num = num;
	q->desc = d;
	q->avail = a;
	q->used = u;
	q->mem = mem;
	return 0;
}

/* One descriptor of a table (the ring's, or an indirect one), each field read exactly once so
 * the guest cannot change it between the check and the use. */
static struct vring_desc read_desc(const struct vring_desc *tab, uint32_t i)
{
	struct vring_desc d;

	d.addr = LOAD(&tab[i].addr);
	d.len = LOAD(&tab[i].len);
	d.flags = LOAD(&tab[i].flags);
	d.next = LOAD(&tab[i].next);
	return d;
}

static enum vq_fault take_desc(struct vq *q, struct vq_chain *c, const struct vring_desc *d)
{
	bool write = d->flags & VRING_DESC_F_WRITE;
	uint8_t *p;

	if (d->flags & ~(VRING_DESC_F_NEXT | VRING_DESC_F_WRITE))
		return VQ_BAD_FLAGS; /* INDIRECT only at a head (walk), anything else is unknown */
	if (!write && c->n > c->nread)
		return VQ_BAD_FLAGS; /* virtio 2.7.4.2: writable buffers come last */
	p = gm_gpa(q->mem, d->addr, d->len);
	if (!p)
		return VQ_BAD_ADDR;
	c->buf[c->n] = (struct vq_buf){.p = p, .len = d->len, .write = write};
	c->n++;
	if (!write)
		c->nread++;
	return VQ_OK;
}

/* After a fault, follow the chain (bounded) to its end, touching nothing but descriptors, so
 * the device can report an error in the status byte if that byte is safely addressable. */
static void find_tail(struct vq *q, struct vq_chain *c, const struct vring_desc *tab, uint32_t size,
                      struct vring_desc d, uint32_t seen)
{
	while (d.flags & VRING_DESC_F_NEXT) {
		if (d.next >= size || ++seen >= q->num)
			return;
		d = read_desc(tab, d.next);
	}
	if (!(d.flags & VRING_DESC_F_WRITE) || (d.flags & VRING_DESC_F_INDIRECT))
		return;
	c->tail = gm_gpa(q->mem, d.addr, d.len);
	c->tail_len = c->tail ? d.len : 0;
}

/* A head with VRING_DESC_F_INDIRECT (virtio 1.2, 2.7.5.3): the chain is the table it points
 * to, which must be whole descriptors, inside one region of guest memory, and no longer than
 * the queue (the driver's own limit, so the scratch array holds it); the head has no NEXT.
 * *tab and *size untouched on a refusal. */
static enum vq_fault indirect_table(const struct vq *q, const struct vring_desc *head,
                                    const struct vring_desc **tab, uint32_t *size)
{
	const struct vring_desc *t;

	if (!q->indirect || (head->flags & ~VRING_DESC_F_INDIRECT))
		return VQ_BAD_FLAGS;
	if (head->len == 0 || head->len % sizeof(struct vring_desc) ||
	    head->len / sizeof(struct vring_desc) > q->num)
		return VQ_BAD_ADDR;
	t = gm_gpa(q->mem, head->addr, head->len);
	if (!t || ((uintptr_t)t & 7)) /* Linux's tables are kmalloc'ed: aligned */
		return VQ_BAD_ADDR;
	*tab = t;
	*size = head->len / sizeof(struct vring_desc);
	return VQ_OK;
}

static void walk(struct vq *q, struct vq_chain *c)
{
	const struct vring_desc *tab = q->desc;
	uint32_t size = q->num, seen = 0;
	struct vring_desc d;

	if (c->head >= size) {
		c->fault = VQ_BAD_INDEX;
		return;
	}
	d = read_desc(tab, c->head);
	if (d.flags & VRING_DESC_F_INDIRECT) {
		c->fault = indirect_table(q, &d, &tab, &size);
		if (c->fault != VQ_OK) {
			find_tail(q, c, tab, size, d, seen); /* through the ring if it went on */
			return;
		}
		d = read_desc(tab, 0);
	}
	for (;;) {
		if (seen++ >= q->num) {
			c->fault = VQ_TOO_LONG; /* any loop ends up here */
			return;
		}
		c->fault = take_desc(q, c, &d);
		if (c->fault != VQ_OK) {
			find_tail(q, c, tab, size, d, seen);
			return;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return;
		if (d.next >= size) {
			c->fault = VQ_BAD_INDEX;
			return;
		}
		d = read_desc(tab, d.next);
	}
}

/* Marks head taken: a later back end redoes it unless it is cleared by vq_push. */
static void track_pop(struct vq *q, uint16_t head)
{
	struct vhu_inflight_desc *d;

	if (!q->track || head >= q->num)
		return;
	d = &q->track->desc[head];
	STORE(&d->counter, ++q->counter);
	STORE_REL(&d->inflight, 1); /* before anything of the request is done */
}

static void start_chain(struct vq *q, struct vq_chain *c, uint16_t head)
{
	track_pop(q, head);
	memset(c, 0, sizeof(*c));
	c->head = head;
	c->buf = q->scratch;
	walk(q, c);
	if (c->fault != VQ_OK)
		q->faults[c->fault]++;
}

void vq_allow_indirect(struct vq *q, bool indirect) { q->indirect = indirect; }

void vq_start_events(struct vq *q, bool event_idx)
{
	q->event_idx = event_idx;
	q->signalled_valid = false;
	q->signalled_used = q->used_idx;
}

/* The event words sit just past each ring's entries; vq_set_rings checked both (q->num is
 * ours, never re-read from the guest). */
static uint16_t *used_event(const struct vq *q) { return &q->avail->ring[q->num]; }
static uint16_t *avail_event(const struct vq *q) { return (uint16_t *)&q->used->ring[q->num]; }

/* The ring looked empty: with EVENT_IDX ask for a kick at the next request, then look again,
 * since the driver may have added one just before it could see our avail_event (each side
 * writes its index, full barrier, reads the other's). */
/* The used ring's bytes [off, off + n) were written: marked in the log when logging. */
static void log_used(const struct vq *q, uint64_t off, uint64_t n)
{
	if (q->log_used && dirty_log_on(q->log))
		dirty_log_mark(q->log, q->log_used_gpa + off, n);
}

/* The device wrote len bytes into head's chain (the used element's len): the pages of its
 * writable buffers, in chain order, up to len bytes, are marked. The descriptors are read again
 * and may have changed since the pop: a driver that does so gets its own pages marked or not,
 * never an access outside its memory (the table is bounds-checked like a pop's). The last
 * writable byte is marked too: a disk reports an error in the chain's last byte with len 1. */
static void log_chain(const struct vq *q, uint16_t head, uint32_t len)
{
	const struct vring_desc *tab = q->desc;
	uint32_t size = q->num, i = head, n;
	struct vring_desc d, last = {0};

	if (head >= q->num)
		return;
	d = read_desc(tab, i);
	if (d.flags & VRING_DESC_F_INDIRECT) { /* held to a pop's rules: whole, aligned, inside */
		if (indirect_table(q, &d, &tab, &size) != VQ_OK)
			return;
		d = read_desc(tab, 0);
	}
	for (n = 0; n < size; n++) {
		if (d.flags & VRING_DESC_F_WRITE) {
			uint32_t take = d.len < len ? d.len : len;

			if (take && gm_gpa(q->mem, d.addr, take))
				dirty_log_mark(q->log, d.addr, take);
			len -= take;
			last = d;
		}
		if (!(d.flags & VRING_DESC_F_NEXT) || d.next >= size)
			break;
		d = read_desc(tab, d.next);
	}
	if (last.len && gm_gpa(q->mem, last.addr + last.len - 1, 1))
		dirty_log_mark(q->log, last.addr + last.len - 1, 1);
}

static uint16_t rearm(const struct vq *q, uint16_t avail_idx)
{
	if (!q->event_idx)
		return avail_idx;
	STORE(avail_event(q), q->last_avail);
	log_used(q, offsetof(struct vring_used, ring) + q->num * sizeof(struct vring_used_elem), 2);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return LOAD_ACQ(&q->avail->idx);
}

int vq_pop(struct vq *q, struct vq_chain *c)
{
	uint16_t avail_idx, head;

	if (q->broken || !q->avail)
		return -EIO;
	if (q->resubmitted < q->nresubmit) {
		q->popped_resubmit = true;
		start_chain(q, c, q->resubmit[q->resubmitted++]);
		return 1;
	}
	avail_idx = LOAD_ACQ(&q->avail->idx); /* ring entries are read after the index */
	if (avail_idx == q->last_avail)
		avail_idx = rearm(q, avail_idx);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->num) {
		q->broken = true;
		return -EIO;
	}
	head = LOAD(&q->avail->ring[q->last_avail & (q->num - 1)]);
	q->last_avail++;
	q->popped_resubmit = false;
	start_chain(q, c, head);
	return 1;
}

void vq_unpop(struct vq *q, const struct vq_chain *c)
{
	if (c->fault != VQ_OK && q->faults[c->fault])
		q->faults[c->fault]--; /* counted again when it is popped again */
	if (q->popped_resubmit) {
		if (q->resubmitted)
			q->resubmitted--;
		return;
	}
	q->last_avail--;
	if (q->track && c->head < q->num) {
		STORE_REL(&q->track->desc[c->head].inflight, 0);
		q->counter--;
	}
}

void vq_push(struct vq *q, uint16_t head, uint32_t len)
{
	uint32_t slot = q->used_idx & (q->num - 1);
	struct vring_used_elem *e = &q->used->ring[slot];

	/* Logged after each write and before the driver can see it: a page the front end sends
	 * before our write is marked again after it (dirty_log.h). */
	if (dirty_log_on(q->log))
		log_chain(q, head, len);
	STORE(&e->id, head);
	STORE(&e->len, len);
	log_used(q, offsetof(struct vring_used, ring) + slot * sizeof(*e), sizeof(*e));
	q->used_idx++;
	if (q->track && head < q->num)
		STORE_REL(&q->track->last_batch_head, head);
	STORE_REL(&q->used->idx, q->used_idx); /* the element is visible before the index */
	log_used(q, offsetof(struct vring_used, idx), sizeof(q->used->idx));
	if (q->track && head < q->num) {
		STORE_REL(&q->track->desc[head].inflight, 0);
		STORE_REL(&q->track->used_idx, q->used_idx);
	}
}

bool vq_should_notify(struct vq *q)
{
	uint16_t old = q->signalled_used;
	bool valid = q->signalled_valid;

	/* Our used->idx store must be visible before we read the driver's flags or event index,
	 * or we could miss a driver that just re-enabled interrupts. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(LOAD(&q->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	q->signalled_used = q->used_idx;
	q->signalled_valid = true;
	return !valid || vq_need_event(LOAD(used_event(q)), q->used_idx, old);
}
