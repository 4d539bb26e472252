/*
 * lib/large.c - large objects: requests above NUMASLAB_MAX_SMALL, whole
 * pages bound to the node, a run of the page layer (lib/pages.c) each.
 * The header is an object of the internal cache "numaslab-large" on the
 * same node, so that it comes from numaslab's own memory and the object's
 * pages stay the caller's alone.  A freed object's run goes back to the
 * page layer's cache of its node, already bound and faulted in: the next
 * large object there costs no system call.  A freed object of at most
 * NSLAB_LARGE_CACHE_MAX waits first in its thread's cache (struct nslab_large_cache,
 * lib/large.h), within a lease of the node's retention limit, for the next
 * request of that size on that node.
 *
 * Locks: none of its own.  The thread caches are their thread's; the
 * headers' cache locks as every cache does (lib/slab.c), the runs are the
 * page layer's.
 */
#include "lib/internal.h"
#include "lib/debug.h"

#include <stdint.h>
#include <stdlib.h>

static size_t large_page = 4096; /* the page size, set at initialisation */

int nslab__large_init(void)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    large_page = nslab__page_size();
    nslab_g.large_hdr =
        nslab__cache_new("numaslab-large", sizeof(struct nslab_large), 0, NULL, 0, 0);
    return nslab_g.large_hdr ? 0 : -ENOMEM;
}

void nslab__large_count(int nidx, const struct nslab_large *l, int sign, int publish)
{
    struct nslab_node_counters *st = &nslab_g.node_counters[nslab_g.topo.active[nidx]];
    uint64_t huge = l->huge ? l->bytes & ~(uint64_t)(NSLAB_HUGE_PAGE - 1) : 0;
    if (sign > 0) {
        nslab_add_relaxed(&st->large, 1);
        nslab_add_relaxed(&st->large_bytes, l->bytes);
        if (huge)
            nslab_add_relaxed(&st->huge_bytes, huge);
    } else {
        nslab_sub_relaxed(&st->large, 1);
        nslab_sub_relaxed(&st->large_bytes, l->bytes);
        if (huge)
            nslab_sub_relaxed(&st->huge_bytes, huge);
    }
    if (publish)
        nslab__pub_node_pages(nslab_g.topo.active[nidx]);
}

static void large_release(struct nslab_large *l, unsigned pflags);

/* Put freed l on top of t, or take slot i (of n; an object of bytes) out
 * of t, the order filled by moving the top there.  Three stores each: the object's flag,
 * the slot, the count word. */
static inline void large_cache_push(struct nslab_large_cache *t, struct nslab_large *l)
{
    uint32_t n = NSLAB_LARGE_CACHE_N(t), u = (uint32_t)(l->bytes >> 12);
    l->cached = 1;
    t->slot[n] = l;
    t->len[n] = (uint32_t)l->bytes;
    t->nr += NSLAB_LARGE_CACHE_ONE(l->bytes);
    if (t->nlen[u]++ == 0)
        t->have[u / 64] |= 1ull << (u % 64);
}

/* t holds one object of bytes fewer: its count of that length, and the
 * length's bit when none is left. */
static inline void large_len_drop(struct nslab_large_cache *t, size_t bytes)
{
    uint32_t u = (uint32_t)(bytes >> 12);
    if (--t->nlen[u] == 0)
        t->have[u / 64] &= ~(1ull << (u % 64));
}

static inline struct nslab_large *large_cache_remove(struct nslab_large_cache *t, uint32_t i,
                                                     uint32_t n, size_t bytes)
{
    struct nslab_large *l = t->slot[i];
    if (i != n - 1) {
        t->slot[i] = t->slot[n - 1];
        t->len[i] = t->len[n - 1];
    }
    t->nr -= NSLAB_LARGE_CACHE_ONE(bytes);
    large_len_drop(t, bytes);
    l->cached = 0;
    return l;
}

/* The shortest length (4 KiB units) in t from lo to hi, or 0: a word or
 * two of t->have. */
static uint32_t large_cache_fit(const struct nslab_large_cache *t, uint32_t lo, uint32_t hi)
{
    for (uint32_t w = lo / 64; w <= hi / 64; w++) {
        uint64_t m = t->have[w];
        if (w == lo / 64)
            m &= ~0ull << (lo % 64);
        if (m) {
            uint32_t u = w * 64 + (uint32_t)__builtin_ctzll(m);
            return u <= hi ? u : 0;
        }
    }
    return 0;
}

/*
 * The thread's own cache of freed large objects (struct nslab_large_cache): a
 * pair of numaslab_alloc and numaslab_free of one size takes no lock and
 * changes no counter: the object stays as it was, pages faulted in, page
 * map entries pointing at its header.  Its node is the node asked for,
 * as the small objects' fast path resolves it.  nslab__large_entry and
 * nslab__large_free_entry (below) are its fast paths; large_cache_put is
 * the slow path of a free, which may lease more of the node's retention.
 *
 * large_cache_put: keep freed l in the thread's cache: 1, or 0 (the caller
 * gives it back).
 */
static int large_cache_put(struct nslab_large *l)
{
    struct nslab_tstate *ts = nslab_tls;
    if (l->bytes > NSLAB_LARGE_CACHE_MAX || l->huge || ts == &nslab_empty_ts)
        return 0;
    if (!ts->tlc && !(ts->tlc = nslab__calloc_lines((size_t)nslab_g.nactive * sizeof(*ts->tlc))))
        return 0;
    struct nslab_large_cache *t = &ts->tlc[l->nidx];
    if (NSLAB_LARGE_CACHE_N(t) == NSLAB_LARGE_CACHE_SLOTS) {
        /* Full: the oldest goes back to the page layer. */
        struct nslab_large *old = t->slot[0];
        memmove(&t->slot[0], &t->slot[1], sizeof(t->slot[0]) * (NSLAB_LARGE_CACHE_SLOTS - 1));
        memmove(&t->len[0], &t->len[1], sizeof(t->len[0]) * (NSLAB_LARGE_CACHE_SLOTS - 1));
        t->nr -= NSLAB_LARGE_CACHE_ONE(old->bytes);
        large_len_drop(t, old->bytes);
        old->cached = 0;
        large_release(old, 0);
        numaslab_cache_free(nslab_g.large_hdr, old);
    }
    if (NSLAB_LARGE_CACHE_HELD(t) + l->bytes > t->lease) {
        uint64_t want = l->bytes > NSLAB_LARGE_CACHE_LEASE ? l->bytes : NSLAB_LARGE_CACHE_LEASE;
        t->lease += nslab__pages_lease(l->nidx, want);
        if (NSLAB_LARGE_CACHE_HELD(t) + l->bytes > t->lease)
            return 0;
    }
    large_cache_push(t, l);
    return 1;
}

/* nslab_g.lock may be held; nothing else. */
void nslab__large_cache_flush(struct nslab_tstate *ts)
{
    if (!ts->tlc)
        return;
    for (int i = 0; i < nslab_g.nactive; i++) {
        struct nslab_large_cache *t = &ts->tlc[i];
        for (uint32_t n; (n = NSLAB_LARGE_CACHE_N(t)) != 0;) {
            struct nslab_large *l = large_cache_remove(t, n - 1, n, t->slot[n - 1]->bytes);
            large_release(l, 0);
            nslab__cache_free_home(nslab_g.large_hdr, l);
        }
        if (t->lease)
            nslab__pages_unlease(i, t->lease);
        t->lease = 0;
    }
}

void *nslab__large_alloc(size_t size, size_t align, unsigned flags, int node)
{
    size_t page = nslab__page_size();
    /* No mapping of 2^47 bytes exists in a user address space: refused
     * before any counter sees it (they are signed 64-bit sums). */
    if (size >= (size_t)1 << 47) {
        errno = ENOMEM;
        return NULL;
    }
    size_t bytes = (size + page - 1) & ~(page - 1);
    struct nslab_tstate *ts = nslab__tstate();
    if (!ts) {
        errno = ENOMEM;
        return NULL;
    }
    nslab__refresh_local(ts);
    int nidx, rc = nslab__resolve_node(nslab_g.large_warned, "numaslab-large", node, flags, &nidx);
    if (rc) {
        errno = -rc;
        return NULL;
    }
    unsigned pflags = nslab_g.opt.thp && bytes >= NSLAB_HUGE_PAGE ? NSLAB_PG_HUGE : 0;
    int at = nidx, zeroed = 0;
    void *p = nslab__pages_get_aligned(at, bytes, align, pflags, &zeroed);
    if (!p && errno == ENOMEM && nslab_load_relaxed(&nslab_g.cg_head.short_since)) {
        nslab__slabs_trim(); /* a short cgroup: retained empty slabs too */
        p = nslab__pages_get_aligned(at, bytes, align, pflags, &zeroed);
    }
    if (!p && !(flags & NUMASLAB_THISNODE)) {
        const int *order = &nslab_g.topo.order[nidx * nslab_g.nactive];
        for (int k = 1; !p && k < nslab_g.nactive; k++)
            p = nslab__pages_get_aligned(at = order[k], bytes, align, pflags, &zeroed);
        if (p) {
            nslab_add_relaxed(&nslab_g.node_counters[nslab_g.topo.active[nidx]].fallback_out, 1);
            nslab_add_relaxed(&nslab_g.node_counters[nslab_g.topo.active[at]].fallback_in, 1);
            nslab__pub_node(nslab_g.topo.active[nidx]);
            nslab__pub_node(nslab_g.topo.active[at]);
        }
    }
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    /* The header lives on the object's node, from any node if need be:
     * a few bytes of metadata are no reason to fail the object. */
    struct nslab_large *l =
        numaslab_cache_alloc_node(nslab_g.large_hdr, NUMASLAB_NOWARN, nslab_g.topo.active[at]);
    if (!l || nslab__pagemap_set(p, bytes, l)) {
        if (l)
            numaslab_cache_free(nslab_g.large_hdr, l);
        nslab__pages_put(at, p, bytes, pflags);
        errno = ENOMEM;
        return NULL;
    }
    l->type = NSLAB_T_LARGE;
    l->huge = pflags ? 1 : 0;
    l->nidx = (uint16_t)at;
    l->magic = NSLAB_LARGE_MAGIC;
    l->cached = 0;
    l->base = p;
    l->bytes = bytes;
    l->size = size;
    nslab__large_count(at, l, 1, 1);
    if ((flags & NUMASLAB_ZERO) && !zeroed)
        memset(p, 0, size);
    return p;
}

/* Give a large object's run back; the header is the caller's. */
static void large_release(struct nslab_large *l, unsigned pflags)
{
    int nidx = l->nidx;
    l->type = 0;
    l->magic = 0;
    nslab__large_count(nidx, l, -1, 0); /* the page layer writes the node's record */
    nslab__pages_put(nidx, l->base, l->bytes, pflags | (l->huge ? NSLAB_PG_HUGE : 0));
}

__attribute__((noinline)) void nslab__large_free(struct nslab_large *l, void *ptr)
{
    if (ptr != l->base) {
        nslab__bad_free("numaslab_free: %p is inside the large object %p, not its start; ignored",
                        ptr, l->base);
        return;
    }
    if (l->cached) {
        nslab__bad_free("numaslab_free: double free of the large object %p; ignored", ptr);
        return;
    }
    if (large_cache_put(l))
        return;
    large_release(l, 0);
    numaslab_cache_free(nslab_g.large_hdr, l);
}

/* A live object's header is one whose first page leads back to it. */
static void release_one(void *obj, void *arg)
{
    struct nslab_large *l = obj;
    (void)arg;
    /* Objects in threads' array caches are out of bounds to the checkers;
     * every object of the cache goes away with it right after. */
    VALGRIND_MAKE_MEM_DEFINED(l, sizeof(*l));
    nslab_asan_unpoison(l, sizeof(*l));
    if (l->type == NSLAB_T_LARGE && l->magic == NSLAB_LARGE_MAGIC &&
        nslab__pagemap_get(l->base) == l) {
        large_release(l, NSLAB_PG_UNMAP);
        /* The header goes with its cache; the checkers learn it is free. */
        nslab__take_back(nslab_g.large_hdr, l, "numaslab_fini");
    }
}

/* numaslab_fini: every large object, live or not, back to the system.
 * The headers go with their cache, right after.  nslab_g.lock held. */
void nslab__large_release_all(void)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    if (nslab_g.large_hdr)
        nslab__cache_each(nslab_g.large_hdr, release_one, NULL);
}

/* The rest of a large request: initialisation, then the page layer. */
__attribute__((noinline)) void *nslab__large_slow(size_t size, size_t align, unsigned flags,
                                                  int node)
{
    NSLAB_INIT_OR_NULL();
    void *p = nslab__large_alloc(size, align, flags, node);
    if (!p && errno == ENOMEM && nslab_tls->tlc) {
        /* Short: what this thread keeps of freed large objects goes back
         * too (other threads give theirs at their next flush or exit). */
        nslab__large_cache_flush(nslab_tls);
        p = nslab__large_alloc(size, align, flags, node);
    }
    return p;
}

/* Not the most recent free: the rest of the thread's cache, then the
 * long way.  The most recent object of the very size, else the smallest
 * that is at most an eighth or one page larger, whichever is more (its
 * run is then bigger than the request needs, as numaslab_usable_size
 * says).  The page lets requests of a few pages, whose lengths vary by
 * one, find each other's objects: rptest with 2 threads went to the page
 * layer (its lock, often a system call) a quarter less often. */
__attribute__((noinline)) static void *large_search(size_t size, size_t bytes, unsigned flags,
                                                    int node, struct nslab_large_cache *t)
{
    uint32_t n = NSLAB_LARGE_CACHE_N(t), want = (uint32_t)(bytes >> 12);
    uint32_t u = large_cache_fit(t, want, want + (want >= 8 ? want / 8 : 1));
    uint32_t i = n;
    if (u) /* the most recent of that length */
        while (i-- > 0 && t->len[i] != u << 12)
            ;
    if (i < n) {
        struct nslab_large *l = large_cache_remove(t, i, n, t->len[i]);
        l->size = size;
        if (flags & NUMASLAB_ZERO)
            memset(l->base, 0, size);
        return l->base;
    }
    return nslab__large_slow(size, 0, flags, node);
}

/* A large request: the thread's cache of freed large objects first (a
 * thread that has one is past initialisation); its most recent free is
 * taken here with a handful of registers and no call.  After the caller
 * wrote its pages the store buffer is full and every store of the pair
 * waits: only the stores that change something are made. */
__attribute__((noinline)) void *nslab__large_entry(size_t size, unsigned flags, int node)
{
    struct nslab_large_cache *tlc = nslab_tls->tlc;
    if (unlikely(tlc == NULL) || size > NSLAB_LARGE_CACHE_MAX)
        return nslab__large_slow(size, 0, flags, node);
    int nidx;
    if (node == NUMASLAB_NODE_LOCAL)
        nidx = nslab__local_nidx();
    else if ((unsigned)node < (unsigned)nslab_g.possible)
        nidx = nslab_g.node_nidx[node];
    else
        return nslab__large_slow(size, 0, flags, node);
    if (nidx < 0)
        return nslab__large_slow(size, 0, flags, node);
    struct nslab_large_cache *t = &tlc[nidx];
    size_t bytes = (size + large_page - 1) & ~(large_page - 1);
    uint32_t n = NSLAB_LARGE_CACHE_N(t);
    if (likely(n != 0) && t->len[n - 1] == bytes && !(flags & NUMASLAB_ZERO)) {
        struct nslab_large *top = large_cache_remove(t, n - 1, n, bytes);
        if (top->size != size)
            top->size = size;
        return top->base;
    }
    return large_search(size, bytes, flags, node, t);
}

/* Everything numaslab_free's fast path does not take: a large object
 * goes straight to its own path.  Out of line, so that the fast path's
 * code is what it is without large objects. */
__attribute__((noinline)) static void free_other_slow(void *ptr)
{
    void *h = nslab__pagemap_get(ptr);
    if (h && *(uint8_t *)h == NSLAB_T_LARGE)
        nslab__large_free(h, ptr);
    else
        nslab__cache_free_slow(NULL, ptr, "numaslab_free");
}

/* Everything numaslab_free's fast path does not take.  Out of line, so
 * that the fast path's code is what it is without large objects; a large
 * object the thread's cache has room for (within its lease) goes there
 * at once, the rest takes the long way. */
__attribute__((noinline)) void nslab__large_free_entry(void *ptr)
{
    struct nslab_large *l = nslab__pagemap_get(ptr);
    struct nslab_large_cache *tlc = nslab_tls->tlc;
    if (l && l->type == NSLAB_T_LARGE && ptr == l->base && !l->cached && tlc &&
        l->bytes <= NSLAB_LARGE_CACHE_MAX && !l->huge) {
        struct nslab_large_cache *t = &tlc[l->nidx];
        if (likely(NSLAB_LARGE_CACHE_N(t) < NSLAB_LARGE_CACHE_SLOTS &&
                   NSLAB_LARGE_CACHE_HELD(t) + l->bytes <= t->lease)) {
            large_cache_push(t, l);
            return;
        }
    }
    free_other_slow(ptr);
}
