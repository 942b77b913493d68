/* SPDX-License-Identifier: MIT */
/* ultra: the operator's CLI, with the habits of virsh and xl. Each verb is one cmd_*.c file;
 * all of them speak to the command partition's control API (docs/command.md). */
#ifndef ULTRA_CLI_H
#define ULTRA_CLI_H

#include <json-c/json.h>

#include "cmdconn.h"

/* Exit codes: what a script can tell apart. */
enum {
	ULTRA_OK = 0,
	ULTRA_FAILED = 1,      /* the command partition refused or failed the request */
	ULTRA_USAGE = 2,       /* bad command line */
	ULTRA_UNREACHABLE = 3, /* no command partition to talk to */
};

struct ultra {
	const char *sock;        /* the command partition: a socket path or tls://HOST:PORT */
	struct uv_tls_files tls; /* --tls-ca, --tls-cert, --tls-key: for a tls:// address */
	const char *ops_sock;    /* the operations partition's (docs/operations.md) */
	const char *run_dir;
	const char *state_dir; /* the ultravisor's (audit log) */
	int json;              /* --json: machine-readable output */
	int direct;            /* -c given: define/undefine/start only to that command partition */
};

struct ultra_verb {
	const char *name;
	const char *args;
	const char *help;
	int (*fn)(struct ultra *u, int argc, char **argv);
};

/* One request; on success *ret holds the "return" member (put it), on failure the error is
 * printed and the exit code returned. */
int ultra_call(struct ultra *u, const char *execute, json_object *args, json_object **ret);
/* The same to the operations partition. */
int ultra_call_ops(struct ultra *u, const char *execute, json_object *args, json_object **ret);
/* To the operations partition when it answers, else to the command partition. */
int ultra_call_managed(struct ultra *u, const char *execute, json_object *args, json_object **ret);
/* {"name": name} */
json_object *ultra_name_arg(const char *name);
/* Prints o as one JSON line (--json output). */
void ultra_print_json(json_object *o);
/* o[key]'s names, comma-separated after a space, and the end of the line. */
void ultra_print_names(json_object *o, const char *key);
/* An operations partition verb whose one argument is name; prints "WHAT NAME DONE" (or {}). */
int ultra_ops_named(struct ultra *u, const char *execute, const char *what, const char *name,
                    const char *done);
/* "1h02m", "35s", "-" */
void ultra_fmt_uptime(long long s, char *buf, size_t cap);
const char *ultra_str(json_object *o, const char *key);
long long ultra_int(json_object *o, const char *key);
/* Polls info until NAME is in one of the states (NULL-terminated) or timeout_s passes; prints
 * a progress line on a terminal. 0, or an exit code. */
int ultra_wait_state(struct ultra *u, const char *name, const char *const *states, int timeout_s,
                     const char *doing);

int ultra_cmd_define(struct ultra *u, int argc, char **argv);
int ultra_cmd_pause(struct ultra *u, int argc, char **argv);
int ultra_cmd_set_cpu_share(struct ultra *u, int argc, char **argv);
int ultra_cmd_resume(struct ultra *u, int argc, char **argv);
int ultra_cmd_undefine(struct ultra *u, int argc, char **argv);
int ultra_cmd_start(struct ultra *u, int argc, char **argv);
int ultra_cmd_stop(struct ultra *u, int argc, char **argv);
int ultra_cmd_destroy(struct ultra *u, int argc, char **argv);
int ultra_cmd_migrate(struct ultra *u, int argc, char **argv);
int ultra_cmd_list(struct ultra *u, int argc, char **argv);
int ultra_cmd_info(struct ultra *u, int argc, char **argv);
int ultra_cmd_set_disk_limits(struct ultra *u, int argc, char **argv);
int ultra_cmd_console(struct ultra *u, int argc, char **argv);
int ultra_cmd_log(struct ultra *u, int argc, char **argv);
int ultra_cmd_top(struct ultra *u, int argc, char **argv);
int ultra_cmd_domain(struct ultra *u, int argc, char **argv);
int ultra_cmd_schedule(struct ultra *u, int argc, char **argv);
int ultra_cmd_host(struct ultra *u, int argc, char **argv);

#endif
