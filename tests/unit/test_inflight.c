/* SPDX-License-Identifier: MIT */
/* The inflight region (claim 24): payload checks at each edge, a created region's headers and
 * seals, mapping refuses what could fault or lie, the scan after a death, and the walker's
 * marking and clearing in the order a later back end relies on. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../io/guest_mem.c"
#include "../../io/inflight.c"
#include "../../io/virtqueue.c"
#include "io_testmem.h"

#define NUM 8u
#define QB 192u     /* 16 + 8 * 16, rounded up to 64 */
#define QBIG 16448u /* 16 + 16 * 1024 = 16400, rounded up to 64 */

static struct vhu_inflight payload(uint64_t size, uint64_t off, uint16_t nq, uint16_t qs)
{
	return (struct vhu_inflight){
	    .mmap_size = size, .mmap_offset = off, .num_queues = nq, .queue_size = qs};
}

static void test_layout_and_payload_checks(void **state)
{
	struct vhu_inflight p;

	(void)state;
	assert_int_equal(vhu_inflight_queue_bytes(8), QB);
	assert_int_equal(vhu_inflight_queue_bytes(1), 64);
	assert_int_equal(vhu_inflight_queue_bytes(VRING_MAX_SIZE),
	                 16 + 16ull * VRING_MAX_SIZE + 48);
	p = payload(4 * QB, 0, 4, NUM);
	assert_int_equal(inflight_check(&p, 4, 1), 0);
	p.num_queues = 5; /* more than the device has */
	assert_int_equal(inflight_check(&p, 4, 1), -EINVAL);
	p = payload(0, 0, 0, NUM);
	assert_int_equal(inflight_check(&p, 4, 0), -EINVAL);
	for (uint32_t qs = 0; qs <= 65535; qs += (qs < 64 ? 1 : 4093)) {
		p = payload(vhu_inflight_queue_bytes(qs), 0, 1, (uint16_t)qs);
		int good = qs && !(qs & (qs - 1)) && qs <= VRING_MAX_SIZE;
		assert_int_equal(inflight_check(&p, 4, 1), good ? 0 : -EINVAL);
	}
	/* The size against the regions is checked when mapping, from the headers. */
	assert_int_equal(inflight_entries(8), VHU_INFLIGHT_MIN_ENTRIES);
	assert_int_equal(inflight_entries(4096), 4096);
	p = payload(QB, 4096, 1, NUM);
	assert_int_equal(inflight_check(&p, 4, 1), 0);
	p.mmap_offset = 100;
	assert_int_equal(inflight_check(&p, 4, 1), -EINVAL);
	p.mmap_offset = UINT64_MAX - 4095; /* page aligned, past what off_t can name */
	assert_int_equal(inflight_check(&p, 4, 1), -EINVAL);
	p.mmap_offset = ((uint64_t)INT64_MAX + 1 - QB) & ~4095ull; /* ends just inside */
	assert_int_equal(inflight_check(&p, 4, 1), 0);
	p.mmap_offset += 4096; /* ends past INT64_MAX */
	assert_int_equal(inflight_check(&p, 4, 1), -EINVAL);
	p = payload(UINT64_MAX - 63, 0, 1, NUM); /* a size no file offset can name */
	assert_int_equal(inflight_check(&p, 4, 1), -EINVAL);
}

static void test_created_region_maps_back(void **state)
{
	struct vhu_inflight want = payload(0, 0, 2, NUM), reply, bad;
	struct inflight a, b, untouched = {.nqueues = 77};
	int fd = -1;

	(void)state;
	assert_int_equal(inflight_create(&want, 4, &a, &fd, &reply), 0);
	/* Room for any ring the driver may pick, whatever queue size the front end was given. */
	assert_int_equal(a.entries, VHU_INFLIGHT_MIN_ENTRIES);
	assert_int_equal(reply.mmap_size,
	                 2 * (uint64_t)vhu_inflight_queue_bytes(VHU_INFLIGHT_MIN_ENTRIES));
	assert_int_equal(reply.mmap_size, 2 * QBIG);
	assert_int_equal(reply.num_queues, 2);
	assert_int_equal(reply.queue_size, NUM);
	assert_true(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK);
	assert_int_equal(ftruncate(fd, 64), -1); /* sealed: nobody can shrink it */
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(inflight_queue(&a, i)->version, VHU_INFLIGHT_VERSION);
		assert_int_equal(inflight_queue(&a, i)->desc_num, VHU_INFLIGHT_MIN_ENTRIES);
	}
	assert_null(inflight_queue(&a, 2));
	/* Another back end maps it and sees what this one wrote. */
	inflight_queue(&a, 1)->desc[3].inflight = 1;
	assert_int_equal(inflight_map(&reply, fd, 4, &b), 0);
	assert_int_equal(inflight_queue(&b, 1)->desc[3].inflight, 1);
	inflight_unmap(&b);
	/* A size that is not two regions of what the headers say: refused, output untouched. */
	bad = payload(2 * vhu_inflight_queue_bytes(4), 0, 2, 4);
	b = untouched;
	assert_int_equal(inflight_map(&bad, fd, 4, &b), -EINVAL);
	assert_int_equal(b.nqueues, 77);
	/* A scribbled header. */
	inflight_queue(&a, 1)->version = 9;
	assert_int_equal(inflight_map(&reply, fd, 4, &b), -EINVAL);
	inflight_queue(&a, 1)->version = VHU_INFLIGHT_VERSION;
	inflight_queue(&a, 1)->desc_num = 512; /* headers disagree */
	assert_int_equal(inflight_map(&reply, fd, 4, &b), -EINVAL);
	/* A queue size above what the headers hold. */
	bad = reply;
	bad.queue_size = 2048;
	inflight_queue(&a, 1)->desc_num = VHU_INFLIGHT_MIN_ENTRIES;
	assert_int_equal(inflight_map(&bad, fd, 4, &b), -EINVAL);
	inflight_unmap(&a);
	assert_null(a.base);
	close(fd);
}

static void test_map_refuses_unsealed_short_or_not_a_file(void **state)
{
	struct vhu_inflight p = payload(QB, 0, 1, NUM);
	struct inflight f;
	int fd = memfd_create("t", MFD_ALLOW_SEALING), pipefd[2];

	(void)state;
	assert_int_equal(ftruncate(fd, QB), 0);
	assert_int_equal(inflight_map(&p, fd, 4, &f), -EPERM); /* could shrink under us */
	assert_int_equal(ftruncate(fd, QB - 1), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	assert_int_equal(inflight_map(&p, fd, 4, &f), -EINVAL); /* one byte short */
	close(fd);
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(inflight_map(&p, pipefd[0], 4, &f), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* A queue region in plain memory, as a dead back end left it. */
static struct vhu_inflight_queue *region(void)
{
	struct vhu_inflight_queue *q = calloc(1, QB);

	q->version = VHU_INFLIGHT_VERSION;
	q->desc_num = NUM;
	return q;
}

static void test_scan_orders_by_counter_and_repairs_last(void **state)
{
	struct vhu_inflight_queue *q = region();
	uint16_t heads[NUM];
	uint64_t top = 0;

	(void)state;
	assert_int_equal(inflight_scan(q, NUM, NUM, 0, heads, &top), 0);
	q->desc[5] = (struct vhu_inflight_desc){.inflight = 1, .counter = 30};
	q->desc[1] = (struct vhu_inflight_desc){.inflight = 1, .counter = 10};
	q->desc[7] = (struct vhu_inflight_desc){.inflight = 1, .counter = 20};
	/* Head 2 was published (ring used->idx 4) but the region still says 3: not in flight. */
	q->desc[2] = (struct vhu_inflight_desc){.inflight = 1, .counter = 40};
	q->last_batch_head = 2;
	q->used_idx = 3;
	assert_int_equal(inflight_scan(q, NUM, NUM, 4, heads, &top), 3);
	assert_int_equal(heads[0], 1);
	assert_int_equal(heads[1], 7);
	assert_int_equal(heads[2], 5);
	assert_int_equal(top, 30);
	assert_int_equal(q->desc[2].inflight, 0);
	assert_int_equal(q->used_idx, 4);
	/* In step with the ring: the last head is left alone. */
	q->desc[2].inflight = 1;
	assert_int_equal(inflight_scan(q, NUM, NUM, 4, heads, &top), 4);
	assert_int_equal(heads[3], 2);
	/* A hostile last_batch_head past the ring touches nothing. */
	q->last_batch_head = 0xffff;
	q->used_idx = 0;
	assert_int_equal(inflight_scan(q, NUM, NUM, 4, heads, &top), 4);
	free(q);
}

static void test_scan_refuses_garbage(void **state)
{
	struct vhu_inflight_queue *q = region();
	uint16_t heads[NUM];
	uint64_t top = 5;

	(void)state;
	q->desc[3].inflight = 2;
	assert_int_equal(inflight_scan(q, NUM, NUM, 0, heads, &top), -EINVAL);
	assert_int_equal(top, 5); /* untouched on error */
	q->desc[3].inflight = 0;
	assert_int_equal(inflight_scan(q, NUM / 2, NUM / 2, 0, heads, &top), -EINVAL); /* header */
	assert_int_equal(inflight_scan(q, NUM, NUM * 2, 0, heads, &top),
	                 -EINVAL); /* ring > region */
	q->desc[5].inflight = 1;   /* a head a ring of 4 does not have */
	assert_int_equal(inflight_scan(q, NUM, NUM / 2, 0, heads, &top), -EINVAL);
	assert_int_equal(inflight_scan(q, NUM, NUM, 0, heads, &top), 1);
	q->desc[5].inflight = 0;
	q->version = 0;
	assert_int_equal(inflight_scan(q, NUM, NUM, 0, heads, &top), -EINVAL);
	free(q);
}

#define GPA 0x40000ull
#define UVA 0x7f0000040000ull

/* The walker marks a head before handing it out and clears it only after used->idx; heads to
 * redo come before anything new. */
static void test_walker_marks_clears_and_resubmits_first(void **state)
{
	struct guest_mem m = {0};
	struct vq_buf scratch[NUM];
	struct vq q = {.scratch = scratch};
	struct vhu_inflight_queue *r = region();
	struct vq_chain c;
	uint16_t redo[1] = {6};
	uint8_t *mem = tm_add(&m, GPA, UVA, 0x10000);

	(void)state;
	assert_int_equal(vq_set_rings(&q, &m, NUM, UVA, UVA + 0x1000, UVA + 0x2000), 0);
	for (uint16_t i = 0; i < NUM; i++)
		q.desc[i] = (struct vring_desc){GPA + 0x4000 + 512u * i, 512, 0, 0};
	q.track = r;
	q.counter = 41;
	q.resubmit = redo;
	q.nresubmit = 1;
	q.avail->ring[0] = 2;
	q.avail->idx = 1;
	assert_int_equal(vq_pop(&q, &c), 1);
	assert_int_equal(c.head, 6); /* the one to redo first */
	assert_int_equal(r->desc[6].inflight, 1);
	assert_int_equal(r->desc[6].counter, 42);
	assert_int_equal(vq_pop(&q, &c), 1);
	assert_int_equal(c.head, 2);
	assert_int_equal(r->desc[2].counter, 43);
	assert_int_equal(vq_pop(&q, &c), 0);
	vq_push(&q, 2, 1);
	assert_int_equal(r->desc[2].inflight, 0);
	assert_int_equal(r->desc[6].inflight, 1);
	assert_int_equal(r->last_batch_head, 2);
	assert_int_equal(r->used_idx, 1);
	assert_int_equal(q.used->idx, 1);
	vq_push(&q, 6, 1);
	assert_int_equal(r->desc[6].inflight, 0);
	assert_int_equal(r->used_idx, 2);
	(void)mem;
	tm_free(&m);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout_and_payload_checks),
	    cmocka_unit_test(test_created_region_maps_back),
	    cmocka_unit_test(test_map_refuses_unsealed_short_or_not_a_file),
	    cmocka_unit_test(test_scan_orders_by_counter_and_repairs_last),
	    cmocka_unit_test(test_scan_refuses_garbage),
	    cmocka_unit_test(test_walker_marks_clears_and_resubmits_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
