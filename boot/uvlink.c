/* SPDX-License-Identifier: MIT */
/*
 * The boot partition's link to the ultravisor: its control socket and the boot partition's own
 * command channel (partition 1, role boot), re-established after every ultravisor restart.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot.h"
#include "desc.h"
#include "resdb.h"

#define TXN_TIMEOUT_MS 10000

void boot_uv_drop(struct boot *b)
{
	if (b->cmd)
		uv_cmd_close(b->cmd);
	b->cmd = NULL;
	if (b->ctl >= 0)
		close(b->ctl);
	b->ctl = -1;
}

/* Waits until the (re)started ultravisor answers: its socket accepts and the boot channel opens.
 * Connects every 2 ms; the wait on the ultravisor's pidfd between tries ends it at once if the
 * daemon dies instead. Returns 0, -ECHILD if it died, -ETIMEDOUT. */
int boot_uv_wait(struct boot *b, int timeout_ms)
{
	struct pollfd p = {.fd = b->uv.pidfd, .events = POLLIN};
	uint64_t end = boot_now_ms() + (uint64_t)timeout_ms;
	char err[256];

	boot_uv_drop(b);
	for (;;) {
		if (uv_client_connect(b->sock_path, &b->ctl) == 0) {
			if (uv_cmd_open(b->ctl, BOOT_PARTITION, UV_ROLE_BOOT, &b->cmd, err,
			                sizeof(err)) == 0)
				return 0;
			fprintf(stderr, "ultra-boot: boot command channel: %s\n", err);
			boot_uv_drop(b);
			return -EPROTO;
		}
		if (boot_now_ms() >= end)
			return -ETIMEDOUT;
		if (poll(&p, 1, 2) > 0)
			return -ECHILD;
	}
}

static int submit(struct boot *b, struct uv_txn *t, const char *what)
{
	struct uv_txn_response resp;
	int r;

	if (!b->cmd)
		return -ENOTCONN;
	r = uv_cmd_submit(b->cmd, t, &resp, TXN_TIMEOUT_MS);
	if (r) {
		fprintf(stderr, "ultra-boot: %s: %s\n", what, strerror(-r));
		return r;
	}
	return resp.reason;
}

/* Whether the resource database already has partition p, read through its read-only mapping. */
static bool recorded(struct boot *b, uint32_t p)
{
	struct uv_partition_desc d;
	struct uv_resdb_view v;
	uint64_t size = 0;
	unsigned n = 0;
	char err[128];
	bool found = false;
	void *map;
	int fd = -1;

	if (uv_client_simple(b->ctl, UV_CTL_GET_DB, 0, 0, &fd, 1, &n, &size, err, sizeof(err)))
		return false;
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return false;
	found =
	    uv_resdb_view_attach(&v, map, size) == 0 && uv_resdb_read_desc(&v, p, &d, NULL) == 0;
	munmap(map, size);
	return found;
}

/* Records a system partition, as the boot partition may while the command partition is not up
 * (claim 8). Returns 0 if it is recorded now or was before. */
int boot_uv_record(struct boot *b, const struct boot_child *c)
{
	struct uv_txn t;
	struct uv_partition_desc *d = &t.u.create;
	int r;

	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_CREATE_PARTITION;
	*d = (struct uv_partition_desc){.magic = UV_DESC_MAGIC,
	                                .version = UV_DESC_VERSION,
	                                .size = sizeof(*d),
	                                .id = c->partition,
	                                .vcpus = 1,
	                                .n_mem = 1,
	                                .mem_bytes = UV_MEM_MIN};
	d->mem[0].size = UV_MEM_MIN;
	snprintf(d->name, sizeof(d->name), "%s", c->name);
	snprintf(d->kernel, sizeof(d->kernel), "system:%s", c->name);
	r = submit(b, &t, "record a system partition");
	/* Once the command partition runs, the boot partition may not create; an earlier boot
	 * recorded it then. */
	if (r == UV_TXN_OK || r == UV_TXN_EXISTS || (r > 0 && recorded(b, c->partition)))
		return 0;
	if (r > 0)
		fprintf(stderr, "ultra-boot: recording partition %u (%s) refused: %s\n",
		        c->partition, c->name, uv_txn_reason_str(r));
	return r > 0 ? -EPERM : r;
}

int boot_uv_set_state(struct boot *b, uint32_t partition, uint8_t state)
{
	struct uv_txn t;
	int r;

	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_SET_STATE;
	t.u.state.partition_id = partition;
	t.u.state.state = state;
	r = submit(b, &t, "set a system partition's state");
	if (r > 0)
		fprintf(stderr, "ultra-boot: partition %u to %s refused: %s\n", partition,
		        uv_state_name(state), uv_txn_reason_str(r));
	return r > 0 ? -EPERM : r;
}

/* PARTITION_FAILED or PARTITION_RESTARTED for a system partition (claims 5, 55). */
int boot_uv_report(struct boot *b, enum uv_ctl_op op, uint32_t partition)
{
	char err[256];
	int r;

	if (b->ctl < 0)
		return -ENOTCONN;
	r = uv_client_simple(b->ctl, op, partition, 0, NULL, 0, NULL, NULL, err, sizeof(err));
	if (r)
		fprintf(stderr, "ultra-boot: %s %u: %s\n",
		        op == UV_CTL_PARTITION_FAILED ? "PARTITION_FAILED" : "PARTITION_RESTARTED",
		        partition, err);
	return r;
}
