/* SPDX-License-Identifier: MIT */
/* What every sandboxed process here calls whatever its job (the allocator, stdio, exit, the
 * clock), for its seccomp allow list: SCMP_SYS entries to put into its array of allowed calls
 * (the gateway's command/gw/sandbox.c, the console relay's monitor/console_sandbox.c). */
#ifndef ULTRA_LIB_SECCOMP_CALLS_H
#define ULTRA_LIB_SECCOMP_CALLS_H

#include <seccomp.h>

#define UV_SECCOMP_RUNTIME_CALLS                                                                   \
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(madvise), SCMP_SYS(mremap), SCMP_SYS(futex),     \
	    SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(exit_group), SCMP_SYS(exit),           \
	    SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(getpid), SCMP_SYS(gettid),  \
	    SCMP_SYS(sched_yield), SCMP_SYS(sigaltstack), SCMP_SYS(clock_gettime)

#endif
