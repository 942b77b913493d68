/* SPDX-License-Identifier: MIT */
/*
 * ultra-ops: the operations partition (claims 35-43, 45, 46, 86; docs/operations.md). It keeps
 * partition definitions, domains, schedules and hosts in SQLite (lib/opsdb*.c), is a client of
 * each host's command partition's JSON API, places partitions on hosts and restarts a failed
 * host's partitions elsewhere, and serves its own API on RUN/ops.sock.
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

/* A connection to one host's command partition. address is opaque here: the path of its
 * command.sock or its gateway's tls://HOST:PORT; every link is opened by ops_link_open()
 * (cmdlink.c), the one place that turns an address into a connection. gen counts connections made:
 * a new one means the command partition may have restarted and the definitions are reconciled. */
struct ops_link {
	char address[OPS_ADDR_MAX];     /* a socket path or tls://HOST:PORT */
	const struct uv_tls_files *tls; /* for a tls:// address */
	struct uv_cmdconn *conn;        /* NULL while not connected */
	unsigned gen;
};

enum ops_node_state { OPS_NODE_UNKNOWN = 0, OPS_NODE_UP, OPS_NODE_DOWN };

/* A host as ultra-ops sees it now (claims 39, 41): its stored row, its link, and whether it
 * answers. Without any host in the store there is one, "local", at --command: ultra-ops then
 * behaves as on one host (no placement, no failover). */
struct ops_node {
	struct ops_host host;
	struct ops_link link;
	enum ops_node_state state;
	long long last_ok_ms; /* monotonic: its last answer (or when we began to ask) */
	unsigned reconciled_gen;
	json_object *list; /* its partitions at its last answer; NULL before one */
};

#define OPS_LOCAL_HOST "local"

struct ops {
	const char *run_dir;
	const char *now_file; /* test clock: Unix seconds in a file, when it holds them */
	const char *cmd_path; /* --command: the implicit local host's address */
	struct opsdb *db;
	struct uv_tls_files tls; /* --tls-ca, --tls-cert, --tls-key: for every tls:// host */
	struct ops_node *nodes;
	size_t n_nodes;
	bool implicit;        /* no host registered: nodes[0] is the local one */
	time_t restart_after; /* monotonic seconds: crashed autostart partitions, one at a time */
	time_t
	    failover_after; /* monotonic seconds: the next try for partitions that found no host */
	int listen_fd;
	unsigned tick_ms;
	unsigned dead_ms;            /* --host-dead-ms: a host silent this long is down */
	struct ops_replica *replica; /* --peer (replica.c); NULL: no peer, always active */
	struct ops_moves *moves;     /* moves.c */
};

long long ops_mono_ms(void);

/* clock.c: now, and the minute of the local day the schedules are evaluated at. */
time_t ops_now(const struct ops *o);
unsigned ops_minute(const struct ops *o);

/* cmdlink.c: requests to a host's command partition. */
/* Opens l to its address when it is closed. 0 or a negative errno (err says why). */
int ops_link_open(struct ops_link *l, unsigned timeout_ms, char *err, size_t errlen);
void ops_link_close(struct ops_link *l);
/* One request line on l (opened when closed) and its reply, or NULL (err says why) when the
 * partition went away, took over timeout_ms or did not answer JSON; l is closed then. */
json_object *ops_link_exchange(struct ops_link *l, const char *req, unsigned timeout_ms, char *err,
                               size_t errlen);
/* One request to n's command partition; its "return" in *ret (put it). */
int ops_node_call(struct ops *o, struct ops_node *n, const char *execute, json_object *args,
                  json_object **ret, struct api_err *e);
/* The same, answered within timeout_ms (else the link is closed and e's code is "command"). */
int ops_node_call_within(struct ops *o, struct ops_node *n, const char *execute, json_object *args,
                         unsigned timeout_ms, json_object **ret, struct api_err *e);
/* A request line for a command partition, taking args; NULL when memory ran out (free it). */
char *ops_cmd_request(const char *execute, json_object *args);
/* A command partition's reply: its "return" in *ret (put it), or -1 with e set from its error. */
int ops_cmd_return(json_object *rep, const char *execute, json_object **ret, struct api_err *e);
/* n's list within timeout_ms, or NULL (a short timeout probes liveness). */
json_object *ops_node_list(struct ops *o, struct ops_node *n, unsigned timeout_ms,
                           struct api_err *e);
/* Every stored partition's entry in its host's list (one host: that host's whole list), each
 * with "host"; or NULL (e says why) when the only host does not answer. */
json_object *ops_cmd_list(struct ops *o, struct api_err *e);
/* The partition named name in a list, or NULL. */
json_object *ops_listed(json_object *list, const char *name);
bool ops_state_active(const char *state);
uint32_t ops_milli(json_object *o, const char *key);
/* A number of CPUs from milli-CPUs, written as briefly as it reads (0.1, not 0.1000000001). */
json_object *ops_json_cpus(uint32_t milli);

/* hosts.c: the hosts, their liveness, fencing and failover (claim 41). */
/* (Re)reads the hosts from the store, keeping the links and states of those unchanged. */
int ops_nodes_load(struct ops *o);
void ops_nodes_free(struct ops *o);
/* The host p runs on: the local one without registered hosts, else its stored host (NULL when
 * it has none or that host is no longer registered). */
struct ops_node *ops_node_of(struct ops *o, const struct ops_part *p);
struct ops_node *ops_node_named(struct ops *o, const char *name);
const char *ops_node_state_name(enum ops_node_state s);
/* How long a host may take to answer a list or resources request before it counts as silent:
 * half of --host-dead-ms, 0.2..5 s. */
unsigned ops_probe_ms(const struct ops *o);
/* Asks every host, marks the silent ones down, fences and brings up the ones that answer again,
 * and reconciles each whose connection is new. */
void ops_nodes_tick(struct ops *o);
/* Starts elsewhere the partitions that were active on a host that is down. */
void ops_failover(struct ops *o);

/* place.c: the host a partition that has none (or whose host is down) starts on (claims 39, 42,
 * 43); NULL with e's code "no-host" when none can hold it. */
struct ops_node *ops_place_part(struct ops *o, const struct ops_part *p, struct api_err *e);
/* n's resources reply, or NULL. */
json_object *ops_node_resources(struct ops *o, struct ops_node *n, struct api_err *e);

/* policy.c: the decisions that need the command partition's view. */
int ops_start(struct ops *o, const char *name, json_object **ret, struct api_err *e);
int ops_define(struct ops *o, json_object *def, const char *base_dir, json_object **ret,
               struct api_err *e);
/* Whether p alone fits its domain's own limits (else it could never run): 0, or -1 with e set
 * (domain-limit, or invalid-definition for a domain that does not exist). */
int ops_check_domain(struct ops *o, const struct ops_part *p, struct api_err *e);
/* Puts the shares the policy wants now in force (claims 46, 86); list from ops_cmd_list, whose
 * entries then say the shares put in force. */
void ops_apply_shares(struct ops *o, json_object *list);

/* reconcile.c: pushes n's stored definitions it lacks and starts its autostart partitions
 * (claim 38); list is n's list. */
void ops_reconcile(struct ops *o, struct ops_node *n);
void ops_tick(struct ops *o);
/* Pushes p's stored definition to n. */
int ops_push(struct ops *o, struct ops_node *n, const struct ops_part *p, json_object **ret,
             struct api_err *e);

/* api.c / api_*.c: one request line -> one reply object. */
/* The reply to line, or NULL and *ticket when it will come later (ops_moves_reap). */
json_object *ops_api_handle(struct ops *o, const char *line, unsigned *ticket);
struct ops_verb {
	const char *name;
	const char *const *args;
	json_object *(*fn)(struct ops *o, json_object *args, struct api_err *e);
};
/* A verb answered later: start gives 0 and the ticket its answer will carry (it comes from the
 * main loop, server.c), or -1 with e set. */
struct ops_later_verb {
	const char *name;
	const char *const *args;
	int (*start)(struct ops *o, json_object *args, unsigned *ticket, struct api_err *e);
};
extern const struct ops_verb ops_part_verbs[];
extern const struct ops_verb ops_domain_verbs[];
extern const struct ops_verb ops_host_verbs[];
extern const struct ops_verb ops_move_verbs[];        /* api_move.c: set-disk-limits */
extern const struct ops_later_verb ops_later_verbs[]; /* api_move.c: migrate */
const char *ops_arg_str(json_object *args, const char *key);
/* arguments.name, or NULL with e set (bad-request) when missing or empty. */
const char *ops_arg_name(json_object *args, struct api_err *e);

/* replica.c, api_replica.c: the redundant operations partition (claim 47; docs/ops-ha.md). */
struct ops_replica;
/* witness: --witness (NULL without): a third voter, so that only one of the two acts even
 * when they cannot reach each other. */
int ops_replica_start(struct ops *o, const char *db_path, const char *peer, const char *witness,
                      const char *name, unsigned dead_ms, char *err, size_t errlen);
void ops_replica_stop(struct ops *o);
/* Whether this tick may act (active, or no peer); the first tick after a takeover rereads the
 * hosts and reconciles them. */
bool ops_replica_acting(struct ops *o);
/* True, with e set (code "standby", naming the active one), for a write while standby. */
bool ops_replica_refuses(struct ops *o, const char *verb, struct api_err *e);
/* After a write verb succeeded: the standby gets the store before the client its answer. */
void ops_replica_after_write(struct ops *o, const char *verb);
/* The store's change counter (0 without a peer), and after a tick that moved it (placement,
 * failover, a move followed) the same push as after a write. */
uint64_t ops_replica_seq(struct ops *o);
void ops_replica_after_tick(struct ops *o, uint64_t seq_before);
/* Sends the store to the standby (replica-push) and waits for it, unless it is silent. */
void ops_replica_push(struct ops *o);
extern const struct ops_verb ops_replica_verbs[];

/* moves.c: migrations under way, each waited for on a thread of its own (claims 44, 85). */
#define OPS_MOVES_MAX 8
struct ops_moves;
int ops_moves_init(struct ops *o);
void ops_moves_free(struct ops *o);
/* Readable when a migration has ended: then call ops_moves_reap. */
int ops_moves_fd(const struct ops *o);
/* The host name is being migrated to, or NULL when it is not. */
const char *ops_moves_target(const struct ops *o, const char *name);
/* Asks src's command partition to migrate name to dst (args: its migrate arguments, taken),
 * answered within timeout_ms; 0 and the ticket its answer will carry, or -1 with e set. */
int ops_moves_start(struct ops *o, const char *name, const struct ops_node *src,
                    const struct ops_node *dst, json_object *args, unsigned timeout_ms,
                    unsigned *ticket, struct api_err *e);
/* For each migration that has ended: records where its partition runs and hands its reply to
 * answer (which takes it). */
void ops_moves_reap(struct ops *o, void (*answer)(void *ctx, unsigned ticket, json_object *rep),
                    void *ctx);

/* server.c */
int ops_server_listen(struct ops *o, char *err, size_t errlen);
int ops_server_run(struct ops *o);

#endif
