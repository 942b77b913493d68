/* SPDX-License-Identifier: MIT */
/*
 * ops.sock: changes to a partition that the store must follow (claims 37, 44, 46, 79, 85). migrate
 * moves a running partition to another registered host and records that host (moves.c, once it
 * has ended; the loop does not wait for it); set-disk-limits
 * changes a disk's I/O limit and writes it into the stored definition; set-cpu-share changes
 * the stored share, which the policy then puts in force (its schedules and domains still
 * apply). Done behind the store's
 * back, either would be undone: a host whose command partition restarts gets the stored
 * definitions placed on it pushed and autostarted again (a second copy of a migrated guest), and
 * a restart elsewhere after a host failure starts the stored definition (the old limit).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk_limit.h"
#include "ops.h"

#define MIGRATE_TIMEOUT_S 60 /* the command partition's default (docs/command.md) */
#define MIGRATE_SLACK_MS 30000

/* The registered host a migration goes to: by name ("host") or by address ("target", what
 * `ultra migrate --to` names for a command partition). */
static struct ops_node *target_node(struct ops *o, json_object *args, struct api_err *e)
{
	const char *host = ops_arg_str(args, "host"), *addr = ops_arg_str(args, "target");

	if (!host == !addr) {
		api_fail(e, "bad-request",
		         "migrate: name the target by host or by target, one of them");
		return NULL;
	}
	for (size_t i = 0; !o->implicit && i < o->n_nodes; i++)
		if (host ? !strcmp(o->nodes[i].host.name, host)
		         : !strcmp(o->nodes[i].link.address, addr))
			return &o->nodes[i];
	if (o->implicit)
		api_fail(
		    e, "unsupported",
		    "migrate: no host is registered, so the store could not follow the partition: "
		    "register both hosts (ultra host add) or migrate on the command partitions "
		    "directly (ultra -c)");
	else if (host)
		api_fail(e, "no-such-host", "migrate: no host named %s", host);
	else
		api_fail(e, "no-such-host", "migrate: %s is no registered host's address", addr);
	return NULL;
}

/* Checks the request and starts the migration; its answer comes once it has ended (moves.c). */
static int v_migrate(struct ops *o, json_object *args, unsigned *ticket, struct api_err *e)
{
	const char *name = ops_arg_name(args, e), *busy;
	struct ops_node *src, *dst;
	struct ops_part p;
	int64_t timeout = MIGRATE_TIMEOUT_S;
	json_object *a, *t;
	int bad = 0;

	if (!name)
		return -1;
	if (json_object_object_get_ex(args, "timeout", &t)) {
		if (!json_object_is_type(t, json_type_int) ||
		    (timeout = json_object_get_int64(t)) < 1 || timeout > 3600)
			return api_fail(e, "bad-request", "arguments.timeout: expected 1..3600 s");
	}
	if (!(dst = target_node(o, args, e)))
		return -1;
	if ((busy = ops_moves_target(o, name)))
		return api_fail(e, "busy", "migrate: %s is being migrated to host %s already", name,
		                busy);
	if (opsdb_part_get(o->db, name, &p))
		return api_fail(e, "no-such-partition", "no partition named %s in the store", name);
	src = ops_node_of(o, &p);
	if (!src)
		bad = api_fail(e, "not-running", "migrate: %s is placed on no host", name);
	else if (src == dst)
		bad = api_fail(e, "bad-request", "migrate: %s is on host %s already", name,
		               dst->host.name);
	else if (p.zone[0] && strcmp(p.zone, dst->host.zone))
		bad = api_fail(
		    e, "no-host", "migrate: %s belongs to zone %s, host %s is in zone %s", name,
		    p.zone, dst->host.name, dst->host.zone[0] ? dst->host.zone : "(none)");
	else if (dst->state != OPS_NODE_UP)
		bad = api_fail(e, "no-host", "migrate: host %s is not up", dst->host.name);
	ops_part_clear(&p);
	if (bad)
		return -1;

	a = json_object_new_object();
	json_object_object_add(a, "name", json_object_new_string(name));
	json_object_object_add(a, "target", json_object_new_string(dst->link.address));
	json_object_object_add(a, "timeout", json_object_new_int64(timeout));
	/* The source's command partition answers once the guest runs on the target (or failed
	 * and runs on here). */
	return ops_moves_start(o, name, src, dst, a, (unsigned)timeout * 1000 + MIGRATE_SLACK_MS,
	                       ticket, e);
}

/* limits of disk k in a stored definition, as the command partition reports them in force
 * (x: its info's disk_limits entry; every kind, totals and each direction, claims 19, 22). */
static int store_limits(json_object *def, int64_t k, json_object *x)
{
	json_object *disks, *d, *lim = json_object_new_object(), *v;

	if (!json_object_object_get_ex(def, "disks", &disks) ||
	    !json_object_is_type(disks, json_type_array) || k < 0 ||
	    (size_t)k >= json_object_array_length(disks) ||
	    !json_object_is_type((d = json_object_array_get_idx(disks, (size_t)k)),
	                         json_type_object)) {
		json_object_put(lim);
		return -ENOENT;
	}
	for (unsigned i = 0; i < UV_DISK_LIMIT_KEYS; i++)
		if (json_object_object_get_ex(x, uv_disk_limit_key(i), &v) &&
		    json_object_get_int64(v) > 0)
			json_object_object_add(lim, uv_disk_limit_key(i),
			                       json_object_new_int64(json_object_get_int64(v)));
	if (!json_object_object_length(lim)) {
		json_object_put(lim);
		json_object_object_del(d, "limits");
		return 0;
	}
	json_object_object_add(d, "limits", lim);
	return 0;
}

/* The limits the command partition holds now for name (its info's disk_limits), written into
 * the stored definition. */
static int follow_limits(struct ops *o, struct ops_node *n, const struct ops_part *p,
                         struct api_err *e)
{
	json_object *a = json_object_new_object(), *info = NULL, *lims, *def = NULL, *x, *v;
	int r = -1;

	json_object_object_add(a, "name", json_object_new_string(p->name));
	if (ops_node_call(o, n, "info", a, &info, e))
		return -1;
	if (!json_object_object_get_ex(info, "disk_limits", &lims) ||
	    !json_object_is_type(lims, json_type_array) ||
	    !(def = json_tokener_parse(p->definition))) {
		api_fail(e, "internal", "%s: no disk limits to store", p->name);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(lims); i++) {
		int64_t k;

		x = json_object_array_get_idx(lims, i);
		if (!json_object_object_get_ex(x, "disk", &v))
			continue;
		k = json_object_get_int64(v);
		if (store_limits(def, k, x)) {
			api_fail(e, "internal", "%s: disk %lld is not in the stored definition",
			         p->name, (long long)k);
			goto out;
		}
	}
	if (opsdb_part_set_definition(o->db, p->name,
	                              json_object_to_json_string_ext(def, JSON_C_TO_STRING_PLAIN)))
		api_fail(e, "internal", "%s: writing the store failed", p->name);
	else
		r = 0;
out:
	json_object_put(def);
	json_object_put(info);
	return r;
}

/* name's stored record in *p: 0. A partition the store lacks was defined on the command
 * partition by hand, so there is nothing to follow: 1, and in one-host mode the request goes
 * there as it is (*ret its answer; NULL and e set when it fails), else no-such-partition. */
static int stored_part(struct ops *o, const char *verb, const char *name, json_object *args,
                       struct ops_part *p, json_object **ret, struct api_err *e)
{
	if (!opsdb_part_get(o->db, name, p))
		return 0;
	*ret = NULL;
	if (o->implicit)
		ops_node_call(o, &o->nodes[0], verb, json_object_get(args), ret, e);
	else
		api_fail(e, "no-such-partition", "no partition named %s in the store", name);
	return 1;
}

static json_object *v_set_disk_limits(struct ops *o, json_object *args, struct api_err *e)
{
	const char *name = ops_arg_name(args, e);
	json_object *ret = NULL;
	struct ops_node *n;
	struct ops_part p;

	if (!name)
		return NULL;
	if (stored_part(o, "set-disk-limits", name, args, &p, &ret, e))
		return ret;
	/* The command partition checks the request and resolves the disk; a partition placed on
	 * no host yet is defined on none, and its limit is set when it is: by definition. */
	if (!(n = ops_node_of(o, &p)))
		api_fail(e, "not-running",
		         "set-disk-limits: %s is placed on no host yet: change its definition",
		         name);
	else if (!ops_node_call(o, n, "set-disk-limits", json_object_get(args), &ret, e) &&
	         follow_limits(o, n, &p, e)) {
		fprintf(stderr, "ultra-ops: %s: limits changed on host %s, not in the store: %s\n",
		        name, n->host.name[0] ? n->host.name : "(local)", e->message);
		json_object_put(ret);
		ret = NULL;
	}
	ops_part_clear(&p);
	return ret;
}

/* The stored share changes and the policy puts what it wants now in force at once: the new
 * share, or a schedule's value while one holds, scaled to the domain's limit. Set on the
 * command partition behind ultra-ops' back, the next tick would put the old one back. */
static json_object *v_set_cpu_share(struct ops *o, json_object *args, struct api_err *e)
{
	const char *name = ops_arg_name(args, e);
	json_object *v, *def = NULL, *list, *ret = NULL, *in_force;
	struct api_err le;
	struct ops_part p;
	uint32_t milli;

	if (!name)
		return NULL;
	if (!json_object_object_get_ex(args, "cpu_share", &v) ||
	    !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) ||
	    json_object_get_double(v) < 0 || json_object_get_double(v) > 4096)
		return api_fail(e, "bad-request",
		                "arguments.cpu_share: expected host CPUs, 0 or more"),
		       NULL;
	milli = (uint32_t)(json_object_get_double(v) * 1000.0 + 0.5);
	if (stored_part(o, "set-cpu-share", name, args, &p, &ret, e))
		return ret;
	if (milli > p.vcpus * 1000u) {
		api_fail(e, "bad-request", "arguments.cpu_share: %s has %u vCPUs, so 0..%u", name,
		         p.vcpus, p.vcpus);
		goto out;
	}
	p.cpu_milli = milli;
	if (ops_check_domain(o, &p, e))
		goto out;
	if (!(def = json_tokener_parse(p.definition))) {
		api_fail(e, "internal", "%s: the stored definition is unreadable", name);
		goto out;
	}
	json_object_object_add(def, "cpu_share", ops_json_cpus(milli));
	if (opsdb_part_set_share(
		o->db, name, json_object_to_json_string_ext(def, JSON_C_TO_STRING_PLAIN), milli))
		api_fail(e, "internal", "%s: writing the store failed", name);
	else
		ret = json_object_new_object();
out:
	json_object_put(def);
	ops_part_clear(&p);
	if (!ret)
		return NULL;
	fprintf(stderr, "ultra-ops: %s: stored cpu_share %.3f\n", name, milli / 1000.0);
	json_object_object_add(ret, "name", json_object_new_string(name));
	json_object_object_add(ret, "cpu_share", ops_json_cpus(milli));
	/* Put in force now rather than at the next tick, and say what is. */
	if ((list = ops_cmd_list(o, &le))) {
		ops_apply_shares(o, list);
		in_force = ops_listed(list, name);
		if (in_force && json_object_object_get_ex(in_force, "cpu_share", &v))
			json_object_object_add(ret, "in_force", json_object_get(v));
		json_object_put(list);
	}
	return ret;
}

static const char *const migrate_args[] = {"name", "host", "target", "timeout", NULL};
static const char *const share_args[] = {"name", "cpu_share", NULL};
static const char *const limit_args[] = {"name", "disk", UV_DISK_LIMIT_ARGS, NULL};

const struct ops_verb ops_move_verbs[] = {
    {"set-disk-limits", limit_args, v_set_disk_limits},
    {"set-cpu-share", share_args, v_set_cpu_share},
    {NULL, NULL, NULL},
};

const struct ops_later_verb ops_later_verbs[] = {
    {"migrate", migrate_args, v_migrate},
    {NULL, NULL, NULL},
};
