/* SPDX-License-Identifier: MIT */
/* The vhost-user back-end server (claims 17-19, 63-65): one process, many listening sockets
 * (one per exported device), many clients each with its own memory table and queues. Devices
 * plug in through struct vhu_device_ops; the server owns the protocol, memory and rings. */
#ifndef IO_VHOST_USER_H
#define IO_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "virtqueue.h"

#define VHU_MAX_QUEUES 8
#define VHU_EXPORTS_MAX 64

struct vhu_client;
struct vhu_device;

/* What an epoll event belongs to; embedded in exports, clients and queues. */
enum vhu_watch_kind {
	VHU_W_STOP,
	VHU_W_LISTEN,
	VHU_W_CLIENT,
	VHU_W_KICK,
	VHU_W_DEVICE, /* an export's device has completions to reap */
	VHU_W_OTHER
};
struct vhu_watch {
	enum vhu_watch_kind kind;
	void (*ready)(struct vhu_watch *w); /* VHU_W_OTHER: called when the fd is readable */
};

struct vhu_queue {
	unsigned index;
	uint32_t num;               /* from SET_VRING_NUM, 0 until then */
	struct vhu_vring_addr addr; /* as the front end sent it */
	bool addr_set;
	bool enabled;
	bool started; /* kick fd received, not yet stopped by GET_VRING_BASE */
	int kick_fd, call_fd, err_fd;
	struct vq vq;
	struct vhu_client *client;
	struct vhu_watch watch;
	uint64_t kicks, wakeups; /* notifications the guest wrote, and the reads that found them */
};

struct vhu_device_ops {
	const char *kind;
	uint64_t features; /* device-specific virtio feature bits offered */
	unsigned (*num_queues)(const struct vhu_device *dev);
	/* Fills the device's config space (at most len bytes, zero beyond). */
	void (*config)(const struct vhu_device *dev, uint8_t *out, uint32_t len);
	/* Serves every available chain of q; returns how many were completed. */
	unsigned (*serve)(struct vhu_device *dev, struct vhu_queue *q);
	/* Optional: a client connected (refused with a negative errno: it is disconnected) and
	 * went away; for devices that keep per-client state such as a switch port. */
	int (*attach)(struct vhu_device *dev, struct vhu_client *c);
	void (*detach)(struct vhu_device *dev, struct vhu_client *c);
	/* Optional, for devices whose requests outlive serve (blk through io_uring): while the
	 * device is exported the server watches event_fd (-1: none) and calls complete when it
	 * is readable. drain completes everything in flight; the server calls it before any
	 * message of a client is handled and before a client is freed, so nothing is in flight
	 * while the control path changes memory, rings or clients. */
	int (*event_fd)(const struct vhu_device *dev);
	void (*complete)(struct vhu_device *dev);
	void (*drain)(struct vhu_device *dev);
};

/* A device exported on one socket; devices embed it as their first member. */
struct vhu_device {
	const struct vhu_device_ops *ops;
	const char *name;
	/* offered on top of ops->features: this device's own (a read-only disk) */
	uint64_t features;
};

struct vhu_server;

/* Decides whether a client may hand over a memory table (claims 20, 21), on the control path
 * only: called with the table's regions and fds after its own consistency checks and before
 * anything is mapped. 0 accepts; a negative errno refuses it like any bad table. */
struct vhu_mem_policy {
	int (*check)(struct vhu_mem_policy *p, const struct vhu_device *dev, const char *path,
	             unsigned client, const struct vhu_region *r, const int *fds, unsigned n);
};

int vhu_server_new(struct vhu_server **out);
void vhu_server_free(struct vhu_server *s);
/* Without a policy every consistent table is accepted (stand-alone use). */
void vhu_server_set_policy(struct vhu_server *s, struct vhu_mem_policy *p);
/* Who may connect (docs/io-partition.md): every export serves one partition, and a client is
 * let in only if its uid (SO_PEERCRED) is that partition's engine uid, uid_base + partition
 * (lib/engine_uid.h); anybody else is closed on and counted. An export serves partition 0 until
 * bound. The base defaults to UV_ENGINE_UID_BASE_DEFAULT. */
void vhu_server_set_uid_base(struct vhu_server *s, uint32_t base);
/* The export at path serves partition: -ENOENT if none, -ERANGE if it has no engine uid. */
int vhu_server_bind_peer(struct vhu_server *s, const char *path, uint32_t partition);
/* Connections refused so far for coming from the wrong uid. */
unsigned long vhu_server_refused(const struct vhu_server *s);
/* Listens on a fresh Unix socket at path (mode 0600) and serves dev there. */
int vhu_server_export(struct vhu_server *s, const char *path, struct vhu_device *dev);
/* Serves dev on fd, a socket someone else bound at path and listens on (taken over on success):
 * an export added after the sandbox, which forbids socket and bind (docs/io-partition.md). */
int vhu_server_adopt(struct vhu_server *s, int fd, const char *path, struct vhu_device *dev);
/* The same for partition's engine alone (-ERANGE, nothing taken, if it has no engine uid). */
int vhu_server_adopt_for(struct vhu_server *s, int fd, const char *path, struct vhu_device *dev,
                         uint32_t partition);
/* Stops serving path at once (its clients are dropped, its socket closed and unlinked) and calls
 * release(dev, ctx) once nothing refers to dev any more: after the event loop's current batch,
 * or in vhu_server_free. -ENOENT if nothing is exported there. */
int vhu_server_unexport(struct vhu_server *s, const char *path,
                        void (*release)(struct vhu_device *dev, void *ctx), void *ctx);
/* Calls w->ready (kind VHU_W_OTHER) from the event loop whenever fd is readable: other
 * sources of work, such as a tap uplink. */
int vhu_server_watch(struct vhu_server *s, int fd, struct vhu_watch *w);
/* Runs the event loop until stop_fd (a signalfd or eventfd) is readable; returns 0 or a
 * negative errno from epoll. */
int vhu_server_run(struct vhu_server *s, int stop_fd);

/* Notifies the driver after completions on q (honours VRING_AVAIL_F_NO_INTERRUPT). */
void vhu_queue_notify(struct vhu_queue *q);

#endif
