/* SPDX-License-Identifier: MIT */
/*
 * The sandboxed I/O partition may not create sockets or connect: seccomp cannot see the address
 * connect() is given, so allowing it would let a compromised ultra-io reach every Unix socket of
 * the host (QMP sockets, other back ends). Yet the ultravisor restarts (kill -9 is routine) and
 * each restart needs a new connection. So a process forked before the sandbox keeps the right to
 * connect, to the one path fixed at start and nowhere else, and hands each connection over:
 * ultra-io can ask it for a connection to the ultravisor, nothing more (privilege separation).
 */
#include "uvconnect.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fdpass.h"
#include "io_sandbox.h"
#include "unixsock.h"

/* A control call that takes longer than this means a stuck ultravisor: refuse, do not hang the
 * event loop that serves every guest's I/O. */
#define CALL_TIMEOUT_S 2

static int connect_once(const char *path)
{
	struct timeval tv = {.tv_sec = CALL_TIMEOUT_S};
	int fd = uv_unix_connect(path, SOCK_SEQPACKET);

	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static __attribute__((noreturn)) void connector_main(int link, const char *path)
{
	char req;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, SIG_IGN); /* a ^C is for ultra-io, which ends us by closing the link */
	/* Nothing of ultra-io's (disks, sockets, io_uring) stays here but stdio and the link. */
	if (link > 3)
		close_range(3, (unsigned)link - 1, 0);
	close_range((unsigned)link + 1, ~0u, 0);
	if (io_sandbox_connector() < 0) {
		fprintf(stderr, "ultra-io: connector: cannot enter its sandbox\n");
		_exit(1);
	}
	while (read(link, &req, 1) == 1) {
		int fd = connect_once(path);
		int32_t r = fd < 0 ? fd : 0;

		if (uv_send_fds(link, &r, sizeof(r), &fd, fd >= 0 ? 1 : 0) < 0)
			break;
		if (fd >= 0)
			close(fd);
	}
	_exit(0);
}

int io_connector_start(const char *path, int *link_out, pid_t *pid_out)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		close(sv[0]);
		connector_main(sv[1], path);
	}
	close(sv[1]);
	*link_out = sv[0];
	*pid_out = pid;
	return 0;
}

int io_connector_connect(int link, int *conn_out)
{
	const char req = 'c';
	int32_t r = 0;
	unsigned n = 0;
	int fd = -1;
	ssize_t len;

	if (write(link, &req, 1) != 1)
		return -EPIPE;
	len = uv_recv_fds(link, &r, sizeof(r), &fd, 1, &n);
	if (len <= 0)
		return len == 0 ? -EPIPE : (int)len;
	if (len != sizeof(r) || (r == 0) != (n == 1) || r > 0) {
		if (n)
			close(fd);
		return -EPROTO;
	}
	if (r < 0)
		return r;
	*conn_out = fd;
	return 0;
}
