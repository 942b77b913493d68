/* SPDX-License-Identifier: MIT */
#include "io_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/socket.h>

/* After set-up the I/O partition only accepts clients, moves messages and fds, maps the
 * memory clients send, moves disk data, and allocates. No open, no exec, no new sockets. */
static const int allowed[] = {
    /* event loop, clients, eventfds */
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(accept4),
    SCMP_SYS(recvmsg),
    SCMP_SYS(sendto),
    SCMP_SYS(sendmsg),
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(writev), /* the tap uplink: virtio-net header and frame in one write */
    SCMP_SYS(close),
    /* client memory tables */
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(munmap),
    /* inflight regions (GET_INFLIGHT_FD): an anonymous memfd, sized; no path is opened */
    SCMP_SYS(memfd_create),
    SCMP_SYS(ftruncate),
    /* disks */
    SCMP_SYS(preadv),
    SCMP_SYS(pwritev),
    SCMP_SYS(fdatasync),
    SCMP_SYS(fallocate),
    SCMP_SYS(io_uring_enter),
    /* a limited disk's timer (blk_throttle.c): made when its export is added, then set */
    SCMP_SYS(timerfd_create),
    SCMP_SYS(timerfd_settime),
    /* allocator, exit, unlinking our sockets on the way out */
    SCMP_SYS(brk),
    SCMP_SYS(madvise),
    SCMP_SYS(mremap),
    SCMP_SYS(futex),
    SCMP_SYS(exit_group),
    SCMP_SYS(exit),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(unlink),
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(sched_yield),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(prctl),
    SCMP_SYS(getrusage),
    SCMP_SYS(clock_gettime),
};

/* The connector (uvconnect.c) reads a request, connects to the ultravisor (a Unix socket, with
 * timeouts), sends the socket back; the rest is the allocator and the sanitizers. */
static const int connector_allowed[] = {
    SCMP_SYS(read),    SCMP_SYS(recvmsg),      SCMP_SYS(sendmsg),
    SCMP_SYS(connect), SCMP_SYS(setsockopt),   SCMP_SYS(close),
    SCMP_SYS(brk),     SCMP_SYS(munmap),       SCMP_SYS(madvise),
    SCMP_SYS(futex),   SCMP_SYS(getpid),       SCMP_SYS(gettid),
    SCMP_SYS(write),   SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(exit),    SCMP_SYS(exit_group),
};

static int load(const int *sys, size_t n, int (*extra)(scmp_filter_ctx ctx))
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sys[i], 0);
	if (r == 0)
		r = extra(ctx);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

/* mmap and mprotect, but never executable memory. */
static int no_exec(scmp_filter_ctx ctx)
{
	int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	                         SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));

	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
		                     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	return r;
}

/* The one kind of socket the ultravisor's control socket takes: never the network. */
static int unix_sockets(scmp_filter_ctx ctx)
{
	int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
	                         SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
	                         SCMP_A1(SCMP_CMP_EQ, SOCK_SEQPACKET | SOCK_CLOEXEC));

	return r ? r : no_exec(ctx);
}

/* The serving process: no executable memory, fcntl only to seal an inflight region, to check
 * that a handed-back one is sealed, and to read a direct disk's flags (O_DIRECT, access), and
 * getsockopt only to ask who a new client is (SO_PEERCRED, vhost_user.c). */
static int serving(scmp_filter_ctx ctx)
{
	int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
	                         SCMP_A1(SCMP_CMP_EQ, F_ADD_SEALS));

	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 2,
		                     SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
		                     SCMP_A2(SCMP_CMP_EQ, SO_PEERCRED));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
		                     SCMP_A1(SCMP_CMP_EQ, F_GET_SEALS));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
		                     SCMP_A1(SCMP_CMP_EQ, F_GETFL));
	return r ? r : no_exec(ctx);
}

int io_sandbox_enter(void) { return load(allowed, sizeof(allowed) / sizeof(allowed[0]), serving); }

int io_sandbox_connector(void)
{
	return load(connector_allowed, sizeof(connector_allowed) / sizeof(connector_allowed[0]),
	            unix_sockets);
}
