/* SPDX-License-Identifier: MIT */
/*
 * Memory channels (claims 4, 15, 16, 51, 61, 62): message rings in shared memory between exactly
 * two partitions. The ultravisor formats the region (uv_chan_format); each endpoint attaches as
 * side A or B, which validates a local copy of the header and fixes the ring geometry for the life
 * of the attachment. Nothing the peer writes afterwards can move the rings or resize them; every
 * index and message length read from shared memory is checked, and garbage turns the channel
 * broken (-EPROTO) instead of reaching outside the region.
 *
 * Doorbells are two eventfds handed out of band: each side waits on its own and signals the
 * peer's, and only when the peer has said it is going to sleep, so the fast path makes no system
 * call. Not thread-safe: one thread per endpoint (each queue is single-producer/single-consumer).
 */
#ifndef ULTRA_LIB_CHANNEL_H
#define ULTRA_LIB_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <ultra/channel.h>

struct uv_chan;

struct uv_chan_qconfig {
	uint32_t slot_size;  /* power of two, UV_CHAN_SLOT_MIN..UV_CHAN_SLOT_MAX */
	uint32_t slot_count; /* power of two, UV_CHAN_SLOTS_MIN..UV_CHAN_SLOTS_MAX */
	uint32_t producer;   /* enum uv_chan_side that sends on this queue */
};

struct uv_chan_config {
	uint32_t part_id[2]; /* endpoint partitions, by side; must differ */
	uint32_t n_queues;   /* 1..UV_CHAN_QUEUES_MAX */
	struct uv_chan_qconfig q[UV_CHAN_QUEUES_MAX];
};

#define UV_CHAN_ANY_PART 0xffffffffu /* uv_chan_endpoint.part_id: do not check */

struct uv_chan_endpoint {
	uint32_t side;    /* enum uv_chan_side */
	uint32_t part_id; /* must equal the header's part_id[side], or UV_CHAN_ANY_PART */
	int wait_fd;      /* our doorbell (eventfd) that the peer signals; may be -1: no blocking */
	int signal_fd;    /* the peer's doorbell; may be -1: the peer polls */
};

/* A receive buffer: data/cap given by the caller, len set to the message's length. */
struct uv_chan_buf {
	void *data;
	size_t cap;
	size_t len;
};

struct uv_chan_stats {
	uint64_t sent, received; /* messages */
	uint64_t signals;        /* doorbell writes made for the peer */
	uint64_t sleeps;         /* times a blocking call slept on the doorbell */
};

/* Region bytes needed for cfg (header, control blocks, rings, each aligned). 0 if cfg is bad. */
size_t uv_chan_region_size(const struct uv_chan_config *cfg);

/* Formats a channel into [base, base+size): the ultravisor's job, done before either side
 * attaches. Returns 0, or -EINVAL for a bad cfg or a region that is too small or misaligned. */
int uv_chan_format(void *base, size_t size, const struct uv_chan_config *cfg);

/* Attaches to a formatted region. Validates every header field against size; on failure returns
 * -EPROTO (garbage), -EPROTONOSUPPORT (version), -EOPNOTSUPP (features), -EACCES (not our
 * partition's channel), -EINVAL (bad arguments) or -ENOMEM with a sentence in err, and *out is
 * untouched. The channel does not own the memory or the fds. */
int uv_chan_attach(struct uv_chan **out, void *base, size_t size, const struct uv_chan_endpoint *ep,
                   char *err, size_t errlen);

/* Marks our side CLOSED (unless it is ERROR), rings the peer, frees ch. */
void uv_chan_detach(struct uv_chan *ch);

unsigned uv_chan_queue_count(const struct uv_chan *ch);
/* 1 if we produce on queue q, 0 if we consume, -EINVAL for no such queue. */
int uv_chan_is_sender(const struct uv_chan *ch, unsigned q);
/* Largest payload queue q carries (ring bytes minus one message header). */
size_t uv_chan_max_msg(const struct uv_chan *ch, unsigned q);
/* 0, or the error that broke the channel (-EPROTO). */
int uv_chan_error(const struct uv_chan *ch);
void uv_chan_get_stats(const struct uv_chan *ch, struct uv_chan_stats *st);

/*
 * Non-blocking I/O. uv_chan_send queues as many of msgs[0..n) as fit, in order, publishing the
 * index once; returns how many (>= 1), or -EAGAIN (the first does not fit now), -EMSGSIZE (the
 * first can never fit), -EPIPE (the peer closed or failed), -EPROTO, -EINVAL (queue is not ours to
 * send on). uv_chan_recv takes up to n messages; returns how many (>= 1), or -EAGAIN (empty),
 * -EPIPE (empty and the peer closed or failed), -EMSGSIZE (bufs[0] is smaller than the next
 * message, whose length is put in bufs[0].len and which stays queued), -EPROTO, -EINVAL.
 */
int uv_chan_send(struct uv_chan *ch, unsigned q, const struct iovec *msgs, unsigned n);
int uv_chan_recv(struct uv_chan *ch, unsigned q, struct uv_chan_buf *bufs, unsigned n);

/*
 * In-place I/O, for large messages: no copy into or out of a private buffer.
 *
 * uv_chan_send_reserve sets aside room for one message of len bytes and points *p at its payload
 * in the ring (one piece: a message that would run past the ring's end is moved to its start
 * behind a skip marker); the caller writes the payload there, then uv_chan_send_commit publishes
 * it. Errors as uv_chan_send (-EAGAIN: no room now, -EMSGSIZE: never fits); *p is untouched on
 * failure. A second reserve, or a uv_chan_send, cancels a reservation not committed; commit
 * without one is -EINVAL.
 *
 * uv_chan_recv_peek describes the next message in v without taking it; uv_chan_recv_release then
 * frees its slots. Errors as uv_chan_recv. A message the copying uv_chan_send wrapped around the
 * ring's end comes in two pieces (wrap != NULL); reserved messages never do. Peeking again shows
 * the same message; release without a peek (or after a uv_chan_recv) is -EINVAL.
 *
 * The view points into memory the peer can still write: its header and length were checked and
 * every pointer lies inside the message's slots, but the bytes may change while you read them.
 * Treat them as untrusted shared memory: copy what you must validate before acting on it, and
 * read each byte you act on once. The copying uv_chan_recv stays the default for that reason.
 */
struct uv_chan_view {
	const void *data; /* first (usually only) piece */
	size_t data_len;
	const void *wrap; /* rest of the message at the ring's start, or NULL */
	size_t wrap_len;
	size_t len; /* data_len + wrap_len */
};

int uv_chan_send_reserve(struct uv_chan *ch, unsigned q, size_t len, void **p);
int uv_chan_send_commit(struct uv_chan *ch, unsigned q);
int uv_chan_recv_peek(struct uv_chan *ch, unsigned q, struct uv_chan_view *v);
int uv_chan_recv_release(struct uv_chan *ch, unsigned q);

/*
 * For an event loop: poll uv_chan_fd for POLLIN; on wake, uv_chan_ack, then receive (or send)
 * until -EAGAIN, then arm before sleeping again. uv_chan_arm_recv returns 0 when armed (sleep is
 * safe: the peer will ring), 1 when there is already something to receive (or the peer closed:
 * uv_chan_recv will say), or a negative error. uv_chan_arm_send is the same for room for one
 * message of len bytes.
 */
int uv_chan_fd(const struct uv_chan *ch);
void uv_chan_ack(struct uv_chan *ch);
int uv_chan_arm_recv(struct uv_chan *ch, unsigned q);
int uv_chan_arm_send(struct uv_chan *ch, unsigned q, size_t len);

/*
 * Blocking I/O on the doorbell. timeout_ms < 0 waits forever. uv_chan_send_wait sends all n and
 * returns n, or the count sent before a timeout or error (if none: -ETIMEDOUT or the error).
 * uv_chan_recv_wait returns once at least one message arrived, like uv_chan_recv otherwise, or
 * -ETIMEDOUT. Before arming the doorbell a waiter polls the index for spin_us microseconds (0 by
 * default): trading CPU for latency is the caller's choice.
 */
void uv_chan_set_spin(struct uv_chan *ch, unsigned spin_us);
int uv_chan_send_wait(struct uv_chan *ch, unsigned q, const struct iovec *msgs, unsigned n,
                      int timeout_ms);
int uv_chan_recv_wait(struct uv_chan *ch, unsigned q, struct uv_chan_buf *bufs, unsigned n,
                      int timeout_ms);

#endif
