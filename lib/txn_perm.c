/* SPDX-License-Identifier: MIT */
/*
 * Which sender role may send which transaction type (claims 6, 8, 56).
 *
 * Policy lives in the command partition: it alone allocates once it is up (claim 6). Before
 * that, the boot partition requests resources for the system partitions it starts (claim 8).
 * The operations partition decides policy but speaks only to the command partition (claim 56),
 * and monitors may only report their own partition's state. Guests and I/O partitions change
 * nothing in the database: a disk's I/O limit (SET_DISK_LIMITS) is the command partition's to
 * change (the ultravisor's only when it rolls back the command partition's pending work).
 */
#include "txn_codec.h"

static int is_request(enum uv_txn_type type)
{
	return type > UV_TXN_NONE && type < UV_TXN_TYPE_COUNT && type != UV_TXN_RESPONSE;
}

static enum uv_txn_scope boot_scope(enum uv_txn_type type, int command_up)
{
	/* A disk's limit is policy, the command partition's alone even before it is up: the boot
	 * partition's system partitions ask for no disks. */
	if (type == UV_TXN_SET_DISK_LIMITS)
		return UV_SCOPE_NONE;
	if (!command_up)
		return UV_SCOPE_SYSTEM;
	/* Restarting a failed system partition: its preserved resources stay recorded, the boot
	 * partition only moves it through its states (claims 5, 55). */
	return type == UV_TXN_SET_STATE ? UV_SCOPE_SYSTEM : UV_SCOPE_NONE;
}

enum uv_txn_scope uv_txn_scope(enum uv_role role, enum uv_txn_type type, int command_up)
{
	if (type == UV_TXN_RESPONSE)
		return role == UV_ROLE_ULTRAVISOR ? UV_SCOPE_ANY : UV_SCOPE_NONE;
	if (!is_request(type))
		return UV_SCOPE_NONE;
	switch (role) {
	case UV_ROLE_ULTRAVISOR: /* compensating records while rolling back a failed partition */
	case UV_ROLE_COMMAND:
		return UV_SCOPE_ANY;
	case UV_ROLE_BOOT:
		return boot_scope(type, command_up);
	case UV_ROLE_MONITOR:
		return type == UV_TXN_SET_STATE ? UV_SCOPE_SELF : UV_SCOPE_NONE;
	case UV_ROLE_OPERATIONS:
	case UV_ROLE_IO:
	case UV_ROLE_GUEST:
	case UV_ROLE_COUNT:
		break;
	}
	return UV_SCOPE_NONE;
}
