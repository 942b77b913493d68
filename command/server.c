/* SPDX-License-Identifier: MIT */
/* RUN/command.sock: a stream socket, one JSON request per line, one reply line each, answered
 * in order. Requests are served one at a time: each is a few transactions, and serialising them
 * is what keeps two requests from deciding on the same free partition number. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "unixsock.h"

int cmd_server_listen(struct cmdp *c, char *err, size_t errlen)
{
	char path[512];
	int n = snprintf(path, sizeof(path), "%s/command.sock", c->run_dir);

	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(err, errlen, "run directory path too long");
		return -ENAMETOOLONG;
	}
	c->listen_fd = uv_unix_listen(path, SOCK_STREAM | SOCK_NONBLOCK, 16);
	if (c->listen_fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-c->listen_fd));
		return c->listen_fd;
	}
	return 0;
}

static void drop(struct cmd_client *cl)
{
	close(cl->fd);
	free(cl->buf);
	*cl = (struct cmd_client){.fd = -1};
}

static void accept_one(struct cmdp *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC), i;

	if (fd < 0)
		return;
	for (i = 0; i < CMD_CLIENTS_MAX; i++)
		if (c->clients[i].fd < 0) {
			c->clients[i] = (struct cmd_client){.fd = fd, .buf = malloc(CMD_LINE_MAX)};
			if (!c->clients[i].buf)
				drop(&c->clients[i]);
			return;
		}
	dprintf(fd, "{\"error\":{\"code\":\"busy\",\"message\":\"too many clients\"}}\n");
	close(fd);
}

static int reply(int fd, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int r = dprintf(fd, "%s\n", s) < 0 ? -1 : 0;

	json_object_put(o);
	return r;
}

/* Serves every complete line; 0 to keep the client, -1 to drop it. */
static int serve(struct cmdp *c, struct cmd_client *cl)
{
	ssize_t n = read(cl->fd, cl->buf + cl->len, CMD_LINE_MAX - 1 - cl->len);
	char *nl;

	if (n <= 0)
		return n < 0 && errno == EINTR ? 0 : -1;
	cl->len += (size_t)n;
	cl->buf[cl->len] = 0;
	while ((nl = memchr(cl->buf, '\n', cl->len))) {
		*nl = 0;
		if (reply(cl->fd, cmd_api_handle(c, cl->buf)))
			return -1;
		cl->len -= (size_t)(nl + 1 - cl->buf);
		memmove(cl->buf, nl + 1, cl->len);
		cl->buf[cl->len] = 0;
	}
	if (cl->len == CMD_LINE_MAX - 1) {
		dprintf(cl->fd,
		        "{\"error\":{\"code\":\"bad-request\",\"message\":\"request "
		        "longer than %d bytes\"}}\n",
		        CMD_LINE_MAX - 1);
		return -1;
	}
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cmd_server_run(struct cmdp *c)
{
	struct pollfd p[CMD_CLIENTS_MAX + 1];
	int i, n;

	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		p[0] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
		for (i = 0; i < CMD_CLIENTS_MAX; i++)
			p[i + 1] = (struct pollfd){.fd = c->clients[i].fd, .events = POLLIN};
		n = poll(p, CMD_CLIENTS_MAX + 1, 1000);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (now_ms() - c->watched_ms >= 1000) { /* look after the monitors once a second */
			cmd_watch_monitors(c);
			cmd_incoming_expire(c);
			cmd_place_sync(c);
			cmd_chans_drop(c, 0, NULL);
			c->watched_ms = now_ms();
		}
		if (n <= 0)
			continue;
		if (p[0].revents & POLLIN)
			accept_one(c);
		for (i = 0; i < CMD_CLIENTS_MAX; i++)
			if (c->clients[i].fd >= 0 &&
			    (p[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    serve(c, &c->clients[i]))
				drop(&c->clients[i]);
	}
}
