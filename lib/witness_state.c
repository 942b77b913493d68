/* SPDX-License-Identifier: MIT */
/* The witness's record on disk (include/ultra/witness.h; docs/ops-ha.md "The witness"). A
 * record that fails any check is refused whole: a witness that guessed its holder could grant
 * the lease twice. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "witness.h"

#define CRC_SPAN offsetof(struct uv_wit_state_rec, crc)

bool uv_wit_name_ok(const char *s, size_t len)
{
	if (!s || len == 0 || len >= UV_WIT_HOLDER_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

void uv_wit_record_encode(const struct uv_wit_record *r, struct uv_wit_state_rec *out)
{
	memset(out, 0, sizeof(*out));
	out->magic = UV_WIT_STATE_MAGIC;
	out->version = UV_WIT_STATE_VERSION;
	out->header_size = sizeof(*out);
	out->epoch = r->epoch;
	out->lease_ms = r->lease_ms;
	memcpy(out->holder, r->holder, strnlen(r->holder, sizeof(out->holder) - 1));
	out->crc = uv_crc32c(0, out, CRC_SPAN);
}

/* The holder field: a name NUL-padded to the end, or all zero. */
static bool holder_ok(const char *h)
{
	size_t n = strnlen(h, UV_WIT_HOLDER_MAX);

	if (n == UV_WIT_HOLDER_MAX)
		return false;
	for (size_t i = n; i < UV_WIT_HOLDER_MAX; i++)
		if (h[i])
			return false;
	return n == 0 || uv_wit_name_ok(h, n);
}

int uv_wit_record_decode(const void *buf, size_t len, struct uv_wit_record *out, char *err,
                         size_t errlen)
{
	struct uv_wit_state_rec r;
	const char *why = NULL;

	if (len != sizeof(r)) {
		snprintf(err, errlen, "a witness record is %zu bytes, not %zu", sizeof(r), len);
		return -EBADMSG;
	}
	memcpy(&r, buf, sizeof(r));
	if (r.magic != UV_WIT_STATE_MAGIC)
		why = "not a witness record (magic)";
	else if (r.version != UV_WIT_STATE_VERSION || r.header_size != sizeof(r))
		why = "a witness record of another version";
	else if (r.crc != uv_crc32c(0, &r, CRC_SPAN))
		why = "checksum mismatch";
	else if (r.reserved || r.reserved2)
		why = "reserved bytes set";
	else if (!holder_ok(r.holder))
		why = "the holder is not a name";
	else if (r.holder[0]
	             ? r.lease_ms < UV_WIT_LEASE_MIN_MS || r.lease_ms > UV_WIT_LEASE_MAX_MS ||
	                   r.epoch == 0 || r.epoch > INT64_MAX
	             : r.lease_ms != 0)
		why = "a lease length or epoch out of bounds";
	if (why) {
		snprintf(err, errlen, "%s", why);
		return -EBADMSG;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->holder, r.holder, sizeof(out->holder));
	out->epoch = r.epoch;
	out->lease_ms = r.lease_ms;
	return 0;
}

int uv_wit_record_load(const char *path, struct uv_wit_record *out, char *err, size_t errlen)
{
	/* One byte more than a record: a longer file is not one. */
	char buf[sizeof(struct uv_wit_state_rec) + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	ssize_t n;

	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	n = read(fd, buf, sizeof(buf));
	rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	return uv_wit_record_decode(buf, (size_t)n, out, err, errlen);
}

static int sync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc;

	snprintf(copy, sizeof(copy), "%s", path);
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

int uv_wit_record_save(const char *path, const struct uv_wit_record *r)
{
	struct uv_wit_state_rec rec;
	char tmp[PATH_MAX];
	int fd = -1, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	uv_wit_record_encode(r, &rec);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -errno;
	if (write(fd, &rec, sizeof(rec)) != (ssize_t)sizeof(rec))
		rc = errno ? -errno : -EIO;
	else if (fsync(fd))
		rc = -errno;
	close(fd);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	return sync_dir(path);
}
