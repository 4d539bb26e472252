/*
 * lib/mempool.c - mempools with the kernel's mempool_t semantics over any
 * allocator: a pool keeps min_nr elements made ahead, hands them out only
 * when the allocator fails, and takes frees back while it is below min_nr
 * (numaslab_mempool(3)).  Page pools (lib/pagepool.c) and the node
 * reserves (lib/nodereserve.c) are mempools whose allocator is the page
 * layer.
 *
 * Locks: pool->lock (rank NSLAB_RANK_POOL, lib/lock.h) protects the pool's
 * elements and counters; pool->cond is its NUMASLAB_WAIT sleepers'
 * condition.  It is never held while calling the pool's alloc_fn or
 * free_fn, and no other lock is taken under it (a node reserve's levels
 * go to the statistics segment before it is released, pool_unlock, which
 * at most tries nslab_g.lock).
 *
 * Invariants:
 *   0 <= curr_nr <= min_nr between calls (a shrink releases the surplus
 *   before returning); curr_nr + out == elements the pool accounts for.
 */
#include "lib/internal.h"

#include <stdlib.h>
#include <time.h>

/* Every section that holds a pool's lock ends here: a node reserve's
 * levels go to the statistics segment first (lib/export.c). */
static void pool_unlock(struct numaslab_mempool *p)
{
    nslab__pub_reserve(p);
    nslab__unlock(&p->lock, NSLAB_RANK_POOL);
}

#define RETRY_NS (100 * 1000 * 1000) /* NUMASLAB_WAIT retries the allocator this often */
#define POISON   0x6b

/* Page-pool elements are poisoned while they sit in a pool in debug
 * builds, and checked on the way out (the kernel's mempool poisoning). */
static void poison(struct numaslab_mempool *p, void *elem)
{
    if (NSLAB_DEBUG && p->elem_bytes)
        memset(elem, POISON, p->elem_bytes);
}

void nslab__mempool_poison_check(struct numaslab_mempool *p, void *elem)
{
    if (!NSLAB_DEBUG || !p->elem_bytes)
        return;
    const unsigned char *b = elem;
    for (size_t i = 0; i < p->elem_bytes; i++)
        if (b[i] != POISON) {
            nslab__report("numaslab_mempool_alloc: reserve element %p was written while in the "
                          "pool (byte %zu is 0x%02x)",
                          elem, i, b[i]);
            abort();
        }
}

/* Push an element into the reserve; pool->lock held, curr_nr < cap. */
static void push(struct numaslab_mempool *p, void *elem)
{
    NSLAB_ASSERT_HELD(&p->lock);
    poison(p, elem);
    p->elements[p->curr_nr++] = elem;
}

static void *pop(struct numaslab_mempool *p)
{
    void *elem = p->elements[--p->curr_nr];
    nslab__mempool_poison_check(p, elem);
    return elem;
}

/* Make room for n elements; pool->lock held or the pool private. */
static int reserve_room(struct numaslab_mempool *p, int n)
{
    if (n <= p->cap)
        return 0;
    void **e = realloc(p->elements, sizeof(void *) * (size_t)n);
    if (!e)
        return -ENOMEM;
    p->elements = e;
    p->cap = n;
    return 0;
}

static void pool_free_struct(struct numaslab_mempool *p)
{
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->elements);
    free(p);
}

int nslab__mempool_fill(struct numaslab_mempool *p)
{
    for (;;) {
        nslab__lock(&p->lock, NSLAB_RANK_POOL);
        int missing = p->min_nr - p->curr_nr;
        pool_unlock(p);
        if (missing <= 0)
            return 0;
        void *elem = p->alloc_fn(p->elem_bytes ? NSLAB_F_FILL : 0, p->node, p->pool_data);
        if (!elem)
            return missing;
        nslab__lock(&p->lock, NSLAB_RANK_POOL);
        if (p->curr_nr < p->min_nr && p->curr_nr < p->cap) {
            push(p, elem);
            elem = NULL;
        }
        pool_unlock(p);
        if (elem) /* raced with frees that filled it */
            p->free_fn(elem, p->pool_data);
    }
}

int nslab__mempool_add(struct numaslab_mempool *p, void *elem)
{
    nslab__lock(&p->lock, NSLAB_RANK_POOL);
    int took = p->curr_nr < p->min_nr && p->curr_nr < p->cap;
    if (took)
        push(p, elem);
    pool_unlock(p);
    return took;
}

struct numaslab_mempool *nslab__mempool_new(int min_nr, numaslab_pool_alloc_fn alloc_fn,
                                            numaslab_pool_free_fn free_fn, void *pool_data,
                                            int node)
{
    struct numaslab_mempool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->min_nr = min_nr;
    p->alloc_fn = alloc_fn;
    p->free_fn = free_fn;
    p->pool_data = pool_data;
    p->node = node;
    p->page_nidx = -1;
    if (reserve_room(p, min_nr > 0 ? min_nr : 1)) {
        pool_free_struct(p);
        return NULL;
    }
    return p;
}

void nslab__mempool_release(struct numaslab_mempool *p)
{
    while (p->curr_nr)
        p->free_fn(pop(p), p->pool_data);
    pool_free_struct(p);
}

/* Creation fails whole: the elements made so far go back. */
numaslab_mempool_t *nslab__mempool_create_filled(struct numaslab_mempool *p)
{
    if (nslab__mempool_fill(p) == 0)
        return p;
    nslab__mempool_release(p);
    errno = ENOMEM;
    return NULL;
}

numaslab_mempool_t *numaslab_mempool_create_node(int min_nr, numaslab_pool_alloc_fn alloc_fn,
                                                 numaslab_pool_free_fn free_fn, void *pool_data,
                                                 int node)
{
    NSLAB_INIT_OR_NULL();
    if (min_nr < 0 || !alloc_fn || !free_fn || node < -1 || node >= nslab_g.possible) {
        errno = EINVAL;
        return NULL;
    }
    struct numaslab_mempool *p = nslab__mempool_new(min_nr, alloc_fn, free_fn, pool_data, node);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    return nslab__mempool_create_filled(p);
}

numaslab_mempool_t *numaslab_mempool_create(int min_nr, numaslab_pool_alloc_fn alloc_fn,
                                            numaslab_pool_free_fn free_fn, void *pool_data)
{
    return numaslab_mempool_create_node(min_nr, alloc_fn, free_fn, pool_data, -1);
}

void *numaslab_mempool_alloc(numaslab_mempool_t *p, unsigned flags)
{
    if (!p) {
        errno = EINVAL;
        return NULL;
    }
    /* The underlying allocator first: the reserve is for when it fails. */
    void *elem = p->alloc_fn(flags & ~NUMASLAB_WAIT, p->node, p->pool_data);
    nslab__lock(&p->lock, NSLAB_RANK_POOL);
    for (;;) {
        if (elem)
            break;
        if (p->curr_nr > 0) {
            elem = pop(p);
            p->used++;
            break;
        }
        p->empty++;
        if (!(flags & NUMASLAB_WAIT)) {
            pool_unlock(p);
            errno = ENOMEM;
            return NULL;
        }
        /* Sleep until a free signals, or RETRY_NS passes: then try the
         * underlying allocator again (memory may have come back). */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += RETRY_NS;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        p->waiters++;
        int rc = pthread_cond_timedwait(&p->cond, &p->lock, &ts);
        p->waiters--;
        if (p->curr_nr > 0)
            continue;
        if (rc == ETIMEDOUT) {
            pool_unlock(p);
            elem = p->alloc_fn(flags & ~NUMASLAB_WAIT, p->node, p->pool_data);
            nslab__lock(&p->lock, NSLAB_RANK_POOL);
        }
    }
    p->out++;
    pool_unlock(p);
    return elem;
}

void *numaslab_mempool_alloc_preallocated(numaslab_mempool_t *p)
{
    void *elem = NULL;
    if (!p) {
        errno = EINVAL;
        return NULL;
    }
    nslab__lock(&p->lock, NSLAB_RANK_POOL);
    if (p->curr_nr > 0) {
        elem = pop(p);
        p->used++;
        p->out++;
    } else {
        p->empty++;
    }
    pool_unlock(p);
    if (!elem)
        errno = ENOMEM;
    return elem;
}

int numaslab_mempool_alloc_bulk(numaslab_mempool_t *p, void **elems, int n)
{
    if (!p || !elems || n < 0)
        return -EINVAL;
    nslab__lock(&p->lock, NSLAB_RANK_POOL);
    if (p->curr_nr < n) {
        p->empty++;
        pool_unlock(p);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++)
        elems[i] = pop(p);
    p->used += (uint64_t)n;
    p->out += n;
    pool_unlock(p);
    return 0;
}

void numaslab_mempool_free(void *elem, numaslab_mempool_t *p)
{
    if (!elem || !p)
        return;
    nslab__lock(&p->lock, NSLAB_RANK_POOL);
    p->out--;
    if (p->curr_nr < p->min_nr && p->curr_nr < p->cap) {
        push(p, elem);
        pthread_cond_signal(&p->cond);
        pool_unlock(p);
        return;
    }
    pool_unlock(p);
    p->free_fn(elem, p->pool_data);
}

int numaslab_mempool_resize(numaslab_mempool_t *p, int new_min_nr)
{
    if (!p || new_min_nr < 0)
        return -EINVAL;
    nslab__lock(&p->lock, NSLAB_RANK_POOL);
    if (reserve_room(p, new_min_nr)) {
        pool_unlock(p);
        return -ENOMEM;
    }
    p->min_nr = new_min_nr;
    int surplus = p->curr_nr - new_min_nr;
    void **gone = NULL;
    if (surplus > 0 && (gone = malloc(sizeof(void *) * (size_t)surplus)))
        for (int i = 0; i < surplus; i++)
            gone[i] = pop(p);
    pool_unlock(p);
    if (gone) {
        for (int i = 0; i < surplus; i++)
            p->free_fn(gone[i], p->pool_data);
        free(gone);
    }
    nslab__mempool_fill(p); /* what cannot be made now, later frees complete */
    return 0;
}

int numaslab_mempool_destroy(numaslab_mempool_t *p)
{
    if (!p)
        return -EINVAL;
    nslab__lock(&p->lock, NSLAB_RANK_POOL);
    if (p->out > 0 || p->waiters > 0) {
        pool_unlock(p);
        return -EBUSY;
    }
    pool_unlock(p);
    nslab__mempool_release(p);
    return 0;
}

int numaslab_mempool_stats(numaslab_mempool_t *p, struct numaslab_mempool_stats *st)
{
    if (!p || !st)
        return -EINVAL;
    nslab__lock(&p->lock, NSLAB_RANK_POOL);
    st->node = p->node;
    st->curr_nr = p->curr_nr;
    st->min_nr = p->min_nr;
    st->waiters = p->waiters;
    st->out = p->out;
    st->elem_bytes = p->elem_bytes;
    st->used = p->used;
    st->empty = p->empty;
    pool_unlock(p);
    return 0;
}
