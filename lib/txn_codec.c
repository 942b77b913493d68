/* SPDX-License-Identifier: MIT */
/* Structural validation, decoding and encoding of transaction records. */
#include "txn_codec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "desc.h"
#include "desc_upgrade.h"
#include "disk_limit.h"

/* What a type's body looks like on the wire and how to check it. */
struct txn_layout {
	size_t body_size;
	int has_extents;
	enum uv_txn_reason (*check)(const struct uv_txn *t);
};

static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		if (*b++)
			return 0;
	return 1;
}

static int str_terminated(const char *s, size_t cap) { return memchr(s, 0, cap) != NULL; }

static enum uv_txn_reason check_create(const struct uv_txn *t)
{
	const struct uv_partition_desc *d = &t->u.create;
	uint32_t i;

	if (!str_terminated(d->name, sizeof(d->name)) ||
	    !str_terminated(d->kernel, sizeof(d->kernel)) ||
	    !str_terminated(d->initrd, sizeof(d->initrd)) ||
	    !str_terminated(d->cmdline, sizeof(d->cmdline)))
		return UV_TXN_BAD_STRING;
	if (d->n_mem > UV_MEM_REGIONS_MAX || d->n_dev > UV_DEVICES_MAX)
		return UV_TXN_BAD_COUNT;
	for (i = 0; i < d->n_dev; i++)
		if (!str_terminated(d->dev[i].path, sizeof(d->dev[i].path)))
			return UV_TXN_BAD_STRING;
	if (uv_desc_validate(d, 0, NULL, 0))
		return UV_TXN_BAD_DESC;
	return UV_TXN_OK;
}

static enum uv_txn_reason check_partition(const struct uv_txn *t)
{
	return t->u.partition.reserved ? UV_TXN_BAD_RESERVED : UV_TXN_OK;
}

static enum uv_txn_reason check_extent(const struct uv_txn_extent *e, uint64_t prev_end)
{
	if (!e->size || e->size % UV_TXN_PAGE_SIZE || e->pool_offset % UV_TXN_PAGE_SIZE)
		return UV_TXN_BAD_EXTENT;
	if (e->pool_offset + e->size < e->pool_offset || e->pool_offset < prev_end)
		return UV_TXN_BAD_EXTENT;
	return UV_TXN_OK;
}

static enum uv_txn_reason check_memory(const struct uv_txn *t)
{
	uint64_t sum = 0, end = 0;
	uint32_t i;

	/* A grant without extents asks the ultravisor to choose the blocks (the logged, completed
	 * record then carries them); every other memory record names its blocks. */
	if (t->u.memory.n_extents == 0) {
		if (t->hdr.type != UV_TXN_GRANT_MEMORY)
			return UV_TXN_BAD_COUNT;
		return t->u.memory.bytes && t->u.memory.bytes % UV_TXN_PAGE_SIZE == 0
		           ? UV_TXN_OK
		           : UV_TXN_BAD_VALUE;
	}
	for (i = 0; i < t->u.memory.n_extents; i++) {
		struct uv_txn_extent e = uv_txn_extent_at(t, i);
		enum uv_txn_reason r = check_extent(&e, end);

		if (r)
			return r;
		end = e.pool_offset + e.size;
		if (sum + e.size < sum)
			return UV_TXN_BAD_EXTENT;
		sum += e.size;
	}
	return sum == t->u.memory.bytes ? UV_TXN_OK : UV_TXN_BAD_EXTENT;
}

static enum uv_txn_reason check_channel(const struct uv_txn *t)
{
	const struct uv_txn_channel *c = &t->u.channel;

	if (c->reserved)
		return UV_TXN_BAD_RESERVED;
	if (c->endpoint[0] == c->endpoint[1] || !c->size || c->size % UV_TXN_PAGE_SIZE)
		return UV_TXN_BAD_VALUE;
	return UV_TXN_OK;
}

static enum uv_txn_reason check_device(const struct uv_txn *t)
{
	const struct uv_device *v = &t->u.device.device;

	if (t->u.device.reserved)
		return UV_TXN_BAD_RESERVED;
	if (v->kind == UV_DEV_NONE || v->kind > UV_DEV_KIND_MAX)
		return UV_TXN_BAD_VALUE;
	if (v->flags & ~UV_DEV_F_READONLY)
		return UV_TXN_BAD_FLAGS;
	if (!str_terminated(v->path, sizeof(v->path)))
		return UV_TXN_BAD_STRING;
	if (v->kind != UV_DEV_RNG && !v->path[0])
		return UV_TXN_BAD_STRING;
	return UV_TXN_OK;
}

static enum uv_txn_reason check_cpu_share(const struct uv_txn *t)
{
	return t->u.cpu.cpu_share_milli > UV_TXN_CPU_SHARE_MAX ? UV_TXN_BAD_VALUE : UV_TXN_OK;
}

static enum uv_txn_reason check_disk_limits(const struct uv_txn *t)
{
	const struct uv_txn_disk_limits *l = &t->u.disk_limits;

	if (l->limit.reserved)
		return UV_TXN_BAD_RESERVED;
	if (l->disk >= UV_DISKS_MAX || uv_disk_limit_check(&l->limit, "limits", NULL, 0))
		return UV_TXN_BAD_VALUE;
	return UV_TXN_OK;
}

static enum uv_txn_reason check_state(const struct uv_txn *t)
{
	return t->u.state.state > UV_STATE_MAX ? UV_TXN_BAD_VALUE : UV_TXN_OK;
}

static enum uv_txn_reason check_response(const struct uv_txn *t)
{
	const struct uv_txn_response *r = &t->u.response;

	if (t->hdr.sender_role != UV_ROLE_ULTRAVISOR)
		return UV_TXN_BAD_ROLE;
	if (r->reserved)
		return UV_TXN_BAD_RESERVED;
	/* A request too broken to have a type still gets its refusal, with request type NONE. */
	if (!uv_txn_reason_name(r->reason) || r->request_type == UV_TXN_RESPONSE ||
	    r->request_type >= UV_TXN_TYPE_COUNT ||
	    (r->request_type == UV_TXN_NONE && r->reason == UV_TXN_OK))
		return UV_TXN_BAD_VALUE;
	return UV_TXN_OK;
}

static const struct txn_layout layouts[UV_TXN_TYPE_COUNT] = {
    [UV_TXN_CREATE_PARTITION] = {sizeof(struct uv_partition_desc), 0, check_create},
    [UV_TXN_DESTROY_PARTITION] = {sizeof(struct uv_txn_partition), 0, check_partition},
    [UV_TXN_GRANT_MEMORY] = {sizeof(struct uv_txn_memory), 1, check_memory},
    [UV_TXN_REVOKE_MEMORY] = {sizeof(struct uv_txn_memory), 1, check_memory},
    [UV_TXN_CREATE_CHANNEL] = {sizeof(struct uv_txn_channel), 0, check_channel},
    [UV_TXN_DESTROY_CHANNEL] = {sizeof(struct uv_txn_channel), 0, check_channel},
    [UV_TXN_ASSIGN_DEVICE] = {sizeof(struct uv_txn_device), 0, check_device},
    [UV_TXN_RELEASE_DEVICE] = {sizeof(struct uv_txn_device), 0, check_device},
    [UV_TXN_SET_CPU_SHARE] = {sizeof(struct uv_txn_cpu_share), 0, check_cpu_share},
    [UV_TXN_SET_STATE] = {sizeof(struct uv_txn_state), 0, check_state},
    [UV_TXN_RESPONSE] = {sizeof(struct uv_txn_response), 0, check_response},
    [UV_TXN_SET_DISK_LIMITS] = {sizeof(struct uv_txn_disk_limits), 0, check_disk_limits},
};

static const struct txn_layout *layout_of(uint16_t type)
{
	if (type >= UV_TXN_TYPE_COUNT || !layouts[type].check)
		return NULL;
	return &layouts[type];
}

static enum uv_txn_reason check_header(const struct uv_txn_hdr *h, size_t len)
{
	if (h->magic != UV_TXN_MAGIC)
		return UV_TXN_BAD_MAGIC;
	if (h->version != UV_TXN_VERSION)
		return UV_TXN_BAD_VERSION;
	if (h->header_size != sizeof(*h))
		return UV_TXN_BAD_HEADER_SIZE;
	if (h->length != len)
		return UV_TXN_BAD_SIZE;
	if (!layout_of(h->type))
		return UV_TXN_UNKNOWN_TYPE;
	if (h->flags & ~UV_TXN_F_ALL)
		return UV_TXN_BAD_FLAGS;
	if (h->sender_role >= UV_ROLE_COUNT)
		return UV_TXN_BAD_ROLE;
	if (!all_zero(h->pad, sizeof(h->pad)))
		return UV_TXN_BAD_RESERVED;
	return UV_TXN_OK;
}

/* The body is copied before the extent count is trusted, so the count is checked against both
 * its bound and the record length without arithmetic that could wrap. */
static enum uv_txn_reason check_length(const struct txn_layout *l, const struct uv_txn *t,
                                       size_t len)
{
	size_t fixed = sizeof(struct uv_txn_hdr) + l->body_size;

	if (len < fixed)
		return UV_TXN_BAD_SIZE;
	if (!l->has_extents)
		return len == fixed ? UV_TXN_OK : UV_TXN_BAD_SIZE;
	if (t->u.memory.n_extents > UV_TXN_EXTENTS_MAX)
		return UV_TXN_BAD_COUNT;
	if (len - fixed != (size_t)t->u.memory.n_extents * sizeof(struct uv_txn_extent))
		return UV_TXN_BAD_SIZE;
	return UV_TXN_OK;
}

/* A create-partition record logged by an earlier build carries that build's shorter descriptor
 * (docs/txn-log.md, "Upgrading"): the body is accepted only when the descriptor inside names an
 * older version whose exact size is the body's; the decoded record holds the upgraded form. */
static enum uv_txn_reason decode_old_create(const unsigned char *body, size_t n, struct uv_txn *t)
{
	size_t want = uv_desc_stored_size(body, n);

	if (!want || want != n || want == sizeof(struct uv_partition_desc))
		return UV_TXN_BAD_SIZE;
	if (uv_desc_upgrade(body, n, &t->u.create, NULL, 0))
		return UV_TXN_BAD_DESC;
	t->extents = NULL;
	return check_create(t);
}

/* A set-disk-limits record an earlier build logged (descriptor version 3): partition, disk and a
 * 16-byte limit of totals, which is what it stays. */
#define DISK_LIMITS_V3_BODY (offsetof(struct uv_txn_disk_limits, limit) + UV_DISK_LIMIT_V3_SIZE)

static enum uv_txn_reason decode_old_limits(const unsigned char *body, struct uv_txn *t)
{
	struct uv_txn_disk_limits *l = &t->u.disk_limits;

	memcpy(&l->partition_id, body, sizeof(l->partition_id));
	memcpy(&l->disk, body + offsetof(struct uv_txn_disk_limits, disk), sizeof(l->disk));
	l->limit = uv_disk_limit_from_v3(body + offsetof(struct uv_txn_disk_limits, limit));
	t->extents = NULL;
	return check_disk_limits(t);
}

enum uv_txn_reason uv_txn_decode(const void *buf, size_t len, struct uv_txn *out)
{
	const unsigned char *p = buf;
	const struct txn_layout *l;
	enum uv_txn_reason r;
	struct uv_txn t;

	if (len < sizeof(t.hdr))
		return UV_TXN_BAD_SIZE;
	memcpy(&t.hdr, p, sizeof(t.hdr));
	if ((r = check_header(&t.hdr, len)))
		return r;
	l = layout_of(t.hdr.type);
	memset(&t.u, 0, sizeof(t.u));
	if (t.hdr.type == UV_TXN_CREATE_PARTITION && len != sizeof(t.hdr) + l->body_size) {
		if ((r = decode_old_create(p + sizeof(t.hdr), len - sizeof(t.hdr), &t)))
			return r;
		*out = t;
		return UV_TXN_OK;
	}
	if (t.hdr.type == UV_TXN_SET_DISK_LIMITS && len == sizeof(t.hdr) + DISK_LIMITS_V3_BODY) {
		if ((r = decode_old_limits(p + sizeof(t.hdr), &t)))
			return r;
		*out = t;
		return UV_TXN_OK;
	}
	if (len < sizeof(t.hdr) + l->body_size)
		return UV_TXN_BAD_SIZE;
	memcpy(&t.u, p + sizeof(t.hdr), l->body_size);
	t.extents = l->has_extents ? p + sizeof(t.hdr) + l->body_size : NULL;
	if ((r = check_length(l, &t, len)) || (r = l->check(&t)))
		return r;
	*out = t;
	return UV_TXN_OK;
}

void uv_txn_explain(const void *buf, size_t len, enum uv_txn_reason reason, char *out, size_t cap)
{
	const unsigned char *p = buf;
	struct uv_partition_desc d;
	struct uv_txn_hdr h;
	char why[192] = "";

	if (!cap)
		return;
	snprintf(out, cap, "%s", uv_txn_reason_str(reason));
	if (len <= sizeof(h) || (reason != UV_TXN_BAD_SIZE && reason != UV_TXN_BAD_DESC))
		return;
	memcpy(&h, p, sizeof(h));
	if (h.type != UV_TXN_CREATE_PARTITION)
		return;
	if (uv_desc_upgrade(p + sizeof(h), len - sizeof(h), &d, why, sizeof(why)) == 0 &&
	    uv_desc_validate(&d, 0, why, sizeof(why)) == 0)
		return;
	snprintf(out, cap, "%s (%s)", uv_txn_reason_str(reason), why);
}

struct uv_txn_extent uv_txn_extent_at(const struct uv_txn *t, uint32_t i)
{
	struct uv_txn_extent e;

	memcpy(&e, (const unsigned char *)t->extents + (size_t)i * sizeof(e), sizeof(e));
	return e;
}

size_t uv_txn_encoded_size(const struct uv_txn *t)
{
	const struct txn_layout *l = layout_of(t->hdr.type);
	size_t n = sizeof(t->hdr);

	if (!l)
		return 0;
	n += l->body_size;
	if (l->has_extents) {
		if (t->u.memory.n_extents > UV_TXN_EXTENTS_MAX)
			return 0;
		n += (size_t)t->u.memory.n_extents * sizeof(struct uv_txn_extent);
	}
	return n;
}

ssize_t uv_txn_encode(const struct uv_txn *t, void *buf, size_t cap, enum uv_txn_reason *reason)
{
	size_t n = uv_txn_encoded_size(t), body;
	unsigned char *p = buf;
	struct uv_txn_hdr h;
	enum uv_txn_reason r;
	struct uv_txn check;

	if (!n) {
		if (reason)
			*reason = layout_of(t->hdr.type) ? UV_TXN_BAD_COUNT : UV_TXN_UNKNOWN_TYPE;
		return -EINVAL;
	}
	if (n > cap)
		return -ENOSPC;
	if (n > UINT32_MAX)
		return -EINVAL;
	body = layout_of(t->hdr.type)->body_size;
	h = t->hdr;
	h.magic = UV_TXN_MAGIC;
	h.version = UV_TXN_VERSION;
	h.header_size = sizeof(h);
	h.length = (uint32_t)n;
	memset(h.pad, 0, sizeof(h.pad));
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), &t->u, body);
	if (n > sizeof(h) + body)
		memcpy(p + sizeof(h) + body, t->extents, n - sizeof(h) - body);
	if ((r = uv_txn_decode(buf, n, &check))) {
		if (reason)
			*reason = r;
		return -EINVAL;
	}
	return (ssize_t)n;
}

void uv_txn_response_init(struct uv_txn *resp, const struct uv_txn_hdr *req,
                          enum uv_txn_reason reason, uint64_t log_seq)
{
	memset(resp, 0, sizeof(*resp));
	resp->hdr.type = UV_TXN_RESPONSE;
	resp->hdr.sender_role = UV_ROLE_ULTRAVISOR;
	resp->hdr.request_id = req->request_id;
	resp->u.response.reason = reason;
	resp->u.response.request_type = req->type;
	resp->u.response.log_seq = log_seq;
}
