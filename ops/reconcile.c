/* SPDX-License-Identifier: MIT */
/*
 * Keeping each host in step with the store (claims 37, 38). At start and whenever a host's
 * command partition connection is new (it restarted), every stored definition placed there that
 * it lacks is pushed to it and every autostart partition it holds merely defined is started: after
 * a restart of the whole host the resource database starts empty and the definitions come back from
 * here. Then, on every tick, the shares the schedules want are put in force, and an autostart
 * partition found crashed (the command partition records one whose monitor and engine died, with
 * the host or alone) is started again.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"

int ops_push(struct ops *o, struct ops_node *n, const struct ops_part *p, json_object **ret,
             struct api_err *e)
{
	json_object *a = json_object_new_object(), *def;

	if (!(def = json_tokener_parse(p->definition))) {
		json_object_put(a);
		return api_fail(e, "internal", "%s: the stored definition is not JSON", p->name);
	}
	json_object_object_add(a, "definition", def);
	if (p->base_dir)
		json_object_object_add(a, "base_dir", json_object_new_string(p->base_dir));
	return ops_node_call(o, n, "define", a, ret, e);
}

static void push_one(struct ops *o, struct ops_node *n, const struct ops_part *p)
{
	json_object *ret = NULL;
	struct api_err e;

	if (ops_push(o, n, p, &ret, &e))
		fprintf(stderr, "ultra-ops: %s: pushing its definition: %s (%s)\n", p->name,
		        e.message, e.code);
	else if (o->implicit)
		fprintf(stderr, "ultra-ops: %s: definition pushed to the command partition\n",
		        p->name);
	else
		fprintf(stderr, "ultra-ops: %s: definition pushed to host %s\n", p->name,
		        n->host.name);
	json_object_put(ret);
}

static void autostart(struct ops *o, const struct ops_part *p)
{
	json_object *ret = NULL;
	struct api_err e;

	if (ops_start(o, p->name, &ret, &e))
		fprintf(stderr, "ultra-ops: %s: autostart: %s (%s)\n", p->name, e.message, e.code);
	else
		fprintf(stderr, "ultra-ops: %s: autostarted\n", p->name);
	json_object_put(ret);
}

static const char *state_of(json_object *list, const char *name)
{
	json_object *p = ops_listed(list, name), *v;

	return p && json_object_object_get_ex(p, "state", &v) ? json_object_get_string(v) : NULL;
}

void ops_reconcile(struct ops *o, struct ops_node *n)
{
	struct ops_part *parts = NULL;
	json_object *list;
	struct api_err e;
	unsigned gen;
	size_t np = 0, i;

	if (!(list = ops_node_list(o, n, 60000, &e)))
		return;
	gen = n->link.gen;
	if (opsdb_part_list(o->db, &parts, &np)) {
		json_object_put(list);
		return;
	}
	for (i = 0; i < np; i++)
		if (ops_node_of(o, &parts[i]) == n && !ops_listed(list, parts[i].name))
			push_one(o, n, &parts[i]);
	json_object_put(list);
	if (!(list = ops_node_list(o, n, 60000, &e)))
		goto out;
	for (i = 0; i < np; i++) {
		const char *st = state_of(list, parts[i].name);

		if (ops_node_of(o, &parts[i]) == n && parts[i].autostart && st &&
		    !strcmp(st, "defined"))
			autostart(o, &parts[i]);
	}
	/* Reconciled against this connection unless it broke meanwhile (then again next tick). */
	if (n->link.gen == gen)
		n->reconciled_gen = gen;
out:
	json_object_put(list);
	ops_parts_free(parts, np);
}

/* An autostart partition that crashed (its engine died, or it died with the host) is started
 * again: one every RESTART_GAP seconds, so a guest that crashes at once cannot keep the
 * command partition busy with nothing but its restarts. */
#define RESTART_GAP 5

/* The store is read only when the command partition lists a crashed partition at all. */
static bool any_crashed(json_object *list)
{
	json_object *v;
	size_t i, n = json_object_array_length(list);

	for (i = 0; i < n; i++)
		if (json_object_object_get_ex(json_object_array_get_idx(list, i), "state", &v) &&
		    !strcmp(json_object_get_string(v), "crashed"))
			return true;
	return false;
}

static void restart_crashed(struct ops *o, json_object *list)
{
	struct ops_part *parts = NULL;
	struct timespec now;
	size_t n = 0, i;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec < o->restart_after || !any_crashed(list) ||
	    opsdb_part_list(o->db, &parts, &n))
		return;
	for (i = 0; i < n; i++) {
		const char *st = state_of(list, parts[i].name);

		if (parts[i].autostart && st && !strcmp(st, "crashed")) {
			fprintf(stderr, "ultra-ops: %s: crashed; restarting it (autostart)\n",
			        parts[i].name);
			autostart(o, &parts[i]);
			o->restart_after = now.tv_sec + RESTART_GAP;
			break;
		}
	}
	ops_parts_free(parts, n);
}

static void tick_act(struct ops *o)
{
	struct ops_node *local;
	json_object *list;
	struct api_err e;

	/* A standby keeps its copy of the store and does nothing else; a takeover may have
	 * reread the hosts, so local is taken after it. */
	if (!ops_replica_acting(o))
		return;
	local = &o->nodes[0];
	if (o->implicit) {
		/* One host: as before hosts existed, nothing to detect or move. */
		if (!(list = ops_cmd_list(o, &e))) {
			local->state = OPS_NODE_DOWN;
			return;
		}
		local->state = OPS_NODE_UP;
		if (local->link.gen != local->reconciled_gen) {
			json_object_put(list);
			ops_reconcile(o, local);
			if (!(list = ops_cmd_list(o, &e)))
				return;
		}
	} else {
		ops_nodes_tick(o);
		ops_failover(o);
		if (!(list = ops_cmd_list(o, &e)))
			return;
	}
	ops_apply_shares(o, list);
	restart_crashed(o, list);
	json_object_put(list);
}

void ops_tick(struct ops *o)
{
	uint64_t seq = ops_replica_seq(o);

	tick_act(o);
	ops_replica_after_tick(o, seq);
}
