/* SPDX-License-Identifier: MIT */
/* The TLS 1.3 transport of lib/cmdconn.h: TCP, then a handshake in which each side proves its
 * certificate against the cluster CA (docs/cmdnet.md). Errors name OpenSSL's reason, so that
 * "the gateway refused our certificate" reads as the alert it sent ("unknown ca"). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmdconn_int.h"
#include "tls_crl.h"

/* The last OpenSSL reason, or what the peer's certificate failed on. */
static int tls_fail(struct uv_cmdconn *c, const char *doing, char *err, size_t errlen)
{
	long v = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
	unsigned long e = ERR_peek_last_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	if (v != X509_V_OK)
		snprintf(err, errlen, "%s: the gateway's certificate: %s", doing,
		         X509_verify_cert_error_string(v));
	else if (e && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET)
		/* An alert the gateway sent: it refused our certificate (or our TLS). */
		snprintf(err, errlen, "%s: the gateway refused us (%s)", doing, why);
	else
		snprintf(err, errlen, "%s: %s", doing, why ? why : "TLS failure");
	ERR_clear_error();
	return -EPROTO;
}

ssize_t cmdconn_tls_io(struct uv_cmdconn *c, void *buf, size_t n, bool wr, short *want, char *err,
                       size_t errlen)
{
	int len = n > (1u << 30) ? 1 << 30 : (int)n, r, e;

	ERR_clear_error();
	r = wr ? SSL_write(c->ssl, buf, len) : SSL_read(c->ssl, buf, len);
	if (r > 0)
		return r;
	switch ((e = SSL_get_error(c->ssl, r))) {
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (!errno || errno == EPIPE || errno == ECONNRESET)
			return wr ? (snprintf(err, errlen, "the connection was closed"), -EPIPE)
			          : 0;
		snprintf(err, errlen, "%s", strerror(errno));
		return -errno;
	default:
		return tls_fail(c, wr ? "sending" : "receiving", err, errlen);
	}
}

static int tcp_connect_one(const struct addrinfo *ai, uint64_t deadline)
{
	int fd =
	    socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	int r = 0, soerr = 0, one = 1;
	socklen_t sl = sizeof(soerr);

	if (fd < 0)
		return -errno;
	/* Requests are single lines waiting for their answer: send each at once. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS)
			r = -errno;
		else if (!(r = cmdconn_wait(fd, POLLOUT, deadline)) &&
		         getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
			r = -soerr;
	}
	if (r) {
		close(fd);
		return r;
	}
	return fd;
}

static int tcp_connect(const struct uv_cmdaddr *a, uint64_t deadline, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	int g = getaddrinfo(a->host, a->port, &hints, &res), fd = -EHOSTUNREACH;

	if (g) {
		snprintf(err, errlen, "%s: %s", a->host, gai_strerror(g));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai && fd < 0 && fd != -ETIMEDOUT; ai = ai->ai_next)
		fd = tcp_connect_one(ai, deadline);
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "%s port %s: %s", a->host, a->port, strerror(-fd));
	return fd;
}

static int make_ctx(struct uv_cmdconn *c, const struct uv_tls_files *tls, char *err, size_t errlen)
{
	if (!(c->ctx = SSL_CTX_new(TLS_client_method())))
		return tls_fail(c, "TLS", err, errlen);
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (SSL_CTX_load_verify_locations(c->ctx, tls->ca, NULL) != 1) {
		tls_fail(c, tls->ca, err, errlen);
		return -EINVAL;
	}
	/* The gateway's certificate checked against the CA's revocations (docs/cmdnet.md). */
	if (tls->crl &&
	    uv_tls_crl_add_file(SSL_CTX_get_cert_store(c->ctx), tls->crl, err, errlen) < 0)
		return -EINVAL;
	if (SSL_CTX_use_certificate_chain_file(c->ctx, tls->cert) != 1) {
		tls_fail(c, tls->cert, err, errlen);
		return -EINVAL;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ctx, tls->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c->ctx) != 1) {
		tls_fail(c, tls->key, err, errlen);
		return -EINVAL;
	}
	return 0;
}

/* The gateway's certificate must name the host we asked for: an IP address or a DNS name. */
static int expect_host(struct uv_cmdconn *c, const char *host)
{
	unsigned char ip[16];

	if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host) == 1 ? 0
		                                                                        : -EINVAL;
	if (SSL_set_tlsext_host_name(c->ssl, host) != 1 || SSL_set1_host(c->ssl, host) != 1)
		return -EINVAL;
	return 0;
}

static int handshake(struct uv_cmdconn *c, uint64_t deadline, char *err, size_t errlen)
{
	for (;;) {
		int r, e;

		ERR_clear_error();
		if ((r = SSL_connect(c->ssl)) == 1)
			return 0;
		e = SSL_get_error(c->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			if (e == SSL_ERROR_SYSCALL && !ERR_peek_last_error()) {
				snprintf(err, errlen,
				         "TLS handshake: the gateway closed the connection");
				return -ECONNRESET;
			}
			return tls_fail(c, "TLS handshake", err, errlen);
		}
		if ((r = cmdconn_wait(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
		                      deadline))) {
			snprintf(err, errlen, "TLS handshake: %s",
			         r == -ETIMEDOUT ? "no answer in time" : strerror(-r));
			return r;
		}
	}
}

int cmdconn_tls_open(struct uv_cmdconn *c, const struct uv_cmdaddr *a,
                     const struct uv_tls_files *tls, uint64_t deadline, char *err, size_t errlen)
{
	int r;

	if ((r = make_ctx(c, tls, err, errlen)))
		return r;
	if ((r = tcp_connect(a, deadline, err, errlen)) < 0)
		return r;
	c->fd = r;
	if (!(c->ssl = SSL_new(c->ctx)) || SSL_set_fd(c->ssl, c->fd) != 1)
		return tls_fail(c, "TLS", err, errlen);
	if (expect_host(c, a->host)) {
		snprintf(err, errlen, "%s: cannot check the gateway's certificate against it",
		         a->host);
		return -EINVAL;
	}
	return handshake(c, deadline, err, errlen);
}

void cmdconn_tls_close(struct uv_cmdconn *c)
{
	if (c->ssl) {
		/* close_notify, best effort: the socket is non-blocking and closes next. */
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	c->ssl = NULL;
	c->ctx = NULL;
	ERR_clear_error();
}
