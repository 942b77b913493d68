/* SPDX-License-Identifier: MIT */
/*
 * Audit log benchmark: durable transactions per second and commit latency with 1, 8 and 64
 * sender threads, and restart time from a 1M-transaction log; beside each, SQLite in WAL mode
 * with synchronous=FULL doing the same work with the same payload bytes.
 *
 *   bench_txn_log [seconds per run, default 3] [restart transactions, default 1000000]
 * The files go in a temporary directory under $UV_BENCH_DIR (default: the current directory,
 * which keeps them on the same disk as the source tree).
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "txn_codec.h"
#include "txn_log.h"
#include "bench_util.h"

struct lat {
	uint64_t *ns;
	size_t n, cap;
};

struct run {
	const char *name;
	struct uv_log *log;
	sqlite3 *db;
	sqlite3_stmt *ins;
	pthread_mutex_t db_mu;
	atomic_int stop;
	int failed;
};

struct worker {
	struct run *run;
	uint32_t id;
	struct lat lat;
};

static void lat_push(struct lat *l, uint64_t v)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		uint64_t *p = realloc(l->ns, cap * sizeof(*p));
		if (!p)
			return;
		l->ns = p;
		l->cap = cap;
	}
	l->ns[l->n++] = v;
}

/* The payload both stores get: an encoded two-extent memory grant (80 bytes). */
static size_t payload(uint64_t i, unsigned char *buf, size_t cap)
{
	struct uv_txn_extent e[2] = {{(i % 1024) << 22, 1 << 22}, {(i % 1024 + 2048) << 22, 4096}};
	struct uv_txn t;

	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_GRANT_MEMORY;
	t.hdr.sender_id = 2;
	t.hdr.sender_role = UV_ROLE_COMMAND;
	t.hdr.request_id = i;
	t.u.memory.partition_id = (uint32_t)(i % 64);
	t.u.memory.n_extents = 2;
	t.u.memory.bytes = (1 << 22) + 4096;
	t.extents = e;
	return (size_t)uv_txn_encode(&t, buf, cap, NULL);
}

static int log_txn(struct run *r, uint32_t id, const unsigned char *buf, size_t n)
{
	uint64_t seq;

	if (uv_log_begin(r->log, id, UV_ROLE_COMMAND, buf, (uint32_t)n, &seq))
		return -1;
	return uv_log_commit(r->log, seq);
}

static int sqlite_txn(struct run *r, uint32_t id, const unsigned char *buf, size_t n)
{
	int rc;

	pthread_mutex_lock(&r->db_mu);
	sqlite3_bind_int(r->ins, 1, (int)id);
	sqlite3_bind_blob(r->ins, 2, buf, (int)n, SQLITE_STATIC);
	rc = sqlite3_step(r->ins);
	sqlite3_reset(r->ins);
	pthread_mutex_unlock(&r->db_mu);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	unsigned char buf[256];
	uint64_t i = (uint64_t)w->id << 40;

	while (!atomic_load(&r->stop)) {
		size_t n = payload(i++, buf, sizeof(buf));
		uint64_t t0 = bench_now_ns();
		int ret = r->log ? log_txn(r, w->id, buf, n) : sqlite_txn(r, w->id, buf, n);

		if (ret) {
			r->failed = 1;
			break;
		}
		lat_push(&w->lat, bench_now_ns() - t0);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void run_threads(struct run *r, int threads, double seconds)
{
	struct worker *w = calloc((size_t)threads, sizeof(*w));
	pthread_t *th = calloc((size_t)threads, sizeof(*th));
	struct lat all = {0};
	uint64_t t0, t1;
	int i;
	size_t k;

	atomic_store(&r->stop, 0);
	t0 = bench_now_ns();
	for (i = 0; i < threads; i++) {
		w[i].run = r;
		w[i].id = (uint32_t)i;
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&r->stop, 1);
	for (i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	t1 = bench_now_ns();
	for (i = 0; i < threads; i++) {
		for (k = 0; k < w[i].lat.n; k++)
			lat_push(&all, w[i].lat.ns[k]);
		free(w[i].lat.ns);
	}
	qsort(all.ns, all.n, sizeof(*all.ns), cmp_u64);
	printf("| %-28s | %7d | %12.0f | %9.3f | %9.3f |%s\n", r->name, threads,
	       (double)all.n / ((double)(t1 - t0) / 1e9),
	       all.n ? (double)all.ns[all.n / 2] / 1e6 : 0,
	       all.n ? (double)all.ns[all.n * 99 / 100] / 1e6 : 0, r->failed ? " FAILED" : "");
	fflush(stdout);
	free(all.ns);
	free(w);
	free(th);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static int sqlite_open(const char *path, sqlite3 **db)
{
	if (sqlite3_open(path, db) != SQLITE_OK)
		return -1;
	return sqlite3_exec(*db,
	                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	                    "CREATE TABLE IF NOT EXISTS txn(seq INTEGER PRIMARY KEY,"
	                    " sender INTEGER, payload BLOB);",
	                    NULL, NULL, NULL) == SQLITE_OK
	           ? 0
	           : -1;
}

static void bench_log(const char *dir, int threads, double seconds)
{
	char path[1024];
	struct run r = {.name = "audit log (group commit)"};
	struct uv_log_stats st;

	snprintf(path, sizeof(path), "%s/log-%d", dir, threads);
	if (uv_log_open(path, NULL, &r.log, NULL)) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(1);
	}
	run_threads(&r, threads, seconds);
	uv_log_get_stats(r.log, &st);
	printf("|   (%llu commits, %.1f per fdatasync) | | | | |\n", (unsigned long long)st.commits,
	       (double)st.commits / (double)(st.syncs ? st.syncs : 1));
	uv_log_close(r.log);
}

static void bench_sqlite(const char *dir, int threads, double seconds)
{
	char path[1024];
	struct run r = {.name = "SQLite WAL, synchronous=FULL"};

	snprintf(path, sizeof(path), "%s/sqlite-%d.db", dir, threads);
	pthread_mutex_init(&r.db_mu, NULL);
	if (sqlite_open(path, &r.db) ||
	    sqlite3_prepare_v2(r.db, "INSERT INTO txn(sender, payload) VALUES(?, ?)", -1, &r.ins,
	                       NULL) != SQLITE_OK) {
		fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(r.db));
		exit(1);
	}
	run_threads(&r, threads, seconds);
	sqlite3_finalize(r.ins);
	sqlite3_close(r.db);
}

static int count_committed(void *ctx, const struct uv_log_entry *e)
{
	struct uv_txn t;

	if (uv_txn_decode(e->payload, e->length, &t))
		return -EBADMSG;
	++*(uint64_t *)ctx;
	return 0;
}

static void restart_log(const char *dir, uint64_t n)
{
	char path[1024];
	unsigned char buf[256];
	struct uv_log_replay ops = {NULL, count_committed, NULL, NULL};
	struct uv_log_report rep;
	struct uv_log *log;
	uint64_t i, seq, lsn = 0, got = 0, t0, t1;
	struct stat st;

	snprintf(path, sizeof(path), "%s/restart", dir);
	if (uv_log_open(path, NULL, &log, NULL))
		exit(1);
	for (i = 0; i < n; i++) {
		size_t len = payload(i, buf, sizeof(buf));
		if (uv_log_begin(log, 2, UV_ROLE_COMMAND, buf, (uint32_t)len, &seq) ||
		    uv_log_end(log, seq, UV_LOG_COMMIT, &lsn) ||
		    (i % 10000 == 9999 && uv_log_sync(log, lsn)))
			exit(1);
	}
	uv_log_close(log);
	ops.ctx = &got;
	t0 = bench_now_ns();
	if (uv_log_open(path, &ops, &log, &rep))
		exit(1);
	t1 = bench_now_ns();
	uv_log_close(log);
	snprintf(path, sizeof(path), "%s/restart/seg-0000000000000000.log", dir);
	stat(path, &st);
	printf("| %-28s | %9llu | %8.1f | %9.3f |\n", "audit log: open + replay",
	       (unsigned long long)got, (double)st.st_size / 1048576.0, (double)(t1 - t0) / 1e9);
}

static void restart_sqlite(const char *dir, uint64_t n)
{
	char path[1024];
	unsigned char buf[256];
	sqlite3_stmt *s = NULL;
	sqlite3 *db = NULL;
	uint64_t i, got = 0, t0, t1;
	struct uv_txn t;
	struct stat st;

	snprintf(path, sizeof(path), "%s/restart.db", dir);
	if (sqlite_open(path, &db))
		exit(1);
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO txn(sender, payload) VALUES(2, ?)", -1, &s, NULL);
	for (i = 0; i < n; i++) {
		size_t len = payload(i, buf, sizeof(buf));
		sqlite3_bind_blob(s, 1, buf, (int)len, SQLITE_STATIC);
		sqlite3_step(s);
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL);
	sqlite3_close(db);

	t0 = bench_now_ns();
	if (sqlite_open(path, &db))
		exit(1);
	sqlite3_prepare_v2(db, "SELECT seq, sender, payload FROM txn ORDER BY seq", -1, &s, NULL);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (uv_txn_decode(sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2),
		                  &t))
			exit(1);
		got++;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	t1 = bench_now_ns();
	stat(path, &st);
	printf("| %-28s | %9llu | %8.1f | %9.3f |\n", "SQLite: open + read all rows",
	       (unsigned long long)got, (double)st.st_size / 1048576.0, (double)(t1 - t0) / 1e9);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	uint64_t restart_n = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
	const char *base = getenv("UV_BENCH_DIR") ? getenv("UV_BENCH_DIR") : ".";
	static const int threads[] = {1, 8, 64};
	char dir[512];
	size_t i;

	snprintf(dir, sizeof(dir), "%s/.bench-txnlog-XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	printf("files in %s, %.1f s per run, payload %zu bytes\n\n", dir, seconds,
	       payload(0, (unsigned char[256]){0}, 256));
	printf(
	    "| store                        | senders | durable tx/s | p50 ms    | p99 ms    |\n");
	printf(
	    "|------------------------------|---------|--------------|-----------|-----------|\n");
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		bench_log(dir, threads[i], seconds);
		bench_sqlite(dir, threads[i], seconds);
	}
	printf("\n| restart                      | rows      | MiB      | seconds   |\n");
	printf("|------------------------------|-----------|----------|-----------|\n");
	restart_log(dir, restart_n);
	restart_sqlite(dir, restart_n);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}
