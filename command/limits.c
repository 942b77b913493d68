/* SPDX-License-Identifier: MIT */
/*
 * A disk's I/O limit changed on a defined or running partition (claims 3, 7, 19, 59;
 * docs/io-partition.md, "Changing a limit"), like virsh blkdeviotune but as a transaction:
 *
 *   1. refused before anything is written when the host can already tell it could not enforce
 *      it (a direct disk with no io controller, or on a file system with no block device)
 *   2. SET_DISK_LIMITS: the stored descriptor, durable in the audit log
 *   3. a running partition's enforcer told at once: ultra-io's SET_LIMIT for a served disk, the
 *      monitor's set-disk-limits (the engine's io cgroup) for a direct one
 *   4. if that fails, a second SET_DISK_LIMITS puts the old limit back (rolled back, in the log
 *      too) and the request fails with the enforcer's reason; the old limit stayed in force
 *
 * The database leads and the enforcers follow it, so a step lost to a crash is made up: the
 * once-a-second placement sync sets ultra-io's limits to the database's (and a restarted
 * ultra-io gets its exports with them), a monitor follows its partition's record.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgio.h"
#include "command.h"
#include "desc.h"
#include "disk_limit.h"

int cmd_disk_named(const struct cmd_part *p, const char *id)
{
	const struct uv_partition_desc *d = &p->desc;
	char *end, copy[UV_PATH_MAX];
	unsigned long k;

	if (!id || !id[0])
		return -1;
	k = strtoul(id, &end, 10);
	if (!*end && id[0] >= '0' && id[0] <= '9')
		return k < d->n_disk && k < UV_DISKS_MAX ? (int)k : -1;
	for (unsigned i = 0; i < d->n_disk && i < UV_DISKS_MAX; i++) {
		snprintf(copy, sizeof(copy), "%s", d->disk[i].image);
		if (!strcmp(d->disk[i].image, id) || !strcmp(basename(copy), id))
			return (int)i;
	}
	return -1;
}

int cmd_limit_check(const struct uv_partition_desc *d, unsigned k, const struct uv_disk_limit *lim,
                    struct api_err *e)
{
	char why[480];

	if (!(d->disk[k].flags & UV_DISK_F_DIRECT) || uv_disk_limit_none(lim))
		return 0;
	if (uv_cg_io_enforceable("/proc/mounts", d->disk[k].image, "/sys", why, sizeof(why)))
		return api_fail(e, "cannot-enforce", "disks[%u].limits: %s", k, why);
	return 0;
}

/* The running partition's enforcer holds lim from now on. */
static int enforce(struct cmdp *c, const struct cmd_part *p, unsigned k,
                   const struct uv_disk_limit *lim, struct api_err *e)
{
	char path[UV_IOCTL_PATH_MAX + 4];
	json_object *args;
	int r;

	if (p->desc.disk[k].flags & UV_DISK_F_DIRECT) {
		args = json_object_new_object();
		json_object_object_add(args, "disk", json_object_new_int64(k));
		for (unsigned i = 0; i < UV_DISK_LIMIT_KEYS; i++)
			json_object_object_add(
			    args, uv_disk_limit_key(i),
			    json_object_new_int64((int64_t)uv_disk_limit_get(lim, i)));
		r = cmd_monitor_call(c, p->desc.name, "set-disk-limits", args, NULL, e);
		json_object_put(args);
		return r;
	}
	if ((r = cmd_place_path(c, p->desc.name, "disk", k, "sock", path, sizeof(path))))
		return api_fail(e, "io", "disks[%u]: %s", k, strerror(-r));
	r = cmd_io_set_limit(c, path, lim);
	if (r == -ENOENT)
		return 0; /* not exported right now: the sync exports it with the database's limit
		           */
	if (r == -EOPNOTSUPP)
		return api_fail(e, "io",
		                "disks[%u]: this ultra-io cannot change a limit live (it is older "
		                "than SET_LIMIT); restart it or the partition",
		                k);
	if (r == -EPROTONOSUPPORT)
		return api_fail(e, "io",
		                "disks[%u]: ultra-io speaks another io control version than this "
		                "command partition (read and write limits came with version %u); "
		                "run the same build of both",
		                k, UV_IOCTL_VERSION);
	if (r)
		return api_fail(e, "io", "disks[%u]: ultra-io could not change the limit on %s: %s",
		                k, path, strerror(-r));
	return 0;
}

static int submit(struct cmdp *c, uint32_t id, unsigned k, const struct uv_disk_limit *lim,
                  const char *what, struct api_err *e)
{
	struct uv_txn t;

	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_SET_DISK_LIMITS;
	t.u.disk_limits.partition_id = id;
	t.u.disk_limits.disk = k;
	t.u.disk_limits.limit = *lim;
	return cmd_uv_submit(c, &t, what, e);
}

/* Step 4: the enforcer refused, so the database goes back to what is still in force. */
static int roll_back(struct cmdp *c, const struct cmd_part *p, unsigned k,
                     const struct uv_disk_limit *old, struct api_err *e)
{
	struct api_err undo = {"internal", ""};
	char why[sizeof(e->message)], was[200];

	snprintf(why, sizeof(why), "%s", e->message);
	if (submit(c, p->id, k, old, "roll back the disk limit", &undo))
		return api_fail(e, e->code, "%s; and rolling the transaction back failed: %s", why,
		                undo.message);
	uv_disk_limit_describe(old, was, sizeof(was));
	return api_fail(e, e->code, "%s (rolled back: disks[%u] stays at %s)", why, k, was);
}

int cmd_set_disk_limits(struct cmdp *c, const char *name, const char *disk,
                        const int64_t want[UV_DISK_LIMIT_KEYS], struct cmd_part *out,
                        struct api_err *e)
{
	char at[32], why[400], now[200], was[200];
	struct uv_disk_limit old, lim;
	struct cmd_part p = {0};
	int k;

	if (cmd_view_find(c, name, &p))
		return api_fail(e, "no-such-partition", "no partition named %s", name);
	if ((k = cmd_disk_named(&p, disk)) < 0)
		return api_fail(e, "no-such-disk",
		                "partition %s has no disk %s (disks: 0..%d, or an image's path or "
		                "file name)",
		                name, disk, (int)p.desc.n_disk - 1);
	if (p.rec.status != UV_RESDB_LIVE)
		return api_fail(e, "busy", "partition %s is kept for its restart (%s): try again",
		                name, uv_state_name(p.rec.state));
	lim = old = p.desc.disk_limit[k];
	uv_disk_limit_change(&lim, want);
	snprintf(at, sizeof(at), "disks[%d]", k);
	if (uv_disk_limit_check(&lim, at, why, sizeof(why)))
		return api_fail(e, "bad-request", "%s", why);
	if (cmd_limit_check(&p.desc, (unsigned)k, &lim, e))
		return -1;
	if (submit(c, p.id, (unsigned)k, &lim, "set disk limits", e))
		return -1;
	if ((p.rec.state == UV_STATE_RUNNING || p.rec.state == UV_STATE_PAUSED) &&
	    enforce(c, &p, (unsigned)k, &lim, e))
		return roll_back(c, &p, (unsigned)k, &old, e);
	uv_disk_limit_describe(&lim, now, sizeof(now));
	uv_disk_limit_describe(&old, was, sizeof(was));
	fprintf(stderr, "ultra-command: partition %s: disks[%d] limit %s (was %s)\n", name, k, now,
	        was);
	if (cmd_view_find(c, name, out))
		*out = p;
	return 0;
}
