/* SPDX-License-Identifier: MIT */
/*
 * Certificate revocation lists for the cluster's TLS (claims 36, 43; docs/cmdnet.md, "Revoking
 * a certificate"). A CRL is taken only once it is known to be the cluster CA's and current, so
 * that a wrong or stale file is an error where it is loaded, not a refusal of every peer later.
 */
#ifndef ULTRA_TLS_CRL_H
#define ULTRA_TLS_CRL_H

#include <openssl/x509.h>
#include <stddef.h>

#define UV_TLS_CRL_MAX (16u << 20) /* bytes of PEM read at most */

/*
 * Adds every CRL in pem (len bytes of PEM text) to st, which holds the CA certificates already,
 * and makes st check the peer's certificate against them (X509_V_FLAG_CRL_CHECK). Each must be
 * signed by a CA in st and not past its next update. On success the number of certificates
 * they revoke (>= 0); else a negative errno, no CRL added (but for running out of memory while
 * adding), err saying why: -ENOENT no CRL in
 * the text, -EBADMSG unreadable PEM, -EPERM not signed by a CA in st, -EKEYEXPIRED out of date.
 */
int uv_tls_crl_add(X509_STORE *st, const char *pem, size_t len, char *err, size_t errlen);
/* The same from what an open file holds now, read from its start (at most UV_TLS_CRL_MAX
 * bytes): how the sandboxed gateway reads its list again through the fd it kept. */
int uv_tls_crl_add_fd(X509_STORE *st, int fd, char *err, size_t errlen);
/* The same from a file by path; err names it. */
int uv_tls_crl_add_file(X509_STORE *st, const char *path, char *err, size_t errlen);

#endif
