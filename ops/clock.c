/* SPDX-License-Identifier: MIT */
/* The clock the schedules follow. Tests move it with --now-file: a file holding Unix seconds
 * stands for now while it does, so a test crosses a window without waiting for the hour. */
#include <stdio.h>
#include <stdlib.h>

#include "ops.h"

time_t ops_now(const struct ops *o)
{
	long long t;
	FILE *f;
	int ok;

	if (!o->now_file || !(f = fopen(o->now_file, "re")))
		return time(NULL);
	ok = fscanf(f, "%lld", &t) == 1 && t > 0;
	fclose(f);
	return ok ? (time_t)t : time(NULL);
}

unsigned ops_minute(const struct ops *o)
{
	time_t t = ops_now(o);
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return 0;
	return (unsigned)(tm.tm_hour * 60 + tm.tm_min);
}
