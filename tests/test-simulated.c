/*
 * tests/test-simulated.c - a simulated machine (numaslab(7), SIMULATED
 * MACHINES): with HWLOC_XMLFILE naming another machine's topology, the
 * library's multi-node paths run on this one-node host, under every
 * sanitizer and valgrind.
 *
 * The machine is tests/data/sim-four.xml unless HWLOC_XMLFILE is set
 * already: CPU 0 on node 0, CPU 1 on node 1, node 2 memory-less with
 * CPU 2, node 3 CPU-less with memory.  Checked here:
 *   - the node table: 4 nodes, the memory-less one inactive;
 *   - nothing is bound (the kernel's policy of the pages is the default);
 *   - objects of every kind on nodes 1 and 3, by numaslab_ptr_node;
 *   - the inactive-node message and local fallback for node 2, and
 *     NUMASLAB_THISNODE refused there;
 *   - the local node of a thread is the file's node of its CPU;
 *   - frees from another thread return objects to their simulated node;
 *   - per-node reserves, per-node statistics, fallback under
 *     NUMASLAB_NODE_LIMIT to the nearest simulated node;
 *   - numaslab_stats_print and numaslab-stat say the machine is simulated;
 *   - on tests/data/sim-no-memory.xml, whose only node has no memory,
 *     numaslab_init fails with -ENODEV, with its message.
 */
#include "testutil.h"

#include <limits.h>
#include <numaif.h>
#include <pthread.h>

#define NOBJ 2000

static numaslab_cache_t *cache;

/* HWLOC_XMLFILE set to tests/data/NAME; unless force, only when the
 * caller chose no machine. */
static void use_machine(const char *argv0, const char *name, int force)
{
    static char path[PATH_MAX];
    if (getenv("HWLOC_XMLFILE") && !force)
        return;
    setenv("HWLOC_XMLFILE", tu_data_path(argv0, name, path, sizeof(path)), 1);
}

/* Pin the calling thread to cpu; 0, or -1 when the host has no such CPU
 * for this process. */
static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------
 * The node table and binding
 * ---------------------------------------------------------------------- */

static void check_table(void)
{
    tu_case("the node table: 4 nodes, the memory-less one inactive");
    CHECK(numaslab_max_node() == 3, "4 nodes: highest id %d", numaslab_max_node());
    CHECK(numaslab_node_is_active(0) == 1 && numaslab_node_is_active(1) == 1 &&
              numaslab_node_is_active(3) == 1,
          "nodes 0, 1, 3 active");
    CHECK(numaslab_node_is_active(2) == 0, "memory-less node 2 inactive (%d)",
          numaslab_node_is_active(2));
    CHECK(numaslab_node_is_active(4) == 0, "node 4, absent, is not active (%d)",
          numaslab_node_is_active(4));
}

/* The kernel's policy of the page holding p: the default when nothing was
 * bound. */
static int page_policy(void *p)
{
    int mode = -1;
    unsigned long mask[16] = {0};
    if (get_mempolicy(&mode, mask, sizeof(mask) * 8, p, MPOL_F_ADDR) != 0)
        return -errno;
    return mode;
}

static void check_unbound(void)
{
    tu_case("nothing is bound");
    void *small = numaslab_alloc_node(64, 0, 3);
    void *large = numaslab_alloc_node(1 << 20, 0, 1);
    REQUIRE(small && large, "allocation on nodes 3 and 1 failed: %s", strerror(errno));
    memset(small, 1, 64);
    memset(large, 1, 1 << 20);
    int ps = page_policy(small), pl = page_policy(large);
    if (ps == -ENOSYS)
        tu_info("get_mempolicy: no NUMA in this kernel, nothing can be bound anyway");
    else
        CHECK(ps == MPOL_DEFAULT && pl == MPOL_DEFAULT,
              "pages of simulated nodes not bound: policies %d and %d (MPOL_DEFAULT %d)", ps, pl,
              MPOL_DEFAULT);
    numaslab_free(small);
    numaslab_free(large);
}

/* ------------------------------------------------------------------------
 * Objects on nodes 1 and 3
 * ---------------------------------------------------------------------- */

static void check_explicit(void)
{
    tu_case("objects of every kind on nodes 1 and 3");
    static const size_t sizes[] = {1, 8, 64, 200, 4096, 8192, 100000, 3 << 20};
    int nodes[] = {1, 3};
    for (size_t k = 0; k < 2; k++) {
        int node = nodes[k];
        int bad = 0, failed = 0;
        void *p[sizeof(sizes) / sizeof(sizes[0])];
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            p[i] = numaslab_alloc_node(sizes[i], 0, node);
            if (!p[i]) {
                failed++;
                continue;
            }
            tu_fill(p[i], sizes[i], i + 1);
            bad += numaslab_ptr_node(p[i]) != node;
        }
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
            if (p[i]) {
                bad += !tu_verify(p[i], sizes[i], i + 1);
                numaslab_free(p[i]);
            }
        CHECK(!failed && !bad,
              "numaslab_alloc_node, 1 B .. 3 MiB, on node %d: %d failed, %d off node", node, failed,
              bad);

        void *o = numaslab_cache_alloc_node(cache, 0, node);
        void *a = numaslab_alloc_aligned_node(5000, 4096, 0, node);
        void *r = numaslab_alloc_node(100, 0, node);
        r = r ? numaslab_realloc(r, 50000, 0) : NULL;
        CHECK(o && numaslab_ptr_node(o) == node, "cache object on node %d (%d)", node,
              o ? numaslab_ptr_node(o) : -1);
        CHECK(a && numaslab_ptr_node(a) == node && ((uintptr_t)a & 4095) == 0,
              "aligned object on node %d (%d)", node, a ? numaslab_ptr_node(a) : -1);
        CHECK(r && numaslab_ptr_node(r) == node, "realloc'd object stays on node %d (%d)", node,
              r ? numaslab_ptr_node(r) : -1);
        numaslab_cache_free(cache, o);
        numaslab_free(a);
        numaslab_free(r);
    }
}

/* ------------------------------------------------------------------------
 * The memory-less node and the local node
 * ---------------------------------------------------------------------- */

static void *memless[2];

static void alloc_memless(void *arg)
{
    (void)arg;
    memless[0] = numaslab_alloc_node(64, 0, 2);
    memless[1] = numaslab_alloc_node(64, 0, 2);
}

struct local_probe {
    int cpu;
    int pinned;   /* 0: the host has no such CPU */
    int local;    /* numaslab_local_node() */
    int obj_node; /* numaslab_ptr_node(numaslab_alloc(64)) */
    int memless_node;
};

static void *local_thread(void *arg)
{
    struct local_probe *lp = arg;
    lp->pinned = pin(lp->cpu) == 0;
    if (!lp->pinned)
        return NULL;
    lp->local = numaslab_local_node();
    void *p = numaslab_alloc(64, 0);
    void *q = numaslab_alloc_node(64, 0, 2);
    lp->obj_node = p ? numaslab_ptr_node(p) : -1;
    lp->memless_node = q ? numaslab_ptr_node(q) : -1;
    numaslab_free(p);
    numaslab_free(q);
    numaslab_thread_flush();
    return NULL;
}

static void check_memless_and_local(void)
{
    tu_case("the memory-less node and the local node of each CPU");
    REQUIRE(pin(0) == 0, "cannot pin to CPU 0: %s", strerror(errno));
    char *err = tu_capture_stderr(alloc_memless, NULL);
    CHECK(memless[0] && memless[1], "allocation naming memory-less node 2 served");
    CHECK(memless[0] && numaslab_ptr_node(memless[0]) == 0 && numaslab_ptr_node(memless[1]) == 0,
          "served on the local node 0 (%d, %d)", memless[0] ? numaslab_ptr_node(memless[0]) : -1,
          memless[1] ? numaslab_ptr_node(memless[1]) : -1);
    CHECK(tu_count(err, "inactive node 2") == 1, "one inactive-node message naming node 2");
    tu_show("stderr", err);
    free(err);
    numaslab_free(memless[0]);
    numaslab_free(memless[1]);

    errno = 0;
    void *p = numaslab_alloc_node(64, NUMASLAB_THISNODE, 2);
    CHECK(!p && errno == ENODEV, "NUMASLAB_THISNODE on node 2: NULL, ENODEV (%s)", strerror(errno));
    numaslab_free(p);

    struct numaslab_node_stats st;
    CHECK(numaslab_stats_node(2, &st) == 0 && !st.active && st.inactive_requests >= 3,
          "node 2's statistics count the requests naming it (%llu)",
          (unsigned long long)st.inactive_requests);

    for (int cpu = 0; cpu < 2; cpu++) {
        struct local_probe lp = {.cpu = cpu};
        pthread_t th;
        REQUIRE(pthread_create(&th, NULL, local_thread, &lp) == 0, "pthread_create");
        pthread_join(th, NULL);
        if (!lp.pinned) {
            tu_info("this host has no CPU %d for this process: its node is not checked", cpu);
            continue;
        }
        CHECK(lp.local == cpu && lp.obj_node == cpu,
              "thread on CPU %d: local node %d, numaslab_alloc on node %d (want %d)", cpu, lp.local,
              lp.obj_node, cpu);
        CHECK(lp.memless_node == cpu, "thread on CPU %d: node 2's request served on node %d", cpu,
              lp.memless_node);
    }
}

/* ------------------------------------------------------------------------
 * Frees from another thread
 * ---------------------------------------------------------------------- */

static void *objs[NOBJ];

static void *free_all(void *arg)
{
    (void)arg;
    pin(1);
    for (int i = 0; i < NOBJ; i++)
        if (i % 2)
            numaslab_free(objs[i]);
        else
            numaslab_cache_free(cache, objs[i]);
    numaslab_thread_flush();
    return NULL;
}

static uint64_t inuse(int node)
{
    struct numaslab_cache_stats st;
    return numaslab_stats_cache(cache, node, &st) == 0 ? st.objects_inuse : UINT64_MAX;
}

static void check_remote_free(void)
{
    tu_case("frees from another thread go home");
    REQUIRE(pin(0) == 0, "cannot pin to CPU 0");
    numaslab_thread_flush();
    uint64_t before3 = inuse(3), before1 = inuse(1), before0 = inuse(0);
    int off = 0;
    for (int i = 0; i < NOBJ; i++) {
        int node = i % 4 < 2 ? 3 : 1;
        objs[i] =
            i % 2 ? numaslab_alloc_node(48, 0, node) : numaslab_cache_alloc_node(cache, 0, node);
        REQUIRE(objs[i], "allocation %d on node %d failed", i, node);
        off += numaslab_ptr_node(objs[i]) != node;
    }
    CHECK(off == 0, "%d objects for nodes 3 and 1 allocated on CPU 0's thread, %d off node", NOBJ,
          off);
    numaslab_thread_flush();
    CHECK(inuse(3) >= before3 + NOBJ / 4 && inuse(1) >= before1 + NOBJ / 4,
          "the cache's statistics show them on nodes 3 and 1");

    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, free_all, NULL) == 0, "pthread_create");
    pthread_join(th, NULL);
    numaslab_thread_flush();
    CHECK(inuse(3) == before3 && inuse(1) == before1 && inuse(0) == before0,
          "freed by another thread: node 3 %llu -> %llu, node 1 %llu -> %llu, node 0 %llu -> %llu",
          (unsigned long long)before3, (unsigned long long)inuse(3), (unsigned long long)before1,
          (unsigned long long)inuse(1), (unsigned long long)before0, (unsigned long long)inuse(0));

    /* The objects went home: node 3's requests get node 3's memory again,
     * some of it the very objects freed. */
    void *again[NOBJ / 2];
    int home = 0, reused = 0;
    for (int i = 0; i < NOBJ / 2; i++) {
        again[i] = numaslab_cache_alloc_node(cache, 0, 3);
        REQUIRE(again[i], "allocation failed");
        home += numaslab_ptr_node(again[i]) == 3;
        for (int j = 0; j < NOBJ; j += 4)
            if (objs[j] == again[i]) {
                reused++;
                break;
            }
    }
    CHECK(home == NOBJ / 2 && reused > 0, "node 3 again: %d of %d on node 3, %d reused", home,
          NOBJ / 2, reused);
    for (int i = 0; i < NOBJ / 2; i++)
        numaslab_cache_free(cache, again[i]);
}

/* ------------------------------------------------------------------------
 * Reserves, statistics, fallback
 * ---------------------------------------------------------------------- */

static void check_reserves(void)
{
    tu_case("a reserve per simulated node");
    for (int node = 0; node <= 3; node++) {
        struct numaslab_node_stats st;
        errno = 0;
        numaslab_mempool_t *r = numaslab_node_reserve(node);
        if (node == 2) {
            CHECK(!r && errno == ENODEV, "no reserve on inactive node 2 (%s)", strerror(errno));
            continue;
        }
        CHECK(r && numaslab_stats_node(node, &st) == 0 && st.reserve_min > 0 &&
                  st.reserve_cur == st.reserve_min && st.bytes_mapped >= st.reserve_bytes,
              "node %d keeps its own reserve: %d of %d elements", node, r ? st.reserve_cur : -1,
              r ? st.reserve_min : -1);
    }
}

static int stats_text_has(const char *needle)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    REQUIRE(f, "open_memstream");
    numaslab_stats_print(f);
    fclose(f);
    int has = strstr(buf, needle) != NULL;
    if (!has)
        tu_show("numaslab_stats_print", buf);
    free(buf);
    return has;
}

/* Child, NUMASLAB_NODE_LIMIT=8M: node 3 fills, its requests fall back to
 * the nearest active nodes in order (0 then 1: all are at 30, the lower id
 * first), each until it is full too; then a critical request is served
 * from node 3's reserve. */
static int child_limit(void)
{
    enum { MAXV = 1024 };
    void *v[MAXV];
    int n = 0, fell = -1, on[4] = {0}, order_bad = 0, last = 3;
    for (; n < MAXV; n++) {
        v[n] = numaslab_alloc_node(64 << 10, 0, 3);
        if (!v[n])
            break;
        int node = numaslab_ptr_node(v[n]);
        if (node < 0 || node > 3)
            node = 2; /* counted as wrong below */
        on[node]++;
        if (node != 3 && fell < 0)
            fell = n;
        /* nearest first: 3, then 0, then 1, never back */
        int rank = node == 3 ? 0 : node == 0 ? 1 : node == 1 ? 2 : 9;
        int lrank = last == 3 ? 0 : last == 0 ? 1 : 2;
        order_bad += rank < lrank || rank == 9;
        last = node;
    }
    struct numaslab_node_stats s[4];
    for (int i = 0; i < 4; i++)
        numaslab_stats_node(i, &s[i]);
    CHECK(n < MAXV && fell > 0 && on[0] > 0 && on[1] > 0 && on[2] == 0 && !order_bad,
          "node 3 full after %d objects of 64 KiB; then node 0 (%d), node 1 (%d), then none "
          "(%d objects in all, %d out of order)",
          fell, on[0], on[1], n, order_bad);
    CHECK(s[3].fallback_out == (uint64_t)(on[0] + on[1]) && s[0].fallback_in == (uint64_t)on[0] &&
              s[1].fallback_in == (uint64_t)on[1],
          "fallback counted: node 3 out %llu, node 0 in %llu, node 1 in %llu",
          (unsigned long long)s[3].fallback_out, (unsigned long long)s[0].fallback_in,
          (unsigned long long)s[1].fallback_in);
    void *c = numaslab_alloc_node_mempool(100, NUMASLAB_CRITICAL | NUMASLAB_THISNODE, 3, NULL);
    numaslab_stats_node(3, &s[3]);
    CHECK(c && numaslab_ptr_node(c) == 3 && s[3].reserve_used > 0,
          "a critical request on full node 3 is served by node 3's reserve (%d, %llu used)",
          c ? numaslab_ptr_node(c) : -1, (unsigned long long)s[3].reserve_used);
    numaslab_free(c);
    for (int i = 0; i < n; i++)
        numaslab_free(v[i]);
    return tu_exit();
}

/* Child, NUMASLAB_STATS=1: numaslab-stat(1) on this very process says the
 * machine is simulated, in the table and in the JSON. */
static int child_stat(void)
{
    const char *top = getenv("top_builddir");
    char tool[4096], cmd[8400], buf[4096];
    snprintf(tool, sizeof(tool), "%s/tools/numaslab-stat", top ? top : ".");
    REQUIRE(access(tool, X_OK) == 0, "%s: %s", tool, strerror(errno));
    /* The spawn puts NUMASLAB_STATS=0 first, which getenv would find. */
    setenv("NUMASLAB_STATS", "1", 1);
    void *p = numaslab_alloc_node(64, 0, 3);
    REQUIRE(p, "allocation on node 3 failed");
    snprintf(cmd, sizeof(cmd), "%s -p %ld && %s -p %ld --json", tool, (long)getpid(), tool,
             (long)getpid());
    FILE *f = popen(cmd, "r");
    REQUIRE(f, "popen: %s", strerror(errno));
    size_t len = fread(buf, 1, sizeof(buf) - 1, f);
    buf[len] = '\0';
    int st = pclose(f);
    CHECK(st == 0 && strstr(buf, "; simulated machine") &&
              strstr(buf, "\"machine\": \"simulated\""),
          "numaslab-stat -p (table and --json) says the machine is simulated (status %#x)", st);
    tu_show("numaslab-stat", buf);
    numaslab_free(p);
    return tu_exit();
}

/* This program again as "--child arg", with var (or NULL) set: its checks
 * must pass, and its stderr must hold err (or NULL: anything). */
static void check_child(const char *arg, const char *var, const char *err, const char *what)
{
    const char *vars[] = {var};
    struct tu_child ch = tu_spawn_self("test-simulated", arg, vars, var ? 1 : 0);
    CHECK(WIFEXITED(ch.status) && WEXITSTATUS(ch.status) == 0 && (!err || strstr(ch.err, err)),
          "a child %s passes its checks%s%s (status %#x)", what, err ? ", and says: " : "",
          err ? err : "", ch.status);
    tu_show("child", ch.out);
    tu_show("child's stderr", ch.err);
    free(ch.out);
    free(ch.err);
}

/* Child: a machine whose only node has no memory.  numaslab_init fails
 * with -ENODEV (numaslab(3)), and so does an allocation. */
static int child_nomem(const char *argv0)
{
    use_machine(argv0, "sim-no-memory.xml", 1);
    int rc = numaslab_init(NULL);
    CHECK(rc == -ENODEV, "numaslab_init with no node with memory: -ENODEV (got %d)", rc);
    errno = 0;
    void *p = numaslab_alloc(64, 0);
    CHECK(!p && errno == ENODEV, "numaslab_alloc then: NULL, ENODEV (%s)", strerror(errno));
    return tu_exit();
}

int main(int argc, char **argv)
{
    use_machine(argv[0], "sim-four.xml", 0);
    if (argc > 2 && !strcmp(argv[1], "--child")) {
        tu_init("test-simulated child");
        if (!strcmp(argv[2], "limit"))
            return child_limit();
        if (!strcmp(argv[2], "stat"))
            return child_stat();
        if (!strcmp(argv[2], "nomem"))
            return child_nomem(argv[0]);
        tu_hard("unknown child %s", argv[2]);
    }
    tu_init("test-simulated");
    tu_info("machine: %s", getenv("HWLOC_XMLFILE"));
    cache = numaslab_cache_create("sim-48", 48, 0, 0, NULL);
    REQUIRE(cache, "numaslab_cache_create: %s", strerror(errno));
    check_table();
    check_unbound();
    check_explicit();
    check_memless_and_local();
    check_remote_free();
    check_reserves();
    tu_case("the statistics say the machine is simulated");
    CHECK(stats_text_has("simulated machine"),
          "numaslab_stats_print says the machine is simulated");
    tu_case("fallback under NUMASLAB_NODE_LIMIT and a critical request");
    check_child("limit", "NUMASLAB_NODE_LIMIT=8M", NULL, "under NUMASLAB_NODE_LIMIT=8M");
    tu_case("no node with memory: -ENODEV");
    check_child("nomem", NULL, "no NUMA node with memory is allowed",
                "on a machine without memory (-ENODEV)");
    tu_case("numaslab-stat says the machine is simulated");
    if (access("/dev/shm", W_OK) == 0) {
        check_child("stat", NULL, NULL, "read by numaslab-stat");
    } else {
        tu_info("/dev/shm is not writable: numaslab-stat is not run");
    }
    numaslab_cache_destroy(cache);
    return tu_exit();
}
