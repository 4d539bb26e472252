/*
 * lib/debug.h - what happens to an object at the moment it is handed out
 * and the moment it comes back: zeroing, the debug build's poison and red
 * zone checks, and the annotations that teach valgrind (--enable-valgrind)
 * and AddressSanitizer (-fsanitize=address) where slab objects begin and
 * end.  In a release build without either tool every helper is empty but
 * the NUMASLAB_ZERO memset.
 *
 * Debug layout of an object (the kernel's SLAB_RED_ZONE and SLAB_POISON):
 *   after obj_size: NSLAB_REDZONE bytes of NSLAB_RZ_ACTIVE while the
 *                   object is handed out, NSLAB_RZ_INACTIVE while free
 *   while free, without a constructor: obj_size - 1 bytes of
 *                   NSLAB_POISON_FREE and one NSLAB_POISON_END
 * A free that finds the red zone inactive is a double free, one that finds
 * it neither is a write past the end; an allocation that finds the poison
 * disturbed found a write after free.  Each aborts with a message naming
 * the call, the pointer and the cache.
 */
#ifndef NSLAB_DEBUG_H
#define NSLAB_DEBUG_H

#include "lib/internal.h"

#include <stdlib.h>

#define NSLAB_POISON_FREE 0x6b
#define NSLAB_POISON_END  0xa5
#define NSLAB_RZ_ACTIVE   0xbb
#define NSLAB_RZ_INACTIVE 0xcc

/* Objects of caches with a constructor keep their constructed state while
 * free, so they are never poisoned. */
static inline int nslab__poisons(const struct numaslab_cache *c)
{
    return NSLAB_DEBUG && !c->ctor;
}

static inline void nslab__poison(const struct numaslab_cache *c, void *obj)
{
    unsigned char *b = obj;
    memset(b, NSLAB_POISON_FREE, c->obj_size - 1);
    b[c->obj_size - 1] = NSLAB_POISON_END;
}

/* 1 when obj carries the free poison, whole. */
static inline int nslab__is_poisoned(const struct numaslab_cache *c, const void *obj)
{
    const unsigned char *b = obj;
    if (b[c->obj_size - 1] != NSLAB_POISON_END)
        return 0;
    for (uint32_t i = 0; i + 1 < c->obj_size; i++)
        if (b[i] != NSLAB_POISON_FREE)
            return 0;
    return 1;
}

/* 1 when every red-zone byte of obj is v. */
static inline int nslab__redzone_is(const struct numaslab_cache *c, const void *obj, int v)
{
    const unsigned char *b = (const unsigned char *)obj + c->obj_size;
    for (int i = 0; i < NSLAB_REDZONE; i++)
        if (b[i] != v)
            return 0;
    return 1;
}

static inline void nslab__redzone_set(const struct numaslab_cache *c, void *obj, int v)
{
    unsigned char *b = (unsigned char *)obj + c->obj_size;
    for (int i = 0; i < NSLAB_REDZONE; i++) /* no iteration in release builds */
        b[i] = (unsigned char)v;
}

/* A fresh slab's objects: poisoned, red zones drawn, hidden from the tools. */
static inline void nslab__debug_slab_init(const struct numaslab_cache *c, char *objs)
{
    for (uint32_t i = 0; NSLAB_DEBUG && i < c->nobjs; i++) {
        char *o = objs + (size_t)i * c->size;
        if (nslab__poisons(c))
            nslab__poison(c, o);
        nslab__redzone_set(c, o, NSLAB_RZ_INACTIVE);
    }
    VALGRIND_MAKE_MEM_NOACCESS(objs, (size_t)c->nobjs * c->size);
    nslab_asan_poison(objs, (size_t)c->nobjs * c->size);
}

/* The slab goes away (or back to a pool): make it plain memory again. */
static inline void nslab__debug_slab_fini(const struct numaslab_cache *c, char *objs)
{
    VALGRIND_MAKE_MEM_UNDEFINED(objs, (size_t)c->nobjs * c->size);
    nslab_asan_unpoison(objs, (size_t)c->nobjs * c->size);
    (void)c;
    (void)objs;
}

__attribute__((noreturn, cold)) void nslab__debug_die(const char *what, const char *call,
                                                      const void *obj, const char *cache);

/* obj leaves the allocator for a user. */
static inline void *nslab__hand_out(struct numaslab_cache *c, void *obj, unsigned flags)
{
    if (NSLAB_DEBUG) {
        VALGRIND_MAKE_MEM_DEFINED(obj, c->size);
        nslab_asan_unpoison(obj, c->size);
        if (nslab__poisons(c) && !nslab__is_poisoned(c, obj))
            nslab__debug_die("was written after it was freed", "allocation", obj, c->name);
        if (!nslab__redzone_is(c, obj, NSLAB_RZ_INACTIVE))
            nslab__debug_die("had its red zone overwritten while free", "allocation", obj, c->name);
        nslab__redzone_set(c, obj, NSLAB_RZ_ACTIVE);
        VALGRIND_MAKE_MEM_NOACCESS(obj, c->size);
        nslab_asan_poison(obj, c->size);
    }
    VALGRIND_MALLOCLIKE_BLOCK(obj, c->obj_size, 0, 0);
    nslab_asan_unpoison(obj, c->obj_size);
    if (c->ctor)
        VALGRIND_MAKE_MEM_DEFINED(obj, c->obj_size);
    if (flags & NUMASLAB_ZERO)
        memset(obj, 0, c->obj_size);
    return obj;
}

/* obj comes back from a user (already known to be an object of c).
 * 0 when it must not be freed: a double free the debug build caught. */
static inline int nslab__take_back(struct numaslab_cache *c, void *obj, const char *call)
{
    if (NSLAB_DEBUG) {
        VALGRIND_MAKE_MEM_DEFINED((char *)obj + c->obj_size, NSLAB_REDZONE);
        nslab_asan_unpoison((char *)obj + c->obj_size, NSLAB_REDZONE);
        if (nslab__redzone_is(c, obj, NSLAB_RZ_INACTIVE)) {
            nslab_asan_poison((char *)obj + c->obj_size, NSLAB_REDZONE);
            nslab__bad_free("%s: double free of %p (cache %s); ignored", call, obj, c->name);
            return 0;
        }
        if (!nslab__redzone_is(c, obj, NSLAB_RZ_ACTIVE))
            nslab__debug_die("was written past its end", call, obj, c->name);
        nslab__redzone_set(c, obj, NSLAB_RZ_INACTIVE);
        VALGRIND_MAKE_MEM_DEFINED(obj, c->obj_size);
        if (nslab__poisons(c))
            nslab__poison(c, obj);
    }
    VALGRIND_FREELIKE_BLOCK(obj, 0);
    nslab_asan_poison(obj, c->size);
    return 1;
}

#endif /* NSLAB_DEBUG_H */
