/* SPDX-License-Identifier: MIT */
/*
 * The redundant operations partition (claim 47; docs/ops-ha.md): the snapshot frame its peers
 * exchange (include/ultra/ops_replica.h) in the base64 text a JSON reply carries, and the
 * rules by which one of the two is active. Pure functions: no I/O, no clock.
 */
#ifndef ULTRA_LIB_OPS_REPLICA_H
#define ULTRA_LIB_OPS_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ultra/ops_replica.h>

/* RFC 4648 base64 with padding. Encode: a malloc'ed NUL-terminated text. Decode: strict (no
 * whitespace, no other alphabet, length a multiple of 4, padding only at the end, unused bits
 * zero); 0 and a malloc'ed *out, or -EINVAL. */
int uv_base64_encode(const void *in, size_t len, char **out);
int uv_base64_decode(const char *in, size_t len, uint8_t **out, size_t *outlen);

/* A decoded snapshot: image is malloc'ed (free it). */
struct uv_ops_snap {
	uint64_t epoch;
	uint64_t seq;
	uint8_t *image;
	size_t len;
};

/* The frame of (epoch, seq, image) in base64; 0 or -ENOMEM, -EMSGSIZE (image over the bound). */
int uv_ops_snap_encode(uint64_t epoch, uint64_t seq, const void *image, size_t len, char **b64);
/* Checks and opens a frame: -EINVAL (not base64), -EBADMSG (torn, altered, wrong magic,
 * version or size), -EMSGSIZE; err says which. out is untouched on failure. */
int uv_ops_snap_decode(const char *b64, size_t b64len, struct uv_ops_snap *out, char *err,
                       size_t errlen);

/* A pushed snapshot's base64 text, gathered from the chunks of replica-push. */
struct uv_ops_chunks {
	char *text; /* NUL-terminated once whole */
	size_t len, total;
	uint64_t epoch, seq;
};

/* Adds n bytes of data at off of a text of total bytes for (epoch, seq); offset 0 starts a new
 * one. 1 when whole, 0 while more is to come; -EINVAL (out of order, another snapshot, past the
 * end, empty), -EMSGSIZE (total over the bound), -ENOMEM, with everything gathered dropped. */
int uv_ops_chunks_add(struct uv_ops_chunks *c, uint64_t epoch, uint64_t seq, uint64_t total,
                      uint64_t off, const char *data, size_t n);
void uv_ops_chunks_reset(struct uv_ops_chunks *c);

/* Epochs (docs/ops-ha.md): each takeover writes epoch + 1 to the store before acting. */
enum uv_ops_role { UV_OPS_STANDBY = 0, UV_OPS_ACTIVE = 1 };

struct uv_ops_peer_view {
	enum uv_ops_role role;
	uint64_t epoch;
	uint64_t seq;
	const char *name;
};

enum uv_ops_action { UV_OPS_STAY = 0, UV_OPS_TAKE_OVER, UV_OPS_STEP_DOWN };

/* What me does now. peer: what the other one said just now, NULL when it has not answered for
 * silent_ms. An active one steps down for any peer of a higher epoch (or an active one of the
 * same epoch that outranks it by name); a standby takes over when the peer has been silent for
 * dead_ms, or when both are standbys and it wins the election (higher epoch, then more changes,
 * then the lower name). */
enum uv_ops_action uv_ops_decide(const struct uv_ops_peer_view *me,
                                 const struct uv_ops_peer_view *peer, long long silent_ms,
                                 unsigned dead_ms);
/* The epoch a takeover writes: one above both its own and the highest a peer ever showed. */
uint64_t uv_ops_next_epoch(uint64_t mine, uint64_t peer_seen);
const char *uv_ops_role_name(enum uv_ops_role r);
/* "active" / "standby" -> role; -EINVAL otherwise. */
int uv_ops_role_parse(const char *s, enum uv_ops_role *out);

#endif
