/*
 * lib/stats.c - in-process statistics, snapshots of them in the layout of
 * include/numaslab-stats.h (for the segment lib/export.c publishes), and
 * numaslab_stats_print.
 *
 * Nothing here is on a fast path, and nothing on a fast path counts: an
 * allocation or free in a thread's own slab changes no counter.  The
 * figures come from
 *   - per-node relaxed atomics (nslab_g.node_counters) written on slow paths;
 *   - per-(cache, node) relaxed atomics, read with no lock: a thread's
 *     slabs are counted when they change state, when it refills and when
 *     it flushes (numaslab_thread_flush), so objects in use are exact
 *     after a flush and otherwise as of the owners' last slow paths;
 *   - the node reserves' own counters, read under the pool's lock.
 * Two figures read one after the other may come from slightly different
 * moments; each one is exact for its moment.
 *
 * Locks (lib/internal.h): a snapshot runs under nslab_g.lock (level 1) to
 * walk the cache list, and the reserve pool's lock (a leaf).
 */
#include "lib/internal.h"
#include "lib/statread.h"
#include "numaslab-stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* One node's counters and its reserve's; node < nslab_g.possible. */
static void read_node(int node, struct numaslab_node_stats *st, struct numaslab_mempool_stats *ps)
{
    const struct nslab_node_counters *n = &nslab_g.node_counters[node];
    memset(st, 0, sizeof(*st));
    if (ps)
        memset(ps, 0, sizeof(*ps));
    st->node = node;
    st->active = nslab_g.node_nidx[node] >= 0;
    st->bytes_mapped = nslab_load_relaxed(&n->bytes_mapped);
    st->fallback_out = nslab_load_relaxed(&n->fallback_out);
    st->fallback_in = nslab_load_relaxed(&n->fallback_in);
    st->inactive_requests = nslab_load_relaxed(&n->inactive);
    st->inactive_served = nslab_load_relaxed(&n->inactive_served);
    st->large_allocs = nslab_load_relaxed(&n->large);
    st->large_bytes = nslab_load_relaxed(&n->large_bytes);
    st->huge_bytes = nslab_load_relaxed(&n->huge_bytes);
    if (st->active)
        st->page_cached = nslab__pages_cached(nslab_g.node_nidx[node]);
    if (ps && st->active && nslab_g.reserve && nslab_g.reserve[nslab_g.node_nidx[node]]) {
        numaslab_mempool_stats(nslab_g.reserve[nslab_g.node_nidx[node]], ps);
        st->reserve_cur = ps->curr_nr;
        st->reserve_min = ps->min_nr;
        st->reserve_bytes = (uint64_t)ps->curr_nr * ps->elem_bytes;
        st->reserve_used = ps->used;
        st->reserve_empty = ps->empty;
        st->reserve_waiters = ps->waiters;
    }
    if (st->active && nslab_g.head) {
        const struct nslab_headroom *h = &nslab_g.head[nslab_g.node_nidx[node]];
        int64_t est = nslab__headroom_left(h);
        st->mem_known = nslab_load_relaxed(&h->known);
        st->mem_avail = st->mem_known && est > 0 ? (uint64_t)est : 0;
        st->low_watermark = nslab_load_relaxed(&h->keep);
        st->short_since_ns = nslab_load_relaxed(&h->short_since);
        st->mem_short = st->short_since_ns != 0;
        st->short_refused = nslab_load_relaxed(&h->refused);
        st->short_episodes = nslab_load_relaxed(&h->episodes);
    }
}

int numaslab_stats_process(struct numaslab_process_stats *st)
{
    NSLAB_INIT_OR_ERR();
    if (!st)
        return -EINVAL;
    const struct nslab_headroom *h = &nslab_g.cg_head;
    memset(st, 0, sizeof(*st));
    st->cgroup = nslab_load_relaxed(&nslab_g.cg_state);
    st->cgroup_limit = nslab_load_relaxed(&nslab_g.cg_limit);
    st->cgroup_usage = nslab_load_relaxed(&nslab_g.cg_usage);
    st->cgroup_margin = nslab_load_relaxed(&h->keep);
    int64_t est = nslab__headroom_left(h);
    st->cgroup_avail = st->cgroup_limit == UINT64_MAX || !nslab_load_relaxed(&h->known) ? UINT64_MAX
                       : est > 0 ? (uint64_t)est
                                 : 0;
    st->short_since_ns = nslab_load_relaxed(&h->short_since);
    st->cgroup_short = st->short_since_ns != 0;
    st->short_refused = nslab_load_relaxed(&h->refused);
    st->short_episodes = nslab_load_relaxed(&h->episodes);
    st->trims = nslab_load_relaxed(&nslab_g.drains);
    return 0;
}

int numaslab_stats_node(int node, struct numaslab_node_stats *st)
{
    NSLAB_INIT_OR_ERR();
    if (!st || node < 0 || node >= nslab_g.possible)
        return -EINVAL;
    struct numaslab_mempool_stats ps;
    read_node(node, st, &ps);
    return 0;
}

/* An objects-in-use counter as shown, against room, the capacity of the
 * slabs it counts objects of (less what reserve slabs hand out, which the
 * capacity counts too).  Other threads' frees are counted when they
 * count them (at most a tick of the coarse clock late), the owner's
 * allocations on its slow paths, a slab's objects leave the total when the
 * slab goes: between the two the difference may dip below zero, or rise
 * above the total when a slab went before the frees into it were counted,
 * for a moment; shown as none, or as all the room there is. */
static uint64_t inuse_shown(uint64_t raw, uint64_t room)
{
    return (int64_t)raw <= 0 ? 0 : raw > room ? room : raw;
}

/* The room of a (cache, node) for objects_inuse: its capacity less its
 * reserve slabs' objects in use. */
static uint64_t inuse_room(const struct nslab_cache_node *cn, uint64_t total)
{
    uint64_t r = nslab_load_relaxed(&cn->reserve_inuse);
    return total > r ? total - r : 0;
}

/* One (cache, active node): its relaxed counters, no lock. */
static void read_cache(struct numaslab_cache *c, int nidx, struct numaslab_cache_stats *st)
{
    struct nslab_cache_node *cn = &c->cnode[nidx];
    memset(st, 0, sizeof(*st));
    st->node = nslab_g.topo.active[nidx];
    st->objects_total = nslab_load_relaxed(&cn->st_total);
    st->objects_inuse =
        inuse_shown(nslab_load_relaxed(&cn->st_inuse), inuse_room(cn, st->objects_total));
    st->slabs_full = nslab_load_relaxed(&cn->st_slabs[NSLAB_L_FULL]);
    st->slabs_partial = nslab_load_relaxed(&cn->st_slabs[NSLAB_L_PARTIAL]);
    st->slabs_empty = nslab_load_relaxed(&cn->st_slabs[NSLAB_L_EMPTY]);
    st->slabs_reserve = nslab_load_relaxed(&cn->nr_reserve);
    st->objects_reserve = nslab_load_relaxed(&cn->reserve_inuse);
    st->slab_bytes = c->slab_bytes;
}

int numaslab_stats_cache(numaslab_cache_t *c, int node, struct numaslab_cache_stats *st)
{
    NSLAB_INIT_OR_ERR();
    if (!c || !st || node < 0 || node >= nslab_g.possible || nslab_g.node_nidx[node] < 0)
        return -EINVAL;
    read_cache(c, nslab_g.node_nidx[node], st);
    return 0;
}

uint64_t numaslab_bytes_mapped(void)
{
    uint64_t sum = 0;
    if (!nslab_load_acquire(&nslab_g.ready))
        return 0;
    for (int n = 0; n <= nslab_g.topo.max_node; n++)
        sum += nslab_load_relaxed(&nslab_g.node_counters[n].bytes_mapped);
    return sum;
}

/* ------------------------------------------------------------------------
 * Snapshots
 * ---------------------------------------------------------------------- */

static size_t round64(size_t v)
{
    return (v + 63) & ~(size_t)63;
}

uint32_t nslab__stats_node_cap(void)
{
    return (uint32_t)nslab_g.topo.max_node + 1 + NSLAB_STATS_ABSENT;
}

size_t nslab__stats_layout(struct numaslab_stats_header *h, uint32_t node_cap, uint32_t cache_cap)
{
    size_t node_off = round64(sizeof(*h));
    size_t cache_off =
        round64(node_off + (size_t)node_cap * sizeof(struct numaslab_stats_node_rec));
    size_t total = round64(cache_off + (size_t)cache_cap * sizeof(struct numaslab_stats_cache_rec));
    memset(h, 0, sizeof(*h));
    h->version = NUMASLAB_STATS_VERSION;
    h->header_size = sizeof(*h);
    h->total_size = total;
    h->lib_version =
        NUMASLAB_VERSION_MAJOR << 16 | NUMASLAB_VERSION_MINOR << 8 | NUMASLAB_VERSION_PATCH;
    h->max_node = nslab_g.topo.max_node;
    h->nactive = (uint32_t)nslab_g.nactive;
    h->machine =
        nslab_g.topo.simulated ? NUMASLAB_STATS_MACHINE_SIMULATED : NUMASLAB_STATS_MACHINE_THIS;
    h->node_off = (uint32_t)node_off;
    h->node_rec_size = sizeof(struct numaslab_stats_node_rec);
    h->node_cap = node_cap;
    h->cache_off = (uint32_t)cache_off;
    h->cache_rec_size = sizeof(struct numaslab_stats_cache_rec);
    h->cache_cap = cache_cap;
    return total;
}

/* A running-short state's three figures (numaslab(7), MEMORY EXHAUSTION)
 * into a segment record. */
static void put_short(uint64_t *since, uint64_t *refused, uint64_t *episodes, uint64_t s,
                      uint64_t r, uint64_t e)
{
    *since = s;
    *refused = r;
    *episodes = e;
}

/* r's fields but the reserve's, from node's counters (relaxed loads). */
void nslab__stats_write_node(struct numaslab_stats_node_rec *r, int node)
{
    struct numaslab_node_stats st;
    read_node(node, &st, NULL);
    r->node = node;
    r->flags = (st.active ? NUMASLAB_STATS_NODE_ACTIVE : 0) |
               (node <= nslab_g.topo.max_node ? NUMASLAB_STATS_NODE_PRESENT : 0);
    r->bytes_mapped = st.bytes_mapped;
    r->large_objects = st.large_allocs;
    r->fallback_out = st.fallback_out;
    r->fallback_in = st.fallback_in;
    r->inactive_requests = st.inactive_requests;
    r->inactive_served = st.inactive_served;
    nslab__stats_write_node_objects(r, node);
    r->mem_known = st.mem_known != 0;
    r->mem_short = st.mem_short != 0;
    r->mem_avail = st.mem_avail;
    r->low_watermark = st.low_watermark;
    put_short(&r->short_since_ns, &r->short_refused, &r->short_episodes, st.short_since_ns,
              st.short_refused, st.short_episodes);
    r->page_cached = st.page_cached;
    r->large_bytes = st.large_bytes;
    r->huge_bytes = st.huge_bytes;
}

/* The object counts of r, node's record: what a cache's counts change. */
void nslab__stats_write_node_objects(struct numaslab_stats_node_rec *r, int node)
{
    const struct nslab_node_counters *n = &nslab_g.node_counters[node];
    r->objects_total = nslab_load_relaxed(&n->objects_total);
    r->objects_inuse = inuse_shown(nslab_load_relaxed(&n->objects_inuse), r->objects_total);
}

void nslab__stats_write_node_pages(struct numaslab_stats_node_rec *r, int node)
{
    const struct nslab_node_counters *n = &nslab_g.node_counters[node];
    int nidx = nslab_g.node_nidx[node];
    r->bytes_mapped = nslab_load_relaxed(&n->bytes_mapped);
    r->large_objects = nslab_load_relaxed(&n->large);
    r->large_bytes = nslab_load_relaxed(&n->large_bytes);
    r->huge_bytes = nslab_load_relaxed(&n->huge_bytes);
    r->page_cached = nidx >= 0 ? nslab__pages_cached(nidx) : 0;
    nslab__stats_write_node_objects(r, node);
}

/* r's reserve fields from pool, a node's reserve; its lock held. */
void nslab__stats_write_reserve(struct numaslab_stats_node_rec *r, const struct numaslab_mempool *p)
{
    r->reserve_cur = p->curr_nr;
    r->reserve_min = p->min_nr;
    r->reserve_waiters = p->waiters;
    r->reserve_elem_bytes = p->elem_bytes;
    r->reserve_bytes = (uint64_t)p->curr_nr * p->elem_bytes;
    r->reserve_min_bytes = (uint64_t)p->min_nr * p->elem_bytes;
    r->reserve_used = p->used;
    r->reserve_empty = p->empty;
    r->reserve_out = p->out > 0 ? (uint64_t)p->out : 0;
}

void nslab__stats_fill_node(struct numaslab_stats_node_rec *r, int node)
{
    memset(r, 0, sizeof(*r));
    nslab__stats_write_node(r, node);
    int nidx = nslab_g.node_nidx[node];
    struct numaslab_mempool *pool = nidx >= 0 && nslab_g.reserve ? nslab_g.reserve[nidx] : NULL;
    if (pool) {
        nslab__lock(&pool->lock, NSLAB_RANK_POOL);
        nslab__stats_write_reserve(r, pool);
        nslab__unlock(&pool->lock, NSLAB_RANK_POOL);
    }
}

/* The object counts of r, (c, nidx)'s record. */
void nslab__stats_write_cache_objects(struct numaslab_stats_cache_rec *r, struct numaslab_cache *c,
                                      int nidx)
{
    const struct nslab_cache_node *cn = &c->cnode[nidx];
    r->objects_total = nslab_load_relaxed(&cn->st_total);
    r->objects_inuse =
        inuse_shown(nslab_load_relaxed(&cn->st_inuse), inuse_room(cn, r->objects_total));
}

/* r from (c, nidx)'s counters (relaxed loads). */
void nslab__stats_write_cache(struct numaslab_stats_cache_rec *r, struct numaslab_cache *c,
                              int nidx)
{
    struct numaslab_cache_stats st;
    read_cache(c, nidx, &st);
    memcpy(r->name, c->name, sizeof(r->name));
    r->name[sizeof(r->name) - 1] = '\0';
    r->node = st.node;
    r->flags = c->sizeclass ? NUMASLAB_STATS_CACHE_SIZECLASS : 0;
    r->object_size = c->obj_size;
    r->objects_per_slab = c->nobjs;
    r->slab_bytes = st.slab_bytes;
    r->objects_inuse = st.objects_inuse;
    r->objects_total = st.objects_total;
    r->slabs_full = st.slabs_full;
    r->slabs_partial = st.slabs_partial;
    r->slabs_empty = st.slabs_empty;
    r->slabs_reserve = st.slabs_reserve;
    r->objects_reserve = st.objects_reserve;
}

_Static_assert(NUMASLAB_STATS_CGROUP_NONE == NUMASLAB_CGROUP_NONE &&
                   NUMASLAB_STATS_CGROUP_V1 == NUMASLAB_CGROUP_V1 &&
                   NUMASLAB_STATS_CGROUP_V2 == NUMASLAB_CGROUP_V2 &&
                   NUMASLAB_STATS_CGROUP_UNREADABLE == NUMASLAB_CGROUP_UNREADABLE,
               "numaslab-stats.h: the cgroup states are numaslab.h's");

/* The process's memory cgroup, in the header's fields that change with
 * every update.  The library is initialised (both callers see ready), so
 * numaslab_stats_process takes no lock. */
void nslab__stats_write_process(struct numaslab_stats_header *h)
{
    struct numaslab_process_stats ps;
    if (numaslab_stats_process(&ps) != 0) {
        memset(&ps, 0, sizeof(ps));
        ps.cgroup = NUMASLAB_CGROUP_UNREADABLE;
        ps.cgroup_limit = ps.cgroup_avail = UINT64_MAX;
    }
    h->cgroup_state = (uint32_t)ps.cgroup;
    h->cgroup_short = ps.cgroup_short != 0;
    h->cgroup_limit = ps.cgroup_limit;
    h->cgroup_usage = ps.cgroup_usage;
    h->cgroup_margin = ps.cgroup_margin;
    h->cgroup_avail = ps.cgroup_avail;
    put_short(&h->cgroup_short_since_ns, &h->cgroup_refused, &h->cgroup_episodes, ps.short_since_ns,
              ps.short_refused, ps.short_episodes);
    h->cgroup_trims = ps.trims;
}

void nslab__stats_snapshot(struct numaslab_stats_header *h)
{
    char *base = (char *)h;
    struct numaslab_stats_node_rec *nodes = (void *)(base + h->node_off);
    struct numaslab_stats_cache_rec *caches = (void *)(base + h->cache_off);
    uint32_t nn = 0, nc = 0;

    /* Every node the machine has, at index == node id (caps are made so). */
    for (int node = 0; node <= nslab_g.topo.max_node && nn < h->node_cap; node++)
        nslab__stats_fill_node(&nodes[nn++], node);
    /* Absent ids that requests named: a 4-socket code on a laptop. */
    for (int node = nslab_g.topo.max_node + 1; node < nslab_g.possible && nn < h->node_cap; node++)
        if (nslab_load_relaxed(&nslab_g.node_counters[node].inactive))
            nslab__stats_fill_node(&nodes[nn++], node);

    /* Caches: at id * nactive + node index when the records are that
     * many (the live segment, lib/export.c), else in creation order. */
    int by_id = h->cache_cap >= NSLAB_MAX_CACHES * (uint32_t)nslab_g.nactive;
    struct nslab_list *l;
    for (l = nslab_g.caches.prev; l != &nslab_g.caches; l = l->prev) {
        struct numaslab_cache *c = nslab_container_of(l, struct numaslab_cache, link);
        for (int i = 0; i < nslab_g.nactive; i++) {
            uint32_t at = by_id ? c->id * (uint32_t)nslab_g.nactive + (uint32_t)i : nc;
            if (at >= h->cache_cap)
                continue;
            nslab__stats_write_cache(&caches[at], c, i);
            nc = by_id ? (at + 1 > nc ? at + 1 : nc) : nc + 1;
        }
    }
    h->node_count = nn;
    h->cache_count = nc;
    nslab__stats_write_process(h);
}

/* ------------------------------------------------------------------------
 * numaslab_stats_print: the tables numaslab-stat(1) prints, from the same
 * code (lib/stattable.c), on a copy of a snapshot made as its reader
 * makes one of a segment (lib/statread.c)
 * ---------------------------------------------------------------------- */

int numaslab_stats_print(FILE *f)
{
    NSLAB_INIT_OR_ERR();
    if (!f)
        return -EINVAL;
    /* Sized under the lock for the caches alive now; malloc is not ours. */
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    uint32_t ncaches = 0;
    for (struct nslab_list *l = nslab_g.caches.next; l != &nslab_g.caches; l = l->next)
        ncaches++;
    struct numaslab_stats_header lay;
    size_t bytes =
        nslab__stats_layout(&lay, nslab__stats_node_cap(), ncaches * (uint32_t)nslab_g.nactive);
    struct numaslab_stats_header *h = calloc(1, bytes);
    if (!h) {
        nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
        return -ENOMEM;
    }
    *h = lay;
    nslab__stats_snapshot(h);
    uint64_t now = nslab__now_ns();
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    h->magic = NUMASLAB_STATS_MAGIC; /* a whole snapshot, of this process */
    h->pid = (int32_t)getpid();

    /* The reader's copy and stdio allocate: not from numaslab (numa/numa.h). */
    NSLAB_BUSY_ENTER();
    struct nslab_statsnap s;
    char why[128];
    int err = nslab_statsnap_copy(&s, h, bytes, why, sizeof(why));
    if (err == NSLAB_EX_OK) {
        flockfile(f);
        fprintf(f, "numaslab statistics, pid %ld: %u of %d nodes active%s\n\n", (long)h->pid,
                s.h.nactive, s.h.max_node + 1,
                s.h.machine == NUMASLAB_STATS_MACHINE_SIMULATED ? " (simulated machine)" : "");
        nslab_stat_print_tables(f, &s, 1, now);
        funlockfile(f);
        nslab_statsnap_free(&s);
        err = ferror(f) ? -EIO : 0;
    } else {
        err = err == NSLAB_EX_OTHER ? -ENOMEM : -EIO; /* a snapshot is always whole */
    }
    NSLAB_BUSY_LEAVE();
    free(h);
    return err;
}
