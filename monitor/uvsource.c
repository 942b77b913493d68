/* SPDX-License-Identifier: MIT */
/*
 * The monitor's resources when an ultravisor runs (claims 10, 11, 32): the descriptor is read from
 * the resource database through a read-only mapping, guest RAM is the memory object the
 * ultravisor made for the partition's grant, and state changes go back as the monitor's own
 * SET_STATE transactions (the only kind its role may send).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "desc.h"
#include "disk_limit.h"
#include "monitor.h"
#include "pidfd.h"
#include "resdb.h"
#include "uvclient.h"

/* The channels the ultravisor granted: each becomes an ivshmem device (qemu_cmd.c). */
static int load_channels(struct monitor *m, uint32_t partition, char *err, size_t errlen)
{
	struct uv_ctl_channel info[UV_CTL_FDS_MAX];
	int fds[UV_CTL_FDS_MAX], r;
	unsigned n = 0;

	if ((r = uv_client_get_channels(m->uv_sock, partition, fds, info, &n, err, errlen)))
		return r;
	for (unsigned i = 0; i < n; i++) {
		struct stat st;

		/* Trust the object, not the message: QEMU maps exactly what the fd holds. */
		if (fstat(fds[i], &st) || (uint64_t)st.st_size != info[i].size ||
		    info[i].size < UV_GCHAN_SIZE_MIN || (info[i].size & (info[i].size - 1))) {
			snprintf(err, errlen,
			         "channel %u: its memory object is not a %llu-byte BAR",
			         info[i].channel_id, (unsigned long long)info[i].size);
			for (unsigned j = 0; j < n; j++)
				close(fds[j]);
			return -EPROTO;
		}
	}
	for (unsigned i = 0; i < n; i++)
		m->uv_chan[i] = (struct mon_uv_chan){
		    .fd = fds[i], .id = info[i].channel_id, .size = info[i].size};
	m->n_uv_chan = n;
	return 0;
}

/* The database read-only (claim 11), with a view on it: each ultravisor instance makes its own
 * object. Nothing is left behind on failure. */
static int map_db(int sock, struct uv_resdb_view **view, void **map, uint64_t *size, char *err,
                  size_t errlen)
{
	struct uv_resdb_view *v = NULL;
	unsigned n = 0;
	int fd = -1, r;
	void *p;

	r = uv_client_simple(sock, UV_CTL_GET_DB, 0, 0, &fd, 1, &n, size, err, errlen);
	if (r)
		return r;
	p = mmap(NULL, *size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		r = -errno;
		snprintf(err, errlen, "mapping the resource database: %s", strerror(errno));
		return r;
	}
	if (!(v = calloc(1, sizeof(*v)))) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = uv_resdb_view_attach(v, p, *size))) {
		snprintf(err, errlen, "the resource database: %s", strerror(-r));
		goto fail;
	}
	*view = v;
	*map = p;
	return 0;
fail:
	free(v);
	munmap(p, *size);
	return r;
}

int mon_uv_load(struct monitor *m, const char *sock_path, uint32_t partition, char *err,
                size_t errlen)
{
	struct uv_resdb_view *view = NULL;
	struct uv_partition_desc *d = NULL;
	int fds[UV_CTL_FDS_MAX], r;
	unsigned n = 0;
	uint64_t size = 0, bytes = 0;
	void *map = MAP_FAILED;

	if ((r = uv_client_connect(sock_path, &m->uv_sock))) {
		snprintf(err, errlen, "ultravisor %s: %s", sock_path, strerror(-r));
		return r;
	}
	if ((r = map_db(m->uv_sock, &view, &map, &size, err, errlen)))
		return r;
	d = calloc(1, sizeof(*d));
	if (!d) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = uv_resdb_read_desc(view, partition, d, NULL))) {
		snprintf(err, errlen, "partition %u: %s", partition,
		         r == -ENOENT ? "not in the resource database" : strerror(-r));
		goto fail;
	}
	/* The monitor channel makes this connection the partition's one monitor, the only
	 * holder the ultravisor hands the partition's memory and channels to. */
	if ((r = uv_cmd_open(m->uv_sock, partition, UV_ROLE_MONITOR, &m->uv_cmd, err, errlen)))
		goto fail;
	r = uv_client_simple(m->uv_sock, UV_CTL_GET_MEMORY, partition, 0, fds, UV_CTL_FDS_MAX, &n,
	                     &bytes, err, errlen);
	if (r)
		goto fail;
	if (n != 1 || bytes != d->mem_bytes) {
		for (unsigned i = 0; i < n; i++)
			close(fds[i]);
		r = -EINVAL;
		snprintf(err, errlen,
		         "partition %u: %u memory grants of %llu MiB for a %llu MiB descriptor; a "
		         "guest needs exactly one grant of its memory size",
		         partition, n, (unsigned long long)(bytes >> 20),
		         (unsigned long long)(d->mem_bytes >> 20));
		goto fail;
	}
	if ((r = load_channels(m, partition, err, errlen))) {
		close(fds[0]);
		goto fail;
	}
	m->uv_mem_fd = fds[0];
	snprintf(m->uv_path, sizeof(m->uv_path), "%s", sock_path);
	m->uv_db = map;
	m->uv_db_size = size;
	m->uv_view = view;
	m->desc = d;
	m->partition = partition;
	err[0] = 0;
	return 0;
fail:
	uv_cmd_close(m->uv_cmd);
	m->uv_cmd = NULL;
	free(view);
	free(d);
	munmap(map, size);
	return r;
}

/* A dead ultravisor is seen on its control socket at once; its channel would only time out. */
static bool socket_hung_up(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return fd < 0 || (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLIN)));
}

/* A restarted ultravisor made the partition's memory object afresh; the engine runs on the
 * old one. Hand that back (taken from QEMU itself), so whoever asks later gets the guest's real
 * memory. Best effort: the guest runs on regardless. */
void mon_uv_hand_back(struct monitor *m)
{
	char err[160];
	int fd, r;

	if (!m->uv_cmd || m->pidfd < 0 || m->qemu_pid <= 0)
		return;
	fd = uv_pidfd_getfd(m->pidfd, QEMU_MEM_FD);
	if (fd < 0) {
		fprintf(stderr, "monitor[%s]: cannot take the engine's memory object: %s\n",
		        m->desc->name, strerror(-fd));
		return;
	}
	r = uv_client_adopt_memory(m->uv_sock, m->partition, &fd, 1, err, sizeof(err));
	close(fd);
	if (r)
		fprintf(stderr, "monitor[%s]: %s\n", m->desc->name, err);
	for (unsigned i = 0; i < m->n_uv_chan; i++) {
		fd = uv_pidfd_getfd(m->pidfd, QEMU_CHAN_FD0 + (int)i);
		if (fd < 0)
			continue;
		r = uv_client_adopt_channels(m->uv_sock, m->partition, &fd, 1, err, sizeof(err));
		close(fd);
		if (r)
			fprintf(stderr, "monitor[%s]: channel %u: %s\n", m->desc->name, i, err);
	}
}

/* The old instance's database is frozen at its death: follow the new one's, or CPU shares set
 * after the restart would never reach the engine. The old view stays if the new one fails. */
static int remap_db(struct monitor *m)
{
	struct uv_resdb_view *view = NULL;
	uint64_t size = 0;
	void *map = NULL;
	char err[160];
	int r;

	if ((r = map_db(m->uv_sock, &view, &map, &size, err, sizeof(err))))
		return r;
	free(m->uv_view);
	if (m->uv_db)
		munmap((void *)m->uv_db, m->uv_db_size);
	m->uv_view = view;
	m->uv_db = map;
	m->uv_db_size = size;
	return 0;
}

/* The ultravisor restarted (its partition was rebooted, claim 5): open a new channel. */
static int reconnect(struct monitor *m)
{
	char err[160];
	int r;

	uv_cmd_close(m->uv_cmd);
	m->uv_cmd = NULL;
	if (m->uv_sock >= 0)
		close(m->uv_sock);
	m->uv_sock = -1;
	if ((r = uv_client_connect(m->uv_path, &m->uv_sock)))
		return r;
	r = uv_cmd_open(m->uv_sock, m->partition, UV_ROLE_MONITOR, &m->uv_cmd, err, sizeof(err));
	if (r)
		return r;
	mon_uv_hand_back(m);
	return remap_db(m);
}

void mon_uv_report(struct monitor *m, enum uv_part_state s)
{
	struct uv_txn t;
	struct uv_txn_response resp;
	int r = -ENOTCONN;

	if (!m->uv_path[0])
		return;
	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_SET_STATE;
	t.u.state.partition_id = m->partition;
	t.u.state.state = s;
	if (m->uv_cmd && !socket_hung_up(m->uv_sock))
		r = uv_cmd_submit(m->uv_cmd, &t, &resp, 500);
	if (r && reconnect(m) == 0)
		r = uv_cmd_submit(m->uv_cmd, &t, &resp, 500);
	if (r)
		fprintf(stderr, "monitor[%s]: ultravisor did not take the state: %s\n",
		        m->desc->name, strerror(-r));
	else if (resp.reason != UV_TXN_OK)
		fprintf(stderr, "monitor[%s]: ultravisor refused state %s: %s\n", m->desc->name,
		        uv_state_name(s), uv_txn_reason_str(resp.reason));
}

/* The command partition changes a running partition's CPU share by transaction (claims 26-28);
 * the monitor, reading its record in the database, puts it in force. */
static void follow_cpu(struct monitor *m, const struct uv_resdb_part *rec)
{
	char err[160];

	if (rec->cpu_share_milli == m->cpu_share_milli)
		return;
	if (mon_cpu_set(m, rec->cpu_share_milli, err, sizeof(err)))
		fprintf(stderr, "monitor[%s]: CPU share %u.%03u from the database: %s\n",
		        m->desc->name, rec->cpu_share_milli / 1000, rec->cpu_share_milli % 1000,
		        err);
	else {
		mon_status_save(m);
		fprintf(stderr, "monitor[%s]: CPU share %u.%03u from the database\n", m->desc->name,
		        rec->cpu_share_milli / 1000, rec->cpu_share_milli % 1000);
	}
}

/* A direct disk's limit the same way (SET_DISK_LIMITS; docs/io-partition.md, "Changing a
 * limit"): the command partition also asks us at once, so this only finds work when that
 * request was lost (the command partition died between its transaction and the request). */
static void follow_disks(struct monitor *m, const struct uv_partition_desc *d)
{
	char err[600];

	for (unsigned k = 0; k < d->n_disk && k < UV_DISKS_MAX; k++) {
		const struct uv_disk_limit *want = &d->disk_limit[k], *no = &m->io_refused[k];
		struct uv_disk_limit now = mon_blkio_limit(m, k);

		if (!mon_blkio_is_direct(m, k) || uv_disk_limit_equal(&now, want))
			continue;
		/* Said once: a limit the kernel refused is tried again only when it changes. */
		if (uv_disk_limit_equal(no, want) && !uv_disk_limit_none(no))
			continue;
		if (mon_blkio_set(m, k, want, err, sizeof(err))) {
			m->io_refused[k] = *want;
			fprintf(stderr, "monitor[%s]: disks[%u] limit from the database: %s\n",
			        m->desc->name, k, err);
		} else {
			m->io_refused[k] = (struct uv_disk_limit){0};
		}
	}
}

void mon_uv_follow(struct monitor *m)
{
	struct uv_partition_desc d;
	struct uv_resdb_part rec;

	if (!m->uv_view || m->qemu_pid <= 0)
		return;
	/* A restarted ultravisor made the guest's memory object afresh; hand the live one back
	 * now rather than at the next state report, so an I/O partition checking a client's
	 * memory table against the grants (docs/io-partition.md) finds the guest's real memory. */
	if (socket_hung_up(m->uv_sock))
		reconnect(m);
	if (uv_resdb_read_desc(m->uv_view, m->partition, &d, &rec))
		return;
	follow_cpu(m, &rec);
	follow_disks(m, &d);
}
