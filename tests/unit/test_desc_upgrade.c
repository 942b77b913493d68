/* SPDX-License-Identifier: MIT */
/* Descriptors written by earlier builds (versions 1 to 3) read as the current version: every old
 * field kept byte for byte, every new one zero, a version 3 disk limit the total (claims 19, 22,
 * 31, 32); anything else refused with both versions named.
 * The same through the transaction decoder, which is how the audit log is replayed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "desc.h"
#include "desc_upgrade.h"
#include "txn_codec.h"

#define V1_SIZE 5520u
#define V2_SIZE 7072u
#define V3_SIZE 7136u
#define HDR sizeof(struct uv_txn_hdr)

/* A valid current descriptor with every field set, including the ones versions 1 and 2 lacked. */
static void sample(struct uv_partition_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->magic = UV_DESC_MAGIC;
	d->version = UV_DESC_VERSION;
	d->size = sizeof(*d);
	d->id = 0x40c;
	strcpy(d->name, "old-guest");
	d->vcpus = 3;
	d->cpu_share_milli = 1500;
	d->accel = UV_ACCEL_TCG;
	d->state = UV_STATE_PAUSED;
	d->n_mem = 1;
	d->mem_bytes = 96ull << 20;
	d->mem[0].pool_offset = 1ull << 30;
	d->mem[0].size = 96ull << 20;
	strcpy(d->kernel, "/boot/vmlinux");
	strcpy(d->initrd, "/boot/initrd");
	strcpy(d->cmdline, "console=ttyS0 quiet");
	d->n_dev = 2;
	d->dev[0].kind = UV_DEV_RNG;
	d->dev[1].kind = UV_DEV_BLK;
	d->dev[1].flags = UV_DEV_F_READONLY;
	strcpy(d->dev[1].path, "/img/root.raw");
	d->n_disk = 1;
	strcpy(d->disk[0].image, "/img/data.raw");
	d->n_nic = 1;
	strcpy(d->nic[0].sw, "lan");
	d->disk_limit[0].iops = 100;
}

/* The bytes an old build wrote for d: its prefix, stamped with the old version and size. */
static void old_bytes(const struct uv_partition_desc *d, uint32_t version, uint32_t size,
                      unsigned char *out)
{
	memcpy(out, d, size);
	memcpy(out + offsetof(struct uv_partition_desc, version), &version, 4);
	memcpy(out + offsetof(struct uv_partition_desc, size), &size, 4);
}

static int all_zero(const unsigned char *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

static void check_upgrade(uint32_t version, uint32_t size)
{
	unsigned char buf[sizeof(struct uv_partition_desc)];
	struct uv_partition_desc d, up;
	char err[160] = "";

	sample(&d);
	old_bytes(&d, version, size, buf);
	assert_int_equal(uv_desc_version_size(version), size);
	assert_int_equal(uv_desc_stored_size(buf, sizeof(buf)), size);
	memset(&up, 0x5A, sizeof(up));
	assert_int_equal(uv_desc_upgrade(buf, size, &up, err, sizeof(err)), 0);
	assert_int_equal(up.magic, UV_DESC_MAGIC);
	assert_int_equal(up.version, UV_DESC_VERSION);
	assert_int_equal(up.size, sizeof(up));
	/* Every field after the header is the old one byte for byte, and nothing else is set. */
	assert_memory_equal((unsigned char *)&up + 12, (unsigned char *)&d + 12, size - 12);
	assert_true(all_zero((unsigned char *)&up + size, sizeof(up) - size));
	assert_int_equal(uv_desc_validate(&up, 0, err, sizeof(err)), 0);
}

static void test_v1_upgrades(void **state)
{
	(void)state;
	check_upgrade(1, V1_SIZE);
}

static void test_v2_upgrades(void **state)
{
	(void)state;
	check_upgrade(2, V2_SIZE);
	/* v2 kept the requests; only the limits are new. */
	{
		unsigned char buf[V2_SIZE];
		struct uv_partition_desc d, up;

		sample(&d);
		old_bytes(&d, 2, V2_SIZE, buf);
		assert_int_equal(uv_desc_upgrade(buf, V2_SIZE, &up, NULL, 0), 0);
		assert_string_equal(up.disk[0].image, "/img/data.raw");
		assert_string_equal(up.nic[0].sw, "lan");
		assert_int_equal(up.disk_limit[0].iops, 0);
	}
}

/* Version 3's bytes for d: the v2 prefix, then four 16-byte limits (bytes_per_sec, iops, 0). */
static void v3_bytes(const struct uv_partition_desc *d, unsigned char *out)
{
	old_bytes(d, 3, V2_SIZE, out);
	memcpy(out + offsetof(struct uv_partition_desc, size), &(uint32_t){V3_SIZE}, 4);
	for (unsigned i = 0; i < UV_DISKS_MAX; i++) {
		uint32_t iops_and_reserved[2] = {d->disk_limit[i].iops, 0};

		memcpy(out + V2_SIZE + 16 * i, &d->disk_limit[i].bytes_per_sec, 8);
		memcpy(out + V2_SIZE + 16 * i + 8, iops_and_reserved, 8);
	}
}

static void test_v3_limit_becomes_the_total(void **state)
{
	unsigned char buf[V3_SIZE];
	struct uv_partition_desc d, up;
	char err[160] = "";

	(void)state;
	sample(&d);
	d.disk_limit[0] = (struct uv_disk_limit){.bytes_per_sec = 3 << 20, .iops = 250};
	v3_bytes(&d, buf);
	assert_int_equal(uv_desc_version_size(3), V3_SIZE);
	assert_int_equal(uv_desc_stored_size(buf, sizeof(buf)), V3_SIZE);
	memset(&up, 0x5A, sizeof(up));
	assert_int_equal(uv_desc_upgrade(buf, V3_SIZE, &up, err, sizeof(err)), 0);
	assert_int_equal(up.version, UV_DESC_VERSION);
	assert_memory_equal((unsigned char *)&up + 12, (unsigned char *)&d + 12, V2_SIZE - 12);
	assert_int_equal(up.disk_limit[0].bytes_per_sec, 3 << 20);
	assert_int_equal(up.disk_limit[0].iops, 250);
	assert_int_equal(up.disk_limit[0].read_bytes_per_sec, 0);
	assert_int_equal(up.disk_limit[0].write_bytes_per_sec, 0);
	assert_int_equal(up.disk_limit[0].read_iops, 0);
	assert_int_equal(up.disk_limit[0].write_iops, 0);
	for (unsigned i = 1; i < UV_DISKS_MAX; i++)
		assert_true(all_zero((unsigned char *)&up.disk_limit[i], sizeof(up.disk_limit[i])));
	assert_int_equal(uv_desc_validate(&up, 0, err, sizeof(err)), 0);
	/* A torn v3 limit (reserved bits) is still caught by validation after the upgrade. */
	buf[V2_SIZE + 12] = 1;
	assert_int_equal(uv_desc_upgrade(buf, V3_SIZE, &up, NULL, 0), 0);
	assert_int_equal(uv_desc_validate(&up, 0, err, sizeof(err)), -EINVAL);
	/* A v3 header on a record of another length is refused. */
	assert_int_equal(uv_desc_upgrade(buf, V3_SIZE - 8, &up, err, sizeof(err)), -EINVAL);
}

/* SET_DISK_LIMITS as a version 3 build logged it: 24 bytes of body, totals only. */
static size_t old_limits_record(uint32_t disk, uint64_t bps, uint32_t iops, uint32_t reserved,
                                unsigned char *buf)
{
	struct uv_txn_hdr h = {.magic = UV_TXN_MAGIC,
	                       .version = UV_TXN_VERSION,
	                       .header_size = HDR,
	                       .type = UV_TXN_SET_DISK_LIMITS,
	                       .length = HDR + 24,
	                       .sender_id = 2,
	                       .sender_role = UV_ROLE_COMMAND,
	                       .request_id = 9};
	uint32_t head[2] = {13, disk}, tail[2] = {iops, reserved};

	memcpy(buf, &h, HDR);
	memcpy(buf + HDR, head, 8);
	memcpy(buf + HDR + 8, &bps, 8);
	memcpy(buf + HDR + 16, tail, 8);
	return HDR + 24;
}

static void test_old_limits_record_replays(void **state)
{
	unsigned char buf[HDR + 64];
	struct uv_txn t;

	(void)state;
	assert_int_equal(uv_txn_decode(buf, old_limits_record(1, 4 << 20, 500, 0, buf), &t),
	                 UV_TXN_OK);
	assert_int_equal(t.u.disk_limits.partition_id, 13);
	assert_int_equal(t.u.disk_limits.disk, 1);
	assert_int_equal(t.u.disk_limits.limit.bytes_per_sec, 4 << 20);
	assert_int_equal(t.u.disk_limits.limit.iops, 500);
	assert_int_equal(t.u.disk_limits.limit.read_bytes_per_sec, 0);
	assert_int_equal(t.u.disk_limits.limit.write_iops, 0);
	assert_int_equal(uv_txn_decode(buf, old_limits_record(1, 1, 1, 7, buf), &t),
	                 UV_TXN_BAD_RESERVED);
	assert_int_equal(uv_txn_decode(buf, old_limits_record(UV_DISKS_MAX, 1, 1, 0, buf), &t),
	                 UV_TXN_BAD_VALUE);
	/* Neither the old length nor the new: refused. */
	old_limits_record(1, 1, 1, 0, buf);
	memcpy(buf + 12, &(uint32_t){HDR + 32}, 4);
	assert_int_equal(uv_txn_decode(buf, HDR + 32, &t), UV_TXN_BAD_SIZE);
}

/* The current record carries all six; a total beside a direction of its kind is refused. */
static void test_limits_record_carries_all_six(void **state)
{
	unsigned char buf[HDR + 64];
	enum uv_txn_reason why = UV_TXN_OK;
	struct uv_txn t = {0}, back;

	(void)state;
	t.hdr.type = UV_TXN_SET_DISK_LIMITS;
	t.hdr.sender_role = UV_ROLE_COMMAND;
	t.u.disk_limits.disk = 2;
	t.u.disk_limits.limit =
	    (struct uv_disk_limit){.read_bytes_per_sec = 1, .write_bytes_per_sec = 2, .iops = 3};
	assert_int_equal(uv_txn_encode(&t, buf, sizeof(buf), &why), HDR + 48);
	assert_int_equal(uv_txn_decode(buf, HDR + 48, &back), UV_TXN_OK);
	assert_memory_equal(&back.u.disk_limits, &t.u.disk_limits, 48);
	t.u.disk_limits.limit.bytes_per_sec = 5;
	assert_int_equal(uv_txn_encode(&t, buf, sizeof(buf), &why), -EINVAL);
	assert_int_equal(why, UV_TXN_BAD_VALUE);
	t.u.disk_limits.limit = (struct uv_disk_limit){.iops = 1, .write_iops = 1};
	assert_int_equal(uv_txn_encode(&t, buf, sizeof(buf), &why), -EINVAL);
	assert_int_equal(why, UV_TXN_BAD_VALUE);
}

static void test_current_is_identity(void **state)
{
	struct uv_partition_desc d, up;

	(void)state;
	sample(&d);
	assert_int_equal(uv_desc_upgrade(&d, sizeof(d), &up, NULL, 0), 0);
	assert_memory_equal(&up, &d, sizeof(d));
}

static void refuse(uint32_t version, uint32_t size, size_t len, const char *says)
{
	unsigned char buf[sizeof(struct uv_partition_desc) + 8] = {0};
	struct uv_partition_desc d, out;
	char err[160] = "";

	sample(&d);
	old_bytes(&d, version, size < sizeof(d) ? size : sizeof(d), buf);
	memcpy(buf + 8, &size, 4);
	memset(&out, 0x5A, sizeof(out));
	assert_int_equal(uv_desc_upgrade(buf, len, &out, err, sizeof(err)), -EINVAL);
	if (!strstr(err, says))
		fail_msg("error '%s' does not say '%s'", err, says);
	assert_int_equal(((unsigned char *)&out)[0], 0x5A); /* untouched */
}

static void test_refusals(void **state)
{
	(void)state;
	refuse(5, sizeof(struct uv_partition_desc), sizeof(struct uv_partition_desc),
	       "version 5 is newer than this build's version 4");
	refuse(0, V1_SIZE, V1_SIZE, "unknown version 0 (this build reads 1 to 4)");
	refuse(3, sizeof(struct uv_partition_desc), sizeof(struct uv_partition_desc),
	       "version 3 says size 7232, version 3 is 7136 bytes");
	refuse(1, V2_SIZE, V2_SIZE, "version 1 says size 7072, version 1 is 5520 bytes");
	refuse(2, V1_SIZE, V1_SIZE, "version 2 says size 5520, version 2 is 7072 bytes");
	refuse(1, V1_SIZE, V1_SIZE + 8, "version 1 is 5520 bytes, record holds 5528");
	refuse(2, V2_SIZE, V1_SIZE, "version 2 is 7072 bytes, record holds 5520");
	refuse(1, V1_SIZE, 8, "too short");
	assert_int_equal(uv_desc_version_size(0), 0);
	assert_int_equal(uv_desc_version_size(UV_DESC_VERSION + 1), 0);
	{
		struct uv_partition_desc d, out;
		char err[160] = "";

		sample(&d);
		d.magic ^= 1;
		assert_int_equal(uv_desc_upgrade(&d, sizeof(d), &out, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "bad magic"));
		assert_int_equal(uv_desc_stored_size(&d, sizeof(d)), 0);
	}
}

/* A create-partition record as an old build logged it: header then the old descriptor. */
static size_t old_record(uint32_t version, uint32_t dsize, size_t body, unsigned char *buf)
{
	struct uv_txn t;
	struct uv_txn_hdr h;
	uint32_t len = (uint32_t)(HDR + body);

	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_CREATE_PARTITION;
	t.hdr.sender_id = 2;
	t.hdr.sender_role = UV_ROLE_COMMAND;
	t.hdr.request_id = 77;
	sample(&t.u.create);
	assert_int_equal(uv_txn_encode(&t, buf, HDR + sizeof(t.u.create), NULL),
	                 HDR + sizeof(t.u.create));
	memcpy(&h, buf, HDR);
	h.length = len;
	memcpy(buf, &h, HDR);
	memset(buf + HDR, 0, sizeof(t.u.create));
	old_bytes(&t.u.create, version, dsize < body ? dsize : (uint32_t)body, buf + HDR);
	memcpy(buf + HDR + 8, &dsize, 4);
	return len;
}

static void test_log_record_decodes(void **state)
{
	unsigned char buf[HDR + sizeof(struct uv_partition_desc)];
	struct uv_partition_desc want;
	struct uv_txn t;
	size_t n;

	(void)state;
	sample(&want);
	n = old_record(1, V1_SIZE, V1_SIZE, buf);
	assert_int_equal(uv_txn_decode(buf, n, &t), UV_TXN_OK);
	assert_int_equal(t.hdr.request_id, 77);
	assert_int_equal(t.u.create.version, UV_DESC_VERSION);
	assert_memory_equal((unsigned char *)&t.u.create + 12, (unsigned char *)&want + 12,
	                    V1_SIZE - 12);
	n = old_record(2, V2_SIZE, V2_SIZE, buf);
	assert_int_equal(uv_txn_decode(buf, n, &t), UV_TXN_OK);
	assert_string_equal(t.u.create.nic[0].sw, "lan");
	assert_int_equal(t.u.create.disk_limit[0].iops, 0);
}

static void test_log_record_refusals(void **state)
{
	unsigned char buf[HDR + sizeof(struct uv_partition_desc)];
	struct uv_txn t;

	(void)state;
	/* The short body is only for the version whose size it is. */
	assert_int_equal(uv_txn_decode(buf, old_record(2, V2_SIZE, V1_SIZE, buf), &t),
	                 UV_TXN_BAD_SIZE);
	assert_int_equal(uv_txn_decode(buf, old_record(1, V1_SIZE, V2_SIZE, buf), &t),
	                 UV_TXN_BAD_SIZE);
	assert_int_equal(
	    uv_txn_decode(buf, old_record(3, sizeof(struct uv_partition_desc), V2_SIZE, buf), &t),
	    UV_TXN_BAD_SIZE);
	assert_int_equal(uv_txn_decode(buf, old_record(4, V1_SIZE, V1_SIZE, buf), &t),
	                 UV_TXN_BAD_SIZE);
	/* An old descriptor in a current-size body is not guessed at. */
	assert_int_equal(
	    uv_txn_decode(buf, old_record(2, V2_SIZE, sizeof(struct uv_partition_desc), buf), &t),
	    UV_TXN_BAD_DESC);
	/* An upgraded descriptor is still validated. */
	{
		size_t n = old_record(1, V1_SIZE, V1_SIZE, buf);
		uint32_t vcpus = 0;

		memcpy(buf + HDR + offsetof(struct uv_partition_desc, vcpus), &vcpus, 4);
		assert_int_equal(uv_txn_decode(buf, n, &t), UV_TXN_BAD_DESC);
	}
}

/* What the daemon and --dump-log say about a record this build cannot read. */
static void test_explain_names_versions(void **state)
{
	unsigned char buf[HDR + sizeof(struct uv_partition_desc)];
	char why[256];
	size_t n;

	(void)state;
	n = old_record(5, V1_SIZE, V1_SIZE, buf);
	uv_txn_explain(buf, n, uv_txn_decode(buf, n, &(struct uv_txn){0}), why, sizeof(why));
	if (!strstr(why, "version 5 is newer than this build's version 4"))
		fail_msg("explained as '%s'", why);
	n = old_record(1, V2_SIZE, V2_SIZE, buf);
	uv_txn_explain(buf, n, uv_txn_decode(buf, n, &(struct uv_txn){0}), why, sizeof(why));
	if (!strstr(why, "version 1 says size 7072, version 1 is 5520 bytes"))
		fail_msg("explained as '%s'", why);
	n = old_record(1, V1_SIZE, V1_SIZE, buf);
	memset(buf + HDR + offsetof(struct uv_partition_desc, vcpus), 0, 4);
	uv_txn_explain(buf, n, uv_txn_decode(buf, n, &(struct uv_txn){0}), why, sizeof(why));
	if (!strstr(why, "vcpus"))
		fail_msg("explained as '%s'", why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v1_upgrades),
	    cmocka_unit_test(test_v2_upgrades),
	    cmocka_unit_test(test_v3_limit_becomes_the_total),
	    cmocka_unit_test(test_old_limits_record_replays),
	    cmocka_unit_test(test_limits_record_carries_all_six),
	    cmocka_unit_test(test_current_is_identity),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_log_record_decodes),
	    cmocka_unit_test(test_log_record_refusals),
	    cmocka_unit_test(test_explain_names_versions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
