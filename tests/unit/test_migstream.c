/* SPDX-License-Identifier: MIT */
/* Stream tokens and the stream's first line (lib/migstream.h; docs/migration.md, "Over the
 * network"): a token is good once, for its time, for its partition only; the first line is read
 * strictly, whatever a network peer sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "migstream.h"

#define T0 1000000u

static int parse(const char *line, char *tok)
{
	char why[160] = "";

	return uv_stream_line_parse(line, strlen(line), tok, why, sizeof(why));
}

static void test_tokens_are_random_hex(void **state)
{
	char a[UV_STREAM_TOKEN_LEN + 1], b[UV_STREAM_TOKEN_LEN + 1];

	(void)state;
	assert_int_equal(uv_stream_token_new(a), 0);
	assert_int_equal(uv_stream_token_new(b), 0);
	assert_true(uv_stream_token_valid(a));
	assert_int_equal(strlen(a), UV_STREAM_TOKEN_LEN);
	assert_string_not_equal(a, b);
	a[5] = 'A'; /* upper case is not ours */
	assert_false(uv_stream_token_valid(a));
	assert_false(uv_stream_token_valid("abc"));
}

static void test_claimed_once(void **state)
{
	struct uv_stream_tokens t = {0};
	char tok[UV_STREAM_TOKEN_LEN + 1], name[64], path[108];

	(void)state;
	assert_int_equal(
	    uv_stream_tokens_issue(&t, "web1", "/run/p/web1/migrate.sock", T0, 1000, tok), 0);
	assert_int_equal(
	    uv_stream_tokens_claim(&t, tok, T0 + 10, name, sizeof(name), path, sizeof(path)), 0);
	assert_string_equal(name, "web1");
	assert_string_equal(path, "/run/p/web1/migrate.sock");
	/* A replay is named as one, and gives nothing out. */
	path[0] = 0;
	assert_int_equal(
	    uv_stream_tokens_claim(&t, tok, T0 + 20, name, sizeof(name), path, sizeof(path)),
	    -EALREADY);
	assert_string_equal(path, "");
	assert_non_null(strstr(uv_stream_claim_error(-EALREADY), "replay"));
}

static void test_wrong_expired_dropped(void **state)
{
	struct uv_stream_tokens t = {0};
	char tok[UV_STREAM_TOKEN_LEN + 1], other[UV_STREAM_TOKEN_LEN + 1], name[64], path[108];

	(void)state;
	assert_int_equal(uv_stream_tokens_issue(&t, "a", "/s/a", T0, 1000, tok), 0);
	/* One digit off: unknown. */
	memcpy(other, tok, sizeof(other));
	other[63] = other[63] == '0' ? '1' : '0';
	assert_int_equal(uv_stream_tokens_claim(&t, other, T0, name, 64, path, 108), -ENOENT);
	assert_int_equal(uv_stream_tokens_claim(&t, "short", T0, name, 64, path, 108), -EINVAL);
	assert_int_equal(uv_stream_tokens_claim(&t, NULL, T0, name, 64, path, 108), -EINVAL);
	/* Its time is up. */
	assert_int_equal(uv_stream_tokens_claim(&t, tok, T0 + 1000, name, 64, path, 108), -ETIME);
	/* A new one for the same partition replaces the old; a dropped one is gone. */
	assert_int_equal(uv_stream_tokens_issue(&t, "a", "/s/a", T0, 1000, tok), 0);
	assert_int_equal(uv_stream_tokens_issue(&t, "a", "/s/a", T0, 1000, other), 0);
	assert_int_equal(uv_stream_tokens_claim(&t, tok, T0, name, 64, path, 108), -ENOENT);
	uv_stream_tokens_drop(&t, "a");
	assert_int_equal(uv_stream_tokens_claim(&t, other, T0, name, 64, path, 108), -ENOENT);
}

static void test_table_is_bounded(void **state)
{
	struct uv_stream_tokens t = {0};
	char tok[UV_STREAM_TOKEN_LEN + 1], name[16];

	(void)state;
	for (int i = 0; i < UV_STREAM_TOKENS_MAX; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(uv_stream_tokens_issue(&t, name, "/s", T0, 1000, tok), 0);
	}
	assert_int_equal(uv_stream_tokens_issue(&t, "more", "/s", T0, 1000, tok), -ENOSPC);
	/* Expired slots are taken again. */
	assert_int_equal(uv_stream_tokens_issue(&t, "more", "/s", T0 + 1000, 1000, tok), 0);
	char longname[100];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[99] = 0;
	assert_int_equal(uv_stream_tokens_issue(&t, longname, "/s", T0, 1000, tok), -ENAMETOOLONG);
}

/* A console token (docs/cmdnet.md, "The console") is claimed once like any other and says what
 * it is for; a partition may have several, a migration's end leaves them alone, and they never
 * take the slots a migration needs. */
static void test_console_tokens(void **state)
{
	struct uv_stream_tokens t = {0};
	char c1[UV_STREAM_TOKEN_LEN + 1], c2[UV_STREAM_TOKEN_LEN + 1], m[UV_STREAM_TOKEN_LEN + 1];
	char name[64], path[108];
	enum uv_stream_kind kind = UV_STREAM_MIGRATION;
	int n = 0;

	(void)state;
	assert_int_equal(uv_stream_tokens_issue_kind(&t, UV_STREAM_CONSOLE, "web1",
	                                             "/run/p/web1/console.sock", T0, 1000, c1),
	                 0);
	assert_int_equal(uv_stream_tokens_issue_kind(&t, UV_STREAM_CONSOLE, "web1",
	                                             "/run/p/web1/console.sock", T0, 1000, c2),
	                 0);
	assert_int_equal(
	    uv_stream_tokens_issue(&t, "web1", "/run/p/web1/migrate.sock", T0, 1000, m), 0);
	uv_stream_tokens_drop(&t, "web1"); /* the migration ended */
	assert_int_equal(uv_stream_tokens_claim(&t, m, T0, name, 64, path, 108), -ENOENT);
	assert_int_equal(uv_stream_tokens_claim_kind(&t, c1, T0 + 1, name, 64, path, 108, &kind),
	                 0);
	assert_int_equal(kind, UV_STREAM_CONSOLE);
	assert_string_equal(path, "/run/p/web1/console.sock");
	assert_int_equal(uv_stream_tokens_claim_kind(&t, c1, T0 + 2, name, 64, path, 108, &kind),
	                 -EALREADY);
	assert_int_equal(uv_stream_tokens_claim_kind(&t, c2, T0 + 1000, name, 64, path, 108, &kind),
	                 -ETIME);
	/* At most half the table: a client asking for many leaves room for migrations. */
	memset(&t, 0, sizeof(t));
	while (uv_stream_tokens_issue_kind(&t, UV_STREAM_CONSOLE, "web1", "/s", T0, 1000, c1) == 0)
		n++;
	assert_int_equal(n, UV_STREAM_CONSOLE_MAX);
	for (int i = 0; i < UV_STREAM_TOKENS_MAX - UV_STREAM_CONSOLE_MAX; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(uv_stream_tokens_issue(&t, name, "/s", T0, 1000, m), 0);
	}
	assert_int_equal(uv_stream_tokens_claim_kind(&t, m, T0, name, 64, path, 108, &kind), 0);
	assert_int_equal(kind, UV_STREAM_MIGRATION);
}

/* The gateway's answer to a stream line, as the opening end reads it from the network. */
static void test_answer(void **state)
{
	char err[300] = "";

	(void)state;
	assert_int_equal(
	    uv_stream_answer_parse("{\"return\":{\"stream\":\"connected\"}}", err, sizeof(err)), 0);
	assert_int_equal(
	    uv_stream_answer_parse("{\"error\":{\"code\":\"refused\",\"message\":\"stream token "
	                           "already used (a replay)\"}}",
	                           err, sizeof(err)),
	    -EPROTO);
	assert_non_null(strstr(err, "refused the stream: stream token already used"));
	assert_int_equal(uv_stream_answer_parse("garbage", err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "does not parse"));
	assert_int_equal(uv_stream_answer_parse("[1]", err, sizeof(err)), -EPROTO);
	assert_int_equal(uv_stream_answer_parse("{\"error\":5}", err, sizeof(err)), -EPROTO);
}

static void test_first_line(void **state)
{
	char tok[UV_STREAM_TOKEN_LEN + 1], line[UV_STREAM_LINE_MAX + 1],
	    good[UV_STREAM_TOKEN_LEN + 1];
	size_t n;

	(void)state;
	uv_stream_token_new(good);
	n = uv_stream_line_make(good, line, sizeof(line));
	assert_true(n < UV_STREAM_LINE_MAX && line[n - 1] == '\n');
	assert_int_equal(parse(line, tok), 1);
	assert_string_equal(tok, good);
	/* Control API requests are not stream lines. */
	assert_int_equal(parse("{\"execute\":\"list\"}\n", tok), 0);
	assert_int_equal(parse("ultra\n", tok), 0);
	/* Hostile ones that start like one are refused, never relayed. */
	assert_int_equal(parse("ultra-stream\n", tok), -EINVAL);
	assert_int_equal(parse("ultra-stream 1\n", tok), -EINVAL);
	assert_int_equal(parse("ultra-stream x abc\n", tok), -EINVAL);
	assert_int_equal(parse("ultra-stream 99999999999999999999 abc\n", tok), -EPROTONOSUPPORT);
	assert_int_equal(parse("ultra-stream 2 abc\n", tok), -EPROTONOSUPPORT);
	line[20] = 'G';
	assert_int_equal(parse(line, tok), -EINVAL);
	snprintf(line, sizeof(line), "ultra-stream 1 %s \n", good); /* a trailing space */
	assert_int_equal(parse(line, tok), -EINVAL);
	/* The version spelt another way (found by fuzz_migstream): one spelling only. */
	snprintf(line, sizeof(line), "ultra-stream 01 %s\n", good);
	assert_int_equal(parse(line, tok), -EINVAL);
	snprintf(line, sizeof(line), "ultra-stream 1 %.63s\n", good); /* one digit short */
	assert_int_equal(parse(line, tok), -EINVAL);
	/* A NUL inside, and a line over the bound. */
	n = uv_stream_line_make(good, line, sizeof(line));
	line[30] = 0;
	assert_int_equal(uv_stream_line_parse(line, n, tok, line, 0), -EINVAL);
	char big[4096];
	memset(big, 'a', sizeof(big));
	memcpy(big, "ultra-stream 1 ", 15);
	big[sizeof(big) - 1] = '\n';
	assert_int_equal(uv_stream_line_parse(big, sizeof(big), tok, line, 8), -EINVAL);
	/* Without its '\n' (the caller passes whole lines; a torn one is still refused). */
	n = uv_stream_line_make(good, line, sizeof(line));
	assert_int_equal(uv_stream_line_parse(line, n - 1, tok, line, 0), -EINVAL);
}

static void test_replies(void **state)
{
	char tok[UV_STREAM_TOKEN_LEN + 1], path[108], good[UV_STREAM_TOKEN_LEN + 1], j[256];
	json_object *o;

	(void)state;
	uv_stream_token_new(good);
	snprintf(j, sizeof(j), "{\"name\":\"a\",\"stream_token\":\"%s\"}", good);
	o = json_tokener_parse(j);
	assert_int_equal(uv_stream_reply_token(o, tok), 0);
	assert_string_equal(tok, good);
	json_object_put(o);
	o = json_tokener_parse("{\"stream_token\":\"abc\"}");
	assert_int_equal(uv_stream_reply_token(o, tok), -EPROTO);
	json_object_put(o);
	o = json_tokener_parse("{\"stream_token\":5}");
	assert_int_equal(uv_stream_reply_token(o, tok), -EPROTO);
	json_object_put(o);
	assert_int_equal(uv_stream_reply_token(NULL, tok), -EPROTO);

	o = json_tokener_parse("{\"name\":\"a\",\"path\":\"/run/x/migrate.sock\"}");
	assert_int_equal(uv_stream_claim_reply_path(o, path, sizeof(path)), 0);
	assert_string_equal(path, "/run/x/migrate.sock");
	json_object_put(o);
	o = json_tokener_parse("{\"path\":\"relative.sock\"}");
	assert_int_equal(uv_stream_claim_reply_path(o, path, sizeof(path)), -EPROTO);
	json_object_put(o);
	o = json_tokener_parse("{\"path\":\"/a\\u0000b\"}");
	assert_int_equal(uv_stream_claim_reply_path(o, path, sizeof(path)), -EPROTO);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tokens_are_random_hex),
	    cmocka_unit_test(test_claimed_once),
	    cmocka_unit_test(test_wrong_expired_dropped),
	    cmocka_unit_test(test_table_is_bounded),
	    cmocka_unit_test(test_first_line),
	    cmocka_unit_test(test_replies),
	    cmocka_unit_test(test_console_tokens),
	    cmocka_unit_test(test_answer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
