/* SPDX-License-Identifier: MIT */
/* The I/O partition's learning switch: learning, flooding, ageing, no hairpin, size and source
 * checks, ports that leave, a full address table, receivers without buffers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* clang-format off: cmocka needs the four above first */
#include <cmocka.h>
/* clang-format on */
#include <stdlib.h>
#include <string.h>

#include "../../io/net_csum.c"
#include "../../io/net_gso.c"
#include "../../io/switch.c"

#define NPORTS 4
#define SEC 1000000000ull

/* A port's owner: records what it was handed. */
struct sink {
	unsigned got;
	size_t last_len;
	uint8_t last[SW_FRAME_MAX];
	bool full; /* no receive buffer: refuse */
};

struct fx {
	struct vswitch sw;
	struct sink sink[NPORTS];
	int port[NPORTS];
	uint8_t frame[SW_FRAME_MAX + 64];
};

static int deliver(void *owner, const struct virtio_net_hdr *vh, const uint8_t *frame, size_t len)
{
	struct sink *s = owner;

	(void)vh;

	if (s->full)
		return -ENOBUFS;
	s->got++;
	s->last_len = len;
	memcpy(s->last, frame, len);
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	sw_init(&f->sw, "t", 10 * SEC);
	for (int i = 0; i < NPORTS; i++) {
		f->port[i] = sw_port_add(&f->sw, &f->sink[i], deliver);
		assert_true(f->port[i] >= 0);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Host n's address: locally administered unicast 02:00:00:00:00:n. */
static void mac(uint8_t *out, unsigned n)
{
	const uint8_t a[6] = {2, 0, 0, 0, 0, (uint8_t)n};
	memcpy(out, a, 6);
}

/* Sends a frame from host src (on port in) to host dst (0xff: broadcast) at time t. */
static void send(struct fx *f, int in, unsigned src, unsigned dst, size_t len, uint64_t t)
{
	memset(f->frame, 0xab, sizeof(f->frame));
	if (dst == 0xff)
		memset(f->frame, 0xff, 6);
	else
		mac(f->frame, dst);
	mac(f->frame + 6, src);
	f->frame[12] = 0x08;
	f->frame[13] = 0x00;
	sw_input(&f->sw, f->port[in], f->frame, len, t);
}

static void counts(const struct fx *f, unsigned a, unsigned b, unsigned c, unsigned d)
{
	assert_int_equal(f->sink[0].got, a);
	assert_int_equal(f->sink[1].got, b);
	assert_int_equal(f->sink[2].got, c);
	assert_int_equal(f->sink[3].got, d);
}

static void test_unknown_floods_then_learns(void **state)
{
	struct fx *f = *state;
	uint8_t a[6];

	send(f, 0, 1, 2, 60, SEC); /* host 2 unknown: everyone but port 0 */
	counts(f, 0, 1, 1, 1);
	assert_int_equal(f->sink[1].last_len, 60);
	assert_memory_equal(f->sink[1].last, f->frame, 60);
	mac(a, 1);
	assert_int_equal(sw_lookup(&f->sw, a, SEC), f->port[0]);
	send(f, 2, 2, 1, 60, SEC); /* host 1 learnt on port 0: only there */
	counts(f, 1, 1, 1, 1);
	send(f, 0, 1, 2, 60, SEC); /* and host 2 now on port 2 */
	counts(f, 1, 1, 2, 1);
	assert_int_equal(f->sw.flooded, 1);
	assert_int_equal(f->sw.ports[0].c.in, 2);
	assert_int_equal(f->sw.ports[2].c.out, 2);
}

static void test_broadcast_and_multicast_flood(void **state)
{
	struct fx *f = *state;

	send(f, 1, 5, 0xff, 42, SEC);
	counts(f, 1, 0, 1, 1);
	send(f, 0, 1, 5, 60, SEC); /* learnt: unicast to port 1 */
	counts(f, 1, 1, 1, 1);
	memset(f->frame, 0, 6);
	f->frame[0] = 0x01; /* a multicast group is never learnt, always flooded */
	f->frame[1] = 0x00;
	f->frame[2] = 0x5e;
	mac(f->frame + 6, 1);
	sw_input(&f->sw, f->port[0], f->frame, 60, SEC);
	counts(f, 1, 2, 2, 2);
}

static void test_no_hairpin(void **state)
{
	struct fx *f = *state;

	send(f, 0, 1, 0xff, 60, SEC);
	send(f, 0, 2, 0xff, 60, SEC); /* hosts 1 and 2 both behind port 0 */
	counts(f, 0, 2, 2, 2);
	send(f, 0, 1, 2, 60, SEC); /* never sent back out of port 0, nor flooded */
	counts(f, 0, 2, 2, 2);
	assert_int_equal(f->sw.ports[0].c.filtered, 1);
}

static void test_ageing(void **state)
{
	struct fx *f = *state;
	uint8_t a[6];

	send(f, 3, 7, 0xff, 60, SEC);
	mac(a, 7);
	assert_int_equal(sw_lookup(&f->sw, a, SEC + 9 * SEC), f->port[3]);
	assert_int_equal(sw_lookup(&f->sw, a, SEC + 10 * SEC), -1);
	counts(f, 1, 1, 1, 0);
	send(f, 0, 1, 7, 60, SEC + 11 * SEC); /* aged out: flooded again */
	counts(f, 1, 2, 2, 1);
	send(f, 3, 7, 1, 60, SEC + 12 * SEC); /* relearnt, and 1 is known: unicast */
	counts(f, 2, 2, 2, 1);
	send(f, 0, 1, 7, 60, SEC + 13 * SEC);
	counts(f, 2, 2, 2, 2);
}

static void test_sizes_and_sources(void **state)
{
	struct fx *f = *state;

	send(f, 0, 1, 0xff, SW_FRAME_MIN - 1, SEC);
	send(f, 0, 1, 0xff, SW_FRAME_MAX + 1, SEC);
	counts(f, 0, 0, 0, 0);
	assert_int_equal(f->sw.ports[0].c.drop_size, 2);
	send(f, 0, 1, 0xff, SW_FRAME_MIN, SEC); /* both limits themselves pass */
	send(f, 0, 1, 0xff, SW_FRAME_MAX, SEC);
	counts(f, 0, 2, 2, 2);
	assert_int_equal(f->sink[1].last_len, SW_FRAME_MAX);
	/* A group or all-zero source is dropped and never learnt. */
	memset(f->frame, 0xff, 12);
	sw_input(&f->sw, f->port[1], f->frame, 60, SEC);
	memset(f->frame + 6, 0, 6);
	sw_input(&f->sw, f->port[1], f->frame, 60, SEC);
	counts(f, 0, 2, 2, 2);
	assert_int_equal(f->sw.ports[1].c.drop_src, 2);
	assert_int_equal(sw_lookup(&f->sw, f->frame + 6, SEC), -1);
}

static void test_port_leaves_and_slot_reused(void **state)
{
	struct fx *f = *state;
	struct sink other = {0};
	uint8_t a[6];

	send(f, 2, 9, 0xff, 60, SEC);
	mac(a, 9);
	assert_int_equal(sw_lookup(&f->sw, a, SEC), f->port[2]);
	sw_port_del(&f->sw, f->port[2]);
	assert_int_equal(sw_lookup(&f->sw, a, SEC), -1); /* forgotten with its port */
	send(f, 0, 1, 9, 60, SEC);
	counts(f, 1, 2, 0, 2); /* flooded, but not to the port that left */
	sw_input(&f->sw, f->port[2], f->frame, 60, SEC); /* from a port that left: ignored */
	counts(f, 1, 2, 0, 2);
	assert_int_equal(sw_port_add(&f->sw, &other, deliver), f->port[2]);
	for (int i = NPORTS; i < SW_PORTS_MAX; i++)
		assert_true(sw_port_add(&f->sw, &other, deliver) >= 0);
	assert_int_equal(sw_port_add(&f->sw, &other, deliver), -ENOSPC);
}

static void test_full_table_evicts_oldest(void **state)
{
	struct fx *f = *state;
	uint8_t a[6];

	/* More source addresses than the table holds: it never grows, the oldest go first. */
	for (unsigned i = 0; i < SW_MACS_MAX + 8; i++) {
		memset(f->frame, 0xff, 6);
		memcpy(f->frame + 6, (uint8_t[6]){2, 1, 0, 0, (uint8_t)(i >> 8), (uint8_t)i}, 6);
		sw_input(&f->sw, f->port[1], f->frame, 60, SEC + i);
	}
	memcpy(a, (uint8_t[6]){2, 1, 0, 0, 0, 0}, 6);
	assert_int_equal(sw_lookup(&f->sw, a, 2 * SEC), -1);
	a[4] = (SW_MACS_MAX + 7) >> 8;
	a[5] = (uint8_t)(SW_MACS_MAX + 7);
	assert_int_equal(sw_lookup(&f->sw, a, 2 * SEC), f->port[1]);
}

static void test_receiver_without_buffers_counts_drop(void **state)
{
	struct fx *f = *state;

	f->sink[2].full = true;
	send(f, 0, 1, 0xff, 60, SEC);
	counts(f, 0, 1, 0, 1);
	assert_int_equal(f->sw.ports[2].c.drop_out, 1);
	assert_int_equal(f->sw.ports[1].c.out, 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_unknown_floods_then_learns),
	    T(test_broadcast_and_multicast_flood),
	    T(test_no_hairpin),
	    T(test_ageing),
	    T(test_sizes_and_sources),
	    T(test_port_leaves_and_slot_reused),
	    T(test_full_table_evicts_oldest),
	    T(test_receiver_without_buffers_counts_drop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
