/* SPDX-License-Identifier: MIT */
/* The control APIs' envelope (lib/jsonapi.h): what command.sock and ops.sock accept from a
 * client, the sentence a wrong request gets, and a peer's error code kept only when it is one of
 * the documented ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "jsonapi.h"

/* The envelope's verdict on text: its execute copied into verb ("" when refused, code and msg
 * say why); args taken from the request. */
static void check(const char *text, char *verb, json_object **args, const char **code, char *msg)
{
	json_object *req = json_tokener_parse(text);
	const char *v;

	*code = NULL;
	msg[0] = 0;
	v = uv_api_envelope(req, 1, "the command partition", args, code, msg, 256);
	snprintf(verb, 64, "%s", v ? v : "");
	if (v && *args)
		json_object_get(*args);
	else
		*args = NULL;
	json_object_put(req);
}

static void test_a_good_request(void **state)
{
	json_object *args = NULL;
	const char *code;
	char msg[256], verb[64];

	(void)state;
	check("{\"version\":1,\"execute\":\"start\",\"arguments\":{\"name\":\"a\"}}", verb, &args,
	      &code, msg);
	assert_string_equal(verb, "start");
	assert_non_null(args);
	json_object_put(args);
	check("{\"version\":1,\"execute\":\"list\"}", verb, &args, &code, msg);
	assert_string_equal(verb, "list");
	assert_null(args);
}

static void test_bad_envelopes_are_refused_by_name(void **state)
{
	static const struct {
		const char *text, *code, *says;
	} bad[] = {
	    {"[1,2]", "bad-request", "one JSON object per line"},
	    {"\"start\"", "bad-request", "one JSON object per line"},
	    {"{\"version\":1,\"execute\":\"list\",\"extra\":0}", "bad-request",
	     "extra: unknown member"},
	    {"{\"execute\":\"list\"}", "bad-version", "speaks version 1"},
	    {"{\"version\":2,\"execute\":\"list\"}", "bad-version", "speaks version 1"},
	    {"{\"version\":\"1\",\"execute\":\"list\"}", "bad-version", "speaks version 1"},
	    {"{\"version\":1}", "bad-request", "execute: expected a command name"},
	    {"{\"version\":1,\"execute\":7}", "bad-request", "execute: expected a command name"},
	    {"{\"version\":1,\"execute\":\"list\",\"arguments\":[]}", "bad-request",
	     "arguments: expected an object"},
	};
	json_object *args;
	const char *code;
	char msg[256], verb[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check(bad[i].text, verb, &args, &code, msg);
		assert_string_equal(verb, "");
		assert_string_equal(code, bad[i].code);
		assert_non_null(strstr(msg, bad[i].says));
	}
	/* Not JSON at all. */
	args = NULL;
	assert_null(uv_api_envelope(NULL, 1, "x", &args, &code, msg, sizeof(msg)));
	assert_string_equal(code, "bad-request");
}

static void test_unknown_arguments_are_named(void **state)
{
	static const char *const allowed[] = {"name", "timeout", NULL};
	json_object *args = json_tokener_parse("{\"name\":\"a\",\"timeout\":3}");
	const char *code = NULL;
	char msg[256];

	(void)state;
	assert_int_equal(uv_api_args_known(args, allowed, "stop", &code, msg, sizeof(msg)), 0);
	assert_int_equal(uv_api_args_known(NULL, allowed, "stop", &code, msg, sizeof(msg)), 0);
	json_object_object_add(args, "force", json_object_new_boolean(1));
	assert_int_equal(uv_api_args_known(args, allowed, "stop", &code, msg, sizeof(msg)), -1);
	assert_string_equal(code, "bad-request");
	assert_string_equal(msg, "arguments.force: unknown argument of stop");
	json_object_put(args);
}

static void test_replies(void **state)
{
	json_object *r = uv_api_reply(json_object_new_int(5), NULL, NULL), *v, *e;

	(void)state;
	assert_true(json_object_object_get_ex(r, "return", &v));
	assert_int_equal(json_object_get_int(v), 5);
	json_object_put(r);
	r = uv_api_reply(NULL, "busy", "it runs");
	assert_true(json_object_object_get_ex(r, "error", &e));
	assert_true(json_object_object_get_ex(e, "code", &v));
	assert_string_equal(json_object_get_string(v), "busy");
	assert_true(json_object_object_get_ex(e, "message", &v));
	assert_string_equal(json_object_get_string(v), "it runs");
	json_object_put(r);
}

static void test_a_peers_code_is_kept_only_when_documented(void **state)
{
	char peer[32];
	const char *c;

	(void)state;
	/* The peer's string goes with its reply: what is kept must be ours, not its pointer. */
	snprintf(peer, sizeof(peer), "no-space");
	c = uv_api_command_code(peer, "internal");
	assert_string_equal(c, "no-space");
	assert_ptr_not_equal(c, peer);
	assert_string_equal(uv_api_command_code("migration", "refused"), "migration");
	assert_string_equal(uv_api_command_code("no-such-disk", "refused"), "no-such-disk");
	assert_string_equal(uv_api_command_code("rm -rf /", "refused"), "refused");
	assert_string_equal(uv_api_command_code("", "internal"), "internal");
	assert_string_equal(uv_api_command_code(NULL, "internal"), "internal");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_good_request),
	    cmocka_unit_test(test_bad_envelopes_are_refused_by_name),
	    cmocka_unit_test(test_unknown_arguments_are_named),
	    cmocka_unit_test(test_replies),
	    cmocka_unit_test(test_a_peers_code_is_kept_only_when_documented),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
