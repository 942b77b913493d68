/* SPDX-License-Identifier: MIT */
/*
 * The audit log: what was committed comes back after a restart, exactly and in order; what was
 * pending is handed back for rollback; torn and corrupt tails are cut with a warning; snapshots
 * shorten replay without changing its result; concurrent commits share flushes; and a writer
 * killed with SIGKILL at any moment loses nothing it acknowledged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "txn_codec.h"
#include "txn_log.h"

#define MAX_SEEN 4096
#define PARTS 16

/* What recovery handed back. */
struct seen {
	size_t n_committed, n_pending;
	uint64_t committed[MAX_SEEN], pending[MAX_SEEN];
	uint64_t request[MAX_SEEN]; /* request id of each committed payload */
	int snapshot;
	/* a toy resource model, so replay can be compared with the live state */
	struct model {
		uint64_t bytes[PARTS];
		uint64_t applied;
	} m;
};

static char *make_dir(void)
{
	char *d = strdup("/tmp/uvlog-test-XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void rm_dir(char *d)
{
	nftw(d, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(d);
}

/* An encoded grant of (i % PARTS + 1) pages to partition i % PARTS, request id i. */
static size_t make_txn(uint64_t i, enum uv_txn_type type, unsigned char *buf, size_t cap)
{
	struct uv_txn_extent e = {.pool_offset = (i % 97) << 20, .size = (i % PARTS + 1) * 4096};
	struct uv_txn t;
	ssize_t n;

	memset(&t, 0, sizeof(t));
	t.hdr.type = type;
	t.hdr.sender_id = 2;
	t.hdr.sender_role = UV_ROLE_COMMAND;
	t.hdr.request_id = i;
	t.u.memory.partition_id = (uint32_t)(i % PARTS);
	t.u.memory.n_extents = 1;
	t.u.memory.bytes = e.size;
	t.extents = &e;
	n = uv_txn_encode(&t, buf, cap, NULL);
	assert_true(n > 0);
	return (size_t)n;
}

static void model_apply(struct model *m, const void *payload, size_t len)
{
	struct uv_txn t;

	assert_int_equal(uv_txn_decode(payload, len, &t), UV_TXN_OK);
	if (t.hdr.type == UV_TXN_GRANT_MEMORY)
		m->bytes[t.u.memory.partition_id] += t.u.memory.bytes;
	else
		m->bytes[t.u.memory.partition_id] -= t.u.memory.bytes;
	m->applied++;
}

static int on_snapshot(void *ctx, const void *state, size_t len, uint64_t next_seq)
{
	struct seen *s = ctx;

	assert_int_equal(len, sizeof(s->m));
	memcpy(&s->m, state, len);
	s->snapshot = 1;
	return 0;
}

static int on_committed(void *ctx, const struct uv_log_entry *e)
{
	struct seen *s = ctx;
	struct uv_txn t;

	assert_true(s->n_committed < MAX_SEEN);
	assert_int_equal(uv_txn_decode(e->payload, e->length, &t), UV_TXN_OK);
	s->request[s->n_committed] = t.hdr.request_id;
	s->committed[s->n_committed++] = e->seq;
	model_apply(&s->m, e->payload, e->length);
	return 0;
}

static int on_pending(void *ctx, const struct uv_log_entry *e)
{
	struct seen *s = ctx;

	assert_true(s->n_pending < MAX_SEEN);
	s->pending[s->n_pending++] = e->seq;
	return 0;
}

static struct uv_log *open_seen(const char *dir, struct seen *s, struct uv_log_report *rep)
{
	struct uv_log_replay ops = {on_snapshot, on_committed, on_pending, s};
	struct uv_log *log = NULL;

	memset(s, 0, sizeof(*s));
	assert_int_equal(uv_log_open(dir, &ops, &log, rep), 0);
	return log;
}

static void recover_seen(const char *dir, struct seen *s, struct uv_log_report *rep)
{
	assert_int_equal(uv_log_close(open_seen(dir, s, rep)), 0);
}

static uint64_t commit_one(struct uv_log *log, uint64_t i)
{
	unsigned char buf[256];
	size_t n = make_txn(i, UV_TXN_GRANT_MEMORY, buf, sizeof(buf));
	uint64_t seq;

	assert_int_equal(uv_log_begin(log, 2, UV_ROLE_COMMAND, buf, (uint32_t)n, &seq), 0);
	assert_int_equal(uv_log_commit(log, seq), 0);
	return seq;
}

static char *seg_path(const char *dir, uint64_t seg)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/seg-%016llx.log", dir, (unsigned long long)seg) > 0);
	return p;
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* Where the records of a fresh single-segment log end (the file has zeros preallocated beyond). */
static size_t log_end(struct uv_log *log)
{
	struct uv_log_stats st;

	uv_log_get_stats(log, &st);
	return sizeof(struct uv_log_seg_hdr) + st.bytes;
}

static void test_crc32c(void **state)
{
	static unsigned char data[4099];
	size_t i, len;

	assert_int_equal(uv_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(uv_crc32c_sw(0, "123456789", 9), 0xe3069283u);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 131 + 7);
	for (len = 0; len < 300; len++)
		for (i = 0; i < 9; i++)
			assert_int_equal(uv_crc32c_sw(0, data + i, len),
			                 uv_crc32c_hw(0, data + i, len));
	/* Chaining pieces gives the checksum of the whole. */
	assert_int_equal(uv_crc32c(uv_crc32c(0, data, 1000), data + 1000, 3099),
	                 uv_crc32c(0, data, 4099));
}

static void test_write_and_recover(void **state)
{
	char *dir = make_dir();
	struct uv_log_report rep;
	unsigned char buf[256];
	static struct seen s;
	struct uv_log *log = open_seen(dir, &s, &rep);
	uint64_t seq = 0, expect[100];
	size_t n_expect = 0, i;

	for (i = 0; i < 100; i++) {
		size_t n = make_txn(i, UV_TXN_GRANT_MEMORY, buf, sizeof(buf));
		assert_int_equal(uv_log_begin(log, 2, UV_ROLE_COMMAND, buf, (uint32_t)n, &seq), 0);
		assert_int_equal(seq, i + 1);
		if (i % 7 == 3) {
			assert_int_equal(uv_log_abort(log, seq), 0);
			continue;
		}
		assert_int_equal(uv_log_commit(log, seq), 0);
		expect[n_expect++] = seq;
	}
	assert_int_equal(uv_log_commit(log, seq), -ENOENT); /* already ended */
	assert_int_equal(uv_log_commit(log, 9999), -ENOENT);
	assert_int_equal(uv_log_close(log), 0);

	recover_seen(dir, &s, &rep);
	assert_int_equal(rep.damage, UV_LOG_INTACT);
	assert_int_equal(rep.truncated_bytes, 0);
	assert_int_equal(rep.committed, n_expect);
	assert_int_equal(rep.aborted, 100 - n_expect);
	assert_int_equal(rep.next_seq, 101);
	assert_int_equal(s.n_committed, n_expect);
	assert_int_equal(s.n_pending, 0);
	for (i = 0; i < n_expect; i++) {
		assert_int_equal(s.committed[i], expect[i]);
		assert_int_equal(s.request[i], expect[i] - 1);
	}
	rm_dir(dir);
}

static void test_pending_rolled_back(void **state)
{
	char *dir = make_dir();
	static struct seen s;
	struct uv_log_report rep;
	unsigned char buf[256];
	uint64_t a, b, c, lsn;
	size_t n = make_txn(5, UV_TXN_REVOKE_MEMORY, buf, sizeof(buf));
	struct uv_log *log = open_seen(dir, &s, &rep);

	assert_int_equal(uv_log_begin(log, 4, UV_ROLE_BOOT, buf, (uint32_t)n, &a), 0);
	assert_int_equal(uv_log_begin(log, 5, UV_ROLE_COMMAND, buf, (uint32_t)n, &b), 0);
	assert_int_equal(uv_log_begin(log, 6, UV_ROLE_MONITOR, buf, (uint32_t)n, &c), 0);
	assert_int_equal(uv_log_checkpoint(log, "x", 1), -EBUSY);
	assert_int_equal(uv_log_end(log, b, UV_LOG_COMMIT, &lsn), 0);
	assert_int_equal(uv_log_sync(log, lsn), 0);
	/* The process dies here: a and c began but never ended. */
	assert_int_equal(uv_log_close(log), 0);

	recover_seen(dir, &s, &rep);
	assert_int_equal(rep.committed, 1);
	assert_int_equal(rep.pending, 2);
	assert_int_equal(s.n_pending, 2);
	assert_int_equal(s.pending[0], a);
	assert_int_equal(s.pending[1], c);
	/* Recovery recorded the rollback: the next restart sees nothing pending. */
	recover_seen(dir, &s, &rep);
	assert_int_equal(rep.pending, 0);
	assert_int_equal(rep.aborted, 2);
	assert_int_equal(rep.committed, 1);
	assert_int_equal(rep.next_seq, c + 1);
	rm_dir(dir);
}

static void write_prefix(const char *dir, const unsigned char *img, size_t len)
{
	char *p = seg_path(dir, 0);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, img, len), (ssize_t)len);
	close(fd);
	free(p);
}

static unsigned char *read_all(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	off_t size = file_size(path);
	unsigned char *b = malloc((size_t)size);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, b, (size_t)size), size);
	close(fd);
	*len = (size_t)size;
	return b;
}

static void test_torn_last_record(void **state)
{
	char *dir = make_dir(), *seg = seg_path(dir, 0);
	static struct seen s;
	struct uv_log_report rep;
	struct uv_log *log = open_seen(dir, &s, &rep);
	size_t before, end, len, cut, begin_size;
	unsigned char *img;
	int k;

	for (k = 0; k < 5; k++)
		commit_one(log, (uint64_t)k);
	before = log_end(log);
	commit_one(log, 5);
	end = log_end(log);
	assert_int_equal(uv_log_close(log), 0);
	img = read_all(seg, &len);
	assert_true(len >= end);
	len = end;
	begin_size = len - before - sizeof(struct uv_log_rec); /* the last txn: BEGIN + COMMIT */

	for (cut = before; cut < len; cut++) {
		char *d = make_dir();

		write_prefix(d, img, cut);
		recover_seen(d, &s, &rep);
		assert_int_equal(s.n_committed, 5);
		assert_int_equal(rep.pending, cut - before >= begin_size ? 1 : 0);
		if (cut == before || cut == before + begin_size) {
			assert_int_equal(rep.damage, UV_LOG_INTACT);
		} else {
			assert_int_equal(rep.damage, UV_LOG_TORN);
			assert_int_equal(rep.damage_offset,
			                 cut < before + begin_size ? before : before + begin_size);
			assert_int_equal(rep.truncated_bytes, cut - rep.damage_offset);
		}
		/* The cut is permanent: the next restart is clean and sees the same history. */
		recover_seen(d, &s, &rep);
		assert_int_equal(rep.damage, UV_LOG_INTACT);
		assert_int_equal(s.n_committed, 5);
		rm_dir(d);
	}
	write_prefix(dir, img, len);
	recover_seen(dir, &s, &rep);
	assert_int_equal(s.n_committed, 6);
	free(img);
	free(seg);
	rm_dir(dir);
}

static void corrupt_and_recover(size_t txn, size_t delta, enum uv_log_damage want)
{
	char *dir = make_dir(), *seg = seg_path(dir, 0);
	static struct seen s;
	struct uv_log_report rep;
	struct uv_log *log = open_seen(dir, &s, &rep);
	size_t per_txn, off, len, end;
	unsigned char *img;
	int k;

	for (k = 0; k < 20; k++)
		commit_one(log, (uint64_t)k);
	end = log_end(log);
	assert_int_equal(uv_log_close(log), 0);
	img = read_all(seg, &len);
	len = end;
	per_txn = (len - sizeof(struct uv_log_seg_hdr)) / 20;
	off = sizeof(struct uv_log_seg_hdr) + txn * per_txn;
	img[off + delta] ^= 0x40;
	write_prefix(dir, img, len);

	recover_seen(dir, &s, &rep);
	assert_int_equal(rep.damage, want);
	assert_int_equal(rep.damage_offset, off);
	assert_int_equal(rep.truncated_bytes, len - off);
	assert_int_equal(s.n_committed, txn);
	assert_int_equal(file_size(seg), off);
	free(img);
	free(seg);
	rm_dir(dir);
}

static void test_corrupt_middle(void **state)
{
	corrupt_and_recover(9, sizeof(struct uv_log_rec) + 5, UV_LOG_BAD_CRC); /* payload byte */
	corrupt_and_recover(9, offsetof(struct uv_log_rec, seq), UV_LOG_BAD_CRC);
	corrupt_and_recover(12, 1, UV_LOG_GARBAGE); /* magic */
	corrupt_and_recover(0, offsetof(struct uv_log_rec, length) + 2, UV_LOG_GARBAGE);
}

struct writer {
	struct uv_log *log;
	uint32_t id;
	int n;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned char buf[256];
	uint64_t seq;
	int i;

	for (i = 0; i < w->n; i++) {
		size_t n = make_txn((uint64_t)w->id << 32 | (uint64_t)i, UV_TXN_GRANT_MEMORY, buf,
		                    sizeof(buf));
		if (uv_log_begin(w->log, w->id, UV_ROLE_COMMAND, buf, (uint32_t)n, &seq) ||
		    uv_log_commit(w->log, seq))
			return (void *)1;
	}
	return NULL;
}

static void test_group_commit(void **state)
{
	enum { THREADS = 8, EACH = 250 };
	char *dir = make_dir();
	static struct seen s;
	struct uv_log_report rep;
	struct uv_log_stats st;
	struct writer w[THREADS];
	pthread_t th[THREADS];
	uint64_t next[THREADS] = {0};
	struct uv_log *log = open_seen(dir, &s, &rep);
	size_t i;

	for (i = 0; i < THREADS; i++) {
		w[i] = (struct writer){log, (uint32_t)i, EACH};
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	uv_log_get_stats(log, &st);
	assert_int_equal(uv_log_close(log), 0);
	assert_int_equal(st.commits, THREADS * EACH);
	print_message("group commit: %llu commits, %llu fdatasyncs, %.1f commits per flush\n",
	              (unsigned long long)st.commits, (unsigned long long)st.syncs,
	              (double)st.commits / (double)st.syncs);
	assert_true(st.syncs < st.commits); /* more than one commit per flush on average */

	recover_seen(dir, &s, &rep);
	assert_int_equal(s.n_committed, THREADS * EACH);
	/* Each thread's transactions come back complete and in the order it committed them. */
	for (i = 0; i < s.n_committed; i++) {
		uint64_t id = s.request[i] >> 32, k = s.request[i] & 0xffffffffu;
		assert_true(id < THREADS);
		assert_int_equal(k, next[id]++);
	}
	rm_dir(dir);
}

/* The same random grants and revocations, applied live, logged, and replayed. */
static void run_workload(const char *dir, int checkpoints, struct model *live)
{
	static struct seen s;
	struct uv_log_report rep;
	unsigned char buf[256];
	struct uv_log *log = open_seen(dir, &s, &rep);
	uint64_t seq, rnd = 12345;
	int i;

	memset(live, 0, sizeof(*live));
	for (i = 0; i < 400; i++) {
		enum uv_txn_type type;
		size_t n;

		rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
		type = (rnd >> 33) % 3 == 0 && live->applied ? UV_TXN_REVOKE_MEMORY
		                                             : UV_TXN_GRANT_MEMORY;
		n = make_txn(rnd >> 40, type, buf, sizeof(buf));
		assert_int_equal(uv_log_begin(log, 2, UV_ROLE_COMMAND, buf, (uint32_t)n, &seq), 0);
		if ((rnd >> 20) % 11 == 0) {
			assert_int_equal(uv_log_abort(log, seq), 0);
			continue;
		}
		model_apply(live, buf, n);
		assert_int_equal(uv_log_commit(log, seq), 0);
		if (checkpoints && (i == 150 || i == 300))
			assert_int_equal(uv_log_checkpoint(log, live, sizeof(*live)), 0);
	}
	assert_int_equal(uv_log_close(log), 0);
}

static void test_snapshot_replay_equals_full_replay(void **state)
{
	char *full = make_dir(), *snap = make_dir(), *p;
	struct model live_full, live_snap;
	static struct seen a, b;
	struct uv_log_report ra, rb;

	run_workload(full, 0, &live_full);
	run_workload(snap, 1, &live_snap);
	assert_memory_equal(&live_full, &live_snap, sizeof(live_full));
	recover_seen(full, &a, &ra);
	recover_seen(snap, &b, &rb);
	assert_false(ra.snapshot_loaded);
	assert_true(rb.snapshot_loaded);
	assert_int_equal(rb.snapshot_segment, 2);
	assert_true(b.n_committed < a.n_committed / 2); /* replay was shorter */
	assert_memory_equal(&a.m, &live_full, sizeof(a.m));
	assert_memory_equal(&b.m, &live_full, sizeof(b.m));
	assert_int_equal(ra.next_seq, rb.next_seq);

	/* Damage the newest snapshot: recovery falls back to the one before and replays more. */
	assert_true(asprintf(&p, "%s/snap-%016x.snap", snap, 2) > 0);
	{
		size_t len;
		unsigned char *img = read_all(p, &len);
		int fd = open(p, O_WRONLY);

		img[len - 3] ^= 1;
		assert_int_equal(pwrite(fd, img, len, 0), (ssize_t)len);
		close(fd);
		free(img);
	}
	recover_seen(snap, &b, &rb);
	assert_int_equal(rb.snapshots_corrupt, 1);
	assert_true(rb.snapshot_loaded);
	assert_int_equal(rb.snapshot_segment, 1);
	assert_memory_equal(&b.m, &live_full, sizeof(b.m));
	assert_int_equal(access(p, F_OK), -1); /* set aside as .corrupt */
	free(p);
	rm_dir(full);
	rm_dir(snap);
}

static void test_garbage_files(void **state)
{
	static unsigned char junk[5000];
	static struct seen s;
	struct uv_log_report rep;
	size_t i, lens[] = {0, 7, 32, 33, 5000};
	uint64_t r = 99;

	for (i = 0; i < sizeof(junk); i++) {
		r = r * 6364136223846793005ull + 1;
		junk[i] = (unsigned char)(r >> 56);
	}
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		char *d = make_dir();

		write_prefix(d, junk, lens[i]);
		recover_seen(d, &s, &rep);
		assert_int_not_equal(rep.damage, UV_LOG_INTACT);
		assert_int_equal(s.n_committed, 0);
		recover_seen(d, &s, &rep); /* a fresh, valid log replaced it */
		assert_int_equal(rep.damage, UV_LOG_INTACT);
		rm_dir(d);
	}
}

static void test_read_segment_and_dump(void **state)
{
	char *dir = make_dir(), *seg = seg_path(dir, 0);
	static struct seen s;
	struct uv_log_report rep;
	struct uv_log_replay ops = {NULL, on_committed, on_pending, &s};
	struct uv_log *log = open_seen(dir, &s, &rep);
	char *text = NULL;
	size_t text_len = 0;
	FILE *out;
	int fd;

	commit_one(log, 1);
	commit_one(log, 2);
	assert_int_equal(uv_log_checkpoint(log, "state", 5), 0);
	commit_one(log, 3);
	assert_int_equal(uv_log_close(log), 0);

	memset(&s, 0, sizeof(s));
	fd = open(seg, O_RDONLY);
	assert_int_equal(uv_log_read_segment(fd, &ops, &rep), 0);
	close(fd);
	assert_int_equal(s.n_committed, 2);

	out = open_memstream(&text, &text_len);
	assert_int_equal(uv_log_dump(dir, out), 0);
	fclose(out);
	assert_non_null(
	    strstr(text, "snapshot before segment 1, next seq 3, 5 bytes of state: valid"));
	assert_non_null(strstr(text, "seq=1        begin  sender=2/command  req=1 grant-memory "
	                             "partition=1 bytes=8192 extents=1"));
	assert_non_null(strstr(text, "seq=3        commit"));
	assert_null(strstr(text, "!!"));
	free(text);
	free(seg);
	rm_dir(dir);
}

/* --- kill -9 at random moments --- */

struct crash_state {
	uint64_t count, last;
};

static int crash_snapshot(void *ctx, const void *state, size_t len, uint64_t next_seq)
{
	if (len != sizeof(struct crash_state))
		return -EINVAL;
	memcpy(ctx, state, len);
	return 0;
}

/* A committed transaction must be the next one: recovery yields a prefix with no holes. */
static int crash_committed(void *ctx, const struct uv_log_entry *e)
{
	struct crash_state *c = ctx;
	struct uv_txn t;

	if (uv_txn_decode(e->payload, e->length, &t) || t.hdr.request_id != e->seq ||
	    e->seq != c->last + 1)
		return -EBADMSG;
	c->count++;
	c->last = e->seq;
	return 0;
}

static int crash_open(const char *dir, struct crash_state *c, struct uv_log **log)
{
	struct uv_log_replay ops = {crash_snapshot, crash_committed, NULL, c};

	memset(c, 0, sizeof(*c));
	return uv_log_open(dir, &ops, log, NULL);
}

static void crash_child(const char *dir, int ack_fd)
{
	struct crash_state c;
	unsigned char buf[256];
	struct uv_log_stats st;
	struct uv_log *log;
	uint64_t seq;

	if (crash_open(dir, &c, &log))
		_exit(2);
	for (;;) {
		uv_log_get_stats(log, &st);
		size_t n = make_txn(st.next_seq, UV_TXN_GRANT_MEMORY, buf, sizeof(buf));
		if (uv_log_begin(log, 2, UV_ROLE_COMMAND, buf, (uint32_t)n, &seq) ||
		    uv_log_commit(log, seq))
			_exit(3);
		c.count++;
		c.last = seq;
		if (write(ack_fd, &seq, sizeof(seq)) != sizeof(seq))
			_exit(4);
		if (c.count % 16 == 0 && uv_log_checkpoint(log, &c, sizeof(c)))
			_exit(5);
	}
}

static void test_kill9_keeps_acknowledged(void **state)
{
	char *dir = make_dir();
	uint64_t max_acked = 0, seq;
	struct crash_state c;
	struct uv_log *log;
	unsigned seed = (unsigned)time(NULL);
	int iter, status, p[2];

	print_message("kill -9 seed %u\n", seed);
	srand(seed);
	for (iter = 0; iter < 50; iter++) {
		pid_t pid;

		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(dir, p[1]);
		}
		close(p[1]);
		usleep((useconds_t)(rand() % 30000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("child exited with %d before the kill", WEXITSTATUS(status));
		while (read(p[0], &seq, sizeof(seq)) == sizeof(seq)) {
			assert_true(seq > max_acked);
			max_acked = seq;
		}
		close(p[0]);

		assert_int_equal(crash_open(dir, &c, &log), 0);
		assert_int_equal(uv_log_close(log), 0);
		/* Every acknowledged commit is there; at most the one in flight beyond it. */
		assert_true(c.last >= max_acked);
		assert_true(c.last <= max_acked + 1);
		assert_int_equal(c.count, c.last);
		max_acked = c.last;
	}
	print_message("kill -9: %llu transactions survived 50 kills\n",
	              (unsigned long long)max_acked);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32c),
	    cmocka_unit_test(test_write_and_recover),
	    cmocka_unit_test(test_pending_rolled_back),
	    cmocka_unit_test(test_torn_last_record),
	    cmocka_unit_test(test_corrupt_middle),
	    cmocka_unit_test(test_group_commit),
	    cmocka_unit_test(test_snapshot_replay_equals_full_replay),
	    cmocka_unit_test(test_garbage_files),
	    cmocka_unit_test(test_read_segment_and_dump),
	    cmocka_unit_test(test_kill9_keeps_acknowledged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
