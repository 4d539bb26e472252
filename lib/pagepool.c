/*
 * lib/pagepool.c - page pools: mempools whose elements are chunks of
 * 2^order pages bound to one active node, made by the page layer and
 * faulted in, with their page map leaves made ahead, so that a slab laid
 * in one later needs no memory (numaslab_page_pool_create; the node
 * reserves of lib/nodereserve.c are page pools too).  With
 * NUMASLAB_RESERVE_MLOCK=1 the chunks are locked in memory while they
 * belong to a pool.
 *
 * Locks: none of its own; the pool's lock is lib/mempool.c's, and the
 * allocator here runs outside it.
 */
#include "lib/internal.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>

static void page_free(void *elem, void *data);

/* [mem, mem+bytes), chunks of p just made, ready for a pool: their page
 * map leaves made, locked when NUMASLAB_RESERVE_MLOCK=1.  -1 (nothing
 * changed) when a leaf cannot be made. */
static int chunks_ready(struct numaslab_mempool *p, char *mem, size_t bytes)
{
    if (nslab__pagemap_set(mem, bytes, NULL))
        return -1;
    if (!nslab_g.opt.reserve_mlock || mlock(mem, bytes) == 0)
        return 0;
    /* One lock for a run is all or nothing: chunk by chunk then, as far
     * as RLIMIT_MEMLOCK goes, as if they had been made one by one. */
    size_t locked = 0;
    if (bytes > p->elem_bytes)
        while (locked < bytes && mlock(mem + locked, p->elem_bytes) == 0)
            locked += p->elem_bytes;
    static int told;
    if (locked < bytes && !__atomic_exchange_n(&told, 1, __ATOMIC_RELAXED)) {
        struct rlimit rl = {0, 0};
        getrlimit(RLIMIT_MEMLOCK, &rl);
        nslab__report("numaslab: NUMASLAB_RESERVE_MLOCK=1, but mlock of %zu bytes failed "
                      "(%s; RLIMIT_MEMLOCK is %llu bytes): the chunks past the limit stay unlocked",
                      p->elem_bytes, strerror(errno), (unsigned long long)rl.rlim_cur);
    }
    return 0;
}

/* Filling the reserve is not ordinary allocation: fault injection leaves
 * it alone, so that reserves exist to be tested. */
static unsigned fill_flags(unsigned flags)
{
    return (flags & NSLAB_F_FILL) ? NSLAB_PG_NOFAULT | NSLAB_PG_NOLIMIT : 0;
}

/* A chunk of 2^order pages on the pool's node, faulted in, with its page
 * map leaves made now so that a slab laid in it later needs no memory. */
static void *page_alloc(unsigned flags, int node, void *data)
{
    struct numaslab_mempool *p = data;
    void *mem = nslab__pages_get(p->page_nidx, p->elem_bytes, fill_flags(flags), NULL);
    if (!mem)
        return NULL;
    if (chunks_ready(p, mem, p->elem_bytes)) {
        nslab__pages_put(p->page_nidx, mem, p->elem_bytes, NSLAB_PG_UNMAP);
        return NULL;
    }
    (void)node;
    return mem;
}

/*
 * A pool filled chunk by chunk makes a mapping, a binding and a populate
 * for every chunk: 32 of each for a node's default reserve, most of what
 * starting numaslab costs a small program.  Here the chunks the pool
 * lacks come as one run: one of each.  A run of whole huge pages is
 * 2 MiB-aligned and advised for them (unless NUMASLAB_THP=0), so that it
 * is faulted in with one fault per 2 MiB where the kernel has huge pages
 * to give, not one per page.  The chunks are the pool's as they would be
 * one by one: each goes back to the page layer alone, which takes a run
 * of one mapping back piece by piece as it takes neighbouring mappings.
 */
int nslab__page_pool_fill_run(struct numaslab_mempool *p)
{
    nslab__lock(&p->lock, NSLAB_RANK_POOL);
    int n = p->min_nr - p->curr_nr;
    nslab__unlock(&p->lock, NSLAB_RANK_POOL);
    if (n < 2)
        return 0; /* nothing to gain */
    size_t bytes = (size_t)n * p->elem_bytes;
    unsigned flags = fill_flags(NSLAB_F_FILL);
    if (nslab_g.opt.thp && bytes % NSLAB_HUGE_PAGE == 0)
        flags |= NSLAB_PG_HUGE;
    char *mem = nslab__pages_get(p->page_nidx, bytes, flags, NULL);
    if (!mem)
        return 0;
    if (chunks_ready(p, mem, bytes)) {
        nslab__pages_put(p->page_nidx, mem, bytes, NSLAB_PG_UNMAP);
        return 0;
    }
    int put = 0;
    for (int i = 0; i < n; i++) {
        char *elem = mem + (size_t)i * p->elem_bytes;
        if (nslab__mempool_add(p, elem))
            put++;
        else
            page_free(elem, p); /* filled meanwhile */
    }
    return put;
}

static void page_free(void *elem, void *data)
{
    struct numaslab_mempool *p = data;
    if (nslab_g.opt.reserve_mlock)
        munlock(elem, p->elem_bytes); /* it may serve anything next */
    nslab__pages_put(p->page_nidx, elem, p->elem_bytes, 0);
}

int nslab__pool_node(int node, int bad)
{
    if (node == NUMASLAB_NODE_LOCAL)
        node = numaslab_local_node();
    if (bad || node < 0 || node >= nslab_g.possible) {
        errno = EINVAL;
        return -1;
    }
    if (nslab_g.node_nidx[node] < 0) {
        errno = ENODEV;
        return -1;
    }
    return nslab_g.node_nidx[node];
}

struct numaslab_mempool *nslab__page_pool_new(int nidx, size_t elem_bytes, int min_nr)
{
    struct numaslab_mempool *p =
        nslab__mempool_new(min_nr, page_alloc, page_free, NULL, nslab_g.topo.active[nidx]);
    if (!p)
        return NULL;
    p->pool_data = p;
    p->elem_bytes = elem_bytes;
    p->page_nidx = nidx;
    return p;
}

numaslab_mempool_t *numaslab_page_pool_create(int node, unsigned order, int min_nr)
{
    NSLAB_INIT_OR_NULL();
    int nidx = nslab__pool_node(node, order > 14 || min_nr < 0);
    if (nidx < 0)
        return NULL;
    struct numaslab_mempool *p = nslab__page_pool_new(nidx, nslab__page_size() << order, min_nr);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    nslab__page_pool_fill_run(p); /* one run where it can be had */
    return nslab__mempool_create_filled(p);
}
