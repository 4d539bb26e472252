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

/* A chunk of 2^order pages on the pool's node, faulted in, with its page
 * map leaves made now so that a slab laid in it later needs no memory. */
static void *page_alloc(unsigned flags, int node, void *data)
{
    struct numaslab_mempool *p = data;
    /* Filling the reserve is not ordinary allocation: fault injection
     * leaves it alone, so that reserves exist to be tested. */
    void *mem =
        nslab__pages_get(p->page_nidx, p->elem_bytes,
                         (flags & NSLAB_F_FILL) ? NSLAB_PG_NOFAULT | NSLAB_PG_NOLIMIT : 0, NULL);
    if (!mem)
        return NULL;
    if (nslab__pagemap_set(mem, p->elem_bytes, NULL)) {
        nslab__pages_put(p->page_nidx, mem, p->elem_bytes, NSLAB_PG_UNMAP);
        return NULL;
    }
    if (nslab_g.opt.reserve_mlock && mlock(mem, p->elem_bytes) != 0) {
        static int told;
        if (!__atomic_exchange_n(&told, 1, __ATOMIC_RELAXED)) {
            struct rlimit rl = {0, 0};
            getrlimit(RLIMIT_MEMLOCK, &rl);
            nslab__report("numaslab: NUMASLAB_RESERVE_MLOCK=1, but mlock of %zu bytes failed "
                          "(%s; RLIMIT_MEMLOCK is %llu bytes): the reserve stays unlocked",
                          p->elem_bytes, strerror(errno), (unsigned long long)rl.rlim_cur);
        }
    }
    (void)flags;
    (void)node;
    return mem;
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
    return nslab__mempool_create_filled(p);
}
