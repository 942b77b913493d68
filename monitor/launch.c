/* SPDX-License-Identifier: MIT */
/* Creating the guest's memory object, starting QEMU detached from the monitor, finding it again. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"
#include "pidfd.h"
#include "unixsock.h"

int mon_mem_create(const struct uv_partition_desc *d, int *fd_out)
{
	char name[64];
	int fd, r;

	snprintf(name, sizeof(name), "uv-ram-%s", d->name);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)d->mem_bytes) < 0)
		goto fail;
	/* The guest's RAM can neither grow nor shrink behind the descriptor's back. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
		goto fail;
	*fd_out = fd;
	return 0;
fail:
	r = -errno;
	close(fd);
	return r;
}

static int write_pidfile(const char *path, pid_t pid)
{
	char tmp[PATH_MAX + 8], buf[32];
	int fd, n, r = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	if (write(fd, buf, (size_t)n) != n)
		r = -EIO;
	close(fd);
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	return r;
}

/* What the child reports through the error pipe when it cannot become QEMU. */
struct child_err {
	int err;  /* errno */
	int step; /* 0: exec (or the fd set-up before it); else a mon_cred_drop step */
};

static void child_fail(int err_pipe, int err, int step)
{
	struct child_err e = {err, step};

	if (write(err_pipe, &e, sizeof(e)) < 0) {
		/* nothing left to report through */
	}
	_exit(127);
}

/* Runs in the forked child: becomes QEMU, as the partition's own uid. Only async-signal-safe
 * calls until exec. fds[i] goes to fd number 3 + i (QEMU_MEM_FD, ...); a -1 leaves its number
 * closed. */
static void child_exec(char **argv, const int *fds, int n, int log_fd, int err_pipe,
                       const struct mon_cred *cred)
{
	int high[QEMU_FDS_MAX], null_fd, pipe_high, step = 0, r, i;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Its own session: the guest must outlive the monitor (kill -9 of a monitor). */
	setsid();
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
		child_fail(err_pipe, errno, 0);
	/* Move the inherited fds (and the error pipe) out of the way first, so no dup2 below
	 * clobbers a source. */
	if ((pipe_high = fcntl(err_pipe, F_DUPFD_CLOEXEC, 100)) < 0)
		child_fail(err_pipe, errno, 0);
	err_pipe = pipe_high;
	for (i = 0; i < n; i++)
		if (fds[i] >= 0 && (high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 100)) < 0)
			child_fail(err_pipe, errno, 0);
	for (i = 0; i < n; i++)
		if (fds[i] >= 0 && dup2(high[i], QEMU_MEM_FD + i) < 0)
			child_fail(err_pipe, errno, 0);
	/* Nothing else of the monitor's leaks into QEMU: only stdio, the fds above and the error
	 * pipe (cloexec). */
	for (int fd = QEMU_MEM_FD; fd < 1024; fd++)
		if (fd != err_pipe && (fd >= QEMU_MEM_FD + n || fds[fd - QEMU_MEM_FD] < 0))
			close(fd);
	if ((r = mon_cred_drop(cred, &step)) < 0)
		child_fail(err_pipe, -r, step);
	execvp(argv[0], argv);
	child_fail(err_pipe, errno, 0);
}

int mon_qemu_spawn(struct monitor *m, int mem_fd, char *err, size_t errlen)
{
	char **argv = NULL;
	int pipefd[2] = {-1, -1}, log_fd = -1, r;
	int fds[QEMU_FDS_MAX], n_fds = QEMU_CHAN_FD0 - QEMU_MEM_FD, first_opened = n_fds;
	unsigned n_direct = 0, n_files = 0;
	struct child_err ce = {0, 0};
	struct mon_cred cred;
	pid_t pid;
	ssize_t n;

	for (int i = 0; i < QEMU_FDS_MAX; i++)
		fds[i] = -1;
	fds[0] = mem_fd;
	if ((r = mon_cred_for(m, &cred, err, errlen)))
		return r;
	m->engine_uid = cred.uid;
	if ((r = mon_qemu_argv(m, &argv))) {
		snprintf(err, errlen, "building the QEMU command line: %s", strerror(-r));
		return r;
	}
	fds[1] = uv_unix_listen(m->paths.qmp, SOCK_STREAM, 4);
	if (fds[1] < 0) {
		r = fds[1];
		snprintf(err, errlen, "binding %s: %s", m->paths.qmp, strerror(-r));
		goto out;
	}
	if ((r = mon_console_spawn(m, &cred, &fds[2], err, errlen)))
		goto out;
	log_fd = open(m->paths.qemu_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", m->paths.qemu_log, strerror(errno));
		goto out;
	}
	if ((r = mon_boot_files_open(m, &cred, fds + QEMU_LOG_FD - QEMU_MEM_FD, err, errlen)))
		goto out;
	for (unsigned i = 0; i < m->n_uv_chan; i++)
		fds[n_fds++] = m->uv_chan[i].fd; /* the monitor keeps its own: QEMU gets copies */
	first_opened = n_fds;
	if ((r = mon_direct_open(m->desc, fds + n_fds, &n_direct, err, errlen)) < 0)
		goto out;
	n_fds += (int)n_direct;
	if ((r = mon_dev_files_open(m, &cred, fds + n_fds, &n_files, err, errlen)) < 0)
		goto out;
	n_fds += (int)n_files;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(argv, fds, n_fds, log_fd, pipefd[1], &cred);
	close(pipefd[1]);
	pipefd[1] = -1;
	n = read(pipefd[0], &ce, sizeof(ce));
	if (n == sizeof(ce)) {
		waitpid(pid, NULL, 0);
		r = -ce.err;
		if (ce.step)
			snprintf(
			    err, errlen,
			    "cannot confine the engine to uid %u: %s: %s (the monitor must run "
			    "as root; the engine never runs with the monitor's privileges)",
			    (unsigned)cred.uid, mon_cred_step_name(ce.step), strerror(ce.err));
		else
			snprintf(err, errlen, "cannot run %s: %s", m->qemu_bin, strerror(ce.err));
		goto out;
	}
	m->qemu_pid = pid;
	m->qemu_is_child = true;
	m->pidfd = uv_pidfd_open(pid);
	if (m->pidfd < 0) {
		r = m->pidfd;
		snprintf(err, errlen, "pidfd_open: %s", strerror(-r));
		goto out;
	}
	m->started = (long long)time(NULL);
	r = write_pidfile(m->paths.pid, pid);
	if (r)
		snprintf(err, errlen, "%s: %s", m->paths.pid, strerror(-r));
out:
	/* QEMU alone holds the listening sockets and the files: if it dies, connecting fails at
	 * once. The memory and the channels stay the caller's. */
	for (int i = 1; i < QEMU_CHAN_FD0 - QEMU_MEM_FD; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	for (int i = first_opened; i < n_fds; i++)
		close(fds[i]);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (log_fd >= 0)
		close(log_fd);
	mon_argv_free(argv);
	return r;
}

/* Is pid a QEMU serving this partition? Guards against a recycled pid after a host reboot or a
 * long absence: the command line must name this partition's console log, which lives in the
 * partition's own run directory. */
static bool is_our_qemu(pid_t pid, const char *console_log)
{
	char path[64], buf[16384];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = 0;
	return strstr(buf, "qemu") && strstr(buf, console_log);
}

int mon_qemu_find(struct monitor *m)
{
	char buf[32] = "";
	struct stat st;
	pid_t pid;
	int fd;
	ssize_t n;

	fd = open(m->paths.pid, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (fstat(fd, &st) == 0)
		m->started = (long long)st.st_mtime;
	close(fd);
	if (n <= 0)
		return 0;
	pid = (pid_t)strtol(buf, NULL, 10);
	if (pid <= 0 || !is_our_qemu(pid, m->paths.console_log))
		return 0;
	m->pidfd = uv_pidfd_open(pid);
	if (m->pidfd < 0)
		return m->pidfd == -ESRCH ? 0 : m->pidfd;
	m->qemu_pid = pid;
	m->qemu_is_child = false;
	snprintf(buf, sizeof(buf), "/proc/%d", (int)pid);
	if (stat(buf, &st) == 0) /* who it runs as: what dump-memory hands its file to */
		m->engine_uid = st.st_uid;
	return 1;
}
