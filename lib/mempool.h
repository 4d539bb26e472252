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
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int min_nr, curr_nr, cap;
    void **elements;
    long out;
    int waiters;
    uint64_t used, empty;
    numaslab_pool_alloc_fn alloc_fn;
    numaslab_pool_free_fn free_fn;
    void *pool_data;
    int node;                   /* -1: any */
    size_t elem_bytes;          /* page pools: bytes of one element; else 0 */
    int page_nidx;              /* page pools: dense node index */
};

#define NSLAB_F_FILL 0x80000000u  /* page_alloc: filling a reserve */
int nslab__reserves_init(void);   /* nslab_g.lock held */
void nslab__reserves_fini(void);  /* nslab_g.lock held */
void nslab__mempool_poison_check(struct numaslab_mempool *p, void *elem);

#endif /* NSLAB_MEMPOOL_H */
