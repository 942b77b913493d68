/* SPDX-License-Identifier: MIT */
/* A migration stream through the real ultra-cmdgw (docs/migration.md, "Over the network"): a
 * client with the cluster's certificate sends the stream line, the gateway has a stand-in
 * command partition claim the token (the real token table, lib/migstream.c) and splices the TLS
 * connection to a stand-in incoming engine's socket; the monitor's relay (lib/migrelay.c) carries
 * a socketpair over it as it carries QEMU's. A wrong token, a replayed one and hostile first lines
 * are refused with the reason logged; a target that goes mid-stream ends the client's relay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmdgw_testlib.h"
#include "cmdconn.h"
#include "migrelay.h"
#include "migstream.h"

static struct gwfx fx;
static struct uv_stream_tokens tokens;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char cmd_sock[100], target_sock[100];
static int cmd_lfd = -1, target_lfd = -1;
static pthread_t cmd_thread;

static uint64_t now_ms(void) { return gwfx_now_ms(); }

/* The stand-in command partition: stream-claim against the token table, one line a client. */
static void *serve_claims(void *arg)
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

static unsigned char pat(uint64_t i, unsigned s)
{
	return (unsigned char)((i * 2654435761u) >> 13 ^ s);
}

/* The stand-in incoming engine: reads what comes (checking it) until the end or limit, and
 * sends back bytes first. */
struct target {
	pthread_t t;
	uint64_t limit, back, got;
	int bad, fd;
};

static void *serve_target(void *arg)
{
	struct target *tg = arg;
	unsigned char buf[65536];
	ssize_t r;

	tg->fd = accept(target_lfd, NULL, NULL);
	for (uint64_t off = 0; off < tg->back; off += sizeof(buf)) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pat(off + i, 9);
		send(tg->fd, buf, sizeof(buf), MSG_NOSIGNAL);
	}
	while (tg->got < tg->limit && (r = recv(tg->fd, buf, sizeof(buf), 0)) > 0) {
		for (ssize_t i = 0; i < r; i++)
			tg->bad |= buf[i] != pat(tg->got + (uint64_t)i, 5);
		tg->got += (uint64_t)r;
	}
	close(tg->fd); /* before the end, when limit is short: the engine went */
	return NULL;
}

static struct uv_cmdconn *client(void)
{
	struct uv_tls_files tls;
	char addr[64], ca[128], cert[128], key[128], err[300] = "";
	struct uv_cmdconn *c = NULL;

	snprintf(addr, sizeof(addr), "tls://127.0.0.1:%u", fx.port);
	snprintf(ca, sizeof(ca), "%s/ca.pem", fx.dir);
	snprintf(cert, sizeof(cert), "%s/ops.pem", fx.dir);
	snprintf(key, sizeof(key), "%s/ops.key", fx.dir);
	tls = (struct uv_tls_files){ca, cert, key};
	if (uv_cmdconn_open(addr, &tls, 5000, &c, err, sizeof(err)))
		fail_msg("connecting: %s", err);
	return c;
}

/* The gateway's answer to one first line. */
static char *first_line(struct uv_cmdconn *c, const char *line)
{
	char err[300] = "", *reply = NULL;

	assert_int_equal(uv_cmdconn_write_line(c, line, 5000, err, sizeof(err)), 0);
	if (uv_cmdconn_read_line(c, &reply, 5000, err, sizeof(err)))
		fail_msg("no answer to the first line: %s", err);
	return reply;
}

static void stream_line(const char *tok, char *line, size_t cap)
{
	size_t n = uv_stream_line_make(tok, line, cap);

	line[n - 1] = 0;
}

static void issue(char *tok)
{
	pthread_mutex_lock(&lock);
	assert_int_equal(uv_stream_tokens_issue(&tokens, "p1", target_sock, now_ms(), 60000, tok),
	                 0);
	pthread_mutex_unlock(&lock);
}

struct relay_arg {
	struct uv_cmdconn *net;
	int fd, rc;
	struct uv_relay_stats st;
	char err[300];
};

static void *relay_main(void *arg)
{
	struct relay_arg *r = arg;

	r->rc = uv_relay_run(r->net, r->fd, 0, 15000, &r->st, r->err, sizeof(r->err));
	close(r->fd);
	return NULL;
}

/* What QEMU does on the source: writes n bytes, then reads what comes back until the end. */
static uint64_t qemu_side(int fd, uint64_t n, uint64_t *back, int *bad)
{
	unsigned char buf[65536];
	uint64_t off = 0;
	ssize_t r;

	while (off < n) {
		size_t k = sizeof(buf);

		for (size_t i = 0; i < k; i++)
			buf[i] = pat(off + i, 5);
		if ((r = send(fd, buf, k, MSG_NOSIGNAL)) <= 0)
			break;
		off += (uint64_t)r;
	}
	shutdown(fd, SHUT_WR);
	while ((r = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (ssize_t i = 0; i < r; i++)
			*bad |= buf[i] != pat(*back + (uint64_t)i, 9);
		*back += (uint64_t)r;
	}
	return off;
}

/* One stream: a token issued, the stream line answered "connected", the relay carrying a
 * socketpair while "QEMU" sends n bytes and reads what comes back; the target reads up to
 * limit bytes and sends back first. */
struct run {
	struct target tg;
	struct relay_arg ra;
	uint64_t sent, back;
	int bad;
	char line[128];
};

static void stream_run(struct run *r, uint64_t n)
{
	char tok[UV_STREAM_TOKEN_LEN + 1], *reply;
	pthread_t rt;
	int sp[2];

	issue(tok);
	stream_line(tok, r->line, sizeof(r->line));
	pthread_create(&r->tg.t, NULL, serve_target, &r->tg);
	r->ra.net = client();
	reply = first_line(r->ra.net, r->line);
	assert_non_null(strstr(reply, "\"connected\""));
	free(reply);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	r->ra.fd = sp[1];
	pthread_create(&rt, NULL, relay_main, &r->ra);
	r->sent = qemu_side(sp[0], n, &r->back, &r->bad);
	pthread_join(rt, NULL);
	pthread_join(r->tg.t, NULL);
	close(sp[0]);
	uv_cmdconn_close(r->ra.net);
}

static void test_stream_spliced_and_token_used_once(void **state)
{
	struct run r = {.tg = {.limit = UINT64_MAX, .back = 1u << 20}};
	struct uv_cmdconn *c;
	char *reply;

	(void)state;
	stream_run(&r, 16u << 20);
	assert_int_equal(r.ra.rc, 0);
	assert_int_equal(r.sent, 16u << 20);
	assert_int_equal(r.tg.got, 16u << 20);
	assert_false(r.tg.bad);
	assert_int_equal(r.back, 1u << 20);
	assert_false(r.bad);
	assert_true(gwfx_logged(&fx, "CN \"ops\"): stream token accepted, spliced to", 2000));
	assert_true(gwfx_logged(&fx, "stream ended by the source", 2000));

	/* The same token again: a replay, refused and logged. */
	c = client();
	reply = first_line(c, r.line);
	assert_non_null(strstr(reply, "already used"));
	assert_non_null(strstr(reply, "\"refused\""));
	free(reply);
	uv_cmdconn_close(c);
	assert_true(gwfx_logged(&fx, "refused: stream token already used (a replay)", 2000));
}

static void test_wrong_token_and_hostile_lines(void **state)
{
	static const char *const hostile[] = {
	    "ultra-stream",
	    "ultra-stream 1",
	    "ultra-stream 7 0123",
	    "ultra-stream 1 ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
	    "ultra-stream 1 ../../../../etc/passwd",
	};
	struct run r = {.tg = {.limit = 0}};
	char tok[UV_STREAM_TOKEN_LEN + 1], line[128], *reply, *big;
	struct uv_cmdconn *c;

	(void)state;
	uv_stream_token_new(tok);
	stream_line(tok, line, sizeof(line));
	c = client();
	reply = first_line(c, line);
	assert_non_null(strstr(reply, "unknown stream token"));
	free(reply);
	uv_cmdconn_close(c);
	assert_true(gwfx_logged(&fx, "refused: unknown stream token", 2000));
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		c = client();
		reply = first_line(c, hostile[i]);
		if (!strstr(reply, "\"refused\""))
			fail_msg("%s: answered %s", hostile[i], reply);
		free(reply);
		uv_cmdconn_close(c);
	}
	/* One far over the stream line's bound and the gateway's: the API's own error line. */
	big = malloc(100000);
	memset(big, 'f', 99999);
	memcpy(big, "ultra-stream 1 ", 15);
	big[99999] = 0;
	c = client();
	reply = first_line(c, big);
	assert_non_null(strstr(reply, "bad-request"));
	free(reply);
	free(big);
	uv_cmdconn_close(c);
	/* And the gateway serves on. */
	stream_run(&r, 0);
	assert_int_equal(r.ra.rc, 0);
}

/* The incoming engine goes after 1 MiB: the client's relay ends with an error instead of
 * hanging, and QEMU's end of the socketpair sees the end. */
static void test_target_goes_mid_stream(void **state)
{
	struct run r = {.tg = {.limit = 1u << 20}};

	(void)state;
	stream_run(&r, 256u << 20);
	assert_true(r.sent < (256u << 20));
	assert_true(r.ra.rc < 0);
	/* Its end read first, or a write to it failed first: either way, logged. */
	assert_true(gwfx_logged(&fx, "stream ended by the partition's side", 2000) ||
	            gwfx_logged(&fx, "stream cut", 10));
}

static int group_setup(void **state)
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

static int group_teardown(void **state)
{
	(void)state;
	shutdown(cmd_lfd, SHUT_RDWR);
	pthread_join(cmd_thread, NULL);
	close(cmd_lfd);
	close(target_lfd);
	gwfx_teardown(&fx);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stream_spliced_and_token_used_once),
	    cmocka_unit_test(test_wrong_token_and_hostile_lines),
	    cmocka_unit_test(test_target_goes_mid_stream),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
