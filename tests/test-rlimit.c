/*
 * test-rlimit - ordinary memory exhausted for real: RLIMIT_AS lowered to
 * what the process already has, after initialisation.  Ordinary
 * allocations fail with ENOMEM and leave the reserve alone; critical ones
 * succeed until the reserve is used up; freeing them refills it.
 * The slab arena is turned off (NUMASLAB_ARENA=0): its address space is
 * reserved at initialisation, so a limit lowered afterwards does not
 * stop the slabs it holds (numaslab(7), The slab arena).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <sys/resource.h>

#define MAXOBJ 100000
static void *objs[MAXOBJ];

/* The process's address-space size now: the first field of statm. */
static unsigned long long vm_bytes(void)
{
    unsigned long long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * (unsigned long long)tu_pagesize();
}

int main(void)
{
    tu_init("test-rlimit");
    setenv("NUMASLAB_ARENA", "0", 1); /* before the library initialises */
#if defined(__SANITIZE_ADDRESS__)
    tu_skip("AddressSanitizer reserves address space: RLIMIT_AS cannot be lowered under it");
#endif
    int node = numaslab_local_node();
    numaslab_mempool_t *res = numaslab_node_reserve(node);
    numaslab_cache_t *c = numaslab_cache_create("rlimit-64", 64, 0, 0, NULL);
    REQUIRE(res && c, "setup: %s", strerror(errno));
    struct numaslab_mempool_stats r0;
    numaslab_mempool_stats(res, &r0);
    /* Warm up: this thread's caches exist, stdio has its buffers. */
    tu_case("warm up: this thread's caches exist, stdio has its buffers");
    void *w = numaslab_cache_alloc(c, 0);
    numaslab_cache_free(c, w);
    struct numaslab_cache_stats cs;
    numaslab_stats_cache(c, node, &cs);
    long per_slab = (long)cs.objects_total;
    tu_info("reserve %d elements, %ld objects per slab", r0.min_nr, per_slab);

    struct rlimit old, lim;
    getrlimit(RLIMIT_AS, &old);
    unsigned long long vm = vm_bytes();
    REQUIRE(vm > 0, "cannot read /proc/self/statm");
    lim.rlim_cur = vm;
    lim.rlim_max = old.rlim_max;
    REQUIRE(setrlimit(RLIMIT_AS, &lim) == 0, "setrlimit(RLIMIT_AS, %llu): %s", vm, strerror(errno));

    /* Ordinary: what the existing slab has, then ENOMEM. */
    tu_case("ordinary: what the existing slab has, then ENOMEM");
    long n = 0;
    while (n < MAXOBJ && (objs[n] = numaslab_cache_alloc(c, 0)))
        n++;
    int e = errno;
    struct numaslab_mempool_stats r1;
    numaslab_mempool_stats(res, &r1);
    long ordinary = n;
    /* Critical: the reserve. */
    tu_case("critical: the reserve");
    while (n < MAXOBJ && (objs[n] = numaslab_cache_alloc(c, NUMASLAB_CRITICAL)))
        n++;
    long critical = n - ordinary;
    struct numaslab_mempool_stats r2;
    numaslab_mempool_stats(res, &r2);
    void *after = numaslab_cache_alloc(c, 0);
    int e2 = errno;
    for (long i = 0; i < n; i++)
        numaslab_cache_free(c, objs[i]);
    struct numaslab_mempool_stats r3;
    numaslab_mempool_stats(res, &r3);

    setrlimit(RLIMIT_AS, &old);
    CHECK(ordinary <= per_slab && e == ENOMEM,
          "under RLIMIT_AS ordinary allocation stops with ENOMEM after %ld objects (one slab "
          "holds %ld)",
          ordinary, per_slab);
    CHECK(r1.curr_nr == r0.min_nr && r1.used == r0.used,
          "the failed ordinary allocations took nothing from the reserve (%d/%d)", r1.curr_nr,
          r1.min_nr);
    CHECK(critical == per_slab * r0.min_nr,
          "critical allocations succeed until the reserve is used up: %ld (want %ld)", critical,
          per_slab * r0.min_nr);
    CHECK(r2.curr_nr == 0, "the reserve is then empty (%d)", r2.curr_nr);
    CHECK(after == NULL && e2 == ENOMEM, "an ordinary request still fails (errno %d)", e2);
    CHECK(r3.curr_nr == r0.min_nr, "freeing everything refills the reserve (%d/%d)", r3.curr_nr,
          r3.min_nr);
    numaslab_thread_flush();
    CHECK(numaslab_cache_destroy(c) == 0, "the cache is destroyed");
    return tu_exit();
}
