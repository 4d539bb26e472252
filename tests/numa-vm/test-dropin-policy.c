/*
 * test-dropin-policy - libnumaslab-malloc on a real multi-node kernel
 * (numaslab-malloc(3), Placement).  Started by guest-suite.sh under
 * LD_PRELOAD, behind numactl when the argument says so:
 *
 *   numactl --membind=N test-dropin-policy --node=N
 *   numactl --preferred=N test-dropin-policy --node=N
 *   numactl --interleave=A,B test-dropin-policy --interleave=A,B
 *   test-dropin-policy --local        (a thread on every node with CPUs)
 *   test-dropin-policy --home=A,B     (A's objects freed by a thread on B)
 *
 * The program links no numaslab library: malloc is the drop-in's, which
 * the first check confirms (its numaslab_ptr_node knows the objects).
 * Placement is the kernel's answer, move_pages on every page written.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <dlfcn.h>
#include <pthread.h>

#define MAXNODES 1024

static int (*ptr_node)(const void *);

/* Nodes of the pages of [p, p+n), written first, by the kernel's word:
 * on[node] counts them.  The number of pages, or -1 when move_pages
 * failed. */
static int where(void *p, size_t n, int *on)
{
    long page = tu_pagesize();
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(page - 1), end = (uintptr_t)p + n;
    int count = 0;
    memset(p, 0x5c, n);
    for (; a < end; a += (uintptr_t)page) {
        void *pg = (void *)a;
        int st = -1;
        if (move_pages(0, 1, &pg, NULL, &st, 0) != 0 || st < 0 || st >= MAXNODES)
            return -1;
        on[st]++;
        count++;
    }
    return count;
}

/* 1 when every page of [p, p+n) (written) is on node. */
static int pages_on(void *p, size_t n, int node)
{
    int on[MAXNODES] = {0};
    int k = p ? where(p, n, on) : -1;
    return k > 0 && node >= 0 && on[node] == k;
}

/* Objects of these sizes, each on node (or, with node -1, anywhere):
 * 1 when every page is there. */
static int all_on(int node, const char *what)
{
    static const size_t sizes[] = {64, 700, 5000, 100000, 3 << 20};
    int ok = 1;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        int on[MAXNODES] = {0};
        void *p = malloc(sizes[i]);
        int n = p ? where(p, sizes[i], on) : -1;
        if (n <= 0 || on[node] != n) {
            printf("# %s: %zu B at %p: %d of %d pages on node %d\n", what, sizes[i], p,
                   n > 0 ? on[node] : -1, n, node);
            ok = 0;
        }
        if (p && ptr_node(p) != node)
            ok = 0;
        free(p);
    }
    return ok;
}

static int parse_two(const char *s, int *a, int *b)
{
    return sscanf(s, "%d,%d", a, b) == 2 && *a >= 0 && *b >= 0 && *a < MAXNODES && *b < MAXNODES
               ? 0
               : -1;
}

/* ---- local placement, thread by thread -------------------------------- */

static int mem_of(int cpu_node)
{
    /* The node a thread of cpu_node allocates on: its own when it has
     * memory, else the nearest that has. */
    int best = -1, bd = 0;
    for (int n = 0; n <= numa_max_node(); n++) {
        if (numa_node_size64(n, NULL) <= 0)
            continue;
        int d = numa_distance(cpu_node, n);
        if (n == cpu_node)
            return n;
        if (d > 0 && (best < 0 || d < bd))
            best = n, bd = d;
    }
    return best;
}

struct job {
    int node, ok;
};

static void *on_node(void *arg)
{
    struct job *j = arg;
    if (numa_run_on_node(j->node) != 0) {
        j->ok = -1;
        return NULL;
    }
    int want = mem_of(j->node);
    char what[64];
    snprintf(what, sizeof(what), "a thread on node %d", j->node);
    j->ok = want >= 0 && all_on(want, what);
    return NULL;
}

static void local(void)
{
    int tried = 0;
    for (int n = 0; n <= numa_max_node(); n++) {
        struct bitmask *cpus = numa_allocate_cpumask();
        int has = numa_node_to_cpus(n, cpus) == 0 && numa_bitmask_weight(cpus) > 0;
        numa_free_cpumask(cpus);
        if (!has)
            continue;
        struct job j = {n, 0};
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, on_node, &j) == 0, "pthread_create");
        pthread_join(t, NULL);
        CHECK(j.ok == 1, "a thread on node %d: malloc'd pages are on node %d", n, mem_of(n));
        tried++;
    }
    REQUIRE(tried > 0, "no node with CPUs");
}

/* ---- objects go home ----------------------------------------------------- */

#define HOME_N 4096
static void *home_objs[HOME_N];

static int freer_on;

/* On node b: free node a's objects, then allocate as many: all on b's
 * memory node, none of a's freed objects among them. */
static void *freer(void *arg)
{
    int node = *(int *)arg, want = mem_of(node), ok = 1;
    if (numa_run_on_node(node) != 0)
        return (void *)1;
    for (int i = 0; i < HOME_N; i++)
        free(home_objs[i]);
    void **mine = malloc(sizeof(void *) * HOME_N);
    if (!mine)
        return (void *)1;
    for (int i = 0; i < HOME_N; i++) {
        mine[i] = malloc(96);
        if (!pages_on(mine[i], 96, want))
            ok = 0;
    }
    for (int i = 0; i < HOME_N; i++)
        free(mine[i]);
    free(mine);
    freer_on = ok;
    return NULL;
}

static void home(int a, int b)
{
    REQUIRE(numa_run_on_node(a) == 0, "numa_run_on_node(%d): %s", a, strerror(errno));
    int want = mem_of(a), on = 1;
    for (int i = 0; i < HOME_N; i++) {
        home_objs[i] = malloc(96);
        if (!home_objs[i] || ptr_node(home_objs[i]) != want)
            on = 0;
    }
    CHECK(on, "%d objects of a thread on node %d are on node %d", HOME_N, a, want);
    pthread_t t;
    void *r = (void *)1;
    REQUIRE(pthread_create(&t, NULL, freer, &b) == 0, "pthread_create");
    pthread_join(t, &r);
    CHECK(r == NULL && freer_on,
          "a thread on node %d freed them, then allocated %d of its own: "
          "every page on node %d (node %d's objects went home)",
          b, HOME_N, mem_of(b), want);
    int again = 1;
    for (int i = 0; i < HOME_N; i++) {
        void *p = malloc(96);
        if (!pages_on(p, 96, want))
            again = 0;
        home_objs[i] = p;
    }
    CHECK(again, "node %d's thread allocates %d more: every page on node %d", a, HOME_N, want);
    for (int i = 0; i < HOME_N; i++)
        free(home_objs[i]);
}

int main(int argc, char **argv)
{
    tu_init("test-dropin-policy");
    REQUIRE(argc == 2, "usage: test-dropin-policy --node=N | --interleave=A,B | --local | "
                       "--home=A,B");
    REQUIRE(numa_available() >= 0, "libnuma: no NUMA");
    ptr_node = (int (*)(const void *))dlsym(RTLD_DEFAULT, "numaslab_ptr_node");
    void *probe = malloc(40);
    CHECK(ptr_node && ptr_node(probe) >= 0, "malloc is libnumaslab-malloc's (LD_PRELOAD=%s)",
          getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "");
    free(probe);
    if (!ptr_node)
        return tu_exit();
    int a, b;
    if (strncmp(argv[1], "--node=", 7) == 0) {
        a = atoi(argv[1] + 7);
        CHECK(all_on(a, argv[1]), "%s: every page of 64 B ... 3 MiB objects is on node %d", argv[1],
              a);
    } else if (strncmp(argv[1], "--interleave=", 13) == 0) {
        REQUIRE(parse_two(argv[1] + 13, &a, &b) == 0, "bad %s", argv[1]);
        /* 64-byte objects over many slabs, and large ones: both nodes. */
        static void *objs[8192];
        int on[MAXNODES] = {0}, other = 0, total = 0;
        for (int i = 0; i < 8192; i++)
            objs[i] = malloc(i % 2 ? 64 : 70000);
        for (int i = 0; i < 8192; i++)
            if (objs[i])
                total += where(objs[i], i % 2 ? 64 : 70000, on);
        for (int n = 0; n < MAXNODES; n++)
            if (n != a && n != b)
                other += on[n];
        CHECK(on[a] > 0 && on[b] > 0 && other == 0,
              "interleaved over %d,%d: %d pages on %d, %d on %d, %d elsewhere (of %d)", a, b, on[a],
              a, on[b], b, other, total);
        for (int i = 0; i < 8192; i++)
            free(objs[i]);
    } else if (strcmp(argv[1], "--local") == 0) {
        local();
    } else if (strncmp(argv[1], "--home=", 7) == 0) {
        REQUIRE(parse_two(argv[1] + 7, &a, &b) == 0, "bad %s", argv[1]);
        home(a, b);
    } else {
        tu_hard("unknown argument %s", argv[1]);
    }
    return tu_exit();
}
