/* SPDX-License-Identifier: MIT */
/*
 * Sleeping on the doorbell. A side that finds nothing to do sets its *_waiting flag, issues a full
 * fence, and looks at the peer's index once more; only if that still shows nothing does it sleep.
 * The peer publishes its index, fences, and rings only if it sees the flag. Either the sleeper
 * sees the new index or the peer sees the flag: no lost wakeup, and no system call on the fast
 * path while the other side is awake.
 */
#include "channel_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ns() + (int64_t)timeout_ms * 1000000;
}

int uv_chan_fd(const struct uv_chan *ch) { return ch->wait_fd; }

void uv_chan_ack(struct uv_chan *ch)
{
	uint64_t v;
	struct pollfd p = {.fd = ch->wait_fd, .events = POLLIN};

	if (ch->wait_fd < 0)
		return;
	/* A blocking doorbell must not block us here: look first. */
	if (!ch->wait_blocking || poll(&p, 1, 0) == 1)
		(void)!read(ch->wait_fd, &v, sizeof(v));
}

void uv_chan_set_spin(struct uv_chan *ch, unsigned spin_us) { ch->spin_us = spin_us; }

/* 1 if the peer can no longer make progress for us (closed, failed), so a sleeper must not sleep.
 */
static int peer_done(struct uv_chan *ch)
{
	int s = uv_chan_peer_state(ch);

	return s < 0 || s == UV_CHAN_ST_CLOSED || s == UV_CHAN_ST_ERROR;
}

int uv_chan_arm_recv(struct uv_chan *ch, unsigned qi)
{
	struct uv_chan_q *q = uv_chan_queue(ch, qi, 0);

	if (!q)
		return -EINVAL;
	if (ch->broken)
		return ch->broken;
	atomic_store_explicit(&q->ctl->cons_waiting, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&q->ctl->tail, memory_order_relaxed) != q->head || peer_done(ch)) {
		atomic_store_explicit(&q->ctl->cons_waiting, 0, memory_order_relaxed);
		return 1;
	}
	return 0;
}

int uv_chan_arm_send(struct uv_chan *ch, unsigned qi, size_t len)
{
	struct uv_chan_q *q = uv_chan_queue(ch, qi, 1);
	uint32_t head;

	if (!q)
		return -EINVAL;
	if (ch->broken)
		return ch->broken;
	if (len > q->max_len)
		return -EMSGSIZE;
	atomic_store_explicit(&q->ctl->prod_waiting, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	/* Only a hint: uv_chan_send validates the head it acts on. */
	head = atomic_load_explicit(&q->ctl->head, memory_order_relaxed);
	if (q->slot_count - (q->tail - head) >= uv_chan_msg_slots(q, len) || peer_done(ch)) {
		atomic_store_explicit(&q->ctl->prod_waiting, 0, memory_order_relaxed);
		return 1;
	}
	return 0;
}

/* Polls the peer's index for up to spin_us; 1 if it moved. */
static int spin(struct uv_chan *ch, _Atomic uint32_t *idx, uint32_t seen)
{
	int64_t end;
	unsigned i;

	if (!ch->spin_us)
		return 0;
	end = now_ns() + (int64_t)ch->spin_us * 1000;
	do {
		for (i = 0; i < 64; i++) {
			if (atomic_load_explicit(idx, memory_order_relaxed) != seen)
				return 1;
			__builtin_ia32_pause();
		}
	} while (now_ns() < end);
	return 0;
}

/* Sleeps on our doorbell until it rings or the deadline passes. */
static int sleep_doorbell(struct uv_chan *ch, int64_t deadline)
{
	struct pollfd p = {.fd = ch->wait_fd, .events = POLLIN};
	int64_t left;
	uint64_t v;
	int ms, r;

	if (ch->wait_fd < 0)
		return -EINVAL;
	if (deadline < 0 && ch->wait_blocking) {
		/* One system call sleeps and acknowledges: a wakeup as cheap as a socket's. */
		ch->stats.sleeps++;
		r = (int)read(ch->wait_fd, &v, sizeof(v));
		return r < 0 && errno != EINTR ? -errno : 0;
	}
	left = deadline < 0 ? -1 : deadline - now_ns();
	if (deadline >= 0 && left <= 0)
		return -ETIMEDOUT;
	ms = left < 0 ? -1 : (int)((left + 999999) / 1000000);
	ch->stats.sleeps++;
	r = poll(&p, 1, ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return -ETIMEDOUT;
	uv_chan_ack(ch);
	return 0;
}

int uv_chan_recv_wait(struct uv_chan *ch, unsigned qi, struct uv_chan_buf *bufs, unsigned n,
                      int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	int r;

	for (;;) {
		r = uv_chan_recv(ch, qi, bufs, n);
		if (r != -EAGAIN)
			return r;
		if (spin(ch, &ch->q[qi].ctl->tail, ch->q[qi].head))
			continue;
		r = uv_chan_arm_recv(ch, qi);
		if (r < 0)
			return r;
		if (r == 1)
			continue;
		r = sleep_doorbell(ch, deadline);
		if (r < 0)
			return r;
	}
}

int uv_chan_send_wait(struct uv_chan *ch, unsigned qi, const struct iovec *msgs, unsigned n,
                      int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	unsigned done = 0;
	int r;

	while (done < n) {
		r = uv_chan_send(ch, qi, msgs + done, n - done);
		if (r > 0) {
			done += (unsigned)r;
			continue;
		}
		if (r != -EAGAIN)
			goto out;
		if (spin(ch, &ch->q[qi].ctl->head, ch->q[qi].head))
			continue;
		r = uv_chan_arm_send(ch, qi, msgs[done].iov_len);
		if (r < 0)
			goto out;
		if (r == 1)
			continue;
		r = sleep_doorbell(ch, deadline);
		if (r < 0)
			goto out;
	}
	return (int)done;
out:
	return done ? (int)done : r;
}
