/* SPDX-License-Identifier: MIT */
/* Running an ultravisor daemon from a test: its own state and run directories, killed at the end.
 */
#ifndef ULTRA_UVD_TESTLIB_H
#define ULTRA_UVD_TESTLIB_H

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uvclient.h"

struct uvd_proc {
	char dir[64];
	char state[96];
	char run[96];
	char sock[128];
	pid_t pid;
};

static inline void uvd_bin(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = 0;
	snprintf(out, len, "%s/../bin/ultravisor", dirname(self));
}

static inline void uvd_dirs(struct uvd_proc *p)
{
	snprintf(p->dir, sizeof(p->dir), "/tmp/uvd-test-XXXXXX");
	if (!mkdtemp(p->dir))
		abort();
	snprintf(p->state, sizeof(p->state), "%s/state", p->dir);
	snprintf(p->run, sizeof(p->run), "%s/run", p->dir);
	snprintf(p->sock, sizeof(p->sock), "%s/ultravisor.sock", p->run);
}

/* Starts the daemon (with one extra option pair, if any) and waits until its socket answers.
 * Returns 0 or -1. */
static inline int uvd_start_opt(struct uvd_proc *p, const char *pool_mib, const char *opt,
                                const char *val)
{
	char bin[PATH_MAX + 32];
	int sock = -1;

	uvd_bin(bin, sizeof(bin));
	p->pid = fork();
	if (p->pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (!getenv("UVD_TEST_VERBOSE"))
			dup2(null, 2);
		execl(bin, bin, "--state-dir", p->state, "--run-dir", p->run, "--pool-mib",
		      pool_mib, opt, val, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 2000; i++) {
		struct timespec ts = {.tv_nsec = 1000000};
		int st;
		if (uv_client_connect(p->sock, &sock) == 0) {
			close(sock);
			return 0;
		}
		if (waitpid(p->pid, &st, WNOHANG) == p->pid)
			return -1;
		nanosleep(&ts, NULL);
	}
	return -1;
}

static inline int uvd_start(struct uvd_proc *p, const char *pool_mib)
{
	return uvd_start_opt(p, pool_mib, NULL, NULL);
}

static inline void uvd_kill(struct uvd_proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
}

static inline void uvd_cleanup(struct uvd_proc *p)
{
	char cmd[128];

	uvd_kill(p);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
	if (system(cmd) != 0) {
		/* a leftover temp dir is not a test failure */
	}
}

#endif
