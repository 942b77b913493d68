/* SPDX-License-Identifier: MIT */
/* The console relay (lib/conrelay.h; docs/monitor.md, "console"): a viewer that never reads
 * does not hold the engine back, the log and a viewer that reads get every byte in order, the
 * slow one is told how much it lost; keystrokes reach the engine; the engine's end closes the
 * viewers; the viewers are bounded. The relay runs in a thread against socketpairs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "conrelay.h"
#include "tmpdir_testlib.h"
#include "unixsock.h"

#define TOTAL (2u << 20) /* 32 times a viewer's buffer */

struct fx {
	char dir[64], sock[96], log[96];
	int engine[2]; /* [0]: QEMU's end, [1]: the relay's */
	int listen, log_fd, stop;
	pthread_t thread;
	struct uv_conrelay_stats st;
	int rc;
};

static void *relay_thread(void *arg)
{
	struct fx *f = arg;

	f->rc = uv_conrelay_run(f->engine[1], f->listen, f->stop, f->log_fd, &f->st);
	return NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(test_tmpdir_make(f->dir, sizeof(f->dir), "conrelay"), 0);
	snprintf(f->sock, sizeof(f->sock), "%s/console.sock", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/console.log", f->dir);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->engine), 0);
	f->listen = uv_unix_listen(f->sock, SOCK_STREAM | SOCK_NONBLOCK, 16);
	f->log_fd = open(f->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	f->stop = eventfd(0, EFD_CLOEXEC);
	assert_true(f->listen >= 0 && f->log_fd >= 0 && f->stop >= 0);
	assert_int_equal(pthread_create(&f->thread, NULL, relay_thread, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	eventfd_write(f->stop, 1);
	pthread_join(f->thread, NULL);
	if (f->engine[0] >= 0)
		close(f->engine[0]);
	close(f->engine[1]);
	close(f->listen);
	close(f->log_fd);
	close(f->stop);
	test_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void set_timeout(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A viewer, known to the relay once this returns: its keystroke came through. */
static int viewer(struct fx *f)
{
	int fd = uv_unix_connect(f->sock, SOCK_STREAM);
	char c;

	assert_true(fd >= 0);
	set_timeout(fd, 10000);
	set_timeout(f->engine[0], 10000);
	assert_int_equal(send(fd, "k", 1, 0), 1);
	assert_int_equal(recv(f->engine[0], &c, 1, 0), 1);
	assert_int_equal(c, 'k');
	return fd;
}

static char pattern(size_t i) { return (char)('a' + i % 23); }

static void test_a_viewer_that_does_not_read_holds_nothing_back(void **state)
{
	struct fx *f = *state;
	int slow = viewer(f), fast = viewer(f);
	char *out = malloc(TOTAL), *got = malloc(TOTAL + 4096), note[192], *cut;
	unsigned long long dropped = 0;
	size_t len = 0, sent = 0, i;
	FILE *log;

	assert_true(out && got);
	for (i = 0; i < TOTAL; i++)
		out[i] = pattern(i);
	/* The engine's writes go through (each within the send timeout) although slow never
	 * reads; fast reads each chunk before the next is written, so it never falls behind and
	 * gets every byte. */
	while (sent < TOTAL) {
		assert_int_equal(send(f->engine[0], out + sent, 4096, MSG_NOSIGNAL), 4096);
		assert_int_equal(recv(fast, got + sent, 4096, MSG_WAITALL), 4096);
		sent += 4096;
	}
	assert_memory_equal(got, out, TOTAL);
	/* The log has every byte, in order (the relay wrote it before the viewers saw them). */
	log = fopen(f->log, "rb");
	assert_non_null(log);
	assert_int_equal(fread(got, 1, TOTAL + 1, log), TOTAL);
	fclose(log);
	assert_memory_equal(got, out, TOTAL);
	/* The slow viewer: what its buffer and its socket held, in order, then the notice with
	 * exactly what it lost, and nothing else. */
	while (!memchr(got, ']', len)) {
		ssize_t n = recv(slow, got + len, TOTAL + 4096 - len, 0);

		assert_true(n > 0);
		len += (size_t)n;
	}
	cut = memmem(got, len, "\r\n[ultra: ", sizeof("\r\n[ultra: ") - 1);
	assert_non_null(cut);
	assert_true(cut - got >= UV_CONRELAY_VIEWER_BUF);
	assert_memory_equal(got, out, (size_t)(cut - got));
	assert_int_equal(sscanf(cut, "\r\n[ultra: %llu bytes", &dropped), 1);
	assert_int_equal((size_t)(cut - got) + dropped, TOTAL);
	assert_int_equal(got + len - cut, uv_conrelay_notice(dropped, note, sizeof(note)));
	assert_memory_equal(cut, note, (size_t)(got + len - cut));
	/* What comes after the notice reaches it again. */
	assert_int_equal(send(f->engine[0], "after", 5, 0), 5);
	len = 0;
	while (len < 5) {
		ssize_t n = recv(slow, got + len, 5 - len, 0);

		assert_true(n > 0);
		len += (size_t)n;
	}
	assert_memory_equal(got, "after", 5);
	close(slow);
	close(fast);
	free(out);
	free(got);
}

static void test_keystrokes_in_and_the_engine_end_out(void **state)
{
	struct fx *f = *state;
	int a = viewer(f), b = viewer(f);
	char buf[64];

	assert_int_equal(send(a, "ls\n", 3, 0), 3);
	assert_int_equal(recv(f->engine[0], buf, 3, MSG_WAITALL), 3);
	assert_memory_equal(buf, "ls\n", 3);
	assert_int_equal(send(f->engine[0], "guest# ", 7, 0), 7);
	assert_int_equal(recv(b, buf, 7, MSG_WAITALL), 7);
	assert_memory_equal(buf, "guest# ", 7);
	/* QEMU exits: the relay ends and every viewer reads the end. */
	close(f->engine[0]);
	f->engine[0] = -1;
	assert_int_equal(recv(a, buf, 7, MSG_WAITALL), 7); /* what was on its way first */
	assert_int_equal(recv(a, buf, sizeof(buf), 0), 0);
	assert_int_equal(recv(b, buf, sizeof(buf), 0), 0);
	pthread_join(f->thread, NULL);
	assert_int_equal(f->rc, 0);
	assert_int_equal(f->st.viewers, 2);
	f->thread = pthread_self(); /* joined: teardown's join must not wait on it again */
	close(a);
	close(b);
}

static void test_viewers_are_bounded(void **state)
{
	struct fx *f = *state;
	int v[UV_CONRELAY_VIEWERS], extra;
	char buf[128];
	ssize_t n;

	for (int i = 0; i < UV_CONRELAY_VIEWERS; i++)
		v[i] = viewer(f);
	extra = uv_unix_connect(f->sock, SOCK_STREAM);
	assert_true(extra >= 0);
	set_timeout(extra, 10000);
	n = recv(extra, buf, sizeof(buf) - 1, MSG_WAITALL);
	assert_true(n > 0);
	buf[n] = 0;
	assert_non_null(strstr(buf, "most viewers already"));
	close(extra);
	/* One leaves: another gets in. */
	close(v[0]);
	v[0] = -1;
	for (int tries = 0; tries < 100 && v[0] < 0; tries++) {
		usleep(10000);
		extra = uv_unix_connect(f->sock, SOCK_STREAM);
		assert_true(extra >= 0);
		set_timeout(extra, 2000);
		assert_int_equal(send(extra, "k", 1, MSG_NOSIGNAL), 1);
		n = recv(extra, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			v[0] = extra;
		else
			close(extra);
	}
	assert_true(v[0] >= 0);
	for (int i = 0; i < UV_CONRELAY_VIEWERS; i++)
		close(v[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_a_viewer_that_does_not_read_holds_nothing_back,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keystrokes_in_and_the_engine_end_out, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_viewers_are_bounded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
