/* SPDX-License-Identifier: MIT */
/*
 * Placing a partition (claims 39, 42, 43): each up host of its zone is asked what it has (the
 * command partition's `resources`, read from its own copy of the resource database, claim 40)
 * and lib/ops_place.c picks the host. Nothing is changed here: the caller pushes and starts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ops_place.h"

json_object *ops_node_resources(struct ops *o, struct ops_node *n, struct api_err *e)
{
	json_object *ret = NULL;

	if (ops_node_call_within(o, n, "resources", NULL, ops_probe_ms(o), &ret, e))
		return NULL;
	if (!json_object_is_type(ret, json_type_object)) {
		json_object_put(ret);
		api_fail(e, "internal", "resources: host %s answered no object", n->host.name);
		return NULL;
	}
	return ret;
}

static int64_t member(json_object *o, const char *outer, const char *key, double scale)
{
	json_object *a, *v;

	if (!json_object_object_get_ex(o, outer, &a) || !json_object_object_get_ex(a, key, &v))
		return -1;
	return (int64_t)(json_object_get_double(v) * scale + 0.5);
}

/* What placement needs of host n: up only if it answered resources now. */
static void host_view(struct ops *o, struct ops_node *n, const struct ops_part *p,
                      struct ops_place_host *h)
{
	json_object *res = NULL;
	struct api_err e;
	int64_t free_mib, cpus, committed;

	memset(h, 0, sizeof(*h));
	h->name = n->host.name;
	h->zone = n->host.zone;
	if (n->state != OPS_NODE_UP || (p->zone[0] && strcmp(p->zone, n->host.zone)) ||
	    !(res = ops_node_resources(o, n, &e)))
		return;
	free_mib = member(res, "memory_mib", "free", 1);
	cpus = member(res, "cpus", "total", 1000);
	committed = member(res, "cpus", "committed", 1000);
	json_object_put(res);
	if (free_mib < 0 || cpus < 0 || committed < 0)
		return;
	h->up = true;
	h->free_mib = (uint64_t)free_mib;
	h->cpus_milli = (uint32_t)cpus;
	h->committed_milli = (uint32_t)committed;
}

struct ops_node *ops_place_part(struct ops *o, const struct ops_part *p, struct api_err *e)
{
	struct ops_place_host *hosts = calloc(o->n_nodes + 1, sizeof(*hosts));
	struct ops_place_need need = {.name = p->name,
	                              .zone = p->zone,
	                              .memory_mib = p->memory_mib,
	                              .vcpus = p->vcpus,
	                              .cpu_milli = ops_cpu_weight(p->cpu_milli, p->vcpus)};
	struct ops_node *n = NULL;
	char err[sizeof(e->message)];
	int i;

	if (!hosts) {
		api_fail(e, "internal", "out of memory");
		return NULL;
	}
	for (size_t k = 0; k < o->n_nodes; k++)
		host_view(o, &o->nodes[k], p, &hosts[k]);
	if ((i = ops_place(hosts, o->n_nodes, &need, err, sizeof(err))) < 0)
		api_fail(e, "no-host", "%s", err);
	else
		n = &o->nodes[i];
	free(hosts);
	return n;
}
