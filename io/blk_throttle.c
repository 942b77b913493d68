/* SPDX-License-Identifier: MIT */
/* An exported disk's I/O limit in the event loop (blk_throttle.h). */
#include "blk_throttle.h"

#include "disk_limit.h"

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

/* Each bucket's rates from the descriptor's limit: [NONE] the total, then each direction. */
static void rates(const struct uv_disk_limit *l, uint64_t iops[BLK_DIRS], uint64_t bps[BLK_DIRS])
{
	iops[BLK_DIR_NONE] = l->iops;
	iops[BLK_DIR_READ] = l->read_iops;
	iops[BLK_DIR_WRITE] = l->write_iops;
	bps[BLK_DIR_NONE] = l->bytes_per_sec;
	bps[BLK_DIR_READ] = l->read_bytes_per_sec;
	bps[BLK_DIR_WRITE] = l->write_bytes_per_sec;
}

static bool limited(const struct blk_throttle *t)
{
	for (unsigned i = 0; i < BLK_DIRS; i++)
		if (throttle_limited(&t->tb[i]))
			return true;
	return false;
}

int blk_throttle_new(struct vhu_server *s, const struct uv_disk_limit *lim,
                     struct blk_throttle **out)
{
	uint64_t iops[BLK_DIRS], bps[BLK_DIRS];
	struct blk_throttle *t;
	int r;

	*out = NULL;
	if (uv_disk_limit_none(lim))
		return 0;
	if (!(t = calloc(1, sizeof(*t))))
		return -ENOMEM;
	rates(lim, iops, bps);
	for (unsigned i = 0; i < BLK_DIRS; i++)
		throttle_init(&t->tb[i], iops[i], bps[i]);
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

int blk_throttle_set(struct vhu_server *s, struct blk_throttle **t, const struct uv_disk_limit *lim)
{
	struct itimerspec off = {{0, 0}, {0, 0}};
	uint64_t iops[BLK_DIRS], bps[BLK_DIRS], now = now_ns();
	struct blk_throttle *b = *t;

	if (!b)
		return blk_throttle_new(s, lim, t);
	rates(lim, iops, bps);
	for (unsigned i = 0; i < BLK_DIRS; i++)
		throttle_set(&b->tb[i], now, iops[i], bps[i]);
	/* Held queues may go sooner (or must wait longer): each is served again at once, and
	 * holds itself anew against the new limits if it must. */
	timerfd_settime(b->timer_fd, 0, &off, NULL);
	kick_waiting(b);
	if (!limited(b)) {
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

/* How long a request in direction dir must wait: the longest of the buckets that apply. */
static uint64_t wait_for(const struct blk_throttle *t, enum blk_dir dir, uint64_t now)
{
	uint64_t all = throttle_wait(&t->tb[BLK_DIR_NONE], now);
	uint64_t own = dir != BLK_DIR_NONE && dir < BLK_DIRS ? throttle_wait(&t->tb[dir], now) : 0;

	return all > own ? all : own;
}

bool blk_throttle_hold(struct blk_throttle *t, struct vhu_queue *q, enum blk_dir dir)
{
	struct itimerspec when = {{0, 0}, {0, 0}};
	uint64_t wait;

	if (!t || !(wait = wait_for(t, dir, now_ns())))
		return false;
	/* A queue we could not note would never be woken: it goes on rather than hang. */
	if (!add_waiter(t, q)) {
		t->missed++;
		return false;
	}
	when.it_value.tv_sec = (time_t)(wait / 1000000000u);
	when.it_value.tv_nsec = (long)(wait % 1000000000u);
	/* The buckets are the disk's: every waiting queue is looked at again when this one may
	 * go (one held by another bucket holds itself anew then, never fails). */
	if (timerfd_settime(t->timer_fd, 0, &when, NULL) < 0)
		return false; /* no wake-up to count on: serve it now */
	t->delayed++;
	return true;
}

void blk_throttle_charge(struct blk_throttle *t, const struct vq_chain *c, enum blk_dir dir)
{
	uint64_t bytes = 0, now;

	if (!t)
		return;
	for (uint32_t i = 0; i < c->n; i++)
		bytes += c->buf[i].len;
	bytes = bytes > BLK_OVERHEAD ? bytes - BLK_OVERHEAD : 0;
	now = now_ns();
	throttle_charge(&t->tb[BLK_DIR_NONE], now, bytes);
	if (dir != BLK_DIR_NONE && dir < BLK_DIRS)
		throttle_charge(&t->tb[dir], now, bytes);
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
