/*
 * test-placement - memory lands on the node asked for (needs two active
 * nodes, else exit 77): every size path on every active node, by
 * numaslab_ptr_node and by the kernel (move_pages); objects freed by a
 * thread running on another node go back to their own node and are
 * reused there; a memory-less node with CPUs is inactive, and a thread
 * on its CPUs has the nearest node with memory as its local node.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <pthread.h>

#define MAXNODES 1024

static int nodes[MAXNODES];
static int nnodes;

/* ---------------------------------------------------------------------- */

static void test_each_node(numaslab_cache_t *c)
{
    tu_case("every active node, by the kernel");
    static const size_t sizes[] = {64, 4096, 1 << 20};

    for (int i = 0; i < nnodes; i++) {
        int node = nodes[i];
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
            size_t s = sizes[k], off, np;
            int bad, pn;
            void *p = numaslab_alloc_node(s, 0, node);
            if (!CHECK(p != NULL, "numaslab_alloc_node(%zu, 0, %d) returns memory", s, node))
                continue;
            memset(p, 0x3c, s);
            pn = numaslab_ptr_node(p);
            off = kernel_pages_off_node(p, s, node, &bad, &np);
            CHECK(pn == node && off == 0,
                  "numaslab_alloc_node(%zu, 0, %d): numaslab_ptr_node %d, kernel: %zu of %zu "
                  "pages elsewhere (first: %d)",
                  s, node, pn, off, np, off ? bad : node);
            numaslab_free(p);
        }
        {
            enum { N = 1500 };
            void **v = calloc(N, sizeof(*v)), **w = calloc(N, sizeof(*w));
            size_t nulls = 0, wrong = 0, koff = 0, cnulls = 0, cwrong = 0, ckoff = 0;
            REQUIRE(v && w, "out of memory");
            for (int j = 0; j < N; j++) {
                v[j] = numaslab_alloc_node(64, 0, node);
                w[j] = numaslab_cache_alloc_node(c, 0, node);
                if (v[j])
                    memset(v[j], 1, 64);
                if (w[j])
                    memset(w[j], 2, 256);
            }
            for (int j = 0; j < N; j++) {
                if (!v[j])
                    nulls++;
                else {
                    wrong += numaslab_ptr_node(v[j]) != node;
                    koff += !kernel_on_node(v[j], 64, node);
                    numaslab_free(v[j]);
                }
                if (!w[j])
                    cnulls++;
                else {
                    cwrong += numaslab_ptr_node(w[j]) != node;
                    ckoff += !kernel_on_node(w[j], 256, node);
                    numaslab_cache_free(c, w[j]);
                }
            }
            CHECK(nulls == 0 && wrong == 0 && koff == 0,
                  "%d x numaslab_alloc_node(64, 0, %d): %zu NULL, %zu by numaslab_ptr_node and "
                  "%zu by the kernel elsewhere",
                  N, node, nulls, wrong, koff);
            CHECK(cnulls == 0 && cwrong == 0 && ckoff == 0,
                  "%d x numaslab_cache_alloc_node(%s, 0, %d): %zu NULL, %zu by "
                  "numaslab_ptr_node and %zu by the kernel elsewhere",
                  N, numaslab_cache_name(c), node, cnulls, cwrong, ckoff);
            free(v);
            free(w);
        }
    }
}

/* ---------------------------------------------------------------------- */

#define K   2000
#define OSZ 128

struct remote {
    numaslab_cache_t *c; /* NULL: size class OSZ */
    int run_node;        /* node whose CPUs the thread runs on */
    void **objs;         /* frees objs[0], objs[2], ... */
    int pinned;          /* numa_run_on_node succeeded */
    int cpu_node;        /* numa_node_of_cpu(sched_getcpu()) after pinning */
    int local;           /* numaslab_local_node() there */
    int alloc_node;      /* numaslab_ptr_node of a local allocation */
    int alloc_kernel_ok;
};

static void *remote_thread(void *arg)
{
    struct remote *r = arg;
    void *p;

    r->pinned = numa_run_on_node(r->run_node) == 0;
    r->cpu_node = numa_node_of_cpu(sched_getcpu());
    r->local = numaslab_local_node();
    for (int i = 0; i < K; i += 2) {
        if (r->c)
            numaslab_cache_free(r->c, r->objs[i]);
        else
            numaslab_free(r->objs[i]);
    }
    numaslab_thread_flush();
    /* this thread's own allocations are on its local node */
    p = r->c ? numaslab_cache_alloc(r->c, 0) : numaslab_alloc(OSZ, 0);
    r->alloc_node = -1;
    if (p) {
        memset(p, 9, OSZ);
        r->alloc_node = numaslab_ptr_node(p);
        r->alloc_kernel_ok = kernel_on_node(p, OSZ, r->local);
        if (r->c)
            numaslab_cache_free(r->c, p);
        else
            numaslab_free(p);
    }
    numaslab_thread_flush();
    return NULL;
}

static long long inuse_on(numaslab_cache_t *c, int node)
{
    struct numaslab_cache_stats st;
    memset(&st, 0, sizeof(st));
    if (numaslab_stats_cache(c, node, &st) != 0)
        return -1;
    return (long long)st.objects_inuse;
}

static void remote_pair(numaslab_cache_t *c, int a, int b)
{
    numaslab_cache_t *sc = c ? c : numaslab_size_cache(OSZ);
    const char *name = numaslab_cache_name(sc);
    void **objs = calloc(K, sizeof(*objs)), **again = calloc(K / 2, sizeof(*again));
    long long before[MAXNODES], after[MAXNODES];
    struct remote r;
    pthread_t t;
    size_t misplaced = 0, nulls = 0, reused = 0, koff = 0, clash = 0, others_changed = 0;
    int e;

    REQUIRE(objs && again, "out of memory");
    numaslab_thread_flush();
    for (int i = 0; i < nnodes; i++)
        before[i] = inuse_on(sc, nodes[i]);
    for (int i = 0; i < K; i++) {
        objs[i] = c ? numaslab_cache_alloc_node(c, 0, a) : numaslab_alloc_node(OSZ, 0, a);
        REQUIRE(objs[i], "allocation on node %d: %s", a, strerror(errno));
        memset(objs[i], 0x21, OSZ);
        if (numaslab_ptr_node(objs[i]) != a)
            misplaced++;
    }
    CHECK(misplaced == 0, "%s: %d objects allocated on node %d (%zu elsewhere)", name, K, a,
          misplaced);
    numaslab_thread_flush();

    memset(&r, 0, sizeof(r));
    r.c = c;
    r.run_node = b;
    r.objs = objs;
    e = pthread_create(&t, NULL, remote_thread, &r);
    REQUIRE(e == 0, "pthread_create: %s", strerror(e));
    pthread_join(t, NULL);
    CHECK(r.pinned && r.cpu_node == b,
          "a thread runs on node %d's CPUs (numa_run_on_node: %s, CPU's node %d), local node %d", b,
          r.pinned ? "ok" : "failed", r.cpu_node, r.local);
    if (numaslab_node_is_active(r.local) == 1)
        CHECK(r.alloc_node == r.local && r.alloc_kernel_ok,
              "that thread's own allocation is on its local node %d (numaslab_ptr_node %d, "
              "kernel agrees: %s)",
              r.local, r.alloc_node, r.alloc_kernel_ok ? "yes" : "no");

    for (int i = 0; i < nnodes; i++) {
        after[i] = inuse_on(sc, nodes[i]);
        if (nodes[i] == a)
            CHECK(after[i] == before[i] + K - K / 2,
                  "%s: after the remote thread freed %d and flushed, node %d has %lld in use "
                  "(want %lld)",
                  name, K / 2, a, after[i], before[i] + K - K / 2);
        else if (after[i] != before[i])
            others_changed++;
    }
    CHECK(others_changed == 0,
          "%s: no other node's in-use count changed (%zu did): the objects went home", name,
          others_changed);

    for (int i = 0; i < K / 2; i++) {
        again[i] = c ? numaslab_cache_alloc_node(c, 0, a) : numaslab_alloc_node(OSZ, 0, a);
        if (!again[i]) {
            nulls++;
            continue;
        }
        memset(again[i], 0x43, OSZ);
        if (numaslab_ptr_node(again[i]) != a)
            misplaced++;
        if (!kernel_on_node(again[i], OSZ, a))
            koff++;
        /* was it one of those the remote thread freed (even index)? */
        for (int j = 0; j < K; j++) {
            if (again[i] == objs[j]) {
                if (j % 2 == 0)
                    reused++;
                else
                    clash++; /* still live! */
            }
        }
    }
    CHECK(nulls == 0 && misplaced == 0 && koff == 0,
          "%s: %d new allocations on node %d: %zu NULL, %zu elsewhere by numaslab_ptr_node, %zu "
          "by the kernel",
          name, K / 2, a, nulls, misplaced, koff);
    CHECK(reused > 0 && clash == 0,
          "%s: objects freed on node %d's behalf are reused on node %d (%zu reused, %zu live "
          "ones handed out again)",
          name, b, a, reused, clash);

    for (int i = 0; i < K; i += 2)
        objs[i] = NULL;
    for (int i = 0; i < K; i++) {
        if (!objs[i])
            continue;
        if (c)
            numaslab_cache_free(c, objs[i]);
        else
            numaslab_free(objs[i]);
    }
    for (int i = 0; i < K / 2; i++) {
        if (!again[i])
            continue;
        if (c)
            numaslab_cache_free(c, again[i]);
        else
            numaslab_free(again[i]);
    }
    numaslab_thread_flush();
    free(objs);
    free(again);
}

static void test_remote_free(numaslab_cache_t *c)
{
    tu_case("remote free");
    int top = numa_max_node(), pairs = 0;

    for (int i = 0; i < nnodes; i++) {
        int a = nodes[i];
        for (int b = 0; b <= top; b++) {
            if (b == a || !tu_node_has_cpus(b))
                continue;
            tu_case("remote free: objects of node %d freed by a thread on node %d", a, b);
            remote_pair(c, a, b);
            remote_pair(NULL, a, b);
            pairs++;
        }
    }
    CHECK(pairs > 0, "%d (home node, freeing node) pairs were tried", pairs);
}

/* ---------------------------------------------------------------------- */

struct mlthread {
    int node;
    int pinned, cpu_node, local, alloc_node, alloc_kernel_ok;
};

static void *memoryless_thread(void *arg)
{
    struct mlthread *m = arg;
    void *p;

    m->pinned = numa_run_on_node(m->node) == 0;
    m->cpu_node = numa_node_of_cpu(sched_getcpu());
    m->local = numaslab_local_node();
    m->alloc_node = -1;
    p = numaslab_alloc(256, 0);
    if (p) {
        memset(p, 5, 256);
        m->alloc_node = numaslab_ptr_node(p);
        m->alloc_kernel_ok = kernel_on_node(p, 256, m->local);
        numaslab_free(p);
    }
    numaslab_thread_flush();
    return NULL;
}

static void test_memoryless(void)
{
    tu_case("memoryless");
    int top = numa_max_node(), found = 0;
    int local = numaslab_local_node();

    for (int m = 0; m <= top; m++) {
        long long size = numa_node_size64(m, NULL);
        char line[160];
        struct tu_capture cap;
        struct mlthread ml;
        pthread_t t;
        void *p, *q;
        char *err;
        int best = -1, e, is_nearest = 0;

        if (size != 0 || !tu_node_has_cpus(m))
            continue;
        found++;
        tu_case("memory-less node %d", m);
        CHECK(numaslab_node_is_active(m) == 0, "memory-less node %d is inactive (got %d)", m,
              numaslab_node_is_active(m));

        snprintf(line, sizeof(line),
                 "numaslab: not allocating in inactive node %d for cache numaslab-64", m);
        tu_capture_begin(&cap);
        p = numaslab_alloc_node(64, 0, m);
        q = numaslab_alloc_node(64, 0, m);
        err = tu_capture_end(&cap);
        CHECK(p && q && tu_count_lines(err, line) == 1 && tu_count(err, "\n") == 1,
              "two numaslab_alloc_node(64, 0, %d): memory, and exactly one line \"%s\"", m, line);
        tu_show("stderr", err);
        free(err);
        if (p && q) {
            memset(p, 1, 64);
            memset(q, 1, 64);
            CHECK(numaslab_ptr_node(p) == local && numaslab_ptr_node(q) == local &&
                      kernel_on_node(p, 64, local) && kernel_on_node(q, 64, local),
                  "they are on the local node %d (numaslab_ptr_node %d, %d; kernel agrees)", local,
                  numaslab_ptr_node(p), numaslab_ptr_node(q));
        }
        numaslab_free(p);
        numaslab_free(q);

        memset(&ml, 0, sizeof(ml));
        ml.node = m;
        e = pthread_create(&t, NULL, memoryless_thread, &ml);
        REQUIRE(e == 0, "pthread_create: %s", strerror(e));
        pthread_join(t, NULL);
        for (int i = 0; i < nnodes; i++) {
            int d = numa_distance(m, nodes[i]);
            if (d > 0 && (best < 0 || d < best))
                best = d;
        }
        for (int i = 0; i < nnodes; i++)
            if (nodes[i] == ml.local && numa_distance(m, nodes[i]) == best)
                is_nearest = 1;
        CHECK(ml.pinned && ml.cpu_node == m,
              "a thread runs on node %d's CPUs (numa_run_on_node: %s, CPU's node %d)", m,
              ml.pinned ? "ok" : "failed", ml.cpu_node);
        CHECK(is_nearest,
              "there numaslab_local_node() = %d, the nearest active node by numa_distance "
              "(distance %d, nearest %d)",
              ml.local, ml.local >= 0 ? numa_distance(m, ml.local) : -1, best);
        CHECK(ml.alloc_node == ml.local && ml.alloc_kernel_ok,
              "numaslab_alloc there lands on node %d (numaslab_ptr_node %d, kernel agrees: %s)",
              ml.local, ml.alloc_node, ml.alloc_kernel_ok ? "yes" : "no");
    }
    if (!found)
        tu_info("no memory-less node with CPUs here: nothing to check for it");
}

int main(void)
{
    numaslab_cache_t *c;

    tu_init("test-placement");
    if (numa_available() < 0)
        tu_skip("libnuma: NUMA is not available");
    nnodes = tu_active_nodes(nodes, MAXNODES);
    if (nnodes < 2)
        tu_skip("%d active node(s): this test needs 2", nnodes);
    tu_pin_self();
    tu_info("%d active nodes, local node %d", nnodes, numaslab_local_node());

    c = numaslab_cache_create("place", 256, 0, 0, NULL);
    REQUIRE(c, "cache_create: %s", strerror(errno));
    test_each_node(c);
    test_remote_free(c);
    test_memoryless();
    numaslab_thread_flush();
    CHECK(numaslab_cache_destroy(c) == 0, "cache destroyed with nothing live");
    return tu_exit();
}
