/* SPDX-License-Identifier: MIT */
/*
 * The operations partition's decisions (claims 35-37, 39, 42, 43, 46, 86), taken on its store
 * and the hosts' lists, carried out through the hosts' command partitions' API:
 *
 *   define   domain must exist and be able to hold the partition alone; on one host stored
 *            and pushed in one SQLite transaction (a refused push stores nothing); with
 *            several hosts only stored
 *   start    the domain's limits in force now hold the partition beside its active members;
 *            with several hosts, on the host it is on while that is up, else on the host
 *            placement picks (its definition pushed there first, its host recorded); the share
 *            the policy wants is set first, so the guest starts under it
 *   shares   each active partition's scheduled share, scaled to its domain's CPU limit in
 *            force; a changed one is sent as set-cpu-share
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "def_policy.h"
#include "desc.h"
#include "ops.h"

struct snap {
	struct ops_part *parts;
	size_t np;
	struct ops_domain *doms;
	size_t nd;
	struct ops_sched *sched;
	size_t ns;
	struct ops_member *mem;
};

static void snap_free(struct snap *s)
{
	ops_parts_free(s->parts, s->np);
	free(s->doms);
	free(s->sched);
	free(s->mem);
	memset(s, 0, sizeof(*s));
}

/* The store, with each member marked active as the command partition's list says. */
static int snap_load(struct ops *o, json_object *list, struct snap *s, struct api_err *e)
{
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = opsdb_part_list(o->db, &s->parts, &s->np)) ||
	    (r = opsdb_domain_list(o->db, &s->doms, &s->nd)) ||
	    (r = opsdb_sched_list(o->db, &s->sched, &s->ns)) ||
	    !(s->mem = calloc(s->np + 1, sizeof(*s->mem)))) {
		snap_free(s);
		return api_fail(e, "internal", "reading the store: %s", strerror(r ? -r : ENOMEM));
	}
	for (size_t i = 0; i < s->np; i++) {
		json_object *p = ops_listed(list, s->parts[i].name), *v;

		s->mem[i].part = &s->parts[i];
		s->mem[i].active = p && json_object_object_get_ex(p, "state", &v) &&
		                   ops_state_active(json_object_get_string(v));
	}
	return 0;
}

static struct ops_member *member(struct snap *s, const char *name)
{
	for (size_t i = 0; i < s->np; i++)
		if (!strcmp(s->parts[i].name, name))
			return &s->mem[i];
	return NULL;
}

static const struct ops_domain *domain_of(struct snap *s, const struct ops_part *p)
{
	for (size_t i = 0; i < s->nd; i++)
		if (!strcmp(s->doms[i].name, p->domain))
			return &s->doms[i];
	return NULL;
}

/* Would me fit beside its domain's other active members under the limits in force now? */
static int admit(struct ops *o, struct snap *s, struct ops_member *me, struct api_err *e)
{
	const struct ops_domain *d = domain_of(s, me->part);
	uint32_t lim_mib, lim_milli, mine = 0;
	uint64_t used_mib = 0, used_milli = 0;
	unsigned m = ops_minute(o);
	char err[400];

	if (!d)
		return 0;
	ops_domain_limits(d, s->sched, s->ns, m, &lim_mib, &lim_milli);
	if (!ops_sched_value(s->sched, s->ns, OPS_TARGET_PARTITION, me->part->name,
	                     OPS_SET_CPU_SHARE, m, &mine))
		mine = me->part->cpu_milli;
	for (size_t i = 0; i < s->np; i++) {
		uint32_t w;

		if (!s->mem[i].active || &s->mem[i] == me || strcmp(s->parts[i].domain, d->name))
			continue;
		if (!ops_sched_value(s->sched, s->ns, OPS_TARGET_PARTITION, s->parts[i].name,
		                     OPS_SET_CPU_SHARE, m, &w))
			w = s->parts[i].cpu_milli;
		used_mib += s->parts[i].memory_mib;
		used_milli += ops_cpu_weight(w, s->parts[i].vcpus);
	}
	if (ops_domain_admit(d->name, lim_mib, lim_milli, used_mib, used_milli,
	                     me->part->memory_mib, ops_cpu_weight(mine, me->part->vcpus), err,
	                     sizeof(err)))
		return api_fail(e, "domain-limit", "cannot start %s: %s", me->part->name, err);
	return 0;
}

static int set_share(struct ops *o, struct ops_node *n, const char *name, uint32_t milli,
                     struct api_err *e)
{
	json_object *a = json_object_new_object(), *ret = NULL;
	int r;

	json_object_object_add(a, "name", json_object_new_string(name));
	json_object_object_add(a, "cpu_share", json_object_new_double(milli / 1000.0));
	r = ops_node_call(o, n, "set-cpu-share", a, &ret, e);
	json_object_put(ret);
	return r;
}

static json_object *name_arg(const char *name)
{
	json_object *a = json_object_new_object();

	json_object_object_add(a, "name", json_object_new_string(name));
	return a;
}

/* Where a start goes: the host the partition is on while that is up; else (several hosts) the
 * host placement picks, to which its definition is pushed first. *pushed says whether we
 * defined it there (to undo on failure). */
static struct ops_node *start_host(struct ops *o, struct ops_member *me, bool *pushed,
                                   struct api_err *e)
{
	struct ops_node *n;
	json_object *ret = NULL;
	const char *why;

	*pushed = false;
	if (o->implicit)
		return &o->nodes[0];
	n = ops_node_of(o, me->part);
	if (n && n->state == OPS_NODE_UP)
		return n;
	if (!(n = ops_place_part(o, me->part, e)))
		return NULL;
	if (ops_push(o, n, me->part, &ret, e)) {
		if (strcmp(e->code, "exists"))
			return NULL; /* defined there already (a start that failed before): reuse */
	} else {
		*pushed = true;
	}
	json_object_put(ret);
	why = me->part->host[0] ? "its host is down" : "placed";
	if (opsdb_part_set_host(o->db, me->part->name, n->host.name)) {
		api_fail(e, "internal", "recording %s's host failed", me->part->name);
		return NULL;
	}
	fprintf(stderr, "ultra-ops: %s: %s: host %s\n", me->part->name, why, n->host.name);
	return n;
}

/* A start on a newly placed host failed: it is taken back there and its old host restored. */
static void unplace(struct ops *o, struct ops_node *n, const struct ops_part *p, bool pushed)
{
	json_object *ret = NULL;
	struct api_err e;

	if (pushed)
		ops_node_call(o, n, "undefine", name_arg(p->name), &ret, &e);
	json_object_put(ret);
	opsdb_part_set_host(o->db, p->name, p->host);
}

int ops_start(struct ops *o, const char *name, json_object **ret, struct api_err *e)
{
	json_object *list = ops_cmd_list(o, e), *p;
	struct ops_member *me;
	struct ops_node *n = NULL;
	bool pushed = false, moved, admitted = false;
	uint32_t now;
	struct snap s;
	int r = -1;

	if (!list)
		return -1;
	if (snap_load(o, list, &s, e))
		goto out;
	p = ops_listed(list, name);
	me = member(&s, name);
	if (!o->implicit && !me) {
		api_fail(e, "no-such-partition", "no partition named %s in the store", name);
		goto out;
	}
	/* An active one is the command partition's to refuse; one to be placed is checked
	 * against its domain before anything is pushed anywhere. */
	if (me && !me->active && (p || !o->implicit)) {
		me->active = admitted = true;
		if (admit(o, &s, me, e))
			goto out;
		ops_shares(s.mem, s.np, s.doms, s.nd, s.sched, s.ns, ops_minute(o));
	}
	if (!(n = start_host(o, me, &pushed, e)))
		goto out;
	moved = !o->implicit && strcmp(n->host.name, me->part->host);
	/* Freshly defined there, it has its definition's share; the policy's is set first, so
	 * the guest starts under it. */
	now = moved ? me->part->cpu_milli : ops_milli(p, "cpu_share");
	if (admitted && me->want_milli != now && set_share(o, n, name, me->want_milli, e))
		goto undo;
	if ((r = ops_node_call(o, n, "start", name_arg(name), ret, e)))
		goto undo;
	if (!o->implicit)
		json_object_object_add(*ret, "host", json_object_new_string(n->host.name));
	goto out;
undo:
	if (moved)
		unplace(o, n, me->part, pushed);
out:
	snap_free(&s);
	json_object_put(list);
	return r;
}

void ops_apply_shares(struct ops *o, json_object *list)
{
	struct api_err e;
	struct snap s;

	if (snap_load(o, list, &s, &e))
		return;
	ops_shares(s.mem, s.np, s.doms, s.nd, s.sched, s.ns, ops_minute(o));
	for (size_t i = 0; i < s.np; i++) {
		json_object *entry = ops_listed(list, s.parts[i].name);
		uint32_t now = ops_milli(entry, "cpu_share");
		struct ops_node *n = ops_node_of(o, &s.parts[i]);

		if (!s.mem[i].active || s.mem[i].want_milli == now || !n)
			continue;
		if (set_share(o, n, s.parts[i].name, s.mem[i].want_milli, &e))
			fprintf(stderr, "ultra-ops: %s: cpu_share %.3f: %s\n", s.parts[i].name,
			        s.mem[i].want_milli / 1000.0, e.message);
		else {
			fprintf(stderr, "ultra-ops: %s: cpu_share %.3f -> %.3f\n", s.parts[i].name,
			        now / 1000.0, s.mem[i].want_milli / 1000.0);
			json_object_object_add(entry, "cpu_share",
			                       ops_json_cpus(s.mem[i].want_milli));
		}
	}
	snap_free(&s);
}

/* The partition alone must fit its domain's own limits, or it could never start. */
int ops_check_domain(struct ops *o, const struct ops_part *p, struct api_err *e)
{
	struct ops_domain d;
	char err[400];

	if (!p->domain[0])
		return 0;
	if (opsdb_domain_get(o->db, p->domain, &d))
		return api_fail(e, "invalid-definition",
		                "domain: no domain named %s (ultra domain "
		                "create %s)",
		                p->domain, p->domain);
	if (ops_domain_admit(d.name, d.memory_mib, d.cpu_milli, 0, 0, p->memory_mib,
	                     ops_cpu_weight(p->cpu_milli, p->vcpus), err, sizeof(err)))
		return api_fail(e, "domain-limit", "%s can never run in it: %s", p->name, err);
	return 0;
}

static int parse_def(json_object *def, const char *base_dir, struct ops_part *p, struct api_err *e)
{
	struct uv_partition_desc *d = calloc(1, sizeof(*d));
	struct uv_def_policy pol;
	char err[480];
	int r = -1;

	if (!d)
		return api_fail(e, "internal", "out of memory");
	if (uv_def_policy_take(def, &pol, err, sizeof(err)) ||
	    uv_desc_from_json(json_object_to_json_string_ext(def, JSON_C_TO_STRING_PLAIN), base_dir,
	                      d, err, sizeof(err))) {
		api_fail(e, "invalid-definition", "%s", err);
		goto out;
	}
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", d->name);
	snprintf(p->domain, sizeof(p->domain), "%s", pol.domain);
	snprintf(p->zone, sizeof(p->zone), "%s", pol.zone);
	p->autostart = pol.autostart;
	p->memory_mib = (uint32_t)(d->mem_bytes >> 20);
	p->vcpus = d->vcpus;
	p->cpu_milli = d->cpu_share_milli;
	p->definition = (char *)json_object_to_json_string_ext(def, JSON_C_TO_STRING_PLAIN);
	p->base_dir = (char *)base_dir;
	r = 0;
out:
	free(d);
	return r;
}

static int push(struct ops *o, json_object *def, const char *base_dir, json_object **ret,
                struct api_err *e)
{
	json_object *a = json_object_new_object();

	json_object_object_add(a, "definition", json_object_get(def));
	if (base_dir)
		json_object_object_add(a, "base_dir", json_object_new_string(base_dir));
	return ops_node_call(o, &o->nodes[0], "define", a, ret, e);
}

/* With several hosts a definition is only stored: the host is chosen when it starts (and the
 * host's command partition checks it then). The reply has the partition's shape. */
static int store_only(struct ops *o, const struct ops_part *p, json_object **ret, struct api_err *e)
{
	json_object *r;

	if (opsdb_part_add(o->db, p))
		return api_fail(e, "internal", "storing %s failed", p->name);
	r = json_object_new_object();
	json_object_object_add(r, "name", json_object_new_string(p->name));
	json_object_object_add(r, "state", json_object_new_string("defined"));
	json_object_object_add(r, "memory_mib", json_object_new_int64(p->memory_mib));
	json_object_object_add(r, "vcpus", json_object_new_int64(p->vcpus));
	json_object_object_add(r, "cpu_share", ops_json_cpus(p->cpu_milli));
	json_object_object_add(r, "host", json_object_new_string(""));
	*ret = r;
	return 0;
}

int ops_define(struct ops *o, json_object *given, const char *base_dir, json_object **ret,
               struct api_err *e)
{
	json_object *def = NULL;
	struct ops_part p, old;
	int r = -1;

	if (json_object_deep_copy(given, &def, NULL) || parse_def(def, base_dir, &p, e) ||
	    ops_check_domain(o, &p, e))
		goto out;
	if (!opsdb_part_get(o->db, p.name, &old)) {
		ops_part_clear(&old);
		api_fail(e, "exists", "a partition named %s is already defined", p.name);
		goto out;
	}
	if (!o->implicit) {
		if (store_only(o, &p, ret, e))
			goto out;
		goto done;
	}
	/* Stored and pushed together: either both or neither. */
	if (opsdb_begin(o->db) || opsdb_part_add(o->db, &p)) {
		opsdb_rollback(o->db);
		api_fail(e, "internal", "storing %s failed", p.name);
		goto out;
	}
	if (push(o, def, base_dir, ret, e)) {
		opsdb_rollback(o->db);
		goto out;
	}
	if (opsdb_commit(o->db)) {
		opsdb_rollback(o->db);
		json_object_put(*ret);
		*ret = NULL;
		ops_node_call(o, &o->nodes[0], "undefine", name_arg(p.name), ret, e);
		json_object_put(*ret);
		*ret = NULL;
		api_fail(e, "internal", "committing %s to the store failed", p.name);
		goto out;
	}
done:
	json_object_object_add(*ret, "domain", json_object_new_string(p.domain));
	json_object_object_add(*ret, "autostart", json_object_new_boolean(p.autostart));
	json_object_object_add(*ret, "zone", json_object_new_string(p.zone));
	r = 0;
out:
	json_object_put(def);
	return r;
}
