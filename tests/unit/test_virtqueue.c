/* SPDX-License-Identifier: MIT */
/* The split-virtqueue walker under a hostile driver: every refused chain is refused without a
 * single access outside the client's memory (guard pages make one fault the test). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* clang-format off: cmocka needs the four above first */
#include <cmocka.h>
/* clang-format on */
#include <stdlib.h>

#include "../../io/guest_mem.c"
#include "../../io/virtqueue.c"
#include "io_testmem.h"

#define NUM 8u
#define GPA 0x40000ull
#define UVA 0x7f0000040000ull
#define RING_DESC 0x0000u
#define RING_AVAIL 0x1000u
#define RING_USED 0x2000u
#define BUFS 0x4000u
#define SIZE 0x10000u

struct fx {
	struct guest_mem m;
	uint8_t *mem;
	struct vq q;
	struct vq_buf scratch[NUM];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->mem = tm_add(&f->m, GPA, UVA, SIZE);
	f->q.scratch = f->scratch;
	assert_int_equal(
	    vq_set_rings(&f->q, &f->m, NUM, UVA + RING_DESC, UVA + RING_AVAIL, UVA + RING_USED), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tm_free(&f->m);
	free(f);
	return 0;
}

static void desc(struct fx *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next)
{
	f->q.desc[i] = (struct vring_desc){addr, len, flags, next};
}

/* Publishes head as the next available chain. */
static void offer(struct fx *f, uint16_t head)
{
	f->q.avail->ring[f->q.avail->idx % NUM] = head;
	f->q.avail->idx++;
}

static enum vq_fault pop(struct fx *f, struct vq_chain *c)
{
	assert_int_equal(vq_pop(&f->q, c), 1);
	return c->fault;
}

static void test_good_chain(void **state)
{
	struct fx *f = *state;
	struct vq_chain c;

	assert_int_equal(vq_pop(&f->q, &c), 0); /* empty */
	desc(f, 0, GPA + BUFS, 16, VRING_DESC_F_NEXT, 1);
	desc(f, 1, GPA + BUFS + 0x100, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(f, 2, GPA + BUFS + 0x400, 1, VRING_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f, &c), VQ_OK);
	assert_int_equal(c.head, 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.nread, 1);
	assert_ptr_equal(c.buf[0].p, f->mem + BUFS);
	assert_ptr_equal(c.buf[1].p, f->mem + BUFS + 0x100);
	assert_true(c.buf[2].write);
	assert_int_equal(vq_pop(&f->q, &c), 0);
	vq_push(&f->q, c.head, 513);
	assert_int_equal(f->q.used->idx, 1);
	assert_int_equal(f->q.used->ring[0].id, 0);
	assert_int_equal(f->q.used->ring[0].len, 513);
	assert_true(vq_should_notify(&f->q));
	f->q.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	assert_false(vq_should_notify(&f->q));
}

static void test_full_length_chain_is_fine(void **state)
{
	struct fx *f = *state;
	struct vq_chain c;

	for (uint16_t i = 0; i < NUM; i++)
		desc(f, i, GPA + BUFS + i * 16u, 16, i + 1u < NUM ? VRING_DESC_F_NEXT : 0, i + 1);
	offer(f, 0);
	assert_int_equal(pop(f, &c), VQ_OK);
	assert_int_equal(c.n, NUM);
}

static void test_loops_are_refused(void **state)
{
	struct fx *f = *state;
	struct vq_chain c;

	desc(f, 0, GPA + BUFS, 16, VRING_DESC_F_NEXT, 0); /* to itself */
	offer(f, 0);
	assert_int_equal(pop(f, &c), VQ_TOO_LONG);
	assert_null(c.tail); /* a loop has no last descriptor to put a status in */
	desc(f, 1, GPA + BUFS, 16, VRING_DESC_F_NEXT, 2);
	desc(f, 2, GPA + BUFS, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	desc(f, 3, GPA + BUFS, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	offer(f, 1);
	assert_int_equal(pop(f, &c), VQ_TOO_LONG);
	assert_true(c.n <= NUM);
	assert_int_equal(f->q.faults[VQ_TOO_LONG], 2);
}

static void test_bad_indices(void **state)
{
	struct fx *f = *state;
	struct vq_chain c;

	offer(f, NUM); /* head out of range */
	assert_int_equal(pop(f, &c), VQ_BAD_INDEX);
	desc(f, 0, GPA + BUFS, 16, VRING_DESC_F_NEXT, 0xffff);
	offer(f, 0);
	assert_int_equal(pop(f, &c), VQ_BAD_INDEX);
	/* an avail index more than a ring ahead: the driver is broken, stop the queue */
	f->q.avail->idx = (uint16_t)(f->q.last_avail + NUM + 1);
	assert_int_equal(vq_pop(&f->q, &c), -EIO);
	assert_true(f->q.broken);
	assert_int_equal(vq_pop(&f->q, &c), -EIO);
}

static void test_bad_flags(void **state)
{
	struct fx *f = *state;
	struct vq_chain c;

	desc(f, 0, GPA + BUFS, 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_int_equal(pop(f, &c), VQ_BAD_FLAGS);
	desc(f, 0, GPA + BUFS, 16, 0x8, 0);
	offer(f, 0);
	assert_int_equal(pop(f, &c), VQ_BAD_FLAGS);
	/* readable after writable */
	desc(f, 0, GPA + BUFS, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	desc(f, 1, GPA + BUFS, 16, 0, 0);
	offer(f, 0);
	assert_int_equal(pop(f, &c), VQ_BAD_FLAGS);
}

static void expect_bad_addr(struct fx *f, uint64_t addr, uint32_t len)
{
	struct vq_chain c;

	desc(f, 0, GPA + BUFS, 16, VRING_DESC_F_NEXT, 1);
	desc(f, 1, addr, len, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(f, 2, GPA + BUFS + 0x800, 1, VRING_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f, &c), VQ_BAD_ADDR);
	/* The chain ended in a good writable byte: the device may report an error there. */
	assert_ptr_equal(c.tail, f->mem + BUFS + 0x800);
	assert_int_equal(c.tail_len, 1);
}

static void test_bad_addresses(void **state)
{
	struct fx *f = *state;

	expect_bad_addr(f, GPA - 1, 2);         /* starts in the guard below */
	expect_bad_addr(f, GPA + SIZE - 4, 16); /* runs into the guard above */
	expect_bad_addr(f, GPA + SIZE, 1);      /* just past the end */
	expect_bad_addr(f, UINT64_MAX - 1, 4);  /* wraps 2^64 */
	expect_bad_addr(f, GPA + BUFS, 0);      /* empty */
	expect_bad_addr(f, UVA + BUFS, 16);     /* a front-end address is not a guest one */
	assert_int_equal(f->q.faults[VQ_BAD_ADDR], 6);
}

static void test_spanning_regions(void **state)
{
	struct fx *f = *state;
	struct vq_chain c;

	tm_add(&f->m, GPA + SIZE, UVA + 0x100000, 0x1000); /* guest-adjacent, host elsewhere */
	desc(f, 0, GPA + SIZE - 8, 16, 0, 0);
	offer(f, 0);
	assert_int_equal(pop(f, &c), VQ_BAD_ADDR);
	desc(f, 0, GPA + SIZE + 8, 16, 0, 0);
	offer(f, 0);
	assert_int_equal(pop(f, &c), VQ_OK);
}

static void test_ring_placement(void **state)
{
	struct fx *f = *state;
	struct vq q = {0};

	assert_int_equal(vq_set_rings(&q, &f->m, 0, UVA, UVA + RING_AVAIL, UVA + RING_USED),
	                 -EINVAL);
	assert_int_equal(vq_set_rings(&q, &f->m, 6, UVA, UVA + RING_AVAIL, UVA + RING_USED),
	                 -EINVAL);
	assert_int_equal(vq_set_rings(&q, &f->m, 65536, UVA, UVA + RING_AVAIL, UVA + RING_USED),
	                 -EINVAL);
	/* rings as guest-physical instead of front-end addresses */
	assert_int_equal(vq_set_rings(&q, &f->m, NUM, GPA, GPA + RING_AVAIL, GPA + RING_USED),
	                 -EFAULT);
	/* the used ring's last word (avail_event, bytes 68-69) past the region's end */
	assert_int_equal(vring_used_bytes(NUM), 70);
	assert_int_equal(vq_set_rings(&q, &f->m, NUM, UVA, UVA + RING_AVAIL, UVA + SIZE - 68),
	                 -EFAULT);
	assert_int_equal(vq_set_rings(&q, &f->m, NUM, UVA, UVA + RING_AVAIL, UVA + SIZE - 72), 0);
	/* a descriptor table big enough for 4096 entries does not fit in 64 KiB after 0x8000 */
	assert_int_equal(
	    vq_set_rings(&q, &f->m, 4096, UVA + 0x8000, UVA + RING_AVAIL, UVA + RING_USED),
	    -EFAULT);
	/* misaligned */
	assert_int_equal(vq_set_rings(&q, &f->m, NUM, UVA + 8, UVA + RING_AVAIL, UVA + RING_USED),
	                 -EINVAL);
	assert_int_equal(vq_set_rings(&q, &f->m, NUM, UVA, UVA + RING_AVAIL + 1, UVA + RING_USED),
	                 -EINVAL);
	assert_int_equal(vq_set_rings(&q, &f->m, NUM, UVA, UVA + RING_AVAIL, UVA + RING_USED + 2),
	                 -EINVAL);
	/* wrapping */
	assert_int_equal(
	    vq_set_rings(&q, &f->m, NUM, UINT64_MAX - 15, UVA + RING_AVAIL, UVA + RING_USED),
	    -EFAULT);
}

/* The event-index rule against its definition: an index moving from old to new (at most 2^16 - 1
 * steps) passes event exactly when event lies in [old, new) on the circle of 2^16 values. */
static bool passes(uint16_t event, uint16_t new_idx, uint16_t old)
{
	for (uint16_t i = old; i != new_idx; i++)
		if (i == event)
			return true;
	return false;
}

static void test_need_event_arithmetic(void **state)
{
	static const uint16_t olds[] = {0, 1, 100, 0x7fff, 0x8000, 0xfff0, 0xfffe, 0xffff};
	static const uint16_t steps[] = {0, 1, 2, 3, 16, 255, 0x8000, 0xffff};

	(void)state;
	for (size_t i = 0; i < sizeof(olds) / sizeof(olds[0]); i++)
		for (size_t j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			uint16_t old = olds[i], new_idx = (uint16_t)(old + steps[j]);
			for (uint32_t d = 0; d < 40; d++) { /* events around old and around new */
				uint16_t e1 = (uint16_t)(old - 20 + d);
				uint16_t e2 = (uint16_t)(new_idx - 20 + d);
				assert_int_equal(vq_need_event(e1, new_idx, old),
				                 passes(e1, new_idx, old));
				assert_int_equal(vq_need_event(e2, new_idx, old),
				                 passes(e2, new_idx, old));
			}
		}
	/* across the wrap: 0xfffe -> 0x0002 passes 0xfffe, 0xffff, 0, 1 and nothing else */
	assert_true(vq_need_event(0xfffe, 0x0002, 0xfffe));
	assert_true(vq_need_event(0xffff, 0x0002, 0xfffe));
	assert_true(vq_need_event(0x0001, 0x0002, 0xfffe));
	assert_false(vq_need_event(0x0002, 0x0002, 0xfffe));
	assert_false(vq_need_event(0xfffd, 0x0002, 0xfffe));
	assert_false(vq_need_event(0x1234, 0x1234, 0x1234)); /* nothing moved: never */
}

static uint16_t *used_event_word(struct fx *f) { return &f->q.avail->ring[NUM]; }
static uint16_t *avail_event_word(struct fx *f) { return (uint16_t *)&f->q.used->ring[NUM]; }

/* Offers, pops and completes one 16-byte readable chain; returns whether to interrupt. */
static bool complete_one(struct fx *f)
{
	struct vq_chain c;

	desc(f, 0, GPA + BUFS, 16, 0, 0);
	offer(f, 0);
	assert_int_equal(pop(f, &c), VQ_OK);
	vq_push(&f->q, c.head, 0);
	return vq_should_notify(&f->q);
}

static void test_event_idx_interrupts_when_asked(void **state)
{
	struct fx *f = *state;

	vq_start_events(&f->q, true);
	f->q.avail->flags = VRING_AVAIL_F_NO_INTERRUPT; /* ignored under EVENT_IDX (2.7.7) */
	*used_event_word(f) = 0;
	assert_true(complete_one(f));  /* the first decision after a start always notifies */
	assert_false(complete_one(f)); /* used 1 -> 2 does not pass 0 */
	*used_event_word(f) = 3;       /* "after the fourth completion" */
	assert_false(complete_one(f)); /* 2 -> 3 */
	assert_true(complete_one(f));  /* 3 -> 4 passes 3 */
	assert_false(complete_one(f));
	*used_event_word(f) = 5; /* two completions before one decision: 5 -> 7 passes 5 */
	desc(f, 0, GPA + BUFS, 16, 0, 0);
	offer(f, 0);
	offer(f, 0);
	for (int i = 0; i < 2; i++) {
		struct vq_chain c;
		assert_int_equal(pop(f, &c), VQ_OK);
		vq_push(&f->q, c.head, 0);
	}
	assert_true(vq_should_notify(&f->q));
	/* without EVENT_IDX the flag rules again */
	vq_start_events(&f->q, false);
	assert_false(complete_one(f));
	f->q.avail->flags = 0;
	assert_true(complete_one(f));
}

static void test_used_index_wraps(void **state)
{
	struct fx *f = *state;

	f->q.last_avail = f->q.used_idx = 0xfffe;
	f->q.avail->idx = f->q.used->idx = 0xfffe;
	vq_start_events(&f->q, true);
	*used_event_word(f) = 0xffff;
	assert_true(complete_one(f)); /* first */
	assert_true(complete_one(f)); /* 0xffff -> 0 passes 0xffff */
	assert_int_equal(f->q.used->idx, 0);
	*used_event_word(f) = 1;
	assert_false(complete_one(f)); /* 0 -> 1 */
	assert_true(complete_one(f));  /* 1 -> 2 */
}

/* used_event is the driver's to write at any time: every value is only an answer, and nothing
 * is read or written but the ring's own words (guard pages around the memory). */
static void test_hostile_used_event(void **state)
{
	struct fx *f = *state;
	uint32_t seed = 12345, notified = 0;

	vq_start_events(&f->q, true);
	for (int i = 0; i < 2000; i++) {
		uint16_t old = f->q.signalled_used, ev;
		bool valid = f->q.signalled_valid;
		seed = seed * 1103515245u + 12345u;
		ev = (uint16_t)(seed >> 8);
		if (i % 7 == 0)
			ev = (uint16_t)(i % 3 == 0 ? 0xffff : f->q.used_idx); /* edges */
		*used_event_word(f) = ev;
		bool n = complete_one(f);
		assert_int_equal(n, !valid || passes(ev, f->q.used_idx, old));
		notified += n;
	}
	assert_true(notified > 0);
	assert_int_equal(f->q.used->idx, 2000);
}

static void test_avail_event_asks_for_the_next_kick(void **state)
{
	struct fx *f = *state;
	struct vq_chain c;

	*avail_event_word(f) = 0xabcd;
	assert_int_equal(vq_pop(&f->q, &c), 0);
	assert_int_equal(*avail_event_word(f), 0xabcd); /* not negotiated: never written */
	vq_start_events(&f->q, true);
	desc(f, 0, GPA + BUFS, 16, 0, 0);
	for (int i = 0; i < 3; i++)
		offer(f, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pop(f, &c), VQ_OK);
	assert_int_equal(*avail_event_word(f), 0xabcd); /* busy: no kicks wanted meanwhile */
	assert_int_equal(vq_pop(&f->q, &c), 0);
	assert_int_equal(*avail_event_word(f), 3); /* empty: kick me when request 3 comes */
	/* the driver's rule (2.7.10) then kicks for the next request, not for the one after */
	assert_true(vq_need_event(*avail_event_word(f), 4, 3));
	assert_false(vq_need_event(*avail_event_word(f), 5, 4));
}

/* The event words at the very end of the client's memory: both rings placed so that the last
 * bytes they own touch the guard page (avail) or come within 4 bytes of it (used: 4-aligned). */
static void test_event_words_at_the_end_of_memory(void **state)
{
	struct fx *f = *state;
	struct vq q = {0};
	struct vq_chain c;

	q.scratch = f->scratch;
	assert_int_equal(vq_set_rings(&q, &f->m, NUM, UVA + RING_DESC,
	                              UVA + SIZE - vring_avail_bytes(NUM), UVA + SIZE - 72),
	                 0);
	vq_start_events(&q, true);
	assert_ptr_equal((uint8_t *)&q.avail->ring[NUM], f->mem + SIZE - 2);
	desc(f, 0, GPA + BUFS, 16, 0, 0);
	q.avail->ring[0] = 0;
	q.avail->idx = 1;
	q.avail->ring[NUM] = 0xffff;
	assert_int_equal(vq_pop(&q, &c), 1);
	assert_int_equal(vq_pop(&q, &c), 0);
	assert_int_equal(*(uint16_t *)(f->mem + SIZE - 4), 1); /* avail_event */
	vq_push(&q, 0, 0);
	assert_true(vq_should_notify(&q));
	vq_push(&q, 0, 0);
	assert_false(vq_should_notify(&q)); /* 1 -> 2 does not pass 0xffff */
}

#define TABLE 0x3000u /* an indirect table's place in guest memory */

/* Entry i of the indirect table at TABLE. */
static void idesc(struct fx *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                  uint16_t next)
{
	((struct vring_desc *)(f->mem + TABLE))[i] = (struct vring_desc){addr, len, flags, next};
}

/* Offers head 0 pointing at the table (len bytes at addr) and pops it. */
static enum vq_fault pop_indirect(struct fx *f, uint64_t addr, uint32_t len, uint16_t flags,
                                  struct vq_chain *c)
{
	desc(f, 0, addr, len, flags, 1);
	offer(f, 0);
	return pop(f, c);
}

static void test_indirect_chain(void **state)
{
	struct fx *f = *state;
	struct vq_chain c;

	vq_allow_indirect(&f->q, true);
	idesc(f, 0, GPA + BUFS, 16, VRING_DESC_F_NEXT, 1);
	idesc(f, 1, GPA + BUFS + 0x100, 8, VRING_DESC_F_NEXT, 2);
	idesc(f, 2, GPA + BUFS + 0x800, 1, VRING_DESC_F_WRITE, 0);
	assert_int_equal(pop_indirect(f, GPA + TABLE, 48, VRING_DESC_F_INDIRECT, &c), VQ_OK);
	assert_int_equal(c.head, 0); /* completed by the ring's head, not the table's */
	assert_int_equal(c.n, 3);
	assert_int_equal(c.nread, 2);
	assert_ptr_equal(c.buf[0].p, f->mem + BUFS);
	assert_int_equal(c.buf[1].len, 8);
	assert_ptr_equal(c.buf[2].p, f->mem + BUFS + 0x800);
	assert_true(c.buf[2].write);
	/* A table as long as the queue is the longest chain there may be. */
	for (uint16_t i = 0; i < NUM; i++)
		idesc(f, i, GPA + BUFS + 16u * i, 16, i + 1u < NUM ? VRING_DESC_F_NEXT : 0, i + 1);
	assert_int_equal(pop_indirect(f, GPA + TABLE, NUM * 16, VRING_DESC_F_INDIRECT, &c), VQ_OK);
	assert_int_equal(c.n, NUM);
}

static void test_indirect_refusals(void **state)
{
	struct fx *f = *state;
	struct vq_chain c;

	idesc(f, 0, GPA + BUFS, 16, VRING_DESC_F_NEXT, 1);
	idesc(f, 1, GPA + BUFS + 0x800, 1, VRING_DESC_F_WRITE, 0);
	/* Not negotiated. */
	assert_int_equal(pop_indirect(f, GPA + TABLE, 32, VRING_DESC_F_INDIRECT, &c), VQ_BAD_FLAGS);
	vq_allow_indirect(&f->q, true);
	assert_int_equal(pop_indirect(f, GPA + TABLE, 32, VRING_DESC_F_INDIRECT, &c), VQ_OK);
	/* INDIRECT with NEXT or WRITE: the head must be the table alone. A ring chain going on
	 * from it to a writable byte still gets its status there. */
	desc(f, 1, GPA + BUFS + 0x800, 1, VRING_DESC_F_WRITE, 0);
	assert_int_equal(
	    pop_indirect(f, GPA + TABLE, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, &c),
	    VQ_BAD_FLAGS);
	assert_ptr_equal(c.tail, f->mem + BUFS + 0x800);
	assert_int_equal(
	    pop_indirect(f, GPA + TABLE, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, &c),
	    VQ_BAD_FLAGS);
	/* Lengths: empty, not whole descriptors, longer than the queue. */
	assert_int_equal(pop_indirect(f, GPA + TABLE, 0, VRING_DESC_F_INDIRECT, &c), VQ_BAD_ADDR);
	assert_int_equal(pop_indirect(f, GPA + TABLE, 40, VRING_DESC_F_INDIRECT, &c), VQ_BAD_ADDR);
	assert_int_equal(pop_indirect(f, GPA + TABLE, (NUM + 1) * 16, VRING_DESC_F_INDIRECT, &c),
	                 VQ_BAD_ADDR);
	/* Placement: into the guard page above, misaligned, a front-end address. */
	assert_int_equal(pop_indirect(f, GPA + SIZE - 16, 32, VRING_DESC_F_INDIRECT, &c),
	                 VQ_BAD_ADDR);
	assert_int_equal(pop_indirect(f, GPA + TABLE + 4, 32, VRING_DESC_F_INDIRECT, &c),
	                 VQ_BAD_ADDR);
	assert_int_equal(pop_indirect(f, UVA + TABLE, 32, VRING_DESC_F_INDIRECT, &c), VQ_BAD_ADDR);
	/* A table inside a table. */
	idesc(f, 0, GPA + TABLE, 32, VRING_DESC_F_INDIRECT, 0);
	assert_int_equal(pop_indirect(f, GPA + TABLE, 32, VRING_DESC_F_INDIRECT, &c), VQ_BAD_FLAGS);
	/* next past the table's end (though inside the ring's size). */
	idesc(f, 0, GPA + BUFS, 16, VRING_DESC_F_NEXT, 2);
	assert_int_equal(pop_indirect(f, GPA + TABLE, 32, VRING_DESC_F_INDIRECT, &c), VQ_BAD_INDEX);
	/* A loop inside the table ends at the queue's length. */
	idesc(f, 0, GPA + BUFS, 16, VRING_DESC_F_NEXT, 1);
	idesc(f, 1, GPA + BUFS, 16, VRING_DESC_F_NEXT, 0);
	assert_int_equal(pop_indirect(f, GPA + TABLE, 32, VRING_DESC_F_INDIRECT, &c), VQ_TOO_LONG);
	/* A bad buffer in the table whose chain ends in a good writable byte: the status goes
	 * there, found through the table. */
	idesc(f, 0, GPA + SIZE, 16, VRING_DESC_F_NEXT, 1);
	idesc(f, 1, GPA + BUFS + 0x800, 1, VRING_DESC_F_WRITE, 0);
	assert_int_equal(pop_indirect(f, GPA + TABLE, 32, VRING_DESC_F_INDIRECT, &c), VQ_BAD_ADDR);
	assert_ptr_equal(c.tail, f->mem + BUFS + 0x800);
	assert_int_equal(c.tail_len, 1);
}

/* A request given back (vq_unpop: a device that had to look at it before it could say it may
 * start, claims 19, 22) is popped again next, as if never taken: the in-flight mark of a new head
 * is cleared, the counter steps back, a fault is not counted twice; a resubmitted head given back
 * comes again first and stays in flight. */
static void test_unpop_gives_the_request_back(void **state)
{
	struct fx *f = *state;
	struct {
		struct vhu_inflight_queue h;
		struct vhu_inflight_desc d[NUM];
	} track = {0};
	uint16_t resubmit[1] = {3};
	struct vq_chain c;

	f->q.track = &track.h;
	desc(f, 0, GPA + BUFS, 16, VRING_DESC_F_NEXT, 1);
	desc(f, 1, GPA + BUFS + 0x400, 1, VRING_DESC_F_WRITE, 0);
	desc(f, 2, GPA + SIZE + 0x1000, 16, 0, 0); /* outside guest memory */
	offer(f, 0);
	offer(f, 2);
	assert_int_equal(pop(f, &c), VQ_OK);
	assert_int_equal(track.d[0].inflight, 1);
	vq_unpop(&f->q, &c);
	assert_int_equal(track.d[0].inflight, 0);
	assert_int_equal(f->q.counter, 0);
	assert_int_equal(pop(f, &c), VQ_OK);
	assert_int_equal(c.head, 0);
	assert_int_equal(track.d[0].counter, 1);
	/* A chain with a fault counts it once, however often it is given back. */
	assert_int_not_equal(pop(f, &c), VQ_OK);
	{
		uint64_t faults[VQ_NFAULTS];

		memcpy(faults, f->q.faults, sizeof(faults));
		vq_unpop(&f->q, &c);
		assert_int_not_equal(pop(f, &c), VQ_OK);
		assert_memory_equal(faults, f->q.faults, sizeof(faults));
	}
	assert_int_equal(c.head, 2);
	assert_int_equal(vq_pop(&f->q, &c), 0);
	/* A head a dead back end left in flight: given back, it is first again, still marked. */
	desc(f, 3, GPA + BUFS, 16, 0, 0);
	track.d[3].inflight = 1;
	f->q.resubmit = resubmit;
	f->q.nresubmit = 1;
	f->q.resubmitted = 0;
	assert_int_equal(pop(f, &c), VQ_OK);
	assert_int_equal(c.head, 3);
	vq_unpop(&f->q, &c);
	assert_int_equal(track.d[3].inflight, 1);
	assert_int_equal(pop(f, &c), VQ_OK);
	assert_int_equal(c.head, 3);
	assert_int_equal(vq_pop(&f->q, &c), 0);
	f->q.resubmit = NULL;
	f->q.track = NULL;
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_good_chain),
	    T(test_full_length_chain_is_fine),
	    T(test_loops_are_refused),
	    T(test_bad_indices),
	    T(test_bad_flags),
	    T(test_bad_addresses),
	    T(test_spanning_regions),
	    T(test_indirect_chain),
	    T(test_indirect_refusals),
	    T(test_ring_placement),
	    T(test_need_event_arithmetic),
	    T(test_event_idx_interrupts_when_asked),
	    T(test_used_index_wraps),
	    T(test_hostile_used_event),
	    T(test_avail_event_asks_for_the_next_kick),
	    T(test_event_words_at_the_end_of_memory),
	    T(test_unpop_gives_the_request_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
