/* SPDX-License-Identifier: MIT */
/*
 * Monitors are system software too (claim 5): a monitor that dies while its guest runs is
 * restarted, and the new one re-attaches to the running engine; one that died with its engine
 * is recorded crashed. The command partition started them, so it watches them, once a second,
 * from the database and the monitors' state files.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "command.h"

int cmd_pid_alive(pid_t pid)
{
	char path[64], buf[256];
	FILE *f;
	bool up = false;

	if (pid <= 0 || kill(pid, 0) != 0)
		return false;
	/* A zombie is dead for our purposes. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (f) {
		const char *s = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		up = s && s[1] == ' ' && s[2] != 'Z';
		fclose(f);
	}
	return up;
}

/* Monitor and engine both gone, and nobody said so (they died together, or with the host):
 * record the crash, so the partition can be started again (policy.c settles it) and the
 * operations partition restarts it if it is an autostart one. */
static int report_gone(struct cmdp *c, const struct cmd_part *p)
{
	struct api_err e;
	struct uv_txn t;

	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_SET_STATE;
	t.u.state.partition_id = p->id;
	t.u.state.state = UV_STATE_CRASHED;
	if (cmd_uv_submit(c, &t, "record the crash", &e))
		fprintf(stderr, "ultra-command: partition %s: %s\n", p->desc.name, e.message);
	else
		fprintf(stderr,
		        "ultra-command: partition %s: its monitor and engine are gone: "
		        "crashed\n",
		        p->desc.name);
	return 0;
}

static int check_one(const struct cmd_part *p, void *ctx)
{
	struct cmdp *c = ctx;
	json_object *st, *v;
	pid_t monitor = 0, qemu = 0;
	struct api_err e;
	pid_t pid;

	if (p->id < CMD_FIRST_GUEST ||
	    (p->rec.state != UV_STATE_RUNNING && p->rec.state != UV_STATE_PAUSED &&
	     p->rec.state != UV_STATE_INCOMING && p->rec.state != UV_STATE_MIGRATING))
		return 0;
	/* No state file for a running partition: its run directory went with the host. */
	st = cmd_monitor_status(c, p->desc.name);
	if (st && json_object_object_get_ex(st, "monitor_pid", &v))
		monitor = (pid_t)json_object_get_int(v);
	if (st && json_object_object_get_ex(st, "qemu_pid", &v))
		qemu = (pid_t)json_object_get_int(v);
	json_object_put(st);
	if (cmd_pid_alive(monitor))
		return 0; /* a dead engine is its monitor's to report, not ours to revive */
	if (!cmd_pid_alive(qemu))
		return report_gone(c, p);
	if (cmd_monitor_spawn(c, p->id, p->desc.name, &pid, &e) == 0)
		fprintf(stderr, "ultra-command: partition %s: monitor %d died, restarted as %d\n",
		        p->desc.name, (int)monitor, (int)pid);
	else
		fprintf(stderr, "ultra-command: partition %s: restarting its monitor: %s\n",
		        p->desc.name, e.message);
	return 0;
}

void cmd_watch_monitors(struct cmdp *c) { cmd_view_each(c, check_one, c); }
