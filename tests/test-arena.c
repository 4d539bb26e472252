/*
 * test-arena - the slab arena (numaslab(7), The slab arena): 64 KiB slabs
 * of every active node lie in one reserved mapping per node, bound to that
 * node, with their pages where the kernel says; a span used up hands out
 * slabs mapped one by one, which work as well; NUMASLAB_ARENA=0 turns it
 * off; freed slabs' pages really go back to the system; a pointer into
 * the arena that is no slab is refused with the usual message and nothing
 * is lost; a malformed NUMASLAB_ARENA is reported.  Under memcheck, where
 * the default is no arena, the cases that need one ask for 256 MiB.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#define MAXNODES 1024
#define CHUNK    (64 * 1024)
#define NOBJ     20000

/* The mapping of /proc/self/maps that holds p: 0 and [*lo, *hi), or -1. */
static int vma_of(const void *p, uintptr_t *lo, uintptr_t *hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int found = -1;
    if (!f)
        return -1;
    while (found < 0 && fgets(line, sizeof(line), f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx", &a, &b) == 2 && (uintptr_t)p >= a && (uintptr_t)p < b) {
            *lo = a;
            *hi = b;
            found = 0;
        }
    }
    fclose(f);
    return found;
}

/* The numa_maps policy of the mapping that starts at lo ("bind:1"), into
 * buf; "" when there is none. */
static const char *policy_of(uintptr_t lo, char *buf, size_t n)
{
    FILE *f = fopen("/proc/self/numa_maps", "r");
    char line[4096];
    buf[0] = '\0';
    if (!f)
        return buf;
    while (fgets(line, sizeof(line), f)) {
        unsigned long a;
        char pol[64];
        if (sscanf(line, "%lx %63s", &a, pol) == 2 && a == lo) {
            snprintf(buf, n, "%s", pol);
            break;
        }
    }
    fclose(f);
    return buf;
}

static void *objs[NOBJ];

/* Where the arena is off by default (numaslab(7), NUMASLAB_ARENA):
 * under valgrind's memcheck, known by its preload library, and under a
 * strict overcommit policy. */
static int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    if (p && strstr(p, "vgpreload_memcheck"))
        return 1;
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int mode = 0;
    if (f) {
        if (fscanf(f, "%d", &mode) != 1)
            mode = 0;
        fclose(f);
    }
    return mode == 2;
}

/* Restart the library with NUMASLAB_ARENA set to v (NULL: the default,
 * or 256 MiB under valgrind). */
static void restart(const char *v)
{
    numaslab_fini();
    if (!v && under_valgrind())
        v = "256M";
    if (v)
        setenv("NUMASLAB_ARENA", v, 1);
    else
        unsetenv("NUMASLAB_ARENA");
    REQUIRE(numaslab_init(NULL) == 0, "numaslab_init with NUMASLAB_ARENA=%s: %s", v ? v : "(unset)",
            strerror(errno));
}

struct bad_free {
    void *p;
};

static void free_it(void *arg)
{
    numaslab_free(((struct bad_free *)arg)->p);
}

/* Free p, expected refused: the message names the call and p, and the
 * lookups agree that it is not numaslab's. */
static void check_refused(const char *what, void *p)
{
    struct bad_free b = {p};
    char want[64], *err;
    snprintf(want, sizeof(want), "%p", p);
    err = tu_capture_stderr(free_it, &b);
    CHECK(strstr(err, "numaslab_free") && strstr(err, want) &&
              strstr(err, "was not allocated by numaslab"),
          "%s: numaslab_free(%p) is refused, naming the call and the pointer", what, p);
    tu_show("stderr", err);
    free(err);
    CHECK(numaslab_ptr_node(p) == -EINVAL && numaslab_usable_size(p) == 0,
          "%s: numaslab_ptr_node says -EINVAL and numaslab_usable_size 0", what);
}

int main(void)
{
    tu_init("test-arena");
    /* The refused frees below are reported and go on, in a debug build too. */
    setenv("NUMASLAB_ABORT", "0", 1);
    int nodes[MAXNODES];
    restart(NULL);
    int nn = tu_active_nodes(nodes, MAXNODES);
    REQUIRE(nn > 0, "no active node");
    char pol[64];

    /* Each node's 64 KiB slabs in one reserved mapping, bound to it. */
    tu_case("the slabs of every node lie in its own bound span of the arena");
    uintptr_t span_lo[MAXNODES], span_hi[MAXNODES];
    for (int i = 0; i < nn; i++) {
        int node = nodes[i];
        void *a = numaslab_alloc_node(64, NUMASLAB_THISNODE, node);
        void *b = numaslab_alloc_node(4096, NUMASLAB_THISNODE, node);
        REQUIRE(a && b, "allocations on node %d: %s", node, strerror(errno));
        memset(a, 1, 64);
        memset(b, 1, 4096);
        uintptr_t lo = 0, hi = 0, lo2 = 0, hi2 = 0;
        CHECK(vma_of(a, &lo, &hi) == 0 && vma_of(b, &lo2, &hi2) == 0 && lo == lo2 && hi == hi2,
              "node %d: a 64-byte and a 4096-byte object lie in one mapping", node);
        CHECK(hi - lo >= ((uintptr_t)256 << 20),
              "node %d: that mapping is a reservation (%lu MiB), not one slab", node,
              (unsigned long)((hi - lo) >> 20));
        if (!tu_simulated()) {
            char want[32];
            snprintf(want, sizeof(want), "bind:%d", node);
            CHECK(!strcmp(policy_of(lo, pol, sizeof(pol)), want),
                  "node %d: the kernel has the mapping bound to it (%s)", node, pol);
        }
        CHECK(kernel_node_of(a) == node && kernel_node_of(b) == node,
              "node %d: the kernel has both objects' pages there (%d, %d)", node, kernel_node_of(a),
              kernel_node_of(b));
        for (int j = 0; j < i && !tu_simulated(); j++) /* unbound spans merge */
            CHECK(hi <= span_lo[j] || lo >= span_hi[j], "node %d's span does not overlap node %d's",
                  node, nodes[j]);
        span_lo[i] = lo;
        span_hi[i] = hi;
        numaslab_free(a);
        numaslab_free(b);
    }

    /* Freed slabs: their pages go back, as the kernel counts them. */
    tu_case("slabs freed with no retention give their pages back");
    setenv("NUMASLAB_RETAIN_BYTES", "0", 1);
    setenv("NUMASLAB_RETAIN", "0", 1);
    restart(NULL);
    unsigned long long m0 = numaslab_bytes_mapped();
    for (int i = 0; i < NOBJ; i++)
        REQUIRE((objs[i] = numaslab_alloc(256, 0)), "alloc %d: %s", i, strerror(errno));
    unsigned long long m1 = numaslab_bytes_mapped();
    CHECK(m1 >= m0 + (unsigned long long)NOBJ * 256,
          "%d objects of 256 bytes map at least their bytes (%llu -> %llu)", NOBJ, m0, m1);
    tu_check_kernel_mapped("with the objects allocated");
    void *stale = objs[NOBJ / 2];
    for (int i = 0; i < NOBJ; i++)
        numaslab_free(objs[i]);
    numaslab_thread_flush();
    unsigned long long m2 = numaslab_bytes_mapped();
    CHECK(m2 + (unsigned long long)NOBJ * 256 / 2 <= m1,
          "freeing them gives most back (%llu -> %llu bytes mapped)", m1, m2);
    tu_check_kernel_mapped("with the objects freed");

    /* A pointer into the arena that is no slab now, and one never used. */
    tu_case("a pointer into the arena that holds no slab is refused");
    uintptr_t lo = 0, hi = 0;
    if (vma_of(stale, &lo, &hi) == 0 && hi - lo >= ((uintptr_t)256 << 20)) {
        check_refused("a slab given back", stale);
        check_refused("a chunk never used", (char *)hi - CHUNK + 128);
        void *p = numaslab_alloc(256, 0);
        CHECK(p != NULL, "allocation still works after the refusals");
        numaslab_free(p);
    } else {
        CHECK(0, "the freed object's mapping is the arena (%lu MiB)",
              (unsigned long)((hi - lo) >> 20));
    }
    unsetenv("NUMASLAB_RETAIN_BYTES");
    unsetenv("NUMASLAB_RETAIN");

    /* A small span: 16 chunks, then slabs mapped one by one. */
    tu_case("a span used up: further slabs are mapped one by one and work");
    restart("1M");
    int node = nodes[0];
    size_t in = 0, out = 0;
    uintptr_t alo = 0, ahi = 0;
    int wrong = 0;
    for (int i = 0; i < 1000; i++) {
        REQUIRE((objs[i] = numaslab_alloc_node(4096, NUMASLAB_THISNODE, node)), "alloc %d: %s", i,
                strerror(errno));
        memset(objs[i], (int)i, 4096);
        uintptr_t l, h;
        REQUIRE(vma_of(objs[i], &l, &h) == 0, "no mapping holds %p", objs[i]);
        if (i == 0) {
            alo = l;
            ahi = h;
        }
        if (l == alo && h == ahi)
            in++;
        else
            out++;
        wrong += numaslab_ptr_node(objs[i]) != node;
    }
    CHECK(wrong == 0, "every object is on node %d (%d are not)", node, wrong);
    /* One mapping per node's span; a simulated machine's spans, bound to
     * nothing, merge into one. */
    CHECK((ahi - alo) % ((uintptr_t)1 << 20) == 0 && ahi - alo <= (uintptr_t)nn << 20,
          "NUMASLAB_ARENA=1M reserves 1 MiB per node (a mapping of %lu KiB, %d nodes)",
          (unsigned long)((ahi - alo) >> 10), nn);
    CHECK(in > 0 && in <= 16 * 15 && out > 0,
          "the first slabs come from the span (%zu objects), the rest from mappings of "
          "their own (%zu)",
          in, out);
    CHECK(kernel_on_node(objs[999], 4096, node), "the kernel has the last object on node %d", node);
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        const unsigned char *b = objs[i];
        bad += b[0] != (unsigned char)i || b[4095] != (unsigned char)i;
        numaslab_free(objs[i]);
    }
    CHECK(bad == 0, "every object kept its bytes (%d did not)", bad);
    numaslab_thread_flush();
    tu_check_kernel_mapped("with the span used up and everything freed");

    /* No arena. */
    tu_case("NUMASLAB_ARENA=0: no arena, slabs mapped one by one");
    restart("0");
    void *p = numaslab_alloc_node(64, NUMASLAB_THISNODE, node);
    REQUIRE(p, "alloc: %s", strerror(errno));
    memset(p, 1, 64);
    CHECK(vma_of(p, &lo, &hi) == 0 && hi - lo < ((uintptr_t)256 << 20),
          "the object's mapping is no reservation (%lu KiB)", (unsigned long)((hi - lo) >> 10));
    CHECK(kernel_node_of(p) == node, "the kernel has it on node %d", node);
    numaslab_free(p);

    /* A malformed value: reported, the default applies. */
    tu_case("a malformed NUMASLAB_ARENA is reported and the default applies");
    numaslab_fini();
    setenv("NUMASLAB_ARENA", "12Q", 1);
    struct tu_capture cap;
    tu_capture_begin(&cap);
    int rc = numaslab_init(NULL);
    char *err = tu_capture_end(&cap);
    CHECK(rc == 0 && strstr(err, "NUMASLAB_ARENA=\"12Q\"") && strstr(err, "using the default"),
          "numaslab_init reports NUMASLAB_ARENA=\"12Q\" and goes on");
    tu_show("stderr", err);
    free(err);
    p = numaslab_alloc_node(64, NUMASLAB_THISNODE, node);
    REQUIRE(p, "alloc: %s", strerror(errno));
    if (under_valgrind())
        CHECK(vma_of(p, &lo, &hi) == 0 && hi - lo < ((uintptr_t)256 << 20),
              "where the default is no arena (memcheck, strict overcommit): a mapping of %lu KiB",
              (unsigned long)((hi - lo) >> 10));
    else
        CHECK(vma_of(p, &lo, &hi) == 0 && hi - lo >= ((uintptr_t)256 << 20),
              "the default arena is there (%lu MiB)", (unsigned long)((hi - lo) >> 20));
    numaslab_free(p);
    numaslab_fini();
    CHECK(numaslab_bytes_mapped() == 0, "numaslab_fini(): nothing mapped");
    return tu_exit();
}
