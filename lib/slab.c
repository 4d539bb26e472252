/*
 * lib/slab.c - slabs, the lists of unowned slabs of each (cache, node),
 * and the (cache, node)'s counts of them; caches themselves are
 * lib/cache.c's.
 *
 * A slab is one run of the page layer bound to one node, its header at
 * the start, then its free map, its remote map (a cache line of its own)
 * and its objects (another).  An ordinary slab is owned by one thread
 * (lib/owner.c) from the moment it is taken until it is given back; while
 * unowned it waits on its cnode's list for its state:
 *
 *   take:  cnode partial (adopted: another thread gave it back with live
 *          objects), then cnode empty, then a new slab from the page layer
 *   give:  thread exit, numaslab_thread_flush, numaslab_cache_destroy,
 *          fork (the child's dead threads), or an owned slab that became
 *          empty: onto partial, full or empty; empty slabs beyond
 *          NUMASLAB_RETAIN go back to the page layer
 *
 * So the cnode lock is taken only when a slab changes hands, and by a
 * free into an unowned slab (nslab__node_free).  A free that reached an
 * unowned slab through its remote map (its owner gave it back meanwhile)
 * is collected when the slab is adopted, or by list_sweep when a thread
 * takes a slab of the node, or before destroy and fini count what is live.
 *
 * Invariants, for each (cache, node):
 *   an ordinary slab is owned (owner != NULL, where != NSLAB_W_NODE), or
 *   on exactly one cnode list, the one of its state (where == NSLAB_W_NODE)
 *   st_total == objects of all its slabs; st_slabs[k] == ordinary slabs
 *   whose counted state is k; st_inuse == sum of (nobjs - pub_free)
 *
 * Locks: cnode->lock (rank NSLAB_RANK_CNODE, lib/lock.h) protects the
 * (cache, node)'s lists of unowned slabs, nr_empty, and the reserve list
 * with nr_reserve and reserve_inuse (lib/reserve.c).  One at a time,
 * below nslab_g.lock; the page layer is called with no cnode lock held.
 */
#include "lib/internal.h"
#include "lib/debug.h"

/* ------------------------------------------------------------------------
 * Slabs
 * ---------------------------------------------------------------------- */

NSLAB_HIDDEN uint64_t nslab_slab_images;

/* Every object of s free in its map (a new slab, an emptied one). */
static void map_fill(struct nslab_slab *s)
{
    for (uint32_t w = 0; w < s->nwords; w++)
        nslab_store_relaxed(&s->freemap[w], ~0ull);
    if (s->nobjs % 64)
        nslab_store_relaxed(&s->freemap[s->nwords - 1], (1ull << (s->nobjs % 64)) - 1);
    s->hint = 0;
}

/* The objects free in s's map. */
static uint32_t map_count(const struct nslab_slab *s)
{
    uint32_t n = 0;
    for (uint32_t w = 0; w < s->nwords; w++)
        n += (uint32_t)nslab_popcount64(nslab_load_relaxed(&s->freemap[w]));
    return n;
}

/* The counted state a slab's free objects give. */
static int state_of(const struct nslab_slab *s)
{
    return s->nfree == s->nobjs ? NSLAB_L_EMPTY : s->nfree == 0 ? NSLAB_L_FULL : NSLAB_L_PARTIAL;
}

void nslab__slab_count(struct numaslab_cache *c, struct nslab_slab *s)
{
    if (s->type != NSLAB_T_SLAB)
        return;
    struct nslab_cache_node *cn = &c->cnode[s->nidx];
    int st = state_of(s), moved = st != s->state;
    if (moved) {
        nslab_sub_relaxed(&cn->st_slabs[s->state], 1);
        nslab_add_relaxed(&cn->st_slabs[st], 1);
        s->state = (uint8_t)st;
    }
    if (s->nfree != s->pub_free) {
        nslab__count_inuse(c, s->nidx, (int64_t)s->pub_free - s->nfree);
        s->pub_free = s->nfree;
    } else if (!moved) {
        return; /* nothing changed: nothing to write */
    }
    if (moved)
        nslab__pub_cache(c, s->nidx);
    else
        nslab__pub_cache_counts(c, s->nidx);
}

/* The arena's record of s (lib/pages.h) follows its header: owner ts
 * (NULL: none) with the free list it has there. */
static inline void rec_own(struct nslab_slab *s, struct nslab_tstate *ts)
{
    if (nslab__in_arena(s)) {
        struct nslab_chunk *r = nslab__arena_rec(s);
        r->oslot = s->oslot;
        nslab_store_relaxed(&r->owner, ts);
    }
}

/* s's owner becomes ts (NULL: none), s->oslot set before: in the header,
 * a release store that remote freers read, and in the record. */
static inline void set_owner(struct nslab_slab *s, struct nslab_tstate *ts)
{
    nslab_store_release(&s->owner, ts);
    rec_own(s, ts);
}

/* Lay a slab of c out in mem (c->slab_bytes bound to node nidx) and enter
 * it in the page map and the statistics.  NULL/ENOMEM when the page map
 * cannot grow. */
struct nslab_slab *nslab__slab_init(struct numaslab_cache *c, int nidx, char *mem, int type,
                                    struct numaslab_mempool *pool)
{
    struct nslab_slab *s = (struct nslab_slab *)mem;
    uint32_t nwords = (c->nobjs + 63) / 64;
    /* Not a slab until the header is whole: in the arena a free finds
     * the header by its address alone (a bad one may race with this). */
    nslab_store_relaxed(&s->type, 0);
    s->state = NSLAB_L_EMPTY;
    s->nidx = (uint16_t)nidx;
    s->magic = NSLAB_SLAB_MAGIC;
    s->cache = c;
    s->objs = mem + c->obj_offset;
    s->owner = NULL;
    s->oslot = NULL;
    s->lfree = NULL;
    if (nslab__in_arena(mem)) {
        nslab__arena_rec(mem)->cache = c;
        nslab__arena_rec(mem)->objs = s->objs;
    }
    rec_own(s, NULL);
    s->nobjs = c->nobjs;
    s->nfree = c->nobjs;
    s->pub_free = c->nobjs;
    s->hint = 0;
    s->trip = c->nobjs - 2;
    s->nwords = nwords;
    s->where = NSLAB_W_NONE;
    s->pool = pool;
    s->rmap = (uint64_t *)(mem + c->rmap_offset);
    nslab_list_init(&s->link);
    map_fill(s);
    for (uint32_t w = 0; w < nwords; w++)
        nslab_store_relaxed(&s->rmap[w], 0);
    nslab_store_relaxed(&s->freemap[nwords], 0);
    if (c->ctor)
        for (uint32_t i = 0; i < c->nobjs; i++)
            c->ctor(s->objs + (size_t)i * c->size);
    if (c->mag && type == NSLAB_T_SLAB) {
        /* Every free object carries the cookie (lib/thread.h): so does
         * every object of an arena chunk this cache's empty slab left
         * (image), which is made again as it was. */
        int same = nslab__in_arena(mem) && s->image == c->serial;
        if (same)
            nslab_add_relaxed(&nslab_slab_images, 1);
        else
            for (uint32_t i = 0; i < c->nobjs; i++)
                ((void **)(s->objs + (size_t)i * c->size))[1] = (void *)nslab_cookie;
        s->image = c->serial;
    } else {
        s->image = 0;
    }
    nslab__debug_slab_init(c, s->objs);
    nslab_store_release(&s->type, (uint8_t)type);
    if (nslab__pagemap_set(mem, c->slab_bytes, s)) {
        nslab__debug_slab_fini(c, s->objs);
        errno = ENOMEM;
        return NULL;
    }
    struct nslab_cache_node *cn = &c->cnode[nidx];
    nslab__count_total(c, nidx, s->nobjs);
    if (type == NSLAB_T_SLAB)
        nslab_add_relaxed(&cn->st_slabs[NSLAB_L_EMPTY], 1);
    nslab__pub_cache(c, nidx);
    return s;
}

struct nslab_slab *nslab__slab_new(struct numaslab_cache *c, int nidx)
{
    /* A slab of the arena's size comes from the arena (lib/pages.h). */
    unsigned pflags = c->slab_bytes == NSLAB_MIN_SLAB ? NSLAB_PG_SLAB : 0;
    char *mem = nslab__pages_get(nidx, c->slab_bytes, pflags, NULL);
    if (!mem && errno == ENOMEM && nslab_load_relaxed(&nslab_g.cg_head.short_since)) {
        /* A short cgroup: the empty slabs every cache retains go back
         * too (the page layer gave its own cache back already). */
        nslab__slabs_trim();
        mem = nslab__pages_get(nidx, c->slab_bytes, pflags, NULL);
    }
    if (!mem)
        return NULL;
    struct nslab_slab *s = nslab__slab_init(c, nidx, mem, NSLAB_T_SLAB, NULL);
    if (!s)
        nslab__pages_put(nidx, mem, c->slab_bytes, NSLAB_PG_UNMAP);
    return s;
}

/* An empty ordinary slab, on no list, leaves the statistics and goes to
 * the page layer.  keep: its memory may wait in the page layer's cache of
 * its node; 0 unmaps it (destroy, fini, a short cgroup).  No cnode lock. */
void nslab__slab_destroy(struct numaslab_cache *c, struct nslab_slab *s, int keep)
{
    struct nslab_cache_node *cn = &c->cnode[s->nidx];
    int nidx = s->nidx;
    nslab__count_total(c, nidx, -(int64_t)s->nobjs);
    nslab_sub_relaxed(&cn->st_slabs[s->state], 1);
    nslab__count_inuse(c, nidx, (int64_t)s->pub_free - s->nobjs);
    nslab__debug_slab_fini(c, s->objs);
    nslab_store_release(&s->type, 0); /* no slab from here on (slab_init) */
    rec_own(s, NULL);
    nslab__pages_put(nidx, s, c->slab_bytes, keep ? 0 : NSLAB_PG_UNMAP);
    nslab__pub_cache(c, nidx);
}

void nslab__slab_lfree_drain(struct numaslab_cache *c, struct nslab_slab *s)
{
    void **o = s->lfree;
    s->lfree = NULL;
    if (s->nfree == s->nobjs) {
        /* Every object is free, in the map or on the list (a push stores
         * nfree last): the whole map, with no walk. */
        map_fill(s);
        return;
    }
    for (uint32_t n = 0; o && n < s->nobjs && nslab__obj_ok(s, c, o); n++) {
        uint32_t idx = nslab__obj_index(s, c, o), w = idx / 64;
        uint64_t bit = 1ull << (idx % 64), m = nslab_load_relaxed(&s->freemap[w]);
        if (m & bit)
            break; /* in the map already: the list is not what a push leaves */
        NSLAB_MAG_OPEN(o);
        void **next = (void **)o[0];
        NSLAB_MAG_SHUT(o);
        nslab_store_relaxed(&s->freemap[w], m | bit);
        if (w < s->hint)
            s->hint = w;
        o = next;
    }
    s->nfree = map_count(s);
}

uint32_t nslab__slab_collect(struct numaslab_cache *c, struct nslab_slab *s)
{
    uint32_t got = 0;
    for (uint32_t w = 0; w < s->nwords; w++) {
        if (!nslab_load_relaxed(&s->rmap[w]))
            continue;
        /* Acquire: the freer's last writes to the objects come before. */
        uint64_t x = __atomic_exchange_n(&s->rmap[w], 0, __ATOMIC_ACQUIRE);
        uint64_t m = nslab_load_relaxed(&s->freemap[w]), dup = x & m;
        if (dup) /* the freer counted them free: they were already */
            nslab__count_inuse(c, s->nidx, nslab_popcount64(dup));
        nslab__report_doubles(c, "numaslab_free", s->objs + (size_t)w * 64 * c->size, dup);
        x &= ~m;
        if (!x)
            continue;
        nslab_store_relaxed(&s->freemap[w], m | x);
        got += (uint32_t)nslab_popcount64(x);
        if (w < s->hint)
            s->hint = w;
    }
    s->nfree += got;
    s->pub_free += got; /* their freers counted them in the statistics */
    return got;
}

int nslab__slab_is_free(const struct nslab_slab *s, const void *p)
{
    uint32_t idx = nslab__obj_index(s, s->cache, p);
    uint64_t bit = 1ull << (idx % 64);
    return !!((nslab_load_relaxed(&s->freemap[idx / 64]) | nslab_load_relaxed(&s->rmap[idx / 64])) &
              bit);
}

/*
 * Debug level 2: a slab's free map and count agree.  Level 3: so do the
 * cnode's unowned lists.  A disagreement is a corrupted allocator: report
 * and abort.
 */
static void slab_check(const struct numaslab_cache *c, const struct nslab_slab *s)
{
    uint32_t nfree = map_count(s);
    if (s->magic != NSLAB_SLAB_MAGIC || s->cache != c || nfree != s->nfree || s->nfree > s->nobjs ||
        nslab_load_relaxed(&s->freemap[s->nwords]) != 0) {
        nslab__report("numaslab: cache %s: slab %p is inconsistent (magic %#x, %u free in the map, "
                      "%u counted, %u objects); aborting",
                      c->name, (const void *)s, s->magic, nfree, s->nfree, s->nobjs);
        abort();
    }
    const struct nslab_chunk *r = nslab__in_arena(s) ? nslab__arena_rec(s) : NULL;
    if (r && (r->owner != s->owner ||
              (s->owner && (r->cache != c || r->objs != s->objs || r->oslot != s->oslot)))) {
        nslab__report("numaslab: cache %s: slab %p disagrees with its arena record; aborting",
                      c->name, (const void *)s);
        abort();
    }
}

static void cnode_check(const struct numaslab_cache *c, const struct nslab_cache_node *cn)
{
    const struct nslab_list *heads[] = {&cn->partial, &cn->full, &cn->empty};
    uint64_t nempty = 0;
    for (int h = 0; h < 3; h++)
        for (const struct nslab_list *l = heads[h]->next; l != heads[h]; l = l->next) {
            const struct nslab_slab *s = nslab_container_of(l, struct nslab_slab, link);
            slab_check(c, s);
            if (s->owner || s->where != NSLAB_W_NODE || state_of(s) != h) {
                nslab__report("numaslab: cache %s: slab %p on the wrong node list; aborting",
                              c->name, (const void *)s);
                abort();
            }
            nempty += h == NSLAB_L_EMPTY;
        }
    if (nempty != cn->nr_empty) {
        nslab__report("numaslab: cache %s: node lists disagree with their counters; aborting",
                      c->name);
        abort();
    }
}

#define SLAB_CHECK(c, s)                                                                           \
    do {                                                                                           \
        if (NSLAB_DEBUG >= 2)                                                                      \
            slab_check((c), (s));                                                                  \
    } while (0)
#define CNODE_CHECK(c, cn)                                                                         \
    do {                                                                                           \
        if (NSLAB_DEBUG >= 3)                                                                      \
            cnode_check((c), (cn));                                                                \
    } while (0)

/* ------------------------------------------------------------------------
 * The cnode's lists: slabs changing hands
 * ---------------------------------------------------------------------- */

static struct nslab_list *node_list(struct nslab_cache_node *cn, int state)
{
    return state == NSLAB_L_EMPTY ? &cn->empty : state == NSLAB_L_FULL ? &cn->full : &cn->partial;
}

/* Put unowned s on the list of its state.  cnode lock held. */
static void node_file(struct nslab_cache_node *cn, struct nslab_slab *s)
{
    NSLAB_ASSERT_HELD(&cn->lock);
    int st = state_of(s);
    if (s->where == NSLAB_W_NODE) {
        nslab_list_del(&s->link);
        if (s->state == NSLAB_L_EMPTY)
            cn->nr_empty--;
    }
    s->where = NSLAB_W_NODE;
    if (st == NSLAB_L_EMPTY) {
        nslab_list_add(&cn->empty, &s->link); /* the most recent first */
        cn->nr_empty++;
    } else {
        nslab_list_add_tail(node_list(cn, st), &s->link);
    }
    nslab__slab_count(s->cache, s);
}

/* Move the oldest empty slabs of cn beyond keep onto dead.  cnode lock held. */
static void empties_detach(struct nslab_cache_node *cn, uint64_t keep, struct nslab_list *dead)
{
    NSLAB_ASSERT_HELD(&cn->lock);
    while (cn->nr_empty > keep) {
        struct nslab_slab *s = nslab_container_of(cn->empty.prev, struct nslab_slab, link);
        nslab_list_move(dead, &s->link);
        s->where = NSLAB_W_NONE;
        cn->nr_empty--;
    }
}

/* Destroy the slabs of c on dead (see nslab__slab_destroy for keep).  No lock. */
static void slabs_destroy(struct numaslab_cache *c, struct nslab_list *dead, int keep)
{
    while (!nslab_list_empty(dead)) {
        struct nslab_slab *s = nslab_container_of(dead->next, struct nslab_slab, link);
        nslab_list_del(&s->link);
        nslab__slab_destroy(c, s, keep);
    }
}

/* Put unowned s on the list its state says, release the empty slabs
 * beyond the retention, and drop the cnode lock (held on entry). */
static void node_file_unlock(struct numaslab_cache *c, struct nslab_cache_node *cn,
                             struct nslab_slab *s)
{
    NSLAB_ASSERT_HELD(&cn->lock);
    struct nslab_list dead;
    nslab_list_init(&dead);
    SLAB_CHECK(c, s);
    node_file(cn, s);
    empties_detach(cn, nslab_g.opt.retain, &dead);
    CNODE_CHECK(c, cn);
    nslab__unlock(&cn->lock, NSLAB_RANK_CNODE);
    slabs_destroy(c, &dead, !nslab_load_relaxed(&c->dying));
}

void nslab__report_doubles(struct numaslab_cache *c, const char *call, char *first, uint64_t dup)
{
    for (; dup; dup &= dup - 1)
        nslab__bad_free("%s: double free of %p (cache %s); ignored", call,
                        (void *)(first + (size_t)__builtin_ctzll(dup) * c->size), c->name);
}

/* Frees that reached unowned slabs through their remote maps (a freer
 * that saw the owner just before it gave the slab back): collect them on
 * up to n slabs of the list head, oldest first, and refile those.  cnode
 * lock held. */
static void list_sweep(struct numaslab_cache *c, struct nslab_cache_node *cn,
                       struct nslab_list *head, int n)
{
    NSLAB_ASSERT_HELD(&cn->lock);
    for (int k = 0; k < n && !nslab_list_empty(head); k++) {
        struct nslab_slab *s = nslab_container_of(head->next, struct nslab_slab, link);
        nslab_list_move(head->prev, &s->link); /* to the back: the next sweep looks further */
        if (nslab__slab_collect(c, s))
            node_file(cn, s);
    }
}

/* s becomes ts's, with what waits in its remote map.  cnode lock held. */
static void adopt(struct numaslab_cache *c, struct nslab_slab *s, struct nslab_tstate *ts)
{
    NSLAB_ASSERT_HELD(&c->cnode[s->nidx].lock);
    nslab_list_del(&s->link);
    if (s->state == NSLAB_L_EMPTY && s->where == NSLAB_W_NODE)
        c->cnode[s->nidx].nr_empty--;
    s->where = NSLAB_W_NONE;
    set_owner(s, ts);
    nslab__slab_collect(c, s);
    SLAB_CHECK(c, s);
}

struct nslab_slab *nslab__node_take(struct numaslab_cache *c, int nidx, struct nslab_tstate *ts)
{
    struct nslab_cache_node *cn = &c->cnode[nidx];
    struct nslab_slab *s;
    nslab__lock(&cn->lock, NSLAB_RANK_CNODE);
    list_sweep(c, cn, &cn->full, 4);
    s = nslab_list_first(&cn->partial, struct nslab_slab, link);
    if (!s)
        s = nslab_list_first(&cn->empty, struct nslab_slab, link);
    if (s) {
        s->oslot = &ts->cc[c->id]->slot[nidx];
        adopt(c, s, ts);
    }
    CNODE_CHECK(c, cn);
    nslab__unlock(&cn->lock, NSLAB_RANK_CNODE);
    if (s)
        return s;
    /* Map outside the lock: other threads keep going meanwhile. */
    s = nslab__slab_new(c, nidx);
    if (s) {
        s->oslot = &ts->cc[c->id]->slot[nidx];
        set_owner(s, ts); /* not published yet: nobody else knows it */
        s->where = NSLAB_W_NONE;
    }
    return s;
}

void nslab__node_give(struct numaslab_cache *c, struct nslab_slab *s)
{
    struct nslab_cache_node *cn = &c->cnode[s->nidx];
    nslab__slab_lfree_drain(c, s); /* the owner's: before anyone else may see s */
    nslab__lock(&cn->lock, NSLAB_RANK_CNODE);
    /* No owner from here on: a remote freer that reads NULL takes this
     * lock; one that read the old owner and ORs after the collect below
     * leaves its bit for list_sweep or the next adopter. */
    set_owner(s, NULL);
    nslab__slab_collect(c, s);
    s->trip = s->nobjs - 2;
    s->where = NSLAB_W_NONE;
    node_file_unlock(c, cn, s);
}

uint32_t nslab__remote_or(struct numaslab_cache *c, struct nslab_slab *s, uint32_t w, uint64_t bits,
                          const char *call, int count)
{
    int nidx = s->nidx;
    char *first = s->objs + (size_t)w * 64 * c->size; /* read before the OR */
    /* Release: the objects' last writes come before the owner's collect. */
    uint64_t dup = __atomic_fetch_or(&s->rmap[w], bits, __ATOMIC_RELEASE) & bits;
    /* Counted free by the freer, now or at its next tick, flush or exit:
     * the statistics are exact once every thread has flushed, whatever
     * the order (the collector leaves them). */
    uint32_t n = nslab_popcount64(bits & ~dup);
    if (unlikely(dup != 0))
        nslab__report_doubles(c, call, first, dup);
    if (count) {
        nslab__count_inuse(c, nidx, -(int64_t)n);
        nslab__pub_cache_counts(c, nidx);
    }
    return n;
}

void nslab__node_free(struct numaslab_cache *c, struct nslab_slab *s, uint32_t w, uint64_t bits,
                      const char *call)
{
    int nidx = s->nidx;
    struct nslab_cache_node *cn = &c->cnode[nidx];
    char *first = s->objs + (size_t)w * 64 * c->size;
    nslab__lock(&cn->lock, NSLAB_RANK_CNODE);
    if (nslab_load_relaxed(&s->owner) != NULL) {
        /* Adopted meanwhile: the new owner collects them.  s stays (the
         * objects are live until the OR). */
        nslab__unlock(&cn->lock, NSLAB_RANK_CNODE);
        nslab__remote_or(c, s, w, bits, call, 1);
        return;
    }
    nslab__slab_collect(c, s); /* what freers left before the owner went */
    uint64_t m = nslab_load_relaxed(&s->freemap[w]);
    nslab__report_doubles(c, call, first, m & bits);
    bits &= ~m;
    nslab_store_relaxed(&s->freemap[w], m | bits);
    s->nfree += (uint32_t)nslab_popcount64(bits);
    if (bits && w < s->hint)
        s->hint = w;
    node_file_unlock(c, cn, s);
}

void nslab__cache_sweep_some(struct numaslab_cache *c, int n)
{
    for (int i = 0; i < nslab_g.nactive; i++) {
        struct nslab_cache_node *cn = &c->cnode[i];
        struct nslab_list dead;
        nslab_list_init(&dead);
        nslab__lock(&cn->lock, NSLAB_RANK_CNODE);
        list_sweep(c, cn, &cn->full, n);
        list_sweep(c, cn, &cn->partial, n);
        empties_detach(cn, nslab_g.opt.retain, &dead);
        CNODE_CHECK(c, cn);
        nslab__unlock(&cn->lock, NSLAB_RANK_CNODE);
        slabs_destroy(c, &dead, !nslab_load_relaxed(&c->dying));
    }
}

/* Every unowned slab of c collects what waits in its remote map (frees
 * that reached it after its owner gave it back), and those that become
 * empty go as the retention says.  nslab_g.lock held. */
void nslab__cache_sweep(struct numaslab_cache *c)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    struct nslab_list dead;
    for (int i = 0; i < nslab_g.nactive; i++) {
        struct nslab_cache_node *cn = &c->cnode[i];
        nslab_list_init(&dead);
        nslab__lock(&cn->lock, NSLAB_RANK_CNODE);
        struct nslab_list *heads[] = {&cn->partial, &cn->full};
        for (int h = 0; h < 2; h++) {
            struct nslab_list todo;
            nslab_list_init(&todo);
            while (!nslab_list_empty(heads[h])) /* refiling may put s back on this list */
                nslab_list_move(&todo, heads[h]->next);
            while (!nslab_list_empty(&todo)) {
                struct nslab_slab *s = nslab_container_of(todo.next, struct nslab_slab, link);
                nslab_list_move(node_list(cn, state_of(s)), &s->link);
                if (nslab__slab_collect(c, s))
                    node_file(cn, s);
            }
        }
        empties_detach(cn, nslab_g.opt.retain, &dead);
        CNODE_CHECK(c, cn);
        nslab__unlock(&cn->lock, NSLAB_RANK_CNODE);
        slabs_destroy(c, &dead, !nslab_load_relaxed(&c->dying));
    }
}

/*
 * A short cgroup: every cache's retained empty slabs (NUMASLAB_RETAIN) go
 * back to the system (the page layer's cache went first).  The empty
 * slabs need the cache list, so nslab_g.lock is only tried: a caller may
 * hold it (initialisation fills reserves under it), and the page layer's
 * cache is the larger part anyway.  No lock held on entry but, at most,
 * nslab_g.lock.
 */
void nslab__slabs_trim(void)
{
    if (nslab__trylock(&nslab_g.lock, NSLAB_RANK_GLOBAL) != 0)
        return;
    struct nslab_list *l;
    for (l = nslab_g.caches.next; l != &nslab_g.caches; l = l->next) {
        struct numaslab_cache *c = nslab_container_of(l, struct numaslab_cache, link);
        for (int i = 0; i < nslab_g.nactive; i++) {
            struct nslab_cache_node *cn = &c->cnode[i];
            struct nslab_list dead;
            nslab_list_init(&dead);
            nslab__lock(&cn->lock, NSLAB_RANK_CNODE);
            empties_detach(cn, 0, &dead);
            CNODE_CHECK(c, cn);
            nslab__unlock(&cn->lock, NSLAB_RANK_CNODE);
            slabs_destroy(c, &dead, 0);
        }
    }
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
}
