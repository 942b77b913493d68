/* SPDX-License-Identifier: MIT */
/* The switch between ports that negotiated different offloads: a TSO frame or a partial
 * checksum reaches a port that takes it whole with its header, and a port that does not as
 * plain segments or with its checksum filled in; a hostile header is dropped and counted. */
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
#include "net_frames.h"

#define SEC 1000000000ull

/* A port's owner: keeps everything it was handed. */
struct sink {
	uint32_t takes;
	unsigned got;
	struct virtio_net_hdr vh[16];
	size_t len[16];
	uint8_t *f[16];
};

struct fx {
	struct vswitch sw;
	struct sink sink[3]; /* 0 sends; 1 takes everything; 2 takes nothing */
	int port[3];
	uint8_t frame[SW_GSO_MAX + 1];
};

static int deliver(void *owner, const struct virtio_net_hdr *vh, const uint8_t *frame, size_t len)
{
	struct sink *s = owner;

	assert_true(s->got < 16);
	s->vh[s->got] = *vh;
	s->len[s->got] = len;
	s->f[s->got] = malloc(len);
	memcpy(s->f[s->got++], frame, len);
	return 0;
}

static uint32_t takes(void *owner) { return ((struct sink *)owner)->takes; }

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	sw_init(&f->sw, "t", 0);
	f->sink[1].takes = NET_OFF_ALL;
	for (int i = 0; i < 3; i++) {
		f->port[i] = sw_port_add(&f->sw, &f->sink[i], deliver);
		sw_port_takes(&f->sw, f->port[i], takes);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 3; i++)
		for (unsigned k = 0; k < f->sink[i].got; k++)
			free(f->sink[i].f[k]);
	free(f);
	return 0;
}

static void test_tso_whole_or_segmented(void **state)
{
	struct fx *f = *state;
	struct nf_spec s = {.payload = 4000, .flags = 0x19, .seq = 1000, .src = 1, .dst = 0xff};
	struct nf_layout l;

	nf_build(f->frame, &s, &l);
	memset(f->frame, 0xff, 6);
	struct virtio_net_hdr vh = nf_tso_hdr(&s, &l, 1448);
	vh.hdr_len = 200; /* a hint only: what the receiver is told is the real length */
	sw_input_vh(&f->sw, f->port[0], &vh, NET_OFF_ALL, f->frame, l.len, SEC);
	struct sink *all = &f->sink[1], *none = &f->sink[2];
	assert_int_equal(all->got, 1);
	assert_int_equal(all->len[0], l.len);
	assert_memory_equal(all->f[0], f->frame, l.len);
	assert_int_equal(all->vh[0].gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(all->vh[0].gso_size, 1448);
	assert_int_equal(all->vh[0].hdr_len, l.hdr);
	assert_int_equal(all->vh[0].csum_start, l.l4);
	assert_int_equal(all->vh[0].csum_offset, 16);
	assert_int_equal(none->got, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(none->vh[i].flags | none->vh[i].gso_type, 0);
		size_t plen = i < 2 ? 1448 : 4000 - 2 * 1448;
		assert_int_equal(none->len[i], l.hdr + plen);
		assert_int_equal(nf_get32(none->f[i] + l.l4 + 4), 1000 + i * 1448);
		assert_int_equal(
		    nf_get16(none->f[i] + l.l4 + 16),
		    nf_ref_l4(none->f[i], l.l3, l.l4, l.hdr - l.l4 + plen, false, 6, 16));
	}
	assert_int_equal(f->sw.ports[0].c.gso_in, 1);
	assert_int_equal(f->sw.ports[1].c.gso_out, 1);
	assert_int_equal(f->sw.ports[2].c.segmented, 1);
	assert_int_equal(f->sw.ports[2].c.out, 3);
	/* the sender's copy is untouched by the segmentation for port 2 */
	assert_memory_equal(all->f[0], f->frame, l.len);
}

static void test_partial_checksum_filled_for_plain_port(void **state)
{
	struct fx *f = *state;
	struct nf_spec s = {.v6 = true, .payload = 500, .flags = 0x18, .src = 1};
	struct nf_layout l;

	nf_build(f->frame, &s, &l);
	memset(f->frame, 0xff, 6);
	/* Linux's partial checksum: the pseudo-header sum in the field */
	nf_put16(f->frame + l.l4 + 16,
	         net_csum_fold(net_pseudo6(f->frame + l.l3 + 8, f->frame + l.l3 + 24, 6,
	                                   (uint32_t)(l.len - l.l4))));
	struct virtio_net_hdr vh = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = (uint16_t)l.l4, .csum_offset = 16};
	sw_input_vh(&f->sw, f->port[0], &vh, NET_OFF_CSUM, f->frame, l.len, SEC);
	assert_int_equal(f->sink[1].got, 1);
	assert_int_equal(f->sink[1].vh[0].flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_memory_equal(f->sink[1].f[0], f->frame, l.len);
	assert_int_equal(f->sink[2].got, 1);
	assert_int_equal(f->sink[2].vh[0].flags, 0);
	const uint8_t *g = f->sink[2].f[0];
	assert_int_equal(nf_get16(g + l.l4 + 16),
	                 nf_ref_l4(g, l.l3, l.l4, l.len - l.l4, true, 6, 16));
	assert_memory_equal(g, f->frame, l.l4 + 16); /* nothing else changed */
	assert_memory_equal(g + l.l4 + 18, f->frame + l.l4 + 18, l.len - l.l4 - 18);
	assert_int_equal(f->sw.ports[2].c.csummed, 1);
}

/* An ECN flow's TSO packet: whole only to a port that also takes ECN (GUEST_ECN); a port
 * with TSO4 alone gets segments, CWR on the first only. */
static void test_ecn_needs_ecn(void **state)
{
	struct fx *f = *state;
	struct nf_spec s = {.payload = 3000, .flags = 0x80 | 0x10, .seq = 5, .src = 1};
	struct nf_layout l;

	f->sink[2].takes = NET_OFF_CSUM | NET_OFF_TSO4;
	nf_build(f->frame, &s, &l);
	memset(f->frame, 0xff, 6);
	struct virtio_net_hdr vh = nf_tso_hdr(&s, &l, 1448);
	vh.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	sw_input_vh(&f->sw, f->port[0], &vh, NET_OFF_ALL, f->frame, l.len, SEC);
	assert_int_equal(f->sink[1].got, 1);
	assert_int_equal(f->sink[1].vh[0].gso_type,
	                 VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN);
	assert_int_equal(f->sink[2].got, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(f->sink[2].f[i][l.l4 + 13], i ? 0x10 : 0x90);
	assert_int_equal(f->sw.ports[2].c.segmented, 1);
}

static void test_hostile_headers_dropped(void **state)
{
	struct fx *f = *state;
	struct nf_spec s = {.payload = 4000, .flags = 0x10, .src = 1};
	struct nf_layout l;

	nf_build(f->frame, &s, &l);
	memset(f->frame, 0xff, 6);
	struct virtio_net_hdr vh = nf_tso_hdr(&s, &l, 1448);
	/* not negotiated by the sender */
	sw_input_vh(&f->sw, f->port[0], &vh, NET_OFF_CSUM, f->frame, l.len, SEC);
	vh.csum_offset = 60000;
	sw_input_vh(&f->sw, f->port[0], &vh, NET_OFF_ALL, f->frame, l.len, SEC);
	/* a plain frame longer than the MTU */
	vh = (struct virtio_net_hdr){0};
	sw_input_vh(&f->sw, f->port[0], &vh, NET_OFF_ALL, f->frame, l.len, SEC);
	/* a TSO frame longer than any IP packet */
	vh = nf_tso_hdr(&s, &l, 1448);
	sw_input_vh(&f->sw, f->port[0], &vh, NET_OFF_ALL, f->frame, SW_GSO_MAX + 1, SEC);
	assert_int_equal(f->sw.ports[0].c.drop_hdr, 2);
	assert_int_equal(f->sw.ports[0].c.drop_size, 2);
	assert_int_equal(f->sw.ports[0].c.in, 0);
	assert_int_equal(f->sink[1].got + f->sink[2].got, 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_tso_whole_or_segmented),
	    T(test_partial_checksum_filled_for_plain_port),
	    T(test_ecn_needs_ecn),
	    T(test_hostile_headers_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
