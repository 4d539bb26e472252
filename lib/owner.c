/*
 * lib/owner.c - thread-owned slabs: how a thread allocates from its own
 * slabs and how any thread frees into them.
 *
 * For each (cache, node) a thread has a current slab, which its
 * allocations take objects from (the first set bit of the free map word
 * the hint names), and the other slabs it owns: partial ones, which have
 * free objects, and full ones, which had none when last looked at.  The
 * slab is found from the object through the page map (lib/pagemap.c).
 *
 *   alloc, fast:  the thread's free list of the node (the objects it
 *         freed there last, struct nslab_thread_node), else the current slab's
 *         free map: no lock, no atomic RMW
 *   free by the owner, fast: onto that list while it has room, else a
 *         bit set in the free map, the same
 *   free by another thread: one atomic OR into the slab's remote map
 *         (gathered per map word in the freeing thread: see free_remote,
 *         and the drop-in's inline nslab__remote_gather and
 *         nslab__remote_switch, lib/thread.h),
 *         which the owner collects when its slab runs dry (and when it
 *         looks for a slab among its full ones: a few each time, oldest
 *         first, so a producer's slabs come back as its consumer frees)
 *   slow: the next word; the current slab's remote frees; an owned
 *         partial slab; a full one with remote frees; a slab from the
 *         node (lib/slab.c: adopted, or new); then fallback and reserve
 *
 * A slab leaves its owner (lib/slab.c, nslab__node_give) when it becomes
 * empty and is not the current one, and when the thread gives all back:
 * at its exit, for numaslab_thread_flush (empty ones only),
 * numaslab_cache_destroy and fork.  Objects handed to two threads are
 * never in one slab, so they never share a cache line, except where a
 * slab was adopted from a thread that gave it back with live objects.
 *
 * A free into a slab that has no owner takes the cnode lock and marks the
 * object free there (nslab__node_free).  A remote free never reads its
 * slab after the OR that makes its object free (see free_remote).
 *
 * Every list here is the owning thread's and is touched without a lock;
 * numaslab_cache_destroy, numaslab_fini and the fork child touch other
 * threads' lists, which the API documents as needing them quiescent.
 *
 * Locks: nslab_g.lock (rank NSLAB_RANK_GLOBAL, lib/lock.h) while a thread
 * enters its state for a cache in cc[] (destroy and fini walk them), only
 * tried where the caller may hold it already; the cnode locks through
 * lib/slab.c and lib/reserve.c.
 */
#include "lib/internal.h"
#include "lib/debug.h"

#include <stdlib.h>

#define POLL_FULL 4 /* full slabs looked at for remote frees per refill */

/* lib/thread.h, with a slot for every node there may be and the spare:
 * all zero, so no room, no object and no slab on any. */
struct nslab_thread_cache nslab_no_tc = {.slot = {[64 * NSLAB_MASK_WORDS] = {0}}};

/* nolock: nslab_g.lock is only tried (a free may run under it), NULL when
 * it is taken. */
static struct nslab_thread_cache *thread_cache_new(struct numaslab_cache *c,
                                                   struct nslab_tstate *ts, int nolock)
{
    size_t n = (size_t)nslab_g.nactive;
    /* A slot per active node, and the spare one of inactive nodes
     * (nslab_g.node_soff), all zero: it never holds an object. */
    struct nslab_thread_cache *tc = nslab__calloc_lines(nslab__tc_bytes(n));
    if (!tc)
        return NULL;
    tc->own = (struct nslab_owned_slabs *)((char *)tc + nslab__tc_own_offset(n));
    for (size_t i = 0; i < n; i++) {
        tc->slot[i].room = c->mag;
        nslab_list_init(&tc->own[i].partial);
        nslab_list_init(&tc->own[i].full);
    }
    /* Under the lock: destroy and fini walk every thread's cc[]. */
    int rc = nolock ? nslab__trylock(&nslab_g.lock, NSLAB_RANK_GLOBAL)
                    : nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    if (rc != 0) {
        free(tc);
        return NULL;
    }
    nslab__tc_set(ts, c->id, tc);
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    return tc;
}

struct nslab_thread_cache *nslab__thread_cache_make(struct numaslab_cache *c,
                                                    struct nslab_tstate *ts)
{
    return thread_cache_new(c, ts, 0);
}

/*
 * The list of sl (the calling thread's slot of (c, a node), c with a
 * list) is empty: it takes up to c->mag objects of the current slab at
 * once, the slab's own frees (lfree) when it has some, else free
 * objects of its map from the hint on, and hands one back, its cookie
 * cleared.  The others keep theirs, as every object on the list does.
 * The next allocations pop them: a batch of allocations pays the map's
 * bit work once per object here, and the fast path's pop after.  NULL
 * when the slab has none (or there is no current slab): the slow path
 * refills.
 */
void *nslab__own_fill(struct numaslab_cache *c, struct nslab_thread_node *sl)
{
    struct nslab_slab *s = sl->cur;
    if (!s)
        return NULL;
    /* The room is the frees the list takes: what it takes here does not
     * use any (those objects are the current slab's, which stays), so the
     * list holds at most 2 mag - 1 objects (room + length == mag + k - 1
     * from here to the next fill). */
    uint32_t want = c->mag, k = 0;
    void **head = s->lfree;
    if (head) {
        /* The slab's own frees, in their order: the list is cut after
         * the first want of them. */
        void **last = head;
        for (k = 1;; k++) {
            NSLAB_MAG_OPEN(last);
            void **next = (void **)last[0];
            if (!next || k == want) {
                last[0] = NULL;
                NSLAB_MAG_SHUT(last);
                s->lfree = next;
                break;
            }
            NSLAB_MAG_SHUT(last);
            last = next;
        }
    } else {
        /* The map's free objects from the hint on, in address order, a
         * run of neighbours at a time (a slab made or emptied is one run):
         * each object costs its link and no bit work.  They carry the
         * cookie. */
        size_t size = c->size;
        uint32_t w = s->hint;
        void **tail = NULL;
        for (; w < s->nwords && k < want; w++) {
            uint64_t m = nslab_load_relaxed(&s->freemap[w]);
            if (!m)
                continue;
            char *base = s->objs + (size_t)w * 64 * size;
            do {
                unsigned pos = (unsigned)__builtin_ctzll(m);
                uint64_t gap = ~(m >> pos);
                unsigned run = gap ? (unsigned)__builtin_ctzll(gap) : 64 - pos;
                if (run > want - k)
                    run = want - k;
                m &= run == 64 ? 0 : ~(((1ull << run) - 1) << pos);
                k += run;
                char *x = base + (size_t)pos * size;
                if (tail) {
                    NSLAB_MAG_OPEN(tail);
                    tail[0] = x;
                    NSLAB_MAG_SHUT(tail);
                } else {
                    head = (void **)x;
                }
                for (unsigned i = 1; i < run; i++, x += size) {
                    NSLAB_MAG_OPEN(x);
                    ((void **)x)[0] = x + size;
                    NSLAB_MAG_SHUT(x);
                }
                tail = (void **)x;
            } while (m && k < want);
            nslab_store_relaxed(&s->freemap[w], m);
            if (m)
                break; /* the word still has some: the hint stays on it */
        }
        s->hint = w;
        if (!head)
            return NULL;
        NSLAB_MAG_OPEN(tail);
        tail[0] = NULL;
        NSLAB_MAG_SHUT(tail);
    }
    s->nfree -= k;
    void **o = head;
    NSLAB_MAG_OPEN(o);
    sl->head = (void **)o[0];
    o[1] = NULL; /* the free cookie: handed out now */
    NSLAB_MAG_SHUT(o);
    sl->room = c->mag;
    return o;
}

/* The owner's lists.  s is on none of them when put there. */
static void own_put(struct nslab_owned_slabs *o, struct nslab_slab *s, int where)
{
    s->where = (uint8_t)where;
    s->trip = s->nobjs - 2;
    if (where == NSLAB_W_PARTIAL) {
        nslab_list_add(&o->partial, &s->link);
        o->npartial++;
    } else {
        nslab_list_add_tail(&o->full, &s->link); /* the oldest first */
        o->nfull++;
    }
}

static void own_del(struct nslab_owned_slabs *o, struct nslab_slab *s)
{
    nslab_list_del(&s->link);
    if (s->where == NSLAB_W_PARTIAL)
        o->npartial--;
    else
        o->nfull--;
    s->where = NSLAB_W_NONE;
}

static struct nslab_slab *make_cur(struct numaslab_cache *c, struct nslab_thread_cache *tc,
                                   int nidx, struct nslab_slab *s)
{
    s->where = NSLAB_W_CUR;
    s->trip = UINT32_MAX;
    while (s->hint < s->nwords && !nslab_load_relaxed(&s->freemap[s->hint]))
        s->hint++;
    nslab__slab_count(c, s);
    tc->slot[nidx].cur = s;
    return s;
}

/*
 * A current slab of (c, nidx) with a free object at its hint, or NULL with
 * errno ENOMEM when the node is exhausted.  The thread's own slabs first,
 * then the node.
 */
static struct nslab_slab *refill(struct numaslab_cache *c, struct nslab_tstate *ts,
                                 struct nslab_thread_cache *tc, int nidx)
{
    struct nslab_owned_slabs *o = &tc->own[nidx];
    struct nslab_slab *s = tc->slot[nidx].cur;
    if (s) {
        while (s->hint < s->nwords && !nslab_load_relaxed(&s->freemap[s->hint]))
            s->hint++;
        if (s->hint < s->nwords || nslab__slab_collect(c, s))
            return make_cur(c, tc, nidx, s);
        nslab__slab_count(c, s);
        tc->slot[nidx].cur = NULL;
        own_put(o, s, NSLAB_W_FULL);
    }
    if ((s = nslab_list_first(&o->partial, struct nslab_slab, link))) {
        own_del(o, s);
        nslab__slab_collect(c, s);
        return make_cur(c, tc, nidx, s);
    }
    for (int k = 0; k < POLL_FULL && o->nfull; k++) {
        s = nslab_list_first(&o->full, struct nslab_slab, link);
        own_del(o, s);
        if (nslab__slab_collect(c, s))
            return make_cur(c, tc, nidx, s);
        own_put(o, s, NSLAB_W_FULL); /* to the back: the next refill looks further */
    }
    s = nslab__node_take(c, nidx, ts);
    return s ? make_cur(c, tc, nidx, s) : NULL;
}

/* An object of (c, nidx) from the thread's slabs; NULL/ENOMEM.  The
 * current slab is counted after it, so that the statistics include what
 * the thread took since its last slow path. */
static void *alloc_at(struct numaslab_cache *c, struct nslab_tstate *ts,
                      struct nslab_thread_cache *tc, int nidx)
{
    void *obj = nslab__own_pop_slot(c, &tc->slot[nidx]);
    if (!obj && refill(c, ts, tc, nidx))
        obj = nslab__own_refill(c, &tc->slot[nidx]);
    if (obj && tc->slot[nidx].cur)
        nslab__slab_count(c, tc->slot[nidx].cur);
    return obj;
}

/*
 * Everything the fast path does not: first use of the cache by this
 * thread, a current slab run dry, node resolution for inactive and bad
 * ids, fallback to the nearest nodes, the reserve.  The thread's local
 * node is read again here (numaslab(7): a thread that moved allocates on
 * its new node from its next slow path on).
 */
void *nslab__cache_alloc_slow(struct numaslab_cache *c, unsigned flags, int node)
{
    struct nslab_tstate *ts = nslab__tstate();
    if (!ts) {
        errno = ENOMEM;
        return NULL;
    }
    nslab__refresh_local(ts);
    int nidx, rc = nslab__resolve_node(c->warned, c->name, node, flags, &nidx);
    if (rc) {
        errno = -rc;
        return NULL;
    }
    struct nslab_thread_cache *tc = nslab__tc(ts, c->id);
    if (!tc && !(tc = nslab__thread_cache_make(c, ts))) {
        errno = ENOMEM;
        return NULL;
    }
    void *obj = alloc_at(c, ts, tc, nidx);
    if (obj)
        return nslab__hand_out(c, obj, flags);
    if (!(flags & NUMASLAB_THISNODE)) {
        /* The node is exhausted: nearest active nodes first. */
        const int *order = &nslab_g.topo.order[nidx * nslab_g.nactive];
        for (int k = 1; k < nslab_g.nactive; k++) {
            int alt = order[k];
            if ((obj = alloc_at(c, ts, tc, alt))) {
                struct nslab_node_counters *nc = nslab_g.node_counters;
                nslab_add_relaxed(&nc[nslab_g.topo.active[nidx]].fallback_out, 1);
                nslab_add_relaxed(&nc[nslab_g.topo.active[alt]].fallback_in, 1);
                nslab__pub_node(nslab_g.topo.active[nidx]);
                nslab__pub_node(nslab_g.topo.active[alt]);
                return nslab__hand_out(c, obj, flags);
            }
        }
    }
    if (flags & NUMASLAB_CRITICAL)
        return nslab__reserve_take(c, flags, node, NULL);
    errno = ENOMEM;
    return NULL;
}

/* The remote frees tc gathered go into their slab's remote map: one atomic
 * OR, the last touch of that slab (its objects are free from then on). */
static void rb_flush(struct numaslab_cache *c, struct nslab_thread_cache *tc)
{
    struct nslab_slab *s = tc->rb_s;
    if (!s)
        return;
    uint64_t bits = tc->rb_bits;
    uint32_t w = tc->rb_w;
    tc->rb_s = NULL;
    tc->rb_bits = 0;
    if (nslab_load_acquire(&s->owner) == NULL) {
        nslab__node_free(c, s, w, bits, "numaslab_free"); /* given back meanwhile */
        return;
    }
    int nidx = s->nidx; /* read before the OR */
    tc->slot[nidx].rfreed += nslab__remote_or(c, s, w, bits, "numaslab_free", 0);
}

/* tc gathers from word w of s on, bit first: the word it gathered
 * before goes in (rb_flush), counted at most a tick late. */
static void rb_restart(struct numaslab_cache *c, struct nslab_tstate *ts,
                       struct nslab_thread_cache *tc, struct nslab_slab *s, uint32_t w,
                       uint64_t bit)
{
    if (tc->rb_s) {
        rb_flush(c, tc);
        nslab__pub_remote(ts, c);
    }
    tc->rb_s = s;
    tc->rb_w = w;
    tc->rb_bits = bit;
}

void nslab__remote_switch_rare(struct nslab_tstate *ts, struct numaslab_cache *c, char *first,
                               uint64_t dup, int tick)
{
    int saved = errno;
    NSLAB_BUSY_ENTER();
    if (dup)
        nslab__report_doubles(c, "numaslab_free", first, dup);
    if (tick)
        nslab__pub_tick(ts);
    NSLAB_BUSY_LEAVE();
    errno = saved;
}

int nslab__rfreed_apply(struct numaslab_cache *c, struct nslab_thread_cache *tc)
{
    int any = 0;
    for (int i = 0; i < nslab_g.nactive; i++)
        if (tc->slot[i].rfreed) {
            nslab__count_inuse(c, i, -(int64_t)tc->slot[i].rfreed);
            tc->slot[i].rfreed = 0;
            any = 1;
        }
    return any;
}

/*
 * Another thread's slab, or an unowned one.  A free must not read its slab
 * after the OR that makes its object free: from then on the owner may
 * collect it, find the slab empty and give it to the page layer.  So
 * everything is decided before: an unowned slab takes the cnode lock
 * (nslab__node_free); an owned one gets the bit in its remote map.  The
 * bits of one remote-map word are gathered in the freeing thread (tc->rb_*)
 * while its frees stay in that word, and ORed in at once, so that a thread
 * freeing another's objects in the order they were made pays one atomic
 * operation per 64 of them, and never more than one per free.  If the
 * owner gives the slab back before the OR, the bits wait in an unowned
 * slab until a thread adopts it or takes a slab of that node (lib/slab.c
 * collects there).
 */
static void free_remote(struct numaslab_cache *c, struct nslab_slab *s, void *obj, const char *call)
{
    uint32_t idx = nslab__obj_index(s, c, obj), w = idx / 64;
    uint64_t bit = 1ull << (idx % 64);
    if (nslab_load_acquire(&s->owner) == NULL) {
        nslab__node_free(c, s, w, bit, call);
        return;
    }
    struct nslab_tstate *ts = nslab_tls;
    struct nslab_thread_cache *tc = nslab__tc(ts, c->id);
    if (!tc && ts == &nslab_empty_ts && !nslab_exited &&
        nslab__trylock(&nslab_g.lock, NSLAB_RANK_GLOBAL) == 0) {
        /* A thread that never used the library: its state, unless this
         * free runs under nslab_g.lock (then the trylock failed). */
        nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
        ts = nslab__tstate();
        if (!ts)
            ts = &nslab_empty_ts;
    }
    if (!tc && ts != &nslab_empty_ts)
        tc = thread_cache_new(c, ts, 1); /* a thread that never allocated from c */
    if (!tc) {                           /* no memory for the thread's state, or the lock taken */
        nslab__remote_or(c, s, w, bit, call, 1);
        return;
    }
    if (tc->rb_s == s && tc->rb_w == w) {
        if (tc->rb_bits & bit) {
            nslab__bad_free("%s: double free of %p (cache %s); ignored", call, obj, c->name);
            return;
        }
        tc->rb_bits |= bit;
        return;
    }
    rb_restart(c, ts, tc, s, w, bit);
}

/* obj back into the free map of s, its thread's own slab; a slab other than
 * the current one may change state.  Every caller validated obj. */
static void free_local(struct numaslab_cache *c, struct nslab_tstate *ts, struct nslab_slab *s,
                       void *obj, const char *call)
{
    uint32_t idx = nslab__obj_index(s, c, obj), w = idx / 64;
    uint64_t bit = 1ull << (idx % 64), m = nslab_load_relaxed(&s->freemap[w]);
    if (m & bit) {
        nslab__bad_free("%s: double free of %p (cache %s); ignored", call, obj, c->name);
        return;
    }
    nslab_store_relaxed(&s->freemap[w], m | bit);
    s->nfree++;
    if (w < s->hint)
        s->hint = w;
    if (c->mag)
        nslab__cookie_set(obj);
    if (s->where == NSLAB_W_CUR)
        return;
    struct nslab_owned_slabs *o = &ts->cc[c->id]->own[s->nidx];
    if (s->nfree == s->nobjs) {
        own_del(o, s);
        nslab__node_give(c, s);
        return;
    }
    if (s->where == NSLAB_W_FULL) {
        own_del(o, s);
        own_put(o, s, NSLAB_W_PARTIAL);
    }
    nslab__slab_count(c, s);
}

/* The thread's free list for a node goes back to the free maps of its
 * objects' slabs, all the thread's own (a slab with an object on the list
 * has a live object, so it stays). */
static void slot_flush(struct numaslab_cache *c, struct nslab_tstate *ts,
                       struct nslab_thread_node *sl)
{
    void **obj = sl->head;
    uint32_t left = 2 * c->mag; /* the most it holds (nslab__own_fill) */
    sl->head = NULL;
    sl->room = c->mag;
    /* Each entry is checked: in a fork child, a thread that is gone may
     * have been halfway through a push (what it left is lost, not used). */
    for (; obj && left; left--) {
        struct nslab_slab *s = nslab__pagemap_get(obj);
        if (!s || *(uint8_t *)s != NSLAB_T_SLAB || s->cache != c || !nslab__obj_ok(s, c, obj) ||
            nslab_load_relaxed(&s->owner) != ts)
            break;
        NSLAB_MAG_OPEN(obj);
        void **next = (void **)obj[0];
        NSLAB_MAG_SHUT(obj);
        free_local(c, ts, s, obj, "numaslab_free");
        obj = next;
    }
}

__attribute__((noinline)) static void free_miss_slow(struct nslab_slab *s, void *obj,
                                                     const char *call)
{
    struct numaslab_cache *c = s->cache;
    struct nslab_tstate *ts = nslab_tls;
    if (nslab__cookie_is(c, obj)) {
        nslab__bad_free("%s: double free of %p (cache %s); ignored", call, obj, c->name);
        return;
    }
    if (nslab_load_relaxed(&s->owner) != ts) {
        if (c->mag)
            nslab__cookie_set(obj); /* the object is the freer's until its bit is ORed */
        free_remote(c, s, obj, call);
        return;
    }
    free_local(c, ts, s, obj, call); /* it refuses an object free in the map */
}

/* The miss of every fast free.  Its common case first, with no register
 * saved: another thread's object (of a cache with a list), in the
 * remote-map word the freeing thread gathers already (free_remote). */
void nslab__free_miss(struct nslab_slab *s, void *obj, const char *call)
{
    struct numaslab_cache *c = s->cache;
    struct nslab_tstate *ts = nslab_tls, *owner = nslab_load_relaxed(&s->owner);
    if (c->mag && owner != ts && owner != NULL) {
        struct nslab_thread_cache *tc = ts->cc[c->id]; /* nslab_no_tc: rb_s is NULL */
        uint32_t idx = nslab__obj_index(s, c, obj), w = idx / 64;
        uint64_t bit = 1ull << (idx % 64);
        if (tc->rb_s == s && tc->rb_w == w) {
            if (nslab__remote_gather(ts, s, c, obj))
                return;
        } else if (nslab__remote_switch(ts, s, c, obj)) {
            return;
        } else if (tc != &nslab_no_tc && !nslab__cookie_is(c, obj)) {
            /* Another word, and the thread has its cache of c: what
             * free_remote does, with what is known already. */
            nslab__cookie_set(obj);
            rb_restart(c, ts, tc, s, w, bit);
            return;
        }
    }
    free_miss_slow(s, obj, call);
}

/*
 * Everything the fast free does not: it validates obj in full (call names
 * the API call for messages).
 */
__attribute__((noinline)) void nslab__cache_free_slow(struct numaslab_cache *expect, void *obj,
                                                      const char *call)
{
    if (!obj)
        return;
    void *h = nslab__pagemap_get(obj);
    if (!h) {
        nslab__bad_free("%s: %p was not allocated by numaslab; ignored", call, obj);
        return;
    }
    if (*(uint8_t *)h == NSLAB_T_FREE) {
        nslab__bad_free("%s: %p is not allocated: it was freed already, or never handed out; "
                        "ignored",
                        call, obj);
        return;
    }
    if (*(uint8_t *)h == NSLAB_T_LARGE) {
        if (expect) {
            nslab__bad_free("%s(%s): %p is a large object of numaslab_alloc, not an object of "
                            "cache %s; ignored",
                            call, expect->name, obj, expect->name);
            return;
        }
        nslab__large_free(h, obj);
        return;
    }
    struct nslab_slab *s = h;
    struct numaslab_cache *c = s->cache;
    if (s->magic != NSLAB_SLAB_MAGIC) {
        nslab__bad_free("%s: %p: its slab header is corrupt; ignored", call, obj);
        return;
    }
    if (expect && c != expect) {
        nslab__bad_free("%s(%s): %p belongs to cache %s, not to cache %s; ignored", call,
                        expect->name, obj, c->name, expect->name);
        return;
    }
    if (!nslab__obj_ok(s, c, obj)) {
        nslab__bad_free("%s: %p is not the start of an object of cache %s; ignored", call, obj,
                        c->name);
        return;
    }
    if (nslab__slab_is_free(s, obj)) {
        nslab__bad_free("%s: double free of %p (cache %s%s); ignored", call, obj, c->name,
                        s->type == NSLAB_T_RESERVE ? ", reserve slab" : "");
        return;
    }
    if (!nslab__take_back(c, obj, call))
        return;
    if (s->type == NSLAB_T_RESERVE)
        nslab__reserve_free(s, obj, call);
    else
        nslab__free_miss(s, obj, call);
}

void nslab__cache_free_home(struct numaslab_cache *c, void *obj)
{
    struct nslab_slab *s = nslab__pagemap_get(obj);
    if (nslab__take_back(c, obj, "numaslab_free"))
        nslab__free_miss(s, obj, "numaslab_free");
}

/* Give back s, one of ts's slabs of (c, nidx), unless keep_live and it
 * has live objects (then its counts are brought up to date). */
static void flush_one(struct numaslab_cache *c, struct nslab_thread_cache *tc, int nidx,
                      struct nslab_slab *s, int keep_live)
{
    nslab__slab_collect(c, s);
    if (keep_live && s->nfree != s->nobjs) {
        if (s->where == NSLAB_W_FULL && s->nfree) {
            own_del(&tc->own[nidx], s);
            own_put(&tc->own[nidx], s, NSLAB_W_PARTIAL);
        }
        nslab__slab_count(c, s);
        return;
    }
    if (s->where == NSLAB_W_CUR)
        tc->slot[nidx].cur = NULL;
    else
        own_del(&tc->own[nidx], s);
    s->where = NSLAB_W_NONE;
    nslab__node_give(c, s);
}

void nslab__thread_cache_flush(struct numaslab_cache *c, struct nslab_tstate *ts, int keep_live)
{
    struct nslab_thread_cache *tc = nslab__tc(ts, c->id);
    if (!tc)
        return;
    rb_flush(c, tc);
    if (nslab__rfreed_apply(c, tc)) /* written by the caller's nslab__pub_dirty */
        nslab__pub_wait(ts, c->id);
    for (int i = 0; i < nslab_g.nactive; i++)
        slot_flush(c, ts, &tc->slot[i]);
    for (int i = 0; i < nslab_g.nactive; i++) {
        struct nslab_owned_slabs *o = &tc->own[i];
        if (tc->slot[i].cur)
            flush_one(c, tc, i, tc->slot[i].cur, keep_live);
        struct nslab_list *heads[] = {&o->partial, &o->full};
        for (int h = 0; h < 2; h++)
            for (struct nslab_list *l = heads[h]->next; l != heads[h];) {
                struct nslab_slab *s = nslab_container_of(l, struct nslab_slab, link);
                l = l->next;
                flush_one(c, tc, i, s, keep_live);
            }
    }
}

__attribute__((noinline)) void *nslab__alloc_miss(struct numaslab_cache *c, unsigned flags,
                                                  int node, struct nslab_thread_node *sl)
{
    void *obj;
    if (sl && (obj = nslab__own_refill(c, sl)))
        return nslab__hand_out(c, obj, flags);
    return nslab__cache_alloc_slow(c, flags, node);
}

void *numaslab_cache_alloc_node(numaslab_cache_t *c, unsigned flags, int node)
{
    struct nslab_thread_node *sl = nslab__own_slot_node(c, node);
    void *obj;
    if (likely(sl != NULL) && likely((obj = nslab__own_pop_list(sl)) != NULL))
        return nslab__hand_out(c, obj, flags);
    return nslab__alloc_miss(c, flags, node, sl);
}

void *numaslab_cache_alloc(numaslab_cache_t *c, unsigned flags)
{
    struct nslab_thread_node *sl = nslab__own_slot_local(c);
    void *obj = nslab__own_pop_list(sl);
    if (likely(obj != NULL))
        return nslab__hand_out(c, obj, flags);
    return nslab__alloc_miss(c, flags, NUMASLAB_NODE_LOCAL, sl);
}

void numaslab_cache_free(numaslab_cache_t *c, void *obj)
{
    struct nslab_slab *s = nslab__slab_fast_of(obj, c);
    if (likely(s && nslab__obj_ok(s, c, obj))) {
        if (unlikely(!nslab__take_back(c, obj, "numaslab_cache_free")))
            return;
        if (likely(nslab__own_push(s, c, obj)))
            return;
        nslab__free_miss(s, obj, "numaslab_cache_free");
        return;
    }
    nslab__cache_free_slow(c, obj, "numaslab_cache_free");
}
