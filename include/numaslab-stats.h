/*
 * numaslab-stats.h - the layout of the statistics segment that a process
 * using numaslab publishes, and that numaslab-stat(1) reads.
 *
 * A process publishes in the POSIX shared-memory object "/numaslab.<pid>"
 * (the file /dev/shm/numaslab.<pid>, mode 0600), made when the library
 * initialises unless NUMASLAB_STATS=0, written by the library's slow paths
 * as they change the figures (a live segment: interval_ms 0; earlier
 * versions refreshed it every interval_ms from a thread), and removed at
 * normal exit and by numaslab_fini().  A process killed by
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
 * fields it knows that the size the segment gives covers, takes the others
 * as absent, and steps by the size the segment gives, so that an older
 * reader keeps working and a newer one still reads an older segment.
 * The sizes of the first version-1 layout are the minimum
 * (NUMASLAB_STATS_*_SIZE_MIN).  Since then the node records gained the
 * running-short fields (numaslab(7), MEMORY EXHAUSTION), present when
 * node_rec_size >= NUMASLAB_STATS_NODE_REC_SIZE_MEM, then the page layer's
 * (numaslab(7), LARGE OBJECTS AND THE PAGE CACHE), present when
 * node_rec_size >= NUMASLAB_STATS_NODE_REC_SIZE_PAGES, and the header the
 * memory cgroup's, present when header_size >=
 * NUMASLAB_STATS_HEADER_SIZE_CGROUP.
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
 *   NUMASLAB_STATS_HEADER_SIZE_MIN <= header_size <= total_size == the
 *   object's size; node_rec_size >= NUMASLAB_STATS_NODE_REC_SIZE_MIN,
 *   likewise for caches; header_size <= node_off, node_off + node_cap *
 *   node_rec_size <= total_size (in 64-bit arithmetic), likewise for caches;
 *   node_count <= node_cap, cache_count <= cache_cap; names are not
 *   necessarily NUL-terminated after a torn or corrupt write.
 *
 * Staleness.  The segment of a process that is gone (or a zombie), whose
 * pid now belongs to another process (start_time differs from field 22 of
 * /proc/<pid>/stat), or that has executed another program since (exe_dev
 * and exe_ino differ from stat("/proc/<pid>/exe")) is stale.
 *
 * How old a reading is: update_ns is CLOCK_MONOTONIC at the last write.
 * A live segment (interval_ms 0) holds the library's counters as they are:
 * its sequence count stays even, so a reader's copy is accepted at once;
 * each field is whole, and two fields may be a few nanoseconds apart.  Its
 * cache records sit at cache id * nactive + node index, cache_count is
 * cache_cap, and an id no cache has is all zero (a reader skips it).  With
 * interval_ms > 0 (earlier versions), figures are at most interval_ms old.
 * Threads count their own slabs on their slow paths and when they flush
 * (numaslab(7), "Thread-owned slabs").
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef NUMASLAB_STATS_H
#define NUMASLAB_STATS_H

#include <stddef.h>
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
    uint32_t interval_ms;      /* 0: live; else the refresh period of earlier versions */
    uint64_t start_time;       /* its start, clock ticks after boot (/proc/PID/stat field 22) */
    uint64_t exe_dev, exe_ino; /* stat(/proc/PID/exe) at creation; 0 when unknown */
    char comm[16];             /* its command name at creation, NUL-terminated */
    uint32_t lib_version;      /* numaslab's version: major << 16 | minor << 8 | patch */
    int32_t max_node;          /* highest node id present on the machine */
    uint32_t nactive;          /* active nodes */
    uint32_t node_off, node_rec_size, node_cap;
    uint32_t cache_off, cache_rec_size, cache_cap;
    uint32_t machine; /* NUMASLAB_STATS_MACHINE_* (0 in versions before it) */
    /* changed by every update */
    uint64_t update_ns;   /* CLOCK_MONOTONIC at the last update */
    uint64_t updates;     /* updates so far, the first included */
    uint32_t node_count;  /* node records in use */
    uint32_t cache_count; /* cache records in use */
    /*
     * The process's memory cgroup as the library last read it (see
     * MEMORY EXHAUSTION in numaslab(7)); present when header_size >=
     * NUMASLAB_STATS_HEADER_SIZE_CGROUP.  Changed by every update, like
     * the fields above.
     */
    uint32_t cgroup_state;          /* NUMASLAB_STATS_CGROUP_* */
    uint32_t cgroup_short;          /* 1: short at the library's last decision */
    uint64_t cgroup_limit;          /* tightest limit, ancestors included; UINT64_MAX: none */
    uint64_t cgroup_usage;          /* bytes charged where that limit is set */
    uint64_t cgroup_margin;         /* bytes kept below the limit */
    uint64_t cgroup_avail;          /* bytes that could still be charged; UINT64_MAX: no limit */
    uint64_t cgroup_short_since_ns; /* CLOCK_MONOTONIC when it went short; 0: not short */
    uint64_t cgroup_refused;        /* mappings refused because the cgroup was short */
    uint64_t cgroup_episodes;       /* times it went short */
    uint64_t cgroup_trims;          /* times cached memory was given back for it */
};

/* numaslab_stats_header.cgroup_state (the values of NUMASLAB_CGROUP_*). */
#define NUMASLAB_STATS_CGROUP_NONE       0u /* no memory cgroup found: no limit */
#define NUMASLAB_STATS_CGROUP_V1         1u /* cgroup v1 memory controller */
#define NUMASLAB_STATS_CGROUP_V2         2u /* cgroup v2 */
#define NUMASLAB_STATS_CGROUP_UNREADABLE 3u /* its files could not be read: taken as no limit */

/* numaslab_stats_header.machine */
#define NUMASLAB_STATS_MACHINE_THIS 0 /* this machine's topology */
#define NUMASLAB_STATS_MACHINE_SIMULATED                                                           \
    1 /* an hwloc XML file's (numaslab(7), SIMULATED                                               \
         MACHINES): nodes are the file's, nothing bound */

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
    /*
     * Running short (numaslab(7), MEMORY EXHAUSTION); present when
     * node_rec_size >= NUMASLAB_STATS_NODE_REC_SIZE_MEM.  All 0 for an
     * inactive node.  Each field means what the field of the same name
     * of struct numaslab_node_stats (numaslab.h) means.
     */
    uint32_t mem_known, mem_short;
    uint64_t mem_avail, low_watermark, short_since_ns, short_refused, short_episodes;
    /*
     * The page layer (numaslab(7), LARGE OBJECTS AND THE PAGE CACHE);
     * present when node_rec_size >= NUMASLAB_STATS_NODE_REC_SIZE_PAGES.
     * All 0 for an inactive node.
     *   huge_bytes <= large_bytes; all three are counted in bytes_mapped
     */
    uint64_t page_cached; /* bytes of freed runs kept bound and faulted in for reuse */
    uint64_t large_bytes; /* bytes of whole-page objects live on the node */
    uint64_t huge_bytes;  /* of those, in 2 MiB-aligned extents offered to huge pages */
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
    uint64_t objects_inuse; /* of ordinary slabs: handed out, as their owners last counted */
    uint64_t objects_total; /* capacity of the node's slabs, reserve slabs included */
    uint64_t slabs_full, slabs_partial, slabs_empty;
    uint64_t slabs_reserve;   /* slabs grown from a reserve pool */
    uint64_t objects_reserve; /* objects of those slabs handed out */
};

/*
 * Sizes.  The first layout of version 1 had the header up to cache_count
 * and the node records up to objects_total: those sizes stay the minimum
 * a reader accepts.  A group of appended fields is present when the size
 * the segment gives covers all of it.
 */
#define NUMASLAB_STATS_HEADER_SIZE_MIN     144u /* up to cache_count */
#define NUMASLAB_STATS_NODE_REC_SIZE_MIN   136u /* up to objects_total */
#define NUMASLAB_STATS_CACHE_REC_SIZE_MIN  112u /* up to objects_reserve */
#define NUMASLAB_STATS_HEADER_SIZE_CGROUP  216u /* up to cgroup_trims */
#define NUMASLAB_STATS_NODE_REC_SIZE_MEM   184u /* up to short_episodes */
#define NUMASLAB_STATS_NODE_REC_SIZE_PAGES 208u /* up to huge_bytes */

#ifdef __cplusplus
#define NUMASLAB_STATS_ASSERT_ static_assert
#else
#define NUMASLAB_STATS_ASSERT_ _Static_assert
#endif
/* the minimums: the first layout of version 1 */
NUMASLAB_STATS_ASSERT_(offsetof(struct numaslab_stats_header, cache_count) + sizeof(uint32_t) ==
                           NUMASLAB_STATS_HEADER_SIZE_MIN,
                       "numaslab-stats.h: header (minimum)");
NUMASLAB_STATS_ASSERT_(offsetof(struct numaslab_stats_node_rec, objects_total) + sizeof(uint64_t) ==
                           NUMASLAB_STATS_NODE_REC_SIZE_MIN,
                       "numaslab-stats.h: node (minimum)");
/* appended, never inserted */
NUMASLAB_STATS_ASSERT_(offsetof(struct numaslab_stats_header, cgroup_state) ==
                           NUMASLAB_STATS_HEADER_SIZE_MIN,
                       "numaslab-stats.h: header (cgroup fields)");
NUMASLAB_STATS_ASSERT_(offsetof(struct numaslab_stats_node_rec, mem_known) ==
                           NUMASLAB_STATS_NODE_REC_SIZE_MIN,
                       "numaslab-stats.h: node (running-short fields)");
NUMASLAB_STATS_ASSERT_(offsetof(struct numaslab_stats_node_rec, short_episodes) +
                               sizeof(uint64_t) ==
                           NUMASLAB_STATS_NODE_REC_SIZE_MEM,
                       "numaslab-stats.h: node (running-short fields' end)");
NUMASLAB_STATS_ASSERT_(offsetof(struct numaslab_stats_node_rec, page_cached) ==
                           NUMASLAB_STATS_NODE_REC_SIZE_MEM,
                       "numaslab-stats.h: node (page layer fields)");
NUMASLAB_STATS_ASSERT_(NUMASLAB_STATS_NODE_REC_SIZE_MEM == 184,
                       "numaslab-stats.h: node (running-short layout)");
NUMASLAB_STATS_ASSERT_(NUMASLAB_STATS_HEADER_SIZE_MIN == 144, "numaslab-stats.h: header (v1)");
NUMASLAB_STATS_ASSERT_(NUMASLAB_STATS_NODE_REC_SIZE_MIN == 136, "numaslab-stats.h: node (v1)");
/* the full sizes of this layout */
NUMASLAB_STATS_ASSERT_(sizeof(struct numaslab_stats_header) == NUMASLAB_STATS_HEADER_SIZE_CGROUP,
                       "numaslab-stats.h: header");
NUMASLAB_STATS_ASSERT_(sizeof(struct numaslab_stats_header) == 216, "numaslab-stats.h: header");
NUMASLAB_STATS_ASSERT_(sizeof(struct numaslab_stats_node_rec) == NUMASLAB_STATS_NODE_REC_SIZE_PAGES,
                       "numaslab-stats.h: node");
NUMASLAB_STATS_ASSERT_(sizeof(struct numaslab_stats_node_rec) == 208, "numaslab-stats.h: node");
NUMASLAB_STATS_ASSERT_(sizeof(struct numaslab_stats_cache_rec) == NUMASLAB_STATS_CACHE_REC_SIZE_MIN,
                       "numaslab-stats.h: cache");
NUMASLAB_STATS_ASSERT_(sizeof(struct numaslab_stats_cache_rec) == 112, "numaslab-stats.h: cache");
#undef NUMASLAB_STATS_ASSERT_

#ifdef __cplusplus
}
#endif
#endif /* NUMASLAB_STATS_H */
