/* SPDX-License-Identifier: MIT */
/*
 * The gateway parses bytes from the network, so once it is set up (keys read, socket bound) it
 * gives up what it does not need: no new privileges, no capabilities (it stays uid 0 only to
 * connect to command.sock, which root owns), and a seccomp allow list: the event loop, accepting
 * TCP clients, Unix stream sockets to the command partition, the allocator, randomness for TLS.
 * No open, no exec, no ptrace, no new TCP socket: taken over, it can talk to the command
 * partition as any local client can, and to nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"
#include "seccomp_calls.h"

static const int allowed[] = {
    /* event loop, clients, the command partition */
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(accept4),
    SCMP_SYS(connect),
    SCMP_SYS(read),
    SCMP_SYS(pread64), /* the CRL, through the fd opened before the sandbox (crl.c) */
    SCMP_SYS(write),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendto),
    SCMP_SYS(shutdown),
    SCMP_SYS(close),
    SCMP_SYS(getrandom), /* TLS key shares and nonces */
    /* allocator, stdio, exit */
    UV_SECCOMP_RUNTIME_CALLS,
    SCMP_SYS(getrusage),
};

#ifdef __SANITIZE_ADDRESS__
/* Sanitizer builds only: the leak checker stops the world at exit (a tracer thread that
 * attaches to ours and reads /proc/self). Release builds never allow these. */
static const int sanitizer[] = {
    SCMP_SYS(clone),
    SCMP_SYS(clone3),
    SCMP_SYS(ptrace),
    SCMP_SYS(wait4),
    SCMP_SYS(openat),
    SCMP_SYS(getdents),
    SCMP_SYS(open),
    SCMP_SYS(getdents64),
    SCMP_SYS(readlink),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(getppid),
    SCMP_SYS(prctl),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(tgkill),
    SCMP_SYS(mprotect),
    SCMP_SYS(lseek),
    SCMP_SYS(setrlimit),
    SCMP_SYS(prlimit64),
    SCMP_SYS(getrlimit),
    SCMP_SYS(statfs),
};
#endif

static int add_all(scmp_filter_ctx ctx, const int *sys, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sys[i], 0);
	return r;
}

/* Rules with arguments: memory never executable, sockets only Unix streams (to command.sock),
 * fcntl only to make that one non-blocking, setsockopt only for TCP_NODELAY. */
struct arg_rule {
	int sys;
	unsigned n;
	struct scmp_arg_cmp cmp[2];
};

static const struct arg_rule narrow[] = {
    {SCMP_SYS(mmap), 1, {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)}},
    {SCMP_SYS(mprotect), 1, {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)}},
    {SCMP_SYS(socket),
     2,
     {SCMP_A0(SCMP_CMP_EQ, AF_UNIX), SCMP_A1(SCMP_CMP_EQ, SOCK_STREAM | SOCK_CLOEXEC)}},
    {SCMP_SYS(fcntl), 1, {SCMP_A1(SCMP_CMP_EQ, F_SETFL)}},
    {SCMP_SYS(setsockopt),
     2,
     {SCMP_A1(SCMP_CMP_EQ, IPPROTO_TCP), SCMP_A2(SCMP_CMP_EQ, TCP_NODELAY)}},
};

static int add_narrow(scmp_filter_ctx ctx)
{
	int r = 0;

	for (size_t i = 0; i < sizeof(narrow) / sizeof(narrow[0]) && r == 0; i++)
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, narrow[i].sys, narrow[i].n,
		                           narrow[i].cmp);
	return r;
}

static int drop_capabilities(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};

	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

int gw_sandbox_enter(void)
{
	scmp_filter_ctx ctx;
	int r;

	/* Certificate time checks reach localtime, which would open /etc/localtime on first use:
	 * the gateway prints no local times, so UTC, settled now. */
	if (setenv("TZ", "UTC", 1))
		return -errno;
	tzset();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if ((r = drop_capabilities()))
		return r;
	if (!(ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)))
		return -ENOMEM;
	r = add_all(ctx, allowed, sizeof(allowed) / sizeof(allowed[0]));
#ifdef __SANITIZE_ADDRESS__
	if (r == 0)
		r = add_all(ctx, sanitizer, sizeof(sanitizer) / sizeof(sanitizer[0]));
#endif
	if (r == 0)
		r = add_narrow(ctx);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}
