/* SPDX-License-Identifier: MIT */
/*
 * ultra-witness: the third voter of a redundant pair of operations partitions (claim 47;
 * docs/ops-ha.md "The witness"). It grants one of them a lease to act and remembers whom, in a
 * record of its own (include/ultra/witness.h). It serves JSON lines on RUN/witness.sock; the
 * peers on other hosts reach it through an ultra-cmdgw in front of that socket, as they reach
 * each other.
 */
#ifndef ULTRA_WIT_DAEMON_H
#define ULTRA_WIT_DAEMON_H

#include <stddef.h>

#include "witness.h"

struct witness {
	const char *state_path; /* the record */
	struct uv_wit_lease lease;
	int listen_fd;
};

long long witness_mono_ms(void);
/* The answer to one request line (malloc'ed, no '\n'); NULL when out of memory. A grant that
 * changes the record is on disk before it is answered; one that cannot be saved is refused. */
char *witness_answer(struct witness *w, const char *line, size_t len);
/* Binds RUN/witness.sock. */
int witness_listen(struct witness *w, const char *run_dir, char *err, size_t errlen);
/* Serves until a fatal error (a negative errno). */
int witness_serve(struct witness *w);

#endif
