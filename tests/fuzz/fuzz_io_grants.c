/* SPDX-License-Identifier: MIT */
/* A hostile front end's memory table against a partition's grants, and a database region
 * (possibly damaged) to find the socket's owner in. The check must accept only tables whose
 * every region lies in a granted object; the owner lookup must never read outside the region.
 *
 * Input: byte 0 = regions (1-8), byte 1 = grants (0-24); then each grant (dev, ino, size as three
 * u64), each region (its four u64), each region's object (dev, ino); the rest is the database. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../io/grants.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool any_path(const char *path, void *ctx)
{
	(void)ctx;
	assert(strlen(path) < UV_PATH_MAX);
	return path[0] == '/';
}

static bool inside(const struct io_grants *g, const struct vhu_region *r, const struct io_obj *o)
{
	for (unsigned i = 0; i < g->n; i++)
		if (g->o[i].dev == o->dev && g->o[i].ino == o->ino && r->size &&
		    (unsigned __int128)r->mmap_offset + r->size <= g->o[i].size)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhu_region r[VHU_MAX_REGIONS];
	struct io_obj objs[VHU_MAX_REGIONS];
	struct io_grants g = {0};
	struct uv_resdb_view v;
	enum io_refusal why;
	unsigned n, bad = 0;
	uint32_t owner;
	size_t need;

	if (size < 2)
		return 0;
	n = data[0] % VHU_MAX_REGIONS + 1;
	g.n = data[1] % (IO_GRANTS_MAX + 1);
	need = 2 + g.n * sizeof(g.o[0]) + n * (sizeof(r[0]) + 2 * sizeof(uint64_t));
	if (size < need)
		return 0;
	data += 2;
	memcpy(g.o, data, g.n * sizeof(g.o[0]));
	data += g.n * sizeof(g.o[0]);
	memcpy(r, data, n * sizeof(r[0]));
	data += n * sizeof(r[0]);
	for (unsigned i = 0; i < n; i++, data += 16) {
		memcpy(&objs[i].dev, data, 8);
		memcpy(&objs[i].ino, data + 8, 8);
		objs[i].size = 0;
	}
	if (io_grants_check(&g, r, objs, n, &bad, &why) == 0) {
		for (unsigned i = 0; i < n; i++)
			assert(inside(&g, &r[i], &objs[i]));
	} else {
		assert(bad < n && !inside(&g, &r[bad], &objs[bad]));
		assert(why == IO_REF_NOT_GRANTED || why == IO_REF_OUTSIDE);
	}

	/* The rest, copied to its exact size so ASan sees any read past it, as a database. */
	size -= need;
	uint8_t *area = malloc(size ? size : 1);
	memcpy(area, data, size);
	if (uv_resdb_view_attach(&v, area, size) == 0) {
		int ret = io_grants_owner(&v, UV_DEV_VHOST_USER_BLK, any_path, NULL, &owner);
		assert(ret == 0 || ret == -ENOENT || ret == -ENOTUNIQ || ret == -EAGAIN);
		if (ret == 0)
			assert(owner > 0 && owner < v.geo.max_partitions);
	}
	free(area);
	return 0;
}
