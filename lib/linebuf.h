/* SPDX-License-Identifier: MIT */
/* A bounded buffer that cuts a byte stream into lines: the JSON-line control APIs' framing on
 * both ends of a network connection (the gateway, command/gw/, and lib/cmdconn.c). It never
 * grows: a peer that sends a line longer than the bound gets -EMSGSIZE, not more memory. */
#ifndef ULTRA_LIB_LINEBUF_H
#define ULTRA_LIB_LINEBUF_H

#include <stddef.h>
#include <sys/types.h>

struct uv_linebuf {
	char *buf;
	size_t cap; /* the longest line, its '\n' included */
	size_t len; /* bytes held */
};

/* A buffer for lines of at most max_line bytes, '\n' included; -ENOMEM or -EINVAL. */
int uv_linebuf_init(struct uv_linebuf *lb, size_t max_line);
void uv_linebuf_free(struct uv_linebuf *lb);
/* Where the next bytes go, and how many fit (0: full, take a line first). */
char *uv_linebuf_tail(const struct uv_linebuf *lb);
size_t uv_linebuf_space(const struct uv_linebuf *lb);
/* n bytes were written at the tail (n <= space). */
void uv_linebuf_added(struct uv_linebuf *lb, size_t n);
/* The first complete line's length with its '\n' (> 0), 0 when it is not complete yet, or
 * -EMSGSIZE when the buffer is full and holds no '\n': the line is over the bound. */
ssize_t uv_linebuf_line(const struct uv_linebuf *lb);
/* Drops the first n bytes (a line taken, or part of one written on). */
void uv_linebuf_consume(struct uv_linebuf *lb, size_t n);

#endif
