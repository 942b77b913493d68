/* SPDX-License-Identifier: MIT */
/*
 * A migration stream's bytes over the network path (docs/migration.md, "Over the network")
 * beside the plain Unix socket a local target gets, in the same run, with the same writer and
 * the same reader:
 *
 *   unix  writer ──Unix socket──► reader                       (QEMU into migrate.sock)
 *   tls   writer ──socketpair──► relay thread (lib/migrelay.c) ──TLS 1.3, loopback──►
 *         ultra-cmdgw (stream line, token claimed, splice) ──Unix socket──► reader
 *
 * MiB/s from the first byte written to the reader's end of stream, median of ROUNDS alternating
 * rounds of STREAM_MIB each. What a migration over the network pays for the relay and TLS,
 * QEMU and the guest left out (bench/migrate_net.py measures whole migrations).
 */
#include <stdlib.h>

#include "bench_util.h"
#include "migrelay.h"
#include "../tests/unit/migstream_testlib.h"

#define STREAM_MIB 512
#define ROUNDS 5
#define CHUNK (256 * 1024)

struct sink {
	int lfd;
	uint64_t got;
	uint64_t end_ns;
};

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	char *buf = malloc(CHUNK);
	int fd = accept(s->lfd, NULL, NULL);
	ssize_t n;

	while (buf && fd >= 0 && (n = recv(fd, buf, CHUNK, 0)) > 0)
		s->got += (uint64_t)n;
	s->end_ns = bench_now_ns();
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* Writes the stream into fd, then its end; the start time. */
static uint64_t write_stream(int fd)
{
	char *buf = calloc(1, CHUNK);
	uint64_t t0 = bench_now_ns(), left = (uint64_t)STREAM_MIB << 20;

	for (size_t i = 0; buf && i < CHUNK; i += 64)
		buf[i] = (char)(i * 31); /* not all zero: nothing on the way compresses */
	while (buf && left) {
		ssize_t n = send(fd, buf, left < CHUNK ? (size_t)left : CHUNK, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		left -= (uint64_t)n;
	}
	shutdown(fd, SHUT_WR);
	free(buf);
	return t0;
}

static double finish(struct sink *s, pthread_t t, uint64_t t0)
{
	pthread_join(t, NULL);
	if (s->got != (uint64_t)STREAM_MIB << 20) {
		fprintf(stderr, "bench_migstream: the reader got %llu bytes\n",
		        (unsigned long long)s->got);
		return 0;
	}
	return STREAM_MIB / ((double)(s->end_ns - t0) / 1e9);
}

static double run_unix(const char *path)
{
	struct sink s = {.lfd = uv_unix_listen(path, SOCK_STREAM, 1)};
	pthread_t t;
	int fd;
	uint64_t t0;
	double r;

	pthread_create(&t, NULL, sink_main, &s);
	fd = uv_unix_connect(path, SOCK_STREAM);
	t0 = write_stream(fd);
	r = finish(&s, t, t0);
	close(fd);
	close(s.lfd);
	return r;
}

static double run_tls(void)
{
	struct sink s = {.lfd = target_lfd};
	struct relay_arg ra = {0};
	char tok[UV_STREAM_TOKEN_LEN + 1], line[128], *reply;
	pthread_t t, rt;
	int sp[2];
	uint64_t t0;
	double r;

	issue(tok);
	stream_line(tok, line, sizeof(line));
	pthread_create(&t, NULL, sink_main, &s);
	ra.net = client();
	reply = first_line(ra.net, line);
	if (!strstr(reply, "\"connected\""))
		msfx_die("the gateway answered %s", reply);
	free(reply);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	ra.fd = sp[1];
	pthread_create(&rt, NULL, relay_main, &ra);
	t0 = write_stream(sp[0]);
	r = finish(&s, t, t0);
	pthread_join(rt, NULL);
	close(sp[0]);
	uv_cmdconn_close(ra.net);
	if (ra.rc)
		fprintf(stderr, "bench_migstream: relay: %s\n", ra.err);
	return ra.rc ? 0 : r;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	double u[ROUNDS], t[ROUNDS];
	char path[160];

	if (msfx_setup(NULL)) {
		fprintf(stderr, "bench_migstream: the gateway did not start\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/plain.sock", fx.dir);
	for (int i = 0; i < ROUNDS; i++) {
		u[i] = run_unix(path);
		t[i] = run_tls();
	}
	msfx_teardown(NULL);
	qsort(u, ROUNDS, sizeof(double), cmp);
	qsort(t, ROUNDS, sizeof(double), cmp);
	printf("migration stream, %d MiB, median of %d rounds (MiB/s):\n", STREAM_MIB, ROUNDS);
	printf("  unix socket (a local target)            %8.0f\n", u[ROUNDS / 2]);
	printf("  relay + TLS 1.3 + gateway splice        %8.0f   (%.2fx the Unix socket)\n",
	       t[ROUNDS / 2], t[ROUNDS / 2] / u[ROUNDS / 2]);
	return 0;
}
