/* SPDX-License-Identifier: MIT */
/* For test_cmdgw.c: certificates made by scripts/mkcerts.sh in a temporary folder, a stand-in
 * command partition on a Unix socket, and the real ultra-cmdgw in front of it. */
#ifndef ULTRA_TEST_CMDGW_TESTLIB_H
#define ULTRA_TEST_CMDGW_TESTLIB_H

#include <errno.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unixsock.h"

#define BIG_REPLY (256 * 1024) /* the stand-in's answer to "big": more than any buffer here */

struct gwfx {
	char dir[64];
	char sock[128], log[128];
	char root[PATH_MAX];
	int listen_fd;
	pthread_t acceptor;
	atomic_uint lines; /* request lines the stand-in got, from every client */
	pid_t gw;
	unsigned port;
};

static inline uint64_t gwfx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void gwfx_sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The repository root and the built binaries, from this test binary's place. */
static inline void gwfx_paths(struct gwfx *f, char *bin, size_t len)
{
	char self[PATH_MAX], *d;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = 0;
	d = dirname(self); /* build/VARIANT/tests */
	snprintf(bin, len, "%s/../bin/ultra-cmdgw", d);
	snprintf(f->root, sizeof(f->root), "%s/../../..", d);
}

/* The stand-in answers each request with its "execute" ({"return":{"execute":X,"n":N}}), or
 * BIG_REPLY bytes for "big"; one thread per client, so a stuck one holds up nobody else. */
struct gwfx_client {
	struct gwfx *f;
	int fd;
};

static inline int gwfx_reply(int fd, const char *line, unsigned n)
{
	json_object *req = json_tokener_parse(line), *ex = NULL;
	const char *x = req && json_object_object_get_ex(req, "execute", &ex)
	                    ? json_object_get_string(ex)
	                    : "?";
	char head[256];
	int r = 0;

	if (!strcmp(x, "big")) {
		char *big = malloc(BIG_REPLY + 1);

		memset(big, ' ', BIG_REPLY);
		memcpy(big, "{\"return\":\"big\"}", 16);
		big[BIG_REPLY - 1] = '\n';
		r = send(fd, big, BIG_REPLY, MSG_NOSIGNAL) == BIG_REPLY ? 0 : -1;
		free(big);
	} else {
		int len = snprintf(head, sizeof(head),
		                   "{\"return\":{\"execute\":\"%.64s\",\"n\":%u}}\n", x, n);
		r = send(fd, head, (size_t)len, MSG_NOSIGNAL) == len ? 0 : -1;
	}
	json_object_put(req);
	return r;
}

static inline void *gwfx_serve(void *arg)
{
	struct gwfx_client *c = arg;
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap), *nl;
	ssize_t n;

	while (buf && (n = recv(c->fd, buf + len, cap - 1 - len, 0)) > 0) {
		len += (size_t)n;
		buf[len] = 0;
		while ((nl = memchr(buf, '\n', len))) {
			*nl = 0;
			unsigned k = atomic_fetch_add(&c->f->lines, 1) + 1;
			if (gwfx_reply(c->fd, buf, k))
				goto out;
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
		if (len == cap - 1)
			break;
	}
out:
	free(buf);
	close(c->fd);
	free(c);
	return NULL;
}

static inline void *gwfx_accept(void *arg)
{
	struct gwfx *f = arg;
	int fd;

	while ((fd = accept(f->listen_fd, NULL, NULL)) >= 0) {
		struct gwfx_client *c = malloc(sizeof(*c));
		pthread_t t;

		*c = (struct gwfx_client){.f = f, .fd = fd};
		if (pthread_create(&t, NULL, gwfx_serve, c) == 0)
			pthread_detach(t);
	}
	return NULL;
}

static inline int gwfx_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int gwfx_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Whether the gateway's log holds needle, within ms. */
static inline bool gwfx_logged(struct gwfx *f, const char *needle, int ms)
{
	uint64_t end = gwfx_now_ms() + (uint64_t)ms;
	char buf[65536];

	do {
		FILE *fp = fopen(f->log, "r");
		size_t n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;

		if (fp)
			fclose(fp);
		buf[n] = 0;
		if (strstr(buf, needle))
			return true;
		gwfx_sleep_ms(20);
	} while (gwfx_now_ms() < end);
	return false;
}

/* The gateway with the given extra arguments; its port read back from its log. */
static inline int gwfx_start_gw(struct gwfx *f, const char *extra)
{
	char bin[PATH_MAX], cmd[PATH_MAX + 1024];
	uint64_t end = gwfx_now_ms() + 10000;

	gwfx_paths(f, bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd),
	         "exec %s --listen 127.0.0.1:0 --ca %s/ca.pem --cert %s/gw.pem --key %s/gw.key "
	         "--command %s %s 2>>%s",
	         bin, f->dir, f->dir, f->dir, f->sock, extra, f->log);
	f->gw = fork();
	if (f->gw == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	while (gwfx_now_ms() < end) {
		FILE *fp = fopen(f->log, "r");
		char line[512];

		while (fp && fgets(line, sizeof(line), fp)) {
			char *at = strstr(line, "listening on 127.0.0.1:");
			if (at)
				f->port = (unsigned)atoi(at + strlen("listening on 127.0.0.1:"));
		}
		if (fp)
			fclose(fp);
		if (f->port)
			return 0;
		if (waitpid(f->gw, NULL, WNOHANG) == f->gw)
			return -1;
		gwfx_sleep_ms(20);
	}
	return -1;
}

static inline int gwfx_setup(struct gwfx *f)
{
	char bin[PATH_MAX];

	memset(f, 0, sizeof(*f));
	f->listen_fd = -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/uvgw-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	gwfx_paths(f, bin, sizeof(bin));
	snprintf(f->sock, sizeof(f->sock), "%s/command.sock", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/gw.log", f->dir);
	/* Two CAs: ours, and another whose client certificates must not get in. */
	if (gwfx_sh("set -e; m=%s/scripts/mkcerts.sh; d=%s; $m $d ca >/dev/null;"
	            "$m $d host gw 127.0.0.1 >/dev/null; $m $d client ops >/dev/null;"
	            "$m $d client intruder >/dev/null; $m $d client watcher >/dev/null;"
	            "$m $d/other ca >/dev/null;"
	            "$m $d/other client ops >/dev/null",
	            f->root, f->dir))
		return -1;
	if ((f->listen_fd = uv_unix_listen(f->sock, SOCK_STREAM, 16)) < 0)
		return -1;
	if (pthread_create(&f->acceptor, NULL, gwfx_accept, f))
		return -1;
	return 0;
}

static inline void gwfx_teardown(struct gwfx *f)
{
	if (f->gw > 0) {
		kill(f->gw, SIGKILL);
		waitpid(f->gw, NULL, 0);
	}
	if (f->listen_fd >= 0)
		shutdown(f->listen_fd, SHUT_RDWR); /* ends the acceptor */
	pthread_join(f->acceptor, NULL);
	close(f->listen_fd);
	gwfx_sh("rm -rf %s", f->dir);
}

#endif
