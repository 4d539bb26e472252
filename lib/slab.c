/*
 * lib/slab.c - caches: slabs per (cache, node) and the threads' array
 * caches in front of them.
 *
 * Locks (order and meaning in lib/internal.h): nslab_g.lock, then one
 * cnode->lock.  The array caches are owned by their thread and touched
 * without a lock, except by numaslab_cache_destroy, numaslab_fini and the
 * fork handler, which the API documents as needing the owners quiescent.
 *
 * An object's way through the allocator:
 *   slab freemap --refill (batch, under cnode lock)--> thread array cache
 *   --fast pop--> user --fast push (any thread: the array cache of the
 *   object's own node)--> array cache --flush (batch)--> its slab.
 * Objects of another node pile up in the freeing thread's array cache for
 * that node and go home a batch at a time (SLAB's alien caches).
 */
#include "lib/internal.h"
#include "lib/debug.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_SLAB_BYTES (64u << 20)
#define MAX_OBJ_SIZE (MAX_SLAB_BYTES / NSLAB_MIN_OBJS)

static size_t align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }

/* ------------------------------------------------------------------------
 * Slabs
 * ---------------------------------------------------------------------- */

/* Lay a slab of c out in mem (c->slab_bytes bound to node nidx) and enter
 * it in the page map.  NULL/ENOMEM when the page map cannot grow. */
static struct nslab_slab *slab_init(struct numaslab_cache *c, int nidx, char *mem, int type,
                                    struct numaslab_mempool *pool)
{
    struct nslab_slab *s = (struct nslab_slab *)mem;
    s->type = (uint8_t)type;
    s->list = NSLAB_L_EMPTY;
    s->nidx = (uint16_t)nidx;
    s->magic = NSLAB_SLAB_MAGIC;
    s->cache = c;
    s->objs = mem + c->obj_offset;
    s->nobjs = c->nobjs;
    s->inuse = 0;
    s->hint = 0;
    s->nwords = (c->nobjs + 63) / 64;
    s->pool = pool;
    nslab_list_init(&s->link);
    for (uint32_t w = 0; w < s->nwords; w++)
        nslab_store_relaxed(&s->freemap[w], ~0ull);
    if (c->nobjs % 64)
        nslab_store_relaxed(&s->freemap[s->nwords - 1], (1ull << (c->nobjs % 64)) - 1);
    if (c->ctor)
        for (uint32_t i = 0; i < c->nobjs; i++)
            c->ctor(s->objs + (size_t)i * c->size);
    nslab__debug_slab_init(c, s->objs);
    if (nslab__pagemap_set(mem, c->slab_bytes, s)) {
        nslab__debug_slab_fini(c, s->objs);
        errno = ENOMEM;
        return NULL;
    }
    return s;
}

static struct nslab_slab *slab_new(struct numaslab_cache *c, int nidx)
{
    char *mem = nslab__pages_get(nidx, c->slab_bytes, 0, NULL);
    if (!mem && errno == ENOMEM && nslab_load_relaxed(&nslab_g.cg_head.short_since)) {
        /* A short cgroup: the empty slabs every cache retains go back
         * too (the page layer gave its own cache back already). */
        nslab__slabs_trim();
        mem = nslab__pages_get(nidx, c->slab_bytes, 0, NULL);
    }
    if (!mem)
        return NULL;
    struct nslab_slab *s = slab_init(c, nidx, mem, NSLAB_T_SLAB, NULL);
    if (!s)
        nslab__pages_put(nidx, mem, c->slab_bytes, NSLAB_PG_UNMAP);
    return s;
}

/* keep: the slab's memory may wait in the page layer's cache of its node
 * (an empty slab beyond the retention); 0 unmaps it (destroy, fini). */
static void slab_destroy(struct numaslab_cache *c, struct nslab_slab *s, int keep)
{
    nslab__debug_slab_fini(c, s->objs);
    nslab__pages_put(s->nidx, s, c->slab_bytes, keep ? 0 : NSLAB_PG_UNMAP);
}

static void slab_set_list(struct nslab_cnode *cn, struct nslab_slab *s, int list)
{
    if (s->list == list)
        return;
    uint64_t *nr[] = {&cn->nr_partial, &cn->nr_full, &cn->nr_empty};
    struct nslab_list *head[] = {&cn->partial, &cn->full, &cn->empty};
    (*nr[s->list])--;
    (*nr[list])++;
    s->list = (uint8_t)list;
    nslab_list_move(head[list], &s->link);
}

/*
 * Debug level 2: a slab's free map, count and list agree.  Level 3: so do
 * every slab of the (cache, node) and the node's counters.  cnode lock
 * held.  A disagreement is a corrupted allocator: report and abort.
 */
static void slab_check(const struct numaslab_cache *c, const struct nslab_slab *s)
{
    uint32_t nfree = 0;
    for (uint32_t w = 0; w < s->nwords; w++)
        nfree += (uint32_t)__builtin_popcountll(s->freemap[w]);
    int list_ok = s->type == NSLAB_T_RESERVE ||
                  s->list == (s->inuse == 0 ? NSLAB_L_EMPTY
                              : s->inuse == s->nobjs ? NSLAB_L_FULL : NSLAB_L_PARTIAL);
    if (s->magic != NSLAB_SLAB_MAGIC || s->cache != c || nfree + s->inuse != s->nobjs || !list_ok) {
        nslab__report("numaslab: cache %s: slab %p is inconsistent (magic %#x, %u free + %u in "
                      "use != %u, list %u); aborting", c->name, (const void *)s, s->magic, nfree,
                      s->inuse, s->nobjs, s->list);
        abort();
    }
}

static void cnode_check(const struct numaslab_cache *c, const struct nslab_cnode *cn)
{
    const struct nslab_list *heads[] = {&cn->partial, &cn->full, &cn->empty, &cn->reserve};
    uint64_t n[4] = {0, 0, 0, 0}, inuse = 0, rinuse = 0, total = 0;
    for (int h = 0; h < 4; h++)
        for (const struct nslab_list *l = heads[h]->next; l != heads[h]; l = l->next) {
            const struct nslab_slab *s = nslab_container_of(l, struct nslab_slab, link);
            slab_check(c, s);
            n[h]++;
            total += s->nobjs;
            *(h == 3 ? &rinuse : &inuse) += s->inuse;
        }
    if (n[0] != cn->nr_partial || n[1] != cn->nr_full || n[2] != cn->nr_empty ||
        n[3] != cn->nr_reserve || inuse != cn->inuse || rinuse != cn->reserve_inuse ||
        total != cn->total) {
        nslab__report("numaslab: cache %s: node lists disagree with their counters; aborting",
                      c->name);
        abort();
    }
}

#define SLAB_CHECK(c, s) do { if (NSLAB_DEBUG >= 2) slab_check((c), (s)); } while (0)
#define CNODE_CHECK(c, cn) do { if (NSLAB_DEBUG >= 3) cnode_check((c), (cn)); } while (0)

/* Take up to want free objects of s into out[].  cnode lock held. */
static unsigned slab_take(struct numaslab_cache *c, struct nslab_slab *s, void **out,
                          unsigned want)
{
    unsigned got = 0;
    uint32_t w = s->hint;
    while (w < s->nwords && got < want) {
        uint64_t m = s->freemap[w];
        while (m && got < want) {
            unsigned b = (unsigned)__builtin_ctzll(m);
            m &= m - 1;
            out[got++] = s->objs + ((size_t)w * 64 + b) * c->size;
        }
        nslab_store_relaxed(&s->freemap[w], m);
        if (m)
            break;
        w++;
    }
    s->hint = w;
    s->inuse += got;
    return got;
}

/* Move up to want objects from node's lists into out[].  cnode lock held. */
static unsigned cnode_take(struct numaslab_cache *c, struct nslab_cnode *cn, void **out,
                           unsigned want)
{
    unsigned got = 0;
    while (got < want) {
        struct nslab_slab *s = nslab_list_first(&cn->partial, struct nslab_slab, link);
        if (!s)
            s = nslab_list_first(&cn->empty, struct nslab_slab, link);
        if (!s)
            break;
        got += slab_take(c, s, out + got, want - got);
        slab_set_list(cn, s, s->inuse == s->nobjs ? NSLAB_L_FULL : NSLAB_L_PARTIAL);
        SLAB_CHECK(c, s);
    }
    cn->inuse += got;
    CNODE_CHECK(c, cn);
    return got;
}

/* Move the oldest empty slabs of cn beyond keep onto dead (the list head
 * holds the most recent).  cnode lock held. */
static void empties_detach(struct nslab_cnode *cn, uint64_t keep, struct nslab_list *dead)
{
    while (cn->nr_empty > keep) {
        struct nslab_slab *s = nslab_container_of(cn->empty.prev, struct nslab_slab, link);
        nslab_list_move(dead, &s->link);
        cn->nr_empty--;
        cn->total -= s->nobjs;
    }
}

/* Destroy the slabs of c on dead (see slab_destroy for keep).  No lock. */
static void slabs_destroy(struct numaslab_cache *c, struct nslab_list *dead, int keep)
{
    while (!nslab_list_empty(dead)) {
        struct nslab_slab *s = nslab_container_of(dead->next, struct nslab_slab, link);
        nslab_list_del(&s->link);
        slab_destroy(c, s, keep);
    }
}

/*
 * Return n objects of (c, nidx) to their slabs; empty slabs beyond the
 * retention limit go back to the OS.  Takes the cnode lock.  Bad pointers
 * (not an object start, already free) are reported and skipped.
 */
static void return_objects(struct numaslab_cache *c, int nidx, void **objs, unsigned n)
{
    struct nslab_cnode *cn = &c->cnode[nidx];
    struct nslab_list dead;
    nslab_list_init(&dead);

    pthread_mutex_lock(&cn->lock);
    for (unsigned i = 0; i < n; i++) {
        struct nslab_slab *s = nslab__pagemap_get(objs[i]);
        if (!s || s->type != NSLAB_T_SLAB || s->cache != c || s->nidx != nidx ||
            !nslab__obj_ok(s, c, objs[i])) {
            nslab__bad_free("numaslab_free: %p is not an object of cache %s; ignored", objs[i],
                          c->name);
            continue;
        }
        uint32_t idx = nslab__obj_index(s, c, objs[i]);
        uint64_t bit = 1ull << (idx % 64);
        if (s->freemap[idx / 64] & bit) {
            nslab__bad_free("numaslab_free: double free of %p (cache %s); ignored", objs[i],
                          c->name);
            continue;
        }
        nslab_store_relaxed(&s->freemap[idx / 64], s->freemap[idx / 64] | bit);
        if (idx / 64 < s->hint)
            s->hint = idx / 64;
        s->inuse--;
        cn->inuse--;
        slab_set_list(cn, s, s->inuse == 0 ? NSLAB_L_EMPTY : NSLAB_L_PARTIAL);
        SLAB_CHECK(c, s);
    }
    empties_detach(cn, nslab_g.opt.retain, &dead);
    CNODE_CHECK(c, cn);
    pthread_mutex_unlock(&cn->lock);
    slabs_destroy(c, &dead, !nslab_load_relaxed(&c->dying));
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
    if (pthread_mutex_trylock(&nslab_g.lock) != 0)
        return;
    struct nslab_list *l;
    for (l = nslab_g.caches.next; l != &nslab_g.caches; l = l->next) {
        struct numaslab_cache *c = nslab_container_of(l, struct numaslab_cache, link);
        for (int i = 0; i < nslab_g.nactive; i++) {
            struct nslab_cnode *cn = &c->cnode[i];
            struct nslab_list dead;
            nslab_list_init(&dead);
            pthread_mutex_lock(&cn->lock);
            empties_detach(cn, 0, &dead);
            CNODE_CHECK(c, cn);
            pthread_mutex_unlock(&cn->lock);
            slabs_destroy(c, &dead, 0);
        }
    }
    pthread_mutex_unlock(&nslab_g.lock);
}

/* Flush the oldest n objects of an array cache home. */
static void ac_flush(struct numaslab_cache *c, int nidx, struct nslab_acache *ac, unsigned n)
{
    if (n > ac->avail)
        n = ac->avail;
    if (!n)
        return;
    return_objects(c, nidx, ac->entry, n);
    memmove(ac->entry, ac->entry + n, (ac->avail - n) * sizeof(void *));
    ac->avail -= n;
}

void nslab__tcc_flush(struct numaslab_cache *c, struct nslab_tcc *tc)
{
    for (int i = 0; i < nslab_g.nactive; i++)
        ac_flush(c, i, &tc->ac[i], tc->ac[i].avail);
}

/*
 * Refill ac from node nidx: a batch from the node's partial and empty
 * slabs, or one new slab.  Returns the number of objects added; 0 with
 * errno ENOMEM when the node is exhausted.
 */
static unsigned ac_refill(struct numaslab_cache *c, int nidx, struct nslab_acache *ac)
{
    struct nslab_cnode *cn = &c->cnode[nidx];
    unsigned want = c->batch;
    if (want > ac->limit - ac->avail)
        want = ac->limit - ac->avail;
    if (!want)
        return 0;

    pthread_mutex_lock(&cn->lock);
    unsigned got = cnode_take(c, cn, ac->entry + ac->avail, want);
    pthread_mutex_unlock(&cn->lock);
    if (got) {
        ac->avail += got;
        return got;
    }

    /* Map outside the lock: other threads keep freeing meanwhile. */
    struct nslab_slab *s = slab_new(c, nidx);
    if (!s)
        return 0;
    pthread_mutex_lock(&cn->lock);
    nslab_list_add(&cn->empty, &s->link);
    cn->nr_empty++;
    cn->total += s->nobjs;
    got = cnode_take(c, cn, ac->entry + ac->avail, want);
    pthread_mutex_unlock(&cn->lock);
    ac->avail += got;
    return got;
}

/* ------------------------------------------------------------------------
 * Thread array caches
 * ---------------------------------------------------------------------- */

struct nslab_tcc *nslab__tcc_make(struct numaslab_cache *c, struct nslab_tstate *ts)
{
    size_t n = (size_t)nslab_g.nactive;
    size_t head = align_up(n * sizeof(struct nslab_acache), sizeof(void *));
    struct nslab_tcc *tc = calloc(1, head + n * c->limit * sizeof(void *));
    if (!tc)
        return NULL;
    void **e = (void **)((char *)tc + head);
    for (size_t i = 0; i < n; i++) {
        tc->ac[i].limit = c->limit;
        tc->ac[i].entry = e + i * c->limit;
    }
    /* Under the lock: destroy and fini walk every thread's cc[]. */
    pthread_mutex_lock(&nslab_g.lock);
    ts->cc[c->id] = tc;
    pthread_mutex_unlock(&nslab_g.lock);
    return tc;
}

/* ------------------------------------------------------------------------
 * Cache creation and teardown
 * ---------------------------------------------------------------------- */

/* Slab size and object count: 2^(order-1) pages when order is given,
 * else the smallest power-of-two slab of at least NSLAB_MIN_SLAB bytes
 * that holds NSLAB_MIN_OBJS objects. */
static int cache_geometry(struct numaslab_cache *c, unsigned order)
{
    size_t first = align_up(sizeof(struct nslab_slab), 64);
    size_t lo = NSLAB_MIN_SLAB, hi = MAX_SLAB_BYTES;
    if (order)
        lo = hi = nslab__page_size() << (order - 1);
    for (size_t bytes = lo; bytes <= hi; bytes <<= 1) {
        size_t n = bytes > first ? (bytes - first) / c->size : 0, off = 0;
        while (n > 0) {
            off = align_up(sizeof(struct nslab_slab) + ((n + 63) / 64) * 8,
                           c->align < 64 ? 64 : c->align);
            if (off + n * c->size <= bytes)
                break;
            n--;
        }
        if (n >= (order ? 1u : NSLAB_MIN_OBJS)) {
            c->slab_bytes = (uint32_t)bytes;
            c->nobjs = (uint32_t)n;
            c->obj_offset = (uint32_t)off;
            c->span = (uint32_t)(n * c->size);
            return 0;
        }
    }
    return -EINVAL;
}

static int id_get(void)
{
    for (int w = 0; w < NSLAB_MAX_CACHES / 64; w++)
        if (~nslab_g.ids[w]) {
            int b = __builtin_ctzll(~nslab_g.ids[w]);
            nslab_g.ids[w] |= 1ull << b;
            return w * 64 + b;
        }
    return -1;
}

static void id_put(int id) { nslab_g.ids[id / 64] &= ~(1ull << (id % 64)); }

/* Make a cache and enter it in the cache list.  nslab_g.lock held.
 * NULL with errno EINVAL (bad size or alignment) or ENOMEM. */
struct numaslab_cache *nslab__cache_new(const char *name, size_t size, size_t align,
                                        void (*ctor)(void *), int sizeclass, unsigned order)
{
    if (align == 0)
        align = size <= 8 ? 8 : 16;
    if (size == 0 || size > MAX_OBJ_SIZE || (align & (align - 1)) ||
        align > nslab__page_size()) {
        errno = EINVAL;
        return NULL;
    }
    struct numaslab_cache *c = calloc(1, sizeof(*c));
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
    c->obj_size = (uint32_t)size;
    c->align = (uint32_t)align;
    c->size = (uint32_t)align_up(size + NSLAB_REDZONE, align);
    c->ctor = ctor;
    c->sizeclass = sizeclass;
    c->rot = (uint32_t)__builtin_ctz(c->size);
    uint64_t odd = c->size >> c->rot, inv = odd; /* Newton: 5 steps reach 64 bits */
    for (int i = 0; i < 5; i++)
        inv *= 2 - odd * inv;
    c->inv = inv;
    c->divmax = UINT64_MAX / c->size;
    if (cache_geometry(c, order)) {
        free(c);
        errno = EINVAL;
        return NULL;
    }
    /* Thread caches hold about 32 KiB per node, 16..256 objects. */
    unsigned limit = nslab_g.opt.tcache ? nslab_g.opt.tcache : 32768u / c->size;
    if (!nslab_g.opt.tcache)
        limit = limit < 16 ? 16 : limit > 256 ? 256 : limit;
    c->limit = limit;
    c->batch = (limit + 1) / 2;

    c->cnode = aligned_alloc(64, sizeof(struct nslab_cnode) * (size_t)nslab_g.nactive);
    int id = id_get();
    if (!c->cnode || id < 0) {
        free(c->cnode);
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    c->id = (uint32_t)id;
    for (int i = 0; i < nslab_g.nactive; i++) {
        struct nslab_cnode *cn = &c->cnode[i];
        memset(cn, 0, sizeof(*cn));
        nslab__lock_init(&cn->lock);
        nslab_list_init(&cn->partial);
        nslab_list_init(&cn->full);
        nslab_list_init(&cn->empty);
        nslab_list_init(&cn->reserve);
    }
    nslab_g.by_id[id] = c;
    nslab_list_add(&nslab_g.caches, &c->link);
    return c;
}

/* Unmap every slab of c and free it, whatever is live.  nslab_g.lock held;
 * no thread cache refers to c any more. */
void nslab__cache_release(struct numaslab_cache *c)
{
    for (int i = 0; i < nslab_g.nactive; i++) {
        struct nslab_cnode *cn = &c->cnode[i];
        struct nslab_list *heads[] = {&cn->partial, &cn->full, &cn->empty, &cn->reserve};
        for (int h = 0; h < 4; h++)
            while (!nslab_list_empty(heads[h])) {
                struct nslab_slab *s = nslab_container_of(heads[h]->next, struct nslab_slab, link);
                nslab_list_del(&s->link);
                if (s->type == NSLAB_T_RESERVE) {
                    nslab__debug_slab_fini(c, s->objs);
                    nslab__pagemap_clear(s, c->slab_bytes);
                    numaslab_mempool_free(s, s->pool);
                } else {
                    slab_destroy(c, s, 0);
                }
            }
        pthread_mutex_destroy(&cn->lock);
    }
    nslab_list_del(&c->link);
    nslab_g.by_id[c->id] = NULL;
    id_put((int)c->id);
    free(c->cnode);
    free(c);
}

void nslab__cache_free_home(struct numaslab_cache *c, void *obj)
{
    struct nslab_slab *s = nslab__pagemap_get(obj);
    if (nslab__take_back(c, obj, "numaslab_free"))
        return_objects(c, s->nidx, &obj, 1);
}

void nslab__cache_each(struct numaslab_cache *c, void (*fn)(void *obj, void *arg), void *arg)
{
    for (int i = 0; i < nslab_g.nactive; i++) {
        struct nslab_cnode *cn = &c->cnode[i];
        struct nslab_list *heads[] = {&cn->partial, &cn->full};
        for (int h = 0; h < 2; h++)
            for (struct nslab_list *l = heads[h]->next; l != heads[h];) {
                struct nslab_slab *s = nslab_container_of(l, struct nslab_slab, link);
                l = l->next; /* fn may free the object, not the slab */
                for (uint32_t k = 0; k < s->nobjs; k++)
                    if (!(nslab_load_relaxed(&s->freemap[k / 64]) & (1ull << (k % 64))))
                        fn(s->objs + (size_t)k * c->size, arg);
            }
    }
}

numaslab_cache_t *numaslab_cache_create(const char *name, size_t size, size_t align,
                                        unsigned flags, void (*ctor)(void *obj))
{
    int rc = nslab__init();
    if (rc) {
        errno = -rc;
        return NULL;
    }
    unsigned order = (flags >> 8) & 0x3fu; /* NUMASLAB_SLAB_ORDER(o): o + 1 */
    if ((flags & ~0x3f00u) || order > 15) {
        nslab__report("numaslab_cache_create(%s): flags 0x%x are not supported", name ? name : "",
                      flags);
        errno = EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&nslab_g.lock);
    struct numaslab_cache *c = nslab__cache_new(name, size, align, ctor, 0, order);
    pthread_mutex_unlock(&nslab_g.lock);
    return c;
}

int numaslab_cache_destroy(numaslab_cache_t *c)
{
    if (!c)
        return -EINVAL;
    if (c->sizeclass) {
        nslab__report("numaslab_cache_destroy: %s is a size-class cache; refused", c->name);
        return -EINVAL;
    }
    pthread_mutex_lock(&nslab_g.lock);
    /* Bring every thread's cached objects home, then count what is live.
     * Slabs the flush empties are unmapped, not cached: the cache goes. */
    nslab_store_relaxed(&c->dying, 1);
    struct nslab_list *l;
    for (l = nslab_g.threads.next; l != &nslab_g.threads; l = l->next) {
        struct nslab_tstate *ts = nslab_container_of(l, struct nslab_tstate, link);
        if (ts->cc[c->id])
            nslab__tcc_flush(c, ts->cc[c->id]);
    }
    uint64_t live = 0;
    for (int i = 0; i < nslab_g.nactive; i++) {
        pthread_mutex_lock(&c->cnode[i].lock);
        live += c->cnode[i].inuse + c->cnode[i].reserve_inuse;
        pthread_mutex_unlock(&c->cnode[i].lock);
    }
    if (live) {
        nslab_store_relaxed(&c->dying, 0);
        pthread_mutex_unlock(&nslab_g.lock);
        return -EBUSY;
    }
    for (l = nslab_g.threads.next; l != &nslab_g.threads; l = l->next) {
        struct nslab_tstate *ts = nslab_container_of(l, struct nslab_tstate, link);
        free(ts->cc[c->id]);
        ts->cc[c->id] = NULL;
    }
    nslab__cache_release(c);
    pthread_mutex_unlock(&nslab_g.lock);
    return 0;
}

const char *numaslab_cache_name(const numaslab_cache_t *c) { return c ? c->name : NULL; }

/* ------------------------------------------------------------------------
 * Allocation and free
 * ---------------------------------------------------------------------- */

static void *reserve_take(struct numaslab_cache *c, unsigned flags, int node,
                          struct numaslab_mempool *pool);

/*
 * Everything the fast path does not: first use of the cache by this
 * thread, an empty array cache, node resolution for inactive and bad ids,
 * fallback to the nearest nodes.
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
    struct nslab_tcc *tc = ts->cc[c->id];
    if (!tc && !(tc = nslab__tcc_make(c, ts))) {
        errno = ENOMEM;
        return NULL;
    }
    void *obj;
    struct nslab_acache *ac = &tc->ac[nidx];
    if (ac->avail || ac_refill(c, nidx, ac)) {
        obj = ac->entry[--ac->avail];
        goto out;
    }
    if (!(flags & NUMASLAB_THISNODE)) {
        /* The node is exhausted: nearest active nodes first. */
        const int *order = &nslab_g.topo.order[nidx * nslab_g.nactive];
        for (int k = 1; k < nslab_g.nactive; k++) {
            int alt = order[k];
            ac = &tc->ac[alt];
            if (ac->avail || ac_refill(c, alt, ac)) {
                obj = ac->entry[--ac->avail];
                nslab_add_relaxed(&nslab_g.nstat[nslab_g.topo.active[nidx]].fallback_out, 1);
                nslab_add_relaxed(&nslab_g.nstat[nslab_g.topo.active[alt]].fallback_in, 1);
                goto out;
            }
        }
    }
    if (flags & NUMASLAB_CRITICAL)
        return reserve_take(c, flags, node, NULL);
    errno = ENOMEM;
    return NULL;
out:
    return nslab__hand_out(c, obj, flags);
}

/* Into the thread's array cache for the object's node, making room by
 * flushing a batch home when it is full. */
static void free_cached(struct numaslab_cache *c, struct nslab_slab *s, void *obj)
{
    struct nslab_tstate *ts = nslab__tstate();
    struct nslab_tcc *tc = ts ? ts->cc[c->id] : NULL;
    if (ts && !tc)
        tc = nslab__tcc_make(c, ts);
    if (!tc) {
        return_objects(c, s->nidx, &obj, 1);
        return;
    }
    struct nslab_acache *ac = &tc->ac[s->nidx];
    if (ac->avail == ac->limit)
        ac_flush(c, s->nidx, ac, c->batch);
    ac->entry[ac->avail++] = obj;
}

/* Is obj already free in its reserve slab?  A racy peek, for a message
 * only: nslab__reserve_free decides under the lock. */
static int reserve_is_free(struct nslab_slab *s, void *obj)
{
    uint32_t idx = nslab__obj_index(s, s->cache, obj);
    return !!(nslab_load_relaxed(&s->freemap[idx / 64]) & (1ull << (idx % 64)));
}

/*
 * Everything the fast free does not.  call names the API call for
 * messages; NULL means the fast path already validated obj and took it
 * back, and only missed the thread's array cache.
 */
__attribute__((noinline)) void nslab__cache_free_slow(struct numaslab_cache *expect, void *obj,
                                                  const char *call)
{
    if (!obj)
        return;
    if (!call) {
        struct nslab_slab *s = nslab__pagemap_get(obj);
        free_cached(s->cache, s, obj);
        return;
    }
    void *h = nslab__pagemap_get(obj);
    if (!h) {
        nslab__bad_free("%s: %p was not allocated by numaslab; ignored", call, obj);
        return;
    }
    if (*(uint8_t *)h == NSLAB_T_FREE) {
        nslab__bad_free("%s: %p is not allocated: it was freed already, or never handed out; "
                      "ignored", call, obj);
        return;
    }
    if (*(uint8_t *)h == NSLAB_T_LARGE) {
        if (expect) {
            nslab__bad_free("%s(%s): %p is a large object of numaslab_alloc, not an object of "
                          "cache %s; ignored", call, expect->name, obj, expect->name);
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
    if (s->type == NSLAB_T_RESERVE) {
        if (reserve_is_free(s, obj)) {
            nslab__bad_free("%s: double free of %p (cache %s, reserve slab); ignored", call, obj,
                          c->name);
            return;
        }
        if (nslab__take_back(c, obj, call))
            nslab__reserve_free(s, obj, call);
        return;
    }
    if (nslab__take_back(c, obj, call))
        free_cached(c, s, obj);
}

void *numaslab_cache_alloc_node(numaslab_cache_t *c, unsigned flags, int node)
{
    int nidx;
    if (node == NUMASLAB_NODE_LOCAL)
        nidx = nslab__local_nidx();
    else if ((unsigned)node < (unsigned)nslab_g.possible && (nidx = nslab_g.node_nidx[node]) >= 0)
        ;
    else
        return nslab__cache_alloc_slow(c, flags, node);
    void *obj = nslab__tc_pop(c, nidx);
    if (likely(obj != NULL))
        return nslab__hand_out(c, obj, flags);
    return nslab__cache_alloc_slow(c, flags, node);
}

void *numaslab_cache_alloc(numaslab_cache_t *c, unsigned flags)
{
    void *obj = nslab__tc_pop(c, nslab__local_nidx());
    if (likely(obj != NULL))
        return nslab__hand_out(c, obj, flags);
    return nslab__cache_alloc_slow(c, flags, NUMASLAB_NODE_LOCAL);
}

void numaslab_cache_free(numaslab_cache_t *c, void *obj)
{
    struct nslab_slab *s = nslab__pagemap_get(obj);
    if (likely(s && s->type == NSLAB_T_SLAB && s->cache == c && nslab__obj_ok(s, c, obj))) {
        if (unlikely(!nslab__take_back(c, obj, "numaslab_cache_free")))
            return;
        if (likely(nslab__tc_push(c, s->nidx, obj)))
            return;
        nslab__cache_free_slow(c, obj, NULL);
        return;
    }
    nslab__cache_free_slow(c, obj, "numaslab_cache_free");
}

/* ------------------------------------------------------------------------
 * Fork: take every lock so the child inherits consistent lists.
 * ---------------------------------------------------------------------- */
void nslab__fork_lock(void)
{
    pthread_mutex_lock(&nslab_g.lock);
    struct nslab_list *l;
    for (l = nslab_g.caches.next; l != &nslab_g.caches; l = l->next) {
        struct numaslab_cache *c = nslab_container_of(l, struct numaslab_cache, link);
        for (int i = 0; i < nslab_g.nactive; i++)
            pthread_mutex_lock(&c->cnode[i].lock);
    }
    /* Pool locks are leaves: last.  Pools the application made are its
     * own to keep quiet across fork. */
    for (int i = 0; nslab_g.reserve && i < nslab_g.nactive; i++)
        if (nslab_g.reserve[i])
            pthread_mutex_lock(&nslab_g.reserve[i]->lock);
    nslab__pages_fork_lock();
    nslab__pagemap_lock();
    nslab__headroom_fork_lock();
    nslab__fail_fork_lock();
}

void nslab__fork_unlock(void)
{
    nslab__fail_fork_unlock();
    nslab__headroom_fork_unlock();
    nslab__pagemap_unlock();
    nslab__pages_fork_unlock();
    for (int i = nslab_g.reserve ? nslab_g.nactive - 1 : -1; i >= 0; i--)
        if (nslab_g.reserve[i])
            pthread_mutex_unlock(&nslab_g.reserve[i]->lock);
    struct nslab_list *l;
    for (l = nslab_g.caches.prev; l != &nslab_g.caches; l = l->prev) {
        struct numaslab_cache *c = nslab_container_of(l, struct numaslab_cache, link);
        for (int i = nslab_g.nactive - 1; i >= 0; i--)
            pthread_mutex_unlock(&c->cnode[i].lock);
    }
    pthread_mutex_unlock(&nslab_g.lock);
}

/* ------------------------------------------------------------------------
 * Reserve-backed slabs (rule 5 of FALLBACK and RESERVES in numaslab(7))
 *
 * A slab grown from a pool is NSLAB_T_RESERVE: the fast paths never take
 * or keep its objects (so an ordinary request can never consume reserve
 * memory, the RFC's second fault), it sits on its cnode's reserve list,
 * full slabs at the tail, and the moment it is empty its pages go back to
 * the pool it came from (the RFC's first fault).
 * ---------------------------------------------------------------------- */

/* The active node a request lands on, without reporting or counting (the
 * ordinary attempt before did both). */
static int quiet_nidx(int node)
{
    if (node >= 0 && node < nslab_g.possible && nslab_g.node_nidx[node] >= 0)
        return nslab_g.node_nidx[node];
    return nslab__local_nidx_slow(nslab_tls, 0);
}

/* An object from a reserve slab of c on pool's node: one with room, or a
 * new one grown from pool (the node's own reserve when pool is NULL). */
static void *reserve_take(struct numaslab_cache *c, unsigned flags, int node,
                          struct numaslab_mempool *pool)
{
    void *obj;
    int nidx = quiet_nidx(node);
    if (!pool)
        pool = nslab_g.reserve[nidx];
    if (!pool || pool->elem_bytes != c->slab_bytes) {
        /* Not pages of this cache's slab size: the pool cannot back it. */
        errno = ENOMEM;
        return NULL;
    }
    int at = pool->page_nidx;
    if (at != nidx && (flags & NUMASLAB_THISNODE)) {
        /* The pool's pages are on another node. */
        errno = ENOMEM;
        return NULL;
    }
    struct nslab_cnode *cn = &c->cnode[at];
    struct nslab_slab *s;
    for (;;) {
        pthread_mutex_lock(&cn->lock);
        s = nslab_list_first(&cn->reserve, struct nslab_slab, link);
        if (s && s->inuse < s->nobjs)
            break;
        pthread_mutex_unlock(&cn->lock);
        /* Ordinary pages first, then the pool's reserve; may block. */
        char *mem = numaslab_mempool_alloc(pool, flags & NUMASLAB_WAIT);
        if (!mem) {
            errno = ENOMEM;
            return NULL;
        }
        s = slab_init(c, at, mem, NSLAB_T_RESERVE, pool);
        if (!s) {
            numaslab_mempool_free(mem, pool);
            errno = ENOMEM;
            return NULL;
        }
        pthread_mutex_lock(&cn->lock);
        nslab_list_add(&cn->reserve, &s->link);
        cn->nr_reserve++;
        cn->total += s->nobjs;
        break;
    }
    slab_take(c, s, &obj, 1);
    cn->reserve_inuse++;
    if (s->inuse == s->nobjs)
    {
        nslab_list_del(&s->link); /* full ones at the tail */
        nslab_list_add(cn->reserve.prev, &s->link);
    }
    pthread_mutex_unlock(&cn->lock);
    if (at != nidx) {
        nslab_add_relaxed(&nslab_g.nstat[nslab_g.topo.active[nidx]].fallback_out, 1);
        nslab_add_relaxed(&nslab_g.nstat[nslab_g.topo.active[at]].fallback_in, 1);
    }
    return nslab__hand_out(c, obj, flags);
}

/* Ordinary memory first (the fast path included), the reserve after. */
void *nslab__cache_alloc_reserve(struct numaslab_cache *c, unsigned flags, int node,
                                 struct numaslab_mempool *pool)
{
    void *obj = numaslab_cache_alloc_node(c, flags & ~(NUMASLAB_WAIT | NUMASLAB_CRITICAL), node);
    if (obj || errno == EINVAL || errno == ENODEV)
        return obj;
    return reserve_take(c, flags, node, pool);
}

void nslab__reserve_free(struct nslab_slab *s, void *obj, const char *call)
{
    struct numaslab_cache *c = s->cache;
    struct nslab_cnode *cn = &c->cnode[s->nidx];
    uint32_t idx = nslab__obj_index(s, c, obj);
    uint64_t bit = 1ull << (idx % 64);

    pthread_mutex_lock(&cn->lock);
    if (s->freemap[idx / 64] & bit) {
        pthread_mutex_unlock(&cn->lock);
        nslab__bad_free("%s: double free of %p (cache %s, reserve slab); ignored", call, obj,
                      c->name);
        return;
    }
    nslab_store_relaxed(&s->freemap[idx / 64], s->freemap[idx / 64] | bit);
    if (idx / 64 < s->hint)
        s->hint = idx / 64;
    s->inuse--;
    cn->reserve_inuse--;
    if (s->inuse) {
        nslab_list_move(&cn->reserve, &s->link); /* has room: to the head */
        pthread_mutex_unlock(&cn->lock);
        return;
    }
    nslab_list_del(&s->link);
    cn->nr_reserve--;
    cn->total -= s->nobjs;
    pthread_mutex_unlock(&cn->lock);
    nslab__debug_slab_fini(c, s->objs);
    nslab__pagemap_clear(s, c->slab_bytes);
    numaslab_mempool_free(s, s->pool);
}

void *numaslab_cache_alloc_node_mempool(numaslab_cache_t *c, unsigned flags, int node,
                                        numaslab_mempool_t *pool)
{
    if (!c) {
        errno = EINVAL;
        return NULL;
    }
    return nslab__cache_alloc_reserve(c, flags, node, pool);
}

void *numaslab_cache_alloc_mempool(numaslab_cache_t *c, unsigned flags, numaslab_mempool_t *pool)
{
    return numaslab_cache_alloc_node_mempool(c, flags, NUMASLAB_NODE_LOCAL, pool);
}
