/*
 * lib/malloc.c - libnumaslab-malloc: the C library's malloc family served
 * by numaslab, for programs that load it with LD_PRELOAD or link it first
 * (numaslab-malloc(3)).
 *
 * The front end calls the core's own fast paths (lib/thread.h): a
 * malloc of up to NUMASLAB_MAX_SMALL bytes pops an object of the local
 * node's size class from the thread's current slab, a free pushes it back
 * into a slab the thread owns, with the same single page-map lookup that
 * numaslab_free makes; everything else goes through the native calls.
 *
 * Memory that is not numaslab's.  Until this library's constructor has
 * run, libnuma and hwloc may not be initialised (their own constructors
 * allocate), so a call is served by the C library's allocator
 * (__libc_malloc and its kin).  So is every call made while the thread is
 * inside numaslab (nslab_busy, numa/numa.h): hwloc's allocations
 * during discovery, the core's own metadata, fork handlers, destructors
 * that run after the thread's numaslab state was given back.  Such
 * memory is recognised when it comes back by the page map, which does
 * not know its address, and is handed to the C library's free.  So
 * nothing recurses, nothing is lost, and what was handed out during
 * start-up is freed correctly later.  Should numaslab fail to start (no
 * allowed node with memory, a malformed NUMASLAB_* variable), it says so
 * once and the C library serves the process from then on.
 *
 * numaslab_fini is refused in a process this library serves: every
 * malloc'ed object would go with it.
 *
 * Locks: none of its own.
 */
#define NSLAB_NO_SYS_ALLOC /* this file defines malloc and free */
#include "lib/internal.h"
#include "lib/debug.h"

#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NSLAB_EXPORT __attribute__((visibility("default")))

/* The C library's allocator, under the names glibc exports for it. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *ptr);

enum { DROPIN_EARLY, DROPIN_LIVE, DROPIN_OFF };
static int state = DROPIN_EARLY; /* written by the constructor and by a failed start */
static size_t (*libc_usable)(void *);

/* The C library's malloc_usable_size, looked up the first time (dlsym may
 * allocate: busy). */
static size_t (*libc_usable_fn(void))(void *)
{
    size_t (*fn)(void *) = __atomic_load_n(&libc_usable, __ATOMIC_RELAXED);
    if (!fn) {
        NSLAB_BUSY_ENTER();
        fn = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
        NSLAB_BUSY_LEAVE();
        __atomic_store_n(&libc_usable, fn, __ATOMIC_RELAXED);
    }
    return fn;
}

__attribute__((constructor)) static void dropin_start(void)
{
    /* Our dependencies, libnuma and hwloc, have run their constructors. */
    libc_usable_fn();
#ifdef M_ARENA_MAX
    /* Once numaslab serves, the C library's malloc serves only what is
     * allocated while a thread is inside numaslab (its state, its thread
     * caches, hwloc's discovery): one arena.  Else a thread's first such
     * allocation makes the C library map an arena of its own, 64 MiB of
     * address space and three system calls under the write side of the
     * mmap lock, which every other thread's populate then waits for. */
    mallopt(M_ARENA_MAX, 1);
#endif
    nslab_g.pinned = 1;
    nslab_store_release(&state, DROPIN_LIVE);
}

/* 1 when numaslab may serve the calling thread now. */
static inline int serving(void)
{
    return !nslab_busy && nslab_load_acquire(&state) == DROPIN_LIVE;
}

/* numaslab could not start: the C library serves from now on. */
static void give_up(int err)
{
    if (nslab_load_relaxed(&state) == DROPIN_OFF)
        return;
    nslab_store_relaxed(&state, DROPIN_OFF);
#ifdef M_ARENA_MAX
    mallopt(M_ARENA_MAX, 0); /* the C library serves everything: its default arenas */
#endif
    NSLAB_BUSY_ENTER();
    nslab__report("numaslab-malloc: numaslab could not start (%s); the C library's malloc serves "
                  "this process",
                  strerror(err));
    NSLAB_BUSY_LEAVE();
}

/* A size-class object for size bytes from the thread's own slabs of the
 * local node, or NULL: the fast path of every allocation call. */
static inline __attribute__((always_inline)) void *small_fast(size_t size)
{
    /* While the thread is busy, nslab_dts is the empty state: its lists
     * are empty, and the slow path serves the call from the C library. */
    void *obj = nslab__own_pop_list(nslab_dts->lslot[nslab__class_id(size)]);
    if (likely(obj != NULL))
        return nslab__hand_out(nslab__class_cache(size), obj, 0);
    return NULL;
}

/* Everything small_fast does not serve.  errno is kept on success: the
 * slow path makes system calls that may set it. */
__attribute__((noinline)) static void *alloc_slow(size_t size, unsigned flags)
{
    if (!serving())
        return (flags & NUMASLAB_ZERO) ? __libc_calloc(1, size) : __libc_malloc(size);
    int saved = errno;
    NSLAB_BUSY_ENTER();
    void *p = numaslab_alloc(size, flags);
    NSLAB_BUSY_LEAVE();
    if (p) {
        errno = saved;
        return p;
    }
    if (errno == ENOMEM)
        return NULL;
    give_up(errno);
    return (flags & NUMASLAB_ZERO) ? __libc_calloc(1, size) : __libc_malloc(size);
}

NSLAB_EXPORT void *malloc(size_t size)
{
    if (likely(size <= NUMASLAB_MAX_SMALL)) {
        void *p = small_fast(size);
        if (likely(p != NULL))
            return p;
    }
    return alloc_slow(size, 0);
}

NSLAB_EXPORT void *calloc(size_t n, size_t size)
{
    size_t bytes;
    if (unlikely(__builtin_mul_overflow(n, size, &bytes))) {
        errno = ENOMEM;
        return NULL;
    }
    if (likely(bytes <= NUMASLAB_MAX_SMALL)) {
        void *p = small_fast(bytes);
        if (likely(p != NULL))
            return memset(p, 0, bytes);
    }
    return alloc_slow(bytes, NUMASLAB_ZERO);
}

/* Everything free's fast path does not take: a slab another thread owns
 * or nobody does, a large object, memory that is not numaslab's. */
__attribute__((noinline)) static void free_slow(void *ptr, const void *h)
{
    if (!h) {
        __libc_free(ptr); /* NULL, or the C library's */
        return;
    }
    int saved = errno; /* free leaves errno as it was, as glibc's */
    NSLAB_BUSY_ENTER();
    numaslab_free(ptr);
    NSLAB_BUSY_LEAVE();
    errno = saved;
}

__attribute__((noinline)) static void free_miss(struct nslab_slab *s, void *ptr)
{
    int saved = errno;
    NSLAB_BUSY_ENTER();
    nslab__free_miss(s, ptr, "free");
    NSLAB_BUSY_LEAVE();
    errno = saved;
}

/* A remote free outside the word the thread gathers (free_not_mine): a
 * function of its own, so that the gathered word's free saves no
 * register. */
__attribute__((noinline)) static void free_switch(struct nslab_slab *s, void *ptr)
{
    if (!nslab__remote_switch(nslab_dts, s, s->cache, ptr))
        free_miss(s, ptr);
}

/* free of ptr in the arena's chunk s, which the thread does not own or
 * while it is busy: another thread's slab (the remote free), an unowned
 * one, a chunk that is no slab, a bad pointer. */
__attribute__((noinline)) static void free_not_mine(struct nslab_slab *s, void *ptr)
{
    if (likely(s->type == NSLAB_T_SLAB && !nslab_busy && nslab__obj_ok(s, s->cache, ptr))) {
        /* Not the thread's: no list to push onto.  A free into the
         * remote-map word the thread gathers makes no call, one into
         * another word of an owned slab one: neither needs errno saved
         * nor the busy marks (they allocate nothing; what might is
         * marked, lib/owner.c). */
        if (likely(nslab__take_back(s->cache, ptr, "free")) &&
            !nslab__remote_gather(nslab_dts, s, s->cache, ptr))
            free_switch(s, ptr);
        return;
    }
    free_slow(ptr, s);
}

/* free of anything outside the arena. */
__attribute__((noinline)) static void free_other(void *ptr)
{
    struct nslab_slab *s = nslab__slab_fast(ptr);
    if (likely(s && !nslab_busy && nslab__obj_ok(s, s->cache, ptr))) {
        if (unlikely(!nslab__take_back(s->cache, ptr, "free")))
            return;
        if (likely(nslab__own_push(s, s->cache, ptr)))
            return;
        free_miss(s, ptr);
        return;
    }
    free_slow(ptr, nslab__hdr_of(ptr));
}

NSLAB_EXPORT void free(void *ptr)
{
    /* The common case in a few tests: ptr in the arena, in a chunk whose
     * record (lib/pages.h) names the calling thread as its owner while it
     * is not busy (nslab_dts, numa/numa.h; the empty state it is while
     * busy owns nothing).  A record names an owner only while its chunk
     * is an ordinary slab of that owner, so the slab's type needs no test,
     * and the record holds what the free needs of the header: the slab's
     * cache, its first object and the thread's list. */
    if (likely(nslab__in_arena(ptr))) {
        struct nslab_chunk *r = nslab__arena_rec(ptr);
        struct nslab_slab *s = nslab__arena_chunk(ptr);
        if (unlikely(nslab_load_relaxed(&r->owner) != nslab_dts)) {
            free_not_mine(s, ptr);
            return;
        }
        struct numaslab_cache *c = r->cache;
        if (likely(nslab__quot_at(r->objs, c, ptr) < c->nobjs_q)) {
            if (unlikely(!nslab__take_back(c, ptr, "free")))
                return;
            if (likely(nslab__own_push_to(s, r->oslot, c, ptr)))
                return;
            free_miss(s, ptr);
            return;
        }
        free_slow(ptr, s); /* not an object's start: refused there */
        return;
    }
    free_other(ptr);
}

NSLAB_EXPORT void *realloc(void *ptr, size_t size)
{
    if (!ptr)
        return malloc(size);
    const uint8_t *h = nslab__pagemap_get(ptr);
    if (!h)
        return __libc_realloc(ptr, size); /* the C library's stays there */
    if (size == 0) {                      /* as glibc: freed, NULL */
        free(ptr);
        return NULL;
    }
    const struct nslab_slab *s = (const struct nslab_slab *)(uintptr_t)h;
    if (*h == NSLAB_T_SLAB && size <= NUMASLAB_MAX_SMALL && nslab__obj_ok(s, s->cache, ptr) &&
        nslab_g.sc[nslab__class_of(size)] == s->cache)
        return ptr; /* the same class */
    int saved = errno;
    NSLAB_BUSY_ENTER();
    void *q = numaslab_realloc(ptr, size, 0);
    NSLAB_BUSY_LEAVE();
    if (q)
        errno = saved;
    return q;
}

NSLAB_EXPORT void *reallocarray(void *ptr, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(ptr, bytes);
}

/* align: a power of two.  Every size class of 16 bytes and more is
 * 16-byte aligned (lib/resize.c), as glibc's malloc is. */
static void *aligned(size_t align, size_t size)
{
    if (align <= 8 || (align <= 16 && size > 8))
        return malloc(size);
    if (!serving())
        return __libc_memalign(align, size);
    int saved = errno;
    NSLAB_BUSY_ENTER();
    void *p = numaslab_alloc_aligned_node(size, align, 0, NUMASLAB_NODE_LOCAL);
    NSLAB_BUSY_LEAVE();
    if (p) {
        errno = saved;
        return p;
    }
    if (errno == ENOMEM || errno == EINVAL)
        return NULL;
    give_up(errno);
    return __libc_memalign(align, size);
}

NSLAB_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    int saved = errno;
    void *p = aligned(align, size);
    if (!p) {
        int e = errno == EINVAL ? EINVAL : ENOMEM;
        errno = saved;
        return e;
    }
    *out = p;
    return 0;
}

/* As glibc: an alignment that is not a power of two is rounded up to
 * one; one above half the address space is EINVAL. */
NSLAB_EXPORT void *memalign(size_t align, size_t size)
{
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (align & (align - 1))
        align = (size_t)1 << (64 - __builtin_clzll((unsigned long long)align));
    return aligned(align ? align : 1, size);
}

NSLAB_EXPORT void *aligned_alloc(size_t align, size_t size)
{
    return memalign(align, size);
}

NSLAB_EXPORT void *valloc(size_t size)
{
    return memalign(nslab__page_size(), size);
}

NSLAB_EXPORT void *pvalloc(size_t size)
{
    size_t page = nslab__page_size();
    if (size > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    size_t bytes = size ? (size + page - 1) & ~(page - 1) : page;
    return memalign(page, bytes);
}

NSLAB_EXPORT size_t malloc_usable_size(void *ptr)
{
    if (!ptr)
        return 0;
    if (!nslab__pagemap_get(ptr)) {
        size_t (*usable)(void *) = libc_usable_fn(); /* before the constructor too */
        return usable ? usable(ptr) : 0;
    }
    return numaslab_usable_size(ptr);
}
