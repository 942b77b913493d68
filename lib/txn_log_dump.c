/* SPDX-License-Identifier: MIT */
/* Printing an audit log for people: one line per record, damage called out where it starts. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "txn_codec.h"
#include "txn_log_int.h"

struct dump {
	FILE *out;
	uint64_t off;
};

const char *uv_log_kind_name(enum uv_log_kind k)
{
	switch (k) {
	case UV_LOG_BEGIN:
		return "begin";
	case UV_LOG_COMMIT:
		return "commit";
	case UV_LOG_ABORT:
		return "abort";
	}
	return "?";
}

const char *uv_log_damage_str(enum uv_log_damage d)
{
	static const char *const s[] = {
	    [UV_LOG_INTACT] = "intact",
	    [UV_LOG_TORN] = "torn record (interrupted write)",
	    [UV_LOG_BAD_CRC] = "checksum mismatch",
	    [UV_LOG_GARBAGE] = "garbage or out-of-place record",
	    [UV_LOG_BAD_HEADER] = "unreadable segment header",
	    [UV_LOG_MISSING] = "missing segment",
	};
	if ((unsigned)d >= sizeof(s) / sizeof(s[0]))
		return "unknown damage";
	return s[d];
}

static void print_payload(FILE *out, const unsigned char *payload, uint32_t len)
{
	char line[256];
	struct uv_txn t;
	enum uv_txn_reason r = uv_txn_decode(payload, len, &t);

	if (r) {
		uv_txn_explain(payload, len, r, line, sizeof(line));
		fprintf(out, "  undecodable transaction (%s: %s)", uv_txn_reason_name(r), line);
		return;
	}
	uv_txn_summary(&t, line, sizeof(line));
	fprintf(out, "  req=%" PRIu64 " %s", (uint64_t)t.hdr.request_id, line);
}

static int dump_record(void *ctx, const struct uv_log_rec *r, const unsigned char *payload)
{
	struct dump *d = ctx;

	fprintf(d->out, "%10" PRIu64 "  seq=%-8" PRIu64 " %-6s sender=%u/%s", d->off,
	        (uint64_t)r->seq, uv_log_kind_name(r->kind), r->sender,
	        uv_role_name(r->sender_role));
	if (r->kind == UV_LOG_BEGIN)
		print_payload(d->out, payload, r->length);
	fputc('\n', d->out);
	d->off += log_rec_size(r->length);
	return 0;
}

static void dump_segment(const unsigned char *buf, size_t len, FILE *out)
{
	struct dump d = {out, sizeof(struct uv_log_seg_hdr)};
	struct uv_log_seg_hdr h;
	struct log_scan scan;

	if (len < sizeof(h) || (memcpy(&h, buf, sizeof(h)), !log_seg_hdr_ok(&h))) {
		fprintf(out, "segment: %s (%zu bytes)\n", uv_log_damage_str(UV_LOG_BAD_HEADER),
		        len);
		return;
	}
	fprintf(out, "-- segment %" PRIu64 ", first seq %" PRIu64 ", %zu bytes\n",
	        (uint64_t)h.segment, (uint64_t)h.first_seq, len);
	log_scan(buf, len, dump_record, &d, &scan);
	if (scan.damage)
		fprintf(out, "!! %s at offset %zu: %zu bytes after it would be cut on recovery\n",
		        uv_log_damage_str(scan.damage), scan.valid_end, len - scan.valid_end);
}

static void dump_snapshot(const unsigned char *buf, size_t len, FILE *out)
{
	struct uv_log_snap_hdr h;

	if (len < sizeof(h)) {
		fprintf(out, "snapshot: too short (%zu bytes)\n", len);
		return;
	}
	memcpy(&h, buf, sizeof(h));
	fprintf(out,
	        "-- snapshot before segment %" PRIu64 ", next seq %" PRIu64 ", %" PRIu64
	        " bytes of state: %s\n",
	        (uint64_t)h.segment, (uint64_t)h.next_seq, (uint64_t)h.length,
	        log_snap_ok(&h, buf + sizeof(h), len - sizeof(h)) ? "valid" : "DAMAGED");
}

static int dump_file(int dirfd, const char *path, FILE *out)
{
	unsigned char *buf = NULL;
	uint32_t magic = 0;
	size_t len = 0;
	int ret;

	if ((ret = log_read_at(dirfd, path, &buf, &len)))
		return ret;
	if (len >= sizeof(magic))
		memcpy(&magic, buf, sizeof(magic));
	if (magic == UV_LOG_SNAP_MAGIC)
		dump_snapshot(buf, len, out);
	else
		dump_segment(buf, len, out);
	free(buf);
	return 0;
}

static int dump_dir(int dirfd, FILE *out)
{
	char name[LOG_NAME_MAX];
	struct log_listing l;
	size_t i;
	int ret;

	if ((ret = log_list(dirfd, &l)))
		return ret;
	for (i = 0; !ret && i < l.n_snaps; i++) {
		log_snap_name(name, l.snaps[i]);
		ret = dump_file(dirfd, name, out);
	}
	for (i = 0; !ret && i < l.n_segs; i++) {
		log_seg_name(name, l.segs[i]);
		ret = dump_file(dirfd, name, out);
	}
	log_listing_free(&l);
	return ret;
}

int uv_log_dump(const char *path, FILE *out)
{
	struct stat st;
	int fd, ret;

	if (stat(path, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return dump_file(AT_FDCWD, path, out);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = dump_dir(fd, out);
	close(fd);
	return ret;
}
