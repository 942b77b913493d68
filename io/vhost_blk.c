/* SPDX-License-Identifier: MIT */
#include "vhost_blk.h"
#include "blk_throttle.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#define BIT(n) (1ull << (n))
#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))
#define IOV_CAP 1024 /* preadv's limit; more data segments than this get an I/O error */
#define DISCARD_SEG_MAX 32
#define DISCARD_SECTORS_MAX (1u << 22)

/* A request's view of its chain: the readable part after the header, the writable part
 * before the status byte. */
struct blk_req {
	struct virtio_blk_req_hdr hdr;
	struct iovec out[IOV_CAP];
	struct iovec in[IOV_CAP];
	int nout, nin;
	uint64_t out_len, in_len;
	uint8_t *status;
};

#define SLOTS 64 /* requests in flight per export, at most the disk ring's depth */
#define SLOT_IOV (VHOST_BLK_SEG_MAX + 2)
#define DEFERRED (-2)

/* One read or write handed to the disk: it completes on a later turn of the event loop. */
struct blk_slot {
	struct disk_io io;
	struct vhu_queue *q;
	uint16_t head;
	uint8_t *status;
	uint32_t written;
	struct iovec iov[SLOT_IOV];
};

/* Requests in flight on the disk, and the queues whose used rings changed since they were
 * last notified (one call per queue per batch of completions). */
struct blk_inflight {
	struct blk_slot slot[SLOTS];
	uint16_t free[SLOTS];
	unsigned nfree;
	struct vhu_queue *touched[SLOTS + 1];
	unsigned ntouched;
};

static struct vhost_blk *blk_of(const struct vhu_device *d) { return (struct vhost_blk *)d; }

static unsigned blk_num_queues(const struct vhu_device *d) { return blk_of(d)->nqueues; }

static void blk_config(const struct vhu_device *d, uint8_t *out, uint32_t len)
{
	const struct vhost_blk *b = blk_of(d);
	struct virtio_blk_cfg cfg = {
	    .capacity = b->disk->size / VIRTIO_BLK_SECTOR,
	    .seg_max = VHOST_BLK_SEG_MAX,
	    .blk_size = VIRTIO_BLK_SECTOR,
	    .num_queues = (uint16_t)b->nqueues,
	    .max_discard_sectors = DISCARD_SECTORS_MAX,
	    .max_discard_seg = DISCARD_SEG_MAX,
	    .discard_sector_alignment = 4096 / VIRTIO_BLK_SECTOR,
	};

	memcpy(out, &cfg, len < VIRTIO_BLK_CFG_BYTES ? len : VIRTIO_BLK_CFG_BYTES);
}

/* Copies len bytes at byte offset off of an iovec array into dst; false if it is shorter. */
static bool iov_read(const struct iovec *iov, int n, uint64_t off, void *dst, size_t len)
{
	uint8_t *d = dst;

	for (int i = 0; i < n && len > 0; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off < len ? iov[i].iov_len - off : len;
		memcpy(d, (uint8_t *)iov[i].iov_base + off, k);
		d += k;
		len -= k;
		off = 0;
	}
	return len == 0;
}

/* Splits a validated chain into header, data and status; false when the layout is unusable
 * (the status pointer is still set if a status byte can safely be written). */
static bool split_chain(const struct vq_chain *c, struct blk_req *r)
{
	struct iovec all[IOV_CAP + 2];
	uint32_t nw = c->n - c->nread;
	uint64_t skip = sizeof(r->hdr);

	r->status = NULL;
	if (nw == 0)
		return false;
	r->status = c->buf[c->n - 1].p + c->buf[c->n - 1].len - 1;
	if (c->n > IOV_CAP + 2 || c->nread == 0)
		return false;
	for (uint32_t i = 0; i < c->nread; i++)
		all[i] = (struct iovec){c->buf[i].p, c->buf[i].len};
	if (!iov_read(all, (int)c->nread, 0, &r->hdr, sizeof(r->hdr)))
		return false;
	r->nout = r->nin = 0;
	r->out_len = r->in_len = 0;
	for (uint32_t i = 0; i < c->nread; i++) {
		struct iovec v = all[i];
		uint64_t k = skip < v.iov_len ? skip : v.iov_len;
		skip -= k;
		if (v.iov_len == k)
			continue;
		r->out[r->nout++] = (struct iovec){(uint8_t *)v.iov_base + k, v.iov_len - k};
		r->out_len += v.iov_len - k;
	}
	for (uint32_t i = c->nread; i < c->n; i++) {
		size_t len = c->buf[i].len - (i == c->n - 1 ? 1 : 0);
		if (len == 0)
			continue;
		r->in[r->nin++] = (struct iovec){c->buf[i].p, len};
		r->in_len += len;
	}
	return r->nin <= IOV_CAP && r->nout <= IOV_CAP;
}

static bool in_disk(const struct disk *d, uint64_t sector, uint64_t bytes)
{
	uint64_t sectors = d->size / VIRTIO_BLK_SECTOR;

	return sector <= sectors && bytes <= (sectors - sector) * VIRTIO_BLK_SECTOR;
}

static int do_rw(struct disk *d, struct blk_req *r, bool write)
{
	uint64_t len = write ? r->out_len : r->in_len;

	if (len % VIRTIO_BLK_SECTOR || !in_disk(d, r->hdr.sector, len))
		return -ERANGE;
	if (write && d->read_only)
		return -EROFS;
	if (write)
		return d->ops->writev(d, r->out, r->nout, r->hdr.sector * VIRTIO_BLK_SECTOR);
	return d->ops->readv(d, r->in, r->nin, r->hdr.sector * VIRTIO_BLK_SECTOR);
}

static int do_discard(struct disk *d, struct blk_req *r)
{
	struct virtio_blk_discard seg;
	uint64_t nseg = r->out_len / sizeof(seg);

	if (r->out_len % sizeof(seg) || nseg == 0 || nseg > DISCARD_SEG_MAX)
		return -EINVAL;
	for (uint64_t i = 0; i < nseg; i++) {
		iov_read(r->out, r->nout, i * sizeof(seg), &seg, sizeof(seg));
		if (seg.flags & ~1u || seg.num_sectors > DISCARD_SECTORS_MAX ||
		    !in_disk(d, seg.sector, (uint64_t)seg.num_sectors * VIRTIO_BLK_SECTOR))
			return -EINVAL;
	}
	for (uint64_t i = 0; i < nseg; i++) {
		int e;
		iov_read(r->out, r->nout, i * sizeof(seg), &seg, sizeof(seg));
		/* Re-checked: the guest may have changed the segment since the first pass. */
		if (!in_disk(d, seg.sector, (uint64_t)seg.num_sectors * VIRTIO_BLK_SECTOR))
			return -EINVAL;
		e = d->ops->discard(d, seg.sector * VIRTIO_BLK_SECTOR,
		                    (uint64_t)seg.num_sectors * VIRTIO_BLK_SECTOR);
		if (e < 0)
			return e;
	}
	return 0;
}

/* Executes r; returns the status byte and sets *written to the data bytes written. */
static uint8_t execute(struct vhost_blk *b, struct blk_req *r, uint32_t *written)
{
	struct disk *d = b->disk;
	size_t k;
	int e;

	*written = 0;
	switch (r->hdr.type) {
	case VIRTIO_BLK_T_IN:
		e = do_rw(d, r, false);
		if (e == 0)
			*written = (uint32_t)r->in_len;
		break;
	case VIRTIO_BLK_T_OUT:
		e = do_rw(d, r, true);
		break;
	case VIRTIO_BLK_T_FLUSH:
		e = d->ops->flush(d);
		break;
	case VIRTIO_BLK_T_GET_ID:
		k = r->in_len < VIRTIO_BLK_ID_BYTES ? r->in_len : VIRTIO_BLK_ID_BYTES;
		for (int i = 0, done = 0; i < r->nin && (size_t)done < k; i++) {
			size_t m = r->in[i].iov_len < k - done ? r->in[i].iov_len : k - done;
			memcpy(r->in[i].iov_base, d->serial + done, m);
			done += (int)m;
		}
		*written = (uint32_t)k;
		e = 0;
		break;
	case VIRTIO_BLK_T_DISCARD:
		e = do_discard(d, r);
		break;
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
	if (e < 0)
		b->refused += (e == -ERANGE || e == -EINVAL);
	return e < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

static void touch(struct blk_inflight *f, struct vhu_queue *q)
{
	for (unsigned i = 0; i < f->ntouched; i++)
		if (f->touched[i] == q)
			return;
	if (f->ntouched == sizeof(f->touched) / sizeof(f->touched[0]))
		vhu_queue_notify(q); /* cannot happen (one queue per slot, one serving) */
	else
		f->touched[f->ntouched++] = q;
}

static void notify_touched(struct blk_inflight *f)
{
	for (unsigned i = 0; i < f->ntouched; i++)
		vhu_queue_notify(f->touched[i]);
	f->ntouched = 0;
}

/* Pushes completed reads and writes to their used rings (the inflight region clears each
 * only after its push); wait: block for at least one if any are in flight. */
static unsigned reap(struct vhost_blk *b, bool wait)
{
	struct blk_inflight *f = b->inflight;
	struct disk_io *done[SLOTS];
	unsigned n = b->disk->ops->reap(b->disk, done, SLOTS, wait && f->nfree < SLOTS);

	for (unsigned i = 0; i < n; i++) {
		struct blk_slot *sl = container_of(done[i], struct blk_slot, io);
		bool ok = sl->io.result == 0;
		*sl->status = ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
		vq_push(&sl->q->vq, sl->head, (ok ? sl->written : 0) + 1);
		touch(f, sl->q);
		f->free[f->nfree++] = (uint16_t)(sl - f->slot);
	}
	b->requests += n;
	return n;
}

/* Everything in flight completed and pushed (before a synchronous request, so a FLUSH
 * follows the writes before it, and before the control path changes anything); the calls
 * are left to the caller, so a kick that drains still makes one call. */
static void drain_all(struct vhost_blk *b)
{
	b->disk->ops->submit(b->disk);
	while (b->inflight->nfree < SLOTS && reap(b, true) > 0)
		;
}

static void blk_complete(struct vhu_device *d)
{
	struct vhost_blk *b = blk_of(d);

	reap(b, false);
	notify_touched(b->inflight);
}

static void blk_drain(struct vhu_device *d)
{
	drain_all(blk_of(d));
	notify_touched(blk_of(d)->inflight);
}

static int blk_event_fd(const struct vhu_device *d)
{
	const struct vhost_blk *b = (const struct vhost_blk *)d;

	return b->disk->ops->event_fd(b->disk);
}

/* Hands a valid read or write to the disk; false when r must be executed synchronously (any
 * other type, an error to report, too many segments, no asynchronous disk). */
static bool queue_rw(struct vhost_blk *b, struct vhu_queue *q, struct blk_req *r, uint16_t head)
{
	struct blk_inflight *f = b->inflight;
	bool write = r->hdr.type == VIRTIO_BLK_T_OUT;
	const struct iovec *iov = write ? r->out : r->in;
	int niov = write ? r->nout : r->nin;
	uint64_t len = write ? r->out_len : r->in_len;
	struct blk_slot *sl;

	if (r->hdr.type != VIRTIO_BLK_T_IN && !write)
		return false;
	if (niov > SLOT_IOV || len % VIRTIO_BLK_SECTOR || !in_disk(b->disk, r->hdr.sector, len) ||
	    (write && b->disk->read_only))
		return false;
	if (f->nfree == 0) { /* every slot busy: make room by completing some */
		b->disk->ops->submit(b->disk);
		while (f->nfree == 0 && reap(b, true) > 0)
			;
		if (f->nfree == 0)
			return false;
	}
	sl = &f->slot[f->free[f->nfree - 1]];
	memcpy(sl->iov, iov, sizeof(*iov) * (size_t)niov);
	sl->io = (struct disk_io){
	    .write = write, .iov = sl->iov, .niov = niov, .off = r->hdr.sector * VIRTIO_BLK_SECTOR};
	if (b->disk->ops->queue(b->disk, &sl->io) < 0)
		return false;
	f->nfree--;
	if (f->nfree < SLOTS - 1)
		b->batched++; /* another request is in flight beside this one */
	sl->q = q;
	sl->head = head;
	sl->status = r->status;
	sl->written = write ? 0 : (uint32_t)len;
	return true;
}

/* The direction a request type is held to by a disk's limits (blk_throttle.h). */
static enum blk_dir type_dir(uint32_t type)
{
	if (type == VIRTIO_BLK_T_IN)
		return BLK_DIR_READ;
	if (type == VIRTIO_BLK_T_OUT || type == VIRTIO_BLK_T_DISCARD)
		return BLK_DIR_WRITE;
	return BLK_DIR_NONE;
}

/* Handles one chain, charged to direction dir; returns the used length, DEFERRED when it joined
 * the batch, or -1 when the head cannot be returned. */
static int64_t handle_chain(struct vhost_blk *b, struct vhu_queue *q, const struct vq_chain *c,
                            enum blk_dir dir)
{
	struct blk_req *r = b->req;
	uint32_t written;

	if (c->fault != VQ_OK) {
		b->refused++;
		fprintf(
		    stderr, "ultra-io: %s: queue %u: chain %u refused (fault %d, %llu so far)\n",
		    b->dev.name, q->index, c->head, (int)c->fault, (unsigned long long)b->refused);
		if (c->head >= q->vq.num)
			return -1; /* no such descriptor: nothing to return */
		if (!c->tail || c->tail_len == 0)
			return 0;
		c->tail[c->tail_len - 1] = VIRTIO_BLK_S_IOERR;
		return 1;
	}
	/* The header is in guest memory: one changed since it was read for the limit (a write
	 * posing as a read) would dodge its direction's limit, so it fails instead. */
	if (!split_chain(c, r) || (b->throttle && type_dir(r->hdr.type) != dir)) {
		b->refused++;
		if (!r->status)
			return 0;
		*r->status = VIRTIO_BLK_S_IOERR;
		return 1;
	}
	if (queue_rw(b, q, r, c->head))
		return DEFERRED;
	drain_all(b); /* what was popped before completes before this executes */
	*r->status = execute(b, r, &written);
	return (int64_t)written + 1;
}

/* Which direction's limit a chain is held to: its header's type, read from the device-readable
 * buffers however the guest split them. A chain too broken to say is in none (the total only). */
static enum blk_dir chain_dir(const struct vq_chain *c)
{
	uint8_t type[4];
	uint32_t got = 0, t;

	for (uint32_t i = 0; c->fault == VQ_OK && i < c->nread && got < sizeof(type); i++) {
		uint32_t k =
		    c->buf[i].len < sizeof(type) - got ? c->buf[i].len : sizeof(type) - got;

		memcpy(type + got, c->buf[i].p, k);
		got += k;
	}
	if (got < sizeof(type))
		return BLK_DIR_NONE;
	memcpy(&t, type, sizeof(t));
	return type_dir(t);
}

static unsigned blk_serve(struct vhu_device *d, struct vhu_queue *q)
{
	struct vhost_blk *b = blk_of(d);
	struct vq_chain c;
	enum blk_dir dir;
	unsigned served = 0;

	/* At most one ring's worth per wake-up, so one busy guest cannot starve the others. */
	while (served < q->vq.num) {
		int r = vq_pop(&q->vq, &c);
		if (r <= 0)
			break;
		/* Which limits apply is only known from the request itself: one that must wait
		 * goes back to the ring, and the rest of the ring waits behind it (in order). */
		dir = b->throttle ? chain_dir(&c) : BLK_DIR_NONE;
		if (blk_throttle_hold(b->throttle, q, dir)) {
			vq_unpop(&q->vq, &c);
			break;
		}
		blk_throttle_charge(b->throttle, &c, dir);
		int64_t len = handle_chain(b, q, &c, dir);
		if (len >= 0) {
			vq_push(&q->vq, c.head, (uint32_t)len);
			touch(b->inflight, q);
			b->requests++;
		}
		served++;
	}
	/* One system call for everything popped; reads the page cache can serve complete in
	 * it, so they are pushed now rather than on the next turn. The rest complete later. */
	b->disk->ops->submit(b->disk);
	reap(b, false);
	notify_touched(b->inflight);
	if (served == q->vq.num && q->kick_fd >= 0)
		eventfd_write(q->kick_fd, 1); /* come back after the others had their turn */
	return served;
}

static void blk_detach(struct vhu_device *d, struct vhu_client *c)
{
	blk_throttle_forget(blk_of(d)->throttle, c);
}

static const struct vhu_device_ops blk_ops = {
    .kind = "vhost-user-blk",
    .features = BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH) |
                BIT(VIRTIO_BLK_F_MQ) | BIT(VIRTIO_BLK_F_DISCARD),
    .num_queues = blk_num_queues,
    .config = blk_config,
    .serve = blk_serve,
    .detach = blk_detach,
    .event_fd = blk_event_fd,
    .complete = blk_complete,
    .drain = blk_drain,
};

int vhost_blk_new(const char *name, struct disk *disk, struct vhost_blk **out)
{
	struct vhost_blk *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->req = malloc(sizeof(*b->req));
	b->inflight = calloc(1, sizeof(*b->inflight));
	if (!b->req || !b->inflight) {
		free(b->req);
		free(b->inflight);
		free(b);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < SLOTS; i++)
		b->inflight->free[b->inflight->nfree++] = (uint16_t)(SLOTS - 1 - i);
	b->dev.ops = &blk_ops;
	b->dev.name = name;
	/* The guest is told, so it mounts read-only instead of meeting I/O errors on writes
	 * (which are still refused: the bit is advice a hostile guest may ignore). */
	b->dev.features = disk->read_only ? BIT(VIRTIO_BLK_F_RO) : 0;
	b->disk = disk;
	b->nqueues = VHOST_BLK_QUEUES;
	*out = b;
	return 0;
}

void vhost_blk_free(struct vhost_blk *b)
{
	if (!b)
		return;
	fprintf(stderr, "ultra-io: %s: %llu requests, %llu run concurrently, %llu refused\n",
	        b->dev.name, (unsigned long long)b->requests, (unsigned long long)b->batched,
	        (unsigned long long)b->refused);
	if (b->throttle)
		fprintf(stderr,
		        "ultra-io: %s: held back %llu times by its limit (%llu let through "
		        "for want of room to note the queue)\n",
		        b->dev.name, (unsigned long long)b->throttle->delayed,
		        (unsigned long long)b->throttle->missed);
	blk_throttle_free(b->throttle);
	b->disk->ops->close(b->disk);
	free(b->req);
	free(b->inflight);
	free(b);
}

int vhost_blk_limit(struct vhost_blk *b, struct vhu_server *s, const struct uv_disk_limit *lim)
{
	return blk_throttle_set(s, &b->throttle, lim);
}
