/* SPDX-License-Identifier: MIT */
/*
 * The verb of a JSON-line request, and lists of verbs (VERB,VERB,...): what the command
 * partition's gateway needs to let a certificate ask only some things (--allow-cn CN=VERBS;
 * docs/cmdnet.md, "What a certificate may ask"). The line comes from the network.
 */
#ifndef ULTRA_REQVERB_H
#define ULTRA_REQVERB_H

#include <stdbool.h>
#include <stddef.h>

#define UV_VERB_MAX 64 /* a verb's bytes, its NUL included */

/* The "execute" of line (len bytes, no '\n'), when it is one JSON object and nothing else,
 * into out (cap bytes); false when it is not such a request or the verb does not fit. */
bool uv_req_verb(const char *line, size_t len, char *out, size_t cap);
/* Whether list is VERB[,VERB]...: names of [a-z0-9-], none empty, each under UV_VERB_MAX. */
bool uv_verbs_valid(const char *list);
/* Whether verb is one of list's names, whole. */
bool uv_verbs_has(const char *list, const char *verb);

#endif
