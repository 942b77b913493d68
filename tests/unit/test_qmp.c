/* SPDX-License-Identifier: MIT */
/* The monitor's QMP client against a scripted engine on the other end of a socket pair: the
 * exchanges QEMU makes, and what a QEMU the guest took over could send instead. */
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
#include <unistd.h>

#include "qmp.h"

#define GREETING "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n{\"return\": {}, \"id\": 1}\n"

struct fixture {
	int engine; /* the engine's end */
	struct qmp *q;
	char events[512]; /* "NAME(data-type) " per event, in order */
};

static void on_event(void *opaque, const char *event, json_object *data)
{
	struct fixture *f = opaque;
	size_t n = strlen(f->events);

	snprintf(f->events + n, sizeof(f->events) - n, "%s(%s) ", event,
	         data ? json_type_to_name(json_object_get_type(data)) : "none");
}

static void engine_says(struct fixture *f, const char *s)
{
	assert_int_equal(write(f->engine, s, strlen(s)), (ssize_t)strlen(s));
}

/* What the client sent, as one string (the engine reads it). */
static void client_sent(struct fixture *f, char *buf, size_t cap)
{
	ssize_t n = recv(f->engine, buf, cap - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->engine = sv[1];
	engine_says(f, GREETING);
	assert_int_equal(qmp_open_fd(sv[0], 2000, on_event, f, &f->q), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	qmp_close(f->q);
	if (f->engine >= 0)
		close(f->engine);
	free(f);
	return 0;
}

static void test_negotiates_capabilities(void **state)
{
	struct fixture *f = *state;
	char sent[256];

	client_sent(f, sent, sizeof(sent));
	assert_string_equal(sent, "{\"execute\":\"qmp_capabilities\",\"id\":1}\n");
}

/* Events that come before the answer are delivered, in order; a late answer to an earlier
 * command is not taken for this one's. */
static void test_answer_after_events_and_stale_answer(void **state)
{
	struct fixture *f = *state;
	json_object *ret = NULL, *v;
	char err[128] = "";

	engine_says(f, "{\"event\": \"STOP\"}\n{\"return\": {\"running\": false}, \"id\": 1}\n"
	               "{\"event\": \"RESUME\", \"data\": {}}\n"
	               "{\"return\": {\"running\": true}, \"id\": 2}\n");
	assert_int_equal(qmp_execute(f->q, "query-status", NULL, &ret, err, sizeof(err)), 0);
	assert_true(json_object_object_get_ex(ret, "running", &v));
	assert_true(json_object_get_boolean(v));
	assert_string_equal(f->events, "STOP(none) RESUME(object) ");
	json_object_put(ret);
}

static void test_error_names_description(void **state)
{
	struct fixture *f = *state;
	char err[128] = "";

	engine_says(f, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no such fd\"}, "
	               "\"id\": 2}\n");
	assert_int_equal(qmp_execute(f->q, "getfd", NULL, NULL, err, sizeof(err)), -EIO);
	assert_string_equal(err, "getfd: no such fd");
	/* A description that is not a string is not trusted to be one. */
	engine_says(f, "{\"error\": {\"desc\": null}, \"id\": 3}\n");
	assert_int_equal(qmp_execute(f->q, "getfd", NULL, NULL, err, sizeof(err)), -EIO);
	assert_string_equal(err, "getfd: error");
}

/* Garbage from the engine is skipped line by line: what follows it still arrives, and the
 * callback only ever sees a string name and object-or-no data. */
static void test_dispatch_skips_garbage(void **state)
{
	struct fixture *f = *state;

	engine_says(f, "not json\n[1, 2]\n\"STOP\"\n{\"event\": null}\n{\"event\": 7}\n"
	               "{\"event\": \"SHUTDOWN\", \"data\": \"guest-shutdown\"}\n"
	               "{\"event\": \"POWERDOWN\", \"data\": {\"x\": 1}}\n");
	assert_int_equal(qmp_dispatch(f->q), 0);
	assert_string_equal(f->events, "SHUTDOWN(none) POWERDOWN(object) ");
}

/* A line longer than any QEMU sends cannot be read past: the connection is reported broken
 * instead of being polled for ever. */
static void test_overlong_line_is_protocol_error(void **state)
{
	struct fixture *f = *state;
	size_t n = 128 * 1024;
	char *big = malloc(n + 1);
	int r = 0;

	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = 0;
	engine_says(f, "{\"event\": \"STOP\"}\n");
	/* The socket takes what it can; the client reads until its buffer is full. */
	(void)send(f->engine, big, n, MSG_DONTWAIT);
	for (int i = 0; i < 64 && r == 0; i++)
		r = qmp_dispatch(f->q);
	assert_int_equal(r, -EPROTO);
	assert_string_equal(f->events, "STOP(none) ");
	free(big);
}

static void test_hangup(void **state)
{
	struct fixture *f = *state;
	char err[128] = "", sent[256];

	client_sent(f, sent, sizeof(sent)); /* read: a close with unread bytes would be a reset */
	close(f->engine);
	f->engine = -1;
	assert_int_equal(qmp_dispatch(f->q), -EPIPE);
	assert_int_equal(qmp_execute(f->q, "cont", NULL, NULL, err, sizeof(err)), -EPIPE);
	assert_non_null(strstr(err, "cont"));
}

static void test_open_refuses_non_qmp_greeting(void **state)
{
	struct qmp *q = NULL;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(write(sv[1], "{\"hello\": 1}\n", 13), 13);
	assert_int_equal(qmp_open_fd(sv[0], 2000, NULL, NULL, &q), -EPROTO);
	assert_null(q);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_negotiates_capabilities, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_answer_after_events_and_stale_answer, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_error_names_description, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dispatch_skips_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overlong_line_is_protocol_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hangup, setup, teardown),
	    cmocka_unit_test(test_open_refuses_non_qmp_greeting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
