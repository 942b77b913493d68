/* SPDX-License-Identifier: MIT */
/* Guest address validation and translation (claims 20, 21): what a hostile client or guest
 * names is translated only when it lies wholly inside one region of its own table. */
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

#include "../../io/guest_mem.c"
#include "io_testmem.h"

#define MIB (1ull << 20)

static struct vhu_region reg(uint64_t gpa, uint64_t size, uint64_t uva, uint64_t off)
{
	return (struct vhu_region){
	    .guest_addr = gpa, .size = size, .user_addr = uva, .mmap_offset = off};
}

static void test_table_checks(void **state)
{
	struct vhu_region r[VHU_MAX_REGIONS + 1];

	r[0] = reg(0, MIB, 0x7f0000000000, 0);
	assert_int_equal(gm_check_table(r, 1), 0);
	assert_int_not_equal(gm_check_table(r, 0), 0);
	for (unsigned i = 0; i <= VHU_MAX_REGIONS; i++)
		r[i] = reg(i * MIB, MIB, 0x7f0000000000 + i * MIB, 0);
	assert_int_equal(gm_check_table(r, VHU_MAX_REGIONS), 0);
	assert_int_not_equal(gm_check_table(r, VHU_MAX_REGIONS + 1), 0);
	/* empty, and each address space wrapping 2^64 */
	r[0] = reg(0, 0, 0x1000, 0);
	assert_int_equal(gm_check_table(r, 1), -ERANGE);
	r[0] = reg(UINT64_MAX - 4095, 8192, 0x1000, 0);
	assert_int_equal(gm_check_table(r, 1), -ERANGE);
	r[0] = reg(0, 8192, UINT64_MAX - 4095, 0);
	assert_int_equal(gm_check_table(r, 1), -ERANGE);
	r[0] = reg(0, 8192, 0x1000, UINT64_MAX - 4095);
	assert_int_equal(gm_check_table(r, 1), -ERANGE);
	/* a region ending exactly at 2^64 - 1 is representable */
	r[0] = reg(UINT64_MAX - 4095, 4096, 0x1000, 0);
	assert_int_equal(gm_check_table(r, 1), 0);
	/* overlapping guest-physical or front-end ranges */
	r[0] = reg(0, 2 * MIB, 0x100000000, 0);
	r[1] = reg(MIB, MIB, 0x200000000, 0);
	assert_int_equal(gm_check_table(r, 2), -EINVAL);
	r[1] = reg(4 * MIB, MIB, 0x100000000 + MIB, 0);
	assert_int_equal(gm_check_table(r, 2), -EINVAL);
	r[1] = reg(4 * MIB, MIB, 0x100000000 + 2 * MIB, 0);
	assert_int_equal(gm_check_table(r, 2), 0);
}

static void test_translation_bounds(void **state)
{
	struct guest_mem m = {0};
	uint8_t *a = tm_add(&m, 0x100000, 0x7f0000100000, 0x4000);
	uint8_t *b = tm_add(&m, 0x104000, 0x7f0000200000, 0x4000); /* gpa-adjacent to a */

	assert_ptr_equal(gm_gpa(&m, 0x100000, 1), a);
	assert_ptr_equal(gm_gpa(&m, 0x100000, 0x4000), a);
	assert_ptr_equal(gm_gpa(&m, 0x103fff, 1), a + 0x3fff);
	assert_ptr_equal(gm_gpa(&m, 0x104000, 16), b);
	assert_ptr_equal(gm_uva(&m, 0x7f0000200010, 16), b + 16);
	/* empty, outside, one byte too long, spanning two regions, wrapping */
	assert_null(gm_gpa(&m, 0x100000, 0));
	assert_null(gm_gpa(&m, 0xfffff, 1));
	assert_null(gm_gpa(&m, 0x108000, 1));
	assert_null(gm_gpa(&m, 0x104000, 0x4001));
	assert_null(gm_gpa(&m, 0x103ff0, 32));
	assert_null(gm_gpa(&m, UINT64_MAX, 2));
	assert_null(gm_gpa(&m, 0x100000, UINT64_MAX));
	assert_null(gm_gpa(&m, 0x101000, UINT64_MAX - 0x100));
	/* the two address spaces are not interchangeable */
	assert_null(gm_uva(&m, 0x100000, 1));
	assert_null(gm_gpa(&m, 0x7f0000100000, 1));
	tm_free(&m);
}

static int memfd_of(size_t size)
{
	int fd = memfd_create("gm", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void test_map_checks_the_object(void **state)
{
	struct guest_mem m = {0}, keep = {.n = 7};
	struct vhu_region r = reg(0x1000000, 2 * MIB, 0x7f0000000000, MIB);
	int small = memfd_of(2 * MIB), fits = memfd_of(3 * MIB), p[2];

	/* mmap_offset + size beyond the object: touching it would SIGBUS, so refuse */
	assert_int_equal(gm_map(&keep, &r, &small, 1), -EINVAL);
	assert_int_equal(keep.n, 7);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(gm_map(&keep, &r, &p[0], 1), -EINVAL);
	assert_int_equal(gm_map(&m, &r, &fits, 1), 0);
	/* a write through the translation lands at mmap_offset + (gpa - base) in the object */
	uint8_t *h = gm_gpa(&m, 0x1000000 + 5, 1);
	assert_non_null(h);
	*h = 0x5a;
	uint8_t got = 0;
	assert_int_equal(pread(fits, &got, 1, (off_t)(MIB + 5)), 1);
	assert_int_equal(got, 0x5a);
	gm_unmap(&m);
	assert_int_equal(m.n, 0);
	close(small);
	close(fits);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_checks),
	    cmocka_unit_test(test_translation_bounds),
	    cmocka_unit_test(test_map_checks_the_object),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
