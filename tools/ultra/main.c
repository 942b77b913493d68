/* SPDX-License-Identifier: MIT */
/*
 * ultra [--json] [-c ADDR [--tls-ca CA --tls-cert CERT --tls-key KEY [--tls-crl CRL]]]
 *       [--state-dir DIR] VERB
 * ARGS: the operator's CLI. ADDR is a socket path or tls://HOST:PORT (docs/cmdnet.md).
 * Exit status: 0 done, 1 refused or failed (the message says why), 2 usage, 3 no command
 * partition to talk to.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ultra.h"

static const struct ultra_verb verbs[] = {
    {"define", "FILE", "record a partition from its JSON definition", ultra_cmd_define},
    {"undefine", "NAME", "forget a stopped partition, giving its memory back", ultra_cmd_undefine},
    {"start", "NAME", "grant its memory and boot it", ultra_cmd_start},
    {"stop", "[--timeout S] [--no-wait] NAME", "shut it down (forced after S seconds)",
     ultra_cmd_stop},
    {"destroy", "NAME", "stop it at once", ultra_cmd_destroy},
    {"pause", "NAME", "stop its vCPUs (memory and devices stay)", ultra_cmd_pause},
    {"resume", "NAME", "let a paused partition's vCPUs run again", ultra_cmd_resume},
    {"migrate", "NAME --to TARGET [--timeout S]",
     "move it, running, to another host's command partition", ultra_cmd_migrate},
    {"list", "", "every partition: name, state, memory, CPUs, uptime", ultra_cmd_list},
    {"info", "NAME", "one partition in detail", ultra_cmd_info},
    {"set-disk-limits",
     "NAME DISK [--iops N] [--bytes-per-sec N] [--read-iops N] [--write-iops N] "
     "[--read-bytes-per-sec N] [--write-bytes-per-sec N]",
     "a disk's I/O limits from now on, running or not (0: none)", ultra_cmd_set_disk_limits},
    {"set-cpu-share", "NAME CPUS", "its CPU share in host CPUs from now on (0: none)",
     ultra_cmd_set_cpu_share},
    {"console", "NAME", "attach to its serial console (detach with Ctrl-])", ultra_cmd_console},
    {"log", "[DIR]", "the ultravisor's audit log", ultra_cmd_log},
    {"top", "[-n N] [-d S]", "running partitions' CPU (host CPUs) and memory, every S seconds",
     ultra_cmd_top},
    {"domain", "create|delete|list ...", "domains: groups of partitions with limits",
     ultra_cmd_domain},
    {"schedule", "add|remove|list ...", "settings that change by time of day", ultra_cmd_schedule},
    {"host", "add|remove|list ...", "hosts the operations partition places partitions on",
     ultra_cmd_host},
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: ultra [--json] [-c ADDR] [--tls-ca CA --tls-cert CERT --tls-key KEY]\n"
	           "             [--tls-crl CRL] [--state-dir DIR] VERB ...\n");
	for (i = 0; i < N_VERBS; i++)
		fprintf(f, "  %-8s %-32s %s\n", verbs[i].name, verbs[i].args, verbs[i].help);
	fprintf(
	    f,
	    "ADDR (a socket path, unix:PATH, or tls://HOST:PORT: another host's command\n"
	    "partition through its gateway, with the cluster CA and this client's certificate\n"
	    "and key; --tls-crl: the CA's revocation list) defaults to $ULTRA_RUN_DIR/command.sock (/run/ultravisor), DIR to\n"
	    "$ULTRA_STATE_DIR or /var/lib/ultravisor. define, undefine and start go through\n"
	    "the operations partition ($ULTRA_RUN_DIR/ops.sock) while it runs.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"connect", required_argument, NULL, 'c'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"tls-ca", required_argument, NULL, 'A'},
	    {"tls-cert", required_argument, NULL, 'C'},
	    {"tls-key", required_argument, NULL, 'K'},
	    {"tls-crl", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct ultra u = {0};
	char sock[4096], ops_sock[4096];
	size_t i;
	int o, rc;

	u.run_dir = getenv("ULTRA_RUN_DIR") ? getenv("ULTRA_RUN_DIR") : "/run/ultravisor";
	u.state_dir = getenv("ULTRA_STATE_DIR") ? getenv("ULTRA_STATE_DIR") : "/var/lib/ultravisor";
	/* Options only before the verb: the verb's own come after it. */
	while ((o = getopt_long(argc, argv, "+jc:s:h", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			u.json = 1;
			break;
		case 'c':
			u.sock = optarg;
			u.direct = 1;
			break;
		case 's':
			u.state_dir = optarg;
			break;
		case 'A':
			u.tls.ca = optarg;
			break;
		case 'C':
			u.tls.cert = optarg;
			break;
		case 'K':
			u.tls.key = optarg;
			break;
		case 'R':
			u.tls.crl = optarg;
			break;
		case 'h':
			usage(stdout);
			return ULTRA_OK;
		default:
			usage(stderr);
			return ULTRA_USAGE;
		}
	}
	if (!u.sock) {
		snprintf(sock, sizeof(sock), "%s/command.sock", u.run_dir);
		u.sock = sock;
	}
	snprintf(ops_sock, sizeof(ops_sock), "%s/ops.sock", u.run_dir);
	u.ops_sock = ops_sock;
	if (optind >= argc) {
		usage(stderr);
		return ULTRA_USAGE;
	}
	for (i = 0; i < N_VERBS; i++) {
		if (strcmp(argv[optind], verbs[i].name))
			continue;
		/* --json is also accepted after the verb, where habit puts it. */
		int n = argc - optind - 1, j, k = 0;
		char **a = argv + optind + 1;

		for (j = 0; j < n; j++)
			if (!strcmp(a[j], "--json"))
				u.json = 1;
			else
				a[k++] = a[j];
		rc = verbs[i].fn(&u, k, a);
		if (rc == ULTRA_USAGE)
			fprintf(stderr, "usage: ultra %s %s\n", verbs[i].name, verbs[i].args);
		return rc;
	}
	fprintf(stderr, "ultra: unknown verb \"%s\"\n", argv[optind]);
	usage(stderr);
	return ULTRA_USAGE;
}
