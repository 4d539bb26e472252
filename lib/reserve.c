/*
 * lib/reserve.c - reserve slabs (rule 5 of FALLBACK AND RESERVES in
 * numaslab(7); numaslab_mempool(3)).
 *
 * A slab grown from a pool is NSLAB_T_RESERVE.  No thread owns it and the
 * fast paths never take or keep its objects, so an ordinary request can
 * never consume reserve memory.  It sits on its cnode's reserve list, full
 * ones at the tail, and the moment it is empty its pages go back to the
 * pool it came from.
 *
 * Locks: a reserve slab's free map, counts and list are under its cnode
 * lock (rank NSLAB_RANK_CNODE, lib/lock.h); reserve_inuse is also read
 * without it (relaxed).  The pool is called with no cnode lock held.
 */
#include "lib/internal.h"
#include "lib/debug.h"

/* The active node a request lands on, without reporting or counting (the
 * ordinary attempt before did both). */
static int quiet_nidx(int node)
{
    if (node >= 0 && node < nslab_g.possible && nslab_g.node_nidx[node] >= 0)
        return nslab_g.node_nidx[node];
    return nslab__local_nidx_slow(nslab_tls, 0);
}

/* The lowest free object of s, taken.  cnode lock held; s has one. */
static void *take_one(struct numaslab_cache *c, struct nslab_slab *s)
{
    NSLAB_ASSERT_HELD(&c->cnode[s->nidx].lock);
    uint32_t w = s->hint;
    uint64_t m;
    while (!(m = nslab_load_relaxed(&s->freemap[w])))
        w++;
    unsigned b = (unsigned)__builtin_ctzll(m);
    nslab_store_relaxed(&s->freemap[w], m & (m - 1));
    s->hint = w;
    s->nfree--;
    return s->objs + ((size_t)w * 64 + b) * c->size;
}

void *nslab__reserve_take(struct numaslab_cache *c, unsigned flags, int node,
                          struct numaslab_mempool *pool)
{
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
    struct nslab_cache_node *cn = &c->cnode[at];
    struct nslab_slab *s;
    nslab__lock(&cn->lock, NSLAB_RANK_CNODE);
    s = nslab_list_first(&cn->reserve, struct nslab_slab, link);
    if (!s || s->nfree == 0) {
        nslab__unlock(&cn->lock, NSLAB_RANK_CNODE);
        /* Ordinary pages first, then the pool's reserve; may block. */
        char *mem = numaslab_mempool_alloc(pool, flags & NUMASLAB_WAIT);
        if (!mem) {
            errno = ENOMEM;
            return NULL;
        }
        s = nslab__slab_init(c, at, mem, NSLAB_T_RESERVE, pool);
        if (!s) {
            numaslab_mempool_free(mem, pool);
            errno = ENOMEM;
            return NULL;
        }
        s->where = NSLAB_W_NODE;
        nslab__lock(&cn->lock, NSLAB_RANK_CNODE);
        nslab_list_add(&cn->reserve, &s->link);
        nslab_store_relaxed(&cn->nr_reserve, cn->nr_reserve + 1);
    }
    void *obj = take_one(c, s);
    nslab_store_relaxed(&cn->reserve_inuse, cn->reserve_inuse + 1);
    nslab_add_relaxed(&nslab_g.node_counters[nslab_g.topo.active[at]].objects_inuse, 1);
    if (s->nfree == 0) {
        nslab_list_del(&s->link); /* full ones at the tail */
        nslab_list_add_tail(&cn->reserve, &s->link);
    }
    nslab__unlock(&cn->lock, NSLAB_RANK_CNODE);
    if (at != nidx) {
        nslab_add_relaxed(&nslab_g.node_counters[nslab_g.topo.active[nidx]].fallback_out, 1);
        nslab_add_relaxed(&nslab_g.node_counters[nslab_g.topo.active[at]].fallback_in, 1);
        nslab__pub_node(nslab_g.topo.active[nidx]);
        nslab__pub_node(nslab_g.topo.active[at]); /* its fallback_in */
    }
    nslab__pub_cache(c, at);
    return nslab__hand_out(c, obj, flags);
}

/* Ordinary memory first (the fast path included), the reserve after. */
void *nslab__cache_alloc_reserve(struct numaslab_cache *c, unsigned flags, int node,
                                 struct numaslab_mempool *pool)
{
    void *obj = numaslab_cache_alloc_node(c, flags & ~(NUMASLAB_WAIT | NUMASLAB_CRITICAL), node);
    if (obj || errno == EINVAL || errno == ENODEV)
        return obj;
    return nslab__reserve_take(c, flags, node, pool);
}

/* s's pages go back to its pool.  s is on no list, its objects all free
 * or abandoned (fini). */
static void reserve_slab_free(struct numaslab_cache *c, struct nslab_slab *s)
{
    int nidx = s->nidx;
    nslab__count_total(c, nidx, -(int64_t)s->nobjs);
    nslab__debug_slab_fini(c, s->objs);
    nslab__pagemap_clear(s, c->slab_bytes);
    numaslab_mempool_free(s, s->pool);
    nslab__pub_cache(c, nidx);
}

void nslab__reserve_free(struct nslab_slab *s, void *obj, const char *call)
{
    struct numaslab_cache *c = s->cache;
    int nidx = s->nidx; /* s may be gone once the lock is dropped (below) */
    struct nslab_cache_node *cn = &c->cnode[nidx];
    uint32_t idx = nslab__obj_index(s, c, obj);
    uint64_t bit = 1ull << (idx % 64);

    nslab__lock(&cn->lock, NSLAB_RANK_CNODE);
    uint64_t m = nslab_load_relaxed(&s->freemap[idx / 64]);
    if (m & bit) {
        nslab__unlock(&cn->lock, NSLAB_RANK_CNODE);
        nslab__bad_free("%s: double free of %p (cache %s, reserve slab); ignored", call, obj,
                        c->name);
        return;
    }
    nslab_store_relaxed(&s->freemap[idx / 64], m | bit);
    if (idx / 64 < s->hint)
        s->hint = idx / 64;
    s->nfree++;
    nslab_store_relaxed(&cn->reserve_inuse, cn->reserve_inuse - 1);
    nslab_sub_relaxed(&nslab_g.node_counters[nslab_g.topo.active[nidx]].objects_inuse, 1);
    if (s->nfree < s->nobjs) {
        nslab_list_move(&cn->reserve, &s->link); /* has room: to the head */
        nslab__unlock(&cn->lock, NSLAB_RANK_CNODE);
        /* Not s->nidx: another thread may free s's last objects, and s
         * go back to its pool, as soon as the lock is dropped. */
        nslab__pub_cache(c, nidx);
        return;
    }
    nslab_list_del(&s->link);
    nslab_store_relaxed(&cn->nr_reserve, cn->nr_reserve - 1);
    nslab__unlock(&cn->lock, NSLAB_RANK_CNODE);
    reserve_slab_free(c, s);
}

void nslab__reserve_release(struct numaslab_cache *c, struct nslab_slab *s)
{
    struct nslab_cache_node *cn = &c->cnode[s->nidx];
    nslab_store_relaxed(&cn->reserve_inuse, cn->reserve_inuse - (s->nobjs - s->nfree));
    nslab_sub_relaxed(&nslab_g.node_counters[nslab_g.topo.active[s->nidx]].objects_inuse,
                      s->nobjs - s->nfree);
    nslab_store_relaxed(&cn->nr_reserve, cn->nr_reserve - 1);
    reserve_slab_free(c, s);
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
