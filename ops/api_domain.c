/* SPDX-License-Identifier: MIT */
/* ops.sock: domains (claims 35-37) and schedules (claims 46, 86). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "def_policy.h"
#include "ops.h"

/* A non-negative number argument in thousandths (CPUs) or units (MiB), at most max. */
static int arg_num(json_object *args, const char *key, double scale, double max, uint32_t *out,
                   struct api_err *e)
{
	json_object *v;
	double x;

	if (!args || !json_object_object_get_ex(args, key, &v))
		return 1; /* absent */
	if (!(json_object_is_type(v, json_type_int) ||
	      (scale > 1 && json_object_is_type(v, json_type_double))) ||
	    !isfinite(x = json_object_get_double(v)) || x < 0 || x > max)
		return api_fail(e, "bad-request", "arguments.%s: expected %s 0..%g", key,
		                scale > 1 ? "a number" : "an integer", max);
	*out = (uint32_t)llround(x * scale);
	return 0;
}

static json_object *v_domain_create(struct ops *o, json_object *args, struct api_err *e)
{
	struct ops_domain d = {0};
	json_object *n;
	char err[200];
	int r;

	if (!args || !json_object_object_get_ex(args, "name", &n) ||
	    uv_def_policy_check("domain", n, err, sizeof(err))) {
		api_fail(e, "bad-request",
		         "arguments.name: expected a domain name (1..%d of "
		         "[A-Za-z0-9._-])",
		         UV_NAME_MAX - 1);
		return NULL;
	}
	snprintf(d.name, sizeof(d.name), "%s", json_object_get_string(n));
	if (arg_num(args, "memory_mib", 1, 1 << 20, &d.memory_mib, e) < 0 ||
	    arg_num(args, "cpu_share", 1000, 4096, &d.cpu_milli, e) < 0)
		return NULL;
	if ((r = opsdb_domain_add(o->db, &d))) {
		api_fail(e, r == -EEXIST ? "exists" : "internal", "domain %s: %s", d.name,
		         r == -EEXIST ? "exists already" : strerror(-r));
		return NULL;
	}
	return json_object_new_object();
}

static json_object *v_domain_delete(struct ops *o, json_object *args, struct api_err *e)
{
	const char *name = ops_arg_str(args, "name");
	int r;

	if (!name) {
		api_fail(e, "bad-request", "arguments.name: expected a domain name");
		return NULL;
	}
	if (!(r = opsdb_domain_del(o->db, name)))
		return json_object_new_object();
	if (r == -ENOENT)
		api_fail(e, "no-such-domain", "no domain named %s", name);
	else if (r == -EBUSY)
		api_fail(e, "busy", "domain %s still has partitions: undefine them first", name);
	else
		api_fail(e, "internal", "domain %s: %s", name, strerror(-r));
	return NULL;
}

/* Each domain: its limits, those in force now, and what its active partitions use. */
static json_object *v_domain_list(struct ops *o, json_object *args, struct api_err *e)
{
	struct ops_domain *d = NULL;
	struct ops_part *p = NULL;
	struct ops_sched *s = NULL;
	size_t nd = 0, np = 0, ns = 0;
	json_object *a = NULL, *list = ops_cmd_list(o, e);
	unsigned m = ops_minute(o);

	if (opsdb_domain_list(o->db, &d, &nd) || opsdb_part_list(o->db, &p, &np) ||
	    opsdb_sched_list(o->db, &s, &ns)) {
		api_fail(e, "internal", "reading the store failed");
		goto out;
	}
	a = json_object_new_array();
	for (size_t i = 0; i < nd; i++) {
		json_object *x = json_object_new_object(), *names = json_object_new_array(), *lp,
			    *v;
		uint32_t lim_mib, lim_milli;
		uint64_t used_mib = 0, used_milli = 0;

		ops_domain_limits(&d[i], s, ns, m, &lim_mib, &lim_milli);
		for (size_t j = 0; j < np; j++) {
			if (strcmp(p[j].domain, d[i].name))
				continue;
			json_object_array_add(names, json_object_new_string(p[j].name));
			lp = ops_listed(list, p[j].name);
			if (lp && json_object_object_get_ex(lp, "state", &v) &&
			    ops_state_active(json_object_get_string(v))) {
				used_mib += p[j].memory_mib;
				used_milli +=
				    ops_cpu_weight(ops_milli(lp, "cpu_share"), p[j].vcpus);
			}
		}
		json_object_object_add(x, "name", json_object_new_string(d[i].name));
		json_object_object_add(x, "memory_mib", json_object_new_int64(d[i].memory_mib));
		json_object_object_add(x, "cpu_share", ops_json_cpus(d[i].cpu_milli));
		json_object_object_add(x, "memory_mib_now", json_object_new_int64(lim_mib));
		json_object_object_add(x, "cpu_share_now", ops_json_cpus(lim_milli));
		json_object_object_add(x, "used_memory_mib",
		                       json_object_new_int64((int64_t)used_mib));
		json_object_object_add(x, "used_cpu_share", ops_json_cpus((uint32_t)used_milli));
		json_object_object_add(x, "partitions", names);
		json_object_array_add(a, x);
	}
out:
	json_object_put(list);
	free(d);
	ops_parts_free(p, np);
	free(s);
	return a;
}

/* Exactly one of partition and domain names the target; it must exist. */
static int sched_target(struct ops *o, json_object *args, struct ops_sched *s,
                        struct ops_part *part, struct api_err *e)
{
	const char *p = ops_arg_str(args, "partition"), *d = ops_arg_str(args, "domain");
	struct ops_domain dom;

	if (!p == !d)
		return api_fail(e, "bad-request", "arguments: name a partition or a domain");
	s->target_kind = p ? OPS_TARGET_PARTITION : OPS_TARGET_DOMAIN;
	snprintf(s->target, sizeof(s->target), "%s", p ? p : d);
	if (p && opsdb_part_get(o->db, p, part))
		return api_fail(e, "no-such-partition", "no partition named %s in the store", p);
	if (d && opsdb_domain_get(o->db, d, &dom))
		return api_fail(e, "no-such-domain", "no domain named %s", d);
	return 0;
}

static int sched_setting(json_object *args, struct ops_sched *s, const struct ops_part *part,
                         struct api_err *e)
{
	const char *set = ops_arg_str(args, "setting");
	double max;

	if (set && !strcmp(set, "cpu_share"))
		s->setting = OPS_SET_CPU_SHARE;
	else if (set && !strcmp(set, "memory_mib") && s->target_kind == OPS_TARGET_DOMAIN)
		s->setting = OPS_SET_MEMORY_MIB;
	else
		return api_fail(e, "bad-request", "arguments.setting: expected cpu_share%s",
		                s->target_kind == OPS_TARGET_DOMAIN ? " or memory_mib" : "");
	max = s->setting == OPS_SET_MEMORY_MIB ? (1 << 20) : part->name[0] ? part->vcpus : 4096;
	if (arg_num(args, "value", s->setting == OPS_SET_CPU_SHARE ? 1000 : 1, max, &s->value, e))
		return api_fail(e, "bad-request", "arguments.value: expected %s 0..%g",
		                s->setting == OPS_SET_CPU_SHARE ? "a CPU share" : "MiB", max);
	return 0;
}

static json_object *sched_json(const struct ops_sched *s, unsigned m)
{
	json_object *x = json_object_new_object();
	char win[16];

	ops_window_format(s->from_min, s->to_min, win, sizeof(win));
	json_object_object_add(x, "id", json_object_new_int64(s->id));
	json_object_object_add(x, s->target_kind == OPS_TARGET_DOMAIN ? "domain" : "partition",
	                       json_object_new_string(s->target));
	json_object_object_add(x, "window", json_object_new_string(win));
	json_object_object_add(
	    x, "setting",
	    json_object_new_string(s->setting == OPS_SET_CPU_SHARE ? "cpu_share" : "memory_mib"));
	json_object_object_add(x, "value",
	                       s->setting == OPS_SET_CPU_SHARE ? ops_json_cpus(s->value)
	                                                       : json_object_new_int64(s->value));
	json_object_object_add(x, "active",
	                       json_object_new_boolean(ops_window_has(s->from_min, s->to_min, m)));
	return x;
}

static json_object *v_schedule_add(struct ops *o, json_object *args, struct api_err *e)
{
	struct ops_sched s = {0}, *old = NULL;
	struct ops_part part = {0};
	const char *win = ops_arg_str(args, "window");
	json_object *ret = NULL;
	size_t n = 0;
	int r;

	if (!win || ops_window_parse(win, &s.from_min, &s.to_min)) {
		api_fail(e, "bad-request",
		         "arguments.window: expected HH:MM-HH:MM (00:00-24:00 for "
		         "all day; a window may wrap past midnight)");
		return NULL;
	}
	if (sched_target(o, args, &s, &part, e) || sched_setting(args, &s, &part, e))
		goto out;
	if ((r = opsdb_sched_list(o->db, &old, &n))) {
		api_fail(e, "internal", "reading the store: %s", strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (old[i].target_kind == s.target_kind && old[i].setting == s.setting &&
		    !strcmp(old[i].target, s.target) && ops_windows_overlap(&old[i], &s)) {
			api_fail(e, "conflict", "window %s overlaps schedule %lld of %s", win,
			         (long long)old[i].id, s.target);
			goto out;
		}
	if ((r = opsdb_sched_add(o->db, &s)))
		api_fail(e, "internal", "storing the schedule: %s", strerror(-r));
	else
		ret = sched_json(&s, ops_minute(o));
out:
	free(old);
	ops_part_clear(&part);
	return ret;
}

static json_object *v_schedule_remove(struct ops *o, json_object *args, struct api_err *e)
{
	json_object *v;
	int r;

	if (!args || !json_object_object_get_ex(args, "id", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		api_fail(e, "bad-request", "arguments.id: expected a schedule number");
		return NULL;
	}
	if ((r = opsdb_sched_del(o->db, json_object_get_int64(v)))) {
		api_fail(e, r == -ENOENT ? "no-such-schedule" : "internal", "schedule %lld: %s",
		         (long long)json_object_get_int64(v),
		         r == -ENOENT ? "no such schedule" : strerror(-r));
		return NULL;
	}
	return json_object_new_object();
}

static json_object *v_schedule_list(struct ops *o, json_object *args, struct api_err *e)
{
	struct ops_sched *s = NULL;
	unsigned m = ops_minute(o);
	json_object *a;
	size_t n = 0;

	if (opsdb_sched_list(o->db, &s, &n)) {
		api_fail(e, "internal", "reading the store failed");
		return NULL;
	}
	a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, sched_json(&s[i], m));
	free(s);
	return a;
}

static const char *const no_args[] = {NULL};
static const char *const name_args[] = {"name", NULL};
static const char *const create_args[] = {"name", "memory_mib", "cpu_share", NULL};
static const char *const add_args[] = {"partition", "domain", "window", "setting", "value", NULL};
static const char *const id_args[] = {"id", NULL};

const struct ops_verb ops_domain_verbs[] = {
    {"domain-create", create_args, v_domain_create},
    {"domain-delete", name_args, v_domain_delete},
    {"domain-list", no_args, v_domain_list},
    {"schedule-add", add_args, v_schedule_add},
    {"schedule-remove", id_args, v_schedule_remove},
    {"schedule-list", no_args, v_schedule_list},
    {NULL, NULL, NULL},
};
