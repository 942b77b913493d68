/* SPDX-License-Identifier: MIT */
/* The command partition's link to the ultravisor: a control connection, a read-only mapping of
 * the resource database (claim 40) and a command channel as partition 2, role command (claim 6).
 * A restarted ultravisor is a new region and a new channel: both are taken again on demand. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "command.h"
#include "desc.h"

void cmd_uv_close(struct cmdp *c)
{
	uv_cmd_close(c->chan);
	c->chan = NULL;
	if (c->db_map)
		munmap(c->db_map, c->db_size);
	c->db_map = NULL;
	if (c->uv_sock >= 0)
		close(c->uv_sock);
	c->uv_sock = -1;
}

/* A restarted ultravisor has a new region: the old mapping would be a stale copy. Its death is
 * seen on the control socket at once. */
static int hung_up(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLIN));
}

static int map_db(struct cmdp *c, struct api_err *e)
{
	char err[160];
	uint64_t size = 0;
	unsigned n = 0;
	int fd = -1, r;
	void *map;

	r = uv_client_simple(c->uv_sock, UV_CTL_GET_DB, 0, 0, &fd, 1, &n, &size, err, sizeof(err));
	if (r)
		return api_fail(e, "ultravisor", "resource database: %s", err);
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return api_fail(e, "ultravisor", "mapping the resource database: %s",
		                strerror(errno));
	if (uv_resdb_view_attach(&c->view, map, size)) {
		munmap(map, size);
		return api_fail(e, "ultravisor", "the resource database region is not valid");
	}
	c->db_map = map;
	c->db_size = size;
	return 0;
}

int cmd_uv_connect(struct cmdp *c, struct api_err *e)
{
	char err[160];
	int r;

	if (c->chan && !hung_up(c->uv_sock))
		return 0;
	cmd_uv_close(c);
	if ((r = uv_client_connect(c->uv_path, &c->uv_sock)))
		return api_fail(e, "ultravisor", "cannot reach the ultravisor at %s: %s",
		                c->uv_path, strerror(-r));
	if (map_db(c, e))
		goto fail;
	if (uv_cmd_open(c->uv_sock, c->self, UV_ROLE_COMMAND, &c->chan, err, sizeof(err))) {
		api_fail(e, "ultravisor", "opening the command channel as partition %u: %s",
		         c->self, err);
		goto fail;
	}
	return 0;
fail:
	cmd_uv_close(c);
	return -1;
}

static enum uv_txn_reason reason_code_of(enum uv_txn_reason r, const char **code)
{
	switch (r) {
	case UV_TXN_NO_SPACE:
		*code = "no-space";
		break;
	case UV_TXN_EXISTS:
		*code = "exists";
		break;
	case UV_TXN_BUSY:
		*code = "busy";
		break;
	case UV_TXN_NO_SUCH_PARTITION:
		*code = "no-such-partition";
		break;
	case UV_TXN_NOT_PERMITTED:
		*code = "not-permitted";
		break;
	default:
		*code = "refused";
		break;
	}
	return r;
}

/* One transaction; a dead channel (ultravisor restarted) is reopened once and the transaction
 * sent again: it was never acknowledged, so it was not applied (docs/ultravisor.md). */
int cmd_uv_submit(struct cmdp *c, struct uv_txn *t, const char *what, struct api_err *e)
{
	struct uv_txn_response resp = {0};
	const char *code;
	int r = -ENOTCONN, tries;

	for (tries = 0; tries < 2 && r; tries++) {
		if (cmd_uv_connect(c, e))
			return -1;
		r = uv_cmd_submit(c->chan, t, &resp, CMD_TIMEOUT_MS);
		if (r)
			cmd_uv_close(c);
	}
	if (r)
		return api_fail(e, "ultravisor", "%s: %s", what, strerror(-r));
	if (resp.reason != UV_TXN_OK) {
		reason_code_of(resp.reason, &code);
		return api_fail(e, code, "%s refused by the ultravisor: %s (%s)", what,
		                uv_txn_reason_str(resp.reason), uv_txn_reason_name(resp.reason));
	}
	return 0;
}
