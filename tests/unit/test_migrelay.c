/* SPDX-License-Identifier: MIT */
/* The migration stream's relay (lib/migrelay.h): every byte both ways and in order, the ends
 * passed on, a network peer that goes mid-stream reported, a side that does not read stopping
 * the other with memory bounded, and bytes read past the stream line's answer relayed first.
 * The network side here is a command connection over a Unix socket: the relay sees the same
 * uv_cmdconn either way (TLS is exercised by test_cmdgw_stream.c and the guest test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmdconn.h"
#include "migrelay.h"
#include "unixsock.h"

struct fx {
	char dir[64], path[128];
	int lfd;   /* listening: the "network" */
	int peer;  /* its accepted end: the target */
	int qemu;  /* the local socketpair's far end: QEMU */
	int local; /* the relay's end */
	struct uv_cmdconn *net;
	pthread_t t;
	int rc;
	char err[300];
	struct uv_relay_stats st;
	size_t bufcap;
};

static void *relay_main(void *arg)
{
	struct fx *f = arg;

	f->rc = uv_relay_run(f->net, f->local, f->bufcap, 20000, &f->st, f->err, sizeof(f->err));
	close(f->local); /* as the monitor does: QEMU's end sees the end */
	return NULL;
}

static void setup(struct fx *f, size_t bufcap)
{
	int sp[2];
	char err[200];

	memset(f, 0, sizeof(*f));
	f->bufcap = bufcap;
	snprintf(f->dir, sizeof(f->dir), "/tmp/uvrelay-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/net.sock", f->dir);
	f->lfd = uv_unix_listen(f->path, SOCK_STREAM, 1);
	assert_true(f->lfd >= 0);
	assert_int_equal(uv_cmdconn_open(f->path, NULL, 1000, &f->net, err, sizeof(err)), 0);
	f->peer = accept(f->lfd, NULL, NULL);
	assert_true(f->peer >= 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	f->qemu = sp[0];
	f->local = sp[1];
}

static void start(struct fx *f) { assert_int_equal(pthread_create(&f->t, NULL, relay_main, f), 0); }

static void finish(struct fx *f)
{
	pthread_join(f->t, NULL);
	uv_cmdconn_close(f->net);
	close(f->lfd);
	if (f->peer >= 0)
		close(f->peer);
	close(f->qemu);
	unlink(f->path);
	rmdir(f->dir);
}

/* A pattern anyone can check: byte i of a stream seeded s. */
static unsigned char pat(uint64_t i, unsigned s)
{
	return (unsigned char)((i * 2654435761u) >> 13 ^ s);
}

struct pump {
	int fd;
	uint64_t n; /* bytes to write, or (reader) expected */
	unsigned seed;
	uint64_t got;
	int bad;
};

static void *writer(void *arg)
{
	struct pump *p = arg;
	unsigned char buf[65536];

	for (uint64_t off = 0; off < p->n;) {
		size_t k = p->n - off < sizeof(buf) ? (size_t)(p->n - off) : sizeof(buf);
		ssize_t w;

		for (size_t i = 0; i < k; i++)
			buf[i] = pat(off + i, p->seed);
		w = send(p->fd, buf, k, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (uint64_t)w;
		p->got = off;
	}
	shutdown(p->fd, SHUT_WR);
	return NULL;
}

static void *reader(void *arg)
{
	struct pump *p = arg;
	unsigned char buf[65536];
	ssize_t r;

	while ((r = recv(p->fd, buf, sizeof(buf), 0)) > 0) {
		for (ssize_t i = 0; i < r; i++)
			p->bad |= buf[i] != pat(p->got + (uint64_t)i, p->seed);
		p->got += (uint64_t)r;
	}
	return NULL;
}

/* 24 MiB from QEMU to the target, 3 MiB back, at once; both ends passed on; 0. */
static void test_both_ways_in_order(void **state)
{
	struct fx f;
	struct pump up_w, up_r, down_w, down_r;
	pthread_t t[4];

	(void)state;
	setup(&f, 64 * 1024);
	up_w = (struct pump){.fd = f.qemu, .n = 24u << 20, .seed = 1};
	up_r = (struct pump){.fd = f.peer, .seed = 1};
	down_w = (struct pump){.fd = f.peer, .n = 3u << 20, .seed = 7};
	down_r = (struct pump){.fd = f.qemu, .seed = 7};
	start(&f);
	pthread_create(&t[0], NULL, writer, &up_w);
	pthread_create(&t[1], NULL, reader, &up_r);
	pthread_create(&t[2], NULL, writer, &down_w);
	pthread_create(&t[3], NULL, reader, &down_r);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	finish(&f);
	assert_int_equal(f.rc, 0);
	assert_int_equal(up_r.got, 24u << 20);
	assert_int_equal(down_r.got, 3u << 20);
	assert_false(up_r.bad);
	assert_false(down_r.bad);
	assert_int_equal(f.st.to_net, 24u << 20);
	assert_int_equal(f.st.to_local, 3u << 20);
}

/* The target goes after 1 MiB while QEMU still sends: an error that says so, and QEMU's end
 * sees its stream end (its writes fail) instead of hanging. */
static void test_peer_closes_mid_stream(void **state)
{
	struct fx f;
	struct pump w;
	pthread_t t;
	char buf[65536];
	size_t got = 0;
	ssize_t r;

	(void)state;
	setup(&f, 64 * 1024);
	w = (struct pump){.fd = f.qemu, .n = 64u << 20, .seed = 3};
	start(&f);
	pthread_create(&t, NULL, writer, &w);
	while (got < (1u << 20) && (r = recv(f.peer, buf, sizeof(buf), 0)) > 0)
		got += (size_t)r;
	close(f.peer); /* unread bytes: a reset */
	f.peer = -1;
	pthread_join(t, NULL);
	finish(&f);
	assert_true(f.rc < 0);
	assert_true(w.got < (64u << 20));
	assert_non_null(strstr(f.err, "network") ? f.err : NULL);
}

/* A target that reads nothing: QEMU's writes stop after what the buffers and the sockets hold;
 * the relay holds no more than its buffer. Then the target goes and everything ends. */
static void test_backpressure(void **state)
{
	struct fx f;
	unsigned char buf[65536] = {0};
	uint64_t sent = 0;
	int stalls = 0;

	(void)state;
	setup(&f, 128 * 1024);
	start(&f);
	fcntl(f.qemu, F_SETFL, O_NONBLOCK);
	while (stalls < 20 && sent < (256u << 20)) {
		ssize_t w = send(f.qemu, buf, sizeof(buf), MSG_NOSIGNAL);

		if (w > 0) {
			sent += (uint64_t)w;
			stalls = 0;
		} else {
			struct pollfd p = {.fd = f.qemu, .events = POLLOUT};
			stalls += poll(&p, 1, 50) == 0;
		}
	}
	/* Socket buffers on both sides plus the relay's 128 KiB: a few MiB, never all of it. */
	assert_true(sent < (32u << 20));
	assert_true(f.st.to_net <= sent);
	close(f.peer);
	f.peer = -1;
	shutdown(f.qemu, SHUT_RDWR);
	finish(&f);
	assert_true(f.rc < 0);
}

/* Bytes the connection read past the last line (the stream line's answer) come first. */
static void test_bytes_past_the_answer(void **state)
{
	struct fx f;
	char *line = NULL, err[200], buf[64] = {0};
	ssize_t n;

	(void)state;
	setup(&f, 0);
	assert_int_equal(send(f.peer, "{\"return\":{}}\nRAW", 17, 0), 17);
	assert_int_equal(uv_cmdconn_read_line(f.net, &line, 1000, err, sizeof(err)), 0);
	assert_string_equal(line, "{\"return\":{}}");
	free(line);
	shutdown(f.peer, SHUT_WR);
	shutdown(f.qemu, SHUT_WR);
	start(&f);
	n = recv(f.qemu, buf, sizeof(buf) - 1, MSG_WAITALL);
	assert_int_equal(n, 3);
	assert_string_equal(buf, "RAW");
	finish(&f);
	assert_int_equal(f.rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_both_ways_in_order),
	    cmocka_unit_test(test_peer_closes_mid_stream),
	    cmocka_unit_test(test_backpressure),
	    cmocka_unit_test(test_bytes_past_the_answer),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
