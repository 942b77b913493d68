/* SPDX-License-Identifier: MIT */
/*
 * A console relay that is gone while its engine runs (killed, or it failed) is replaced
 * (docs/monitor.md, "The console relay"): a new relay and socketpair, whose QEMU end is lent
 * over QMP (getfd) and put in place of the serial port's old chardev backend (chardev-change);
 * the guest's serial port itself is untouched. The monitor watches the relay it forked (a
 * pidfd in its loop) and, on re-attach, checks that someone serves console.sock.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monitor.h"
#include "pidfd.h"
#include "unixsock.h"

#define RESTORES_MAX 5 /* a relay that dies every time is not replaced for ever */
#define RELAY_FDNAME "con-relay"

/* The pidfd of the relay just forked, in the monitor's loop. */
void mon_console_watch(struct monitor *m)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &m->console_pidfd};

	if (m->console_pidfd >= 0)
		close(m->console_pidfd);
	m->console_pidfd = m->console_pid > 0 ? uv_pidfd_open(m->console_pid) : -1;
	if (m->console_pidfd >= 0 && epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->console_pidfd, &ev) < 0) {
		close(m->console_pidfd);
		m->console_pidfd = -1;
	}
}

/* Whether the engine still runs, given wait_ms to show its end: a QEMU that exits closes the
 * relay's socket a moment before its pidfd says so. */
static bool engine_alive(const struct monitor *m, int wait_ms)
{
	struct pollfd p = {.fd = m->pidfd, .events = POLLIN};

	return m->qemu_pid > 0 && m->qmp && m->pidfd >= 0 && poll(&p, 1, wait_ms) == 0;
}

static int restore(struct monitor *m, char *err, size_t errlen)
{
	static const char change[] =
	    "{\"id\":\"con0\",\"backend\":{\"type\":\"socket\",\"data\":{\"addr\":{\"type\":\"fd\","
	    "\"data\":{\"str\":\"" RELAY_FDNAME "\"}},\"server\":false}}}";
	json_object *a = NULL;
	struct mon_cred cred;
	int fd = -1, r;

	if ((r = mon_cred_for(m, &cred, err, errlen)) ||
	    (r = mon_console_spawn(m, &cred, &fd, err, errlen)))
		return r;
	a = json_object_new_object();
	json_object_object_add(a, "fdname", json_object_new_string(RELAY_FDNAME));
	r = qmp_execute_fd(m->qmp, "getfd", a, fd, NULL, err, errlen);
	json_object_put(a);
	close(fd); /* QEMU's now, or nobody's: then the new relay reads its end and goes */
	if (r)
		return r;
	a = json_tokener_parse(change);
	r = a ? qmp_execute(m->qmp, "chardev-change", a, NULL, err, errlen) : -ENOMEM;
	json_object_put(a);
	if (!r)
		mon_console_watch(m);
	return r;
}

static void restore_logged(struct monitor *m, const char *why)
{
	char err[256] = "";
	int r;

	if (m->console_restores >= RESTORES_MAX) {
		fprintf(stderr, "monitor[%s]: %s; not replaced (%d times already)\n", m->desc->name,
		        why, RESTORES_MAX);
		return;
	}
	m->console_restores++;
	r = restore(m, err, sizeof(err));
	fprintf(stderr, "monitor[%s]: %s; %s%s\n", m->desc->name, why,
	        r ? "could not replace it: " : "replaced it", r ? err : "");
}

void mon_console_exited(struct monitor *m)
{
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->console_pidfd, NULL);
	close(m->console_pidfd);
	m->console_pidfd = -1;
	mon_console_reap(m, 0);
	/* With the engine, the relay ends too (QEMU closed its end): nothing to replace. */
	if (engine_alive(m, 500))
		restore_logged(m, "the console relay ended while the engine runs");
}

void mon_console_check(struct monitor *m)
{
	int fd = uv_unix_connect(m->paths.console, SOCK_STREAM);

	if (fd >= 0) { /* served (the relay sees a viewer come and go) */
		close(fd);
		return;
	}
	if (engine_alive(m, 0))
		restore_logged(m, "nobody serves the console");
}
