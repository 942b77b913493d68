/* SPDX-License-Identifier: MIT */
/* Another host's command partition, reached through its control API (docs/command.md) as any
 * client reaches it: the source of a live migration talks to the target's this way (claim 44).
 * Its answers are a peer's bytes: read with a bound on length and time, checked before use. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "unixsock.h"

#define PEER_REPLY_MAX (256 * 1024)

/* The peer's code, if it is one of ours (api_err keeps a static string), else "refused". */
static const char *known_code(const char *code)
{
	static const char *const codes[] = {
	    "bad-request",
	    "bad-version",
	    "unknown-command",
	    "invalid-definition",
	    "no-such-partition",
	    "exists",
	    "busy",
	    "not-running",
	    "no-space",
	    "not-permitted",
	    "refused",
	    "monitor",
	    "io",
	    "ultravisor",
	    "internal",
	    "unsupported",
	    "migration",
	};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (code && !strcmp(code, codes[i]))
			return codes[i];
	return "refused";
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line, within the deadline; the caller frees it. */
static int read_reply(int fd, int timeout_ms, char **out)
{
	long long deadline = now_ms() + timeout_ms;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nl;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;
	int r;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		long long left = deadline - now_ms();

		if (left <= 0 || (r = poll(&p, 1, (int)left)) == 0) {
			r = -ETIMEDOUT;
			break;
		}
		if (r < 0 && errno == EINTR)
			continue;
		n = r < 0 ? -1 : read(fd, buf + len, cap - 1 - len);
		if (n <= 0) {
			r = n ? -errno : -ECONNRESET;
			break;
		}
		len += (size_t)n;
		buf[len] = 0;
		if ((nl = memchr(buf, '\n', len))) {
			*nl = 0;
			*out = buf;
			return 0;
		}
		if (len + 1 == cap) {
			char *b = cap < PEER_REPLY_MAX ? realloc(buf, cap * 2) : NULL;

			if (!b) {
				r = -EMSGSIZE;
				break;
			}
			buf = b;
			cap *= 2;
		}
	}
	free(buf);
	return r;
}

int cmd_peer_call(const char *sock, const char *execute, json_object *args, json_object **ret,
                  int timeout_ms, struct api_err *e)
{
	json_object *req = json_object_new_object(), *reply = NULL, *v, *err;
	char *line = NULL;
	const char *s;
	int fd, r = -1;

	json_object_object_add(req, "version", json_object_new_int(CMD_API_VERSION));
	json_object_object_add(req, "execute", json_object_new_string(execute));
	if (args)
		json_object_object_add(req, "arguments", json_object_get(args));
	fd = uv_unix_connect(sock, SOCK_STREAM);
	if (fd < 0) {
		api_fail(e, "migration", "the target's command partition at %s: %s", sock,
		         strerror(-fd));
		goto out;
	}
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (dprintf(fd, "%s\n", s) < 0 || (r = read_reply(fd, timeout_ms, &line)) ||
	    !(reply = json_tokener_parse(line)) || !json_object_is_type(reply, json_type_object)) {
		api_fail(e, "migration", "the target's command partition at %s did not answer %s",
		         sock, execute);
		r = -1;
		goto out;
	}
	r = -1;
	if (json_object_object_get_ex(reply, "return", &v)) {
		*ret = json_object_get(v);
		r = 0;
	} else if (json_object_object_get_ex(reply, "error", &err) &&
	           json_object_is_type(err, json_type_object)) {
		json_object *code = NULL, *msg = NULL;

		json_object_object_get_ex(err, "code", &code);
		json_object_object_get_ex(err, "message", &msg);
		api_fail(e,
		         known_code(json_object_is_type(code, json_type_string)
		                        ? json_object_get_string(code)
		                        : NULL),
		         "the target refused %s: %.400s", execute,
		         json_object_is_type(msg, json_type_string) ? json_object_get_string(msg)
		                                                    : "no reason given");
	} else {
		api_fail(e, "migration",
		         "the target's command partition answered %s with neither "
		         "return nor error",
		         execute);
	}
out:
	if (fd >= 0)
		close(fd);
	free(line);
	json_object_put(reply);
	json_object_put(req);
	return r;
}
