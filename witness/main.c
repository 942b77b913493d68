/* SPDX-License-Identifier: MIT */
/*
 * ultra-witness: the third voter of a redundant pair of operations partitions (claim 47;
 * docs/ops-ha.md "The witness").
 *
 *   ultra-witness [--run-dir RUN] [--state PATH]
 *
 * Serves RUN/witness.sock; remembers its holder in PATH. On a third host, behind an
 * ultra-cmdgw whose --command is RUN/witness.sock and whose --allow-cn names both peers.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wit_daemon.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ultra-witness [--run-dir RUN] [--state PATH]\n"
	           "RUN defaults to $ULTRA_RUN_DIR or /run/ultravisor (serving RUN/witness.sock),\n"
	           "PATH to /var/lib/ultravisor/witness.state: whom the lease was granted to.\n"
	           "After a restart the last holder keeps its lease for one lease length and no\n"
	           "one else is granted it meanwhile.\n");
}

/* The record from disk, or none when there is no file yet. */
static int load(struct witness *w)
{
	struct uv_wit_record rec = {0};
	char err[512];
	int rc = uv_wit_record_load(w->state_path, &rec, err, sizeof(err));

	if (rc && rc != -ENOENT) {
		fprintf(stderr,
		        "ultra-witness: %s; not starting (move the file away only with "
		        "both operations partitions stopped)\n",
		        err);
		return rc;
	}
	uv_wit_lease_restart(&w->lease, &rec, witness_mono_ms());
	if (rec.holder[0])
		fprintf(stderr,
		        "ultra-witness: %s holds the lease at epoch %llu; no one else gets it for "
		        "%u ms\n",
		        rec.holder, (unsigned long long)rec.epoch, rec.lease_ms);
	else
		fprintf(stderr, "ultra-witness: no lease granted yet (%s)\n", w->state_path);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"run-dir", required_argument, NULL, 'r'},
	    {"state", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct witness w = {.state_path = "/var/lib/ultravisor/witness.state", .listen_fd = -1};
	const char *run = getenv("ULTRA_RUN_DIR") ? getenv("ULTRA_RUN_DIR") : "/run/ultravisor";
	char err[512];
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'r') {
			run = optarg;
		} else if (c == 's') {
			w.state_path = optarg;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (load(&w))
		return 1;
	if (witness_listen(&w, run, err, sizeof(err))) {
		fprintf(stderr, "ultra-witness: %s\n", err);
		return 1;
	}
	fprintf(stderr, "ultra-witness: serving %s/witness.sock\n", run);
	return witness_serve(&w) ? 1 : 0;
}
