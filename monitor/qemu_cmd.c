/* SPDX-License-Identifier: MIT */
/*
 * The QEMU command line is derived from the descriptor and nothing else: no defaults, no user
 * config, no networking or device the descriptor does not grant, guest RAM only from the memory
 * object the monitor was handed, and QEMU's own seccomp sandbox on.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crc32c.h"
#include "monitor.h"

struct argv_buf {
	char **v;
	size_t n, cap;
	int err;
};

__attribute__((format(printf, 2, 3))) static void add(struct argv_buf *a, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (a->err)
		return;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		char **v = realloc(a->v, cap * sizeof(*v));
		if (!v) {
			a->err = -ENOMEM;
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		a->err = -ENOMEM;
	va_end(ap);
	if (a->err)
		return;
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

/* QEMU reads ",," as a literal comma: a path cannot smuggle in options of its own. out has
 * room for twice strlen(in) + 1. */
static void escape_commas(const char *in, char *out)
{
	for (; *in; in++) {
		if (*in == ',')
			*out++ = ',';
		*out++ = *in;
	}
	*out = 0;
}

/* Under TCG the guest's early TSC calibration against the PIT fails when the host is busy
 * (measured: 1 of 2 guests hung); telling the kernel the frequency skips the calibration. */
static unsigned long host_tsc_khz(void)
{
	char line[256];
	double mhz = 0;
	FILE *f = fopen("/proc/cpuinfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "cpu MHz : %lf", &mhz) == 1)
			break;
	fclose(f);
	return (unsigned long)(mhz * 1000.0 + 0.5);
}

/* Under TCG the guest's TSC is the host's own (QEMU reads the host counter), so when the host
 * keeps time by a constant TSC the guest's can be trusted too. Left to its watchdog, a guest on a
 * busy host compares the TSC with an emulated timer read late, marks it unstable and falls back
 * to jiffies, which lose every tick its starved vCPU misses (measured: 6 of 8 guests, clocks
 * running 0.70-0.83x the host's). */
static bool host_tsc_is_clock(void)
{
	char name[32] = "";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");

	if (!f)
		return false;
	if (!fgets(name, sizeof(name), f))
		name[0] = 0;
	fclose(f);
	return strcmp(name, "tsc\n") == 0;
}

static void add_cmdline(struct argv_buf *a, const struct monitor *m)
{
	const char *c = m->desc->cmdline;
	char extra[160] = "";
	size_t len = 0;
	unsigned long khz;

	if (!strstr(c, "console="))
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, " console=ttyS0");
	if (m->accel == UV_ACCEL_TCG && !strstr(c, "tsc_early_khz=") && (khz = host_tsc_khz()))
		len +=
		    (size_t)snprintf(extra + len, sizeof(extra) - len, " tsc_early_khz=%lu", khz);
	if (m->accel == UV_ACCEL_TCG && !strstr(c, "tsc=") && host_tsc_is_clock())
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, " tsc=reliable");
	add(a, "-append");
	add(a, "%s%s", c, extra);
}

static bool has_channel(const struct uv_partition_desc *d)
{
	uint32_t i;

	for (i = 0; i < d->n_dev; i++)
		if (d->dev[i].kind == UV_DEV_CHANNEL)
			return true;
	return false;
}

/* The channel's memory object becomes BAR 2 of an ivshmem-plain PCI device, mapped shared so
 * the guest and the other endpoint see the same bytes. QEMU maps the file the monitor opened
 * (files.c) through /proc/self/fd, walking no folder. Its size comes from the object itself
 * (validated at start as a power of two); a file that vanished since fails the argv build. */
static void add_channel(struct argv_buf *a, uint32_t i, const char *path, int fd)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		a->err = -errno;
		return;
	}
	add(a, "-object");
	add(a, "memory-backend-file,id=chan%u,mem-path=/proc/self/fd/%d,size=%llu,share=on", i, fd,
	    (unsigned long long)st.st_size);
	add(a, "-device");
	add(a, "ivshmem-plain,memdev=chan%u", i);
}

/* A channel the ultravisor granted: the same device, backed by the memory object QEMU inherits
 * at a fixed fd number (launch.c), so no path names it and nobody else can open it. */
static void add_uv_channels(struct argv_buf *a, const struct monitor *m)
{
	for (unsigned i = 0; i < m->n_uv_chan; i++) {
		add(a, "-object");
		add(a,
		    "memory-backend-file,id=uvchan%u,mem-path=/proc/self/fd/%u,size=%llu,share=on",
		    m->uv_chan[i].id, QEMU_CHAN_FD0 + i, (unsigned long long)m->uv_chan[i].size);
		add(a, "-device");
		add(a, "ivshmem-plain,memdev=uvchan%u", m->uv_chan[i].id);
	}
}

/* A disk whose image the monitor opened (direct.c, files.c), as an fd set QEMU only dups. */
static void add_disk_fd(struct argv_buf *a, uint32_t i, int fd, bool ro, const char *io)
{
	add(a, "-add-fd");
	add(a, "fd=%d,set=%u", fd, i + 1);
	add(a, "-blockdev");
	add(a, "driver=file,node-name=disk%u,filename=/dev/fdset/%u,read-only=%s,%s", i, i + 1,
	    ro ? "on" : "off", io);
	add(a, "-device");
	add(a, "virtio-blk-device,drive=disk%u", i);
}

/* A direct disk (the fast path): the engine does its I/O itself, by DMA between guest RAM and
 * the storage (O_DIRECT, io_uring). QEMU aligns the guest's requests to what O_DIRECT needs. */
static void add_direct(struct argv_buf *a, uint32_t i, int fd, bool ro)
{
	add_disk_fd(a, i, fd, ro, "cache.direct=on,aio=io_uring");
}

static void add_devices(struct argv_buf *a, const struct monitor *m)
{
	const struct uv_partition_desc *d = m->desc;
	int direct_fd = QEMU_CHAN_FD0 + (int)m->n_uv_chan, file_fd;
	uint32_t i, h;

	/* The fds the monitor passes: direct disks first, then the other devices' files. */
	file_fd = direct_fd;
	for (i = 0; i < d->n_dev && i < UV_DEVICES_MAX; i++)
		file_fd += d->dev[i].kind == UV_DEV_DIRECT_BLK;

	for (i = 0; i < d->n_dev; i++) {
		const struct uv_device *v = &d->dev[i];
		bool ro = v->flags & UV_DEV_F_READONLY;

		switch ((enum uv_dev_kind)v->kind) {
		case UV_DEV_RNG:
			add(a, "-object");
			add(a, "rng-random,id=rng%u,filename=/dev/urandom", i);
			add(a, "-device");
			add(a, "virtio-rng-device,rng=rng%u", i);
			break;
		case UV_DEV_BLK:
			add_disk_fd(a, i, file_fd++, ro, "cache.direct=off,aio=threads");
			break;
		case UV_DEV_VHOST_USER_BLK:
			add(a, "-chardev");
			add(a, "socket,id=vub%u,path=%s,reconnect=1", i, v->path);
			add(a, "-device");
			add(a, "vhost-user-blk,chardev=vub%u", i);
			break;
		case UV_DEV_VHOST_USER_NET:
			add(a, "-chardev");
			add(a, "socket,id=vun%u,path=%s,reconnect=1", i, v->path);
			add(a, "-netdev");
			add(a, "vhost-user,id=net%u,chardev=vun%u", i, i);
			/* QEMU gives every process's first NIC the same MAC, which breaks a switch
			 * between guests: a locally administered one from the partition's name. */
			h = uv_crc32c(0, d->name, strnlen(d->name, sizeof(d->name)));
			add(a, "-device");
			add(a, "virtio-net-device,netdev=net%u,mac=02:%02x:%02x:%02x:%02x:%02x", i,
			    h >> 24, (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff, i & 0xff);
			break;
		case UV_DEV_CHANNEL:
			add_channel(a, i, v->path, file_fd++);
			break;
		case UV_DEV_DIRECT_BLK:
			add_direct(a, i, direct_fd++, ro);
			break;
		case UV_DEV_NONE:
			break;
		}
	}
}

int mon_qemu_argv(const struct monitor *m, char ***argv_out)
{
	const struct uv_partition_desc *d = m->desc;
	struct argv_buf a = {0};
	unsigned long long mib = d->mem_bytes >> 20;
	char log_esc[2 * sizeof(m->paths.console_log)];

	escape_commas(m->paths.console_log, log_esc);

	add(&a, "%s", m->qemu_bin);
	add(&a, "-name");
	add(&a, "%s,debug-threads=on", d->name);
	add(&a, "-nodefaults");
	add(&a, "-no-user-config");
	add(&a, "-display");
	add(&a, "none");
	add(&a, "-no-reboot");
	add(&a, "-S"); /* the monitor connects to QMP before the guest runs a single instruction */
	if (m->incoming) { /* the guest's state comes from the source host's engine (migrate.c) */
		add(&a, "-incoming");
		add(&a, "defer");
	}
	add(&a, "-M");
	/* PCIe only for partitions that are granted channels: the others keep a machine without
	 * any PCI bus, so they have no bus to find anything on. */
	add(&a, "microvm,memory-backend=ram0,isa-serial=on,rtc=on,acpi=on%s",
	    has_channel(d) || m->n_uv_chan ? ",pcie=on" : "");
	add(&a, "-accel");
	add(&a, m->accel == UV_ACCEL_KVM ? "kvm" : "tcg,thread=multi");
	add(&a, "-cpu");
	add(&a, m->accel == UV_ACCEL_KVM ? "host" : "max");
	add(&a, "-smp");
	add(&a, "%u", d->vcpus);
	add(&a, "-m");
	add(&a, "%lluM", mib);
	add(&a, "-object");
	add(&a, "memory-backend-file,id=ram0,size=%lluM,mem-path=/proc/self/fd/%d,share=on", mib,
	    QEMU_MEM_FD);
	add(&a, "-sandbox");
	add(&a, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
	/* The console log, read-only: the fd set's opaque names it, so a re-attaching monitor
	 * knows this QEMU by its command line (launch.c is_our_qemu). */
	add(&a, "-add-fd");
	add(&a, "fd=%d,set=%d,opaque=%s", QEMU_LOG_FD, QEMU_LOG_FDSET, log_esc);
	/* The serial port is one end of the console relay's socketpair (console.c): the relay,
	 * not QEMU, writes console.log, every byte once (QEMU's chardev log repeats bytes when
	 * its socket pushes back). QMP's socket is bound by the monitor and inherited: it exists
	 * before QEMU runs, so the monitor connects at once instead of polling for it. */
	add(&a, "-chardev");
	add(&a, "socket,id=con0,fd=%d,server=off", QEMU_CON_FD);
	add(&a, "-serial");
	add(&a, "chardev:con0");
	add(&a, "-chardev");
	add(&a, "socket,id=qmp0,fd=%d,server=on,wait=off", QEMU_QMP_FD);
	add(&a, "-mon");
	add(&a, "chardev=qmp0,mode=control");
	add(&a, "-global");
	add(&a, "virtio-mmio.force-legacy=false");
	/* Opened by the monitor (files.c): the engine walks no folder to reach them. */
	add(&a, "-kernel");
	add(&a, "/proc/self/fd/%d", QEMU_KERNEL_FD);
	if (d->initrd[0]) {
		add(&a, "-initrd");
		add(&a, "/proc/self/fd/%d", QEMU_INITRD_FD);
	}
	add_cmdline(&a, m);
	add_devices(&a, m);
	add_uv_channels(&a, m);
	if (a.err) {
		mon_argv_free(a.v);
		return a.err;
	}
	*argv_out = a.v;
	return 0;
}

void mon_argv_free(char **argv)
{
	size_t i;

	for (i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}
