/* SPDX-License-Identifier: MIT */
/*
 * The command partition's network gateway (docs/cmdnet.md) against socat as the same TLS 1.3
 * relay (OPENSSL-LISTEN with a verified client certificate, fork per client, to the same Unix
 * socket), measured in the same run with the same client (lib/cmdconn.c) and the same stand-in
 * command partition: connections per second (handshake, one request, close: what `ultra`
 * does) and request round trips per second on one connection (what ultra-ops does); the
 * command partition's own socket without TLS for reference.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "../tests/unit/cmdgw_testlib.h"
#include "bench_util.h"
#include "cmdconn.h"

#define SECONDS 2.0
#define MAX_SAMPLES 200000

static float lat_us[MAX_SAMPLES];

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

static int request(struct uv_cmdconn *c)
{
	char err[256], *line = NULL;
	int r = uv_cmdconn_write_line(c, "{\"version\":1,\"execute\":\"list\"}", 5000, err,
	                              sizeof(err));

	if (!r)
		r = uv_cmdconn_read_line(c, &line, 5000, err, sizeof(err));
	if (r)
		fprintf(stderr, "bench_cmdgw: %s\n", err);
	free(line);
	return r;
}

/* Rate and median latency of one kind of exchange for SECONDS; fresh: a connection each. */
static int measure(const char *addr, const struct uv_tls_files *tls, bool fresh, double *rate,
                   double *p50)
{
	struct uv_cmdconn *c = NULL;
	double t0 = bench_now_s(), t;
	unsigned n = 0;
	char err[256];

	if (!fresh && uv_cmdconn_open(addr, tls, 5000, &c, err, sizeof(err)))
		return fprintf(stderr, "bench_cmdgw: %s: %s\n", addr, err), -1;
	while ((t = bench_now_s()) - t0 < SECONDS && n < MAX_SAMPLES) {
		uint64_t a = bench_now_ns();

		if (fresh && uv_cmdconn_open(addr, tls, 5000, &c, err, sizeof(err)))
			return fprintf(stderr, "bench_cmdgw: %s: %s\n", addr, err), -1;
		if (request(c))
			return -1;
		if (fresh) {
			uv_cmdconn_close(c);
			c = NULL;
		}
		lat_us[n++] = (float)(bench_now_ns() - a) / 1000.0f;
	}
	uv_cmdconn_close(c);
	qsort(lat_us, n, sizeof(lat_us[0]), cmp_float);
	*rate = n / (t - t0);
	*p50 = lat_us[n / 2];
	return 0;
}

static unsigned free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	return ntohs(sa.sin_port);
}

static pid_t start_socat(struct gwfx *f, unsigned port)
{
	char listen[512], target[256];
	pid_t pid;

	snprintf(listen, sizeof(listen),
	         "OPENSSL-LISTEN:%u,bind=127.0.0.1,reuseaddr,fork,cert=%s/gw.pem,key=%s/gw.key,"
	         "cafile=%s/ca.pem,verify=1,openssl-min-proto-version=TLS1.3,nodelay",
	         port, f->dir, f->dir, f->dir);
	snprintf(target, sizeof(target), "UNIX-CONNECT:%s", f->sock);
	if ((pid = fork()) == 0) {
		execlp("socat", "socat", listen, target, (char *)NULL);
		_exit(127);
	}
	gwfx_sleep_ms(300);
	return pid;
}

int main(void)
{
	struct gwfx f;
	struct uv_tls_files tls;
	char ca[128], cert[128], key[128], ours[64], peer[64];
	double r[3][2], l[3][2];
	unsigned port;
	pid_t socat;
	int rc = 1;

	signal(SIGPIPE, SIG_IGN);
	if (gwfx_setup(&f) || gwfx_start_gw(&f, "--allow-cn ops")) {
		fprintf(stderr, "bench_cmdgw: cannot set up (certificates, gateway)\n");
		return 1;
	}
	port = free_port();
	socat = start_socat(&f, port);
	snprintf(ca, sizeof(ca), "%s/ca.pem", f.dir);
	snprintf(cert, sizeof(cert), "%s/ops.pem", f.dir);
	snprintf(key, sizeof(key), "%s/ops.key", f.dir);
	tls = (struct uv_tls_files){.ca = ca, .cert = cert, .key = key};
	snprintf(ours, sizeof(ours), "tls://127.0.0.1:%u", f.port);
	snprintf(peer, sizeof(peer), "tls://127.0.0.1:%u", port);
	for (int fresh = 0; fresh < 2; fresh++)
		if (measure(ours, &tls, fresh, &r[0][fresh], &l[0][fresh]) ||
		    measure(peer, &tls, fresh, &r[1][fresh], &l[1][fresh]) ||
		    measure(f.sock, NULL, fresh, &r[2][fresh], &l[2][fresh]))
			goto out;
	printf("%-34s %14s %10s %14s %10s\n", "relay to the command socket", "round trips/s",
	       "p50 us", "connections/s", "p50 us");
	printf("%-34s %14.0f %10.1f %14.0f %10.1f\n", "ultra-cmdgw (TLS 1.3, mutual)", r[0][0],
	       l[0][0], r[0][1], l[0][1]);
	printf("%-34s %14.0f %10.1f %14.0f %10.1f\n", "socat OPENSSL-LISTEN (same TLS)", r[1][0],
	       l[1][0], r[1][1], l[1][1]);
	printf("%-34s %14.0f %10.1f %14.0f %10.1f\n", "command.sock directly (no TLS)", r[2][0],
	       l[2][0], r[2][1], l[2][1]);
	rc = 0;
out:
	kill(socat, SIGTERM);
	waitpid(socat, NULL, 0);
	gwfx_teardown(&f);
	return rc;
}
