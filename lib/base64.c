/* SPDX-License-Identifier: MIT */
/* RFC 4648 base64 (OpenSSL's EVP_EncodeBlock and EVP_DecodeBlock): binary snapshots inside JSON
 * lines (docs/ops-ha.md). Decoding is strict so that one text has one meaning: a peer cannot
 * smuggle bytes past a check in a second form. OpenSSL's decoder skips surrounding white space
 * and ignores the unused bits of the last group, so a text is taken only when it is exactly
 * what encoding its bytes gives. */
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "ops_replica.h"

int uv_base64_encode(const void *in, size_t len, char **out)
{
	size_t olen;
	char *s;

	if (len > (size_t)INT_MAX / 4 * 3 - 3)
		return -ENOMEM;
	olen = (len + 2) / 3 * 4;
	if (!(s = malloc(olen + 1)))
		return -ENOMEM;
	if (EVP_EncodeBlock((unsigned char *)s, in, (int)len) != (int)olen) {
		free(s);
		return -EIO;
	}
	s[olen] = 0;
	*out = s;
	return 0;
}

int uv_base64_decode(const char *in, size_t len, uint8_t **out, size_t *outlen)
{
	size_t pad = 0, n;
	uint8_t *b;
	char *again = NULL;
	int got;

	if (len % 4 || len > (size_t)INT_MAX)
		return -EINVAL;
	if (!(b = malloc(len / 4 * 3 + 1)))
		return -ENOMEM;
	got = len ? EVP_DecodeBlock(b, (const unsigned char *)in, (int)len) : 0;
	if (len && in[len - 1] == '=')
		pad = len > 1 && in[len - 2] == '=' ? 2 : 1;
	if (got < 0 || (size_t)got != len / 4 * 3) {
		free(b);
		return -EINVAL;
	}
	n = (size_t)got - pad;
	/* The canonical form only: the same text back, or it is refused. */
	if (uv_base64_encode(b, n, &again) || strlen(again) != len || memcmp(again, in, len)) {
		free(again);
		free(b);
		return -EINVAL;
	}
	free(again);
	*out = b;
	*outlen = n;
	return 0;
}
