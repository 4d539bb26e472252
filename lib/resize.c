/*
 * lib/resize.c - numaslab_realloc and numaslab_alloc_aligned_node: an
 * object resized on its own node, and objects at a stated alignment.
 *
 * Resizing keeps the object where it is whenever its memory still fits:
 * a size-class object whose class still serves the new size, a large
 * object whose pages still hold it (the pages past the new end go back to
 * the page layer) or that can grow into the free run of its node right
 * after it.  A large object that must move is remapped, not copied, from
 * NSLAB_REMAP_MIN bytes up (lib/pagesys.c, numa/bind.c); a smaller one is
 * copied into a new object of the same node.  numaslab(3) gives the rules.
 *
 * Alignment: a size-class object is aligned to the largest power of two
 * that divides its cache's stride, up to 64 bytes (a slab's objects start
 * on a cache line).  Up to 64 bytes the smallest class that is both large
 * enough and aligned enough serves; above that, whole pages at the
 * alignment asked for (lib/large.c, lib/pages.c).
 *
 * Locks: none of its own; the page layer's node lock inside
 * nslab__pages_grow, the caches' as every allocation.
 */
#include "lib/internal.h"
#include "lib/debug.h"

#include <stdint.h>

/* From this many bytes a large object that must move is remapped. */
#define NSLAB_REMAP_MIN ((size_t)256 << 10)

/* ------------------------------------------------------------------------
 * Aligned allocation
 * ---------------------------------------------------------------------- */

/* The largest power of two dividing a stride, at most 64: the alignment
 * of every object of a size-class cache. */
static size_t class_align(const struct numaslab_cache *c)
{
    size_t a = (size_t)c->size & (size_t)(-(intptr_t)c->size);
    return a < 64 ? a : 64;
}

void *numaslab_alloc_aligned_node(size_t size, size_t align, unsigned flags, int node)
{
    if (align == 0 || (align & (align - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    if (size > SIZE_MAX - align) {
        errno = ENOMEM;
        return NULL;
    }
    NSLAB_INIT_OR_NULL();
    if (size == 0)
        size = 1;
    if (align <= 64 && size <= NUMASLAB_MAX_SMALL) {
        for (int i = nslab__class_of(size); i < NSLAB_NCLASSES; i++)
            if (class_align(nslab_g.sc[i]) >= align)
                return numaslab_cache_alloc_node(nslab_g.sc[i], flags, node);
    }
    /* Whole pages, aligned to the page at least. */
    return nslab__large_slow(size, align > nslab__page_size() ? align : 0, flags, node);
}

/* ------------------------------------------------------------------------
 * Resizing
 * ---------------------------------------------------------------------- */

/* A new object of size bytes on node for the old one's contents (old
 * bytes of them are the caller's), which is then freed.  NULL with errno
 * ENOMEM, the old object untouched. */
static void *move_object(void *ptr, size_t old, size_t size, unsigned flags, int node)
{
    void *q = numaslab_alloc_node(size, flags & ~NUMASLAB_ZERO, node);
    if (!q)
        return NULL;
    memcpy(q, ptr, old < size ? old : size);
    if ((flags & NUMASLAB_ZERO) && size > old)
        memset((char *)q + old, 0, size - old);
    numaslab_free(ptr);
    return q;
}

/* A large object resized: in place when its pages allow, else moved. */
static void *large_resize(struct nslab_large *l, void *ptr, size_t size, unsigned flags)
{
    size_t page = nslab__page_size();
    size_t bytes = l->bytes, newbytes = (size + page - 1) & ~(page - 1);
    int nidx = l->nidx, node = nslab_g.topo.active[nidx];
    unsigned pflags = l->huge ? NSLAB_PG_HUGE : 0;
    if (size <= NUMASLAB_MAX_SMALL || size >= (size_t)1 << 47)
        return move_object(ptr, bytes, size, flags, node);
    if (newbytes <= bytes) {
        /* Shrunk in place: the pages past the new end go back. */
        if (newbytes < bytes) {
            nslab__large_count(nidx, l, -1, 0);
            l->bytes = newbytes;
            nslab__large_count(nidx, l, 1, 0); /* nslab__pages_put writes the record */
            nslab__pages_put(nidx, (char *)ptr + newbytes, bytes - newbytes, pflags);
        }
        l->size = size;
        return ptr;
    }
    void *at = NULL;
    if (nslab__pages_grow(nidx, ptr, bytes, newbytes - bytes)) {
        at = ptr;
        if (flags & NUMASLAB_ZERO)
            memset((char *)ptr + bytes, 0, newbytes - bytes);
        /* The leaves exist: the free run's ends were entered there. */
        nslab__pagemap_set((char *)ptr + bytes, newbytes - bytes, l);
    } else if (bytes >= NSLAB_REMAP_MIN) {
        /* The old entries go first: once the pages have moved, the kernel
         * may give the old range to another thread's mapping, whose
         * entries must not be cleared after it set them.  The leaves stay,
         * so putting them back cannot fail. */
        nslab__pagemap_clear(ptr, bytes);
        at = nslab__pages_move(nidx, ptr, bytes, newbytes, l->huge ? NSLAB_HUGE_PAGE : 0, pflags);
        if (at) {
            /* Fresh pages past the old end: zero already. */
            nslab__pagemap_set(at, newbytes, l);
            l->base = at;
        } else {
            nslab__pagemap_set(ptr, bytes, l);
        }
    }
    if (!at)
        return move_object(ptr, bytes, size, flags, node);
    nslab__large_count(nidx, l, -1, 0);
    l->bytes = newbytes;
    l->size = size;
    nslab__large_count(nidx, l, 1, 1);
    return at;
}

void *numaslab_realloc(void *ptr, size_t size, unsigned flags)
{
    if (!ptr)
        return numaslab_alloc(size, flags);
    if (size == 0) {
        numaslab_free(ptr);
        return NULL;
    }
    const uint8_t *h = nslab__pagemap_get(ptr);
    if (h && *h == NSLAB_T_LARGE) {
        struct nslab_large *l = (struct nslab_large *)(uintptr_t)h;
        if (ptr == l->base && !l->cached)
            return large_resize(l, ptr, size, flags);
    } else if (h && (*h == NSLAB_T_SLAB || *h == NSLAB_T_RESERVE)) {
        const struct nslab_slab *s = (const struct nslab_slab *)(uintptr_t)h;
        struct numaslab_cache *c = s->cache;
        if (nslab__obj_ok(s, c, ptr)) {
            size_t old = c->obj_size;
            if (nslab_g.sc[nslab__class_of(old)] != c) {
                nslab__report("numaslab_realloc: %p is an object of cache %s, not of a size "
                              "class; left alone",
                              ptr, c->name);
                errno = EINVAL;
                return NULL;
            }
            /* The class still serves it, or it would shrink by less than
             * half: it stays. */
            if (size <= old && (size > old / 2 || nslab__class_of(size) == nslab__class_of(old)))
                return ptr;
            return move_object(ptr, old, size, flags, nslab_g.topo.active[s->nidx]);
        }
    }
    nslab__bad_free("numaslab_realloc: %p was not allocated by numaslab, or is freed; left alone",
                    ptr);
    errno = EINVAL;
    return NULL;
}
