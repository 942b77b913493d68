/* SPDX-License-Identifier: MIT */
/*
 * Matching BEGIN records with their COMMIT or ABORT while a log is read back.
 *
 * BEGINs carry consecutive sequence numbers, so open transactions live in an array indexed by
 * seq - base_seq; finished ones at the front are dropped as the array fills, which keeps it as
 * small as the number of transactions that were in flight together.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "txn_log_int.h"

void log_replay_init(struct log_replay *r, const struct uv_log_replay *ops,
                     struct uv_log_report *rep, uint64_t next_seq)
{
	memset(r, 0, sizeof(*r));
	r->ops = ops;
	r->rep = rep;
	r->base_seq = next_seq;
	r->next_seq = next_seq;
}

void log_replay_free(struct log_replay *r)
{
	free(r->slots);
	r->slots = NULL;
	r->n = r->cap = 0;
}

static int slots_make_room(struct log_replay *r)
{
	struct log_slot *grown;
	size_t done = 0, cap;

	while (done < r->n && r->slots[done].done)
		done++;
	if (done) {
		memmove(r->slots, r->slots + done, (r->n - done) * sizeof(*r->slots));
		r->n -= done;
		r->base_seq += done;
	}
	if (r->n < r->cap)
		return 0;
	cap = r->cap ? r->cap * 2 : 64;
	grown = realloc(r->slots, cap * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	r->slots = grown;
	r->cap = cap;
	return 0;
}

static void entry_of(const struct log_replay *r, size_t i, struct uv_log_entry *e)
{
	const struct log_slot *s = &r->slots[i];

	e->seq = r->base_seq + i;
	e->sender = s->sender;
	e->sender_role = s->role;
	e->payload = s->payload;
	e->length = s->length;
}

static int callback_result(int ret) { return ret > 0 ? -ECANCELED : ret; }

static int on_begin(struct log_replay *r, const struct uv_log_rec *rec,
                    const unsigned char *payload)
{
	struct log_slot *s;

	if (rec->seq != r->next_seq)
		return 1;
	if (r->n == r->cap && slots_make_room(r))
		return -ENOMEM;
	s = &r->slots[r->n++];
	s->payload = payload;
	s->length = rec->length;
	s->sender = rec->sender;
	s->role = rec->sender_role;
	s->done = 0;
	r->next_seq++;
	return 0;
}

static int on_end(struct log_replay *r, const struct uv_log_rec *rec)
{
	struct uv_log_entry e;
	struct log_slot *s;
	size_t i;

	if (rec->seq < r->base_seq || rec->seq >= r->next_seq)
		return 1;
	i = rec->seq - r->base_seq;
	s = &r->slots[i];
	if (s->done || s->sender != rec->sender || s->role != rec->sender_role)
		return 1;
	s->done = 1;
	if (rec->kind == UV_LOG_ABORT) {
		r->rep->aborted++;
		return 0;
	}
	r->rep->committed++;
	if (!r->ops || !r->ops->committed)
		return 0;
	entry_of(r, i, &e);
	return callback_result(r->ops->committed(r->ops->ctx, &e));
}

int log_replay_record(void *ctx, const struct uv_log_rec *rec, const unsigned char *payload)
{
	struct log_replay *r = ctx;

	if (rec->kind == UV_LOG_BEGIN)
		return on_begin(r, rec, payload);
	return on_end(r, rec);
}

int log_replay_pending(struct log_replay *r)
{
	struct uv_log_entry e;
	size_t i;
	int ret;

	for (i = 0; i < r->n; i++) {
		if (r->slots[i].done)
			continue;
		r->rep->pending++;
		if (!r->ops || !r->ops->pending)
			continue;
		entry_of(r, i, &e);
		if ((ret = callback_result(r->ops->pending(r->ops->ctx, &e))))
			return ret;
	}
	return 0;
}

int uv_log_read_segment(int fd, const struct uv_log_replay *replay, struct uv_log_report *report)
{
	struct uv_log_report rep = {0};
	struct uv_log_seg_hdr h = {0};
	unsigned char *buf = NULL;
	struct log_replay r;
	struct log_scan scan;
	size_t len = 0;
	int ret;

	if ((ret = log_read_file(fd, &buf, &len)))
		return ret;
	if (len >= sizeof(h))
		memcpy(&h, buf, sizeof(h));
	log_replay_init(&r, replay, &rep, h.first_seq);
	ret = log_scan(buf, len, log_replay_record, &r, &scan);
	if (!ret)
		ret = log_replay_pending(&r);
	if (ret)
		goto out;
	rep.segments_replayed = 1;
	rep.next_seq = r.next_seq;
	rep.damage = scan.damage;
	rep.damage_segment = scan.hdr.segment;
	rep.damage_offset = scan.valid_end;
	rep.truncated_bytes = scan.damage ? len - scan.valid_end : 0;
	if (report)
		*report = rep;
out:
	log_replay_free(&r);
	free(buf);
	return ret;
}
