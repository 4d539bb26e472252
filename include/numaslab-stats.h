/*
 * numaslab-stats.h - the layout of the statistics segment that a process
 * using numaslab publishes, and that numaslab-stat(1) reads.
 *
 * A process publishes in the POSIX shared-memory object "/numaslab.<pid>"
 * (the file /dev/shm/numaslab.<pid>, mode 0600), made when the library
 * initialises unless NUMASLAB_STATS=0, refreshed every
 * NUMASLAB_STATS_INTERVAL milliseconds and by numaslab_stats_publish(),
 * and removed at normal exit and by numaslab_fini().  A process killed by
 * a signal leaves its segment behind: a reader recognises it as stale
 * (see "Staleness" below) and `numaslab-stat --gc` removes it.
 *
 * Layout: a header, then node_cap node records of node_rec_size bytes at
 * node_off, then cache_cap cache records of cache_rec_size bytes at
 * cache_off.  The first node_count / cache_count records are in use.  All
 * integers are in the host's byte order (the segment never leaves the
 * machine); a segment of the other byte order fails the magic test.
 *
 * Versions.  version changes only when the layout changes incompatibly; a
 * reader refuses a version above its own (numaslab-stat exits with 6).
 * Compatible growth appends fields to the header or to a record and
 * raises header_size / node_rec_size / cache_rec_size: a reader uses the
 * fields it knows (the first sizeof(struct ...) bytes of each) and steps
 * by the size the segment gives, so an older reader keeps working.
 *
 * Reading (a sequence lock; the writer side is lib/export.c):
 *   1. s1 = seq with acquire ordering; odd: an update is under way, retry.
 *   2. copy the header, then the records in use, into private memory;
 *      validate every size, offset and count against the segment's size
 *      before using it to copy (a torn copy may hold anything).
 *   3. an acquire fence, then s2 = seq; s1 != s2: retry.
 * Retry a bounded number of times.  The writer never shrinks the
 * segment, but a reader of an arbitrary file should expect SIGBUS from a
 * mapping that another process truncates.
 *
 * Validation a reader must do before trusting the copy:
 *   magic == NUMASLAB_STATS_MAGIC; version <= NUMASLAB_STATS_VERSION
 *   (greater: a newer layout; smaller than 1: garbage);
 *   sizeof(header) <= header_size <= total_size == the object's size;
 *   node_rec_size >= sizeof(struct numaslab_stats_node_rec), likewise for
 *   caches; header_size <= node_off, node_off + node_cap * node_rec_size
 *   <= total_size (in 64-bit arithmetic), likewise for caches;
 *   node_count <= node_cap, cache_count <= cache_cap; names are not
 *   necessarily NUL-terminated after a torn or corrupt write.
 *
 * Staleness.  The segment of a process that is gone (or a zombie), whose
 * pid now belongs to another process (start_time differs from field 22 of
 * /proc/<pid>/stat), or that has executed another program since (exe_dev
 * and exe_ino differ from stat("/proc/<pid>/exe")) is stale.
 *
 * How old a reading is: update_ns is CLOCK_MONOTONIC at the last update;
 * figures are at most interval_ms old while the process runs.  Objects
 * held in threads' array caches count as in use.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef NUMASLAB_STATS_H
#define NUMASLAB_STATS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NUMASLAB_STATS_MAGIC   UINT64_C(0x54415453424c534e) /* "NSLBSTAT" on little-endian */
#define NUMASLAB_STATS_VERSION 1u

/* shm_open(3) name and file of the segment of process PID. */
#define NUMASLAB_STATS_SHM_FMT "/numaslab.%ld"
#define NUMASLAB_STATS_DIR     "/dev/shm"
#define NUMASLAB_STATS_PREFIX  "numaslab."

/*
 * The header.  Fields above update_ns are written once, before magic,
 * when the segment is made; update_ns and below change with every update,
 * under seq.
 */
struct numaslab_stats_header {
    uint64_t magic;            /* NUMASLAB_STATS_MAGIC, stored last at creation */
    uint32_t version;          /* NUMASLAB_STATS_VERSION */
    uint32_t header_size;      /* bytes of this header as written */
    uint64_t total_size;       /* bytes of the segment */
    uint64_t seq;              /* sequence lock: odd while an update is under way */
    int32_t pid;               /* the publishing process */
    uint32_t interval_ms;      /* refresh period */
    uint64_t start_time;       /* its start, clock ticks after boot (/proc/PID/stat field 22) */
    uint64_t exe_dev, exe_ino; /* stat(/proc/PID/exe) at creation; 0 when unknown */
    char comm[16];             /* its command name at creation, NUL-terminated */
    uint32_t lib_version;      /* numaslab's version: major << 16 | minor << 8 | patch */
    int32_t max_node;          /* highest node id present on the machine */
    uint32_t nactive;          /* active nodes */
    uint32_t node_off, node_rec_size, node_cap;
    uint32_t cache_off, cache_rec_size, cache_cap;
    uint32_t reserved0; /* 0 */
    /* changed by every update */
    uint64_t update_ns;   /* CLOCK_MONOTONIC at the last update */
    uint64_t updates;     /* updates so far, the first included */
    uint32_t node_count;  /* node records in use */
    uint32_t cache_count; /* cache records in use */
};

/* numaslab_stats_node_rec.flags */
#define NUMASLAB_STATS_NODE_ACTIVE  0x1u /* the node is active (numaslab(7)) */
#define NUMASLAB_STATS_NODE_PRESENT 0x2u /* the machine has the node (id <= max_node) */

/*
 * One node.  Records come in node id order: every id from 0 to max_node,
 * then ids above max_node that requests named (absent nodes).
 *   reserve_bytes == reserve_cur * reserve_elem_bytes
 *   reserve_min_bytes == reserve_min * reserve_elem_bytes
 */
struct numaslab_stats_node_rec {
    int32_t node;            /* OS node id */
    uint32_t flags;          /* NUMASLAB_STATS_NODE_* */
    int32_t reserve_cur;     /* elements the node's reserve holds now */
    int32_t reserve_min;     /* elements it keeps when full */
    int32_t reserve_waiters; /* threads blocked waiting for it */
    uint32_t reserved0;      /* 0 */
    uint64_t reserve_elem_bytes;
    uint64_t reserve_bytes; /* held now */
    uint64_t reserve_min_bytes;
    uint64_t reserve_used;      /* allocations the reserve served */
    uint64_t reserve_empty;     /* times it was found empty */
    uint64_t reserve_out;       /* elements out of it now */
    uint64_t bytes_mapped;      /* slabs, whole-page objects and reserve on the node */
    uint64_t large_objects;     /* whole-page objects live on the node */
    uint64_t fallback_out;      /* exhausted: asked for this node, served by another */
    uint64_t fallback_in;       /* exhausted: asked for another node, served here */
    uint64_t inactive_requests; /* inactive: requests naming this node while inactive */
    uint64_t inactive_served;   /* inactive: requests naming an inactive node, served here */
    uint64_t objects_inuse;     /* all caches on the node, reserve slabs' included */
    uint64_t objects_total;     /* their capacity */
};

/* numaslab_stats_cache_rec.flags */
#define NUMASLAB_STATS_CACHE_SIZECLASS 0x1u /* one of the numaslab-<size> caches */

/*
 * One (cache, active node), caches in creation order, nodes in id order.
 *   objects_inuse + objects_reserve <= objects_total
 */
struct numaslab_stats_cache_rec {
    char name[32]; /* NUL-terminated */
    int32_t node;
    uint32_t flags;       /* NUMASLAB_STATS_CACHE_* */
    uint32_t object_size; /* bytes asked for */
    uint32_t objects_per_slab;
    uint64_t slab_bytes;
    uint64_t objects_inuse; /* of ordinary slabs: handed out, or in threads' array caches */
    uint64_t objects_total; /* capacity of the node's slabs, reserve slabs included */
    uint64_t slabs_full, slabs_partial, slabs_empty;
    uint64_t slabs_reserve;   /* slabs grown from a reserve pool */
    uint64_t objects_reserve; /* objects of those slabs handed out */
};

/* The layout of version 1; compatible growth keeps these sizes as minimums. */
#ifdef __cplusplus
#define NUMASLAB_STATS_ASSERT_ static_assert
#else
#define NUMASLAB_STATS_ASSERT_ _Static_assert
#endif
NUMASLAB_STATS_ASSERT_(sizeof(struct numaslab_stats_header) == 144, "numaslab-stats.h: header");
NUMASLAB_STATS_ASSERT_(sizeof(struct numaslab_stats_node_rec) == 136, "numaslab-stats.h: node");
NUMASLAB_STATS_ASSERT_(sizeof(struct numaslab_stats_cache_rec) == 112, "numaslab-stats.h: cache");
#undef NUMASLAB_STATS_ASSERT_

#ifdef __cplusplus
}
#endif
#endif /* NUMASLAB_STATS_H */
