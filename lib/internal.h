/*
 * lib/internal.h - what lib/ files share.  Prototypes are grouped by the
 * file that defines them.
 *
 * Lock order (outermost first); no other nesting exists:
 *   1. nslab_g.lock       - the cache list, the thread list, cache ids,
 *                           initialisation and teardown.
 *   2. cnode->lock        - one (cache, node)'s lists of unowned slabs
 *                           and its reserve slabs (lib/slab.c,
 *                           lib/reserve.c); taken when a slab changes
 *                           hands, never by a thread's own allocations
 *                           and frees.  Only one lock of level 2 is held
 *                           at a time, except by the fork handler, which
 *                           takes them all in cache-list order, then node
 *                           order.
 *   2b. page layer node lock (lib/pages.c: one node's free runs), taken
 *                           with no lock held but, at most, nslab_g.lock:
 *                           slabs and large objects are made and given up
 *                           outside the cnode locks, pools call their
 *                           allocator outside the pool lock.
 *   3. pagemap lock       - creation of pagemap leaves.
 *   Leaves (nothing is taken while one is held):
 *   - the statistics publisher's ex.lock (lib/export.c);
 *   - fail_lock (lib/fault.c: the fault-injection setting), taken on the
 *     page-allocation slow path, only while a setting is in force;
 *   - each headroom's lock (lib/headroom.c: one per node, one for the
 *     memory cgroup), held while its reading is refreshed and only ever
 *     taken by trylock, on the page-allocation slow path;
 *   - each pool's lock (lib/mempool.c), whose allocator runs outside it.
 *   The fork handler takes nslab_g.lock, every cnode lock, the node
 *   reserves' pool locks, the page layer's node locks, the pagemap lock,
 *   the headroom locks and fail_lock, in that order (lib/fork.c).
 *   nslab__slabs_trim (a short cgroup) only tries nslab_g.lock, so it may
 *   run wherever a page is mapped.
 * Per-node statistics are atomics updated on slow paths only.
 *
 * Fast paths (an allocation from the thread's current slab, a free into a
 * slab the thread owns) take no lock and no atomic read-modify-write: the
 * slab's free map belongs to its thread (lib/owner.c).  A free into
 * another thread's slab is one atomic OR.
 */
#ifndef NSLAB_INTERNAL_H
#define NSLAB_INTERNAL_H

#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "numaslab.h"
#include "numa/numa.h"
#include "lib/list.h"

/* The annotations that tell valgrind (--enable-valgrind) and
 * AddressSanitizer which bytes of slab memory a user may touch
 * (lib/debug.h uses them; the fast paths below too). */
#ifndef NSLAB_VALGRIND
#define NSLAB_VALGRIND 0
#endif
#if NSLAB_VALGRIND
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MALLOCLIKE_BLOCK(a, s, r, z) ((void)0)
#define VALGRIND_FREELIKE_BLOCK(a, r) ((void)0)
#define VALGRIND_MAKE_MEM_NOACCESS(a, s) ((void)0)
#define VALGRIND_MAKE_MEM_DEFINED(a, s) ((void)0)
#define VALGRIND_MAKE_MEM_UNDEFINED(a, s) ((void)0)
#endif

#if defined(__SANITIZE_ADDRESS__)
#define NSLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NSLAB_ASAN 1
#endif
#endif
#ifndef NSLAB_ASAN
#define NSLAB_ASAN 0
#endif
#if NSLAB_ASAN
#include <sanitizer/asan_interface.h>
#define nslab_asan_poison(a, s) ASAN_POISON_MEMORY_REGION((a), (s))
#define nslab_asan_unpoison(a, s) ASAN_UNPOISON_MEMORY_REGION((a), (s))
#else
#define nslab_asan_poison(a, s) ((void)(a), (void)(s))
#define nslab_asan_unpoison(a, s) ((void)(a), (void)(s))
#endif

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define NSLAB_MAX_CACHES 512  /* caches alive at once, size classes included */
#define NSLAB_NAME_MAX 32
#define NSLAB_MIN_SLAB (64 * 1024)
#define NSLAB_MIN_OBJS 4
#if NSLAB_DEBUG
#define NSLAB_REDZONE 8  /* guard bytes after each object (lib/debug.h) */
#else
#define NSLAB_REDZONE 0
#endif
/* Atomics only through these names. */
#define nslab_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define nslab_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define nslab_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define nslab_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define nslab_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define nslab_sub_relaxed(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_RELAXED)
#define nslab_or_relaxed(p, v) __atomic_fetch_or((p), (v), __ATOMIC_RELAXED)
/* 1 when *p held *expect and now holds v; else *expect is what *p holds. */
#define nslab_cas_relaxed(p, expect, v) \
    __atomic_compare_exchange_n((p), (expect), (v), 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)

/* ------------------------------------------------------------------------
 * Memory the pagemap knows: every page of a slab, the first page of a
 * whole-page (large) object.  Both headers start with a type byte.
 * ---------------------------------------------------------------------- */
enum nslab_type {
    NSLAB_T_SLAB = 1,   /* ordinary slab: its objects may enter thread caches */
    NSLAB_T_LARGE = 2,  /* a whole-page object */
    NSLAB_T_RESERVE = 3, /* slab grown from a pool: critical / mempool requests only */
    NSLAB_T_FREE = 4,   /* an end page of a free run of the page layer (lib/pages.c) */
};

#define NSLAB_SLAB_MAGIC 0x5ab1ab1eu

/*
 * A slab: one chunk of pages bound to one node, holding nobjs objects of
 * one cache, its header at the start.  Ordinary slabs are owned by one
 * thread at a time (lib/owner.c), or by nobody while they wait on their
 * (cache, node)'s lists (lib/slab.c); reserve slabs are never owned
 * (lib/reserve.c).
 *
 *   freemap bit i set: object i is free.  Written by the owner only, or
 *     under the cnode lock while unowned (relaxed atomic stores, so that
 *     other threads' double-free peeks read it cleanly).
 *   rmap bit i set: object i was freed by a thread that is not the owner
 *     and waits for the owner to collect it (atomic OR by the freer,
 *     exchange by the collector).  freemap & rmap == 0 but for double
 *     frees, which the collector reports.
 *   nfree == popcount(freemap), by the same writers as freemap.
 *   freemap[nwords] == 0 always: the fast path's miss when hint reaches it.
 * The remote map starts a cache line of its own, and the objects another:
 * remote freers never write a line the owner writes for its own frees.
 */
struct nslab_slab {
    /* Read by every freer: written when the slab is made, and on slow
     * paths (owner, state, link). */
    uint8_t type;               /* NSLAB_T_SLAB or NSLAB_T_RESERVE */
    uint8_t state;              /* NSLAB_L_*: the state counted in the cnode's statistics */
    uint8_t where;              /* NSLAB_W_*: which list link is on */
    uint8_t pad0;
    uint32_t magic;             /* NSLAB_SLAB_MAGIC */
    struct numaslab_cache *cache;
    char *objs;                 /* first object */
    struct nslab_tstate *owner; /* atomic: the owning thread; NULL while unowned */
    uint32_t nobjs;
    uint32_t nwords;
    uint16_t nidx;              /* dense node index */
    struct nslab_list link;     /* the owner's lists, or the cnode's */
    struct numaslab_mempool *pool; /* NSLAB_T_RESERVE: where its pages go back */
    uint64_t *rmap;             /* [nwords], cache-line aligned, after freemap */
    /* Written by the owner's allocations and frees: a line of its own, so
     * that other threads' frees read the line above without a miss. */
    uint32_t nfree __attribute__((aligned(64)));
    uint32_t hint;              /* lowest freemap word that may have a set bit */
    uint32_t trip;              /* a local free that makes nfree - 2 >= trip (unsigned) takes
                                   the slow path: nobjs - 2 off the owner's current slab (it
                                   became partial or empty), UINT32_MAX on it */
    uint32_t pub_free;          /* nfree as last counted in the cnode's objects in use */
    uint64_t freemap[];         /* [nwords + 1] */
};

/* Where a slab's link is. */
enum {
    NSLAB_W_NODE = 0,           /* unowned: the cnode's list for its state (or reserve) */
    NSLAB_W_CUR = 1,            /* its owner allocates from it; on no list */
    NSLAB_W_PARTIAL = 2,        /* owned, not current, has free objects */
    NSLAB_W_FULL = 3,           /* owned, not current, none free when last looked */
    NSLAB_W_NONE = 4,           /* on no list (being moved) */
};

enum { NSLAB_L_PARTIAL, NSLAB_L_FULL, NSLAB_L_EMPTY };

#define NSLAB_LARGE_MAGIC 0x1a59e0b5u

/*
 * A large object's header: an object of the internal cache
 * "numaslab-large" on the object's node (lib/sizeclass.c), never inside
 * the object, whose pages all lead here in the page map.  type and magic
 * are cleared when the object is freed.
 */
struct nslab_large {
    uint8_t type;               /* NSLAB_T_LARGE */
    uint8_t huge;               /* 2 MiB-aligned and offered to transparent huge pages */
    uint16_t nidx;
    uint32_t magic;             /* NSLAB_LARGE_MAGIC */
    int cached;                 /* 1: freed, in a thread's cache (struct nslab_tlc) */
    void *base;
    size_t bytes;               /* its run: size rounded up to whole pages */
    size_t size;                /* asked for */
};

/* ------------------------------------------------------------------------
 * Caches
 * ---------------------------------------------------------------------- */

/*
 * One (cache, active node).  lock protects the lists of unowned slabs and
 * nr_empty, and the reserve list with nr_reserve.  The statistics are
 * relaxed atomics, changed on slow paths by whoever changes a slab's
 * counted state (lib/slab.c, slab_count), read with no lock.
 */
struct nslab_cnode {
    pthread_mutex_t lock;
    struct nslab_list partial, full, empty; /* unowned slabs by state */
    uint64_t nr_empty;          /* on empty: the retention (NUMASLAB_RETAIN) counts these */
    struct nslab_list reserve;  /* slabs grown from a pool, never empty, full ones last */
    uint64_t nr_reserve;
    uint64_t reserve_inuse;     /* objects of reserve slabs handed out */
    /* statistics (atomics) */
    uint64_t st_inuse;          /* objects of ordinary slabs handed out, as last counted */
    uint64_t st_total;          /* objects in all the node's slabs, reserve slabs included */
    uint64_t st_slabs[3];       /* ordinary slabs by counted state, NSLAB_L_* */
} __attribute__((aligned(64)));

struct numaslab_cache {
    /* What the fast paths read, in the first cache line. */
    uint32_t id;                /* index into every thread's cc[] */
    uint32_t size;              /* object stride: obj_size + red zone, rounded to align */
    uint32_t obj_size;          /* size asked for */
    uint32_t rot;               /* size = odd << rot */
    uint64_t inv;               /* odd * inv == 1 (mod 2^64) */
    uint32_t mag;               /* objects a thread's free list of it holds per node
                                   (struct nslab_slot); 0: none, frees go to the map */
    uint32_t nobjs;             /* objects per slab */
    /* The rest: slow paths. */
    char name[NSLAB_NAME_MAX];
    uint32_t align;
    uint32_t slab_bytes;        /* bytes of one slab */
    uint32_t obj_offset;        /* first object's offset in the slab */
    uint32_t span;              /* nobjs * size */
    uint32_t rmap_offset;       /* the remote map's offset in the slab */
    uint64_t divmax;            /* UINT64_MAX / size */
    int sizeclass;              /* 1 for the numaslab-<n> caches */
    int dying;                  /* atomic: 1 while destroy gathers: empty slabs are unmapped */
    void (*ctor)(void *);
    uint64_t warned[NSLAB_MASK_WORDS]; /* inactive nodes reported (atomic OR) */
    struct nslab_list link;     /* in nslab_g.caches, under nslab_g.lock */
    struct nslab_cnode *cnode;  /* [nactive] */
};

/* ------------------------------------------------------------------------
 * Per-thread state
 * ---------------------------------------------------------------------- */

/*
 * A thread's slabs of one cache (lib/owner.c): for each active node, the
 * slab it allocates from and the others it owns.  Only its thread touches
 * it (numaslab_cache_destroy, numaslab_fini and fork excepted, which
 * need the owners quiescent).
 */
struct nslab_own {
    struct nslab_list partial;  /* NSLAB_W_PARTIAL slabs */
    struct nslab_list full;     /* NSLAB_W_FULL slabs, oldest first */
    uint32_t npartial, nfull;
};
/*
 * A thread's free list of one (cache, node): up to the cache's mag objects
 * it freed into its own slabs, kept out of their free maps for its next
 * allocations there, most recent first.  A free and the allocation that
 * follows touch this slot and the object, which the caller touches
 * anyway; the slab's maps wait.  They count as in use until the list goes
 * back to the maps (a full list sends further frees to the map; the
 * thread's flush, its exit, numaslab_cache_destroy, fork).
 *
 * The free cookie.  Every free object of an ordinary slab of a cache with
 * a list (mag != 0: objects of 16 bytes and more at a stride of whole
 * words, no constructor, not a debug build; reserve slabs, whose objects
 * never enter a list, keep to their free maps) carries nslab_cookie in
 * its second word, on the list, in the free map,
 * waiting in a remote map: written when a slab is made and by every free,
 * cleared when the object is handed out (lib/debug.h).  A free that finds
 * it is a double free, or a free of an object never handed out, and is
 * refused: the list needs no look at the free map.  A live object holds
 * the cookie only if its user wrote that random value there.
 */
struct nslab_slot {
    void **head;                /* the thread's free list: objects of its own slabs,
                                   linked through their first word */
    uint32_t n;                 /* objects on it, at most the cache's mag */
    uint32_t pad;
    struct nslab_slab *cur;     /* the node's current slab (NSLAB_W_CUR), or NULL */
    uint64_t pad2;
};
struct nslab_tcc {
    struct nslab_own *own;      /* [nactive] */
    /* Frees of objects of another thread's slab, one remote-map word of
     * it at a time, not yet ORed in (lib/owner.c): they count as in use,
     * so that slab stays. */
    struct nslab_slab *rb_s;    /* NULL: none */
    uint64_t rb_bits;
    uint32_t rb_w;
    uint32_t pad;
    struct nslab_slot slot[];   /* [nactive] */
};

/*
 * A thread's cache of freed large objects of one node (lib/sizeclass.c):
 * up to NSLAB_TLC_SLOTS objects of at most NSLAB_TLC_MAX bytes, header,
 * pages and page map entries intact, the most recently freed last.  What
 * it holds is covered by a lease of the node's retention limit
 * (lib/pages.c), so the limit bounds these caches too:
 *   held <= lease;  n <= NSLAB_TLC_SLOTS (< 256)
 * Only its thread touches it, without a lock (numaslab_fini and the
 * thread's exit excepted).
 */
#define NSLAB_TLC_SLOTS 64
#define NSLAB_TLC_MAX ((size_t)1 << 20)
#define NSLAB_TLC_LEASE ((uint64_t)1 << 20) /* leased at a time: threads hoard little */
struct nslab_tlc {
    uint64_t nr;                /* held << 8 | n: one store per push or pop */
    uint64_t lease;             /* bytes of retention leased from the node */
    struct nslab_large *slot[NSLAB_TLC_SLOTS];
};
/* n: objects in slot[]; held: their bytes. */
#define NSLAB_TLC_N(t) ((uint32_t)((t)->nr & 0xff))
#define NSLAB_TLC_HELD(t) ((t)->nr >> 8)
#define NSLAB_TLC_ONE(bytes) (((uint64_t)(bytes) << 8) + 1) /* nr of one object */

struct nslab_tstate {
    struct nslab_tcc *cc[NSLAB_MAX_CACHES]; /* by cache id; NULL until used */
    struct nslab_tlc *tlc;      /* [nactive]; NULL until a large object is freed */
    int cached_nidx;            /* local node when the CPU cannot be read fast */
    unsigned ipos;              /* interleave position */
    unsigned gen;               /* nslab_g.gen this state was set up for */
    int registered;
    struct nslab_list link;     /* in nslab_g.threads */
    uint64_t pub_ns;            /* when its frees into other threads' slabs were last
                                   written to the statistics segment (coarse clock) */
    int pub_dirty;              /* 1: some were not written since (lib/export.c) */
};

/* ------------------------------------------------------------------------
 * Library-wide state
 * ---------------------------------------------------------------------- */

struct nslab_nstat {            /* per OS node id; atomics */
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
    int set;                    /* NSLAB_KEEP_* */
    uint64_t bytes;
    double percent;
};

/*
 * Headroom (lib/headroom.c): what may still be mapped on one active node,
 * or under the process's memory cgroup, from a cached reading.  All
 * fields but lock are relaxed atomics.
 *   bytes that may be mapped now == avail - since - keep (none when < 0)
 */
struct nslab_headroom {
    pthread_mutex_t lock;       /* held while one thread refreshes the reading; a leaf, trylock */
    uint64_t avail;             /* bytes there to have at the last reading */
    int64_t since;              /* bytes mapped since that reading, less bytes unmapped */
    uint64_t read_ns;           /* CLOCK_MONOTONIC_COARSE of the reading */
    uint64_t keep;              /* left free: the node's low watermark, the cgroup's margin */
    uint64_t short_since;       /* CLOCK_MONOTONIC ns when it went short; 0: not short */
    uint64_t refused;           /* mappings refused because it was short */
    uint64_t episodes;          /* times it went short */
    uint64_t reads;             /* readings taken */
    int known;                  /* 0: no reading possible: never short */
} __attribute__((aligned(64)));

/* What h's last reading showed there, less what the library mapped since
 * (negative once more was mapped than the reading saw). */
static inline int64_t nslab__headroom_left(const struct nslab_headroom *h)
{
    return (int64_t)nslab_load_relaxed(&h->avail) - nslab_load_relaxed(&h->since);
}

enum { NSLAB_CG_NONE = 0, NSLAB_CG_V1 = 1, NSLAB_CG_V2 = 2, NSLAB_CG_UNREADABLE = 3 };
enum { NSLAB_SHORT_NODE = 1, NSLAB_SHORT_CGROUP = 2 };

struct nslab_options {
    const char *nodes;
    const char *reserve;        /* NUMASLAB_RESERVE */
    int reserve_from_cfg;       /* reserve came from numaslab_init's config */
    int reserve_mlock;          /* NUMASLAB_RESERVE_MLOCK=1 */
    size_t node_limit;
    unsigned retain;
    size_t retain_bytes;        /* NUMASLAB_RETAIN_BYTES: each node's cache of free runs */
    int thp;                    /* NUMASLAB_THP: large objects of 2 MiB and more get huge pages */
    unsigned tcache;
    int abort_on_bad_free;      /* NUMASLAB_ABORT */
    struct nslab_keep watermark; /* NUMASLAB_LOW_WATERMARK: kept free on each node */
    struct nslab_keep margin;   /* NUMASLAB_CGROUP_MARGIN: kept below the cgroup limit */
    const char *fail_pages;     /* NUMASLAB_FAIL_PAGES, as given */
    int stats;                  /* NUMASLAB_STATS: make the statistics segment */
    int stats_asked;            /* NUMASLAB_STATS=1 given: a failure to make it is reported */
    unsigned stats_interval;    /* NUMASLAB_STATS_INTERVAL (checked; no effect) */
    int stats_print;            /* NUMASLAB_STATS_PRINT: print the tables at exit */
};
/* The i-th entry of the options table (lib/options.c): its variable's
 * name, or NULL past the end; *dflt and *doc get its default and its one
 * line of doc. */
const char *nslab__option_doc(unsigned i, const char **dflt, const char **doc);

#define NSLAB_NCLASSES 33

struct nslab_global {
    int ready;                  /* 1 once initialised (acquire/release with init) */
    unsigned gen;               /* bumped by every init */
    pthread_mutex_t lock;
    struct nslab_topo topo;
    int nactive;
    int possible;               /* node ids must be below */
    int16_t *node_nidx;         /* [possible]: nidx, or -1 when inactive */
    uint32_t ncpu_fast;         /* cpu_nidx[] is usable below this (0: never) */
    uint16_t *cpu_nidx;         /* [topo.ncpu]: local node of each CPU */
    struct nslab_options opt;
    struct nslab_nstat *nstat;  /* [possible] */
    struct numaslab_cache *large_hdr; /* headers of large objects (lib/sizeclass.c) */
    struct numaslab_mempool **reserve; /* [nactive]: each node's reserve page pool */
    struct nslab_headroom *head;    /* [nactive] (lib/headroom.c) */
    struct nslab_node_wmark *wmark; /* [max_node + 1]: the kernel's watermarks */
    struct nslab_node_wmark wmark_all; /* their sum */
    int mem_whole;                  /* one memory node: read the machine's figures */
    struct nslab_headroom cg_head;  /* the memory cgroup's */
    struct nslab_cgroup cgroup;     /* where its files are */
    int cg_state;                   /* NSLAB_CG_* (atomic) */
    uint64_t cg_limit, cg_usage;    /* at the last reading (atomics); UINT64_MAX: no limit */
    uint64_t drains;                /* times cached memory was given back for a short cgroup */
    struct numaslab_cache *sc[NSLAB_NCLASSES];
    struct numaslab_cache *by_id[NSLAB_MAX_CACHES]; /* under lock */
    uint64_t large_warned[NSLAB_MASK_WORDS];
    uint64_t ids[NSLAB_MAX_CACHES / 64]; /* cache ids in use */
    struct nslab_list caches;
    struct nslab_list threads;
    pthread_key_t key;
    int key_made;
    int pinned;                 /* 1: the drop-in malloc serves the process (lib/malloc.c):
                                   numaslab_fini releases nothing */
};

extern struct nslab_global nslab_g;
extern __thread struct nslab_tstate *nslab_tls __attribute__((tls_model("initial-exec")));
/* nslab_busy: numa/numa.h.  nslab_exited: 1 once the thread's state was
 * given back at its exit (lib/core.c). */
extern __thread unsigned char nslab_exited __attribute__((tls_model("initial-exec")));

/* ------------------------------------------------------------------------
 * lib/pagemap.c: address -> header, O(1), lock-free reads.
 * Two levels over 47-bit addresses at 4 KiB granularity: a static root of
 * 2^17 leaf pointers (one per GiB), leaves of 2^18 entries made on demand
 * and never freed while the process lives.
 * ---------------------------------------------------------------------- */
#define NSLAB_PM_SHIFT 12
#define NSLAB_PM_LEAF_BITS 18
#define NSLAB_PM_ROOT_BITS 17
extern void **nslab_pagemap_root[1u << NSLAB_PM_ROOT_BITS];

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
void nslab__pagemap_lock(void);   /* fork handlers */
void nslab__pagemap_unlock(void);

/* lib/headroom.c */
int nslab__headroom_init(void);   /* nslab_g.lock held; 0 or -ENOMEM */
void nslab__headroom_fini(void);
/* May bytes more be mapped on node nidx?  0 (they are counted), or
 * NSLAB_SHORT_NODE / NSLAB_SHORT_CGROUP.  floor: a reserve being filled,
 * which only the readings themselves limit. */
int nslab__headroom_take(int nidx, size_t bytes, int floor);
void nslab__headroom_give(int nidx, size_t bytes); /* bytes unmapped */
void nslab__headroom_fork_lock(void);
void nslab__headroom_fork_unlock(void);
uint64_t nslab__now_ns(void);     /* CLOCK_MONOTONIC */

/* lib/options.c */
int nslab__options_load(struct nslab_options *o, const struct numaslab_config *cfg);
int nslab__parse_size(const char *s, size_t *out);

/* lib/core.c */
int nslab__init(void);                       /* lazy init; 0 or -errno */
struct nslab_tstate *nslab__tstate(void);    /* the caller's, made on first use */
void nslab__tstate_drain(struct nslab_tstate *ts); /* nslab_g.lock held: give all back */
extern struct nslab_tstate nslab_empty_ts;   /* every thread's state until it has one */
void nslab__refresh_local(struct nslab_tstate *ts);
int nslab__local_nidx_slow(struct nslab_tstate *ts, int rotate);
int nslab__resolve_node(uint64_t *warned, const char *name, int node, unsigned flags,
                        int *nidx); /* 0 or -EINVAL / -ENODEV */
void nslab__report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A free the allocator refuses (foreign, interior, wrong cache, double):
 * reported, then abort() when NUMASLAB_ABORT is on (the debug default). */
void nslab__bad_free(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Local node's dense index, fast: the thread's cached value, refreshed on
 * every slow path (a thread that moves to another node allocates there
 * from its next slow path on; see numaslab(7)). */
static inline int nslab__local_nidx(void)
{
    return nslab_tls->cached_nidx;
}

/*
 * The per-node locks (cnode, the page layer's node lock) guard a few list and
 * bitmap operations: an adaptive mutex spins a little before it sleeps, as
 * the kernel's spinlocks would, instead of a futex round trip each time
 * two threads of a node meet there.
 */
static inline void nslab__lock_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

/* lib/slab.c: slabs, the cnode lists, caches */
struct numaslab_cache *nslab__cache_new(const char *name, size_t size, size_t align,
                                        void (*ctor)(void *), int sizeclass, unsigned order);
void nslab__cache_release(struct numaslab_cache *c); /* unmap all, free (fini) */
void nslab__slabs_trim(void);     /* retained empty slabs go back (a short cgroup) */
/* Call fn(obj, arg) for every object of c handed out of its slabs.
 * nslab_g.lock held, every thread's slabs of c given back (quiescent). */
void nslab__cache_each(struct numaslab_cache *c, void (*fn)(void *obj, void *arg), void *arg);
/* A new slab of c on node nidx, bound and laid out, unowned and on no
 * list (type NSLAB_T_SLAB, or NSLAB_T_RESERVE with its pool and mem). */
struct nslab_slab *nslab__slab_new(struct numaslab_cache *c, int nidx);
struct nslab_slab *nslab__slab_init(struct numaslab_cache *c, int nidx, char *mem, int type,
                                    struct numaslab_mempool *pool);
/* Take a slab of (c, nidx) for the calling thread: an unowned one with
 * free objects (adopted), or a new one.  NULL with errno ENOMEM when the
 * node is exhausted. */
struct nslab_slab *nslab__node_take(struct numaslab_cache *c, int nidx, struct nslab_tstate *ts);
/* An owned slab leaves its owner (thread exit, flush, destroy, fork):
 * onto the cnode list its state says; beyond the retention, empty slabs
 * go back to the page layer.  Its remote frees are collected first. */
void nslab__node_give(struct numaslab_cache *c, struct nslab_slab *s);
/* Frees into unowned s (of a thread that gave it back): the objects of
 * bits in free-map word w, under the cnode lock; into its remote map if it
 * was adopted meanwhile. */
void nslab__node_free(struct numaslab_cache *c, struct nslab_slab *s, uint32_t w, uint64_t bits,
                      const char *call);
void nslab__cache_sweep(struct numaslab_cache *c); /* nslab_g.lock held */
/* Frees of the objects of bits in word w of s, a slab another thread owns:
 * one atomic OR into its remote map, the last touch of s; counted in the
 * statistics and published; double frees among them reported. */
void nslab__remote_or(struct numaslab_cache *c, struct nslab_slab *s, uint32_t w, uint64_t bits,
                      const char *call);
/* The same on up to n full unowned slabs of each node, oldest first. */
void nslab__cache_sweep_some(struct numaslab_cache *c, int n);
/* Report a double free for each bit of dup, objects from first on. */
void nslab__report_doubles(struct numaslab_cache *c, const char *call, char *first, uint64_t dup);
/* Objects in use and in all slabs of (c, nidx): the cnode's counters and
 * the node's sums (relaxed atomics; a slow path writes the segment after). */
static inline void nslab__count_inuse(struct numaslab_cache *c, int nidx, int64_t delta)
{
    nslab_add_relaxed(&c->cnode[nidx].st_inuse, (uint64_t)delta);
    nslab_add_relaxed(&nslab_g.nstat[nslab_g.topo.active[nidx]].objects_inuse, (uint64_t)delta);
}
static inline void nslab__count_total(struct numaslab_cache *c, int nidx, int64_t delta)
{
    nslab_add_relaxed(&c->cnode[nidx].st_total, (uint64_t)delta);
    nslab_add_relaxed(&nslab_g.nstat[nslab_g.topo.active[nidx]].objects_total, (uint64_t)delta);
}
/* Count s's state and free objects in the cnode's statistics. */
void nslab__slab_count(struct numaslab_cache *c, struct nslab_slab *s);
/* Collect s's remote frees into its free map; returns how many.  The
 * owner, or the cnode lock holder while s is unowned. */
uint32_t nslab__slab_collect(struct numaslab_cache *c, struct nslab_slab *s);
/* Is p the start of an object that is free in s?  A racy peek for the
 * message of a double free from another thread. */
int nslab__slab_is_free(const struct nslab_slab *s, const void *p);

/* lib/owner.c: thread-owned slabs */
void *nslab__cache_alloc_slow(struct numaslab_cache *c, unsigned flags, int node);
void nslab__cache_free_slow(struct numaslab_cache *expect, void *obj, const char *call);
/* The fast free's miss for an object already validated as one of s's
 * and taken back: another thread's slab, an unowned one, a double free,
 * or a slab whose state changes. */
void nslab__free_miss(struct nslab_slab *s, void *obj, const char *call);
struct nslab_tcc *nslab__tcc_make(struct numaslab_cache *c, struct nslab_tstate *ts);
/* Give back every slab of c that ts owns (all nodes).  keep_live: slabs
 * with live objects stay owned (numaslab_thread_flush); else all go. */
void nslab__tcc_flush(struct numaslab_cache *c, struct nslab_tstate *ts, int keep_live);
/* Free obj of c to its slab, owned or not: for code that may run under
 * nslab_g.lock or for another thread (lib/sizeclass.c, lib/core.c). */
void nslab__cache_free_home(struct numaslab_cache *c, void *obj);

/* lib/fork.c */
void nslab__fork_lock(void);
void nslab__fork_unlock(void);
void nslab__fork_handlers(void);  /* pthread_atfork, once */

/*
 * ror(off * inv, rot) for p at byte offset off in slab s, with size = odd
 * << rot and inv the inverse of odd modulo 2^64 (Granlund and Montgomery):
 * when off is a multiple of size it is the quotient off / size, with no
 * divide instruction; when it is not, it exceeds divmax = (2^64 - 1) / size.
 */
static inline uint64_t nslab__obj_quot(const struct nslab_slab *s, const struct numaslab_cache *c,
                                       const void *p)
{
    uint64_t off = (uint64_t)(uintptr_t)p - (uint64_t)(uintptr_t)s->objs;
    uint64_t x = off * c->inv;
    return (x >> c->rot) | (x << ((64 - c->rot) & 63));
}

/* Is p the start of an object of slab s (of cache c)?  The quotient above
 * is below nobjs: an offset past the objects (or before them, which wraps)
 * gives a quotient of nobjs or more, and one that is not a multiple of the
 * size gives one above divmax, which is far above nobjs. */
static inline int nslab__obj_ok(const struct nslab_slab *s, const struct numaslab_cache *c,
                                const void *p)
{
    return nslab__obj_quot(s, c, p) < s->nobjs;
}

/* The index in s of an object that passed nslab__obj_ok. */
static inline uint32_t nslab__obj_index(const struct nslab_slab *s, const struct numaslab_cache *c,
                                        const void *p)
{
    return (uint32_t)nslab__obj_quot(s, c, p);
}

/* An object from the thread's current slab of (c, nidx), with no lock and
 * no atomic read-modify-write; NULL on a miss (no slab yet, or none free
 * left in its map from the hint on). */
static inline void *nslab__own_take(struct numaslab_cache *c, struct nslab_tcc *tc, int nidx)
{
    struct nslab_slab *s = tc->slot[nidx].cur;
    if (unlikely(s == NULL))
        return NULL;
    uint32_t w = s->hint;
    uint64_t m = nslab_load_relaxed(&s->freemap[w]);
    if (unlikely(m == 0)) { /* the next word with a free object, if any */
        do {
            if (++w >= s->nwords)
                return NULL;
        } while (!(m = nslab_load_relaxed(&s->freemap[w])));
        s->hint = w;
    }
    nslab_store_relaxed(&s->freemap[w], m & (m - 1));
    s->nfree--;
    return s->objs + ((size_t)w * 64 + (unsigned)__builtin_ctzll(m)) * c->size;
}

/* Reading and writing the two words of a free object that the lists and
 * the cookie use, where the tools keep it out of bounds. */
#define NSLAB_MAG_OPEN(o)                                   \
    do {                                                    \
        VALGRIND_MAKE_MEM_DEFINED((o), 2 * sizeof(void *)); \
        nslab_asan_unpoison((o), 2 * sizeof(void *));       \
    } while (0)
#define NSLAB_MAG_SHUT(o)                                   \
    do {                                                    \
        VALGRIND_MAKE_MEM_NOACCESS((o), 2 * sizeof(void *)); \
        nslab_asan_poison((o), 2 * sizeof(void *));         \
    } while (0)

extern uintptr_t nslab_cookie; /* set at initialisation; never 0 */

/* Mark free object obj of c with the cookie (c->mag != 0). */
static inline void nslab__cookie_set(void *obj)
{
    void **o = obj;
    NSLAB_MAG_OPEN(o);
    o[1] = (void *)nslab_cookie;
    NSLAB_MAG_SHUT(o);
}

/* 1 when obj, of a cache with a list, carries the cookie: it is free. */
static inline int nslab__cookie_is(const struct numaslab_cache *c, void *obj)
{
    if (!c->mag)
        return 0;
    void **o = obj;
    NSLAB_MAG_OPEN(o);
    int is = o[1] == (void *)nslab_cookie;
    NSLAB_MAG_SHUT(o);
    return is;
}

/* An object of (c, nidx) for the calling thread, fast: its free list,
 * then its current slab; NULL on a miss.  The caller hands it out
 * (lib/debug.h), which clears the cookie. */
static inline void *nslab__own_pop(struct numaslab_cache *c, int nidx)
{
    struct nslab_tcc *tc = nslab_tls->cc[c->id];
    if (unlikely(tc == NULL))
        return NULL;
    struct nslab_slot *sl = &tc->slot[nidx];
    void **obj = sl->head;
    if (likely(obj != NULL)) {
        NSLAB_MAG_OPEN(obj);
        sl->head = (void **)obj[0];
        NSLAB_MAG_SHUT(obj);
        sl->n--;
        return obj;
    }
    return nslab__own_take(c, tc, nidx);
}

/* Free obj (validated: an object of s, of cache c) when the calling thread
 * owns its slab, with no lock and no atomic read-modify-write: onto the
 * thread's free list for the node while it has room, else into the free
 * map.  0 on a miss: another thread's slab or an unowned one, a double
 * free, or a free that changes the state of a slab other than the
 * current one. */
static inline int nslab__own_push(struct nslab_slab *s, struct numaslab_cache *c, void *obj)
{
    struct nslab_tstate *ts = nslab_tls;
    if (unlikely(nslab_load_relaxed(&s->owner) != ts))
        return 0;
    struct nslab_slot *sl = &ts->cc[c->id]->slot[s->nidx];
    void **o = obj;
    if (likely(c->mag)) {
        NSLAB_MAG_OPEN(o);
        if (unlikely(o[1] == (void *)nslab_cookie)) {
            NSLAB_MAG_SHUT(o); /* free already: the slow path says so */
            return 0;
        }
        if (likely(sl->n < c->mag)) {
            o[0] = (void *)sl->head;
            o[1] = (void *)nslab_cookie;
            NSLAB_MAG_SHUT(o);
            /* The link before the head, in program order: what a fork
             * child finds of a thread caught here (lib/owner.c). */
            __atomic_signal_fence(__ATOMIC_RELEASE);
            sl->head = o;
            sl->n++;
            return 1;
        }
        NSLAB_MAG_SHUT(o);
    }
    uint32_t idx = nslab__obj_index(s, c, obj);
    uint32_t w = idx / 64, n = s->nfree + 1;
    uint64_t bit = 1ull << (idx % 64), m = nslab_load_relaxed(&s->freemap[w]);
    if (unlikely((m & bit) != 0 || n - 2 >= s->trip))
        return 0;
    nslab_store_relaxed(&s->freemap[w], m | bit);
    s->nfree = n;
    if (w < s->hint)
        s->hint = w;
    if (c->mag)
        nslab__cookie_set(obj);
    return 1;
}

/* lib/sizeclass.c */
extern const uint32_t nslab_class_size[NSLAB_NCLASSES];
extern uint8_t nslab_class_small[1024 / 8 + 1];
extern uint8_t nslab_class_large[NUMASLAB_MAX_SMALL / 128 + 1];
/* size (<= NUMASLAB_MAX_SMALL) -> class index, by table. */
static inline int nslab__class_of(size_t size)
{
    return size <= 1024 ? nslab_class_small[(size + 7) >> 3] : nslab_class_large[(size + 127) >> 7];
}
int nslab__size_class(size_t size);          /* class index, -1 above the largest */
int nslab__sizeclass_init(void);
int nslab__large_init(void);                 /* nslab_g.lock held */
/* align: 0, or a power of two above the page size that the object's
 * start must be a multiple of. */
void *nslab__large_alloc(size_t size, size_t align, unsigned flags, int node);
/* The same after initialisation, and once more after the thread's cache of
 * freed large objects went back when memory is short. */
void *nslab__large_slow(size_t size, size_t align, unsigned flags, int node);
void nslab__large_free(struct nslab_large *l, void *ptr);
void nslab__large_count(int nidx, const struct nslab_large *l, int sign); /* +1 made, -1 gone */
void nslab__large_release_all(void); /* numaslab_fini, before the caches go */
void nslab__tlc_flush(struct nslab_tstate *ts); /* its cached large objects and leases go back */

/* ------------------------------------------------------------------------
 * lib/mempool.c
 * ---------------------------------------------------------------------- */

/*
 * A mempool.  lock protects everything below it; cond wakes NUMASLAB_WAIT
 * sleepers when an element comes back.
 *   0 <= curr_nr <= cap, curr_nr <= min_nr except while a shrink is under way
 *   out == elements handed out and not yet freed
 */
struct numaslab_mempool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int min_nr, curr_nr, cap;
    void **elements;
    long out;
    int waiters;
    uint64_t used, empty;
    numaslab_pool_alloc_fn alloc_fn;
    numaslab_pool_free_fn free_fn;
    void *pool_data;
    int node;                   /* -1: any */
    size_t elem_bytes;          /* page pools: bytes of one element; else 0 */
    int page_nidx;              /* page pools: dense node index */
};

#define NSLAB_F_FILL 0x80000000u  /* page_alloc: filling a reserve */
int nslab__reserves_init(void);   /* nslab_g.lock held */
void nslab__reserves_fini(void);  /* nslab_g.lock held */
void nslab__mempool_poison_check(struct numaslab_mempool *p, void *elem);

/* ------------------------------------------------------------------------
 * lib/stats.c: snapshots in the layout of include/numaslab-stats.h
 * ---------------------------------------------------------------------- */
struct numaslab_stats_header;
#define NSLAB_STATS_ABSENT 16     /* records for absent node ids that requests named */
uint32_t nslab__stats_node_cap(void);
/* Set h's layout (version, sizes, offsets, caps) for node_cap node and
 * cache_cap cache records; returns the bytes the whole needs.  h is zeroed
 * first; the caller sets the rest of the header. */
size_t nslab__stats_layout(struct numaslab_stats_header *h, uint32_t node_cap,
                           uint32_t cache_cap);
/* Fill h's records and counts from the counters.  nslab_g.lock held. */
void nslab__stats_snapshot(struct numaslab_stats_header *h);
struct numaslab_stats_node_rec;
struct numaslab_stats_cache_rec;
/* One record from the counters, relaxed loads and plain stores (lib/export.c
 * serialises the writers of a record).  write_node leaves the reserve's
 * fields, write_reserve writes them (the pool's lock held); fill_node is
 * both, from zero. */
void nslab__stats_write_node(struct numaslab_stats_node_rec *r, int node);
void nslab__stats_write_node_objects(struct numaslab_stats_node_rec *r, int node);
void nslab__stats_write_cache_objects(struct numaslab_stats_cache_rec *r, struct numaslab_cache *c,
                                      int nidx);
void nslab__stats_write_reserve(struct numaslab_stats_node_rec *r, const struct numaslab_mempool *p);
void nslab__stats_fill_node(struct numaslab_stats_node_rec *r, int node);
void nslab__stats_write_cache(struct numaslab_stats_cache_rec *r, struct numaslab_cache *c, int nidx);
void nslab__stats_write_process(struct numaslab_stats_header *h);

/* ------------------------------------------------------------------------
 * lib/export.c: the statistics segment /dev/shm/numaslab.<pid>, written
 * live by the slow paths that change the figures (no thread, no lock).
 * ---------------------------------------------------------------------- */
void nslab__export_start(void);      /* init_locked, nslab_g.lock held, library ready */
void nslab__export_stop(void);       /* numaslab_fini, nslab_g.lock NOT held */
void nslab__export_fork_child(void); /* the fork child handler, nslab_g.lock NOT held */
/* Write what changed into the segment, when there is one: a node's record
 * (node id), a (cache, node)'s record and its node's, a node reserve's
 * fields (its pool's lock held), the process's cgroup fields; a cache's
 * records made or cleared (nslab_g.lock held). */
void nslab__pub_node(int node);
void nslab__pub_cache(struct numaslab_cache *c, int nidx);
void nslab__pub_cache_counts(struct numaslab_cache *c, int nidx); /* its object counts changed */
/* A free into another thread's slab, counted: written at most once per
 * tick of the coarse clock per thread, the rest at its flush or exit. */
void nslab__pub_remote(struct numaslab_cache *c, int nidx);
void nslab__pub_dirty(struct nslab_tstate *ts); /* what pub_remote left, written now */
void nslab__pub_reserve(struct numaslab_mempool *pool);
void nslab__pub_process(void);
void nslab__pub_cache_new(struct numaslab_cache *c);
void nslab__pub_cache_gone(struct numaslab_cache *c);

/* lib/fault.c: fault injection of ordinary page allocation */
extern int nslab_fail_on;         /* read on the slow path only */
int nslab__fail_now(int node);    /* 1: this page allocation must fail */
void nslab__fail_fork_lock(void);
void nslab__fail_fork_unlock(void);
int nslab__fail_parse(const char *spec);

/* ------------------------------------------------------------------------
 * lib/pages.c: the page layer.  Runs of whole pages bound to one active
 * node, recycled through a bounded cache per node; the only lib/ code that
 * maps and unmaps node memory.
 * ---------------------------------------------------------------------- */
#define NSLAB_HUGE_PAGE ((size_t)2 << 20)
#define NSLAB_PG_NOFAULT 0x1u  /* get: fault injection does not apply (a reserve fill) */
#define NSLAB_PG_NOLIMIT 0x2u  /* get: past the node limit and low watermark (a reserve fill) */
#define NSLAB_PG_HUGE    0x4u  /* get: 2 MiB-aligned, MADV_HUGEPAGE; put: it was */
#define NSLAB_PG_UNMAP   0x8u  /* put: back to the system, not into the cache */
/* bytes (a page multiple) bound to node nidx, faulted in; NULL/ENOMEM when
 * the node is exhausted (its limit, fault injection, the node or the
 * memory cgroup short, the kernel refusing).  *zeroed (may be NULL): 1
 * when the memory is fresh from the kernel, hence zero.  The caller enters
 * the pages in the page map.  Any lock but nslab_g.lock must be free. */
void *nslab__pages_get(int nidx, size_t bytes, unsigned flags, int *zeroed);
/* Give back what nslab__pages_get returned (same nidx and bytes); clears
 * its page map entries. */
/* The same at an align-aligned address (align: 0 or a power of two). */
void *nslab__pages_get_aligned(int nidx, size_t bytes, size_t align, unsigned flags, int *zeroed);
void nslab__pages_put(int nidx, void *p, size_t bytes, unsigned flags);
/* A handed-out run made longer: in place from the free run after it (1,
 * or 0), or moved by remapping (the new address, or NULL; flags:
 * NSLAB_PG_HUGE).  The page map entries are the caller's. */
int nslab__pages_grow(int nidx, void *p, size_t bytes, size_t more);
void *nslab__pages_move(int nidx, void *p, size_t bytes, size_t newbytes, size_t align,
                        unsigned flags);
void nslab__pages_drain(int nidx);   /* unmaps every free run of node nidx */
uint64_t nslab__pages_cached(int nidx); /* bytes of node nidx's free runs */
void nslab__pages_set_retain(uint64_t bytes); /* every node's limit (tests/test-large.c) */
/* Lease bytes of node nidx's retention to a thread's cache: bytes, or 0
 * when the leases would pass half the limit.  Unlease gives them back. */
uint64_t nslab__pages_lease(int nidx, uint64_t bytes);
void nslab__pages_unlease(int nidx, uint64_t bytes);
int nslab__pages_init(void);         /* nslab_g.lock held */
void nslab__pages_fini(void);        /* nslab_g.lock held: unmaps every free run */
void nslab__pages_fork_lock(void);
void nslab__pages_fork_unlock(void);
/* The fork child: the leases are what kept[] (per active node; NULL: none)
 * says the forking thread holds; other threads' leases died with them. */
void nslab__pages_fork_child_leases(const uint64_t *kept);

/* lib/reserve.c: reserve slabs */
void *nslab__cache_alloc_reserve(struct numaslab_cache *c, unsigned flags, int node,
                                 struct numaslab_mempool *pool);
void *nslab__reserve_take(struct numaslab_cache *c, unsigned flags, int node,
                          struct numaslab_mempool *pool);
void nslab__reserve_free(struct nslab_slab *s, void *obj, const char *call);
void nslab__reserve_release(struct numaslab_cache *c, struct nslab_slab *s); /* fini */

#endif /* NSLAB_INTERNAL_H */
