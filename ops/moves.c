/* SPDX-License-Identifier: MIT */
/*
 * Migrations in flight (claims 44, 85). A command partition answers `migrate` only once the
 * guest runs on the target, or has failed and runs on here: up to the migration's timeout. Each
 * migration ultra-ops asks for therefore waits on a thread of its own, on a connection of its
 * own, while the main loop goes on serving its clients and ticking: host failover must not wait
 * for a migration (docs/operations.md). The thread only asks and waits; every decision and every
 * write to the store stays on the main thread, which learns of a finished migration through
 * an eventfd and then records where the partition runs and answers the client that asked.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ops.h"

struct ops_move {
	bool used, done; /* done: the thread has ended (it is joined on the main thread) */
	unsigned ticket;
	pthread_t thread;
	char name[UV_NAME_MAX];
	char src[UV_NAME_MAX], dst[UV_NAME_MAX]; /* host names */
	struct ops_link link; /* to the source's command partition: this migration's own */
	char *request;        /* the JSON line sent */
	unsigned timeout_ms;
	json_object *reply; /* NULL when none came (why says why) */
	char why[256];
	struct ops_moves *set;
};

struct ops_moves {
	pthread_mutex_t lock; /* done, reply and why, written by the threads */
	int wake_fd;          /* eventfd: a thread has ended */
	unsigned last_ticket;
	struct ops_move m[OPS_MOVES_MAX];
};

int ops_moves_init(struct ops *o)
{
	struct ops_moves *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if ((s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		free(s);
		return -errno;
	}
	pthread_mutex_init(&s->lock, NULL);
	o->moves = s;
	return 0;
}

static void move_clear(struct ops_move *m)
{
	free(m->request);
	json_object_put(m->reply);
	memset(m, 0, sizeof(*m));
}

/* Waits for the threads still running: their connections time out by themselves. */
void ops_moves_free(struct ops *o)
{
	struct ops_moves *s = o->moves;

	if (!s)
		return;
	for (size_t i = 0; i < OPS_MOVES_MAX; i++)
		if (s->m[i].used) {
			pthread_join(s->m[i].thread, NULL);
			move_clear(&s->m[i]);
		}
	close(s->wake_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
	o->moves = NULL;
}

int ops_moves_fd(const struct ops *o) { return o->moves ? o->moves->wake_fd : -1; }

const char *ops_moves_target(const struct ops *o, const char *name)
{
	for (size_t i = 0; o->moves && i < OPS_MOVES_MAX; i++)
		if (o->moves->m[i].used && !strcmp(o->moves->m[i].name, name))
			return o->moves->m[i].dst;
	return NULL;
}

static void *move_run(void *arg)
{
	struct ops_move *m = arg;
	char why[sizeof(m->why)] = "";
	json_object *rep = ops_link_exchange(&m->link, m->request, m->timeout_ms, why, sizeof(why));
	uint64_t one = 1;

	ops_link_close(&m->link);
	pthread_mutex_lock(&m->set->lock);
	m->reply = rep;
	memcpy(m->why, why, sizeof(why));
	m->done = true;
	pthread_mutex_unlock(&m->set->lock);
	if (write(m->set->wake_fd, &one, sizeof(one)) < 0)
		perror(
		    "ultra-ops: waking the main loop"); /* cannot happen to an eventfd below 2^64 */
	return NULL;
}

int ops_moves_start(struct ops *o, const char *name, const struct ops_node *src,
                    const struct ops_node *dst, json_object *args, unsigned timeout_ms,
                    unsigned *ticket, struct api_err *e)
{
	struct ops_moves *s = o->moves;
	struct ops_move *m = NULL;
	int r;

	for (size_t i = 0; i < OPS_MOVES_MAX && !m; i++)
		if (!s->m[i].used)
			m = &s->m[i];
	if (!m) {
		json_object_put(args);
		return api_fail(e, "busy",
		                "migrate: %d migrations are under way already; try again "
		                "once one has ended",
		                OPS_MOVES_MAX);
	}
	if (!(m->request = ops_cmd_request("migrate", args))) {
		move_clear(m);
		return api_fail(e, "internal", "out of memory");
	}
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->src, sizeof(m->src), "%s", src->host.name);
	snprintf(m->dst, sizeof(m->dst), "%s", dst->host.name);
	snprintf(m->link.address, sizeof(m->link.address), "%s", src->link.address);
	m->link.tls = src->link.tls;
	m->timeout_ms = timeout_ms;
	m->set = s;
	m->ticket = ++s->last_ticket ? s->last_ticket : ++s->last_ticket; /* never 0 */
	if ((r = pthread_create(&m->thread, NULL, move_run, m))) {
		move_clear(m);
		return api_fail(e, "internal", "migrate: no thread for it: %s", strerror(r));
	}
	m->used = true;
	*ticket = m->ticket;
	return 0;
}

/* The client's answer to a migration that ended; the store says where the partition runs. */
static json_object *move_result(struct ops *o, struct ops_move *m)
{
	struct api_err e = {"internal", "no result"};
	json_object *rep = m->reply, *ret = NULL;

	m->reply = NULL;
	if (!rep)
		api_fail(&e, "command",
		         "migrate: the command partition of host %s at %s gave no answer: %s",
		         m->src, m->link.address, m->why);
	else if (!ops_cmd_return(rep, "migrate", &ret, &e)) {
		/* A standby now (it stepped down meanwhile) leaves the store to the active one,
		 * whose tick follows the partition to where it runs (hosts.c). */
		struct api_err standby;

		if (ops_replica_refuses(o, "migrate", &standby))
			fprintf(stderr,
			        "ultra-ops: %s: migrated to host %s; not recorded here: %s\n",
			        m->name, m->dst, standby.message);
		else if (opsdb_part_set_host(o->db, m->name, m->dst)) {
			fprintf(stderr,
			        "ultra-ops: %s: migrated to host %s, but the store still says %s\n",
			        m->name, m->dst, m->src);
			api_fail(&e, "internal", "%s runs on host %s now; recording that failed",
			         m->name, m->dst);
			json_object_put(ret);
			ret = NULL;
		} else {
			fprintf(stderr, "ultra-ops: %s: migrated from host %s to host %s\n",
			        m->name, m->src, m->dst);
			ops_replica_after_write(o, "migrate");
		}
		if (json_object_is_type(ret, json_type_object))
			json_object_object_add(ret, "host", json_object_new_string(m->dst));
	}
	json_object_put(rep);
	return uv_api_reply(ret, e.code, e.message);
}

void ops_moves_reap(struct ops *o, void (*answer)(void *ctx, unsigned ticket, json_object *rep),
                    void *ctx)
{
	struct ops_moves *s = o->moves;
	uint64_t n;

	if (read(s->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	for (size_t i = 0; i < OPS_MOVES_MAX; i++) {
		struct ops_move *m = &s->m[i];
		bool done;

		pthread_mutex_lock(&s->lock);
		done = m->used && m->done;
		pthread_mutex_unlock(&s->lock);
		if (!done)
			continue;
		pthread_join(m->thread, NULL);
		answer(ctx, m->ticket, move_result(o, m));
		move_clear(m);
	}
}
