/* SPDX-License-Identifier: MIT */
/* Pool memory and device bookkeeping used by apply and undo. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "resdb_int.h"

static int by_offset(const void *a, const void *b)
{
	const struct uv_pm_extent *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The page map hands out runs largest tier first; the log wants them ascending and disjoint,
 * and adjacent runs merged so the record is canonical. */
static uint32_t sort_merge(struct uv_pm_extent *e, size_t n, struct uv_txn_extent *out)
{
	uint32_t k = 0;
	size_t i;

	qsort(e, n, sizeof(*e), by_offset);
	for (i = 0; i < n; i++) {
		if (k && out[k - 1].pool_offset + out[k - 1].size == e[i].offset) {
			out[k - 1].size += e[i].size;
			continue;
		}
		out[k].pool_offset = e[i].offset;
		out[k].size = e[i].size;
		k++;
	}
	return k;
}

int rdb_alloc(struct uv_resdb *db, uint32_t owner, uint64_t bytes, struct uv_resdb_result *res)
{
	size_t n;
	int r = uv_pagemap_alloc(&db->pm, owner, bytes, db->scratch, UV_TXN_EXTENTS_MAX, &n);

	if (r)
		return r;
	res->n_extents = sort_merge(db->scratch, n, res->extents);
	return 0;
}

static void to_pm(struct uv_resdb *db, const struct uv_txn_extent *e, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct uv_txn_extent x;

		memcpy(&x, &e[i], sizeof(x)); /* e may point into an unaligned record */
		db->scratch[i] = (struct uv_pm_extent){.offset = x.pool_offset, .size = x.size};
	}
}

int rdb_claim(struct uv_resdb *db, uint32_t owner, const struct uv_txn_extent *e, uint32_t n)
{
	if (n > UV_TXN_EXTENTS_MAX)
		return -EINVAL;
	to_pm(db, e, n);
	return uv_pagemap_claim(&db->pm, owner, db->scratch, n);
}

int rdb_free(struct uv_resdb *db, uint32_t owner, const struct uv_txn_extent *e, uint32_t n)
{
	if (n > UV_TXN_EXTENTS_MAX)
		return -EINVAL;
	to_pm(db, e, n);
	return uv_pagemap_free(&db->pm, owner, db->scratch, n);
}

void rdb_dev_attach(struct uv_resdb *db, uint32_t p, const struct uv_device *d, uint32_t pos)
{
	struct uv_partition_desc *desc = rdb_desc(db, p);
	struct uv_resdb_dev *rec = rdb_dev(db, (uint32_t)rdb_free_dev(db));
	struct uv_device c = {.kind = d->kind, .flags = d->flags};

	/* Bytes after the path's NUL are the sender's noise: never store them. */
	memcpy(c.path, d->path, strnlen(d->path, UV_PATH_MAX - 1));
	rec->in_use = 1;
	rec->partition = p;
	rec->device = c;
	memmove(&desc->dev[pos + 1], &desc->dev[pos], (desc->n_dev - pos) * sizeof(*d));
	desc->dev[pos] = c;
	desc->n_dev++;
	rdb_part(db, p)->n_devices++;
	db->h->n_devices++;
}

void rdb_dev_detach(struct uv_resdb *db, uint32_t p, uint32_t pos)
{
	struct uv_partition_desc *desc = rdb_desc(db, p);
	struct uv_resdb_dev *rec = rdb_dev(db, (uint32_t)rdb_dev_index(db, desc->dev[pos].path));

	memset(rec, 0, sizeof(*rec));
	desc->n_dev--;
	memmove(&desc->dev[pos], &desc->dev[pos + 1], (desc->n_dev - pos) * sizeof(desc->dev[0]));
	memset(&desc->dev[desc->n_dev], 0, sizeof(desc->dev[0]));
	rdb_part(db, p)->n_devices--;
	db->h->n_devices--;
}
