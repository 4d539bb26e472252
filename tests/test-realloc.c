/*
 * test-realloc - numaslab_realloc and numaslab_alloc_aligned_node
 * (numaslab(3)):
 *   - realloc(NULL) allocates, size 0 frees; contents survive growing and
 *     shrinking across size classes, into large objects and back, on
 *     every active node, and the object stays on its node;
 *   - a size-class object stays in place while its class serves the new
 *     size; a large object shrinks in place, grows in place into the free
 *     run after it, and from 256 KiB moves by remapping: the kernel's
 *     page frame numbers (/proc/self/pagemap, as root) are the same after
 *     the move, so nothing was copied;
 *   - NUMASLAB_ZERO zeroes what is past the old object;
 *   - bad input: a pointer numaslab did not hand out, an object of a
 *     user's cache (EINVAL, a message), an impossible size (ENOMEM, the
 *     object untouched);
 *   - aligned objects at every power of two from 1 B to 1 MiB, of sizes
 *     across the classes and the large objects: aligned, usable for the
 *     size asked, on the node asked for, freed by numaslab_free;
 *     alignments 0 and 3 are EINVAL, an overflowing size ENOMEM.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdint.h>

#define MAXN 64

static int nodes[MAXN], nnodes;

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7);
}

static int same(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7))
            return 0;
    return 1;
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* The page frame of the page at p, 0 when the kernel does not say. */
static uint64_t pfn_of(const void *p)
{
    int fd = open("/proc/self/pagemap", O_RDONLY);
    uint64_t e = 0;
    if (fd < 0)
        return 0;
    off_t off = (off_t)((uintptr_t)p / (uintptr_t)tu_pagesize() * 8);
    if (pread(fd, &e, 8, off) != 8)
        e = 0;
    close(fd);
    return (e >> 63) ? (e & ((1ull << 55) - 1)) : 0;
}

static void contents_and_nodes(void)
{
    tu_case("contents and nodes");
    static const size_t sizes[] = {1, 24, 100, 700, 4000, 8192, 9000, 70000, 300000, 2 << 20, 50};
    for (int k = 0; k < nnodes; k++) {
        int node = nodes[k];
        unsigned char *p = numaslab_realloc(NULL, 16, 0);
        CHECK(p != NULL && numaslab_usable_size(p) >= 16,
              "numaslab_realloc(NULL, 16) allocates (%p)", (void *)p);
        numaslab_free(p);
        p = numaslab_alloc_node(16, 0, node);
        REQUIRE(p, "numaslab_alloc_node: %s", strerror(errno));
        fill(p, 16, 1);
        size_t have = 16;
        int ok = 1, on_node = 1;
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            size_t n = sizes[i];
            unsigned char *q = numaslab_realloc(p, n, 0);
            if (!q) {
                ok = 0;
                break;
            }
            size_t keep = have < n ? have : n;
            if (!same(q, keep, 1))
                ok = 0;
            if (numaslab_ptr_node(q) != node)
                on_node = 0;
            fill(q, n, 1);
            have = n;
            p = q;
        }
        CHECK(ok, "node %d: contents survive realloc through 1 B ... 2 MiB and back", node);
        CHECK(on_node, "node %d: the object stays on its node through every resize", node);
        errno = 0;
        CHECK(numaslab_realloc(p, 0, 0) == NULL && errno == 0,
              "realloc to size 0 frees and returns NULL, errno untouched");
    }
}

static void in_place(void)
{
    tu_case("in place");
    unsigned char *p = numaslab_alloc(100, 0);
    REQUIRE(p, "numaslab_alloc: %s", strerror(errno));
    CHECK(numaslab_realloc(p, 110, 0) == p, "100 -> 110 B: the same class, the same place");
    CHECK(numaslab_realloc(p, 70, 0) == p, "110 -> 70 B: shrinks by less than half, stays");
    unsigned char *q = numaslab_realloc(p, 20, 0);
    CHECK(q != NULL && q != p && numaslab_usable_size(q) < 100,
          "70 -> 20 B moves to a smaller class (usable %zu)", q ? numaslab_usable_size(q) : 0);
    numaslab_free(q);

    /* A large object shrinks in place. */
    size_t page = (size_t)tu_pagesize();
    p = numaslab_alloc(40 * page, 0);
    REQUIRE(p, "numaslab_alloc: %s", strerror(errno));
    fill(p, 40 * page, 3);
    q = numaslab_realloc(p, 20 * page + 5, 0);
    CHECK(q == p && same(q, 20 * page + 5, 3) && numaslab_usable_size(q) == 21 * page,
          "40 pages -> 20 pages + 5 B: in place, usable 21 pages (%zu)", numaslab_usable_size(q));

    numaslab_free(q);

    /* It grows in place into the free run after it: a 1 MiB object
     * shrunk to 64 KiB gave its last 960 KiB to the page layer, where
     * nothing else took them. */
    p = numaslab_alloc(1 << 20, 0);
    REQUIRE(p, "numaslab_alloc: %s", strerror(errno));
    CHECK(numaslab_realloc(p, 64 << 10, 0) == p, "1 MiB -> 64 KiB: in place");
    fill(p, 64 << 10, 5);
    q = numaslab_realloc(p, 1 << 20, NUMASLAB_ZERO);
    CHECK(q == p, "64 KiB -> 1 MiB, the free run after it: grown in place (%p, %p)", (void *)p,
          (void *)q);
    CHECK(q && same(q, 64 << 10, 5) && all_zero(q + (64 << 10), (1 << 20) - (64 << 10)),
          "the old bytes kept, NUMASLAB_ZERO zeroed the new ones");
    CHECK(q && numaslab_usable_size(q) == (1 << 20), "usable size 1 MiB (%zu)",
          q ? numaslab_usable_size(q) : 0);
    numaslab_free(q);

    /* From 256 KiB a move is a remap: the same page frames. */
    p = numaslab_alloc(512 << 10, 0);
    REQUIRE(p, "numaslab_alloc: %s", strerror(errno));
    fill(p, 512 << 10, 9);
    /* Something right after it, so that it cannot grow in place. */
    unsigned char *wall = numaslab_alloc(64 << 20, 0);
    uint64_t before = pfn_of(p);
    q = numaslab_realloc(p, 64 << 20, NUMASLAB_ZERO);
    CHECK(q && same(q, 512 << 10, 9) && all_zero(q + (512 << 10), (64 << 20) - (512 << 10)),
          "512 KiB -> 64 MiB: contents kept, the rest zero");
    CHECK(q && numaslab_ptr_node(q) == numaslab_ptr_node(wall),
          "the moved object is on its node (%d)", q ? numaslab_ptr_node(q) : -1);
    if (before && q) {
        uint64_t after = pfn_of(q);
        CHECK(after == before,
              "the first page's frame is the same after the move (%#llx, %#llx): "
              "remapped, not copied",
              (unsigned long long)before, (unsigned long long)after);
    } else {
        tu_info("page frame numbers are not shown to this process: remap not checked");
    }
    numaslab_free(q);
    numaslab_free(wall);
}

static void bad_input(void)
{
    tu_case("bad input");
    int local = 42;
    errno = 0;
    CHECK(numaslab_realloc(&local, 100, 0) == NULL && errno == EINVAL,
          "a pointer numaslab did not hand out: NULL, EINVAL (%s)", strerror(errno));
    numaslab_cache_t *c = numaslab_cache_create("test-realloc", 40, 0, 0, NULL);
    REQUIRE(c, "numaslab_cache_create: %s", strerror(errno));
    void *o = numaslab_cache_alloc(c, 0);
    REQUIRE(o, "numaslab_cache_alloc: %s", strerror(errno));
    errno = 0;
    CHECK(numaslab_realloc(o, 100, 0) == NULL && errno == EINVAL,
          "an object of a user's cache: NULL, EINVAL");
    numaslab_cache_free(c, o);
    CHECK(numaslab_cache_destroy(c) == 0, "the cache object was left alone, then freed");

    unsigned char *p = numaslab_alloc(300, 0);
    REQUIRE(p, "numaslab_alloc: %s", strerror(errno));
    fill(p, 300, 11);
    errno = 0;
    CHECK(numaslab_realloc(p, SIZE_MAX - 4096, 0) == NULL && errno == ENOMEM,
          "an impossible size: NULL, ENOMEM");
    CHECK(same(p, 300, 11) && numaslab_usable_size(p) >= 300, "and the object is untouched");
    numaslab_free(p);
}

static void aligned(void)
{
    tu_case("numaslab_alloc_aligned_node");
    static const size_t sizes[] = {0, 1, 24, 100, 1000, 5000, 8192, 70000};
    int bad = 0, checked = 0;
    for (int k = 0; k < nnodes; k++)
        for (size_t a = 1; a <= (1 << 20); a <<= 1)
            for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                size_t n = sizes[i];
                unsigned char *p = numaslab_alloc_aligned_node(n, a, 0, nodes[k]);
                checked++;
                if (!p || (uintptr_t)p % a || numaslab_usable_size(p) < n ||
                    numaslab_ptr_node(p) != nodes[k]) {
                    if (bad++ < 5)
                        printf("# align %zu size %zu node %d: %p usable %zu node %d\n", a, n,
                               nodes[k], (void *)p, p ? numaslab_usable_size(p) : 0,
                               p ? numaslab_ptr_node(p) : -1);
                    if (p)
                        numaslab_free(p);
                    continue;
                }
                memset(p, 0xa5, n);
                numaslab_free(p);
            }
    CHECK(bad == 0,
          "%d aligned objects (1 B ... 1 MiB alignment, 0 ... 70000 B, every node): "
          "aligned, usable, on their node (%d wrong)",
          checked, bad);
    errno = 0;
    CHECK(numaslab_alloc_aligned_node(10, 0, 0, -1) == NULL && errno == EINVAL,
          "alignment 0: EINVAL");
    errno = 0;
    CHECK(numaslab_alloc_aligned_node(10, 3, 0, -1) == NULL && errno == EINVAL,
          "alignment 3: EINVAL");
    errno = 0;
    CHECK(numaslab_alloc_aligned_node(SIZE_MAX - 10, 64, 0, -1) == NULL && errno == ENOMEM,
          "size + alignment overflows: ENOMEM");
    /* Small alignments take size classes: no whole page for 24 bytes. */
    void *p = numaslab_alloc_aligned_node(24, 32, 0, -1);
    CHECK(p && numaslab_usable_size(p) < (size_t)tu_pagesize(),
          "24 B at 32 B alignment comes from a size class (usable %zu)",
          p ? numaslab_usable_size(p) : 0);
    numaslab_free(p);
}

int main(void)
{
    tu_init("test-realloc");
    setenv("NUMASLAB_ABORT", "0", 1); /* the debug build's default: the bad input is a test */
    nnodes = tu_active_nodes(nodes, MAXN);
    REQUIRE(nnodes > 0, "no active node");
    in_place();
    contents_and_nodes();
    bad_input();
    aligned();
    return tu_exit();
}
