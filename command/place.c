/* SPDX-License-Identifier: MIT */
/*
 * Placement of a partition's disks and NICs on the I/O partition (issue 6 item 1; claims 17-19,
 * 53-55). The definition asks (struct uv_disk_req, uv_nic_req in its descriptor); while the
 * partition is active the command partition keeps, for each disk and NIC,
 *
 *   an export in ultra-io         IO/NAME.diskN.sock (vhost-user-blk on the image)
 *                                 IO/NAME.nicN.sock  (vhost-user-net, a port of the switch)
 *   a device grant in the DB      ASSIGN_DEVICE vhost-user-blk / -net with that socket path,
 *                                 which the monitor attaches as for any such device
 *
 * or, for a direct disk (the fast path, claims 22, 23, 68, 69), ultra-io's record that the image
 * is taken (IO/NAME.diskN.direct, ADD_DIRECT) and ASSIGN_DEVICE direct-blk of the image itself,
 * which the engine reads and writes with O_DIRECT, with no I/O partition on its data path
 *
 * and while it is not, neither. Everything is derived from the resource database and from
 * ultra-io's own list of exports, once a second and at start, so a restarted ultra-io gets its
 * exports back and a restarted command partition carries on (claim 55).
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "command.h"
#include "disk_limit.h"

struct want {
	struct uv_device dev;     /* the grant: kind, flags, socket (direct: image) path */
	const char *image, *sw;   /* what ultra-io serves on it (direct: records as taken) */
	struct uv_disk_limit lim; /* a served disk's I/O limit, which ultra-io enforces */
	char at[UV_IOCTL_PATH_MAX +
	        4]; /* ultra-io's name for it: the socket, or NAME.diskN.direct */
};

struct sync_ctx {
	struct cmdp *c;
	uint32_t only;                /* 0: every partition; else just this one */
	int force;                    /* the partition is starting: place it whatever its state */
	struct uv_ioctl_export *list; /* ultra-io's exports, NULL if unreachable */
	unsigned n_list;
	unsigned char *claimed; /* list entries a wanted export matched */
	struct api_err *e;
	int failed;
};

int cmd_place_path(struct cmdp *c, const char *name, const char *what, unsigned i, const char *ext,
                   char *buf, size_t cap)
{
	char dir[512];
	int n;

	snprintf(dir, sizeof(dir), "%s", c->io_path);
	n = snprintf(buf, cap, "%s/%s.%s%u.%s", dirname(dir), name, what, i, ext);
	return n < 0 || (size_t)n >= cap || (size_t)n >= UV_IOCTL_PATH_MAX ? -ENAMETOOLONG : 0;
}

static unsigned wants_of(struct cmdp *c, const struct uv_partition_desc *d, struct want *w)
{
	unsigned n = 0, i;

	for (i = 0; i < d->n_disk && i < UV_DISKS_MAX; i++, n++) {
		const struct uv_disk_req *k = &d->disk[i];
		int direct = k->flags & UV_DISK_F_DIRECT;

		w[n] = (struct want){
		    .dev = {.kind = direct ? UV_DEV_DIRECT_BLK : UV_DEV_VHOST_USER_BLK,
		            .flags = k->flags & UV_DEV_F_READONLY},
		    .image = k->image};
		/* A direct disk's limit is the monitor's to set (the engine's cgroup): ultra-io
		 * is not on its data path. */
		if (!direct)
			w[n].lim = d->disk_limit[i];
		if (cmd_place_path(c, d->name, "disk", i, direct ? "direct" : "sock", w[n].at,
		                   sizeof(w[n].at)))
			w[n].dev.kind = UV_DEV_NONE;
		/* The fast path grants the image itself: the engine opens it (claims 22, 23). */
		snprintf(w[n].dev.path, sizeof(w[n].dev.path), "%s", direct ? k->image : w[n].at);
	}
	for (i = 0; i < d->n_nic && i < UV_NICS_MAX; i++, n++) {
		w[n] = (struct want){.dev = {.kind = UV_DEV_VHOST_USER_NET}, .sw = d->nic[i].sw};
		if (cmd_place_path(c, d->name, "nic", i, "sock", w[n].at, sizeof(w[n].at)))
			w[n].dev.kind = UV_DEV_NONE;
		snprintf(w[n].dev.path, sizeof(w[n].dev.path), "%s", w[n].at);
	}
	return n;
}

static int granted(const struct uv_partition_desc *d, const char *path)
{
	for (uint32_t i = 0; i < d->n_dev && i < UV_DEVICES_MAX; i++)
		if (!strncmp(d->dev[i].path, path, sizeof(d->dev[i].path)))
			return 1;
	return 0;
}

/* The list entry serving w to partition id as the definition says (same kind, image, mode,
 * switch), or -1. */
static int listed(const struct sync_ctx *x, uint32_t id, const struct want *w)
{
	struct stat st;

	for (unsigned i = 0; i < x->n_list; i++) {
		const struct uv_ioctl_export *l = &x->list[i];

		if (strncmp(l->path, w->at, sizeof(l->path)) || l->kind != w->dev.kind ||
		    l->partition != id)
			continue;
		if (w->image &&
		    (l->flags != w->dev.flags || stat(w->image, &st) ||
		     l->image_dev != (uint64_t)st.st_dev || l->image_ino != (uint64_t)st.st_ino))
			continue;
		if (w->sw && strncmp(l->sw, w->sw, sizeof(l->sw)))
			continue;
		return (int)i;
	}
	return -1;
}

static int device_txn(struct sync_ctx *x, uint32_t id, const struct uv_device *dev, int assign)
{
	struct uv_txn t;

	memset(&t, 0, sizeof(t));
	t.hdr.type = assign ? UV_TXN_ASSIGN_DEVICE : UV_TXN_RELEASE_DEVICE;
	t.u.device.partition_id = id;
	t.u.device.device = *dev;
	return cmd_uv_submit(x->c, &t, assign ? "assign device" : "release device", x->e);
}

/* A served disk whose limit in ultra-io is not the database's (set-disk-limits while it was
 * away, or a command partition that died before telling it): changed in place, clients and
 * requests untouched. An ultra-io too old for that gets the export again (-1: not listed). */
static int limit_sync(struct sync_ctx *x, const struct cmd_part *p, const struct want *w, int i)
{
	const struct uv_ioctl_export *l = &x->list[i];
	char what[200];
	int r;

	if (uv_disk_limit_equal(&l->limit, &w->lim))
		return i;
	if ((r = cmd_io_set_limit(x->c, w->at, &w->lim))) {
		fprintf(stderr,
		        "ultra-command: partition %s: limit on %s: %s; exporting it again\n",
		        p->desc.name, w->at, strerror(-r));
		return -1;
	}
	uv_disk_limit_describe(&w->lim, what, sizeof(what));
	fprintf(stderr, "ultra-command: partition %s: %s held to the database's limit again (%s)\n",
	        p->desc.name, w->at, what);
	return i;
}

static int place_one(struct sync_ctx *x, const struct cmd_part *p, const struct want *w)
{
	const char *path = w->at;
	int i = x->list ? listed(x, p->id, w) : -1, r = 0;

	if (i >= 0 && w->image && w->dev.kind == UV_DEV_VHOST_USER_BLK)
		i = limit_sync(x, p, w, i);

	if (x->list && i >= 0) {
		x->claimed[i] = 1;
	} else if (x->list) {
		/* An export on this path serving another image or switch goes first (and is not
		 * a stray to sweep afterwards: the path is ours again). */
		for (unsigned k = 0; k < x->n_list; k++)
			if (!strncmp(x->list[k].path, path, sizeof(x->list[k].path))) {
				cmd_io_remove(x->c, path);
				x->claimed[k] = 1;
			}
		if (w->dev.kind == UV_DEV_DIRECT_BLK)
			r = cmd_io_add_direct(x->c, p->id, path, w->image, w->dev.flags);
		else if (w->image)
			r = cmd_io_add_blk(x->c, p->id, path, w->image, w->dev.flags, &w->lim);
		else
			r = cmd_io_add_net(x->c, p->id, path, w->sw);
		if (r)
			return api_fail(x->e, "io", "partition %s: exporting %s on %s: %s",
			                p->desc.name, w->image ? w->image : w->sw, path,
			                strerror(-r));
		fprintf(stderr, "ultra-command: partition %s: %s exported on %s\n", p->desc.name,
		        w->image ? w->image : w->sw, path);
	}
	if (!granted(&p->desc, w->dev.path) && device_txn(x, p->id, &w->dev, 1))
		return -1;
	return 0;
}

static void unplace_one(struct sync_ctx *x, const struct cmd_part *p, const struct want *w)
{
	if (granted(&p->desc, w->dev.path) && device_txn(x, p->id, &w->dev, 0))
		fprintf(stderr, "ultra-command: partition %s: %s\n", p->desc.name, x->e->message);
	/* The export goes with the stray sweep: nothing claims it now. */
}

static int pid_of(json_object *st, const char *key)
{
	json_object *v;

	return st && json_object_object_get_ex(st, key, &v) ? json_object_get_int(v) : 0;
}

/* Active in the database, or a monitor still runs it (it reports its state an instant after
 * writing its state file, and keeps the engine until it exits). */
int cmd_place_wanted(struct cmdp *c, const struct cmd_part *p)
{
	json_object *st;
	int up;

	if (p->rec.state == UV_STATE_STARTING || p->rec.state == UV_STATE_RUNNING ||
	    p->rec.state == UV_STATE_PAUSED || p->rec.state == UV_STATE_STOPPING ||
	    p->rec.state == UV_STATE_INCOMING || p->rec.state == UV_STATE_MIGRATING)
		return 1;
	st = cmd_monitor_status(c, p->desc.name);
	up = cmd_pid_alive(pid_of(st, "monitor_pid")) || cmd_pid_alive(pid_of(st, "qemu_pid"));
	json_object_put(st);
	return up;
}

static int sync_one(const struct cmd_part *p, void *ctx)
{
	struct sync_ctx *x = ctx;
	struct want w[UV_DISKS_MAX + UV_NICS_MAX];
	unsigned n = wants_of(x->c, &p->desc, w), i;
	int want = (x->force && p->id == x->only) || cmd_place_wanted(x->c, p);

	if (x->only && p->id != x->only)
		return 0;
	for (i = 0; i < n; i++) {
		if (w[i].dev.kind == UV_DEV_NONE)
			continue;
		if (want && place_one(x, p, &w[i])) {
			x->failed = 1;
			if (x->force)
				return 1;
			fprintf(stderr, "ultra-command: %s\n", x->e->message);
		} else if (!want) {
			unplace_one(x, p, &w[i]);
		}
	}
	return 0;
}

static int place_sync(struct cmdp *c, uint32_t only, int force, struct api_err *e)
{
	struct uv_ioctl_export *list = calloc(UV_IOCTL_EXPORTS_MAX, sizeof(*list));
	unsigned char claimed[UV_IOCTL_EXPORTS_MAX] = {0};
	struct sync_ctx x = {c, only, force, list, 0, claimed, e, 0};
	int r;

	if (!list)
		return api_fail(e, "internal", "out of memory");
	if ((r = cmd_io_list(c, list, &x.n_list))) {
		x.list = NULL;
		if (force) {
			free(list);
			return api_fail(e, "io", "the I/O partition does not answer on %s: %s",
			                c->io_path, strerror(-r));
		}
	}
	r = cmd_view_each(c, sync_one, &x);
	/* Exports no active partition wants (it stopped, or was undefined meanwhile). While one
	 * partition starts, the others are not looked at, so their exports stay. */
	for (unsigned i = 0; x.list && !only && !r && i < x.n_list; i++)
		if (!claimed[i] && cmd_io_remove(c, list[i].path) == 0)
			fprintf(stderr, "ultra-command: export %s removed\n", list[i].path);
	free(list);
	if (r < 0)
		return api_fail(e, "ultravisor", "cannot read the resource database");
	return x.failed ? -1 : 0;
}

int cmd_place_start(struct cmdp *c, const struct cmd_part *p, struct api_err *e)
{
	if (!p->desc.n_disk && !p->desc.n_nic)
		return 0;
	return place_sync(c, p->id, 1, e);
}

void cmd_place_sync(struct cmdp *c)
{
	struct api_err e = {"internal", ""};

	place_sync(c, 0, 0, &e);
}
