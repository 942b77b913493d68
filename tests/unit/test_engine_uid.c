/* SPDX-License-Identifier: MIT */
/* The engine's uid (base + partition number) and the peer credential check built on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine_uid.h"

static void test_formula(void **state)
{
	uid_t u = 42;

	assert_int_equal(uv_engine_uid(UV_ENGINE_UID_BASE_DEFAULT, 10, &u), 0);
	assert_int_equal(u, 1879048192u + 10);
	assert_int_equal(uv_engine_uid(100000, 0, &u), 0);
	assert_int_equal(u, 100000);
	/* Two partitions never share a uid. */
	uid_t a, b;
	assert_int_equal(uv_engine_uid(100000, 7, &a), 0);
	assert_int_equal(uv_engine_uid(100000, 8, &b), 0);
	assert_int_not_equal(a, b);
	/* The last number of the span has one; the next has none, and u is left alone. */
	assert_int_equal(uv_engine_uid(100000, UV_ENGINE_UID_SPAN - 1, &u), 0);
	assert_int_equal(u, 100000 + UV_ENGINE_UID_SPAN - 1);
	u = 42;
	assert_int_equal(uv_engine_uid(100000, UV_ENGINE_UID_SPAN, &u), -ERANGE);
	assert_int_equal(uv_engine_uid(0x7fffff00u, 0x100, &u), -ERANGE); /* past 2^31-1 */
	assert_int_equal(uv_engine_uid(UINT32_MAX, 1, &u), -ERANGE);      /* no wrap to 0 */
	assert_int_equal(u, 42);
}

static void test_base_parse(void **state)
{
	uint32_t base = 7;
	char buf[32];

	assert_int_equal(uv_engine_uid_base_parse("1879048192", &base), 0);
	assert_int_equal(base, UV_ENGINE_UID_BASE_DEFAULT);
	assert_int_equal(uv_engine_uid_base_parse("65536", &base), 0);
	assert_int_equal(base, 65536);
	/* The highest base still gives the whole span a uid below 2^31. */
	snprintf(buf, sizeof(buf), "%u", 0x7fffffffu - (UV_ENGINE_UID_SPAN - 1));
	assert_int_equal(uv_engine_uid_base_parse(buf, &base), 0);
	uid_t u;
	assert_int_equal(uv_engine_uid(base, UV_ENGINE_UID_SPAN - 1, &u), 0);
	snprintf(buf, sizeof(buf), "%u", 0x7fffffffu - (UV_ENGINE_UID_SPAN - 1) + 1);
	base = 7;
	const char *bad[] = {buf,         "0",      "1000",   "65535", "-5",
	                     "+70000",    " 70000", "70000x", "",      "99999999999999999999",
	                     "0x70000000"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(uv_engine_uid_base_parse(bad[i], &base), -EINVAL);
	assert_int_equal(uv_engine_uid_base_parse(NULL, &base), -EINVAL);
	assert_int_equal(base, 7);
	/* The option's refusal says what a base must be. */
	char err[160] = "";
	assert_int_equal(uv_engine_uid_base_arg("1000", &base, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--engine-uid-base 1000: want a uid of at least 65536"));
	assert_int_equal(base, 7);
	assert_int_equal(uv_engine_uid_base_arg("65536", &base, err, sizeof(err)), 0);
	assert_int_equal(base, 65536);
}

static void test_peer_check_socketpair(void **state)
{
	int sv[2];
	uid_t got = 1;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(uv_peer_check(sv[0], geteuid(), &got), 0);
	assert_int_equal(got, geteuid());
	assert_int_equal(uv_peer_check(sv[0], geteuid() + 1, &got), -EACCES);
	assert_int_equal(got, geteuid());
	close(sv[0]);
	close(sv[1]);
	/* Not a socket: an error, never a match. */
	assert_int_equal(pipe(sv), 0);
	assert_int_equal(uv_peer_check(sv[0], geteuid(), &got), -ENOTSOCK);
	close(sv[0]);
	close(sv[1]);
}

/* A process that connected as another uid is seen as that uid (root only: it drops to it). */
static void test_peer_check_other_uid(void **state)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	uid_t want, got = 0;
	int l, c, status;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	assert_int_equal(uv_engine_uid(UV_ENGINE_UID_BASE_DEFAULT, 3, &want), 0);
	/* An abstract address: no file, so no permission stands between the child and it. */
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "uv-test-peer-%d", (int)getpid());
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int s;
		if (setresgid(want, want, want) || setresuid(want, want, want))
			_exit(2);
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		_exit(s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : 3);
	}
	c = accept(l, NULL, NULL);
	assert_true(c >= 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(uv_peer_check(c, want, &got), 0);
	assert_int_equal(got, want);
	assert_int_equal(uv_peer_check(c, 0, &got), -EACCES);        /* not root's */
	assert_int_equal(uv_peer_check(c, want + 1, &got), -EACCES); /* nor the next partition's */
	close(c);
	close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_formula),
	    cmocka_unit_test(test_base_parse),
	    cmocka_unit_test(test_peer_check_socketpair),
	    cmocka_unit_test(test_peer_check_other_uid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
