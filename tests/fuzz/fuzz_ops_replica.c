/* SPDX-License-Identifier: MIT */
/*
 * What a standby decodes from its peer (claim 47; docs/ops-ha.md): the base64 snapshot frame,
 * and the SQLite image inside it as the store's import checks it. The first byte picks one:
 * 0..63 the bytes are the frame's base64 text; 64..127 chunks of it as replica-push brings them;
 * otherwise epoch and seq (8 bytes each) and an image that passed the frame (whose checksum a
 * fuzzer could not forge), imported into an in-memory store. Neither may crash; a decoded frame's
 * image lies within what was given; an import that fails leaves the store readable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opsdb.h"
#include "opsdb_replica.h"
#include "ops_replica.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void import(const uint8_t *data, size_t size)
{
	struct uv_ops_snap s = {.epoch = 1, .seq = 1, .image = (uint8_t *)data, .len = size};
	struct ops_domain *d = NULL;
	struct opsdb *db = NULL;
	uint64_t epoch, seq;
	char err[256];
	size_t n = 0;

	if (opsdb_open(":memory:", &db, err, sizeof(err)) || opsdb_replica_prepare(db))
		abort();
	if (size >= 16) { /* the input names the counters, so a match is reachable */
		memcpy(&s.epoch, data, 8);
		memcpy(&s.seq, data + 8, 8);
		s.image += 16;
		s.len -= 16;
	}
	if (opsdb_replica_import(db, &s, err, sizeof(err)) == 0) {
		if (opsdb_replica_get(db, &epoch, &seq) || epoch != s.epoch || seq != s.seq)
			abort();
	} else if (opsdb_domain_list(db, &d, &n) || n) {
		abort(); /* refused: the store must still be the empty one it was */
	}
	free(d);
	opsdb_close(db);
}

/* Chunks as replica-push brings them: a 2-byte total, then records of [offset lo, length,
 * bytes]; the gathered text, once whole, goes to the frame decoder. */
static void chunks(const uint8_t *data, size_t size)
{
	struct uv_ops_chunks c = {0};
	struct uv_ops_snap s;
	size_t i = 2, n;
	char err[256];
	int r = 0;

	if (size < 2)
		return;
	while (i + 2 <= size) {
		n = data[i + 1];
		if (n > size - i - 2)
			n = size - i - 2;
		r = uv_ops_chunks_add(&c, 1, 1, (uint64_t)data[0] | (uint64_t)data[1] << 8,
		                      c.len + (data[i] & 1 ? data[i] : 0),
		                      (const char *)data + i + 2, n);
		if (r < 0 && c.text)
			abort(); /* a refusal drops what was gathered */
		if (r == 1) {
			if (strlen(c.text) > c.total)
				abort();
			if (uv_ops_snap_decode(c.text, c.len, &s, err, sizeof(err)) == 0)
				free(s.image);
			uv_ops_chunks_reset(&c);
		}
		i += 2 + n;
	}
	uv_ops_chunks_reset(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uv_ops_snap s;
	char err[256];

	if (!size)
		return 0;
	if (data[0] >= 64 && data[0] < 128) {
		chunks(data + 1, size - 1);
		return 0;
	}
	if (data[0] < 64) {
		if (uv_ops_snap_decode((const char *)data + 1, size - 1, &s, err, sizeof(err)) ==
		    0) {
			if (s.len > (size - 1) / 4 * 3)
				abort();
			free(s.image);
		}
		return 0;
	}
	import(data + 1, size - 1);
	return 0;
}
