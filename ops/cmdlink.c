/* SPDX-License-Identifier: MIT */
/* ultra-ops as a client of each host's command partition (claims 36, 43): one connection per
 * host kept open, opened again when that command partition restarts, one JSON line each way
 * (docs/command.md); to this host through its socket, to another through its gateway over TLS
 * (docs/cmdnet.md). Every link is opened by ops_link_open() from the host's address. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "cmdconn.h"

#define CONNECT_TIMEOUT_MS 10000
#define REPLY_TIMEOUT_MS 60000

void ops_link_close(struct ops_link *l)
{
	uv_cmdconn_close(l->conn);
	l->conn = NULL;
}

/* The one place an address becomes a connection; the address decides the transport (a Unix
 * path or tls://HOST:PORT, lib/cmdconn.h). */
int ops_link_open(struct ops_link *l, unsigned timeout_ms, char *err, size_t errlen)
{
	int r, t = (int)(timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS);

	if (l->conn)
		return 0;
	if ((r = uv_cmdconn_open(l->address, l->tls, t, &l->conn, err, errlen)))
		return r;
	l->gen++;
	return 0;
}

json_object *ops_link_exchange(struct ops_link *l, const char *req, unsigned timeout_ms, char *err,
                               size_t errlen)
{
	json_object *rep = NULL;
	char *line = NULL;

	if (ops_link_open(l, timeout_ms, err, errlen))
		return NULL;
	if (uv_cmdconn_write_line(l->conn, req, (int)timeout_ms, err, errlen) ||
	    uv_cmdconn_read_line(l->conn, &line, (int)timeout_ms, err, errlen)) {
		ops_link_close(l);
		return NULL;
	}
	if (!(rep = json_tokener_parse(line))) {
		snprintf(err, errlen, "an answer that is not JSON");
		ops_link_close(l);
	}
	free(line);
	return rep;
}

char *ops_cmd_request(const char *execute, json_object *args)
{
	json_object *req = json_object_new_object();
	char *line;

	json_object_object_add(req, "version", json_object_new_int(1));
	json_object_object_add(req, "execute", json_object_new_string(execute));
	if (args)
		json_object_object_add(req, "arguments", args);
	line = strdup(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	return line;
}

int ops_cmd_return(json_object *rep, const char *execute, json_object **ret, struct api_err *e)
{
	json_object *v, *err;

	if (json_object_object_get_ex(rep, "return", &v)) {
		*ret = json_object_get(v);
		return 0;
	}
	if (json_object_object_get_ex(rep, "error", &err) &&
	    json_object_object_get_ex(err, "code", &v)) {
		/* Its codes are ours too (docs/operations.md): passed on as they are. */
		const char *code = uv_api_command_code(json_object_get_string(v), "internal");

		json_object_object_get_ex(err, "message", &v);
		return api_fail(e, code, "%s", v ? json_object_get_string(v) : "no message");
	}
	return api_fail(e, "internal", "%s: unexpected answer from the command partition", execute);
}

int ops_node_call_within(struct ops *o, struct ops_node *n, const char *execute, json_object *args,
                         unsigned timeout_ms, json_object **ret, struct api_err *e)
{
	char why[512] = "", *req = ops_cmd_request(execute, args);
	json_object *rep = NULL;
	int r = -1;

	if (!req)
		return api_fail(e, "internal", "out of memory");
	/* A broken connection is the command partition restarting: once more on a new one. */
	if (!(rep = ops_link_exchange(&n->link, req, timeout_ms, why, sizeof(why))))
		rep = ops_link_exchange(&n->link, req, timeout_ms, why, sizeof(why));
	if (!rep) {
		if (o->implicit)
			api_fail(e, "command",
			         "%s: the command partition at %s does not answer: %s", execute,
			         n->link.address, why);
		else
			api_fail(e, "command",
			         "%s: the command partition of host %s at %s does not answer: %s",
			         execute, n->host.name, n->link.address, why);
	} else {
		r = ops_cmd_return(rep, execute, ret, e);
	}
	json_object_put(rep);
	free(req);
	return r;
}

int ops_node_call(struct ops *o, struct ops_node *n, const char *execute, json_object *args,
                  json_object **ret, struct api_err *e)
{
	return ops_node_call_within(o, n, execute, args, REPLY_TIMEOUT_MS, ret, e);
}

json_object *ops_node_list(struct ops *o, struct ops_node *n, unsigned timeout_ms,
                           struct api_err *e)
{
	json_object *ret = NULL;

	if (ops_node_call_within(o, n, "list", NULL, timeout_ms, &ret, e))
		return NULL;
	if (!json_object_is_type(ret, json_type_array)) {
		json_object_put(ret);
		api_fail(e, "internal", "list: the command partition answered no array");
		return NULL;
	}
	return ret;
}

/* Each stored partition's entry from the list of the host it is placed on (hosts that are
 * not up are not asked: their partitions are missing, as if inactive). */
static json_object *merged_list(struct ops *o)
{
	json_object *all = json_object_new_array(),
		    **lists = calloc(o->n_nodes + 1, sizeof(*lists)), *p;
	struct ops_part *parts = NULL;
	struct api_err e;
	size_t n = 0;

	if (!lists)
		return all;
	for (size_t i = 0; i < o->n_nodes; i++)
		lists[i] = o->nodes[i].state == OPS_NODE_UP
		               ? ops_node_list(o, &o->nodes[i], ops_probe_ms(o), &e)
		               : NULL;
	if (!opsdb_part_list(o->db, &parts, &n))
		for (size_t i = 0; i < n; i++) {
			struct ops_node *h = ops_node_of(o, &parts[i]);

			if (!h || !(p = ops_listed(lists[h - o->nodes], parts[i].name)))
				continue;
			p = json_object_get(p);
			json_object_object_add(p, "host", json_object_new_string(h->host.name));
			json_object_array_add(all, p);
		}
	ops_parts_free(parts, n);
	for (size_t i = 0; i < o->n_nodes; i++)
		json_object_put(lists[i]);
	free(lists);
	return all;
}

json_object *ops_cmd_list(struct ops *o, struct api_err *e)
{
	if (o->implicit)
		return ops_node_list(o, &o->nodes[0], REPLY_TIMEOUT_MS, e);
	return merged_list(o);
}

json_object *ops_listed(json_object *list, const char *name)
{
	json_object *p, *v;
	size_t i, n = list ? json_object_array_length(list) : 0;

	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(list, i);
		if (json_object_object_get_ex(p, "name", &v) &&
		    !strcmp(json_object_get_string(v), name))
			return p;
	}
	return NULL;
}

/* An engine runs or waits for one: a migrating guest runs here, an incoming one holds its grant
 * and an engine waiting for the stream (docs/migration.md). */
bool ops_state_active(const char *state)
{
	static const char *const active[] = {"starting", "running",  "paused",
	                                     "stopping", "incoming", "migrating"};

	for (size_t i = 0; state && i < sizeof(active) / sizeof(active[0]); i++)
		if (!strcmp(state, active[i]))
			return true;
	return false;
}

uint32_t ops_milli(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v)
	           ? (uint32_t)llround(json_object_get_double(v) * 1000.0)
	           : 0;
}

json_object *ops_json_cpus(uint32_t milli)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%g", milli / 1000.0);
	return json_object_new_double_s(milli / 1000.0, buf);
}
