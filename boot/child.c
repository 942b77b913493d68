/* SPDX-License-Identifier: MIT */
/* Starting, reaping and stopping the supervised processes, and the restart back-off. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "pidfd.h"

uint64_t boot_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void build_uv_argv(const struct boot *b, const char **argv, char pbuf[][16], size_t max)
{
	size_t n = 0;

	argv[n++] = b->cfg.ultravisor;
	argv[n++] = "--state-dir";
	argv[n++] = b->cfg.state_dir;
	argv[n++] = "--run-dir";
	argv[n++] = b->cfg.run_dir;
	if (b->cfg.pool_mib) {
		argv[n++] = "--pool-mib";
		argv[n++] = b->cfg.pool_mib;
	}
	/* The ultravisor lets only configured system partitions open command channels. */
	argv[n++] = "--system";
	argv[n++] = "1:boot";
	for (unsigned i = 0; i < b->n_sys && n + 2 < max; i++) {
		static const char *const roles[] = {"", "boot", "command", "operations", "io"};
		if (b->sys[i].helper)
			continue;
		snprintf(pbuf[i], 16, "%u:%s", b->sys[i].partition, roles[b->sys[i].role]);
		argv[n++] = "--system";
		argv[n++] = pbuf[i];
	}
	for (unsigned i = 0; i < b->cfg.n_uv_args && n + 1 < max; i++)
		argv[n++] = b->cfg.uv_args[i];
	argv[n] = NULL;
}

/* In the child: nothing of the supervisor's survives exec but stdio. */
static void child_setup(pid_t parent)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* A system partition goes when its supervisor goes, so a new ultra-boot never finds a
	 * second ultravisor writing the same log. Monitors and QEMU are not started here. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
}

int boot_spawn(struct boot *b, struct boot_child *c)
{
	const char *argv[2 * BOOT_SYSTEM_MAX + BOOT_ARGS_MAX + 12];
	char pbuf[BOOT_SYSTEM_MAX][16];
	char shcmd[sizeof(c->cmdline) + 8], part[16];
	pid_t parent = getpid(), pid;
	int fd;

	if (c == &b->uv) {
		build_uv_argv(b, argv, pbuf, sizeof(argv) / sizeof(argv[0]));
	} else {
		if (!c->cmdline[0])
			return 0; /* recorded only: no program yet */
		snprintf(shcmd, sizeof(shcmd), "exec %s", c->cmdline);
		argv[0] = "/bin/sh";
		argv[1] = "-c";
		argv[2] = shcmd;
		argv[3] = NULL;
	}
	snprintf(part, sizeof(part), "%u", c->partition);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		child_setup(parent);
		/* Who it is and where the ultravisor listens, for its command line to use
		 * ("ultra-io --ultravisor $ULTRA_UV_SOCK --partition $ULTRA_PARTITION ..."). */
		if (c != &b->uv && (setenv("ULTRA_UV_SOCK", b->sock_path, 1) ||
		                    setenv("ULTRA_PARTITION", part, 1)))
			_exit(127);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "ultra-boot: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	fd = uv_pidfd_open(pid);
	if (fd < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return fd;
	}
	c->pid = pid;
	c->pidfd = fd;
	return 0;
}

int boot_reap(struct boot_child *c, int *status)
{
	int st;
	pid_t r;

	if (c->pid <= 0)
		return 0;
	r = waitpid(c->pid, &st, WNOHANG);
	if (r == 0 || (r < 0 && errno != ECHILD))
		return 0;
	*status = r < 0 ? 0 : st;
	c->pid = 0;
	return 1;
}

void boot_describe_exit(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* At most max_restarts deaths within window_ms are restarted; one more and it stays down. */
bool boot_backoff_exceeded(const struct boot *b, struct boot_child *c, uint64_t now)
{
	unsigned keep = 0;
	const unsigned cap = sizeof(c->deaths) / sizeof(c->deaths[0]);

	for (unsigned i = 0; i < c->n_deaths; i++)
		if (now - c->deaths[i] < b->cfg.window_ms)
			c->deaths[keep++] = c->deaths[i];
	c->n_deaths = keep;
	if (c->n_deaths == cap) {
		memmove(c->deaths, c->deaths + 1, (cap - 1) * sizeof(c->deaths[0]));
		c->n_deaths--;
	}
	c->deaths[c->n_deaths++] = now;
	return c->n_deaths > b->cfg.max_restarts;
}

/* SIGTERM, then SIGKILL after timeout_ms; reaps it. */
void boot_stop_child(struct boot_child *c, int timeout_ms)
{
	struct pollfd p = {.fd = c->pidfd, .events = POLLIN};
	int st;

	if (c->pid > 0 && c->pidfd >= 0) {
		uv_pidfd_signal(c->pidfd, SIGTERM);
		if (poll(&p, 1, timeout_ms) == 0)
			uv_pidfd_signal(c->pidfd, SIGKILL);
		waitpid(c->pid, &st, 0);
		c->pid = 0;
	}
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
}
