/* SPDX-License-Identifier: MIT */
/*
 * The hosts (claims 39, 41): each tick every registered host's command partition is asked for
 * its list. One silent for --host-dead-ms is down, and the partitions that were active on it are
 * placed on another up host of their zone and started there, from the definition in the store
 * (claim 38). A down host that answers again is fenced before it is up: every partition it
 * holds that the store places on another host is destroyed and undefined on it, so no guest
 * runs twice under our management. A stored partition without a host that a host holds is
 * adopted by it (a store from before hosts were registered).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"

/* A failover that found no host is tried again this much later. */
#define FAILOVER_GAP 5

long long ops_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *ops_node_state_name(enum ops_node_state s)
{
	return s == OPS_NODE_UP ? "up" : s == OPS_NODE_DOWN ? "down" : "unknown";
}

static void node_clear(struct ops_node *n)
{
	ops_link_close(&n->link);
	json_object_put(n->list);
	n->list = NULL;
}

void ops_nodes_free(struct ops *o)
{
	for (size_t i = 0; i < o->n_nodes; i++)
		node_clear(&o->nodes[i]);
	free(o->nodes);
	o->nodes = NULL;
	o->n_nodes = 0;
}

static void node_init(const struct ops *o, struct ops_node *n, const struct ops_host *h)
{
	memset(n, 0, sizeof(*n));
	n->host = *h;
	snprintf(n->link.address, sizeof(n->link.address), "%s", h->address);
	n->link.tls = &o->tls;
	n->state = OPS_NODE_UNKNOWN;
	n->last_ok_ms = ops_mono_ms();
}

int ops_nodes_load(struct ops *o)
{
	struct ops_host *hosts = NULL, local = {.name = OPS_LOCAL_HOST};
	struct ops_node *nodes;
	size_t n = 0;
	int r;

	if ((r = opsdb_host_list(o->db, &hosts, &n)))
		return r;
	if (!n) {
		snprintf(local.address, sizeof(local.address), "%s", o->cmd_path);
		free(hosts);
		hosts = NULL;
	}
	if (!(nodes = calloc(n ? n : 1, sizeof(*nodes)))) {
		free(hosts);
		return -ENOMEM;
	}
	for (size_t i = 0; i < (n ? n : 1); i++) {
		const struct ops_host *h = n ? &hosts[i] : &local;
		struct ops_node *old = ops_node_named(o, h->name);

		if (old && !strcmp(old->host.address, h->address)) {
			nodes[i] = *old; /* the link and what we know of it move over */
			nodes[i].host = *h;
			old->link.conn = NULL;
			old->list = NULL;
		} else {
			node_init(o, &nodes[i], h);
		}
	}
	ops_nodes_free(o);
	o->nodes = nodes;
	o->n_nodes = n ? n : 1;
	o->implicit = !n;
	free(hosts);
	return 0;
}

struct ops_node *ops_node_named(struct ops *o, const char *name)
{
	for (size_t i = 0; i < o->n_nodes; i++)
		if (!strcmp(o->nodes[i].host.name, name))
			return &o->nodes[i];
	return NULL;
}

struct ops_node *ops_node_of(struct ops *o, const struct ops_part *p)
{
	if (o->implicit)
		return &o->nodes[0];
	return p->host[0] ? ops_node_named(o, p->host) : NULL;
}

static json_object *name_arg(const char *name)
{
	json_object *a = json_object_new_object();

	json_object_object_add(a, "name", json_object_new_string(name));
	return a;
}

/* Removes from n a partition the store places elsewhere: 0 once it is gone. A guest still
 * running there is destroyed first; undefine is refused (busy) until it has stopped, so the
 * host stays down and this is tried again on the next tick. */
static int fence_one(struct ops *o, struct ops_node *n, const char *name, const char *state,
                     const char *elsewhere)
{
	json_object *ret = NULL;
	struct api_err e;
	int r;

	if (ops_state_active(state)) {
		if (ops_node_call(o, n, "destroy", name_arg(name), &ret, &e))
			fprintf(stderr, "ultra-ops: host %s: fencing %s: destroy: %s (%s)\n",
			        n->host.name, name, e.message, e.code);
		json_object_put(ret);
		ret = NULL;
	}
	r = ops_node_call(o, n, "undefine", name_arg(name), &ret, &e);
	json_object_put(ret);
	if (r && strcmp(e.code, "no-such-partition")) {
		fprintf(stderr, "ultra-ops: host %s: fencing %s: undefine: %s (%s)\n", n->host.name,
		        name, e.message, e.code);
		return -EAGAIN;
	}
	fprintf(stderr, "ultra-ops: host %s: fenced %s (host %s has it now)\n", n->host.name, name,
	        elsewhere);
	return 0;
}

/* Before a host that was down (or not yet seen) is up: what we moved away is removed from it,
 * what nobody placed yet is adopted by it. 0 when done. */
static int fence(struct ops *o, struct ops_node *n, json_object *list)
{
	size_t i, len = json_object_array_length(list);
	struct ops_part p;
	json_object *v;
	int r = 0;

	for (i = 0; i < len; i++) {
		json_object *e = json_object_array_get_idx(list, i);
		const char *name, *state;

		if (!json_object_object_get_ex(e, "name", &v))
			continue;
		name = json_object_get_string(v);
		state = json_object_object_get_ex(e, "state", &v) ? json_object_get_string(v) : "";
		if (opsdb_part_get(o->db, name, &p))
			continue; /* not ours: defined there by hand */
		if (!p.host[0]) {
			if (!opsdb_part_set_host(o->db, name, n->host.name))
				fprintf(stderr, "ultra-ops: %s: adopted by host %s\n", name,
				        n->host.name);
		} else if (strcmp(p.host, n->host.name) && fence_one(o, n, name, state, p.host)) {
			r = -EAGAIN;
		}
		ops_part_clear(&p);
	}
	return r;
}

unsigned ops_probe_ms(const struct ops *o)
{
	unsigned ms = o->dead_ms / 2;

	return ms < 200 ? 200 : ms > 5000 ? 5000 : ms;
}

/* Was name active on n when n last answered? */
static bool was_active(const struct ops_node *n, const char *name)
{
	json_object *p = ops_listed(n->list, name), *v;

	return p && json_object_object_get_ex(p, "state", &v) &&
	       ops_state_active(json_object_get_string(v));
}

/* A stored partition that runs on n while the up host the store names has it no more moved
 * without the store (a migration made on the command partitions, `ultra -c`): the store
 * follows, or a restart of that host's command partition would get the definition pushed and
 * autostarted there again, a second copy. A host that is down is left to failover and
 * fencing. */
static void follow_moves(struct ops *o, struct ops_node *n)
{
	size_t len = json_object_array_length(n->list);

	for (size_t i = 0; !o->implicit && i < len; i++) {
		json_object *e = json_object_array_get_idx(n->list, i), *v;
		struct ops_node *was;
		struct ops_part p;
		const char *name;

		if (!json_object_object_get_ex(e, "state", &v) ||
		    strcmp(json_object_get_string(v), "running") ||
		    !json_object_object_get_ex(e, "name", &v))
			continue;
		name = json_object_get_string(v);
		if (opsdb_part_get(o->db, name, &p))
			continue;
		was = p.host[0] && strcmp(p.host, n->host.name) ? ops_node_named(o, p.host) : NULL;
		if (was && was->state == OPS_NODE_UP && !was_active(was, name) &&
		    !opsdb_part_set_host(o->db, name, n->host.name))
			fprintf(stderr,
			        "ultra-ops: %s: runs on host %s, no more on %s: the store "
			        "follows\n",
			        name, n->host.name, was->host.name);
		ops_part_clear(&p);
	}
}

static void node_tick(struct ops *o, struct ops_node *n, long long now)
{
	json_object *list;
	struct api_err e;

	if (!(list = ops_node_list(o, n, ops_probe_ms(o), &e))) {
		if (n->state != OPS_NODE_DOWN && now - n->last_ok_ms >= o->dead_ms) {
			n->state = OPS_NODE_DOWN;
			fprintf(stderr, "ultra-ops: host %s: no answer for %lld ms: down\n",
			        n->host.name, now - n->last_ok_ms);
		}
		return;
	}
	n->last_ok_ms = now;
	if (n->state != OPS_NODE_UP) {
		if (fence(o, n, list)) {
			json_object_put(list);
			return;
		}
		fprintf(stderr, "ultra-ops: host %s: up\n", n->host.name);
		n->state = OPS_NODE_UP;
	}
	json_object_put(n->list);
	n->list = list;
	follow_moves(o, n);
	if (n->link.gen != n->reconciled_gen)
		ops_reconcile(o, n);
}

void ops_nodes_tick(struct ops *o)
{
	long long now = ops_mono_ms();

	for (size_t i = 0; i < o->n_nodes; i++)
		node_tick(o, &o->nodes[i], now);
}

void ops_failover(struct ops *o)
{
	struct ops_part *parts = NULL;
	struct timespec now;
	bool missed = false;
	size_t n = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (o->implicit || now.tv_sec < o->failover_after || opsdb_part_list(o->db, &parts, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		struct ops_node *h = ops_node_of(o, &parts[i]);
		json_object *ret = NULL;
		struct api_err e;

		/* On a host that is down and active there (or autostart), or never placed and
		 * autostart: it should run, and runs nowhere we can see. */
		if (h ? h->state != OPS_NODE_DOWN ||
		            !(parts[i].autostart || was_active(h, parts[i].name))
		      : !parts[i].autostart)
			continue;
		if (ops_start(o, parts[i].name, &ret, &e)) {
			fprintf(stderr, "ultra-ops: %s: %s: %s (%s)\n", parts[i].name,
			        h ? "host down, not restarted elsewhere" : "autostart", e.message,
			        e.code);
			missed = true;
		} else {
			json_object *v = NULL;

			json_object_object_get_ex(ret, "host", &v);
			fprintf(stderr, "ultra-ops: %s: %s; started on host %s\n", parts[i].name,
			        h ? "its host is down" : "autostart",
			        v ? json_object_get_string(v) : "?");
		}
		json_object_put(ret);
	}
	if (missed)
		o->failover_after = now.tv_sec + FAILOVER_GAP;
	ops_parts_free(parts, n);
}
