/* SPDX-License-Identifier: MIT */
/* Revocation lists, checked before use (tls_crl.h). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls_crl.h"

static void time_text(const ASN1_TIME *t, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n = b && ASN1_TIME_print(b, t) == 1 ? BIO_read(b, out, (int)len - 1) : -1;

	out[n > 0 ? n : 0] = 0;
	BIO_free(b);
}

static void issuer_text(const X509_CRL *crl, char *out, size_t len)
{
	if (!X509_NAME_oneline(X509_CRL_get_issuer(crl), out, (int)len))
		snprintf(out, len, "?");
}

/* Whether crl is signed by one of cas; its dates current. 0 or -errno with err set. */
static int check_one(X509_CRL *crl, STACK_OF(X509) * cas, int k, char *err, size_t errlen)
{
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl),
			*last = X509_CRL_get0_lastUpdate(crl);
	char who[256], when[64];
	bool signed_by_ca = false;

	for (int i = 0; i < sk_X509_num(cas) && !signed_by_ca; i++) {
		X509 *ca = sk_X509_value(cas, i);

		signed_by_ca =
		    !X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) &&
		    X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1;
	}
	ERR_clear_error();
	if (!signed_by_ca) {
		issuer_text(crl, who, sizeof(who));
		snprintf(err, errlen, "CRL %d (issuer %s) is not signed by the cluster CA", k, who);
		return -EPERM;
	}
	if (last && X509_cmp_current_time(last) > 0) {
		time_text(last, when, sizeof(when));
		snprintf(err, errlen, "CRL %d is not valid before %s (is the clock right?)", k,
		         when);
		return -EKEYEXPIRED;
	}
	if (next && X509_cmp_current_time(next) < 0) {
		time_text(next, when, sizeof(when));
		snprintf(err, errlen,
		         "CRL %d expired at %s: issue a fresh one (scripts/mkcerts.sh DIR crl)", k,
		         when);
		return -EKEYEXPIRED;
	}
	return 0;
}

/* Every CRL in the text, or a negative errno. */
static int read_all(const char *pem, size_t len, STACK_OF(X509_CRL) * out, char *err, size_t errlen)
{
	BIO *b = len <= UV_TLS_CRL_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
	X509_CRL *crl;
	unsigned long e;
	int r = 0;

	if (!b) {
		snprintf(err, errlen, "a CRL file over %u bytes, or out of memory", UV_TLS_CRL_MAX);
		return -EFBIG;
	}
	ERR_clear_error();
	while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)))
		if (!sk_X509_CRL_push(out, crl)) {
			X509_CRL_free(crl);
			r = -ENOMEM;
			break;
		}
	e = ERR_peek_last_error();
	/* The end of the text reads as "no start line"; anything else is a broken CRL. */
	if (!r && e &&
	    !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		snprintf(err, errlen, "CRL %d is unreadable: %s", sk_X509_CRL_num(out) + 1,
		         ERR_reason_error_string(e));
		r = -EBADMSG;
	} else if (!r && !sk_X509_CRL_num(out)) {
		snprintf(err, errlen, "no CRL in it (a PEM \"X509 CRL\" block)");
		r = -ENOENT;
	}
	ERR_clear_error();
	BIO_free(b);
	return r;
}

int uv_tls_crl_add(X509_STORE *st, const char *pem, size_t len, char *err, size_t errlen)
{
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	STACK_OF(X509) *cas = X509_STORE_get1_all_certs(st);
	int r = -ENOMEM, revoked = 0;

	if (!crls || !cas)
		snprintf(err, errlen, "out of memory");
	else
		r = read_all(pem, len, crls, err, errlen);

	for (int i = 0; !r && i < sk_X509_CRL_num(crls); i++)
		r = check_one(sk_X509_CRL_value(crls, i), cas, i + 1, err, errlen);
	for (int i = 0; !r && i < sk_X509_CRL_num(crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(crls, i);
		int n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));

		if (X509_STORE_add_crl(st, crl) != 1) {
			snprintf(err, errlen, "CRL %d could not be added", i + 1);
			r = -ENOMEM; /* the only way it fails for a CRL read and checked above */
		}
		revoked += n > 0 ? n : 0;
	}
	if (!r)
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	ERR_clear_error();
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	sk_X509_pop_free(cas, X509_free);
	return r ? r : revoked;
}

int uv_tls_crl_add_fd(X509_STORE *st, int fd, char *err, size_t errlen)
{
	struct stat sb;
	char *buf = NULL;
	size_t n = 0;
	int r;

	if (fstat(fd, &sb) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -errno;
	}
	if (sb.st_size > (off_t)UV_TLS_CRL_MAX || !(buf = malloc((size_t)sb.st_size + 1))) {
		snprintf(err, errlen, "over %u bytes, or out of memory", UV_TLS_CRL_MAX);
		return -EFBIG;
	}
	while (n < (size_t)sb.st_size) {
		ssize_t k = pread(fd, buf + n, (size_t)sb.st_size - n, (off_t)n);

		if (k <= 0)
			break;
		n += (size_t)k;
	}
	r = uv_tls_crl_add(st, buf, n, err, errlen);
	free(buf);
	return r;
}

int uv_tls_crl_add_file(X509_STORE *st, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;
	char why[256];

	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	if ((r = uv_tls_crl_add_fd(st, fd, why, sizeof(why))) < 0)
		snprintf(err, errlen, "%s: %s", path, why);
	close(fd);
	return r;
}
