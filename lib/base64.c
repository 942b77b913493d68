/* SPDX-License-Identifier: MIT */
/* RFC 4648 base64: binary snapshots inside JSON lines (docs/ops-ha.md). Decoding is strict so
 * that one text has one meaning: a peer cannot smuggle bytes past a check in a second form. */
#include <errno.h>
#include <stdlib.h>

#include "ops_replica.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int uv_base64_encode(const void *in, size_t len, char **out)
{
	const uint8_t *p = in;
	size_t olen = (len + 2) / 3 * 4, i, o = 0;
	char *s;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3 || !(s = malloc(olen + 1)))
		return -ENOMEM;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		s[o++] = alphabet[v >> 18];
		s[o++] = alphabet[(v >> 12) & 63];
		s[o++] = alphabet[(v >> 6) & 63];
		s[o++] = alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);

		s[o++] = alphabet[v >> 18];
		s[o++] = alphabet[(v >> 12) & 63];
		s[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		s[o++] = '=';
	}
	s[o] = 0;
	*out = s;
	return 0;
}

static int value_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* One group of four characters (the last may end in padding) -> 1..3 bytes; -1 if invalid. */
static int group(const char *g, bool last, uint8_t *b)
{
	int v[4], pad = 0;

	for (int k = 0; k < 4; k++) {
		if (g[k] == '=' && last && k >= 2 && (k == 3 || g[3] == '=')) {
			v[k] = 0;
			pad++;
		} else if ((v[k] = value_of(g[k])) < 0) {
			return -1;
		}
	}
	uint32_t x =
	    (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];

	if ((pad == 1 && (x & 0xff)) || (pad == 2 && (x & 0xffff)))
		return -1; /* bits past the last byte must be zero */
	b[0] = (uint8_t)(x >> 16);
	b[1] = (uint8_t)(x >> 8);
	b[2] = (uint8_t)x;
	return 3 - pad;
}

int uv_base64_decode(const char *in, size_t len, uint8_t **out, size_t *outlen)
{
	uint8_t *b;
	size_t o = 0;
	int n;

	if (len % 4)
		return -EINVAL;
	if (!(b = malloc(len / 4 * 3 + 1)))
		return -ENOMEM;
	for (size_t i = 0; i < len; i += 4) {
		if ((n = group(in + i, i + 4 == len, b + o)) < 0) {
			free(b);
			return -EINVAL;
		}
		o += (size_t)n;
	}
	*out = b;
	*outlen = o;
	return 0;
}
