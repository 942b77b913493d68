/* SPDX-License-Identifier: MIT */
#include "net_csum.h"

#include <errno.h>
#include <string.h>

/* Summing native-order words and swapping the folded result gives the big-endian sum (RFC
 * 1071, 2(B)), four bytes at a time instead of two. */
static uint64_t sum_native(const uint8_t *p, size_t len)
{
	uint64_t s = 0;
	uint32_t w4;
	uint16_t w2;

	for (; len >= 4; p += 4, len -= 4) {
		memcpy(&w4, p, 4);
		s += w4;
	}
	if (len >= 2) {
		memcpy(&w2, p, 2);
		s += w2;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = {p[0], 0};
		memcpy(&w2, last, 2);
		s += w2;
	}
	return s;
}

static uint16_t to_be(uint16_t native)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap16(native);
#else
	return native;
#endif
}

static uint16_t fold64(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

uint32_t net_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	return net_csum_fold(sum) + to_be(fold64(sum_native(p, len)));
}

uint16_t net_csum_fold(uint32_t sum) { return fold64(sum); }

uint32_t net_pseudo4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t len)
{
	uint32_t s = net_csum_add(0, src, 4);

	return net_csum_add(s, dst, 4) + proto + (len & 0xffff);
}

uint32_t net_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t len)
{
	uint32_t s = net_csum_add(0, src, 16);

	return net_csum_add(s, dst, 16) + proto + (len >> 16) + (len & 0xffff);
}

int net_csum_fill(uint8_t *frame, size_t len, size_t start, size_t offset)
{
	uint16_t c;

	if (start > len || offset > len - start || len - start - offset < 2)
		return -EINVAL;
	c = (uint16_t)~net_csum_fold(net_csum_add(0, frame + start, len - start));
	if (!c)
		c = 0xffff;
	frame[start + offset] = (uint8_t)(c >> 8);
	frame[start + offset + 1] = (uint8_t)c;
	return 0;
}
