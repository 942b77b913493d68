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

#include "migrelay.h"
#include "migstream_testlib.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stream_spliced_and_token_used_once),
	    cmocka_unit_test(test_wrong_token_and_hostile_lines),
	    cmocka_unit_test(test_target_goes_mid_stream),
	};
	return cmocka_run_group_tests(tests, msfx_setup, msfx_teardown);
}
