/* SPDX-License-Identifier: MIT */
/*
 * RUN/ops.sock and the timer. Operators' requests are rare and short, so each connection is
 * served to its end before the next (one request line after another, a 2 s limit on a silent
 * client), and the schedule is evaluated between them at least every tick.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ops.h"
#include "unixsock.h"

#define CLIENT_IDLE_MS 2000

int ops_server_listen(struct ops *o, char *err, size_t errlen)
{
	char path[512];
	int n = snprintf(path, sizeof(path), "%s/ops.sock", o->run_dir);

	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(err, errlen, "run directory path too long");
		return -ENAMETOOLONG;
	}
	o->listen_fd = uv_unix_listen(path, SOCK_STREAM | SOCK_NONBLOCK, 16);
	if (o->listen_fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-o->listen_fd));
		return o->listen_fd;
	}
	return 0;
}

static void answer(struct ops *o, int fd, const char *line)
{
	json_object *rep = ops_api_handle(o, line);

	dprintf(fd, "%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN));
	json_object_put(rep);
}

static void serve(struct ops *o, int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char *buf = malloc(OPS_LINE_MAX), *nl;
	size_t len = 0;
	ssize_t n;

	while (buf && poll(&p, 1, CLIENT_IDLE_MS) == 1) {
		if ((n = read(fd, buf + len, OPS_LINE_MAX - 1 - len)) <= 0)
			break;
		len += (size_t)n;
		buf[len] = 0;
		while ((nl = memchr(buf, '\n', len))) {
			*nl = 0;
			answer(o, fd, buf);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
			buf[len] = 0;
		}
		if (len == OPS_LINE_MAX - 1) {
			dprintf(fd,
			        "{\"error\":{\"code\":\"bad-request\",\"message\":\"request "
			        "longer than %d bytes\"}}\n",
			        OPS_LINE_MAX - 1);
			break;
		}
	}
	free(buf);
	close(fd);
}

int ops_server_run(struct ops *o)
{
	struct pollfd p = {.fd = o->listen_fd, .events = POLLIN};
	long long next = 0;
	int fd, n;

	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		long long now = ops_mono_ms();

		if (now >= next) {
			ops_tick(o);
			next = ops_mono_ms() + o->tick_ms;
		}
		n = poll(&p, 1, (int)(next - now > 0 ? next - now : 0));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0 && (fd = accept4(o->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
			serve(o, fd);
	}
}
