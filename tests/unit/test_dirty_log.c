/* SPDX-License-Identifier: MIT */
/* The vhost-user dirty log (live migration, claim 44): the right bits for the right pages,
 * nothing outside the log, and every guest write a push makes (the buffers the device filled,
 * the used element, the used index) marked while the front end migrates. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* clang-format off: cmocka needs the four above first */
#include <cmocka.h>
/* clang-format on */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../io/dirty_log.c"
#include "../../io/guest_mem.c"
#include "../../io/virtqueue.c"
#include "io_testmem.h"

#define PG VHU_LOG_PAGE

static bool bit(const struct dirty_log *l, uint64_t page)
{
	return l->bits[page / 8] & (1u << (page % 8));
}

static unsigned count(const struct dirty_log *l)
{
	unsigned n = 0;

	for (uint64_t i = 0; i < l->len * 8; i++)
		n += bit(l, i);
	return n;
}

/* A log of len bytes in ordinary memory between guard pages (any mark outside faults). */
static struct dirty_log *log_new(uint64_t len)
{
	struct dirty_log *l = calloc(1, sizeof(*l));
	uint8_t *base = mmap(NULL, 3 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(base != MAP_FAILED && len <= 4096);
	assert_int_equal(mprotect(base + 4096, 4096, PROT_READ | PROT_WRITE), 0);
	l->bits = base + 4096 + (4096 - len); /* flush against the guard above */
	l->len = len;
	l->on = true;
	return l;
}

static void log_free(struct dirty_log *l)
{
	munmap(l->bits - (4096 - l->len) - 4096, 3 * 4096);
	free(l);
}

static void test_marking(void **state)
{
	struct dirty_log *l = log_new(16); /* 128 pages */

	(void)state;
	dirty_log_mark(l, 0, 1);
	assert_true(bit(l, 0));
	assert_int_equal(count(l), 1);
	dirty_log_mark(l, 5 * PG + PG - 1, 2); /* two bytes straddling pages 5 and 6 */
	assert_true(bit(l, 5) && bit(l, 6));
	assert_int_equal(count(l), 3);
	dirty_log_mark(l, 9 * PG, PG); /* one whole page is one bit */
	assert_true(bit(l, 9) && !bit(l, 10) && !bit(l, 8));
	dirty_log_mark(l, 20 * PG + 7, 3 * PG); /* unaligned: four pages touched */
	assert_true(bit(l, 20) && bit(l, 21) && bit(l, 22) && bit(l, 23) && !bit(l, 24));
	assert_int_equal(count(l), 8);
	dirty_log_mark(l, 30 * PG, 0); /* nothing written, nothing marked */
	assert_int_equal(count(l), 8);

	/* Past the log: ignored (the guard page would fault), up to its last page marked. */
	dirty_log_mark(l, 126 * PG, 10 * PG);
	assert_true(bit(l, 126) && bit(l, 127));
	dirty_log_mark(l, 1ull << 40, PG);
	dirty_log_mark(l, UINT64_MAX - 10, 100); /* wraps 2^64 */
	assert_int_equal(count(l), 10);

	/* Off: the front end is not migrating. */
	l->on = false;
	dirty_log_mark(l, 40 * PG, 1);
	assert_false(bit(l, 40));
	assert_false(dirty_log_on(NULL));
	log_free(l);
}

static void test_map(void **state)
{
	struct dirty_log l = {0};
	int fd = memfd_create("log", MFD_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 3 * 4096), 0);
	assert_int_equal(dirty_log_map(&l, fd, 0, 0), -EINVAL);
	assert_int_equal(dirty_log_map(&l, fd, 4 * 4096, 0), -EINVAL); /* longer than the fd */
	assert_int_equal(dirty_log_map(&l, fd, 4096, 3 * 4096), -EINVAL);
	assert_int_equal(dirty_log_map(&l, fd, 8, UINT64_MAX - 4), -EINVAL); /* wraps */
	assert_int_equal(dirty_log_map(&l, fd, 128ull << 20, 0), -EINVAL);   /* absurd */
	assert_null(l.bits);
	/* An offset inside a page: the bitmap starts exactly there. */
	assert_int_equal(dirty_log_map(&l, fd, 4096, 100), 0);
	assert_int_equal(l.len, 4096);
	l.on = true;
	dirty_log_mark(&l, 3 * PG, 1); /* page 3: bit 3 of the log's first byte */
	{
		uint8_t b = 0;

		assert_int_equal(pread(fd, &b, 1, 100), 1);
		assert_int_equal(b, 1u << 3);
	}
	/* A second SET_LOG_BASE replaces the first. */
	assert_int_equal(dirty_log_map(&l, fd, 8192, 0), 0);
	assert_int_equal(l.len, 8192);
	dirty_log_unmap(&l);
	assert_null(l.bits);
	assert_false(dirty_log_on(&l));
	close(fd);
}

/* A ring in fake guest memory, as test_virtqueue.c lays it out. */
#define NUM 8u
#define GPA 0x40000ull
#define UVA 0x7f0000040000ull
#define RING_DESC 0x0000u
#define RING_AVAIL 0x1000u
#define RING_USED 0x2000u
#define BUFS 0x4000u
#define SIZE 0x10000u
#define PAGE_OF(off) ((GPA + (off)) / PG)

struct fx {
	struct guest_mem m;
	struct vq q;
	struct vq_buf scratch[NUM];
	struct dirty_log *log;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	tm_add(&f->m, GPA, UVA, SIZE);
	f->q.scratch = f->scratch;
	assert_int_equal(
	    vq_set_rings(&f->q, &f->m, NUM, UVA + RING_DESC, UVA + RING_AVAIL, UVA + RING_USED), 0);
	f->log = log_new(64); /* 512 pages: all of the fake memory */
	f->q.log = f->log;
	f->q.log_used = true;
	f->q.log_used_gpa = GPA + RING_USED;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	log_free(f->log);
	tm_free(&f->m);
	free(f);
	return 0;
}

static void desc(struct fx *f, uint16_t i, uint64_t off, uint32_t len, uint16_t flags,
                 uint16_t next)
{
	f->q.desc[i] = (struct vring_desc){GPA + off, len, flags, next};
}

static void offer_pop(struct fx *f, uint16_t head)
{
	struct vq_chain c;

	f->q.avail->ring[f->q.avail->idx % NUM] = head;
	f->q.avail->idx++;
	assert_int_equal(vq_pop(&f->q, &c), 1);
	assert_int_equal(c.fault, VQ_OK);
}

/* A disk read: header (read), two data pages (written), status byte (written). */
static void test_push_marks_what_was_written(void **state)
{
	struct fx *f = *state;

	desc(f, 0, BUFS, 16, VRING_DESC_F_NEXT, 1);
	desc(f, 1, BUFS + 0x1000, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(f, 2, BUFS + 0x3000, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	desc(f, 3, BUFS + 0x5000, 1, VRING_DESC_F_WRITE, 0);
	offer_pop(f, 0);
	vq_push(&f->q, 0, 4096 + 4096 + 1);
	assert_true(bit(f->log, PAGE_OF(BUFS + 0x1000)));
	assert_true(bit(f->log, PAGE_OF(BUFS + 0x3000)));
	assert_true(bit(f->log, PAGE_OF(BUFS + 0x5000)));
	assert_false(bit(f->log, PAGE_OF(BUFS))); /* the device only read the header */
	assert_false(bit(f->log, PAGE_OF(BUFS + 0x2000)));
	assert_true(bit(f->log, PAGE_OF(RING_USED))); /* element and index */
	assert_int_equal(count(f->log), 4);
}

/* An error: len 1, the status byte alone (the chain's last byte), the data untouched. */
static void test_error_marks_the_status_byte(void **state)
{
	struct fx *f = *state;

	desc(f, 0, BUFS, 16, VRING_DESC_F_NEXT, 1);
	desc(f, 1, BUFS + 0x2000, 8192, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(f, 2, BUFS + 0x6000, 1, VRING_DESC_F_WRITE, 0);
	offer_pop(f, 0);
	vq_push(&f->q, 0, 1);
	assert_true(bit(f->log, PAGE_OF(BUFS + 0x6000)));
	assert_false(bit(f->log, PAGE_OF(BUFS + 0x3000))); /* second data page: never written */
}

/* A partial write marks only as far as len reaches; nothing is marked while logging is off. */
static void test_partial_and_off(void **state)
{
	struct fx *f = *state;

	desc(f, 0, BUFS, 3 * 4096, VRING_DESC_F_WRITE, 0); /* a NIC's receive buffer */
	offer_pop(f, 0);
	vq_push(&f->q, 0, 100);
	assert_true(bit(f->log, PAGE_OF(BUFS)));
	assert_false(bit(f->log, PAGE_OF(BUFS + 0x1000)));
	assert_true(bit(f->log, PAGE_OF(BUFS + 0x2000))); /* its last byte: the status rule */
	f->log->on = false;
	memset(f->log->bits, 0, f->log->len);
	offer_pop(f, 0);
	vq_push(&f->q, 0, 100);
	assert_int_equal(count(f->log), 0);
}

/* A driver that rewrites its descriptors after the pop to point outside its memory, or loops
 * them, gets nothing marked outside its memory and no endless walk. */
static void test_hostile_chain(void **state)
{
	struct fx *f = *state;

	desc(f, 0, BUFS, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	desc(f, 1, BUFS + 0x1000, 16, VRING_DESC_F_WRITE, 0);
	offer_pop(f, 0);
	desc(f, 0, 0x10000000, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);  /* outside */
	desc(f, 1, BUFS + 0x1000, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0); /* a loop */
	vq_push(&f->q, 0, UINT32_MAX);
	assert_true(bit(f->log, PAGE_OF(BUFS + 0x1000)));
	assert_int_equal(count(f->log), 2); /* that page and the used ring's */
	vq_push(&f->q, NUM + 3, 1);         /* no such head: only the used ring */
	assert_int_equal(count(f->log), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_marking),
	    cmocka_unit_test(test_map),
	    cmocka_unit_test_setup_teardown(test_push_marks_what_was_written, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_marks_the_status_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_partial_and_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_chain, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
