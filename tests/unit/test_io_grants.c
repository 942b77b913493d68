/* SPDX-License-Identifier: MIT */
/* Whose memory may a vhost-user client hand over (claims 20, 21)? Only its partition's granted
 * objects, each region inside its object, on a socket exactly one partition is granted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* clang-format off: cmocka needs the four above first */
#include <cmocka.h>
/* clang-format on */
#include <string.h>

#include "../../io/grants.c"
#include "resdb_testlib.h"

static struct vhu_region reg(uint64_t off, uint64_t size)
{
	return (struct vhu_region){
	    .guest_addr = 0, .size = size, .user_addr = 0, .mmap_offset = off};
}

static const struct io_grants G = {
    .n = 2, .o = {{.dev = 7, .ino = 100, .size = 64 * MiB}, {.dev = 7, .ino = 101, .size = 4096}}};

static int check_one(struct io_obj o, uint64_t off, uint64_t size, enum io_refusal *why)
{
	struct vhu_region r = reg(off, size);
	unsigned bad = 99;

	*why = IO_REF_NONE;
	return io_grants_check(&G, &r, &o, 1, &bad, why);
}

static void test_region_must_lie_in_a_granted_object(void **state)
{
	const struct io_obj big = {7, 100, 0}, small = {7, 101, 0};
	enum io_refusal why;

	/* the whole object, and its last byte */
	assert_int_equal(check_one(big, 0, 64 * MiB, &why), 0);
	assert_int_equal(check_one(big, 64 * MiB - 1, 1, &why), 0);
	assert_int_equal(check_one(small, 0, 4096, &why), 0);
	/* one byte past the end; starting at the end; past it; wrapping 2^64 */
	assert_int_equal(check_one(big, 1, 64 * MiB, &why), -EPERM);
	assert_int_equal(why, IO_REF_OUTSIDE);
	assert_int_equal(check_one(big, 64 * MiB, 1, &why), -EPERM);
	assert_int_equal(check_one(big, UINT64_MAX, 1, &why), -EPERM);
	assert_int_equal(check_one(big, 4096, UINT64_MAX - 4095, &why), -EPERM);
	assert_int_equal(why, IO_REF_OUTSIDE);
	/* the grant's size counts, not the one the front end could make the object grow to */
	assert_int_equal(check_one(small, 0, 8192, &why), -EPERM);
	/* empty */
	assert_int_equal(check_one(big, 0, 0, &why), -EPERM);
	/* an object listed twice (a memory grant also named as a channel device): either fits */
	struct io_grants twice = {.n = 2, .o = {{7, 5, 4096}, {7, 5, 8192}}};
	struct vhu_region r = reg(4096, 4096);
	struct io_obj o = {7, 5, 0};
	unsigned bad;
	assert_int_equal(io_grants_check(&twice, &r, &o, 1, &bad, &why), 0);
}

static void test_object_must_be_granted(void **state)
{
	enum io_refusal why;

	/* same inode on another device (another tmpfs, hugetlbfs) is another file */
	assert_int_equal(check_one((struct io_obj){8, 100, 0}, 0, 4096, &why), -EPERM);
	assert_int_equal(why, IO_REF_NOT_GRANTED);
	assert_int_equal(check_one((struct io_obj){7, 102, 0}, 0, 4096, &why), -EPERM);
	assert_int_equal(why, IO_REF_NOT_GRANTED);
	/* no grants at all: nothing passes */
	struct io_grants none = {0};
	struct vhu_region r = reg(0, 4096);
	struct io_obj o = {7, 100, 0};
	unsigned bad;
	assert_int_equal(io_grants_check(&none, &r, &o, 1, &bad, &why), -EPERM);
	assert_string_equal(io_refusal_str(IO_REF_NOT_GRANTED), "its object is not granted to");
}

static void test_first_bad_region_is_named(void **state)
{
	struct vhu_region r[3] = {reg(0, 4096), reg(4096, 4096), reg(0, 4096)};
	struct io_obj o[3] = {{7, 100, 0}, {7, 100, 0}, {9, 9, 0}};
	enum io_refusal why = IO_REF_NONE;
	unsigned bad = 99;

	assert_int_equal(io_grants_check(&G, r, o, 2, &bad, &why), 0);
	assert_int_equal(bad, 99); /* untouched on success */
	assert_int_equal(io_grants_check(&G, r, o, 3, &bad, &why), -EPERM);
	assert_int_equal(bad, 2);
	assert_int_equal(why, IO_REF_NOT_GRANTED);
	o[2] = (struct io_obj){7, 101, 0};
	r[0] = reg(60 * MiB, 8 * MiB);
	assert_int_equal(io_grants_check(&G, r, o, 3, &bad, &why), -EPERM);
	assert_int_equal(bad, 0);
	assert_int_equal(why, IO_REF_OUTSIDE);
}

/* --- owner lookup over a real database --- */

static struct tdb T;

static bool is_path(const char *path, void *ctx) { return !strcmp(path, ctx); }

static void create(uint32_t id, uint32_t kind, const char *path)
{
	struct uv_resdb_result res;
	struct uv_txn t;

	tx_create(&t, P_CMD, UV_ROLE_COMMAND, id, path ? 1 : 0, 0);
	if (path) {
		t.u.create.dev[0].kind = kind;
		snprintf(t.u.create.dev[0].path, UV_PATH_MAX, "%s", path);
	}
	assert_int_equal(uv_resdb_apply(T.db, &t, &res), UV_TXN_OK);
}

/* A descriptor's device path, overwritten in place: what no transaction could write. */
static struct uv_device *raw_dev(uint32_t id)
{
	uint8_t *slot = (uint8_t *)T.area + (size_t)id * UV_RESDB_SLOT_SIZE;

	return &((struct uv_partition_desc *)slot)->dev[0];
}

static void test_owner_is_the_one_partition_granted_the_socket(void **state)
{
	struct uv_resdb_result res;
	struct uv_resdb_view v;
	struct uv_txn t;
	uint32_t owner = 0;

	assert_int_equal(tdb_open(&T, 1 * GiB, 16, 4, 8), 0);
	tx_create(&t, 0, UV_ROLE_ULTRAVISOR, P_CMD, 0, 0);
	uv_resdb_apply(T.db, &t, &res);
	tx_state(&t, 0, UV_ROLE_ULTRAVISOR, P_CMD, UV_STATE_RUNNING);
	uv_resdb_apply(T.db, &t, &res);
	create(5, UV_DEV_VHOST_USER_BLK, "/run/io/a.sock");
	create(6, UV_DEV_VHOST_USER_NET, "/run/io/n.sock");
	create(7, UV_DEV_VHOST_USER_BLK, "/run/io/b.sock");
	create(8, 0, NULL);
	assert_int_equal(uv_resdb_view_attach(&v, T.area, T.size), 0);

	assert_int_equal(
	    io_grants_owner(&v, UV_DEV_VHOST_USER_BLK, is_path, "/run/io/a.sock", &owner), 0);
	assert_int_equal(owner, 5);
	assert_int_equal(
	    io_grants_owner(&v, UV_DEV_VHOST_USER_BLK, is_path, "/run/io/b.sock", &owner), 0);
	assert_int_equal(owner, 7);
	assert_int_equal(
	    io_grants_owner(&v, UV_DEV_VHOST_USER_NET, is_path, "/run/io/n.sock", &owner), 0);
	assert_int_equal(owner, 6);
	/* the right path as the wrong kind of device, and a socket nobody is granted */
	owner = 0;
	assert_int_equal(
	    io_grants_owner(&v, UV_DEV_VHOST_USER_NET, is_path, "/run/io/a.sock", &owner), -ENOENT);
	assert_int_equal(
	    io_grants_owner(&v, UV_DEV_VHOST_USER_BLK, is_path, "/run/io/c.sock", &owner), -ENOENT);
	assert_int_equal(owner, 0); /* untouched */

	/* Two partitions claiming one socket (the database refuses it, DOUBLE_ALLOC; a damaged
	 * region is all that could say so): nobody's. */
	snprintf(raw_dev(7)->path, UV_PATH_MAX, "/run/io/a.sock");
	assert_int_equal(
	    io_grants_owner(&v, UV_DEV_VHOST_USER_BLK, is_path, "/run/io/a.sock", &owner),
	    -ENOTUNIQ);
	/* A path without its NUL never reaches the comparison. */
	memset(raw_dev(7)->path, 'x', UV_PATH_MAX);
	assert_int_equal(
	    io_grants_owner(&v, UV_DEV_VHOST_USER_BLK, is_path, "/run/io/a.sock", &owner), 0);
	assert_int_equal(owner, 5);
	tdb_close(&T);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_region_must_lie_in_a_granted_object),
	    cmocka_unit_test(test_object_must_be_granted),
	    cmocka_unit_test(test_first_bad_region_is_named),
	    cmocka_unit_test(test_owner_is_the_one_partition_granted_the_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
