/* SPDX-License-Identifier: MIT */
#include "qmp.h"
#include "fdpass.h"
#include "unixsock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define QMP_LINE_MAX (1 << 20)

struct qmp {
	int fd;
	int timeout_ms;
	unsigned long next_id;
	qmp_event_fn on_event;
	void *opaque;
	size_t len;
	char buf[64 * 1024];
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fill(struct qmp *q, int timeout_ms)
{
	struct pollfd p = {.fd = q->fd, .events = POLLIN};
	ssize_t n;
	int r;

	if (q->len == sizeof(q->buf))
		return -EPROTO; /* a line longer than we accept: QEMU never sends one */
	r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	n = recv(q->fd, q->buf + q->len, sizeof(q->buf) - q->len, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	q->len += (size_t)n;
	return 0;
}

/* Takes one complete line out of the buffer and parses it: 1 with *msg, 0 when no full line is
 * there, -EBADMSG for a line that is not a JSON object (consumed: the next line is read next). */
static int next_message(struct qmp *q, json_object **msg)
{
	char *nl = memchr(q->buf, '\n', q->len);
	size_t used;

	*msg = NULL;
	if (!nl)
		return 0;
	*nl = 0;
	used = (size_t)(nl - q->buf) + 1;
	*msg = json_tokener_parse(q->buf);
	memmove(q->buf, q->buf + used, q->len - used);
	q->len -= used;
	if (*msg && !json_object_is_type(*msg, json_type_object)) {
		json_object_put(*msg);
		*msg = NULL;
	}
	return *msg ? 1 : -EBADMSG;
}

/* Delivers events; returns 1 with *answer set for anything that is not an event. The engine is
 * not trusted (a guest may have taken QEMU over), so an event reaches the callback only with a
 * string name and data that is an object or NULL: a malformed one is dropped. */
static int route(struct qmp *q, json_object *msg, json_object **answer)
{
	json_object *ev, *data = NULL;

	if (json_object_object_get_ex(msg, "event", &ev)) {
		json_object_object_get_ex(msg, "data", &data);
		if (!json_object_is_type(data, json_type_object))
			data = NULL;
		if (q->on_event && json_object_is_type(ev, json_type_string))
			q->on_event(q->opaque, json_object_get_string(ev), data);
		json_object_put(msg);
		return 0;
	}
	*answer = msg;
	return 1;
}

int qmp_dispatch(struct qmp *q)
{
	json_object *msg, *answer = NULL;
	int r;

	r = fill(q, 0);
	if (r < 0 && r != -ETIMEDOUT)
		return r;
	/* A line that is not JSON is skipped, not left to stall the lines behind it. */
	while ((r = next_message(q, &msg)) != 0) {
		if (r > 0 && route(q, msg, &answer)) {
			/* An answer nobody waits for (a late reply after a timeout): drop it. */
			json_object_put(answer);
		}
	}
	return 0;
}

static int wait_answer(struct qmp *q, json_object **answer)
{
	long deadline = now_ms() + q->timeout_ms;
	json_object *msg;
	int r;

	for (;;) {
		while ((r = next_message(q, &msg)) > 0)
			if (route(q, msg, answer))
				return 0;
		if (r < 0)
			return r;
		long left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if ((r = fill(q, (int)left)) < 0)
			return r;
	}
}

static int send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The request goes out in one piece: with fd >= 0, in one message carrying it (SCM_RIGHTS),
 * which is how QEMU takes an fd for add-fd and getfd. */
static int send_request(struct qmp *q, const char *s, int fd)
{
	int r;

	if (fd < 0) {
		r = send_all(q->fd, s, strlen(s));
		return r ? r : send_all(q->fd, "\n", 1);
	}
	char *line = NULL;
	if (asprintf(&line, "%s\n", s) < 0)
		return -ENOMEM;
	r = uv_send_fds(q->fd, line, strlen(line), &fd, 1);
	free(line);
	return r;
}

int qmp_execute(struct qmp *q, const char *cmd, json_object *args, json_object **ret, char *err,
                size_t errlen)
{
	return qmp_execute_fd(q, cmd, args, -1, ret, err, errlen);
}

int qmp_execute_fd(struct qmp *q, const char *cmd, json_object *args, int fd, json_object **ret,
                   char *err, size_t errlen)
{
	json_object *req = json_object_new_object(), *answer = NULL, *v, *id;
	unsigned long my_id = ++q->next_id;
	const char *s;
	int r;

	if (ret)
		*ret = NULL;
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", json_object_get(args));
	json_object_object_add(req, "id", json_object_new_int64((int64_t)my_id));
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	r = send_request(q, s, fd);
	json_object_put(req);
	if (r)
		goto out;
	for (;;) {
		if ((r = wait_answer(q, &answer)))
			goto out;
		if (json_object_object_get_ex(answer, "id", &id) &&
		    (unsigned long)json_object_get_int64(id) == my_id)
			break;
		json_object_put(answer); /* stale answer to an earlier, timed-out command */
		answer = NULL;
	}
	if (json_object_object_get_ex(answer, "error", &v)) {
		json_object *desc;
		json_object_object_get_ex(v, "desc", &desc);
		snprintf(err, errlen, "%s: %s", cmd,
		         json_object_is_type(desc, json_type_string) ? json_object_get_string(desc)
		                                                     : "error");
		r = -EIO;
		goto out;
	}
	if (ret && json_object_object_get_ex(answer, "return", &v))
		*ret = json_object_get(v);
	r = 0;
out:
	json_object_put(answer);
	if (r && r != -EIO)
		snprintf(err, errlen, "%s: %s", cmd, strerror(-r));
	return r;
}

int qmp_open_fd(int fd, int timeout_ms, qmp_event_fn on_event, void *opaque, struct qmp **out)
{
	struct qmp *q;
	json_object *greeting = NULL;
	char err[128];
	int r;

	q = calloc(1, sizeof(*q));
	if (!q) {
		close(fd);
		return -ENOMEM;
	}
	q->fd = fd;
	q->timeout_ms = timeout_ms;
	q->on_event = on_event;
	q->opaque = opaque;
	/* The greeting is the first message; it carries "QMP" and no id. */
	if ((r = wait_answer(q, &greeting)))
		goto fail;
	if (!json_object_object_get_ex(greeting, "QMP", NULL)) {
		r = -EPROTO;
		goto fail;
	}
	if ((r = qmp_execute(q, "qmp_capabilities", NULL, NULL, err, sizeof(err))))
		goto fail;
	json_object_put(greeting);
	*out = q;
	return 0;
fail:
	json_object_put(greeting);
	qmp_close(q);
	return r;
}

int qmp_open(const char *path, int timeout_ms, qmp_event_fn on_event, void *opaque,
             struct qmp **out)
{
	int fd = uv_unix_connect(path, SOCK_STREAM);

	if (fd < 0)
		return fd;
	return qmp_open_fd(fd, timeout_ms, on_event, opaque, out);
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	free(q);
}

int qmp_fd(const struct qmp *q) { return q->fd; }
