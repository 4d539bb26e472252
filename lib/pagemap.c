/*
 * lib/pagemap.c - from an address to the header of the slab or large
 * object that holds it, in O(1) without a lock.
 *
 * Locks: pm_lock protects the creation of leaves (rank NSLAB_RANK_PAGEMAP,
 * lib/lock.h).  Entries are written by the owner of the memory they
 * describe (slab creation and teardown) and read without a lock.
 */
#include "lib/internal.h"

#include <sys/mman.h>

#define LEAF_ENTRIES (1u << NSLAB_PM_LEAF_BITS)
#define ROOT_SHIFT   (NSLAB_PM_SHIFT + NSLAB_PM_LEAF_BITS)

/* Untouched parts of this array cost no memory (zero pages of .bss). */
void **nslab_pagemap_root[1u << NSLAB_PM_ROOT_BITS];
static pthread_mutex_t pm_lock = PTHREAD_MUTEX_INITIALIZER;

/* The leaf for address a, made if missing.  NULL when it cannot be made. */
static void **leaf_get(uintptr_t a)
{
    void ***slot = &nslab_pagemap_root[a >> ROOT_SHIFT];
    void **leaf = nslab_load_acquire(slot);
    if (leaf)
        return leaf;
    nslab__lock(&pm_lock, NSLAB_RANK_PAGEMAP);
    leaf = *slot;
    if (!leaf) {
        /* 2 MiB of address space; only the pages written become resident. */
        void *m = mmap(NULL, LEAF_ENTRIES * sizeof(void *), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m != MAP_FAILED) {
            leaf = m;
            /* Pairs with the acquire load in nslab__pagemap_get. */
            nslab_store_release(slot, leaf);
        }
    }
    nslab__unlock(&pm_lock, NSLAB_RANK_PAGEMAP);
    return leaf;
}

/*
 * Point every 4 KiB page of [start, start+bytes) at hdr.
 * Returns 0, or -ENOMEM (address beyond 47 bits, or no memory for a leaf).
 * One leaf lookup per leaf, then a run of plain relaxed stores: a large
 * object of 1 MiB costs 256 stores, not 256 lookups.  The release fence
 * before them pairs with the acquire loads of readers that got the
 * address from the memory's new owner, as a release store each would.
 */
int nslab__pagemap_set(void *start, size_t bytes, void *hdr)
{
    uintptr_t a = (uintptr_t)start, end = a + bytes;
    if ((end - 1) >> (ROOT_SHIFT + NSLAB_PM_ROOT_BITS))
        return -ENOMEM;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    while (a < end) {
        void **leaf = leaf_get(a);
        if (!leaf) {
            nslab__pagemap_clear(start, a - (uintptr_t)start);
            return -ENOMEM;
        }
        uintptr_t leaf_end = (a | (((uintptr_t)1 << ROOT_SHIFT) - 1)) + 1;
        uintptr_t stop = end < leaf_end ? end : leaf_end;
        size_t i = (a >> NSLAB_PM_SHIFT) & (LEAF_ENTRIES - 1);
        size_t n = (stop - a + ((uintptr_t)1 << NSLAB_PM_SHIFT) - 1) >> NSLAB_PM_SHIFT;
        for (size_t k = 0; k < n; k++)
            nslab_store_relaxed(&leaf[i + k], hdr);
        a += n << NSLAB_PM_SHIFT;
    }
    return 0;
}

void nslab__pagemap_clear(void *start, size_t bytes)
{
    uintptr_t a = (uintptr_t)start, end = a + bytes;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    while (a < end) {
        uintptr_t leaf_end = (a | (((uintptr_t)1 << ROOT_SHIFT) - 1)) + 1;
        uintptr_t stop = end < leaf_end ? end : leaf_end;
        size_t n = (stop - a + ((uintptr_t)1 << NSLAB_PM_SHIFT) - 1) >> NSLAB_PM_SHIFT;
        void **leaf = nslab_load_acquire(
            &nslab_pagemap_root[(a >> ROOT_SHIFT) & ((1u << NSLAB_PM_ROOT_BITS) - 1)]);
        if (leaf) {
            size_t i = (a >> NSLAB_PM_SHIFT) & (LEAF_ENTRIES - 1);
            for (size_t k = 0; k < n; k++)
                nslab_store_relaxed(&leaf[i + k], NULL);
        }
        a += n << NSLAB_PM_SHIFT;
    }
}

void nslab__pagemap_lock(void)
{
    nslab__lock(&pm_lock, NSLAB_RANK_PAGEMAP);
}
void nslab__pagemap_unlock(void)
{
    nslab__unlock(&pm_lock, NSLAB_RANK_PAGEMAP);
}
