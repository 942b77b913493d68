/* SPDX-License-Identifier: MIT */
/*
 * ultra top: each running partition's engine as the host sees it: CPU used (in host CPUs, next
 * to its share), resident memory, uptime. Sampled from /proc over an interval, like top's batch
 * mode: `ultra top [-n ITERATIONS] [-d SECONDS]`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ultra.h"

#define TOP_MAX 256

struct sample {
	char name[64];
	char state[16];
	long long pid;
	double share;
	unsigned long long ticks; /* utime + stime */
	long long rss_kib;
};

static int proc_sample(long long pid, unsigned long long *ticks, long long *rss_kib)
{
	char path[64], buf[1024];
	unsigned long long ut, st;
	FILE *f;
	char *s;

	snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
	if (!(f = fopen(path, "re")))
		return -1;
	s = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	/* after "comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime stime */
	if (!s ||
	    sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	*ticks = ut + st;
	snprintf(path, sizeof(path), "/proc/%lld/status", pid);
	*rss_kib = 0;
	if ((f = fopen(path, "re"))) {
		while (fgets(buf, sizeof(buf), f))
			if (sscanf(buf, "VmRSS: %lld", rss_kib) == 1)
				break;
		fclose(f);
	}
	return 0;
}

/* The running partitions and their engines' pids, from the command partition. */
static int collect(struct ultra *u, struct sample *out, int max)
{
	json_object *list = NULL, *info = NULL, *p, *v;
	int n = 0, rc;

	if ((rc = ultra_call(u, "list", NULL, &list)))
		return -rc;
	for (size_t i = 0; i < json_object_array_length(list) && n < max; i++) {
		p = json_object_array_get_idx(list, i);
		if (strcmp(ultra_str(p, "state"), "running") &&
		    strcmp(ultra_str(p, "state"), "paused"))
			continue;
		if (ultra_call(u, "info", ultra_name_arg(ultra_str(p, "name")), &info))
			continue;
		struct sample *s = &out[n];
		snprintf(s->name, sizeof(s->name), "%s", ultra_str(p, "name"));
		snprintf(s->state, sizeof(s->state), "%s", ultra_str(p, "state"));
		s->pid = ultra_int(info, "qemu_pid");
		s->share =
		    json_object_object_get_ex(p, "cpu_share", &v) ? json_object_get_double(v) : 0;
		json_object_put(info);
		info = NULL;
		if (s->pid > 0 && proc_sample(s->pid, &s->ticks, &s->rss_kib) == 0)
			n++;
	}
	json_object_put(list);
	return n;
}

static void print_round(struct ultra *u, const struct sample *a, const struct sample *b, int n,
                        double secs)
{
	long hz = sysconf(_SC_CLK_TCK);
	json_object *arr = u->json ? json_object_new_array() : NULL;

	if (!u->json)
		printf("%-20s %-8s %8s %8s %9s\n", "NAME", "STATE", "CPU", "SHARE", "RSS");
	for (int i = 0; i < n; i++) {
		double cpu = (double)(b[i].ticks - a[i].ticks) / (double)hz / secs;

		if (arr) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "name", json_object_new_string(b[i].name));
			json_object_object_add(o, "state", json_object_new_string(b[i].state));
			json_object_object_add(o, "cpu", json_object_new_double(cpu));
			json_object_object_add(o, "cpu_share", json_object_new_double(b[i].share));
			json_object_object_add(o, "rss_mib",
			                       json_object_new_int64(b[i].rss_kib / 1024));
			json_object_array_add(arr, o);
		} else {
			char share[16] = "-";
			if (b[i].share > 0)
				snprintf(share, sizeof(share), "%.2f", b[i].share);
			printf("%-20s %-8s %8.2f %8s %6lldMiB\n", b[i].name, b[i].state, cpu, share,
			       b[i].rss_kib / 1024);
		}
	}
	if (arr) {
		ultra_print_json(arr);
		json_object_put(arr);
	}
	fflush(stdout);
}

int ultra_cmd_top(struct ultra *u, int argc, char **argv)
{
	struct sample a[TOP_MAX], b[TOP_MAX];
	int rounds = isatty(1) && !u->json ? -1 : 1, n;
	double secs = 1.0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-d") && i + 1 < argc)
			secs = atof(argv[++i]);
		else
			return ULTRA_USAGE;
	}
	if (rounds == 0 || !(secs > 0 && secs <= 3600))
		return ULTRA_USAGE;
	for (int r = 0; rounds < 0 || r < rounds; r++) {
		struct timespec ts = {.tv_sec = (time_t)secs,
		                      .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9)};
		if ((n = collect(u, a, TOP_MAX)) < 0)
			return -n;
		nanosleep(&ts, NULL);
		/* The same partitions again, matched by name: one may have stopped meanwhile. */
		for (int i = 0; i < n; i++) {
			b[i] = a[i];
			if (proc_sample(a[i].pid, &b[i].ticks, &b[i].rss_kib))
				b[i].ticks = a[i].ticks;
		}
		print_round(u, a, b, n, secs);
	}
	return ULTRA_OK;
}
