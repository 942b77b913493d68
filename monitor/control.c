/* SPDX-License-Identifier: MIT */
/*
 * The monitor's control socket: one JSON object per line each way, in the spirit of QMP.
 *   {"execute":"status"}                     -> {"return":{...state...}}
 *   {"execute":"watch"}                      -> {"return":{}} then {"event":"state",...} lines
 *   {"execute":"pause"} / {"execute":"resume"}
 *   {"execute":"stop","arguments":{"timeout":S}}  graceful (ACPI power button), forced after S s
 *   {"execute":"destroy"}                    forced stop
 *   {"execute":"dump-memory","arguments":{"path":P}}  guest RAM as QEMU sees it, into file P
 *   {"execute":"set-cpu-share","arguments":{"cpu_share":X}}  X host CPUs from now on (0: no limit)
 *   {"execute":"set-disk-limits","arguments":{"disk":K,"iops":N,"bytes_per_sec":B,
 *                                            "read_iops":N,...}} direct disk K's limit from now
 *                                            on (left out or 0: none of that kind)
 *   {"execute":"migrate","arguments":{"uri":"unix:PATH"}}  send the guest to a target's stream
 *   {"execute":"migrate","arguments":{"uri":"tls://H:P","token":T,"tls":{...}}}  through its
 * gateway
 *   {"execute":"migrate-status"}             QEMU's query-migrate, read (docs/migration.md)
 *   {"execute":"migrate-cancel"}             stop sending; the guest runs on here
 * Errors: {"error":"sentence"}.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "desc.h"
#include "disk_limit.h"
#include "migrate.h"
#include "monitor.h"
#include "unixsock.h"

int mon_ctl_listen(struct monitor *m)
{
	int fd = uv_unix_listen(m->paths.ctl, SOCK_STREAM | SOCK_NONBLOCK, 8);

	if (fd < 0)
		return fd;
	m->ctl_fd = fd;
	return 0;
}

static void client_close(struct monitor *m, struct mon_client *c)
{
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->watching = false;
	c->len = 0;
}

static void send_json(struct monitor *m, struct mon_client *c, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s);

	/* A client that cannot take a short line right now is too slow to keep: drop it rather
	 * than let it stall the monitor. */
	if (send(c->fd, s, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len ||
	    send(c->fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
		client_close(m, c);
}

void mon_ctl_broadcast(struct monitor *m, json_object *event)
{
	for (int i = 0; i < MON_CLIENTS_MAX; i++)
		if (m->clients[i].fd >= 0 && m->clients[i].watching)
			send_json(m, &m->clients[i], event);
}

void mon_ctl_accept(struct monitor *m)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int fd, i;

	fd = accept4(m->ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (i = 0; i < MON_CLIENTS_MAX && m->clients[i].fd >= 0; i++)
		;
	if (i == MON_CLIENTS_MAX) {
		static const char busy[] = "{\"error\":\"too many control connections\"}\n";
		if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* it is being turned away either way */
		}
		close(fd);
		return;
	}
	m->clients[i].fd = fd;
	m->clients[i].len = 0;
	m->clients[i].watching = false;
	ev.data.ptr = &m->clients[i];
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		client_close(m, &m->clients[i]);
}

__attribute__((format(printf, 1, 2))) static json_object *error_reply(const char *fmt, ...)
{
	char buf[512];
	json_object *o = json_object_new_object();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "error", json_object_new_string(buf));
	return o;
}

static json_object *ok_reply(json_object *ret)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "return", ret ? ret : json_object_new_object());
	return o;
}

static bool engine_up(const struct monitor *m)
{
	return m->qmp && (m->state == UV_STATE_RUNNING || m->state == UV_STATE_PAUSED ||
	                  m->state == UV_STATE_STOPPING || m->state == UV_STATE_MIGRATING ||
	                  m->state == UV_STATE_INCOMING);
}

static json_object *do_qmp(struct monitor *m, const char *cmd, json_object *args)
{
	char err[256];

	if (!engine_up(m))
		return error_reply("partition is not running (%s)", "no engine");
	if (qmp_execute(m->qmp, cmd, args, NULL, err, sizeof(err)))
		return error_reply("%s", err);
	return ok_reply(NULL);
}

static json_object *do_dump(struct monitor *m, json_object *args)
{
	json_object *path;
	char err[512];

	if (!args || !json_object_object_get_ex(args, "path", &path) ||
	    !json_object_is_type(path, json_type_string))
		return error_reply("dump-memory: %s", "arguments.path (string) is required");
	if (!engine_up(m))
		return error_reply("partition is not running (%s)", "no engine");
	if (mon_engine_dump(m, json_object_get_string(path), err, sizeof(err)))
		return error_reply("dump-memory: %s", err);
	return ok_reply(NULL);
}

static json_object *do_cpu_share(struct monitor *m, json_object *args)
{
	json_object *v;
	char err[512];
	double x;

	if (!args || !json_object_object_get_ex(args, "cpu_share", &v) ||
	    !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		return error_reply("set-cpu-share: %s", "arguments.cpu_share (number) is required");
	x = json_object_get_double(v);
	/* The same bounds as a definition's: no more CPU than the partition's vCPUs can use. */
	if (!(x >= 0 && x <= m->desc->vcpus) || (x > 0 && x < 0.001))
		return error_reply("set-cpu-share: cpu_share %g is out of range 0 or 0.001..%u", x,
		                   m->desc->vcpus);
	if (m->qemu_pid <= 0)
		return error_reply("partition is not running (%s)", "no engine");
	if (mon_cpu_set(m, (uint32_t)(x * 1000.0 + 0.5), err, sizeof(err)))
		return error_reply("set-cpu-share: %s", err);
	mon_status_save(m);
	return ok_reply(mon_status_json(m));
}

/* A whole number in 0..max, or -1. */
static long long arg_uint(json_object *args, const char *key, unsigned long long max)
{
	json_object *v;
	long long x;

	if (!args || !json_object_object_get_ex(args, key, &v))
		return 0; /* left out: none of that kind */
	if (!json_object_is_type(v, json_type_int))
		return -1;
	x = json_object_get_int64(v);
	return x < 0 || (unsigned long long)x > max ? -1 : x;
}

static json_object *do_disk_limits(struct monitor *m, json_object *args)
{
	struct uv_disk_limit lim = {0};
	long long k = -1, x;
	json_object *v;
	char err[600];

	if (args && json_object_object_get_ex(args, "disk", &v) &&
	    json_object_is_type(v, json_type_int))
		k = json_object_get_int64(v);
	if (k < 0 || k >= UV_DISKS_MAX)
		return error_reply("set-disk-limits: arguments.disk: expected a disk index 0..%d",
		                   UV_DISKS_MAX - 1);
	for (unsigned i = 0; i < UV_DISK_LIMIT_KEYS; i++) {
		if ((x = arg_uint(args, uv_disk_limit_key(i), uv_disk_limit_max(i))) < 0)
			return error_reply("set-disk-limits: %s: expected a whole number >= 0 (0: "
			                   "none)",
			                   uv_disk_limit_key(i));
		uv_disk_limit_set(&lim, i, (uint64_t)x);
	}
	if (mon_blkio_set(m, (unsigned)k, &lim, err, sizeof(err)))
		return error_reply("set-disk-limits: %s", err);
	mon_status_save(m);
	return ok_reply(mon_status_json(m));
}

static json_object *do_migrate(struct monitor *m, const char *cmd, json_object *args)
{
	struct uv_mig_progress p;
	json_object *uri, *o;
	char err[512];

	if (!strcmp(cmd, "migrate")) {
		if (!args || !json_object_object_get_ex(args, "uri", &uri) ||
		    !json_object_is_type(uri, json_type_string))
			return error_reply("migrate: %s", "arguments.uri (string) is required");
		if (!strncmp(json_object_get_string(uri), "tls://", 6)
		        ? mon_mig_start_net(m, args, err, sizeof(err))
		        : mon_mig_start(m, json_object_get_string(uri), err, sizeof(err)))
			return error_reply("migrate: %s", err);
		return ok_reply(NULL);
	}
	if (!strcmp(cmd, "migrate-cancel")) {
		if (mon_mig_cancel(m, err, sizeof(err)))
			return error_reply("migrate-cancel: %s", err);
		return ok_reply(NULL);
	}
	if (!engine_up(m))
		return error_reply("partition is not running (%s)", "no engine");
	if (mon_mig_query(m, &p, err, sizeof(err)))
		return error_reply("migrate-status: %s", err);
	o = uv_mig_progress_json(&p);
	json_object_object_add(o, "state", json_object_new_string(uv_state_name(m->state)));
	return ok_reply(o);
}

static json_object *handle(struct monitor *m, struct mon_client *c, json_object *req)
{
	json_object *exe, *args = NULL;
	const char *cmd;
	char err[256];

	if (!json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "execute", &exe) ||
	    !json_object_is_type(exe, json_type_string))
		return error_reply("%s", "expected {\"execute\": NAME, \"arguments\": {...}}");
	json_object_object_get_ex(req, "arguments", &args);
	cmd = json_object_get_string(exe);
	if (!strcmp(cmd, "status"))
		return ok_reply(mon_status_json(m));
	if (!strcmp(cmd, "watch")) {
		c->watching = true;
		return ok_reply(NULL);
	}
	/* Only from the state each belongs to: a migration stops and starts its guest itself, and
	 * a `cont` on an incoming engine would run a guest whose memory has not arrived. */
	if (!strcmp(cmd, "pause"))
		return m->state == UV_STATE_RUNNING
		           ? do_qmp(m, "stop", NULL)
		           : error_reply("partition is %s: only a running one pauses",
		                         uv_state_name(m->state));
	if (!strcmp(cmd, "resume"))
		return m->state == UV_STATE_PAUSED
		           ? do_qmp(m, "cont", NULL)
		           : error_reply("partition is %s: only a paused one resumes",
		                         uv_state_name(m->state));
	if (!strcmp(cmd, "dump-memory"))
		return do_dump(m, args);
	if (!strcmp(cmd, "set-cpu-share"))
		return do_cpu_share(m, args);
	if (!strcmp(cmd, "set-disk-limits"))
		return do_disk_limits(m, args);
	if (!strcmp(cmd, "migrate") || !strcmp(cmd, "migrate-status") ||
	    !strcmp(cmd, "migrate-cancel"))
		return do_migrate(m, cmd, args);
	if (!strcmp(cmd, "stop")) {
		json_object *t;
		int timeout = 30;
		if (args && json_object_object_get_ex(args, "timeout", &t))
			timeout = json_object_get_int(t);
		if (mon_engine_stop(m, timeout, err, sizeof(err)))
			return error_reply("%s", err);
		return ok_reply(NULL);
	}
	if (!strcmp(cmd, "destroy")) {
		if (mon_engine_destroy(m))
			return error_reply("%s", "partition is not running");
		return ok_reply(NULL);
	}
	return error_reply("unknown command \"%s\"", cmd);
}

void mon_ctl_client_io(struct monitor *m, struct mon_client *c)
{
	ssize_t n;
	char *nl;

	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_close(m, c);
		return;
	}
	if (n < 0)
		return;
	c->len += (size_t)n;
	while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len))) {
		size_t used = (size_t)(nl - c->buf) + 1;
		json_object *req, *reply;

		*nl = 0;
		req = json_tokener_parse(c->buf);
		reply = req ? handle(m, c, req) : error_reply("%s", "request is not valid JSON");
		json_object_put(req);
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
		send_json(m, c, reply);
		json_object_put(reply);
	}
	if (c->fd >= 0 && c->len == sizeof(c->buf) - 1) {
		json_object *reply = error_reply("%s", "request line too long");
		send_json(m, c, reply);
		json_object_put(reply);
		if (c->fd >= 0)
			client_close(m, c);
	}
}
