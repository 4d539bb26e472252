/*
 * test-cache - fixed-size caches: create, alloc, free, destroy; sizes and
 * alignments; constructors; NUMASLAB_ZERO; destroy with live objects;
 * node placement; names; objects_inuse statistics.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#define MAXNODES 1024

static int nodes[MAXNODES];
static int nnodes;

/* ---------------------------------------------------------------------- */

static void test_basic(void)
{
    tu_case("create, allocate, free");
    numaslab_cache_t *c = numaslab_cache_create("basic", 48, 0, 0, NULL);
    void *o;

    if (!CHECK(c != NULL, "cache_create(\"basic\", 48, 0, 0, NULL) returns a cache"))
        return;
    CHECK(numaslab_cache_name(c) && strcmp(numaslab_cache_name(c), "basic") == 0,
          "numaslab_cache_name gives \"basic\" (got \"%s\")",
          numaslab_cache_name(c) ? numaslab_cache_name(c) : "(null)");
    o = numaslab_cache_alloc(c, 0);
    if (CHECK(o != NULL, "cache_alloc returns an object")) {
        tu_fill(o, 48, 1);
        CHECK(numaslab_usable_size(o) >= 48, "usable_size %zu >= 48", numaslab_usable_size(o));
        CHECK(tu_verify(o, 48, 1), "object keeps what was written");
        numaslab_cache_free(c, o);
    }
    CHECK(numaslab_cache_destroy(c) == 0, "cache_destroy after freeing returns 0");

    /* The usable size of a padded object is its size, not its stride: the
     * padding (and a debug build's red zone) belongs to the library. */
    tu_case("the usable size of a padded object is its size, not its stride");
    c = numaslab_cache_create("padded", 50, 64, 0, NULL);
    if (CHECK(c != NULL, "cache_create(\"padded\", 50, 64, 0, NULL)")) {
        o = numaslab_cache_alloc(c, 0);
        if (CHECK(o != NULL, "padded: an object")) {
            CHECK(numaslab_usable_size(o) == 50, "padded: usable size %zu == 50",
                  numaslab_usable_size(o));
            numaslab_cache_free(c, o);
        }
        CHECK(numaslab_cache_destroy(c) == 0, "padded: destroyed");
    }

    /* A long name is truncated to 31 characters. */
    tu_case("a long name is truncated to 31 characters");
    const char *longname = "a-very-long-cache-name-0123456789-abcdefghij";
    c = numaslab_cache_create(longname, 32, 0, 0, NULL);
    if (CHECK(c != NULL, "cache_create with a %zu-character name", strlen(longname))) {
        const char *n = numaslab_cache_name(c);
        CHECK(n && strlen(n) == 31 && strncmp(n, longname, 31) == 0,
              "the name is cut to its first 31 characters (got \"%s\")", n ? n : "(null)");
        CHECK(numaslab_cache_destroy(c) == 0, "destroy of an unused cache returns 0");
    }

    /* Bad alignments: not a power of two, above the page size. */
    tu_case("bad alignments: not a power of two, above the page size");
    errno = 0;
    c = numaslab_cache_create("badalign", 64, 24, 0, NULL);
    CHECK(c == NULL && errno == EINVAL, "align 24 -> NULL, EINVAL (got %p, errno %d)", (void *)c,
          errno);
    if (c)
        numaslab_cache_destroy(c);
    errno = 0;
    c = numaslab_cache_create("badalign", 64, (size_t)tu_pagesize() * 2, 0, NULL);
    CHECK(c == NULL && errno == EINVAL, "align 2 x page size -> NULL, EINVAL (got %p, errno %d)",
          (void *)c, errno);
    if (c)
        numaslab_cache_destroy(c);
}

/* ---------------------------------------------------------------------- */

struct span {
    uintptr_t start;
    size_t len;
};

static int cmp_span(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void test_sizes_aligns(void)
{
    tu_case("sizes and alignments");
    static const size_t sizes[] = {1,    7,    8,    24,   60,   64,   100,  250, 256,
                                   1000, 1024, 2000, 4000, 4096, 5000, 6144, 8000};
    int combos = 0, bad_combos = 0;

    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        for (size_t align = 8; align <= (size_t)tu_pagesize(); align *= 2) {
            size_t size = sizes[si];
            /* enough objects for several 64 KiB slabs, within reason */
            size_t n = (4u << 16) / (size < align ? align : size);
            char name[32];
            numaslab_cache_t *c;
            void **obj;
            struct span *sp;
            size_t misaligned = 0, nulls = 0, corrupt = 0, overlaps = 0;
            int ok;

            if (n < 64)
                n = 64;
            if (n > 4096)
                n = 4096;
            snprintf(name, sizeof(name), "sz%zu-al%zu", size, align);
            combos++;
            c = numaslab_cache_create(name, size, align, 0, NULL);
            if (!c) {
                bad_combos++;
                CHECK(0, "cache_create(\"%s\", %zu, %zu): %s", name, size, align, strerror(errno));
                continue;
            }
            obj = calloc(n, sizeof(*obj));
            sp = calloc(n, sizeof(*sp));
            REQUIRE(obj && sp, "out of memory");
            for (size_t i = 0; i < n; i++) {
                obj[i] = numaslab_cache_alloc(c, 0);
                if (!obj[i]) {
                    nulls++;
                    continue;
                }
                if ((uintptr_t)obj[i] % align)
                    misaligned++;
                tu_fill(obj[i], size, (uintptr_t)obj[i] ^ i);
            }
            for (size_t i = 0; i < n; i++)
                if (obj[i] && !tu_verify(obj[i], size, (uintptr_t)obj[i] ^ i))
                    corrupt++;
            for (size_t i = 0; i < n; i++)
                sp[i] = (struct span){(uintptr_t)obj[i], size};
            qsort(sp, n, sizeof(*sp), cmp_span);
            for (size_t i = 1; i < n; i++)
                if (sp[i - 1].start && sp[i - 1].start + sp[i - 1].len > sp[i].start)
                    overlaps++;
            ok = nulls == 0 && misaligned == 0 && corrupt == 0 && overlaps == 0;
            if (!ok)
                bad_combos++;
            CHECK(ok,
                  "size %zu align %zu: %zu objects, %zu NULL, %zu misaligned, %zu corrupted, "
                  "%zu overlapping",
                  size, align, n, nulls, misaligned, corrupt, overlaps);
            for (size_t i = 0; i < n; i++)
                if (obj[i])
                    numaslab_cache_free(c, obj[i]);
            if (!CHECK(numaslab_cache_destroy(c) == 0, "size %zu align %zu: destroy returns 0",
                       size, align))
                bad_combos++;
            free(obj);
            free(sp);
        }
    }
    CHECK(bad_combos == 0, "%d size/alignment combinations, %d bad", combos, bad_combos);
}

/* ---------------------------------------------------------------------- */

#define CTOR_MAGIC 0xc0ffee11c0ffee11ull
#define CTOR_MAX   200000

struct cobj {
    uint64_t magic;
    uint64_t serial;
    uint64_t payload[6];
};

static long ctor_calls;
static void **ctor_seen;

static void ctor(void *p)
{
    struct cobj *o = p;
    o->magic = CTOR_MAGIC;
    o->serial = 0;
    if (ctor_calls < CTOR_MAX)
        ctor_seen[ctor_calls] = p;
    ctor_calls++;
}

static long long cache_total(numaslab_cache_t *c)
{
    long long sum = 0;
    for (int i = 0; i < nnodes; i++) {
        struct numaslab_cache_stats st;
        memset(&st, 0, sizeof(st));
        if (numaslab_stats_cache(c, nodes[i], &st) != 0)
            return -1;
        sum += (long long)st.objects_total;
    }
    return sum;
}

static void test_ctor(void)
{
    tu_case("constructor");
    enum { N = 3000 };
    numaslab_cache_t *c;
    struct cobj **o = calloc(N, sizeof(*o));
    size_t unconstructed = 0, nulls = 0;
    long calls_before, dups;
    long long total;

    ctor_seen = calloc(CTOR_MAX, sizeof(*ctor_seen));
    REQUIRE(o && ctor_seen, "out of memory");
    c = numaslab_cache_create("ctor", sizeof(struct cobj), 0, 0, ctor);
    if (!CHECK(c != NULL, "cache_create(\"ctor\") with a constructor"))
        return;
    CHECK(ctor_calls == 0, "no constructor call before the first allocation (%ld calls)",
          ctor_calls);
    for (int i = 0; i < N; i++) {
        o[i] = numaslab_cache_alloc(c, 0);
        if (!o[i]) {
            nulls++;
            continue;
        }
        if (o[i]->magic != CTOR_MAGIC)
            unconstructed++;
        o[i]->serial = (uint64_t)i + 1; /* the user's part; magic stays */
    }
    CHECK(nulls == 0, "%d allocations, %zu NULL", N, nulls);
    CHECK(unconstructed == 0, "every object comes back constructed (%zu were not)", unconstructed);
    total = cache_total(c);
    CHECK(ctor_calls >= N && ctor_calls == total,
          "constructor ran once per object of the slabs made: %ld calls, %lld objects in slabs",
          ctor_calls, total);
    if (ctor_calls <= CTOR_MAX) {
        void **v = malloc((size_t)ctor_calls * sizeof(*v));
        REQUIRE(v, "out of memory");
        memcpy(v, ctor_seen, (size_t)ctor_calls * sizeof(*v));
        dups = (long)tu_duplicates(v, (size_t)ctor_calls);
        free(v);
        CHECK(dups == 0, "constructor never ran twice on the same address (%ld repeats)", dups);
    }

    /* Free some and take them again: no new constructor call, and the
     * objects are still in their constructed state. */
    tu_case("free some and take them again");
    calls_before = ctor_calls;
    for (int i = 0; i < 100; i++)
        numaslab_cache_free(c, o[i]);
    unconstructed = 0;
    for (int i = 0; i < 100; i++) {
        o[i] = numaslab_cache_alloc(c, 0);
        if (!o[i] || o[i]->magic != CTOR_MAGIC)
            unconstructed++;
    }
    CHECK(unconstructed == 0, "reused objects are still constructed (%zu were not)", unconstructed);
    CHECK(ctor_calls == calls_before, "no constructor call on reuse (%ld calls before, %ld after)",
          calls_before, ctor_calls);
    for (int i = 0; i < N; i++)
        if (o[i])
            numaslab_cache_free(c, o[i]);
    CHECK(numaslab_cache_destroy(c) == 0, "destroy of the ctor cache returns 0");
    free(o);
    free(ctor_seen);
}

/* ---------------------------------------------------------------------- */

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static void test_zero(void)
{
    tu_case("NUMASLAB_ZERO");
    enum { N = 200, SZ = 200 };
    numaslab_cache_t *c = numaslab_cache_create("zero", SZ, 0, 0, NULL);
    void *dirty[N], *again[N];
    size_t nonzero = 0, reused = 0, nulls = 0;

    if (!CHECK(c != NULL, "cache_create(\"zero\")"))
        return;
    for (int i = 0; i < N; i++) {
        dirty[i] = numaslab_cache_alloc(c, 0);
        REQUIRE(dirty[i], "cache_alloc failed: %s", strerror(errno));
        memset(dirty[i], 0xa5, SZ);
    }
    for (int i = 0; i < N; i++)
        numaslab_cache_free(c, dirty[i]);
    for (int i = 0; i < N; i++) {
        again[i] = numaslab_cache_alloc(c, NUMASLAB_ZERO);
        if (!again[i]) {
            nulls++;
            continue;
        }
        if (!all_zero(again[i], SZ))
            nonzero++;
        for (int j = 0; j < N; j++)
            if (again[i] == dirty[j])
                reused++;
    }
    CHECK(nulls == 0 && nonzero == 0,
          "cache_alloc(NUMASLAB_ZERO) after dirtying and freeing: %zu NULL, %zu not zeroed "
          "(%zu of %d objects were reused)",
          nulls, nonzero, reused, N);
    CHECK(reused > 0, "freed dirty objects are handed out again (%zu reused)", reused);
    for (int i = 0; i < N; i++)
        if (again[i])
            numaslab_cache_free(c, again[i]);
    CHECK(numaslab_cache_destroy(c) == 0, "destroy of the zero cache returns 0");

    /* The same for size classes. */
    tu_case("the same for size classes");
    nonzero = reused = nulls = 0;
    for (int i = 0; i < N; i++) {
        dirty[i] = numaslab_alloc(SZ, 0);
        REQUIRE(dirty[i], "numaslab_alloc failed: %s", strerror(errno));
        memset(dirty[i], 0x5a, SZ);
    }
    for (int i = 0; i < N; i++)
        numaslab_free(dirty[i]);
    for (int i = 0; i < N; i++) {
        again[i] = numaslab_alloc(SZ, NUMASLAB_ZERO);
        if (!again[i]) {
            nulls++;
            continue;
        }
        if (!all_zero(again[i], SZ))
            nonzero++;
        for (int j = 0; j < N; j++)
            if (again[i] == dirty[j])
                reused++;
    }
    CHECK(nulls == 0 && nonzero == 0,
          "numaslab_alloc(%d, NUMASLAB_ZERO) after dirtying and freeing: %zu NULL, %zu not "
          "zeroed (%zu reused)",
          SZ, nulls, nonzero, reused);
    for (int i = 0; i < N; i++)
        numaslab_free(again[i]);
}

/* ---------------------------------------------------------------------- */

static void test_destroy_busy(void)
{
    tu_case("destroy with objects live");
    numaslab_cache_t *c = numaslab_cache_create("busy", 100, 0, 0, NULL);
    void *live, *other;
    int r;

    if (!CHECK(c != NULL, "cache_create(\"busy\")"))
        return;
    live = numaslab_cache_alloc(c, 0);
    REQUIRE(live, "cache_alloc failed: %s", strerror(errno));
    tu_fill(live, 100, 42);
    r = numaslab_cache_destroy(c);
    CHECK(r == -EBUSY, "cache_destroy with a live object returns -EBUSY (got %d)", r);
    if (r == 0)
        return; /* the cache is gone; nothing below is safe */
    CHECK(tu_verify(live, 100, 42), "the live object is intact after the refused destroy");
    CHECK(strcmp(numaslab_cache_name(c), "busy") == 0, "the cache keeps its name");
    other = numaslab_cache_alloc(c, 0);
    if (CHECK(other != NULL && other != live, "the cache still allocates (%p)", other)) {
        tu_fill(other, 100, 43);
        CHECK(tu_verify(other, 100, 43) && tu_verify(live, 100, 42),
              "both objects keep their contents");
        numaslab_cache_free(c, other);
    }
    r = numaslab_cache_destroy(c);
    CHECK(r == -EBUSY, "still -EBUSY while one object is live (got %d)", r);
    if (r == 0)
        return;
    numaslab_cache_free(c, live);
    r = numaslab_cache_destroy(c);
    CHECK(r == 0, "cache_destroy after freeing every object returns 0 (got %d)", r);
}

/* ---------------------------------------------------------------------- */

static void test_nodes(void)
{
    tu_case("node-targeted allocation");
    enum { SZ = 3000 }; /* an object may straddle two pages */
    numaslab_cache_t *c = numaslab_cache_create("nodes", SZ, 8, 0, NULL);
    int local = numaslab_local_node();
    void *o;
    int pn, bad;
    size_t off, np;

    if (!CHECK(c != NULL, "cache_create(\"nodes\")"))
        return;
    o = numaslab_cache_alloc_node(c, 0, NUMASLAB_NODE_LOCAL);
    if (CHECK(o != NULL, "cache_alloc_node(c, 0, -1) returns an object")) {
        memset(o, 1, SZ);
        pn = numaslab_ptr_node(o);
        off = kernel_pages_off_node(o, SZ, local, &bad, &np);
        CHECK(pn == local && off == 0,
              "node -1: numaslab_ptr_node %d, local node %d, kernel: %zu/%zu pages elsewhere "
              "(first: %d)",
              pn, local, off, np, off ? bad : local);
        numaslab_cache_free(c, o);
    }
    o = numaslab_cache_alloc(c, 0);
    if (CHECK(o != NULL, "cache_alloc(c, 0) returns an object")) {
        memset(o, 1, SZ);
        pn = numaslab_ptr_node(o);
        CHECK(pn == local && kernel_on_node(o, SZ, local),
              "cache_alloc: numaslab_ptr_node %d, local node %d, kernel agrees: %s", pn, local,
              kernel_on_node(o, SZ, pn) ? "yes" : "no");
        numaslab_cache_free(c, o);
    }
    for (int i = 0; i < nnodes; i++) {
        int node = nodes[i];
        void *v[64];
        size_t wrong = 0, koff = 0, nulls = 0;
        /* several objects, so more than the first one is looked at */
        for (int k = 0; k < 64; k++) {
            v[k] = numaslab_cache_alloc_node(c, 0, node);
            if (!v[k]) {
                nulls++;
                continue;
            }
            memset(v[k], 2, SZ);
        }
        for (int k = 0; k < 64; k++) {
            if (!v[k])
                continue;
            if (numaslab_ptr_node(v[k]) != node)
                wrong++;
            if (!kernel_on_node(v[k], SZ, node))
                koff++;
        }
        CHECK(nulls == 0 && wrong == 0 && koff == 0,
              "cache_alloc_node(c, 0, %d) x64: %zu NULL, %zu with another numaslab_ptr_node, "
              "%zu with pages elsewhere by the kernel",
              node, nulls, wrong, koff);
        for (int k = 0; k < 64; k++)
            if (v[k])
                numaslab_cache_free(c, v[k]);
    }
    CHECK(numaslab_cache_destroy(c) == 0, "destroy of the nodes cache returns 0");
}

/* ---------------------------------------------------------------------- */

static void test_stats(void)
{
    tu_case("statistics");
    enum { N = 1000, FREE1 = 400 };
    numaslab_cache_t *c = numaslab_cache_create("stats", 128, 0, 0, NULL);
    void *o[N];
    long long in0, in1, in2, in3;
    struct numaslab_cache_stats st;
    int r;

    if (!CHECK(c != NULL, "cache_create(\"stats\")"))
        return;
    numaslab_thread_flush();
    in0 = tu_cache_inuse(c);
    CHECK(in0 == 0, "a new cache has no object in use (got %lld)", in0);
    for (int i = 0; i < N; i++) {
        o[i] = numaslab_cache_alloc(c, 0);
        REQUIRE(o[i], "cache_alloc failed: %s", strerror(errno));
    }
    numaslab_thread_flush();
    in1 = tu_cache_inuse(c);
    CHECK(in1 == in0 + N, "after %d allocations and a flush: objects_inuse %lld (want %lld)", N,
          in1, in0 + N);

    memset(&st, 0, sizeof(st));
    r = numaslab_stats_cache(c, numaslab_ptr_node(o[0]), &st);
    CHECK(r == 0 && st.node == numaslab_ptr_node(o[0]) && st.slab_bytes > 0 &&
              st.objects_total >= st.objects_inuse && st.objects_inuse > 0 &&
              st.slabs_full + st.slabs_partial >= 1,
          "stats_cache(node %d): rc %d, node %d, inuse %llu, total %llu, slabs %llu full / %llu "
          "partial / %llu empty, slab_bytes %llu",
          numaslab_ptr_node(o[0]), r, st.node, (unsigned long long)st.objects_inuse,
          (unsigned long long)st.objects_total, (unsigned long long)st.slabs_full,
          (unsigned long long)st.slabs_partial, (unsigned long long)st.slabs_empty,
          (unsigned long long)st.slab_bytes);

    for (int i = 0; i < FREE1; i++)
        numaslab_cache_free(c, o[i]);
    numaslab_thread_flush();
    in2 = tu_cache_inuse(c);
    CHECK(in2 == in0 + N - FREE1, "after freeing %d and a flush: objects_inuse %lld (want %lld)",
          FREE1, in2, in0 + N - FREE1);
    for (int i = FREE1; i < N; i++)
        numaslab_cache_free(c, o[i]);
    numaslab_thread_flush();
    in3 = tu_cache_inuse(c);
    CHECK(in3 == in0, "after freeing all and a flush: objects_inuse %lld (want %lld)", in3, in0);

    r = numaslab_stats_cache(c, -2, &st);
    CHECK(r == -EINVAL, "stats_cache(c, -2) returns -EINVAL (got %d)", r);
    CHECK(numaslab_cache_destroy(c) == 0, "destroy of the stats cache returns 0");
}

/*
 * numaslab_cache_destroy unmaps every slab of the cache, the ones its
 * flush of the thread caches empties too: none is left in the node's
 * page cache.  Runs first, while the page cache has room.
 */
static void test_destroy_unmaps(void)
{
    tu_case("destroy unmaps the cache's slabs");
    enum { N = 3000 }; /* three slabs of 64-byte objects, more than a thread cache */
    static void *v[N];
    int node = numaslab_local_node();
    numaslab_cache_t *c = numaslab_cache_create("unmap", 64, 0, 0, NULL);
    if (!CHECK(c != NULL, "cache_create(\"unmap\", 64)"))
        return;
    for (int i = 0; i < N; i++)
        REQUIRE((v[i] = numaslab_cache_alloc_node(c, 0, node)) != NULL, "allocation %d", i);
    for (int i = 0; i < N; i++)
        numaslab_cache_free(c, v[i]); /* the last ones stay in this thread's cache */
    struct numaslab_cache_stats st;
    memset(&st, 0, sizeof(st));
    REQUIRE(numaslab_stats_cache(c, node, &st) == 0, "stats_cache");
    uint64_t held = (st.slabs_full + st.slabs_partial + st.slabs_empty) * st.slab_bytes;
    uint64_t before = numaslab_bytes_mapped();
    CHECK(numaslab_cache_destroy(c) == 0, "unmap: destroyed with objects in the thread cache");
    uint64_t after = numaslab_bytes_mapped();
    CHECK(
        held > 0 && after + held == before,
        "unmap: destroy unmaps the %llu bytes of slabs the cache held (%llu -> %llu bytes mapped)",
        (unsigned long long)held, (unsigned long long)before, (unsigned long long)after);
    tu_check_kernel_mapped("unmap: after the destroy");
}

int main(void)
{
    tu_init("test-cache");
    tu_pin_self();
    nnodes = tu_active_nodes(nodes, MAXNODES);
    REQUIRE(nnodes >= 1, "no active node (max node %d)", numaslab_max_node());
    tu_info("%d active node(s), local node %d", nnodes, numaslab_local_node());

    test_destroy_unmaps();
    test_basic();
    test_sizes_aligns();
    test_ctor();
    test_zero();
    test_destroy_busy();
    test_nodes();
    test_stats();
    return tu_exit();
}
