/* SPDX-License-Identifier: MIT */
/* For test_cmdgw_stream.c and bench_migstream.c: the real ultra-cmdgw (cmdgw_testlib.h) in front
 * of a stand-in command partition that answers stream-claim from the real token table
 * (lib/migstream.c), a stand-in incoming engine's socket (target_sock, listened on at
 * target_lfd; the user accepts), and a client with the cluster's certificate. A set-up failure
 * aborts: the fixture is not what is under test. */
#ifndef ULTRA_TEST_MIGSTREAM_TESTLIB_H
#define ULTRA_TEST_MIGSTREAM_TESTLIB_H

#include "cmdconn.h"
#include "cmdgw_testlib.h"
#include "migrelay.h"
#include "migstream.h"

#define msfx_die(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr), abort())

static struct gwfx fx;
static struct uv_stream_tokens tokens;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char cmd_sock[100], target_sock[100];
static int cmd_lfd = -1, target_lfd = -1;
static pthread_t cmd_thread;

static inline uint64_t now_ms(void) { return gwfx_now_ms(); }

/* The stand-in command partition: stream-claim against the token table, one line a client. */
static inline void *serve_claims(void *arg)
{
	int fd;

	(void)arg;
	while ((fd = accept(cmd_lfd, NULL, NULL)) >= 0) {
		char buf[4096] = "", name[64], path[108], out[512];
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		json_object *req = n > 0 ? json_tokener_parse(buf) : NULL, *a = NULL, *t = NULL;
		int r = -EINVAL;

		if (req && json_object_object_get_ex(req, "arguments", &a) &&
		    json_object_object_get_ex(a, "token", &t)) {
			pthread_mutex_lock(&lock);
			r = uv_stream_tokens_claim(&tokens, json_object_get_string(t), now_ms(),
			                           name, sizeof(name), path, sizeof(path));
			pthread_mutex_unlock(&lock);
		}
		if (r)
			snprintf(out, sizeof(out),
			         "{\"error\":{\"code\":\"refused\",\"message\":\"%s\"}}\n",
			         uv_stream_claim_error(r));
		else
			snprintf(out, sizeof(out),
			         "{\"return\":{\"name\":\"%s\",\"path\":\"%s\"}}\n", name, path);
		send(fd, out, strlen(out), MSG_NOSIGNAL);
		json_object_put(req);
		close(fd);
	}
	return NULL;
}

static inline struct uv_cmdconn *client(void)
{
	struct uv_tls_files tls;
	char addr[64], ca[128], cert[128], key[128], err[300] = "";
	struct uv_cmdconn *c = NULL;

	snprintf(addr, sizeof(addr), "tls://127.0.0.1:%u", fx.port);
	snprintf(ca, sizeof(ca), "%s/ca.pem", fx.dir);
	snprintf(cert, sizeof(cert), "%s/ops.pem", fx.dir);
	snprintf(key, sizeof(key), "%s/ops.key", fx.dir);
	tls = (struct uv_tls_files){.ca = ca, .cert = cert, .key = key};
	if (uv_cmdconn_open(addr, &tls, 5000, &c, err, sizeof(err)))
		msfx_die("connecting: %s", err);
	return c;
}

/* The gateway's answer to one first line. */
static inline char *first_line(struct uv_cmdconn *c, const char *line)
{
	char err[300] = "", *reply = NULL;

	if (uv_cmdconn_write_line(c, line, 5000, err, sizeof(err)) ||
	    uv_cmdconn_read_line(c, &reply, 5000, err, sizeof(err)))
		msfx_die("no answer to the first line: %s", err);
	return reply;
}

static inline void stream_line(const char *tok, char *line, size_t cap)
{
	size_t n = uv_stream_line_make(tok, line, cap);

	line[n - 1] = 0;
}

static inline void issue(char *tok)
{
	pthread_mutex_lock(&lock);
	if (uv_stream_tokens_issue(&tokens, "p1", target_sock, now_ms(), 60000, tok))
		msfx_die("issuing a token");
	pthread_mutex_unlock(&lock);
}

/* The source monitor's relay, as its thread runs it. */
struct relay_arg {
	struct uv_cmdconn *net;
	int fd, rc;
	struct uv_relay_stats st;
	char err[300];
};

static inline void *relay_main(void *arg)
{
	struct relay_arg *r = arg;

	r->rc = uv_relay_run(r->net, r->fd, 0, 15000, &r->st, r->err, sizeof(r->err));
	close(r->fd);
	return NULL;
}

static inline int msfx_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (gwfx_setup(&fx))
		return -1;
	snprintf(cmd_sock, sizeof(cmd_sock), "%s/claims.sock", fx.dir);
	snprintf(target_sock, sizeof(target_sock), "%s/migrate.sock", fx.dir);
	cmd_lfd = uv_unix_listen(cmd_sock, SOCK_STREAM, 16);
	target_lfd = uv_unix_listen(target_sock, SOCK_STREAM, 4);
	if (cmd_lfd < 0 || target_lfd < 0 || pthread_create(&cmd_thread, NULL, serve_claims, NULL))
		return -1;
	snprintf(fx.sock, sizeof(fx.sock), "%s", cmd_sock); /* the gateway asks our stand-in */
	return gwfx_start_gw(&fx, "");
}

static inline int msfx_teardown(void **state)
{
	(void)state;
	shutdown(cmd_lfd, SHUT_RDWR);
	pthread_join(cmd_thread, NULL);
	close(cmd_lfd);
	close(target_lfd);
	gwfx_teardown(&fx);
	return 0;
}

#endif
