/* SPDX-License-Identifier: MIT */
/*
 * RUN/witness.sock: a poll loop over a few clients (the two operations partitions, through
 * their gateway, and operators). A request is a short line and so is its answer: an answer the
 * socket does not take at once, or a line over the bound, ends that client, never the loop.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linebuf.h"
#include "unixsock.h"
#include "wit_daemon.h"

#define CLIENTS_MAX 16
#define CLIENT_IDLE_MS 60000

struct client {
	int fd; /* -1: free */
	struct uv_linebuf in;
	long long last_ms;
};

int witness_listen(struct witness *w, const char *run_dir, char *err, size_t errlen)
{
	char path[512];

	if (snprintf(path, sizeof(path), "%s/witness.sock", run_dir) >= (int)sizeof(path)) {
		snprintf(err, errlen, "run directory path too long");
		return -ENAMETOOLONG;
	}
	w->listen_fd = uv_unix_listen(path, SOCK_STREAM | SOCK_NONBLOCK, 16);
	if (w->listen_fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-w->listen_fd));
		return w->listen_fd;
	}
	return 0;
}

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	uv_linebuf_free(&c->in);
	*c = (struct client){.fd = -1};
}

/* Sends line and '\n' whole; -1 when the socket did not take it. */
static int send_line(int fd, char *line)
{
	size_t n;
	ssize_t sent;

	if (!line)
		return -1;
	n = strlen(line);
	line[n] = '\n'; /* over the NUL: line is not used as a string again */
	sent = send(fd, line, n + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(line);
	return sent == (ssize_t)(n + 1) ? 0 : -1;
}

/* Reads what arrived and answers every whole line; -1 when the client is done. */
static int client_serve(struct witness *w, struct client *c, long long now)
{
	ssize_t n = recv(c->fd, uv_linebuf_tail(&c->in), uv_linebuf_space(&c->in), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (n > 0) {
		uv_linebuf_added(&c->in, (size_t)n);
		c->last_ms = now;
	}
	while ((n = uv_linebuf_line(&c->in)) > 0) {
		if (send_line(c->fd, witness_answer(w, c->in.buf, (size_t)n - 1)))
			return -1;
		uv_linebuf_consume(&c->in, (size_t)n);
	}
	if (n == -EMSGSIZE) {
		send_line(c->fd,
		          strdup("{\"error\":{\"code\":\"bad-request\",\"message\":\"request "
		                 "line too long\"}}"));
		return -1;
	}
	return 0;
}

static void accept_one(struct witness *w, struct client *cl, long long now)
{
	int fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	for (size_t i = 0; i < CLIENTS_MAX; i++) {
		if (cl[i].fd >= 0)
			continue;
		if (uv_linebuf_init(&cl[i].in, UV_WIT_LINE_MAX))
			break;
		cl[i].fd = fd;
		cl[i].last_ms = now;
		return;
	}
	close(fd); /* full: the oldest clients are the peers, which keep theirs */
}

int witness_serve(struct witness *w)
{
	struct client cl[CLIENTS_MAX];
	struct pollfd p[CLIENTS_MAX + 1];

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < CLIENTS_MAX; i++)
		cl[i] = (struct client){.fd = -1};
	for (;;) {
		long long now;

		p[0] = (struct pollfd){.fd = w->listen_fd, .events = POLLIN};
		for (size_t i = 0; i < CLIENTS_MAX; i++)
			p[i + 1] = (struct pollfd){.fd = cl[i].fd, .events = POLLIN};
		if (poll(p, CLIENTS_MAX + 1, 1000) < 0 && errno != EINTR)
			return -errno;
		now = witness_mono_ms();
		for (size_t i = 0; i < CLIENTS_MAX; i++) {
			if (cl[i].fd < 0)
				continue;
			if (((p[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) &&
			     client_serve(w, &cl[i], now)) ||
			    now - cl[i].last_ms > CLIENT_IDLE_MS)
				client_close(&cl[i]);
		}
		if (p[0].revents & POLLIN)
			accept_one(w, cl, now);
	}
}
