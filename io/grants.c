/* SPDX-License-Identifier: MIT */
#include "grants.h"

#include <errno.h>
#include <string.h>

const char *io_refusal_str(enum io_refusal why)
{
	switch (why) {
	case IO_REF_NOT_GRANTED:
		return "its object is not granted to";
	case IO_REF_OUTSIDE:
		return "it reaches beyond the object granted to";
	default:
		return "accepted";
	}
}

/* Where region r (backed by o) stands against g: inside one of its objects, or why not. */
static enum io_refusal judge(const struct io_grants *g, const struct vhu_region *r,
                             const struct io_obj *o)
{
	enum io_refusal why = IO_REF_NOT_GRANTED;

	for (unsigned i = 0; i < g->n && i < IO_GRANTS_MAX; i++) {
		const struct io_obj *granted = &g->o[i];

		if (granted->dev != o->dev || granted->ino != o->ino)
			continue;
		/* The grant's size, not the fd's: a sealed object cannot grow, but say so here. */
		if (r->size && r->mmap_offset <= granted->size &&
		    r->size <= granted->size - r->mmap_offset)
			return IO_REF_NONE;
		why = IO_REF_OUTSIDE;
	}
	return why;
}

int io_grants_check(const struct io_grants *g, const struct vhu_region *r,
                    const struct io_obj *objs, unsigned n, unsigned *bad, enum io_refusal *why)
{
	for (unsigned i = 0; i < n; i++) {
		enum io_refusal w = judge(g, &r[i], &objs[i]);

		if (w != IO_REF_NONE) {
			*bad = i;
			*why = w;
			return -EPERM;
		}
	}
	return 0;
}

/* A descriptor's path is NUL-terminated by its writer; do not rely on it. */
static bool device_is(const struct uv_device *d, uint32_t kind,
                      bool (*is_export)(const char *path, void *ctx), void *ctx)
{
	char path[sizeof(d->path)];

	if (d->kind != kind || !memchr(d->path, 0, sizeof(d->path)) || !d->path[0])
		return false;
	memcpy(path, d->path, sizeof(path));
	return is_export(path, ctx);
}

int io_grants_owner(const struct uv_resdb_view *v, uint32_t kind,
                    bool (*is_export)(const char *path, void *ctx), void *ctx, uint32_t *owner)
{
	struct uv_partition_desc d;
	uint32_t found = 0;

	for (uint32_t p = 1; p < v->geo.max_partitions; p++) {
		int r = uv_resdb_read_desc(v, p, &d, NULL);
		bool mine = false;

		if (r == -ENOENT)
			continue;
		if (r)
			return r;
		for (uint32_t i = 0; i < d.n_dev && i < UV_DEVICES_MAX && !mine; i++)
			mine = device_is(&d.dev[i], kind, is_export, ctx);
		if (!mine)
			continue;
		if (found)
			return -ENOTUNIQ;
		found = p;
	}
	if (!found)
		return -ENOENT;
	*owner = found;
	return 0;
}
