/* SPDX-License-Identifier: MIT */
/* The CLI's side of the control API: one connection per request, one line each way. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ultra.h"
#include "unixsock.h"

#define REPLY_MAX (4 << 20)
#define REPLY_TIMEOUT_MS 120000

static char *read_reply(int fd)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap), *nl;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	while (buf) {
		if (poll(&p, 1, REPLY_TIMEOUT_MS) != 1)
			break;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = 0;
		if ((nl = strchr(buf, '\n'))) {
			*nl = 0;
			return buf;
		}
		if (len + 1 == cap) {
			char *b = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;

			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
	}
	free(buf);
	return NULL;
}

static int call_at(const char *sock, const char *who, int fd, const char *execute,
                   json_object *args, json_object **ret);

int ultra_call(struct ultra *u, const char *execute, json_object *args, json_object **ret)
{
	return call_at(u->sock, "command partition", -1, execute, args, ret);
}

int ultra_call_ops(struct ultra *u, const char *execute, json_object *args, json_object **ret)
{
	return call_at(u->ops_sock, "operations partition", -1, execute, args, ret);
}

/* define, undefine and start go through the operations partition while it runs, so that its
 * store stays the truth about definitions (docs/operations.md); without it, or when -c names
 * a command partition, straight to the command partition. */
int ultra_call_managed(struct ultra *u, const char *execute, json_object *args, json_object **ret)
{
	int fd = u->direct ? -1 : uv_unix_connect(u->ops_sock, SOCK_STREAM);

	if (fd < 0)
		return ultra_call(u, execute, args, ret);
	return call_at(u->ops_sock, "operations partition", fd, execute, args, ret);
}

static int call_at(const char *sock, const char *who, int fd, const char *execute,
                   json_object *args, json_object **ret)
{
	json_object *req = json_object_new_object(), *reply = NULL, *v, *e;
	char *line = NULL;
	int rc = ULTRA_FAILED;

	if (fd < 0)
		fd = uv_unix_connect(sock, SOCK_STREAM);
	if (fd < 0) {
		fprintf(stderr, "ultra: cannot reach the %s at %s: %s\n", who, sock, strerror(-fd));
		json_object_put(args);
		json_object_put(req);
		return ULTRA_UNREACHABLE;
	}
	json_object_object_add(req, "version", json_object_new_int(1));
	json_object_object_add(req, "execute", json_object_new_string(execute));
	if (args)
		json_object_object_add(req, "arguments", args);
	if (dprintf(fd, "%s\n", json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN)) < 0 ||
	    !(line = read_reply(fd)) || !(reply = json_tokener_parse(line))) {
		fprintf(stderr, "ultra: %s: no answer from the %s\n", execute, who);
		rc = ULTRA_UNREACHABLE;
	} else if (json_object_object_get_ex(reply, "return", &v)) {
		*ret = json_object_get(v);
		rc = ULTRA_OK;
	} else if (json_object_object_get_ex(reply, "error", &e)) {
		fprintf(stderr, "ultra: %s: %s (%s)\n", execute, ultra_str(e, "message"),
		        ultra_str(e, "code"));
	} else {
		fprintf(stderr, "ultra: %s: unexpected answer %s\n", execute, line);
	}
	free(line);
	json_object_put(reply);
	json_object_put(req);
	close(fd);
	return rc;
}

json_object *ultra_name_arg(const char *name)
{
	json_object *a = json_object_new_object();

	json_object_object_add(a, "name", json_object_new_string(name));
	return a;
}

void ultra_print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

void ultra_print_names(json_object *o, const char *key)
{
	json_object *names = NULL;

	json_object_object_get_ex(o, key, &names);
	for (size_t j = 0; names && j < json_object_array_length(names); j++)
		printf("%s%s", j ? "," : " ",
		       json_object_get_string(json_object_array_get_idx(names, j)));
	printf("\n");
}

int ultra_ops_named(struct ultra *u, const char *execute, const char *what, const char *name,
                    const char *done)
{
	json_object *ret = NULL;
	int rc;

	if ((rc = ultra_call_ops(u, execute, ultra_name_arg(name), &ret)))
		return rc;
	json_object_put(ret);
	if (u->json)
		printf("{}\n");
	else
		printf("%s %s %s\n", what, name, done);
	return ULTRA_OK;
}

const char *ultra_str(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

long long ultra_int(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? (long long)json_object_get_int64(v) : 0;
}

void ultra_fmt_uptime(long long s, char *buf, size_t cap)
{
	if (s <= 0)
		snprintf(buf, cap, "-");
	else if (s < 60)
		snprintf(buf, cap, "%llds", s);
	else if (s < 3600)
		snprintf(buf, cap, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(buf, cap, "%lldh%02lldm", s / 3600, (s / 60) % 60);
}

static int in(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return 1;
	return 0;
}

int ultra_wait_state(struct ultra *u, const char *name, const char *const *states, int timeout_s,
                     const char *doing)
{
	struct timespec ts = {0, 200 * 1000 * 1000};
	int tty = isatty(2), i, rc;
	json_object *info = NULL;

	for (i = 0; i < timeout_s * 5; i++) {
		if ((rc = ultra_call(u, "info", ultra_name_arg(name), &info)))
			return rc;
		if (in(ultra_str(info, "state"), states)) {
			if (tty)
				fprintf(stderr, "\r%s %s: %s after %.1f s\n", doing, name,
				        ultra_str(info, "state"), i / 5.0);
			json_object_put(info);
			return ULTRA_OK;
		}
		if (tty)
			fprintf(stderr, "\r%s %s: %s (%.1f s)", doing, name,
			        ultra_str(info, "state"), i / 5.0);
		json_object_put(info);
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "%sultra: %s: still not %s after %d s\n", tty ? "\n" : "", name, states[0],
	        timeout_s);
	return ULTRA_FAILED;
}
