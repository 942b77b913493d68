/* SPDX-License-Identifier: MIT */
/*
 * The versioned JSON control API (docs/command.md): one request object per line,
 *   {"version":1,"execute":VERB,"arguments":{...}}
 * answered by {"return":...} or {"error":{"code":CODE,"message":SENTENCE}}. Unknown members are
 * refused by name, so a client written for a later version fails loudly, not silently.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "def_policy.h"
#include "desc.h"
#include "jsonapi.h"

struct verb {
	const char *name;
	const char *const *args; /* allowed argument names, NULL-terminated */
	json_object *(*fn)(struct cmdp *c, json_object *args, struct api_err *e);
};

json_object *cmd_part_json(struct cmdp *c, const struct cmd_part *p)
{
	json_object *o = json_object_new_object(), *st = NULL, *v;
	long long uptime = 0;

	json_object_object_add(o, "name", json_object_new_string(p->desc.name));
	json_object_object_add(o, "id", json_object_new_int64(p->id));
	json_object_object_add(o, "state", json_object_new_string(uv_state_name(p->rec.state)));
	json_object_object_add(o, "memory_mib", json_object_new_int64(p->desc.mem_bytes >> 20));
	json_object_object_add(o, "granted_mib", json_object_new_int64(p->rec.mem_bytes >> 20));
	json_object_object_add(o, "vcpus", json_object_new_int64(p->desc.vcpus));
	json_object_object_add(o, "cpu_share",
	                       json_object_new_double(p->rec.cpu_share_milli / 1000.0));
	if (p->rec.state == UV_STATE_RUNNING || p->rec.state == UV_STATE_PAUSED) {
		st = cmd_monitor_status(c, p->desc.name);
		if (st && json_object_object_get_ex(st, "started", &v) &&
		    json_object_get_int64(v) > 0)
			uptime = (long long)time(NULL) - json_object_get_int64(v);
	}
	json_object_object_add(o, "uptime_s", json_object_new_int64(uptime < 0 ? 0 : uptime));
	json_object_put(st);
	return o;
}

/* Each disk's limit as the database holds it: the one in force while the partition runs. */
static json_object *disk_limits_json(const struct uv_partition_desc *d)
{
	json_object *a = json_object_new_array();

	for (uint32_t i = 0; i < d->n_disk && i < UV_DISKS_MAX; i++) {
		json_object *x = json_object_new_object();

		json_object_object_add(x, "disk", json_object_new_int64(i));
		json_object_object_add(x, "image", json_object_new_string(d->disk[i].image));
		json_object_object_add(
		    x, "direct", json_object_new_boolean(d->disk[i].flags & UV_DISK_F_DIRECT));
		for (unsigned k = 0; k < UV_DISK_LIMIT_KEYS; k++)
			json_object_object_add(x, uv_disk_limit_key(k),
			                       json_object_new_int64((int64_t)uv_disk_limit_get(
						   &d->disk_limit[i], k)));
		json_object_array_add(a, x);
	}
	return a;
}

static const char *arg_str(json_object *args, const char *key)
{
	json_object *v;

	if (!args || !json_object_object_get_ex(args, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The name argument, required by every verb that names a partition. */
static const char *need_name(json_object *args, struct api_err *e)
{
	const char *n = arg_str(args, "name");

	if (!n || !n[0]) {
		api_fail(e, "bad-request", "arguments.name: expected a partition name");
		return NULL;
	}
	return n;
}

/* The definition argument of define and migrate-in, or NULL with e set. */
static json_object *need_definition(json_object *args, struct api_err *e)
{
	json_object *def;

	if (!args || !json_object_object_get_ex(args, "definition", &def) ||
	    !json_object_is_type(def, json_type_object)) {
		api_fail(e, "bad-request", "arguments.definition: expected a definition object");
		return NULL;
	}
	if (json_object_object_get_ex(args, "base_dir", NULL) && !arg_str(args, "base_dir")) {
		api_fail(e, "bad-request", "arguments.base_dir: expected a string");
		return NULL;
	}
	/* Domains and autostart are kept and carried out by the operations partition, which
	 * takes them out of what it sends here; here they could only be ignored. */
	json_object_object_foreach(def, key, val)
	{
		(void)val;
		if (uv_def_policy_key(key)) {
			api_fail(
			    e, "invalid-definition",
			    "%s: belongs to the operations partition: "
			    "define through RUN/ops.sock (ultra define does when ultra-ops runs)",
			    key);
			return NULL;
		}
	}
	return def;
}

static json_object *v_define(struct cmdp *c, json_object *args, struct api_err *e)
{
	json_object *def = need_definition(args, e);
	struct cmd_part p = {0};

	if (!def || cmd_define(c, def, arg_str(args, "base_dir"), &p, e))
		return NULL;
	return cmd_part_json(c, &p);
}

/* Live migration (claim 44, docs/migration.md): the source's verb, and the target's two. */
static json_object *v_migrate(struct cmdp *c, json_object *args, struct api_err *e)
{
	const char *name = need_name(args, e), *target = arg_str(args, "target");
	json_object *t;
	int timeout = 60;

	if (!name)
		return NULL;
	if (!target || (target[0] != '/' && strncmp(target, "tls://", 6))) {
		api_fail(e, "bad-request",
		         "arguments.target: expected the target's command socket (an absolute "
		         "path) or its gateway (tls://HOST:PORT)");
		return NULL;
	}
	if (!strncmp(target, "tls://", 6) && !c->tls.ca) {
		api_fail(e, "bad-request",
		         "arguments.target: %s is another host's gateway, and this command "
		         "partition has no certificate for it (ultra-command --tls-ca, --tls-cert, "
		         "--tls-key)",
		         target);
		return NULL;
	}
	if (json_object_object_get_ex(args, "timeout", &t)) {
		if (!json_object_is_type(t, json_type_int) || json_object_get_int64(t) < 1 ||
		    json_object_get_int64(t) > 3600) {
			api_fail(e, "bad-request", "arguments.timeout: expected 1..3600 seconds");
			return NULL;
		}
		timeout = (int)json_object_get_int64(t);
	}
	return cmd_migrate(c, name, target, timeout, e);
}

static json_object *v_migrate_in(struct cmdp *c, json_object *args, struct api_err *e)
{
	json_object *def = need_definition(args, e);

	json_object *tok = NULL, *t = NULL;

	if (def && json_object_object_get_ex(args, "stream_token", &tok) &&
	    !json_object_is_type(tok, json_type_boolean)) {
		api_fail(e, "bad-request", "arguments.stream_token: expected a boolean");
		return NULL;
	}
	/* The source's own timeout: how long this partition may wait for its stream. */
	if (def && json_object_object_get_ex(args, "timeout", &t) &&
	    (!json_object_is_type(t, json_type_int) || json_object_get_int64(t) < 1 ||
	     json_object_get_int64(t) > 3600)) {
		api_fail(e, "bad-request", "arguments.timeout: expected 1..3600 seconds");
		return NULL;
	}
	return def ? cmd_migrate_in(c, def, arg_str(args, "base_dir"),
	                            tok && json_object_get_boolean(tok),
	                            t ? (int)json_object_get_int64(t) : 0, e)
	           : NULL;
}

/* The gateway's question for a source on another host: where the token's stream goes. */
static json_object *v_stream_claim(struct cmdp *c, json_object *args, struct api_err *e)
{
	return cmd_stream_claim(c, arg_str(args, "token"), arg_str(args, "peer"), e);
}

/* A one-time token for the partition's console, for a stream through the gateway. */
static json_object *v_console_token(struct cmdp *c, json_object *args, struct api_err *e)
{
	const char *name = need_name(args, e);

	return name ? cmd_console_token(c, name, e) : NULL;
}

static json_object *v_migrate_abort(struct cmdp *c, json_object *args, struct api_err *e)
{
	const char *name = need_name(args, e);

	if (!name || cmd_migrate_abort(c, name, e))
		return NULL;
	return json_object_new_object();
}

static json_object *v_undefine(struct cmdp *c, json_object *args, struct api_err *e)
{
	const char *name = need_name(args, e);

	if (!name || cmd_undefine(c, name, e))
		return NULL;
	return json_object_new_object();
}

static json_object *v_start(struct cmdp *c, json_object *args, struct api_err *e)
{
	const char *name = need_name(args, e);
	struct cmd_part p = {0};

	if (!name || cmd_start(c, name, &p, e))
		return NULL;
	return cmd_part_json(c, &p);
}

static json_object *v_set_cpu_share(struct cmdp *c, json_object *args, struct api_err *e)
{
	const char *name = need_name(args, e);
	struct cmd_part p = {0};
	json_object *v;
	double x;

	if (!name)
		return NULL;
	if (!json_object_object_get_ex(args, "cpu_share", &v) ||
	    !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) ||
	    !isfinite(x = json_object_get_double(v)) || x < 0 || x > UV_VCPUS_MAX) {
		api_fail(e, "bad-request", "arguments.cpu_share: expected 0..%d CPUs (0: no limit)",
		         UV_VCPUS_MAX);
		return NULL;
	}
	if (cmd_set_cpu_share(c, name, (uint32_t)llround(x * 1000.0), &p, e))
		return NULL;
	return cmd_part_json(c, &p);
}

/* A limit argument: absent (-1: as it is), or a whole number 0..max (0: none). */
static int limit_arg(json_object *args, const char *key, uint64_t max, int64_t *out,
                     struct api_err *e)
{
	json_object *v;

	*out = -1;
	if (!json_object_object_get_ex(args, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
	    (uint64_t)json_object_get_int64(v) > max)
		return api_fail(e, "bad-request",
		                "arguments.%s: expected a whole number 0..%llu (0: no limit)", key,
		                (unsigned long long)max);
	*out = json_object_get_int64(v);
	return 0;
}

static json_object *v_set_disk_limits(struct cmdp *c, json_object *args, struct api_err *e)
{
	const char *name = need_name(args, e);
	struct cmd_part p = {0};
	char id[24];
	const char *disk = id;
	int64_t want[UV_DISK_LIMIT_KEYS];
	bool any = false;
	json_object *v;

	if (!name)
		return NULL;
	if (json_object_object_get_ex(args, "disk", &v) && json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) >= 0)
		snprintf(id, sizeof(id), "%lld", (long long)json_object_get_int64(v));
	else if (!(disk = arg_str(args, "disk")) || !disk[0]) {
		api_fail(
		    e, "bad-request",
		    "arguments.disk: expected a disk's index or its image's path or file name");
		return NULL;
	}
	for (unsigned i = 0; i < UV_DISK_LIMIT_KEYS; i++) {
		if (limit_arg(args, uv_disk_limit_key(i), uv_disk_limit_max(i), &want[i], e))
			return NULL;
		any |= want[i] >= 0;
	}
	if (!any) {
		api_fail(e, "bad-request", "arguments: one or more limits to set (%s)",
		         UV_DISK_LIMIT_KEY_LIST);
		return NULL;
	}
	if (cmd_set_disk_limits(c, name, disk, want, &p, e))
		return NULL;
	return cmd_part_json(c, &p);
}

/* stop, destroy, pause and resume are the monitor's: the request returns once it has taken the
 * order; the state then moves on (watch it with info). only, when not NULL, is the one state
 * the partition must be in. */
static json_object *to_monitor(struct cmdp *c, json_object *args, const char *what,
                               json_object *margs, const enum uv_part_state *only,
                               struct api_err *e)
{
	const char *name = need_name(args, e);
	struct cmd_part p = {0};

	if (!name)
		return NULL;
	if (cmd_view_find(c, name, &p)) {
		api_fail(e, "no-such-partition", "no partition named %s", name);
		return NULL;
	}
	if (only && p.rec.state != *only) {
		api_fail(e, "busy", "partition %s is %s: %s needs it %s", name,
		         uv_state_name(p.rec.state), what, uv_state_name(*only));
		return NULL;
	}
	if (cmd_monitor_call(c, name, what, margs, NULL, e))
		return NULL;
	return json_object_new_object();
}

static json_object *v_stop(struct cmdp *c, json_object *args, struct api_err *e)
{
	json_object *t, *margs = NULL, *r;

	if (args && json_object_object_get_ex(args, "timeout", &t)) {
		if (!json_object_is_type(t, json_type_int) || json_object_get_int64(t) < 1 ||
		    json_object_get_int64(t) > 3600) {
			api_fail(e, "bad-request", "arguments.timeout: expected 1..3600 seconds");
			return NULL;
		}
		margs = json_object_new_object();
		json_object_object_add(margs, "timeout", json_object_get(t));
	}
	r = to_monitor(c, args, "stop", margs, NULL, e);
	json_object_put(margs);
	return r;
}

static json_object *v_destroy(struct cmdp *c, json_object *args, struct api_err *e)
{
	return to_monitor(c, args, "destroy", NULL, NULL, e);
}

/* pause and resume: the guest's vCPUs stop and go on; its memory, devices and grants stay as
 * they are. Only from the state each belongs to: a migrating or incoming guest is stopped and
 * started by its migration alone. */
static json_object *v_pause(struct cmdp *c, json_object *args, struct api_err *e)
{
	static const enum uv_part_state running = UV_STATE_RUNNING;

	return to_monitor(c, args, "pause", NULL, &running, e);
}

static json_object *v_resume(struct cmdp *c, json_object *args, struct api_err *e)
{
	static const enum uv_part_state paused = UV_STATE_PAUSED;

	return to_monitor(c, args, "resume", NULL, &paused, e);
}

static int add_part(const struct cmd_part *p, void *ctx)
{
	void **x = ctx;

	json_object_array_add(x[1], cmd_part_json(x[0], p));
	return 0;
}

static json_object *v_list(struct cmdp *c, json_object *args, struct api_err *e)
{
	json_object *a = json_object_new_array();
	void *x[2] = {c, a};

	if (cmd_view_each(c, add_part, x)) {
		json_object_put(a);
		api_fail(e, "ultravisor", "cannot read the resource database");
		return NULL;
	}
	return a;
}

static void copy_member(json_object *to, json_object *from, const char *key)
{
	json_object *v;

	if (from && json_object_object_get_ex(from, key, &v))
		json_object_object_add(to, key, json_object_get(v));
}

static json_object *v_info(struct cmdp *c, json_object *args, struct api_err *e)
{
	const char *name = need_name(args, e),
		   *keys[] = {"reason", "accel", "monitor_pid", "qemu_pid", "started"};
	json_object *o, *st;
	struct cmd_part p = {0};
	char path[512];
	unsigned i;

	if (!name)
		return NULL;
	if (cmd_view_find(c, name, &p)) {
		api_fail(e, "no-such-partition", "no partition named %s", name);
		return NULL;
	}
	o = cmd_part_json(c, &p);
	json_object_object_add(o, "kernel", json_object_new_string(p.desc.kernel));
	json_object_object_add(o, "initrd", json_object_new_string(p.desc.initrd));
	json_object_object_add(o, "cmdline", json_object_new_string(p.desc.cmdline));
	json_object_object_add(o, "devices", json_object_new_int64(p.desc.n_dev));
	json_object_object_add(o, "disks", json_object_new_int64(p.desc.n_disk));
	json_object_object_add(o, "disk_limits", disk_limits_json(&p.desc));
	json_object_object_add(o, "nics", json_object_new_int64(p.desc.n_nic));
	json_object_object_add(o, "channels", json_object_new_int64(p.rec.n_channels));
	if (!cmd_monitor_dir(c, name, "console.sock", path, sizeof(path)))
		json_object_object_add(o, "console", json_object_new_string(path));
	if (!cmd_monitor_dir(c, name, "console.log", path, sizeof(path)))
		json_object_object_add(o, "console_log", json_object_new_string(path));
	st = cmd_monitor_status(c, name);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		copy_member(o, st, keys[i]);
	json_object_put(st);
	return o;
}

static json_object *v_resources(struct cmdp *c, json_object *args, struct api_err *e)
{
	return cmd_resources(c, e);
}

static const char *const no_args[] = {NULL};
static const char *const name_args[] = {"name", NULL};
static const char *const stop_args[] = {"name", "timeout", NULL};
static const char *const define_args[] = {"definition", "base_dir", NULL};
static const char *const share_args[] = {"name", "cpu_share", NULL};
static const char *const limit_args[] = {"name", "disk", UV_DISK_LIMIT_ARGS, NULL};
static const char *const migrate_args[] = {"name", "target", "timeout", NULL};
static const char *const migrate_in_args[] = {"definition", "base_dir", "stream_token", "timeout",
                                              NULL};
static const char *const claim_args[] = {"token", "peer", NULL};

static const struct verb verbs[] = {
    {"define", define_args, v_define},
    {"undefine", name_args, v_undefine},
    {"start", name_args, v_start},
    {"stop", stop_args, v_stop},
    {"destroy", name_args, v_destroy},
    {"pause", name_args, v_pause},
    {"resume", name_args, v_resume},
    {"list", no_args, v_list},
    {"info", name_args, v_info},
    {"set-cpu-share", share_args, v_set_cpu_share},
    {"set-disk-limits", limit_args, v_set_disk_limits},
    {"resources", no_args, v_resources},
    {"migrate", migrate_args, v_migrate},
    {"migrate-in", migrate_in_args, v_migrate_in},
    {"stream-claim", claim_args, v_stream_claim},
    {"migrate-abort", name_args, v_migrate_abort},
    {"console-token", name_args, v_console_token},
};

static const struct verb *check_request(json_object *req, json_object **args, struct api_err *e)
{
	const char *name = uv_api_envelope(req, CMD_API_VERSION, "this command partition", args,
	                                   &e->code, e->message, sizeof(e->message));
	unsigned i;

	if (!name)
		return NULL;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(verbs[i].name, name))
			break;
	if (i == sizeof(verbs) / sizeof(verbs[0])) {
		api_fail(e, "unknown-command", "execute: unknown command \"%s\"", name);
		return NULL;
	}
	if (uv_api_args_known(*args, verbs[i].args, verbs[i].name, &e->code, e->message,
	                      sizeof(e->message)))
		return NULL;
	return &verbs[i];
}

json_object *cmd_api_handle(struct cmdp *c, const char *line)
{
	json_object *req = json_tokener_parse(line), *args = NULL, *ret = NULL, *reply;
	const struct verb *verb;
	struct api_err e = {"internal", "no result"};

	verb = check_request(req, &args, &e);
	if (verb)
		ret = verb->fn(c, args, &e);
	reply = uv_api_reply(ret, e.code, e.message);
	json_object_put(req);
	return reply;
}
