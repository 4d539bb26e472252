/*
 * lib/mempool.h - mempools (struct numaslab_mempool) and the calls of the
 * three files built on them: lib/mempool.c (the kernel's mempool_t
 * semantics over any allocator), lib/pagepool.c (pools of chunks of pages
 * bound to a node) and lib/nodereserve.c (the reserve page pool of every
 * active node).
 */
#ifndef NSLAB_MEMPOOL_H
#define NSLAB_MEMPOOL_H

#include "lib/base.h"

/*
 * A mempool.  lock protects everything below it; cond wakes NUMASLAB_WAIT
 * sleepers when an element comes back.
 *   0 <= curr_nr <= cap, curr_nr <= min_nr except while a shrink is under way
 *   out == elements handed out and not yet freed
 */
struct numaslab_mempool {
    pthread_mutex_t lock; /* NSLAB_RANK_POOL (lib/lock.h) */
    pthread_cond_t cond;
    int min_nr, curr_nr, cap;
    void **elements;
    long out;
    int waiters;
    uint64_t used, empty;
    numaslab_pool_alloc_fn alloc_fn;
    numaslab_pool_free_fn free_fn;
    void *pool_data;
    int node;          /* -1: any */
    size_t elem_bytes; /* page pools: bytes of one element; else 0 */
    int page_nidx;     /* page pools: dense node index */
};

#define NSLAB_F_FILL 0x80000000u /* alloc_fn flag: filling a reserve (lib/pagepool.c) */

/* lib/mempool.c: mempools */
/* A pool, empty, with room for min_nr elements; NULL when out of memory. */
struct numaslab_mempool *nslab__mempool_new(int min_nr, numaslab_pool_alloc_fn alloc_fn,
                                            numaslab_pool_free_fn free_fn, void *pool_data,
                                            int node);
/* Fill p up to min_nr with its allocator; returns the number still missing. */
int nslab__mempool_fill(struct numaslab_mempool *p);
/* elem into p when p holds fewer than min_nr: 1; else 0, elem the caller's. */
int nslab__mempool_add(struct numaslab_mempool *p, void *elem);
/* p filled, or NULL with errno ENOMEM and p released. */
struct numaslab_mempool *nslab__mempool_create_filled(struct numaslab_mempool *p);
/* Give every element p holds back to its allocator, and free p. */
void nslab__mempool_release(struct numaslab_mempool *p);
void nslab__mempool_poison_check(struct numaslab_mempool *p, void *elem);

/* lib/pagepool.c: page pools */
/* The dense index of node (NUMASLAB_NODE_LOCAL: the caller's), or -1 with
 * errno EINVAL (not a node id, or bad) or ENODEV (inactive). */
int nslab__pool_node(int node, int bad);
/* An empty pool of chunks of elem_bytes on node nidx (filled by the caller). */
struct numaslab_mempool *nslab__page_pool_new(int nidx, size_t elem_bytes, int min_nr);
/* The chunks p lacks made as one run of the page layer, put in p: the
 * number put there, 0 when no such run could be had. */
int nslab__page_pool_fill_run(struct numaslab_mempool *p);

/* lib/nodereserve.c: the node reserves */
int nslab__reserves_init(void);  /* nslab_g.lock held */
void nslab__reserves_fini(void); /* nslab_g.lock held */

#endif /* NSLAB_MEMPOOL_H */
