/* SPDX-License-Identifier: MIT */
/* The vhost-user message parser: what a front end sends is accepted only when every size,
 * flag and fd count agrees with the request; a refusal leaves the output untouched. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* clang-format off: cmocka needs the four above first */
#include <cmocka.h>
/* clang-format on */
#include <string.h>

#include "../../io/vhost_msg.c"

static uint8_t buf[512];
static const int fds[VHU_MAX_FDS + 1] = {3, 4, 5, 6, 7, 8, 9, 10, 11};

/* Builds header + payload in buf; returns the total length. */
static size_t build(uint32_t req, uint32_t flags, const void *payload, uint32_t size)
{
	struct vhu_hdr h = {req, flags, size};

	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + sizeof(h), payload, size);
	return sizeof(h) + size;
}

static int parse(size_t len, size_t nfds)
{
	struct vhu_msg m;
	int r;

	memset(&m, 0xAB, sizeof(m));
	r = vhu_msg_parse(buf, len, fds, nfds, &m);
	if (r < 0)
		assert_int_equal(((uint8_t *)&m)[0], 0xAB);
	return r;
}

static void test_header(void **state)
{
	uint64_t v = 1;

	assert_int_equal(parse(build(VHU_GET_FEATURES, 1, NULL, 0), 0), 0);
	assert_int_equal(parse(build(VHU_GET_FEATURES, 1 | VHU_FLAG_NEED_REPLY, NULL, 0), 0), 0);
	assert_int_equal(parse(build(VHU_GET_FEATURES, 2, NULL, 0), 0), -EPROTO); /* version */
	assert_int_equal(parse(build(VHU_GET_FEATURES, 1 | VHU_FLAG_REPLY, NULL, 0), 0), -EPROTO);
	assert_int_equal(parse(build(VHU_GET_FEATURES, 1 | 0x100, NULL, 0), 0), -EPROTO);
	assert_int_equal(parse(build(VHU_GET_FEATURES, 1, &v, 8), 0), -EPROTO); /* stray payload */
	assert_int_equal(parse(build(VHU_GET_FEATURES, 1, NULL, 0), 1), -EPROTO); /* stray fd */
	assert_int_equal(parse(build(99, 1, NULL, 0), 0), -EOPNOTSUPP);
	assert_int_equal(parse(build(VHU_SET_LOG_FD, 1, &v, 8), 0), -EOPNOTSUPP);
	/* SET_LOG_BASE is 16 bytes (struct vhu_log) and the log's fd, nothing else. */
	assert_int_equal(parse(build(VHU_SET_LOG_BASE, 1, &v, 8), 1), -EPROTO);
	{
		struct vhu_log lg = {.mmap_size = 8192, .mmap_offset = 0};

		assert_int_equal(parse(build(VHU_SET_LOG_BASE, 1, &lg, sizeof(lg)), 1), 0);
		assert_int_equal(parse(build(VHU_SET_LOG_BASE, 1, &lg, sizeof(lg)), 0), -EPROTO);
		assert_int_equal(parse(build(VHU_SET_LOG_BASE, 1, &lg, sizeof(lg)), 2), -EPROTO);
	}
	assert_int_equal(parse(5, 0), -EPROTO); /* shorter than a header */
	/* the header's size must be the payload actually there */
	size_t len = build(VHU_SET_FEATURES, 1, &v, 8);
	assert_int_equal(parse(len - 1, 0), -EPROTO);
	((struct vhu_hdr *)buf)->size = 1000;
	assert_int_equal(parse(len, 0), -EMSGSIZE);
	assert_int_equal(parse(build(VHU_SET_FEATURES, 1, &v, 8), VHU_MAX_FDS + 1), -EPROTO);
}

static void test_mem_table(void **state)
{
	struct vhu_mem_table t = {.nregions = 2};
	uint32_t two = 8 + 2 * sizeof(struct vhu_region);
	struct vhu_msg m;

	assert_int_equal(parse(build(VHU_SET_MEM_TABLE, 1, &t, two), 2), 0);
	assert_int_equal(vhu_msg_parse(buf, 12 + two, fds, 2, &m), 0);
	assert_int_equal(m.nfds, 2);
	assert_int_equal(m.fds[1], 4);
	assert_int_equal(m.fds[2], -1);
	assert_int_equal(parse(build(VHU_SET_MEM_TABLE, 1, &t, two), 1), -EPROTO); /* fds */
	assert_int_equal(parse(build(VHU_SET_MEM_TABLE, 1, &t, two - 1), 2), -EPROTO);
	assert_int_equal(parse(build(VHU_SET_MEM_TABLE, 1, &t, two + 32), 2), -EPROTO);
	t.nregions = 0;
	assert_int_equal(parse(build(VHU_SET_MEM_TABLE, 1, &t, 8), 0), -EPROTO);
	t.nregions = VHU_MAX_REGIONS + 1;
	assert_int_equal(parse(build(VHU_SET_MEM_TABLE, 1, &t, 8), 0), -EPROTO);
	assert_int_equal(parse(build(VHU_SET_MEM_TABLE, 1, &t, 4), 0), -EPROTO);
}

static void test_vring_fd_and_state(void **state)
{
	uint64_t v = 1;
	struct vhu_vring_state s = {0, 128};
	struct vhu_vring_addr a = {0};

	assert_int_equal(parse(build(VHU_SET_VRING_KICK, 1, &v, 8), 1), 0);
	assert_int_equal(parse(build(VHU_SET_VRING_KICK, 1, &v, 8), 0), -EPROTO);
	v = 1 | VHU_VRING_NOFD;
	assert_int_equal(parse(build(VHU_SET_VRING_CALL, 1, &v, 8), 0), 0);
	assert_int_equal(parse(build(VHU_SET_VRING_CALL, 1, &v, 8), 1), -EPROTO);
	v = 0x200; /* unknown bits */
	assert_int_equal(parse(build(VHU_SET_VRING_ERR, 1, &v, 8), 1), -EPROTO);
	assert_int_equal(parse(build(VHU_SET_VRING_NUM, 1, &s, sizeof(s)), 0), 0);
	assert_int_equal(parse(build(VHU_SET_VRING_NUM, 1, &s, 4), 0), -EPROTO);
	assert_int_equal(parse(build(VHU_SET_VRING_ADDR, 1, &a, sizeof(a)), 0), 0);
	assert_int_equal(parse(build(VHU_SET_VRING_ADDR, 1, &a, sizeof(a) - 8), 0), -EPROTO);
}

/* GET_INFLIGHT_FD carries 24 bytes and no fd, SET_INFLIGHT_FD 24 bytes and exactly one. */
static void test_inflight(void **state)
{
	struct vhu_inflight p = {.num_queues = 1, .queue_size = 128};
	uint8_t longer[sizeof(p) + 8] = {0};

	assert_int_equal(parse(build(VHU_GET_INFLIGHT_FD, 1, &p, sizeof(p)), 0), 0);
	assert_int_equal(parse(build(VHU_GET_INFLIGHT_FD, 1, &p, sizeof(p)), 1), -EPROTO);
	assert_int_equal(parse(build(VHU_GET_INFLIGHT_FD, 1, &p, 20), 0), -EPROTO);
	assert_int_equal(parse(build(VHU_SET_INFLIGHT_FD, 1, &p, sizeof(p)), 1), 0);
	assert_int_equal(parse(build(VHU_SET_INFLIGHT_FD, 1, &p, sizeof(p)), 0), -EPROTO);
	assert_int_equal(parse(build(VHU_SET_INFLIGHT_FD, 1, &p, sizeof(p)), 2), -EPROTO);
	assert_int_equal(parse(build(VHU_SET_INFLIGHT_FD, 1, longer, sizeof(longer)), 1), -EPROTO);
	assert_string_equal(vhu_request_name(VHU_SET_INFLIGHT_FD), "SET_INFLIGHT_FD");
}

static void test_config_window(void **state)
{
	struct vhu_config c = {.offset = 0, .size = 60};

	assert_int_equal(parse(build(VHU_GET_CONFIG, 1, &c, 12 + 60), 0), 0);
	assert_int_equal(parse(build(VHU_GET_CONFIG, 1, &c, 12 + 59), 0), -EPROTO);
	c.offset = 200;
	assert_int_equal(parse(build(VHU_GET_CONFIG, 1, &c, 12 + 60), 0), -EPROTO);
	c.offset = UINT32_MAX - 10; /* offset + size wraps 32 bits */
	assert_int_equal(parse(build(VHU_GET_CONFIG, 1, &c, 12 + 60), 0), -EPROTO);
	c.offset = 0;
	c.size = VHU_CONFIG_MAX + 1;
	assert_int_equal(parse(build(VHU_GET_CONFIG, 1, &c, 12), 0), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header),
	    cmocka_unit_test(test_mem_table),
	    cmocka_unit_test(test_vring_fd_and_state),
	    cmocka_unit_test(test_config_window),
	    cmocka_unit_test(test_inflight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
