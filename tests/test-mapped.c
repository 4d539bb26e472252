/*
 * test-mapped - memory goes back: after a million 64-byte objects are
 * freed, what stays mapped is the retention allowance (NUMASLAB_RETAIN
 * empty slabs per cache and node, and each node's page cache of
 * NUMASLAB_RETAIN_BYTES); the page cache serves the next slabs of another
 * size class without new mappings, and NUMASLAB_RETAIN_BYTES=0 turns it
 * off; numaslab_fini() unmaps everything; the library can be initialised
 * again afterwards.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#define MAXNODES 1024
#define NOBJ     1000000
#define OBJSZ    64
#define CHUNK    (64 * 1024) /* the slab size of every size class */

static unsigned retain_setting(void)
{
    const char *e = getenv("NUMASLAB_RETAIN");
    char *end;
    unsigned long v;

    if (!e || !*e)
        return 2;
    errno = 0;
    v = strtoul(e, &end, 10);
    if (errno || *end)
        return 2;
    return (unsigned)v;
}

/* NUMASLAB_RETAIN_BYTES as the library reads it ("8M"; default 128 MiB),
 * in whole 64 KiB chunks. */
static uint64_t retain_bytes_setting(void)
{
    const char *e = getenv("NUMASLAB_RETAIN_BYTES");
    char *end;
    unsigned long long v;
    if (!e || !*e)
        return 128ull << 20;
    v = strtoull(e, &end, 10);
    switch (*end) {
    case 'k':
    case 'K':
        v <<= 10;
        break;
    case 'm':
    case 'M':
        v <<= 20;
        break;
    case 'g':
    case 'G':
        v <<= 30;
        break;
    default:
        break;
    }
    return v / CHUNK * CHUNK;
}

/* Allocate and free n objects of size bytes: the bytes mapped at the
 * peak, all of them live. */
static uint64_t churn(size_t n, size_t size)
{
    void **v = malloc(n * sizeof(*v));
    REQUIRE(v, "out of memory");
    for (size_t i = 0; i < n; i++) {
        v[i] = numaslab_alloc(size, 0);
        REQUIRE(v[i], "numaslab_alloc(%zu): %s", size, strerror(errno));
        *(uint64_t *)v[i] = i;
    }
    uint64_t peak = numaslab_bytes_mapped();
    for (size_t i = 0; i < n; i++)
        numaslab_free(v[i]);
    numaslab_thread_flush();
    free(v);
    return peak;
}

int main(void)
{
    static int nodes[MAXNODES];
    int nnodes, r;
    uint64_t m0, m1, m2, m3, slab_bytes = 0, allowance;
    unsigned retain = retain_setting();
    uint64_t retain_bytes = retain_bytes_setting();
    void **v;
    numaslab_cache_t *c;
    size_t nulls = 0;
    long long inuse;

    tu_init("test-mapped");
    tu_case("a million objects allocated and freed: bytes mapped");
    r = numaslab_init(NULL);
    CHECK(r == 0, "numaslab_init(NULL) on a fresh process returns 0 (got %d)", r);
    nnodes = tu_active_nodes(nodes, MAXNODES);
    REQUIRE(nnodes >= 1, "no active node");
    m0 = numaslab_bytes_mapped();
    tu_info("%d active node(s), retain %u, %llu bytes mapped at start", nnodes, retain,
            (unsigned long long)m0);

    v = malloc(NOBJ * sizeof(*v));
    REQUIRE(v, "out of memory");
    for (size_t i = 0; i < NOBJ; i++) {
        v[i] = numaslab_alloc(OBJSZ, 0);
        if (!v[i]) {
            nulls++;
            continue;
        }
        *(uint64_t *)v[i] = i;
    }
    CHECK(nulls == 0, "%d allocations of %d bytes: %zu NULL", NOBJ, OBJSZ, nulls);
    m1 = numaslab_bytes_mapped();
    CHECK(m1 >= m0 + (uint64_t)NOBJ * OBJSZ,
          "with all live, bytes mapped %llu >= %llu (start + objects)", (unsigned long long)m1,
          (unsigned long long)(m0 + (uint64_t)NOBJ * OBJSZ));
    {
        size_t bad = 0;
        for (size_t i = 0; i < NOBJ; i++)
            if (v[i] && *(uint64_t *)v[i] != i)
                bad++;
        CHECK(bad == 0, "every object keeps its index (%zu do not)", bad);
    }
    for (size_t i = 0; i < NOBJ; i++)
        numaslab_free(v[i]);
    numaslab_thread_flush();
    free(v);

    c = numaslab_size_cache(OBJSZ);
    REQUIRE(c, "numaslab_size_cache(%d) is NULL", OBJSZ);
    for (int i = 0; i < nnodes; i++) {
        struct numaslab_cache_stats st;
        memset(&st, 0, sizeof(st));
        r = numaslab_stats_cache(c, nodes[i], &st);
        CHECK(r == 0 && st.objects_inuse == 0 && st.slabs_empty <= retain && st.slabs_full == 0 &&
                  st.slabs_partial == 0,
              "%s on node %d: %llu in use, %llu full / %llu partial / %llu empty slabs (at most "
              "%u empty kept), slab %llu bytes",
              numaslab_cache_name(c), nodes[i], (unsigned long long)st.objects_inuse,
              (unsigned long long)st.slabs_full, (unsigned long long)st.slabs_partial,
              (unsigned long long)st.slabs_empty, retain, (unsigned long long)st.slab_bytes);
        if (st.slab_bytes > slab_bytes)
            slab_bytes = st.slab_bytes;
    }
    REQUIRE(slab_bytes > 0, "stats_cache gives no slab size");
    allowance = (uint64_t)retain * (uint64_t)nnodes * slab_bytes + retain_bytes * nnodes + m0;
    m2 = numaslab_bytes_mapped();
    CHECK(m2 * 10 <= allowance * 11,
          "after freeing all and a flush: %llu bytes mapped <= 1.1 x %llu (%u x %d node(s) x %llu "
          "+ %llu page cache x %d node(s) + %llu at start)",
          (unsigned long long)m2, (unsigned long long)allowance, retain, nnodes,
          (unsigned long long)slab_bytes, (unsigned long long)retain_bytes, nnodes,
          (unsigned long long)m0);
    tu_check_kernel_mapped("after freeing all and a flush");

    /* What the page cache keeps serves another size class: slabs of
     * 128-byte objects come from it, nothing new is mapped. */
    tu_case("what the page cache keeps serves another size class");
    {
        struct numaslab_cache_stats st;
        memset(&st, 0, sizeof(st));
        numaslab_cache_t *c128 = numaslab_size_cache(128);
        REQUIRE(c128 && numaslab_stats_cache(c128, numaslab_local_node(), &st) == 0,
                "numaslab_stats_cache(numaslab-128)");
        uint64_t kept = m2 - m0 - (uint64_t)retain * nnodes * slab_bytes;
        /* The slabs that went back: all of them up to the limit. */
        uint64_t gone = m1 - m0 - (uint64_t)retain * nnodes * slab_bytes;
        uint64_t want = gone < retain_bytes ? gone : retain_bytes;
        if (retain_bytes >= 4 * CHUNK && slab_bytes == CHUNK && st.slab_bytes == CHUNK) {
            CHECK(kept + CHUNK >= want && kept <= retain_bytes * nnodes,
                  "the page cache holds %llu bytes of the %llu the slabs gave back "
                  "(NUMASLAB_RETAIN_BYTES: %llu per node)",
                  (unsigned long long)kept, (unsigned long long)gone,
                  (unsigned long long)retain_bytes);
            /* Half the cached bytes' worth of 128-byte objects, slab
             * headers and all: fits in what is cached. */
            size_t n = (size_t)(kept / 2 / 128);
            uint64_t peak = churn(n, 128);
            CHECK(peak <= m2,
                  "%zu objects of 128 bytes need no new mapping: %llu bytes mapped at "
                  "the peak, %llu before",
                  n, (unsigned long long)peak, (unsigned long long)m2);
        } else {
            tu_info("page cache reuse not checked (NUMASLAB_RETAIN_BYTES %llu, slabs %llu and "
                    "%llu bytes)",
                    (unsigned long long)retain_bytes, (unsigned long long)slab_bytes,
                    (unsigned long long)st.slab_bytes);
        }
    }

    numaslab_fini();
    m3 = numaslab_bytes_mapped();
    CHECK(m3 == 0, "after numaslab_fini(): %llu bytes mapped (want 0)", (unsigned long long)m3);
    tu_check_kernel_mapped("after numaslab_fini()");

    /* Initialise again, explicitly. */
    tu_case("initialise again, explicitly");
    r = numaslab_init(NULL);
    CHECK(r == 0, "numaslab_init(NULL) after fini returns 0 (got %d)", r);
    {
        void *p = numaslab_alloc(OBJSZ, 0);
        numaslab_cache_t *c2;
        if (CHECK(p != NULL, "numaslab_alloc after fini and init returns memory")) {
            memset(p, 0x5c, OBJSZ);
            CHECK(numaslab_usable_size(p) >= OBJSZ &&
                      numaslab_node_is_active(numaslab_ptr_node(p)) == 1 &&
                      numaslab_bytes_mapped() > 0,
                  "the new object: usable %zu, node %d, %llu bytes mapped", numaslab_usable_size(p),
                  numaslab_ptr_node(p), (unsigned long long)numaslab_bytes_mapped());
            numaslab_free(p);
        }
        c2 = numaslab_cache_create("after-fini", 100, 0, 0, NULL);
        if (CHECK(c2 != NULL, "cache_create after re-init")) {
            void *o = numaslab_cache_alloc(c2, 0);
            CHECK(o != NULL, "cache_alloc after re-init");
            if (o) {
                memset(o, 1, 100);
                numaslab_cache_free(c2, o);
            }
            CHECK(numaslab_cache_destroy(c2) == 0, "cache_destroy after re-init");
        }
    }

    /* fini again, then lazy initialisation by the first allocation. */
    numaslab_fini();
    m3 = numaslab_bytes_mapped();
    CHECK(m3 == 0, "second numaslab_fini(): %llu bytes mapped", (unsigned long long)m3);
    tu_check_kernel_mapped("after the second numaslab_fini()");
    {
        void *p = numaslab_alloc(1000, 0);
        void *big = numaslab_alloc(1 << 20, 0);
        CHECK(p && big, "lazy re-initialisation: numaslab_alloc works (%p, %p)", p, big);
        if (p)
            memset(p, 2, 1000);
        if (big)
            memset(big, 3, 1 << 20);
        numaslab_free(p);
        numaslab_free(big);
        numaslab_thread_flush();
        inuse = tu_cache_inuse(numaslab_size_cache(1000));
        CHECK(inuse == 0, "and the object is freed (%lld in use after a flush)", inuse);
    }
    numaslab_fini();
    CHECK(numaslab_bytes_mapped() == 0, "final numaslab_fini(): nothing mapped");

    /* NUMASLAB_RETAIN_BYTES=0: no page cache, what is freed goes back. */
    tu_case("NUMASLAB_RETAIN_BYTES=0: no page cache, what is freed goes back");
    setenv("NUMASLAB_RETAIN_BYTES", "0", 1);
    REQUIRE(numaslab_init(NULL) == 0, "numaslab_init with NUMASLAB_RETAIN_BYTES=0");
    m0 = numaslab_bytes_mapped();
    churn(NOBJ / 10, OBJSZ);
    m2 = numaslab_bytes_mapped();
    allowance = (uint64_t)retain * (uint64_t)nnodes * slab_bytes + m0;
    CHECK(m2 * 10 <= allowance * 11,
          "NUMASLAB_RETAIN_BYTES=0: after %d objects are freed, %llu bytes mapped <= 1.1 x %llu",
          NOBJ / 10, (unsigned long long)m2, (unsigned long long)allowance);
    tu_check_kernel_mapped("NUMASLAB_RETAIN_BYTES=0, the objects freed");
    numaslab_fini();
    CHECK(numaslab_bytes_mapped() == 0, "numaslab_fini(): nothing mapped");

    /* Under a node limit the page cache gives its memory back when the
     * node runs short: 3 MiB of cached slabs and an 8 MiB limit leave no
     * room for a 6 MiB object until they go. */
    tu_case("under a node limit the page cache gives its memory back");
    setenv("NUMASLAB_RETAIN_BYTES", "4M", 1);
    setenv("NUMASLAB_NODE_LIMIT", "8M", 1);
    REQUIRE(numaslab_init(NULL) == 0, "numaslab_init with NUMASLAB_NODE_LIMIT=8M");
    m0 = numaslab_bytes_mapped();
    churn(3 * 16384, OBJSZ);
    m2 = numaslab_bytes_mapped();
    CHECK(m2 >= m0 + (3u << 20) - 2 * CHUNK,
          "the page cache keeps the freed slabs: %llu bytes "
          "mapped, %llu at start",
          (unsigned long long)m2, (unsigned long long)m0);
    {
        void *big = numaslab_alloc_node(6u << 20, NUMASLAB_THISNODE, numaslab_local_node());
        CHECK(big != NULL,
              "a 6 MiB object fits under the 8 MiB limit once the page cache is "
              "given back (%s; %llu bytes mapped)",
              big ? "allocated" : strerror(errno), (unsigned long long)numaslab_bytes_mapped());
        numaslab_free(big);
    }
    tu_check_kernel_mapped("under NUMASLAB_NODE_LIMIT=8M, the 6 MiB object freed");
    numaslab_fini();
    tu_check_kernel_mapped("after the last numaslab_fini()");
    unsetenv("NUMASLAB_NODE_LIMIT");
    unsetenv("NUMASLAB_RETAIN_BYTES");
    return tu_exit();
}
