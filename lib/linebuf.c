/* SPDX-License-Identifier: MIT */
#include "linebuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int uv_linebuf_init(struct uv_linebuf *lb, size_t max_line)
{
	char *b;

	if (!max_line)
		return -EINVAL;
	if (!(b = malloc(max_line)))
		return -ENOMEM;
	*lb = (struct uv_linebuf){.buf = b, .cap = max_line};
	return 0;
}

void uv_linebuf_free(struct uv_linebuf *lb)
{
	free(lb->buf);
	*lb = (struct uv_linebuf){0};
}

char *uv_linebuf_tail(const struct uv_linebuf *lb) { return lb->buf + lb->len; }

size_t uv_linebuf_space(const struct uv_linebuf *lb) { return lb->cap - lb->len; }

void uv_linebuf_added(struct uv_linebuf *lb, size_t n)
{
	/* A caller that claims more than it was offered has a bug; never run past the end. */
	lb->len += n <= lb->cap - lb->len ? n : lb->cap - lb->len;
}

ssize_t uv_linebuf_line(const struct uv_linebuf *lb)
{
	const char *nl = lb->len ? memchr(lb->buf, '\n', lb->len) : NULL;

	if (nl)
		return nl - lb->buf + 1;
	return lb->len == lb->cap ? -EMSGSIZE : 0;
}

void uv_linebuf_consume(struct uv_linebuf *lb, size_t n)
{
	if (n > lb->len)
		n = lb->len;
	lb->len -= n;
	memmove(lb->buf, lb->buf + n, lb->len);
}
