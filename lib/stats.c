/*
 * lib/stats.c - in-process statistics.
 *
 * Per-node counters are relaxed atomics written on slow paths; per-(cache,
 * node) counters are read under that node's cache lock.  Objects in thread
 * array caches count as in use until their thread flushes.
 */
#include "lib/internal.h"

int numaslab_stats_node(int node, struct numaslab_node_stats *st)
{
    int rc = nslab__init();
    if (rc)
        return rc;
    if (!st || node < 0 || node >= nslab_g.possible)
        return -EINVAL;
    const struct nslab_nstat *n = &nslab_g.nstat[node];
    memset(st, 0, sizeof(*st));
    st->node = node;
    st->active = nslab_g.node_nidx[node] >= 0;
    st->bytes_mapped = nslab_load_relaxed(&n->bytes_mapped);
    st->fallback_out = nslab_load_relaxed(&n->fallback_out);
    st->fallback_in = nslab_load_relaxed(&n->fallback_in);
    st->inactive_requests = nslab_load_relaxed(&n->inactive);
    st->large_allocs = nslab_load_relaxed(&n->large);
    if (st->active && nslab_g.reserve && nslab_g.reserve[nslab_g.node_nidx[node]]) {
        struct numaslab_mempool_stats ps;
        struct numaslab_mempool *p = nslab_g.reserve[nslab_g.node_nidx[node]];
        numaslab_mempool_stats(p, &ps);
        st->reserve_cur = ps.curr_nr;
        st->reserve_min = ps.min_nr;
        st->reserve_bytes = (uint64_t)ps.curr_nr * ps.elem_bytes;
        st->reserve_used = ps.used;
        st->reserve_empty = ps.empty;
        st->reserve_waiters = ps.waiters;
    }
    return 0;
}

int numaslab_stats_cache(numaslab_cache_t *c, int node, struct numaslab_cache_stats *st)
{
    int rc = nslab__init();
    if (rc)
        return rc;
    if (!c || !st || node < 0 || node >= nslab_g.possible || nslab_g.node_nidx[node] < 0)
        return -EINVAL;
    struct nslab_cnode *cn = &c->cnode[nslab_g.node_nidx[node]];
    memset(st, 0, sizeof(*st));
    st->node = node;
    pthread_mutex_lock(&cn->lock);
    st->objects_inuse = cn->inuse;
    st->objects_total = cn->total;
    st->slabs_full = cn->nr_full;
    st->slabs_partial = cn->nr_partial;
    st->slabs_empty = cn->nr_empty;
    st->slabs_reserve = cn->nr_reserve;
    st->objects_reserve = cn->reserve_inuse;
    pthread_mutex_unlock(&cn->lock);
    st->slab_bytes = c->slab_bytes;
    return 0;
}

uint64_t numaslab_bytes_mapped(void)
{
    uint64_t sum = 0;
    if (!nslab_load_acquire(&nslab_g.ready))
        return 0;
    for (int n = 0; n <= nslab_g.topo.max_node; n++)
        sum += nslab_load_relaxed(&nslab_g.nstat[n].bytes_mapped);
    return sum;
}
