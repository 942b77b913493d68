/* SPDX-License-Identifier: MIT */
/* Names and sentences for transaction types, roles and reasons, and one-line summaries. */
#include "txn_codec.h"

#include <stdio.h>

#include "desc.h"

struct reason_text {
	const char *name;
	const char *sentence;
};

static const struct reason_text reasons[] = {
    [UV_TXN_OK] = {"OK", "applied"},
    [UV_TXN_BAD_MAGIC] = {"BAD_MAGIC", "not a transaction record (bad magic)"},
    [UV_TXN_BAD_VERSION] = {"BAD_VERSION", "record version not supported by this ultravisor"},
    [UV_TXN_BAD_HEADER_SIZE] = {"BAD_HEADER_SIZE", "record header size is wrong"},
    [UV_TXN_BAD_SIZE] = {"BAD_SIZE",
                         "record length disagrees with the bytes received or with its type"},
    [UV_TXN_UNKNOWN_TYPE] = {"UNKNOWN_TYPE", "unknown transaction type"},
    [UV_TXN_BAD_FLAGS] = {"BAD_FLAGS", "unknown flag bits set"},
    [UV_TXN_BAD_ROLE] = {"BAD_ROLE", "unknown sender role, or a role that cannot send this"},
    [UV_TXN_BAD_RESERVED] = {"BAD_RESERVED", "a reserved or padding field is not zero"},
    [UV_TXN_BAD_COUNT] = {"BAD_COUNT", "a count is zero, beyond its bound or overflows"},
    [UV_TXN_BAD_STRING] = {"BAD_STRING", "a string is empty or not NUL-terminated"},
    [UV_TXN_BAD_VALUE] = {"BAD_VALUE", "a field is outside its range"},
    [UV_TXN_BAD_EXTENT] = {"BAD_EXTENT",
                           "memory extents are misaligned, empty, overlapping, out of order "
                           "or do not add up to the total"},
    [UV_TXN_BAD_DESC] = {"BAD_DESC", "the partition descriptor is invalid"},
    [UV_TXN_NO_SPACE] = {"NO_SPACE", "not enough free resources"},
    [UV_TXN_DOUBLE_ALLOC] = {"DOUBLE_ALLOC", "the resource is already allocated"},
    [UV_TXN_NO_SUCH_PARTITION] = {"NO_SUCH_PARTITION", "no such partition"},
    [UV_TXN_NO_SUCH_CHANNEL] = {"NO_SUCH_CHANNEL", "no such channel"},
    [UV_TXN_NO_SUCH_DEVICE] = {"NO_SUCH_DEVICE", "no such device assigned"},
    [UV_TXN_NOT_PERMITTED] = {"NOT_PERMITTED", "the sender's role may not do this"},
    [UV_TXN_EXISTS] = {"EXISTS", "it already exists"},
    [UV_TXN_BUSY] = {"BUSY", "the target's state forbids this change now"},
    [UV_TXN_IO_ERROR] = {"IO_ERROR", "the audit log could not record the transaction"},
};

const char *uv_txn_reason_name(enum uv_txn_reason r)
{
	if ((unsigned)r >= sizeof(reasons) / sizeof(reasons[0]))
		return NULL;
	return reasons[r].name;
}

const char *uv_txn_reason_str(enum uv_txn_reason r)
{
	if (!uv_txn_reason_name(r))
		return "unknown reason";
	return reasons[r].sentence;
}

const char *uv_txn_type_name(enum uv_txn_type t)
{
	static const char *const names[UV_TXN_TYPE_COUNT] = {
	    [UV_TXN_CREATE_PARTITION] = "create-partition",
	    [UV_TXN_DESTROY_PARTITION] = "destroy-partition",
	    [UV_TXN_GRANT_MEMORY] = "grant-memory",
	    [UV_TXN_REVOKE_MEMORY] = "revoke-memory",
	    [UV_TXN_CREATE_CHANNEL] = "create-channel",
	    [UV_TXN_DESTROY_CHANNEL] = "destroy-channel",
	    [UV_TXN_ASSIGN_DEVICE] = "assign-device",
	    [UV_TXN_RELEASE_DEVICE] = "release-device",
	    [UV_TXN_SET_CPU_SHARE] = "set-cpu-share",
	    [UV_TXN_SET_STATE] = "set-state",
	    [UV_TXN_RESPONSE] = "response",
	    [UV_TXN_SET_DISK_LIMITS] = "set-disk-limits",
	};
	if ((unsigned)t >= UV_TXN_TYPE_COUNT || !names[t])
		return "unknown";
	return names[t];
}

const char *uv_role_name(enum uv_role r)
{
	static const char *const names[UV_ROLE_COUNT] = {
	    [UV_ROLE_ULTRAVISOR] = "ultravisor",
	    [UV_ROLE_BOOT] = "boot",
	    [UV_ROLE_COMMAND] = "command",
	    [UV_ROLE_OPERATIONS] = "operations",
	    [UV_ROLE_IO] = "io",
	    [UV_ROLE_MONITOR] = "monitor",
	    [UV_ROLE_GUEST] = "guest",
	};
	if ((unsigned)r >= UV_ROLE_COUNT)
		return "unknown";
	return names[r];
}

/* The totals as they always read; the directions only when one is limited, so a record of
 * totals reads as it did before descriptor version 4. */
static int limits_body(const struct uv_txn_disk_limits *l, char *buf, size_t len)
{
	const struct uv_disk_limit *v = &l->limit;
	int n = snprintf(buf, len, "partition=%u disk=%u iops=%u bytes_per_sec=%llu",
	                 l->partition_id, l->disk, v->iops, (unsigned long long)v->bytes_per_sec);

	if (n < 0 || (size_t)n >= len ||
	    !(v->read_iops || v->write_iops || v->read_bytes_per_sec || v->write_bytes_per_sec))
		return n;
	return n + snprintf(buf + n, len - (size_t)n,
	                    " read_iops=%u read_bytes_per_sec=%llu write_iops=%u "
	                    "write_bytes_per_sec=%llu",
	                    v->read_iops, (unsigned long long)v->read_bytes_per_sec, v->write_iops,
	                    (unsigned long long)v->write_bytes_per_sec);
}

static int summary_body(const struct uv_txn *t, char *buf, size_t len)
{
	const struct uv_txn_channel *c = &t->u.channel;

	switch (t->hdr.type) {
	case UV_TXN_CREATE_PARTITION:
		return snprintf(buf, len, "partition=%u name=%s vcpus=%u mem=%llu", t->u.create.id,
		                t->u.create.name, t->u.create.vcpus,
		                (unsigned long long)t->u.create.mem_bytes);
	case UV_TXN_DESTROY_PARTITION:
		return snprintf(buf, len, "partition=%u", t->u.partition.partition_id);
	case UV_TXN_GRANT_MEMORY:
	case UV_TXN_REVOKE_MEMORY:
		return snprintf(buf, len, "partition=%u bytes=%llu extents=%u",
		                t->u.memory.partition_id, (unsigned long long)t->u.memory.bytes,
		                t->u.memory.n_extents);
	case UV_TXN_CREATE_CHANNEL:
	case UV_TXN_DESTROY_CHANNEL:
		return snprintf(buf, len, "channel=%u endpoints=%u,%u size=%llu", c->channel_id,
		                c->endpoint[0], c->endpoint[1], (unsigned long long)c->size);
	case UV_TXN_ASSIGN_DEVICE:
	case UV_TXN_RELEASE_DEVICE:
		return snprintf(buf, len, "partition=%u device=%s path=%s",
		                t->u.device.partition_id, uv_dev_kind_name(t->u.device.device.kind),
		                t->u.device.device.path);
	case UV_TXN_SET_CPU_SHARE:
		return snprintf(buf, len, "partition=%u cpu_share=%u.%03u", t->u.cpu.partition_id,
		                t->u.cpu.cpu_share_milli / 1000, t->u.cpu.cpu_share_milli % 1000);
	case UV_TXN_SET_STATE:
		return snprintf(buf, len, "partition=%u state=%s", t->u.state.partition_id,
		                uv_state_name(t->u.state.state));
	case UV_TXN_SET_DISK_LIMITS:
		return limits_body(&t->u.disk_limits, buf, len);
	case UV_TXN_RESPONSE:
		return snprintf(buf, len, "to=%s reason=%s log_seq=%llu",
		                uv_txn_type_name(t->u.response.request_type),
		                uv_txn_reason_name(t->u.response.reason),
		                (unsigned long long)t->u.response.log_seq);
	}
	return snprintf(buf, len, "?");
}

int uv_txn_summary(const struct uv_txn *t, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s ", uv_txn_type_name(t->hdr.type));
	/* On truncation keep writing at the terminator so the result stays a C string. */
	size_t off = (size_t)n < len ? (size_t)n : (len ? len - 1 : 0);

	return n + summary_body(t, len ? buf + off : NULL, len - off);
}
