/* SPDX-License-Identifier: MIT */
/* The command partition's decisions are taken on its read-only copy of the resource database
 * (claim 40): nothing about partitions is kept in its own memory, so a restarted command
 * partition knows exactly what the last one did. */
#include <errno.h>
#include <string.h>

#include "command.h"

static int readable(struct cmdp *c)
{
	struct api_err e;

	return cmd_uv_connect(c, &e) == 0;
}

static int read_part(struct cmdp *c, uint32_t id, struct cmd_part *p)
{
	int r, tries = 0;

	do
		r = uv_resdb_read_desc(&c->view, id, &p->desc, &p->rec);
	while (r == -EAGAIN && ++tries < 100);
	p->id = id;
	return r;
}

int cmd_view_each(struct cmdp *c, int (*fn)(const struct cmd_part *p, void *ctx), void *ctx)
{
	struct cmd_part p;
	uint32_t id;
	int r;

	if (!readable(c))
		return -ENOTCONN;
	for (id = 1; id < c->view.geo.max_partitions; id++) {
		if (read_part(c, id, &p))
			continue;
		if (p.rec.role != UV_ROLE_GUEST || p.rec.status == UV_RESDB_FREE)
			continue;
		if ((r = fn(&p, ctx)))
			return r;
	}
	return 0;
}

struct find_ctx {
	const char *name;
	struct cmd_part *out;
};

static int match(const struct cmd_part *p, void *ctx)
{
	struct find_ctx *f = ctx;

	if (strncmp(p->desc.name, f->name, sizeof(p->desc.name)))
		return 0;
	*f->out = *p;
	return 1;
}

int cmd_view_find(struct cmdp *c, const char *name, struct cmd_part *out)
{
	struct find_ctx f = {name, out};
	int r = cmd_view_each(c, match, &f);

	return r == 1 ? 0 : r ? r : -ENOENT;
}

int cmd_view_free_id(struct cmdp *c, uint32_t *id)
{
	struct cmd_part p;
	uint32_t i;

	if (!readable(c))
		return -ENOTCONN;
	for (i = CMD_FIRST_GUEST; i < c->view.geo.max_partitions; i++)
		if (read_part(c, i, &p) == -ENOENT) {
			*id = i;
			return 0;
		}
	return -ENOSPC;
}

struct ext_ctx {
	struct uv_txn_extent *ext;
	unsigned max, n;
};

static int add_extent(const struct uv_pm_block *b, void *ctx)
{
	struct ext_ctx *x = ctx;

	if (x->n && x->ext[x->n - 1].pool_offset + x->ext[x->n - 1].size == b->offset) {
		x->ext[x->n - 1].size += b->size; /* adjacent blocks make one extent */
		return 0;
	}
	if (x->n == x->max)
		return -E2BIG;
	x->ext[x->n++] = (struct uv_txn_extent){.pool_offset = b->offset, .size = b->size};
	return 0;
}

int cmd_view_extents(struct cmdp *c, uint32_t id, struct uv_txn_extent *ext, unsigned max,
                     unsigned *n)
{
	struct ext_ctx x;
	uint32_t seq;
	int r, tries = 0;

	if (!readable(c))
		return -ENOTCONN;
	do {
		x = (struct ext_ctx){ext, max, 0};
		seq = uv_pagemap_read_begin(&c->view.pm);
		r = uv_pagemap_walk(&c->view.pm, id, add_extent, &x);
	} while (uv_pagemap_read_changed(&c->view.pm, seq) && ++tries < 100);
	if (r)
		return r;
	*n = x.n;
	return 0;
}
