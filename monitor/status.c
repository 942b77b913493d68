/* SPDX-License-Identifier: MIT */
/*
 * Partition state as the monitor reports it: a state file replaced atomically on every change
 * (for readers that only poll) and an event on every watching control connection.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "desc.h"
#include "monitor.h"

json_object *mon_status_json(const struct monitor *m)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(m->desc->name));
	json_object_object_add(o, "state", json_object_new_string(uv_state_name(m->state)));
	json_object_object_add(o, "reason", json_object_new_string(m->reason));
	json_object_object_add(o, "accel", json_object_new_string(uv_accel_name(m->accel)));
	json_object_object_add(o, "vcpus", json_object_new_int((int)m->desc->vcpus));
	json_object_object_add(o, "memory_mib",
	                       json_object_new_int64((int64_t)(m->desc->mem_bytes >> 20)));
	json_object_object_add(o, "qemu_pid", json_object_new_int(m->qemu_pid));
	json_object_object_add(o, "monitor_pid", json_object_new_int(getpid()));
	json_object_object_add(o, "started", json_object_new_int64(m->started));
	json_object_object_add(o, "cpu_share", json_object_new_double(m->cpu_share_milli / 1000.0));
	json_object_object_add(o, "cpus_pinned", json_object_new_string(m->cpus_pinned));
	json_object_object_add(o, "console", json_object_new_string(m->paths.console));
	json_object_object_add(o, "console_log", json_object_new_string(m->paths.console_log));
	/* Who the engine runs as (engine_cred.c); -1 while none runs or it is not known yet. */
	json_object_object_add(
	    o, "engine_uid",
	    json_object_new_int64(m->engine_uid == (uid_t)-1 ? -1 : (int64_t)m->engine_uid));
	return o;
}

static void write_state_file(const struct monitor *m, json_object *o)
{
	char tmp[160];
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", m->paths.state);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, s, len) == (ssize_t)len && write(fd, "\n", 1) == 1) {
		close(fd);
		rename(tmp, m->paths.state);
		return;
	}
	close(fd);
	unlink(tmp);
}

void mon_status_save(const struct monitor *m)
{
	json_object *st = mon_status_json(m);

	write_state_file(m, st);
	json_object_put(st);
}

void mon_set_state(struct monitor *m, enum uv_part_state s, const char *reason)
{
	json_object *st, *ev;

	if (m->state == s && !strcmp(m->reason, reason ? reason : ""))
		return;
	m->state = s;
	snprintf(m->reason, sizeof(m->reason), "%s", reason ? reason : "");
	st = mon_status_json(m);
	write_state_file(m, st);
	fprintf(stderr, "monitor[%s]: %s%s%s\n", m->desc->name, uv_state_name(s),
	        m->reason[0] ? ": " : "", m->reason);
	ev = json_object_new_object();
	json_object_object_add(ev, "event", json_object_new_string("state"));
	json_object_object_add(ev, "timestamp", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(ev, "data", st);
	mon_ctl_broadcast(m, ev);
	json_object_put(ev);
	mon_uv_report(m, s);
}
