/* SPDX-License-Identifier: MIT */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define CRC32C_POLY 0x82f63b78u /* Castagnoli, bit-reflected */

/* Built once, read-only afterwards: eight tables let the loop fold 8 bytes per step. */
static uint32_t slice[8][256];
static pthread_once_t slice_once = PTHREAD_ONCE_INIT;

static void slice_build(void)
{
	uint32_t i, k, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		slice[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			slice[k][i] = (slice[k - 1][i] >> 8) ^ slice[0][slice[k - 1][i] & 0xff];
}

uint32_t uv_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = ~crc, lo, hi;

	pthread_once(&slice_once, slice_build);
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= c;
		c = slice[7][lo & 0xff] ^ slice[6][(lo >> 8) & 0xff] ^ slice[5][(lo >> 16) & 0xff] ^
		    slice[4][lo >> 24] ^ slice[3][hi & 0xff] ^ slice[2][(hi >> 8) & 0xff] ^
		    slice[1][(hi >> 16) & 0xff] ^ slice[0][hi >> 24];
	}
	while (len--)
		c = slice[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const void *buf,
                                                               size_t len)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc, w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

static int have_sse42(void) { return __builtin_cpu_supports("sse4.2"); }
#else
static uint32_t crc32c_sse42(uint32_t crc, const void *buf, size_t len)
{
	return uv_crc32c_sw(crc, buf, len);
}

static int have_sse42(void) { return 0; }
#endif

uint32_t uv_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return have_sse42() ? crc32c_sse42(crc, buf, len) : uv_crc32c_sw(crc, buf, len);
}

uint32_t uv_crc32c(uint32_t crc, const void *buf, size_t len)
{
	return uv_crc32c_hw(crc, buf, len);
}
