/* SPDX-License-Identifier: MIT */
/*
 * The witness of a redundant pair of operations partitions (claim 47; docs/ops-ha.md "The
 * witness"): a third voter that grants one of the two a lease to act. Three parts, each pure
 * or nearly so, shared by the witness (witness/) and its clients (ops/witness.c):
 *
 *   witness_state.c  its record on disk (include/ultra/witness.h): encode, check, load, save
 *   witness_lease.c  the rules: whom it grants, and how long a holder may act on a grant
 *   witness_msg.c    the JSON lines it speaks: requests and answers, encoded and checked
 *
 * Times are CLOCK_MONOTONIC milliseconds of whichever machine computes them, and a lease is a
 * duration: the witness counts it from when a request arrived, the holder from when it sent it,
 * so neither needs the other's clock, only a similar rate.
 */
#ifndef ULTRA_LIB_WITNESS_H
#define ULTRA_LIB_WITNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ultra/witness.h>

#define UV_WIT_API_VERSION 1
#define UV_WIT_LEASE_MIN_MS 100
#define UV_WIT_LEASE_MAX_MS 600000
#define UV_WIT_LINE_MAX 4096 /* a request or an answer, '\n' included */

/* What the witness remembers across restarts. */
struct uv_wit_record {
	char holder[UV_WIT_HOLDER_MAX]; /* "" before any grant */
	uint64_t epoch;
	uint32_t lease_ms;
};

/* A name the witness accepts: 1..31 bytes of printable ASCII, no space, none of them NUL. */
bool uv_wit_name_ok(const char *s, size_t len);

/* The record as it goes to disk. */
void uv_wit_record_encode(const struct uv_wit_record *r, struct uv_wit_state_rec *out);
/* Checks len bytes as a record: -EBADMSG (size, magic, version, checksum, a reserved byte, a
 * holder that is not a name, a lease length out of bounds), err says which. out untouched on
 * failure. */
int uv_wit_record_decode(const void *buf, size_t len, struct uv_wit_record *out, char *err,
                         size_t errlen);
/* The record in path: 0, -ENOENT (no file: a witness that never granted), -EBADMSG or another
 * negative errno with err. */
int uv_wit_record_load(const char *path, struct uv_wit_record *out, char *err, size_t errlen);
/* Replaces path with r durably (written beside it, fsync'ed, renamed, the folder fsync'ed). */
int uv_wit_record_save(const char *path, const struct uv_wit_record *r);

/* The witness's lease: its record and when, on its own clock, the holder's lease ends. */
struct uv_wit_lease {
	struct uv_wit_record rec;
	long long expires_ms;
};

struct uv_wit_ask {
	char name[UV_WIT_HOLDER_MAX];
	uint64_t epoch;    /* the term the asker acts in (a standby: the one it would take) */
	uint32_t lease_ms; /* UV_WIT_LEASE_MIN_MS..UV_WIT_LEASE_MAX_MS */
};

enum uv_wit_verdict {
	UV_WIT_GRANTED = 0,
	UV_WIT_HELD,  /* another holds an unexpired lease (or the witness restarted lately) */
	UV_WIT_STALE, /* the epoch is not above the holder's (or below the asker's own) */
};

/* A witness starting on rec (from disk): its holder, if any, is taken to hold the lease for one
 * more lease length from now, since it may have been renewed just before the restart. */
void uv_wit_lease_restart(struct uv_wit_lease *l, const struct uv_wit_record *rec,
                          long long now_ms);
/* The verdict on a, received at now_ms. Granted: *next is the new state (persist next->rec
 * before answering when it differs from l->rec). The holder renews at an epoch no lower than
 * its own; anyone else is granted only once the lease has expired and with a higher epoch. */
enum uv_wit_verdict uv_wit_lease_ask(const struct uv_wit_lease *l, const struct uv_wit_ask *a,
                                     long long now_ms, struct uv_wit_lease *next);
/* Milliseconds the holder's lease has left (0 when expired or none). */
long long uv_wit_lease_left(const struct uv_wit_lease *l, long long now_ms);
/* Until when the holder may act on a grant to a request it sent at sent_ms (its own clock):
 * three quarters of the lease, so that it stops before the witness, which counts from the
 * later arrival, would grant anyone else, even with its clock a quarter faster. */
long long uv_wit_holder_until(long long sent_ms, uint32_t lease_ms);

/* The requests: "lease" {name, epoch, lease_ms} and "witness-status" {}. */
enum uv_wit_verb { UV_WIT_VERB_LEASE, UV_WIT_VERB_STATUS };

/* One request line (without its '\n'): 0 with *verb and, for a lease, *ask; or -EINVAL with
 * *code (a jsonapi error code) and err. Every member is checked: the envelope, no unknown
 * argument, the name, an epoch of 1..INT64_MAX, a lease length in bounds. */
int uv_wit_request_decode(const char *line, size_t len, enum uv_wit_verb *verb,
                          struct uv_wit_ask *ask, const char **code, char *err, size_t errlen);
/* The lease request line for a (malloc'ed, no '\n'), or NULL when out of memory. */
char *uv_wit_request_encode(const struct uv_wit_ask *a);

/* The witness's answer to either request: its state now, and whether the lease was granted. */
struct uv_wit_answer {
	bool granted;
	char holder[UV_WIT_HOLDER_MAX]; /* "" when none */
	uint64_t epoch;
	uint32_t lease_ms;
	uint32_t left_ms; /* the holder's lease left, as the witness counts */
};

/* {"return": {...}} for a (malloc'ed), or NULL. */
char *uv_wit_answer_encode(const struct uv_wit_answer *a);
/* One answer line: 0 and *out; -EPROTO for an error answer (its code and message in err);
 * -EINVAL for anything else that is not a well-formed answer (err says what). out untouched on
 * failure. */
int uv_wit_answer_decode(const char *line, size_t len, struct uv_wit_answer *out, char *err,
                         size_t errlen);

#endif
