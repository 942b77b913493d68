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
#include "net_frames.h"
#include "net_testlib.h"

#define V1 (1ull << VIRTIO_F_VERSION_1)
#define HDR 12u

struct fx {
	struct vswitch sw;
	struct vhost_net *n;
	struct nt_guest g[2];
};

static void start2(struct fx *f, uint64_t features0, uint64_t features1)
{
	sw_init(&f->sw, "t", 0);
	assert_int_equal(vhost_net_new("net", &f->sw, true, &f->n), 0);
	for (unsigned i = 0; i < 2; i++) {
		f->g[i].mem = tm_add(&f->g[i].m, NT_GPA, NT_UVA, NT_SIZE);
		assert_int_equal(nt_attach(f->n, &f->g[i], i ? features1 : features0), 0);
	}
}

static void start(struct fx *f, uint64_t features) { start2(f, features, features); }

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

/* Restarts the fixture with these features for guest 0 (sender) and guest 1. */
static struct fx *restart(void **state, uint64_t features0, uint64_t features1)
{
	struct fx *f;

	teardown(state);
	f = calloc(1, sizeof(*f));
	start2(f, features0, features1);
	*state = f;
	return f;
}

/* Guest 0 sends one TSO packet (4000 bytes of TCP payload at an MSS of 1448, to guest 1's
 * MAC 02::02) with its header; returns the frame's layout. */
static struct nf_layout send_tso(struct fx *f, struct nf_spec *s)
{
	struct nf_layout l;
	uint8_t *p = f->g[0].mem + NT_BUFS;

	*s = (struct nf_spec){.payload = 4000, .flags = 0x19, .seq = 77, .src = 1, .dst = 2};
	nf_build(p + HDR, s, &l);
	memset(p + HDR, 0xff, 6); /* broadcast: guest 1's MAC is not learnt yet */
	struct virtio_net_hdr vh = nf_tso_hdr(s, &l, 1448);
	memcpy(p, &vh, HDR);
	desc(f, 0, TXQ, 0, NT_GPA + NT_BUFS, HDR + (uint32_t)l.len, 0, 0);
	offer(f, 0, TXQ, 0);
	serve_tx0(f);
	return l;
}

/* Guest 1 offers n receive buffers of len bytes each from NT_BUFS. */
static void rx_buffers(struct fx *f, uint16_t first, unsigned n, uint32_t len)
{
	for (uint16_t i = first; i < first + n; i++) {
		desc(f, 1, RXQ, i, NT_GPA + NT_BUFS + i * 0x1000u, len, VRING_DESC_F_WRITE, 0);
		offer(f, 1, RXQ, i);
	}
}

static void test_tso_into_mergeable_buffers(void **state)
{
	struct fx *f = restart(state, V1 | VHOST_NET_OFFLOADS, V1 | VHOST_NET_OFFLOADS);
	struct nf_spec s;
	struct virtio_net_hdr got;
	uint8_t joined[8192];

	rx_buffers(f, 0, 2, 1600); /* two buffers: not enough, nothing taken */
	struct nf_layout l = send_tso(f, &s);
	assert_int_equal(vq(f, 1, RXQ)->used->idx, 0);
	assert_int_equal(f->sw.ports[1].c.drop_out, 1);
	rx_buffers(f, 2, 1, 1600); /* a third: the same two are used again, then it */
	send_tso(f, &s);
	assert_int_equal(vq(f, 1, RXQ)->used->idx, 3);
	size_t at = 0;
	for (unsigned k = 0; k < 3; k++) {
		struct vring_used_elem e = used(f, 1, RXQ, k);
		assert_int_equal(e.id, k);
		assert_int_equal(e.len, k < 2 ? 1600 : HDR + l.len - 3200);
		memcpy(joined + at, f->g[1].mem + NT_BUFS + k * 0x1000u, e.len);
		at += e.len;
	}
	memcpy(&got, joined, HDR);
	assert_int_equal(got.num_buffers, 3);
	assert_int_equal(got.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(got.gso_size, 1448);
	assert_int_equal(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_memory_equal(joined + HDR, f->g[0].mem + NT_BUFS + HDR, l.len);
	assert_int_equal(f->sw.ports[1].c.gso_out, 1);
}

static void test_tso_segmented_for_guest_without_offloads(void **state)
{
	struct fx *f = restart(state, V1 | VHOST_NET_OFFLOADS, V1);
	struct nf_spec s;
	struct virtio_net_hdr got;

	rx_buffers(f, 0, 4, 1526);
	struct nf_layout l = send_tso(f, &s);
	assert_int_equal(vq(f, 1, RXQ)->used->idx, 3);
	for (unsigned k = 0; k < 3; k++) {
		const uint8_t *fr = f->g[1].mem + NT_BUFS + k * 0x1000u + HDR;
		size_t plen = k < 2 ? 1448 : 4000 - 2896;
		assert_int_equal(used(f, 1, RXQ, k).len, HDR + l.hdr + plen);
		memcpy(&got, fr - HDR, HDR);
		assert_int_equal(got.flags | got.gso_type, 0);
		assert_int_equal(got.num_buffers, 1);
		assert_int_equal(nf_get32(fr + l.l4 + 4), 77 + k * 1448);
		assert_int_equal(fr[l.l4 + 13], k < 2 ? 0x10 : 0x19);
		assert_int_equal(nf_get16(fr + l.l4 + 16),
		                 nf_ref_l4(fr, l.l3, l.l4, l.hdr - l.l4 + plen, false, 6, 16));
	}
	assert_int_equal(f->sw.ports[1].c.segmented, 1);
}

static void test_offload_header_not_negotiated_dropped(void **state)
{
	/* guest 0 took only the checksum offload: its TSO packet is dropped and counted */
	struct fx *f = restart(state, V1 | (1ull << VIRTIO_NET_F_CSUM), V1);
	struct nf_spec s;

	rx_buffers(f, 0, 4, 1526);
	send_tso(f, &s);
	assert_int_equal(vq(f, 1, RXQ)->used->idx, 0);
	assert_int_equal(f->sw.ports[0].c.drop_hdr, 1);
	assert_int_equal(vq(f, 0, TXQ)->used->idx, 1); /* its buffer still goes back */
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
	    T(test_tso_into_mergeable_buffers),
	    T(test_tso_segmented_for_guest_without_offloads),
	    T(test_offload_header_not_negotiated_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
