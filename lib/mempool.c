/*
 * lib/mempool.c - mempools with the kernel's mempool_t semantics, page
 * pools, and the reserve page pool every active node owns.
 *
 * Locks: pool->lock protects the pool's elements and counters; pool->cond
 * is its NUMASLAB_WAIT sleepers' condition.  pool->lock is a leaf: it is
 * never held while calling the pool's alloc_fn or free_fn, or while taking
 * any other lock.  nslab_g.lock protects the list of page pools (pools).
 *
 * Invariants:
 *   0 <= curr_nr <= min_nr between calls (a shrink releases the surplus
 *   before returning); curr_nr + out == elements the pool accounts for.
 */
#include "lib/internal.h"

/* Every section that holds a pool's lock ends here: a node reserve's
 * levels go to the statistics segment first (lib/export.c). */
static void pool_unlock(struct numaslab_mempool *p)
{
    nslab__pub_reserve(p);
    pthread_mutex_unlock(&p->lock);
}

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#define RETRY_NS (100 * 1000 * 1000) /* NUMASLAB_WAIT retries the allocator this often */
#define POISON 0x6b

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
                          "pool (byte %zu is 0x%02x)", elem, i, b[i]);
            abort();
        }
}

/* Push an element into the reserve; pool->lock held, curr_nr < cap. */
static void push(struct numaslab_mempool *p, void *elem)
{
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

/* Fill the reserve up to min_nr with the underlying allocator.  Returns
 * the number still missing. */
static int fill(struct numaslab_mempool *p)
{
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int missing = p->min_nr - p->curr_nr;
        pool_unlock(p);
        if (missing <= 0)
            return 0;
        void *elem = p->alloc_fn(p->elem_bytes ? NSLAB_F_FILL : 0, p->node, p->pool_data);
        if (!elem)
            return missing;
        pthread_mutex_lock(&p->lock);
        if (p->curr_nr < p->min_nr && p->curr_nr < p->cap) {
            push(p, elem);
            elem = NULL;
        }
        pool_unlock(p);
        if (elem) /* raced with frees that filled it */
            p->free_fn(elem, p->pool_data);
    }
}

static struct numaslab_mempool *pool_new(int min_nr, numaslab_pool_alloc_fn alloc_fn,
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

/* Creation fails whole: the elements made so far go back. */
static numaslab_mempool_t *create_filled(struct numaslab_mempool *p)
{
    if (fill(p) == 0)
        return p;
    while (p->curr_nr)
        p->free_fn(p->elements[--p->curr_nr], p->pool_data);
    pool_free_struct(p);
    errno = ENOMEM;
    return NULL;
}

numaslab_mempool_t *numaslab_mempool_create_node(int min_nr, numaslab_pool_alloc_fn alloc_fn,
                                                 numaslab_pool_free_fn free_fn, void *pool_data,
                                                 int node)
{
    int rc = nslab__init();
    if (rc) {
        errno = -rc;
        return NULL;
    }
    if (min_nr < 0 || !alloc_fn || !free_fn || node < -1 || node >= nslab_g.possible) {
        errno = EINVAL;
        return NULL;
    }
    struct numaslab_mempool *p = pool_new(min_nr, alloc_fn, free_fn, pool_data, node);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    return create_filled(p);
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
    pthread_mutex_lock(&p->lock);
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
            pthread_mutex_lock(&p->lock);
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
    pthread_mutex_lock(&p->lock);
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
    pthread_mutex_lock(&p->lock);
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
    pthread_mutex_lock(&p->lock);
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
    pthread_mutex_lock(&p->lock);
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
    fill(p); /* what cannot be made now, later frees complete */
    return 0;
}

int numaslab_mempool_destroy(numaslab_mempool_t *p)
{
    if (!p)
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    if (p->out > 0 || p->waiters > 0) {
        pool_unlock(p);
        return -EBUSY;
    }
    pool_unlock(p);
    while (p->curr_nr)
        p->free_fn(pop(p), p->pool_data);
    pool_free_struct(p);
    return 0;
}

int numaslab_mempool_stats(numaslab_mempool_t *p, struct numaslab_mempool_stats *st)
{
    if (!p || !st)
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
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

/* ------------------------------------------------------------------------
 * Page pools
 * ---------------------------------------------------------------------- */

/* A chunk of 2^order pages on the pool's node, faulted in, with its page
 * map leaves made now so that a slab laid in it later needs no memory. */
static void *page_alloc(unsigned flags, int node, void *data)
{
    struct numaslab_mempool *p = data;
    /* Filling the reserve is not ordinary allocation: fault injection
     * leaves it alone, so that reserves exist to be tested. */
    void *mem = nslab__pages_get(p->page_nidx, p->elem_bytes,
                                 (flags & NSLAB_F_FILL) ? NSLAB_PG_NOFAULT | NSLAB_PG_NOLIMIT : 0,
                                 NULL);
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

numaslab_mempool_t *numaslab_page_pool_create(int node, unsigned order, int min_nr)
{
    int rc = nslab__init();
    if (rc) {
        errno = -rc;
        return NULL;
    }
    if (node == NUMASLAB_NODE_LOCAL)
        node = numaslab_local_node();
    if (node < 0 || node >= nslab_g.possible || order > 14 || min_nr < 0) {
        errno = EINVAL;
        return NULL;
    }
    if (nslab_g.node_nidx[node] < 0) {
        errno = ENODEV;
        return NULL;
    }
    struct numaslab_mempool *p = pool_new(min_nr, page_alloc, page_free, NULL, node);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    p->pool_data = p;
    p->elem_bytes = nslab__page_size() << order;
    p->page_nidx = nslab_g.node_nidx[node];
    return create_filled(p);
}

/* ------------------------------------------------------------------------
 * The node reserves
 * ---------------------------------------------------------------------- */

#define DEFAULT_RESERVE (2u << 20)

/*
 * Parse "SIZE" or "NODE:SIZE,..." (a bare SIZE applies to every node not
 * named) into bytes[possible].  0 or -EINVAL.
 */
static int parse_reserve(const char *s, size_t *bytes, int possible)
{
    char buf[256];
    if (!s || !*s || strlen(s) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, s);
    size_t dflt = DEFAULT_RESERVE;
    static char named[1 << 10];
    memset(named, 0, sizeof(named));
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        size_t v;
        if (!colon) {
            if (nslab__parse_size(tok, &v))
                return -EINVAL;
            dflt = v;
            continue;
        }
        *colon = '\0';
        char *end;
        long n = strtol(tok, &end, 10);
        if (end == tok || *end || n < 0 || n >= possible || n >= (long)sizeof(named) ||
            nslab__parse_size(colon + 1, &v))
            return -EINVAL;
        bytes[n] = v;
        named[n] = 1;
    }
    for (int n = 0; n < possible && n < (int)sizeof(named); n++)
        if (!named[n])
            bytes[n] = dflt;
    return 0;
}

/* nslab_g.lock held; after the topology and the tables. */
int nslab__reserves_init(void)
{
    int possible = nslab_g.possible;
    size_t *bytes = calloc((size_t)possible, sizeof(size_t));
    nslab_g.reserve = calloc((size_t)nslab_g.nactive, sizeof(*nslab_g.reserve));
    if (!bytes || !nslab_g.reserve) {
        free(bytes);
        return -ENOMEM;
    }
    const char *spec = nslab_g.opt.reserve;
    if (spec && parse_reserve(spec, bytes, possible) && nslab_g.opt.reserve_from_cfg) {
        nslab__report("numaslab_init: reserve=\"%s\" is not a size or a list NODE:SIZE,... "
                      "(e.g. 4M or 0:8M,3:2M)", spec);
        free(bytes);
        return -EINVAL;
    }
    if (spec && parse_reserve(spec, bytes, possible)) {
        nslab__report("numaslab: NUMASLAB_RESERVE=\"%s\": not a size or a list NODE:SIZE,... "
                      "(e.g. 4M or 0:8M,3:2M); using the default %u bytes per node",
                      spec, DEFAULT_RESERVE);
        spec = NULL;
    }
    if (!spec)
        for (int n = 0; n < possible; n++)
            bytes[n] = DEFAULT_RESERVE;
    size_t elem = NSLAB_MIN_SLAB;
    for (int i = 0; i < nslab_g.nactive; i++) {
        int node = nslab_g.topo.active[i];
        int min_nr = (int)((bytes[node] + elem - 1) / elem);
        struct numaslab_mempool *p = pool_new(min_nr, page_alloc, page_free, NULL, node);
        if (!p)
            continue;
        p->pool_data = p;
        p->elem_bytes = elem;
        p->page_nidx = i;
        nslab_g.nstat[node].reserve_allowance = (uint64_t)min_nr * elem;
        int missing = fill(p);
        if (missing)
            nslab__report("numaslab: the reserve of node %d holds %d of %d elements of %zu bytes "
                          "(no more memory there)", node, min_nr - missing, min_nr, elem);
        nslab_g.reserve[i] = p;
    }
    free(bytes);
    return 0;
}

/* nslab_g.lock held; every reserve slab has gone back to its pool. */
void nslab__reserves_fini(void)
{
    for (int i = 0; nslab_g.reserve && i < nslab_g.nactive; i++) {
        struct numaslab_mempool *p = nslab_g.reserve[i];
        if (!p)
            continue;
        while (p->curr_nr)
            p->free_fn(pop(p), p->pool_data);
        pool_free_struct(p);
    }
    free(nslab_g.reserve);
    nslab_g.reserve = NULL;
}

numaslab_mempool_t *numaslab_node_reserve(int node)
{
    int rc = nslab__init();
    if (rc) {
        errno = -rc;
        return NULL;
    }
    if (node == NUMASLAB_NODE_LOCAL)
        node = numaslab_local_node();
    if (node < 0 || node >= nslab_g.possible) {
        errno = EINVAL;
        return NULL;
    }
    if (nslab_g.node_nidx[node] < 0) {
        errno = ENODEV;
        return NULL;
    }
    numaslab_mempool_t *p = nslab_g.reserve[nslab_g.node_nidx[node]];
    if (!p)
        errno = ENOMEM; /* it could not be made at initialisation */
    return p;
}
