/* SPDX-License-Identifier: MIT */
/*
 * Durable transactions through the whole ultravisor: N sender processes, each with its own
 * command channel, each waiting for its answer before sending the next (the way a partition
 * asks), against SQLite in WAL mode with synchronous=FULL, N processes inserting the same
 * payload into one database file, measured in the same run. Prints tx/s and p50/p99 latency.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uvclient.h"
#include "bench_util.h"

#define SECONDS 2.0
#define MAX_SAMPLES 400000

struct shared {
	uint64_t count[128];
	uint32_t n_samples;
	float lat_us[MAX_SAMPLES];
};

static void record(struct shared *sh, float us)
{
	uint32_t i = __atomic_fetch_add(&sh->n_samples, 1, __ATOMIC_RELAXED);

	if (i < MAX_SAMPLES)
		sh->lat_us[i] = us;
}

static int sender_ultravisor(const char *sock_path, int idx, struct shared *sh, double end)
{
	struct uv_cmd *c;
	char err[256];
	int sock;
	uint32_t share = 1;

	if (uv_client_connect(sock_path, &sock) || uv_cmd_open(sock, 2, 2, &c, err, sizeof(err)))
		return 1;
	if (getenv("UV_SPIN"))
		uv_cmd_set_spin(c, (unsigned)atoi(getenv("UV_SPIN")));
	while (bench_now_s() < end) {
		struct uv_txn t;
		struct uv_txn_response resp;
		double t0 = bench_now_s();

		memset(&t, 0, sizeof(t));
		t.hdr.type = UV_TXN_SET_CPU_SHARE;
		t.u.cpu.partition_id = 10 + (uint32_t)idx;
		t.u.cpu.cpu_share_milli = share = share % 1000 + 1;
		if (uv_cmd_submit(c, &t, &resp, 10000) || resp.reason != UV_TXN_OK)
			return 1;
		record(sh, (float)((bench_now_s() - t0) * 1e6));
		sh->count[idx]++;
	}
	uv_cmd_close(c);
	return 0;
}

static int sender_sqlite(const char *db_path, int idx, struct shared *sh, double end)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	unsigned char payload[80];

	memset(payload, idx, sizeof(payload));
	if (sqlite3_open(db_path, &db) != SQLITE_OK)
		return 1;
	sqlite3_busy_timeout(db, 10000);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(db, "INSERT INTO txn(sender, payload) VALUES(?, ?)", -1, &st, NULL))
		return 1;
	while (bench_now_s() < end) {
		double t0 = bench_now_s();

		sqlite3_bind_int(st, 1, idx);
		sqlite3_bind_blob(st, 2, payload, sizeof(payload), SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			return 1;
		sqlite3_reset(st);
		record(sh, (float)((bench_now_s() - t0) * 1e6));
		sh->count[idx]++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static int run(const char *what, const char *target, int n, struct shared *sh, double *tps,
               double *p50, double *p99)
{
	pid_t pids[128];
	double start, end;
	uint64_t total = 0;
	int bad = 0;

	memset(sh, 0, sizeof(*sh));
	start = bench_now_s() + 0.3;
	end = start + SECONDS;
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			while (bench_now_s() < start)
				usleep(1000);
			_exit(strcmp(what, "ultravisor") ? sender_sqlite(target, i, sh, end)
			                                 : sender_ultravisor(target, i, sh, end));
		}
	}
	for (int i = 0; i < n; i++) {
		int st;
		waitpid(pids[i], &st, 0);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st);
	}
	for (int i = 0; i < n; i++)
		total += sh->count[i];
	uint32_t m = sh->n_samples < MAX_SAMPLES ? sh->n_samples : MAX_SAMPLES;
	qsort(sh->lat_us, m, sizeof(float), cmp_float);
	*tps = (double)total / SECONDS;
	*p50 = m ? sh->lat_us[m / 2] / 1000.0 : 0;
	*p99 = m ? sh->lat_us[(size_t)(m * 0.99)] / 1000.0 : 0;
	return bad ? -1 : 0;
}

static int prepare_ultravisor(const char *dir, const char *sock, pid_t *pid)
{
	char self[PATH_MAX], bin[PATH_MAX + 32], uvctl[PATH_MAX + 32], state[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct uv_cmd *c;
	char err[256];
	int s;

	self[k > 0 ? k : 0] = 0;
	dirname(self); /* in place: self is now the folder */
	snprintf(bin, sizeof(bin), "%s/../bin/ultravisor", self);
	snprintf(uvctl, sizeof(uvctl), "%s/../bin/uvctl", self);
	snprintf(state, sizeof(state), "%s/state", dir);
	*pid = fork();
	if (*pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execl(bin, bin, "--state-dir", state, "--run-dir", dir, "--pool-mib", "65536",
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 5000 && uv_client_connect(sock, &s); i++)
		usleep(1000);
	close(s);
	if (fork() == 0) {
		execl(uvctl, uvctl, "-s", sock, "boot-command", (char *)NULL);
		_exit(127);
	}
	wait(NULL);
	/* The partitions whose CPU share the senders change. */
	if (uv_client_connect(sock, &s) || uv_cmd_open(s, 2, 2, &c, err, sizeof(err)))
		return -1;
	for (uint32_t id = 10; id < 10 + 128; id++) {
		struct uv_txn t;
		struct uv_txn_response resp;

		memset(&t, 0, sizeof(t));
		t.hdr.type = UV_TXN_CREATE_PARTITION;
		t.u.create = (struct uv_partition_desc){.magic = UV_DESC_MAGIC,
		                                        .version = UV_DESC_VERSION,
		                                        .size = sizeof(struct uv_partition_desc),
		                                        .id = id,
		                                        .vcpus = 1,
		                                        .n_mem = 1,
		                                        .mem_bytes = UV_MEM_MIN};
		t.u.create.mem[0].size = UV_MEM_MIN;
		snprintf(t.u.create.name, sizeof(t.u.create.name), "b%u", id);
		snprintf(t.u.create.kernel, sizeof(t.u.create.kernel), "/vmlinux");
		if (uv_cmd_submit(c, &t, &resp, 10000) || resp.reason != UV_TXN_OK)
			return -1;
	}
	uv_cmd_close(c);
	close(s);
	return 0;
}

int main(void)
{
	char dir[] = "/var/tmp/uvbench-XXXXXX", sock[PATH_MAX], db[PATH_MAX], cmd[PATH_MAX + 16];
	static const int senders[] = {1, 8, 64};
	struct shared *sh;
	pid_t uvd = 0;
	sqlite3 *s;

	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/ultravisor.sock", dir);
	snprintf(db, sizeof(db), "%s/peer.sqlite", dir);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || prepare_ultravisor(dir, sock, &uvd)) {
		fprintf(stderr, "bench_ultravisor: cannot start the ultravisor\n");
		return 1;
	}
	if (sqlite3_open(db, &s) != SQLITE_OK ||
	    sqlite3_exec(s,
	                 "PRAGMA journal_mode=WAL; CREATE TABLE txn(id INTEGER PRIMARY KEY, "
	                 "sender INTEGER, payload BLOB);",
	                 NULL, NULL, NULL) != SQLITE_OK)
		return 1;
	sqlite3_close(s);
	printf("durable transactions through the ultravisor (command channels, group commit) vs "
	       "SQLite WAL synchronous=FULL, %.0f s each, one request in flight per sender\n",
	       SECONDS);
	printf("%8s %14s %10s %10s %14s %10s %10s %8s\n", "senders", "ultravisor/s", "p50 ms",
	       "p99 ms", "sqlite/s", "p50 ms", "p99 ms", "ratio");
	for (size_t i = 0; i < sizeof(senders) / sizeof(senders[0]); i++) {
		double a, a50, a99, b, b50, b99;
		if (run("ultravisor", sock, senders[i], sh, &a, &a50, &a99) ||
		    run("sqlite", db, senders[i], sh, &b, &b50, &b99)) {
			fprintf(stderr, "bench_ultravisor: a sender failed\n");
			break;
		}
		printf("%8d %14.0f %10.3f %10.3f %14.0f %10.3f %10.3f %7.1fx\n", senders[i], a, a50,
		       a99, b, b50, b99, a / b);
	}
	kill(uvd, SIGTERM);
	waitpid(uvd, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : 0;
}
