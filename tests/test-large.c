/*
 * test-large - large objects and the page layer under them (numaslab(7),
 * LARGE OBJECTS AND THE PAGE CACHE):
 *   - objects of 16 KiB, 64 KiB, 200,000 B, 256 KiB and 1 MiB alternate
 *     between the active nodes, several rounds, so that every round gets
 *     the runs the round before freed; every page of every object is on
 *     the node asked for, by the kernel's word (move_pages);
 *   - a long random mix of held and freed objects of random sizes on
 *     random nodes: the same, for every object;
 *   - a freed run is reused: no new mapping, the same node, zeroed on
 *     NUMASLAB_ZERO; interior, foreign and double frees are refused;
 *   - memory is bounded: once everything is freed, the bytes mapped are
 *     within what was mapped at the start (reserves, slabs) plus the
 *     retention limit of each node; with the limit lifted (the internal
 *     nslab__pages_set_retain, standing in for a page layer that never
 *     gives back), the same check fails;
 *   - objects of 2 MiB and more are 2 MiB-aligned and, where the kernel
 *     has transparent huge pages, advised (VmFlags "hg" in smaps);
 *     NUMASLAB_THP=0 turns that off (--no-thp, run by the test itself);
 *   - the statistics: large_bytes, huge_bytes, page_cached.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"
#include "config.h" /* NSLAB_DEBUG: a debug build's objects carry no cookie */

#define NSLAB_TEST_COOKIES (NSLAB_DEBUG == 0)

#include <sys/wait.h>

/* lib/pages.c: every node's retention limit (test use only). */
void nslab__pages_set_retain(uint64_t bytes);
/* lib/slab.c: slabs made again from their image (lib/slab.h). */
extern uint64_t nslab_slab_images;
/* lib/pages.h: the slab arena (bytes 0: none). */
extern struct {
    uintptr_t base, bytes;
} nslab_arena;

#define MAXN    64
#define HUGE_SZ ((size_t)2 << 20)

static int nodes[MAXN], nnodes;
static size_t page;

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static struct numaslab_node_stats nstats(int node)
{
    struct numaslab_node_stats st;
    memset(&st, 0, sizeof(st));
    numaslab_stats_node(node, &st);
    return st;
}

/* Write one byte per page, then ask the kernel where each page is. */
static int placed(void *p, size_t size, int node, const char *what)
{
    for (size_t off = 0; off < size; off += page)
        ((volatile char *)p)[off] = 1;
    ((volatile char *)p)[size - 1] = 1;
    int bad = node;
    size_t n = 0;
    size_t off = kernel_pages_off_node(p, size, node, &bad, &n);
    if (off)
        tu_info("%s: %zu of %zu pages of %p (%zu bytes) off node %d (first: %d)", what, off, n, p,
                size, node, bad);
    return off == 0;
}

static void test_rounds(void)
{
    tu_case("rounds of large objects");
    static const size_t sizes[] = {16384, 65536, 200000, 262144, 1048576};
    enum { NS = sizeof(sizes) / sizeof(sizes[0]), ROUNDS = 6 };
    void *v[NS * 4];
    int bad = 0, total = 0, nulls = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int k = 0;
        for (int rep = 0; rep < 4; rep++)
            for (int s = 0; s < NS; s++, k++) {
                /* The node moves on with every object and every round:
                 * a run freed for one node is asked for by another. */
                int node = nodes[(k + round) % nnodes];
                v[k] = numaslab_alloc_node(sizes[s], NUMASLAB_THISNODE, node);
                total++;
                if (!v[k]) {
                    nulls++;
                    continue;
                }
                if (numaslab_ptr_node(v[k]) != node || numaslab_usable_size(v[k]) < sizes[s] ||
                    !placed(v[k], sizes[s], node, "round"))
                    bad++;
            }
        for (int i = 0; i < k; i++)
            numaslab_free(v[i]);
    }
    CHECK(nulls == 0 && bad == 0,
          "%d objects of 16K/64K/200000/256K/1M alternating over %d node(s), %d rounds: %d NULL, "
          "%d with a page off the node asked for (kernel)",
          total, nnodes, ROUNDS, nulls, bad);
}

static void test_random_mix(int ops)
{
    tu_case("random mix");
    enum { SLOTS = 96 };
    void *v[SLOTS] = {0};
    size_t sz[SLOTS] = {0};
    int nd[SLOTS] = {0};
    int bad = 0, nulls = 0, allocs = 0;
    for (int i = 0; i < ops; i++) {
        int k = (int)(rnd() % SLOTS);
        if (v[k]) {
            numaslab_free(v[k]);
            v[k] = NULL;
            continue;
        }
        /* 12 KiB to 2.5 MiB, most of them small */
        size_t size = NUMASLAB_MAX_SMALL + 1 + (size_t)(rnd() % (rnd() % 4 ? 300000 : 2600000));
        int node = nodes[rnd() % (uint64_t)nnodes];
        v[k] = numaslab_alloc_node(size, NUMASLAB_THISNODE, node);
        allocs++;
        if (!v[k]) {
            nulls++;
            continue;
        }
        sz[k] = size;
        nd[k] = node;
        if (!placed(v[k], size, node, "mix"))
            bad++;
    }
    /* What is still held was not moved by the frees around it. */
    tu_case("what is still held was not moved by the frees around it");
    for (int k = 0; k < SLOTS; k++)
        if (v[k]) {
            if (!kernel_on_node(v[k], sz[k], nd[k]))
                bad++;
            numaslab_free(v[k]);
        }
    CHECK(nulls == 0 && bad == 0,
          "a random mix of %d operations (%d allocations of 12K..2.5M on random nodes): %d NULL, "
          "%d objects with a page off their node (kernel)",
          ops, allocs, nulls, bad);
}

static int nonzero(const char *p, size_t n)
{
    size_t nz = 0;
    for (size_t i = 0; i < n; i++)
        nz += p[i] != 0;
    return (int)nz;
}

static char *refusal(void (*fn)(void *), void *arg)
{
    char *msg = tu_capture_stderr(fn, arg);
    return msg ? msg : strdup("(nothing)");
}

static void free_it(void *p)
{
    numaslab_free(p);
}

/* Up to 1 MiB, a freed object waits in its thread's cache, whole. */
static void test_reuse_thread(void)
{
    tu_case("up to 1 MiB, a freed object waits in its thread's cache, whole");
    int node = nodes[nnodes - 1];
    size_t size = 300000, bytes = (size + page - 1) / page * page;
    char *p = numaslab_alloc_node(size, NUMASLAB_THISNODE, node);
    REQUIRE(p, "a large object on node %d", node);
    memset(p, 0xa5, size);
    CHECK(numaslab_usable_size(p) == bytes, "usable size %zu == the whole pages %zu",
          numaslab_usable_size(p), bytes);
    CHECK(numaslab_ptr_node(p + 5 * page) == node, "an interior pointer's node is %d (%d)", node,
          numaslab_ptr_node(p + 5 * page));
    struct numaslab_node_stats a = nstats(node);
    CHECK(a.large_bytes >= bytes, "large_bytes counts it (%llu)",
          (unsigned long long)a.large_bytes);
    numaslab_free(p);
    char *msg = refusal(free_it, p);
    CHECK(strstr(msg, "double free"), "a double free of it, cached by its thread, is refused: %s",
          msg);
    free(msg);
    /* Taken now, with the object in the thread's cache: putting it there
     * may have evicted the node's oldest cached runs (the cache and what
     * threads hold share NUMASLAB_RETAIN_BYTES), taking it back maps and
     * unmaps nothing. */
    a = nstats(node);
    char *q = numaslab_alloc_node(size, NUMASLAB_THISNODE | NUMASLAB_ZERO, node);
    struct numaslab_node_stats b = nstats(node);
    CHECK(q == p && b.bytes_mapped == a.bytes_mapped && b.page_cached == a.page_cached,
          "the same size again is the same object, from the thread's cache (%p, %p; bytes mapped "
          "%llu -> %llu, cached %llu -> %llu)",
          (void *)p, (void *)q, (unsigned long long)a.bytes_mapped,
          (unsigned long long)b.bytes_mapped, (unsigned long long)a.page_cached,
          (unsigned long long)b.page_cached);
    CHECK(q && !nonzero(q, size), "NUMASLAB_ZERO zeroes it");
    CHECK(q && kernel_on_node(q, size, node), "and it is on node %d (kernel)", node);
    numaslab_free(q);
    numaslab_thread_flush();
    struct numaslab_node_stats c = nstats(node);
    CHECK(c.large_bytes + bytes <= a.large_bytes && c.page_cached >= bytes,
          "numaslab_thread_flush gives it to the page layer (large_bytes %llu, cached %llu)",
          (unsigned long long)c.large_bytes, (unsigned long long)c.page_cached);
}

/* The thread's cache serves a request with the most recent object of its
 * length, else with the shortest at most an eighth or a page longer
 * (whichever is more), else not. */
static void test_reuse_fit(void)
{
    tu_case("the thread's cache serves a request from an object at most an eighth or a page "
            "longer");
    int node = nodes[0];
    size_t big = 72 * 1024, fits = 68 * 1024, far = 40 * 1024;
    char *a = numaslab_alloc_node(big, NUMASLAB_THISNODE, node);
    char *b = numaslab_alloc_node(big + 4096, NUMASLAB_THISNODE, node);
    char *c = numaslab_alloc_node(far, NUMASLAB_THISNODE, node);
    REQUIRE(a && b && c, "three large objects on node %d", node);
    memset(a, 0x5a, big);
    numaslab_free(b); /* the cache: b, then a, then c, most recent last */
    numaslab_free(a);
    numaslab_free(c);
    char *q = numaslab_alloc_node(fits, NUMASLAB_THISNODE | NUMASLAB_ZERO, node);
    CHECK(q == a, "68 KiB takes the freed 72 KiB object, the shortest that fits (%p, want %p)",
          (void *)q, (void *)a);
    CHECK(q && numaslab_usable_size(q) >= fits && !nonzero(q, fits),
          "its usable size covers the request (%zu) and NUMASLAB_ZERO zeroes what was asked",
          q ? numaslab_usable_size(q) : 0);
    char *r = numaslab_alloc_node(32 * 1024, NUMASLAB_THISNODE, node);
    CHECK(r && r != c && r != b, "32 KiB takes neither the 40 KiB nor the 76 KiB object (%p)",
          (void *)r);
    char *s2 = numaslab_alloc_node(far, NUMASLAB_THISNODE, node);
    CHECK(s2 == c, "40 KiB again takes its own object back (%p, want %p)", (void *)s2, (void *)c);
    /* A few pages: one page longer fits, two do not. */
    char *d = numaslab_alloc_node(16 * 1024, NUMASLAB_THISNODE, node);
    char *e = numaslab_alloc_node(28 * 1024, NUMASLAB_THISNODE, node);
    REQUIRE(d && e, "two more large objects on node %d", node);
    numaslab_free(d);
    numaslab_free(e);
    char *f = numaslab_alloc_node(12 * 1024, NUMASLAB_THISNODE, node);
    CHECK(f == d, "12 KiB takes the freed 16 KiB object, one page longer (%p, want %p)", (void *)f,
          (void *)d);
    char *g = numaslab_alloc_node(16 * 1024 + 1, NUMASLAB_THISNODE, node);
    CHECK(g && g != e, "16 KiB and a byte (5 pages) does not take the 28 KiB object (%p)",
          (void *)g);
    numaslab_free(q);
    numaslab_free(r);
    numaslab_free(s2);
    numaslab_free(f);
    numaslab_free(g);
    numaslab_thread_flush();
}

/* A slab's arena chunk in the page cache is made again for its cache as
 * it was left: every object free, with its free cookie, none written. */
#define IMG_N 5000 /* 64-byte objects: five slabs, three beyond the retention */
static void *img[IMG_N];

static void test_slab_image(void)
{
    tu_case("a cached slab chunk is made again for its cache without writing its cookies");
    numaslab_cache_t *c = numaslab_cache_create("test-image", 64, 0, 0, NULL);
    REQUIRE(c, "numaslab_cache_create: %s", strerror(errno));
    int node = nodes[0];
    for (int round = 0; round < 2; round++) {
        uint64_t before = __atomic_load_n(&nslab_slab_images, __ATOMIC_RELAXED);
        for (int i = 0; i < IMG_N; i++)
            REQUIRE((img[i] = numaslab_cache_alloc_node(c, NUMASLAB_THISNODE, node)), "alloc %d",
                    i);
        uint64_t made = __atomic_load_n(&nslab_slab_images, __ATOMIC_RELAXED) - before;
        if (round == 1 && NSLAB_TEST_COOKIES && nslab_arena.bytes)
            CHECK(made >= 1, "the second round's new slabs come from their images (%llu)",
                  (unsigned long long)made);
        /* The object after the last one handed out was never handed out:
         * its free is refused, which only its cookie tells on this path. */
        char *never = (char *)img[IMG_N - 1] + 64;
        if (numaslab_usable_size(never) == 64) {
            char *msg = refusal(free_it, never);
            CHECK(strstr(msg, "double free") || strstr(msg, "not"),
                  "round %d: a free of an object never handed out is refused: %s", round, msg);
            free(msg);
        }
        for (int i = 0; i < IMG_N; i++)
            numaslab_cache_free(c, img[i]);
        numaslab_thread_flush();
    }
    CHECK(numaslab_cache_destroy(c) == 0, "the cache is destroyed");
}

/* Above that, the run goes back to the page layer's cache of its node. */
static void test_reuse_pages(void)
{
    tu_case("above 1 MiB, the run goes to the node's page cache");
    int node = nodes[nnodes - 1];
    size_t size = (3u << 19) + 100, bytes = (size + page - 1) / page * page;
    char *p = numaslab_alloc_node(size, NUMASLAB_THISNODE, node);
    REQUIRE(p, "an object of %zu bytes on node %d", size, node);
    memset(p, 0xa5, size);
    char *msg = refusal(free_it, p + page);
    CHECK(strstr(msg, "inside the large object"), "an interior free is refused: %s", msg);
    free(msg);
    CHECK(numaslab_usable_size(p) == bytes, "and the object is intact (%zu)",
          numaslab_usable_size(p));
    numaslab_free(p);
    struct numaslab_node_stats a = nstats(node);
    CHECK(a.page_cached >= bytes, "the freed run is cached (%llu bytes on node %d)",
          (unsigned long long)a.page_cached, node);
    CHECK(numaslab_ptr_node(p) < 0 && numaslab_usable_size(p) == 0,
          "a freed large object has no node (%d) and no size (%zu)", numaslab_ptr_node(p),
          numaslab_usable_size(p));
    msg = refusal(free_it, p);
    CHECK(strstr(msg, "not allocated"), "a double free of it is refused: %s", msg);
    free(msg);
    /* A request larger than the machine fails, and keeps the caches: no
     * node's cached runs are given back for it. */
    tu_case("a request larger than the machine fails, and keeps the caches");
    errno = 0;
    void *huge = numaslab_alloc_node((size_t)1 << 45, 0, node);
    int e = errno;
    uint64_t kept = nstats(node).page_cached;
    CHECK(!huge && e == ENOMEM && kept == a.page_cached,
          "32 TiB: NULL (%s) and the page cache keeps its %llu bytes (%llu)", strerror(e),
          (unsigned long long)a.page_cached, (unsigned long long)kept);
    errno = 0;
    huge = numaslab_alloc_node(SIZE_MAX / 2 + 1, 0, node);
    CHECK(!huge && errno == ENOMEM, "SIZE_MAX / 2 + 1 bytes: NULL with ENOMEM (%s)",
          strerror(errno));
    char *q = numaslab_alloc_node(size, NUMASLAB_THISNODE | NUMASLAB_ZERO, node);
    REQUIRE(q, "the same size again");
    struct numaslab_node_stats b = nstats(node);
    CHECK(b.bytes_mapped == a.bytes_mapped && b.page_cached + bytes == a.page_cached,
          "it comes from the page cache: bytes mapped %llu -> %llu, cached %llu -> %llu",
          (unsigned long long)a.bytes_mapped, (unsigned long long)b.bytes_mapped,
          (unsigned long long)a.page_cached, (unsigned long long)b.page_cached);
    CHECK(!nonzero(q, size), "NUMASLAB_ZERO zeroes a recycled run");
    CHECK(kernel_on_node(q, size, node), "and it is on node %d (kernel)", node);
    numaslab_free(q);
}

/* Bytes mapped beyond the start, against the allowance: each node's
 * retention limit, and slack for slabs made on the way (the large
 * objects' headers, a few slabs each node retains). */
static int within_bound(uint64_t m0, uint64_t retain, const char *when)
{
    uint64_t m = numaslab_bytes_mapped();
    uint64_t slack = (uint64_t)nnodes * (1u << 20);
    uint64_t allow = m0 + retain * (uint64_t)nnodes + slack;
    int ok = m <= allow;
    for (int i = 0; i < nnodes; i++)
        ok &= nstats(nodes[i]).page_cached <= retain;
    tu_info("%s: %llu bytes mapped, %llu at the start, allowance %llu (retention %llu x %d "
            "node(s) + %llu)",
            when, (unsigned long long)m, (unsigned long long)m0, (unsigned long long)allow,
            (unsigned long long)retain, nnodes, (unsigned long long)slack);
    return ok;
}

static void churn(int rounds)
{
    enum { HELD = 48 };
    void *v[HELD];
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < HELD; i++)
            v[i] = numaslab_alloc_node(65536 + (size_t)(rnd() % (3u << 20)), 0,
                                       nodes[(size_t)(i + r) % (size_t)nnodes]);
        for (int i = 0; i < HELD; i++)
            numaslab_free(v[i]);
    }
    numaslab_thread_flush();
}

static void test_bounded(void)
{
    tu_case("the page cache is bounded");
    const uint64_t retain = 8u << 20;
    setenv("NUMASLAB_RETAIN_BYTES", "8M", 1);
    REQUIRE(numaslab_init(NULL) == 0, "numaslab_init with NUMASLAB_RETAIN_BYTES=8M");
    uint64_t m0 = numaslab_bytes_mapped();
    churn(6);
    CHECK(within_bound(m0, retain, "after 6 x 48 objects of 64K..3M"),
          "memory is bounded: what stays mapped is within the start plus the retention limit");
    /* Many small old runs in the cache (every other page of a one-page
     * pool), then large frees: each free must evict as many of them as
     * it takes, not a batch of them. */
    tu_case("many small old runs in the cache, then large frees");
    {
        int node = nodes[0];
        numaslab_mempool_t *pool = numaslab_page_pool_create(node, 0, 0);
        REQUIRE(pool, "a page pool of one-page elements on node %d", node);
        enum { NP = 6000, NL = 40 };
        static void *pg[NP], *lg[NL];
        int got = 0;
        for (int i = 0; i < NP; i++)
            got += (pg[i] = numaslab_mempool_alloc(pool, 0)) != NULL;
        for (int i = 0; i < NP; i += 2)
            if (pg[i])
                numaslab_mempool_free(pg[i], pool);
        size_t big = (3u << 19) + 4096; /* past the threads' caches, below 2 MiB */
        for (int i = 0; i < NL; i++)
            lg[i] = numaslab_alloc_node(big, NUMASLAB_THISNODE, node);
        uint64_t peak = 0;
        for (int i = 0; i < NL; i++) {
            numaslab_free(lg[i]);
            uint64_t c = nstats(node).page_cached;
            peak = c > peak ? c : peak;
        }
        CHECK(got == NP && peak <= retain,
              "with %d one-page runs cached first, %d frees of %zu bytes keep the page cache "
              "within the limit: at most %llu bytes, limit %llu",
              NP / 2, NL, big, (unsigned long long)peak, (unsigned long long)retain);
        for (int i = 1; i < NP; i += 2)
            if (pg[i])
                numaslab_mempool_free(pg[i], pool);
        numaslab_mempool_destroy(pool);
    }
    /* Break the bound on purpose: a page layer that keeps everything. */
    tu_case("break the bound on purpose: a page layer that keeps everything");
    nslab__pages_set_retain(UINT64_MAX / 4);
    churn(6);
    CHECK(!within_bound(m0, retain, "the same with no retention limit"),
          "the bound check fails when the page layer keeps everything");
    nslab__pages_set_retain(retain);
    numaslab_fini();
    CHECK(numaslab_bytes_mapped() == 0, "numaslab_fini() unmaps it all");
    unsetenv("NUMASLAB_RETAIN_BYTES");
}

static void test_thp(int on)
{
    tu_case("transparent huge pages");
    static const size_t sizes[] = {2u << 20, (3u << 20) + 12345, 8u << 20};
    int node = nodes[0];
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        /* A small object first, so that the address space is not
         * aligned by accident; then the same size twice (the second from
         * the page layer's cache). */
        void *junk = numaslab_alloc_node(20000, 0, node);
        char *p = numaslab_alloc_node(sizes[i], NUMASLAB_THISNODE, node);
        REQUIRE(p, "an object of %zu bytes", sizes[i]);
        if (on) {
            CHECK(((uintptr_t)p & (HUGE_SZ - 1)) == 0,
                  "an object of %zu bytes is 2 MiB-aligned (%p)", sizes[i], (void *)p);
            uint64_t hb = nstats(node).huge_bytes;
            CHECK(hb >= sizes[i] / HUGE_SZ * HUGE_SZ, "huge_bytes counts it (%llu)",
                  (unsigned long long)hb);
            if (tu_thp_kernel())
                CHECK(tu_vma_flag(p, "hg"),
                      "the kernel has it advised for huge pages (VmFlags hg)");
        } else {
            CHECK(!tu_vma_flag(p, "hg") && nstats(node).huge_bytes == 0,
                  "NUMASLAB_THP=0: an object of %zu bytes is not advised (huge_bytes %llu)",
                  sizes[i], (unsigned long long)nstats(node).huge_bytes);
        }
        CHECK(placed(p, sizes[i], node, "huge"), "and every page is on node %d (kernel)", node);
        numaslab_free(p);
        p = numaslab_alloc_node(sizes[i], NUMASLAB_THISNODE, node);
        REQUIRE(p, "the same again");
        if (on)
            CHECK(((uintptr_t)p & (HUGE_SZ - 1)) == 0 && (!tu_thp_kernel() || tu_vma_flag(p, "hg")),
                  "again, from the cache: 2 MiB-aligned and advised (%p)", (void *)p);
        numaslab_free(p);
        numaslab_free(junk);
    }
}

/* NUMASLAB_NODE_LIMIT=16M (a child): freed objects held in this thread's
 * cache must not make a later request fail for want of their memory. */
static int short_child(void)
{
    tu_case("child: freed large objects of this thread under NUMASLAB_NODE_LIMIT=16M");
    REQUIRE(numaslab_init(NULL) == 0, "numaslab_init");
    int node = numaslab_local_node();
    void *v[10];
    for (int i = 0; i < 10; i++) {
        v[i] = numaslab_alloc_node(1u << 20, NUMASLAB_THISNODE, node);
        REQUIRE(v[i], "1 MiB object %d under a 16 MiB node limit", i);
        memset(v[i], 1, 1u << 20);
    }
    for (int i = 0; i < 10; i++)
        numaslab_free(v[i]);
    struct numaslab_node_stats a = nstats(node);
    void *big = numaslab_alloc_node(12u << 20, NUMASLAB_THISNODE, node);
    struct numaslab_node_stats b = nstats(node);
    CHECK(big != NULL,
          "with 10 MiB of freed objects in the thread's cache (mapped %llu, large "
          "%llu), a 12 MiB object still fits under the 16 MiB limit: %s",
          (unsigned long long)a.bytes_mapped, (unsigned long long)a.large_bytes,
          big ? "allocated" : strerror(errno));
    CHECK(b.large_bytes <= (13u << 20), "the cached objects went back for it (large_bytes %llu)",
          (unsigned long long)b.large_bytes);
    numaslab_free(big);
    return tu_exit();
}

int main(int argc, char **argv)
{
    tu_init("test-large");
    page = (size_t)tu_pagesize();
    int no_thp = argc > 2 && !strcmp(argv[1], "--child") && !strcmp(argv[2], "--no-thp");
    if (argc > 2 && !strcmp(argv[1], "--child") && !strcmp(argv[2], "--short"))
        return short_child();
    if (no_thp) {
        nnodes = tu_active_nodes(nodes, MAXN);
        test_thp(0);
        return tu_exit();
    }
    unsetenv("NUMASLAB_THP");
    setenv("NUMASLAB_ABORT", "0", 1); /* the refusals below are reported, not fatal */
    REQUIRE(numaslab_init(NULL) == 0, "numaslab_init");
    nnodes = tu_active_nodes(nodes, MAXN);
    REQUIRE(nnodes > 0 && nnodes <= MAXN, "%d active node(s)", nnodes);
    tu_info("%d active node(s)", nnodes);
    test_rounds();
    test_random_mix(4000);
    test_reuse_thread();
    test_reuse_fit();
    test_slab_image();
    test_reuse_pages();
    test_thp(1);
    numaslab_fini();
    test_bounded();

    /* NUMASLAB_THP=0, in a child of its own. */
    tu_case("NUMASLAB_THP=0, in a child of its own");
    static const char *const thp_off[] = {"NUMASLAB_THP=0"};
    struct tu_child ch = tu_spawn_self("test-large", "--no-thp", thp_off, 1);
    CHECK(ch.status == 0, "NUMASLAB_THP=0 (a child): exit %d%s%s", ch.status, ch.out ? "\n" : "",
          ch.out ? ch.out : "");
    free(ch.out);
    free(ch.err);

    /* A node limit, in a child of its own. */
    tu_case("a node limit, in a child of its own");
    static const char *const limit[] = {"NUMASLAB_NODE_LIMIT=16M"};
    ch = tu_spawn_self("test-large", "--short", limit, 1);
    CHECK(ch.status == 0, "NUMASLAB_NODE_LIMIT=16M (a child): exit %d%s%s", ch.status,
          ch.out ? "\n" : "", ch.out ? ch.out : "");
    free(ch.out);
    free(ch.err);
    return tu_exit();
}
