/* SPDX-License-Identifier: MIT */
/* One handler per vhost-user request. Handlers validate everything against the client's own
 * state; a refusal leaves that state as it was. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vhost_priv.h"

#define BIT(n) (1ull << (n))
#define PROTO_OFFERED                                                                              \
	(BIT(VHU_PROTO_MQ) | BIT(VHU_PROTO_REPLY_ACK) | BIT(VHU_PROTO_CONFIG) |                    \
	 BIT(VHU_PROTO_INFLIGHT) | BIT(VHU_PROTO_LOG_SHMFD))

static uint64_t features_offered(const struct vhu_client *c)
{
	/* EVENT_IDX is the ring's, so every device gets it: fewer kicks and interrupts.
	 * INDIRECT_DESC is a device's choice (ops->features): it pays for NICs, whose TSO packets
	 * take ~18 slots each without it, and costs disks, whose 3-descriptor requests fit the
	 * ring anyway and whose guest then allocates a table per request (docs/performance.md). */
	/* LOG_ALL: every write to guest memory goes through vq_push, which logs it while the
	 * front end migrates (dirty_log.h); without it QEMU refuses to migrate the guest. */
	return c->exp->dev->ops->features | c->exp->dev->features | BIT(VIRTIO_F_VERSION_1) |
	       BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VHU_F_PROTOCOL_FEATURES) | BIT(VHOST_F_LOG_ALL);
}

static struct vhu_queue *queue_of(struct vhu_client *c, uint32_t index)
{
	return index < c->nqueues ? &c->q[index] : NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vhu_queue_stop(struct vhu_queue *q)
{
	if (q->kick_fd >= 0)
		vhu_watch_fd(q->client, q->kick_fd, &q->watch, false);
	close_fd(&q->kick_fd);
	q->started = false;
}

void vhu_queue_reset(struct vhu_queue *q)
{
	struct vq_buf *scratch = q->vq.scratch;

	vhu_queue_stop(q);
	close_fd(&q->call_fd);
	close_fd(&q->err_fd);
	vhu_untrack_queue(q);
	free(scratch);
	q->num = 0;
	q->addr_set = false;
	q->enabled = false;
	memset(&q->vq, 0, sizeof(q->vq));
}

static int reply_u64(struct vhu_client *c, const struct vhu_msg *m, uint64_t v)
{
	return vhu_send(c, &m->hdr, &v, sizeof(v));
}

static int set_features(struct vhu_client *c, struct vhu_msg *m)
{
	if (m->p.u64 & ~features_offered(c))
		return -EINVAL;
	c->features = m->p.u64;
	c->features_set = true;
	/* The front end turns logging on and off this way while the rings run. */
	c->log.on = (c->features & BIT(VHOST_F_LOG_ALL)) != 0;
	return 0;
}

static int set_protocol_features(struct vhu_client *c, struct vhu_msg *m)
{
	if (m->p.u64 & ~PROTO_OFFERED)
		return -EINVAL;
	c->proto = m->p.u64;
	return 0;
}

/* Ring pointers for q under memory table mem, into out (a copy of q->vq). */
static int rings_under(const struct vhu_queue *q, const struct guest_mem *mem, struct vq *out)
{
	*out = q->vq;
	return vq_set_rings(out, mem, q->num, q->addr.desc, q->addr.avail, q->addr.used);
}

/* Consistent in itself, then within what the client's partition was granted (if anyone says). */
static int table_allowed(struct vhu_client *c, struct vhu_msg *m)
{
	struct vhu_mem_policy *p = c->exp->server->policy;
	int r = gm_check_table(m->p.mem.regions, m->p.mem.nregions);

	if (r < 0 || !p)
		return r;
	return p->check(p, c->exp->dev, c->exp->path, c->id, m->p.mem.regions, m->fds,
	                m->p.mem.nregions);
}

static int set_mem_table(struct vhu_client *c, struct vhu_msg *m)
{
	struct guest_mem fresh;
	struct vq next[VHU_MAX_QUEUES];
	int r = table_allowed(c, m);

	if (r < 0)
		return r;
	r = gm_map(&fresh, m->p.mem.regions, m->fds, m->p.mem.nregions);
	if (r < 0)
		return r;
	/* Rings already placed must still be valid under the new table, or nothing changes. */
	for (unsigned i = 0; i < c->nqueues; i++) {
		if (!c->q[i].addr_set)
			continue;
		r = rings_under(&c->q[i], &fresh, &next[i]);
		if (r < 0) {
			gm_unmap(&fresh);
			return r;
		}
	}
	gm_unmap(&c->mem);
	c->mem = fresh;
	for (unsigned i = 0; i < c->nqueues; i++)
		if (c->q[i].addr_set) {
			next[i].mem = &c->mem;
			c->q[i].vq = next[i];
		}
	return 0;
}

static int set_vring_num(struct vhu_client *c, struct vhu_msg *m)
{
	struct vhu_queue *q = queue_of(c, m->p.state.index);
	uint32_t num = m->p.state.num;
	struct vq_buf *scratch;

	if (!q || q->started || num == 0 || num > VRING_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	scratch = calloc(num, sizeof(*scratch));
	if (!scratch)
		return -ENOMEM;
	free(q->vq.scratch);
	q->vq.scratch = scratch;
	q->num = num;
	q->addr_set = false; /* the old addresses were checked for the old size */
	q->vq.desc = NULL;
	q->vq.avail = NULL;
	q->vq.used = NULL;
	return 0;
}

/* The front end's used-ring logging for q (VHU_VRING_F_LOG, at guest address log). */
static void log_used_ring(struct vhu_client *c, struct vq *vq, const struct vhu_vring_addr *a)
{
	vq->log = &c->log;
	vq->log_used = a->flags & VHU_VRING_F_LOG;
	vq->log_used_gpa = a->log;
}

static int set_vring_addr(struct vhu_client *c, struct vhu_msg *m)
{
	struct vhu_queue *q = queue_of(c, m->p.addr.index);
	const struct vhu_vring_addr *a = &m->p.addr;
	struct vq next;
	int r;

	if (!q || q->num == 0 || (a->flags & ~VHU_VRING_F_LOG))
		return -EINVAL;
	if (q->started) {
		/* Migration starts or ends on a running ring: QEMU sends the same rings again with
		 * logging switched. Anything else waits for the ring to stop. */
		if (!q->addr_set || a->desc != q->addr.desc || a->avail != q->addr.avail ||
		    a->used != q->addr.used)
			return -EINVAL;
		q->addr.flags = a->flags;
		q->addr.log = a->log;
		log_used_ring(c, &q->vq, a);
		return 0;
	}
	q->addr = *a;
	r = rings_under(q, &c->mem, &next);
	if (r < 0) {
		q->addr_set = false;
		return r;
	}
	next.mem = &c->mem;
	log_used_ring(c, &next, a);
	q->vq = next;
	q->addr_set = true;
	return 0;
}

static int set_vring_base(struct vhu_client *c, struct vhu_msg *m)
{
	struct vhu_queue *q = queue_of(c, m->p.state.index);

	if (!q || q->started || m->p.state.num > UINT16_MAX)
		return -EINVAL;
	q->vq.last_avail = (uint16_t)m->p.state.num;
	q->vq.used_idx = (uint16_t)m->p.state.num;
	return 0;
}

static int get_vring_base(struct vhu_client *c, struct vhu_msg *m)
{
	struct vhu_queue *q = queue_of(c, m->p.state.index);
	struct vhu_vring_state st;

	if (!q)
		return -EINVAL;
	vhu_queue_stop(q);
	st.index = q->index;
	st.num = q->vq.last_avail;
	return vhu_send(c, &m->hdr, &st, sizeof(st));
}

static int set_vring_kick(struct vhu_client *c, struct vhu_msg *m)
{
	struct vhu_queue *q = queue_of(c, m->p.u64 & VHU_VRING_IDX_MASK);
	int r;

	if (!q || !q->addr_set || m->nfds != 1)
		return -EINVAL; /* polling mode (no fd) is not offered */
	vhu_queue_stop(q);
	/* Resume from what the driver last saw completed, not from a stale base; then after
	 * whatever a dead back end left in flight (redone first), if the front end kept track. */
	q->vq.used_idx = __atomic_load_n(&q->vq.used->idx, __ATOMIC_ACQUIRE);
	q->vq.last_avail = q->vq.used_idx;
	r = vhu_track_queue(c, q);
	if (r < 0)
		return r;
	vq_start_events(&q->vq, c->features & BIT(VIRTIO_RING_F_EVENT_IDX));
	vq_allow_indirect(&q->vq, c->features & BIT(VIRTIO_RING_F_INDIRECT_DESC));
	r = vhu_watch_fd(c, m->fds[0], &q->watch, true);
	if (r < 0)
		return r;
	q->kick_fd = m->fds[0];
	m->fds[0] = -1;
	/* Without protocol features a ring runs as soon as it is kicked (vhost-user.rst). */
	if (!(c->features & BIT(VHU_F_PROTOCOL_FEATURES)))
		q->enabled = true;
	q->vq.broken = false;
	q->started = true;
	vhu_serve_queue(q);
	return 0;
}

static int set_vring_fd(struct vhu_client *c, struct vhu_msg *m, bool call)
{
	struct vhu_queue *q = queue_of(c, m->p.u64 & VHU_VRING_IDX_MASK);
	int *slot;

	if (!q)
		return -EINVAL;
	slot = call ? &q->call_fd : &q->err_fd;
	close_fd(slot);
	if (m->nfds == 1) {
		*slot = m->fds[0];
		m->fds[0] = -1;
	}
	return 0;
}

static int set_vring_enable(struct vhu_client *c, struct vhu_msg *m)
{
	struct vhu_queue *q = queue_of(c, m->p.state.index);

	if (!q || m->p.state.num > 1)
		return -EINVAL;
	q->enabled = m->p.state.num == 1;
	if (q->enabled && q->started)
		vhu_serve_queue(q);
	return 0;
}

static int get_config(struct vhu_client *c, struct vhu_msg *m)
{
	uint8_t space[VHU_CONFIG_MAX] = {0};
	struct vhu_config *cfg = &m->p.cfg;

	if (!(c->proto & BIT(VHU_PROTO_CONFIG)))
		return -EINVAL;
	c->exp->dev->ops->config(c->exp->dev, space, sizeof(space));
	/* The parser bounded offset + size by VHU_CONFIG_MAX. */
	memcpy(cfg->payload, space + cfg->offset, cfg->size);
	return vhu_send(c, &m->hdr, cfg, offsetof(struct vhu_config, payload) + cfg->size);
}

/* SET_LOG_BASE (vhost-user.rst, LOG_SHMFD): the log to mark from now on; the front end waits
 * for our reply before it relies on it. */
static int set_log_base(struct vhu_client *c, struct vhu_msg *m)
{
	int r = dirty_log_map(&c->log, m->fds[0], m->p.log.mmap_size, m->p.log.mmap_offset);

	if (r < 0)
		return r;
	r = reply_u64(c, m, 0);
	return r < 0 ? r : 1;
}

static void reset_queues(struct vhu_client *c)
{
	for (unsigned i = 0; i < c->nqueues; i++)
		vhu_queue_reset(&c->q[i]);
}

/* Requests that answer with their own reply return 1 after sending it. */
static int dispatch(struct vhu_client *c, struct vhu_msg *m)
{
	int r;

	switch (m->hdr.request) {
	case VHU_GET_FEATURES:
		r = reply_u64(c, m, features_offered(c));
		return r < 0 ? r : 1;
	case VHU_GET_PROTOCOL_FEATURES:
		r = reply_u64(c, m, PROTO_OFFERED);
		return r < 0 ? r : 1;
	case VHU_GET_QUEUE_NUM:
		r = reply_u64(c, m, c->nqueues);
		return r < 0 ? r : 1;
	case VHU_GET_VRING_BASE:
		r = get_vring_base(c, m);
		return r < 0 ? r : 1;
	case VHU_GET_CONFIG:
		r = get_config(c, m);
		return r < 0 ? r : 1;
	case VHU_SET_FEATURES:
		return set_features(c, m);
	case VHU_SET_PROTOCOL_FEATURES:
		return set_protocol_features(c, m);
	case VHU_SET_OWNER:
		return 0;
	case VHU_RESET_OWNER:
	case VHU_RESET_DEVICE:
		reset_queues(c);
		return 0;
	case VHU_SET_MEM_TABLE:
		return set_mem_table(c, m);
	case VHU_SET_LOG_BASE:
		return set_log_base(c, m);
	case VHU_SET_VRING_NUM:
		return set_vring_num(c, m);
	case VHU_SET_VRING_ADDR:
		return set_vring_addr(c, m);
	case VHU_SET_VRING_BASE:
		return set_vring_base(c, m);
	case VHU_SET_VRING_KICK:
		return set_vring_kick(c, m);
	case VHU_SET_VRING_CALL:
		return set_vring_fd(c, m, true);
	case VHU_SET_VRING_ERR:
		return set_vring_fd(c, m, false);
	case VHU_SET_VRING_ENABLE:
		return set_vring_enable(c, m);
	case VHU_GET_INFLIGHT_FD:
		r = vhu_get_inflight(c, m);
		return r < 0 ? r : 1;
	case VHU_SET_INFLIGHT_FD:
		return vhu_set_inflight(c, m);
	default:
		return -EOPNOTSUPP; /* SET_CONFIG: no writable config offered */
	}
}

int vhu_handle(struct vhu_client *c, struct vhu_msg *m, bool *keep)
{
	int r = dispatch(c, m);
	bool ack = (m->hdr.flags & VHU_FLAG_NEED_REPLY) && (c->proto & BIT(VHU_PROTO_REPLY_ACK));

	*keep = r >= 0;
	if (r == 1)
		return 0;
	if (ack) {
		int s = reply_u64(c, m, r < 0 ? 1 : 0);
		/* With an acknowledgement the front end learns of the refusal and may go on. */
		*keep = s >= 0;
	}
	return r;
}
