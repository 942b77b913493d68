/* SPDX-License-Identifier: MIT */
#include "net_gso.h"

#include <errno.h>
#include <string.h>

#include "net_csum.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define IPPROTO_TCP_ 6
#define TCP_CSUM_OFF 16
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* The IP header's offset behind Ethernet and at most one VLAN tag, and its ethertype. */
static size_t l3_of(const uint8_t *f, size_t len, uint16_t *type)
{
	if (len < ETH_HLEN)
		return 0;
	*type = get16(f + 12);
	if (*type != ETH_P_8021Q)
		return ETH_HLEN;
	if (len < ETH_HLEN + 4)
		return 0;
	*type = get16(f + 16);
	return ETH_HLEN + 4;
}

/* A TSO frame's headers: Ethernet, IPv4 without fragmentation or IPv6 without extension
 * headers, TCP; o->l3, l4, hdr set. False when the bytes are not such a frame. */
static bool parse_tcp(const uint8_t *f, size_t len, bool v6, struct net_offload *o)
{
	uint16_t type = 0;
	size_t l3 = l3_of(f, len, &type), l4, hdr;

	if (!l3 || type != (v6 ? ETH_P_IPV6 : ETH_P_IP))
		return false;
	if (v6) {
		if (len < l3 + 40 || f[l3] >> 4 != 6 || f[l3 + 6] != IPPROTO_TCP_)
			return false;
		l4 = l3 + 40;
	} else {
		if (len < l3 + 20 || f[l3] >> 4 != 4 || (f[l3] & 15) < 5)
			return false;
		if (f[l3 + 9] != IPPROTO_TCP_ || (get16(f + l3 + 6) & 0x3fff))
			return false; /* not TCP, or a fragment (MF or an offset) */
		l4 = l3 + (size_t)(f[l3] & 15) * 4;
	}
	if (len < l4 + 20 || (f[l4 + 12] >> 4) < 5)
		return false;
	hdr = l4 + (size_t)(f[l4 + 12] >> 4) * 4;
	if (len <= hdr)
		return false; /* headers alone, or cut short: nothing to segment */
	o->l3 = (uint16_t)l3;
	o->l4 = (uint16_t)l4;
	o->hdr = (uint16_t)hdr;
	o->v6 = v6;
	return true;
}

static int check_gso(const struct virtio_net_hdr *vh, uint32_t allowed, const uint8_t *f,
                     size_t len, struct net_offload *o)
{
	uint8_t type = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	uint32_t need = type == VIRTIO_NET_HDR_GSO_TCPV4 ? NET_OFF_TSO4 : NET_OFF_TSO6;
	size_t segs;

	if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6)
		return -EPROTO; /* UDP and the rest are never offered */
	if (vh->gso_type & VIRTIO_NET_HDR_GSO_ECN)
		need |= NET_OFF_ECN;
	need |= NET_OFF_CSUM;
	if ((need & ~allowed) || !(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || !vh->gso_size)
		return -EPROTO; /* virtio 1.2, 5.1.6.2: TSO always comes with NEEDS_CSUM */
	if (!parse_tcp(f, len, type == VIRTIO_NET_HDR_GSO_TCPV6, o))
		return -EPROTO;
	if (vh->csum_start != o->l4 || vh->csum_offset != TCP_CSUM_OFF)
		return -EPROTO;
	segs = (len - o->hdr + vh->gso_size - 1) / vh->gso_size;
	if (segs > NET_GSO_SEGS_MAX)
		return -EPROTO;
	o->needs = need;
	o->vh = (struct virtio_net_hdr){
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = vh->gso_type,
	    .hdr_len = o->hdr,
	    .gso_size = vh->gso_size,
	    .csum_start = vh->csum_start,
	    .csum_offset = vh->csum_offset,
	};
	return 0;
}

int net_offload_check(const struct virtio_net_hdr *vh, uint32_t allowed, const uint8_t *frame,
                      size_t len, struct net_offload *o)
{
	struct net_offload t = {0};
	size_t end = (size_t)vh->csum_start + vh->csum_offset + 2;
	int r;

	if (vh->hdr_len > len)
		return -EPROTO;
	if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		r = check_gso(vh, allowed, frame, len, &t);
		if (r < 0)
			return r;
		*o = t;
		return 0;
	}
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(allowed & NET_OFF_CSUM) || end > len)
			return -EPROTO;
		t.needs = NET_OFF_CSUM;
		t.vh = (struct virtio_net_hdr){
		    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		    .hdr_len = (uint16_t)end,
		    .csum_start = vh->csum_start,
		    .csum_offset = vh->csum_offset,
		};
	}
	*o = t;
	return 0;
}

/* Rewrites the copied headers in seg for segment i of n, carrying plen payload bytes. */
static void fix_headers(const struct net_offload *o, uint8_t *seg, size_t i, size_t n, size_t plen)
{
	uint8_t *ip = seg + o->l3, *tcp = seg + o->l4;
	size_t tcplen = o->hdr - o->l4 + plen;
	uint32_t sum;

	if (o->v6) {
		put16(ip + 4, (uint16_t)(o->hdr - o->l4 + plen));
		sum = net_pseudo6(ip + 8, ip + 24, IPPROTO_TCP_, (uint32_t)tcplen);
	} else {
		put16(ip + 2, (uint16_t)(o->hdr - o->l3 + plen));
		put16(ip + 4, (uint16_t)(get16(ip + 4) + i));
		put16(ip + 10, 0);
		put16(ip + 10, (uint16_t)~net_csum_fold(net_csum_add(0, ip, o->l4 - o->l3)));
		sum = net_pseudo4(ip + 12, ip + 16, IPPROTO_TCP_, (uint32_t)tcplen);
	}
	put32(tcp + 4, get32(tcp + 4) + (uint32_t)(i * o->vh.gso_size));
	if (i + 1 < n)
		tcp[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
	if (i > 0)
		tcp[13] &= (uint8_t)~TCP_CWR;
	put16(tcp + TCP_CSUM_OFF, 0);
	put16(tcp + TCP_CSUM_OFF, (uint16_t)~net_csum_fold(net_csum_add(sum, tcp, tcplen)));
}

int net_gso_segment(const struct net_offload *o, const uint8_t *frame, size_t len, uint8_t *buf,
                    size_t cap, net_emit_fn emit, void *ctx)
{
	size_t mss = o->vh.gso_size, payload = len - o->hdr;
	size_t n = (payload + mss - 1) / mss;
	int sent = 0;

	if (o->hdr + (payload < mss ? payload : mss) > cap)
		return -EMSGSIZE;
	for (size_t i = 0; i < n; i++) {
		size_t off = o->hdr + i * mss;
		size_t plen = len - off < mss ? len - off : mss;
		memcpy(buf, frame, o->hdr);
		memcpy(buf + o->hdr, frame + off, plen);
		fix_headers(o, buf, i, n, plen);
		if (emit(ctx, buf, o->hdr + plen) == 0)
			sent++;
	}
	return sent;
}

int net_csum_copy(const struct net_offload *o, const uint8_t *frame, size_t len, uint8_t *buf,
                  size_t cap)
{
	if (len > cap)
		return -EMSGSIZE;
	memcpy(buf, frame, len);
	if (net_csum_fill(buf, len, o->vh.csum_start, o->vh.csum_offset) < 0)
		return -EMSGSIZE; /* not a checked frame: cannot happen */
	return (int)len;
}
