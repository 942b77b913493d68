/* SPDX-License-Identifier: MIT */
/*
 * Recovery of an audit log directory (claims 5, 7, 52, 54).
 *
 * 1. Load the newest snapshot whose checksum holds; skip (and later set aside) damaged newer
 *    ones. The previous snapshot and its segments are always kept for this fallback.
 * 2. Replay the segments from the snapshot's on, in order, until the first damage: a torn or
 *    corrupt record, a header that does not fit, or a missing segment. Only the intact prefix
 *    counts; everything after it is cut (damaged segment truncated, later ones set aside).
 * 3. Report transactions begun but never ended, for rollback.
 * Files change only after every callback succeeded, so a caller that fails can retry.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "txn_log_int.h"

struct recovery {
	int dirfd;
	const struct uv_log_replay *ops;
	struct uv_log_report *rep;
	struct log_listing l;
	struct log_replay replay;
	unsigned char **bufs; /* segment images; pending payloads point into them */
	size_t n_bufs;
	uint64_t start_seg;
	size_t n_corrupt_snaps; /* the newest n snapshots are damaged */
	size_t first_dropped;   /* index in l.segs; l.n_segs when none */
	int damaged;
	int have_last, last_bad_header;
	uint64_t last_seg;
	size_t last_end, last_size;
};

static void note_damage(struct recovery *rc, enum uv_log_damage d, uint64_t seg, uint64_t off)
{
	rc->damaged = 1;
	rc->rep->damage = d;
	rc->rep->damage_segment = seg;
	rc->rep->damage_offset = off;
}

static int load_snapshot(struct recovery *rc)
{
	struct uv_log_snap_hdr h;
	void *state = NULL;
	size_t i;
	int ret;

	for (i = rc->l.n_snaps; i-- > 0;) {
		ret = log_snap_load(rc->dirfd, rc->l.snaps[i], &h, &state);
		if (ret == -EBADMSG) {
			rc->n_corrupt_snaps++;
			continue;
		}
		if (ret)
			return ret;
		rc->rep->snapshot_loaded = 1;
		rc->rep->snapshot_segment = h.segment;
		rc->start_seg = h.segment;
		log_replay_init(&rc->replay, rc->ops, rc->rep, h.next_seq);
		ret = 0;
		if (rc->ops && rc->ops->snapshot)
			ret = rc->ops->snapshot(rc->ops->ctx, state, h.length, h.next_seq);
		free(state);
		return ret > 0 ? -ECANCELED : ret;
	}
	/* No usable snapshot: the history must be complete from the very first segment. */
	if (rc->l.n_segs && rc->l.segs[0] != 0)
		return -EUCLEAN;
	log_replay_init(&rc->replay, rc->ops, rc->rep, 1);
	return 0;
}

static int keep_buf(struct recovery *rc, unsigned char *buf)
{
	unsigned char **grown = realloc(rc->bufs, (rc->n_bufs + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	grown[rc->n_bufs++] = buf;
	rc->bufs = grown;
	return 0;
}

static int read_segment(struct recovery *rc, uint64_t seg, unsigned char **buf, size_t *len)
{
	char name[LOG_NAME_MAX];
	int ret;

	log_seg_name(name, seg);
	ret = log_read_at(rc->dirfd, name, buf, len);
	if (!ret && (ret = keep_buf(rc, *buf)))
		free(*buf);
	return ret;
}

static int header_fits(const struct recovery *rc, uint64_t seg, const unsigned char *buf,
                       size_t len)
{
	struct uv_log_seg_hdr h;

	if (len < sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	return log_seg_hdr_ok(&h) && h.segment == seg && h.first_seq == rc->replay.next_seq;
}

static int replay_segment(struct recovery *rc, uint64_t seg)
{
	unsigned char *buf = NULL;
	struct log_scan scan;
	size_t len = 0;
	int ret;

	if ((ret = read_segment(rc, seg, &buf, &len)))
		return ret;
	rc->have_last = 1;
	rc->last_seg = seg;
	if (!header_fits(rc, seg, buf, len)) {
		rc->last_bad_header = 1;
		rc->last_end = 0;
		rc->rep->truncated_bytes += len;
		note_damage(rc, UV_LOG_BAD_HEADER, seg, 0);
		return 0;
	}
	if ((ret = log_scan(buf, len, log_replay_record, &rc->replay, &scan)))
		return ret;
	rc->rep->segments_replayed++;
	rc->last_end = scan.valid_end;
	rc->last_size = len;
	if (scan.damage) {
		rc->rep->truncated_bytes += len - scan.valid_end;
		note_damage(rc, scan.damage, seg, scan.valid_end);
	}
	return 0;
}

static void drop_segment(struct recovery *rc, size_t i)
{
	char name[LOG_NAME_MAX];
	struct stat st;

	if (rc->first_dropped == rc->l.n_segs)
		rc->first_dropped = i;
	rc->rep->segments_dropped++;
	log_seg_name(name, rc->l.segs[i]);
	if (!fstatat(rc->dirfd, name, &st, 0))
		rc->rep->truncated_bytes += (uint64_t)st.st_size;
}

static int replay_segments(struct recovery *rc)
{
	uint64_t expect = rc->start_seg;
	size_t i = 0;
	int ret;

	rc->first_dropped = rc->l.n_segs;
	while (i < rc->l.n_segs && rc->l.segs[i] < rc->start_seg)
		i++;
	if (i < rc->l.n_segs && rc->l.segs[i] != expect)
		return -EUCLEAN; /* the segment right after the snapshot is gone */
	for (; i < rc->l.n_segs; i++) {
		if (!rc->damaged && rc->l.segs[i] != expect)
			note_damage(rc, UV_LOG_MISSING, expect, 0);
		if (rc->damaged) {
			drop_segment(rc, i);
			continue;
		}
		if ((ret = replay_segment(rc, rc->l.segs[i])))
			return ret;
		expect++;
	}
	return 0;
}

static int collect_pending(struct recovery *rc, struct log_recovered *out)
{
	const struct log_replay *r = &rc->replay;
	size_t i, n = 0;

	if ((size_t)rc->rep->pending == 0)
		return 0;
	out->pending = calloc((size_t)rc->rep->pending, sizeof(*out->pending));
	if (!out->pending)
		return -ENOMEM;
	for (i = 0; i < r->n; i++) {
		if (r->slots[i].done)
			continue;
		out->pending[n].seq = r->base_seq + i;
		out->pending[n].sender = r->slots[i].sender;
		out->pending[n].role = r->slots[i].role;
		n++;
	}
	out->n_pending = n;
	return 0;
}

static int truncate_segment(int dirfd, uint64_t seg, size_t end)
{
	char name[LOG_NAME_MAX];
	int fd, ret = 0;

	log_seg_name(name, seg);
	fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)end) || fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

static int repair(struct recovery *rc, struct log_recovered *out)
{
	char name[LOG_NAME_MAX];
	size_t i;
	int ret = 0;

	if (!rc->have_last || rc->last_bad_header) {
		rc->last_seg = rc->have_last ? rc->last_seg : rc->start_seg;
		rc->last_end = sizeof(struct uv_log_seg_hdr);
		rc->last_size = rc->last_end;
		ret = log_seg_create(rc->dirfd, rc->last_seg, rc->replay.next_seq);
	} else if (rc->damaged && rc->last_seg == rc->rep->damage_segment) {
		ret = truncate_segment(rc->dirfd, rc->last_seg, rc->last_end);
	}
	for (i = rc->first_dropped; !ret && i < rc->l.n_segs; i++) {
		log_seg_name(name, rc->l.segs[i]);
		ret = log_set_aside(rc->dirfd, name, ".dropped");
	}
	for (i = 0; !ret && i < rc->n_corrupt_snaps; i++) {
		log_snap_name(name, rc->l.snaps[rc->l.n_snaps - 1 - i]);
		ret = log_set_aside(rc->dirfd, name, ".corrupt");
	}
	if (!ret && fsync(rc->dirfd))
		ret = -errno;
	out->segment = rc->last_seg;
	out->append_off = rc->last_end;
	out->file_end = rc->damaged ? rc->last_end : rc->last_size;
	out->next_seq = rc->replay.next_seq;
	return ret;
}

int log_recover(int dirfd, const struct uv_log_replay *ops, struct uv_log_report *rep,
                struct log_recovered *out)
{
	struct recovery rc = {.dirfd = dirfd, .ops = ops, .rep = rep};
	size_t i;
	int ret;

	memset(rep, 0, sizeof(*rep));
	memset(out, 0, sizeof(*out));
	if ((ret = log_list(dirfd, &rc.l)))
		return ret;
	if ((ret = load_snapshot(&rc)) || (ret = replay_segments(&rc)) ||
	    (ret = log_replay_pending(&rc.replay)) || (ret = collect_pending(&rc, out)))
		goto out;
	rep->snapshots_corrupt = (uint32_t)rc.n_corrupt_snaps;
	rep->next_seq = rc.replay.next_seq;
	ret = repair(&rc, out);
out:
	if (ret) {
		free(out->pending);
		memset(out, 0, sizeof(*out));
	}
	log_replay_free(&rc.replay);
	for (i = 0; i < rc.n_bufs; i++)
		free(rc.bufs[i]);
	free(rc.bufs);
	log_listing_free(&rc.l);
	return ret;
}
