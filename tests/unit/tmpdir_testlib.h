/* SPDX-License-Identifier: MIT */
/* A scratch folder per test case, made in a fixture's setup and removed with all it holds in its
 * teardown: the operations store's unit tests. */
#ifndef ULTRA_TEST_TMPDIR_TESTLIB_H
#define ULTRA_TEST_TMPDIR_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>

/* /tmp/PREFIX-XXXXXX made in dir (cap bytes); 0 or -1. */
static inline int test_tmpdir_make(char *dir, size_t cap, const char *prefix)
{
	snprintf(dir, cap, "/tmp/%s-XXXXXX", prefix);
	return mkdtemp(dir) ? 0 : -1;
}

/* dir and everything in it; 0 or -1. */
static inline int test_tmpdir_remove(const char *dir)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
