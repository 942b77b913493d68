/* SPDX-License-Identifier: MIT */
/* Each started guest gets its own ultra-monitor (claims 1, 11), started in a session of its own
 * and not as our child, so neither the command partition's death nor its restart touches a
 * guest. The monitor is reached afterwards only through its control socket. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "unixsock.h"

int cmd_monitor_dir(struct cmdp *c, const char *name, const char *leaf, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/partitions/%s/%s", c->run_dir, name, leaf);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* In the grandchild: a new session, stdio to the partition's monitor log, then exec. */
static void exec_monitor(struct cmdp *c, uint32_t id, bool incoming, const char *log)
{
	char part[16], *argv[10];
	int n = 5;
	int fd, maxfd = (int)sysconf(_SC_OPEN_MAX);

	setsid();
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	dup2(fd, 1);
	dup2(fd, 2);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	dup2(fd, 0);
	for (fd = 3; fd < maxfd && fd < 4096; fd++)
		close(fd);
	snprintf(part, sizeof(part), "%u", id);
	argv[0] = (char *)c->monitor_bin;
	argv[1] = "--ultravisor";
	argv[2] = (char *)c->uv_path;
	argv[3] = "--partition";
	argv[4] = part;
	if (c->uid_base) { /* the engine's uid must be the one its export sockets were made for */
		argv[n++] = "--engine-uid-base";
		argv[n++] = (char *)c->uid_base;
	}
	if (incoming) /* its engine waits for a migration stream (docs/migration.md) */
		argv[n++] = "--incoming";
	argv[n] = NULL;
	setenv("ULTRA_RUN_DIR", c->run_dir, 1);
	execv(argv[0], argv);
	_exit(127);
}

void cmd_monitor_log_tail(struct cmdp *c, uint32_t id, char *buf, size_t cap)
{
	char path[512], tail[1024], *nl;
	ssize_t n = -1;
	off_t end;
	int fd = -1;

	buf[0] = 0;
	if (snprintf(path, sizeof(path), "%s/monitor-%u.log", c->run_dir, id) >=
	        (int)sizeof(path) ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	if (end >= 0)
		n = pread(fd, tail, sizeof(tail) - 1,
		          end > (off_t)sizeof(tail) - 1 ? end - (off_t)sizeof(tail) + 1 : 0);
	close(fd);
	if (n <= 0)
		return;
	tail[n] = 0;
	while (n > 0 && tail[n - 1] == '\n')
		tail[--n] = 0;
	nl = strrchr(tail, '\n');
	snprintf(buf, cap, "%s", nl ? nl + 1 : tail);
}

/* A monitor holds an flock on its partition's directory for as long as it lives (one monitor
 * per partition): one that is still exiting is waited for, briefly. 0 when the directory is free
 * (or does not exist yet). */
static int wait_dir_free(struct cmdp *c, const char *name)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	char dir[512];
	int fd, i, r = 0;

	if (cmd_monitor_dir(c, name, "", dir, sizeof(dir)))
		return -ENAMETOOLONG;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	for (i = 0; i < 250 && (r = flock(fd, LOCK_EX | LOCK_NB)) < 0; i++)
		nanosleep(&ts, NULL);
	if (r == 0)
		flock(fd, LOCK_UN);
	close(fd);
	return r ? -EBUSY : 0;
}

int cmd_monitor_spawn(struct cmdp *c, uint32_t id, const char *name, pid_t *pid_out,
                      struct api_err *e)
{
	return cmd_monitor_spawn_as(c, id, name, false, pid_out, e);
}

int cmd_monitor_spawn_as(struct cmdp *c, uint32_t id, const char *name, bool incoming,
                         pid_t *pid_out, struct api_err *e)
{
	char log[512];
	int st = 0, n, pfd[2];
	pid_t pid, g = -1;

	if (wait_dir_free(c, name))
		return api_fail(e, "busy", "partition %s: its last monitor is still running", name);
	/* A state file left by the last run would be taken for the new monitor's. */
	if (cmd_monitor_dir(c, name, "state.json", log, sizeof(log)) == 0)
		unlink(log);
	n = snprintf(log, sizeof(log), "%s/monitor-%u.log", c->run_dir, id);
	if (n < 0 || (size_t)n >= sizeof(log))
		return api_fail(e, "internal", "run directory path too long");
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return api_fail(e, "internal", "pipe: %s", strerror(errno));
	/* Double fork: the monitor is re-parented away from us and never becomes our zombie. The
	 * middle process tells us its pid, so a monitor that dies at once is seen at once. */
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return api_fail(e, "internal", "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(pfd[0]);
		g = fork();
		if (g == 0)
			exec_monitor(c, id, incoming, log);
		if (write(pfd[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		_exit(g < 0 ? 1 : 0);
	}
	close(pfd[1]);
	if (read(pfd[0], &g, sizeof(g)) != sizeof(g))
		g = -1;
	close(pfd[0]);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) || g <= 0)
		return api_fail(e, "internal", "could not start ultra-monitor for partition %u",
		                id);
	*pid_out = g;
	return 0;
}

json_object *cmd_monitor_status(struct cmdp *c, const char *name)
{
	char path[512];

	if (cmd_monitor_dir(c, name, "state.json", path, sizeof(path)))
		return NULL;
	return json_object_from_file(path);
}

static int read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t len = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	while (len + 1 < cap) {
		if (poll(&p, 1, timeout_ms) != 1)
			return -ETIMEDOUT;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return n ? -errno : -ECONNRESET;
		len += (size_t)n;
		buf[len] = 0;
		char *nl = strchr(buf, '\n');
		if (nl) {
			*nl = 0;
			return 0;
		}
	}
	return -EMSGSIZE;
}

int cmd_monitor_call(struct cmdp *c, const char *name, const char *what, json_object *args,
                     json_object **ret, struct api_err *e)
{
	char path[512], buf[8192];
	json_object *req = json_object_new_object(), *reply = NULL, *v;
	const char *line;
	int fd = -1, r = -1;

	if (cmd_monitor_dir(c, name, "monitor.sock", path, sizeof(path)) ||
	    (fd = uv_unix_connect(path, SOCK_STREAM)) < 0) {
		api_fail(e, "not-running", "partition %s has no monitor (it is not running)", name);
		goto out;
	}
	json_object_object_add(req, "execute", json_object_new_string(what));
	if (args)
		json_object_object_add(req, "arguments", json_object_get(args));
	line = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (dprintf(fd, "%s\n", line) < 0 || read_line(fd, buf, sizeof(buf), CMD_TIMEOUT_MS) ||
	    !(reply = json_tokener_parse(buf))) {
		api_fail(e, "monitor", "partition %s: its monitor did not answer %s", name, what);
		goto out;
	}
	if (json_object_object_get_ex(reply, "error", &v)) {
		api_fail(e, "monitor", "partition %s: %s", name, json_object_get_string(v));
		goto out;
	}
	if (ret && json_object_object_get_ex(reply, "return", &v))
		*ret = json_object_get(v);
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	json_object_put(req);
	json_object_put(reply);
	return r;
}
