/* SPDX-License-Identifier: MIT */
/* An exported disk's I/O limit in the event loop (blk_throttle.h). */
#include "blk_throttle.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))
#define BLK_OVERHEAD 17u /* the request header and the status byte: not data */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void kick_waiting(struct blk_throttle *t)
{
	for (unsigned i = 0; i < t->nwaiting; i++)
		if (t->waiting[i]->kick_fd >= 0)
			eventfd_write(t->waiting[i]->kick_fd, 1);
	t->nwaiting = 0;
}

static void timer_ready(struct vhu_watch *w)
{
	struct blk_throttle *t = container_of(w, struct blk_throttle, watch);
	uint64_t ticks;

	if (read(t->timer_fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return; /* re-armed since it fired */
	kick_waiting(t);
}

int blk_throttle_new(struct vhu_server *s, uint64_t iops, uint64_t bytes_per_sec,
                     struct blk_throttle **out)
{
	struct blk_throttle *t;
	int r;

	*out = NULL;
	if (!iops && !bytes_per_sec)
		return 0;
	if (!(t = calloc(1, sizeof(*t))))
		return -ENOMEM;
	throttle_init(&t->tb, iops, bytes_per_sec);
	t->watch.kind = VHU_W_OTHER;
	t->watch.ready = timer_ready;
	t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->timer_fd < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = vhu_server_watch(s, t->timer_fd, &t->watch)) < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	blk_throttle_free(t);
	return r;
}

void blk_throttle_free(struct blk_throttle *t)
{
	if (!t)
		return;
	if (t->timer_fd >= 0)
		close(t->timer_fd); /* and out of the epoll set: nobody else holds it */
	free(t);
}

int blk_throttle_set(struct vhu_server *s, struct blk_throttle **t, uint64_t iops,
                     uint64_t bytes_per_sec)
{
	struct itimerspec off = {{0, 0}, {0, 0}};
	struct blk_throttle *b = *t;

	if (!b)
		return blk_throttle_new(s, iops, bytes_per_sec, t);
	throttle_set(&b->tb, now_ns(), iops, bytes_per_sec);
	/* Held queues may go sooner (or must wait longer): each is served again at once, and
	 * holds itself anew against the new limits if it must. */
	timerfd_settime(b->timer_fd, 0, &off, NULL);
	kick_waiting(b);
	if (!throttle_limited(&b->tb)) {
		blk_throttle_free(b);
		*t = NULL;
	}
	return 0;
}

static bool add_waiter(struct blk_throttle *t, struct vhu_queue *q)
{
	for (unsigned i = 0; i < t->nwaiting; i++)
		if (t->waiting[i] == q)
			return true;
	if (t->nwaiting == BLK_THROTTLE_WAITERS)
		return false;
	t->waiting[t->nwaiting++] = q;
	return true;
}

bool blk_throttle_hold(struct blk_throttle *t, struct vhu_queue *q)
{
	struct itimerspec when = {{0, 0}, {0, 0}};
	uint64_t wait;

	if (!t || !(wait = throttle_wait(&t->tb, now_ns())))
		return false;
	/* A queue we could not note would never be woken: it goes on rather than hang. */
	if (!add_waiter(t, q)) {
		t->missed++;
		return false;
	}
	when.it_value.tv_sec = (time_t)(wait / 1000000000u);
	when.it_value.tv_nsec = (long)(wait % 1000000000u);
	/* The bucket is the disk's, so every waiting queue may go at the same moment. */
	if (timerfd_settime(t->timer_fd, 0, &when, NULL) < 0)
		return false; /* no wake-up to count on: serve it now */
	t->delayed++;
	return true;
}

void blk_throttle_charge(struct blk_throttle *t, const struct vq_chain *c)
{
	uint64_t bytes = 0;

	if (!t)
		return;
	for (uint32_t i = 0; i < c->n; i++)
		bytes += c->buf[i].len;
	throttle_charge(&t->tb, now_ns(), bytes > BLK_OVERHEAD ? bytes - BLK_OVERHEAD : 0);
}

void blk_throttle_forget(struct blk_throttle *t, const struct vhu_client *c)
{
	unsigned k = 0;

	if (!t)
		return;
	for (unsigned i = 0; i < t->nwaiting; i++)
		if (t->waiting[i]->client != c)
			t->waiting[k++] = t->waiting[i];
	t->nwaiting = k;
}
