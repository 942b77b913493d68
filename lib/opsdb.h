/* SPDX-License-Identifier: MIT */
/*
 * The operations partition's persistent store (claims 35, 37, 46): partition definitions,
 * domains and schedules in one SQLite file (WAL journal, a schema version table, every write in
 * a transaction). Functions return 0 or a negative errno and, where given, a sentence in err.
 */
#ifndef ULTRA_LIB_OPSDB_H
#define ULTRA_LIB_OPSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ultra/descriptor.h>

/* Version 2 added hosts and each partition's zone and host (claims 39, 41-43, 45); a version-1
 * store is upgraded in place when opened (docs/operations.md, "The store"). */
#define OPSDB_SCHEMA_VERSION 2
#define OPS_ADDR_MAX 256     /* a host's address: opaque to the store ("PATH", "tls://H:P") */
#define OPS_LOCATION_MAX 128 /* a host's physical location, free text (claim 45) */

struct opsdb;

/* A domain: a named group of partitions with limits on what its active members use together
 * (claims 35-37). 0 = no limit. */
struct ops_domain {
	char name[UV_NAME_MAX];
	uint32_t memory_mib;
	uint32_t cpu_milli; /* 1000 = one host CPU */
};

/* A stored definition: the JSON as the user gave it and what the policy needs from it. */
struct ops_part {
	char name[UV_NAME_MAX];
	char domain[UV_NAME_MAX]; /* "" = none */
	bool autostart;
	uint32_t memory_mib;
	uint32_t vcpus;
	uint32_t cpu_milli;     /* the definition's share; 0 = unlimited */
	char *definition;       /* JSON text without domain/autostart/zone */
	char *base_dir;         /* may be NULL */
	char zone[UV_NAME_MAX]; /* "" = any zone */
	char host[UV_NAME_MAX]; /* the host it was placed on; "" = none yet */
};

/* A host the operations partition places partitions on (claims 39, 41-43): its command
 * partition is reached at address. */
struct ops_host {
	char name[UV_NAME_MAX];
	char address[OPS_ADDR_MAX];
	char zone[UV_NAME_MAX];          /* "" = none: only zone-less partitions go there */
	char location[OPS_LOCATION_MAX]; /* "" = not given */
};

enum ops_target { OPS_TARGET_PARTITION = 0, OPS_TARGET_DOMAIN = 1 };
enum ops_setting { OPS_SET_CPU_SHARE = 0, OPS_SET_MEMORY_MIB = 1 };

/* A schedule entry: during [from, to) minutes of the local day (to < from wraps past
 * midnight) the target's setting is value (cpu_share in milli-CPUs, memory in MiB). */
struct ops_sched {
	int64_t id;
	uint8_t target_kind; /* enum ops_target */
	uint8_t setting;     /* enum ops_setting */
	uint16_t from_min, to_min;
	char target[UV_NAME_MAX];
	uint32_t value;
};

/* Opens (creating if missing) the store at path. A version-1 store is upgraded to version 2 in
 * one transaction (nothing in it is lost; its partitions get no zone and no host). A file that
 * is not an ultra-ops store, or one of any other schema version, is refused with a sentence
 * naming the file. */
int opsdb_open(const char *path, struct opsdb **out, char *err, size_t errlen);
void opsdb_close(struct opsdb *db);

/* Groups several writes into one transaction (writes outside one get their own). */
int opsdb_begin(struct opsdb *db);
int opsdb_commit(struct opsdb *db);
void opsdb_rollback(struct opsdb *db);

/* -EEXIST if the name is taken. */
int opsdb_domain_add(struct opsdb *db, const struct ops_domain *d);
/* -ENOENT, or -EBUSY while partitions are in it. */
int opsdb_domain_del(struct opsdb *db, const char *name);
int opsdb_domain_get(struct opsdb *db, const char *name, struct ops_domain *out);
/* Every domain by name; *out is malloc'ed (free it). */
int opsdb_domain_list(struct opsdb *db, struct ops_domain **out, size_t *n);

/* -EEXIST if the name is taken, -ENOENT if its domain does not exist. */
int opsdb_part_add(struct opsdb *db, const struct ops_part *p);
/* Also removes the schedules that name it. -ENOENT. */
int opsdb_part_del(struct opsdb *db, const char *name);
/* *out's strings are malloc'ed: ops_part_clear() it. */
int opsdb_part_get(struct opsdb *db, const char *name, struct ops_part *out);
int opsdb_part_list(struct opsdb *db, struct ops_part **out, size_t *n);
void ops_part_clear(struct ops_part *p);
void ops_parts_free(struct ops_part *p, size_t n);

/* Replaces name's stored definition (JSON text): a change made while it was defined, such as
 * a disk's limit. -ENOENT when no such partition is stored. */
int opsdb_part_set_definition(struct opsdb *db, const char *name, const char *definition);
/* Replaces name's stored definition and the share read from it, together: an operator's new
 * CPU share. -ENOENT when no such partition is stored. */
int opsdb_part_set_share(struct opsdb *db, const char *name, const char *definition,
                         uint32_t cpu_milli);
/* Records the host p is placed on ("" = none). -ENOENT for an unknown partition or host. */
int opsdb_part_set_host(struct opsdb *db, const char *name, const char *host);

/* -EEXIST if the name or the address is taken. */
int opsdb_host_add(struct opsdb *db, const struct ops_host *h);
/* -ENOENT, or -EBUSY while partitions are placed on it. */
int opsdb_host_del(struct opsdb *db, const char *name);
int opsdb_host_get(struct opsdb *db, const char *name, struct ops_host *out);
/* Every host by name; *out is malloc'ed (free it). */
int opsdb_host_list(struct opsdb *db, struct ops_host **out, size_t *n);

/* Sets s->id. -ENOENT if the target does not exist. */
int opsdb_sched_add(struct opsdb *db, struct ops_sched *s);
int opsdb_sched_del(struct opsdb *db, int64_t id);
int opsdb_sched_list(struct opsdb *db, struct ops_sched **out, size_t *n);

#endif
