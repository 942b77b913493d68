/* SPDX-License-Identifier: MIT */
/* A disk's I/O limits: the rules every reader shares (disk_limit.h). */
#include "disk_limit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	size_t off;
	bool requests; /* a uint32_t count of requests, else a uint64_t count of bytes */
} keys[UV_DISK_LIMIT_KEYS] = {
    {"bytes_per_sec", offsetof(struct uv_disk_limit, bytes_per_sec), false},
    {"iops", offsetof(struct uv_disk_limit, iops), true},
    {"read_bytes_per_sec", offsetof(struct uv_disk_limit, read_bytes_per_sec), false},
    {"write_bytes_per_sec", offsetof(struct uv_disk_limit, write_bytes_per_sec), false},
    {"read_iops", offsetof(struct uv_disk_limit, read_iops), true},
    {"write_iops", offsetof(struct uv_disk_limit, write_iops), true},
};

const char *uv_disk_limit_key(unsigned i) { return i < UV_DISK_LIMIT_KEYS ? keys[i].name : NULL; }

int uv_disk_limit_key_index(const char *name)
{
	for (unsigned i = 0; name && i < UV_DISK_LIMIT_KEYS; i++)
		if (!strcmp(keys[i].name, name))
			return (int)i;
	return -1;
}

uint64_t uv_disk_limit_max(unsigned i)
{
	if (i >= UV_DISK_LIMIT_KEYS)
		return 0;
	return keys[i].requests ? UV_DISK_LIMIT_IOPS_MAX : UV_DISK_LIMIT_BPS_MAX;
}

uint64_t uv_disk_limit_get(const struct uv_disk_limit *l, unsigned i)
{
	const unsigned char *p = (const unsigned char *)l;
	uint64_t wide;
	uint32_t narrow;

	if (i >= UV_DISK_LIMIT_KEYS)
		return 0;
	if (keys[i].requests) {
		memcpy(&narrow, p + keys[i].off, sizeof(narrow));
		return narrow;
	}
	memcpy(&wide, p + keys[i].off, sizeof(wide));
	return wide;
}

void uv_disk_limit_set(struct uv_disk_limit *l, unsigned i, uint64_t v)
{
	unsigned char *p = (unsigned char *)l;
	uint32_t narrow = (uint32_t)v;

	if (i >= UV_DISK_LIMIT_KEYS)
		return;
	if (keys[i].requests)
		memcpy(p + keys[i].off, &narrow, sizeof(narrow));
	else
		memcpy(p + keys[i].off, &v, sizeof(v));
}

/* Kinds as the table lists them: 0 total bytes, 1 total requests, 2-3 bytes, 4-5 requests. */
static bool same_kind(unsigned a, unsigned b) { return keys[a].requests == keys[b].requests; }
static bool is_total(unsigned i) { return i < 2; }

void uv_disk_limit_change(struct uv_disk_limit *l, const int64_t want[UV_DISK_LIMIT_KEYS])
{
	for (unsigned i = 0; i < UV_DISK_LIMIT_KEYS; i++) {
		if (want[i] < 0)
			continue;
		for (unsigned j = 0; j < UV_DISK_LIMIT_KEYS; j++)
			if (j != i && same_kind(i, j) && is_total(i) != is_total(j) && want[j] < 0)
				uv_disk_limit_set(l, j, 0);
	}
	for (unsigned i = 0; i < UV_DISK_LIMIT_KEYS; i++)
		if (want[i] >= 0)
			uv_disk_limit_set(l, i, (uint64_t)want[i]);
}

bool uv_disk_limit_none(const struct uv_disk_limit *l)
{
	return !l->bytes_per_sec && !l->read_bytes_per_sec && !l->write_bytes_per_sec && !l->iops &&
	       !l->read_iops && !l->write_iops;
}

bool uv_disk_limit_equal(const struct uv_disk_limit *a, const struct uv_disk_limit *b)
{
	return a->bytes_per_sec == b->bytes_per_sec &&
	       a->read_bytes_per_sec == b->read_bytes_per_sec &&
	       a->write_bytes_per_sec == b->write_bytes_per_sec && a->iops == b->iops &&
	       a->read_iops == b->read_iops && a->write_iops == b->write_iops;
}

int uv_disk_limit_check(const struct uv_disk_limit *l, const char *at, char *err, size_t errlen)
{
	const char *why = NULL;

	if (l->bytes_per_sec && (l->read_bytes_per_sec || l->write_bytes_per_sec))
		why = "bytes_per_sec cannot be given with read_bytes_per_sec or "
		      "write_bytes_per_sec (a total and a direction of the same kind: which would "
		      "hold is unclear, so QEMU and libvirt refuse it too); give the total alone, "
		      "or the directions";
	else if (l->iops && (l->read_iops || l->write_iops))
		why = "iops cannot be given with read_iops or write_iops (a total and a direction "
		      "of the same kind: which would hold is unclear, so QEMU and libvirt refuse "
		      "it too); give the total alone, or the directions";
	else if (l->reserved)
		why = "reserved field is not zero";
	if (!why)
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", at, why);
	return -EINVAL;
}

struct uv_disk_limit uv_disk_limit_from_v3(const void *p)
{
	struct uv_disk_limit l = {0};
	uint32_t iops;

	memcpy(&l.bytes_per_sec, p, sizeof(l.bytes_per_sec));
	memcpy(&iops, (const unsigned char *)p + 8, sizeof(iops));
	memcpy(&l.reserved, (const unsigned char *)p + 12, sizeof(l.reserved));
	l.iops = iops;
	return l;
}

static uint64_t either(uint64_t own, uint64_t total) { return own ? own : total; }

uint64_t uv_disk_limit_read_bps(const struct uv_disk_limit *l)
{
	return either(l->read_bytes_per_sec, l->bytes_per_sec);
}

uint64_t uv_disk_limit_write_bps(const struct uv_disk_limit *l)
{
	return either(l->write_bytes_per_sec, l->bytes_per_sec);
}

uint64_t uv_disk_limit_read_iops(const struct uv_disk_limit *l)
{
	return either(l->read_iops, l->iops);
}

uint64_t uv_disk_limit_write_iops(const struct uv_disk_limit *l)
{
	return either(l->write_iops, l->iops);
}

/* " <what> N requests [and] B bytes" for one bucket, nothing when it is unlimited. */
static size_t one(char *out, size_t cap, size_t at, const char *what, uint64_t ops, uint64_t bps)
{
	int n;

	if ((!ops && !bps) || at >= cap)
		return at;
	if (ops && bps)
		n = snprintf(out + at, cap - at, "%s%s %llu requests and %llu bytes",
		             at ? ", " : "", what, (unsigned long long)ops,
		             (unsigned long long)bps);
	else if (ops)
		n = snprintf(out + at, cap - at, "%s%s %llu requests", at ? ", " : "", what,
		             (unsigned long long)ops);
	else
		n = snprintf(out + at, cap - at, "%s%s %llu bytes", at ? ", " : "", what,
		             (unsigned long long)bps);
	return n < 0 ? at : at + (size_t)n;
}

void uv_disk_limit_describe(const struct uv_disk_limit *l, char *out, size_t cap)
{
	size_t at = 0;

	if (!cap)
		return;
	out[0] = 0;
	at = one(out, cap, at, "in all", l->iops, l->bytes_per_sec);
	at = one(out, cap, at, "reads", l->read_iops, l->read_bytes_per_sec);
	at = one(out, cap, at, "writes", l->write_iops, l->write_bytes_per_sec);
	if (!at)
		snprintf(out, cap, "none");
	else if (at < cap)
		snprintf(out + at, cap - at, " a second");
}
