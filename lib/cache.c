/*
 * lib/cache.c - caches: numaslab_cache_create and numaslab_cache_destroy,
 * the geometry of a cache's slabs (slab size, object count, the offsets of
 * the maps and the objects, the divide-free index constants), cache ids,
 * and the teardown that gives every slab back.  The slabs themselves and
 * their lists are lib/slab.c's.
 *
 * A cache lives from nslab__cache_new to nslab__cache_release, both under
 * nslab_g.lock (rank NSLAB_RANK_GLOBAL, lib/lock.h), which protects the
 * cache list, nslab_g.by_id and the id bitmap.  Destroy takes each cnode
 * lock (rank NSLAB_RANK_CNODE) in turn under it, one at a time, to count
 * what is still live; the threads that own slabs of the cache are
 * quiescent, as numaslab(3) requires.
 */
#include "lib/internal.h"
#include "lib/debug.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_SLAB_BYTES (64u << 20)
#define MAX_OBJ_SIZE   (MAX_SLAB_BYTES / NSLAB_MIN_OBJS)

static size_t align_up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Slab size and object count: 2^(order-1) pages when order is given,
 * else the smallest power-of-two slab of at least NSLAB_MIN_SLAB bytes
 * that holds NSLAB_MIN_OBJS objects.  Layout: header, free map (nwords +
 * 1 words), remote map (nwords words, from a cache line), objects (from
 * another, at the cache's alignment). */
static int cache_geometry(struct numaslab_cache *c, unsigned order)
{
    size_t lo = NSLAB_MIN_SLAB, hi = MAX_SLAB_BYTES;
    if (order)
        lo = hi = nslab__page_size() << (order - 1);
    for (size_t bytes = lo; bytes <= hi; bytes <<= 1) {
        size_t n = bytes / c->size, off = 0, roff = 0;
        while (n > 0) {
            size_t words = (n + 63) / 64;
            roff = align_up(sizeof(struct nslab_slab) + (words + 1) * 8, 64);
            off = align_up(roff + words * 8, c->align < 64 ? 64 : c->align);
            if (off + n * c->size <= bytes)
                break;
            n--;
        }
        if (n >= (order ? 1u : NSLAB_MIN_OBJS)) {
            c->slab_bytes = (uint32_t)bytes;
            c->nobjs = (uint32_t)n;
            c->nobjs_q = n;
            c->obj_offset = (uint32_t)off;
            c->rmap_offset = (uint32_t)roff;
            c->span = (uint32_t)(n * c->size);
            return 0;
        }
    }
    return -EINVAL;
}

/* The last cache serial given (struct numaslab_cache); nslab_g.lock. */
static uint64_t serials;

static int id_get(void)
{
    unsigned id = nslab__bit_first_clear(nslab_g.ids, NSLAB_MAX_CACHES);
    if (id >= NSLAB_MAX_CACHES)
        return -1;
    nslab__bit_set(nslab_g.ids, id);
    return (int)id;
}

static void id_put(int id)
{
    nslab__bit_clear(nslab_g.ids, (unsigned)id);
}

/* Make a cache and enter it in the cache list.  nslab_g.lock held.
 * NULL with errno EINVAL (bad size or alignment) or ENOMEM. */
struct numaslab_cache *nslab__cache_new(const char *name, size_t size, size_t align,
                                        void (*ctor)(void *), int sizeclass, unsigned order)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    if (align == 0)
        align = size <= 8 ? 8 : 16;
    if (size == 0 || size > MAX_OBJ_SIZE || (align & (align - 1)) || align > nslab__page_size()) {
        errno = EINVAL;
        return NULL;
    }
    /* On a cache line of its own: the fast paths read its first one. */
    struct numaslab_cache *c = aligned_alloc(64, (sizeof(*c) + 63) & ~(size_t)63);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    memset(c, 0, sizeof(*c));
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
    /* The threads' free lists (struct nslab_thread_node): objects that have room
     * for the link and the cookie, aligned for them, and no constructed
     * state to keep; up to 8 KiB of each per thread and node, 8 to 64
     * objects (NUMASLAB_TCACHE sets it).  A shorter list sends the frees
     * of a thread that frees a few more than it allocates to the slab's
     * own list, a header line further: larson under the drop-in ran a
     * third slower with 2 KiB, 4 to 32 (bench/RESULTS.md). */
    if (!NSLAB_DEBUG && !ctor && size >= 2 * sizeof(void *) && c->size % sizeof(void *) == 0) {
        uint32_t m = (uint32_t)(8192 / c->size);
        c->mag = nslab_g.opt.tcache ? nslab_g.opt.tcache : m < 8 ? 8 : m > 64 ? 64 : m;
    }
    c->divmax = UINT64_MAX / c->size;
    if (cache_geometry(c, order)) {
        free(c);
        errno = EINVAL;
        return NULL;
    }
    c->cnode = aligned_alloc(64, sizeof(struct nslab_cache_node) * (size_t)nslab_g.nactive);
    int id = id_get();
    if (!c->cnode || id < 0) {
        free(c->cnode);
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    c->id = (uint32_t)id;
    c->serial = ++serials; /* nslab_g.lock held */
    for (int i = 0; i < nslab_g.nactive; i++) {
        struct nslab_cache_node *cn = &c->cnode[i];
        memset(cn, 0, sizeof(*cn));
        nslab__lock_init(&cn->lock);
        nslab_list_init(&cn->partial);
        nslab_list_init(&cn->full);
        nslab_list_init(&cn->empty);
        nslab_list_init(&cn->reserve);
    }
    nslab_g.by_id[id] = c;
    nslab_list_add(&nslab_g.caches, &c->link);
    nslab__pub_cache_new(c);
    return c;
}

/* Unmap every slab of c and free it, whatever is live.  nslab_g.lock held;
 * every thread gave its slabs of c back. */
void nslab__cache_release(struct numaslab_cache *c)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    nslab__cache_sweep(c); /* frees waiting in remote maps are frees */
    for (int i = 0; i < nslab_g.nactive; i++) {
        struct nslab_cache_node *cn = &c->cnode[i];
        struct nslab_list *heads[] = {&cn->partial, &cn->full, &cn->empty, &cn->reserve};
        for (int h = 0; h < 4; h++)
            while (!nslab_list_empty(heads[h])) {
                struct nslab_slab *s = nslab_container_of(heads[h]->next, struct nslab_slab, link);
                nslab_list_del(&s->link);
                if (s->type == NSLAB_T_RESERVE)
                    nslab__reserve_release(c, s);
                else
                    nslab__slab_destroy(c, s, 0);
            }
        pthread_mutex_destroy(&cn->lock);
    }
    nslab_list_del(&c->link);
    nslab__pub_cache_gone(c);
    nslab_g.by_id[c->id] = NULL;
    id_put((int)c->id);
    free(c->cnode);
    free(c);
}

void nslab__cache_each(struct numaslab_cache *c, void (*fn)(void *obj, void *arg), void *arg)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    nslab__cache_sweep(c);
    for (int i = 0; i < nslab_g.nactive; i++) {
        struct nslab_cache_node *cn = &c->cnode[i];
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

numaslab_cache_t *numaslab_cache_create(const char *name, size_t size, size_t align, unsigned flags,
                                        void (*ctor)(void *obj))
{
    NSLAB_INIT_OR_NULL();
    unsigned order = (flags >> 8) & 0x3fu; /* NUMASLAB_SLAB_ORDER(o): o + 1 */
    if ((flags & ~0x3f00u) || order > 15) {
        nslab__report("numaslab_cache_create(%s): flags 0x%x are not supported", name ? name : "",
                      flags);
        errno = EINVAL;
        return NULL;
    }
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    struct numaslab_cache *c = nslab__cache_new(name, size, align, ctor, 0, order);
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
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
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    /* Every thread's slabs of c go back to the node lists (their owners
     * are quiescent, as the API requires), then what is live is counted.
     * Slabs that come back empty are unmapped, not cached: the cache goes. */
    nslab_store_relaxed(&c->dying, 1);
    struct nslab_list *l;
    for (l = nslab_g.threads.next; l != &nslab_g.threads; l = l->next) {
        struct nslab_tstate *ts = nslab_container_of(l, struct nslab_tstate, link);
        if (nslab__tc(ts, c->id))
            nslab__thread_cache_flush(c, ts, 0);
    }
    nslab__cache_sweep(c);
    uint64_t live = 0;
    for (int i = 0; i < nslab_g.nactive; i++) {
        nslab__lock(&c->cnode[i].lock, NSLAB_RANK_CNODE);
        live += nslab_load_relaxed(&c->cnode[i].st_inuse) + c->cnode[i].reserve_inuse;
        nslab__unlock(&c->cnode[i].lock, NSLAB_RANK_CNODE);
    }
    if (live) {
        nslab_store_relaxed(&c->dying, 0);
        nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
        return -EBUSY;
    }
    for (l = nslab_g.threads.next; l != &nslab_g.threads; l = l->next) {
        struct nslab_tstate *ts = nslab_container_of(l, struct nslab_tstate, link);
        nslab__tc_free(ts, c->id);
    }
    nslab__cache_release(c);
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    return 0;
}

const char *numaslab_cache_name(const numaslab_cache_t *c)
{
    return c ? c->name : NULL;
}
