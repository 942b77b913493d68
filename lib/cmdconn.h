/* SPDX-License-Identifier: MIT */
/*
 * A client's connection to a command partition (claims 36, 39, 43; docs/cmdnet.md): the JSON-line
 * control API of docs/command.md over a Unix socket on this host, or over TLS 1.3 with mutual
 * certificates to the command partition's network gateway (ultra-cmdgw) on another host.
 *
 *   PATH, unix:PATH       the command partition's own socket (RUN/command.sock)
 *   tls://HOST:PORT       its gateway; HOST a name, an IPv4 address or [an IPv6 address]
 *
 * Over TLS the gateway's certificate must be signed by the cluster CA and name HOST (a DNS or
 * IP subject alternative name); ours (cert, key) is what the gateway checks.
 */
#ifndef ULTRA_LIB_CMDCONN_H
#define ULTRA_LIB_CMDCONN_H

#include <stddef.h>

/* The longest line read back: a list of many partitions is long. */
#define UV_CMDCONN_LINE_MAX (4u << 20)

/* PEM files: the cluster CA, and this client's certificate (chain) and private key. */
struct uv_tls_files {
	const char *ca;
	const char *cert;
	const char *key;
	const char *crl; /* the CA's revocation list; NULL: none checked */
};

enum uv_cmdaddr_kind { UV_CMDADDR_UNIX, UV_CMDADDR_TLS };

struct uv_cmdaddr {
	enum uv_cmdaddr_kind kind;
	char path[108]; /* UNIX: as struct sockaddr_un holds it */
	char host[256]; /* TLS: without the brackets of an IPv6 address */
	char port[6];
};

/* Parses an address as above: 0, or -EINVAL (the message in err says what is wrong). */
int uv_cmdaddr_parse(const char *addr, struct uv_cmdaddr *out, char *err, size_t errlen);

struct uv_cmdconn;

/*
 * Connects to addr (TLS: handshake included) within timeout_ms. tls is needed for a tls://
 * address (every member) and ignored otherwise. 0 and *out, or -errno with err saying why:
 * -EINVAL bad address or credentials, -ECONNREFUSED/-ENOENT/... no one there, -ETIMEDOUT,
 * -EPROTO the TLS handshake failed (err names the reason, e.g. the peer's alert).
 */
int uv_cmdconn_open(const char *addr, const struct uv_tls_files *tls, int timeout_ms,
                    struct uv_cmdconn **out, char *err, size_t errlen);
/* Sends line (no '\n' in it) and a '\n'. 0 or -errno (-EPIPE: the peer went). */
int uv_cmdconn_write_line(struct uv_cmdconn *c, const char *line, int timeout_ms, char *err,
                          size_t errlen);
/* The next line, without its '\n', NUL-terminated, in *line (free it). 0, or -errno:
 * -ETIMEDOUT, -ECONNRESET (closed before a whole line), -EMSGSIZE (over UV_CMDCONN_LINE_MAX),
 * -EPROTO (TLS: the peer's alert, e.g. it refused our certificate). */
int uv_cmdconn_read_line(struct uv_cmdconn *c, char **line, int timeout_ms, char *err,
                         size_t errlen);
void uv_cmdconn_close(struct uv_cmdconn *c);

#endif
