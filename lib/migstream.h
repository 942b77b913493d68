/* SPDX-License-Identifier: MIT */
/*
 * A migration stream over the network (claims 43, 44; docs/migration.md, "Over the network"):
 * the target's command partition issues a one-time token bound to an incoming partition's
 * stream socket; the source's monitor opens a TLS connection to the target's gateway and sends
 * one line naming it; the gateway has the command partition claim the token, then splices the
 * connection to that socket.
 *
 *   first line:  "ultra-stream 1 " TOKEN "\n"     TOKEN: 64 lowercase hex digits (32 random bytes)
 *
 * Tokens are single-use and expire; a claim compares in constant time.
 */
#ifndef ULTRA_LIB_MIGSTREAM_H
#define ULTRA_LIB_MIGSTREAM_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UV_STREAM_TOKEN_LEN 64 /* hex digits */
#define UV_STREAM_PREFIX "ultra-stream "
#define UV_STREAM_VERSION 1
#define UV_STREAM_LINE_MAX 96 /* the whole first line, '\n' included, with room to spare */
#define UV_STREAM_TOKENS_MAX 16
#define UV_STREAM_TOKEN_TTL_MS 60000 /* a source connects within seconds of migrate-in */
#define UV_STREAM_NAME_MAX 64
#define UV_STREAM_PATH_MAX 108
#define UV_STREAM_CONSOLE_TTL_MS 10000 /* `ultra console` connects right after it asks */
/* Console tokens never take more than half the table: a client that asks for many cannot keep
 * a migration from getting one. */
#define UV_STREAM_CONSOLE_MAX (UV_STREAM_TOKENS_MAX / 2)

/* What a token's stream is spliced to; the command partition checks the partition's state
 * against it when the token is claimed. */
enum uv_stream_kind {
	UV_STREAM_MIGRATION = 0, /* an incoming partition's migrate.sock (docs/migration.md) */
	UV_STREAM_CONSOLE = 1,   /* a running partition's console.sock (docs/cmdnet.md) */
};

/* A fresh token (32 bytes from getrandom, as hex) in out: 0 or -errno. */
int uv_stream_token_new(char out[UV_STREAM_TOKEN_LEN + 1]);
/* Whether s is a well-formed token (exactly 64 lowercase hex digits). */
int uv_stream_token_valid(const char *s);

/*
 * Reads the first line of a connection, buf[0..len) with its '\n' (len counts it): 1 and the
 * token in token when it is a stream line; 0 when it is not one (it does not start with
 * "ultra-stream": a control API request, relayed as before); -EINVAL when it starts like one
 * but is malformed (why says how), -EPROTONOSUPPORT for another version.
 */
int uv_stream_line_parse(const char *buf, size_t len, char token[UV_STREAM_TOKEN_LEN + 1],
                         char *why, size_t whylen);
/* The line for token, '\n' included, in buf (at least UV_STREAM_LINE_MAX): its length. */
size_t uv_stream_line_make(const char *token, char *buf, size_t cap);

struct uv_stream_token {
	char token[UV_STREAM_TOKEN_LEN + 1]; /* "" for a free slot */
	char name[UV_STREAM_NAME_MAX];       /* the partition */
	char path[UV_STREAM_PATH_MAX];       /* its migrate.sock */
	uint64_t expires_ms;                 /* monotonic */
	int used;                            /* claimed once: a second claim is a replay */
	enum uv_stream_kind kind;
};

/* The command partition's outstanding tokens: a fixed table, never growing. */
struct uv_stream_tokens {
	struct uv_stream_token slot[UV_STREAM_TOKENS_MAX];
};

/* A migration token for partition name's stream socket path, valid until now + ttl: any earlier
 * one for name goes. 0 and the token in out, -ENOSPC (every slot live), -ENAMETOOLONG, -errno. */
int uv_stream_tokens_issue(struct uv_stream_tokens *t, const char *name, const char *path,
                           uint64_t now_ms, uint64_t ttl_ms, char out[UV_STREAM_TOKEN_LEN + 1]);
/* The same for either kind. A console token leaves name's other tokens alone (a partition may
 * have several viewers), and -ENOSPC also when UV_STREAM_CONSOLE_MAX console tokens live. */
int uv_stream_tokens_issue_kind(struct uv_stream_tokens *t, enum uv_stream_kind kind,
                                const char *name, const char *path, uint64_t now_ms,
                                uint64_t ttl_ms, char out[UV_STREAM_TOKEN_LEN + 1]);
/* Claims token: 0 with the partition's name and socket path copied out, or -EINVAL (not a
 * token), -ENOENT (unknown), -EALREADY (used: a replay), -ETIME (expired). */
int uv_stream_tokens_claim(struct uv_stream_tokens *t, const char *token, uint64_t now_ms,
                           char *name, size_t name_cap, char *path, size_t path_cap);
/* The same, and the token's kind in *kind. */
int uv_stream_tokens_claim_kind(struct uv_stream_tokens *t, const char *token, uint64_t now_ms,
                                char *name, size_t name_cap, char *path, size_t path_cap,
                                enum uv_stream_kind *kind);
/* Every migration token of partition name goes (its migration ended). */
void uv_stream_tokens_drop(struct uv_stream_tokens *t, const char *name);
/* The token in the target's migrate-in return ("stream_token"), checked: 0 or -EPROTO. */
int uv_stream_reply_token(json_object *ret, char token[UV_STREAM_TOKEN_LEN + 1]);
/* stream-claim's return ({"name", "path"}): the absolute socket path, 0 or -EPROTO. */
int uv_stream_claim_reply_path(json_object *ret, char *path, size_t cap);
/* A sentence for a claim's error. */
const char *uv_stream_claim_error(int r);
/* The gateway's answer to a stream line, line without its '\n' (bytes from the network): 0 for
 * {"return": ...}; -EPROTO with the gateway's refusal, or that it does not parse, in err. */
int uv_stream_answer_parse(const char *line, char *err, size_t errlen);

#endif
