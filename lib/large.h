/*
 * lib/large.h - objects above NUMASLAB_MAX_SMALL: whole pages of their
 * node, their header kept apart (struct nslab_large), and each thread's
 * cache of freed ones (struct nslab_large_cache); the calls of lib/large.c, and
 * the size-class tables and calls of lib/sizeclass.c, which sends every
 * request to a class or here.
 */
#ifndef NSLAB_LARGE_H
#define NSLAB_LARGE_H

#include "lib/base.h"

struct nslab_tstate;

#define NSLAB_LARGE_MAGIC 0x1a59e0b5u

/*
 * A large object's header: an object of the internal cache
 * "numaslab-large" on the object's node (lib/large.c), never inside
 * the object, whose pages all lead here in the page map.  type and magic
 * are cleared when the object is freed.
 */
struct nslab_large {
    uint8_t type; /* NSLAB_T_LARGE */
    uint8_t huge; /* 2 MiB-aligned and offered to transparent huge pages */
    uint16_t nidx;
    uint32_t magic; /* NSLAB_LARGE_MAGIC */
    int cached;     /* 1: freed, in a thread's cache (struct nslab_large_cache) */
    void *base;
    size_t bytes; /* its run: size rounded up to whole pages */
    size_t size;  /* asked for */
};

/*
 * A thread's cache of freed large objects of one node (lib/large.c):
 * up to NSLAB_LARGE_CACHE_SLOTS objects of at most NSLAB_LARGE_CACHE_MAX bytes, header,
 * pages and page map entries intact, the most recently freed last.  What
 * it holds is covered by a lease of the node's retention limit
 * (lib/pages.c), so the limit bounds these caches too:
 *   held <= lease;  n <= NSLAB_LARGE_CACHE_SLOTS (< 256)
 * Only its thread touches it, without a lock (numaslab_fini and the
 * thread's exit excepted).
 */
#define NSLAB_LARGE_CACHE_SLOTS 64
#define NSLAB_LARGE_CACHE_MAX   ((size_t)1 << 20)
#define NSLAB_LARGE_CACHE_LEASE ((uint64_t)1 << 20) /* leased at a time: threads hoard little */
#define NSLAB_LARGE_CACHE_UNITS (NSLAB_LARGE_CACHE_MAX >> 12)
struct nslab_large_cache {
    uint64_t nr;    /* held << 8 | n: one store per push or pop */
    uint64_t lease; /* bytes of retention leased from the node */
    struct nslab_large *slot[NSLAB_LARGE_CACHE_SLOTS];
    uint32_t len[NSLAB_LARGE_CACHE_SLOTS]; /* slot[i]->bytes: a search reads no header */
    /* By length in 4 KiB units (every page size is a multiple): how many
     * slots hold that length, and a bit set for each length held. */
    uint8_t nlen[NSLAB_LARGE_CACHE_UNITS + 1];
    uint64_t have[NSLAB_LARGE_CACHE_UNITS / 64 + 1];
};
/* n: objects in slot[]; held: their bytes. */
#define NSLAB_LARGE_CACHE_N(t)       ((uint32_t)((t)->nr & 0xff))
#define NSLAB_LARGE_CACHE_HELD(t)    ((t)->nr >> 8)
#define NSLAB_LARGE_CACHE_ONE(bytes) (((uint64_t)(bytes) << 8) + 1) /* nr of one object */

/* lib/sizeclass.c: size classes */
extern const uint32_t nslab_class_size[NSLAB_NCLASSES];
/* size -> class index by 8 bytes, up to NUMASLAB_MAX_SMALL: one table, so
 * that the fast path looks the size up with no second test. */
extern NSLAB_HIDDEN uint8_t nslab_class_by8[NUMASLAB_MAX_SMALL / 8 + 1];
/* size (<= NUMASLAB_MAX_SMALL) -> class index, by table. */
static inline int nslab__class_of(size_t size)
{
    return nslab_class_by8[(size + 7) >> 3];
}
/* The same to the class's cache, nslab_g.sc[nslab__class_of(size)], in
 * one load for the fast paths.  While the library is not initialised
 * every entry is an empty cache whose id no thread ever has a thread
 * cache of (cc[NSLAB_MAX_CACHES] is nslab_no_tc), so the fast path misses
 * with no test of its own.  Filled once every size class exists, emptied
 * with nslab_g.sc. */
extern NSLAB_HIDDEN struct numaslab_cache *nslab_class_cache[NUMASLAB_MAX_SMALL / 8 + 1];
void nslab__class_cache_clear(void); /* every entry the empty cache; nslab_g.lock held */
static inline struct numaslab_cache *nslab__class_cache(size_t size)
{
    return nslab_class_cache[(size + 7) >> 3];
}
/* The same cache's id, nslab__class_cache(size)->id, in one load with no
 * load before it: what the fast paths index the thread's state with
 * (NSLAB_MAX_CACHES, the empty cache's, while the library is not
 * initialised).  Kept with nslab_class_cache. */
extern NSLAB_HIDDEN uint16_t nslab_class_id[NUMASLAB_MAX_SMALL / 8 + 1];
static inline uint32_t nslab__class_id(size_t size)
{
    return nslab_class_id[(size + 7) >> 3];
}
int nslab__size_class(size_t size); /* class index, -1 above the largest */
int nslab__sizeclass_init(void);

/* lib/large.c: large objects */
int nslab__large_init(void); /* nslab_g.lock held */
/* align: 0, or a power of two above the page size that the object's
 * start must be a multiple of. */
void *nslab__large_alloc(size_t size, size_t align, unsigned flags, int node);
/* The same after initialisation, and once more after the thread's cache of
 * freed large objects went back when memory is short. */
void *nslab__large_slow(size_t size, size_t align, unsigned flags, int node);
void nslab__large_free(struct nslab_large *l, void *ptr);
/* The out-of-line halves of numaslab_alloc_node and numaslab_free
 * (lib/sizeclass.c): a large request, the thread's cache first; a free
 * that missed the slab fast path (a large object, or the long way). */
void *nslab__large_entry(size_t size, unsigned flags, int node);
void nslab__large_free_entry(void *ptr);
/* l counted in node nidx's figures (+1 made, -1 gone); publish: written
 * to the statistics segment too (0 when a page-layer call that writes the
 * node's record follows at once). */
void nslab__large_count(int nidx, const struct nslab_large *l, int sign, int publish);
void nslab__large_release_all(void); /* numaslab_fini, before the caches go */
/* ts's cached large objects and their leases go back. */
void nslab__large_cache_flush(struct nslab_tstate *ts);

#endif /* NSLAB_LARGE_H */
