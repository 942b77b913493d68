/* SPDX-License-Identifier: MIT */
#include "uvclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "fdpass.h"
#include "unixsock.h"

#define TXN_BUF_MAX (64 * 1024)

struct uv_cmd {
	struct uv_chan *ch;
	void *mem;
	size_t size;
	int fds[3];
	uint32_t partition;
	uint8_t role;
	uint64_t next_id;
	unsigned char buf[TXN_BUF_MAX];
};

int uv_client_connect(const char *path, int *sock_out)
{
	int fd = uv_unix_connect(path, SOCK_SEQPACKET);

	if (fd < 0)
		return fd;
	*sock_out = fd;
	return 0;
}

int uv_client_call(int sock, const struct uv_ctl_req *req, struct uv_ctl_resp *resp, int *fds,
                   unsigned max_fds, unsigned *n_fds)
{
	ssize_t n;
	int r;

	if ((r = uv_send_fds(sock, req, sizeof(*req), NULL, 0)))
		return r;
	n = uv_recv_fds(sock, resp, sizeof(*resp), fds, max_fds, n_fds);
	if (n < 0)
		return (int)n;
	if (n != sizeof(*resp) || resp->magic != UV_CTL_MAGIC || resp->version != UV_CTL_VERSION ||
	    resp->n_fds != *n_fds) {
		for (unsigned i = 0; i < *n_fds; i++)
			close(fds[i]);
		*n_fds = 0;
		return n == 0 ? -EPIPE : -EPROTO;
	}
	resp->message[sizeof(resp->message) - 1] = 0;
	return 0;
}

int uv_client_simple(int sock, enum uv_ctl_op op, uint32_t partition, uint8_t role, int *fds,
                     unsigned max_fds, unsigned *n_fds, uint64_t *size, char *err, size_t errlen)
{
	struct uv_ctl_req req = {.magic = UV_CTL_MAGIC,
	                         .version = UV_CTL_VERSION,
	                         .op = op,
	                         .partition = partition,
	                         .role = role};
	struct uv_ctl_resp resp;
	unsigned dummy;
	int r;

	if (!n_fds)
		n_fds = &dummy;
	r = uv_client_call(sock, &req, &resp, fds, max_fds, n_fds);
	if (r) {
		snprintf(err, errlen, "ultravisor: %s", strerror(-r));
		return r;
	}
	if (resp.error) {
		snprintf(err, errlen, "ultravisor: %s", resp.message);
		for (unsigned i = 0; i < *n_fds; i++)
			close(fds[i]);
		*n_fds = 0;
		return resp.error;
	}
	if (size)
		*size = resp.size;
	return 0;
}

static void close_all(int *fds, unsigned *n)
{
	for (unsigned i = 0; i < *n; i++)
		close(fds[i]);
	*n = 0;
}

int uv_client_get_channels(int sock, uint32_t partition, int fds[UV_CTL_FDS_MAX],
                           struct uv_ctl_channel info[UV_CTL_FDS_MAX], unsigned *n, char *err,
                           size_t errlen)
{
	struct uv_ctl_req req = {.magic = UV_CTL_MAGIC,
	                         .version = UV_CTL_VERSION,
	                         .op = UV_CTL_GET_CHANNELS,
	                         .partition = partition};
	struct {
		struct uv_ctl_resp resp;
		struct uv_ctl_channel chan[UV_CTL_FDS_MAX];
	} msg;
	unsigned got = 0;
	ssize_t len;
	int r;

	_Static_assert(offsetof(__typeof__(msg), chan) == sizeof(struct uv_ctl_resp), "ctl ABI");
	if ((r = uv_send_fds(sock, &req, sizeof(req), NULL, 0)))
		goto transport;
	len = uv_recv_fds(sock, &msg, sizeof(msg), fds, UV_CTL_FDS_MAX, &got);
	if (len <= 0) {
		r = len == 0 ? -EPIPE : (int)len;
		goto transport;
	}
	if ((size_t)len != sizeof(msg.resp) + got * sizeof(msg.chan[0]) ||
	    msg.resp.magic != UV_CTL_MAGIC || msg.resp.version != UV_CTL_VERSION ||
	    msg.resp.op != UV_CTL_GET_CHANNELS || msg.resp.n_fds != got) {
		close_all(fds, &got);
		r = -EPROTO;
		goto transport;
	}
	msg.resp.message[sizeof(msg.resp.message) - 1] = 0;
	if (msg.resp.error) {
		close_all(fds, &got);
		snprintf(err, errlen, "ultravisor: %s", msg.resp.message);
		return msg.resp.error;
	}
	memcpy(info, msg.chan, got * sizeof(msg.chan[0]));
	*n = got;
	return 0;
transport:
	snprintf(err, errlen, "ultravisor: %s", strerror(-r));
	return r;
}

static int adopt(int sock, enum uv_ctl_op op, uint32_t partition, const int *fds, unsigned n,
                 char *err, size_t errlen)
{
	struct uv_ctl_req req = {
	    .magic = UV_CTL_MAGIC, .version = UV_CTL_VERSION, .op = op, .partition = partition};
	struct uv_ctl_resp resp;
	unsigned got = 0;
	int junk[1];
	ssize_t len;
	int r;

	if ((r = uv_send_fds(sock, &req, sizeof(req), fds, n)))
		return r;
	len = uv_recv_fds(sock, &resp, sizeof(resp), junk, 1, &got);
	for (unsigned i = 0; i < got; i++)
		close(junk[i]);
	if (len < 0)
		return (int)len;
	if (len != sizeof(resp) || resp.magic != UV_CTL_MAGIC)
		return -EPROTO;
	resp.message[sizeof(resp.message) - 1] = 0;
	if (resp.error)
		snprintf(err, errlen, "ultravisor: %s", resp.message);
	return resp.error;
}

int uv_client_adopt_memory(int sock, uint32_t partition, const int *fds, unsigned n, char *err,
                           size_t errlen)
{
	return adopt(sock, UV_CTL_ADOPT_MEMORY, partition, fds, n, err, errlen);
}

int uv_client_adopt_channels(int sock, uint32_t partition, const int *fds, unsigned n, char *err,
                             size_t errlen)
{
	return adopt(sock, UV_CTL_ADOPT_CHANNELS, partition, fds, n, err, errlen);
}

void uv_cmd_close(struct uv_cmd *c)
{
	if (!c)
		return;
	if (c->ch)
		uv_chan_detach(c->ch);
	if (c->mem)
		munmap(c->mem, c->size);
	for (int i = 0; i < 3; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	free(c);
}

int uv_cmd_open(int sock, uint32_t partition, uint8_t role, struct uv_cmd **out, char *err,
                size_t errlen)
{
	struct uv_chan_endpoint ep = {.side = UV_CHAN_SIDE_B, .part_id = partition};
	struct uv_cmd *c = calloc(1, sizeof(*c));
	unsigned n = 0;
	uint64_t size = 0;
	int r;

	if (!c)
		return -ENOMEM;
	c->fds[0] = c->fds[1] = c->fds[2] = -1;
	c->partition = partition;
	c->role = role;
	r = uv_client_simple(sock, UV_CTL_OPEN_COMMAND, partition, role, c->fds, 3, &n, &size, err,
	                     errlen);
	if (r)
		goto fail;
	if (n != 3 || size == 0 || size > (64u << 20)) {
		r = -EPROTO;
		snprintf(err, errlen, "ultravisor: malformed command channel grant");
		goto fail;
	}
	c->size = size;
	c->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fds[0], 0);
	if (c->mem == MAP_FAILED) {
		c->mem = NULL;
		r = -errno;
		snprintf(err, errlen, "mapping the command channel: %s", strerror(errno));
		goto fail;
	}
	ep.wait_fd = c->fds[1];
	ep.signal_fd = c->fds[2];
	r = uv_chan_attach(&c->ch, c->mem, size, &ep, err, errlen);
	if (r)
		goto fail;
	*out = c;
	return 0;
fail:
	uv_cmd_close(c);
	return r;
}

void uv_cmd_set_spin(struct uv_cmd *c, unsigned spin_us) { uv_chan_set_spin(c->ch, spin_us); }

int uv_cmd_send(struct uv_cmd *c, struct uv_txn *t, uint64_t *request_id, int timeout_ms)
{
	enum uv_txn_reason reason;
	struct iovec iov;
	ssize_t len;
	int r;

	t->hdr.sender_id = c->partition;
	t->hdr.sender_role = c->role;
	t->hdr.request_id = ++c->next_id;
	len = uv_txn_encode(t, c->buf, sizeof(c->buf), &reason);
	if (len < 0)
		return (int)len;
	iov.iov_base = c->buf;
	iov.iov_len = (size_t)len;
	r = uv_chan_send_wait(c->ch, 0, &iov, 1, timeout_ms);
	if (r < 0)
		return r;
	if (request_id)
		*request_id = t->hdr.request_id;
	return 0;
}

int uv_cmd_send_raw(struct uv_cmd *c, const void *buf, size_t len, int timeout_ms)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	int r = uv_chan_send_wait(c->ch, 0, &iov, 1, timeout_ms);

	return r < 0 ? r : 0;
}

int uv_cmd_recv(struct uv_cmd *c, struct uv_txn_response *resp, uint64_t *request_id,
                int timeout_ms)
{
	struct uv_chan_buf b = {.data = c->buf, .cap = sizeof(c->buf)};
	struct uv_txn t;
	int r;

	r = uv_chan_recv_wait(c->ch, 1, &b, 1, timeout_ms);
	if (r < 0)
		return r;
	if (uv_txn_decode(c->buf, b.len, &t) != UV_TXN_OK || t.hdr.type != UV_TXN_RESPONSE)
		return -EPROTO;
	*resp = t.u.response;
	if (request_id)
		*request_id = t.hdr.request_id;
	return 0;
}

int uv_cmd_submit(struct uv_cmd *c, struct uv_txn *t, struct uv_txn_response *resp, int timeout_ms)
{
	uint64_t id, got;
	int r;

	if ((r = uv_cmd_send(c, t, &id, timeout_ms)))
		return r;
	do {
		if ((r = uv_cmd_recv(c, resp, &got, timeout_ms)))
			return r;
	} while (got != id); /* answers to earlier, abandoned requests */
	return 0;
}
