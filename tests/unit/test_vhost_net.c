/* SPDX-License-Identifier: MIT */
/* virtio-net through the switch between two fake clients: frames go from one's TX queue to
 * the other's RX queue with the right header; hostile chains (writable transmit buffers,
 * readable receive buffers, addresses outside, buffers too small or frames too big) are
 * refused or dropped without a single access outside the client's memory (guard pages). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* clang-format off: cmocka needs the four above first */
#include <cmocka.h>
/* clang-format on */
#include <stdlib.h>

#include "../../io/guest_mem.c"
#include "../../io/net_csum.c"
#include "../../io/net_gso.c"
#include "../../io/switch.c"
#include "../../io/vhost_net.c"
#include "../../io/virtqueue.c"
#include "io_testmem.h"
#include "net_testlib.h"

#define V1 (1ull << VIRTIO_F_VERSION_1)
#define HDR 12u

struct fx {
	struct vswitch sw;
	struct vhost_net *n;
	struct nt_guest g[2];
};

static void start(struct fx *f, uint64_t features)
{
	sw_init(&f->sw, "t", 0);
	assert_int_equal(vhost_net_new("net", &f->sw, true, &f->n), 0);
	for (unsigned i = 0; i < 2; i++) {
		f->g[i].mem = tm_add(&f->g[i].m, NT_GPA, NT_UVA, NT_SIZE);
		assert_int_equal(nt_attach(f->n, &f->g[i], features), 0);
	}
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	start(f, V1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < 2; i++) {
		f->n->dev.ops->detach(&f->n->dev, &f->g[i].c);
		tm_free(&f->g[i].m);
	}
	vhost_net_free(f->n);
	free(f);
	return 0;
}

static struct vq *vq(struct fx *f, unsigned g, unsigned qi) { return &f->g[g].c.q[qi].vq; }

static void desc(struct fx *f, unsigned g, unsigned qi, uint16_t i, uint64_t addr, uint32_t len,
                 uint16_t flags, uint16_t next)
{
	vq(f, g, qi)->desc[i] = (struct vring_desc){addr, len, flags, next};
}

static void offer(struct fx *f, unsigned g, unsigned qi, uint16_t head)
{
	struct vring_avail *a = vq(f, g, qi)->avail;

	a->ring[a->idx % NT_NUM] = head;
	a->idx++;
}

static struct vring_used_elem used(struct fx *f, unsigned g, unsigned qi, unsigned k)
{
	return vq(f, g, qi)->used->ring[k];
}

/* Writes a broadcast frame of len bytes (after a header of hlen) at guest 0's buffer off. */
static uint8_t *frame_at(struct fx *f, uint32_t off, uint32_t hlen, uint32_t len)
{
	uint8_t *p = f->g[0].mem + off;

	memset(p, 0x77, hlen); /* header garbage: the device does not trust it */
	memset(p + hlen, 0xff, 6);
	memcpy(p + hlen + 6, (uint8_t[6]){2, 0, 0, 0, 0, 1}, 6);
	for (uint32_t i = 12; i < len; i++)
		p[hlen + i] = (uint8_t)i;
	return p + hlen;
}

static unsigned serve_tx0(struct fx *f)
{
	return f->n->dev.ops->serve(&f->n->dev, &f->g[0].c.q[TXQ]);
}

/* Guest 1 offers one receive buffer of len bytes at off. */
static void rx_buffer(struct fx *f, uint32_t off, uint32_t len)
{
	desc(f, 1, RXQ, 0, NT_GPA + off, len, VRING_DESC_F_WRITE, 0);
	offer(f, 1, RXQ, 0);
}

static void test_frame_crosses_switch(void **state)
{
	struct fx *f = *state;
	struct virtio_net_hdr want = {.num_buffers = 1}, got;
	uint8_t *fr = frame_at(f, NT_BUFS, HDR, 100);

	/* header split over two descriptors, the frame over the second and a third */
	desc(f, 0, TXQ, 0, NT_GPA + NT_BUFS, 5, VRING_DESC_F_NEXT, 1);
	desc(f, 0, TXQ, 1, NT_GPA + NT_BUFS + 5, 50, VRING_DESC_F_NEXT, 2);
	desc(f, 0, TXQ, 2, NT_GPA + NT_BUFS + 55, 100 + HDR - 55, 0, 0);
	offer(f, 0, TXQ, 0);
	rx_buffer(f, NT_BUFS, 1526);
	assert_int_equal(serve_tx0(f), 1);
	assert_int_equal(vq(f, 0, TXQ)->used->idx, 1);
	assert_int_equal(used(f, 0, TXQ, 0).len, 0);
	assert_int_equal(vq(f, 1, RXQ)->used->idx, 1);
	assert_int_equal(used(f, 1, RXQ, 0).len, HDR + 100);
	memcpy(&got, f->g[1].mem + NT_BUFS, sizeof(got));
	assert_memory_equal(&got, &want, sizeof(got));
	assert_memory_equal(f->g[1].mem + NT_BUFS + HDR, fr, 100);
	assert_int_equal(f->n->tx, 1);
	assert_int_equal(f->n->rx, 1);
	assert_int_equal(f->n->refused, 0);
}

static void test_legacy_header_is_ten_bytes(void **state)
{
	struct fx *f = *state;

	teardown(state);
	f = calloc(1, sizeof(*f));
	start(f, 0);
	*state = f;
	uint8_t *fr = frame_at(f, NT_BUFS, 10, 60);
	desc(f, 0, TXQ, 0, NT_GPA + NT_BUFS, 70, 0, 0);
	offer(f, 0, TXQ, 0);
	rx_buffer(f, NT_BUFS, 1526);
	serve_tx0(f);
	assert_int_equal(used(f, 1, RXQ, 0).len, 70);
	assert_memory_equal(f->g[1].mem + NT_BUFS + 10, fr, 60);
}

static void test_hostile_transmit_chains_refused(void **state)
{
	struct fx *f = *state;

	frame_at(f, NT_BUFS, HDR, 60);
	/* a device-writable buffer in a transmit chain */
	desc(f, 0, TXQ, 0, NT_GPA + NT_BUFS, 72, VRING_DESC_F_WRITE, 0);
	/* shorter than the header */
	desc(f, 0, TXQ, 1, NT_GPA + NT_BUFS, HDR - 1, 0, 0);
	/* outside the memory, and wrapping */
	desc(f, 0, TXQ, 2, NT_GPA + NT_SIZE - 8, 72, 0, 0);
	desc(f, 0, TXQ, 3, UINT64_MAX - 8, 72, 0, 0);
	/* a loop */
	desc(f, 0, TXQ, 4, NT_GPA + NT_BUFS, 72, VRING_DESC_F_NEXT, 4);
	for (uint16_t i = 0; i < 5; i++)
		offer(f, 0, TXQ, i);
	rx_buffer(f, NT_BUFS, 1526);
	assert_int_equal(serve_tx0(f), 5);
	assert_int_equal(f->n->refused, 5);
	assert_int_equal(f->n->tx, 0);
	assert_int_equal(vq(f, 0, TXQ)->used->idx, 5); /* each returned, length 0 */
	for (unsigned k = 0; k < 5; k++)
		assert_int_equal(used(f, 0, TXQ, k).len, 0);
	assert_int_equal(vq(f, 1, RXQ)->used->idx, 0); /* nothing reached the other guest */
}

static void test_oversize_frame_dropped(void **state)
{
	struct fx *f = *state;

	frame_at(f, NT_BUFS, HDR, SW_FRAME_MAX + 1);
	desc(f, 0, TXQ, 0, NT_GPA + NT_BUFS, HDR + SW_FRAME_MAX + 1, 0, 0);
	offer(f, 0, TXQ, 0);
	rx_buffer(f, NT_BUFS, 4096);
	serve_tx0(f);
	assert_int_equal(vq(f, 1, RXQ)->used->idx, 0);
	assert_int_equal(f->sw.ports[0].c.drop_size, 1);
	/* exactly the largest frame passes */
	frame_at(f, NT_BUFS, HDR, SW_FRAME_MAX);
	desc(f, 0, TXQ, 0, NT_GPA + NT_BUFS, HDR + SW_FRAME_MAX, 0, 0);
	offer(f, 0, TXQ, 0);
	serve_tx0(f);
	assert_int_equal(used(f, 1, RXQ, 0).len, HDR + SW_FRAME_MAX);
}

static void test_hostile_receive_buffers(void **state)
{
	struct fx *f = *state;

	frame_at(f, NT_BUFS, HDR, 60);
	desc(f, 0, TXQ, 0, NT_GPA + NT_BUFS, HDR + 60, 0, 0);
	/* device-readable receive buffer: refused, the frame dropped */
	desc(f, 1, RXQ, 0, NT_GPA + NT_BUFS, 1526, 0, 0);
	offer(f, 1, RXQ, 0);
	offer(f, 0, TXQ, 0);
	serve_tx0(f);
	assert_int_equal(f->n->refused, 1);
	assert_int_equal(used(f, 1, RXQ, 0).len, 0);
	/* too small, at the very end of the memory: returned empty, nothing written past it */
	desc(f, 1, RXQ, 1, NT_GPA + NT_SIZE - 40, 40, VRING_DESC_F_WRITE, 0);
	offer(f, 1, RXQ, 1);
	offer(f, 0, TXQ, 0);
	serve_tx0(f);
	assert_int_equal(vq(f, 1, RXQ)->used->idx, 2);
	assert_int_equal(used(f, 1, RXQ, 1).len, 0);
	/* no buffer at all: dropped and counted */
	offer(f, 0, TXQ, 0);
	serve_tx0(f);
	assert_int_equal(f->sw.ports[1].c.drop_out, 3);
	assert_int_equal(f->sw.ports[1].c.out, 0);
}

static void test_stopped_receiver_gets_nothing(void **state)
{
	struct fx *f = *state;

	frame_at(f, NT_BUFS, HDR, 60);
	desc(f, 0, TXQ, 0, NT_GPA + NT_BUFS, HDR + 60, 0, 0);
	rx_buffer(f, NT_BUFS, 1526);
	f->g[1].c.q[RXQ].started = false; /* GET_VRING_BASE stopped it */
	offer(f, 0, TXQ, 0);
	serve_tx0(f);
	assert_int_equal(vq(f, 1, RXQ)->used->idx, 0);
	assert_int_equal(f->sw.ports[1].c.drop_out, 1);
	/* a client's kick on its receive queue does nothing by itself */
	assert_int_equal(f->n->dev.ops->serve(&f->n->dev, &f->g[1].c.q[RXQ]), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_frame_crosses_switch),
	    T(test_legacy_header_is_ten_bytes),
	    T(test_hostile_transmit_chains_refused),
	    T(test_oversize_frame_dropped),
	    T(test_hostile_receive_buffers),
	    T(test_stopped_receiver_gets_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
