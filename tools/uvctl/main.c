/* SPDX-License-Identifier: MIT */
/*
 * uvctl: speak to the ultravisor by hand, as the boot or command partition would (claims 6, 8).
 * It stands in for the command partition until that exists: the allocation decisions it makes
 * (which id, how much memory) are the caller's.
 *
 *   uvctl [-s SOCK] boot-command [ID]       as the boot partition: record the command
 *                                           partition ID (default 2) and mark it running
 *   uvctl [-s SOCK] create ID DEF.json      as the command partition: create partition ID
 *                                           from a definition and grant its memory
 *   uvctl [-s SOCK] channel ID A B SIZE     as the command partition: create channel ID
 *                                           between partitions A (side A) and B of SIZE
 *                                           bytes (suffix K or M allowed)
 *   uvctl [-s SOCK] state ID STATE          as the command partition: set a partition's state
 *   uvctl [-s SOCK] show ID                 the partition's record, read from the read-only
 *                                           database, as JSON (with each disk's limits)
 *   uvctl [-s SOCK] memory ID               the partition's memory objects: inode and size
 *   uvctl [-s SOCK] cpu ID MILLI            as the command partition: set its CPU share
 *                                           (1000 = one host CPU); its monitor enforces it
 *   uvctl [-s SOCK] failed|restarted ID     report a system partition's failure or restart
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "desc.h"
#include "disk_limit.h"
#include "resdb.h"
#include "uvclient.h"

#define TIMEOUT_MS 10000

static int submit(struct uv_cmd *c, struct uv_txn *t, const char *what, uint64_t *result)
{
	struct uv_txn_response resp;
	int r = uv_cmd_submit(c, t, &resp, TIMEOUT_MS);

	if (r) {
		fprintf(stderr, "uvctl: %s: %s\n", what, strerror(-r));
		return 1;
	}
	if (resp.reason != UV_TXN_OK) {
		fprintf(stderr, "uvctl: %s refused: %s (%s)\n", what,
		        uv_txn_reason_str(resp.reason), uv_txn_reason_name(resp.reason));
		return resp.reason == UV_TXN_EXISTS ? 3 : 1;
	}
	if (result)
		*result = resp.log_seq;
	return 0;
}

static int open_as(int sock, uint32_t id, enum uv_role role, struct uv_cmd **c)
{
	char err[256];
	int r = uv_cmd_open(sock, id, (uint8_t)role, c, err, sizeof(err));

	if (r)
		fprintf(stderr, "uvctl: %s\n", err);
	return r ? 1 : 0;
}

static void state_txn(struct uv_txn *t, uint32_t id, enum uv_part_state s)
{
	memset(t, 0, sizeof(*t));
	t->hdr.type = UV_TXN_SET_STATE;
	t->u.state.partition_id = id;
	t->u.state.state = s;
}

static int cmd_boot_command(int sock, uint32_t id)
{
	struct uv_cmd *c;
	struct uv_txn t;
	int r;

	if (open_as(sock, 1, UV_ROLE_BOOT, &c))
		return 1;
	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_CREATE_PARTITION;
	t.u.create = (struct uv_partition_desc){.magic = UV_DESC_MAGIC,
	                                        .version = UV_DESC_VERSION,
	                                        .size = sizeof(struct uv_partition_desc),
	                                        .id = id,
	                                        .vcpus = 1,
	                                        .n_mem = 1,
	                                        .mem_bytes = UV_MEM_MIN};
	t.u.create.mem[0].size = UV_MEM_MIN;
	snprintf(t.u.create.name, sizeof(t.u.create.name), "command");
	snprintf(t.u.create.kernel, sizeof(t.u.create.kernel), "system:command");
	r = submit(c, &t, "create command partition", NULL);
	if (r == 0 || r == 3) { /* already recorded by an earlier boot: just make it run */
		state_txn(&t, id, UV_STATE_RUNNING);
		r = submit(c, &t, "start command partition", NULL);
	}
	uv_cmd_close(c);
	return r;
}

static int cmd_create(int sock, uint32_t id, const char *def)
{
	struct uv_partition_desc d;
	struct uv_cmd *c;
	struct uv_txn t;
	uint64_t seq = 0;
	char err[512];
	int r;

	if ((r = uv_desc_from_file(def, &d, err, sizeof(err)))) {
		fprintf(stderr, "uvctl: %s\n", err);
		return 1;
	}
	d.id = id;
	if (open_as(sock, 2, UV_ROLE_COMMAND, &c))
		return 1;
	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_CREATE_PARTITION;
	t.u.create = d;
	r = submit(c, &t, "create partition", NULL);
	if (!r) {
		memset(&t, 0, sizeof(t));
		t.hdr.type = UV_TXN_GRANT_MEMORY;
		t.u.memory.partition_id = id;
		t.u.memory.bytes = d.mem_bytes;
		r = submit(c, &t, "grant memory", &seq);
	}
	if (!r)
		printf("partition %u \"%s\": %llu MiB granted (log seq %llu)\n", id, d.name,
		       (unsigned long long)(d.mem_bytes >> 20), (unsigned long long)seq);
	uv_cmd_close(c);
	return r;
}

static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	v = strtoull(s, &end, 0);
	if (end == s)
		return -EINVAL;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	if (shift)
		end++;
	if (*end || v == 0 || v > (~0ull >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

static int cmd_channel(int sock, uint32_t id, char **args)
{
	struct uv_cmd *c;
	struct uv_txn t;
	uint64_t size, seq = 0;
	int r;

	if (parse_size(args[2], &size)) {
		fprintf(stderr, "uvctl: bad channel size %s\n", args[2]);
		return 2;
	}
	if (open_as(sock, 2, UV_ROLE_COMMAND, &c))
		return 1;
	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_CREATE_CHANNEL;
	t.u.channel.channel_id = id;
	t.u.channel.endpoint[0] = (uint32_t)strtoul(args[0], NULL, 10);
	t.u.channel.endpoint[1] = (uint32_t)strtoul(args[1], NULL, 10);
	t.u.channel.size = size;
	r = submit(c, &t, "create channel", &seq);
	if (!r)
		printf("channel %u between partitions %u and %u: %llu KiB (log seq %llu)\n", id,
		       t.u.channel.endpoint[0], t.u.channel.endpoint[1],
		       (unsigned long long)(size >> 10), (unsigned long long)seq);
	uv_cmd_close(c);
	return r;
}

static int cmd_state(int sock, uint32_t id, const char *name)
{
	struct uv_cmd *c;
	struct uv_txn t;
	int s, r;

	for (s = UV_STATE_DEFINED; s <= UV_STATE_MAX; s++)
		if (!strcmp(name, uv_state_name(s)))
			break;
	if (s > UV_STATE_MAX) {
		fprintf(stderr, "uvctl: unknown state %s\n", name);
		return 2;
	}
	if (open_as(sock, 2, UV_ROLE_COMMAND, &c))
		return 1;
	state_txn(&t, id, s);
	r = submit(c, &t, "set state", NULL);
	uv_cmd_close(c);
	return r;
}

static int cmd_cpu(int sock, uint32_t id, const char *milli)
{
	struct uv_cmd *c;
	struct uv_txn t;
	int r;

	if (open_as(sock, 2, UV_ROLE_COMMAND, &c))
		return 1;
	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_SET_CPU_SHARE;
	t.u.cpu.partition_id = id;
	t.u.cpu.cpu_share_milli = (uint32_t)strtoul(milli, NULL, 10);
	r = submit(c, &t, "set CPU share", NULL);
	uv_cmd_close(c);
	return r;
}

static int cmd_show(int sock, uint32_t id)
{
	struct uv_resdb_view v;
	struct uv_partition_desc d;
	struct uv_resdb_part rec;
	int fd = -1, r;
	unsigned n;
	uint64_t size;
	char err[256];
	void *map;

	if ((r = uv_client_simple(sock, UV_CTL_GET_DB, 0, 0, &fd, 1, &n, &size, err,
	                          sizeof(err)))) {
		fprintf(stderr, "uvctl: %s\n", err);
		return 1;
	}
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED || uv_resdb_view_attach(&v, map, size)) {
		fprintf(stderr, "uvctl: cannot read the resource database\n");
		return 1;
	}
	r = uv_resdb_read_desc(&v, id, &d, &rec);
	if (r) {
		fprintf(stderr, "uvctl: partition %u: %s\n", id,
		        r == -ENOENT ? "no such partition" : strerror(-r));
		munmap(map, size);
		return 1;
	}
	printf("{\"id\":%u,\"name\":\"%s\",\"state\":\"%s\",\"vcpus\":%u,\"cpu_share_milli\":%u,"
	       "\"memory_mib\":%llu,\"granted_mib\":%llu,\"status\":%u,\"disk_limits\":[",
	       id, d.name, uv_state_name(rec.state), d.vcpus, rec.cpu_share_milli,
	       (unsigned long long)(d.mem_bytes >> 20), (unsigned long long)(rec.mem_bytes >> 20),
	       rec.status);
	for (unsigned i = 0; i < d.n_disk && i < UV_DISKS_MAX; i++)
		for (unsigned k = 0; k < UV_DISK_LIMIT_KEYS; k++)
			printf("%s\"%s\":%llu%s",
			       k   ? ","
			       : i ? ",{"
			           : "{",
			       uv_disk_limit_key(k),
			       (unsigned long long)uv_disk_limit_get(&d.disk_limit[i], k),
			       k + 1 == UV_DISK_LIMIT_KEYS ? "}" : "");
	printf("]}\n");
	munmap(map, size);
	return 0;
}

/* As the command partition: the partition's memory objects, one line each (inode, size), so a
 * test can tell which object the ultravisor would hand out. */
static int cmd_memory(int sock, uint32_t id)
{
	int fds[UV_CTL_FDS_MAX], r;
	struct uv_cmd *c;
	unsigned n = 0;
	uint64_t bytes;
	char err[256];

	if (open_as(sock, 2, UV_ROLE_COMMAND, &c))
		return 1;
	r = uv_client_simple(sock, UV_CTL_GET_MEMORY, id, 0, fds, UV_CTL_FDS_MAX, &n, &bytes, err,
	                     sizeof(err));
	if (r)
		fprintf(stderr, "uvctl: %s\n", err);
	for (unsigned i = 0; i < n; i++) {
		struct stat st;

		if (fstat(fds[i], &st) == 0)
			printf("%llu %llu\n", (unsigned long long)st.st_ino,
			       (unsigned long long)st.st_size);
		close(fds[i]);
	}
	uv_cmd_close(c);
	return r ? 1 : 0;
}

static int cmd_report(int sock, uint32_t id, enum uv_ctl_op op)
{
	char err[256];
	int r = uv_client_simple(sock, op, id, 0, NULL, 0, NULL, NULL, err, sizeof(err));

	if (r)
		fprintf(stderr, "uvctl: %s\n", err);
	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *sock_path = "/run/ultravisor/ultravisor.sock";
	int c, sock, r;
	uint32_t id;

	while ((c = getopt(argc, argv, "s:h")) != -1) {
		if (c == 's')
			sock_path = optarg;
		else
			goto usage;
	}
	if (optind >= argc)
		goto usage;
	if (uv_client_connect(sock_path, &sock)) {
		fprintf(stderr, "uvctl: cannot reach the ultravisor at %s\n", sock_path);
		return 1;
	}
	id = optind + 1 < argc ? (uint32_t)strtoul(argv[optind + 1], NULL, 10) : 2;
	if (!strcmp(argv[optind], "boot-command"))
		r = cmd_boot_command(sock, id);
	else if (!strcmp(argv[optind], "create") && optind + 3 == argc)
		r = cmd_create(sock, id, argv[optind + 2]);
	else if (!strcmp(argv[optind], "channel") && optind + 5 == argc)
		r = cmd_channel(sock, id, argv + optind + 2);
	else if (!strcmp(argv[optind], "state") && optind + 3 == argc)
		r = cmd_state(sock, id, argv[optind + 2]);
	else if (!strcmp(argv[optind], "show") && optind + 2 == argc)
		r = cmd_show(sock, id);
	else if (!strcmp(argv[optind], "memory") && optind + 2 == argc)
		r = cmd_memory(sock, id);
	else if (!strcmp(argv[optind], "cpu") && optind + 3 == argc)
		r = cmd_cpu(sock, id, argv[optind + 2]);
	else if (!strcmp(argv[optind], "failed") && optind + 2 == argc)
		r = cmd_report(sock, id, UV_CTL_PARTITION_FAILED);
	else if (!strcmp(argv[optind], "restarted") && optind + 2 == argc)
		r = cmd_report(sock, id, UV_CTL_PARTITION_RESTARTED);
	else
		goto usage;
	close(sock);
	return r;
usage:
	fprintf(
	    stderr,
	    "usage: uvctl [-s SOCK] boot-command [ID] | create ID DEF.json | "
	    "channel ID A B SIZE | state ID STATE | show ID | memory ID | cpu ID MILLI | failed ID | restarted ID\n");
	return 2;
}
