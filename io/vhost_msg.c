/* SPDX-License-Identifier: MIT */
#include "vhost_msg.h"

#include <errno.h>
#include <string.h>

/* What each request must carry. */
enum payload_kind {
	P_NONE,
	P_U64,
	P_STATE,
	P_ADDR,
	P_MEM,
	P_CFG,
	P_VRING_FD,
	P_INFLIGHT,
	P_INFLIGHT_FD,
	P_LOG /* SET_LOG_BASE: struct vhu_log and the log's fd */
};

struct request_rule {
	const char *name;
	enum payload_kind kind;
};

static const struct request_rule rules[VHU_REQUEST_MAX] = {
    [VHU_GET_FEATURES] = {"GET_FEATURES", P_NONE},
    [VHU_SET_FEATURES] = {"SET_FEATURES", P_U64},
    [VHU_SET_OWNER] = {"SET_OWNER", P_NONE},
    [VHU_RESET_OWNER] = {"RESET_OWNER", P_NONE},
    [VHU_SET_MEM_TABLE] = {"SET_MEM_TABLE", P_MEM},
    [VHU_SET_LOG_BASE] = {"SET_LOG_BASE", P_LOG},
    [VHU_SET_VRING_NUM] = {"SET_VRING_NUM", P_STATE},
    [VHU_SET_VRING_ADDR] = {"SET_VRING_ADDR", P_ADDR},
    [VHU_SET_VRING_BASE] = {"SET_VRING_BASE", P_STATE},
    [VHU_GET_VRING_BASE] = {"GET_VRING_BASE", P_STATE},
    [VHU_SET_VRING_KICK] = {"SET_VRING_KICK", P_VRING_FD},
    [VHU_SET_VRING_CALL] = {"SET_VRING_CALL", P_VRING_FD},
    [VHU_SET_VRING_ERR] = {"SET_VRING_ERR", P_VRING_FD},
    [VHU_GET_PROTOCOL_FEATURES] = {"GET_PROTOCOL_FEATURES", P_NONE},
    [VHU_SET_PROTOCOL_FEATURES] = {"SET_PROTOCOL_FEATURES", P_U64},
    [VHU_GET_QUEUE_NUM] = {"GET_QUEUE_NUM", P_NONE},
    [VHU_SET_VRING_ENABLE] = {"SET_VRING_ENABLE", P_STATE},
    [VHU_GET_CONFIG] = {"GET_CONFIG", P_CFG},
    [VHU_SET_CONFIG] = {"SET_CONFIG", P_CFG},
    [VHU_GET_INFLIGHT_FD] = {"GET_INFLIGHT_FD", P_INFLIGHT},
    [VHU_SET_INFLIGHT_FD] = {"SET_INFLIGHT_FD", P_INFLIGHT_FD},
    [VHU_RESET_DEVICE] = {"RESET_DEVICE", P_NONE},
};

const char *vhu_request_name(uint32_t request)
{
	if (request < VHU_REQUEST_MAX && rules[request].name)
		return rules[request].name;
	return "UNKNOWN";
}

int vhu_hdr_check(const struct vhu_hdr *h)
{
	if ((h->flags & VHU_FLAG_VERSION_MASK) != VHU_FLAG_VERSION)
		return -EPROTO;
	if (h->flags & ~(VHU_FLAG_VERSION_MASK | VHU_FLAG_NEED_REPLY))
		return -EPROTO; /* a front end never sends replies or unknown flags */
	if (h->size > VHU_PAYLOAD_MAX)
		return -EMSGSIZE;
	return 0;
}

static int check_mem(const uint8_t *p, uint32_t size, size_t nfds)
{
	struct vhu_mem_table t;

	if (size < 8)
		return -EPROTO;
	memcpy(&t, p, 8);
	if (t.nregions == 0 || t.nregions > VHU_MAX_REGIONS)
		return -EPROTO;
	if (size != 8 + t.nregions * sizeof(struct vhu_region) || nfds != t.nregions)
		return -EPROTO;
	return 0;
}

static int check_cfg(const uint8_t *p, uint32_t size)
{
	struct vhu_config c;

	if (size < offsetof(struct vhu_config, payload))
		return -EPROTO;
	memcpy(&c, p, offsetof(struct vhu_config, payload));
	if (c.size > VHU_CONFIG_MAX || c.offset > VHU_CONFIG_MAX - c.size)
		return -EPROTO;
	if (size != offsetof(struct vhu_config, payload) + c.size)
		return -EPROTO;
	return 0;
}

static int check_payload(enum payload_kind kind, const uint8_t *p, uint32_t size, size_t nfds)
{
	uint64_t v;

	switch (kind) {
	case P_NONE:
		return size == 0 && nfds == 0 ? 0 : -EPROTO;
	case P_U64:
		return size == 8 && nfds == 0 ? 0 : -EPROTO;
	case P_STATE:
		return size == sizeof(struct vhu_vring_state) && nfds == 0 ? 0 : -EPROTO;
	case P_ADDR:
		return size == sizeof(struct vhu_vring_addr) && nfds == 0 ? 0 : -EPROTO;
	case P_MEM:
		return check_mem(p, size, nfds);
	case P_CFG:
		return nfds == 0 ? check_cfg(p, size) : -EPROTO;
	case P_INFLIGHT:
	case P_INFLIGHT_FD:
		if (size != sizeof(struct vhu_inflight))
			return -EPROTO;
		return nfds == (kind == P_INFLIGHT_FD ? 1u : 0u) ? 0 : -EPROTO;
	case P_LOG:
		return size == sizeof(struct vhu_log) && nfds == 1 ? 0 : -EPROTO;
	case P_VRING_FD:
		if (size != 8)
			return -EPROTO;
		memcpy(&v, p, 8);
		if (v & ~(uint64_t)(VHU_VRING_IDX_MASK | VHU_VRING_NOFD))
			return -EPROTO;
		return nfds == ((v & VHU_VRING_NOFD) ? 0u : 1u) ? 0 : -EPROTO;
	}
	return -EPROTO;
}

int vhu_msg_parse(const uint8_t *buf, size_t len, const int *fds, size_t nfds, struct vhu_msg *out)
{
	struct vhu_hdr h;
	int r;

	if (len < sizeof(h) || nfds > VHU_MAX_FDS)
		return -EPROTO;
	memcpy(&h, buf, sizeof(h));
	r = vhu_hdr_check(&h);
	if (r < 0)
		return r;
	if (len - sizeof(h) != h.size)
		return -EPROTO;
	if (h.request >= VHU_REQUEST_MAX || !rules[h.request].name)
		return -EOPNOTSUPP;
	r = check_payload(rules[h.request].kind, buf + sizeof(h), h.size, nfds);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	out->hdr = h;
	memcpy(&out->p, buf + sizeof(h), h.size);
	for (size_t i = 0; i < nfds; i++)
		out->fds[i] = fds[i];
	for (size_t i = nfds; i < VHU_MAX_FDS; i++)
		out->fds[i] = -1;
	out->nfds = (unsigned)nfds;
	return 0;
}
