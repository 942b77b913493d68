/* SPDX-License-Identifier: MIT */
/* virtio-blk completions that outlive the wake-up that submitted them: over a fake disk whose
 * reads and writes complete only when the test says so, serve returns with requests still in
 * flight (marked in the inflight region, not in the used ring), a batch of completions is
 * pushed with one call, each request is cleared in the inflight region only once pushed, a
 * FLUSH waits for the writes before it, drain leaves nothing in flight, and more requests
 * than the device has slots all complete. With a write limit (claims 19, 22) reads go free, a
 * held write goes back to the ring untouched, and a header changed under us fails. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* clang-format off: cmocka needs the four above first */
#include <cmocka.h>
/* clang-format on */
#include <stdlib.h>
#include <sys/timerfd.h>

#include "../../io/blk_throttle.c"
#include "../../io/guest_mem.c"
#include "../../io/throttle.c"
#include "../../io/vhost_blk.c"
#include "../../io/virtqueue.c"
#include "io_testmem.h"

#define NUM 128u
#define GPA 0x40000ull
#define UVA 0x7f0000040000ull
#define RING_DESC 0x0000u
#define RING_AVAIL 0x1000u
#define RING_USED 0x2000u
#define BUFS 0x4000u
#define SIZE 0x40000u
#define DISK_BYTES (1u << 20)

/* A disk in memory whose asynchronous ios wait until the test completes them. */
struct fake_disk {
	struct disk disk;
	uint8_t data[DISK_BYTES];
	struct disk_io *pending[SLOTS * 2]; /* submitted or queued, oldest first */
	unsigned npending, nsubmitted, submits, max_outstanding;
	struct disk_io *done[SLOTS * 2];
	unsigned ndone;
	const struct vhu_inflight_queue *track;
	unsigned flushes, flushed_with_outstanding;
};

static struct fake_disk *fd_of(struct disk *d) { return (struct fake_disk *)d; }

static int fd_transfer(struct disk *d, const struct iovec *iov, int n, uint64_t off, bool w)
{
	for (int i = 0; i < n; i++) {
		if (w)
			memcpy(fd_of(d)->data + off, iov[i].iov_base, iov[i].iov_len);
		else
			memcpy(iov[i].iov_base, fd_of(d)->data + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}
static int fd_readv(struct disk *d, const struct iovec *iov, int n, uint64_t off)
{
	return fd_transfer(d, iov, n, off, false);
}
static int fd_writev(struct disk *d, const struct iovec *iov, int n, uint64_t off)
{
	return fd_transfer(d, iov, n, off, true);
}
static int fd_queue(struct disk *d, struct disk_io *io)
{
	struct fake_disk *f = fd_of(d);

	f->pending[f->npending++] = io;
	if (f->npending + f->ndone > f->max_outstanding)
		f->max_outstanding = f->npending + f->ndone;
	return 0;
}
static void fd_submit(struct disk *d)
{
	if (fd_of(d)->nsubmitted < fd_of(d)->npending)
		fd_of(d)->submits++;
	fd_of(d)->nsubmitted = fd_of(d)->npending;
}

/* The disk finishes its k oldest submitted ios. */
static void fd_finish(struct fake_disk *f, unsigned k)
{
	assert_true(k <= f->nsubmitted);
	for (unsigned i = 0; i < k; i++) {
		struct disk_io *io = f->pending[i];
		io->result = fd_transfer(&f->disk, io->iov, io->niov, io->off, io->write);
		f->done[f->ndone++] = io;
	}
	memmove(f->pending, f->pending + k, (f->npending - k) * sizeof(*f->pending));
	f->npending -= k;
	f->nsubmitted -= k;
}

static unsigned fd_reap(struct disk *d, struct disk_io **done, unsigned max, bool wait)
{
	struct fake_disk *f = fd_of(d);
	unsigned n = 0;

	if (wait && f->ndone == 0 && f->nsubmitted > 0)
		fd_finish(f, 1);
	for (; n < max && n < f->ndone; n++)
		done[n] = f->done[n];
	memmove(f->done, f->done + n, (f->ndone - n) * sizeof(*f->done));
	f->ndone -= n;
	return n;
}
static int fd_flush(struct disk *d)
{
	fd_of(d)->flushes++;
	fd_of(d)->flushed_with_outstanding += fd_of(d)->npending + fd_of(d)->ndone;
	return 0;
}
static int fd_discard(struct disk *d, uint64_t off, uint64_t len)
{
	memset(fd_of(d)->data + off, 0, len);
	return 0;
}
static int fd_event_fd(const struct disk *d)
{
	(void)d;
	return -1;
}
static void fd_close(struct disk *d) { (void)d; }

static const struct disk_ops fake_ops = {
    .readv = fd_readv,
    .writev = fd_writev,
    .queue = fd_queue,
    .submit = fd_submit,
    .reap = fd_reap,
    .event_fd = fd_event_fd,
    .flush = fd_flush,
    .discard = fd_discard,
    .close = fd_close,
};

/* The server's: only an export with a limit (none here) watches a timer. */
int vhu_server_watch(struct vhu_server *s, int fd, struct vhu_watch *w)
{
	(void)s, (void)fd, (void)w;
	return -ENOSYS;
}

static unsigned notified; /* calls, from the server's vhu_queue_notify */
void vhu_queue_notify(struct vhu_queue *q)
{
	if (vq_should_notify(&q->vq))
		notified++;
}

struct fx {
	struct guest_mem m;
	uint8_t *mem;
	struct fake_disk disk;
	struct vhost_blk *b;
	struct vhu_queue q;
	struct vq_buf scratch[NUM];
	struct vhu_inflight_queue *track;
	uint16_t avail;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->mem = tm_add(&f->m, GPA, UVA, SIZE);
	f->disk.disk = (struct disk){.ops = &fake_ops, .size = DISK_BYTES};
	for (unsigned i = 0; i < DISK_BYTES; i++)
		f->disk.data[i] = (uint8_t)(i / 512);
	assert_int_equal(vhost_blk_new("blk", &f->disk.disk, &f->b), 0);
	f->q.kick_fd = f->q.call_fd = f->q.err_fd = -1;
	f->q.vq.scratch = f->scratch;
	assert_int_equal(
	    vq_set_rings(&f->q.vq, &f->m, NUM, UVA + RING_DESC, UVA + RING_AVAIL, UVA + RING_USED),
	    0);
	f->track = calloc(1, sizeof(*f->track) + NUM * sizeof(f->track->desc[0]));
	f->q.vq.track = f->track;
	f->q.started = f->q.enabled = true;
	notified = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vhost_blk_free(f->b);
	tm_free(&f->m);
	free(f->track);
	free(f);
	return 0;
}

/* Chain i (descriptors 3i..3i+2): header, 512 data bytes, status; published, not kicked. */
static void offer(struct fx *f, uint16_t i, uint32_t type, uint64_t sector)
{
	uint64_t hdr = BUFS + i * 0x400u;
	struct virtio_blk_req_hdr h = {.type = type, .sector = sector};
	uint16_t d = (uint16_t)(3 * i);

	memcpy(f->mem + hdr, &h, sizeof(h));
	f->mem[hdr + 0x3ff] = 0xee;
	f->q.vq.desc[d] = (struct vring_desc){GPA + hdr, 16, VRING_DESC_F_NEXT, d + 1};
	f->q.vq.desc[d + 1] = (struct vring_desc){
	    GPA + hdr + 0x100, 512,
	    VRING_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0), d + 2};
	f->q.vq.desc[d + 2] = (struct vring_desc){GPA + hdr + 0x3ff, 1, VRING_DESC_F_WRITE, 0};
	if (type == VIRTIO_BLK_T_FLUSH) /* no data: header and status only */
		f->q.vq.desc[d] = (struct vring_desc){GPA + hdr, 16, VRING_DESC_F_NEXT, d + 2};
	f->q.vq.avail->ring[f->avail++ % NUM] = d;
	f->q.vq.avail->idx = f->avail;
}

static unsigned serve(struct fx *f) { return f->b->dev.ops->serve(&f->b->dev, &f->q); }
static uint8_t status(struct fx *f, uint16_t i) { return f->mem[BUFS + i * 0x400u + 0x3ff]; }
static uint8_t *data(struct fx *f, uint16_t i) { return f->mem + BUFS + i * 0x400u + 0x100; }

static void test_completions_outlive_serve(void **state)
{
	struct fx *f = *state;

	for (uint16_t i = 0; i < 3; i++)
		offer(f, i, VIRTIO_BLK_T_IN, 10 + i);
	assert_int_equal(serve(f), 3);
	assert_int_equal(f->q.vq.used->idx, 0); /* nothing waited for */
	assert_int_equal(f->disk.submits, 1);   /* one submission for the three */
	assert_int_equal(f->disk.nsubmitted, 3);
	for (uint16_t i = 0; i < 3; i++) {
		assert_int_equal(f->track->desc[3 * i].inflight, 1);
		assert_int_equal(status(f, i), 0xee);
	}
	assert_int_equal(notified, 0);
	fd_finish(&f->disk, 2);
	/* done on the disk but not yet pushed: still in flight for a successor */
	assert_int_equal(f->track->desc[0].inflight, 1);
	f->b->dev.ops->complete(&f->b->dev);
	assert_int_equal(f->q.vq.used->idx, 2);
	assert_int_equal(notified, 1); /* one call for the batch */
	assert_int_equal(f->track->desc[0].inflight, 0);
	assert_int_equal(f->track->desc[3].inflight, 0);
	assert_int_equal(f->track->desc[6].inflight, 1);
	assert_int_equal(f->q.vq.used->ring[0].len, 513);
	assert_int_equal(status(f, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(data(f, 1)[0], 11); /* sector 11's bytes */
	fd_finish(&f->disk, 1);
	f->b->dev.ops->complete(&f->b->dev);
	assert_int_equal(f->q.vq.used->idx, 3);
	assert_int_equal(f->track->desc[6].inflight, 0);
	assert_int_equal(f->track->used_idx, 3);
	assert_int_equal(notified, 2);
}

static void test_flush_follows_the_writes_before_it(void **state)
{
	struct fx *f = *state;

	memset(data(f, 0), 0x5a, 512);
	memset(data(f, 1), 0xa5, 512);
	offer(f, 0, VIRTIO_BLK_T_OUT, 1);
	offer(f, 1, VIRTIO_BLK_T_OUT, 2);
	offer(f, 2, VIRTIO_BLK_T_FLUSH, 0);
	assert_int_equal(serve(f), 3);
	assert_int_equal(f->disk.flushes, 1);
	assert_int_equal(f->disk.flushed_with_outstanding, 0);
	assert_int_equal(f->q.vq.used->idx, 3);
	assert_int_equal(f->q.vq.used->ring[2].id, 6); /* the flush last */
	assert_int_equal(f->disk.data[512], 0x5a);
	assert_int_equal(f->disk.data[1024], 0xa5);
	assert_int_equal(notified, 1);
}

static void test_drain_leaves_nothing_in_flight(void **state)
{
	struct fx *f = *state;

	offer(f, 0, VIRTIO_BLK_T_IN, 3);
	offer(f, 1, VIRTIO_BLK_T_IN, 4);
	assert_int_equal(serve(f), 2);
	f->b->dev.ops->drain(&f->b->dev);
	assert_int_equal(f->q.vq.used->idx, 2);
	assert_int_equal(f->disk.npending + f->disk.ndone, 0);
	assert_int_equal(f->track->desc[0].inflight + f->track->desc[3].inflight, 0);
	assert_int_equal(notified, 1);
	f->b->dev.ops->drain(&f->b->dev); /* nothing left: no call */
	assert_int_equal(notified, 1);
}

static void test_more_requests_than_slots(void **state)
{
	struct fx *f = *state;
	const uint16_t n = 100; /* > SLOTS; chains 0..41 (128 descriptors), reused */
	unsigned done = 0;

	for (uint16_t i = 0; i < n; i++)
		offer(f, i % 42, VIRTIO_BLK_T_IN, i % 42);
	assert_int_equal(serve(f), n);
	assert_true(f->disk.max_outstanding <= SLOTS);
	while (f->disk.nsubmitted > 0) {
		fd_finish(&f->disk, f->disk.nsubmitted);
		f->b->dev.ops->complete(&f->b->dev);
	}
	done = f->q.vq.used->idx;
	assert_int_equal(done, n);
	assert_int_equal(f->b->requests, n);
}

/* The export limited to 10 writes a second (a rested disk takes 2 at once), its reads free; made
 * by hand, as the fake server has no epoll set to watch the timer in. */
static void limit_writes(struct fx *f)
{
	struct blk_throttle *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	assert_true(t->timer_fd >= 0);
	throttle_init(&t->tb[BLK_DIR_WRITE], 10, 0);
	f->b->throttle = t;
}

static void test_write_limit_leaves_reads_free(void **state)
{
	struct fx *f = *state;

	limit_writes(f);
	for (uint16_t i = 0; i < 20; i++)
		offer(f, i, VIRTIO_BLK_T_IN, i);
	assert_int_equal(serve(f), 20); /* reads are not the write bucket's */
	fd_finish(&f->disk, f->disk.nsubmitted);
	f->b->dev.ops->complete(&f->b->dev);
	for (uint16_t i = 20; i < 23; i++)
		offer(f, i, VIRTIO_BLK_T_OUT, i);
	assert_int_equal(serve(f), 2);
	/* The third write went back: not in flight, next to be popped, nothing of it done. */
	assert_int_equal(f->q.vq.last_avail, 22);
	assert_int_equal(f->track->desc[3 * 22].inflight, 0);
	assert_int_equal(status(f, 22), 0xee);
	assert_int_equal(f->b->throttle->nwaiting, 1);
	assert_int_equal(f->b->throttle->delayed, 1);
	assert_int_equal(serve(f), 0); /* still held */
}

/* A request charged as a read whose header now says write (the guest changed it after the
 * limit looked) fails rather than dodging the write limit. */
static void test_header_changed_under_the_limit_fails(void **state)
{
	struct fx *f = *state;
	struct vq_chain c;

	limit_writes(f);
	offer(f, 0, VIRTIO_BLK_T_OUT, 0);
	assert_int_equal(vq_pop(&f->q.vq, &c), 1);
	assert_int_equal(chain_dir(&c), BLK_DIR_WRITE);
	assert_int_equal(handle_chain(f->b, &f->q, &c, BLK_DIR_READ), 1);
	assert_int_equal(status(f, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(f->disk.nsubmitted, 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_completions_outlive_serve),      T(test_flush_follows_the_writes_before_it),
	    T(test_drain_leaves_nothing_in_flight), T(test_more_requests_than_slots),
	    T(test_write_limit_leaves_reads_free),  T(test_header_changed_under_the_limit_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
