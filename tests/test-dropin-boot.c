/*
 * test-dropin-boot - libnumaslab-malloc from the first instruction
 * (numaslab-malloc(3), START-UP): a library's constructor that runs before
 * libnuma's allocates (tests/dropin-early.c, preloaded through
 * tests/dropin-wrap.c).  The test checks that
 *   - the constructor did run before libnuma's (else the test is void);
 *   - its objects were served, not lost: contents intact, usable sizes
 *     right, aligned where asked; they are the C library's (numaslab was
 *     not started yet), and free, realloc and malloc_usable_size take
 *     them later, from numaslab's side, without a word;
 *   - everything allocated once the process runs is numaslab's.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "dropin.h"

#include <malloc.h>
#include <stdint.h>
#include <sys/wait.h>

#define EARLY_N 8

static int child(void)
{
    tu_case("allocations before numaslab starts, and after");
    int *before = dlsym(RTLD_DEFAULT, "nslab_early_before_libnuma");
    void **obj = dlsym(RTLD_DEFAULT, "nslab_early_obj");
    size_t *size = dlsym(RTLD_DEFAULT, "nslab_early_size");
    REQUIRE(before && obj && size, "the early library is not loaded: %s", dlerror());
    CHECK(*before == 1, "the early constructor ran while libnuma was loaded but not initialised");
    int intact = 1, foreign = 1;
    for (int i = 0; i < EARLY_N; i++) {
        unsigned char *p = obj[i];
        if (!p || malloc_usable_size(p) < size[i]) {
            intact = 0;
            continue;
        }
        for (size_t k = 0; k < size[i]; k++)
            if (p[k] != 0x30 + i)
                intact = 0;
        if (dropin_serves(p))
            foreign = 0;
    }
    CHECK(intact,
          "its %d objects (16 B ... 3 MiB, calloc, posix_memalign) are intact, with their "
          "usable sizes",
          EARLY_N);
    CHECK(obj[7] && (uintptr_t)obj[7] % 64 == 0, "the posix_memalign one is 64-byte aligned");
    CHECK(foreign, "they came from the C library: numaslab was not started yet");
    unsigned char *r = realloc(obj[1], 20000);
    int kept = r != NULL;
    for (size_t k = 0; r && k < size[1]; k++)
        if (r[k] != 0x31)
            kept = 0;
    CHECK(kept, "realloc of one of them to 20000 B keeps its contents");
    obj[1] = r;
    for (int i = 0; i < EARLY_N; i++)
        free(obj[i]);
    void *p = malloc(200), *q = malloc(200000);
    CHECK(dropin_serves(p) && dropin_serves(q), "what main allocates is numaslab's");
    free(p);
    free(q);
    return tu_exit();
}

int main(int argc, char **argv)
{
    tu_init("test-dropin-boot");
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return child();
    char wrap[4200];
    const char *b = getenv("top_builddir");
    snprintf(wrap, sizeof(wrap), "%s/tests/.libs/libdropin-wrap.so", b ? b : ".");
    REQUIRE(access(wrap, R_OK) == 0, "%s: %s", wrap, strerror(errno));
    char abs[8192];
    dropin_absolute(wrap, abs, sizeof(abs));
    tu_case("the program under the drop-in");
    struct tu_child ch = dropin_run_child("test-dropin-boot", NULL, abs);
    dropin_judge(&ch, NULL, NULL);
    return tu_exit();
}
