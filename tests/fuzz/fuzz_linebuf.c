/* SPDX-License-Identifier: MIT */
/* The line framing that the command partition's gateway and its clients apply to a peer's
 * bytes (lib/linebuf.c), and the address parser (lib/cmdaddr.c). The first input byte sets the
 * bound, the next ones the chunk sizes the bytes arrive in: every line taken ends with its one
 * '\n', nothing is lost or invented, and "over the bound" is said exactly when the buffer is
 * full with no '\n' in it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmdconn.h"
#include "linebuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_addr(const uint8_t *data, size_t size)
{
	char s[512], err[128];
	struct uv_cmdaddr a;
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;

	memcpy(s, data, n);
	s[n] = 0;
	if (uv_cmdaddr_parse(s, &a, err, sizeof(err)))
		return;
	if (a.kind == UV_CMDADDR_TLS) {
		if (!a.host[0] || !a.port[0] || strlen(a.host) >= sizeof(a.host) ||
		    atoi(a.port) > 65535)
			abort();
	} else if (!a.path[0] || strlen(a.path) >= sizeof(a.path)) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uv_linebuf lb;
	size_t fed = 0, taken = 0, pos, chunk;
	ssize_t n;

	check_addr(data, size);
	if (size < 2 || uv_linebuf_init(&lb, 1 + data[0] % 64))
		return 0;
	chunk = 1 + data[1] % 16;
	for (pos = 2; pos < size;) {
		size_t k = size - pos < chunk ? size - pos : chunk;

		if (k > uv_linebuf_space(&lb))
			k = uv_linebuf_space(&lb);
		memcpy(uv_linebuf_tail(&lb), data + pos, k);
		uv_linebuf_added(&lb, k);
		pos += k;
		fed += k;
		while ((n = uv_linebuf_line(&lb)) > 0) {
			if (lb.buf[n - 1] != '\n' || memchr(lb.buf, '\n', (size_t)n - 1))
				abort();
			if (memcmp(lb.buf, data + 2 + taken, (size_t)n))
				abort();
			uv_linebuf_consume(&lb, (size_t)n);
			taken += (size_t)n;
		}
		if (n < 0) {
			if (lb.len != lb.cap || memchr(lb.buf, '\n', lb.len))
				abort();
			break; /* the peer's line is over the bound: the connection ends */
		}
		if (lb.len == lb.cap)
			abort(); /* full without a line and not said so */
		if (taken + lb.len != fed)
			abort();
	}
	uv_linebuf_free(&lb);
	return 0;
}
