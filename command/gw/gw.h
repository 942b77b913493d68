/* SPDX-License-Identifier: MIT */
/*
 * ultra-cmdgw: the command partition's network gateway (claims 36, 39, 43; docs/cmdnet.md).
 *
 *   TLS 1.3 client ──TCP──► ultra-cmdgw ──Unix──► RUN/command.sock ──► ultra-command
 *   (cert by the cluster CA)  (one process,       (the JSON-line API, unchanged)
 *                              epoll, bounded)
 *
 * A separate process from ultra-command: the code that parses network bytes (TLS, X.509) never
 * runs where the command channel to the ultravisor is held, so a compromised gateway can send
 * only what any local client of command.sock can.
 */
#ifndef ULTRA_CMDGW_H
#define ULTRA_CMDGW_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdint.h>

#include "linebuf.h"

#define GW_LINE_MAX (64 * 1024) /* a request, '\n' included: the command partition's bound */
#define GW_DOWN_CAP (64 * 1024) /* replies on their way to the client */
#define GW_CONNS_DEFAULT 16     /* the command partition serves 16 clients at a time */
#define GW_CONNS_MAX 1024
#define GW_HANDSHAKE_MS 10000 /* a peer that does not finish its handshake is dropped */
#define GW_LINGER_MS 2000     /* after our last word, how long the peer's bytes are drained */
#define GW_ALLOW_MAX 32

struct gw;

/* A CN let in (--allow-cn CN[=VERB,...]): with verbs, only those requests of the API behind
 * the gateway are relayed (verbs.c); NULL, every one. */
struct gw_allow {
	const char *cn;
	const char *verbs; /* "list,info,resources" */
};

/* What a client's connection carries: request lines (the control API), or, once its first line
 * named a stream token, a migration stream spliced to an incoming partition's socket
 * (stream.c; docs/migration.md, "Over the network"). */
enum gw_mode {
	GW_LINES,    /* the control API, relayed line by line */
	GW_CLAIMING, /* the stream line went to the command partition; its answer is awaited */
	GW_SPLICE,   /* raw bytes both ways between the client and migrate.sock (cmd_fd) */
};

/* One client: its TLS connection and, once it is accepted, its own connection to command.sock.
 * Requests go on one at a time: the next line waits until the reply to the last came back, so
 * the command partition never has more than one reply queued for a client that does not read. */
struct gw_conn {
	struct gw *gw;
	struct gw_conn *next;
	int tls_fd, cmd_fd;
	SSL *ssl;
	char peer[64];     /* address:port, for the log */
	char cn[128];      /* the client certificate's subject CN */
	const char *verbs; /* what its CN may ask (struct gw_allow); NULL: everything */
	char refusal[192]; /* why our verify callback refused it, when it did */
	bool established;  /* handshake done, command.sock connected */
	bool inflight;     /* a request went on; its reply has not come back whole */
	bool overlong;     /* the client sent a line over GW_LINE_MAX: answer, then close */
	bool closing;      /* close once down is flushed */
	bool dead;         /* dropped; freed after this batch of events */
	bool lingering;    /* our side is shut; what the peer still sends is read and dropped, so
	                    * that the kernel does not reset the connection over unread bytes and
	                    * take our alert or error line with it */
	size_t fwd;        /* bytes of the first line written to command.sock already */
	enum gw_mode mode;
	bool first_seen;        /* the first line was looked at (a stream line is only a first) */
	bool client_eof;        /* splice: the client ended its direction */
	struct uv_linebuf up;   /* client -> command partition */
	char down[GW_DOWN_CAP]; /* command partition -> client */
	size_t down_len;
	short rd_want, wr_want;  /* what SSL_read / SSL_write / the handshake wait for */
	uint32_t tls_ev, cmd_ev; /* events registered with epoll */
	uint64_t deadline;       /* of the handshake or the lingering, monotonic ms */
};

struct gw {
	const char *listen;   /* HOST:PORT */
	const char *cmd_path; /* RUN/command.sock */
	const char *ca, *cert, *key;
	const char *crl;         /* --crl: NULL, none */
	int crl_fd;              /* kept open: the sandbox opens nothing later (crl.c) */
	struct stat crl_seen;    /* the file as it was when its list was loaded */
	struct stat crl_refused; /* as it was when a reload last failed (said once) */
	bool crl_replaced;       /* renamed over: said once */
	STACK_OF(X509) * cas;    /* the CA certificates, for each reloaded store */
	struct gw_allow allow[GW_ALLOW_MAX]; /* client CNs let in; none listed: any the CA signed */
	unsigned n_allow;
	unsigned max_conns, n_conns;
	int listen_fd, epfd, sigfd;
	SSL_CTX *ctx;
	struct gw_conn *conns;
	struct gw_conn *dead;
	bool exiting;
};

/* tls.c: the server context (TLS 1.3 only, client certificates required); err says why not. */
int gw_tls_ctx(struct gw *g, char *err, size_t errlen);
/* Why a handshake failed, in words, for the log (consumes OpenSSL's error queue). */
void gw_tls_reason(struct gw_conn *c, char *buf, size_t len);

/* crl.c: --crl read at start (before the sandbox), and again when it changes in place. */
int gw_crl_open(struct gw *g, char *err, size_t errlen);
void gw_crl_refresh(struct gw *g);
void gw_crl_close(struct gw *g);

/* listen.c: binds HOST:PORT; the bound address (port 0 picks one) in bound. */
int gw_listen(const char *hostport, char *bound, size_t boundlen, char *err, size_t errlen);

/* conn.c */
struct gw_conn *gw_conn_new(struct gw *g, int fd, const char *peer);
void gw_conn_free(struct gw_conn *c);
/* Moves whatever can move now; 0 keep it, < 0 close it (the reason is logged). */
int gw_conn_pump(struct gw_conn *c);
/* SSL_read or SSL_write: > 0 bytes, 0 would block (*want set), -1 the connection is over
 * (*eof set when the peer closed it rather than failed). */
int gw_conn_tls_io(struct gw_conn *c, void *buf, size_t n, bool wr, short *want, bool *eof);
/* cmd_fd into down; its end sets closing. 0, or -1 the connection is over. */
int gw_conn_read_command(struct gw_conn *c, bool *moved);
/* The buffered replies to the client; 0, or -1 the connection is over. */
int gw_conn_write_client(struct gw_conn *c, bool *moved);
/* An answer of our own, line and '\n', after those already due to the client: 0, or -1 while
 * there is no room for it yet. */
int gw_conn_queue(struct gw_conn *c, const char *line);
/* Our last word is out: shut our side, drain the peer for a while, then close. */
void gw_conn_linger(struct gw_conn *c);

/* verbs.c: a request line (len bytes, '\n' included) from a client whose CN may ask only some
 * verbs: 0 relay it; 1 it was refused (an error line is queued for the client and the line
 * consumed) or waits for room for that answer. */
int gw_verbs_check(struct gw_conn *c, size_t len, bool *moved);

/* stream.c: the first whole line (len bytes): 0 not a stream line (relay it), 1 taken (a
 * claim sent, or a refusal queued), -1 close. */
int gw_stream_first_line(struct gw_conn *c, size_t len, bool *moved);
/* GW_CLAIMING: the command partition's whole answer in down: splice, or refuse. */
int gw_stream_claimed(struct gw_conn *c, bool *moved);
/* GW_SPLICE: gw_conn_pump's work for a stream. */
int gw_stream_pump(struct gw_conn *c);

/* sandbox.c: no new privileges, no capabilities, a seccomp allow list; after set-up. */
int gw_sandbox_enter(void);

/* loop.c */
int gw_run(struct gw *g);

uint64_t gw_now_ms(void);
void gw_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
