/* SPDX-License-Identifier: MIT */
/* The gateway's TLS: 1.3 only, a client certificate signed by the cluster CA required, its
 * subject CN checked against the allow list; every refusal gets a reason for the log. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "gw.h"

/* The single subject CN, refused when there are several or it holds a NUL (a CA that signs
 * "ops\0evil" must not get "ops" in). */
static int subject_cn(X509 *cert, char *out, size_t len)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *s;
	int n;

	if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return -EINVAL;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	n = ASN1_STRING_length(s);
	if (n <= 0 || (size_t)n >= len || memchr(ASN1_STRING_get0_data(s), 0, (size_t)n))
		return -EINVAL;
	memcpy(out, ASN1_STRING_get0_data(s), (size_t)n);
	out[n] = 0;
	return 0;
}

/* Whether cn gets in, and with which verbs (*verbs NULL: all). */
static bool allowed(const struct gw *g, const char *cn, const char **verbs)
{
	*verbs = NULL;
	if (!g->n_allow)
		return true;
	for (unsigned i = 0; i < g->n_allow; i++)
		if (!strcmp(g->allow[i].cn, cn)) {
			*verbs = g->allow[i].verbs;
			return true;
		}
	return false;
}

static int verify(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct gw_conn *c = SSL_get_app_data(ssl);

	if (!ok) {
		snprintf(c->refusal, sizeof(c->refusal), "client certificate: %s",
		         X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
		return 0;
	}
	if (X509_STORE_CTX_get_error_depth(x) != 0)
		return 1;
	if (subject_cn(X509_STORE_CTX_get_current_cert(x), c->cn, sizeof(c->cn))) {
		snprintf(c->refusal, sizeof(c->refusal),
		         "client certificate: no single printable subject CN");
	} else if (!allowed(c->gw, c->cn, &c->verbs)) {
		snprintf(c->refusal, sizeof(c->refusal),
		         "client certificate CN \"%s\" is not in the allow list", c->cn);
	} else {
		return 1;
	}
	X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

static int fail(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();

	snprintf(err, errlen, "%s: %s", what, e ? ERR_reason_error_string(e) : "refused");
	ERR_clear_error();
	return -EINVAL;
}

int gw_tls_ctx(struct gw *g, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	STACK_OF(X509_NAME) * cas;

	if (!ctx)
		return fail(err, errlen, "TLS");
	g->ctx = ctx;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
		return fail(err, errlen, "TLS 1.3");
	if (SSL_CTX_use_certificate_chain_file(ctx, g->cert) != 1)
		return fail(err, errlen, g->cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, g->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return fail(err, errlen, g->key);
	if (SSL_CTX_load_verify_locations(ctx, g->ca, NULL) != 1 ||
	    !(cas = SSL_load_client_CA_file(g->ca)))
		return fail(err, errlen, g->ca);
	SSL_CTX_set_client_CA_list(ctx, cas);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify);
	/* No resumption: every connection proves its certificate afresh. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return 0;
}

void gw_tls_reason(struct gw_conn *c, char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	if (c->refusal[0])
		snprintf(buf, len, "%s", c->refusal);
	else if (e && ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
		snprintf(buf, len, "no client certificate");
	else if (e && (ERR_GET_REASON(e) == SSL_R_UNSUPPORTED_PROTOCOL ||
	               ERR_GET_REASON(e) == SSL_R_NO_SHARED_CIPHER))
		snprintf(buf, len, "not TLS 1.3 (%s)", why);
	else if (e && (ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER ||
	               ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST ||
	               ERR_GET_REASON(e) == SSL_R_PACKET_LENGTH_TOO_LONG))
		snprintf(buf, len, "not a TLS client: plaintext or garbage (%s)", why);
	else
		snprintf(buf, len, "TLS handshake failed: %s", why ? why : "connection closed");
	ERR_clear_error();
}
