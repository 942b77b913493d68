/* SPDX-License-Identifier: MIT */
/* pidfd wrappers: glibc 2.36 declares them only with newer headers, so go through syscall(2). */
#ifndef ULTRA_LIB_PIDFD_H
#define ULTRA_LIB_PIDFD_H

#include <errno.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static inline int uv_pidfd_open(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);
	return fd < 0 ? -errno : (int)fd;
}

static inline int uv_pidfd_signal(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

/* A duplicate of another process's fd (needs ptrace rights over it). */
static inline int uv_pidfd_getfd(int pidfd, int targetfd)
{
	long fd = syscall(SYS_pidfd_getfd, pidfd, targetfd, 0);
	return fd < 0 ? -errno : (int)fd;
}

#endif
