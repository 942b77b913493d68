/* SPDX-License-Identifier: MIT */
/* ultra console NAME: the partition's serial console, raw, until Ctrl-] (as virsh console).
 * On this host it is the monitor's console.sock (docs/monitor.md); to a tls:// command
 * partition it is a second TLS connection to its gateway, opened with a one-time console
 * token and then spliced to that socket (docs/cmdnet.md, "The console"). Either way the
 * terminal side below sees one connected stream socket. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "migrelay.h"
#include "migstream.h"
#include "ultra.h"
#include "unixsock.h"

#define NET_OPEN_MS 10000
#define NET_BUF (64 * 1024)

#define DETACH 0x1d /* Ctrl-] */

static int relay(int sock)
{
	struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = sock, .events = POLLIN}};
	char buf[4096], *k;
	ssize_t n;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return ULTRA_FAILED;
		}
		if (p[1].revents) {
			n = read(sock, buf, sizeof(buf));
			if (n <= 0)
				return ULTRA_OK; /* the partition ended */
			if (write(1, buf, (size_t)n) != n)
				return ULTRA_FAILED;
		}
		if (p[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0)
				return ULTRA_OK;
			k = memchr(buf, DETACH, (size_t)n);
			if (k)
				n = k - buf;
			if (n > 0 && write(sock, buf, (size_t)n) != n)
				return ULTRA_FAILED;
			if (k)
				return ULTRA_OK;
		}
	}
}

/* The network side of a remote console: a thread moves bytes between the gateway's TLS
 * connection and one end of a socketpair (lib/migrelay.c, as a migration stream's). */
struct net_console {
	struct uv_cmdconn *net;
	int fd;
	pthread_t thread;
	int rc;
	char err[300];
};

static void *net_thread(void *arg)
{
	struct net_console *n = arg;

	n->rc = uv_relay_run(n->net, n->fd, NET_BUF, 0, NULL, n->err, sizeof(n->err));
	shutdown(n->fd, SHUT_RDWR); /* the terminal side reads its end */
	return NULL;
}

/* Asks the command partition for a console token and opens the stream with it: the local end
 * of the socketpair, or minus an exit code with the reason printed. */
static int net_open(struct ultra *u, const char *name, struct net_console *n)
{
	json_object *ret = NULL;
	char token[UV_STREAM_TOKEN_LEN + 1], err[400];
	int sp[2] = {-1, -1}, r;

	if ((r = ultra_call(u, "console-token", ultra_name_arg(name), &ret)))
		return -r;
	r = uv_stream_reply_token(ret, token);
	json_object_put(ret);
	if (r) {
		fprintf(stderr, "ultra: console: the command partition gave no console token\n");
		return -ULTRA_FAILED;
	}
	if ((r = uv_stream_open(u->sock, &u->tls, token, NET_OPEN_MS, &n->net, err, sizeof(err)))) {
		fprintf(stderr, "ultra: console: %s\n", err);
		return r == -EPROTO ? -ULTRA_FAILED : -ULTRA_UNREACHABLE;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		fprintf(stderr, "ultra: console: socketpair: %s\n", strerror(errno));
		goto fail;
	}
	n->fd = sp[1];
	if ((r = pthread_create(&n->thread, NULL, net_thread, n))) {
		fprintf(stderr, "ultra: console: a thread: %s\n", strerror(r));
		goto fail;
	}
	return sp[0];
fail:
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	uv_cmdconn_close(n->net);
	n->net = NULL;
	n->fd = -1;
	return -ULTRA_FAILED;
}

/* After the terminal side closed its end: the relay passes the end on (close_notify) and stops
 * when the gateway closes too, which it does at once; a gateway that is gone is not waited for
 * long. */
static void net_close(struct net_console *n)
{
	struct timespec until;

	if (!n->net)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 3;
	if (pthread_timedjoin_np(n->thread, NULL, &until))
		return; /* exit takes it */
	close(n->fd);
	uv_cmdconn_close(n->net);
}

static bool is_remote(const char *addr)
{
	struct uv_cmdaddr a;
	char err[200];

	return uv_cmdaddr_parse(addr, &a, err, sizeof(err)) == 0 && a.kind == UV_CMDADDR_TLS;
}

/* This host's console socket, the path info gives: connected, or minus an exit code with the
 * reason printed. */
static int local_open(struct ultra *u, const char *name)
{
	json_object *info = NULL;
	int sock, rc;

	if ((rc = ultra_call(u, "info", ultra_name_arg(name), &info)))
		return -rc;
	sock = uv_unix_connect(ultra_str(info, "console"), SOCK_STREAM);
	if (sock < 0) {
		fprintf(stderr, "ultra: console: %s is not running (%s)\n", name, strerror(-sock));
		sock = -ULTRA_FAILED;
	}
	json_object_put(info);
	return sock;
}

int ultra_cmd_console(struct ultra *u, int argc, char **argv)
{
	struct net_console n = {.fd = -1};
	struct termios old, raw;
	int sock, rc, tty = isatty(0);

	if (argc != 1)
		return ULTRA_USAGE;
	sock = is_remote(u->sock) ? net_open(u, argv[0], &n) : local_open(u, argv[0]);
	if (sock < 0)
		return -sock;
	fprintf(stderr, "Connected to %s (detach with Ctrl-])\n", argv[0]);
	if (tty && tcgetattr(0, &old) == 0) {
		raw = old;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	rc = relay(sock);
	if (tty)
		tcsetattr(0, TCSANOW, &old);
	fprintf(stderr, "\nDetached from %s\n", argv[0]);
	close(sock);
	net_close(&n);
	return rc;
}
