/* SPDX-License-Identifier: MIT */
#include "engine_uid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#define UID_LIMIT 0x7fffffffu /* uids past it print as negative in too many tools */

int uv_engine_uid(uint32_t base, uint32_t partition, uid_t *uid)
{
	if (partition >= UV_ENGINE_UID_SPAN || base > UID_LIMIT - partition)
		return -ERANGE;
	*uid = (uid_t)(base + partition);
	return 0;
}

int uv_engine_uid_base_parse(const char *s, uint32_t *base)
{
	char *end = NULL;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < UV_ENGINE_UID_BASE_MIN ||
	    v > (unsigned long long)UID_LIMIT - (UV_ENGINE_UID_SPAN - 1))
		return -EINVAL;
	*base = (uint32_t)v;
	return 0;
}

int uv_engine_uid_base_arg(const char *s, uint32_t *base, char *err, size_t errlen)
{
	int r = uv_engine_uid_base_parse(s, base);

	if (r)
		snprintf(
		    err, errlen,
		    "--engine-uid-base %s: want a uid of at least %u with room for %u partitions "
		    "below 2^31",
		    s ? s : "(none)", UV_ENGINE_UID_BASE_MIN, UV_ENGINE_UID_SPAN);
	return r;
}

int uv_peer_uid(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (len != sizeof(cred))
		return -EPROTO;
	*uid = cred.uid;
	return 0;
}

int uv_peer_check(int fd, uid_t want, uid_t *got)
{
	uid_t uid = 0;
	int r = uv_peer_uid(fd, &uid);

	if (r)
		return r;
	*got = uid;
	return uid == want ? 0 : -EACCES;
}
