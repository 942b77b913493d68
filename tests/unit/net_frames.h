/* SPDX-License-Identifier: MIT */
/* Ethernet/IP/TCP frames for the offload tests (test_net_gso.c, test_switch_offload.c,
 * test_vhost_net.c) and a deliberately plain reference checksum, byte by byte, written without
 * looking at io/net_csum.c, to check it against. */
#ifndef TESTS_NET_FRAMES_H
#define TESTS_NET_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct nf_spec {
	bool v6, vlan;
	size_t payload;
	uint8_t flags;  /* TCP flags byte */
	uint8_t topts;  /* TCP option bytes (multiple of 4) */
	uint8_t ipopts; /* IPv4 option bytes (multiple of 4) */
	uint32_t seq;
	uint16_t id;      /* IPv4 identification */
	uint8_t src, dst; /* last byte of the MAC addresses 02:00:00:00:00:xx */
};

struct nf_layout {
	size_t l3, l4, hdr, len;
};

static inline uint8_t nf_byte(size_t i) { return (uint8_t)(i * 7 + 3 + (i >> 8)); }

static inline void nf_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t nf_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline uint32_t nf_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The ones' complement of the ones' complement sum of n bytes, two at a time. */
static inline uint16_t nf_ref_csum(const uint8_t *b, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i < n; i += 2) {
		s += (uint32_t)b[i] << 8 | (i + 1 < n ? b[i + 1] : 0);
		s = (s & 0xffff) + (s >> 16);
	}
	return (uint16_t)~s;
}

/* The checksum a TCP or UDP segment at f+l4 (n bytes) must carry, field counted as zero. */
static inline uint16_t nf_ref_l4(const uint8_t *f, size_t l3, size_t l4, size_t n, bool v6,
                                 uint8_t proto, size_t field)
{
	static uint8_t b[40 + 70000];
	size_t ph = v6 ? 40 : 12;

	memset(b, 0, ph);
	if (v6) {
		memcpy(b, f + l3 + 8, 32);
		b[34] = (uint8_t)(n >> 8);
		b[35] = (uint8_t)n;
		b[39] = proto;
	} else {
		memcpy(b, f + l3 + 12, 8);
		b[9] = proto;
		b[10] = (uint8_t)(n >> 8);
		b[11] = (uint8_t)n;
	}
	memcpy(b + ph, f + l4, n);
	b[ph + field] = b[ph + field + 1] = 0;
	return nf_ref_csum(b, ph + n);
}

/* Builds the frame into f; its layout into *l. The TCP checksum field holds 0xdead: a TSO
 * frame's is the sender's business and never trusted. */
static inline void nf_build(uint8_t *f, const struct nf_spec *s, struct nf_layout *l)
{
	size_t p = 12;

	memcpy(f, (uint8_t[6]){2, 0, 0, 0, 0, s->dst}, 6);
	memcpy(f + 6, (uint8_t[6]){2, 0, 0, 0, 0, s->src}, 6);
	if (s->vlan) {
		nf_put16(f + p, 0x8100);
		nf_put16(f + p + 2, 42);
		p += 4;
	}
	nf_put16(f + p, s->v6 ? 0x86dd : 0x0800);
	l->l3 = p + 2;
	if (s->v6) {
		uint8_t *ip = f + l->l3;
		memset(ip, 0, 40);
		ip[0] = 0x60;
		ip[6] = 6;
		ip[7] = 64;
		for (int i = 0; i < 16; i++) {
			ip[8 + i] = (uint8_t)(0xfd + i * 3);
			ip[24 + i] = (uint8_t)(0xfd + i * 5);
		}
		l->l4 = l->l3 + 40;
	} else {
		uint8_t *ip = f + l->l3;
		size_t ihl = 20 + s->ipopts;
		memset(ip, 0, ihl);
		ip[0] = (uint8_t)(0x40 | ihl / 4);
		nf_put16(ip + 4, s->id);
		nf_put16(ip + 6, 0x4000); /* DF */
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, (uint8_t[8]){10, 99, 0, 1, 10, 99, 0, 2}, 8);
		memset(ip + 20, 1, s->ipopts); /* NOPs */
		l->l4 = l->l3 + ihl;
	}
	uint8_t *tcp = f + l->l4;
	size_t thl = 20 + s->topts;
	memset(tcp, 0, thl);
	nf_put16(tcp, 40000);
	nf_put16(tcp + 2, 5201);
	tcp[4] = (uint8_t)(s->seq >> 24);
	tcp[5] = (uint8_t)(s->seq >> 16);
	tcp[6] = (uint8_t)(s->seq >> 8);
	tcp[7] = (uint8_t)s->seq;
	tcp[12] = (uint8_t)(thl / 4 << 4);
	tcp[13] = s->flags;
	nf_put16(tcp + 14, 501);
	nf_put16(tcp + 16, 0xdead);
	memset(tcp + 20, 1, s->topts);
	l->hdr = l->l4 + thl;
	for (size_t i = 0; i < s->payload; i++)
		f[l->hdr + i] = nf_byte(i);
	l->len = l->hdr + s->payload;
	/* whole-packet lengths, as a sender would put them (segmentation redoes them) */
	if (s->v6)
		nf_put16(f + l->l3 + 4, (uint32_t)(l->len - l->l4));
	else
		nf_put16(f + l->l3 + 2, (uint32_t)(l->len - l->l3));
}

/* The virtio-net header a Linux guest sends with such a frame as one TSO packet. */
static inline struct virtio_net_hdr nf_tso_hdr(const struct nf_spec *s, const struct nf_layout *l,
                                               uint16_t mss)
{
	return (struct virtio_net_hdr){
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = s->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4,
	    .hdr_len = (uint16_t)l->hdr,
	    .gso_size = mss,
	    .csum_start = (uint16_t)l->l4,
	    .csum_offset = 16,
	};
}

#endif
