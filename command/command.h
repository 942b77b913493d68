/* SPDX-License-Identifier: MIT */
/* The command partition (claims 6, 9, 34, 40): allocation policy, transactions, monitors, and the
 * versioned JSON control API on RUN/command.sock (docs/command.md). */
#ifndef ULTRA_COMMAND_H
#define ULTRA_COMMAND_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ultra/io_ctl.h>

#include "cmdconn.h"
#include "disk_limit.h"
#include "jsonapi.h"
#include "migstream.h"
#include "resdb.h"
#include "uvclient.h"

#define CMD_API_VERSION 1
#define CMD_FIRST_GUEST 10u /* guest partition numbers: the lowest free one from here */
#define CMD_CLIENTS_MAX 16
#define CMD_LINE_MAX (64 * 1024)
#define CMD_TIMEOUT_MS 10000

struct cmd_client {
	int fd;
	size_t len;
	char *buf;
};

#define CMD_INCOMING_MAX 32

struct cmdp {
	long long watched_ms; /* when the monitors were last looked after */
	const char *uv_path;
	const char *run_dir;
	const char *monitor_bin;
	const char *io_path; /* the I/O partition's control socket; exports go beside it */
	int io_fd;
	uint32_t self;        /* our partition number (2) */
	const char *uid_base; /* --engine-uid-base as given (NULL: the default), for monitors too */
	uint32_t uid_base_v;  /* its value: engines run as uid_base_v + partition number */
	int uv_sock;
	struct uv_cmd *chan;
	void *db_map;
	size_t db_size;
	struct uv_resdb_view view; /* claim 40: our read-only copy of the resource database */
	int listen_fd;
	struct cmd_client clients[CMD_CLIENTS_MAX];
	/* Live migration over the network (docs/migration.md): our certificate for another
	 * host's gateway (--tls-ca/--tls-cert/--tls-key; NULLs when not given), and the stream
	 * tokens this host issued to sources that reach it through its gateway. */
	struct uv_tls_files tls;
	struct uv_stream_tokens tokens;
	/* Incoming partitions and when they are given up (migrate_in.c): a source that vanished
	 * must not leave this host's memory held by an engine that waits for it forever. */
	struct cmd_incoming {
		char name[UV_NAME_MAX];
		uint64_t deadline_ms; /* 0: a free slot */
	} incoming[CMD_INCOMING_MAX];
};

/* uvlink.c: the ultravisor connection, the database mapping, transactions. */
int cmd_uv_connect(struct cmdp *c, struct api_err *e);
void cmd_uv_close(struct cmdp *c);
int cmd_uv_submit(struct cmdp *c, struct uv_txn *t, const char *what, struct api_err *e);

/* view.c: decisions taken on the read-only database. */
struct cmd_part {
	uint32_t id;
	struct uv_resdb_part rec;
	struct uv_partition_desc desc;
};
/* Calls fn for every guest partition (live or preserved), in number order. */
int cmd_view_each(struct cmdp *c, int (*fn)(const struct cmd_part *p, void *ctx), void *ctx);
/* The guest partition named name: 0, -ENOENT. */
int cmd_view_find(struct cmdp *c, const char *name, struct cmd_part *out);
/* The lowest free partition number >= CMD_FIRST_GUEST, or -ENOSPC. */
int cmd_view_free_id(struct cmdp *c, uint32_t *id);
/* The pool extents owned by partition id (at most max), their count in *n. */
int cmd_view_extents(struct cmdp *c, uint32_t id, struct uv_txn_extent *ext, unsigned max,
                     unsigned *n);

/* resources.c: {memory_mib: {total, free}, cpus: {total, committed}, partitions} of this host,
 * from the read-only database (claim 40); the operations partition places by it. */
json_object *cmd_resources(struct cmdp *c, struct api_err *e);

/* monitors.c: one ultra-monitor per started guest. */
/* Starts NAME's monitor (partition id) once its last one is gone; its pid in *pid. */
int cmd_monitor_spawn(struct cmdp *c, uint32_t id, const char *name, pid_t *pid, struct api_err *e);
/* The same; incoming: its engine waits for a migration stream (ultra-monitor --incoming). */
int cmd_monitor_spawn_as(struct cmdp *c, uint32_t id, const char *name, bool incoming, pid_t *pid,
                         struct api_err *e);
/* Sends {"execute":what,...} to NAME's monitor; its "return" member in *ret (may be NULL). */
int cmd_monitor_call(struct cmdp *c, const char *name, const char *what, json_object *args,
                     json_object **ret, struct api_err *e);
/* The last line the monitor of partition id wrote to RUN/monitor-ID.log (empty if none). */
void cmd_monitor_log_tail(struct cmdp *c, uint32_t id, char *buf, size_t cap);
/* NAME's state.json as the monitor last wrote it, or NULL. */
json_object *cmd_monitor_status(struct cmdp *c, const char *name);
int cmd_monitor_dir(struct cmdp *c, const char *name, const char *leaf, char *buf, size_t cap);

/* policy.c: requests -> transactions. */
int cmd_define(struct cmdp *c, json_object *def, const char *base_dir, struct cmd_part *out,
               struct api_err *e);
int cmd_undefine(struct cmdp *c, const char *name, struct api_err *e);
int cmd_start(struct cmdp *c, const char *name, struct cmd_part *out, struct api_err *e);
/* start, with the monitor's engine waiting for a migration stream instead of booting. */
int cmd_start_incoming(struct cmdp *c, const char *name, struct cmd_part *out, struct api_err *e);
/* Whether a partition in this state holds an engine or is about to (undefine refuses it). */
bool cmd_state_active(uint32_t state);
/* SET_CPU_SHARE (claim 26); the partition's monitor puts it in force (docs/cpu.md). */
int cmd_set_cpu_share(struct cmdp *c, const char *name, uint32_t milli, struct cmd_part *out,
                      struct api_err *e);

/* limits.c: a disk's I/O limit changed on a defined or running partition (claims 3, 7, 19;
 * docs/io-partition.md, "Changing a limit"): SET_DISK_LIMITS, then the enforcer told at once.
 * want[] by lib/disk_limit.h's kinds: -1 that one as it is, 0 none; a total named clears its
 * kind's directions and a direction its kind's total (uv_disk_limit_change); a total beside a
 * direction of its kind is refused ("bad-request"). */
int cmd_set_disk_limits(struct cmdp *c, const char *name, const char *disk,
                        const int64_t want[UV_DISK_LIMIT_KEYS], struct cmd_part *out,
                        struct api_err *e);
/* The disk of p named by idx (a number) or by its image's path or file name; -1 if none. */
int cmd_disk_named(const struct cmd_part *p, const char *id);
/* Refuses (api error "cannot-enforce") a limit on p's direct disk k that the host can already
 * tell it could not enforce; a disk that does not exist yet passes (start checks it). */
int cmd_limit_check(const struct uv_partition_desc *d, unsigned k, const struct uv_disk_limit *lim,
                    struct api_err *e);

/* api.c: one request line -> one reply object. */
json_object *cmd_api_handle(struct cmdp *c, const char *line);
json_object *cmd_part_json(struct cmdp *c, const struct cmd_part *p);

/* server.c: the control socket. */
int cmd_server_listen(struct cmdp *c, char *err, size_t errlen);
int cmd_server_run(struct cmdp *c);

/* watch.c */
void cmd_watch_monitors(struct cmdp *c);
/* A live process (not a zombie); 0 for pid <= 0. */
int cmd_pid_alive(pid_t pid);

/* migrate.c, migrate_in.c, peer.c: live migration (claim 44, docs/migration.md). */
/* Source: NAME to the command partition at target (its control socket); the reply object. */
json_object *cmd_migrate(struct cmdp *c, const char *name, const char *target, int timeout_s,
                         struct api_err *e);
/* Target: define from def, grant, start an incoming engine; the partition and its stream (and,
 * with want_token, for a source on another host, a one-time token for the gateway). */
json_object *cmd_migrate_in(struct cmdp *c, json_object *def, const char *base_dir, bool want_token,
                            int timeout_s, struct api_err *e);
/* incoming.c: an incoming partition's deadline, from the source's timeout (0: unknown); given
 * up past it (the watch, once a second), forgotten when it ends otherwise. */
void cmd_incoming_arm(struct cmdp *c, const char *name, int timeout_s);
void cmd_incoming_forget(struct cmdp *c, const char *name);
void cmd_incoming_expire(struct cmdp *c);
/* Source: the monitor's migrate arguments for a stream through the gateway at target. */
json_object *cmd_mig_net_args(struct cmdp *c, const char *target, const char *token);
/* Monotonic milliseconds (stream tokens expire by it). */
uint64_t cmd_mono_ms(void);
/* Target, asked by the gateway: the incoming partition's stream socket for token, which is
 * used up (migrate_net.c). */
/* console.c: the partition's console for a client on another host (docs/cmdnet.md, "The
 * console"): a one-time token for its console.sock, while the partition has an engine whose
 * console can be reached (cmd_console_live; checked again when the gateway claims it). */
json_object *cmd_console_token(struct cmdp *c, const char *name, struct api_err *e);
bool cmd_console_live(enum uv_part_state s);
json_object *cmd_stream_claim(struct cmdp *c, const char *token, const char *peer,
                              struct api_err *e);
/* Target: an incoming partition that will not run here after all: destroyed and undefined. */
int cmd_migrate_abort(struct cmdp *c, const char *name, struct api_err *e);
/* One request to another command partition's control API (docs/command.md) at addr (a socket
 * path, or tls://HOST:PORT through its gateway with c->tls): 0 with its return in *ret, or -1
 * with e set (a refusal keeps its code; the message says who refused). */
int cmd_peer_call(struct cmdp *c, const char *addr, const char *execute, json_object *args,
                  json_object **ret, int timeout_ms, struct api_err *e);

/* iolink.c: the I/O partition's control socket (include/ultra/io_ctl.h). Negative errno, or
 * ultra-io's refusal. list takes up to UV_IOCTL_EXPORTS_MAX entries. */
int cmd_io_list(struct cmdp *c, struct uv_ioctl_export *list, unsigned *n);
/* Exports for partition part: its engine alone may reach the socket and is let in. lim (NULL:
 * none) is the export's I/O limit, which ultra-io enforces (claim 19). */
int cmd_io_add_blk(struct cmdp *c, uint32_t part, const char *path, const char *image,
                   uint32_t flags, const struct uv_disk_limit *lim);
int cmd_io_add_direct(struct cmdp *c, uint32_t part, const char *path, const char *image,
                      uint32_t flags);
int cmd_io_add_net(struct cmdp *c, uint32_t part, const char *path, const char *sw);
int cmd_io_remove(struct cmdp *c, const char *path);
/* A served disk's limit changed in place (SET_LIMIT): -ENOENT no such export, -EOPNOTSUPP an
 * ultra-io too old to know the request. */
int cmd_io_set_limit(struct cmdp *c, const char *path, const struct uv_disk_limit *lim);
void cmd_io_close(struct cmdp *c);

/* place.c: a partition's disks and NICs on the I/O partition (docs/definitions.md). */
/* ultra-io's name for NAME's disk or NIC i (what is "disk" or "nic"): its socket with ext
 * "sock", a direct disk's record with ext "direct". */
int cmd_place_path(struct cmdp *c, const char *name, const char *what, unsigned i, const char *ext,
                   char *buf, size_t cap);
/* Whether p should have its disks, NICs and channels now: active, or a monitor still runs. */
int cmd_place_wanted(struct cmdp *c, const struct cmd_part *p);
/* Before p's monitor starts: its exports made and granted ("io" error if ultra-io refuses). */
int cmd_place_start(struct cmdp *c, const struct cmd_part *p, struct api_err *e);
/* Once a second: every active partition's exports and grants made (again, after an ultra-io
 * restart), every other partition's taken away. */
void cmd_place_sync(struct cmdp *c);

/* chans.c: channels the definitions ask for. */
int cmd_chans_start(struct cmdp *c, const struct cmd_part *p, struct api_err *e);
/* Takes back every channel of partition only, or (only 0) every asked-for channel neither of
 * whose ends is active. e may be NULL. */
int cmd_chans_drop(struct cmdp *c, uint32_t only, struct api_err *e);

#endif
