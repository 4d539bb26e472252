/*
 * test-sizeclass - numaslab_alloc / numaslab_alloc_node over every size
 * from 0 to NUMASLAB_MAX_SMALL and beyond: usable sizes, contents, class
 * names and their order, size 0, overflowing sizes, large objects.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#define MAXNODES 1024

static int nodes[MAXNODES];
static int nnodes;

/* The n of "numaslab-<n>", or -1 when the name has another form. */
static long class_of(size_t size)
{
    numaslab_cache_t *c = numaslab_size_cache(size);
    const char *name;
    char *end;
    long n;

    if (!c)
        return -1;
    name = numaslab_cache_name(c);
    if (!name || strncmp(name, "numaslab-", 9) != 0)
        return -1;
    errno = 0;
    n = strtol(name + 9, &end, 10);
    if (errno || *end || end == name + 9 || n <= 0)
        return -1;
    return n;
}

static void test_small(void)
{
    tu_case("small sizes");
    const size_t max = NUMASLAB_MAX_SMALL;
    void **p = calloc(max + 1, sizeof(*p));
    size_t nulls = 0, short_usable = 0, corrupt = 0, badname = 0, toosmall = 0, notmono = 0,
           notself = 0, notnext = 0, dups;
    size_t first_bad = 0, nclasses = 0;
    long prev = 0;

    REQUIRE(p, "out of memory");
    for (size_t s = 1; s <= max; s++) {
        p[s] = numaslab_alloc(s, 0);
        if (!p[s]) {
            nulls++;
            if (!first_bad)
                first_bad = s;
            continue;
        }
        if (numaslab_usable_size(p[s]) < s) {
            short_usable++;
            if (!first_bad)
                first_bad = s;
        }
        tu_fill(p[s], s, s * 7919);
    }
    /* Every object still holds its whole contents once all are live. */
    tu_case("every object still holds its whole contents once all are live");
    for (size_t s = 1; s <= max; s++)
        if (p[s] && !tu_verify(p[s], s, s * 7919)) {
            corrupt++;
            if (!first_bad)
                first_bad = s;
        }
    CHECK(nulls == 0, "numaslab_alloc(s) for s = 1..%zu: %zu NULL", max, nulls);
    CHECK(short_usable == 0, "numaslab_usable_size >= s for every s: %zu too small", short_usable);
    CHECK(corrupt == 0, "writes of the whole size survive while all %zu are live: %zu corrupted",
          max, corrupt);
    {
        void **v = malloc((max + 1) * sizeof(*v));
        size_t k = 0;
        REQUIRE(v, "out of memory");
        for (size_t s = 1; s <= max; s++)
            if (p[s])
                v[k++] = p[s];
        dups = tu_duplicates(v, k);
        free(v);
        CHECK(dups == 0, "all %zu live objects are distinct: %zu duplicates", k, dups);
    }
    if (first_bad)
        tu_info("first size with a problem: %zu", first_bad);

    /* Class names. */
    tu_case("class names");
    for (size_t s = 1; s <= max; s++) {
        long n = class_of(s);
        if (n < 0) {
            if (badname++ == 0)
                tu_info("size %zu: cache name \"%s\"", s,
                        numaslab_size_cache(s) ? numaslab_cache_name(numaslab_size_cache(s))
                                               : "(no cache)");
            continue;
        }
        if ((size_t)n < s) {
            if (toosmall++ == 0)
                tu_info("size %zu: class numaslab-%ld is smaller", s, n);
        }
        if (n < prev) {
            if (notmono++ == 0)
                tu_info("size %zu: class %ld after class %ld for size %zu", s, n, prev, s - 1);
        }
        if (n != prev) {
            nclasses++;
            /* a new class: its own size maps to it, and the next size
             * maps to a bigger one (so n is the smallest class >= s) */
            if (class_of((size_t)n) != n) {
                if (notself++ == 0)
                    tu_info("size %ld is served by class %ld, not %ld", n, class_of((size_t)n), n);
            }
            if ((size_t)n < max) {
                long next = class_of((size_t)n + 1);
                if (next <= n) {
                    if (notnext++ == 0)
                        tu_info("size %ld: class %ld, not bigger than %ld", n + 1, next, n);
                }
            }
        }
        prev = n;
    }
    CHECK(badname == 0, "numaslab_size_cache(s) is named \"numaslab-<n>\" for s = 1..%zu (%zu not)",
          max, badname);
    CHECK(toosmall == 0, "n >= s for every s (%zu classes too small)", toosmall);
    CHECK(notmono == 0, "classes never shrink as s grows (%zu times they did)", notmono);
    CHECK(notself == 0 && notnext == 0,
          "each class n serves size n, and size n+1 goes to a bigger class (%zu / %zu wrong); "
          "%zu classes",
          notself, notnext, nclasses);
    CHECK(prev == (long)max, "the last class is numaslab-%zu (got %ld)", max, prev);
    CHECK(numaslab_size_cache(max + 1) == NULL, "numaslab_size_cache(%zu) is NULL", max + 1);

    /* usable_size agrees with the class for a few sizes. */
    {
        size_t bad = 0;
        for (size_t s = 1; s <= max; s += 97)
            if (p[s] && numaslab_usable_size(p[s]) < (size_t)class_of(s) && bad++ == 0)
                tu_info("size %zu: usable %zu, class %ld", s, numaslab_usable_size(p[s]),
                        class_of(s));
        CHECK(bad == 0, "usable_size covers the whole class (%zu sizes not)", bad);
    }

    for (size_t s = 1; s <= max; s++)
        numaslab_free(p[s]);
    free(p);

    /* numaslab_alloc_node for a spread of sizes on every active node. */
    for (int i = 0; i < nnodes; i++) {
        size_t wrong = 0, koff = 0, nulls2 = 0, shortu = 0;
        int k = 0;
        for (size_t s = 1; s <= max; s += 131, k++) {
            void *o = numaslab_alloc_node(s, 0, nodes[i]);
            if (!o) {
                nulls2++;
                continue;
            }
            memset(o, 0x33, s);
            if (numaslab_usable_size(o) < s)
                shortu++;
            if (numaslab_ptr_node(o) != nodes[i])
                wrong++;
            if (!kernel_on_node(o, s, nodes[i]))
                koff++;
            numaslab_free(o);
        }
        CHECK(nulls2 == 0 && shortu == 0 && wrong == 0 && koff == 0,
              "numaslab_alloc_node(s, 0, %d) for %d sizes: %zu NULL, %zu short, %zu with another "
              "numaslab_ptr_node, %zu elsewhere by the kernel",
              nodes[i], k, nulls2, shortu, wrong, koff);
    }
}

static void test_zero_size(void)
{
    tu_case("zero size");
    enum { N = 100 };
    void *v[N], *w[N];
    size_t nulls = 0, dups;
    struct tu_capture cap;
    char *err;

    tu_capture_begin(&cap);
    for (int i = 0; i < N; i++) {
        v[i] = numaslab_alloc(0, 0);
        if (!v[i])
            nulls++;
        w[i] = v[i];
    }
    err = tu_capture_end(&cap);
    dups = tu_duplicates(w, N);
    CHECK(nulls == 0, "numaslab_alloc(0) x%d: %zu NULL", N, nulls);
    CHECK(dups == 0, "the %d size-0 pointers are distinct while live (%zu duplicates)", N, dups);
    CHECK(*err == '\0', "size 0 allocations print nothing");
    free(err);

    tu_capture_begin(&cap);
    for (int i = 0; i < N; i++)
        numaslab_free(v[i]);
    err = tu_capture_end(&cap);
    CHECK(*err == '\0', "numaslab_free accepts every size-0 pointer silently");
    tu_show("stderr", err);
    free(err);

    for (int i = 0; i < nnodes; i++) {
        void *a, *b;
        tu_capture_begin(&cap);
        a = numaslab_alloc_node(0, 0, nodes[i]);
        b = numaslab_alloc_node(0, 0, nodes[i]);
        numaslab_free(a);
        numaslab_free(b);
        err = tu_capture_end(&cap);
        CHECK(a && b && a != b && *err == '\0',
              "numaslab_alloc_node(0, 0, %d) twice: %p, %p, distinct, freed silently", nodes[i], a,
              b);
        free(err);
    }
}

static void test_overflow(void)
{
    tu_case("overflow");
    static const size_t sizes[] = {
        SIZE_MAX,         SIZE_MAX - 1,    SIZE_MAX - 4095, SIZE_MAX - 8192,
        SIZE_MAX / 2 + 1, (size_t)1 << 62, (size_t)1 << 56,
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        void *p, *q;
        int e1, e2;
        errno = 0;
        p = numaslab_alloc(sizes[i], 0);
        e1 = errno;
        errno = 0;
        q = numaslab_alloc_node(sizes[i], 0, nodes[0]);
        e2 = errno;
        CHECK(p == NULL && e1 == ENOMEM && q == NULL && e2 == ENOMEM,
              "size %#zx: numaslab_alloc -> %p errno %d, numaslab_alloc_node -> %p errno %d "
              "(want NULL, ENOMEM)",
              sizes[i], p, e1, q, e2);
        numaslab_free(p);
        numaslab_free(q);
    }
}

static void test_large(void)
{
    tu_case("large sizes");
    static const size_t sizes[] = {NUMASLAB_MAX_SMALL + 1, 12288, 65537, 1 << 20, (3 << 20),
                                   (3 << 20) + 1};
    size_t ps = (size_t)tu_pagesize();

    for (int i = 0; i < nnodes; i++) {
        int node = nodes[i];
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
            size_t s = sizes[k];
            struct numaslab_node_stats st0, st1, st2;
            void *p;
            size_t off, np;
            int bad, pn;

            memset(&st0, 0, sizeof(st0));
            memset(&st1, 0, sizeof(st1));
            memset(&st2, 0, sizeof(st2));
            /* A freed large object waits in its thread's cache, counted
             * as live, until the thread flushes. */
            numaslab_thread_flush();
            numaslab_stats_node(node, &st0);
            p = numaslab_alloc_node(s, 0, node);
            if (!CHECK(p != NULL, "numaslab_alloc_node(%zu, 0, %d) returns memory (%s)", s, node,
                       p ? "ok" : strerror(errno)))
                continue;
            tu_fill(p, s, s ^ (uintptr_t)p);
            pn = numaslab_ptr_node(p);
            off = kernel_pages_off_node(p, s, node, &bad, &np);
            CHECK((uintptr_t)p % ps == 0 && numaslab_usable_size(p) >= s && pn == node &&
                      off == 0 && tu_verify(p, s, s ^ (uintptr_t)p),
                  "large %zu on node %d: %p page aligned: %s, usable %zu, numaslab_ptr_node %d, "
                  "kernel: %zu of %zu pages elsewhere (first: %d), contents kept",
                  s, node, p, (uintptr_t)p % ps == 0 ? "yes" : "no", numaslab_usable_size(p), pn,
                  off, np, off ? bad : node);
            numaslab_stats_node(node, &st1);
            numaslab_free(p);
            numaslab_thread_flush();
            numaslab_stats_node(node, &st2);
            CHECK(st1.large_allocs == st0.large_allocs + 1 && st2.large_allocs == st0.large_allocs,
                  "node %d large_allocs: %llu before, %llu while live, %llu after free and a flush",
                  node, (unsigned long long)st0.large_allocs, (unsigned long long)st1.large_allocs,
                  (unsigned long long)st2.large_allocs);
        }
    }

    /* numaslab_alloc (local node) of 3 MiB */
    {
        size_t s = 3 << 20;
        int local = numaslab_local_node();
        void *p = numaslab_alloc(s, 0);
        if (CHECK(p != NULL, "numaslab_alloc(3 MiB) returns memory")) {
            memset(p, 0x77, s);
            CHECK(numaslab_ptr_node(p) == local && kernel_on_node(p, s, local),
                  "numaslab_alloc(3 MiB): numaslab_ptr_node %d, local node %d, kernel agrees: %s",
                  numaslab_ptr_node(p), local, kernel_on_node(p, s, local) ? "yes" : "no");
            numaslab_free(p);
        }
    }
}

int main(void)
{
    tu_init("test-sizeclass");
    tu_pin_self();
    nnodes = tu_active_nodes(nodes, MAXNODES);
    REQUIRE(nnodes >= 1, "no active node (max node %d)", numaslab_max_node());
    tu_info("%d active node(s), local node %d", nnodes, numaslab_local_node());

    test_small();
    test_zero_size();
    test_overflow();
    test_large();
    return tu_exit();
}
