/*
 * tests/dropin-early.c - a library whose constructor allocates before
 * libnuma's constructor has run (test-dropin-boot preloads it, through
 * tests/dropin-wrap.c, so that the dynamic linker initialises it first).
 * What it saw and what it allocated are left in its globals, which the
 * test finds with dlsym.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#define EARLY_N 8

/* 1: libnuma is loaded and its constructor has not run yet (its
 * numa_all_nodes_ptr is still NULL); 0: otherwise. */
int nslab_early_before_libnuma = -1;
void *nslab_early_obj[EARLY_N];
size_t nslab_early_size[EARLY_N] = {16, 200, 5000, 9000, 100000, 3u << 20, 24, 64};

__attribute__((constructor)) static void early(void)
{
    void **all = (void **)dlsym(RTLD_DEFAULT, "numa_all_nodes_ptr");
    nslab_early_before_libnuma = all != NULL && *all == NULL;
    for (int i = 0; i < EARLY_N; i++) {
        void *p = NULL;
        if (i == 6)
            p = calloc(1, nslab_early_size[i]);
        else if (i == 7) {
            if (posix_memalign(&p, 64, nslab_early_size[i]) != 0)
                p = NULL;
        } else {
            p = malloc(nslab_early_size[i]);
        }
        if (p)
            memset(p, 0x30 + i, nslab_early_size[i]);
        nslab_early_obj[i] = p;
    }
    free(malloc(77)); /* and one that comes back at once */
}
