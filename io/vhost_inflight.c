/* SPDX-License-Identifier: MIT */
/* The inflight requests (INFLIGHT_SHMFD; claim 24): GET_INFLIGHT_FD and SET_INFLIGHT_FD, and at
 * each ring's start the hand-over from a dead back end: the requests it left in flight are
 * redone first, oldest first, and the ring resumes after them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vhost_priv.h"

static bool any_started(const struct vhu_client *c)
{
	for (unsigned i = 0; i < c->nqueues; i++)
		if (c->q[i].started)
			return true;
	return false;
}

/* A stopped ring may still point into the region being replaced: forget it before unmapping
 * (the next SET_VRING_KICK tracks the ring again, in the new region). */
static void replace_region(struct vhu_client *c, const struct inflight *next)
{
	for (unsigned i = 0; i < c->nqueues; i++)
		vhu_untrack_queue(&c->q[i]);
	inflight_unmap(&c->inflight);
	c->inflight = *next;
}

int vhu_get_inflight(struct vhu_client *c, struct vhu_msg *m)
{
	struct inflight fresh;
	struct vhu_inflight reply;
	int fd = -1, r;

	if (any_started(c))
		return -EBUSY; /* running rings point into the current region */
	r = inflight_create(&m->p.inflight, c->nqueues, &fresh, &fd, &reply);
	if (r < 0)
		return r;
	r = vhu_send_fd(c, &m->hdr, &reply, sizeof(reply), fd);
	close(fd); /* the mapping stays; the front end holds the other reference */
	if (r < 0) {
		inflight_unmap(&fresh);
		return r;
	}
	replace_region(c, &fresh);
	return 0;
}

int vhu_set_inflight(struct vhu_client *c, struct vhu_msg *m)
{
	struct inflight next;
	int r;

	if (any_started(c))
		return -EBUSY;
	r = inflight_map(&m->p.inflight, m->fds[0], c->nqueues, &next);
	if (r < 0)
		return r;
	replace_region(c, &next);
	fprintf(stderr, "ultra-io: %s: client %u: inflight region handed over (%u queues of %u)\n",
	        c->exp->dev->name, c->id, next.nqueues, next.entries);
	return 0;
}

void vhu_untrack_queue(struct vhu_queue *q)
{
	free(q->vq.resubmit);
	q->vq.resubmit = NULL;
	q->vq.nresubmit = q->vq.resubmitted = 0;
	q->vq.track = NULL;
}

int vhu_track_queue(struct vhu_client *c, struct vhu_queue *q)
{
	struct vhu_inflight_queue *iq = inflight_queue(&c->inflight, q->index);
	uint16_t *heads;
	uint64_t top;
	int n;

	vhu_untrack_queue(q);
	if (!iq)
		return 0; /* no region, or not for this queue: untracked */
	if (q->num > c->inflight.entries) {
		fprintf(stderr,
		        "ultra-io: %s: client %u: queue %u has %u entries, its inflight "
		        "region %u\n",
		        c->exp->dev->name, c->id, q->index, q->num, c->inflight.entries);
		return -EINVAL;
	}
	heads = malloc(sizeof(*heads) * q->num);
	if (!heads)
		return -ENOMEM;
	n = inflight_scan(iq, c->inflight.entries, q->num, q->vq.used_idx, heads, &top);
	if (n < 0) {
		fprintf(stderr,
		        "ultra-io: %s: client %u: queue %u: inflight region unusable (%s)\n",
		        c->exp->dev->name, c->id, q->index, strerror(-n));
		free(heads);
		return n;
	}
	q->vq.track = iq;
	q->vq.counter = top;
	q->vq.resubmit = heads;
	q->vq.nresubmit = (uint32_t)n;
	/* Everything before used_idx + n was taken by the dead back end: n of those are redone
	 * from the list, the rest completed. */
	q->vq.last_avail = (uint16_t)(q->vq.used_idx + n);
	if (n)
		fprintf(stderr,
		        "ultra-io: %s: client %u: queue %u: %d requests left in flight, "
		        "redone first\n",
		        c->exp->dev->name, c->id, q->index, n);
	return 0;
}
