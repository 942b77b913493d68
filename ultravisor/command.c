/* SPDX-License-Identifier: MIT */
/*
 * Command channels (claims 4, 6): a memory channel per sender, created and formatted here and
 * bound to the sender's partition and role, so a record's claimed sender is never trusted. Every
 * wake-up drains a batch, applies it, makes it durable with one flush (group commit) and only
 * then answers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uvd.h"

static bool may_open(const struct uvd *u, uint32_t partition, uint8_t role)
{
	const struct uv_resdb_part *p;

	for (size_t i = 0; i < u->cfg.n_system; i++)
		if (u->system[i].partition == partition)
			return u->system[i].role == role;
	/* Otherwise only a guest partition's monitor, for that partition's own state. */
	p = uv_resdb_part(&u->db, partition);
	return p && p->status != UV_RESDB_FREE && role == UV_ROLE_MONITOR;
}

static void chan_release(struct uvd *u, struct uvd_chan *c)
{
	if (c->ch) {
		epoll_ctl(u->epfd, EPOLL_CTL_DEL, uv_chan_fd(c->ch), NULL);
		uv_chan_detach(c->ch);
	}
	if (c->mem)
		munmap(c->mem, c->size);
	for (int i = 0; i < 3; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	memset(c, 0, sizeof(*c));
	c->fds[0] = c->fds[1] = c->fds[2] = -1;
}

void uvd_chan_close_partition(struct uvd *u, uint32_t partition)
{
	for (int i = 0; i < UVD_CHANS_MAX; i++)
		if (u->chans[i].ch && u->chans[i].partition == partition)
			chan_release(u, &u->chans[i]);
}

void uvd_chan_close_conn(struct uvd *u, const struct uvd_conn *owner)
{
	for (int i = 0; i < UVD_CHANS_MAX; i++)
		if (u->chans[i].ch && u->chans[i].owner == owner)
			chan_release(u, &u->chans[i]);
}

static bool has_monitor(const struct uvd *u, uint32_t partition)
{
	for (int i = 0; i < UVD_CHANS_MAX; i++)
		if (u->chans[i].ch && u->chans[i].partition == partition &&
		    u->chans[i].role == UV_ROLE_MONITOR)
			return true;
	return false;
}

int uvd_chan_open(struct uvd *u, struct uvd_conn *owner, uint32_t partition, uint8_t role,
                  int fds_out[3], uint64_t *size, char *err, size_t errlen)
{
	struct uv_chan_config cfg = {.part_id = {0, partition}, .n_queues = 2};
	struct uv_chan_endpoint ep = {.side = UV_CHAN_SIDE_A, .part_id = 0};
	struct epoll_event ev = {.events = EPOLLIN};
	struct uvd_chan *c = NULL;
	size_t bytes;
	int r, i;

	if (partition == 0 || !may_open(u, partition, role)) {
		snprintf(err, errlen, "partition %u may not send transactions as role %u",
		         partition, role);
		return -EACCES;
	}
	/* One monitor per partition: it alone receives the partition's memory and channels. */
	if (role == UV_ROLE_MONITOR && has_monitor(u, partition)) {
		snprintf(err, errlen, "partition %u already has a monitor", partition);
		return -EBUSY;
	}
	for (i = 0; i < UVD_CHANS_MAX; i++)
		if (!u->chans[i].ch) {
			c = &u->chans[i];
			break;
		}
	if (!c) {
		snprintf(err, errlen, "too many command channels");
		return -EMFILE;
	}
	c->fds[0] = c->fds[1] = c->fds[2] = -1;
	for (int q = 0; q < 2; q++) {
		cfg.q[q].slot_size = UV_CMD_SLOT_SIZE;
		cfg.q[q].slot_count = UV_CMD_SLOTS;
		cfg.q[q].producer = q == 0 ? UV_CHAN_SIDE_B : UV_CHAN_SIDE_A;
	}
	bytes = (uv_chan_region_size(&cfg) + 4095) & ~(size_t)4095;
	c->fds[0] = memfd_create("uv-command", MFD_CLOEXEC);
	c->fds[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->fds[2] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->fds[0] < 0 || c->fds[1] < 0 || c->fds[2] < 0 ||
	    ftruncate(c->fds[0], (off_t)bytes) < 0) {
		r = -errno;
		goto fail;
	}
	c->mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, c->fds[0], 0);
	if (c->mem == MAP_FAILED) {
		c->mem = NULL;
		r = -errno;
		goto fail;
	}
	c->size = bytes;
	if ((r = uv_chan_format(c->mem, bytes, &cfg)))
		goto fail;
	ep.wait_fd = c->fds[1];
	ep.signal_fd = c->fds[2];
	if ((r = uv_chan_attach(&c->ch, c->mem, bytes, &ep, err, errlen)))
		goto fail;
	ev.data.ptr = c;
	if (epoll_ctl(u->epfd, EPOLL_CTL_ADD, uv_chan_fd(c->ch), &ev) < 0) {
		r = -errno;
		goto fail;
	}
	uv_chan_arm_recv(c->ch, 0);
	c->partition = partition;
	c->role = role;
	c->owner = owner;
	fds_out[0] = dup(c->fds[0]); /* the caller closes it once sent */
	fds_out[1] = c->fds[2];      /* the peer waits on the doorbell we ring */
	fds_out[2] = c->fds[1];      /* and rings ours */
	if (fds_out[0] < 0) {
		r = -errno;
		goto fail;
	}
	*size = bytes;
	return 0;
fail:
	if (!err[0])
		snprintf(err, errlen, "cannot create a command channel: %s", strerror(-r));
	chan_release(u, c);
	return r;
}

static void queue_reply(struct uvd *u, struct uvd_chan *c, const struct uv_txn_hdr *req,
                        enum uv_txn_reason reason, uint64_t seq, const uint64_t result[2])
{
	struct uvd_reply *r = &u->replies[u->n_replies++];

	r->chan = c;
	r->req = *req;
	r->reason = reason;
	r->seq = seq;
	r->result[0] = result ? result[0] : 0;
	r->result[1] = result ? result[1] : 0;
}

/* The group commit: one flush for everything every sender queued this turn, then the answers. */
void uvd_flush(struct uvd *u)
{
	unsigned char buf[256];
	struct uv_txn resp;
	int sync_err = 0;

	if (u->pending_lsn)
		sync_err = uv_log_sync(u->log, u->pending_lsn);
	u->pending_lsn = 0;
	for (unsigned i = 0; i < u->n_replies; i++) {
		struct uvd_reply *r = &u->replies[i];
		enum uv_txn_reason reason;
		struct iovec iov;
		ssize_t len;

		if (!r->chan || !r->chan->ch)
			continue;
		if (sync_err && r->reason == UV_TXN_OK) {
			/* Not durable: the log refuses further work and the daemon must restart,
			 * which rebuilds the database from what really is on disk. */
			r->reason = UV_TXN_IO_ERROR;
			u->exiting = true;
		}
		uv_txn_response_init(&resp, &r->req, r->reason,
		                     r->reason == UV_TXN_OK ? r->seq : 0);
		resp.u.response.result[0] = r->result[0];
		resp.u.response.result[1] = r->result[1];
		len = uv_txn_encode(&resp, buf, sizeof(buf), &reason);
		if (len < 0)
			continue;
		iov.iov_base = buf;
		iov.iov_len = (size_t)len;
		/* A sender that lets its answer queue fill loses answers; it is its own loss. */
		uv_chan_send(r->chan->ch, 1, &iov, 1);
	}
	u->n_replies = 0;
}

static void handle_record(struct uvd *u, struct uvd_chan *c, const struct uv_chan_buf *b)
{
	struct uv_txn t;
	enum uv_txn_reason reason;
	uint64_t seq = 0, lsn = 0, result[2] = {0, 0};

	reason = uv_txn_decode(b->data, b->len, &t);
	if (reason != UV_TXN_OK) {
		struct uv_txn_hdr raw = {0}, h = {0};
		/* Echo only the request id: nothing else of garbage is trusted. */
		memcpy(&raw, b->data, b->len < sizeof(raw) ? b->len : sizeof(raw));
		h.request_id = raw.request_id;
		u->refused++;
		queue_reply(u, c, &h, reason, 0, NULL);
		return;
	}
	if (t.hdr.sender_id != c->partition || t.hdr.sender_role != c->role ||
	    t.hdr.type == UV_TXN_RESPONSE) {
		u->refused++;
		queue_reply(u, c, &t.hdr, UV_TXN_NOT_PERMITTED, 0, NULL);
		return;
	}
	reason = uvd_execute(u, &t, &seq, &lsn, result);
	if (lsn > u->pending_lsn)
		u->pending_lsn = lsn;
	queue_reply(u, c, &t.hdr, reason, seq, result);
}

/* One turn for one channel: at most a batch, so a busy sender cannot starve the others. */
void uvd_chan_io(struct uvd *u, struct uvd_chan *c)
{
	struct uv_chan_buf bufs[UVD_BATCH];
	int n;

	uv_chan_ack(c->ch);
	c->ready = false;
	if (u->n_replies + UVD_BATCH > UVD_REPLIES_MAX)
		uvd_flush(u);
	for (int i = 0; i < UVD_BATCH; i++)
		bufs[i] = (struct uv_chan_buf){.data = u->rx[i], .cap = sizeof(u->rx[i])};
	n = uv_chan_recv(c->ch, 0, bufs, UVD_BATCH);
	if (n == -EAGAIN) {
		c->ready = uv_chan_arm_recv(c->ch, 0) == 1;
		return;
	}
	if (n < 0) {
		/* The peer closed, or wrote garbage into the shared ring: drop the channel. */
		for (unsigned i = 0; i < u->n_replies; i++)
			if (u->replies[i].chan == c)
				u->replies[i].chan = NULL;
		chan_release(u, c);
		return;
	}
	for (int i = 0; i < n; i++)
		handle_record(u, c, &bufs[i]);
	c->ready = true; /* look again next turn; an empty ring then arms the doorbell */
}

void uvd_chan_close_all(struct uvd *u)
{
	for (int i = 0; i < UVD_CHANS_MAX; i++)
		if (u->chans[i].ch)
			chan_release(u, &u->chans[i]);
}

bool uvd_chan_any_ready(struct uvd *u)
{
	for (int i = 0; i < UVD_CHANS_MAX; i++)
		if (u->chans[i].ch && u->chans[i].ready)
			return true;
	return false;
}

void uvd_chan_serve_ready(struct uvd *u)
{
	for (int i = 0; i < UVD_CHANS_MAX; i++)
		if (u->chans[i].ch && u->chans[i].ready)
			uvd_chan_io(u, &u->chans[i]);
}
