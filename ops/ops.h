/* SPDX-License-Identifier: MIT */
/*
 * ultra-ops: the operations partition on one host (claims 35-38, 46, 86; docs/operations.md).
 * It keeps partition definitions, domains and schedules in SQLite (lib/opsdb*.c), is a client of
 * the command partition's JSON API, and serves its own on RUN/ops.sock.
 */
#ifndef ULTRA_OPS_H
#define ULTRA_OPS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cmdconn.h"
#include "jsonapi.h"
#include "opsdb.h"
#include "ops_policy.h"

#define OPS_API_VERSION 1
#define OPS_LINE_MAX (64 * 1024)

/* The connection to the command partition. gen counts connections made: a new one means the
 * command partition may have restarted and the definitions are reconciled. */
struct ops_link {
	const char *path;               /* an address: a socket path or tls://HOST:PORT */
	const struct uv_tls_files *tls; /* for a tls:// address */
	struct uv_cmdconn *conn;        /* NULL while not connected */
	unsigned gen;
};

struct ops {
	const char *run_dir;
	const char *now_file; /* test clock: Unix seconds in a file, when it holds them */
	struct opsdb *db;
	struct ops_link cmd;
	struct uv_tls_files tls; /* --tls-ca, --tls-cert, --tls-key */
	unsigned reconciled_gen;
	time_t restart_after; /* monotonic seconds: crashed autostart partitions, one at a time */
	int listen_fd;
	unsigned tick_ms;
};

/* clock.c: now, and the minute of the local day the schedules are evaluated at. */
time_t ops_now(const struct ops *o);
unsigned ops_minute(const struct ops *o);

/* cmdlink.c: one request to the command partition; its "return" in *ret (put it). */
int ops_cmd_call(struct ops *o, const char *execute, json_object *args, json_object **ret,
                 struct api_err *e);
/* Whether a connection to the command partition is open now. */
bool ops_cmd_connected(const struct ops *o);
/* The command partition's list, or NULL (e says why). */
json_object *ops_cmd_list(struct ops *o, struct api_err *e);
/* The partition named name in a list, or NULL. */
json_object *ops_listed(json_object *list, const char *name);
bool ops_state_active(const char *state);
uint32_t ops_milli(json_object *o, const char *key);
/* A number of CPUs from milli-CPUs, written as briefly as it reads (0.1, not 0.1000000001). */
json_object *ops_json_cpus(uint32_t milli);

/* policy.c: the decisions that need the command partition's view. */
int ops_start(struct ops *o, const char *name, json_object **ret, struct api_err *e);
int ops_define(struct ops *o, json_object *def, const char *base_dir, json_object **ret,
               struct api_err *e);
/* Puts the shares the policy wants now in force (claims 46, 86); list from ops_cmd_list. */
void ops_apply_shares(struct ops *o, json_object *list);

/* reconcile.c: pushes stored definitions and starts autostart partitions (claim 38). */
void ops_reconcile(struct ops *o);
void ops_tick(struct ops *o);

/* api.c / api_*.c: one request line -> one reply object. */
json_object *ops_api_handle(struct ops *o, const char *line);
struct ops_verb {
	const char *name;
	const char *const *args;
	json_object *(*fn)(struct ops *o, json_object *args, struct api_err *e);
};
extern const struct ops_verb ops_part_verbs[];
extern const struct ops_verb ops_domain_verbs[];
const char *ops_arg_str(json_object *args, const char *key);

/* server.c */
int ops_server_listen(struct ops *o, char *err, size_t errlen);
int ops_server_run(struct ops *o);

#endif
