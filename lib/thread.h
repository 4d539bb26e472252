/*
 * lib/thread.h - what each thread owns: its slabs of each cache, its free
 * lists, its state (struct nslab_tstate), the calls of lib/owner.c, and
 * the fast paths themselves.  The fast paths are inline here so that every
 * caller (lib/sizeclass.c, lib/owner.c, lib/malloc.c) compiles them in:
 * an allocation from the thread's free list or current slab, and a free
 * into a slab the thread owns, take no lock and no atomic
 * read-modify-write, because the slab's free map and the lists belong to
 * the thread (lib/owner.c).  A free into another thread's slab sets a
 * bit of the remote-map word the thread gathers (nslab__remote_gather),
 * or ORs that word in, one atomic operation, and begins another
 * (nslab__remote_switch); the rest of it is out of line (lib/owner.c).
 */
#ifndef NSLAB_THREAD_H
#define NSLAB_THREAD_H

#include "lib/base.h"
#include "lib/slab.h"

#include <stdlib.h>

struct nslab_large_cache;

/*
 * A thread's slabs of one cache (lib/owner.c): for each active node, the
 * slab it allocates from and the others it owns.  Only its thread touches
 * it (numaslab_cache_destroy, numaslab_fini and fork excepted, which
 * need the owners quiescent).
 */
struct nslab_owned_slabs {
    struct nslab_list partial; /* NSLAB_W_PARTIAL slabs */
    struct nslab_list full;    /* NSLAB_W_FULL slabs, oldest first */
    uint32_t npartial, nfull;
};
/*
 * A thread's free list of one (cache, node): up to the cache's mag objects
 * it freed into its own slabs, kept out of their free maps for its next
 * allocations there, most recent first, and, behind them, up to mag
 * objects an empty list took at once from the current slab
 * (nslab__own_fill), so that allocations in a row pop the list too.  A
 * free and the allocation that follows touch this slot and the object,
 * which the caller touches anyway; the slab's maps wait.  They count as
 * in use until the list goes back to the maps (a full list sends further
 * frees to the slab's own list, lfree; the thread's flush, its exit,
 * numaslab_cache_destroy, fork).
 *
 * The free cookie.  Every free object of an ordinary slab of a cache with
 * a list (mag != 0: objects of 16 bytes and more at a stride of whole
 * words, no constructor, not a debug build; reserve slabs, whose objects
 * never enter a list, keep to their free maps) carries nslab_cookie in
 * its second word, on the list, in the free map,
 * waiting in a remote map: written when a slab is made and by every free,
 * cleared when the object is taken off the list or out of the map (the fast
 * paths below).  A free that finds
 * it is a double free, or a free of an object never handed out, and is
 * refused: the list needs no look at the free map.  A live object holds
 * the cookie only if its user wrote that random value there.
 */
struct nslab_thread_node {
    void **head;   /* the thread's free list: objects of its own slabs,
                      linked through their first word */
    uint32_t room; /* frees it may still take: mag less those freed onto it
                      (what nslab__own_fill put there takes none) */
    /* Objects of other threads' slabs of this node this thread freed and
     * ORed in, not yet taken off the objects in use (lib/owner.c): the
     * count waits for the first tick of the coarse clock seen after
     * NSLAB_PUB_EVERY such ORs, or the thread's flush or exit, so that
     * such a free makes one atomic operation, not three. */
    uint32_t rfreed;
    struct nslab_slab *cur; /* the node's current slab (NSLAB_W_CUR), or NULL */
    uint64_t pad2;
};
struct nslab_thread_cache {
    struct nslab_owned_slabs *own; /* [nactive] */
    /* Frees of objects of another thread's slab, one remote-map word of
     * it at a time, not yet ORed in (lib/owner.c): they count as in use,
     * so that slab stays. */
    struct nslab_slab *rb_s; /* NULL: none */
    uint64_t rb_bits;
    uint32_t rb_w;
    uint32_t pad;
    struct nslab_thread_node slot[]; /* [nactive + 1]: the last, the spare (lib/owner.c) */
};

struct nslab_tstate {
    /* By cache id; &nslab_no_tc until used.  The last, the id of the
     * size-class fast path's empty cache (lib/sizeclass.c), always is. */
    struct nslab_thread_cache *cc[NSLAB_MAX_CACHES + 1];
    /* By cache id: &cc[id]->slot[cached_nidx], the local node's slot, so
     * that the local allocation makes one load where it would make three
     * (nslab__own_pop_local); &nslab_no_tc.slot[0] while cc[id] is
     * nslab_no_tc.  Kept so by nslab__tc_set, nslab__tc_free and the
     * local node's changes (lib/core.c). */
    struct nslab_thread_node *lslot[NSLAB_MAX_CACHES + 1];
    struct nslab_large_cache *tlc; /* [nactive]; NULL until a large object is freed */
    int cached_nidx;               /* local node when the CPU cannot be read fast */
    unsigned ipos;                 /* interleave position */
    unsigned gen;                  /* nslab_g.gen this state was set up for */
    int registered;
    struct nslab_list link; /* in nslab_g.threads */
    uint64_t pub_tick;      /* when its frees into other threads' slabs were last
                               written to the statistics segment (lib/export.c) */
    unsigned pub_n;         /* those frees, counted: the clock is read every NSLAB_PUB_EVERY-th */
    /* By cache id, a bit set: some of those frees were not written since. */
    uint64_t pub_ids[NSLAB_MAX_CACHES / 64];
};

/* Where a thread cache's owned-slab lists begin (after its slots: one per
 * active node and the spare), and its whole size, for n active nodes. */
static inline size_t nslab__tc_own_offset(size_t n)
{
    return sizeof(struct nslab_thread_cache) + (n + 1) * sizeof(struct nslab_thread_node);
}
static inline size_t nslab__tc_bytes(size_t n)
{
    return nslab__tc_own_offset(n) + n * sizeof(struct nslab_owned_slabs);
}

/* nslab_tls, the calling thread's state: numa/numa.h. */

/* The thread cache of every (thread, cache) that has none yet (lib/owner.c):
 * on every node no object on its list, no room, no current slab, so the
 * fast allocation misses with no test of its own.  Never written. */
extern NSLAB_HIDDEN struct nslab_thread_cache nslab_no_tc;
/* ts's thread cache of the cache of that id, NULL when it has none. */
static inline struct nslab_thread_cache *nslab__tc(const struct nslab_tstate *ts, uint32_t id)
{
    struct nslab_thread_cache *tc = ts->cc[id];
    return tc == &nslab_no_tc ? NULL : tc;
}
/* ts's thread cache of that id is tc (&nslab_no_tc: none). */
static inline void nslab__tc_set(struct nslab_tstate *ts, uint32_t id,
                                 struct nslab_thread_cache *tc)
{
    ts->cc[id] = tc;
    ts->lslot[id] = tc == &nslab_no_tc ? &nslab_no_tc.slot[0] : &tc->slot[ts->cached_nidx];
}
/* Free ts's thread cache of that id, if any: it has none after. */
static inline void nslab__tc_free(struct nslab_tstate *ts, uint32_t id)
{
    if (ts->cc[id] != &nslab_no_tc)
        free(ts->cc[id]);
    nslab__tc_set(ts, id, &nslab_no_tc);
}

/* lib/owner.c: thread-owned slabs */
/* What nslab__remote_switch leaves for a call of its own, once in a while
 * (marked busy, errno kept: the report and the statistics segment may
 * allocate and make system calls): the double frees its OR found, and the
 * statistics' tick (nslab__pub_tick). */
void nslab__remote_switch_rare(struct nslab_tstate *ts, struct numaslab_cache *c, char *first,
                               uint64_t dup, int tick);
void *nslab__cache_alloc_slow(struct numaslab_cache *c, unsigned flags, int node);
void nslab__cache_free_slow(struct numaslab_cache *expect, void *obj, const char *call);
/* The fast free's miss for an object already validated as one of s's
 * and taken back: another thread's slab, an unowned one, a double free,
 * or a slab whose state changes. */
void nslab__free_miss(struct nslab_slab *s, void *obj, const char *call);
struct nslab_thread_cache *nslab__thread_cache_make(struct numaslab_cache *c,
                                                    struct nslab_tstate *ts);
/* The remote frees tc counted (its slots' rfreed) into c's statistics:
 * 1 when there were some. */
int nslab__rfreed_apply(struct numaslab_cache *c, struct nslab_thread_cache *tc);
/* Give back every slab of c that ts owns (all nodes).  keep_live: slabs
 * with live objects stay owned (numaslab_thread_flush); else all go. */
void nslab__thread_cache_flush(struct numaslab_cache *c, struct nslab_tstate *ts, int keep_live);
/* Free obj of c to its slab, owned or not: for code that may run under
 * nslab_g.lock or for another thread (lib/large.c, lib/core.c). */
void nslab__cache_free_home(struct numaslab_cache *c, void *obj);

/* Reading and writing the two words of a free object that the lists and
 * the cookie use, where the tools keep it out of bounds. */
#define NSLAB_MAG_OPEN(o)                                                                          \
    do {                                                                                           \
        VALGRIND_MAKE_MEM_DEFINED((o), 2 * sizeof(void *));                                        \
        nslab_asan_unpoison((o), 2 * sizeof(void *));                                              \
    } while (0)
#define NSLAB_MAG_SHUT(o)                                                                          \
    do {                                                                                           \
        VALGRIND_MAKE_MEM_NOACCESS((o), 2 * sizeof(void *));                                       \
        nslab_asan_poison((o), 2 * sizeof(void *));                                                \
    } while (0)

/* An object from the thread's current slab of sl, its slot of (c, a
 * node), c a cache without a list (no cookie, no lfree: those take
 * nslab__own_fill), with no lock and no atomic read-modify-write; NULL on
 * a miss (no slab yet, or none free left in its map from the hint on). */
static inline void *nslab__own_take(struct numaslab_cache *c, struct nslab_thread_node *sl)
{
    struct nslab_slab *s = sl->cur;
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

extern NSLAB_HIDDEN uintptr_t nslab_cookie; /* set at initialisation; never 0 */

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

/* A remote free's mark on obj (a cache with a list): 1 with the cookie
 * written, the object the freer's until its bit is ORed; 0 when obj
 * carries it already (free: a double free, for the caller's slow path). */
static inline int nslab__cookie_claim(void *obj)
{
    void **o = obj;
    uintptr_t cookie = nslab_cookie;
    NSLAB_MAG_OPEN(o);
    int is_free = o[1] == (void *)cookie;
    if (!is_free)
        o[1] = (void *)cookie;
    NSLAB_MAG_SHUT(o);
    return !is_free;
}

/* A free of obj, validated as an object of s of cache c, into another
 * thread's slab s, taken by ts's gathered remote-map word (tc->rb_*) when
 * it falls in that word: the bit set there, no atomic operation, no call
 * (lib/owner.c, free_remote).  0 when it does not (another word, an
 * unowned slab, a cache without a list) or obj is free already (its
 * cookie, or its bit gathered): the caller's miss path takes it. */
static inline int nslab__remote_gather(struct nslab_tstate *ts, struct nslab_slab *s,
                                       struct numaslab_cache *c, void *obj)
{
    struct nslab_thread_cache *tc = ts->cc[c->id]; /* nslab_no_tc: rb_s is NULL */
    if (tc->rb_s != s || !c->mag || nslab_load_relaxed(&s->owner) == NULL)
        return 0;
    uint32_t idx = nslab__obj_index(s, c, obj);
    uint64_t bit = 1ull << (idx % 64);
    if (tc->rb_w != idx / 64 || (tc->rb_bits & bit))
        return 0;
    if (!nslab__cookie_claim(obj))
        return 0;
    tc->rb_bits |= bit;
    return 1;
}

/* Remote frees between two looks at the coarse clock (nslab__pub_tick). */
#define NSLAB_PUB_EVERY 32

/* A free of obj (validated, of s of cache c) into another thread's slab s
 * outside the remote-map word ts gathers: that word ORed into its slab
 * (rb_flush and nslab__pub_remote, for the owned slab they find), obj's
 * word begun, with no lock and one atomic operation.  0, nothing done,
 * where free_remote's longer way is needed: no thread cache yet, an
 * unowned slab (either one), s the thread's own, a cache without a list,
 * or obj free already (its cookie; its bit gathered).  errno is kept. */
static inline int nslab__remote_switch(struct nslab_tstate *ts, struct nslab_slab *s,
                                       struct numaslab_cache *c, void *obj)
{
    struct nslab_thread_cache *tc = ts->cc[c->id];
    struct nslab_tstate *owner = nslab_load_relaxed(&s->owner);
    struct nslab_slab *old = tc->rb_s;
    if (tc == &nslab_no_tc || !c->mag || owner == NULL || owner == ts ||
        (old && nslab_load_acquire(&old->owner) == NULL))
        return 0;
    uint32_t idx = nslab__obj_index(s, c, obj), w = idx / 64;
    if (old == s && tc->rb_w == w)
        return 0; /* the gathered word, which nslab__remote_gather refused: a double free */
    if (!nslab__cookie_claim(obj))
        return 0;
    uint32_t ow = tc->rb_w;
    uint64_t bits = tc->rb_bits;
    /* The new word first: whatever runs below (a report) finds the old
     * one gone from the thread cache. */
    tc->rb_s = s;
    tc->rb_w = w;
    tc->rb_bits = 1ull << (idx % 64);
    if (old) {
        int nidx = old->nidx; /* everything read of old before the OR */
        char *first = old->objs + (size_t)ow * 64 * c->size;
        uint64_t dup = __atomic_fetch_or(&old->rmap[ow], bits, __ATOMIC_RELEASE) & bits;
        bits &= ~dup;
        tc->slot[nidx].rfreed += (bits & (bits - 1)) ? nslab_popcount64(bits) : bits != 0;
        ts->pub_ids[c->id / 64] |= 1ull << (c->id % 64); /* nslab__pub_wait */
        int tick = ++ts->pub_n % NSLAB_PUB_EVERY == 0;
        if (unlikely(dup != 0 || tick))
            nslab__remote_switch_rare(ts, c, first, dup, tick);
    }
    return 1;
}

/* The thread's free list of sl was empty: refilled from its current slab
 * (lib/owner.c), one object handed back; NULL on a miss. */
void *nslab__own_fill(struct numaslab_cache *c, struct nslab_thread_node *sl);

/* An object off the free list of sl, the calling thread's slot of (c, a
 * node), its cookie cleared; NULL when the list is empty.  The fast path:
 * a miss goes out of line (nslab__alloc_miss), so that the path itself
 * saves no register. */
static inline void *nslab__own_pop_list(struct nslab_thread_node *sl)
{
    void **obj = sl->head;
    if (likely(obj != NULL)) {
        NSLAB_MAG_OPEN(obj);
        sl->head = (void **)obj[0];
        obj[1] = NULL; /* the free cookie: only objects of caches with a list are on it */
        NSLAB_MAG_SHUT(obj);
        sl->room++;
    }
    return obj;
}

/* sl's list was empty: objects of its current slab, one handed back;
 * NULL when that has none. */
static inline void *nslab__own_refill(struct numaslab_cache *c, struct nslab_thread_node *sl)
{
    return c->mag ? nslab__own_fill(c, sl) : nslab__own_take(c, sl);
}

/* The list, then the current slab: what a slow path takes first. */
static inline void *nslab__own_pop_slot(struct numaslab_cache *c, struct nslab_thread_node *sl)
{
    void *obj = nslab__own_pop_list(sl);
    return obj ? obj : nslab__own_refill(c, sl);
}

/* The calling thread's slot of c at byte offset off in its thread cache
 * (nidx * sizeof(struct nslab_thread_node), kept so by the callers: no
 * multiply on the fast path). */
static inline struct nslab_thread_node *nslab__own_slot_at_id(uint32_t id, size_t off)
{
    return (struct nslab_thread_node *)((char *)nslab_tls->cc[id]->slot + off);
}

/* Its slot of (the cache of that id, its local node): one load (lslot). */
static inline struct nslab_thread_node *nslab__own_slot_id(uint32_t id)
{
    return nslab_tls->lslot[id];
}
static inline struct nslab_thread_node *nslab__own_slot_local(const struct numaslab_cache *c)
{
    return nslab__own_slot_id(c->id);
}

/* lib/owner.c: the fast allocation's miss.  sl (NULL: a node the fast
 * path does not know) refilled from its current slab, else the slow path;
 * the object handed out with flags.  The arguments are in the order the
 * fast paths hold them in registers: the tail call moves nothing. */
void *nslab__alloc_miss(struct numaslab_cache *c, unsigned flags, int node,
                        struct nslab_thread_node *sl);

/* Free obj (validated: an object of s, of cache c), s a slab the calling
 * thread owns and sl its list there (s->oslot, or the arena record's
 * copy), with no lock and no atomic read-modify-write: onto the thread's
 * free list for the node while it has room, else into the free map.  0
 * on a miss: a double free, or a free that changes the state of a slab
 * other than the current one. */
static inline int nslab__own_push_to(struct nslab_slab *s, struct nslab_thread_node *sl,
                                     struct numaslab_cache *c, void *obj)
{
    void **o = obj;
    if (likely(sl->room != 0)) { /* a cache with a list (mag != 0), and room on it */
        uintptr_t cookie = nslab_cookie;
        NSLAB_MAG_OPEN(o);
        if (unlikely(o[1] == (void *)cookie)) {
            NSLAB_MAG_SHUT(o); /* free already: the slow path says so */
            return 0;
        }
        /* The link as an atomic store, which the compiler keeps a plain
         * store of its own (not merged with the cookie's into a vector
         * store, which costs more instructions). */
        nslab_store_relaxed(&o[0], (void *)sl->head);
        o[1] = (void *)cookie;
        NSLAB_MAG_SHUT(o);
        /* The link before the head, in program order: what a fork
         * child finds of a thread caught here (lib/owner.c). */
        __atomic_signal_fence(__ATOMIC_RELEASE);
        sl->head = o;
        sl->room--;
        return 1;
    }
    uint32_t n = s->nfree + 1;
    if (likely(c->mag)) { /* the list is full: onto the slab's own (lfree) */
        uintptr_t cookie = nslab_cookie;
        NSLAB_MAG_OPEN(o);
        if (unlikely(o[1] == (void *)cookie || n - 2 >= s->trip)) {
            NSLAB_MAG_SHUT(o); /* free already, or a state change: the slow path */
            return 0;
        }
        nslab_store_relaxed(&o[0], (void *)s->lfree);
        o[1] = (void *)cookie;
        NSLAB_MAG_SHUT(o);
        __atomic_signal_fence(__ATOMIC_RELEASE); /* as for the list above */
        s->lfree = o;
        s->nfree = n;
        return 1;
    }
    uint32_t idx = nslab__obj_index(s, c, obj);
    uint32_t w = idx / 64;
    uint64_t bit = 1ull << (idx % 64), m = nslab_load_relaxed(&s->freemap[w]);
    if (unlikely((m & bit) != 0 || n - 2 >= s->trip))
        return 0;
    nslab_store_relaxed(&s->freemap[w], m | bit);
    s->nfree = n;
    if (w < s->hint)
        s->hint = w;
    return 1;
}

/* The same for any validated s: 0 also when another thread owns it or
 * nobody does. */
static inline int nslab__own_push(struct nslab_slab *s, struct numaslab_cache *c, void *obj)
{
    if (unlikely(nslab_load_relaxed(&s->owner) != nslab_tls))
        return 0;
    /* The slab is the thread's: oslot is its list, set when it took it. */
    return nslab__own_push_to(s, s->oslot, c, obj);
}

#endif /* NSLAB_THREAD_H */
