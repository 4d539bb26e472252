/*
 * test-tools-pool - a planted bug for the debug build: a write into a
 * page-pool element after it went back to the pool.  A debug build
 * (--enable-debug) poisons elements while they sit in a pool and checks
 * the poison when it hands one out (the kernel's mempool poisoning), so
 * the next allocation from the pool aborts, naming the element.
 *
 *   test-tools-pool          give an element back, write into it, take
 *                            it out again
 *   test-tools-pool --clean  the same program without the bad write
 *
 * Pool elements are whole pages the library does not annotate for
 * valgrind or AddressSanitizer: only the debug build sees this bug.
 * tests/tools-check.sh runs it.  Not part of `make check`.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <string.h>

#include "numaslab.h"

/* Not inlined: its name shows in stack traces. */
__attribute__((noinline)) static void plant_write(volatile char *p, size_t at)
{
    p[at] = 0x5a;
}

int main(int argc, char **argv)
{
    int clean = argc > 1 && !strcmp(argv[1], "--clean");
    int node = numaslab_local_node();
    numaslab_mempool_t *pool = numaslab_page_pool_create(node, 0, 1);
    if (!pool) {
        perror("numaslab_page_pool_create");
        return 99;
    }
    char *e = numaslab_mempool_alloc_preallocated(pool);
    if (!e) {
        perror("numaslab_mempool_alloc_preallocated");
        return 99;
    }
    memset(e, 1, 4096);
    if (clean) {
        plant_write(e, 100);
        numaslab_mempool_free(e, pool);
        printf("clean: wrote into element %p before giving it back\n", (void *)e);
    } else {
        numaslab_mempool_free(e, pool);
        printf("planted: write after free, 1 byte at %p in element %p\n", (void *)(e + 100),
               (void *)e);
        fflush(stdout);
        plant_write(e, 100);
    }
    char *again = numaslab_mempool_alloc_preallocated(pool);
    printf("taken out again: %p\n", (void *)again);
    numaslab_mempool_free(again, pool);
    return numaslab_mempool_destroy(pool) == 0 ? 0 : 1;
}
