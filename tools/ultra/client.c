/* SPDX-License-Identifier: MIT */
/* The CLI's side of the control API: one connection per request, one line each way, to a
 * Unix socket or a host's gateway over TLS (lib/cmdconn.h, docs/cmdnet.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ultra.h"
#include "cmdconn.h"

#define CONNECT_TIMEOUT_MS 10000
#define REPLY_TIMEOUT_MS 120000

static int call_at(struct ultra *u, const char *addr, const char *who, struct uv_cmdconn *c,
                   const char *execute, json_object *args, json_object **ret);

int ultra_call(struct ultra *u, const char *execute, json_object *args, json_object **ret)
{
	return call_at(u, u->sock, "command partition", NULL, execute, args, ret);
}

int ultra_call_ops(struct ultra *u, const char *execute, json_object *args, json_object **ret)
{
	return call_at(u, u->ops_sock, "operations partition", NULL, execute, args, ret);
}

/* define, undefine, start, set-disk-limits and migrate go through the operations partition while
 * it runs, so that its store stays the truth about definitions and where they run
 * (docs/operations.md); without it, or when -c names a command partition, straight to the
 * command partition. */
int ultra_call_managed(struct ultra *u, const char *execute, json_object *args, json_object **ret)
{
	struct uv_cmdconn *c = NULL;
	char err[256];

	if (u->direct ||
	    uv_cmdconn_open(u->ops_sock, NULL, CONNECT_TIMEOUT_MS, &c, err, sizeof(err)))
		return ultra_call(u, execute, args, ret);
	return call_at(u, u->ops_sock, "operations partition", c, execute, args, ret);
}

/* A standby operations partition answered (claim 47; docs/ops-ha.md): asks it where the active
 * one is, and sends the request there once. ULTRA_FAILED when it knows of none. */
static int follow_active(struct ultra *u, const char *standby, const char *execute,
                         json_object *args, json_object **ret)
{
	json_object *st = NULL, *peer = NULL;
	char addr[4096];
	int rc = ULTRA_FAILED;

	if (call_at(u, standby, "operations partition", NULL, "replica-status", NULL, &st))
		goto out;
	if (!json_object_object_get_ex(st, "peer", &peer) ||
	    strcmp(ultra_str(peer, "role"), "active"))
		goto out;
	snprintf(addr, sizeof(addr), "%s", ultra_str(peer, "address"));
	fprintf(stderr, "ultra: %s: %s at %s is the standby; asking the active one, %s at %s\n",
	        execute, ultra_str(st, "name"), standby, ultra_str(peer, "name"), addr);
	rc = call_at(u, addr, "active operations partition", NULL, execute, json_object_get(args),
	             ret);
out:
	json_object_put(st);
	json_object_put(args);
	return rc;
}

/* One request on c (opened here when NULL) and its reply; c is closed. */
static int call_at(struct ultra *u, const char *addr, const char *who, struct uv_cmdconn *c,
                   const char *execute, json_object *args, json_object **ret)
{
	json_object *req = json_object_new_object(), *reply = NULL, *v, *e;
	char *line = NULL, err[512];
	int rc = ULTRA_FAILED, r = 0;

	if (!c && (r = uv_cmdconn_open(addr, &u->tls, CONNECT_TIMEOUT_MS, &c, err, sizeof(err)))) {
		fprintf(stderr, "ultra: cannot reach the %s at %s: %s\n", who, addr, err);
		json_object_put(args);
		json_object_put(req);
		return r == -EINVAL ? ULTRA_USAGE : ULTRA_UNREACHABLE;
	}
	json_object_object_add(req, "version", json_object_new_int(1));
	json_object_object_add(req, "execute", json_object_new_string(execute));
	if (args)
		json_object_object_add(req, "arguments", json_object_get(args));
	if (uv_cmdconn_write_line(c, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN),
	                          REPLY_TIMEOUT_MS, err, sizeof(err)) ||
	    uv_cmdconn_read_line(c, &line, REPLY_TIMEOUT_MS, err, sizeof(err))) {
		fprintf(stderr, "ultra: %s: no answer from the %s at %s: %s\n", execute, who, addr,
		        err);
		rc = ULTRA_UNREACHABLE;
	} else if (!(reply = json_tokener_parse(line))) {
		fprintf(stderr, "ultra: %s: an answer that is not JSON from the %s\n", execute,
		        who);
		rc = ULTRA_UNREACHABLE;
	} else if (json_object_object_get_ex(reply, "return", &v)) {
		*ret = json_object_get(v);
		rc = ULTRA_OK;
	} else if (json_object_object_get_ex(reply, "error", &e)) {
		fprintf(stderr, "ultra: %s: %s (%s)\n", execute, ultra_str(e, "message"),
		        ultra_str(e, "code"));
		if (!strcmp(ultra_str(e, "code"), "standby") &&
		    !strcmp(who, "operations partition"))
			rc = follow_active(u, addr, execute, json_object_get(args), ret);
	} else {
		fprintf(stderr, "ultra: %s: unexpected answer %s\n", execute, line);
	}
	free(line);
	json_object_put(reply);
	json_object_put(req);
	json_object_put(args);
	uv_cmdconn_close(c);
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
