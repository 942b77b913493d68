/* SPDX-License-Identifier: MIT */
/*
 * The audit log writer: buffering, group commit, checkpoints.
 *
 * Appending only copies a record into `fill` under the mutex. A thread that needs its records
 * on disk (uv_log_sync) becomes the leader if no flush is in flight: it swaps `fill` with the
 * empty `spare`, drops the mutex, writes the whole batch with one pwrite and one fdatasync, and
 * wakes everyone. Records appended meanwhile pile up in the new `fill` and go out with the next
 * leader's flush, so under load each fdatasync covers many commits. Positions are byte counts
 * since open (LSNs), so they stay comparable across segment switches.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "txn_log_int.h"

struct log_buf {
	unsigned char *p;
	size_t len, cap;
};

struct uv_log {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int dirfd, fd;
	uint64_t segment;
	uint64_t write_off; /* file offset of the next batch */
	uint64_t file_end;  /* end of the zero-filled space; only a flushing thread moves it */
	uint64_t next_seq;
	struct log_buf fill, spare;
	uint64_t appended, durable; /* LSNs */
	int leader;                 /* a flush is in flight */
	int err;                    /* sticky: the first write or flush failure */
	struct log_open_txn *open;  /* begun, not yet ended; small, unordered */
	size_t n_open, cap_open;
	struct uv_log_stats st;
};

static int buf_reserve(struct log_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 64 * 1024;
	unsigned char *p;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void append(struct uv_log *log, enum uv_log_kind kind, const struct log_open_txn *t,
                   const void *payload, uint32_t len)
{
	size_t n = log_rec_encode(log->fill.p + log->fill.len, kind, t->role, t->sender, t->seq,
	                          payload, len);

	log->fill.len += n;
	log->appended += n;
	log->st.bytes += n;
}

/* Zero-fills the segment beyond the batch in LOG_PREALLOC steps; the batch's own fdatasync then
 * makes the new size durable too. */
static int prealloc(int fd, uint64_t from, uint64_t *file_end, uint64_t need)
{
	static const unsigned char zeros[64 * 1024];
	uint64_t target, off = from > *file_end ? from : *file_end;
	int ret;

	if (need <= *file_end)
		return 0;
	target = (need + LOG_PREALLOC - 1) / LOG_PREALLOC * LOG_PREALLOC;
	for (; off < target; off += sizeof(zeros)) {
		size_t n = target - off < sizeof(zeros) ? (size_t)(target - off) : sizeof(zeros);
		if ((ret = log_pwrite_all(fd, zeros, n, off)))
			return ret;
	}
	*file_end = target;
	return 0;
}

static int write_batch(int fd, const struct log_buf *b, uint64_t off, uint64_t *file_end)
{
	int ret = log_pwrite_all(fd, b->p, b->len, off);

	if (!ret)
		ret = prealloc(fd, off + b->len, file_end, off + b->len);
	if (!ret && fdatasync(fd))
		ret = -errno;
	return ret;
}

static void batch_done(struct uv_log *log, int ret, uint64_t end)
{
	log->st.batches++;
	if (ret) {
		if (!log->err)
			log->err = ret;
		return;
	}
	log->st.syncs++;
	log->durable = end;
}

/* Called with the mutex held and no flush in flight; returns with the mutex held. */
static void lead_flush(struct uv_log *log)
{
	struct log_buf batch = log->fill;
	uint64_t off = log->write_off, end = log->appended, file_end = log->file_end;
	int fd = log->fd, ret;

	log->fill = log->spare;
	log->fill.len = 0;
	log->write_off += batch.len;
	log->leader = 1;
	pthread_mutex_unlock(&log->mu);
	ret = write_batch(fd, &batch, off, &file_end);
	pthread_mutex_lock(&log->mu);
	log->file_end = file_end;
	batch.len = 0;
	log->spare = batch;
	log->leader = 0;
	batch_done(log, ret, end);
	pthread_cond_broadcast(&log->cv);
}

int uv_log_sync(struct uv_log *log, uint64_t lsn)
{
	int ret;

	pthread_mutex_lock(&log->mu);
	while (!log->err && log->durable < lsn) {
		if (log->leader)
			pthread_cond_wait(&log->cv, &log->mu);
		else
			lead_flush(log);
	}
	ret = log->durable >= lsn ? 0 : log->err;
	pthread_mutex_unlock(&log->mu);
	return ret;
}

static int open_push(struct uv_log *log, const struct log_open_txn *t)
{
	struct log_open_txn *grown;
	size_t cap;

	if (log->n_open == log->cap_open) {
		cap = log->cap_open ? log->cap_open * 2 : 16;
		grown = realloc(log->open, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		log->open = grown;
		log->cap_open = cap;
	}
	log->open[log->n_open++] = *t;
	return 0;
}

static int open_find(const struct uv_log *log, uint64_t seq, size_t *idx)
{
	size_t i;

	/* Transactions end roughly in the order they began: look among the newest first. */
	for (i = log->n_open; i-- > 0;) {
		if (log->open[i].seq == seq) {
			*idx = i;
			return 0;
		}
	}
	return -ENOENT;
}

int uv_log_begin(struct uv_log *log, uint32_t sender, uint8_t sender_role, const void *payload,
                 uint32_t length, uint64_t *seq)
{
	struct log_open_txn t = {.sender = sender, .role = sender_role};
	int ret;

	if (length > UV_LOG_PAYLOAD_MAX)
		return -EMSGSIZE;
	if (length && !payload)
		return -EINVAL;
	pthread_mutex_lock(&log->mu);
	ret = log->err;
	if (!ret)
		ret = buf_reserve(&log->fill, log_rec_size(length));
	t.seq = log->next_seq;
	if (!ret)
		ret = open_push(log, &t);
	if (!ret) {
		append(log, UV_LOG_BEGIN, &t, payload, length);
		log->next_seq++;
		log->st.begins++;
		*seq = t.seq;
	}
	pthread_mutex_unlock(&log->mu);
	return ret;
}

int uv_log_end(struct uv_log *log, uint64_t seq, enum uv_log_kind kind, uint64_t *lsn)
{
	size_t i = 0;
	int ret;

	if (kind != UV_LOG_COMMIT && kind != UV_LOG_ABORT)
		return -EINVAL;
	pthread_mutex_lock(&log->mu);
	ret = log->err;
	if (!ret)
		ret = open_find(log, seq, &i);
	if (!ret)
		ret = buf_reserve(&log->fill, log_rec_size(0));
	if (!ret) {
		append(log, kind, &log->open[i], NULL, 0);
		log->open[i] = log->open[--log->n_open];
		if (kind == UV_LOG_COMMIT)
			log->st.commits++;
		else
			log->st.aborts++;
		if (lsn)
			*lsn = log->appended;
	}
	pthread_mutex_unlock(&log->mu);
	return ret;
}

int uv_log_commit(struct uv_log *log, uint64_t seq)
{
	uint64_t lsn;
	int ret = uv_log_end(log, seq, UV_LOG_COMMIT, &lsn);

	return ret ? ret : uv_log_sync(log, lsn);
}

int uv_log_abort(struct uv_log *log, uint64_t seq)
{
	return uv_log_end(log, seq, UV_LOG_ABORT, NULL);
}

void uv_log_get_stats(struct uv_log *log, struct uv_log_stats *st)
{
	pthread_mutex_lock(&log->mu);
	*st = log->st;
	st->segment = log->segment;
	st->next_seq = log->next_seq;
	pthread_mutex_unlock(&log->mu);
}

/* With the mutex held: waits out a flush in flight, then writes what is buffered itself. */
static int flush_all_locked(struct uv_log *log)
{
	int ret;

	while (log->leader)
		pthread_cond_wait(&log->cv, &log->mu);
	if (log->err || !log->fill.len)
		return log->err;
	ret = write_batch(log->fd, &log->fill, log->write_off, &log->file_end);
	if (!ret)
		log->write_off += log->fill.len;
	log->fill.len = 0;
	batch_done(log, ret, log->appended);
	pthread_cond_broadcast(&log->cv);
	return ret;
}

static int open_segment(int dirfd, uint64_t segment)
{
	char name[LOG_NAME_MAX];
	int fd;

	log_seg_name(name, segment);
	fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Keeps the newest two snapshots and every segment from the older of them on. */
static void remove_old_files(int dirfd)
{
	char name[LOG_NAME_MAX];
	struct log_listing l;
	uint64_t keep;
	size_t i;

	if (log_list(dirfd, &l))
		return;
	if (l.n_snaps >= 2) {
		keep = l.snaps[l.n_snaps - 2];
		for (i = 0; i < l.n_snaps && l.snaps[i] < keep; i++) {
			log_snap_name(name, l.snaps[i]);
			unlinkat(dirfd, name, 0);
		}
		for (i = 0; i < l.n_segs && l.segs[i] < keep; i++) {
			log_seg_name(name, l.segs[i]);
			unlinkat(dirfd, name, 0);
		}
	}
	log_listing_free(&l);
}

static int checkpoint_locked(struct uv_log *log, const void *state, size_t len)
{
	uint64_t seg = log->segment + 1;
	char name[LOG_NAME_MAX];
	int ret, fd;

	if (log->n_open)
		return -EBUSY;
	if ((ret = flush_all_locked(log)))
		return ret;
	/* The new segment first: if the snapshot never lands, recovery replays the old segment and
	 * then this empty one, which is still right. */
	if ((ret = log_seg_create(log->dirfd, seg, log->next_seq)))
		return ret;
	if ((fd = open_segment(log->dirfd, seg)) < 0 ||
	    (ret = log_snap_write(log->dirfd, seg, log->next_seq, state, len))) {
		ret = fd < 0 ? fd : ret;
		if (fd >= 0)
			close(fd);
		log_seg_name(name, seg);
		unlinkat(log->dirfd, name, 0);
		return ret;
	}
	close(log->fd);
	log->fd = fd;
	log->segment = seg;
	log->write_off = sizeof(struct uv_log_seg_hdr);
	log->file_end = log->write_off;
	remove_old_files(log->dirfd);
	return 0;
}

int uv_log_checkpoint(struct uv_log *log, const void *state, size_t len)
{
	int ret;

	if (len && !state)
		return -EINVAL;
	pthread_mutex_lock(&log->mu);
	ret = log->err ? log->err : checkpoint_locked(log, state, len);
	pthread_mutex_unlock(&log->mu);
	return ret;
}

static void log_free(struct uv_log *log)
{
	if (log->fd >= 0)
		close(log->fd);
	if (log->dirfd >= 0)
		close(log->dirfd);
	pthread_cond_destroy(&log->cv);
	pthread_mutex_destroy(&log->mu);
	free(log->fill.p);
	free(log->spare.p);
	free(log->open);
	free(log);
}

int uv_log_close(struct uv_log *log)
{
	int ret;

	if (!log)
		return 0;
	pthread_mutex_lock(&log->mu);
	ret = flush_all_locked(log);
	pthread_mutex_unlock(&log->mu);
	log_free(log);
	return ret;
}

static int open_dir(const char *dir)
{
	int fd;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Records the rollback of what recovery found pending, so the next recovery does not see it. */
static int abort_pending(struct uv_log *log, const struct log_recovered *rec)
{
	size_t i;
	int ret;

	if (!rec->n_pending)
		return 0;
	pthread_mutex_lock(&log->mu);
	ret = buf_reserve(&log->fill, rec->n_pending * log_rec_size(0));
	for (i = 0; !ret && i < rec->n_pending; i++) {
		append(log, UV_LOG_ABORT, &rec->pending[i], NULL, 0);
		log->st.aborts++;
	}
	if (!ret)
		ret = flush_all_locked(log);
	pthread_mutex_unlock(&log->mu);
	return ret;
}

int uv_log_open(const char *dir, const struct uv_log_replay *replay, struct uv_log **out,
                struct uv_log_report *report)
{
	struct log_recovered rec = {0};
	struct uv_log_report rep;
	struct uv_log *log;
	int ret;

	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	log->fd = -1;
	pthread_mutex_init(&log->mu, NULL);
	pthread_cond_init(&log->cv, NULL);
	log->dirfd = open_dir(dir);
	if (log->dirfd < 0) {
		ret = log->dirfd;
		goto fail;
	}
	if ((ret = log_recover(log->dirfd, replay, &rep, &rec)))
		goto fail;
	log->fd = open_segment(log->dirfd, rec.segment);
	if (log->fd < 0) {
		ret = log->fd;
		goto fail;
	}
	log->segment = rec.segment;
	log->write_off = rec.append_off;
	log->file_end = rec.file_end;
	log->next_seq = rec.next_seq;
	if ((ret = abort_pending(log, &rec)))
		goto fail;
	free(rec.pending);
	if (report)
		*report = rep;
	*out = log;
	return 0;
fail:
	free(rec.pending);
	log_free(log);
	return ret;
}
