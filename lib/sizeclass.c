/*
 * lib/sizeclass.c - numaslab_alloc / numaslab_alloc_node / numaslab_free:
 * size classes from 8 to 8192 bytes, each a cache named "numaslab-<size>"
 * with its own slab lists on every active node, and whole bound pages
 * above that.
 *
 * Locks: large[nidx].lock (level 2 of lib/internal.h) protects node nidx's
 * list of large objects; the size-class caches lock as every cache does.
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

/* size -> class: by 8 bytes up to 1024, by 128 bytes up to 8192.  Filled
 * by nslab__sizeclass_init; all zero before, which the fast path turns
 * into a miss because nslab_g.sc[] is NULL then. */
static uint8_t class_small[1024 / 8 + 1];
static uint8_t class_large[NUMASLAB_MAX_SMALL / 128 + 1];

static inline int class_of(size_t size)
{
    return size <= 1024 ? class_small[(size + 7) >> 3] : class_large[(size + 127) >> 7];
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
    for (size_t i = 0; i < sizeof(class_small); i++)
        class_small[i] = (uint8_t)nslab__size_class(i * 8);
    for (size_t i = 0; i < sizeof(class_large); i++)
        class_large[i] = (uint8_t)nslab__size_class(i * 128 > 1024 ? i * 128 : 1025);
    for (int i = 0; i < NSLAB_NCLASSES; i++) {
        char name[NSLAB_NAME_MAX];
        snprintf(name, sizeof(name), "numaslab-%u", nslab_class_size[i]);
        nslab_g.sc[i] = nslab__cache_new(name, nslab_class_size[i], 0, NULL, 1, 0);
        if (!nslab_g.sc[i])
            return -ENOMEM;
    }
    return 0;
}

numaslab_cache_t *numaslab_size_cache(size_t size)
{
    if (nslab__init() || size > NUMASLAB_MAX_SMALL)
        return NULL;
    return nslab_g.sc[class_of(size)];
}

/* ------------------------------------------------------------------------
 * Large objects: whole pages bound to the node
 * ---------------------------------------------------------------------- */

void *nslab__large_alloc(size_t size, unsigned flags, int node)
{
    size_t page = nslab__page_size();
    if (size > SIZE_MAX / 2) {
        errno = ENOMEM;
        return NULL;
    }
    size_t bytes = (size + page - 1) & ~(page - 1);
    struct nslab_tstate *ts = nslab__tstate();
    if (!ts) {
        errno = ENOMEM;
        return NULL;
    }
    nslab__refresh_local(ts);
    int nidx, rc = nslab__resolve_node(nslab_g.large_warned, "numaslab-large", node, flags, &nidx);
    if (rc) {
        errno = -rc;
        return NULL;
    }
    struct nslab_large *l = malloc(sizeof(*l));
    if (!l) {
        errno = ENOMEM;
        return NULL;
    }
    int at = nidx;
    void *p = nslab__map_node(at, bytes);
    if (!p && !(flags & NUMASLAB_THISNODE)) {
        const int *order = &nslab_g.topo.order[nidx * nslab_g.nactive];
        for (int k = 1; !p && k < nslab_g.nactive; k++)
            p = nslab__map_node(at = order[k], bytes);
        if (p) {
            nslab_add_relaxed(&nslab_g.nstat[nslab_g.topo.active[nidx]].fallback_out, 1);
            nslab_add_relaxed(&nslab_g.nstat[nslab_g.topo.active[at]].fallback_in, 1);
        }
    }
    if (!p) {
        free(l);
        errno = ENOMEM;
        return NULL;
    }
    l->type = NSLAB_T_LARGE;
    l->nidx = (uint16_t)at;
    l->base = p;
    l->bytes = bytes;
    l->size = size;
    if (nslab__pagemap_set(p, bytes, l)) {
        nslab__unmap_node(at, p, bytes);
        free(l);
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_lock(&nslab_g.large[at].lock);
    nslab_list_add(&nslab_g.large[at].list, &l->link);
    pthread_mutex_unlock(&nslab_g.large[at].lock);
    nslab_add_relaxed(&nslab_g.nstat[nslab_g.topo.active[at]].large, 1);
    return p; /* fresh anonymous pages: already zero */
}

void nslab__large_free(struct nslab_large *l, void *ptr)
{
    if (ptr != l->base) {
        nslab__bad_free("numaslab_free: %p is inside the large object %p, not its start; ignored",
                      ptr, l->base);
        return;
    }
    int nidx = l->nidx;
    pthread_mutex_lock(&nslab_g.large[nidx].lock);
    nslab_list_del(&l->link);
    pthread_mutex_unlock(&nslab_g.large[nidx].lock);
    nslab__pagemap_clear(l->base, l->bytes);
    nslab__unmap_node(nidx, l->base, l->bytes);
    nslab_sub_relaxed(&nslab_g.nstat[nslab_g.topo.active[nidx]].large, 1);
    free(l);
}

/* numaslab_fini: every large object, live or not.  nslab_g.lock held. */
void nslab__large_release_all(void)
{
    for (int i = 0; nslab_g.large && i < nslab_g.nactive; i++)
        while (!nslab_list_empty(&nslab_g.large[i].list)) {
            struct nslab_large *l =
                nslab_container_of(nslab_g.large[i].list.next, struct nslab_large, link);
            nslab__large_free(l, l->base);
        }
}

/* ------------------------------------------------------------------------
 * The public calls
 * ---------------------------------------------------------------------- */

static void *alloc_slow(size_t size, unsigned flags, int node)
{
    int rc = nslab__init();
    if (rc) {
        errno = -rc;
        return NULL;
    }
    if (size > NUMASLAB_MAX_SMALL)
        return nslab__large_alloc(size, flags, node);
    return nslab__cache_alloc_slow(nslab_g.sc[class_of(size)], flags, node);
}

void *numaslab_alloc_node(size_t size, unsigned flags, int node)
{
    if (likely(size <= NUMASLAB_MAX_SMALL)) {
        struct numaslab_cache *c = nslab_g.sc[class_of(size)];
        int nidx;
        if (node == NUMASLAB_NODE_LOCAL)
            nidx = nslab__local_nidx();
        else if (likely((unsigned)node < (unsigned)nslab_g.possible))
            nidx = nslab_g.node_nidx[node];
        else
            return alloc_slow(size, flags, node);
        if (likely(c != NULL && nidx >= 0)) {
            void *obj = nslab__tc_pop(c, nidx);
            if (likely(obj != NULL))
                return nslab__hand_out(c, obj, flags);
        }
    }
    return alloc_slow(size, flags, node);
}

void *numaslab_alloc(size_t size, unsigned flags)
{
    return numaslab_alloc_node(size, flags, NUMASLAB_NODE_LOCAL);
}

void numaslab_free(void *ptr)
{
    struct nslab_slab *s = nslab__pagemap_get(ptr);
    if (likely(s && s->type == NSLAB_T_SLAB && nslab__obj_ok(s, s->cache, ptr))) {
        if (unlikely(!nslab__take_back(s->cache, ptr, "numaslab_free")))
            return;
        if (likely(nslab__tc_push(s->cache, s->nidx, ptr)))
            return;
        nslab__cache_free_slow(NULL, ptr, NULL);
        return;
    }
    nslab__cache_free_slow(NULL, ptr, "numaslab_free");
}

int numaslab_ptr_node(const void *ptr)
{
    const uint8_t *h = nslab__pagemap_get(ptr);
    if (!h)
        return -EINVAL;
    int nidx = *h != NSLAB_T_LARGE ? ((const struct nslab_slab *)h)->nidx
                                   : ((const struct nslab_large *)h)->nidx;
    return nslab_g.topo.active[nidx];
}

size_t numaslab_usable_size(const void *ptr)
{
    const uint8_t *h = nslab__pagemap_get(ptr);
    if (!h)
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
    int rc = nslab__init();
    if (rc) {
        errno = -rc;
        return NULL;
    }
    if (size > NUMASLAB_MAX_SMALL) /* whole pages never come from a reserve */
        return nslab__large_alloc(size, flags, node);
    return nslab__cache_alloc_reserve(nslab_g.sc[class_of(size)], flags, node, pool);
}
