/* SPDX-License-Identifier: MIT */
/*
 * Read and write limits beside the totals (claims 19, 22; lib/disk_limit.c): what a definition
 * may say and each refusal with its sentence, the set-disk-limits change rule (virsh
 * blkdeviotune's), and how a limit is said in logs and errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* clang-format off: cmocka needs the four above first */
#include <cmocka.h>
/* clang-format on */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "desc.h"
#include "disk_limit.h"

/* A definition with one disk whose "limits" member is lim (JSON text). */
static int define(const char *lim, struct uv_partition_desc *d, char *err, size_t errlen)
{
	char json[512];

	snprintf(json, sizeof(json),
	         "{\"name\": \"rw\", \"memory_mib\": 64, \"kernel\": \"/k\", \"disks\": "
	         "[{\"image\": \"a.img\", \"limits\": %s}]}",
	         lim);
	memset(d, 0x5A, sizeof(*d));
	return uv_desc_from_json(json, "/base", d, err, errlen);
}

static void test_definition_takes_each_kind(void **state)
{
	struct uv_partition_desc d;
	char err[400] = "";

	(void)state;
	/* A total of one kind beside a direction of the other. */
	assert_int_equal(
	    define("{\"read_bytes_per_sec\": 1048576, \"iops\": 300}", &d, err, sizeof(err)), 0);
	assert_int_equal(d.disk_limit[0].read_bytes_per_sec, 1048576);
	assert_int_equal(d.disk_limit[0].write_bytes_per_sec, 0);
	assert_int_equal(d.disk_limit[0].bytes_per_sec, 0);
	assert_int_equal(d.disk_limit[0].iops, 300);
	assert_int_equal(d.disk_limit[0].write_iops, 0);
	assert_int_equal(d.disk_limit[0].read_iops, 0);
	assert_int_equal(uv_desc_validate(&d, 0, err, sizeof(err)), 0);
	assert_int_equal(define("{\"write_bytes_per_sec\": 4096, \"read_bytes_per_sec\": 8192, "
	                        "\"read_iops\": 7, \"write_iops\": 9}",
	                        &d, err, sizeof(err)),
	                 0);
	assert_int_equal(d.disk_limit[0].write_bytes_per_sec, 4096);
	assert_int_equal(d.disk_limit[0].read_iops, 7);
}

/* A total beside a direction of its kind, in every pairing; zero; an unknown key; too big. Each
 * says why, naming the field, and leaves the caller's descriptor as it was. */
static void test_definition_refusals(void **state)
{
	static const struct {
		const char *lim, *says;
	} cases[] = {
	    {"{\"bytes_per_sec\": 5, \"read_bytes_per_sec\": 5}",
	     "disks[0].limits: bytes_per_sec cannot be given with read_bytes_per_sec"},
	    {"{\"write_bytes_per_sec\": 5, \"bytes_per_sec\": 5}",
	     "disks[0].limits: bytes_per_sec cannot be given with"},
	    {"{\"iops\": 5, \"read_iops\": 5}", "disks[0].limits: iops cannot be given with"},
	    {"{\"write_iops\": 5, \"iops\": 5}", "disks[0].limits: iops cannot be given with"},
	    {"{\"write_iops\": 0}", "disks[0].limits.write_iops: must be positive"},
	    {"{\"read_bytes_per_sec\": 1125899906842625}", "disks[0].limits.read_bytes_per_sec: "},
	    {"{\"read_iops\": 4294967296}", "disks[0].limits.read_iops: "},
	    {"{\"total_iops_sec\": 5}",
	     "disks[0].limits.total_iops_sec: unknown key (bytes_per_sec, iops, "
	     "read_bytes_per_sec, write_bytes_per_sec, read_iops, write_iops)"},
	};
	struct uv_partition_desc d;
	char err[400];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = 0;
		assert_int_equal(define(cases[i].lim, &d, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].says))
			fail_msg("%s: said '%s', not '%s'", cases[i].lim, err, cases[i].says);
		assert_int_equal(((unsigned char *)&d)[0], 0x5A);
	}
}

/* A descriptor from elsewhere (the transaction decoder's, a snapshot's) is held to the same. */
static void test_descriptor_refuses_a_clash(void **state)
{
	struct uv_partition_desc d;
	char err[400] = "";

	(void)state;
	assert_int_equal(define("{\"iops\": 5}", &d, err, sizeof(err)), 0);
	d.disk_limit[0].write_iops = 3;
	assert_int_equal(uv_desc_validate(&d, 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "disks[0].limits: iops cannot be given with"));
	d.disk_limit[0].write_iops = 0;
	d.disk_limit[0].reserved = 1;
	assert_int_equal(uv_desc_validate(&d, 0, err, sizeof(err)), -EINVAL);
	d.disk_limit[0].reserved = 0;
	d.disk_limit[2].read_iops = 3; /* beyond the disks asked for */
	assert_int_equal(uv_desc_validate(&d, 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "disks[2].limits: no such disk"));
}

static void change(struct uv_disk_limit *l, const char *key, int64_t v)
{
	int64_t want[UV_DISK_LIMIT_KEYS] = {-1, -1, -1, -1, -1, -1};

	want[uv_disk_limit_key_index(key)] = v;
	uv_disk_limit_change(l, want);
}

/* set-disk-limits: a kind left out stays; a direction named clears its kind's total, a total
 * its kind's directions; the other kind is not touched; both of a kind at once is refused. */
static void test_change_rule(void **state)
{
	struct uv_disk_limit l = {.bytes_per_sec = 1000, .iops = 50};
	int64_t both[UV_DISK_LIMIT_KEYS] = {-1, -1, -1, -1, -1, -1};
	char err[400] = "";

	(void)state;
	change(&l, "write_bytes_per_sec", 512);
	assert_int_equal(l.bytes_per_sec, 0);
	assert_int_equal(l.write_bytes_per_sec, 512);
	assert_int_equal(l.iops, 50); /* requests are another kind */
	change(&l, "read_bytes_per_sec", 256);
	assert_int_equal(l.write_bytes_per_sec, 512); /* the other direction stays */
	assert_int_equal(l.read_bytes_per_sec, 256);
	change(&l, "read_iops", 9);
	assert_int_equal(l.iops, 0);
	assert_int_equal(l.read_iops, 9);
	change(&l, "bytes_per_sec", 4096);
	assert_int_equal(l.read_bytes_per_sec, 0);
	assert_int_equal(l.write_bytes_per_sec, 0);
	assert_int_equal(l.bytes_per_sec, 4096);
	assert_int_equal(l.read_iops, 9);
	assert_int_equal(uv_disk_limit_check(&l, "disks[0]", err, sizeof(err)), 0);
	both[uv_disk_limit_key_index("iops")] = 5;
	both[uv_disk_limit_key_index("write_iops")] = 5;
	uv_disk_limit_change(&l, both);
	assert_int_equal(uv_disk_limit_check(&l, "disks[0]", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "disks[0]: iops cannot be given with read_iops or write_iops"));
	change(&l, "write_iops", 0); /* lifting a direction leaves nothing behind */
	change(&l, "iops", 0);
	change(&l, "read_iops", 0);
	change(&l, "bytes_per_sec", 0);
	assert_true(uv_disk_limit_none(&l));
}

/* What a direction is held to (the kernel's view: its own limit, else the total), and how a
 * limit reads in logs. */
static void test_directions_and_words(void **state)
{
	struct uv_disk_limit l = {.bytes_per_sec = 2048, .write_iops = 7};
	char s[200];

	(void)state;
	assert_int_equal(uv_disk_limit_read_bps(&l), 2048);
	assert_int_equal(uv_disk_limit_write_bps(&l), 2048);
	assert_int_equal(uv_disk_limit_read_iops(&l), 0);
	assert_int_equal(uv_disk_limit_write_iops(&l), 7);
	uv_disk_limit_describe(&l, s, sizeof(s));
	assert_string_equal(s, "in all 2048 bytes, writes 7 requests a second");
	uv_disk_limit_describe(&(struct uv_disk_limit){0}, s, sizeof(s));
	assert_string_equal(s, "none");
	uv_disk_limit_describe(&l, s, 8); /* cut, never overrun */
	assert_int_equal(strlen(s), 7);
	assert_null(uv_disk_limit_key(UV_DISK_LIMIT_KEYS));
	assert_int_equal(uv_disk_limit_key_index("total_bytes_sec"), -1);
	assert_int_equal(uv_disk_limit_get(&l, UV_DISK_LIMIT_KEYS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_definition_takes_each_kind),
	    cmocka_unit_test(test_definition_refusals),
	    cmocka_unit_test(test_descriptor_refuses_a_clash),
	    cmocka_unit_test(test_change_rule),
	    cmocka_unit_test(test_directions_and_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
