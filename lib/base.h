/*
 * lib/base.h - what every lib/ header needs first: the configuration,
 * the C library headers the library uses everywhere, the annotations that
 * tell valgrind and AddressSanitizer which bytes a user may touch, branch
 * hints, the library's size limits and the named atomic wrappers through
 * which every atomic access goes (a racy read or a barrier names its
 * partner where it is used).
 */
#ifndef NSLAB_BASE_H
#define NSLAB_BASE_H

#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "numaslab.h"
#include "numa/numa.h"
#include "lib/list.h"

/* The annotations that tell valgrind (--enable-valgrind) and
 * AddressSanitizer which bytes of slab memory a user may touch
 * (lib/debug.h uses them; the fast paths below too). */
#ifndef NSLAB_VALGRIND
#define NSLAB_VALGRIND 0
#endif
#if NSLAB_VALGRIND
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MALLOCLIKE_BLOCK(a, s, r, z) ((void)0)
#define VALGRIND_FREELIKE_BLOCK(a, r)         ((void)0)
#define VALGRIND_MAKE_MEM_NOACCESS(a, s)      ((void)0)
#define VALGRIND_MAKE_MEM_DEFINED(a, s)       ((void)0)
#define VALGRIND_MAKE_MEM_UNDEFINED(a, s)     ((void)0)
#endif

#if defined(__SANITIZE_ADDRESS__)
#define NSLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NSLAB_ASAN 1
#endif
#endif
#ifndef NSLAB_ASAN
#define NSLAB_ASAN 0
#endif
#if NSLAB_ASAN
#include <sanitizer/asan_interface.h>
#define nslab_asan_poison(a, s)   ASAN_POISON_MEMORY_REGION((a), (s))
#define nslab_asan_unpoison(a, s) ASAN_UNPOISON_MEMORY_REGION((a), (s))
#else
#define nslab_asan_poison(a, s)   ((void)(a), (void)(s))
#define nslab_asan_unpoison(a, s) ((void)(a), (void)(s))
#endif

/* On the declaration of a variable the library shares between its files:
 * the compiler then addresses it directly, with no load of its address
 * from the global offset table (the library is built with hidden
 * visibility: no other object sees these variables). */
#define NSLAB_HIDDEN __attribute__((visibility("hidden")))

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define NSLAB_MAX_CACHES 512 /* caches alive at once, size classes included */
#define NSLAB_NAME_MAX   32
#define NSLAB_MIN_SLAB   (64 * 1024)
#define NSLAB_MIN_OBJS   4
#define NSLAB_NCLASSES   33 /* size classes (lib/sizeclass.c) */
#if NSLAB_DEBUG
#define NSLAB_REDZONE 8 /* guard bytes after each object (lib/debug.h) */
#else
#define NSLAB_REDZONE 0
#endif
/* The set bits of x.  The builtin is a call into libgcc unless the target
 * has popcnt, which the library does not assume: the bit trick then. */
static inline unsigned nslab_popcount64(uint64_t x)
{
#ifdef __POPCNT__
    return (unsigned)__builtin_popcountll(x);
#else
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
#endif
}

/* Atomics only through these names. */
#define nslab_load_acquire(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define nslab_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define nslab_load_relaxed(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define nslab_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define nslab_add_relaxed(p, v)   __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define nslab_sub_relaxed(p, v)   __atomic_fetch_sub((p), (v), __ATOMIC_RELAXED)
#define nslab_or_relaxed(p, v)    __atomic_fetch_or((p), (v), __ATOMIC_RELAXED)
/* 1 when *p held *expect and now holds v; else *expect is what *p holds. */
#define nslab_cas_relaxed(p, expect, v)                                                            \
    __atomic_compare_exchange_n((p), (expect), (v), 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)

/*
 * n bytes, zeroed, on whole cache lines of their own (NULL when there is no
 * memory): for what one thread writes on its fast paths, its state and its
 * thread caches.  The C library's allocator packs small blocks of
 * different threads side by side, often in one arena, so that two
 * threads' free lists would share lines and every allocation of one would
 * take the line from the other's core.  Freed with free().
 */
#define NSLAB_LINE 64
#ifndef NSLAB_NO_SYS_ALLOC /* aligned_alloc: the C library's, marked busy (numa/numa.h) */
static inline void *nslab__calloc_lines(size_t n)
{
    size_t bytes = (n + NSLAB_LINE - 1) & ~(size_t)(NSLAB_LINE - 1);
    if (bytes < n)
        return NULL;
    void *p = aligned_alloc(NSLAB_LINE, bytes ? bytes : NSLAB_LINE);
    if (p)
        memset(p, 0, bytes);
    return p;
}
#endif

#endif /* NSLAB_BASE_H */
