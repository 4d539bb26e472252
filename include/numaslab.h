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
    const char *nodes;      /* restrict to these nodes, "0,2-3" (NUMASLAB_NODES) */
    size_t node_limit;      /* bytes each node may map, 0: no limit (NUMASLAB_NODE_LIMIT) */
    unsigned retain;        /* empty slabs kept per cache and node (NUMASLAB_RETAIN) */
    unsigned tcache;        /* objects per thread array cache (NUMASLAB_TCACHE) */
};

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
NUMASLAB_API int numaslab_local_node(void);          /* this thread's local node */
NUMASLAB_API int numaslab_node_is_active(int node);  /* 1, 0, or -EINVAL */
NUMASLAB_API int numaslab_max_node(void);            /* highest node id present */

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

/* ------------------------------------------------------------------------
 * Fixed-size caches
 * ---------------------------------------------------------------------- */

/*
 * Create a cache of objects of size bytes aligned to align (0: natural
 * alignment, otherwise a power of two up to the page size).  ctor, when
 * given, runs once on each object when its slab is made; objects are
 * expected back in their constructed state.  flags: 0.  The name is
 * copied (at most 31 characters are kept).  NULL with EINVAL or ENOMEM.
 */
NUMASLAB_API numaslab_cache_t *numaslab_cache_create(const char *name, size_t size,
                                                     size_t align, unsigned flags,
                                                     void (*ctor)(void *obj));
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
 * Statistics
 * ---------------------------------------------------------------------- */

struct numaslab_node_stats {
    int node;                 /* OS node id */
    int active;               /* 1 when the node is active */
    uint64_t bytes_mapped;    /* slab and large-object bytes mapped on the node */
    uint64_t fallback_out;    /* requests for this node served by another node */
    uint64_t fallback_in;     /* requests for another node served here */
    uint64_t inactive_requests; /* requests naming this node while it is inactive */
    uint64_t large_allocs;    /* whole-page objects live on the node */
};

struct numaslab_cache_stats {
    int node;
    uint64_t objects_inuse;   /* handed out or held in thread caches */
    uint64_t objects_total;   /* capacity of the node's slabs */
    uint64_t slabs_full, slabs_partial, slabs_empty;
    uint64_t slab_bytes;      /* bytes of one slab */
};

/* Fill *st for node.  0, or -EINVAL for a bad node id.  Counters are
 * exact once every thread has flushed (numaslab_thread_flush). */
NUMASLAB_API int numaslab_stats_node(int node, struct numaslab_node_stats *st);
NUMASLAB_API int numaslab_stats_cache(numaslab_cache_t *c, int node,
                                      struct numaslab_cache_stats *st);
/* The size-class cache serving size bytes, NULL above NUMASLAB_MAX_SMALL. */
NUMASLAB_API numaslab_cache_t *numaslab_size_cache(size_t size);
/* Bytes mapped by the library, all nodes together. */
NUMASLAB_API uint64_t numaslab_bytes_mapped(void);

#ifdef __cplusplus
}
#endif
#endif /* NUMASLAB_H */
