/* SPDX-License-Identifier: MIT */
/* Server internals shared by vhost_user.c (sockets, event loop) and vhost_req.c (requests). */
#ifndef IO_VHOST_PRIV_H
#define IO_VHOST_PRIV_H

#include <stddef.h>
#include <sys/types.h>

#include "dirty_log.h"
#include "inflight.h"
#include "vhost_msg.h"
#include "vhost_user.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

struct vhu_export {
	struct vhu_watch watch;
	struct vhu_watch done_watch; /* the device's completions (ops->event_fd), if it has any */
	int done_fd;
	int fd;
	char *path;
	struct vhu_device *dev;
	struct vhu_server *server;
	unsigned next_id;
	/* The partition it serves and the uid its engine runs as (lib/engine_uid.h): the only
	 * peer let in (SO_PEERCRED). Partition 0 until vhu_server_bind_peer says otherwise. */
	uint32_t partition;
	uid_t peer_uid;
	/* Removed at run time (vhu_server_unexport): no longer listening, freed with its device
	 * once the event loop's batch is over and its clients are gone. */
	bool retired;
	void (*release)(struct vhu_device *dev, void *ctx);
	void *release_ctx;
};

struct vhu_client {
	struct vhu_watch watch;
	int fd;
	unsigned id;
	struct vhu_export *exp;
	struct vhu_client *next;
	uint64_t features;
	uint64_t proto;
	bool features_set;
	void *priv; /* the device's per-client state (attach/detach) */
	struct guest_mem mem;
	struct inflight inflight; /* INFLIGHT_SHMFD region, if the front end uses one */
	struct dirty_log log;     /* SET_LOG_BASE: marked while the front end migrates */
	struct vhu_queue q[VHU_MAX_QUEUES];
	unsigned nqueues;
	/* receive state: one message at a time, never reading past its end */
	uint8_t rx[sizeof(struct vhu_hdr) + VHU_PAYLOAD_MAX];
	size_t have;
	int rx_fds[VHU_MAX_FDS];
	unsigned rx_nfds;
	bool dead;
};

struct vhu_server {
	int epfd;
	struct vhu_export *exports[VHU_EXPORTS_MAX];
	unsigned nexports;
	struct vhu_client *clients;
	struct vhu_mem_policy *policy;
	uint32_t uid_base;     /* engine uids are uid_base + partition */
	unsigned long refused; /* connections from a uid other than the export's partition's */
};

/* vhost_req.c */
/* Handles one parsed message; fds the handler keeps are set to -1 in m. Returns the
 * handler's result; *keep says whether the client may go on (a refusal the front end was
 * told of through REPLY_ACK) or must be dropped. */
int vhu_handle(struct vhu_client *c, struct vhu_msg *m, bool *keep);
void vhu_queue_stop(struct vhu_queue *q);
void vhu_queue_reset(struct vhu_queue *q);

/* vhost_inflight.c */
int vhu_get_inflight(struct vhu_client *c, struct vhu_msg *m);
int vhu_set_inflight(struct vhu_client *c, struct vhu_msg *m);
/* At a ring's start: tracks q in the client's region (if any) and queues the heads a dead
 * back end left in flight; resets last_avail accordingly. q->vq.used_idx must be set. */
int vhu_track_queue(struct vhu_client *c, struct vhu_queue *q);
void vhu_untrack_queue(struct vhu_queue *q);

/* vhost_user.c */
int vhu_send(struct vhu_client *c, const struct vhu_hdr *req, const void *payload, uint32_t size);
/* The same with one fd passed along (SCM_RIGHTS); fd stays ours. */
int vhu_send_fd(struct vhu_client *c, const struct vhu_hdr *req, const void *payload, uint32_t size,
                int fd);
int vhu_watch_fd(struct vhu_client *c, int fd, struct vhu_watch *w, bool on);
void vhu_serve_queue(struct vhu_queue *q);

#endif
