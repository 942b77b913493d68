/* SPDX-License-Identifier: MIT */
/* ops.sock: hosts (claims 39, 41-43, 45). Registering the first host ends the one-host mode:
 * from then on partitions go only to registered hosts (register this host's own command
 * partition too if it should run partitions). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "def_policy.h"
#include "ops.h"

/* A name argument (host, zone): a name as domains have, or absent (optional). */
static int name_arg(json_object *args, const char *key, bool required, char *out, size_t cap,
                    struct api_err *e)
{
	json_object *v;
	char err[200];

	if (!args || !json_object_object_get_ex(args, key, &v))
		return required ? api_fail(e, "bad-request", "arguments.%s: expected a name", key)
		                : 0;
	if (uv_def_policy_check(key, v, err, sizeof(err)))
		return api_fail(e, "bad-request", "arguments.%s", err);
	snprintf(out, cap, "%s", json_object_get_string(v));
	return 0;
}

static json_object *v_host_add(struct ops *o, json_object *args, struct api_err *e)
{
	const char *addr = ops_arg_str(args, "address"), *loc = ops_arg_str(args, "location");
	struct ops_host h = {0};
	int r;

	if (name_arg(args, "name", true, h.name, sizeof(h.name), e) ||
	    name_arg(args, "zone", false, h.zone, sizeof(h.zone), e))
		return NULL;
	if (!addr || !addr[0] || strlen(addr) >= sizeof(h.address)) {
		api_fail(e, "bad-request",
		         "arguments.address: expected the address of the host's command partition "
		         "(1..%zu characters)",
		         sizeof(h.address) - 1);
		return NULL;
	}
	if (json_object_object_get_ex(args, "location", NULL) &&
	    (!loc || strlen(loc) >= sizeof(h.location))) {
		api_fail(e, "bad-request", "arguments.location: expected text (< %zu characters)",
		         sizeof(h.location));
		return NULL;
	}
	snprintf(h.address, sizeof(h.address), "%s", addr);
	snprintf(h.location, sizeof(h.location), "%s", loc ? loc : "");
	if ((r = opsdb_host_add(o->db, &h))) {
		api_fail(e, r == -EEXIST ? "exists" : "internal", "host %s: %s", h.name,
		         r == -EEXIST ? "the name or the address is registered already"
		                      : strerror(-r));
		return NULL;
	}
	if ((r = ops_nodes_load(o))) {
		api_fail(e, "internal", "reloading the hosts: %s", strerror(-r));
		return NULL;
	}
	return json_object_new_object();
}

static json_object *v_host_remove(struct ops *o, json_object *args, struct api_err *e)
{
	char name[UV_NAME_MAX];
	int r;

	if (name_arg(args, "name", true, name, sizeof(name), e))
		return NULL;
	if ((r = opsdb_host_del(o->db, name))) {
		if (r == -ENOENT)
			api_fail(e, "no-such-host", "no host named %s", name);
		else if (r == -EBUSY)
			api_fail(e, "busy",
			         "host %s has partitions placed on it: undefine them or let them "
			         "move first",
			         name);
		else
			api_fail(e, "internal", "host %s: %s", name, strerror(-r));
		return NULL;
	}
	if ((r = ops_nodes_load(o))) {
		api_fail(e, "internal", "reloading the hosts: %s", strerror(-r));
		return NULL;
	}
	return json_object_new_object();
}

static json_object *host_json(struct ops *o, struct ops_node *n, const struct ops_part *parts,
                              size_t np)
{
	json_object *x = json_object_new_object(), *names = json_object_new_array(), *res = NULL,
		    *v;
	struct api_err e;

	json_object_object_add(x, "name", json_object_new_string(n->host.name));
	json_object_object_add(x, "address", json_object_new_string(n->host.address));
	json_object_object_add(x, "zone", json_object_new_string(n->host.zone));
	json_object_object_add(x, "location", json_object_new_string(n->host.location));
	json_object_object_add(x, "state", json_object_new_string(ops_node_state_name(n->state)));
	if (n->state == OPS_NODE_UP && (res = ops_node_resources(o, n, &e))) {
		if (json_object_object_get_ex(res, "memory_mib", &v))
			json_object_object_add(x, "memory_mib", json_object_get(v));
		if (json_object_object_get_ex(res, "cpus", &v))
			json_object_object_add(x, "cpus", json_object_get(v));
	}
	json_object_put(res);
	for (size_t i = 0; i < np; i++)
		if (ops_node_of(o, &parts[i]) == n)
			json_object_array_add(names, json_object_new_string(parts[i].name));
	json_object_object_add(x, "partitions", names);
	return x;
}

static json_object *v_host_list(struct ops *o, json_object *args, struct api_err *e)
{
	struct ops_part *parts = NULL;
	json_object *a;
	size_t np = 0;

	if (opsdb_part_list(o->db, &parts, &np)) {
		api_fail(e, "internal", "reading the store failed");
		return NULL;
	}
	a = json_object_new_array();
	for (size_t i = 0; !o->implicit && i < o->n_nodes; i++)
		json_object_array_add(a, host_json(o, &o->nodes[i], parts, np));
	ops_parts_free(parts, np);
	return a;
}

static const char *const no_args[] = {NULL};
static const char *const name_args[] = {"name", NULL};
static const char *const add_args[] = {"name", "address", "zone", "location", NULL};

const struct ops_verb ops_host_verbs[] = {
    {"host-add", add_args, v_host_add},
    {"host-remove", name_args, v_host_remove},
    {"host-list", no_args, v_host_list},
    {NULL, NULL, NULL},
};
