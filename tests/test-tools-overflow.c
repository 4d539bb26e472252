/*
 * test-tools-overflow - a planted bug for the memory checkers: a write
 * past the end of a slab object.  Valgrind memcheck (the library built
 * with --enable-valgrind) and AddressSanitizer (built with
 * -fsanitize=address) learn where slab objects end only through the
 * library's annotations (lib/debug.h), so the write is reported only if
 * they work.
 *
 *   test-tools-overflow next     write the first byte past a 40-byte
 *                                object: the start of its neighbour,
 *                                which is free
 *   test-tools-overflow slack    write the first byte past a 20-byte
 *                                object aligned to 16: the padding
 *                                before the next object
 *   test-tools-overflow --clean  write the last byte of each, no bug
 *
 * The program prints the address it writes to ("planted: ... at ADDR in
 * object OBJ") and exits 0 when nothing stops it.  tests/tools-check.sh
 * runs it under a tool: the test passes when the tool reports the write
 * at that address and stays silent on the clean run.  In a debug build
 * (--enable-debug) the write lands in the object's red zone, and the
 * free aborts, naming the call, the object and the cache.  Not part of
 * `make check`.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <string.h>

#include "numaslab.h"

#include "tools-asan.h"

/* Not inlined: its name shows in the tools' stack traces. */
__attribute__((noinline)) static void plant_write(volatile char *p, size_t at)
{
    p[at] = 0x5a;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "next";
    int clean = !strcmp(mode, "--clean");
    if (!clean && strcmp(mode, "next") && strcmp(mode, "slack")) {
        fprintf(stderr, "usage: test-tools-overflow next|slack|--clean\n");
        return 99;
    }
    printf("asan: %d\n", UNDER_ASAN);
    numaslab_cache_t *c40 = numaslab_cache_create("tools-40", 40, 8, 0, NULL);
    numaslab_cache_t *c20 = numaslab_cache_create("tools-20", 20, 16, 0, NULL);
    if (!c40 || !c20) {
        perror("numaslab_cache_create");
        return 99;
    }
    /* The first object handed out: its neighbours are still free. */
    char *a = numaslab_cache_alloc(c40, 0), *b = numaslab_cache_alloc(c20, 0);
    if (!a || !b) {
        perror("numaslab_cache_alloc");
        return 99;
    }
    memset(a, 1, 40);
    memset(b, 1, 20);
    if (clean) {
        plant_write(a, 39);
        plant_write(b, 19);
        printf("clean: wrote the last byte of %p and of %p\n", (void *)a, (void *)b);
    } else if (!strcmp(mode, "next")) {
        printf("planted: overflow, 1 byte at %p in object %p, just past its 40 bytes\n",
               (void *)(a + 40), (void *)a);
        fflush(stdout);
        plant_write(a, 40);
    } else {
        printf("planted: overflow, 1 byte at %p in object %p, just past its 20 bytes\n",
               (void *)(b + 20), (void *)b);
        fflush(stdout);
        plant_write(b, 20);
    }
    numaslab_cache_free(c40, a);
    numaslab_cache_free(c20, b);
    numaslab_cache_destroy(c40);
    numaslab_cache_destroy(c20);
    return 0;
}
