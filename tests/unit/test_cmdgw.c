/* SPDX-License-Identifier: MIT */
/*
 * ultra-cmdgw end to end (claims 36, 39, 43; docs/cmdnet.md), with certificates made at test
 * time by scripts/mkcerts.sh and a stand-in command partition behind it: a client with a
 * certificate by the cluster CA and an allowed CN gets its requests relayed and the answers
 * back, in order; refused and logged with the reason: no client certificate, a certificate by
 * another CA, a CN not in the allow list, plaintext, TLS 1.2; a line over the bound gets an
 * error and the gateway goes on serving; a client that sends without reading is held back
 * (the gateway's memory stays put); a client over --max-clients is refused; it runs sandboxed;
 * SIGTERM ends it cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cmdconn.h"
#include "cmdgw_testlib.h"

static struct gwfx fx;

static char addr[64];

static int setup(void **state)
{
	if (gwfx_setup(&fx) ||
	    gwfx_start_gw(&fx, "--allow-cn ops --allow-cn admin --allow-cn watcher=list,info"))
		return -1;
	snprintf(addr, sizeof(addr), "tls://127.0.0.1:%u", fx.port);
	return 0;
}

static int teardown(void **state)
{
	gwfx_teardown(&fx);
	return 0;
}

static void files(struct uv_tls_files *t, const char *sub, const char *who)
{
	static char ca[128], cert[128], key[128];

	snprintf(ca, sizeof(ca), "%s/ca.pem", fx.dir);
	snprintf(cert, sizeof(cert), "%s%s/%s.pem", fx.dir, sub, who);
	snprintf(key, sizeof(key), "%s%s/%s.key", fx.dir, sub, who);
	*t = (struct uv_tls_files){.ca = ca, .cert = cert, .key = key};
}

static struct uv_cmdconn *open_as(const char *sub, const char *who)
{
	struct uv_tls_files t;
	struct uv_cmdconn *c = NULL;
	char err[256];
	int r;

	files(&t, sub, who);
	r = uv_cmdconn_open(addr, &t, 5000, &c, err, sizeof(err));
	if (r)
		print_error("open: %s\n", err);
	assert_int_equal(r, 0);
	return c;
}

/* One request; the reply line (free it), or NULL with err set. */
static char *ask(struct uv_cmdconn *c, const char *execute, char *err, size_t errlen)
{
	char req[128], *line = NULL;

	snprintf(req, sizeof(req), "{\"version\":1,\"execute\":\"%s\"}", execute);
	if (uv_cmdconn_write_line(c, req, 5000, err, errlen) ||
	    uv_cmdconn_read_line(c, &line, 5000, err, errlen))
		return NULL;
	return line;
}

static void test_relays_requests_and_replies(void **state)
{
	struct uv_cmdconn *c = open_as("", "ops");
	char err[256], *line;
	unsigned before = atomic_load(&fx.lines);

	line = ask(c, "list", err, sizeof(err));
	assert_non_null(line);
	assert_non_null(strstr(line, "\"execute\":\"list\""));
	free(line);
	/* Two at once: the gateway sends the second on after the first's reply; both come back
	 * in order. */
	assert_int_equal(uv_cmdconn_write_line(c, "{\"version\":1,\"execute\":\"info\"}", 5000, err,
	                                       sizeof(err)),
	                 0);
	assert_int_equal(uv_cmdconn_write_line(c, "{\"version\":1,\"execute\":\"start\"}", 5000,
	                                       err, sizeof(err)),
	                 0);
	assert_int_equal(uv_cmdconn_read_line(c, &line, 5000, err, sizeof(err)), 0);
	assert_non_null(strstr(line, "\"execute\":\"info\""));
	free(line);
	assert_int_equal(uv_cmdconn_read_line(c, &line, 5000, err, sizeof(err)), 0);
	assert_non_null(strstr(line, "\"execute\":\"start\""));
	free(line);
	assert_int_equal(atomic_load(&fx.lines) - before, 3);
	uv_cmdconn_close(c);
	assert_true(gwfx_logged(&fx, "accepted, CN \"ops\"", 2000));
}

/* watcher may only list and see info: everything else is answered not-permitted by the gateway
 * and never reaches the partition behind; its connection goes on. */
static void test_a_cn_limited_to_some_verbs(void **state)
{
	static const char *const refused[] = {"start", "lis", "list-all", "destroy"};
	struct uv_cmdconn *c = open_as("", "watcher"), *o;
	unsigned before = atomic_load(&fx.lines);
	char err[256], *line;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		line = ask(c, refused[i], err, sizeof(err));
		assert_non_null(line);
		assert_non_null(strstr(line, "\"code\":\"not-permitted\""));
		assert_non_null(strstr(line, "may not ask"));
		free(line);
	}
	/* Lines it cannot read are not guessed at: two objects, not JSON, no execute. */
	for (int i = 0; i < 3; i++) {
		const char *req[] = {"{\"version\":1,\"execute\":\"list\"} {\"execute\":\"start\"}",
		                     "list", "{\"version\":1}"};

		assert_int_equal(uv_cmdconn_write_line(c, req[i], 5000, err, sizeof(err)), 0);
		assert_int_equal(uv_cmdconn_read_line(c, &line, 5000, err, sizeof(err)), 0);
		assert_non_null(strstr(line, "not-permitted"));
		free(line);
	}
	assert_int_equal(atomic_load(&fx.lines), before); /* none reached the partition */
	line = ask(c, "list", err, sizeof(err));
	assert_non_null(line);
	assert_non_null(strstr(line, "\"execute\":\"list\""));
	free(line);
	line = ask(c, "info", err, sizeof(err));
	assert_non_null(strstr(line, "\"execute\":\"info\""));
	free(line);
	assert_int_equal(atomic_load(&fx.lines) - before, 2);
	assert_true(gwfx_logged(&fx, "(CN \"watcher\"): refused start: not among its verbs", 2000));
	uv_cmdconn_close(c);
	/* A CN listed without verbs may ask anything, as before. */
	o = open_as("", "ops");
	line = ask(o, "start", err, sizeof(err));
	assert_non_null(strstr(line, "\"execute\":\"start\""));
	free(line);
	uv_cmdconn_close(o);
}

/* A client by our rules otherwise, driven by raw OpenSSL: cert NULL presents none; max_version
 * caps its TLS. 0 if a request got an answer, else -1 and why. */
static int raw_client(const char *cert, const char *key, int max_version, char *why, size_t len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.port)};
	struct timeval tv = {.tv_sec = 5};
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char ca[128], buf[256];
	SSL *ssl = NULL;
	int fd = socket(AF_INET, SOCK_STREAM, 0), r = -1;

	snprintf(ca, sizeof(ca), "%s/ca.pem", fx.dir);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	SSL_CTX_load_verify_locations(ctx, ca, NULL);
	SSL_CTX_set_max_proto_version(ctx, max_version);
	if (cert) {
		SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM);
		SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM);
	}
	snprintf(why, len, "?");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && (ssl = SSL_new(ctx)) &&
	    SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1 &&
	    SSL_write(ssl, "{\"version\":1,\"execute\":\"list\"}\n", 31) == 31 &&
	    SSL_read(ssl, buf, sizeof(buf) - 1) > 0)
		r = 0;
	if (r && ERR_peek_last_error())
		snprintf(why, len, "%s", ERR_reason_error_string(ERR_peek_last_error()));
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return r;
}

static void test_refuses_no_client_certificate(void **state)
{
	unsigned before = atomic_load(&fx.lines);
	char why[256];

	assert_int_equal(raw_client(NULL, NULL, TLS1_3_VERSION, why, sizeof(why)), -1);
	print_message("  no certificate: %s\n", why);
	assert_non_null(strstr(why, "certificate required"));
	assert_true(gwfx_logged(&fx, "refused: no client certificate", 2000));
	assert_int_equal(atomic_load(&fx.lines), before);
}

/* A client with these credentials is refused in the handshake (it reads the gateway's alert),
 * nothing reaches the command partition, and the gateway logs why. */
static void refused_as(const char *sub, const char *who, const char *logged)
{
	struct uv_cmdconn *c = open_as(sub, who);
	unsigned before = atomic_load(&fx.lines);
	char err[256], *line = ask(c, "list", err, sizeof(err));

	assert_null(line);
	print_message("  the client says: %s\n", err);
	assert_non_null(strstr(err, "the gateway refused us"));
	uv_cmdconn_close(c);
	assert_true(gwfx_logged(&fx, logged, 2000));
	assert_int_equal(atomic_load(&fx.lines), before);
}

static void test_refuses_another_cas_certificate(void **state)
{
	/* The same CN, from another CA. */
	refused_as("/other", "ops", "refused: client certificate: unable to get local issuer");
}

static void test_refuses_a_cn_not_allowed(void **state)
{
	refused_as("", "intruder", "CN \"intruder\" is not in the allow list");
}

static void test_refuses_plaintext(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.port)};
	struct timeval tv = {.tv_sec = 5};
	const char req[] = "{\"version\":1,\"execute\":\"list\"}\n";
	unsigned before = atomic_load(&fx.lines);
	char buf[512];
	ssize_t n, total = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), (ssize_t)sizeof(req) - 1);
	/* Closed on us (perhaps after an alert record), and no answer in it. */
	while ((n = recv(fd, buf + total, sizeof(buf) - 1 - (size_t)total, 0)) > 0)
		total += n;
	/* An end, or a reset (our bytes were unread): not a timeout. */
	assert_true(n == 0 || errno == ECONNRESET);
	buf[total] = 0;
	assert_null(strstr(buf, "return"));
	close(fd);
	assert_true(gwfx_logged(&fx, "refused: not a TLS client", 2000));
	assert_int_equal(atomic_load(&fx.lines), before);
}

static void test_refuses_tls12(void **state)
{
	char cert[128], key[128], why[256];

	snprintf(cert, sizeof(cert), "%s/ops.pem", fx.dir);
	snprintf(key, sizeof(key), "%s/ops.key", fx.dir);
	assert_int_equal(raw_client(cert, key, TLS1_2_VERSION, why, sizeof(why)), -1);
	assert_true(gwfx_logged(&fx, "refused: not TLS 1.3", 2000));
	/* The same client with TLS 1.3 gets in: it was the version. */
	assert_int_equal(raw_client(cert, key, TLS1_3_VERSION, why, sizeof(why)), 0);
}

static void test_line_over_the_bound(void **state)
{
	size_t n = 70 * 1024;
	char *line = malloc(n + 1), err[256], *reply = NULL;
	unsigned before = atomic_load(&fx.lines);
	struct uv_cmdconn *c = open_as("", "ops");

	memset(line, 'x', n);
	line[n] = 0;
	/* The gateway answers before the line is even over; the rest may meet a closed socket. */
	uv_cmdconn_write_line(c, line, 5000, err, sizeof(err));
	assert_int_equal(uv_cmdconn_read_line(c, &reply, 5000, err, sizeof(err)), 0);
	assert_non_null(strstr(reply, "\"bad-request\""));
	assert_non_null(strstr(reply, "longer than"));
	free(reply);
	assert_int_not_equal(uv_cmdconn_read_line(c, &reply, 5000, err, sizeof(err)), 0);
	uv_cmdconn_close(c);
	free(line);
	assert_int_equal(atomic_load(&fx.lines), before);
	/* And it goes on serving. */
	c = open_as("", "ops");
	reply = ask(c, "list", err, sizeof(err));
	assert_non_null(reply);
	free(reply);
	uv_cmdconn_close(c);
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(fp = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (!strncmp(line, "VmRSS:", 6))
			kib = atol(line + 6);
	fclose(fp);
	return kib;
}

/* Requests whose answers are large, never read: the answers fill our socket, then the
 * gateway's buffer; it stops taking requests and our writes stall, with its memory unchanged
 * (buffers are fixed) and other clients served. */
static void test_client_that_does_not_read(void **state)
{
	const char *big = "{\"version\":1,\"execute\":\"big\"}";
	size_t sent = 0, limit = (size_t)64 << 20, step = strlen(big) + 1;
	struct uv_cmdconn *hog = open_as("", "ops"), *other;
	long rss0, rss1;
	char err[256], *reply;
	pid_t gw = fx.gw;

	/* The gateway runs under sh -c exec: the same pid. */
	rss0 = rss_kib(gw);
	assert_true(rss0 > 0);
	while (sent < limit && uv_cmdconn_write_line(hog, big, 1500, err, sizeof(err)) == 0)
		sent += step;
	assert_true(sent < limit); /* held back: not every byte sent was taken */
	rss1 = rss_kib(gw);
	print_message("  a client that does not read: stalled after %zu KiB; the gateway's RSS "
	              "%ld -> %ld KiB\n",
	              sent >> 10, rss0, rss1);
	assert_true(rss1 - rss0 < 4096);
	other = open_as("", "ops");
	reply = ask(other, "list", err, sizeof(err));
	assert_non_null(reply);
	free(reply);
	uv_cmdconn_close(other);
	uv_cmdconn_close(hog);
}

/* --max-clients: one client more than that is refused and logged; a freed place is taken. */
static void test_client_limit(void **state)
{
	struct uv_cmdconn *c[3], *extra = NULL;
	struct uv_tls_files t;
	char err[256], *reply;

	kill(fx.gw, SIGKILL);
	waitpid(fx.gw, NULL, 0);
	fx.gw = 0;
	fx.port = 0;
	assert_int_equal(truncate(fx.log, 0), 0);
	assert_int_equal(gwfx_start_gw(&fx, "--allow-cn ops --max-clients 3"), 0);
	snprintf(addr, sizeof(addr), "tls://127.0.0.1:%u", fx.port);
	for (int i = 0; i < 3; i++) {
		c[i] = open_as("", "ops");
		reply = ask(c[i], "list", err, sizeof(err));
		assert_non_null(reply);
		free(reply);
	}
	files(&t, "", "ops");
	if (uv_cmdconn_open(addr, &t, 5000, &extra, err, sizeof(err)) == 0) {
		assert_null(ask(extra, "list", err, sizeof(err)));
		uv_cmdconn_close(extra);
	}
	assert_true(gwfx_logged(&fx, "refused: 3 clients already", 2000));
	uv_cmdconn_close(c[0]);
	/* Its place is free once the gateway has seen the end: soon, on a busy machine not at once.
	 */
	reply = NULL;
	for (uint64_t end = gwfx_now_ms() + 5000; !reply && gwfx_now_ms() < end;) {
		if (uv_cmdconn_open(addr, &t, 5000, &c[0], err, sizeof(err)) == 0 &&
		    !(reply = ask(c[0], "list", err, sizeof(err))))
			uv_cmdconn_close(c[0]);
		if (!reply)
			gwfx_sleep_ms(50);
	}
	assert_non_null(reply);
	free(reply);
	for (int i = 0; i < 3; i++)
		uv_cmdconn_close(c[i]);
}

/* The value of a "Key:" line of /proc/PID/status, or "". */
static void status_field(pid_t pid, const char *key, char *out, size_t len)
{
	char path[64], line[256];
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	out[0] = 0;
	if (!(fp = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), fp))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			sscanf(line + strlen(key) + 1, "%63s", out);
	fclose(fp);
}

/* Taken over, it can do little: a seccomp filter, no capabilities, no new privileges. */
static void test_sandboxed(void **state)
{
	char v[64];

	status_field(fx.gw, "Seccomp", v, sizeof(v));
	assert_string_equal(v, "2");
	status_field(fx.gw, "NoNewPrivs", v, sizeof(v));
	assert_string_equal(v, "1");
	status_field(fx.gw, "CapEff", v, sizeof(v));
	assert_string_equal(v, "0000000000000000");
	status_field(fx.gw, "CapPrm", v, sizeof(v));
	assert_string_equal(v, "0000000000000000");
}

static void test_sigterm_ends_it_cleanly(void **state)
{
	struct uv_cmdconn *c = open_as("", "ops");
	char err[256], *reply = ask(c, "list", err, sizeof(err));
	uint64_t end = gwfx_now_ms() + 10000;
	int st = -1;

	assert_non_null(reply);
	free(reply);
	kill(fx.gw, SIGTERM);
	while (waitpid(fx.gw, &st, WNOHANG) == 0 && gwfx_now_ms() < end)
		gwfx_sleep_ms(20);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0); /* under ASan: no leak either */
	fx.gw = 0;
	assert_true(gwfx_logged(&fx, "ultra-cmdgw: stopped", 1000));
	assert_int_not_equal(uv_cmdconn_read_line(c, &reply, 2000, err, sizeof(err)), 0);
	uv_cmdconn_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_relays_requests_and_replies),
	    cmocka_unit_test(test_refuses_no_client_certificate),
	    cmocka_unit_test(test_refuses_another_cas_certificate),
	    cmocka_unit_test(test_refuses_a_cn_not_allowed),
	    cmocka_unit_test(test_a_cn_limited_to_some_verbs),
	    cmocka_unit_test(test_refuses_plaintext),
	    cmocka_unit_test(test_refuses_tls12),
	    cmocka_unit_test(test_line_over_the_bound),
	    cmocka_unit_test(test_client_that_does_not_read),
	    cmocka_unit_test(test_client_limit),
	    cmocka_unit_test(test_sandboxed),
	    cmocka_unit_test(test_sigterm_ends_it_cleanly),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
