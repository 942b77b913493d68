/* SPDX-License-Identifier: MIT */
/*
 * The console relay's seccomp allow list (monitor/console.c): after it dropped to the engine's
 * uid it moves bytes between sockets it holds and appends to a file it holds, and nothing else.
 * No open, no socket, no connect, no exec: taken over (by bytes it only copies), it reaches
 * nothing beyond its three fds.
 */
#include <errno.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/mman.h>

#include "monitor.h"
#include "seccomp_calls.h"

static const int relay_calls[] = {
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendto),
    SCMP_SYS(write),
    SCMP_SYS(accept4),
    SCMP_SYS(close),
    SCMP_SYS(nanosleep),
    SCMP_SYS(clock_nanosleep),
    UV_SECCOMP_RUNTIME_CALLS,
#ifdef __SANITIZE_ADDRESS__
    /* Sanitizer builds only: its runtime's own bookkeeping and reports. */
    SCMP_SYS(getrlimit),
    SCMP_SYS(prlimit64),
    SCMP_SYS(readlink),
    SCMP_SYS(openat),
    SCMP_SYS(read),
    SCMP_SYS(pread64),
    SCMP_SYS(lseek),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(tgkill),
    SCMP_SYS(mprotect),
    SCMP_SYS(prctl),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(getppid),
    SCMP_SYS(statfs),
#endif
};

int mon_console_sandbox(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r = ctx ? 0 : -ENOMEM;

	for (size_t i = 0; i < sizeof(relay_calls) / sizeof(relay_calls[0]) && !r; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, relay_calls[i], 0);
	/* Memory, never executable. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
		                     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}
