/* SPDX-License-Identifier: MIT */
/*
 * Live migration to another host, the source monitor's part (claims 43, 44; docs/migration.md,
 * "Over the network"). QEMU stays without networking: it writes its stream into a socketpair
 * we lend it; a thread of ours relays the other end over TLS 1.3 (lib/migrelay.h) to the
 * target's gateway, which was told by the stream line which incoming partition it is for.
 *
 *   QEMU ──socketpair──► relay thread ──TLS (our host's certificate)──► B's ultra-cmdgw
 *                                                                       └─► B/.../migrate.sock
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmdconn.h"
#include "desc.h"
#include "migrelay.h"
#include "migstream.h"
#include "monitor.h"

#define NET_OPEN_MS 10000    /* TCP, the handshake, the gateway's answer to the stream line */
#define RELAY_IDLE_MS 120000 /* nothing moved: the stream is dead whatever TCP says */

struct relay_job {
	struct uv_cmdconn *net;
	int fd;
	char name[64];
};

static void *relay_thread(void *arg)
{
	struct relay_job *j = arg;
	struct uv_relay_stats st = {0};
	char err[300] = "";
	int r = uv_relay_run(j->net, j->fd, 0, RELAY_IDLE_MS, &st, err, sizeof(err));

	fprintf(stderr, "monitor[%s]: stream relay ended: %llu bytes sent, %llu received%s%s\n",
	        j->name, (unsigned long long)st.to_net, (unsigned long long)st.to_local,
	        r ? "; " : "", r ? err : "");
	/* QEMU's end reads EOF (or EPIPE) now and ends its migration if it had not. */
	close(j->fd);
	uv_cmdconn_close(j->net);
	free(j);
	return NULL;
}

static const char *str_arg(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) &&
	               json_object_is_type(v, json_type_string)
	           ? json_object_get_string(v)
	           : NULL;
}

static int open_stream(const char *uri, const char *token, json_object *tlsj,
                       struct uv_cmdconn **out, char *err, size_t errlen)
{
	struct uv_tls_files tls = {str_arg(tlsj, "ca"), str_arg(tlsj, "cert"), str_arg(tlsj, "key"),
	                           str_arg(tlsj, "crl")};
	char why[400] = "";
	int r = uv_stream_open(uri, &tls, token, NET_OPEN_MS, out, why, sizeof(why));

	if (r == -EINVAL && (!token || !uv_stream_token_valid(token)))
		snprintf(err, errlen, "arguments.token: expected a stream token");
	else if (r)
		snprintf(err, errlen, "%s", why);
	return r;
}

int mon_mig_start_net(struct monitor *m, json_object *args, char *err, size_t errlen)
{
	const char *uri = str_arg(args, "uri");
	struct relay_job *j = NULL;
	struct uv_cmdconn *net = NULL;
	json_object *tlsj = NULL;
	pthread_t t;
	int sp[2] = {-1, -1}, r;

	if (m->state != UV_STATE_RUNNING || !m->qmp) {
		snprintf(err, errlen, "partition is %s, not running", uv_state_name(m->state));
		return -EBUSY;
	}
	json_object_object_get_ex(args, "tls", &tlsj);
	if ((r = open_stream(uri, str_arg(args, "token"), tlsj, &net, err, errlen)))
		return r;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 ||
	    !(j = calloc(1, sizeof(*j)))) {
		r = -errno;
		snprintf(err, errlen, "the stream's socketpair: %s", strerror(errno));
		goto fail;
	}
	if ((r = mon_mig_send(m, sp[0], uri, err, errlen)))
		goto fail;
	close(sp[0]); /* QEMU holds it */
	*j = (struct relay_job){.net = net, .fd = sp[1]};
	snprintf(j->name, sizeof(j->name), "%s", m->desc->name);
	if ((r = pthread_create(&t, NULL, relay_thread, j))) {
		/* QEMU's stream sees its end at once and fails; the guest runs on here. */
		snprintf(err, errlen, "the stream relay: %s", strerror(r));
		sp[0] = -1;
		r = -r;
		goto fail;
	}
	pthread_detach(t);
	return 0;
fail:
	free(j);
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	uv_cmdconn_close(net);
	return r;
}
