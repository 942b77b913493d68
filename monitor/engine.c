/* SPDX-License-Identifier: MIT */
/* Driving the execution engine through QMP, and concluding how it ended. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor.h"
#include "pidfd.h"

int mon_qmp_connect(struct monitor *m, int timeout_ms)
{
	/* The socket is bound before QEMU starts (or still bound by a running QEMU on re-attach),
	 * so one connect either reaches it or proves it gone; the greeting wait is bounded. */
	return qmp_open(m->paths.qmp, timeout_ms, mon_qmp_event, m, &m->qmp);
}

void mon_qmp_event(void *opaque, const char *event, json_object *data)
{
	struct monitor *m = opaque;
	json_object *reason;

	if (!strcmp(event, "STOP") && m->state == UV_STATE_RUNNING)
		mon_set_state(m, UV_STATE_PAUSED, "paused by request");
	else if (!strcmp(event, "RESUME") && m->state == UV_STATE_PAUSED)
		mon_set_state(m, UV_STATE_RUNNING, "");
	else if (!strcmp(event, "SHUTDOWN")) {
		const char *why = "shutdown";
		if (json_object_object_get_ex(data, "reason", &reason) &&
		    json_object_is_type(reason, json_type_string))
			why = json_object_get_string(reason);
		snprintf(m->shutdown_reason, sizeof(m->shutdown_reason), "%s", why);
		if (m->state != UV_STATE_STOPPING)
			mon_set_state(m, UV_STATE_STOPPING, why);
	} else if (!strcmp(event, "MIGRATION")) {
		json_object *st;
		if (data && json_object_object_get_ex(data, "status", &st) &&
		    json_object_is_type(st, json_type_string)) {
			snprintf(m->mig_status, sizeof(m->mig_status), "%s",
			         json_object_get_string(st));
			m->mig_event = true; /* acted on by the loop (migrate.c), not in here */
		}
	} else if (!strcmp(event, "GUEST_PANICKED")) {
		snprintf(m->shutdown_reason, sizeof(m->shutdown_reason), "guest-panicked");
	}
}

static int arm_timer(int tfd, int seconds)
{
	struct itimerspec its = {.it_value = {.tv_sec = seconds > 0 ? seconds : 1}};

	return timerfd_settime(tfd, 0, &its, NULL) < 0 ? -errno : 0;
}

int mon_engine_stop(struct monitor *m, int timeout_s, char *err, size_t errlen)
{
	int r;

	if (!m->qmp || m->qemu_pid <= 0) {
		snprintf(err, errlen, "partition is not running");
		return -ESRCH;
	}
	/* The guest hears the ACPI power button and shuts down on its own terms; if it does not
	 * within the timeout, the stop becomes a destroy. */
	r = qmp_execute(m->qmp, "system_powerdown", NULL, NULL, err, errlen);
	if (r)
		return r;
	mon_set_state(m, UV_STATE_STOPPING, "graceful stop requested");
	return arm_timer(m->stop_timer, timeout_s);
}

int mon_engine_destroy(struct monitor *m)
{
	char err[128];

	if (m->qemu_pid <= 0)
		return -ESRCH;
	if (m->state != UV_STATE_STOPPING)
		mon_set_state(m, UV_STATE_STOPPING, "destroy requested");
	if (m->qmp && qmp_execute(m->qmp, "quit", NULL, NULL, err, sizeof(err)) == 0)
		return arm_timer(m->stop_timer, 5);
	/* QMP is gone or hung: the engine is not listening, so it is killed. */
	return uv_pidfd_signal(m->pidfd, SIGKILL);
}

/* The engine runs as the partition's uid and can reach no folder of ours, so it writes the
 * dump into a file the monitor opened: lent to it as an fd set for the dump (QEMU's pmemsave
 * reopens it through /proc/self/fd, which needs the file to be the engine's) and taken back. */
int mon_engine_dump(struct monitor *m, const char *path, char *err, size_t errlen)
{
	json_object *a = json_object_new_object(), *ret = NULL, *v;
	char target[64], ignore[128];
	int fd, r, qfd = -1;

	if (m->engine_uid == (uid_t)-1) {
		json_object_put(a);
		snprintf(err, errlen, "the engine's uid is not known");
		return -ESRCH;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fchown(fd, m->engine_uid, (gid_t)m->engine_uid) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	json_object_object_add(a, "fdset-id", json_object_new_int(QEMU_DUMP_FDSET));
	if ((r = qmp_execute_fd(m->qmp, "add-fd", a, fd, &ret, err, errlen)))
		goto out;
	if (ret && json_object_object_get_ex(ret, "fd", &v))
		qfd = json_object_get_int(v);
	json_object_put(a);
	a = json_object_new_object();
	snprintf(target, sizeof(target), "/proc/self/fd/%d", qfd);
	json_object_object_add(a, "val", json_object_new_int64(0));
	json_object_object_add(a, "size", json_object_new_int64((int64_t)m->desc->mem_bytes));
	json_object_object_add(a, "filename", json_object_new_string(target));
	r = qfd < 0 ? -EPROTO : qmp_execute(m->qmp, "pmemsave", a, NULL, err, errlen);
	json_object_put(a);
	a = json_object_new_object();
	json_object_object_add(a, "fdset-id", json_object_new_int(QEMU_DUMP_FDSET));
	qmp_execute(m->qmp, "remove-fd", a, NULL, ignore, sizeof(ignore));
	if (r == -EPROTO)
		snprintf(err, errlen, "add-fd: QEMU named no fd");
out:
	json_object_put(a);
	json_object_put(ret);
	if (fd >= 0) {
		if (fchown(fd, geteuid(), getegid()) < 0 && !r) /* the engine's no more */
			r = -errno;
		close(fd);
	}
	return r;
}

static void tail_of_log(const char *path, char *out, size_t outlen)
{
	char buf[160];
	ssize_t n;
	off_t end;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	out[0] = 0;
	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	if (end > 0 &&
	    lseek(fd, end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0, SEEK_SET) >=
	        0 &&
	    (n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		char *line;
		buf[n] = 0;
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = 0;
		line = strrchr(buf, '\n');
		snprintf(out, outlen, "%s", line ? line + 1 : buf);
	}
	close(fd);
}

void mon_engine_exited(struct monitor *m)
{
	char reason[MON_REASON_MAX], last[160];
	int status = 0;
	bool have_status = false;

	if (m->qemu_is_child && waitpid(m->qemu_pid, &status, WNOHANG) == m->qemu_pid)
		have_status = true;
	tail_of_log(m->paths.qemu_log, last, sizeof(last));
	/* A migrated guest's engine here was destroyed because the target runs it now. */
	if (m->mig_done && m->shutdown_reason[0])
		snprintf(m->shutdown_reason, sizeof(m->shutdown_reason),
		         "migrated to another host");
	if (m->shutdown_reason[0] && strcmp(m->shutdown_reason, "guest-panicked") &&
	    (!have_status || (WIFEXITED(status) && WEXITSTATUS(status) == 0))) {
		mon_set_state(m, UV_STATE_STOPPED, m->shutdown_reason);
	} else {
		if (!strcmp(m->shutdown_reason, "guest-panicked"))
			snprintf(reason, sizeof(reason), "guest kernel panicked");
		else if (have_status && WIFSIGNALED(status))
			snprintf(reason, sizeof(reason), "QEMU killed by signal %d (%s)%s%s",
			         WTERMSIG(status), strsignal(WTERMSIG(status)), last[0] ? "; " : "",
			         last);
		else if (have_status)
			snprintf(reason, sizeof(reason), "QEMU exited with status %d%s%s",
			         WEXITSTATUS(status), last[0] ? "; " : "", last);
		else
			snprintf(reason, sizeof(reason), "QEMU exited without shutting down%s%s",
			         last[0] ? "; " : "", last);
		mon_set_state(m, UV_STATE_CRASHED, reason);
	}
	unlink(m->paths.pid);
	mon_cpu_release(m);
	mon_blkio_release(m);
	m->qemu_pid = 0;
	m->exiting = true;
}
