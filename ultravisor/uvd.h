/* SPDX-License-Identifier: MIT */
/* The ultravisor partition: owner of the resource database (claims 1-7, 10, 29-34). */
#ifndef ULTRA_UVD_H
#define ULTRA_UVD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <ultra/uvctl.h>

#include "channel.h"
#include "resdb.h"
#include "txn_log.h"

#define UVD_CONNS_MAX 64
#define UVD_CHANS_MAX 128
#define UVD_BATCH 64 /* records taken from one channel per turn: senders are served fairly */
#define UVD_REPLIES_MAX (UVD_BATCH * UVD_CHANS_MAX)

/* One memory object per committed grant: a sealed memfd standing for the grant's blocks. */
struct uvd_memobj {
	uint32_t partition;
	uint64_t log_seq;
	uint64_t size;
	uint32_t n_extents;
	struct uv_txn_extent *extents;
	int fd;
};

/* One channel memory object per channel record, formatted for its two endpoints. */
struct uvd_chanobj {
	uint32_t id;
	uint32_t endpoint[2];
	uint64_t size; /* the record's size rounded up to a power of two >= 4 KiB */
	int fd;
};

/* A control connection. Its identity is what it opened a command channel as: a system
 * partition's role, or the one monitor of a guest partition. */
struct uvd_conn {
	int fd;
	pid_t pid;
	uid_t uid;
	bool authed;
	uint32_t partition;
	uint8_t role;
};

struct uvd_chan {
	struct uv_chan *ch;
	void *mem;
	size_t size;
	int fds[3]; /* memory, our doorbell, the peer's doorbell */
	uint32_t partition;
	uint8_t role;
	bool ready;             /* more records are queued than one turn took */
	struct uvd_conn *owner; /* the connection that opened it: the channel dies with it */
};

/* A response waiting for the group commit that makes its transaction durable. */
struct uvd_reply {
	struct uvd_chan *chan;
	struct uv_txn_hdr req;
	uint32_t reason;
	uint64_t seq;
	uint64_t result[2];
};

struct uvd {
	const char *state_dir;
	char sock_path[108];
	struct uv_resdb_config cfg;
	struct uv_resdb_sysrole system[8];
	struct uv_resdb db;
	void *region;
	size_t region_size;
	int region_fd;
	struct uv_log *log;
	int listen_fd, epfd, sigfd;
	struct uvd_conn conns[UVD_CONNS_MAX];
	struct uvd_chan chans[UVD_CHANS_MAX];
	struct uvd_memobj *mem;
	size_t n_mem, cap_mem;
	struct uvd_chanobj *chanobj;
	size_t n_chanobj, cap_chanobj;
	struct uvd_reply replies[UVD_REPLIES_MAX];
	unsigned n_replies;
	uint64_t pending_lsn;       /* the log position the replies wait for */
	struct uv_resdb_result res; /* scratch for apply: large, so not on the stack */
	unsigned char logbuf[64 * 1024];
	unsigned char rx[UVD_BATCH][20 * 1024]; /* a batch of received records */
	uint64_t committed, refused, since_checkpoint, checkpoint_every;
	bool hugetlb; /* back 2 MiB-multiple grants with huge pages */
	bool exiting;
};

/* region.c */
int uvd_region_create(struct uvd *u);
int uvd_region_ro_fd(const struct uvd *u);

/* recover.c */
int uvd_recover(struct uvd *u, char *err, size_t errlen);
int uvd_checkpoint(struct uvd *u);

/* memobj.c */
int uvd_mem_track(struct uvd *u, const struct uv_txn *committed, uint64_t seq);
int uvd_mem_rebuild(struct uvd *u);               /* objects for snapshot-only grants */
void uvd_mem_forget(struct uvd *u, uint64_t seq); /* a grant that did not commit */
int uvd_mem_adopt(struct uvd *u, uint32_t partition, int fd);

/* fdobj.c */
int uvd_fd_describe(int fd, char *name, size_t cap, uint64_t *size);
int uvd_fd_replace(int *slot, int fd); /* a close-on-exec duplicate of fd replaces *slot */
int uvd_mem_fds(struct uvd *u, uint32_t partition, int *fds, unsigned max, unsigned *n,
                uint64_t *bytes);
void uvd_mem_free_all(struct uvd *u);

/* chanobj.c */
int uvd_chanobj_track(struct uvd *u, const struct uv_txn *committed);
int uvd_chanobj_rebuild(struct uvd *u); /* from the database's channel records */
int uvd_chanobj_adopt(struct uvd *u, uint32_t partition, int fd);
int uvd_chanobj_fds(const struct uvd *u, uint32_t partition, int *fds, struct uv_ctl_channel *info,
                    unsigned max, unsigned *n, uint64_t *bytes);
void uvd_chanobj_free_all(struct uvd *u);

/* apply.c: one transaction through validation, the database and the log */
enum uv_txn_reason uvd_execute(struct uvd *u, const struct uv_txn *t, uint64_t *seq, uint64_t *lsn,
                               uint64_t result[2]);
int uvd_system_change(struct uvd *u, uint32_t partition, enum uv_part_state state);
int uvd_bootstrap(struct uvd *u);

/* server.c */
int uvd_listen(struct uvd *u);
void uvd_accept(struct uvd *u);
void uvd_conn_io(struct uvd *u, struct uvd_conn *c);

/* command.c */
int uvd_chan_open(struct uvd *u, struct uvd_conn *owner, uint32_t partition, uint8_t role,
                  int fds_out[3], uint64_t *size, char *err, size_t errlen);
void uvd_chan_close_conn(struct uvd *u, const struct uvd_conn *owner);
void uvd_chan_io(struct uvd *u, struct uvd_chan *c);
bool uvd_chan_any_ready(struct uvd *u);
void uvd_chan_close_all(struct uvd *u);
void uvd_chan_serve_ready(struct uvd *u);
void uvd_flush(struct uvd *u);
void uvd_chan_close_partition(struct uvd *u, uint32_t partition);

#endif
