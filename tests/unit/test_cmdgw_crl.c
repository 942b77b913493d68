/* SPDX-License-Identifier: MIT */
/*
 * Revoking a certificate (claims 36, 43; docs/cmdnet.md, "Revoking a certificate"): the real
 * ultra-cmdgw with --crl in front of a stand-in command partition, certificates and lists made
 * by scripts/mkcerts.sh. A client whose certificate is revoked while the gateway runs is
 * refused from its next connection on, without a restart, and the log says why; a list
 * rewritten with garbage, or renamed over the file, leaves the last good one in force and is
 * logged; a list that is not the CA's stops the gateway from starting; a client given the list
 * refuses a gateway whose certificate is revoked. The tests run in order: revocations add up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmdconn.h"
#include "cmdgw_testlib.h"

static struct gwfx fx;
static char addr[64], crl[128];

static int setup(void **state)
{
	(void)state;
	if (gwfx_setup(&fx) || gwfx_sh("%s/scripts/mkcerts.sh %s crl >/dev/null", fx.root, fx.dir))
		return -1;
	snprintf(crl, sizeof(crl), "%s/crl.pem", fx.dir);
	{
		char extra[160];

		snprintf(extra, sizeof(extra), "--crl %s", crl);
		if (gwfx_start_gw(&fx, extra))
			return -1;
	}
	snprintf(addr, sizeof(addr), "tls://127.0.0.1:%u", fx.port);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	gwfx_teardown(&fx);
	return 0;
}

/* A connection as client who (one of ours), asked one request: 0, or -1 with err. */
static int try_as(const char *who, const char *with_crl, char *err, size_t errlen)
{
	char ca[128], cert[128], key[128], *line = NULL;
	struct uv_tls_files t = {.ca = ca, .cert = cert, .key = key, .crl = with_crl};
	struct uv_cmdconn *c = NULL;
	int r;

	snprintf(ca, sizeof(ca), "%s/ca.pem", fx.dir);
	snprintf(cert, sizeof(cert), "%s/%s.pem", fx.dir, who);
	snprintf(key, sizeof(key), "%s/%s.key", fx.dir, who);
	r = uv_cmdconn_open(addr, &t, 5000, &c, err, errlen);
	/* TLS 1.3: the server's verdict on our certificate arrives with its first record. */
	if (!r)
		r = uv_cmdconn_write_line(c, "{\"version\":1,\"execute\":\"list\"}", 5000, err,
		                          errlen);
	if (!r)
		r = uv_cmdconn_read_line(c, &line, 5000, err, errlen);
	free(line);
	uv_cmdconn_close(c);
	return r ? -1 : 0;
}

static void mkcerts(const char *args)
{
	assert_int_equal(gwfx_sh("%s/scripts/mkcerts.sh %s %s >/dev/null", fx.root, fx.dir, args),
	                 0);
}

static void test_revoked_while_running(void **state)
{
	char err[256];

	(void)state;
	assert_true(gwfx_logged(&fx, "certificates revoked", 2000));
	assert_int_equal(try_as("ops", NULL, err, sizeof(err)), 0);
	mkcerts("revoke ops");
	assert_int_equal(try_as("ops", NULL, err, sizeof(err)), -1);
	assert_true(gwfx_logged(&fx, "reloaded: 1 certificates revoked", 2000));
	assert_true(gwfx_logged(&fx, "client certificate: certificate revoked", 2000));
	/* Everybody else is let in as before. */
	assert_int_equal(try_as("intruder", NULL, err, sizeof(err)), 0);
}

static void test_garbage_keeps_the_last_list(void **state)
{
	char err[256];

	(void)state;
	/* In place, as a half-written file would be. */
	assert_int_equal(gwfx_sh("echo not-a-crl > %s", crl), 0);
	assert_int_equal(try_as("intruder", NULL, err, sizeof(err)), 0);
	assert_int_equal(try_as("ops", NULL, err, sizeof(err)), -1);
	assert_true(gwfx_logged(&fx, "the list loaded before stays in force", 2000));
	mkcerts("crl"); /* the CA's list again, from its record: ops still revoked */
	assert_int_equal(try_as("intruder", NULL, err, sizeof(err)), 0);
	assert_int_equal(try_as("ops", NULL, err, sizeof(err)), -1);
}

static void test_renamed_over_is_said(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(gwfx_sh("cp %s %s.new && mv %s.new %s", crl, crl, crl, crl), 0);
	assert_int_equal(try_as("intruder", NULL, err, sizeof(err)), 0);
	assert_true(gwfx_logged(&fx, "was replaced by another file", 2000));
	/* The list in force is still the one with ops revoked. */
	assert_int_equal(try_as("ops", NULL, err, sizeof(err)), -1);
}

static void test_client_refuses_a_revoked_gateway(void **state)
{
	char err[256] = "";

	(void)state;
	mkcerts("revoke gw");
	/* Without the list the client cannot know; with it, it refuses the gateway. */
	assert_int_equal(try_as("intruder", NULL, err, sizeof(err)), 0);
	assert_int_equal(try_as("intruder", crl, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the gateway's certificate: certificate revoked"));
}

static void test_foreign_list_stops_the_start(void **state)
{
	struct gwfx other = fx;
	char extra[160];
	FILE *f;
	char buf[4096] = "";
	size_t n;

	(void)state;
	mkcerts("revoke intruder"); /* any change: the other CA's list is made below */
	assert_int_equal(gwfx_sh("%s/scripts/mkcerts.sh %s/other crl >/dev/null", fx.root, fx.dir),
	                 0);
	other.gw = 0;
	other.port = 0;
	snprintf(other.log, sizeof(other.log), "%s/gw2.log", fx.dir);
	snprintf(extra, sizeof(extra), "--crl %s/other/crl.pem", fx.dir);
	assert_int_equal(gwfx_start_gw(&other, extra), -1);
	assert_non_null(f = fopen(other.log, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	assert_non_null(strstr(buf, "not signed by the cluster CA"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_revoked_while_running),
	    cmocka_unit_test(test_garbage_keeps_the_last_list),
	    cmocka_unit_test(test_renamed_over_is_said),
	    cmocka_unit_test(test_client_refuses_a_revoked_gateway),
	    cmocka_unit_test(test_foreign_list_stops_the_start),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
