/* SPDX-License-Identifier: MIT */
/*
 * ultra-ops: the operations partition (claims 35-38, 46, 86; docs/operations.md).
 *
 *   ultra-ops [--run-dir RUN] [--db PATH] [--command ADDR] [--now-file PATH] [--tick-ms N]
 *             [--host-dead-ms N] [--tls-ca CA --tls-cert CERT --tls-key KEY [--tls-crl CRL]]
 *             [--peer ADDR [--witness ADDR] [--name NAME] [--peer-dead-ms N]]
 *
 * Keeps definitions, domains, schedules and hosts in SQLite at PATH, pushes the definitions to
 * the command partition at ADDR (a socket path, or tls://HOST:PORT: another host's gateway,
 * docs/cmdnet.md; once hosts are registered, to theirs) whenever it (re)appears, starts
 * autostart partitions, puts scheduled CPU shares in force every tick, restarts a failed host's
 * partitions elsewhere, and serves RUN/ops.sock. With --peer it is one of a redundant pair on
 * two hosts (claim 47; docs/ops-ha.md): only the active one acts, the standby keeps a copy;
 * with --witness (ultra-witness on a third host) only one acts even when the two are cut off
 * from each other.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ultra-ops [--run-dir RUN] [--db PATH] [--command ADDR] "
	    "[--now-file PATH] [--tick-ms N] [--host-dead-ms N]\n"
	    "                 [--tls-ca CA --tls-cert CERT --tls-key KEY [--tls-crl CRL]]\n"
	    "RUN defaults to $ULTRA_RUN_DIR or /run/ultravisor, ADDR to RUN/command.sock\n"
	    "(or unix:PATH, or tls://HOST:PORT with the cluster CA and our certificate;\n"
	    "--tls-crl: the CA's revocation list, read at each new connection),\n"
	    "PATH to /var/lib/ultravisor/ops.db. --now-file: a file whose Unix seconds stand\n"
	    "for now while it holds them (tests). Times of day are local (TZ).\n"
	    "--host-dead-ms: a registered host silent this long is down and its partitions\n"
	    "are started elsewhere (default 5000).\n"
	    "--peer ADDR: the other operations partition's ops.sock (a path or its gateway's\n"
	    "tls://HOST:PORT); one of the two is active, the other a standby that takes over\n"
	    "when the active one is silent for --peer-dead-ms (default 5000, at least 4 ticks).\n"
	    "--witness ADDR: ultra-witness on a third host (a path or tls://HOST:PORT): the\n"
	    "active one acts only while the witness or the peer backs it, a standby takes\n"
	    "over only when the witness grants it the lease.\n"
	    "--name: ours, different from the peer's (default the host name).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"run-dir", required_argument, NULL, 'r'},
	    {"db", required_argument, NULL, 'd'},
	    {"command", required_argument, NULL, 'c'},
	    {"now-file", required_argument, NULL, 'n'},
	    {"tick-ms", required_argument, NULL, 't'},
	    {"host-dead-ms", required_argument, NULL, 'D'},
	    {"tls-ca", required_argument, NULL, 'A'},
	    {"tls-cert", required_argument, NULL, 'C'},
	    {"tls-key", required_argument, NULL, 'K'},
	    {"tls-crl", required_argument, NULL, 'R'},
	    {"peer", required_argument, NULL, 'P'},
	    {"witness", required_argument, NULL, 'W'},
	    {"name", required_argument, NULL, 'N'},
	    {"peer-dead-ms", required_argument, NULL, 'E'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct ops o = {.listen_fd = -1, .tick_ms = 1000, .dead_ms = 5000};
	const char *db = "/var/lib/ultravisor/ops.db", *peer = NULL, *name = NULL, *witness = NULL;
	char cmd_path[PATH_MAX], err[512], host[UV_NAME_MAX] = "";
	unsigned peer_dead_ms = 5000;
	int c, r;

	o.run_dir = getenv("ULTRA_RUN_DIR") ? getenv("ULTRA_RUN_DIR") : "/run/ultravisor";
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.run_dir = optarg;
			break;
		case 'd':
			db = optarg;
			break;
		case 'c':
			o.cmd_path = optarg;
			break;
		case 'n':
			o.now_file = optarg;
			break;
		case 't':
			o.tick_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'A':
			o.tls.ca = optarg;
			break;
		case 'C':
			o.tls.cert = optarg;
			break;
		case 'K':
			o.tls.key = optarg;
			break;
		case 'R':
			o.tls.crl = optarg;
			break;
		case 'D':
			o.dead_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'P':
			peer = optarg;
			break;
		case 'W':
			witness = optarg;
			break;
		case 'N':
			name = optarg;
			break;
		case 'E':
			peer_dead_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || o.tick_ms < 10 || o.tick_ms > 60000 || o.dead_ms < 100 ||
	    o.dead_ms > 600000 || peer_dead_ms < 100 || peer_dead_ms > 600000 ||
	    (peer && peer_dead_ms < 4 * o.tick_ms) || (witness && !peer) ||
	    (name && (!*name || strlen(name) >= sizeof(host)))) {
		usage(stderr);
		return 2;
	}
	if (!o.cmd_path) {
		snprintf(cmd_path, sizeof(cmd_path), "%s/command.sock", o.run_dir);
		o.cmd_path = cmd_path;
	}
	if (opsdb_open(db, &o.db, err, sizeof(err))) {
		fprintf(stderr, "ultra-ops: %s\n", err);
		return 1;
	}
	if ((r = ops_nodes_load(&o))) {
		fprintf(stderr, "ultra-ops: %s: reading the hosts: %s\n", db, strerror(-r));
		opsdb_close(o.db);
		return 1;
	}
	if (ops_server_listen(&o, err, sizeof(err))) {
		fprintf(stderr, "ultra-ops: %s\n", err);
		ops_nodes_free(&o);
		opsdb_close(o.db);
		return 1;
	}
	if ((r = ops_moves_init(&o))) {
		fprintf(stderr, "ultra-ops: %s\n", strerror(-r));
		ops_nodes_free(&o);
		opsdb_close(o.db);
		return 1;
	}
	if (peer && !name) {
		gethostname(host, sizeof(host) - 1);
		name = host;
	}
	if (peer &&
	    ops_replica_start(&o, db, peer, witness, name, peer_dead_ms, err, sizeof(err))) {
		fprintf(stderr, "ultra-ops: %s\n", err);
		ops_moves_free(&o);
		ops_nodes_free(&o);
		opsdb_close(o.db);
		return 1;
	}
	if (peer)
		fprintf(stderr, "ultra-ops: %s, standby until its peer at %s is heard from%s%s\n",
		        name, peer, witness ? "; witness " : "", witness ? witness : "");
	if (o.implicit)
		fprintf(stderr, "ultra-ops: store %s, serving %s/ops.sock, command partition %s\n",
		        db, o.run_dir, o.cmd_path);
	else
		fprintf(stderr, "ultra-ops: store %s, serving %s/ops.sock, %zu hosts\n", db,
		        o.run_dir, o.n_nodes);
	r = ops_server_run(&o);
	ops_moves_free(&o);
	ops_replica_stop(&o);
	ops_nodes_free(&o);
	opsdb_close(o.db);
	return r ? 1 : 0;
}
