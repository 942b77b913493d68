/* SPDX-License-Identifier: MIT */
/*
 * What a standby decodes from its peer (claim 47; docs/ops-ha.md): the base64 snapshot frame,
 * and the SQLite image inside it as the store's import checks it. The first byte picks one:
 * 0..127 the bytes are the frame's base64 text; otherwise epoch and seq (8 bytes each) and an image
 * that passed the frame (whose checksum a fuzzer could not forge), imported into an in-memory
 * store. Neither may crash; a decoded frame's image lies within what was given; an import that
 * fails leaves the store readable.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uv_ops_snap s;
	char err[256];

	if (!size)
		return 0;
	if (data[0] < 128) {
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
