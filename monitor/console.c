/* SPDX-License-Identifier: MIT */
/*
 * The partition's serial console (claims 9-12; docs/monitor.md, "console"). QEMU's serial
 * chardev is one end of a socketpair; the other belongs to the console relay, a small process
 * the monitor forks before it spawns QEMU (lib/conrelay.h): it reads the guest's output as
 * fast as it comes, appends every byte to console.log and fans it out to the viewers of
 * console.sock. A viewer that stops reading never holds the guest back: only that viewer loses
 * output, and is told so.
 *
 * Why a relay at all: QEMU's serial port waits for its chardev, so a viewer connected straight
 * to QEMU throttled the guest. Why a process of its own, not a thread of the monitor: the
 * monitor may die or be restarted (docs/monitor.md, "survive itself") while the guest runs on;
 * the relay, in its own session like QEMU, goes on logging and serving viewers meanwhile, so a
 * dead monitor still loses no console output. Why the relay writes the log, not QEMU: QEMU's
 * chardev log is not faithful once its socket pushes back (EAGAIN): measured, it repeated
 * bytes (1.19 MB logged for 1.189 MB written, "\r\r\n" 111 times in one run), while the
 * relay's stream held each byte once.
 *
 * The relay runs as the engine's own uid (engine_cred.c) with no capabilities under a seccomp
 * allow list (console_sandbox.c) and holds three fds: its end of the socketpair, console.sock's
 * listening socket, console.log. It ends when QEMU's end closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conrelay.h"
#include "monitor.h"
#include "unixsock.h"

enum { RELAY_ENGINE_FD = 3, RELAY_LISTEN_FD, RELAY_LOG_FD };

/* The relay's QEMU output can be a lot: the kernel's default socket buffer holds a few hundred
 * one-byte writes (QEMU writes the serial port's bytes one at a time). */
#define SERIAL_SNDBUF (4 << 20)

static void relay_main(int engine, int listen_fd, int log_fd, const struct mon_cred *cred,
                       const char *name)
{
	struct uv_conrelay_stats st = {0};
	int fds[3] = {engine, listen_fd, log_fd}, high[3], step = 0, null_fd, r;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	setsid(); /* outlives the monitor, as QEMU does */
	prctl(PR_SET_NAME, "ultra-console");
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, 0) < 0)
		_exit(1);
	for (int i = 0; i < 3; i++)
		if ((high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 100)) < 0)
			_exit(1);
	for (int i = 0; i < 3; i++)
		if (dup2(high[i], RELAY_ENGINE_FD + i) < 0)
			_exit(1);
	/* Nothing else of the monitor's: stdio (its log) and the three. */
	for (int fd = RELAY_LOG_FD + 1; fd < 1024; fd++)
		close(fd);
	if ((r = mon_cred_drop(cred, &step)) < 0) {
		fprintf(stderr, "monitor[%s]: the console relay cannot drop privileges: %s: %s\n",
		        name, mon_cred_step_name(step), strerror(-r));
		_exit(1);
	}
	if ((r = mon_console_sandbox()) < 0) {
		fprintf(stderr, "monitor[%s]: the console relay's seccomp filter: %s\n", name,
		        strerror(-r));
		_exit(1);
	}
	r = uv_conrelay_run(RELAY_ENGINE_FD, RELAY_LISTEN_FD, -1, RELAY_LOG_FD, &st);
	fprintf(stderr,
	        "monitor[%s]: console relay ended: %llu bytes from the guest, %llu dropped for "
	        "slow viewers, %llu viewers, %llu failed log writes%s%s\n",
	        name, (unsigned long long)st.from_engine, (unsigned long long)st.dropped,
	        (unsigned long long)st.viewers, (unsigned long long)st.log_errors, r ? ": " : "",
	        r ? strerror(-r) : "");
	_exit(r ? 1 : 0);
}

int mon_console_spawn(struct monitor *m, const struct mon_cred *cred, int *engine_fd, char *err,
                      size_t errlen)
{
	int sp[2] = {-1, -1}, listen_fd = -1, log_fd = -1, r = 0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		r = -errno;
		snprintf(err, errlen, "the console's socketpair: %s", strerror(errno));
		goto out;
	}
	/* Best effort: without it the relay still keeps up, QEMU just waits for it more often. */
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUFFORCE, &(int){SERIAL_SNDBUF}, sizeof(int));
	setsockopt(sp[1], SOL_SOCKET, SO_RCVBUFFORCE, &(int){SERIAL_SNDBUF}, sizeof(int));
	if ((listen_fd = uv_unix_listen(m->paths.console, SOCK_STREAM | SOCK_NONBLOCK, 8)) < 0) {
		r = listen_fd;
		snprintf(err, errlen, "binding %s: %s", m->paths.console, strerror(-r));
		goto out;
	}
	log_fd = open(m->paths.console_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", m->paths.console_log, strerror(errno));
		goto out;
	}
	fflush(stderr);
	if ((pid = fork()) < 0) {
		r = -errno;
		snprintf(err, errlen, "the console relay: fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		relay_main(sp[1], listen_fd, log_fd, cred, m->desc->name);
	m->console_pid = pid;
	*engine_fd = sp[0];
	sp[0] = -1;
out:
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	if (listen_fd >= 0)
		close(listen_fd);
	if (log_fd >= 0)
		close(log_fd);
	return r;
}

void mon_console_reap(struct monitor *m, int wait_ms)
{
	struct timespec tick = {.tv_nsec = 10 * 1000000};

	if (m->console_pid <= 0)
		return;
	for (int waited = 0;; waited += 10) {
		pid_t r = waitpid(m->console_pid, NULL, WNOHANG);

		if (r == m->console_pid || (r < 0 && errno == ECHILD)) {
			m->console_pid = 0;
			return;
		}
		if (waited >= wait_ms)
			return;
		nanosleep(&tick, NULL);
	}
}
