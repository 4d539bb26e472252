/*
 * lib/sizeclass.c - numaslab_alloc / numaslab_alloc_node / numaslab_free
 * and the calls that look a pointer up (numaslab_ptr_node,
 * numaslab_usable_size): size classes from 8 to 8192 bytes, each a cache
 * named "numaslab-<size>" with its own slab lists on every active node,
 * and the dispatch of everything larger to lib/large.c.  The allocation
 * and the free of a size class are the library's hot pair: they inline
 * the fast paths of lib/thread.h and take no lock; whatever misses goes
 * out of line.
 *
 * Locks: none of its own; the size-class caches lock as every cache does
 * (lib/slab.c).
 */
#include "lib/internal.h"
#include "lib/debug.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Spacing grows with size so that no class wastes more than 1/4 (1/8
 * from 128 bytes up). */
const uint32_t nslab_class_size[NSLAB_NCLASSES] = {
    8,    16,   32,   48,   64,   80,   96,   112,  128,  160,  192,
    224,  256,  320,  384,  448,  512,  640,  768,  896,  1024, 1280,
    1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
};

/* size -> class, and size -> the class's cache, by 8 bytes (lib/large.h).
 * Filled by nslab__sizeclass_init. */
uint8_t nslab_class_by8[NUMASLAB_MAX_SMALL / 8 + 1];
static struct numaslab_cache nocache = {.id = NSLAB_MAX_CACHES};
struct numaslab_cache *nslab_class_cache[NUMASLAB_MAX_SMALL / 8 + 1] = {
    [0 ... NUMASLAB_MAX_SMALL / 8] = &nocache,
};
uint16_t nslab_class_id[NUMASLAB_MAX_SMALL / 8 + 1] = {
    [0 ... NUMASLAB_MAX_SMALL / 8] = NSLAB_MAX_CACHES,
};

void nslab__class_cache_clear(void)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    for (size_t i = 0; i < sizeof(nslab_class_by8); i++) {
        nslab_class_id[i] = NSLAB_MAX_CACHES;
        nslab_class_cache[i] = &nocache;
    }
}

int nslab__size_class(size_t size)
{
    if (size > NUMASLAB_MAX_SMALL)
        return -1;
    for (int i = 0; i < NSLAB_NCLASSES; i++)
        if (nslab_class_size[i] >= size)
            return i;
    return -1;
}

/* nslab_g.lock held. */
int nslab__sizeclass_init(void)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    /* One pass: the classes are sorted by size, the last is
     * NUMASLAB_MAX_SMALL.  (A search of the classes for each entry cost
     * about 100 K instructions at the start of every process.) */
    for (size_t i = 0, k = 0; i < sizeof(nslab_class_by8); i++) {
        while (nslab_class_size[k] < i * 8)
            k++;
        nslab_class_by8[i] = (uint8_t)k;
    }
    for (int i = 0; i < NSLAB_NCLASSES; i++) {
        char name[NSLAB_NAME_MAX];
        snprintf(name, sizeof(name), "numaslab-%u", nslab_class_size[i]);
        nslab_g.sc[i] = nslab__cache_new(name, nslab_class_size[i], 0, NULL, 1, 0);
        if (!nslab_g.sc[i])
            return -ENOMEM;
    }
    for (size_t i = 0; i < sizeof(nslab_class_by8); i++) {
        nslab_class_cache[i] = nslab_g.sc[nslab_class_by8[i]];
        nslab_class_id[i] = (uint16_t)nslab_g.sc[nslab_class_by8[i]]->id;
    }
    return 0;
}

numaslab_cache_t *numaslab_size_cache(size_t size)
{
    NSLAB_INIT_OR(NULL);
    if (size > NUMASLAB_MAX_SMALL)
        return NULL;
    return nslab_g.sc[nslab__class_of(size)];
}

/* ------------------------------------------------------------------------
 * The public calls
 * ---------------------------------------------------------------------- */

/* The fast path's miss for a size class (the arguments in the order the
 * fast path has them in registers): sl (the thread's slot of the
 * class's cache, NULL for a node the fast path does not know) refilled
 * from its current slab, else the slow path, after initialisation (the
 * class table points at an empty cache until then). */
__attribute__((noinline)) static void *small_miss(size_t size, unsigned flags, int node,
                                                  struct nslab_thread_node *sl)
{
    struct numaslab_cache *c = nslab__class_cache(size);
    void *obj;
    if (sl && (obj = nslab__own_refill(c, sl)))
        return nslab__hand_out(c, obj, flags);
    NSLAB_INIT_OR_NULL();
    return nslab__cache_alloc_slow(nslab_g.sc[nslab__class_of(size)], flags, node);
}

void *numaslab_alloc_node(size_t size, unsigned flags, int node)
{
    if (likely(size <= NUMASLAB_MAX_SMALL)) {
        struct nslab_thread_node *sl = nslab__own_slot_node_id(nslab__class_id(size), node);
        void *obj;
        if (likely(sl != NULL) && likely((obj = nslab__own_pop_list(sl)) != NULL))
            return nslab__hand_out(nslab__class_cache(size), obj, flags);
        return small_miss(size, flags, node, sl);
    }
    return nslab__large_entry(size, flags, node);
}

void *numaslab_alloc(size_t size, unsigned flags)
{
    if (likely(size <= NUMASLAB_MAX_SMALL)) {
        /* The local slot is never NULL (lslot): no test for it; the
         * cache itself is read only where it is needed. */
        struct nslab_thread_node *sl = nslab__own_slot_id(nslab__class_id(size));
        void *obj = nslab__own_pop_list(sl);
        if (likely(obj != NULL))
            return nslab__hand_out(nslab__class_cache(size), obj, flags);
        return small_miss(size, flags, NUMASLAB_NODE_LOCAL, sl);
    }
    return nslab__large_entry(size, flags, NUMASLAB_NODE_LOCAL);
}

void numaslab_free(void *ptr)
{
    struct nslab_slab *s = nslab__slab_fast(ptr);
    if (likely(s && nslab__obj_ok(s, s->cache, ptr))) {
        if (unlikely(!nslab__take_back(s->cache, ptr, "numaslab_free")))
            return;
        if (likely(nslab__own_push(s, s->cache, ptr)))
            return;
        nslab__free_miss(s, ptr, "numaslab_free");
        return;
    }
    nslab__large_free_entry(ptr);
}

int numaslab_ptr_node(const void *ptr)
{
    const uint8_t *h = nslab__pagemap_get(ptr);
    if (!h || *h == NSLAB_T_FREE)
        return -EINVAL;
    int nidx = *h != NSLAB_T_LARGE ? ((const struct nslab_slab *)h)->nidx
                                   : ((const struct nslab_large *)h)->nidx;
    return nslab_g.topo.active[nidx];
}

size_t numaslab_usable_size(const void *ptr)
{
    const uint8_t *h = nslab__pagemap_get(ptr);
    if (!h || *h == NSLAB_T_FREE)
        return 0;
    /* Ordinary and reserve slabs: the object's own bytes, not its stride
     * (alignment padding and the debug red zone are not the caller's, and
     * the sanitizer annotations keep them poisoned). */
    if (*h != NSLAB_T_LARGE)
        return ((const struct nslab_slab *)h)->cache->obj_size;
    return ((const struct nslab_large *)h)->bytes;
}

void *numaslab_alloc_node_mempool(size_t size, unsigned flags, int node, numaslab_mempool_t *pool)
{
    NSLAB_INIT_OR_NULL();
    if (size > NUMASLAB_MAX_SMALL) /* whole pages never come from a reserve */
        return nslab__large_alloc(size, 0, flags, node);
    return nslab__cache_alloc_reserve(nslab_g.sc[nslab__class_of(size)], flags, node, pool);
}
