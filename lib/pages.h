/*
 * lib/pages.h - where node memory comes from, under the slabs and the
 * large objects: the page map (lib/pagemap.c: address -> header), the
 * page layer (lib/pages.c: each node's cache of free runs; lib/pagesys.c:
 * charging, mapping and unmapping against the system), the headroom
 * readings that decide whether a node or the memory cgroup is short
 * (lib/headroom.c), and fault injection (lib/fault.c).  Nothing above this
 * layer maps or unmaps node memory.
 */
#ifndef NSLAB_PAGES_H
#define NSLAB_PAGES_H

#include "lib/base.h"

/*
 * lib/pagemap.c: address -> header, O(1), lock-free reads.
 * Two levels over 47-bit addresses at 4 KiB granularity: a static root of
 * 2^17 leaf pointers (one per GiB), leaves of 2^18 entries made on demand
 * and never freed while the process lives.
 */
#define NSLAB_PM_SHIFT     12
#define NSLAB_PM_LEAF_BITS 18
#define NSLAB_PM_ROOT_BITS 17
extern NSLAB_HIDDEN void **nslab_pagemap_root[1u << NSLAB_PM_ROOT_BITS];

static inline void *nslab__pagemap_get(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    /* Bits above 47 are masked off: user-space pointers never have them,
     * and the pagemap never maps an address that has them. */
    uintptr_t r = (a >> (NSLAB_PM_SHIFT + NSLAB_PM_LEAF_BITS)) & ((1u << NSLAB_PM_ROOT_BITS) - 1);
    /* Pairs with the release store that publishes a new leaf. */
    void **leaf = nslab_load_acquire(&nslab_pagemap_root[r]);
    if (unlikely(!leaf))
        return NULL;
    /* A racy read is safe: an entry changes only while its pages are not
     * handed out to anybody who could pass them here legitimately. */
    return nslab_load_relaxed(&leaf[(a >> NSLAB_PM_SHIFT) & ((1u << NSLAB_PM_LEAF_BITS) - 1)]);
}
int nslab__pagemap_set(void *start, size_t bytes, void *hdr); /* 0 or -ENOMEM */
void nslab__pagemap_clear(void *start, size_t bytes);
void nslab__pagemap_lock(void); /* fork handlers */
void nslab__pagemap_unlock(void);

/*
 * lib/pages.c and lib/pagesys.c: the page layer.  Runs of whole pages
 * bound to one active node, recycled through a bounded cache per node;
 * the only lib/ code that maps and unmaps node memory.
 */
#define NSLAB_HUGE_PAGE  ((size_t)2 << 20)
#define NSLAB_PG_NOFAULT 0x1u  /* get: fault injection does not apply (a reserve fill) */
#define NSLAB_PG_NOLIMIT 0x2u  /* get: past the node limit and low watermark (a reserve fill) */
#define NSLAB_PG_HUGE    0x4u  /* get: 2 MiB-aligned, MADV_HUGEPAGE; put: it was */
#define NSLAB_PG_UNMAP   0x8u  /* put: back to the system, not into the cache */
#define NSLAB_PG_SLAB    0x10u /* get: an ordinary slab of NSLAB_MIN_SLAB bytes: from the arena */

/*
 * The slab arena (lib/pages.c): one reservation of address space, a span
 * of it per active node, bound to that node, from which every ordinary
 * slab of NSLAB_MIN_SLAB bytes comes (nslab__pages_get with NSLAB_PG_SLAB)
 * at an NSLAB_MIN_SLAB-aligned address while the span has room.  Nothing
 * else is ever placed there.  So the header of the slab that holds a
 * pointer inside it is the pointer rounded down: no page map walk on the
 * fast free paths.  A chunk that is no slab now reads as no slab there:
 * a cached one starts with its free run's header (type NSLAB_T_FREE), one
 * never used or given back to the system reads as zeros (type 0, no
 * owner).  bytes is 0 when there is no arena (the reservation failed):
 * every slab is then found through the page map, as larger slabs always
 * are.  Set at initialisation, before any slab is made.
 */
#define NSLAB_ARENA_AUTO ((size_t)-1) /* NUMASLAB_ARENA unset */
/*
 * The record of one arena chunk: what a free of an object there needs
 * from the slab's header, copied out of it.  The records lie in chunk
 * order in a table of their own, so the records of a thread's slabs
 * share a few cache lines and pages where the headers, 64 KiB apart, fall
 * into the same cache set and the same TLB set.  owner is non-NULL only
 * while the chunk is an ordinary slab with that owner; the other fields
 * are the header's from the moment the owner took it (lib/slab.c writes
 * the record wherever it writes the header's owner).  So a thread that
 * finds itself in owner finds its own slab's cache, objects and free
 * list in the same line, and needs no look at the header.
 */
struct nslab_chunk {
    struct nslab_tstate *owner;      /* atomic: s->owner, or NULL */
    struct numaslab_cache *cache;    /* s->cache */
    char *objs;                      /* s->objs */
    struct nslab_thread_node *oslot; /* s->oslot */
};
struct nslab_arena {
    uintptr_t base;             /* first byte */
    uintptr_t bytes;            /* nactive spans; 0: no arena */
    struct nslab_chunk *chunks; /* [bytes / NSLAB_MIN_SLAB], a record per chunk */
};
extern NSLAB_HIDDEN struct nslab_arena nslab_arena;

/* Is p inside the arena?  (Never, when there is none: bytes is 0.) */
static inline int nslab__in_arena(const void *p)
{
    return (uintptr_t)p - nslab_arena.base < nslab_arena.bytes;
}
/* The start of the arena's chunk that holds p (nslab__in_arena(p)). */
static inline void *nslab__arena_chunk(const void *p)
{
    return (void *)((uintptr_t)p & ~(uintptr_t)(NSLAB_MIN_SLAB - 1));
}

/* The record of the arena's chunk that holds p (nslab__in_arena(p)). */
static inline struct nslab_chunk *nslab__arena_rec(const void *p)
{
    return &nslab_arena.chunks[((uintptr_t)p - nslab_arena.base) / NSLAB_MIN_SLAB];
}

/* The header of whatever holds p: the arena's chunk, or the page map's
 * entry (NULL when it has none). */
static inline void *nslab__hdr_of(const void *p)
{
    if (likely(nslab__in_arena(p)))
        return nslab__arena_chunk(p);
    return nslab__pagemap_get(p);
}

/* lib/pages.c: the cache of free runs, in front of the system */
/* bytes (a page multiple) bound to node nidx, faulted in; NULL/ENOMEM when
 * the node is exhausted (its limit, fault injection, the node or the
 * memory cgroup short, the kernel refusing).  *zeroed (may be NULL): 1
 * when the memory is fresh from the kernel, hence zero.  The caller enters
 * the pages in the page map.  Any lock but nslab_g.lock must be free. */
void *nslab__pages_get(int nidx, size_t bytes, unsigned flags, int *zeroed);
/* The same at an align-aligned address (align: 0 or a power of two). */
void *nslab__pages_get_aligned(int nidx, size_t bytes, size_t align, unsigned flags, int *zeroed);
/* Give back what nslab__pages_get returned (same nidx and bytes); clears
 * its page map entries. */
void nslab__pages_put(int nidx, void *p, size_t bytes, unsigned flags);
/* A handed-out run made longer in place, from the free run after it: 1,
 * or 0.  The page map entries are the caller's. */
int nslab__pages_grow(int nidx, void *p, size_t bytes, size_t more);
void nslab__pages_drain(int nidx);            /* unmaps every free run of node nidx */
uint64_t nslab__pages_cached(int nidx);       /* bytes of node nidx's free runs */
void nslab__pages_set_retain(uint64_t bytes); /* every node's limit (tests/test-large.c) */
/* Lease bytes of node nidx's retention to a thread's cache: bytes, or 0
 * when the leases would pass half the limit.  Unlease gives them back. */
uint64_t nslab__pages_lease(int nidx, uint64_t bytes);
void nslab__pages_unlease(int nidx, uint64_t bytes);
int nslab__pages_init(void);  /* nslab_g.lock held */
void nslab__pages_fini(void); /* nslab_g.lock held: unmaps every free run */
void nslab__pages_fork_lock(void);
void nslab__pages_fork_unlock(void);
/* The fork child: the leases are what kept[] (per active node; NULL: none)
 * says the forking thread holds; other threads' leases died with them. */
void nslab__pages_fork_child_leases(const uint64_t *kept);

/* lib/pagesys.c: the page layer against the system */
/* bytes mapped fresh on node nidx, bound and faulted in, once the node
 * limit and the headroom allow them (flags: NSLAB_PG_NOLIMIT, _HUGE).
 * NULL with errno ENOMEM; *why then says NSLAB_SHORT_CGROUP or _NODE. */
void *nslab__pages_map_fresh(int nidx, size_t bytes, size_t align, unsigned flags, int *why);
/* Unmap [p, p+bytes) of node nidx and uncount it; its page map entries
 * are cleared already (or were never set). */
void nslab__pages_unmap_range(int nidx, void *p, size_t bytes);
/* A handed-out run moved by remapping to where it is newbytes long: the
 * new address (align-aligned; flags: NSLAB_PG_HUGE), or NULL with errno
 * ENOMEM and the run untouched.  The page map entries are the caller's. */
void *nslab__pages_move(int nidx, void *p, size_t bytes, size_t newbytes, size_t align,
                        unsigned flags);
/* The arena's chunk [p, p+bytes) of node nidx, bound already, faulted in
 * once the node limit and the headroom allow it: 0, or -ENOMEM (*why as
 * above) with nothing counted.  Release gives one back and uncounts it. */
int nslab__pages_arena_fill(int nidx, void *p, size_t bytes, unsigned flags, int *why);
void nslab__pages_arena_release(int nidx, void *p, size_t bytes);

/*
 * Headroom (lib/headroom.c): what may still be mapped on one active node,
 * or under the process's memory cgroup, from a cached reading.  All
 * fields but lock are relaxed atomics.
 *   bytes that may be mapped now == avail - since - keep (none when < 0)
 */
struct nslab_headroom {
    pthread_mutex_t lock; /* NSLAB_RANK_HEADROOM: held while one thread refreshes the
                             reading; trylock but in the fork handler */
    uint64_t avail;       /* bytes there to have at the last reading */
    int64_t since;        /* bytes mapped since that reading, less bytes unmapped */
    uint64_t read_ns;     /* CLOCK_MONOTONIC_COARSE of the reading */
    uint64_t keep;        /* left free: the node's low watermark, the cgroup's margin */
    uint64_t short_since; /* CLOCK_MONOTONIC ns when it went short; 0: not short */
    uint64_t refused;     /* mappings refused because it was short */
    uint64_t episodes;    /* times it went short */
    uint64_t reads;       /* readings taken */
    int known;            /* 0: no reading possible: never short */
} __attribute__((aligned(64)));

/* What h's last reading showed there, less what the library mapped since
 * (negative once more was mapped than the reading saw). */
static inline int64_t nslab__headroom_left(const struct nslab_headroom *h)
{
    return (int64_t)nslab_load_relaxed(&h->avail) - nslab_load_relaxed(&h->since);
}

enum { NSLAB_CG_NONE = 0, NSLAB_CG_V1 = 1, NSLAB_CG_V2 = 2, NSLAB_CG_UNREADABLE = 3 };
enum { NSLAB_SHORT_NODE = 1, NSLAB_SHORT_CGROUP = 2 };

/* lib/headroom.c */
int nslab__headroom_init(void); /* nslab_g.lock held; 0 or -ENOMEM */
void nslab__headroom_fini(void);
/* May bytes more be mapped on node nidx?  0 (they are counted), or
 * NSLAB_SHORT_NODE / NSLAB_SHORT_CGROUP.  floor: a reserve being filled,
 * which only the readings themselves limit. */
int nslab__headroom_take(int nidx, size_t bytes, int floor);
void nslab__headroom_give(int nidx, size_t bytes); /* bytes unmapped */
void nslab__headroom_fork_lock(void);
void nslab__headroom_fork_unlock(void);
uint64_t nslab__now_ns(void); /* CLOCK_MONOTONIC */

/* lib/fault.c: fault injection of ordinary page allocation */
extern int nslab_fail_on;      /* read on the slow path only */
int nslab__fail_now(int node); /* 1: this page allocation must fail */
void nslab__fail_fork_lock(void);
void nslab__fail_fork_unlock(void);
int nslab__fail_parse(const char *spec);

#endif /* NSLAB_PAGES_H */
