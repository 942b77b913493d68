/* SPDX-License-Identifier: MIT */
/*
 * ultra-command: the command partition (claims 6, 9, 34, 40).
 *
 *   ultra-command [--ultravisor SOCK] [--run-dir RUN] [--monitor PATH] [--partition N]
 *                 [--io SOCK]
 *
 * Connects to the ultravisor as partition N (default 2), role command; serves the control API on
 * RUN/command.sock (docs/command.md). It holds no state of its own: what exists is read from the
 * resource database, so a restarted instance carries on where the last one stopped.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "engine_uid.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ultra-command [--ultravisor SOCK] [--run-dir RUN] [--monitor PATH] "
	    "[--partition N] [--io SOCK] [--engine-uid-base UID]\n"
	    "                     [--tls-ca CA.pem --tls-cert CERT.pem --tls-key KEY.pem\n"
	    "                      [--tls-crl CRL.pem]]\n"
	    "RUN defaults to $ULTRA_RUN_DIR or /run/ultravisor, SOCK to RUN/ultravisor.sock,\n"
	    "PATH to the ultra-monitor next to this program, --io (the I/O partition's control\n"
	    "socket, where disks and NICs are placed) to RUN/io/control.sock. Partition P's\n"
	    "engine runs as uid UID + P (default UID %u), given to its monitor; its export\n"
	    "sockets are that uid's. --tls-*: the cluster CA and this host's client certificate,\n"
	    "for migrating to another host through its gateway (migrate --to tls://HOST:PORT);\n"
	    "--tls-crl: the CA's revocation list, against which that gateway is checked.\n",
	    UV_ENGINE_UID_BASE_DEFAULT);
}

/* ultra-monitor lives next to us in every build. */
static void default_monitor(char *buf, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0) {
		snprintf(buf, cap, "ultra-monitor");
		return;
	}
	self[n] = 0;
	snprintf(buf, cap, "%s/ultra-monitor", dirname(self));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"ultravisor", required_argument, NULL, 'u'},
	    {"run-dir", required_argument, NULL, 'r'},
	    {"monitor", required_argument, NULL, 'm'},
	    {"partition", required_argument, NULL, 'p'},
	    {"io", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {"engine-uid-base", required_argument, NULL, 'U'},
	    {"tls-ca", required_argument, NULL, 'A'},
	    {"tls-cert", required_argument, NULL, 'C'},
	    {"tls-key", required_argument, NULL, 'K'},
	    {"tls-crl", required_argument, NULL, 'R'},
	    {0},
	};
	struct cmdp c = {.uv_sock = -1,
	                 .listen_fd = -1,
	                 .io_fd = -1,
	                 .self = 2,
	                 .uid_base_v = UV_ENGINE_UID_BASE_DEFAULT};
	char uv_path[PATH_MAX], mon[PATH_MAX], io[PATH_MAX], err[512], tls_abs[4][PATH_MAX];
	struct api_err e;
	int o, i;

	c.run_dir = getenv("ULTRA_RUN_DIR") ? getenv("ULTRA_RUN_DIR") : "/run/ultravisor";
	while ((o = getopt_long(argc, argv, "u:r:m:p:i:h", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			c.uv_path = optarg;
			break;
		case 'r':
			c.run_dir = optarg;
			break;
		case 'm':
			c.monitor_bin = optarg;
			break;
		case 'p':
			c.self = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			c.io_path = optarg;
			break;
		case 'U':
			if (uv_engine_uid_base_arg(optarg, &c.uid_base_v, err, sizeof(err))) {
				fprintf(stderr, "ultra-command: %s\n", err);
				return 2;
			}
			c.uid_base = optarg;
			break;
		case 'A':
			c.tls.ca = optarg;
			break;
		case 'C':
			c.tls.cert = optarg;
			break;
		case 'K':
			c.tls.key = optarg;
			break;
		case 'R':
			c.tls.crl = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !c.self ||
	    (c.tls.ca || c.tls.cert || c.tls.key) != (c.tls.ca && c.tls.cert && c.tls.key) ||
	    (c.tls.crl && !c.tls.ca)) {
		usage(stderr);
		return 2;
	}
	/* The monitors open these for the stream, from wherever they run: absolute paths. */
	for (i = 0; c.tls.ca && i < 4; i++) {
		const char **f = i == 0   ? &c.tls.ca
		                 : i == 1 ? &c.tls.cert
		                 : i == 2 ? &c.tls.key
		                          : &c.tls.crl;

		if (!*f)
			continue; /* no CRL */
		if (!realpath(*f, tls_abs[i])) {
			fprintf(stderr, "ultra-command: %s: %s\n", *f, strerror(errno));
			return 2;
		}
		*f = tls_abs[i];
	}
	if (!c.uv_path) {
		snprintf(uv_path, sizeof(uv_path), "%s/ultravisor.sock", c.run_dir);
		c.uv_path = uv_path;
	}
	if (!c.io_path) {
		snprintf(io, sizeof(io), "%s/io/control.sock", c.run_dir);
		c.io_path = io;
	}
	if (!c.monitor_bin) {
		default_monitor(mon, sizeof(mon));
		c.monitor_bin = mon;
	}
	for (i = 0; i < CMD_CLIENTS_MAX; i++)
		c.clients[i].fd = -1;
	if (cmd_uv_connect(&c, &e)) {
		fprintf(stderr, "ultra-command: %s\n", e.message);
		return 1;
	}
	if (cmd_server_listen(&c, err, sizeof(err))) {
		fprintf(stderr, "ultra-command: %s\n", err);
		return 1;
	}
	fprintf(stderr, "ultra-command: partition %u serving %s/command.sock\n", c.self, c.run_dir);
	i = cmd_server_run(&c);
	cmd_uv_close(&c);
	cmd_io_close(&c);
	return i ? 1 : 0;
}
