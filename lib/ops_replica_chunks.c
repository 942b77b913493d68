/* SPDX-License-Identifier: MIT */
/* A pushed snapshot's text gathered from its chunks (docs/ops-ha.md "What is replicated"):
 * strictly in order, one snapshot at a time, bounded before anything is allocated. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ops_replica.h"

/* The longest base64 text of a frame whose image is within the bound. */
#define TEXT_MAX ((UV_OPS_SNAP_IMAGE_MAX + sizeof(struct uv_ops_snap_hdr) + 2) / 3 * 4)

void uv_ops_chunks_reset(struct uv_ops_chunks *c)
{
	free(c->text);
	*c = (struct uv_ops_chunks){0};
}

int uv_ops_chunks_add(struct uv_ops_chunks *c, uint64_t epoch, uint64_t seq, uint64_t total,
                      uint64_t off, const char *data, size_t n)
{
	if (off == 0) {
		uv_ops_chunks_reset(c);
		if (total > TEXT_MAX)
			return -EMSGSIZE;
		if (!(c->text = malloc((size_t)total + 1)))
			return -ENOMEM;
		c->total = (size_t)total;
		c->epoch = epoch;
		c->seq = seq;
	}
	if (!c->text || off != c->len || total != c->total || epoch != c->epoch || seq != c->seq ||
	    !n || n > c->total - c->len) {
		uv_ops_chunks_reset(c);
		return -EINVAL;
	}
	memcpy(c->text + c->len, data, n);
	c->len += n;
	c->text[c->len] = 0;
	return c->len == c->total;
}
