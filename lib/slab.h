/*
 * lib/slab.h - slabs and caches: the slab header, the per-(cache, node)
 * lists of unowned slabs (struct nslab_cache_node), the cache itself, and the
 * calls of lib/slab.c (slabs and their lists), lib/cache.c (caches: their
 * geometry, creation and teardown) and lib/reserve.c (slabs grown from a
 * pool).  The object-index arithmetic the fast paths use is inline here.
 */
#ifndef NSLAB_SLAB_H
#define NSLAB_SLAB_H

#include "lib/base.h"
#include "lib/bitmap.h"
#include "lib/lock.h"

struct nslab_tstate;
struct nslab_thread_node;
struct numaslab_mempool;

/* Memory the pagemap knows: every page of a slab, the first page of a
 * whole-page (large) object.  Both headers start with a type byte. */
enum nslab_type {
    NSLAB_T_SLAB = 1,    /* ordinary slab: its objects may enter thread caches */
    NSLAB_T_LARGE = 2,   /* a whole-page object */
    NSLAB_T_RESERVE = 3, /* slab grown from a pool: critical / mempool requests only */
    NSLAB_T_FREE = 4,    /* an end page of a free run of the page layer (lib/pages.c) */
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
 *   lfree: objects the owner freed into s past its thread's free list
 *     (caches with a list only, lib/thread.h), linked through their first
 *     word, carrying the cookie, most recent first; owner only, NULL
 *     whenever s is unowned (nslab__slab_lfree_drain when it is given back).
 *   nfree == popcount(freemap) + the objects on lfree, by the same writers
 *     as freemap.
 *   freemap[nwords] == 0 always: the fast path's miss when hint reaches it.
 * The remote map starts a cache line of its own, and the objects another:
 * remote freers never write a line the owner writes for its own frees.
 */
struct nslab_slab {
    /* Read by every freer: written when the slab is made, and on slow
     * paths (owner, state, link). */
    uint8_t type;  /* NSLAB_T_SLAB or NSLAB_T_RESERVE */
    uint8_t state; /* NSLAB_L_*: the state counted in the cnode's statistics */
    uint8_t where; /* NSLAB_W_*: which list link is on */
    uint8_t pad0;
    uint32_t magic; /* NSLAB_SLAB_MAGIC */
    struct numaslab_cache *cache;
    char *objs;                 /* first object */
    struct nslab_tstate *owner; /* atomic: the owning thread; NULL while unowned */
    uint32_t nobjs;
    uint32_t nwords;
    uint16_t nidx; /* dense node index */
    /* The owner's free list of (cache, nidx): set with owner by the thread
     * that takes the slab, read only by that thread after it found itself
     * in owner (a stale value while another owns it is never read). */
    struct nslab_thread_node *oslot;
    struct nslab_list link;        /* the owner's lists, or the cnode's */
    struct numaslab_mempool *pool; /* NSLAB_T_RESERVE: where its pages go back */
    uint64_t *rmap;                /* [nwords], cache-line aligned, after freemap */
    /* The serial of the cache whose slab this arena chunk was made for,
     * every object carrying the free cookie: written when the slab is made
     * and left as it is when the slab goes, past the page layer's header
     * of a cached chunk (lib/pages.c), so that a chunk cached by a slab of
     * the same cache is made again without writing its cookies.  A chunk
     * given back to the system reads 0. */
    uint64_t image;
    /* Written by the owner's allocations and frees: a line of its own, so
     * that other threads' frees read the line above without a miss. */
    uint32_t nfree __attribute__((aligned(64)));
    uint32_t hint;      /* lowest freemap word that may have a set bit */
    uint32_t trip;      /* a local free that makes nfree - 2 >= trip (unsigned) takes
                           the slow path: nobjs - 2 off the owner's current slab (it
                           became partial or empty), UINT32_MAX on it */
    uint32_t pub_free;  /* nfree as last counted in the cnode's objects in use */
    void **lfree;       /* the owner's frees past its list (above) */
    uint64_t freemap[]; /* [nwords + 1] */
};

/* Where a slab's link is. */
enum {
    NSLAB_W_NODE = 0,    /* unowned: the cnode's list for its state (or reserve) */
    NSLAB_W_CUR = 1,     /* its owner allocates from it; on no list */
    NSLAB_W_PARTIAL = 2, /* owned, not current, has free objects */
    NSLAB_W_FULL = 3,    /* owned, not current, none free when last looked */
    NSLAB_W_NONE = 4,    /* on no list (being moved) */
};

enum { NSLAB_L_PARTIAL, NSLAB_L_FULL, NSLAB_L_EMPTY };

/*
 * One (cache, active node).  lock protects the lists of unowned slabs and
 * nr_empty, and the reserve list with nr_reserve.  The statistics are
 * relaxed atomics, changed on slow paths by whoever changes a slab's
 * counted state (lib/slab.c, slab_count), read with no lock.
 */
struct nslab_cache_node {
    pthread_mutex_t lock;                   /* NSLAB_RANK_CNODE (lib/lock.h) */
    struct nslab_list partial, full, empty; /* unowned slabs by state */
    uint64_t nr_empty;         /* on empty: the retention (NUMASLAB_RETAIN) counts these */
    struct nslab_list reserve; /* slabs grown from a pool, never empty, full ones last */
    uint64_t nr_reserve;
    uint64_t reserve_inuse; /* objects of reserve slabs handed out */
    /* statistics (atomics) */
    uint64_t st_inuse;    /* objects of ordinary slabs handed out, as last counted */
    uint64_t st_total;    /* objects in all the node's slabs, reserve slabs included */
    uint64_t st_slabs[3]; /* ordinary slabs by counted state, NSLAB_L_* */
} __attribute__((aligned(64)));

struct numaslab_cache {
    /* What the fast paths read, in the first cache line. */
    uint32_t id;       /* index into every thread's cc[] */
    uint32_t size;     /* object stride: obj_size + red zone, rounded to align */
    uint32_t obj_size; /* size asked for */
    uint32_t rot;      /* size = odd << rot */
    uint64_t inv;      /* odd * inv == 1 (mod 2^64) */
    uint32_t mag;      /* objects a thread's free list of it holds per node
                          (struct nslab_thread_node); 0: none, frees go to the map */
    uint32_t nobjs;    /* objects per slab (every slab of the cache: s->nobjs) */
    uint64_t nobjs_q;  /* nobjs, 64 bits wide: what nslab__obj_ok compares with */
    /* The rest: slow paths. */
    char name[NSLAB_NAME_MAX];
    uint32_t align;
    uint32_t slab_bytes;  /* bytes of one slab */
    uint32_t obj_offset;  /* first object's offset in the slab */
    uint32_t span;        /* nobjs * size */
    uint32_t rmap_offset; /* the remote map's offset in the slab */
    uint64_t divmax;      /* UINT64_MAX / size */
    int sizeclass;        /* 1 for the numaslab-<n> caches */
    int dying;            /* atomic: 1 while destroy gathers: empty slabs are unmapped */
    uint64_t serial;      /* this cache's number, never reused in the process (image) */
    void (*ctor)(void *);
    nslab_bitmap_t warned[NSLAB_MASK_WORDS]; /* inactive nodes reported (atomic OR) */
    struct nslab_list link;                  /* in nslab_g.caches, under nslab_g.lock */
    struct nslab_cache_node *cnode;          /* [nactive] */
};

/* Slabs made again from their image, their cookies not written (a
 * relaxed atomic; for the tests). */
extern NSLAB_HIDDEN uint64_t nslab_slab_images;

/* lib/cache.c: caches */
struct numaslab_cache *nslab__cache_new(const char *name, size_t size, size_t align,
                                        void (*ctor)(void *), int sizeclass, unsigned order);
void nslab__cache_release(struct numaslab_cache *c); /* unmap all, free (fini) */
/* Call fn(obj, arg) for every object of c handed out of its slabs.
 * nslab_g.lock held, every thread's slabs of c given back (quiescent). */
void nslab__cache_each(struct numaslab_cache *c, void (*fn)(void *obj, void *arg), void *arg);

/* lib/slab.c: slabs and the cnode lists */
void nslab__slabs_trim(void); /* retained empty slabs go back (a short cgroup) */
/* s goes back to the page layer, uncounted.  keep: its memory may wait in
 * the page layer's cache of its node; 0 unmaps it.  No cnode lock. */
void nslab__slab_destroy(struct numaslab_cache *c, struct nslab_slab *s, int keep);
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
/* Frees of the objects of bits in word w of s, a slab another thread
 * owns: one atomic OR into its remote map, the last touch of s; double
 * frees among them reported.  The objects freed (those not
 * free already); with count, also taken off the objects in use and
 * published (else the caller counts them, nslab__rfreed_apply). */
uint32_t nslab__remote_or(struct numaslab_cache *c, struct nslab_slab *s, uint32_t w, uint64_t bits,
                          const char *call, int count);
/* The same on up to n full unowned slabs of each node, oldest first. */
void nslab__cache_sweep_some(struct numaslab_cache *c, int n);
/* Report a double free for each bit of dup, objects from first on. */
void nslab__report_doubles(struct numaslab_cache *c, const char *call, char *first, uint64_t dup);
/* Count s's state and free objects in the cnode's statistics. */
void nslab__slab_count(struct numaslab_cache *c, struct nslab_slab *s);
/* s's lfree into its free map, nfree recounted from the map (also when
 * lfree is empty); s's owner, or whoever gives s back for a thread that
 * is gone (fork): every entry is checked, and what a thread caught
 * halfway through a push, a take or a fill left is lost (counted in use),
 * not used. */
void nslab__slab_lfree_drain(struct numaslab_cache *c, struct nslab_slab *s);
/* Collect s's remote frees into its free map; returns how many.  The
 * owner, or the cnode lock holder while s is unowned. */
uint32_t nslab__slab_collect(struct numaslab_cache *c, struct nslab_slab *s);
/* Is p the start of an object that is free in s?  A racy peek for the
 * message of a double free from another thread. */
int nslab__slab_is_free(const struct nslab_slab *s, const void *p);

/*
 * ror(off * inv, rot) for p at byte offset off in slab s, with size = odd
 * << rot and inv the inverse of odd modulo 2^64 (Granlund and Montgomery):
 * when off is a multiple of size it is the quotient off / size, with no
 * divide instruction; when it is not, it exceeds divmax = (2^64 - 1) / size.
 */
static inline uint64_t nslab__quot_at(const char *objs, const struct numaslab_cache *c,
                                      const void *p)
{
    uint64_t off = (uint64_t)(uintptr_t)p - (uint64_t)(uintptr_t)objs;
    uint64_t x = off * c->inv;
    return (x >> c->rot) | (x << ((64 - c->rot) & 63));
}
static inline uint64_t nslab__obj_quot(const struct nslab_slab *s, const struct numaslab_cache *c,
                                       const void *p)
{
    return nslab__quot_at(s->objs, c, p);
}

/* Is p the start of an object of slab s (of cache c)?  The quotient above
 * is below nobjs: an offset past the objects (or before them, which wraps)
 * gives a quotient of nobjs or more, and one that is not a multiple of the
 * size gives one above divmax, which is far above nobjs.  Every slab of c
 * has c's nobjs (nslab__slab_init); the 64-bit copy is compared with no
 * widening. */
static inline int nslab__obj_ok(const struct nslab_slab *s, const struct numaslab_cache *c,
                                const void *p)
{
    return nslab__obj_quot(s, c, p) < c->nobjs_q;
}

/* The index in s of an object that passed nslab__obj_ok. */
static inline uint32_t nslab__obj_index(const struct nslab_slab *s, const struct numaslab_cache *c,
                                        const void *p)
{
    return (uint32_t)nslab__obj_quot(s, c, p);
}

/* lib/reserve.c: reserve slabs */
void *nslab__cache_alloc_reserve(struct numaslab_cache *c, unsigned flags, int node,
                                 struct numaslab_mempool *pool);
void *nslab__reserve_take(struct numaslab_cache *c, unsigned flags, int node,
                          struct numaslab_mempool *pool);
void nslab__reserve_free(struct nslab_slab *s, void *obj, const char *call);
void nslab__reserve_release(struct numaslab_cache *c, struct nslab_slab *s); /* fini */

#endif /* NSLAB_SLAB_H */
