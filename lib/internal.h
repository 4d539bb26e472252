/*
 * lib/internal.h - what lib/ files share: the library-wide state
 * (nslab_g), the calls of lib/core.c (initialisation, the thread's state,
 * node resolution, reports), lib/options.c and lib/fork.c, and every
 * other internal header, in the order they build on each other:
 *   lib/base.h     configuration, tool annotations, atomics, limits
 *   lib/lock.h     lock ranks, the lock order, the debug lock witness
 *   lib/bitmap.h   the bitmap type
 *   lib/slab.h     slabs, their (cache, node) lists, caches
 *   lib/thread.h   what a thread owns, and the fast paths
 *   lib/large.h    size classes and large objects
 *   lib/pages.h    page map, page layer, headroom, fault injection
 *   lib/mempool.h  mempools, page pools, node reserves
 *   lib/stats.h    statistics snapshots and the statistics segment
 *   lib/parse.h    the strict parser of numbers, sizes and node lists
 * Every .c file of lib/ includes this file (and lib/debug.h where objects are
 * handed out or taken back).  The lock order is in lib/lock.h.  The layers,
 * their invariants and the lock order are described in doc/design.md; the
 * rules users see, in numaslab(7).
 *
 * Fast paths (an allocation from the thread's current slab, a free into a
 * slab the thread owns) take no lock and no atomic read-modify-write: the
 * slab's free map belongs to its thread (lib/owner.c).  A free into
 * another thread's slab is one atomic OR.  Per-node statistics are
 * atomics updated on slow paths only.
 */
#ifndef NSLAB_INTERNAL_H
#define NSLAB_INTERNAL_H

#include "lib/base.h"
#include "lib/lock.h"
#include "lib/bitmap.h"
#include "lib/parse.h"
#include "lib/slab.h"
#include "lib/thread.h"
#include "lib/large.h"
#include "lib/pages.h"
#include "lib/mempool.h"
#include "lib/stats.h"

/* ------------------------------------------------------------------------
 * Library-wide state
 * ---------------------------------------------------------------------- */

struct nslab_node_counters { /* per OS node id; atomics */
    uint64_t bytes_mapped;
    uint64_t fallback_out;
    uint64_t fallback_in;
    uint64_t inactive;          /* requests naming this node while inactive */
    uint64_t inactive_served;   /* requests naming an inactive node, served here instead */
    uint64_t large;             /* large objects live */
    uint64_t large_bytes;       /* their runs' bytes */
    uint64_t huge_bytes;        /* of those, offered to transparent huge pages */
    uint64_t reserve_allowance; /* bytes of the node's full reserve: outside the node limit */
    uint64_t objects_inuse;     /* every cache's on the node, reserve slabs' included */
    uint64_t objects_total;     /* their capacity */
};

/* A watermark or margin option: the default, bytes, or a percentage. */
enum { NSLAB_KEEP_DEFAULT, NSLAB_KEEP_BYTES, NSLAB_KEEP_PERCENT };
struct nslab_keep {
    int set; /* NSLAB_KEEP_* */
    uint64_t bytes;
    double percent;
};

struct nslab_options {
    const char *nodes;
    const char *reserve;  /* NUMASLAB_RESERVE */
    int reserve_from_cfg; /* reserve came from numaslab_init's config */
    int reserve_mlock;    /* NUMASLAB_RESERVE_MLOCK=1 */
    size_t node_limit;
    unsigned retain;
    size_t retain_bytes; /* NUMASLAB_RETAIN_BYTES: each node's cache of free runs */
    size_t arena;        /* NUMASLAB_ARENA: each node's span of the slab arena; 0: none,
                            NSLAB_ARENA_AUTO: fitted to the node (lib/pages.c) */
    int thp;             /* NUMASLAB_THP: large objects of 2 MiB and more get huge pages */
    unsigned tcache;
    int abort_on_bad_free;       /* NUMASLAB_ABORT */
    struct nslab_keep watermark; /* NUMASLAB_LOW_WATERMARK: kept free on each node */
    struct nslab_keep margin;    /* NUMASLAB_CGROUP_MARGIN: kept below the cgroup limit */
    const char *fail_pages;      /* NUMASLAB_FAIL_PAGES, as given */
    int stats;                   /* NUMASLAB_STATS: make the statistics segment */
    int stats_asked;             /* NUMASLAB_STATS=1 given: a failure to make it is reported */
    unsigned stats_interval;     /* NUMASLAB_STATS_INTERVAL (checked; no effect) */
    int stats_print;             /* NUMASLAB_STATS_PRINT: print the tables at exit */
    int hwloc_quiet;             /* none of hwloc's plugin, component and topology variables is set:
                                    hwloc's plugins may be left closed (numa/topology.c) */
};
/* The i-th entry of the options table (lib/options.c): its variable's
 * name, or NULL past the end; *dflt and *doc get its default and its one
 * line of doc. */
const char *nslab__option_doc(unsigned i, const char **dflt, const char **doc);

struct nslab_global {
    int ready;            /* 1 once initialised (acquire/release with init) */
    unsigned gen;         /* bumped by every init */
    pthread_mutex_t lock; /* NSLAB_RANK_GLOBAL: the cache and thread lists, ids, init */
    struct nslab_topo topo;
    int nactive;
    int possible;       /* node ids must be below */
    int16_t *node_nidx; /* [possible]: nidx, or -1 when inactive */
    /* [possible]: for the fast path, the node's slot offset in a thread
     * cache (nidx * sizeof(struct nslab_thread_node)); an inactive node's
     * is the spare slot's (nactive), which stays empty; in node_nidx's
     * allocation, after it */
    long *node_soff;
    uint32_t ncpu_fast; /* cpu_nidx[] is usable below this (0: never) */
    uint16_t *cpu_nidx; /* [topo.ncpu]: local node of each CPU */
    struct nslab_options opt;
    struct nslab_node_counters *node_counters; /* [possible] */
    struct numaslab_cache *large_hdr;          /* headers of large objects (lib/large.c) */
    struct numaslab_mempool **reserve;         /* [nactive]: each node's reserve page pool */
    struct nslab_headroom *head;               /* [nactive] (lib/headroom.c) */
    struct nslab_node_wmark *wmark;            /* [max_node + 1]: the kernel's watermarks */
    struct nslab_node_wmark wmark_all;         /* their sum */
    int mem_whole;                             /* one memory node: read the machine's figures */
    struct nslab_headroom cg_head;             /* the memory cgroup's */
    struct nslab_cgroup cgroup;                /* where its files are */
    int cg_state;                              /* NSLAB_CG_* (atomic) */
    uint64_t cg_limit, cg_usage; /* at the last reading (atomics); UINT64_MAX: no limit */
    uint64_t drains;             /* times cached memory was given back for a short cgroup */
    /* Calls of the page layer's charge and uncharge (lib/pagesys.c), the
     * only code that changes the headroom's figures (atomic): a request
     * that saw it unchanged changed no figure of the process record and
     * of its node's record but the page layer's own (lib/pages.c). */
    uint64_t charges;
    struct numaslab_cache *sc[NSLAB_NCLASSES];
    struct numaslab_cache *by_id[NSLAB_MAX_CACHES];           /* under lock */
    nslab_bitmap_t large_warned[NSLAB_MASK_WORDS];            /* inactive nodes reported (atomic) */
    nslab_bitmap_t ids[NSLAB_BITMAP_WORDS(NSLAB_MAX_CACHES)]; /* cache ids in use */
    struct nslab_list caches;
    struct nslab_list threads;
    pthread_key_t key;
    int key_made;
    int pinned; /* 1: the drop-in malloc serves the process (lib/malloc.c):
                   numaslab_fini releases nothing */
};

extern NSLAB_HIDDEN struct nslab_global nslab_g;
/* nslab_busy, nslab_exited: numa/numa.h. */

/* lib/options.c */
int nslab__options_load(struct nslab_options *o, const struct numaslab_config *cfg);

/* lib/core.c */
int nslab__init(void); /* lazy init; 0 or -errno */
/*
 * The prologue of every public entry point: initialise the library on
 * first use and, when that fails, return fail, an expression that may use
 * nslab_init_rc (the negative errno).  NSLAB_INIT_OR_ERR for calls that
 * return a negative errno, NSLAB_INIT_OR_NULL for those that return NULL
 * with errno set.
 */
#define NSLAB_INIT_OR(fail)                                                                        \
    do {                                                                                           \
        int nslab_init_rc = nslab__init();                                                         \
        if (unlikely(nslab_init_rc != 0))                                                          \
            return fail;                                                                           \
    } while (0)
#define NSLAB_INIT_OR_ERR()  NSLAB_INIT_OR(nslab_init_rc)
#define NSLAB_INIT_OR_NULL() NSLAB_INIT_OR((errno = -nslab_init_rc, NULL))
struct nslab_tstate *nslab__tstate(void);               /* the caller's, made on first use */
void nslab__tstate_drain(struct nslab_tstate *ts);      /* nslab_g.lock held: give all back */
extern NSLAB_HIDDEN struct nslab_tstate nslab_empty_ts; /* every thread's state until it has one */
void nslab__refresh_local(struct nslab_tstate *ts);
int nslab__local_nidx_slow(struct nslab_tstate *ts, int rotate);
int nslab__resolve_node(nslab_bitmap_t *warned, const char *name, int node, unsigned flags,
                        int *nidx); /* 0 or -EINVAL / -ENODEV */
void nslab__report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A free the allocator refuses (foreign, interior, wrong cache, double):
 * reported, then abort() when NUMASLAB_ABORT is on (the debug default). */
void nslab__bad_free(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The ordinary slab (type NSLAB_T_SLAB) that holds p, or NULL: the fast
 * free paths' lookup.  Inside the slab arena the header is p rounded down
 * (lib/pages.h); a chunk there that is no slab reads as another type.
 * Elsewhere the page map says.
 */
static inline struct nslab_slab *nslab__slab_fast(const void *p)
{
    /* Not nslab__hdr_of: its NULL test would stay on the arena's path. */
    const uint8_t *h;
    if (likely(nslab__in_arena(p)))
        h = nslab__arena_chunk(p);
    else if (!(h = nslab__pagemap_get(p)))
        return NULL;
    /* The type byte first, as a byte: h may be a large object's header,
     * less aligned than a slab's. */
    return *h == NSLAB_T_SLAB ? (struct nslab_slab *)(uintptr_t)h : NULL;
}

/* The same for a slab of cache c.  In the arena, the cache field alone
 * tells: every chunk there is an ordinary slab, a cached free run (whose
 * word there is its length) or zeros; reserve slabs are never there. */
static inline struct nslab_slab *nslab__slab_fast_of(const void *p, const struct numaslab_cache *c)
{
    struct nslab_slab *s;
    if (likely(nslab__in_arena(p)))
        s = nslab__arena_chunk(p);
    else if (!(s = nslab__pagemap_get(p)) || *(const uint8_t *)s != NSLAB_T_SLAB)
        return NULL;
    return s->cache == c ? s : NULL;
}

/* Local node's dense index, fast: the thread's cached value, refreshed on
 * every slow path (a thread that moves to another node allocates there
 * from its next slow path on; see numaslab(7)). */
static inline int nslab__local_nidx(void)
{
    return nslab_tls->cached_nidx;
}

/* The calling thread's slot of (c, node), node an id or
 * NUMASLAB_NODE_LOCAL, fast (lib/thread.h): an explicit node first; the
 * spare, empty slot for an inactive node and NULL for a bad id, which
 * the slow path resolves. */
static inline struct nslab_thread_node *nslab__own_slot_node_id(uint32_t id, int node)
{
    if (likely((unsigned)node < (unsigned)nslab_g.possible))
        return nslab__own_slot_at_id(id, (size_t)nslab_g.node_soff[node]);
    if (node == NUMASLAB_NODE_LOCAL)
        return nslab__own_slot_id(id);
    return NULL;
}
static inline struct nslab_thread_node *nslab__own_slot_node(const struct numaslab_cache *c,
                                                             int node)
{
    return nslab__own_slot_node_id(c->id, node);
}

/* Objects in use and in all slabs of (c, nidx): the cnode's counters and
 * the node's sums (relaxed atomics; a slow path writes the segment after). */
static inline void nslab__count_inuse(struct numaslab_cache *c, int nidx, int64_t delta)
{
    nslab_add_relaxed(&c->cnode[nidx].st_inuse, (uint64_t)delta);
    nslab_add_relaxed(&nslab_g.node_counters[nslab_g.topo.active[nidx]].objects_inuse,
                      (uint64_t)delta);
}
static inline void nslab__count_total(struct numaslab_cache *c, int nidx, int64_t delta)
{
    nslab_add_relaxed(&c->cnode[nidx].st_total, (uint64_t)delta);
    nslab_add_relaxed(&nslab_g.node_counters[nslab_g.topo.active[nidx]].objects_total,
                      (uint64_t)delta);
}

/* 1: this ordinary page allocation on node nidx must fail (lib/fault.c).
 * Inline: one relaxed load while no setting is in force. */
static inline int nslab__fail_injected(int nidx)
{
    return unlikely(nslab_load_relaxed(&nslab_fail_on)) &&
           nslab__fail_now(nslab_g.topo.active[nidx]);
}

/* lib/fork.c */
void nslab__fork_lock(void);
void nslab__fork_unlock(void);
void nslab__fork_handlers(void); /* pthread_atfork, once */

#endif /* NSLAB_INTERNAL_H */
