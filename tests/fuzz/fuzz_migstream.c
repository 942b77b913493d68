/* SPDX-License-Identifier: MIT */
/* What the gateway reads first from a network client (lib/migstream.c: the stream line) and the
 * answers the stream's two ends read (migrate-in's and console-token's token, stream-claim's
 * path, the gateway's answer to the stream line). A line taken as
 * a stream line yields exactly 64 lowercase hex digits and was of the one accepted shape; a
 * claim against a table holding one token succeeds only for that token, once. */
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const uint8_t *data, size_t size)
{
	char tok[UV_STREAM_TOKEN_LEN + 1], why[160], line[UV_STREAM_LINE_MAX + 1];
	int r = uv_stream_line_parse((const char *)data, size, tok, why, sizeof(why));

	if (r != 1)
		return;
	if (!uv_stream_token_valid(tok) || size != uv_stream_line_make(tok, line, sizeof(line)) ||
	    memcmp(line, data, size))
		abort();
}

static void check_claim(const uint8_t *data, size_t size)
{
	static struct uv_stream_tokens t;
	char real[UV_STREAM_TOKEN_LEN + 1], guess[UV_STREAM_TOKEN_LEN + 1], name[64], path[108];

	memset(&t, 0, sizeof(t));
	if (uv_stream_tokens_issue(&t, "p", "/run/p/migrate.sock", 0, 1000, real))
		abort();
	if (size > UV_STREAM_TOKEN_LEN)
		size = UV_STREAM_TOKEN_LEN;
	memcpy(guess, data, size);
	guess[size] = 0;
	if (uv_stream_tokens_claim(&t, guess, 1, name, sizeof(name), path, sizeof(path)) == 0 &&
	    strcmp(guess, real))
		abort();
	if (uv_stream_tokens_claim(&t, real, 1, name, sizeof(name), path, sizeof(path)) != 0 ||
	    uv_stream_tokens_claim(&t, real, 2, name, sizeof(name), path, sizeof(path)) !=
	        -EALREADY)
		abort();
}

static void check_replies(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), tok[UV_STREAM_TOKEN_LEN + 1], path[108], err[120] = "";
	json_object *o;

	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = 0;
	o = json_tokener_parse(s);
	if (uv_stream_reply_token(o, tok) == 0 && !uv_stream_token_valid(tok))
		abort();
	if (uv_stream_claim_reply_path(o, path, sizeof(path)) == 0 &&
	    (path[0] != '/' || strlen(path) >= sizeof(path)))
		abort();
	/* The answer is accepted only as an object with a return member. */
	if (uv_stream_answer_parse(s, err, sizeof(err)) == 0 &&
	    !(json_object_is_type(o, json_type_object) &&
	      json_object_object_get_ex(o, "return", NULL)))
		abort();
	if (strnlen(err, sizeof(err)) >= sizeof(err))
		abort();
	json_object_put(o);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_line(data, size);
	check_replies(data, size);
	if (size < 256)
		check_claim(data, size);
	return 0;
}
