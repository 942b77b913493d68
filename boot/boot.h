/* SPDX-License-Identifier: MIT */
/*
 * ultra-boot: the boot partition, the supervisor started first (claims 5, 8, 38, 55). It starts
 * the ultravisor and the system partitions, watches each through a pidfd, and restarts whichever
 * dies: the ultravisor recovers from its audit log; any other system partition is reported
 * failed (its pending work rolled back, its resources preserved) and restarted (its preserved
 * resources handed back).
 */
#ifndef ULTRA_BOOT_H
#define ULTRA_BOOT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "uvclient.h"

#define BOOT_SYSTEM_MAX 8
#define BOOT_ARGS_MAX 16
#define BOOT_PARTITION 1u
#define BOOT_COMMAND_DEFAULT 2u

/* One supervised process: the ultravisor, a system partition, or a helper of one. */
struct boot_child {
	char name[32];
	uint32_t partition; /* 0 for the ultravisor */
	uint8_t role;       /* enum uv_role */
	char cmdline[512];  /* system partitions: run by /bin/sh -c "exec CMDLINE"; empty: none */
	bool helper; /* a process of system partition `partition` that holds no channel and no
	              * resources of its own (the command partition's network gateway): never
	              * recorded or reported to the ultravisor, only restarted */
	pid_t pid;   /* 0 when not running */
	int pidfd;
	bool failed; /* given up on after too many deaths */
	unsigned restarts;
	uint64_t deaths[16]; /* monotonic ms of recent deaths, for the back-off */
	unsigned n_deaths;
	uint64_t last_restart_ms; /* death to answering again, of the last restart */
};

struct boot_config {
	const char *ultravisor; /* the daemon's path */
	const char *uv_args[BOOT_ARGS_MAX];
	unsigned n_uv_args;
	const char *state_dir;
	const char *run_dir;
	const char *pool_mib;
	unsigned max_restarts; /* per window, per child */
	unsigned window_ms;
	unsigned answer_ms; /* how long a restarted ultravisor may take to answer */
};

struct boot {
	struct boot_config cfg;
	struct boot_child uv;
	struct boot_child sys[BOOT_SYSTEM_MAX];
	unsigned n_sys;
	char sock_path[256];
	int ctl;            /* control socket to the ultravisor, -1 when down */
	struct uv_cmd *cmd; /* the boot partition's command channel */
	int epfd, sigfd, lockfd;
	bool exiting;
};

uint64_t boot_now_ms(void);

/* child.c */
int boot_spawn(struct boot *b, struct boot_child *c);
int boot_reap(struct boot_child *c, int *status); /* 1 if it ended (status set), 0 if not */
void boot_describe_exit(int status, char *buf, size_t len);
bool boot_backoff_exceeded(const struct boot *b, struct boot_child *c, uint64_t now);
void boot_stop_child(struct boot_child *c, int timeout_ms);

/* uvlink.c */
int boot_uv_wait(struct boot *b, int timeout_ms);
void boot_uv_drop(struct boot *b);
int boot_uv_record(struct boot *b, const struct boot_child *c);
int boot_uv_set_state(struct boot *b, uint32_t partition, uint8_t state);
int boot_uv_report(struct boot *b, enum uv_ctl_op op, uint32_t partition);

/* files.c */
int boot_write_definitions(const struct boot *b);
int boot_write_status(const struct boot *b);

/* supervise.c */
int boot_start_all(struct boot *b);
int boot_loop(struct boot *b);
void boot_shutdown(struct boot *b);

#endif
