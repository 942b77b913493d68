/* SPDX-License-Identifier: MIT */
/* ops.sock: partitions (define, undefine, start go through here so the store stays the truth;
 * list shows what is stored) and status. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

static json_object *v_define(struct ops *o, json_object *args, struct api_err *e)
{
	json_object *def, *ret = NULL;

	if (!args || !json_object_object_get_ex(args, "definition", &def) ||
	    !json_object_is_type(def, json_type_object)) {
		api_fail(e, "bad-request", "arguments.definition: expected a definition object");
		return NULL;
	}
	if (json_object_object_get_ex(args, "base_dir", NULL) && !ops_arg_str(args, "base_dir")) {
		api_fail(e, "bad-request", "arguments.base_dir: expected a string");
		return NULL;
	}
	return ops_define(o, def, ops_arg_str(args, "base_dir"), &ret, e) ? NULL : ret;
}

static json_object *v_start(struct ops *o, json_object *args, struct api_err *e)
{
	const char *name = ops_arg_name(args, e);
	json_object *ret = NULL;

	return name && !ops_start(o, name, &ret, e) ? ret : NULL;
}

/* The command partition forgets it first: a stored definition it still holds would be pushed
 * back at the next reconciliation. */
static json_object *v_undefine(struct ops *o, json_object *args, struct api_err *e)
{
	const char *name = ops_arg_name(args, e);
	json_object *a, *ret = NULL;
	struct ops_node *n;
	struct ops_part p;
	int stored, r;

	if (!name)
		return NULL;
	stored = opsdb_part_get(o->db, name, &p) == 0;
	n = stored ? ops_node_of(o, &p) : o->implicit ? &o->nodes[0] : NULL;
	if (stored)
		ops_part_clear(&p);
	if (n && !o->implicit && n->state == OPS_NODE_DOWN) {
		/* A dead host cannot be asked; it keeps its copy until someone undefines it there
		 * (not ours any more, fencing leaves it alone). */
		fprintf(stderr,
		        "ultra-ops: %s: undefined while host %s is down: still defined there\n",
		        name, n->host.name);
	} else if (n) {
		a = json_object_new_object();
		json_object_object_add(a, "name", json_object_new_string(name));
		r = ops_node_call(o, n, "undefine", a, &ret, e);
		if (r && !(stored && !strcmp(e->code, "no-such-partition")))
			return NULL;
		json_object_put(ret);
	} else if (!stored) {
		api_fail(e, "no-such-partition", "no partition named %s in the store", name);
		return NULL;
	}
	if (stored && opsdb_part_del(o->db, name)) {
		api_fail(e, "internal", "removing %s from the store failed", name);
		return NULL;
	}
	return json_object_new_object();
}

static json_object *part_json(const struct ops_part *p)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "domain", json_object_new_string(p->domain));
	json_object_object_add(o, "autostart", json_object_new_boolean(p->autostart));
	json_object_object_add(o, "memory_mib", json_object_new_int64(p->memory_mib));
	json_object_object_add(o, "vcpus", json_object_new_int64(p->vcpus));
	json_object_object_add(o, "cpu_share", ops_json_cpus(p->cpu_milli));
	json_object_object_add(o, "zone", json_object_new_string(p->zone));
	json_object_object_add(o, "host", json_object_new_string(p->host));
	return o;
}

static json_object *v_list(struct ops *o, json_object *args, struct api_err *e)
{
	struct ops_part *parts = NULL;
	json_object *a;
	size_t n = 0;
	int r;

	if ((r = opsdb_part_list(o->db, &parts, &n))) {
		api_fail(e, "internal", "reading the store: %s", strerror(-r));
		return NULL;
	}
	a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, part_json(&parts[i]));
	ops_parts_free(parts, n);
	return a;
}

static json_object *v_status(struct ops *o, json_object *args, struct api_err *e)
{
	json_object *r = json_object_new_object();
	unsigned m = ops_minute(o);
	char hm[16];

	snprintf(hm, sizeof(hm), "%02u:%02u", m / 60, m % 60);
	json_object_object_add(r, "now", json_object_new_int64((int64_t)ops_now(o)));
	json_object_object_add(r, "time_of_day", json_object_new_string(hm));
	json_object_object_add(
	    r, "command",
	    json_object_new_boolean(o->nodes[0].link.conn && o->nodes[0].state == OPS_NODE_UP));
	return r;
}

static const char *const no_args[] = {NULL};
static const char *const name_args[] = {"name", NULL};
static const char *const define_args[] = {"definition", "base_dir", NULL};

const struct ops_verb ops_part_verbs[] = {
    {"define", define_args, v_define}, {"undefine", name_args, v_undefine},
    {"start", name_args, v_start},     {"list", no_args, v_list},
    {"status", no_args, v_status},     {NULL, NULL, NULL},
};
