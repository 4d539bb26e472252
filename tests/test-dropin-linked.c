/*
 * test-dropin-linked - a program linked with libnumaslab and run with
 * libnumaslab-malloc preloaded talks to one allocator (numaslab-malloc(3)):
 * an object of numaslab_alloc is freed by free, one of malloc is known to
 * numaslab_ptr_node and freed by numaslab_free, and a cache made by the
 * native call serves as usual; nothing is reported.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "dropin.h"

#include <malloc.h>
#include <sys/wait.h>

static size_t malloc_usable_size_of(void *p)
{
    return malloc_usable_size(p);
}

static int child(void)
{
    tu_case("one allocator for the native calls and malloc");
    char *p = numaslab_alloc(100, 0);
    REQUIRE(p, "numaslab_alloc: %s", strerror(errno));
    CHECK(malloc_usable_size_of(p) >= 100, "malloc_usable_size knows an object of numaslab_alloc");
    free(p);
    char *q = malloc(300);
    REQUIRE(q, "malloc");
    CHECK(numaslab_ptr_node(q) >= 0 && numaslab_usable_size(q) >= 300,
          "numaslab_ptr_node and numaslab_usable_size know an object of malloc");
    numaslab_free(q);
    numaslab_cache_t *c = numaslab_cache_create("dropin-linked", 48, 0, 0, NULL);
    void *o = c ? numaslab_cache_alloc(c, 0) : NULL;
    CHECK(o && numaslab_ptr_node(o) >= 0, "a cache of the native call serves");
    if (o)
        numaslab_cache_free(c, o);
    CHECK(c && numaslab_cache_destroy(c) == 0, "and is destroyed");
    return tu_exit();
}

int main(int argc, char **argv)
{
    tu_init("test-dropin-linked");
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return child();
    tu_case("the program under the drop-in");
    struct tu_child ch = dropin_run_child("test-dropin-linked", NULL, NULL);
    dropin_judge(&ch, "# 4 checks, 0 failed",
                 "all four checks of the linked program ran and passed");
    return tu_exit();
}
