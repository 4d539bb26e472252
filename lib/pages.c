/*
 * lib/pages.c - the page layer: runs of whole pages bound to one node,
 * and each node's cache of free runs in front of the system (what faces
 * the system, charging, mapping and unmapping, is lib/pagesys.c).
 *
 * Everything numaslab keeps on a node comes from here and goes back here:
 * slabs (lib/slab.c), large objects (lib/large.c), page pools and the
 * node reserves (lib/pagepool.c, lib/nodereserve.c).  No other lib/ file
 * maps, binds, populates or unmaps node memory; the system calls
 * themselves are numa/bind.c's.  The layer is where "the node is short" is decided
 * (lib/headroom.c is asked before anything is faulted in) and where memory
 * goes back to the system.
 *
 * Design.  A run freed by its user is not unmapped: it stays bound to its
 * node and faulted in, in that node's cache of free runs, so that the next
 * request of that node costs no system call and no page zeroing.  Each
 * node's cache is
 *   - bins of free runs by size in pages: one bin per page count up to 64
 *     pages, then four bins per power of two; a bitmap tells the bins
 *     that hold something.  A request takes the first run that fits from
 *     the smallest bin that may hold one, and splits it: what is left
 *     stays cached.
 *   - coalescing: a freed run merges with the free runs of the same node
 *     that end where it starts and start where it ends, found through the
 *     page map (below).  Runs of two mappings that the kernel happened to
 *     place side by side merge too: munmap and mbind work across them.
 *   - a retention limit, NUMASLAB_RETAIN_BYTES per node: when a free
 *     makes the cache exceed it, the runs freed longest ago are unmapped
 *     (the oldest one only in part when that suffices), on that free.
 *     There is no background thread.  A node or memory cgroup that is short
 *     (lib/headroom.c) gets freed runs unmapped at once, and a request
 *     that finds it short gives the cache back before it retries.
 *
 * Invariants (node n, its lock held):
 *   - the first and the last page of every free run of n are entered in
 *     the page map as &pnode[n].mark (type NSLAB_T_FREE), its other pages
 *     as NULL; no page of anything else is marked.  Only those two pages
 *     are ever looked at to coalesce (the page just before a freed run is
 *     the last page of whatever precedes it), so marking costs two
 *     entries, not one per page;
 *   - a free run starts with its struct nslab_run and its last word points
 *     to that header (the footer that coalescing with the run after it
 *     finds its start by);
 *   - two free runs of one node never touch: they would have merged;
 *   - cached == the sum of the bytes of n's free runs, and
 *     cached + leased <= retain, except between a free's insertion and its
 *     evictions, under the lock (leased: what threads' caches of freed
 *     large objects may hold, lib/large.c; at most retain / 2);
 *   - free runs stay counted in the node's bytes_mapped and in the
 *     headroom's bytes mapped: they are the process's memory until
 *     unmapped.
 * Placement: a run of node A is only ever handed to a request for node A;
 * splitting and coalescing never cross nodes (the marks are per node).
 * Fallback to another node is the callers' decision, as numaslab(7) says.
 *
 * Locks: pnode[n].lock (rank NSLAB_RANK_PAGES, lib/lock.h) protects node
 * n's bins, age list and counters.  It is taken with no lock held but, at
 * most, nslab_g.lock (slabs are made and given up outside the cnode
 * locks, pools call their allocator outside the pool lock); under it only
 * the page map's entries are written and, should a leaf be missing, the
 * page map's lock taken (a run's pages were entered before, so in
 * practice never).  The mapping and unmapping system calls run outside
 * it, but those that open the arena's spans and the regions for fresh
 * runs (a few per 2 MiB or 64 MiB: arena_carve, region_carve).
 *
 * Huge pages: a request with NSLAB_PG_HUGE gets a 2 MiB-aligned run and
 * MADV_HUGEPAGE on it (a cached run that was not advised is advised when
 * handed out).
 *
 * The slab arena (lib/pages.h).  One reservation made at initialisation,
 * nactive spans of span bytes, span a power of two fitted to the largest
 * node (1 GiB to 64 GiB, halved until the kernel grants it), span i bound
 * to active node i.  A request with NSLAB_PG_SLAB for NSLAB_MIN_SLAB bytes
 * takes a chunk of its node's span: a cached one, else one given back to
 * the system before (the clean stack), else the next one never used
 * (bump); only when the span is used up does it get an ordinary mapping.
 * The reservation is read-only but for the part below each span's open
 * mark, which follows the bump ARENA_STEP at a time: reads of chunks
 * never used see zeros, and mlockall locks memory only where the bump
 * has been, not the whole reservation (MADV_DONTNEED fails on locked
 * pages: a chunk given back is zeroed instead, and stays resident).
 * A chunk freed is cached as a free run of its own: on the age list, so
 * that the retention and the drains of a short node treat it as any run,
 * and on arena_free instead of a bin, never split, never coalesced, never
 * marked in the page map (a neighbour's coalescing cannot see it).  A
 * chunk evicted is given back with MADV_DONTNEED and its index pushed on
 * the clean stack: the span stays reserved and bound, and reads as zeros.
 * Invariants (node n, its lock held): every chunk of n's span below bump
 * is a slab, on arena_free, or on the clean stack, exactly one of these;
 * cached counts arena_free's chunks too.
 */
#include "lib/internal.h"
#include "lib/debug.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define NBINS        184   /* enough for a run of 2^47 bytes (bin_of) */
#define SCAN_MAX     32    /* runs looked at per bin before the next bin */
#define EVICT_BATCH  16    /* ranges unmapped after one unlock */
#define ARENA_BIN    NBINS /* the bin field of a cached arena chunk: in no bin */
#define ARENA_MIN    ((size_t)1 << 30)
#define ARENA_MAX    ((size_t)64 << 30)
#define ARENA_FLOOR  ((size_t)256 << 20) /* the smallest span tried */
#define ARENA_STEP   ((size_t)2 << 20)   /* made writable at a time */
#define REGION_BYTES ((size_t)64 << 20)  /* one node region's address space */
#define REGION_MAX   ((size_t)256 << 10) /* the largest run a region serves */

/* A free run's header, at its first byte. */
struct nslab_run {
    uint8_t type; /* NSLAB_T_FREE */
    uint8_t huge; /* 1: all of it was offered to transparent huge pages */
    uint16_t nidx;
    uint32_t bin;
    size_t bytes;
    struct nslab_list bin_link; /* in its bin, most recently inserted first */
    struct nslab_list age_link; /* in the node's age list, most recently freed first */
};
/* A cached arena chunk keeps its slab's image past its run header. */
_Static_assert(offsetof(struct nslab_slab, image) >= sizeof(struct nslab_run),
               "a cached chunk's run header covers the slab's image");

/* What the page map shows for every page of node nidx's free runs: a
 * reader that looks an address up sees a type that is neither a slab nor
 * a large object (lib/slab.h), and nothing it could dereference
 * further. */
struct nslab_freemark {
    uint8_t type; /* NSLAB_T_FREE */
    uint8_t pad;
    uint16_t nidx;
};

struct nslab_page_node {
    pthread_mutex_t lock; /* NSLAB_RANK_PAGES: protects everything below but the mark */
    struct nslab_list bin[NBINS];
    nslab_bitmap_t binmap[NSLAB_BITMAP_WORDS(NBINS)]; /* bit b set: bin[b] is not empty */
    struct nslab_list age;
    uint64_t cached; /* bytes of free runs; relaxed atomic stores, read as a hint */
    uint64_t retain; /* the most cached + leased may hold */
    uint64_t leased; /* retention leased to threads' caches of large objects */
    struct nslab_freemark mark;
    /* The node's span of the slab arena; lo NULL: none. */
    char *arena_lo, *arena_hi;
    char *arena_bump; /* chunks from here on were never used */
    char *arena_open; /* bump <= open <= hi: writable below, read-only from here */
    char *rec_open;   /* the records of the chunks below open are writable up to here */
    uint32_t *clean;  /* [nclean]: indexes from lo of chunks given back */
    uint32_t nclean;
    struct nslab_list arena_free; /* cached chunks (their runs' bin_link), newest first */
    /* The node's region for fresh runs (region_carve); bump NULL: none
     * yet.  Used below bump, writable below open, read-only up to hi.
     * reg_off: the system refused one (reserving, binding or opening),
     * and fresh runs are mapped alone from then on. */
    char *reg_bump, *reg_open, *reg_hi;
    int reg_off;
} __attribute__((aligned(64)));

static struct nslab_page_node *pnode; /* [nactive] */
struct nslab_arena nslab_arena;
static size_t arena_span;   /* bytes of one node's span */
static size_t region_bytes; /* one region's, fitted to the span (arena_init) */
static size_t page_bytes;
static unsigned page_shift;

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Bin of a run of n pages (n >= 1): n - 1 up to 64 pages, then four bins
 * per power of two.  Monotonic in n; every run of bin b + 1 and above is
 * larger than every run of bin b. */
static unsigned bin_of(size_t n)
{
    if (n <= 64)
        return (unsigned)n - 1;
    unsigned l = 63u - (unsigned)__builtin_clzll((unsigned long long)n); /* >= 6 */
    unsigned b = 64 + (l - 6) * 4 + (unsigned)((n >> (l - 2)) & 3);
    return b < NBINS ? b : NBINS - 1;
}

/* ------------------------------------------------------------------------
 * Free runs
 * ---------------------------------------------------------------------- */

/* While a run is cached, all of it but its header and footer is out of
 * bounds to memcheck and ASan: a stale pointer into memory that went back
 * here is reported, as it would fault had the memory been unmapped. */
static void run_hide(char *p, size_t bytes)
{
    size_t h = sizeof(struct nslab_run), f = sizeof(void *);
    if (bytes > h + f) {
        VALGRIND_MAKE_MEM_NOACCESS(p + h, bytes - h - f);
        nslab_asan_poison(p + h, bytes - h - f);
    }
}

static void run_show(char *p, size_t bytes)
{
    VALGRIND_MAKE_MEM_UNDEFINED(p, bytes);
    nslab_asan_unpoison(p, bytes);
}

static void bin_add(struct nslab_page_node *pn, struct nslab_run *r)
{
    unsigned b = bin_of(r->bytes >> page_shift);
    r->bin = b;
    nslab_list_add(&pn->bin[b], &r->bin_link);
    nslab__bit_set(pn->binmap, b);
}

static void bin_del(struct nslab_page_node *pn, struct nslab_run *r)
{
    nslab_list_del(&r->bin_link);
    if (nslab_list_empty(&pn->bin[r->bin]))
        nslab__bit_clear(pn->binmap, r->bin);
}

/* Enter the first and last page of [p, p+bytes) as mark (0), or clear
 * them (mark NULL).  -ENOMEM when a page map leaf cannot be made. */
static int pm_ends(char *p, size_t bytes, void *mark)
{
    if (nslab__pagemap_set(p, page_bytes, mark))
        return -ENOMEM;
    if (bytes > page_bytes && nslab__pagemap_set(p + bytes - page_bytes, page_bytes, mark)) {
        nslab__pagemap_clear(p, page_bytes);
        return -ENOMEM;
    }
    return 0;
}

/* Write run r's header and footer, mark its ends and enter it in a bin.
 * The page map leaves of its pages exist (they were entered before).
 * The age link is the caller's. */
static struct nslab_run *run_make(struct nslab_page_node *pn, int nidx, char *p, size_t bytes,
                                  int huge)
{
    struct nslab_run *r = (struct nslab_run *)p;
    pm_ends(p, bytes, &pn->mark);
    nslab_asan_unpoison(p, sizeof(*r));
    nslab_asan_unpoison(p + bytes - sizeof(void *), sizeof(void *));
    VALGRIND_MAKE_MEM_UNDEFINED(p, sizeof(*r));
    VALGRIND_MAKE_MEM_UNDEFINED(p + bytes - sizeof(void *), sizeof(void *));
    r->type = NSLAB_T_FREE;
    r->huge = (uint8_t)huge;
    r->nidx = (uint16_t)nidx;
    r->bytes = bytes;
    *(struct nslab_run **)(p + bytes - sizeof(void *)) = r;
    bin_add(pn, r);
    return r;
}

/* Take r out of its bin and the age list, and clear its ends' marks: its
 * pages are about to be handed out, merged or unmapped.  r's header stays
 * readable until the caller reuses the memory. */
static void run_forget(struct nslab_page_node *pn, struct nslab_run *r)
{
    if (r->bin == ARENA_BIN) { /* an arena chunk: unmarked, on arena_free */
        nslab_list_del(&r->bin_link);
        nslab_list_del(&r->age_link);
        return;
    }
    bin_del(pn, r);
    nslab_list_del(&r->age_link);
    pm_ends((char *)r, r->bytes, NULL);
}

/* The first free run of pn that holds bytes at an align-aligned address;
 * *at is that address.  NULL when none does.  Lock held. */
static struct nslab_run *find_fit(struct nslab_page_node *pn, size_t bytes, size_t align, char **at)
{
    NSLAB_ASSERT_HELD(&pn->lock);
    for (unsigned b = nslab__bit_next(pn->binmap, bin_of(bytes >> page_shift), NBINS); b < NBINS;
         b = nslab__bit_next(pn->binmap, b + 1, NBINS)) {
        int scanned = 0;
        for (struct nslab_list *l = pn->bin[b].next; l != &pn->bin[b] && scanned < SCAN_MAX;
             l = l->next, scanned++) {
            struct nslab_run *r = nslab_container_of(l, struct nslab_run, bin_link);
            char *s = (char *)(((uintptr_t)r + align - 1) & ~(uintptr_t)(align - 1));
            if (s + bytes <= (char *)r + r->bytes) {
                *at = s;
                return r;
            }
        }
    }
    return NULL;
}

/* Take bytes at an align-aligned address from node nidx's free runs:
 * the address, or NULL.  *huge: the run handed out was advised.  Takes
 * the node's lock. */
static void *cache_take(int nidx, size_t bytes, size_t align, int *huge)
{
    struct nslab_page_node *pn = &pnode[nidx];
    char *s = NULL;
    nslab__lock(&pn->lock, NSLAB_RANK_PAGES);
    struct nslab_run *r = find_fit(pn, bytes, align, &s);
    if (r) {
        char *base = (char *)r, *end = base + r->bytes;
        int h = r->huge;
        /* What is left on either side stays cached, as old as the run was:
         * in its place in the age list. */
        struct nslab_list *older = r->age_link.prev;
        run_forget(pn, r);
        if (s > base) {
            struct nslab_run *head = run_make(pn, nidx, base, (size_t)(s - base), h);
            nslab_list_add(older, &head->age_link);
        }
        if (s + bytes < end) {
            struct nslab_run *tail = run_make(pn, nidx, s + bytes, (size_t)(end - s - bytes), h);
            nslab_list_add(older, &tail->age_link);
        }
        nslab_store_relaxed(&pn->cached, pn->cached - bytes);
        *huge = h;
    }
    nslab__unlock(&pn->lock, NSLAB_RANK_PAGES);
    return r ? s : NULL;
}

struct evicted {
    char *p;
    size_t bytes;
};

/* Detach the oldest free runs of pn until it holds at most keep bytes, up
 * to EVICT_BATCH ranges into out[]; clears their page map entries.  Lock
 * held.  Returns the number of ranges. */
static int evict(struct nslab_page_node *pn, uint64_t keep, struct evicted *out)
{
    NSLAB_ASSERT_HELD(&pn->lock);
    int n = 0;
    while (pn->cached > keep && n < EVICT_BATCH && !nslab_list_empty(&pn->age)) {
        struct nslab_run *r = nslab_container_of(pn->age.prev, struct nslab_run, age_link);
        size_t cut = round_up((size_t)(pn->cached - keep), page_bytes);
        char *base = (char *)r;
        run_forget(pn, r);
        if (cut >= r->bytes || r->bin == ARENA_BIN) { /* an arena chunk goes whole */
            cut = r->bytes;
            out[n].p = base;
        } else {
            /* Only its end: the rest stays, as old as it was. */
            size_t left = r->bytes - cut;
            struct nslab_run *rest = run_make(pn, r->nidx, base, left, r->huge);
            nslab_list_add_tail(&pn->age, &rest->age_link);
            out[n].p = base + left;
        }
        out[n].bytes = cut;
        nslab_store_relaxed(&pn->cached, pn->cached - cut);
        n++;
    }
    return n;
}

static void arena_release(int nidx, char *p, size_t bytes);

static void unmap_evicted(int nidx, struct evicted *ev, int n)
{
    for (int i = 0; i < n; i++) {
        run_show(ev[i].p, ev[i].bytes);
        if (nslab__in_arena(ev[i].p))
            arena_release(nidx, ev[i].p, ev[i].bytes);
        else
            nslab__pages_unmap_range(nidx, ev[i].p, ev[i].bytes);
    }
}

/* What pn's cache may hold: its limit less what threads' caches leased. */
static uint64_t cache_keep(const struct nslab_page_node *pn)
{
    return pn->retain > pn->leased ? pn->retain - pn->leased : 0;
}

/* Give node nidx's cache down to keep bytes back to the system. */
static void trim_to(int nidx, uint64_t keep)
{
    struct nslab_page_node *pn = &pnode[nidx];
    struct evicted ev[EVICT_BATCH];
    while (nslab_load_relaxed(&pn->cached) > keep) {
        nslab__lock(&pn->lock, NSLAB_RANK_PAGES);
        int n = evict(pn, keep, ev);
        nslab__unlock(&pn->lock, NSLAB_RANK_PAGES);
        if (!n)
            break;
        unmap_evicted(nidx, ev, n);
    }
}

/* r, a free run of node nidx in its bin (or on arena_free), enters the
 * age list, add more bytes are cached, and the runs freed longest ago go
 * while the cache is over its limit.  The node's lock is held, and
 * released here. */
static void cache_admit(int nidx, struct nslab_run *r, size_t add)
{
    struct nslab_page_node *pn = &pnode[nidx];
    struct evicted ev[EVICT_BATCH];
    nslab_list_add(&pn->age, &r->age_link);
    nslab_store_relaxed(&pn->cached, pn->cached + add);
    run_hide((char *)r, r->bytes);
    uint64_t keep = cache_keep(pn);
    int n = pn->cached > keep ? evict(pn, keep, ev) : 0;
    nslab__unlock(&pn->lock, NSLAB_RANK_PAGES);
    unmap_evicted(nidx, ev, n);
    /* One batch may not have been enough (many small old runs): the rest
     * goes now, on this free, so that the limit holds after every call. */
    if (n == EVICT_BATCH && nslab_load_relaxed(&pn->cached) > keep)
        trim_to(nidx, keep);
}

static void pages_drain(int nidx)
{
    if (pnode)
        trim_to(nidx, 0);
}

/* Is node nidx, or the memory cgroup, short at the last decision? */
static int running_short(int nidx)
{
    return nslab_load_relaxed(&nslab_g.head[nidx].short_since) ||
           nslab_load_relaxed(&nslab_g.cg_head.short_since);
}

/* ------------------------------------------------------------------------
 * The slab arena
 * ---------------------------------------------------------------------- */

/* A cached chunk of node nidx's span, or NULL.  Takes the node's lock. */
static char *arena_take(int nidx)
{
    struct nslab_page_node *pn = &pnode[nidx];
    struct nslab_run *r = NULL;
    nslab__lock(&pn->lock, NSLAB_RANK_PAGES);
    if (!nslab_list_empty(&pn->arena_free)) {
        r = nslab_container_of(pn->arena_free.next, struct nslab_run, bin_link);
        run_forget(pn, r);
        nslab_store_relaxed(&pn->cached, pn->cached - r->bytes);
    }
    nslab__unlock(&pn->lock, NSLAB_RANK_PAGES);
    return (char *)r;
}

/* The records of pn's chunks below end made writable, a page at a time
 * as they get there (the table is read-only, as the reservation is, for
 * mlockall's sake): 0, or -ENOMEM.  pn's lock held.  A page may hold
 * records of two nodes' chunks (a small span): opening it twice is
 * harmless. */
static int arena_open_recs(struct nslab_page_node *pn, char *end)
{
    char *hi = (char *)round_up((uintptr_t)nslab__arena_rec(end - 1) + sizeof(struct nslab_chunk),
                                page_bytes);
    if (hi <= pn->rec_open)
        return 0;
    char *lo = (char *)((uintptr_t)nslab__arena_rec(pn->arena_open) & ~(uintptr_t)(page_bytes - 1));
    if (lo < pn->rec_open)
        lo = pn->rec_open;
    if (nslab__pages_open(lo, (size_t)(hi - lo)) != 0)
        return -ENOMEM;
    pn->rec_open = hi;
    return 0;
}

/* A chunk of node nidx's span that holds nothing (given back before, or
 * never used), or NULL when the span is used up.  Takes the node's lock. */
static char *arena_carve(int nidx)
{
    struct nslab_page_node *pn = &pnode[nidx];
    char *p = NULL;
    nslab__lock(&pn->lock, NSLAB_RANK_PAGES);
    if (pn->nclean)
        p = pn->arena_lo + (size_t)pn->clean[--pn->nclean] * NSLAB_MIN_SLAB;
    else if (pn->arena_bump < pn->arena_hi) {
        /* The span is writable ARENA_STEP at a time, as the bump gets
         * there: two system calls (madvise, mprotect) per 32 chunks, under
         * the lock (no fault but under mlockall).  A refusal (the commit limit under strict
         * overcommit, RLIMIT_DATA) ends the span there. */
        if (pn->arena_bump == pn->arena_open) {
            size_t step = (size_t)(pn->arena_hi - pn->arena_open);
            step = step < ARENA_STEP ? step : ARENA_STEP;
            if (arena_open_recs(pn, pn->arena_open + step) == 0 &&
                nslab__pages_open(pn->arena_open, step) == 0)
                pn->arena_open += step;
            else
                pn->arena_hi = pn->arena_open;
        }
        if (pn->arena_bump < pn->arena_open) {
            p = pn->arena_bump;
            pn->arena_bump += NSLAB_MIN_SLAB;
        }
    }
    nslab__unlock(&pn->lock, NSLAB_RANK_PAGES);
    return p;
}

/* Chunk p of node nidx's span holds nothing: onto the clean stack. */
static void arena_unused(int nidx, char *p)
{
    struct nslab_page_node *pn = &pnode[nidx];
    nslab__lock(&pn->lock, NSLAB_RANK_PAGES);
    pn->clean[pn->nclean++] = (uint32_t)((size_t)(p - pn->arena_lo) / NSLAB_MIN_SLAB);
    nslab__unlock(&pn->lock, NSLAB_RANK_PAGES);
}

/* A chunk of node nidx's span, faulted in and charged: 0 and *out, or
 * -ENOMEM with *why (the node or the cgroup short), or -ENOSPC when the
 * span is used up. */
static int arena_fresh(int nidx, unsigned flags, char **out, int *why)
{
    char *p = arena_carve(nidx);
    if (!p)
        return -ENOSPC;
    if (nslab__pages_arena_fill(nidx, p, NSLAB_MIN_SLAB, flags, why)) {
        arena_unused(nidx, p);
        return -ENOMEM;
    }
    *out = p;
    return 0;
}

/* A chunk of node nidx, no longer cached, back to the system. */
static void arena_release(int nidx, char *p, size_t bytes)
{
    nslab__pages_arena_release(nidx, p, bytes);
    arena_unused(nidx, p);
}

/* A chunk of node nidx's span freed: cached as a run of its own, or given
 * back at once (flags NSLAB_PG_UNMAP, no retention, a short node). */
static void arena_put(int nidx, char *p, size_t bytes, unsigned flags, int now)
{
    struct nslab_page_node *pn = &pnode[nidx];
    nslab__pagemap_clear(p, bytes);
    if ((flags & NSLAB_PG_UNMAP) || now) {
        arena_release(nidx, p, bytes);
        return;
    }
    struct nslab_run *r = (struct nslab_run *)p;
    nslab_asan_unpoison(p, sizeof(*r));
    VALGRIND_MAKE_MEM_UNDEFINED(p, sizeof(*r));
    r->type = NSLAB_T_FREE;
    r->huge = 0;
    r->nidx = (uint16_t)nidx;
    r->bin = ARENA_BIN;
    r->bytes = bytes;
    nslab__lock(&pn->lock, NSLAB_RANK_PAGES);
    nslab_list_add(&pn->arena_free, &r->bin_link);
    cache_admit(nidx, r, bytes);
}

/* The span for nactive nodes: a power of two fitted to the largest. */
static size_t arena_span_for(void)
{
    uint64_t most = 0;
    for (int i = 0; i < nslab_g.nactive; i++) {
        uint64_t m = nslab_g.topo.node[nslab_g.topo.active[i]].memory;
        most = m > most ? m : most;
    }
    size_t span = ARENA_MIN;
    while (span < most && span < ARENA_MAX)
        span <<= 1;
    return span;
}

/* Is the kernel's overcommit policy strict (vm.overcommit_memory 2)?
 * There MAP_NORESERVE is ignored and the reservation would be charged to
 * the commit limit whole. */
static int overcommit_strict(void)
{
    char c = 0;
    int fd = open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (read(fd, &c, 1) != 1)
        c = 0;
    close(fd);
    return c == '2';
}

/* Reserve the arena and bind its spans; no arena when NUMASLAB_ARENA is
 * 0, or when the kernel grants no reservation.  By default none under a
 * strict overcommit policy either, and under a finite RLIMIT_AS or
 * RLIMIT_DATA (which counts private writable mappings, reserved or not)
 * at most a quarter of the limit, so that what the process was given
 * stays for its own use. */
static void arena_init(void)
{
    int n = nslab_g.nactive;
    char *base = NULL;
    size_t span = nslab_g.opt.arena, floor = ARENA_FLOOR;
    if (span == 0)
        return;
    if (span == NSLAB_ARENA_AUTO) {
        if (overcommit_strict())
            return;
        span = arena_span_for();
        static const int limits[] = {RLIMIT_AS, RLIMIT_DATA};
        for (int k = 0; k < 2; k++) {
            struct rlimit r;
            if (getrlimit(limits[k], &r) == 0 && r.rlim_cur != RLIM_INFINITY)
                while (span >= floor && span > r.rlim_cur / 4 / (size_t)n)
                    span >>= 1;
        }
    } else {
        span &= ~(size_t)(NSLAB_MIN_SLAB - 1); /* whole chunks: what was asked for, or less */
        floor = span ? span : 1;
    }
    for (; span >= floor && span >= NSLAB_MIN_SLAB; span >>= 1)
        if (span * (size_t)n / (size_t)n == span &&
            (base = nslab__pages_reserve_lazy(span * (size_t)n, NSLAB_MIN_SLAB)))
            break;
    if (!base)
        return;
    size_t nchunks = span / NSLAB_MIN_SLAB;
    size_t recs = round_up(nchunks * (size_t)n * sizeof(struct nslab_chunk), page_bytes);
    struct nslab_chunk *chunks = nslab__pages_reserve_lazy(recs, page_bytes);
    if (!chunks) {
        nslab__pages_unmap(base, span * (size_t)n);
        return;
    }
    for (int i = 0; i < n; i++) {
        struct nslab_page_node *pn = &pnode[i];
        char *lo = base + (size_t)i * span;
        /* A node the kernel refuses keeps no span: its slabs are mapped
         * one by one, and refused there as they would be here. */
        if (nslab__pages_bind(nslab_g.topo.active[i], lo, span))
            continue;
        pn->clean = nslab__pages_reserve(round_up(nchunks * sizeof(uint32_t), page_bytes), 0);
        if (!pn->clean)
            continue;
        pn->arena_lo = pn->arena_bump = pn->arena_open = lo;
        pn->arena_hi = lo + span;
        pn->rec_open =
            (char *)((uintptr_t)(chunks + (size_t)i * nchunks) & ~(uintptr_t)(page_bytes - 1));
    }
    arena_span = span;
    /* A region is no larger than a span: NUMASLAB_ARENA and the limits
     * that fit the span bound the regions' address space too. */
    region_bytes = span < REGION_BYTES ? span : REGION_BYTES;
    nslab_arena.chunks = chunks;
    nslab_arena.base = (uintptr_t)base;
    /* bytes last: a free racing with initialisation sees no arena, or
     * the whole of it. */
    nslab_store_release(&nslab_arena.bytes, span * (size_t)n);
}

static void arena_fini(void)
{
    if (!nslab_arena.bytes)
        return;
    for (int i = 0; i < nslab_g.nactive; i++)
        if (pnode[i].clean)
            nslab__pages_unmap(
                pnode[i].clean,
                round_up(arena_span / NSLAB_MIN_SLAB * sizeof(uint32_t), page_bytes));
    nslab__pages_unmap(
        nslab_arena.chunks,
        round_up(nslab_arena.bytes / NSLAB_MIN_SLAB * sizeof(struct nslab_chunk), page_bytes));
    nslab__pages_unmap((void *)nslab_arena.base, nslab_arena.bytes);
    nslab_arena.base = nslab_arena.bytes = 0;
    nslab_arena.chunks = NULL;
}

/* ------------------------------------------------------------------------
 * The layer's calls (lib/pages.h)
 * ---------------------------------------------------------------------- */

/* Could giving the caches back let bytes be mapped, by the last
 * readings?  A request larger than everything there is (a size typed
 * wrong) must not empty every node's cache on its way to ENOMEM. */
static int could_fit(int nidx, size_t bytes, int why)
{
    const struct nslab_headroom *h =
        why == NSLAB_SHORT_CGROUP ? &nslab_g.cg_head : &nslab_g.head[nidx];
    if (!nslab_load_relaxed(&h->known))
        return 1;
    int64_t room = nslab__headroom_left(h);
    uint64_t cached = 0;
    for (int i = 0; i < nslab_g.nactive; i++)
        if (why == NSLAB_SHORT_CGROUP || i == nidx)
            cached += nslab_load_relaxed(&pnode[i].cached);
    return room < 0 ? cached >= bytes : (uint64_t)room + cached >= bytes;
}

static void *pages_get(int nidx, size_t bytes, size_t align, unsigned flags, int *zeroed);

/*
 * Each node's region for fresh runs.  A run that no cached one serves
 * used to be a mapping of its own: mmap, mbind and a populate, the first
 * two under the write side of the process's mmap lock, which every other
 * thread's populate and page fault then waits for (with more threads
 * than CPUs, for as long as the writer is not running: rptest with eight
 * threads blocked on it 440 times a run).  Runs of up to REGION_MAX
 * bytes, page-aligned and not for huge pages, are cut instead from a
 * region of REGION_BYTES reserved and bound once, made writable
 * ARENA_STEP at a time as the arena's spans are (MADV_NOHUGEPAGE: only
 * what is populated is memory, and counted), and only populated, the
 * mmap lock's read side, when cut.  A run cut from it is an ordinary run
 * from then on: cached, coalesced with its neighbours, unmapped alone.
 * A node has a region only where it has a span of the arena: the same
 * overcommit and address-space limits decide both, and a region is no
 * larger than a span.  One the system refuses (reserving, binding,
 * opening) is not asked for again: the node's fresh runs are then
 * mapped alone.
 *
 * region_drop: the part of pn's region never cut goes back to the
 * system, and pn has no region (before a new one, and at fini).
 *
 * region_carve: bytes of node nidx's region, not populated, or NULL when
 * no region serves them.  Takes the node's lock; the few system calls
 * that reserve, bind and open a region run under it, as the arena's do.
 */
static void region_drop(struct nslab_page_node *pn)
{
    if (pn->reg_bump && pn->reg_bump < pn->reg_hi)
        nslab__pages_unmap(pn->reg_bump, (size_t)(pn->reg_hi - pn->reg_bump));
    pn->reg_bump = pn->reg_open = pn->reg_hi = NULL;
}

static char *region_carve(int nidx, size_t bytes)
{
    struct nslab_page_node *pn = &pnode[nidx];
    size_t size = region_bytes;
    char *p = NULL;
    nslab__lock(&pn->lock, NSLAB_RANK_PAGES);
    if (pn->reg_off)
        goto out;
    if (!pn->reg_bump || bytes > (size_t)(pn->reg_hi - pn->reg_bump)) {
        char *r = nslab__pages_reserve_lazy(size, page_bytes);
        if (r && nslab__pages_bind(nslab_g.topo.active[nidx], r, size) != 0) {
            nslab__pages_unmap(r, size);
            r = NULL;
        }
        if (!r) {
            pn->reg_off = 1;
            goto out;
        }
        region_drop(pn); /* the old one's tail: never used */
        pn->reg_bump = pn->reg_open = r;
        pn->reg_hi = r + size;
    }
    if (bytes > (size_t)(pn->reg_open - pn->reg_bump)) {
        size_t need = round_up((size_t)(pn->reg_bump + bytes - pn->reg_open), ARENA_STEP);
        size_t left = (size_t)(pn->reg_hi - pn->reg_open);
        if (need > left)
            need = left;
        if (nslab__pages_open(pn->reg_open, need) != 0) {
            pn->reg_off = 1;
            goto out;
        }
        pn->reg_open += need;
    }
    p = pn->reg_bump;
    pn->reg_bump += bytes;
out:
    nslab__unlock(&pn->lock, NSLAB_RANK_PAGES);
    return p;
}

/* A fresh run of bytes on node nidx, bound and faulted in, once charged:
 * from the node's region where it serves them, else mapped alone.  NULL
 * with errno ENOMEM and *why when the node or the cgroup is short. */
static void *fresh_run(int nidx, size_t bytes, size_t align, unsigned flags, int *why)
{
    if (!(flags & NSLAB_PG_HUGE) && align <= page_bytes && bytes <= REGION_MAX &&
        bytes <= region_bytes && pnode[nidx].arena_lo) {
        char *p = region_carve(nidx, bytes);
        if (p) {
            if (nslab__pages_arena_fill(nidx, p, bytes, flags, why) == 0)
                return p;
            /* Refused: the cut goes back, or, when another was made
             * since, is unmapped (it holds nothing, but under mlockall
             * its pages were written to zero and stay resident). */
            struct nslab_page_node *pn = &pnode[nidx];
            nslab__lock(&pn->lock, NSLAB_RANK_PAGES);
            int undone = pn->reg_bump == p + bytes;
            if (undone)
                pn->reg_bump = p;
            nslab__unlock(&pn->lock, NSLAB_RANK_PAGES);
            if (!undone)
                nslab__pages_unmap(p, bytes);
            return NULL;
        }
    }
    return nslab__pages_map_fresh(nidx, bytes, align, flags, why);
}

/* Give back what the layer keeps after a mapping was refused (why), so
 * that one more try may succeed: 0, or -ENOMEM when that cannot help. */
static int make_room(int nidx, size_t bytes, int why)
{
    if (!could_fit(nidx, bytes, why))
        return -ENOMEM; /* larger than all there is: keep the caches */
    /* What this layer keeps goes back first, then one more try (also
     * when another thread gave it back a moment ago).  A short cgroup
     * spans every node: all of it. */
    if (why == NSLAB_SHORT_CGROUP) {
        nslab_add_relaxed(&nslab_g.drains, 1);
        nslab__pub_process();
        for (int i = 0; i < nslab_g.nactive; i++)
            pages_drain(i);
    } else {
        pages_drain(nidx);
    }
    return 0;
}

/* pages_get of a slab from node nidx's span of the arena; an ordinary
 * mapping once the span is used up. */
static void *arena_get(int nidx, size_t bytes, size_t align, unsigned flags, int *zeroed)
{
    char *p = arena_take(nidx);
    if (p) {
        run_show(p, bytes);
        if (zeroed)
            *zeroed = 0;
        return p;
    }
    int why, e = arena_fresh(nidx, flags, &p, &why);
    if (e == -ENOMEM && make_room(nidx, bytes, why) == 0) {
        /* The drain may have cached nothing but put chunks back clean. */
        e = arena_fresh(nidx, flags, &p, &why);
    }
    if (e == -ENOSPC) /* fault injection had its say: once per request */
        return pages_get(nidx, bytes, align, (flags & ~NSLAB_PG_SLAB) | NSLAB_PG_NOFAULT, zeroed);
    if (e) {
        errno = ENOMEM;
        return NULL;
    }
    if (zeroed)
        *zeroed = 1;
    return p;
}

static void *pages_get(int nidx, size_t bytes, size_t align, unsigned flags, int *zeroed)
{
    if (!(flags & NSLAB_PG_NOFAULT) && nslab__fail_injected(nidx)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t least = (flags & NSLAB_PG_HUGE) ? NSLAB_HUGE_PAGE : page_bytes;
    if (align < least)
        align = least;
    struct nslab_page_node *pn = &pnode[nidx];
    if ((flags & NSLAB_PG_SLAB) && bytes == NSLAB_MIN_SLAB && pn->arena_lo)
        return arena_get(nidx, bytes, align, flags, zeroed);
    if (nslab_load_relaxed(&pn->cached) >= bytes) {
        int huge = 0;
        char *p = cache_take(nidx, bytes, align, &huge);
        if (p) {
            run_show(p, bytes);
            if ((flags & NSLAB_PG_HUGE) && !huge)
                nslab__pages_advise_huge(p, bytes);
            if (zeroed)
                *zeroed = 0;
            return p;
        }
    }
    int why;
    void *p = fresh_run(nidx, bytes, align, flags, &why);
    if (!p) {
        if (make_room(nidx, bytes, why)) {
            errno = ENOMEM;
            return NULL;
        }
        p = fresh_run(nidx, bytes, align, flags, &why);
    }
    if (p && zeroed)
        *zeroed = 1; /* fresh anonymous memory */
    return p;
}

static void pages_put(int nidx, void *mem, size_t bytes, unsigned flags)
{
    struct nslab_page_node *pn = &pnode[nidx];
    char *p = mem;
    if (nslab__in_arena(p)) {
        arena_put(nidx, p, bytes, flags, pn->retain < bytes || running_short(nidx));
        return;
    }
    /* The entries inside the run: no lock needed, nobody coalesces by
     * them.  Its two ends are marked under the lock, below. */
    if (bytes > 2 * page_bytes)
        nslab__pagemap_clear(p + page_bytes, bytes - 2 * page_bytes);
    if ((flags & NSLAB_PG_UNMAP) || pn->retain < bytes || running_short(nidx)) {
        pm_ends(p, bytes, NULL);
        nslab__pages_unmap_range(nidx, p, bytes);
        return;
    }
    int huge = (flags & NSLAB_PG_HUGE) != 0;
    size_t add = bytes;
    nslab__lock(&pn->lock, NSLAB_RANK_PAGES);
    if (pm_ends(p, bytes, NULL)) {
        /* Never entered in the page map: nothing to coalesce with. */
        nslab__unlock(&pn->lock, NSLAB_RANK_PAGES);
        nslab__pages_unmap_range(nidx, p, bytes);
        return;
    }
    /* The run before: its last page carries this node's mark, and its
     * footer leads to its header.  Ends that become inner pages are
     * cleared. */
    if (nslab__pagemap_get(p - page_bytes) == &pn->mark) {
        struct nslab_run *prev = *(struct nslab_run **)(p - sizeof(void *));
        run_forget(pn, prev);
        huge &= prev->huge;
        bytes += prev->bytes;
        p = (char *)prev;
    }
    if (nslab__pagemap_get(p + bytes) == &pn->mark) {
        struct nslab_run *next = (struct nslab_run *)(p + bytes);
        run_forget(pn, next);
        huge &= next->huge;
        bytes += next->bytes;
    }
    cache_admit(nidx, run_make(pn, nidx, p, bytes, huge), add);
}

uint64_t nslab__pages_lease(int nidx, uint64_t bytes)
{
    struct nslab_page_node *pn = &pnode[nidx];
    uint64_t got = 0, keep = 0;
    nslab__lock(&pn->lock, NSLAB_RANK_PAGES);
    if (pn->leased + bytes <= pn->retain / 2) {
        pn->leased += bytes;
        got = bytes;
        keep = cache_keep(pn);
    }
    nslab__unlock(&pn->lock, NSLAB_RANK_PAGES);
    if (got)
        trim_to(nidx, keep);
    return got;
}

void nslab__pages_unlease(int nidx, uint64_t bytes)
{
    struct nslab_page_node *pn = &pnode[nidx];
    nslab__lock(&pn->lock, NSLAB_RANK_PAGES);
    pn->leased -= bytes < pn->leased ? bytes : pn->leased;
    nslab__unlock(&pn->lock, NSLAB_RANK_PAGES);
}

void nslab__pages_set_retain(uint64_t bytes)
{
    for (int i = 0; pnode && i < nslab_g.nactive; i++) {
        nslab__lock(&pnode[i].lock, NSLAB_RANK_PAGES);
        pnode[i].retain = bytes;
        uint64_t keep = cache_keep(&pnode[i]);
        nslab__unlock(&pnode[i].lock, NSLAB_RANK_PAGES);
        trim_to(i, keep);
    }
}

/* The calls, then the node's figures to the statistics segment (bytes
 * mapped, the cache of free runs). */
/* What a failed request may change on node nidx: the refusals of the node
 * and the cgroup, the cache of free runs (drained). */
static uint64_t failure_marks(int nidx)
{
    return nslab_load_relaxed(&nslab_g.head[nidx].refused) +
           nslab_load_relaxed(&nslab_g.cg_head.refused) + nslab_load_relaxed(&pnode[nidx].cached);
}

void *nslab__pages_get(int nidx, size_t bytes, unsigned flags, int *zeroed)
{
    return nslab__pages_get_aligned(nidx, bytes, 0, flags, zeroed);
}

/* The records a request of the page layer changed, written: the node's
 * whole record and the process's when the headroom's figures may have
 * changed (a charge or an uncharge was made since charges0, by this
 * request or another thread's), else only the node's page-layer fields. */
static void pages_publish(int nidx, uint64_t charges0)
{
    if (nslab_load_relaxed(&nslab_g.charges) != charges0) {
        nslab__pub_node(nslab_g.topo.active[nidx]);
        nslab__pub_process(); /* the memory cgroup's headroom */
    } else {
        nslab__pub_node_pages(nslab_g.topo.active[nidx]);
    }
}

void *nslab__pages_get_aligned(int nidx, size_t bytes, size_t align, unsigned flags, int *zeroed)
{
    /* A failure that changed nothing (fault injection, a node limit)
     * writes nothing: the reserve's callers come here on every request. */
    uint64_t before = failure_marks(nidx), charges0 = nslab_load_relaxed(&nslab_g.charges);
    void *p = pages_get(nidx, bytes, align, flags, zeroed);
    if (p || before != failure_marks(nidx))
        pages_publish(nidx, charges0);
    return p;
}

void nslab__pages_put(int nidx, void *mem, size_t bytes, unsigned flags)
{
    uint64_t charges0 = nslab_load_relaxed(&nslab_g.charges);
    pages_put(nidx, mem, bytes, flags);
    pages_publish(nidx, charges0);
}

/*
 * Grow the run [p, p+bytes) of node nidx, handed out, by more bytes in
 * place: from the free run of the node that starts where it ends.  1 when
 * done (the new pages' page map entries are the caller's to set), 0 when
 * no such run holds enough.
 */
int nslab__pages_grow(int nidx, void *mem, size_t bytes, size_t more)
{
    struct nslab_page_node *pn = &pnode[nidx];
    char *end = (char *)mem + bytes;
    int done = 0;
    if (nslab__pagemap_get(end) != &pn->mark) /* a hint: checked again below */
        return 0;
    nslab__lock(&pn->lock, NSLAB_RANK_PAGES);
    if (nslab__pagemap_get(end) == &pn->mark) {
        struct nslab_run *r = (struct nslab_run *)end;
        if (r->bytes >= more) {
            struct nslab_list *older = r->age_link.prev;
            size_t rbytes = r->bytes;
            int h = r->huge;
            run_forget(pn, r);
            if (rbytes > more) {
                struct nslab_run *tail = run_make(pn, nidx, end + more, rbytes - more, h);
                nslab_list_add(older, &tail->age_link);
            }
            nslab_store_relaxed(&pn->cached, pn->cached - more);
            done = 1;
        }
    }
    nslab__unlock(&pn->lock, NSLAB_RANK_PAGES);
    if (done) {
        run_show(end, more);
        nslab__pub_node_pages(nslab_g.topo.active[nidx]);
    }
    return done;
}

void nslab__pages_drain(int nidx)
{
    pages_drain(nidx);
    if (pnode)
        nslab__pub_node(nslab_g.topo.active[nidx]);
}

uint64_t nslab__pages_cached(int nidx)
{
    return pnode ? nslab_load_relaxed(&pnode[nidx].cached) : 0;
}

/* nslab_g.lock held, after the headroom (lib/headroom.c) is set up. */
int nslab__pages_init(void)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    int n = nslab_g.nactive;
    page_bytes = nslab__page_size();
    page_shift = (unsigned)__builtin_ctzll((unsigned long long)page_bytes);
    pnode = aligned_alloc(64, sizeof(*pnode) * (size_t)n);
    if (!pnode)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        struct nslab_page_node *pn = &pnode[i];
        memset(pn, 0, sizeof(*pn));
        nslab__lock_init(&pn->lock);
        for (int b = 0; b < NBINS; b++)
            nslab_list_init(&pn->bin[b]);
        nslab_list_init(&pn->age);
        nslab_list_init(&pn->arena_free);
        pn->retain = nslab_g.opt.retain_bytes;
        pn->mark.type = NSLAB_T_FREE;
        pn->mark.nidx = (uint16_t)i;
    }
    arena_init();
    return 0;
}

/* nslab_g.lock held; every user of the layer has given its memory back. */
void nslab__pages_fini(void)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    if (!pnode)
        return;
    for (int i = 0; i < nslab_g.nactive; i++) {
        nslab__pages_drain(i);
        region_drop(&pnode[i]);
    }
    arena_fini();
    for (int i = 0; i < nslab_g.nactive; i++)
        pthread_mutex_destroy(&pnode[i].lock);
    free(pnode);
    pnode = NULL;
}

void nslab__pages_fork_child_leases(const uint64_t *kept)
{
    for (int i = 0; pnode && i < nslab_g.nactive; i++) {
        nslab__lock(&pnode[i].lock, NSLAB_RANK_PAGES);
        pnode[i].leased = kept ? kept[i] : 0;
        nslab__unlock(&pnode[i].lock, NSLAB_RANK_PAGES);
    }
}

void nslab__pages_fork_lock(void)
{
    for (int i = 0; pnode && i < nslab_g.nactive; i++)
        nslab__lock_nested(&pnode[i].lock, NSLAB_RANK_PAGES);
}

void nslab__pages_fork_unlock(void)
{
    for (int i = pnode ? nslab_g.nactive - 1 : -1; i >= 0; i--)
        nslab__unlock(&pnode[i].lock, NSLAB_RANK_PAGES);
}
