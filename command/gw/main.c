/* SPDX-License-Identifier: MIT */
/*
 * ultra-cmdgw: the command partition's network gateway (docs/cmdnet.md).
 *
 *   ultra-cmdgw --listen HOST:PORT --ca CA.pem --cert HOST.pem --key HOST.key
 *               [--allow-cn CN[=VERB,...] ...] [--crl CRL.pem] [--command SOCK] [--run-dir RUN]
 *               [--max-clients N]
 *
 * Accepts TLS 1.3 clients whose certificate the cluster CA signed (and, with --allow-cn, whose
 * subject CN is listed, and which the CRL does not revoke), and relays (for a CN listed with
 * verbs, only those of) each one's request lines to
 * the command partition's socket (SOCK, default RUN/command.sock) and its replies back. SIGTERM
 * closes every client and exits.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "gw.h"
#include "reqverb.h"

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: ultra-cmdgw --listen HOST:PORT --ca CA.pem --cert CERT.pem --key KEY.pem\n"
	       "                   [--allow-cn CN[=VERB,...]]... [--crl CRL.pem] [--command SOCK]\n"
	       "                   [--run-dir RUN] [--max-clients N]\n"
	       "Relays TLS 1.3 clients holding a certificate signed by CA (with a subject CN\n"
	       "given by --allow-cn, when any is; CN=VERB,...: only those requests) to the\n"
	       "command partition at SOCK (default\n"
	       "RUN/command.sock; RUN defaults to $ULTRA_RUN_DIR or /run/ultravisor).\n"
	       "CRL: the CA's revocation list, read again when it is rewritten in place.\n"
	       "PORT 0 picks a free port; the log's first line names the address bound.\n");
}

static int parse(struct gw *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"ca", required_argument, NULL, 'a'},
	    {"cert", required_argument, NULL, 'c'},
	    {"key", required_argument, NULL, 'k'},
	    {"allow-cn", required_argument, NULL, 'n'},
	    {"crl", required_argument, NULL, 'x'},
	    {"command", required_argument, NULL, 's'},
	    {"run-dir", required_argument, NULL, 'r'},
	    {"max-clients", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static char cmd_path[PATH_MAX];
	const char *run = getenv("ULTRA_RUN_DIR") ? getenv("ULTRA_RUN_DIR") : "/run/ultravisor";
	char *end;
	int o;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			g->listen = optarg;
			break;
		case 'a':
			g->ca = optarg;
			break;
		case 'c':
			g->cert = optarg;
			break;
		case 'k':
			g->key = optarg;
			break;
		case 'x':
			g->crl = optarg;
			break;
		case 's':
			g->cmd_path = optarg;
			break;
		case 'r':
			run = optarg;
			break;
		case 'n': {
			char *eq = strchr(optarg, '=');

			if (g->n_allow == GW_ALLOW_MAX || !*optarg || eq == optarg ||
			    (eq && !uv_verbs_valid(eq + 1)))
				return 2;
			if (eq)
				*eq = 0; /* argv is ours to cut: CN, then its verbs */
			g->allow[g->n_allow++] = (struct gw_allow){optarg, eq ? eq + 1 : NULL};
			break;
		}
		case 'm':
			g->max_conns = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !g->max_conns || g->max_conns > GW_CONNS_MAX)
				return 2;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return 2;
		}
	}
	if (optind != argc || !g->listen || !g->ca || !g->cert || !g->key)
		return 2;
	if (!g->cmd_path) {
		snprintf(cmd_path, sizeof(cmd_path), "%s/command.sock", run);
		g->cmd_path = cmd_path;
	}
	return 0;
}

static int setup(struct gw *g, char *err, size_t errlen)
{
	char bound[96] = "?";
	sigset_t mask;
	int r;

	if ((r = gw_tls_ctx(g, err, errlen)) || (r = gw_crl_open(g, err, errlen)))
		return r;
	if ((g->listen_fd = gw_listen(g->listen, bound, sizeof(bound), err, errlen)) < 0)
		return g->listen_fd;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	g->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g->sigfd < 0 || g->epfd < 0) {
		snprintf(err, errlen, "signalfd/epoll: %s", strerror(errno));
		return -errno;
	}
	if ((r = gw_sandbox_enter())) {
		snprintf(err, errlen, "entering the sandbox: %s", strerror(-r));
		return r;
	}
	gw_log("listening on %s, relaying to %s, %u clients at most, %s", bound, g->cmd_path,
	       g->max_conns, g->n_allow ? "CNs in the allow list only" : "any CN the CA signed");
	return 0;
}

int main(int argc, char **argv)
{
	struct gw g = {
	    .listen_fd = -1, .epfd = -1, .sigfd = -1, .crl_fd = -1, .max_conns = GW_CONNS_DEFAULT};
	char err[512];
	int r;

	if (parse(&g, argc, argv)) {
		usage(stderr);
		return 2;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	if ((r = setup(&g, err, sizeof(err))))
		gw_log("%s", err);
	else if ((r = gw_run(&g)))
		gw_log("epoll: %s", strerror(-r));
	else
		gw_log("stopped");
	gw_crl_close(&g);
	SSL_CTX_free(g.ctx);
	if (g.listen_fd >= 0)
		close(g.listen_fd);
	if (g.epfd >= 0)
		close(g.epfd);
	if (g.sigfd >= 0)
		close(g.sigfd);
	return r ? 1 : 0;
}
