/* SPDX-License-Identifier: MIT */
/*
 * The engine's identity (claims 13, 59; docs/monitor.md): QEMU runs under a uid and gid of the
 * partition's own (lib/engine_uid.h), with no supplementary group but /dev/kvm's when the
 * accelerator is KVM, no capability and no way to gain one (no_new_privs). A guest that breaks
 * into its QEMU is then an unprivileged user who owns nothing of any other partition: not its
 * image, not its sockets, not its memory. There is no fallback to root: if any step fails,
 * the child reports it and the partition does not start.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine_uid.h"
#include "monitor.h"

enum { STEP_NNP = 1, STEP_BOUNDING, STEP_AMBIENT, STEP_GROUPS, STEP_GID, STEP_UID, STEP_VERIFY };

const char *mon_cred_step_name(int step)
{
	switch (step) {
	case STEP_NNP:
		return "PR_SET_NO_NEW_PRIVS";
	case STEP_BOUNDING:
		return "dropping the capability bounding set";
	case STEP_AMBIENT:
		return "clearing ambient capabilities";
	case STEP_GROUPS:
		return "setgroups";
	case STEP_GID:
		return "setresgid";
	case STEP_UID:
		return "setresuid";
	case STEP_VERIFY:
		return "checking the dropped credentials";
	default:
		return "exec";
	}
}

int mon_cred_for(const struct monitor *m, struct mon_cred *c, char *err, size_t errlen)
{
	struct mon_cred out = {0};
	struct stat st;
	uid_t uid;
	int r;

	if ((r = uv_engine_uid(m->uid_base, m->engine_id, &uid))) {
		snprintf(err, errlen,
		         "partition number %u has no engine uid under base %u "
		         "(numbers below %u have one)",
		         m->engine_id, m->uid_base, UV_ENGINE_UID_SPAN);
		return r;
	}
	out.uid = uid;
	out.gid = (gid_t)uid;
	if (m->accel == UV_ACCEL_KVM) {
		/* The one thing the engine needs a group for: opening /dev/kvm. */
		if (stat("/dev/kvm", &st) < 0) {
			r = -errno;
			snprintf(err, errlen, "/dev/kvm: %s", strerror(errno));
			return r;
		}
		if (st.st_gid == 0 && (st.st_mode & 06) != 06) {
			/* Root's group is never handed to an engine. */
			snprintf(err, errlen,
			         "/dev/kvm belongs to group root (mode %04o): give it a "
			         "group of its own (kvm) for the engine to use it",
			         (unsigned)(st.st_mode & 07777));
			return -EACCES;
		}
		if (st.st_gid != 0 && st.st_gid != out.gid)
			out.groups[out.ngroups++] = st.st_gid;
	}
	*c = out;
	return 0;
}

bool mon_cred_may(const struct mon_cred *c, const struct stat *st, int want)
{
	mode_t bits = 0;

	if (st->st_uid == c->uid)
		bits = (st->st_mode >> 6) & 7;
	else if (st->st_gid == c->gid || (c->ngroups && st->st_gid == c->groups[0]))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return (!(want & R_OK) || (bits & 4)) && (!(want & W_OK) || (bits & 2));
}

/* Effective, permitted and inheritable sets all empty. */
static bool no_caps(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0xff, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	for (unsigned i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return false;
	return true;
}

static bool verify(const struct mon_cred *c)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[4];
	int n;

	if (getresuid(&ru, &eu, &su) || ru != c->uid || eu != c->uid || su != c->uid)
		return false;
	if (getresgid(&rg, &eg, &sg) || rg != c->gid || eg != c->gid || sg != c->gid)
		return false;
	n = getgroups(4, groups);
	if (n != c->ngroups || (n == 1 && groups[0] != c->groups[0]))
		return false;
	/* The way back must be closed, not merely unused. */
	if (setresuid(0, 0, 0) == 0 || setresgid(0, 0, 0) == 0)
		return false;
	return no_caps() && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
}

int mon_cred_drop(const struct mon_cred *c, int *step)
{
	int cap;

	*step = STEP_NNP;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* Empty the bounding set while we still may (CAP_SETPCAP): nothing exec'd later can
	 * regain a capability even through file capabilities. */
	*step = STEP_BOUNDING;
	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	*step = STEP_AMBIENT;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	*step = STEP_GROUPS;
	if (setgroups((size_t)c->ngroups, c->groups) < 0)
		return -errno;
	*step = STEP_GID;
	if (setresgid(c->gid, c->gid, c->gid) < 0)
		return -errno;
	/* Last: setting every uid to non-zero clears the permitted and effective sets. */
	*step = STEP_UID;
	if (setresuid(c->uid, c->uid, c->uid) < 0)
		return -errno;
	*step = STEP_VERIFY;
	if (!verify(c))
		return -EPERM;
	*step = 0;
	return 0;
}
