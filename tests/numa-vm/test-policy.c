/*
 * test-policy - what the process starts with decides the active nodes and
 * the local node (TOPOLOGY in numaslab(7)), and every page the library hands out is where
 * the kernel says it is.  Meant for the multi-node guest of numa-vm.sh,
 * started by guest-suite.sh as, for example,
 *
 *   numactl --membind=1 test-policy --membind=1
 *   numactl --preferred=1 test-policy --preferred=1
 *   numactl --interleave=0,1 test-policy --interleave=0,1
 *   NUMASLAB_NODES=0,3 test-policy --nodes=0,3
 *   test-policy --remote-free=0,1 | --reserve | --critical
 *   test-policy --hold=FILE          (for numaslab-stat; never exits)
 *
 * The argument says what the process was started with; the test first
 * checks that the kernel agrees (get_mempolicy), then the library.
 * Placement is always the kernel's answer: move_pages on every page an
 * object touches, after it was written.  Exit 0 / 1 / 77 / 99 as every
 * test of tests/ (testutil.h).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>

#define MAXNODES  1024
#define MASKWORDS (MAXNODES / (8 * sizeof(unsigned long)))

static int max_node;          /* numa_max_node() */
static int memnode[MAXNODES]; /* the node has memory (libnuma's node size) */
static int want_active[MAXNODES];
static int preferred = -1;    /* --preferred=N */
static int cpus[CPU_SETSIZE]; /* the process's CPUs, read before any pinning */
static int ncpus;

/* ------------------------------------------------------------------------
 * Topology as the kernel reports it
 * ---------------------------------------------------------------------- */

static void read_topology(void)
{
    max_node = numa_max_node();
    REQUIRE(max_node >= 0 && max_node < MAXNODES, "numa_max_node() = %d", max_node);
    for (int n = 0; n <= max_node; n++)
        memnode[n] = numa_bitmask_isbitset(numa_nodes_ptr, n) && numa_node_size64(n, NULL) > 0;
}

/* "0,2-3" -> set[] (1 for each listed node).  0 or -1. */
static int parse_list(const char *s, int *set)
{
    char *end;
    memset(set, 0, sizeof(int) * MAXNODES);
    while (*s) {
        long a = strtol(s, &end, 10), b = a;
        if (end == s || a < 0 || a >= MAXNODES)
            return -1;
        s = end;
        if (*s == '-') {
            b = strtol(s + 1, &end, 10);
            if (end == s + 1 || b < a || b >= MAXNODES)
                return -1;
            s = end;
        }
        for (long n = a; n <= b; n++)
            set[n] = 1;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return 0;
}

static const char *set_str(const int *set, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int n = 0; n < MAXNODES && o < len; n++)
        if (set[n])
            o += (size_t)snprintf(buf + o, len - o, "%s%d", o ? "," : "", n);
    if (!o)
        snprintf(buf, len, "(none)");
    return buf;
}

/* The process's memory policy must be what the command line says it was
 * started with; otherwise the rest tests nothing. */
static void check_process_policy(int want_mode, const int *want_set)
{
    unsigned long mask[MASKWORDS] = {0};
    int mode = -1, set[MAXNODES] = {0};
    char b1[256], b2[256];

    REQUIRE(get_mempolicy(&mode, mask, MAXNODES, NULL, 0) == 0, "get_mempolicy: %s",
            strerror(errno));
    mode &= 0xff; /* without the MPOL_F_* mode flags (bits 13-15) */
    for (int n = 0; n < MAXNODES; n++)
        set[n] = (mask[n / (8 * sizeof(long))] >> (n % (8 * sizeof(long)))) & 1;
    if (want_mode == MPOL_DEFAULT)
        CHECK(mode == MPOL_DEFAULT, "the process runs under the default memory policy (mode %d)",
              mode);
    else
        CHECK(mode == want_mode && memcmp(set, want_set, sizeof(set)) == 0,
              "the kernel has the process under mode %d nodes %s (want mode %d nodes %s)", mode,
              set_str(set, b1, sizeof(b1)), want_mode, set_str(want_set, b2, sizeof(b2)));
}

/* ------------------------------------------------------------------------
 * Active nodes and the local node
 * ---------------------------------------------------------------------- */

static void check_active(void)
{
    int got[MAXNODES] = {0}, ok = numaslab_max_node() == max_node;
    char b1[256], b2[256];

    for (int n = 0; n <= max_node; n++) {
        got[n] = numaslab_node_is_active(n) == 1;
        ok &= got[n] == want_active[n];
    }
    CHECK(ok, "active nodes %s (want %s), numaslab_max_node %d (libnuma %d)",
          set_str(got, b1, sizeof(b1)), set_str(want_active, b2, sizeof(b2)), numaslab_max_node(),
          max_node);
}

/* 1 when node may be the local node of a CPU on cpu_node: the preferred
 * node, else the CPU's node when active, else an active node nearest it. */
static int local_ok(int cpu_node, int node)
{
    int best = -1;
    if (node < 0 || node > max_node || !want_active[node])
        return 0;
    if (preferred >= 0)
        return node == preferred;
    if (cpu_node >= 0 && cpu_node <= max_node && want_active[cpu_node])
        return node == cpu_node;
    for (int n = 0; n <= max_node; n++) {
        int d = numa_distance(cpu_node, n);
        if (want_active[n] && d > 0 && (best < 0 || d < best))
            best = d;
    }
    return numa_distance(cpu_node, node) == best;
}

/* Every CPU of the process's affinity mask, in order. */
static void read_cpus(void)
{
    cpu_set_t set;
    REQUIRE(sched_getaffinity(0, sizeof(set), &set) == 0, "sched_getaffinity: %s", strerror(errno));
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            cpus[ncpus++] = c;
    REQUIRE(ncpus > 0, "no CPU in the affinity mask");
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    REQUIRE(sched_setaffinity(0, sizeof(set), &set) == 0, "sched_setaffinity(CPU %d): %s", cpu,
            strerror(errno));
}

static void *xalloc(size_t size, unsigned flags)
{
    void *p = numaslab_alloc(size, flags);
    if (p)
        memset(p, 0x5a, size);
    return p;
}

/* What a thread on one CPU saw. */
struct cpu_run {
    int cpu, cpu_node, ran_on, local;
    int critical; /* allocate with NUMASLAB_CRITICAL, 256 bytes only */
    int sizes_ok; /* every object on the local node, by the library and kernel */
    size_t off_pages, pages;
    int first_bad;
    char detail[160];
};

static void *cpu_thread(void *arg)
{
    static const size_t sizes[] = {64, 4096, 1 << 20};
    struct cpu_run *r = arg;
    size_t o = 0;

    pin(r->cpu);
    r->ran_on = sched_getcpu();
    r->local = numaslab_local_node();
    r->sizes_ok = 1;
    r->first_bad = r->local;
    for (size_t k = 0; k < (r->critical ? 1 : sizeof(sizes) / sizeof(sizes[0])); k++) {
        size_t s = r->critical ? 256 : sizes[k], off, np;
        int bad, pn;
        void *p = xalloc(s, r->critical ? NUMASLAB_CRITICAL : 0);
        if (!p) {
            r->sizes_ok = 0;
            o += (size_t)snprintf(r->detail + o, sizeof(r->detail) - o, " %zu: NULL (%s)", s,
                                  strerror(errno));
            continue;
        }
        pn = numaslab_ptr_node(p);
        off = kernel_pages_off_node(p, s, r->local, &bad, &np);
        r->pages += np;
        r->off_pages += off;
        if (off && r->first_bad == r->local)
            r->first_bad = bad;
        if (pn != r->local || off) {
            r->sizes_ok = 0;
            o += (size_t)snprintf(r->detail + o, sizeof(r->detail) - o,
                                  " %zu: ptr_node %d, %zu/%zu pages elsewhere", s, pn, off, np);
        }
        /* The critical run keeps its object: the reserve's level is
         * looked at while it is held, and it stays until the process
         * exits. */
        if (!r->critical)
            numaslab_free(p);
    }
    numaslab_thread_flush();
    return NULL;
}

/* One thread per CPU: the local node there is what numaslab(7) says, and
 * numaslab_alloc (or a critical one) lands on it by the kernel's word.
 * locals[node] counts the CPUs whose local node it is. */
static void check_each_cpu(int critical, int *locals)
{
    for (int i = 0; i < ncpus; i++) {
        struct cpu_run r;
        pthread_t t;
        int e;

        memset(&r, 0, sizeof(r));
        r.cpu = cpus[i];
        r.cpu_node = numa_node_of_cpu(cpus[i]);
        r.critical = critical;
        e = pthread_create(&t, NULL, cpu_thread, &r);
        REQUIRE(e == 0, "pthread_create: %s", strerror(e));
        pthread_join(t, NULL);
        if (locals && r.local >= 0 && r.local < MAXNODES)
            locals[r.local]++;
        CHECK(r.ran_on == r.cpu && local_ok(r.cpu_node, r.local),
              "CPU %d (node %d): numaslab_local_node() = %d%s", r.cpu, r.cpu_node, r.local,
              r.ran_on != r.cpu ? " (but the thread did not run there)" : "");
        CHECK(r.sizes_ok, "CPU %d: %s lands on node %d (%zu pages, %zu elsewhere, first on %d)%s",
              r.cpu,
              critical ? "numaslab_alloc(256, NUMASLAB_CRITICAL)"
                       : "numaslab_alloc of 64, 4096 and 1 MiB",
              r.local, r.pages, r.off_pages, r.off_pages ? r.first_bad : r.local, r.detail);
    }
}

/* numaslab_alloc_node(size, 0, node) for every node with memory: active
 * ones get it, inactive ones say so once and give local memory. */
static void check_alloc_node(void)
{
    static const size_t sizes[] = {64, 4096, 1 << 20};
    int local;

    tu_pin_self();
    local = numaslab_local_node();
    for (int n = 0; n <= max_node; n++) {
        if (!memnode[n])
            continue;
        if (want_active[n]) {
            for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
                size_t s = sizes[k], off = 0, np = 0;
                int bad = n;
                void *p = numaslab_alloc_node(s, 0, n);
                if (p) {
                    memset(p, 0x11, s);
                    off = kernel_pages_off_node(p, s, n, &bad, &np);
                }
                CHECK(p && numaslab_ptr_node(p) == n && off == 0,
                      "numaslab_alloc_node(%zu, 0, %d): on node %d (%zu of %zu pages elsewhere, "
                      "first on %d)",
                      s, n, p ? numaslab_ptr_node(p) : -1, off, np, off ? bad : n);
                numaslab_free(p);
            }
        } else {
            char line[128], *err;
            struct tu_capture cap;
            void *p, *q;

            snprintf(line, sizeof(line),
                     "numaslab: not allocating in inactive node %d for cache numaslab-64", n);
            tu_capture_begin(&cap);
            p = numaslab_alloc_node(64, 0, n);
            q = numaslab_alloc_node(64, 0, n);
            err = tu_capture_end(&cap);
            if (p)
                memset(p, 1, 64);
            if (q)
                memset(q, 1, 64);
            CHECK(p && q && tu_count_lines(err, line) == 1 && tu_count(err, "\n") == 1,
                  "node %d has memory but is not allowed: two allocations print \"%s\" once", n,
                  line);
            tu_show("stderr", err);
            CHECK(p && q && numaslab_ptr_node(p) == local && kernel_on_node(p, 64, local) &&
                      kernel_on_node(q, 64, local),
                  "and land on the local node %d", local);
            free(err);
            numaslab_free(p);
            numaslab_free(q);
        }
    }
    numaslab_thread_flush();
}

/* ------------------------------------------------------------------------
 * Modes
 * ---------------------------------------------------------------------- */

static int parse_node(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (end == s || *end || n < 0 || n > max_node)
        tu_hard("bad node \"%s\" (nodes 0..%d)", s, max_node);
    return (int)n;
}

static void run_membind(int node)
{
    int set[MAXNODES] = {0};
    set[node] = 1;
    REQUIRE(memnode[node], "node %d has no memory: numactl would refuse it", node);
    check_process_policy(MPOL_BIND, set);
    want_active[node] = 1;
    check_active();
    check_each_cpu(0, NULL);
    check_alloc_node();
}

static void run_preferred(int node)
{
    int set[MAXNODES] = {0};
    set[node] = 1;
    check_process_policy(MPOL_PREFERRED, set);
    memcpy(want_active, memnode, sizeof(want_active));
    preferred = node;
    check_active();
    check_each_cpu(0, NULL);
    check_alloc_node();
}

/* Local allocations spread over the interleave set, a refill at a time:
 * after many refills every node of the set has objects and no other node
 * has any. */
static void run_interleave(const char *list)
{
    enum { N = 20000, NLARGE = 8 };
    int set[MAXNODES], count[MAXNODES + 1] = {0}, ok_set = 1, outside = 0;
    void **v = calloc(N, sizeof(*v)), *large[NLARGE];
    size_t disagree = 0, nulls = 0, large_bad = 0;
    char b1[256], line[512];
    size_t o = 0;

    REQUIRE(v, "out of memory");
    REQUIRE(parse_list(list, set) == 0, "bad node list \"%s\"", list);
    check_process_policy(MPOL_INTERLEAVE, set);
    for (int n = 0; n <= max_node; n++)
        want_active[n] = set[n] && memnode[n];
    check_active();

    for (int i = 0; i < N; i++) {
        v[i] = xalloc(64, 0);
        if (!v[i]) {
            nulls++;
            continue;
        }
        int k = kernel_node_of(v[i]);
        if (k != numaslab_ptr_node(v[i]))
            disagree++;
        count[k >= 0 && k <= max_node ? k : MAXNODES]++;
    }
    for (int n = 0; n <= max_node; n++) {
        o += (size_t)snprintf(line + o, sizeof(line) - o, " node %d: %d", n, count[n]);
        if (want_active[n] && count[n] == 0)
            ok_set = 0;
        if (!want_active[n])
            outside += count[n];
    }
    CHECK(nulls == 0 && disagree == 0,
          "%d x numaslab_alloc(64): %zu NULL, %zu where the kernel and numaslab_ptr_node "
          "disagree",
          N, nulls, disagree);
    CHECK(ok_set && outside == 0 && count[MAXNODES] == 0,
          "they spread over nodes %s and nowhere else:%s", set_str(want_active, b1, sizeof(b1)),
          line);
    for (int i = 0; i < N; i++)
        numaslab_free(v[i]);
    free(v);

    for (int i = 0; i < NLARGE; i++) {
        int pn;
        large[i] = xalloc(1 << 20, 0);
        pn = large[i] ? numaslab_ptr_node(large[i]) : -1;
        if (!large[i] || pn < 0 || !want_active[pn] || !kernel_on_node(large[i], 1 << 20, pn))
            large_bad++;
    }
    CHECK(large_bad == 0,
          "%d x numaslab_alloc(1 MiB): each on one node of the set, every page (%zu not)", NLARGE,
          large_bad);
    for (int i = 0; i < NLARGE; i++)
        numaslab_free(large[i]);
    numaslab_thread_flush();
    check_alloc_node();
}

static void run_nodes(const char *list)
{
    const char *env = getenv("NUMASLAB_NODES");
    int set[MAXNODES] = {0};

    REQUIRE(env && strcmp(env, list) == 0,
            "start this as NUMASLAB_NODES=%s test-policy --nodes=%s (NUMASLAB_NODES is %s)", list,
            list, env ? env : "unset");
    REQUIRE(parse_list(list, set) == 0, "bad node list \"%s\"", list);
    check_process_policy(MPOL_DEFAULT, NULL);
    for (int n = 0; n <= max_node; n++)
        want_active[n] = set[n] && memnode[n];
    check_active();
    check_each_cpu(0, NULL);
    check_alloc_node();
}

/* ---------------------------------------------------------------------- */

#define K   3000
#define OSZ 128

struct freer {
    int node;    /* run on this node's CPUs */
    void **objs; /* free objs[0], objs[2], ... */
    int pinned, cpu_node, local;
    size_t own_ok, own_reused;
};

static void *freer_thread(void *arg)
{
    struct freer *f = arg;
    void *mine[64];

    f->pinned = numa_run_on_node(f->node) == 0;
    f->cpu_node = numa_node_of_cpu(sched_getcpu());
    f->local = numaslab_local_node();
    for (int i = 0; i < K; i += 2)
        numaslab_free(f->objs[i]);
    /* Its own allocations, before it flushes: from its local node, never
     * one of the objects it just freed for another node. */
    for (int i = 0; i < 64; i++) {
        mine[i] = xalloc(OSZ, 0);
        f->own_ok += mine[i] && numaslab_ptr_node(mine[i]) == f->local &&
                     kernel_on_node(mine[i], OSZ, f->local);
        for (int j = 0; j < K; j += 2)
            f->own_reused += mine[i] == f->objs[j];
    }
    for (int i = 0; i < 64; i++)
        numaslab_free(mine[i]);
    numaslab_thread_flush();
    return NULL;
}

static long long inuse_on(numaslab_cache_t *c, int node)
{
    struct numaslab_cache_stats st;
    memset(&st, 0, sizeof(st));
    return numaslab_stats_cache(c, node, &st) == 0 ? (long long)st.objects_inuse : -1;
}

/* Objects of node a freed by a thread on node b go home to a and are
 * handed out again there. */
static void run_remote_free(const char *arg)
{
    void **objs = calloc(K, sizeof(*objs)), **again = calloc(K / 2, sizeof(*again));
    numaslab_cache_t *sc = numaslab_size_cache(OSZ);
    long long before[MAXNODES] = {0}, after[MAXNODES] = {0};
    size_t misplaced = 0, reused = 0, live = 0, koff = 0, nulls = 0, others = 0;
    struct freer f;
    pthread_t t;
    int a, b, e;
    char *comma = strchr(arg, ',');

    REQUIRE(objs && again && comma, "--remote-free=A,B: bad \"%s\"", arg);
    *comma = '\0';
    a = parse_node(arg);
    b = parse_node(comma + 1);
    REQUIRE(memnode[a] && tu_node_has_cpus(b), "node %d needs memory and node %d CPUs", a, b);
    check_process_policy(MPOL_DEFAULT, NULL);
    memcpy(want_active, memnode, sizeof(want_active));
    check_active();
    if (tu_node_has_cpus(a))
        REQUIRE(numa_run_on_node(a) == 0, "numa_run_on_node(%d): %s", a, strerror(errno));

    for (int i = 0; i < K; i++) {
        objs[i] = numaslab_alloc_node(OSZ, 0, a);
        REQUIRE(objs[i], "numaslab_alloc_node(%d, 0, %d): %s", OSZ, a, strerror(errno));
        memset(objs[i], 0x21, OSZ);
        misplaced += numaslab_ptr_node(objs[i]) != a || !kernel_on_node(objs[i], OSZ, a);
    }
    CHECK(misplaced == 0, "%d x numaslab_alloc_node(%d, 0, %d): all on node %d (%zu not)", K, OSZ,
          a, a, misplaced);
    numaslab_thread_flush();
    for (int n = 0; n <= max_node; n++)
        if (want_active[n])
            before[n] = inuse_on(sc, n);

    memset(&f, 0, sizeof(f));
    f.node = b;
    f.objs = objs;
    e = pthread_create(&t, NULL, freer_thread, &f);
    REQUIRE(e == 0, "pthread_create: %s", strerror(e));
    pthread_join(t, NULL);
    CHECK(f.pinned && f.cpu_node == b, "a thread runs on node %d (CPU's node %d), local node %d", b,
          f.cpu_node, f.local);
    CHECK(f.own_ok == 64 && f.own_reused == 0,
          "its own 64 allocations are on its local node %d (%zu are) and none is an object it "
          "freed for node %d (%zu are)",
          f.local, f.own_ok, a, f.own_reused);
    for (int n = 0; n <= max_node; n++) {
        if (!want_active[n])
            continue;
        after[n] = inuse_on(sc, n);
        if (n != a && after[n] != before[n])
            others++;
    }
    CHECK(after[a] == before[a] - K / 2 && others == 0,
          "after it freed %d and flushed: %s in use on node %d %lld -> %lld (want -%d), changed "
          "on %zu other node(s)",
          K / 2, numaslab_cache_name(sc), a, before[a], after[a], K / 2, others);

    for (int i = 0; i < K / 2; i++) {
        again[i] = numaslab_alloc_node(OSZ, 0, a);
        if (!again[i]) {
            nulls++;
            continue;
        }
        memset(again[i], 0x43, OSZ);
        koff += numaslab_ptr_node(again[i]) != a || !kernel_on_node(again[i], OSZ, a);
        for (int j = 0; j < K; j++)
            if (again[i] == objs[j]) {
                if (j % 2 == 0)
                    reused++;
                else
                    live++;
            }
    }
    CHECK(nulls == 0 && koff == 0,
          "%d new allocations on node %d: %zu NULL, %zu elsewhere (library or kernel)", K / 2, a,
          nulls, koff);
    CHECK(reused > 0 && live == 0,
          "node %d hands out again the objects freed on node %d (%zu of them; %zu live ones "
          "handed out twice)",
          a, b, reused, live);
    for (int i = 1; i < K; i += 2)
        numaslab_free(objs[i]);
    for (int i = 0; i < K / 2; i++)
        numaslab_free(again[i]);
    numaslab_thread_flush();
    free(objs);
    free(again);
}

/* ---------------------------------------------------------------------- */

static struct numaslab_mempool_stats pool_stats(numaslab_mempool_t *p)
{
    struct numaslab_mempool_stats st;
    memset(&st, 0, sizeof(st));
    if (p)
        numaslab_mempool_stats(p, &st);
    return st;
}

/* Take every element a pool holds, write it, and ask the kernel where
 * each page is; give them back.  Returns the elements off node. */
static int drain_pool(numaslab_mempool_t *pool, int node, int *taken, size_t *pages)
{
    struct numaslab_mempool_stats st = pool_stats(pool);
    void **e = calloc((size_t)st.curr_nr + 1, sizeof(*e));
    int off = 0, n = 0;

    REQUIRE(e, "out of memory");
    *pages = 0;
    while (n <= st.curr_nr && (e[n] = numaslab_mempool_alloc_preallocated(pool)) != NULL) {
        size_t np = 0;
        int bad;
        memset(e[n], 0x77, st.elem_bytes);
        off += kernel_pages_off_node(e[n], st.elem_bytes, node, &bad, &np) != 0;
        *pages += np;
        n++;
    }
    *taken = n;
    for (int i = 0; i < n; i++)
        numaslab_mempool_free(e[i], pool);
    free(e);
    return off;
}

static void run_reserve(void)
{
    check_process_policy(MPOL_DEFAULT, NULL);
    memcpy(want_active, memnode, sizeof(want_active));
    check_active();
    for (int n = 0; n <= max_node; n++) {
        numaslab_mempool_t *pool;
        struct numaslab_mempool_stats st, st2;
        int taken, off;
        size_t pages;

        if (!numa_bitmask_isbitset(numa_nodes_ptr, n))
            continue;
        if (!memnode[n]) {
            errno = 0;
            pool = numaslab_node_reserve(n);
            CHECK(pool == NULL && errno == ENODEV,
                  "memory-less node %d has no reserve (NULL, errno ENODEV; got %s)", n,
                  pool ? "a pool" : strerror(errno));
            errno = 0;
            pool = numaslab_page_pool_create(n, 0, 1);
            CHECK(pool == NULL && errno == ENODEV,
                  "no page pool on memory-less node %d (NULL, errno ENODEV; got %s)", n,
                  pool ? "a pool" : strerror(errno));
            continue;
        }
        pool = numaslab_node_reserve(n);
        st = pool_stats(pool);
        if (!CHECK(pool && st.node == n && st.curr_nr > 0 && st.curr_nr == st.min_nr &&
                       st.elem_bytes > 0,
                   "node %d's reserve: node %d, %d of %d elements of %zu bytes", n, st.node,
                   st.curr_nr, st.min_nr, st.elem_bytes))
            continue;
        off = drain_pool(pool, n, &taken, &pages);
        st2 = pool_stats(pool);
        CHECK(taken == st.curr_nr && off == 0 && st2.curr_nr == st.curr_nr,
              "node %d's reserve: all %d elements (%zu pages) are on node %d by the kernel (%d "
              "taken, %d elsewhere, %d back)",
              n, st.curr_nr, pages, n, taken, off, st2.curr_nr);

        pool = numaslab_page_pool_create(n, 2, 3);
        st = pool_stats(pool);
        if (!CHECK(pool && st.node == n && st.curr_nr == 3,
                   "numaslab_page_pool_create(%d, 2, 3): node %d, %d elements", n, st.node,
                   st.curr_nr))
            continue;
        off = drain_pool(pool, n, &taken, &pages);
        CHECK(taken == 3 && off == 0,
              "its 3 elements (%zu pages) are on node %d by the kernel (%d elsewhere)", pages, n,
              off);
        CHECK(numaslab_mempool_destroy(pool) == 0, "the page pool is destroyed");
    }
}

/* ---------------------------------------------------------------------- */

static int reserve_cur(int node)
{
    return pool_stats(numaslab_node_reserve(node)).curr_nr;
}

/* With every ordinary page allocation failing, an ordinary request gets
 * nothing and a critical one gets the reserve of the node it names, or of
 * the local node. */
static void run_critical(void)
{
    int initial[MAXNODES] = {0}, level[MAXNODES] = {0}, locals[MAXNODES] = {0};
    numaslab_cache_t *c;
    void *held[MAXNODES][2];

    check_process_policy(MPOL_DEFAULT, NULL);
    memcpy(want_active, memnode, sizeof(want_active));
    check_active();
    c = numaslab_cache_create("critical", 512, 0, 0, NULL);
    REQUIRE(c, "numaslab_cache_create: %s", strerror(errno));
    for (int n = 0; n <= max_node; n++)
        if (want_active[n])
            initial[n] = level[n] = reserve_cur(n);
    REQUIRE(numaslab_fail_pages("after=0") == 0, "numaslab_fail_pages(\"after=0\") failed");

    for (int n = 0; n <= max_node; n++) {
        void *q, *p, *r;
        int others_same = 1, e;

        if (!want_active[n])
            continue;
        errno = 0;
        q = numaslab_alloc_node(64, 0, n);
        e = errno;
        CHECK(q == NULL && e == ENOMEM,
              "node %d, fault injection on: ordinary numaslab_alloc_node(64, 0, %d) is NULL, "
              "ENOMEM (got %s, %s)",
              n, n, q ? "memory" : "NULL", strerror(e));
        if (q)
            numaslab_free(q);
        p = numaslab_alloc_node(64, NUMASLAB_CRITICAL, n);
        r = numaslab_cache_alloc_node(c, NUMASLAB_CRITICAL, n);
        if (p)
            memset(p, 0x66, 64);
        if (r)
            memset(r, 0x66, 512);
        CHECK(p && numaslab_ptr_node(p) == n && kernel_on_node(p, 64, n),
              "numaslab_alloc_node(64, NUMASLAB_CRITICAL, %d): on node %d, the kernel agrees: %s",
              n, p ? numaslab_ptr_node(p) : -1, p && kernel_on_node(p, 64, n) ? "yes" : "no");
        CHECK(r && numaslab_ptr_node(r) == n && kernel_on_node(r, 512, n),
              "numaslab_cache_alloc_node(critical, NUMASLAB_CRITICAL, %d): on node %d, the kernel "
              "agrees: %s",
              n, r ? numaslab_ptr_node(r) : -1, r && kernel_on_node(r, 512, n) ? "yes" : "no");
        for (int m = 0; m <= max_node; m++)
            if (want_active[m] && m != n && reserve_cur(m) != level[m])
                others_same = 0;
        CHECK(reserve_cur(n) < level[n] && others_same,
              "they came from node %d's reserve (%d -> %d elements), no other node's was touched",
              n, level[n], reserve_cur(n));
        for (int m = 0; m <= max_node; m++)
            if (want_active[m])
                level[m] = reserve_cur(m);
        held[n][0] = p;
        held[n][1] = r;
    }

    /* The local node, from every CPU: a node's reserve goes down exactly
     * when some CPU has it as its local node. */
    check_each_cpu(1, locals);
    for (int n = 0; n <= max_node; n++) {
        if (!want_active[n])
            continue;
        int now = reserve_cur(n);
        CHECK(locals[n] ? now < level[n] : now == level[n],
              "node %d is the local node of %d CPU(s): its reserve went %d -> %d", n, locals[n],
              level[n], now);
    }

    numaslab_fail_pages(NULL);
    for (int n = 0; n <= max_node; n++) {
        if (!want_active[n])
            continue;
        numaslab_free(held[n][0]);
        numaslab_cache_free(c, held[n][1]);
    }
    numaslab_thread_flush();
    tu_info("the critical objects of the per-CPU threads stay until exit");
    CHECK(numaslab_cache_destroy(c) == 0, "the \"critical\" cache is destroyed, nothing live");
    for (int n = 0; n <= max_node; n++)
        if (want_active[n] && !locals[n])
            CHECK(reserve_cur(n) == initial[n],
                  "node %d's reserve is full again once its slabs emptied (%d of %d)", n,
                  reserve_cur(n), initial[n]);
}

/* ---------------------------------------------------------------------- */

/* Something on every active node, the statistics published, then wait to
 * be killed: numaslab-stat -p reads this process. */
static void run_hold(const char *file)
{
    FILE *f;
    int rc;

    for (int n = 0; n <= max_node; n++) {
        if (numaslab_node_is_active(n) != 1)
            continue;
        for (int i = 0; i < 100; i++)
            REQUIRE(numaslab_alloc_node(64, 0, n), "numaslab_alloc_node(64, 0, %d): %s", n,
                    strerror(errno));
    }
    /* one request for each inactive node, so that it shows a count */
    for (int n = 0; n <= max_node; n++)
        if (numa_bitmask_isbitset(numa_nodes_ptr, n) && numaslab_node_is_active(n) == 0)
            (void)numaslab_alloc_node(64, NUMASLAB_NOWARN, n);
    numaslab_thread_flush();
    rc = numaslab_stats_publish();
    REQUIRE(rc == 0, "numaslab_stats_publish: %s", strerror(-rc));
    f = fopen(file, "w");
    REQUIRE(f, "%s: %s", file, strerror(errno));
    fprintf(f, "%d\n", (int)getpid());
    REQUIRE(fclose(f) == 0, "%s: %s", file, strerror(errno));
    printf("holding, pid %d\n", (int)getpid());
    fflush(stdout);
    for (int i = 0; i < 600; i++)
        sleep(1);
    exit(TU_HARD);
}

int main(int argc, char **argv)
{
    const char *a = argc == 2 ? argv[1] : "";

    tu_init("test-policy");
    if (numa_available() < 0)
        tu_skip("libnuma: NUMA is not available");
    read_topology();
    read_cpus();
    if (max_node < 1)
        tu_skip("one node: this test needs a multi-node machine (make check-numa)");
    printf("# %s\n", a);

    if (!strncmp(a, "--membind=", 10))
        run_membind(parse_node(a + 10));
    else if (!strncmp(a, "--preferred=", 12))
        run_preferred(parse_node(a + 12));
    else if (!strncmp(a, "--interleave=", 13))
        run_interleave(a + 13);
    else if (!strncmp(a, "--nodes=", 8))
        run_nodes(a + 8);
    else if (!strncmp(a, "--remote-free=", 14))
        run_remote_free(argv[1] + 14);
    else if (!strcmp(a, "--reserve"))
        run_reserve();
    else if (!strcmp(a, "--critical"))
        run_critical();
    else if (!strncmp(a, "--hold=", 7))
        run_hold(a + 7);
    else
        tu_hard("usage: test-policy --membind=N | --preferred=N | --interleave=LIST | "
                "--nodes=LIST | --remote-free=A,B | --reserve | --critical | --hold=FILE");
    return tu_exit();
}
