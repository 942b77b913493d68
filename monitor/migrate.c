/* SPDX-License-Identifier: MIT */
/*
 * Live migration, the monitor's part (claim 44, docs/migration.md). The engine never reaches the
 * other host itself: it has no network and no folder to open a socket in (seccomp, its own uid).
 * The monitors make the connection and lend it to their QEMUs over QMP:
 *
 *   target (--incoming)  QEMU -incoming defer; binds RUN/partitions/NAME/migrate.sock; on the
 *                        source's connect: getfd migin + migrate-incoming fd:migin; on
 *                        MIGRATION completed: cont, running
 *   source (migrate)     connects to the target's socket; getfd migout + migrate fd:migout;
 *                        MIGRATION completed: the engine waits (postmigrate) for its owner to
 *                        destroy it; failed or cancelled: the guest runs on here (cont if QEMU
 *                        did not resume it)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "desc.h"
#include "migrate.h"
#include "monitor.h"
#include "unixsock.h"

static int capabilities(struct monitor *m, char *err, size_t errlen)
{
	json_object *a = json_object_new_object(), *caps = json_object_new_array(),
		    *ev = json_object_new_object();
	int r;

	/* MIGRATION events tell the monitor where the stream is without polling. */
	json_object_object_add(ev, "capability", json_object_new_string("events"));
	json_object_object_add(ev, "state", json_object_new_boolean(1));
	json_object_array_add(caps, ev);
	json_object_object_add(a, "capabilities", caps);
	r = qmp_execute(m->qmp, "migrate-set-capabilities", a, NULL, err, errlen);
	json_object_put(a);
	return r;
}

/* Lends fd to QEMU under name, then has it run cmd on "fd:name". */
static int lend_and_run(struct monitor *m, int fd, const char *name, const char *cmd, char *err,
                        size_t errlen)
{
	json_object *a = json_object_new_object();
	char uri[32];
	int r;

	json_object_object_add(a, "fdname", json_object_new_string(name));
	r = qmp_execute_fd(m->qmp, "getfd", a, fd, NULL, err, errlen);
	json_object_put(a);
	if (r)
		return r;
	snprintf(uri, sizeof(uri), "fd:%s", name);
	a = json_object_new_object();
	json_object_object_add(a, "uri", json_object_new_string(uri));
	r = qmp_execute(m->qmp, cmd, a, NULL, err, errlen);
	json_object_put(a);
	return r;
}

int mon_mig_listen(struct monitor *m, char *err, size_t errlen)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &m->mig_listen};
	int r;

	if ((r = capabilities(m, err, errlen)))
		return r;
	m->mig_listen = uv_unix_listen(m->paths.mig, SOCK_STREAM | SOCK_NONBLOCK, 1);
	if (m->mig_listen < 0) {
		r = m->mig_listen;
		snprintf(err, errlen, "binding %s: %s", m->paths.mig, strerror(-r));
		return r;
	}
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->mig_listen, &ev) < 0) {
		r = -errno;
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return r;
	}
	mon_set_state(m, UV_STATE_INCOMING, "waiting for the memory stream");
	return 0;
}

static void stop_listening(struct monitor *m)
{
	if (m->mig_listen < 0)
		return;
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->mig_listen, NULL);
	close(m->mig_listen);
	m->mig_listen = -1;
	unlink(m->paths.mig);
}

void mon_mig_accept(struct monitor *m)
{
	char err[256];
	int fd = accept4(m->mig_listen, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* One stream per incoming engine: nobody else gets in once the source is connected. */
	if (lend_and_run(m, fd, "migin", "migrate-incoming", err, sizeof(err))) {
		fprintf(stderr, "monitor[%s]: %s\n", m->desc->name, err);
		close(fd);
		return;
	}
	close(fd); /* QEMU holds it now */
	stop_listening(m);
	mon_set_state(m, UV_STATE_INCOMING, "receiving the memory stream");
}

/* Lends fd, a connected stream to the target, to QEMU and starts sending; peer names it. The
 * caller keeps and closes its copy of fd. */
int mon_mig_send(struct monitor *m, int fd, const char *peer, char *err, size_t errlen)
{
	json_object *a;
	int r;

	if ((r = capabilities(m, err, errlen)))
		return r;
	/* QEMU's default (128 MiB/s) is for a shared network; the stream here is a socket. */
	a = json_object_new_object();
	json_object_object_add(a, "max-bandwidth", json_object_new_int64(1ll << 30));
	r = qmp_execute(m->qmp, "migrate-set-parameters", a, NULL, err, errlen);
	json_object_put(a);
	if (r)
		return r;
	m->mig_status[0] = 0;
	m->mig_done = false;
	snprintf(m->mig_peer, sizeof(m->mig_peer), "%s", peer);
	if ((r = lend_and_run(m, fd, "migout", "migrate", err, errlen)))
		return r;
	mon_set_state(m, UV_STATE_MIGRATING, "sending the memory stream");
	return 0;
}

int mon_mig_start(struct monitor *m, const char *uri, char *err, size_t errlen)
{
	const char *path;
	int fd, r;

	if (strncmp(uri, "unix:", 5) || uri[5] != '/' || strlen(uri + 5) >= UV_MIG_PATH_MAX) {
		snprintf(err, errlen, "uri: expected unix:/ABSOLUTE/PATH of the target's stream");
		return -EINVAL;
	}
	if (m->state != UV_STATE_RUNNING || !m->qmp) {
		snprintf(err, errlen, "partition is %s, not running", uv_state_name(m->state));
		return -EBUSY;
	}
	path = uri + 5;
	fd = uv_unix_connect(path, SOCK_STREAM);
	if (fd < 0) {
		snprintf(err, errlen, "connecting to the target's stream %s: %s", path,
		         strerror(-fd));
		return fd;
	}
	r = mon_mig_send(m, fd, path, err, errlen);
	close(fd);
	return r;
}

int mon_mig_query(struct monitor *m, struct uv_mig_progress *p, char *err, size_t errlen)
{
	json_object *ret = NULL;
	int r;

	if (!m->qmp) {
		snprintf(err, errlen, "partition is not running (no engine)");
		return -ESRCH;
	}
	if ((r = qmp_execute(m->qmp, "query-migrate", NULL, &ret, err, errlen)))
		return r;
	r = uv_mig_progress_parse(ret, p);
	json_object_put(ret);
	if (r)
		snprintf(err, errlen, "query-migrate: an answer that does not parse");
	return r;
}

/* The stream failed or was cancelled: the guest stays here. QEMU resumes a guest that was
 * running when it paused it for the switchover; if it did not, the monitor does. */
static void source_failed(struct monitor *m)
{
	struct uv_mig_progress p = {.status = ""};
	json_object *st = NULL, *run;
	char err[256], reason[MON_REASON_MAX];

	mon_mig_query(m, &p, err, sizeof(err));
	if (qmp_execute(m->qmp, "query-status", NULL, &st, err, sizeof(err)) == 0 &&
	    json_object_object_get_ex(st, "running", &run) && !json_object_get_boolean(run) &&
	    qmp_execute(m->qmp, "cont", NULL, NULL, err, sizeof(err)))
		fprintf(stderr, "monitor[%s]: resuming after the failed migration: %s\n",
		        m->desc->name, err);
	json_object_put(st);
	snprintf(reason, sizeof(reason), "migration %s%s%.180s; the guest runs here", m->mig_status,
	         p.error[0] ? ": " : "", p.error);
	mon_set_state(m, UV_STATE_RUNNING, reason);
}

void mon_mig_step(struct monitor *m)
{
	char err[256];

	if (!m->mig_event || !m->qmp)
		return;
	m->mig_event = false;
	if (m->state == UV_STATE_INCOMING && !strcmp(m->mig_status, "completed")) {
		/* The guest's state is all here: it runs on from where the source stopped it. */
		if (qmp_execute(m->qmp, "cont", NULL, NULL, err, sizeof(err)))
			fprintf(stderr, "monitor[%s]: %s\n", m->desc->name, err);
		else
			mon_set_state(m, UV_STATE_RUNNING, "migrated in");
	} else if (m->state == UV_STATE_MIGRATING && !strcmp(m->mig_status, "completed")) {
		/* The engine waits, stopped, for its owner to confirm the target runs and destroy
		 * it, or to resume it if the target failed after all. */
		m->mig_done = true;
		mon_set_state(m, UV_STATE_MIGRATING, "completed: the target has the guest");
	} else if (m->state == UV_STATE_MIGRATING &&
	           (!strcmp(m->mig_status, "failed") || !strcmp(m->mig_status, "cancelled"))) {
		source_failed(m);
	}
}

int mon_mig_cancel(struct monitor *m, char *err, size_t errlen)
{
	int r;

	if (m->state != UV_STATE_MIGRATING || !m->qmp) {
		snprintf(err, errlen, "partition is %s, not migrating", uv_state_name(m->state));
		return -EBUSY;
	}
	/* Still streaming: QEMU stops, reports "cancelled" and the event resumes the guest. */
	if (!m->mig_done)
		return qmp_execute(m->qmp, "migrate_cancel", NULL, NULL, err, errlen);
	/* Completed: QEMU waits in postmigrate, from which cont runs the guest again. The owner
	 * asks this only once the target's copy is gone. */
	if ((r = qmp_execute(m->qmp, "cont", NULL, NULL, err, errlen)))
		return r;
	m->mig_done = false;
	mon_set_state(m, UV_STATE_RUNNING, "migration abandoned; the guest runs here");
	return 0;
}
