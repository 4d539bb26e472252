/*
 * test-tools-uaf - a planted bug for the memory checkers: a write into a
 * slab object after it was freed.  Valgrind memcheck (the library built
 * with --enable-valgrind) and AddressSanitizer (built with
 * -fsanitize=address) learn about slab objects only through the
 * library's annotations (lib/debug.h), so the write is reported only if
 * they work.
 *
 *   test-tools-uaf          free a 64-byte object, write into it, then
 *                           allocate again (the same object comes back)
 *   test-tools-uaf --clean  the same program without the bad write
 *   test-tools-uaf --cached free the only object of a cache's slab so that
 *                           the empty slab goes to the node's page cache of free runs
 *                           (NUMASLAB_RETAIN=0), then write into it
 *   test-tools-uaf --cached --clean   the same without the bad write
 *
 * The program prints the address it writes to ("planted: ... at ADDR in
 * object OBJ") and exits 0 when nothing stops it.  tests/tools-check.sh
 * runs it under a tool: the test passes when the tool reports the write
 * at that address and stays silent on the clean run.  In a debug build
 * (--enable-debug) the allocation that hands the object out again finds
 * its poison disturbed and aborts, naming the object.  Not part of
 * `make check`.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numaslab.h"

#include "tools-asan.h"

/* Not inlined: its name shows in the tools' stack traces. */
__attribute__((noinline)) static void plant_use_after_free(volatile char *p)
{
    p[8] = 0x5a;
}

/* A stale pointer into a slab that now waits in the node's page cache of free runs:
 * the memory is still mapped, so only the annotations make it an error. */
static int cached(int clean)
{
    setenv("NUMASLAB_RETAIN", "0", 1); /* an empty slab leaves its cache at once */
    numaslab_cache_t *c = numaslab_cache_create("uaf-cached", 64, 0, 0, NULL);
    char *p = c ? numaslab_cache_alloc(c, 0) : NULL;
    if (!p) {
        perror("numaslab_cache_alloc");
        return 99;
    }
    memset(p, 1, 64);
    if (clean)
        plant_use_after_free(p); /* still live: a valid write */
    numaslab_cache_free(c, p);
    numaslab_thread_flush(); /* the slab empties and goes to the page cache */
    if (clean) {
        printf("clean: wrote into %p before its slab went to the page cache\n", (void *)p);
    } else {
        printf("planted: use after free, 1 byte at %p in object %p (its slab in the chunk "
               "cache)\n",
               (void *)(p + 8), (void *)p);
        fflush(stdout);
        plant_use_after_free(p);
    }
    return numaslab_cache_destroy(c) == 0 ? 0 : 98;
}

int main(int argc, char **argv)
{
    int clean = argc > 1 && !strcmp(argv[argc - 1], "--clean");
    printf("asan: %d\n", UNDER_ASAN);
    if (argc > 1 && !strcmp(argv[1], "--cached"))
        return cached(clean);
    char *keep = numaslab_alloc(64, 0); /* a live neighbour */
    char *p = numaslab_alloc(64, 0);
    if (!p || !keep) {
        perror("numaslab_alloc");
        return 99;
    }
    memset(p, 1, 64);
    memset(keep, 2, 64);
    if (clean) {
        plant_use_after_free(p); /* still live: a valid write */
        numaslab_free(p);
        printf("clean: wrote into %p before freeing it\n", (void *)p);
    } else {
        numaslab_free(p);
        printf("planted: use after free, 1 byte at %p in object %p\n", (void *)(p + 8), (void *)p);
        fflush(stdout);
        plant_use_after_free(p);
    }
    char *again = numaslab_alloc(64, 0);
    printf("allocated again: %p\n", (void *)again);
    numaslab_free(again);
    numaslab_free(keep);
    numaslab_thread_flush();
    return 0;
}
