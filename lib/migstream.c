/* SPDX-License-Identifier: MIT */
/* Stream tokens and the stream's first line (lib/migstream.h). Everything here reads bytes a
 * network peer chose: the line parser accepts one exact shape and bounds every length. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "migstream.h"

static int hexdigit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

int uv_stream_token_valid(const char *s)
{
	for (int i = 0; i < UV_STREAM_TOKEN_LEN; i++)
		if (!hexdigit(s[i]))
			return 0;
	return s[UV_STREAM_TOKEN_LEN] == 0;
}

int uv_stream_token_new(char out[UV_STREAM_TOKEN_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[UV_STREAM_TOKEN_LEN / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[UV_STREAM_TOKEN_LEN] = 0;
	return 0;
}

int uv_stream_line_parse(const char *buf, size_t len, char token[UV_STREAM_TOKEN_LEN + 1],
                         char *why, size_t whylen)
{
	const size_t plen = sizeof(UV_STREAM_PREFIX) - 1;
	const char *p = buf + plen, *end = buf + len;
	unsigned long ver = 0;
	char tok[UV_STREAM_TOKEN_LEN + 1];

	/* "ultra-stream" without its space is still meant as one: refused, not relayed. */
	if (len < plen - 1 || memcmp(buf, UV_STREAM_PREFIX, plen - 1))
		return 0;
	if (len > UV_STREAM_LINE_MAX || buf[len - 1] != '\n' || len < plen ||
	    buf[plen - 1] != ' ') {
		snprintf(why, whylen, "a malformed stream line (%zu bytes)", len);
		return -EINVAL;
	}
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		if (ver < 1000)
			ver = ver * 10 + (unsigned long)(*p - '0');
	if (p == buf + plen || p >= end || *p != ' ') {
		snprintf(why, whylen, "a stream line without a version");
		return -EINVAL;
	}
	/* One spelling per line ("01" is not 1): what is accepted is what uv_stream_line_make
	 * writes, byte for byte, so no two lines mean the same stream. */
	if (buf[plen] == '0') {
		snprintf(why, whylen, "a stream line version with a leading zero");
		return -EINVAL;
	}
	if (ver != UV_STREAM_VERSION) {
		snprintf(why, whylen, "stream line version %lu (this gateway speaks %d)", ver,
		         UV_STREAM_VERSION);
		return -EPROTONOSUPPORT;
	}
	p++;
	if (end - p != UV_STREAM_TOKEN_LEN + 1) {
		snprintf(why, whylen, "a stream token of %td bytes (expected %d hex digits)",
		         end - p - 1, UV_STREAM_TOKEN_LEN);
		return -EINVAL;
	}
	memcpy(tok, p, UV_STREAM_TOKEN_LEN);
	tok[UV_STREAM_TOKEN_LEN] = 0;
	if (!uv_stream_token_valid(tok)) {
		snprintf(why, whylen, "a stream token that is not %d lowercase hex digits",
		         UV_STREAM_TOKEN_LEN);
		return -EINVAL;
	}
	memcpy(token, tok, sizeof(tok));
	return 1;
}

size_t uv_stream_line_make(const char *token, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s%d %s\n", UV_STREAM_PREFIX, UV_STREAM_VERSION, token);

	return n < 0 ? 0 : (size_t)n;
}

/* Constant time in the token's bytes: a remote guesser learns nothing from how long a
 * refusal takes. */
static int same_token(const char *a, const char *b)
{
	unsigned char d = 0;

	for (int i = 0; i < UV_STREAM_TOKEN_LEN; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static int live(const struct uv_stream_token *s, uint64_t now_ms)
{
	return s->token[0] && now_ms < s->expires_ms;
}

static int live_consoles(const struct uv_stream_tokens *t, uint64_t now_ms)
{
	int n = 0;

	for (int i = 0; i < UV_STREAM_TOKENS_MAX; i++)
		n += live(&t->slot[i], now_ms) && t->slot[i].kind == UV_STREAM_CONSOLE;
	return n;
}

int uv_stream_tokens_issue(struct uv_stream_tokens *t, const char *name, const char *path,
                           uint64_t now_ms, uint64_t ttl_ms, char out[UV_STREAM_TOKEN_LEN + 1])
{
	return uv_stream_tokens_issue_kind(t, UV_STREAM_MIGRATION, name, path, now_ms, ttl_ms, out);
}

int uv_stream_tokens_issue_kind(struct uv_stream_tokens *t, enum uv_stream_kind kind,
                                const char *name, const char *path, uint64_t now_ms,
                                uint64_t ttl_ms, char out[UV_STREAM_TOKEN_LEN + 1])
{
	struct uv_stream_token *free_slot = NULL;
	char tok[UV_STREAM_TOKEN_LEN + 1];
	int r;

	if (strlen(name) >= UV_STREAM_NAME_MAX || strlen(path) >= UV_STREAM_PATH_MAX)
		return -ENAMETOOLONG;
	if (kind == UV_STREAM_MIGRATION)
		uv_stream_tokens_drop(t, name);
	else if (live_consoles(t, now_ms) >= UV_STREAM_CONSOLE_MAX)
		return -ENOSPC;
	for (int i = 0; i < UV_STREAM_TOKENS_MAX && !free_slot; i++)
		if (!live(&t->slot[i], now_ms))
			free_slot = &t->slot[i];
	if (!free_slot)
		return -ENOSPC;
	if ((r = uv_stream_token_new(tok)))
		return r;
	memset(free_slot, 0, sizeof(*free_slot));
	memcpy(free_slot->token, tok, sizeof(tok));
	snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
	snprintf(free_slot->path, sizeof(free_slot->path), "%s", path);
	free_slot->expires_ms = now_ms + ttl_ms;
	free_slot->kind = kind;
	memcpy(out, tok, sizeof(tok));
	return 0;
}

int uv_stream_tokens_claim(struct uv_stream_tokens *t, const char *token, uint64_t now_ms,
                           char *name, size_t name_cap, char *path, size_t path_cap)
{
	enum uv_stream_kind kind;

	return uv_stream_tokens_claim_kind(t, token, now_ms, name, name_cap, path, path_cap, &kind);
}

int uv_stream_tokens_claim_kind(struct uv_stream_tokens *t, const char *token, uint64_t now_ms,
                                char *name, size_t name_cap, char *path, size_t path_cap,
                                enum uv_stream_kind *kind)
{
	struct uv_stream_token *s = NULL;

	if (!token || !uv_stream_token_valid(token))
		return -EINVAL;
	/* Every slot is compared, found or not. */
	for (int i = 0; i < UV_STREAM_TOKENS_MAX; i++)
		if (t->slot[i].token[0] && same_token(t->slot[i].token, token))
			s = &t->slot[i];
	if (!s)
		return -ENOENT;
	if (now_ms >= s->expires_ms)
		return -ETIME;
	if (s->used)
		return -EALREADY;
	if (strlen(s->name) >= name_cap || strlen(s->path) >= path_cap)
		return -ENAMETOOLONG;
	s->used = 1; /* kept until it expires, so that a replay is named as one */
	snprintf(name, name_cap, "%s", s->name);
	snprintf(path, path_cap, "%s", s->path);
	*kind = s->kind;
	return 0;
}

void uv_stream_tokens_drop(struct uv_stream_tokens *t, const char *name)
{
	for (int i = 0; i < UV_STREAM_TOKENS_MAX; i++)
		if (t->slot[i].token[0] && t->slot[i].kind == UV_STREAM_MIGRATION &&
		    !strcmp(t->slot[i].name, name))
			memset(&t->slot[i], 0, sizeof(t->slot[i]));
}

const char *uv_stream_claim_error(int r)
{
	switch (r) {
	case -EINVAL:
		return "not a stream token";
	case -ENOENT:
		return "unknown stream token";
	case -EALREADY:
		return "stream token already used (a replay)";
	case -ETIME:
		return "stream token expired";
	default:
		return "stream token refused";
	}
}

int uv_stream_reply_token(json_object *ret, char token[UV_STREAM_TOKEN_LEN + 1])
{
	json_object *v;
	const char *s;

	if (!json_object_is_type(ret, json_type_object) ||
	    !json_object_object_get_ex(ret, "stream_token", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -EPROTO;
	s = json_object_get_string(v);
	if (json_object_get_string_len(v) != UV_STREAM_TOKEN_LEN || !uv_stream_token_valid(s))
		return -EPROTO;
	memcpy(token, s, UV_STREAM_TOKEN_LEN + 1);
	return 0;
}

int uv_stream_claim_reply_path(json_object *ret, char *path, size_t cap)
{
	json_object *v;
	int n;

	if (!json_object_is_type(ret, json_type_object) ||
	    !json_object_object_get_ex(ret, "path", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -EPROTO;
	n = json_object_get_string_len(v);
	if (n < 2 || (size_t)n >= cap || n >= UV_STREAM_PATH_MAX ||
	    json_object_get_string(v)[0] != '/' || memchr(json_object_get_string(v), 0, (size_t)n))
		return -EPROTO;
	memcpy(path, json_object_get_string(v), (size_t)n + 1);
	return 0;
}

int uv_stream_answer_parse(const char *line, char *err, size_t errlen)
{
	json_object *reply = json_tokener_parse(line), *e, *m;
	int r = -EPROTO;

	if (json_object_is_type(reply, json_type_object) &&
	    json_object_object_get_ex(reply, "return", NULL)) {
		r = 0;
	} else if (json_object_is_type(reply, json_type_object) &&
	           json_object_object_get_ex(reply, "error", &e) &&
	           json_object_object_get_ex(e, "message", &m) &&
	           json_object_is_type(m, json_type_string)) {
		snprintf(err, errlen, "the gateway refused the stream: %.200s",
		         json_object_get_string(m));
	} else {
		snprintf(err, errlen, "the gateway's answer to the stream line does not parse");
	}
	json_object_put(reply);
	return r;
}
