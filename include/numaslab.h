/*
 * numaslab.h - the public interface of numaslab, a NUMA-aware slab allocator.
 *
 * Every active NUMA node owns its own slab lists for every cache; every
 * thread keeps small per-(cache, node) arrays of free objects so that the
 * common allocation and free take no lock.  See numaslab(3) for the calls
 * and numaslab(7) for the rules (fallback, environment variables).
 *
 * Conventions (as malloc and the kernel):
 *   - allocation calls return NULL and set errno;
 *   - other calls return 0 (or a count) on success and a negative errno;
 *   - node ids are the operating system's node numbers, as printed by
 *     `numactl --hardware`; -1 (NUMASLAB_NODE_LOCAL) means the local node.
 *
 * Every call is thread-safe unless its comment says otherwise.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef NUMASLAB_H
#define NUMASLAB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(NUMASLAB_BUILDING) && defined(__GNUC__)
#define NUMASLAB_API __attribute__((visibility("default")))
#else
#define NUMASLAB_API
#endif

#define NUMASLAB_VERSION_MAJOR 0
#define NUMASLAB_VERSION_MINOR 1
#define NUMASLAB_VERSION_PATCH 0

/* ------------------------------------------------------------------------
 * Flags
 * ---------------------------------------------------------------------- */
#define NUMASLAB_ZERO     0x01u /* return a zeroed object */
#define NUMASLAB_THISNODE 0x02u /* never fall back to another node */
#define NUMASLAB_CRITICAL 0x04u /* may use the node's reserve */
#define NUMASLAB_WAIT     0x08u /* mempool allocation may block */
#define NUMASLAB_NOWARN   0x10u /* no inactive-node message (still counted) */

#define NUMASLAB_NODE_LOCAL (-1)

typedef struct numaslab_cache numaslab_cache_t;
typedef struct numaslab_mempool numaslab_mempool_t;

/* ------------------------------------------------------------------------
 * Initialisation
 * ---------------------------------------------------------------------- */

/*
 * Options.  A zero field means "the default" (or the NUMASLAB_* environment
 * variable of the same meaning when it is set; an explicit field wins).
 */
struct numaslab_config {
    const char *nodes;    /* restrict to these nodes, "0,2-3" (NUMASLAB_NODES) */
    const char *reserve;  /* reserve per node, "4M" or "0:8M,3:2M" (NUMASLAB_RESERVE) */
    size_t node_limit;    /* ordinary bytes each node may map (the reserve comes on top),
                             0: no limit (NUMASLAB_NODE_LIMIT) */
    unsigned retain;      /* empty slabs kept per cache and node (NUMASLAB_RETAIN) */
    unsigned tcache;      /* objects per thread array cache (NUMASLAB_TCACHE) */
    size_t low_watermark; /* bytes each node keeps free of ordinary allocations; 0: the
                             default, NUMASLAB_KEEP_NONE: none (NUMASLAB_LOW_WATERMARK) */
    size_t cgroup_margin; /* bytes kept below the memory cgroup's limit; 0: the default,
                             NUMASLAB_KEEP_NONE: none (NUMASLAB_CGROUP_MARGIN) */
};

/* low_watermark / cgroup_margin: keep nothing back (allocate up to the
 * kernel's own watermark, or up to the cgroup limit). */
#define NUMASLAB_KEEP_NONE ((size_t)-1)

/*
 * Initialise the library.  Optional: the first allocation initialises it
 * with the defaults and the environment.  Returns 0, -EINVAL for a bad
 * option (a message names it), -EALREADY if the library is already
 * initialised (the options are then not applied), -ENOMEM.
 */
NUMASLAB_API int numaslab_init(const struct numaslab_config *cfg);

/*
 * Release every mapping the library made.  Every object, cache and pool
 * becomes invalid.  Not thread-safe: call it when no other thread uses the
 * library.  The library may be initialised again afterwards.
 */
NUMASLAB_API void numaslab_fini(void);

/*
 * Return the calling thread's cached free objects to their nodes' slab
 * lists (a thread does this by itself when it exits).  Never blocks for
 * long; takes per-node locks.
 */
NUMASLAB_API void numaslab_thread_flush(void);

/* ------------------------------------------------------------------------
 * Topology (rules of numaslab(7))
 * ---------------------------------------------------------------------- */
NUMASLAB_API int numaslab_local_node(void);         /* this thread's local node */
NUMASLAB_API int numaslab_node_is_active(int node); /* 1, 0, or -EINVAL */
NUMASLAB_API int numaslab_max_node(void);           /* highest node id present */

/* ------------------------------------------------------------------------
 * Size-class allocation
 * ---------------------------------------------------------------------- */

/*
 * Allocate size bytes on the local node (numaslab_alloc) or on node
 * (numaslab_alloc_node; -1 is the local node).  Objects up to
 * NUMASLAB_MAX_SMALL bytes come from the node's size-class caches, named
 * "numaslab-<class size>"; larger ones are whole pages bound to the node.
 * Size 0 returns a unique pointer that numaslab_free accepts.
 * Errors: EINVAL (node < -1 or >= numa_num_possible_nodes()), ENODEV
 * (inactive node with NUMASLAB_THISNODE), ENOMEM.
 */
#define NUMASLAB_MAX_SMALL 8192
NUMASLAB_API void *numaslab_alloc(size_t size, unsigned flags);
NUMASLAB_API void *numaslab_alloc_node(size_t size, unsigned flags, int node);

/* Free an object from any numaslab allocation call, on any thread.
 * NULL is ignored.  A pointer numaslab did not hand out is reported on
 * stderr and left alone. */
NUMASLAB_API void numaslab_free(void *ptr);

/* The node the object's memory is bound to, or -EINVAL for a pointer
 * numaslab did not hand out. */
NUMASLAB_API int numaslab_ptr_node(const void *ptr);

/* The usable size of an object, 0 for a pointer numaslab did not hand out. */
NUMASLAB_API size_t numaslab_usable_size(const void *ptr);

/*
 * Resize an object of numaslab_alloc, numaslab_alloc_node or
 * numaslab_alloc_aligned_node.  The object stays on its node: in place
 * when its memory still fits (large objects grow into the node's free
 * pages right after them), else moved to a new object of the same node
 * (large objects are remapped, not copied).  ptr NULL: numaslab_alloc.
 * size 0: ptr is freed and NULL returned.  NUMASLAB_ZERO zeroes the bytes
 * past the old usable size.  NULL with errno ENOMEM (ptr is untouched) or
 * EINVAL (ptr is not a live object of a size class or a large object; a
 * message names it).  The alignment of an aligned object is kept only
 * while it stays in place.
 */
NUMASLAB_API void *numaslab_realloc(void *ptr, size_t size, unsigned flags);

/*
 * size bytes at an address that is a multiple of align, on node as
 * numaslab_alloc_node places them; freed by numaslab_free.  align: a
 * power of two, else NULL with EINVAL; any size (0 gives a unique
 * object).  ENOMEM when size + align overflows, or memory is short.
 */
NUMASLAB_API void *numaslab_alloc_aligned_node(size_t size, size_t align, unsigned flags, int node);

/* ------------------------------------------------------------------------
 * Fixed-size caches
 * ---------------------------------------------------------------------- */

/*
 * Create a cache of objects of size bytes aligned to align (0: natural
 * alignment, otherwise a power of two up to the page size).  ctor, when
 * given, runs once on each object when its slab is made; objects are
 * expected back in their constructed state.  flags: 0, or
 * NUMASLAB_SLAB_ORDER(o) to make every slab 2^o pages (o <= 14; by default
 * a slab is the smallest power of two >= 64 KiB holding 4 objects).  The
 * name is copied (at most 31 characters are kept).  NULL with EINVAL or
 * ENOMEM.
 */
#define NUMASLAB_SLAB_ORDER(o) ((((unsigned)(o)&0x1fu) + 1u) << 8)
NUMASLAB_API numaslab_cache_t *numaslab_cache_create(const char *name, size_t size, size_t align,
                                                     unsigned flags, void (*ctor)(void *obj));
NUMASLAB_API void *numaslab_cache_alloc(numaslab_cache_t *c, unsigned flags);
NUMASLAB_API void *numaslab_cache_alloc_node(numaslab_cache_t *c, unsigned flags, int node);
NUMASLAB_API void numaslab_cache_free(numaslab_cache_t *c, void *obj);

/*
 * Destroy a cache.  Returns 0, -EBUSY while objects are live (the cache
 * stays usable), -EINVAL for NULL.  No other thread may use the cache
 * during the call.
 */
NUMASLAB_API int numaslab_cache_destroy(numaslab_cache_t *c);

NUMASLAB_API const char *numaslab_cache_name(const numaslab_cache_t *c);

/* ------------------------------------------------------------------------
 * Mempools and the per-node reserves (numaslab_mempool(3))
 *
 * A mempool keeps min_nr elements in reserve.  An allocation tries the
 * underlying allocator first and takes from the reserve only when that
 * fails; a free refills the reserve while it holds fewer than min_nr, and
 * gives the element to the underlying allocator otherwise.
 * ---------------------------------------------------------------------- */
typedef void *(*numaslab_pool_alloc_fn)(unsigned flags, int node, void *pool_data);
typedef void (*numaslab_pool_free_fn)(void *elem, void *pool_data);

/* NULL with EINVAL (min_nr < 0, no alloc_fn or free_fn, bad node) or ENOMEM
 * (the min_nr elements could not all be made; nothing is kept). */
NUMASLAB_API numaslab_mempool_t *numaslab_mempool_create(int min_nr,
                                                         numaslab_pool_alloc_fn alloc_fn,
                                                         numaslab_pool_free_fn free_fn,
                                                         void *pool_data);
NUMASLAB_API numaslab_mempool_t *numaslab_mempool_create_node(int min_nr,
                                                              numaslab_pool_alloc_fn alloc_fn,
                                                              numaslab_pool_free_fn free_fn,
                                                              void *pool_data, int node);
/* A pool of chunks of 2^order pages bound to node and faulted in. */
NUMASLAB_API numaslab_mempool_t *numaslab_page_pool_create(int node, unsigned order, int min_nr);

/* The underlying allocator first, then the reserve.  With NUMASLAB_WAIT it
 * blocks while both fail (retrying the underlying allocator every 100 ms)
 * and never returns NULL; without it, NULL with ENOMEM. */
NUMASLAB_API void *numaslab_mempool_alloc(numaslab_mempool_t *pool, unsigned flags);
/* From the reserve only, never blocking: NULL with ENOMEM when it is empty. */
NUMASLAB_API void *numaslab_mempool_alloc_preallocated(numaslab_mempool_t *pool);
/* n elements at once from the reserve, or none: 0, or -ENOMEM when fewer
 * than n are held, -EINVAL. */
NUMASLAB_API int numaslab_mempool_alloc_bulk(numaslab_mempool_t *pool, void **elems, int n);
NUMASLAB_API void numaslab_mempool_free(void *elem, numaslab_mempool_t *pool);
/* Shrinking releases the surplus at once; growing fills what it can now and
 * lets later frees complete it.  0, -EINVAL, or -ENOMEM (no room for the
 * element table). */
NUMASLAB_API int numaslab_mempool_resize(numaslab_mempool_t *pool, int new_min_nr);
/* 0, -EBUSY while elements are out or threads wait in it (the pool stays
 * usable), -EINVAL. */
NUMASLAB_API int numaslab_mempool_destroy(numaslab_mempool_t *pool);

struct numaslab_mempool_stats {
    int node;    /* the pool's node, -1 for none */
    int curr_nr; /* elements held in reserve */
    int min_nr;
    int waiters;       /* threads blocked in NUMASLAB_WAIT */
    long out;          /* elements handed out and not freed */
    size_t elem_bytes; /* page pools: bytes of an element, else 0 */
    uint64_t used;     /* allocations the reserve served */
    uint64_t empty;    /* times it was found empty */
};
NUMASLAB_API int numaslab_mempool_stats(numaslab_mempool_t *pool,
                                        struct numaslab_mempool_stats *st);

/* The node's own reserve page pool (its size: NUMASLAB_RESERVE), NULL with
 * EINVAL for a bad id or ENODEV for an inactive node. */
NUMASLAB_API numaslab_mempool_t *numaslab_node_reserve(int node);

/*
 * Allocation that may grow the cache from a reserve when ordinary page
 * allocation failed (rule 5 of FALLBACK, numaslab(7)): from pool, or from the node's own
 * reserve for NUMASLAB_CRITICAL and a NULL pool.  Objects of a slab grown
 * from a pool are handed only to such requests; when the slab empties, its
 * pages go back to that pool.  A pool whose elements are not pages of the
 * cache's slab size is not used.
 */
NUMASLAB_API void *numaslab_cache_alloc_mempool(numaslab_cache_t *c, unsigned flags,
                                                numaslab_mempool_t *pool);
NUMASLAB_API void *numaslab_cache_alloc_node_mempool(numaslab_cache_t *c, unsigned flags, int node,
                                                     numaslab_mempool_t *pool);
NUMASLAB_API void *numaslab_alloc_node_mempool(size_t size, unsigned flags, int node,
                                               numaslab_mempool_t *pool);

/*
 * Fault injection: make ordinary page allocation fail, as NUMASLAB_FAIL_PAGES
 * does ("after=N", "prob=P,seed=S", each with an optional ",node=K"; NULL or
 * "" turns it off).  Filling a reserve is not affected; a page pool's
 * underlying allocation is.  0 or -EINVAL.
 */
NUMASLAB_API int numaslab_fail_pages(const char *spec);

/* ------------------------------------------------------------------------
 * Statistics
 * ---------------------------------------------------------------------- */

struct numaslab_node_stats {
    int node;                   /* OS node id */
    int active;                 /* 1 when the node is active */
    uint64_t bytes_mapped;      /* all bytes mapped on the node: slabs, large objects, reserve,
                                   the page cache of free runs (NUMASLAB_RETAIN_BYTES) */
    uint64_t fallback_out;      /* requests for this node served by another node */
    uint64_t fallback_in;       /* requests for another node served here */
    uint64_t inactive_requests; /* requests naming this node while it is inactive */
    uint64_t large_allocs;      /* whole-page objects live on the node */
    /* the node's reserve page pool */
    int reserve_cur, reserve_min; /* elements */
    uint64_t reserve_bytes;       /* bytes held now */
    uint64_t reserve_used;        /* allocations it served */
    uint64_t reserve_empty;       /* times it was found empty */
    int reserve_waiters;
    uint64_t inactive_served; /* requests naming an inactive node, served here instead */
    /* running short (numaslab(7), MEMORY EXHAUSTION); all 0 for an inactive node */
    int mem_known;           /* 1: the library reads what the kernel can still give here */
    int mem_short;           /* 1: short at the library's last decision */
    uint64_t mem_avail;      /* bytes the kernel could still give at the last reading, less
                                what the library mapped here since */
    uint64_t low_watermark;  /* bytes kept free of ordinary allocations */
    uint64_t short_since_ns; /* CLOCK_MONOTONIC when it went short; 0: not short */
    uint64_t short_refused;  /* mappings refused because the node was short */
    uint64_t short_episodes; /* times it went short */
    /* the page layer (numaslab(7), LARGE OBJECTS AND THE PAGE CACHE) */
    uint64_t page_cached; /* bytes of freed runs kept bound and faulted in for reuse */
    uint64_t large_bytes; /* bytes of large objects in use (whole pages) */
    uint64_t huge_bytes;  /* of those, in 2 MiB-aligned extents offered to huge pages */
};

/* numaslab_process_stats.cgroup */
#define NUMASLAB_CGROUP_NONE       0 /* no memory cgroup found: no limit */
#define NUMASLAB_CGROUP_V1         1 /* cgroup v1 memory controller */
#define NUMASLAB_CGROUP_V2         2 /* cgroup v2 */
#define NUMASLAB_CGROUP_UNREADABLE 3 /* its files could not be read: taken as no limit */

/* The process's memory cgroup, as the library last read it. */
struct numaslab_process_stats {
    int cgroup;              /* NUMASLAB_CGROUP_* */
    int cgroup_short;        /* 1: short at the library's last decision */
    uint64_t cgroup_limit;   /* the tightest limit (memory.max, memory.high or
                                memory.limit_in_bytes, ancestors included); UINT64_MAX: none */
    uint64_t cgroup_usage;   /* bytes charged where that limit is set, at the last reading */
    uint64_t cgroup_margin;  /* bytes kept below the limit */
    uint64_t cgroup_avail;   /* bytes that could still be charged at the last reading, less what
                                the library mapped since; UINT64_MAX: no limit */
    uint64_t short_since_ns; /* CLOCK_MONOTONIC when it went short; 0: not short */
    uint64_t short_refused;  /* mappings refused because the cgroup was short */
    uint64_t short_episodes; /* times it went short */
    uint64_t trims;          /* times the page caches and empty slabs were given back for it */
};

struct numaslab_cache_stats {
    int node;
    uint64_t objects_inuse; /* handed out or held in thread caches */
    uint64_t objects_total; /* capacity of the node's slabs */
    uint64_t slabs_full, slabs_partial, slabs_empty;
    uint64_t slabs_reserve;   /* grown from a pool */
    uint64_t objects_reserve; /* objects of those slabs in use */
    uint64_t slab_bytes;      /* bytes of one slab */
};

/* Fill *st for node.  0, or -EINVAL for a bad node id.  Counters are
 * exact once every thread has flushed (numaslab_thread_flush). */
NUMASLAB_API int numaslab_stats_node(int node, struct numaslab_node_stats *st);
NUMASLAB_API int numaslab_stats_cache(numaslab_cache_t *c, int node,
                                      struct numaslab_cache_stats *st);
/* Fill *st for the process.  0, or -EINVAL for a NULL st.  Thread-safe;
 * reads no file (the figures are the library's last reading). */
NUMASLAB_API int numaslab_stats_process(struct numaslab_process_stats *st);
/* The size-class cache serving size bytes, NULL above NUMASLAB_MAX_SMALL. */
NUMASLAB_API numaslab_cache_t *numaslab_size_cache(size_t size);
/* Bytes mapped by the library, all nodes together. */
NUMASLAB_API uint64_t numaslab_bytes_mapped(void);

/*
 * Print the per-node and per-cache tables numaslab-stat(1) shows, for this
 * process, on f (NUMASLAB_STATS_PRINT=1 prints them on stderr at exit).
 * 0, -EINVAL for a NULL f, -ENOMEM, -EIO when f reports an error.  Takes
 * the library's locks briefly, one at a time; thread-safe.
 */
NUMASLAB_API int numaslab_stats_print(FILE *f);

/*
 * Write every record of the statistics segment /dev/shm/numaslab.<pid>
 * again now, making it if it does not exist yet (the library's slow paths
 * keep it live anyway: see numaslab(3)).  0, -ENOTSUP when
 * publishing is off (NUMASLAB_STATS=0), or the negative errno of the
 * failed shm_open, ftruncate or mmap.  Thread-safe; never blocks for long.
 */
NUMASLAB_API int numaslab_stats_publish(void);

#ifdef __cplusplus
}
#endif
#endif /* NUMASLAB_H */
