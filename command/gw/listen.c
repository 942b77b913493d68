/* SPDX-License-Identifier: MIT */
/* The gateway's listening socket on HOST:PORT: an address of this host only, never a wildcard
 * by default, so that a host on two networks can offer its command partition on one. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmdconn.h"
#include "gw.h"

static void describe(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, len, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(out, len, "[%s]:%u", host, port);
	} else {
		snprintf(out, len, "?");
	}
}

static int bind_one(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, r;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int gw_listen(const char *hostport, char *bound, size_t boundlen, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct uv_cmdaddr a;
	char full[300];
	int fd = -EADDRNOTAVAIL, g;

	/* The same HOST:PORT syntax as the clients' tls:// addresses; port 0 picks one. */
	snprintf(full, sizeof(full), "tls://%s", hostport);
	if (uv_cmdaddr_parse(full, &a, err, errlen))
		return -EINVAL;
	if ((g = getaddrinfo(a.host, a.port, &hints, &res))) {
		snprintf(err, errlen, "%s: %s", hostport, gai_strerror(g));
		return -EINVAL;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = bind_one(ai);
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", hostport, strerror(-fd));
		return fd;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		describe((struct sockaddr *)&ss, bound, boundlen);
	return fd;
}
