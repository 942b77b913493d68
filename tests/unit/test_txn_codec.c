/* SPDX-License-Identifier: MIT */
/* Transaction records: every type survives a round trip; every malformed record is refused with
 * the reason a sender will be told. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "txn_codec.h"

#define HDR sizeof(struct uv_txn_hdr)

static const struct uv_txn_extent sample_ext[3] = {
    {0x100000, 0x400000},
    {0x800000, 0x1000},
    {0x40000000, 0x200000},
};

static void sample_desc(struct uv_partition_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->magic = UV_DESC_MAGIC;
	d->version = UV_DESC_VERSION;
	d->size = sizeof(*d);
	d->id = 0x401;
	strcpy(d->name, "guest-1");
	d->vcpus = 2;
	d->cpu_share_milli = 500;
	d->n_mem = 1;
	d->mem_bytes = 64ull << 20;
	d->mem[0].size = 64ull << 20;
	strcpy(d->kernel, "/boot/vmlinux");
	strcpy(d->cmdline, "console=ttyS0");
	d->n_dev = 1;
	d->dev[0].kind = UV_DEV_BLK;
	strcpy(d->dev[0].path, "/img/disk.raw");
}

/* A valid record of each type, with values that differ between fields. */
static void sample(enum uv_txn_type type, struct uv_txn *t)
{
	memset(t, 0, sizeof(*t));
	t->hdr.type = type;
	t->hdr.sender_id = 7;
	t->hdr.sender_role = UV_ROLE_COMMAND;
	t->hdr.request_id = 0x1122334455667788ull;
	switch (type) {
	case UV_TXN_CREATE_PARTITION:
		sample_desc(&t->u.create);
		break;
	case UV_TXN_DESTROY_PARTITION:
		t->u.partition.partition_id = 9;
		break;
	case UV_TXN_GRANT_MEMORY:
	case UV_TXN_REVOKE_MEMORY:
		t->u.memory.partition_id = 9;
		t->u.memory.n_extents = 3;
		t->u.memory.bytes = 0x400000 + 0x1000 + 0x200000;
		t->extents = sample_ext;
		break;
	case UV_TXN_CREATE_CHANNEL:
	case UV_TXN_DESTROY_CHANNEL:
		t->u.channel.channel_id = 3;
		t->u.channel.endpoint[0] = 9;
		t->u.channel.endpoint[1] = 10;
		t->u.channel.size = 0x10000;
		break;
	case UV_TXN_ASSIGN_DEVICE:
	case UV_TXN_RELEASE_DEVICE:
		t->u.device.partition_id = 9;
		t->u.device.device.kind = UV_DEV_VHOST_USER_NET;
		strcpy(t->u.device.device.path, "/run/uv/net0.sock");
		break;
	case UV_TXN_SET_CPU_SHARE:
		t->u.cpu.partition_id = 9;
		t->u.cpu.cpu_share_milli = 1500;
		break;
	case UV_TXN_SET_STATE:
		t->u.state.partition_id = 9;
		t->u.state.state = UV_STATE_RUNNING;
		break;
	case UV_TXN_SET_DISK_LIMITS:
		t->u.disk_limits.partition_id = 9;
		t->u.disk_limits.disk = 2;
		t->u.disk_limits.limit.iops = 250;
		t->u.disk_limits.limit.bytes_per_sec = 3u << 20;
		break;
	case UV_TXN_RESPONSE:
		t->hdr.sender_role = UV_ROLE_ULTRAVISOR;
		t->u.response.reason = UV_TXN_NO_SPACE;
		t->u.response.request_type = UV_TXN_GRANT_MEMORY;
		t->u.response.result[0] = 42;
		t->u.response.log_seq = 77;
		break;
	default:
		fail();
	}
}

static size_t encode(enum uv_txn_type type, unsigned char *buf, size_t cap)
{
	struct uv_txn t;
	ssize_t n;

	sample(type, &t);
	n = uv_txn_encode(&t, buf, cap, NULL);
	assert_true(n > 0);
	return (size_t)n;
}

static void expect(const unsigned char *buf, size_t len, enum uv_txn_reason want)
{
	struct uv_txn out;
	enum uv_txn_reason got;

	memset(&out, 0x5A, sizeof(out));
	got = uv_txn_decode(buf, len, &out);
	if (got != want)
		fail_msg("decoded as %s, expected %s", uv_txn_reason_name(got),
		         uv_txn_reason_name(want));
	if (want != UV_TXN_OK)
		assert_int_equal(((unsigned char *)&out)[0], 0x5A); /* output untouched */
}

static void poke32(unsigned char *buf, size_t off, uint32_t v) { memcpy(buf + off, &v, sizeof(v)); }

static void poke64(unsigned char *buf, size_t off, uint64_t v) { memcpy(buf + off, &v, sizeof(v)); }

static void test_round_trip_every_type(void **state)
{
	static unsigned char buf[8192];
	unsigned type;

	for (type = UV_TXN_CREATE_PARTITION; type < UV_TXN_TYPE_COUNT; type++) {
		struct uv_txn in, out;
		size_t n, i;
		ssize_t r;

		sample(type, &in);
		r = uv_txn_encode(&in, buf, sizeof(buf), NULL);
		assert_int_equal(r, uv_txn_encoded_size(&in));
		n = (size_t)r;
		assert_int_equal(n % 8, 0);
		assert_int_equal(uv_txn_decode(buf, n, &out), UV_TXN_OK);
		assert_int_equal(out.hdr.magic, UV_TXN_MAGIC);
		assert_int_equal(out.hdr.length, n);
		assert_int_equal(out.hdr.type, type);
		assert_int_equal(out.hdr.sender_id, in.hdr.sender_id);
		assert_int_equal(out.hdr.sender_role, in.hdr.sender_role);
		assert_int_equal(out.hdr.request_id, in.hdr.request_id);
		assert_memory_equal(&out.u, &in.u, sizeof(in.u));
		if (type == UV_TXN_GRANT_MEMORY || type == UV_TXN_REVOKE_MEMORY) {
			for (i = 0; i < 3; i++) {
				struct uv_txn_extent e = uv_txn_extent_at(&out, (uint32_t)i);
				assert_memory_equal(&e, &sample_ext[i], sizeof(e));
			}
		} else {
			assert_null(out.extents);
		}
		/* Every byte is covered: no truncation of a valid record still decodes. */
		for (i = 0; i < n; i++)
			assert_int_not_equal(uv_txn_decode(buf, i, &out), UV_TXN_OK);
	}
}

static void test_decoder_is_alignment_safe(void **state)
{
	static unsigned char buf[1024 + 1];
	size_t n = encode(UV_TXN_GRANT_MEMORY, buf + 1, sizeof(buf) - 1);
	struct uv_txn out;
	struct uv_txn_extent e;

	assert_int_equal(uv_txn_decode(buf + 1, n, &out), UV_TXN_OK);
	e = uv_txn_extent_at(&out, 2);
	assert_int_equal(e.pool_offset, 0x40000000);
}

static void test_bad_header(void **state)
{
	unsigned char buf[256], b[256];
	size_t n = encode(UV_TXN_SET_STATE, buf, sizeof(buf));
	struct {
		size_t off, width;
		uint64_t value;
		enum uv_txn_reason want;
	} cases[] = {
	    {offsetof(struct uv_txn_hdr, magic), 4, 0x58585858, UV_TXN_BAD_MAGIC},
	    {offsetof(struct uv_txn_hdr, version), 2, 2, UV_TXN_BAD_VERSION},
	    {offsetof(struct uv_txn_hdr, version), 2, 0, UV_TXN_BAD_VERSION},
	    {offsetof(struct uv_txn_hdr, header_size), 2, 40, UV_TXN_BAD_HEADER_SIZE},
	    {offsetof(struct uv_txn_hdr, type), 2, 0, UV_TXN_UNKNOWN_TYPE},
	    {offsetof(struct uv_txn_hdr, type), 2, UV_TXN_TYPE_COUNT, UV_TXN_UNKNOWN_TYPE},
	    {offsetof(struct uv_txn_hdr, type), 2, 0xffff, UV_TXN_UNKNOWN_TYPE},
	    {offsetof(struct uv_txn_hdr, flags), 2, 0x8000, UV_TXN_BAD_FLAGS},
	    {offsetof(struct uv_txn_hdr, sender_role), 1, UV_ROLE_COUNT, UV_TXN_BAD_ROLE},
	    {offsetof(struct uv_txn_hdr, pad) + 2, 1, 1, UV_TXN_BAD_RESERVED},
	    {offsetof(struct uv_txn_hdr, length), 4, 0xffffffff, UV_TXN_BAD_SIZE},
	    {offsetof(struct uv_txn_hdr, length), 4, 8, UV_TXN_BAD_SIZE},
	};
	size_t i;

	expect(buf, n, UV_TXN_OK);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(b, buf, n);
		memcpy(b + cases[i].off, &cases[i].value, cases[i].width);
		expect(b, n, cases[i].want);
	}
	expect(buf, 0, UV_TXN_BAD_SIZE);
	expect(buf, HDR - 1, UV_TXN_BAD_SIZE);
	/* The record fits in the buffer, but the buffer says there are more bytes than it holds. */
	memcpy(b, buf, n);
	memset(b + n, 0, 8);
	expect(b, n + 8, UV_TXN_BAD_SIZE);
	/* A record of a type whose body is longer than the length claims. */
	poke32(b, offsetof(struct uv_txn_hdr, length), (uint32_t)(HDR + 8));
	b[offsetof(struct uv_txn_hdr, type)] = UV_TXN_ASSIGN_DEVICE;
	expect(b, HDR + 8, UV_TXN_BAD_SIZE);
}

static void test_bad_extent_counts(void **state)
{
	static unsigned char buf[256], b[256];
	size_t n = encode(UV_TXN_GRANT_MEMORY, buf, sizeof(buf));
	size_t count = HDR + offsetof(struct uv_txn_memory, n_extents);

	memcpy(b, buf, n);
	poke32(b, count, UV_TXN_EXTENTS_MAX + 1);
	expect(b, n, UV_TXN_BAD_COUNT);
	poke32(b, count, 0xffffffffu); /* would wrap a 32-bit size computation */
	expect(b, n, UV_TXN_BAD_COUNT);
	poke32(b, count, 4); /* count and length disagree */
	expect(b, n, UV_TXN_BAD_SIZE);
	poke32(b, count, 2);
	expect(b, n, UV_TXN_BAD_SIZE);
	/* No extents: an allocation request for `bytes`, valid for a grant only. */
	poke32(b, count, 0);
	poke32(b, offsetof(struct uv_txn_hdr, length), (uint32_t)(HDR + 16));
	expect(b, HDR + 16, UV_TXN_OK);
	poke32(b, HDR + offsetof(struct uv_txn_memory, bytes), 4095);
	poke32(b, HDR + offsetof(struct uv_txn_memory, bytes) + 4, 0);
	expect(b, HDR + 16, UV_TXN_BAD_VALUE);
	memcpy(b, buf, n);
	poke32(b, offsetof(struct uv_txn_hdr, type), UV_TXN_REVOKE_MEMORY);
	poke32(b, count, 0);
	poke32(b, offsetof(struct uv_txn_hdr, length), (uint32_t)(HDR + 16));
	expect(b, HDR + 16, UV_TXN_BAD_COUNT);
}

static void test_bad_extents(void **state)
{
	static unsigned char buf[256], b[256];
	size_t n = encode(UV_TXN_REVOKE_MEMORY, buf, sizeof(buf));
	size_t e0 = HDR + sizeof(struct uv_txn_memory), e1 = e0 + sizeof(struct uv_txn_extent);
	size_t bytes = HDR + offsetof(struct uv_txn_memory, bytes);
	struct {
		size_t off;
		uint64_t value;
	} cases[] = {
	    {e0 + 8, 0},                 /* empty */
	    {e0 + 8, 0x400800},          /* size not a page multiple */
	    {e0, 0x100800},              /* offset not page aligned */
	    {e1, 0x200000},              /* overlaps the first */
	    {e1, 0},                     /* out of order */
	    {e1, 0xfffffffffffff000ull}, /* offset + size wraps */
	    {bytes, 0x601000 - 0x1000},  /* total disagrees with the extents */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(b, buf, n);
		poke64(b, cases[i].off, cases[i].value);
		expect(b, n, UV_TXN_BAD_EXTENT);
	}
}

static void test_bad_strings_and_values(void **state)
{
	static unsigned char buf[8192], b[8192];
	size_t n,
	    path = HDR + offsetof(struct uv_txn_device, device) + offsetof(struct uv_device, path);
	size_t kind = HDR + offsetof(struct uv_txn_device, device);

	n = encode(UV_TXN_ASSIGN_DEVICE, buf, sizeof(buf));
	memcpy(b, buf, n);
	memset(b + path, 'a', UV_PATH_MAX);
	expect(b, n, UV_TXN_BAD_STRING);
	memset(b + path, 0, UV_PATH_MAX);
	expect(b, n, UV_TXN_BAD_STRING); /* a vhost-user device needs its socket */
	memcpy(b, buf, n);
	poke32(b, kind, 99);
	expect(b, n, UV_TXN_BAD_VALUE);
	poke32(b, kind, UV_DEV_BLK);
	poke32(b, kind + 4, 0x10);
	expect(b, n, UV_TXN_BAD_FLAGS);
	memcpy(b, buf, n);
	poke32(b, HDR + offsetof(struct uv_txn_device, reserved), 1);
	expect(b, n, UV_TXN_BAD_RESERVED);

	n = encode(UV_TXN_CREATE_PARTITION, buf, sizeof(buf));
	memcpy(b, buf, n);
	memset(b + HDR + offsetof(struct uv_partition_desc, name), 'x', UV_NAME_MAX);
	expect(b, n, UV_TXN_BAD_STRING);
	memcpy(b, buf, n);
	memset(b + HDR + offsetof(struct uv_partition_desc, cmdline), 'x', UV_CMDLINE_MAX);
	expect(b, n, UV_TXN_BAD_STRING);
	memcpy(b, buf, n);
	poke32(b, HDR + offsetof(struct uv_partition_desc, n_dev), UV_DEVICES_MAX + 1);
	expect(b, n, UV_TXN_BAD_COUNT);
	memcpy(b, buf, n);
	poke32(b, HDR + offsetof(struct uv_partition_desc, vcpus), 0);
	expect(b, n, UV_TXN_BAD_DESC);

	n = encode(UV_TXN_CREATE_CHANNEL, buf, sizeof(buf));
	memcpy(b, buf, n);
	poke32(b, HDR + offsetof(struct uv_txn_channel, endpoint) + 4, 9);
	expect(b, n, UV_TXN_BAD_VALUE);
	memcpy(b, buf, n);
	poke64(b, HDR + offsetof(struct uv_txn_channel, size), 4095);
	expect(b, n, UV_TXN_BAD_VALUE);

	n = encode(UV_TXN_SET_STATE, buf, sizeof(buf));
	memcpy(b, buf, n);
	poke32(b, HDR + offsetof(struct uv_txn_state, state), UV_STATE_MAX + 1);
	expect(b, n, UV_TXN_BAD_VALUE);

	n = encode(UV_TXN_SET_CPU_SHARE, buf, sizeof(buf));
	memcpy(b, buf, n);
	poke32(b, HDR + offsetof(struct uv_txn_cpu_share, cpu_share_milli),
	       UV_TXN_CPU_SHARE_MAX + 1);
	expect(b, n, UV_TXN_BAD_VALUE);

	n = encode(UV_TXN_RESPONSE, buf, sizeof(buf));
	memcpy(b, buf, n);
	b[offsetof(struct uv_txn_hdr, sender_role)] = UV_ROLE_COMMAND;
	expect(b, n, UV_TXN_BAD_ROLE);
	memcpy(b, buf, n);
	poke32(b, HDR + offsetof(struct uv_txn_response, reason), 999);
	expect(b, n, UV_TXN_BAD_VALUE);
}

static void test_encoder_refuses(void **state)
{
	unsigned char buf[256];
	enum uv_txn_reason why = UV_TXN_OK;
	struct uv_txn t;

	sample(UV_TXN_SET_STATE, &t);
	assert_int_equal(uv_txn_encode(&t, buf, HDR + 7, &why), -ENOSPC);
	t.u.state.state = 1000;
	assert_int_equal(uv_txn_encode(&t, buf, sizeof(buf), &why), -EINVAL);
	assert_int_equal(why, UV_TXN_BAD_VALUE);
	sample(UV_TXN_GRANT_MEMORY, &t);
	t.u.memory.n_extents = UV_TXN_EXTENTS_MAX + 1;
	assert_int_equal(uv_txn_encode(&t, buf, sizeof(buf), &why), -EINVAL);
	assert_int_equal(why, UV_TXN_BAD_COUNT);
	t.hdr.type = 200;
	assert_int_equal(uv_txn_encode(&t, buf, sizeof(buf), &why), -EINVAL);
	assert_int_equal(why, UV_TXN_UNKNOWN_TYPE);
}

static void test_reason_texts(void **state)
{
	const char *seen[64] = {0};
	unsigned r, n = 0, i;

	for (r = 0; r < 64; r++) {
		const char *name = uv_txn_reason_name(r);
		if (!name) {
			assert_string_equal(uv_txn_reason_str(r), "unknown reason");
			continue;
		}
		assert_true(strlen(uv_txn_reason_str(r)) > 5);
		for (i = 0; i < n; i++)
			assert_string_not_equal(seen[i], uv_txn_reason_str(r));
		seen[n++] = uv_txn_reason_str(r);
	}
	assert_string_equal(uv_txn_reason_name(UV_TXN_DOUBLE_ALLOC), "DOUBLE_ALLOC");
	assert_null(uv_txn_reason_name(1000));
	assert_true(n >= 23);
}

static void test_response_init(void **state)
{
	unsigned char buf[256];
	struct uv_txn req, resp, out;
	ssize_t n;

	sample(UV_TXN_CREATE_CHANNEL, &req);
	uv_txn_response_init(&resp, &req.hdr, UV_TXN_NO_SUCH_PARTITION, 0);
	n = uv_txn_encode(&resp, buf, sizeof(buf), NULL);
	assert_true(n > 0);
	assert_int_equal(uv_txn_decode(buf, (size_t)n, &out), UV_TXN_OK);
	assert_int_equal(out.hdr.request_id, req.hdr.request_id);
	assert_int_equal(out.u.response.request_type, UV_TXN_CREATE_CHANNEL);
	assert_int_equal(out.u.response.reason, UV_TXN_NO_SUCH_PARTITION);
}

static void test_role_table(void **state)
{
	unsigned type;

	for (type = UV_TXN_CREATE_PARTITION; type < UV_TXN_RESPONSE; type++) {
		assert_int_equal(uv_txn_scope(UV_ROLE_COMMAND, type, 1), UV_SCOPE_ANY);
		assert_int_equal(uv_txn_scope(UV_ROLE_BOOT, type, 0), UV_SCOPE_SYSTEM);
		assert_int_equal(uv_txn_scope(UV_ROLE_GUEST, type, 1), UV_SCOPE_NONE);
		assert_int_equal(uv_txn_scope(UV_ROLE_IO, type, 0), UV_SCOPE_NONE);
		assert_int_equal(uv_txn_scope(UV_ROLE_OPERATIONS, type, 1), UV_SCOPE_NONE);
		assert_int_equal(uv_txn_scope(UV_ROLE_COMMAND, UV_TXN_RESPONSE, 1), UV_SCOPE_NONE);
	}
	/* Once the command partition is up it alone allocates (claims 6, 8). */
	assert_int_equal(uv_txn_scope(UV_ROLE_BOOT, UV_TXN_GRANT_MEMORY, 1), UV_SCOPE_NONE);
	assert_int_equal(uv_txn_scope(UV_ROLE_BOOT, UV_TXN_SET_STATE, 1), UV_SCOPE_SYSTEM);
	assert_int_equal(uv_txn_scope(UV_ROLE_MONITOR, UV_TXN_SET_STATE, 1), UV_SCOPE_SELF);
	assert_int_equal(uv_txn_scope(UV_ROLE_MONITOR, UV_TXN_GRANT_MEMORY, 1), UV_SCOPE_NONE);
	assert_int_equal(uv_txn_scope(UV_ROLE_ULTRAVISOR, UV_TXN_RESPONSE, 1), UV_SCOPE_ANY);
	assert_int_equal(uv_txn_scope(UV_ROLE_COMMAND, UV_TXN_NONE, 1), UV_SCOPE_NONE);
	assert_int_equal(uv_txn_scope(UV_ROLE_COUNT, UV_TXN_SET_STATE, 1), UV_SCOPE_NONE);
}

static void test_summary(void **state)
{
	char line[128], tiny[8];
	struct uv_txn t;
	int n;

	sample(UV_TXN_GRANT_MEMORY, &t);
	n = uv_txn_summary(&t, line, sizeof(line));
	assert_string_equal(line, "grant-memory partition=9 bytes=6295552 extents=3");
	assert_int_equal(n, strlen(line));
	assert_int_equal(uv_txn_summary(&t, tiny, sizeof(tiny)), n);
	assert_string_equal(tiny, "grant-m");
	sample(UV_TXN_SET_STATE, &t);
	uv_txn_summary(&t, line, sizeof(line));
	assert_string_equal(line, "set-state partition=9 state=running");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_every_type),
	    cmocka_unit_test(test_decoder_is_alignment_safe),
	    cmocka_unit_test(test_bad_header),
	    cmocka_unit_test(test_bad_extent_counts),
	    cmocka_unit_test(test_bad_extents),
	    cmocka_unit_test(test_bad_strings_and_values),
	    cmocka_unit_test(test_encoder_refuses),
	    cmocka_unit_test(test_reason_texts),
	    cmocka_unit_test(test_response_init),
	    cmocka_unit_test(test_role_table),
	    cmocka_unit_test(test_summary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
