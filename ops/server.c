/* SPDX-License-Identifier: MIT */
/*
 * RUN/ops.sock and the timer, in one poll loop. Many clients may be connected at once: a client
 * that is slow to send its request, or to read its answer, holds only its own slot, never the
 * others or the tick (host failover runs on ticks, docs/operations.md). Requests are answered
 * one at a time, one line per client per turn, so a client that pipelines many requests takes
 * turns with the rest. A client gets its next answer only once it has read the last one
 * (backpressure: at most one answer is buffered per client). A migration is answered once it has
 * ended (moves.c): its client waits, the loop does not.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linebuf.h"
#include "ops.h"
#include "unixsock.h"

#define CLIENTS_MAX 64
#define CLIENT_IDLE_MS 30000 /* silent, or not reading its answer, this long: dropped */

struct client {
	int fd; /* -1: a free slot */
	struct uv_linebuf in;
	char *out; /* the answer being written, '\n' included; NULL when none */
	size_t out_len, out_off;
	long long last_ms; /* the last byte moved either way */
	unsigned waiting;  /* the ticket of the answer it waits for (a migration); 0: none */
	bool closing;      /* close once out is written (the request was refused whole) */
	bool eof;          /* the client sent all it will: answer its whole lines, then close */
};

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

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	uv_linebuf_free(&c->in);
	free(c->out);
	*c = (struct client){.fd = -1};
}

/* Sends what the socket takes now; -1 when the client is gone. */
static int client_flush(struct client *c, long long now)
{
	ssize_t n;

	while (c->out && c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		         MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->out_off += (size_t)n;
		c->last_ms = now;
	}
	free(c->out);
	c->out = NULL;
	return c->closing ? -1 : 0;
}

/* Takes text as the answer (a copy, with its '\n'); -1 when memory ran out. */
static int client_queue(struct client *c, const char *text)
{
	size_t n = strlen(text);

	if (!(c->out = malloc(n + 1)))
		return -1;
	memcpy(c->out, text, n);
	c->out[n] = '\n';
	c->out_len = n + 1;
	c->out_off = 0;
	return 0;
}

/* Answers the client's first complete line, if it has one and nothing is left to write. */
static int client_answer(struct ops *o, struct client *c)
{
	ssize_t n = c->out || c->closing || c->waiting ? 0 : uv_linebuf_line(&c->in);
	json_object *rep;
	int r;

	if (n == -EMSGSIZE) {
		char msg[160];

		snprintf(
		    msg, sizeof(msg),
		    "{\"error\":{\"code\":\"bad-request\",\"message\":\"request longer than %d "
		    "bytes\"}}",
		    OPS_LINE_MAX - 1);
		c->closing = true;
		return client_queue(c, msg);
	}
	if (n <= 0)
		return 0;
	c->in.buf[n - 1] = 0;
	rep = ops_api_handle(o, c->in.buf, &c->waiting);
	uv_linebuf_consume(&c->in, (size_t)n);
	if (!rep)
		return 0;
	r = client_queue(c, json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN));
	json_object_put(rep);
	return r;
}

/* Reads what has arrived; -1 when the connection failed. */
static int client_read(struct client *c, long long now)
{
	size_t space = uv_linebuf_space(&c->in);
	ssize_t n;

	if (!space || c->eof)
		return 0; /* a whole line waits for its turn, or the line is over the bound */
	n = recv(c->fd, uv_linebuf_tail(&c->in), space, MSG_DONTWAIT);
	if (n == 0) {
		c->eof = true; /* a shut-down write side still gets its answers */
		return 0;
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return -1;
	if (n > 0) {
		uv_linebuf_added(&c->in, (size_t)n);
		c->last_ms = now;
	}
	return 0;
}

static void accept_clients(struct ops *o, struct client *cl, long long now)
{
	for (size_t i = 0; i < CLIENTS_MAX; i++) {
		int fd;

		if (cl[i].fd >= 0)
			continue;
		if ((fd = accept4(o->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
			return;
		if (uv_linebuf_init(&cl[i].in, OPS_LINE_MAX)) {
			close(fd);
			return;
		}
		cl[i].fd = fd;
		cl[i].last_ms = now;
	}
}

static bool has_work(const struct client *c)
{
	return c->fd >= 0 && !c->out && !c->waiting && (c->closing || uv_linebuf_line(&c->in) != 0);
}

struct clients {
	struct client *cl;
	long long now;
};

/* A migration's answer, to the client that asked for it if it is still there. */
static void deliver(void *ctx, unsigned ticket, json_object *rep)
{
	struct clients *a = ctx;

	for (size_t i = 0; i < CLIENTS_MAX; i++) {
		struct client *c = &a->cl[i];

		if (c->fd < 0 || c->waiting != ticket)
			continue;
		c->waiting = 0;
		c->last_ms = a->now;
		if (client_queue(c, json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN)))
			c->closing = true;
		break;
	}
	json_object_put(rep);
}

/* One turn over the clients: poll results in, answers out, idle ones dropped. */
static void serve_clients(struct ops *o, struct client *cl, const struct pollfd *p, long long now)
{
	for (size_t i = 0; i < CLIENTS_MAX; i++) {
		struct client *c = &cl[i];

		if (c->fd < 0)
			continue;
		if ((p[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) && client_read(c, now))
			goto drop;
		if (client_answer(o, c) || client_flush(c, now))
			goto drop;
		if (!has_work(c) && !c->waiting &&
		    (c->eof ? !c->out : now - c->last_ms > CLIENT_IDLE_MS))
			goto drop;
		continue;
	drop:
		client_close(c);
	}
}

int ops_server_run(struct ops *o)
{
	struct client cl[CLIENTS_MAX];
	struct pollfd p[CLIENTS_MAX + 2]; /* listen socket, clients, ended migrations */
	long long next = 0;
	int n;

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < CLIENTS_MAX; i++)
		cl[i] = (struct client){.fd = -1};
	for (;;) {
		long long now = ops_mono_ms(), wait;
		size_t used = 0;
		bool ready = false;

		if (now >= next) {
			ops_tick(o);
			next = ops_mono_ms() + o->tick_ms;
			now = ops_mono_ms();
		}
		wait = next - now;
		for (size_t i = 0; i < CLIENTS_MAX; i++) {
			struct client *c = &cl[i];

			p[i + 1] = (struct pollfd){.fd = c->fd};
			if (c->fd < 0)
				continue;
			used++;
			p[i + 1].events = c->out ? POLLOUT : c->eof ? 0 : POLLIN;
			if (c->waiting && c->eof)
				p[i + 1].fd =
				    -1; /* gone: its hang-up would wake us until answered */
			ready |= has_work(c);
			if (!c->waiting && c->last_ms + CLIENT_IDLE_MS + 1 - now < wait)
				wait = c->last_ms + CLIENT_IDLE_MS + 1 - now;
		}
		/* A full house leaves the rest in the listen backlog until a slot frees. */
		p[0] =
		    (struct pollfd){.fd = used < CLIENTS_MAX ? o->listen_fd : -1, .events = POLLIN};
		p[CLIENTS_MAX + 1] = (struct pollfd){.fd = ops_moves_fd(o), .events = POLLIN};
		n = poll(p, CLIENTS_MAX + 2, ready ? 0 : (int)(wait > 0 ? wait : 0));
		if (n < 0 && errno != EINTR)
			return -errno;
		now = ops_mono_ms();
		if (n > 0 && (p[CLIENTS_MAX + 1].revents & POLLIN))
			ops_moves_reap(o, deliver, &(struct clients){cl, now});
		if (n > 0 && (p[0].revents & POLLIN))
			accept_clients(o, cl, now);
		serve_clients(o, cl, p, now);
	}
}
