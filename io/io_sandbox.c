/* SPDX-License-Identifier: MIT */
#include "io_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <sys/mman.h>

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

int io_sandbox_enter(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	/* mmap and mprotect, but never executable memory. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
		                     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
		                     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* fcntl only to seal an inflight region and to check a handed-back one is sealed. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
		                     SCMP_A1(SCMP_CMP_EQ, F_ADD_SEALS));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
		                     SCMP_A1(SCMP_CMP_EQ, F_GET_SEALS));
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}
