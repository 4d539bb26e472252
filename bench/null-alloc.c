/*
 * bench/null-alloc.c - the null allocator (bench/null-alloc.h): what the
 * `null` workload of bench/pairs calls, so that its instructions per pair
 * are the loop's, the calls' and returns' (through the PLT), the store
 * to `sink` and the one that sets the returned pointer: what the other
 * workloads' figures carry before the allocator does any work.
 */
#include "bench/null-alloc.h"

static _Alignas(64) unsigned char null_buf[64];

void *null_alloc(void *c, unsigned flags)
{
    return null_buf;
}

void null_free(void *c, void *p)
{
    __asm__ volatile("" ::: "memory");
}
