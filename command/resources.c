/* SPDX-License-Identifier: MIT */
/*
 * What this host has, read from the command partition's own copy of the resource database
 * (claim 40): the pool's size and what of it is free, the host's CPUs and what the active
 * partitions' shares commit of them (an unlimited share counts as all its vCPUs, as the
 * operations partition counts it), and how many guest partitions exist. The operations
 * partition places partitions on hosts by it (claims 39, 42, docs/operations.md).
 */
#include <errno.h>
#include <unistd.h>

#include "command.h"

struct tally {
	uint64_t committed_milli;
	unsigned partitions;
};

static int count(const struct cmd_part *p, void *ctx)
{
	struct tally *t = ctx;
	uint32_t st = p->rec.state;

	t->partitions++;
	if (st == UV_STATE_STARTING || st == UV_STATE_RUNNING || st == UV_STATE_PAUSED ||
	    st == UV_STATE_STOPPING)
		t->committed_milli +=
		    p->rec.cpu_share_milli ? p->rec.cpu_share_milli : p->desc.vcpus * 1000ull;
	return 0;
}

static json_object *pair(const char *a, json_object *va, const char *b, json_object *vb)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, a, va);
	json_object_object_add(o, b, vb);
	return o;
}

json_object *cmd_resources(struct cmdp *c, struct api_err *e)
{
	struct tally t = {0};
	uint64_t free_bytes = 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	json_object *o;

	if (cmd_view_each(c, count, &t) || uv_pagemap_view_free(&c->view.pm, &free_bytes)) {
		api_fail(e, "ultravisor", "cannot read the resource database");
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "memory_mib",
	                       pair("total", json_object_new_int64(c->view.geo.pool_bytes >> 20),
	                            "free", json_object_new_int64(free_bytes >> 20)));
	json_object_object_add(o, "cpus",
	                       pair("total", json_object_new_int64(cpus > 0 ? cpus : 1),
	                            "committed",
	                            json_object_new_double(t.committed_milli / 1000.0)));
	json_object_object_add(o, "partitions", json_object_new_int64(t.partitions));
	return o;
}
