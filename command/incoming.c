/* SPDX-License-Identifier: MIT */
/*
 * How long an incoming partition may wait for its migration (docs/migration.md, "A source that
 * vanishes"). The source gives its own timeout with migrate-in and cancels, then aborts here,
 * when it runs out; a source whose host died, or that lost its way to us, does neither, and the
 * engine here would hold the guest's memory for ever. So each incoming partition has a deadline:
 * the source's timeout and a margin from the moment it was answered. Past it the partition is
 * destroyed and undefined as migrate-abort would, and the memory goes back to the pool.
 */
#include <stdio.h>
#include <string.h>

#include "command.h"

/* The source's clock for its timeout starts after ours (its reply, the stream's connection: up
 * to 10 s over TLS), and at its end the source cancels: past the margin no stream is legitimate. */
#define INCOMING_MARGIN_MS 15000
#define INCOMING_UNKNOWN_S 3600 /* no timeout given, or we restarted: the longest a source may */

static struct cmd_incoming *slot_of(struct cmdp *c, const char *name)
{
	for (size_t i = 0; i < CMD_INCOMING_MAX; i++)
		if (c->incoming[i].deadline_ms && !strcmp(c->incoming[i].name, name))
			return &c->incoming[i];
	return NULL;
}

void cmd_incoming_arm(struct cmdp *c, const char *name, int timeout_s)
{
	struct cmd_incoming *s = slot_of(c, name);

	for (size_t i = 0; !s && i < CMD_INCOMING_MAX; i++)
		if (!c->incoming[i].deadline_ms)
			s = &c->incoming[i];
	if (!s)
		return; /* more than CMD_INCOMING_MAX at once: those wait for migrate-abort */
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->deadline_ms = cmd_mono_ms() +
	                 (uint64_t)(timeout_s > 0 ? timeout_s : INCOMING_UNKNOWN_S) * 1000 +
	                 INCOMING_MARGIN_MS;
}

void cmd_incoming_forget(struct cmdp *c, const char *name)
{
	struct cmd_incoming *s = slot_of(c, name);

	if (s)
		memset(s, 0, sizeof(*s));
}

static int expire_one(const struct cmd_part *p, void *ctx)
{
	struct cmdp *c = ctx;
	struct cmd_incoming *s;
	struct api_err e;

	if (p->id < CMD_FIRST_GUEST || p->rec.state != UV_STATE_INCOMING)
		return 0;
	if (!(s = slot_of(c, p->desc.name))) {
		/* Incoming since before we (re)started: it gets the longest time from now. */
		cmd_incoming_arm(c, p->desc.name, 0);
		return 0;
	}
	if (cmd_mono_ms() < s->deadline_ms)
		return 0;
	fprintf(stderr,
	        "ultra-command: partition %s: no migration completed by its deadline: "
	        "giving it up\n",
	        p->desc.name);
	if (cmd_migrate_abort(c, p->desc.name, &e))
		fprintf(stderr, "ultra-command: partition %s: giving it up: %s\n", p->desc.name,
		        e.message);
	return 1; /* one a second: each may wait up to 15 s for its monitor to end */
}

void cmd_incoming_expire(struct cmdp *c)
{
	/* Names no longer incoming (started, aborted, undefined) free their slots. */
	for (size_t i = 0; i < CMD_INCOMING_MAX; i++) {
		struct cmd_part p = {0};

		if (c->incoming[i].deadline_ms &&
		    (cmd_view_find(c, c->incoming[i].name, &p) || p.rec.state != UV_STATE_INCOMING))
			memset(&c->incoming[i], 0, sizeof(c->incoming[i]));
	}
	cmd_view_each(c, expire_one, c);
}
