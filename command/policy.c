/* SPDX-License-Identifier: MIT */
/*
 * The allocation policy (claims 6, 9, 34): which partition number, how much memory, which CPU
 * share, each decided on the read-only database and carried out as transactions.
 *
 *   define    lowest free number >= 10; CREATE_PARTITION (state defined, nothing granted)
 *   start     GRANT_MEMORY of the definition's size (one grant); CREATE_CHANNEL for the channels
 *             the definitions ask for (chans.c); its disks and NICs exported by the I/O
 *             partition and granted, ASSIGN_DEVICE (place.c); then the partition's monitor
 *   undefine  DESTROY_CHANNEL of its channels, REVOKE_MEMORY of every block it owns,
 *             DESTROY_PARTITION
 *   set-cpu-share  SET_CPU_SHARE, at most its vCPUs (the operations partition's schedules)
 *   set-disk-limits  SET_DISK_LIMITS, then the running enforcer (limits.c)
 *
 * A crashed guest is settled (SET_STATE STOPPED, keeping its memory) before start or undefine.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "desc.h"

bool cmd_state_active(uint32_t state)
{
	return state == UV_STATE_STARTING || state == UV_STATE_RUNNING ||
	       state == UV_STATE_PAUSED || state == UV_STATE_STOPPING ||
	       state == UV_STATE_INCOMING || state == UV_STATE_MIGRATING;
}

struct image_ctx {
	const struct uv_partition_desc *d;
	struct api_err *e;
};

/* An image is one partition's disk: two guests writing one file system would wreck it. */
static int image_taken(const struct cmd_part *p, void *ctx)
{
	struct image_ctx *x = ctx;

	for (uint32_t i = 0; i < x->d->n_disk; i++)
		for (uint32_t j = 0; j < p->desc.n_disk && j < UV_DISKS_MAX; j++)
			if (!strncmp(x->d->disk[i].image, p->desc.disk[j].image, UV_PATH_MAX))
				return api_fail(
				    x->e, "invalid-definition",
				    "disks[%u].image: %s is a disk of partition %s already", i,
				    x->d->disk[i].image, p->desc.name);
	return 0;
}

int cmd_define(struct cmdp *c, json_object *def, const char *base_dir, struct cmd_part *out,
               struct api_err *e)
{
	struct image_ctx ix = {NULL, e};
	struct uv_partition_desc d;
	struct cmd_part old = {0};
	struct uv_txn t;
	char err[480];
	uint32_t id;

	if (uv_desc_from_json(json_object_to_json_string(def), base_dir, &d, err, sizeof(err)) ||
	    uv_desc_validate(&d, 1, err, sizeof(err)))
		return api_fail(e, "invalid-definition", "%s", err);
	for (uint32_t i = 0; i < d.n_dev && i < UV_DEVICES_MAX; i++)
		if (d.dev[i].kind == UV_DEV_DIRECT_BLK) /* the I/O partition must know of it */
			return api_fail(
			    e, "invalid-definition",
			    "devices[%u].kind: direct-blk is granted by placement only: "
			    "ask for it with disks[].direct",
			    i);
	/* A direct disk's limit the host can already tell it could not enforce is refused now,
	 * not at the first start (docs/io-partition.md, "Changing a limit"). */
	for (uint32_t i = 0; i < d.n_disk && i < UV_DISKS_MAX; i++)
		if (cmd_limit_check(&d, i, &d.disk_limit[i], e)) {
			e->code = "invalid-definition";
			return -1;
		}
	if (cmd_view_find(c, d.name, &old) == 0)
		return api_fail(e, "exists", "a partition named %s is already defined (number %u)",
		                d.name, old.id);
	ix.d = &d;
	if (cmd_view_each(c, image_taken, &ix))
		return -1;
	if (cmd_view_free_id(c, &id))
		return api_fail(e, "no-space", "no free partition number");
	d.id = id;
	d.state = UV_STATE_DEFINED;
	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_CREATE_PARTITION;
	t.u.create = d;
	if (cmd_uv_submit(c, &t, "create partition", e))
		return -1;
	if (cmd_view_find(c, d.name, out))
		return api_fail(e, "internal", "partition %s vanished after its creation", d.name);
	return 0;
}

/* Every block the partition owns goes back to the pool, in as few records as fit. */
static int revoke_all(struct cmdp *c, uint32_t id, struct api_err *e)
{
	struct uv_txn_extent ext[64];
	struct uv_txn t;
	unsigned n = 0, i;
	int r;

	if ((r = cmd_view_extents(c, id, ext, 64, &n)) && r != -E2BIG)
		return api_fail(e, "internal", "reading partition %u's memory: %s", id,
		                strerror(-r));
	if (!n)
		return 0;
	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_REVOKE_MEMORY;
	t.u.memory.partition_id = id;
	t.u.memory.n_extents = n;
	for (i = 0; i < n; i++)
		t.u.memory.bytes += ext[i].size;
	t.extents = ext;
	if (cmd_uv_submit(c, &t, "revoke memory", e))
		return -1;
	return r == -E2BIG ? revoke_all(c, id, e) : 0;
}

/* A guest whose engine died is recorded CRASHED and PRESERVED, its memory kept for it. Its
 * owner starting or undefining it is the decision not to wait for anything more: it is settled
 * as stopped first (claims 5, 52). */
static int settle_crashed(struct cmdp *c, struct cmd_part *p, struct api_err *e)
{
	struct uv_txn t;

	if (p->id < CMD_FIRST_GUEST || p->rec.status != UV_RESDB_PRESERVED ||
	    p->rec.state != UV_STATE_CRASHED)
		return 0;
	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_SET_STATE;
	t.u.state.partition_id = p->id;
	t.u.state.state = UV_STATE_STOPPED;
	if (cmd_uv_submit(c, &t, "settle the crashed partition", e))
		return -1;
	if (cmd_view_find(c, p->desc.name, p))
		return api_fail(e, "internal", "partition %s vanished while settling",
		                p->desc.name);
	return 0;
}

int cmd_undefine(struct cmdp *c, const char *name, struct api_err *e)
{
	struct cmd_part p = {0};
	struct uv_txn t;

	if (cmd_view_find(c, name, &p))
		return api_fail(e, "no-such-partition", "no partition named %s", name);
	if (settle_crashed(c, &p, e))
		return -1;
	if (cmd_state_active(p.rec.state) || p.rec.status != UV_RESDB_LIVE)
		return api_fail(e, "busy", "partition %s is %s: stop or destroy it first", name,
		                uv_state_name(p.rec.state));
	if (p.rec.n_channels && cmd_chans_drop(c, p.id, e))
		return -1;
	if (p.rec.mem_bytes && revoke_all(c, p.id, e))
		return -1;
	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_DESTROY_PARTITION;
	t.u.partition.partition_id = p.id;
	return cmd_uv_submit(c, &t, "destroy partition", e);
}

static int grant(struct cmdp *c, const struct cmd_part *p, struct api_err *e)
{
	struct uv_txn t;

	/* The monitor needs exactly one grant of the descriptor's size. */
	if (p->rec.mem_bytes == p->desc.mem_bytes)
		return 0;
	if (p->rec.mem_bytes && revoke_all(c, p->id, e))
		return -1;
	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_GRANT_MEMORY;
	t.u.memory.partition_id = p->id;
	t.u.memory.bytes = p->desc.mem_bytes;
	return cmd_uv_submit(c, &t, "grant memory", e);
}

/* The monitor's first words: its state file, or its death. The reason is in its log. */
static int wait_monitor(struct cmdp *c, const struct cmd_part *p, pid_t pid, struct api_err *e)
{
	const char *name = p->desc.name;
	char tail[400];
	struct timespec ts = {0, 20 * 1000 * 1000};
	json_object *st, *v;
	const char *state;
	int i;

	for (i = 0; i < 500; i++) {
		st = cmd_monitor_status(c, name);
		if (st && json_object_object_get_ex(st, "state", &v)) {
			state = json_object_get_string(v);
			if (!strcmp(state, "crashed") || !strcmp(state, "stopped")) {
				api_fail(e, "monitor", "partition %s did not start: %s", name,
				         json_object_object_get_ex(st, "reason", &v)
				             ? json_object_get_string(v)
				             : state);
				json_object_put(st);
				return -1;
			}
			json_object_put(st);
			return 0;
		}
		json_object_put(st);
		if (kill(pid, 0) < 0 && errno == ESRCH)
			break;
		nanosleep(&ts, NULL);
	}
	cmd_monitor_log_tail(c, p->id, tail, sizeof(tail));
	return api_fail(e, "monitor", "partition %s: its monitor %s: %s", name,
	                i < 500 ? "exited" : "did not report within 10 s",
	                tail[0] ? tail : "no output");
}

static int start_as(struct cmdp *c, const char *name, bool incoming, struct cmd_part *out,
                    struct api_err *e)
{
	struct cmd_part p = {0};
	pid_t pid;

	if (cmd_view_find(c, name, &p))
		return api_fail(e, "no-such-partition", "no partition named %s", name);
	if (settle_crashed(c, &p, e))
		return -1;
	if (cmd_state_active(p.rec.state) || p.rec.status != UV_RESDB_LIVE)
		return api_fail(e, "busy", "partition %s is already %s", name,
		                uv_state_name(p.rec.state));
	if (grant(c, &p, e))
		return -1;
	if (cmd_chans_start(c, &p, e) || cmd_place_start(c, &p, e)) {
		cmd_place_sync(c); /* not started: whatever was placed is taken back */
		return -1;
	}
	if (cmd_monitor_spawn_as(c, p.id, name, incoming, &pid, e) || wait_monitor(c, &p, pid, e))
		return -1;
	if (cmd_view_find(c, name, out))
		*out = p;
	return 0;
}

int cmd_start(struct cmdp *c, const char *name, struct cmd_part *out, struct api_err *e)
{
	return start_as(c, name, false, out, e);
}

int cmd_start_incoming(struct cmdp *c, const char *name, struct cmd_part *out, struct api_err *e)
{
	return start_as(c, name, true, out, e);
}

int cmd_set_cpu_share(struct cmdp *c, const char *name, uint32_t milli, struct cmd_part *out,
                      struct api_err *e)
{
	struct cmd_part p = {0};
	struct uv_txn t;

	if (cmd_view_find(c, name, &p))
		return api_fail(e, "no-such-partition", "no partition named %s", name);
	if (milli > p.desc.vcpus * 1000u)
		return api_fail(e, "bad-request", "cpu_share: %.3f is more than %s's %u vCPUs",
		                milli / 1000.0, name, p.desc.vcpus);
	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_SET_CPU_SHARE;
	t.u.cpu.partition_id = p.id;
	t.u.cpu.cpu_share_milli = milli;
	if (cmd_uv_submit(c, &t, "set CPU share", e))
		return -1;
	if (cmd_view_find(c, name, out))
		*out = p;
	return 0;
}
