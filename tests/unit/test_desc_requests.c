/* SPDX-License-Identifier: MIT */
/* A definition's disks, NICs and channels (issue 6 item 1): what a user writes is accepted with
 * the right values, or refused with the offending field's path in the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "desc.h"

#define HEAD "{\"name\":\"web1\",\"memory_mib\":64,\"kernel\":\"/k\","

static void expect_error(const char *json, const char *needle)
{
	struct uv_partition_desc d;
	char err[256] = "";

	memset(&d, 0xAB, sizeof(d));
	if (uv_desc_from_json(json, "/defs", &d, err, sizeof(err)) == 0)
		fail_msg("accepted: %s", json);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not name \"%s\" (%s)", err, needle, json);
	assert_int_equal(((unsigned char *)&d)[0], 0xAB); /* the caller's descriptor untouched */
}

static void parse_ok(const char *json, struct uv_partition_desc *d)
{
	char err[256] = "";

	if (uv_desc_from_json(json, "/defs", d, err, sizeof(err)))
		fail_msg("refused: %s (%s)", err, json);
}

static void test_requests_parsed(void **state)
{
	struct uv_partition_desc d;

	(void)state;
	parse_ok(HEAD "\"disks\":[{\"image\":\"web1.img\",\"readonly\":false},"
	              "{\"image\":\"/srv/ro.img\",\"readonly\":true}],"
	              "\"nics\":[{\"switch\":\"lan\"},{}],"
	              "\"channels\":[{\"peer\":\"db1\",\"size_kib\":256},{\"peer\":\"log\"}]}",
	         &d);
	assert_int_equal(d.n_disk, 2);
	assert_string_equal(d.disk[0].image, "/defs/web1.img"); /* relative to the definition */
	assert_int_equal(d.disk[0].flags, 0);
	assert_string_equal(d.disk[1].image, "/srv/ro.img");
	assert_int_equal(d.disk[1].flags, UV_DEV_F_READONLY);
	assert_int_equal(d.n_nic, 2);
	assert_string_equal(d.nic[0].sw, "lan");
	assert_string_equal(d.nic[1].sw, "default");
	assert_int_equal(d.n_chan, 2);
	assert_string_equal(d.chan[0].peer, "db1");
	assert_int_equal(d.chan[0].size, 256 << 10);
	assert_int_equal(d.chan[1].size, 64 << 10); /* the default */
	assert_int_equal(d.n_dev, 0);               /* grants come at start, not from the parser */

	parse_ok(HEAD "\"disks\":[],\"nics\":[],\"channels\":[]}", &d);
	assert_int_equal(d.n_disk + d.n_nic + d.n_chan, 0);
}

static void test_disk_errors(void **state)
{
	(void)state;
	expect_error(HEAD "\"disks\":{}}", "disks: expected an array");
	expect_error(HEAD "\"disks\":[1]}", "disks[0]: expected an object");
	expect_error(HEAD "\"disks\":[{\"readonly\":true}]}", "disks[0].image: missing");
	expect_error(HEAD "\"disks\":[{\"image\":\"a\"},{\"image\":7}]}",
	             "disks[1].image: expected a string");
	expect_error(HEAD "\"disks\":[{\"image\":\"\"}]}", "disks[0].image: path is empty");
	expect_error(HEAD "\"disks\":[{\"image\":\"a\",\"readonly\":1}]}",
	             "disks[0].readonly: expected true or false");
	expect_error(HEAD "\"disks\":[{\"image\":\"a\",\"size\":1}]}",
	             "disks[0].size: unknown key");
	expect_error(HEAD "\"disks\":[{\"image\":\"a\"},{\"image\":\"/defs/a\"}]}",
	             "disks[1].image: /defs/a is disks[0] already");
	expect_error(HEAD "\"disks\":[{\"image\":\"a\"},{\"image\":\"b\"},{\"image\":\"c\"},"
	                  "{\"image\":\"d\"},{\"image\":\"e\"}]}",
	             "disks: 5 entries, at most 4");
}

static void test_nic_errors(void **state)
{
	(void)state;
	expect_error(HEAD "\"nics\":\"default\"}", "nics: expected an array");
	expect_error(HEAD "\"nics\":[null]}", "nics[0]: expected an object");
	expect_error(HEAD "\"nics\":[{\"switch\":1}]}", "nics[0].switch: expected a string");
	expect_error(HEAD "\"nics\":[{},{\"switch\":\"a/b\"}]}", "nics[1].switch: character '/'");
	expect_error(HEAD "\"nics\":[{\"switch\":\"\"}]}", "nics[0].switch: must not be empty");
	expect_error(HEAD "\"nics\":[{\"switch\":\"0123456789012345678901234567890123\"}]}",
	             "nics[0].switch: longer than");
	expect_error(HEAD "\"nics\":[{\"mac\":\"02:00:00:00:00:01\"}]}",
	             "nics[0].mac: unknown key");
	expect_error(HEAD "\"nics\":[{},{},{},{},{}]}", "nics: 5 entries, at most 4");
}

static void test_channel_errors(void **state)
{
	(void)state;
	expect_error(HEAD "\"channels\":[{\"size_kib\":64}]}", "channels[0].peer: missing");
	expect_error(HEAD "\"channels\":[{\"peer\":2}]}", "channels[0].peer: expected a string");
	expect_error(HEAD "\"channels\":[{\"peer\":\"../x\"}]}", "channels[0].peer: character");
	expect_error(HEAD "\"channels\":[{\"peer\":\"web1\"}]}",
	             "channels[0].peer: a partition has no channel to itself");
	expect_error(HEAD "\"channels\":[{\"peer\":\"db\"},{\"peer\":\"db\"}]}",
	             "channels[1].peer: channels[0] goes to db already");
	expect_error(HEAD "\"channels\":[{\"peer\":\"db\",\"size_kib\":\"64\"}]}",
	             "channels[0].size_kib: expected an integer");
	expect_error(HEAD "\"channels\":[{\"peer\":\"db\",\"size_kib\":-4}]}",
	             "channels[0].size_kib: -4 is out of range");
	expect_error(HEAD "\"channels\":[{\"peer\":\"db\",\"size_kib\":100}]}",
	             "channels[0].size_kib: 100 is not a power of two");
	expect_error(HEAD "\"channels\":[{\"peer\":\"db\",\"size_kib\":2}]}",
	             "channels[0].size_kib: 2 is not a power of two in 4..");
	expect_error(HEAD "\"channels\":[{\"peer\":\"db\",\"size_kib\":2097152}]}",
	             "channels[0].size_kib: 2097152 is out of range");
	expect_error(HEAD "\"channels\":[{\"peer\":\"db\",\"ring\":1}]}",
	             "channels[0].ring: unknown key");
	expect_error(HEAD "\"channels\":[{\"peer\":\"a\"},{\"peer\":\"b\"},{\"peer\":\"c\"},"
	                  "{\"peer\":\"d\"},{\"peer\":\"e\"},{\"peer\":\"f\"},{\"peer\":\"g\"},"
	                  "{\"peer\":\"h\"},{\"peer\":\"i\"}]}",
	             "channels: 9 entries, at most 8");
}

/* Every disk and NIC becomes a device at start: they must fit beside the fixed devices. */
static void test_device_budget(void **state)
{
	char json[2048];
	size_t n;
	int i;

	(void)state;
	n = (size_t)snprintf(json, sizeof(json), HEAD "\"devices\":[");
	for (i = 0; i < 13; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "%s{\"kind\":\"rng\"}",
		                      i ? "," : "");
	snprintf(json + n, sizeof(json) - n,
	         "],\"disks\":[{\"image\":\"a\"},{\"image\":\"b\"}],\"nics\":[{},{}]}");
	expect_error(json, "disks: 13 devices, 2 disks and 2 NICs make more than 16 devices");
}

static void test_images_checked_when_files_are(void **state)
{
	char dir[] = "/tmp/uvdefreq-XXXXXX", img[64], json[256], err[256];
	struct uv_partition_desc d;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/web1.img", dir);
	snprintf(json, sizeof(json),
	         "{\"name\":\"web1\",\"memory_mib\":64,\"kernel\":\"/dev/null\","
	         "\"disks\":[{\"image\":\"web1.img\"}]}");
	assert_int_equal(uv_desc_from_json(json, dir, &d, err, sizeof(err)), 0);
	assert_int_not_equal(uv_desc_validate(&d, 1, err, sizeof(err)), 0);
	if (!strstr(err, "disks[0].image: ") || !strstr(err, "No such file"))
		fail_msg("missing image: %s", err);
	fd = open(img, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	d.n_dev = 0;
	assert_int_equal(uv_desc_validate(&d, 1, err, sizeof(err)), 0);
	/* A folder is no disk. */
	snprintf(d.disk[0].image, sizeof(d.disk[0].image), "%s", dir);
	assert_int_not_equal(uv_desc_validate(&d, 1, err, sizeof(err)), 0);
	if (!strstr(err, "disks[0].image: ") || !strstr(err, "not a regular file"))
		fail_msg("a folder as image: %s", err);
	unlink(img);
	rmdir(dir);
}

/* The fast path (claims 22, 23): "direct" is a flag of the disk request; an image must be
 * whole sectors on a file system that takes O_DIRECT, checked when files are. */
static void test_direct_disks(void **state)
{
	char dir[] = "/tmp/uvdefreq-XXXXXX", img[64], err[256];
	struct uv_partition_desc d;
	int fd, direct_ok;

	(void)state;
	parse_ok(HEAD "\"disks\":[{\"image\":\"a\",\"direct\":true,\"readonly\":true},"
	              "{\"direct\":false,\"image\":\"b\"},{\"image\":\"c\",\"direct\":true}],"
	              "\"devices\":[{\"kind\":\"direct-blk\",\"path\":\"d\"}]}",
	         &d);
	assert_int_equal(d.disk[0].flags, UV_DEV_F_READONLY | UV_DISK_F_DIRECT);
	assert_int_equal(d.disk[1].flags, 0);
	assert_int_equal(d.disk[2].flags, UV_DISK_F_DIRECT);
	assert_int_equal(d.dev[0].kind, UV_DEV_DIRECT_BLK);
	assert_int_equal(uv_desc_validate(&d, 0, err, sizeof(err)), 0);
	expect_error(HEAD "\"disks\":[{\"image\":\"a\",\"direct\":\"yes\"}]}",
	             "disks[0].direct: expected true or false");

	assert_non_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/odd.img", dir);
	fd = open(img, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1000), 0);
	parse_ok(HEAD "\"disks\":[{\"image\":\"a\",\"direct\":true}]}", &d);
	snprintf(d.disk[0].image, sizeof(d.disk[0].image), "%s", img);
	snprintf(d.kernel, sizeof(d.kernel), "/dev/null");
	assert_int_not_equal(uv_desc_validate(&d, 1, err, sizeof(err)), 0);
	if (!strstr(err, "disks[0].image: ") || !strstr(err, "512-byte sectors"))
		fail_msg("a torn image: %s", err);
	/* Whole sectors: accepted where the file system takes O_DIRECT (tmpfs does not). */
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	fd = open(img, O_RDONLY | O_DIRECT);
	direct_ok = fd >= 0;
	if (fd >= 0)
		close(fd);
	if (direct_ok)
		assert_int_equal(uv_desc_validate(&d, 1, err, sizeof(err)), 0);
	else if (uv_desc_validate(&d, 1, err, sizeof(err)) == 0 ||
	         !strstr(err, "cannot be opened for direct I/O"))
		fail_msg("no O_DIRECT here, yet: %s", err);
	/* Without "direct" the same torn file is a fine vhost-user disk. */
	assert_int_equal(truncate(img, 1000), 0);
	d.disk[0].flags = 0;
	assert_int_equal(uv_desc_validate(&d, 1, err, sizeof(err)), 0);
	unlink(img);
	rmdir(dir);
}

/* The ultravisor validates descriptors it receives in binary: the same fields are checked. */
static void test_binary_requests_checked(void **state)
{
	struct uv_partition_desc d, bad;
	char err[256];

	(void)state;
	parse_ok(HEAD
	         "\"disks\":[{\"image\":\"a\"}],\"nics\":[{}],\"channels\":[{\"peer\":\"x\"}]}",
	         &d);
	assert_int_equal(uv_desc_validate(&d, 0, err, sizeof(err)), 0);
	bad = d;
	bad.n_disk = UV_DISKS_MAX + 1;
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "disks:"));
	bad = d;
	bad.disk[0].flags = 0x10;
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "disks[0]"));
	bad = d;
	memset(bad.disk[0].image, 'x', sizeof(bad.disk[0].image));
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "disks[0].image: path is not NUL-terminated"));
	bad = d;
	memset(bad.nic[0].sw, 'x', sizeof(bad.nic[0].sw));
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "nics[0].switch"));
	bad = d;
	bad.nic[0].reserved = 1;
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "nics[0]"));
	bad = d;
	bad.chan[0].size = 0;
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "channels[0].size_kib"));
	bad = d;
	bad.chan[0].size = (64 << 10) + 1;
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	bad = d;
	bad.n_chan = UV_CHANNELS_MAX + 1;
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "channels:"));
	bad = d;
	bad.reserved = 1;
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
}

/* "limits": both optional, positive integers, kept with their disk; the record is checked too. */
static void test_disk_limits(void **state)
{
	struct uv_partition_desc d, bad;
	char err[256];

	(void)state;
	parse_ok(HEAD "\"disks\":[{\"image\":\"a\"},"
	              "{\"image\":\"b\",\"limits\":{\"iops\":200,\"bytes_per_sec\":1048576}},"
	              "{\"image\":\"c\",\"direct\":true,\"limits\":{\"bytes_per_sec\":4096}},"
	              "{\"image\":\"d\",\"limits\":{}}]}",
	         &d);
	assert_int_equal(d.disk_limit[0].iops + d.disk_limit[0].bytes_per_sec, 0);
	assert_int_equal(d.disk_limit[1].iops, 200);
	assert_int_equal(d.disk_limit[1].bytes_per_sec, 1048576);
	assert_int_equal(d.disk_limit[2].iops, 0);
	assert_int_equal(d.disk_limit[2].bytes_per_sec, 4096);
	assert_int_equal(d.disk_limit[3].iops + d.disk_limit[3].bytes_per_sec, 0);

	expect_error(HEAD "\"disks\":[{\"image\":\"a\",\"limits\":5}]}",
	             "disks[0].limits: expected an object");
	expect_error(HEAD
	             "\"disks\":[{\"image\":\"a\"},{\"image\":\"b\",\"limits\":{\"iops\":0}}]}",
	             "disks[1].limits.iops: must be positive");
	expect_error(HEAD "\"disks\":[{\"image\":\"a\",\"limits\":{\"iops\":-3}}]}",
	             "disks[0].limits.iops: -3 is out of range");
	expect_error(HEAD "\"disks\":[{\"image\":\"a\",\"limits\":{\"iops\":4294967296}}]}",
	             "disks[0].limits.iops: 4294967296 is out of range");
	expect_error(HEAD "\"disks\":[{\"image\":\"a\",\"limits\":{\"bytes_per_sec\":1.5}}]}",
	             "disks[0].limits.bytes_per_sec: expected an integer");
	expect_error(HEAD "\"disks\":[{\"image\":\"a\",\"limits\":{\"bytes_per_sec\":\"1M\"}}]}",
	             "disks[0].limits.bytes_per_sec: expected an integer");
	expect_error(HEAD "\"disks\":[{\"image\":\"a\",\"limits\":{\"bytes_per_sec\":0}}]}",
	             "disks[0].limits.bytes_per_sec: must be positive");
	expect_error(HEAD "\"disks\":[{\"image\":\"a\",\"limits\":{\"total_iops_sec\":5}}]}",
	             "disks[0].limits.total_iops_sec: unknown key");

	assert_int_equal(uv_desc_validate(&d, 0, err, sizeof(err)), 0);
	bad = d;
	bad.disk_limit[1].reserved = 1;
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "disks[1].limits"));
	bad = d;
	bad.n_disk = 2; /* disk 2's limit is left behind */
	assert_int_not_equal(uv_desc_validate(&bad, 0, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "disks[2].limits: no such disk"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_requests_parsed),
	    cmocka_unit_test(test_disk_errors),
	    cmocka_unit_test(test_nic_errors),
	    cmocka_unit_test(test_channel_errors),
	    cmocka_unit_test(test_device_budget),
	    cmocka_unit_test(test_images_checked_when_files_are),
	    cmocka_unit_test(test_direct_disks),
	    cmocka_unit_test(test_binary_requests_checked),
	    cmocka_unit_test(test_disk_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
