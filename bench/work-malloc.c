/*
 * bench/work-malloc.c - the common workloads through malloc and free.
 *
 * Built into bench-glibc, bench-jemalloc, bench-tcmalloc and bench-mimalloc:
 * the source is the same, the link decides whose malloc it is (shim.cc
 * checks).  NSB_PEER names the allocator, NSB_MALLOC_EXPECT a part of its
 * library's file name.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdlib.h>

#ifndef NSB_PEER
#error "NSB_PEER must name the allocator (-DNSB_PEER=\"jemalloc\")"
#endif

#define NSB_A             malloc
#define NSB_ALLOC(size)   malloc(size)
#define NSB_FREE(p, size) free(p)
#include "bench/workloads.h"

const char nsb_allocator[] = NSB_PEER;
const char nsb_malloc_expect[] = NSB_MALLOC_EXPECT;

static void reg(void)
{
    nsb_register_common_malloc(NSB_PEER, 100000, 0);
}
NSB_REGISTRATIONS(reg)
