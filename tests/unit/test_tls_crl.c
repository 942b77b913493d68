/* SPDX-License-Identifier: MIT */
/*
 * lib/tls_crl.c: a revocation list is taken only when it is the cluster CA's and current, and
 * then a revoked certificate fails verification while the others pass. The certificates and
 * the list are made by scripts/mkcerts.sh; the out-of-date lists here, signed by the real CA
 * key with dates in the past or the future.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdgw_testlib.h" /* gwfx_sh, gwfx_paths */
#include "tls_crl.h"

static char dir[64];

static int setup(void **state)
{
	struct gwfx f; /* for the repository's root only */
	char bin[PATH_MAX];

	(void)state;
	gwfx_paths(&f, bin, sizeof(bin));
	snprintf(dir, sizeof(dir), "/tmp/uvcrl-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return gwfx_sh("set -e; m=%s/scripts/mkcerts.sh; d=%s; $m $d ca >/dev/null;"
	               "$m $d client a >/dev/null; $m $d client b >/dev/null; $m $d crl >/dev/null;"
	               "cp $d/crl.pem $d/empty-crl.pem; $m $d revoke b >/dev/null;"
	               "$m $d/other ca >/dev/null; $m $d/other crl >/dev/null",
	               f.root, dir)
	           ? -1
	           : 0;
}

static int teardown(void **state)
{
	(void)state;
	gwfx_sh("rm -rf %s", dir);
	return 0;
}

static char *slurp(const char *name, size_t *len)
{
	char path[128], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "r"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	assert_non_null(buf = malloc((size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static X509 *cert(const char *name)
{
	char path[128];
	X509 *x;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "r"));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

/* A store holding our CA, as the gateway's and every client's does. */
static X509_STORE *ca_store(void)
{
	X509_STORE *st = X509_STORE_new();
	X509 *ca = cert("ca.pem");

	assert_int_equal(X509_STORE_add_cert(st, ca), 1);
	X509_free(ca);
	return st;
}

/* X509_V_OK, or why the certificate fails against st. */
static int verify(X509_STORE *st, const char *name)
{
	X509_STORE_CTX *x = X509_STORE_CTX_new();
	X509 *c = cert(name);
	int r;

	assert_int_equal(X509_STORE_CTX_init(x, st, c, NULL), 1);
	r = X509_verify_cert(x) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(x);
	X509_STORE_CTX_free(x);
	X509_free(c);
	return r;
}

static void test_revoked_one_fails_the_others_pass(void **state)
{
	X509_STORE *st = ca_store();
	char err[256] = "";
	size_t len;
	char *pem = slurp("crl.pem", &len);

	(void)state;
	assert_int_equal(verify(st, "b.pem"), X509_V_OK); /* before the list */
	assert_int_equal(uv_tls_crl_add(st, pem, len, err, sizeof(err)), 1);
	assert_int_equal(verify(st, "b.pem"), X509_V_ERR_CERT_REVOKED);
	assert_int_equal(verify(st, "a.pem"), X509_V_OK);
	free(pem);
	X509_STORE_free(st);

	/* An empty list revokes nothing, and is a list: every certificate is checked. */
	st = ca_store();
	pem = slurp("empty-crl.pem", &len);
	assert_int_equal(uv_tls_crl_add(st, pem, len, err, sizeof(err)), 0);
	assert_int_equal(verify(st, "b.pem"), X509_V_OK);
	free(pem);
	X509_STORE_free(st);
}

static void test_refuses_what_is_not_a_current_list_of_ours(void **state)
{
	static const char garbage[] = "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n";
	static const char none[] = "hello\n";
	X509_STORE *st = ca_store();
	char err[256] = "";
	size_t len;
	char *pem = slurp("other/crl.pem", &len);

	(void)state;
	assert_int_equal(uv_tls_crl_add(st, pem, len, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "not signed by the cluster CA"));
	free(pem);
	assert_int_equal(uv_tls_crl_add(st, garbage, sizeof(garbage) - 1, err, sizeof(err)),
	                 -EBADMSG);
	assert_int_equal(uv_tls_crl_add(st, none, sizeof(none) - 1, err, sizeof(err)), -ENOENT);
	assert_int_equal(uv_tls_crl_add(st, "", 0, err, sizeof(err)), -ENOENT);
	/* Ours, then a foreign one after it: nothing of it is taken. */
	{
		size_t a, b;
		char *ours = slurp("crl.pem", &a), *theirs = slurp("other/crl.pem", &b);
		char *both = malloc(a + b);

		memcpy(both, ours, a);
		memcpy(both + a, theirs, b);
		assert_int_equal(uv_tls_crl_add(st, both, a + b, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "CRL 2"));
		free(both);
		free(ours);
		free(theirs);
	}
	/* Nothing was taken: b still verifies without a list. */
	assert_int_equal(verify(st, "b.pem"), X509_V_OK);
	assert_int_equal(uv_tls_crl_add_file(st, "/nonexistent/crl.pem", err, sizeof(err)),
	                 -ENOENT);
	X509_STORE_free(st);
}

/* A list by our CA whose dates are offset by days from now. */
static char *dated_crl(long last_days, long next_days, size_t *len)
{
	char path[128];
	X509 *ca = cert("ca.pem");
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = X509_time_adj_ex(NULL, (int)last_days, 0, NULL);
	ASN1_TIME *next = X509_time_adj_ex(NULL, (int)next_days, 0, NULL);
	EVP_PKEY *key;
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/ca.key", dir);
	assert_non_null(f = fopen(path, "r"));
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(key);
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)), 1);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, last), 1);
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, next), 1);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_CRL(b, crl), 1);
	n = BIO_get_mem_data(b, &data);
	assert_non_null(out = malloc((size_t)n));
	memcpy(out, data, (size_t)n);
	*len = (size_t)n;
	BIO_free(b);
	EVP_PKEY_free(key);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	X509_free(ca);
	return out;
}

static void test_refuses_an_out_of_date_list(void **state)
{
	X509_STORE *st = ca_store();
	char err[256] = "";
	size_t len;
	char *pem = dated_crl(-30, -1, &len);

	(void)state;
	assert_int_equal(uv_tls_crl_add(st, pem, len, err, sizeof(err)), -EKEYEXPIRED);
	assert_non_null(strstr(err, "expired"));
	free(pem);
	pem = dated_crl(2, 30, &len);
	assert_int_equal(uv_tls_crl_add(st, pem, len, err, sizeof(err)), -EKEYEXPIRED);
	assert_non_null(strstr(err, "not valid before"));
	free(pem);
	pem = dated_crl(-1, 30, &len); /* the same CA, current: taken */
	assert_int_equal(uv_tls_crl_add(st, pem, len, err, sizeof(err)), 0);
	free(pem);
	X509_STORE_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_revoked_one_fails_the_others_pass),
	    cmocka_unit_test(test_refuses_what_is_not_a_current_list_of_ours),
	    cmocka_unit_test(test_refuses_an_out_of_date_list),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
