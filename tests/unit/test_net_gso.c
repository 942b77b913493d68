/* SPDX-License-Identifier: MIT */
/* Software offloads (io/net_gso.c, io/net_csum.c): checksums against a plain byte-by-byte
 * reference; TCP segmentation over IPv4 and IPv6 (segment boundaries, sequence numbers, FIN/PSH
 * on the last segment only, CWR on the first only, IPv4 id, lengths and checksums); hostile
 * headers refused, with the frame copied to exactly its size so ASan sees any stray access. */
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
#include "net_frames.h"

#define MAXF 70000

static uint8_t frame[MAXF];

/* What net_gso_segment handed out. */
struct segs {
	unsigned n;
	size_t len[64];
	uint8_t *f[64];
	int refuse_from; /* emit fails from this segment on (-1: never) */
};

static int collect(void *ctx, const uint8_t *f, size_t len)
{
	struct segs *s = ctx;

	assert_true(s->n < 64);
	s->f[s->n] = malloc(len);
	memcpy(s->f[s->n], f, len);
	s->len[s->n++] = len;
	return s->refuse_from >= 0 && (int)s->n > s->refuse_from ? -ENOBUFS : 0;
}

static void free_segs(struct segs *s)
{
	for (unsigned i = 0; i < s->n; i++)
		free(s->f[i]);
}

static void test_csum_matches_reference(void **state)
{
	uint8_t b[1501];

	(void)state;
	srand(7);
	for (int round = 0; round < 200; round++) {
		size_t n = (size_t)rand() % sizeof(b);
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)rand();
		uint16_t mine = (uint16_t)~net_csum_fold(net_csum_add(0, b, n));
		assert_int_equal(mine, nf_ref_csum(b, n));
		/* in two pieces, the first of even length */
		size_t cut = n / 2 & ~(size_t)1;
		uint32_t s = net_csum_add(net_csum_add(0, b, cut), b + cut, n - cut);
		assert_int_equal((uint16_t)~net_csum_fold(s), nf_ref_csum(b, n));
	}
	memset(b, 0xff, 64); /* all ones: the sum is 0xffff, its complement 0 */
	assert_int_equal((uint16_t)~net_csum_fold(net_csum_add(0, b, 64)), 0);
}

/* A UDP datagram with a partial checksum (pseudo-header sum in the field), as Linux sends
 * it: filled, it must equal the reference. */
static void test_csum_fill_udp(void **state)
{
	struct nf_spec s = {.payload = 300, .src = 1, .dst = 2};
	struct nf_layout l;
	size_t udp, n;

	(void)state;
	for (int v6 = 0; v6 < 2; v6++) {
		s.v6 = v6;
		nf_build(frame, &s, &l);
		udp = l.l4;
		n = l.len - udp;
		frame[l.l3 + (v6 ? 6 : 9)] = 17;
		nf_put16(frame + udp + 4, (uint32_t)n);
		uint32_t ph =
		    v6 ? net_pseudo6(frame + l.l3 + 8, frame + l.l3 + 24, 17, (uint32_t)n)
		       : net_pseudo4(frame + l.l3 + 12, frame + l.l3 + 16, 17, (uint32_t)n);
		nf_put16(frame + udp + 6, net_csum_fold(ph));
		assert_int_equal(net_csum_fill(frame, l.len, udp, 6), 0);
		uint16_t want = nf_ref_l4(frame, l.l3, udp, n, v6, 17, 6);
		assert_int_equal(nf_get16(frame + udp + 6), want ? want : 0xffff);
	}
	/* the field must lie inside the frame */
	assert_int_equal(net_csum_fill(frame, 100, 98, 0), 0);
	assert_int_equal(net_csum_fill(frame, 100, 99, 0), -EINVAL);
	assert_int_equal(net_csum_fill(frame, 100, 50, 49), -EINVAL);
	assert_int_equal(net_csum_fill(frame, 100, 101, 0), -EINVAL);
	assert_int_equal(net_csum_fill(frame, 100, 2, SIZE_MAX - 1), -EINVAL);
}

/* Segments s's frame at mss and checks every segment against the original. */
static void check_segments(const struct nf_spec *s, uint16_t mss)
{
	struct nf_layout l;
	struct net_offload o;
	struct segs got = {.refuse_from = -1};
	uint8_t buf[1518];

	nf_build(frame, s, &l);
	struct virtio_net_hdr vh = nf_tso_hdr(s, &l, mss);
	assert_int_equal(net_offload_check(&vh, NET_OFF_ALL, frame, l.len, &o), 0);
	assert_int_equal(o.hdr, l.hdr);
	assert_int_equal(o.vh.hdr_len, l.hdr);
	size_t nseg = (s->payload + mss - 1) / mss;
	assert_int_equal(net_gso_segment(&o, frame, l.len, buf, sizeof(buf), collect, &got), nseg);
	assert_int_equal(got.n, nseg);
	size_t at = 0;
	for (unsigned i = 0; i < got.n; i++) {
		const uint8_t *f = got.f[i], *ip = f + l.l3, *tcp = f + l.l4;
		size_t plen = i + 1 < nseg ? mss : s->payload - at;
		bool last = i + 1 == nseg;
		assert_int_equal(got.len[i], l.hdr + plen);
		assert_memory_equal(f, frame, l.l3); /* Ethernet and tag untouched */
		for (size_t k = 0; k < plen; k++)
			if (f[l.hdr + k] != nf_byte(at + k))
				fail_msg("segment %u byte %zu", i, k);
		if (s->v6) {
			assert_int_equal(nf_get16(ip + 4), l.hdr - l.l4 + plen);
		} else {
			assert_int_equal(nf_get16(ip + 2), l.hdr - l.l3 + plen);
			assert_int_equal(nf_get16(ip + 4), (uint16_t)(s->id + i));
			assert_int_equal(nf_ref_csum(ip, l.l4 - l.l3),
			                 0); /* header checksum holds */
		}
		assert_int_equal(nf_get32(tcp + 4), s->seq + (uint32_t)at);
		uint8_t want = s->flags;
		if (!last)
			want &= (uint8_t)~0x09; /* FIN, PSH */
		if (i > 0)
			want &= (uint8_t)~0x80; /* CWR */
		assert_int_equal(tcp[13], want);
		assert_memory_equal(tcp + 20, frame + l.l4 + 20, s->topts);
		assert_int_equal(nf_get16(tcp + 16),
		                 nf_ref_l4(f, l.l3, l.l4, l.hdr - l.l4 + plen, s->v6, 6, 16));
		at += plen;
	}
	assert_int_equal(at, s->payload);
	free_segs(&got);
}

static void test_tso4_segments(void **state)
{
	(void)state;
	/* 4000 bytes at 1448: 1448, 1448, 1104 */
	check_segments(&(struct nf_spec){.payload = 4000,
	                                 .flags = 0x80 | 0x10 | 0x08 | 0x01,
	                                 .topts = 12,
	                                 .seq = 0xfffff000u,
	                                 .id = 0xfffe},
	               1448);
	/* an exact multiple, IPv4 options, a VLAN tag */
	check_segments(
	    &(struct nf_spec){
		.payload = 2896, .flags = 0x18, .ipopts = 8, .vlan = true, .seq = 77, .id = 5},
	    1448);
	/* less than one segment: FIN and PSH stay */
	check_segments(&(struct nf_spec){.payload = 100, .flags = 0x19, .seq = 1}, 1448);
	/* the smallest MSS allowed for 64 KiB */
	check_segments(&(struct nf_spec){.payload = 6000, .flags = 0x10, .seq = 9}, 128);
}

static void test_tso6_segments(void **state)
{
	(void)state;
	check_segments(
	    &(struct nf_spec){
		.v6 = true, .payload = 5000, .flags = 0x80 | 0x18, .topts = 12, .seq = 123456},
	    1428);
	check_segments(&(struct nf_spec){.v6 = true, .vlan = true, .payload = 1, .flags = 0x11},
	               1440);
}

static void test_segment_too_big_for_buffer(void **state)
{
	struct nf_spec s = {.payload = 3000, .flags = 0x10};
	struct nf_layout l;
	struct net_offload o;
	struct segs got = {.refuse_from = -1};
	uint8_t buf[1518];

	(void)state;
	nf_build(frame, &s, &l);
	struct virtio_net_hdr vh = nf_tso_hdr(&s, &l, 1500); /* 54 + 1500 > 1518 */
	assert_int_equal(net_offload_check(&vh, NET_OFF_ALL, frame, l.len, &o), 0);
	assert_int_equal(net_gso_segment(&o, frame, l.len, buf, sizeof(buf), collect, &got),
	                 -EMSGSIZE);
	assert_int_equal(got.n, 0);
	/* a receiver that runs out part way: the count says how many got through */
	vh.gso_size = 1000;
	assert_int_equal(net_offload_check(&vh, NET_OFF_ALL, frame, l.len, &o), 0);
	got.refuse_from = 1;
	assert_int_equal(net_gso_segment(&o, frame, l.len, buf, sizeof(buf), collect, &got), 1);
	free_segs(&got);
}

/* Checks vh against a copy of the first len bytes of frame of exactly that size. */
static int check_exact(const struct virtio_net_hdr *vh, uint32_t allowed, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct net_offload o;
	int r;

	memcpy(copy, frame, len);
	memset(&o, 0x5a, sizeof(o));
	r = net_offload_check(vh, allowed, copy, len, &o);
	if (r < 0)
		assert_int_equal(((uint8_t *)&o)[0], 0x5a); /* untouched on failure */
	free(copy);
	return r;
}

static void test_hostile_headers_refused(void **state)
{
	struct nf_spec s = {.payload = 3000, .flags = 0x10};
	struct nf_layout l;
	struct virtio_net_hdr ok, vh;

	(void)state;
	nf_build(frame, &s, &l);
	ok = nf_tso_hdr(&s, &l, 1448);
	assert_int_equal(check_exact(&ok, NET_OFF_ALL, l.len), 0);
#define BAD(field, value)                                                                          \
	do {                                                                                       \
		vh = ok;                                                                           \
		vh.field = value;                                                                  \
		assert_int_equal(check_exact(&vh, NET_OFF_ALL, l.len), -EPROTO);                   \
	} while (0)
	BAD(gso_type, 3);                        /* UDP: never offered */
	BAD(gso_type, 5);                        /* UDP_L4 */
	BAD(gso_type, VIRTIO_NET_HDR_GSO_TCPV6); /* an IPv4 frame */
	BAD(flags, 0);                           /* TSO without NEEDS_CSUM */
	BAD(gso_size, 0);
	BAD(gso_size, 5); /* 600 segments */
	BAD(csum_start, (uint16_t)(l.l4 + 2));
	BAD(csum_start, 0xffff);
	BAD(csum_offset, 6);
	BAD(csum_offset, 0xffff);
	BAD(hdr_len, (uint16_t)(l.len + 1));
#undef BAD
	/* offloads the port did not negotiate */
	assert_int_equal(check_exact(&ok, NET_OFF_CSUM | NET_OFF_TSO6, l.len), -EPROTO);
	vh = ok;
	vh.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(check_exact(&vh, NET_OFF_CSUM | NET_OFF_TSO4, l.len), -EPROTO);
	assert_int_equal(check_exact(&vh, NET_OFF_ALL, l.len), 0);
	/* cut anywhere up to and including the headers: never a TSO frame */
	for (size_t len = 0; len <= l.hdr; len++)
		assert_int_equal(check_exact(&ok, NET_OFF_ALL, len), -EPROTO);
	/* the bytes lie: IHL (short, or moving TCP away from csum_start), data offset, protocol,
	 * a fragment, IP version, ethertype (a longer data offset is just a longer TCP header:
	 * see test_tcp_header_past_short_frame) */
	struct {
		size_t at;
		uint8_t v;
	} lies[] = {{l.l3, 0x44},     {l.l3, 0x4f},  {l.l4 + 12, 0x40}, {l.l3 + 9, 17},
	            {l.l3 + 6, 0x20}, {l.l3 + 7, 1}, {l.l3, 0x65},      {12, 0x86}};
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		uint8_t keep = frame[lies[i].at];
		frame[lies[i].at] = lies[i].v;
		assert_int_equal(check_exact(&ok, NET_OFF_ALL, l.len), -EPROTO);
		frame[lies[i].at] = keep;
	}
	/* a partial checksum alone: the field must lie inside the frame, CSUM negotiated */
	vh = (struct virtio_net_hdr){
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16};
	assert_int_equal(check_exact(&vh, NET_OFF_CSUM, 52), 0);
	assert_int_equal(check_exact(&vh, NET_OFF_CSUM, 51), -EPROTO);
	assert_int_equal(check_exact(&vh, 0, 52), -EPROTO);
	vh.csum_start = 0xffff;
	vh.csum_offset = 0xffff;
	assert_int_equal(check_exact(&vh, NET_OFF_CSUM, 1518), -EPROTO);
	/* unknown flag bits alone are ignored (virtio 1.2, 5.1.6.2.2): a plain frame */
	vh = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_DATA_VALID | 0xf0};
	assert_int_equal(check_exact(&vh, 0, 60), 0);
}

/* A data offset reaching past the end of a short frame. */
static void test_tcp_header_past_short_frame(void **state)
{
	struct nf_spec s = {.payload = 28, .flags = 0x10};
	struct nf_layout l;

	(void)state;
	nf_build(frame, &s, &l);
	struct virtio_net_hdr vh = nf_tso_hdr(&s, &l, 8);
	assert_int_equal(check_exact(&vh, NET_OFF_ALL, l.len), 0);
	frame[l.l4 + 12] = 0xf0; /* 60 bytes of TCP header: 12 beyond the end */
	assert_int_equal(check_exact(&vh, NET_OFF_ALL, l.len), -EPROTO);
	frame[l.l4 + 12] = 0xc0; /* 48: exactly the frame, no payload */
	assert_int_equal(check_exact(&vh, NET_OFF_ALL, l.len), -EPROTO);
	frame[l.l4 + 12] = 0xb0; /* 44: four bytes of payload left */
	assert_int_equal(check_exact(&vh, NET_OFF_ALL, l.len), 0);
}

static void test_plain_and_partial_layouts(void **state)
{
	struct net_offload o;
	struct virtio_net_hdr vh = {0};
	uint8_t buf[1518];

	(void)state;
	assert_int_equal(net_offload_check(&vh, NET_OFF_ALL, frame, 60, &o), 0);
	assert_int_equal(o.needs, 0);
	assert_int_equal(o.vh.flags | o.vh.gso_type | o.vh.hdr_len, 0);
	vh = (struct virtio_net_hdr){.flags = 1, .csum_start = 34, .csum_offset = 6, .hdr_len = 9};
	assert_int_equal(net_offload_check(&vh, NET_OFF_ALL, frame, 60, &o), 0);
	assert_int_equal(o.needs, NET_OFF_CSUM);
	assert_int_equal(o.vh.hdr_len, 42); /* the header a receiver is told: up to the field */
	assert_int_equal(net_csum_copy(&o, frame, 60, buf, sizeof(buf)), 60);
	assert_int_equal(net_csum_copy(&o, frame, 60, buf, 59), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csum_matches_reference),
	    cmocka_unit_test(test_csum_fill_udp),
	    cmocka_unit_test(test_tso4_segments),
	    cmocka_unit_test(test_tso6_segments),
	    cmocka_unit_test(test_segment_too_big_for_buffer),
	    cmocka_unit_test(test_hostile_headers_refused),
	    cmocka_unit_test(test_tcp_header_past_short_frame),
	    cmocka_unit_test(test_plain_and_partial_layouts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
