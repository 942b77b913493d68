/* SPDX-License-Identifier: MIT */
/*
 * The envelope the system partitions' JSON control APIs share (command.sock, ops.sock):
 *   {"version":N,"execute":VERB,"arguments":{...}} -> {"return":...} |
 *                                                    {"error":{"code":CODE,"message":SENTENCE}}
 * Unknown members and arguments are refused by name, so a client built for a later version
 * fails loudly. Errors come back as a code and a sentence in the caller's buffers.
 */
#ifndef ULTRA_LIB_JSONAPI_H
#define ULTRA_LIB_JSONAPI_H

#include <json-c/json.h>
#include <stddef.h>

/* An error for either API: code is one of the documented codes, message a sentence. */
struct api_err {
	const char *code;
	char message[512];
};

/* Sets e and returns -1, so a failing step reads `return api_fail(e, CODE, ...)`. */
int api_fail(struct api_err *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks req's envelope; returns its "execute" (owned by req) and its arguments (NULL if none)
 * in *args, or NULL with *code and msg set. who says whose version is spoken ("the command
 * partition"). */
const char *uv_api_envelope(json_object *req, int version, const char *who, json_object **args,
                            const char **code, char *msg, size_t cap);
/* 0 if every member of args is in allowed (NULL-terminated), else -1 with *code and msg set. */
int uv_api_args_known(json_object *args, const char *const *allowed, const char *verb,
                      const char **code, char *msg, size_t cap);
/* code as the static string of the command partition's documented error codes
 * (docs/command.md) when it is one of them, else fallback: a peer's answer kept in an api_err,
 * which holds a code's pointer, not a copy. */
const char *uv_api_command_code(const char *code, const char *fallback);
/* {"return": ret} when ret is not NULL (taking it), else {"error": {code, message}}. */
json_object *uv_api_reply(json_object *ret, const char *code, const char *message);

#endif
