/* SPDX-License-Identifier: MIT */
/* Partition definitions: what a user writes is accepted or refused with the right field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "desc.h"

static const char good[] = "{\"name\":\"g1\",\"memory_mib\":256,\"vcpus\":2,\"cpu_share\":0.25,"
			   "\"kernel\":\"/boot/vmlinux\",\"cmdline\":\"console=ttyS0\","
			   "\"devices\":[{\"kind\":\"rng\"},{\"kind\":\"blk\",\"path\":\"d.img\","
			   "\"readonly\":true}]}";

static void expect_error(const char *json, const char *needle)
{
	struct uv_partition_desc d;
	char err[256] = "";

	memset(&d, 0xAB, sizeof(d));
	assert_int_not_equal(uv_desc_from_json(json, "/base", &d, err, sizeof(err)), 0);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
	/* A refused definition leaves the caller's descriptor untouched. */
	assert_int_equal(((unsigned char *)&d)[0], 0xAB);
}

static void test_good_definition(void **state)
{
	struct uv_partition_desc d;
	char err[256] = "";

	assert_int_equal(uv_desc_from_json(good, "/base", &d, err, sizeof(err)), 0);
	assert_string_equal(d.name, "g1");
	assert_int_equal(d.mem_bytes, 256ull << 20);
	assert_int_equal(d.n_mem, 1);
	assert_int_equal(d.mem[0].guest_phys, 0);
	assert_int_equal(d.vcpus, 2);
	assert_int_equal(d.cpu_share_milli, 250);
	assert_int_equal(d.n_dev, 2);
	assert_int_equal(d.dev[1].kind, UV_DEV_BLK);
	assert_int_equal(d.dev[1].flags, UV_DEV_F_READONLY);
	/* Relative paths resolve against the definition's folder, absolute ones stay. */
	assert_string_equal(d.dev[1].path, "/base/d.img");
	assert_string_equal(d.kernel, "/boot/vmlinux");
}

static void test_bad_values(void **state)
{
	expect_error("{\"name\":\"g\",\"memory_mib\":0,\"kernel\":\"/k\"}", "memory");
	expect_error("{\"name\":\"g\",\"memory_mib\":16,\"kernel\":\"/k\"}", "too little");
	expect_error("{\"name\":\"g\",\"memory_mib\":64,\"vcpus\":100000,\"kernel\":\"/k\"}",
	             "vcpus");
	expect_error("{\"name\":\"g\",\"memory_mib\":64,\"vcpus\":0,\"kernel\":\"/k\"}", "vcpus");
	expect_error("{\"name\":\"g\",\"memory_mib\":64,\"vcpus\":-1,\"kernel\":\"/k\"}", "vcpus");
	expect_error("{\"name\":\"g\",\"memory_mib\":64}", "kernel: missing");
	expect_error("{\"name\":\"g\",\"memory_mib\":64,\"kernel\":\"\"}", "kernel");
	expect_error("{\"name\":\"a/b\",\"memory_mib\":64,\"kernel\":\"/k\"}", "name");
	expect_error("{\"name\":\"g\",\"memory_mib\":64,\"kernel\":\"/k\",\"bogus\":1}",
	             "bogus: unknown key");
	expect_error("{\"name\":\"g\",\"memory_mib\":64,\"kernel\":\"/k\",\"accel\":\"xen\"}",
	             "accel");
	expect_error("{\"name\":\"g\",\"memory_mib\":64,\"kernel\":\"/k\",\"cpu_share\":3,"
	             "\"vcpus\":2}",
	             "cpu_share");
	expect_error("{\"name\":\"g\",\"memory_mib\":64,\"kernel\":\"/k\","
	             "\"devices\":[{\"kind\":\"floppy\"}]}",
	             "devices[0].kind");
	expect_error("{\"name\":\"g\",\"memory_mib\":64,\"kernel\":\"/k\","
	             "\"devices\":[{\"kind\":\"blk\"}]}",
	             "devices[0].path");
	expect_error("{\"name\":\"g\",\"memory_mib\":64,\"kernel\":\"/k\","
	             "\"devices\":[{\"kind\":\"rng\",\"speed\":3}]}",
	             "devices[0].speed: unknown key");
	expect_error("{\"name\":\"g\",\"memory_mib\":64,", "not valid JSON");
	expect_error("{\"name\":\"g\"} trailing", "not valid JSON");
	expect_error("[1,2]", "expected a JSON object");
}

static void test_validate_checks_files(void **state)
{
	struct uv_partition_desc d;
	char err[256] = "";

	assert_int_equal(uv_desc_from_json("{\"name\":\"g\",\"memory_mib\":64,"
	                                   "\"kernel\":\"/nonexistent/vmlinux\"}",
	                                   NULL, &d, err, sizeof(err)),
	                 0);
	assert_int_not_equal(uv_desc_validate(&d, 1, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "kernel: /nonexistent/vmlinux"));
}

/* A channel's memory must be a regular file of a power-of-two size >= 4 KiB (an ivshmem BAR). */
static void channel_case(const char *path, const char *needle)
{
	struct uv_partition_desc d;
	char json[512], err[256] = "";
	int r;

	snprintf(json, sizeof(json),
	         "{\"name\":\"g\",\"memory_mib\":64,\"kernel\":\"/dev/null\","
	         "\"devices\":[{\"kind\":\"channel\",\"path\":\"%s\"}]}",
	         path);
	assert_int_equal(uv_desc_from_json(json, NULL, &d, err, sizeof(err)), 0);
	assert_int_equal(d.dev[0].kind, UV_DEV_CHANNEL);
	r = uv_desc_validate(&d, 1, err, sizeof(err));
	if (!needle) {
		if (r)
			fail_msg("a good channel was refused: %s", err);
		return;
	}
	assert_int_not_equal(r, 0);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_channel_memory_checked(void **state)
{
	char dir[] = "/tmp/uvdesc-XXXXXX", path[64];
	static const struct {
		off_t size;
		const char *needle;
	} cases[] = {{4096, NULL},
	             {1 << 20, NULL},
	             {0, "power of two"},
	             {2048, "power of two"},
	             {12288, "power of two"}};
	unsigned i;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/chan", dir);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, cases[i].size), 0);
		close(fd);
		channel_case(path, cases[i].needle);
	}
	unlink(path);
	channel_case(path, "No such file");
	channel_case(dir, "regular file");
	rmdir(dir);
}

static void test_validate_binary_fields(void **state)
{
	struct uv_partition_desc d, bad;
	char err[256];

	assert_int_equal(uv_desc_from_json(good, "/b", &d, err, sizeof(err)), 0);
	bad = d;
	bad.magic = 0;
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	bad = d;
	bad.mem_bytes += 1 << 20;
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	bad = d;
	memset(bad.kernel, 'x', sizeof(bad.kernel));
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	bad = d;
	bad.n_mem = 2;
	bad.mem[1].guest_phys = 1ull << 32; /* a hole the layout does not allow */
	bad.mem[1].size = 1 << 20;
	bad.mem_bytes += 1 << 20;
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "memory[1]"));
	bad = d;
	bad.n_dev = UV_DEVICES_MAX + 1;
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_definition),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_validate_checks_files),
	    cmocka_unit_test(test_validate_binary_fields),
	    cmocka_unit_test(test_channel_memory_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
