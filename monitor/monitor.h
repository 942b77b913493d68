/* SPDX-License-Identifier: MIT */
/* The monitor: one process per guest partition, sole owner and configurer of its QEMU. */
#ifndef ULTRA_MONITOR_H
#define ULTRA_MONITOR_H

#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <ultra/descriptor.h>
#include <ultra/uvctl.h>

#include "cgcpu.h"
#include "cgio.h"
#include "qmp.h"

#define MON_CLIENTS_MAX 16
/* Every path must fit a Unix socket address (108 bytes). */
#define MON_REASON_MAX 256

struct mon_paths {
	char dir[96];
	char qmp[128];
	char console[128]; /* the viewers' socket, served by the console relay (console.c) */
	char console_log[128];
	char qemu_log[128];
	char ctl[128];
	char state[128];
	char pid[128];
	char desc[128];
	char mig[128]; /* the incoming engine's stream socket (migrate.c) */
};

struct mon_client {
	int fd;
	bool watching;
	size_t len;
	char buf[4096];
};

/* A channel the ultravisor granted the partition (UV_CTL_GET_CHANNELS). */
struct mon_uv_chan {
	int fd; /* its memory object, formatted for both endpoints */
	uint32_t id;
	uint64_t size;
};

/* A direct disk's I/O limit, on the device that holds its image (blkio.c). */
struct mon_io_limit {
	unsigned disk; /* its index in the descriptor's disk[] */
	unsigned major, minor;
	struct uv_disk_limit lim; /* totals and directions as the descriptor has them */
};

struct monitor {
	const struct uv_partition_desc *desc; /* read-only mapping (claim 10) */
	struct mon_paths paths;
	const char *qemu_bin;
	enum uv_accel accel; /* resolved: KVM or TCG */
	pid_t qemu_pid;
	bool qemu_is_child;
	int pidfd;
	struct qmp *qmp;
	enum uv_part_state state;
	char reason[MON_REASON_MAX];
	char shutdown_reason[64]; /* from QEMU's SHUTDOWN event, empty if none came */
	long long started;        /* wall-clock seconds when QEMU started */
	int epfd;
	int sigfd;
	int stop_timer; /* graceful stop deadline */
	int ctl_fd;
	struct mon_client clients[MON_CLIENTS_MAX];
	bool exiting;
	/* With an ultravisor: its socket, the read-only database, the grant's memory object. */
	char uv_path[108];
	int uv_sock;
	struct uv_cmd *uv_cmd;
	const void *uv_db;
	size_t uv_db_size;
	struct uv_resdb_view *uv_view; /* the read-only database, attached once */
	int follow_timer;              /* re-reads the partition's record for changes */
	int uv_mem_fd;
	struct mon_uv_chan uv_chan[UV_CTL_FDS_MAX];
	unsigned n_uv_chan;
	uint32_t partition;
	/* The engine's identity (engine_cred.c): uid = gid = uid_base + engine_id
	 * (lib/engine_uid.h); engine_id is the partition number, or what --partition gave a
	 * stand-alone definition. */
	uint32_t uid_base;
	uint32_t engine_id;
	uid_t engine_uid;
	/* CPU share (cpu.c): the one in force (set-cpu-share may change it live), its cgroups
	 * (empty without a controller) and the CPUs it is pinned to (empty unless whole). */
	uint32_t cpu_share_milli;
	struct uv_cg_layout cg;
	char cg_cpu[PATH_MAX];
	char cg_cpuset[PATH_MAX];
	char cpus_pinned[256];
	/* Direct disks' I/O limits (blkio.c): what the descriptor asks, and the engine's cgroup of
	 * the io (v1: blkio) controller carrying it; empty when no direct disk is limited. */
	struct mon_io_limit io_limit[UV_DISKS_MAX];
	unsigned n_io_limit;
	struct uv_disk_limit io_refused[UV_DISKS_MAX]; /* the database's last one we could not */
	enum uv_cg_kind cg_io_kind;
	char cg_io_root[PATH_MAX];
	char cg_io[PATH_MAX];
	/* Live migration (migrate.c, claim 44): the target's engine waits for the stream on
	 * mig_listen; mig_status is the last MIGRATION event's, mig_event set until the loop has
	 * acted on it; mig_done once the source's engine has sent everything. */
	bool incoming;
	int mig_listen;
	char mig_status[24];
	bool mig_event;
	bool mig_done;
	char mig_peer[108];
	pid_t console_pid; /* the console relay we forked (console.c); 0 once reaped or not ours */
	int console_pidfd; /* and its pidfd in the loop: replaced if it ends before the engine */
	int console_restores;
};

/* uvsource.c */
int mon_uv_load(struct monitor *m, const char *sock_path, uint32_t partition, char *err,
                size_t errlen);
void mon_uv_report(struct monitor *m, enum uv_part_state s);
void mon_uv_hand_back(struct monitor *m);
void mon_uv_follow(struct monitor *m);

/* accel.c */
enum uv_accel mon_accel_resolve(enum uv_accel wanted, char *why, size_t whylen);

/* The fd numbers QEMU inherits: fixed so the command line never depends on the monitor's fds. */
#define QEMU_MEM_FD 3 /* guest RAM (sealed memfd) */
#define QEMU_QMP_FD 4 /* listening QMP socket, bound by the monitor */
#define QEMU_CON_FD 5 /* the serial port's end of the console relay's socketpair */
#define QEMU_LOG_FD 6 /* console.log, opened O_APPEND by the monitor */
#define QEMU_KERNEL_FD 7
#define QEMU_INITRD_FD 8 /* left closed without an initrd */
#define QEMU_CHAN_FD0 9  /* ultravisor channel i's memory object is fd QEMU_CHAN_FD0 + i */
/* then direct disk k (in descriptor order) is fd QEMU_CHAN_FD0 + n_uv_chan + k, then the
 * files of the other devices the engine would open by path (files.c), in descriptor order */
#define QEMU_FDS_MAX (QEMU_CHAN_FD0 - QEMU_MEM_FD + UV_CTL_FDS_MAX + UV_DEVICES_MAX)
#define QEMU_LOG_FDSET 100  /* QEMU's fd set of the console log (disks use 1 + device index) */
#define QEMU_DUMP_FDSET 101 /* the dump-memory target, while a dump runs */

/* direct.c: opens the direct disks the descriptor grants (fds: room for UV_DEVICES_MAX). */
int mon_direct_open(const struct uv_partition_desc *d, int *fds, unsigned *n, char *err,
                    size_t errlen);

/* engine_cred.c: who the engine runs as (docs/monitor.md, "The engine's identity"). */
struct mon_cred {
	uid_t uid;
	gid_t gid;
	gid_t groups[1]; /* the group of /dev/kvm under KVM; nothing else */
	int ngroups;
};
int mon_cred_for(const struct monitor *m, struct mon_cred *c, char *err, size_t errlen);
/* Whether the engine may open a file of this mode and owner by reopening an inherited fd
 * (/proc/self/fd/N): want is R_OK, W_OK or both. Mode bits only (an ACL may allow more). */
bool mon_cred_may(const struct mon_cred *c, const struct stat *st, int want);
/* In the forked child, just before exec (async-signal-safe): no new privileges, no
 * capabilities, c's groups, gid and uid, each checked. 0, or a negative errno with the step
 * that failed in *step (mon_cred_step_name). */
int mon_cred_drop(const struct mon_cred *c, int *step);
const char *mon_cred_step_name(int step);

/* files.c: what the engine would otherwise open by path, opened by the monitor (who can) and
 * inherited. fds[0..2]: console log, kernel, initrd (-1 without one). */
int mon_boot_files_open(const struct monitor *m, const struct mon_cred *c, int *fds, char *err,
                        size_t errlen);
/* The block images and channel files of the descriptor's BLK and CHANNEL devices, in
 * descriptor order (fds: room for UV_DEVICES_MAX). */
int mon_dev_files_open(const struct monitor *m, const struct mon_cred *c, int *fds, unsigned *n,
                       char *err, size_t errlen);
bool mon_dev_is_file(const struct uv_device *v); /* one of those */

/* console.c: the console relay (docs/monitor.md, "console"), forked before QEMU: it serves
 * console.sock and writes console.log; QEMU's serial port gets *engine_fd. reap: waits up to
 * wait_ms for it to end (it does once QEMU's end closes). */
int mon_console_spawn(struct monitor *m, const struct mon_cred *cred, int *engine_fd, char *err,
                      size_t errlen);
void mon_console_reap(struct monitor *m, int wait_ms);
/* console_sandbox.c: the relay's seccomp allow list, after its privileges are dropped. */
int mon_console_sandbox(void);
/* console_restore.c: the relay forked is watched (its pidfd in the loop); one that ends while
 * the engine runs is replaced, the serial port switched to it by QMP chardev-change (exited);
 * on re-attach, a console.sock nobody serves is replaced the same way (check). */
void mon_console_watch(struct monitor *m);
void mon_console_exited(struct monitor *m);
void mon_console_check(struct monitor *m);

/* qemu_cmd.c: the QEMU command line for a descriptor. argv entries are heap strings. */
int mon_qemu_argv(const struct monitor *m, char ***argv_out);
void mon_argv_free(char **argv);

/* launch.c */
int mon_mem_create(const struct uv_partition_desc *d, int *fd_out);
int mon_qemu_spawn(struct monitor *m, int mem_fd, char *err, size_t errlen);
int mon_qemu_find(struct monitor *m); /* re-attach: 1 found alive, 0 none, <0 error */

/* cpu.c: the CPU share on the host scheduler (claims 26-28). */
int mon_cpu_start(struct monitor *m, char *err, size_t errlen); /* QEMU spawned, not yet run */
int mon_cpu_reattach(struct monitor *m, char *err, size_t errlen);
int mon_cpu_set(struct monitor *m, uint32_t share_milli, char *err, size_t errlen);
void mon_cpu_release(struct monitor *m);

/* blkio.c: direct disks' I/O limits on the host's block layer (claims 19, 22). plan finds the
 * devices and the controller before QEMU is spawned and refuses a limit it could not enforce;
 * start (after mon_cpu_start: on cgroup v2 the group may be the same) moves QEMU in. */
int mon_blkio_plan(struct monitor *m, char *err, size_t errlen);
int mon_blkio_start(struct monitor *m, char *err, size_t errlen);
int mon_blkio_reattach(struct monitor *m, char *err, size_t errlen);
void mon_blkio_release(struct monitor *m);
/* Direct disk k's limit from now on, on the running engine (docs/io-partition.md, "Changing a
 * limit"): the set-disk-limits control request and the database's SET_DISK_LIMITS both come
 * here. Either the kernel holds the new limit when it returns 0, or it refuses with the reason
 * in err and the old limit stays in force. */
int mon_blkio_set(struct monitor *m, unsigned k, const struct uv_disk_limit *lim, char *err,
                  size_t errlen);
/* The limit in force on direct disk k (all 0: none). */
struct uv_disk_limit mon_blkio_limit(const struct monitor *m, unsigned k);
/* Whether disk k is one of the partition's direct disks (granted: the engine has it). */
bool mon_blkio_is_direct(const struct monitor *m, unsigned k);

/* status.c */
void mon_set_state(struct monitor *m, enum uv_part_state s, const char *reason);
json_object *mon_status_json(const struct monitor *m);
/* Rewrites state.json: what `ultra list` and scripts read without asking the monitor. */
void mon_status_save(const struct monitor *m);

/* migrate.c: live migration (claim 44, docs/migration.md). */
struct uv_mig_progress;
int mon_mig_listen(struct monitor *m, char *err, size_t errlen); /* target, engine on -S */
void mon_mig_accept(struct monitor *m);
int mon_mig_start(struct monitor *m, const char *uri, char *err, size_t errlen);
int mon_mig_send(struct monitor *m, int fd, const char *peer, char *err, size_t errlen);
/* migrate_net.c: {uri: tls://HOST:PORT, token, tls: {ca, cert, key}}: through the target's
 * gateway, relayed by a thread of ours (docs/migration.md, "Over the network"). */
int mon_mig_start_net(struct monitor *m, json_object *args, char *err, size_t errlen);
int mon_mig_query(struct monitor *m, struct uv_mig_progress *p, char *err, size_t errlen);
int mon_mig_cancel(struct monitor *m, char *err, size_t errlen);
void mon_mig_step(struct monitor *m); /* after QMP events: act on a MIGRATION status */

/* control.c */
int mon_ctl_listen(struct monitor *m);
void mon_ctl_accept(struct monitor *m);
void mon_ctl_client_io(struct monitor *m, struct mon_client *c);
void mon_ctl_broadcast(struct monitor *m, json_object *event);

/* engine.c: QMP-driven actions */
int mon_qmp_connect(struct monitor *m, int timeout_ms);
void mon_qmp_event(void *opaque, const char *event, json_object *data);
int mon_engine_stop(struct monitor *m, int timeout_s, char *err, size_t errlen);
int mon_engine_destroy(struct monitor *m);
/* Guest RAM as the engine sees it, into a file path the monitor creates (mode 0600). */
int mon_engine_dump(struct monitor *m, const char *path, char *err, size_t errlen);
void mon_engine_exited(struct monitor *m);

#endif
