/* SPDX-License-Identifier: MIT */
/*
 * A migration stream through the gateway (claims 43, 44; docs/migration.md, "Over the
 * network"). A client whose first line is a stream line ("ultra-stream 1 TOKEN") is not relayed
 * to the control API: the gateway asks the command partition to claim the token (stream-claim,
 * single use, expiring), and on its answer connects to the incoming partition's migrate.sock and
 * splices bytes both ways between it and the client's TLS connection, through the two bounded
 * buffers every client has (up: GW_LINE_MAX, down: GW_DOWN_CAP): a side that does not take bytes
 * stops the gateway reading the other. A refusal is logged with the peer and its CN, and the
 * client gets an error line before the connection ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw.h"
#include "migstream.h"
#include "unixsock.h"

/* The client's last line before the end: an error in the control API's own words. */
static void refuse(struct gw_conn *c, const char *why, bool *moved)
{
	char msg[400];
	int n;

	gw_log("%s (CN \"%s\"): refused: %s", c->peer, c->cn, why);
	n = snprintf(msg, sizeof(msg), "{\"error\":{\"code\":\"refused\",\"message\":\"%s\"}}\n",
	             why);
	c->down_len = 0;
	if (n > 0 && (size_t)n < sizeof(msg)) {
		memcpy(c->down, msg, (size_t)n);
		c->down_len = (size_t)n;
	}
	c->mode = GW_LINES;
	c->inflight = false;
	c->closing = true;
	*moved = true;
}

/* Who asks, for the command partition's log: the CN is the certificate's, any bytes the CA
 * let through; inside a JSON string only plain ones go. */
static void who(const struct gw_conn *c, char *out, size_t cap)
{
	snprintf(out, cap, "%s CN %s", c->peer, c->cn[0] ? c->cn : "?");
	for (char *p = out; *p; p++)
		if (*p < 0x20 || *p == '"' || *p == '\\' || *p >= 0x7f)
			*p = '?';
}

int gw_stream_first_line(struct gw_conn *c, size_t len, bool *moved)
{
	char token[UV_STREAM_TOKEN_LEN + 1], why[160], req[400], peer[200];
	int r = uv_stream_line_parse(c->up.buf, len, token, why, sizeof(why)), n;

	if (r == 0)
		return 0;
	uv_linebuf_consume(&c->up, len);
	*moved = true;
	if (r < 0) {
		refuse(c, why, moved);
		return 1;
	}
	/* The command partition keeps the tokens; it is asked on this client's own connection,
	 * which carries nothing else now. */
	who(c, peer, sizeof(peer));
	n = snprintf(req, sizeof(req),
	             "{\"version\":1,\"execute\":\"stream-claim\",\"arguments\":{\"token\":\"%s\","
	             "\"peer\":\"%s\"}}\n",
	             token, peer);
	if (n <= 0 || (size_t)n >= sizeof(req) ||
	    send(c->cmd_fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		gw_log(
		    "%s (CN \"%s\"): the stream claim could not be sent to the command partition",
		    c->peer, c->cn);
		return -1;
	}
	c->mode = GW_CLAIMING;
	c->inflight = true;
	return 1;
}

/* From the command partition's socket to the incoming partition's stream socket. */
static int switch_to(struct gw_conn *c, const char *path, char *why, size_t whylen)
{
	struct epoll_event ev = {.events = 0, .data.ptr = c};
	int fd = uv_unix_connect(path, SOCK_STREAM);

	if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		snprintf(why, whylen, "the partition's stream socket: %s",
		         strerror(fd < 0 ? -fd : errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(c->cmd_fd); /* out of the epoll set with it; frees the command partition's slot */
	c->cmd_fd = fd;
	c->cmd_ev = 0;
	if (epoll_ctl(c->gw->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		snprintf(why, whylen, "epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int gw_stream_claimed(struct gw_conn *c, bool *moved)
{
	static const char ok[] = "{\"return\":{\"stream\":\"connected\"}}\n";
	json_object *reply = NULL, *v, *e;
	char path[UV_STREAM_PATH_MAX], why[256];
	char *nl = memchr(c->down, '\n', c->down_len);
	const char *msg;

	if (!nl) {
		if (c->closing || c->down_len == GW_DOWN_CAP)
			refuse(c, "the command partition gave no answer to the stream claim",
			       moved);
		return 0;
	}
	*nl = 0;
	reply = json_tokener_parse(c->down);
	if (reply && json_object_object_get_ex(reply, "return", &v) &&
	    !uv_stream_claim_reply_path(v, path, sizeof(path))) {
		c->down_len = 0;
		if (switch_to(c, path, why, sizeof(why))) {
			json_object_put(reply);
			gw_log("%s (CN \"%s\"): stream: %s", c->peer, c->cn, why);
			return -1;
		}
		gw_log("%s (CN \"%s\"): stream token accepted, spliced to %s", c->peer, c->cn,
		       path);
		memcpy(c->down, ok, sizeof(ok) - 1);
		c->down_len = sizeof(ok) - 1;
		c->mode = GW_SPLICE;
		c->inflight = false;
		*moved = true;
	} else {
		msg = reply && json_object_object_get_ex(reply, "error", &e) &&
		              json_object_object_get_ex(e, "message", &v) &&
		              json_object_is_type(v, json_type_string)
		          ? json_object_get_string(v)
		          : "the command partition's answer does not parse";
		/* Its message is ours to pass on, but only printable and without quotes. */
		snprintf(why, sizeof(why), "%.200s", msg);
		for (char *p = why; *p; p++)
			if (*p < 0x20 || *p == '"' || *p == '\\' || *p >= 0x7f)
				*p = '?';
		refuse(c, why, moved);
	}
	json_object_put(reply);
	return 0;
}

/* client -> up */
static int splice_read_client(struct gw_conn *c, bool *moved)
{
	size_t space = uv_linebuf_space(&c->up);
	bool eof = false;
	int r;

	if (!space || c->client_eof)
		return 0;
	r = gw_conn_tls_io(c, uv_linebuf_tail(&c->up), space, false, &c->rd_want, &eof);
	if (r < 0 && !eof)
		return -1;
	if (r < 0)
		c->client_eof = true;
	else if (r > 0)
		uv_linebuf_added(&c->up, (size_t)r);
	*moved |= r != 0;
	return 0;
}

/* up -> the stream socket */
static int splice_write_stream(struct gw_conn *c, bool *moved)
{
	ssize_t n;

	if (!c->up.len)
		return 0;
	n = send(c->cmd_fd, c->up.buf, c->up.len, MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	uv_linebuf_consume(&c->up, (size_t)n);
	*moved = true;
	return 0;
}

int gw_stream_pump(struct gw_conn *c)
{
	bool moved = true;

	while (moved) {
		moved = false;
		if (splice_read_client(c, &moved) || splice_write_stream(c, &moved) ||
		    gw_conn_read_command(c, &moved) || gw_conn_write_client(c, &moved)) {
			gw_log("%s (CN \"%s\"): stream cut: %s", c->peer, c->cn,
			       c->client_eof ? "the partition's socket failed"
			                     : "a side failed or went");
			return -1;
		}
	}
	/* The client ended (the source sent everything): once its bytes are through, we end;
	 * the stream socket keeps them for its reader after we close it. */
	if (c->client_eof && !c->up.len) {
		gw_log("%s (CN \"%s\"): stream ended by the source", c->peer, c->cn);
		gw_conn_linger(c);
	}
	/* The partition's side ended: the stream cannot go on, so the client is not drained for
	 * a while as after a refusal; it is closed at once and its next write fails. */
	if (c->closing && !c->down_len) {
		gw_log("%s (CN \"%s\"): stream ended by the partition's side", c->peer, c->cn);
		return -1;
	}
	return 0;
}
