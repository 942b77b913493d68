/* SPDX-License-Identifier: MIT */
/* Command partition addresses: PATH, unix:PATH or tls://HOST:PORT (lib/cmdconn.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdconn.h"

static int bad(char *err, size_t errlen, const char *addr, const char *why)
{
	snprintf(err, errlen, "%s: %s", addr, why);
	return -EINVAL;
}

static int parse_port(const char *s, char *out, size_t cap)
{
	char *end;
	unsigned long p;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	p = strtoul(s, &end, 10);
	if (*end || p > 65535)
		return -EINVAL;
	snprintf(out, cap, "%lu", p);
	return 0;
}

static int parse_tls(const char *addr, const char *hp, struct uv_cmdaddr *a, char *err,
                     size_t errlen)
{
	const char *colon, *host = hp;
	size_t hlen;

	if (*hp == '[') { /* [IPv6]:PORT */
		const char *close = strchr(hp, ']');

		if (!close || close[1] != ':')
			return bad(err, errlen, addr, "expected tls://[IPV6]:PORT");
		host = hp + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(hp, ':');
		if (!colon || memchr(hp, ':', (size_t)(colon - hp)))
			return bad(err, errlen, addr, "expected tls://HOST:PORT");
		hlen = (size_t)(colon - hp);
	}
	if (!hlen || hlen >= sizeof(a->host))
		return bad(err, errlen, addr, "no host, or a host name too long");
	if (memchr(host, '/', hlen) || memchr(host, '@', hlen))
		return bad(err, errlen, addr, "a host name cannot hold '/' or '@'");
	if (parse_port(colon + 1, a->port, sizeof(a->port)))
		return bad(err, errlen, addr, "the port must be a number in 0..65535");
	memcpy(a->host, host, hlen);
	a->host[hlen] = 0;
	a->kind = UV_CMDADDR_TLS;
	return 0;
}

int uv_cmdaddr_parse(const char *addr, struct uv_cmdaddr *out, char *err, size_t errlen)
{
	struct uv_cmdaddr a = {0};
	const char *path = addr;
	int r;

	if (!strncmp(addr, "tls://", 6)) {
		if ((r = parse_tls(addr, addr + 6, &a, err, errlen)))
			return r;
		*out = a;
		return 0;
	}
	if (!strncmp(addr, "unix:", 5))
		path = addr + 5;
	else if (strstr(addr, "://"))
		return bad(err, errlen, addr, "unknown scheme (unix:PATH or tls://HOST:PORT)");
	if (!*path || strlen(path) >= sizeof(a.path))
		return bad(err, errlen, addr, "empty socket path, or too long");
	strcpy(a.path, path);
	a.kind = UV_CMDADDR_UNIX;
	*out = a;
	return 0;
}
