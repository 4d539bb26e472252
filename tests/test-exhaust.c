/*
 * test-exhaust.c - running short for real (numaslab(7), MEMORY
 * EXHAUSTION): the library knows a node or the memory cgroup is short
 * before it faults anything in, falls back or fails with ENOMEM, serves
 * critical requests from the reserves, and is never OOM-killed.
 *
 * Modes:
 *   (none)          make check on any host: the low watermark set to the
 *                   whole node makes it short for real readings; then a
 *                   watermark just below what the node has now lets a few
 *                   tens of MiB through and no more; frees end it.
 *   --cgroup        inside a memory cgroup with a limit (tests/test-cgroup.sh
 *                   on the host, the guest suite): ordinary allocations fail
 *                   before the limit, critical ones are served, freeing half
 *                   lets allocations succeed again.  77 without a limit.
 *                   NSLAB_TEST_CGDIR names the cgroup's directory, so that
 *                   the kernel's own usage and OOM counts are read.
 *   --fill=N        a multi-node guest: fill node N with ordinary objects
 *                   for it; they go on to its nearest memory node, never a
 *                   farther one (the kernel's word); critical THISNODE ones
 *                   come from N's reserve; after the frees N serves again.
 *   --squeeze=N     a multi-node guest: another process takes most of node
 *                   N while this one allocates there.
 * A kill by the OOM killer fails the step: the exit status is 137.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <fcntl.h>
#include <numa.h>
#include <signal.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <time.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define OBJ 4000
#define MiB ((size_t)1 << 20)

static struct numaslab_node_stats node_stats(int node)
{
    struct numaslab_node_stats st;
    REQUIRE(numaslab_stats_node(node, &st) == 0, "numaslab_stats_node(%d)", node);
    return st;
}

/* A growing array of objects. */
struct objs {
    void **v;
    size_t n, cap;
};

static void objs_push(struct objs *o, void *p)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 4096;
        o->v = realloc(o->v, o->cap * sizeof(void *));
        REQUIRE(o->v, "out of memory");
    }
    o->v[o->n++] = p;
}

static void objs_free(struct objs *o, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        numaslab_free(o->v[i]);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------------
 * make check: a watermark that makes the node short for real readings
 * ---------------------------------------------------------------------- */

/* NUMASLAB_LOW_WATERMARK=100%: the whole node is kept free. */
static int child_all(void)
{
    tu_case("NUMASLAB_LOW_WATERMARK=100%%: the whole node kept free");
    numaslab_init(NULL);
    int node = numaslab_local_node();
    errno = 0;
    void *p = numaslab_alloc(OBJ, 0);
    CHECK(p == NULL && errno == ENOMEM,
          "an ordinary object with the whole node kept free: "
          "NULL/ENOMEM (got %p, %s)",
          p, strerror(errno));
    errno = 0;
    p = numaslab_alloc(1 * MiB, 0);
    CHECK(p == NULL && errno == ENOMEM, "a large object: NULL/ENOMEM (got %p, %s)", p,
          strerror(errno));
    void *c = numaslab_alloc(OBJ, NUMASLAB_CRITICAL);
    CHECK(c != NULL, "a critical object is served from the reserve (%s)", strerror(errno));
    struct numaslab_node_stats st = node_stats(node);
    CHECK(st.mem_known == 1, "the node's free memory is read (known %d)", st.mem_known);
    CHECK(st.mem_short == 1 && st.short_since_ns > 0, "the node is short (short %d since %llu)",
          st.mem_short, (unsigned long long)st.short_since_ns);
    CHECK(st.short_refused >= 2 && st.short_episodes == 1,
          "refusals counted: %llu refused, %llu episodes", (unsigned long long)st.short_refused,
          (unsigned long long)st.short_episodes);
    CHECK(st.reserve_used >= 1, "the reserve served (%llu)", (unsigned long long)st.reserve_used);
    CHECK(st.low_watermark > st.mem_avail, "watermark %llu above what the node has, %llu",
          (unsigned long long)st.low_watermark, (unsigned long long)st.mem_avail);
    /* A page pool is a reserve: only the node's real memory bounds it. */
    tu_case("a page pool is a reserve: only the node's real memory bounds it");
    numaslab_mempool_t *pool = numaslab_page_pool_create(node, 0, 4);
    CHECK(pool != NULL, "a small page pool is still made (%s)", strerror(errno));
    if (pool)
        numaslab_mempool_destroy(pool);
    numaslab_free(c);
    return tu_exit();
}

/* The watermark a little below what the node can give now: about
 * NSLAB_TEST_ROOM bytes may be mapped, then it is short; frees end it. */
static int child_room(void)
{
    size_t room = (size_t)strtoull(getenv("NSLAB_TEST_ROOM"), NULL, 10);
    numaslab_init(NULL);
    int node = numaslab_local_node();
    struct numaslab_node_stats st0 = node_stats(node);
    /* The room by this process's own first reading: other processes move
     * the node's free memory between the parent's reading and this one. */
    tu_case("ordinary allocation until the node is short");
    int64_t expect = (int64_t)st0.mem_avail - (int64_t)st0.low_watermark;
    struct objs o = {0};
    void *p;
    while ((p = numaslab_alloc_node(OBJ, NUMASLAB_THISNODE, node)) && o.n < 8 * room / OBJ)
        objs_push(&o, p);
    CHECK(p == NULL && errno == ENOMEM, "allocation stops with ENOMEM (after %zu objects, %s)", o.n,
          strerror(errno));
    struct numaslab_node_stats st1 = node_stats(node);
    uint64_t got = st1.bytes_mapped - st0.bytes_mapped;
    tu_info("room %lld MiB by the watermark (%zu MiB asked): %llu MiB mapped, then short "
            "(%llu refused, %llu episodes)",
            (long long)expect >> 20, room >> 20, (unsigned long long)got >> 20,
            (unsigned long long)st1.short_refused, (unsigned long long)st1.short_episodes);
    /* How much gets through is not checked to the MiB here: on virtual
     * machines whose memory is plugged in as it is used, free memory does
     * not fall one for one with what is mapped, and tests beside this one
     * move it too.  The guests of make check-numa check it on a real
     * node.  Here: it stops, well within 8 times the room. */
    tu_case("a short node: critical requests and the reserve");
    CHECK(st1.mem_short == 1, "the node is short");
    void *c = numaslab_alloc_node(OBJ, NUMASLAB_CRITICAL | NUMASLAB_THISNODE, node);
    CHECK(c != NULL, "critical THISNODE: served by the reserve (%s)", strerror(errno));
    numaslab_free(c);
    objs_free(&o, 0, o.n);
    numaslab_thread_flush();
    /* Memory back: the library's own frees count at once. */
    tu_case("memory back: the library's own frees count at once");
    void *big = numaslab_alloc_node(4 * MiB, NUMASLAB_THISNODE, node);
    struct numaslab_node_stats st2 = node_stats(node);
    tu_info("after the frees: a 4 MiB object %s, the node %s short", big ? "mapped" : "refused",
            st2.mem_short ? "still" : "no longer");
    if (big)
        numaslab_free(big);
    free(o.v);
    return tu_exit();
}

/* numaslab_init's setting wins over the environment. */
static int child_cfg(void)
{
    tu_case("the config's low_watermark");
    struct numaslab_config cfg = {0};
    cfg.low_watermark = (size_t)1 << 50; /* 1 PiB: more than any node */
    REQUIRE(numaslab_init(&cfg) == 0, "numaslab_init");
    errno = 0;
    void *p = numaslab_alloc(OBJ, 0);
    CHECK(p == NULL && errno == ENOMEM, "config low_watermark 1P: short (got %p)", p);
    struct numaslab_node_stats st = node_stats(numaslab_local_node());
    CHECK(st.low_watermark == (uint64_t)1 << 50, "the watermark is the config's (%llu)",
          (unsigned long long)st.low_watermark);
    return tu_exit();
}

static int host_tests(void)
{
    tu_case("NUMASLAB_LOW_WATERMARK=100%%, in a child");
    const char *all[] = {"NUMASLAB_LOW_WATERMARK=100%", NULL};
    struct tu_child r = tu_spawn_self("test-exhaust", "all", all, 1);
    tu_show("100% child", r.out);
    tu_show("100% child stderr", r.err);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "watermark 100%%: child passed");
    free(r.out);
    free(r.err);

    /* What the node has now, less 48 MiB, as the watermark. */
    tu_case("a watermark 48 MiB below the node's free memory");
    numaslab_init(NULL);
    struct numaslab_node_stats st = node_stats(numaslab_local_node());
    if (!st.mem_known)
        tu_skip("this kernel does not say how much memory the node has");
    size_t room = 48 * MiB;
    if (st.mem_avail < 2 * room)
        tu_skip("the node has less than 96 MiB free");
    char wm[64], rm[64];
    snprintf(wm, sizeof(wm), "NUMASLAB_LOW_WATERMARK=%llu",
             (unsigned long long)(st.mem_avail - room));
    snprintf(rm, sizeof(rm), "NSLAB_TEST_ROOM=%zu", room);
    const char *vars[] = {wm, rm, NULL};
    /* Tests running beside this one move the node's free memory; a run
     * they disturbed is tried again, three times at most (the child
     * judges by its own first reading, so the watermark stays). */
    int passed = 0;
    for (int attempt = 0; attempt < 3 && !passed; attempt++) {
        r = tu_spawn_self("test-exhaust", "room", vars, 2);
        tu_show("room child", r.out);
        tu_show("room child stderr", r.err);
        passed = WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
        free(r.out);
        free(r.err);
    }
    CHECK(passed, "watermark below the free memory: child passed");

    tu_case("the config's low_watermark wins over the environment, in a child");
    const char *env[] = {"NUMASLAB_LOW_WATERMARK=1M", NULL};
    r = tu_spawn_self("test-exhaust", "cfg", env, 1);
    tu_show("config child", r.out);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "config watermark: child passed");
    free(r.out);
    free(r.err);
    return tu_exit();
}

/* ------------------------------------------------------------------------
 * A memory cgroup with a limit
 * ---------------------------------------------------------------------- */

/* A number from a file of the cgroup's directory (the first one after key
 * when key is given), or -1. */
static long long cg_value(const char *file, const char *key)
{
    const char *dir = getenv("NSLAB_TEST_CGDIR");
    char path[1024], buf[8192];
    if (!dir)
        return -1;
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = buf;
    if (key) {
        p = strstr(buf, key);
        if (!p)
            return -1;
        p += strlen(key);
    }
    return strtoll(p, NULL, 10);
}

static int is_v2(void)
{
    return cg_value("memory.current", NULL) >= 0;
}
static long long cg_usage(void)
{
    return is_v2() ? cg_value("memory.current", NULL) : cg_value("memory.usage_in_bytes", NULL);
}
static long long cg_ooms(void)
{
    return is_v2() ? cg_value("memory.events", "oom_kill ")
                   : cg_value("memory.oom_control", "oom_kill ");
}

static int cgroup_test(void)
{
    long long before = cg_usage();
    REQUIRE(numaslab_init(NULL) == 0, "numaslab_init");
    long long after = cg_usage();
    struct numaslab_process_stats ps;
    REQUIRE(numaslab_stats_process(&ps) == 0, "numaslab_stats_process");
    if (ps.cgroup_limit == UINT64_MAX)
        tu_skip("not in a memory cgroup with a limit (state %d)", ps.cgroup);
    tu_info("cgroup v%d: limit %llu MiB, usage %llu MiB, margin %llu MiB", ps.cgroup,
            (unsigned long long)ps.cgroup_limit >> 20, (unsigned long long)ps.cgroup_usage >> 20,
            (unsigned long long)ps.cgroup_margin >> 20);
    CHECK(ps.cgroup == NUMASLAB_CGROUP_V1 || ps.cgroup == NUMASLAB_CGROUP_V2,
          "the cgroup's version is known (%d)", ps.cgroup);
    CHECK(ps.cgroup_margin > 0 && ps.cgroup_margin < ps.cgroup_limit, "a margin below the limit");

    /* The reserves are charged here, at initialisation. */
    tu_case("the reserves are charged here, at initialisation");
    uint64_t reserve = 0;
    for (int n = 0; n <= numaslab_max_node(); n++) {
        struct numaslab_node_stats st = node_stats(n);
        reserve += st.reserve_bytes;
    }
    if (before >= 0) {
        tu_info("initialisation charged %lld KiB; the reserves hold %llu KiB",
                (after - before) >> 10, (unsigned long long)reserve >> 10);
        CHECK(after - before >= (long long)(reserve - reserve / 4),
              "the reserves (%llu) are charged to the cgroup at initialisation (+%lld)",
              (unsigned long long)reserve, after - before);
    }
    const char *ml = getenv("NUMASLAB_RESERVE_MLOCK");
    if (ml && !strcmp(ml, "1") && !tu_mlock_locks()) {
        /* A sanitizer's mlock() does nothing: nothing to check. */
        tu_info("NUMASLAB_RESERVE_MLOCK=1 where mlock() locks nothing (a sanitizer's)");
    } else if (ml && !strcmp(ml, "1")) {
        long long lck = tu_locked_bytes();
        CHECK(lck >= (long long)reserve,
              "NUMASLAB_RESERVE_MLOCK=1: %lld bytes locked, the "
              "reserves hold %llu",
              lck, (unsigned long long)reserve);
    }

    /* Ordinary objects until the library says no. */
    tu_case("ordinary objects until the library says no");
    struct objs o = {0};
    void *p;
    size_t cap = 2 * ps.cgroup_limit / OBJ;
    while ((p = numaslab_alloc(OBJ, 0)) && o.n < cap) {
        memset(p, 0x5a, OBJ);
        objs_push(&o, p);
    }
    int e = errno;
    long long used = cg_usage();
    REQUIRE(numaslab_stats_process(&ps) == 0, "numaslab_stats_process");
    tu_info("%zu objects (%zu MiB), then %s; the kernel's usage %lld MiB", o.n, o.n * OBJ >> 20,
            p ? "no refusal" : strerror(e), used >> 20);
    CHECK(p == NULL && e == ENOMEM, "ordinary allocation fails with ENOMEM before the limit");
    if (used >= 0)
        CHECK((uint64_t)used < ps.cgroup_limit, "usage %lld is below the limit %llu", used,
              (unsigned long long)ps.cgroup_limit);
    CHECK(ps.cgroup_short == 1 && ps.short_refused > 0 && ps.trims > 0,
          "the cgroup is short (%d), refusals %llu, cached memory given back %llu times",
          ps.cgroup_short, (unsigned long long)ps.short_refused, (unsigned long long)ps.trims);
    errno = 0;
    void *big = numaslab_alloc(2 * MiB, 0);
    CHECK(big == NULL && errno == ENOMEM, "a large object fails too (%p)", big);

    /* Critical requests: the reserves. */
    tu_case("critical requests: the reserves");
    struct objs crit = {0};
    for (int i = 0; i < 100; i++)
        if ((p = numaslab_alloc(OBJ, NUMASLAB_CRITICAL))) {
            memset(p, 0xc3, OBJ);
            objs_push(&crit, p);
        }
    CHECK(crit.n == 100, "critical allocations are served from the reserve: %zu of 100", crit.n);
    uint64_t used_res = 0;
    for (int n = 0; n <= numaslab_max_node(); n++)
        used_res += node_stats(n).reserve_used;
    CHECK(used_res > 0, "the reserves served (%llu)", (unsigned long long)used_res);

    /* Half back: allocation works again, a large object included. */
    tu_case("half back: allocation works again, a large object included");
    objs_free(&o, 0, o.n / 2);
    numaslab_thread_flush();
    big = numaslab_alloc(2 * MiB, 0);
    CHECK(big != NULL, "after half is freed, a 2 MiB object is mapped (%s)", strerror(errno));
    if (big)
        memset(big, 1, 2 * MiB);
    size_t again = 0;
    for (; again < 1000 && (p = numaslab_alloc(OBJ, 0)); again++)
        objs_push(&o, p);
    CHECK(again == 1000, "and ordinary objects again: %zu of 1000", again);
    REQUIRE(numaslab_stats_process(&ps) == 0, "numaslab_stats_process");
    CHECK(ps.cgroup_short == 0, "the cgroup is no longer short");
    numaslab_free(big);
    objs_free(&crit, 0, crit.n);
    numaslab_thread_flush();
    uint64_t cur = 0, min = 0;
    for (int n = 0; n <= numaslab_max_node(); n++) {
        struct numaslab_node_stats st = node_stats(n);
        cur += (uint64_t)st.reserve_cur;
        min += (uint64_t)st.reserve_min;
    }
    CHECK(cur == min, "the reserves are back to their minimum (%llu of %llu)",
          (unsigned long long)cur, (unsigned long long)min);
    long long ooms = cg_ooms();
    if (ooms >= 0)
        CHECK(ooms == 0, "the kernel counted no OOM kill in the cgroup (%lld)", ooms);
    objs_free(&o, o.n / 2, o.n);
    free(o.v);
    free(crit.v);
    return tu_exit();
}

/* ------------------------------------------------------------------------
 * Multi-node guests
 * ---------------------------------------------------------------------- */

/* The memory nodes nearest and farthest from node (-1 when none). */
static void near_far(int node, int *near, int *far)
{
    *near = *far = -1;
    int dn = 1 << 30, df = -1;
    for (int n = 0; n <= numa_max_node(); n++) {
        long long sz = numa_node_size64(n, NULL);
        if (n == node || sz <= 0 || numaslab_node_is_active(n) != 1)
            continue;
        int d = numa_distance(node, n);
        if (d < dn)
            dn = d, *near = n;
        if (d > df)
            df = d, *far = n;
    }
    if (*far == *near)
        *far = -1;
}

/* Initialise, and find node's nearest and farthest memory nodes; skip
 * (77) when node is not active or has no other memory node. */
static void guest_setup(int node, int *near, int *far)
{
    REQUIRE(numaslab_init(NULL) == 0, "numaslab_init");
    if (numa_available() < 0 || numaslab_node_is_active(node) != 1)
        tu_skip("node %d is not an active node of this machine", node);
    near_far(node, near, far);
    if (*near < 0)
        tu_skip("node %d has no other memory node to fall back to", node);
}

/* Ordinary objects for node until COUNT objects in a row landed
 * elsewhere; the kernel checks each one's page. */
struct fill {
    struct objs o;
    size_t on_node, on_near, on_far, elsewhere, kernel_bad, first_out;
};

static void fill_node(struct fill *f, int node, int near, int far, size_t after_short, size_t limit)
{
    size_t out = 0;
    f->first_out = (size_t)-1;
    while (f->o.n < limit && out < after_short) {
        void *p = numaslab_alloc_node(OBJ, 0, node);
        if (!p) {
            int e = errno;
            static int told;
            if (!told++)
                for (int n = 0; n <= numaslab_max_node(); n++) {
                    struct numaslab_node_stats st = node_stats(n);
                    if (st.active)
                        tu_info("node %d: %llu MiB mapped, %llu MiB page cache, %llu MiB left "
                                "by the library's reading, short %d",
                                n, (unsigned long long)st.bytes_mapped >> 20,
                                (unsigned long long)st.page_cached >> 20,
                                (unsigned long long)st.mem_avail >> 20, st.mem_short);
                }
            tu_info("ordinary allocation for node %d failed after %zu objects: %s", node, f->o.n,
                    strerror(e));
            break;
        }
        memset(p, 0x77, OBJ);
        objs_push(&f->o, p);
        int lib = numaslab_ptr_node(p), k = kernel_node_of(p);
        if (k != lib)
            f->kernel_bad++;
        if (k == node) {
            f->on_node++;
        } else {
            if (f->first_out == (size_t)-1)
                f->first_out = f->o.n - 1;
            out++;
            if (k == near)
                f->on_near++;
            else if (k == far)
                f->on_far++;
            else
                f->elsewhere++;
        }
    }
}

/* Critical THISNODE objects on node: how many the kernel puts there. */
static size_t critical_on(int node, struct objs *keep)
{
    size_t on = 0;
    for (int i = 0; i < 100; i++) {
        void *p = numaslab_alloc_node(OBJ, NUMASLAB_CRITICAL | NUMASLAB_THISNODE, node);
        if (!p)
            continue;
        memset(p, 0xc1, OBJ);
        objs_push(keep, p);
        on += kernel_node_of(p) == node;
    }
    return on;
}

static int fill_test(int node)
{
    tu_case("fill the node");
    int near, far;
    guest_setup(node, &near, &far);
    long long size = numa_node_size64(node, NULL);
    tu_info("filling node %d (%lld MiB); nearest memory node %d, farthest %d", node, size >> 20,
            near, far);
    struct numaslab_node_stats st0 = node_stats(node);
    struct fill f = {0};
    fill_node(&f, node, near, far, 4096, (size_t)(size + (64 << 20)) / OBJ);
    struct numaslab_node_stats st = node_stats(node);
    tu_info("%zu objects: %zu on node %d, then %zu on %d, %zu on %d, %zu elsewhere; first "
            "one off the node: #%zd; the library saw %llu MiB left, watermark %llu MiB",
            f.o.n, f.on_node, node, f.on_near, near, f.on_far, far, f.elsewhere,
            (ssize_t)f.first_out, (unsigned long long)st.mem_avail >> 20,
            (unsigned long long)st.low_watermark >> 20);
    CHECK(f.on_node * (size_t)OBJ > (size_t)size / 2,
          "node %d was filled for real: %zu MiB of "
          "objects there",
          node, f.on_node * OBJ >> 20);
    CHECK(f.first_out != (size_t)-1 && f.on_near >= 4096,
          "once node %d is short, objects "
          "land on its nearest node %d (%zu)",
          node, near, f.on_near);
    CHECK(f.on_far == 0 && f.elsewhere == 0,
          "never on the farther node %d (%zu) nor elsewhere "
          "(%zu)",
          far, f.on_far, f.elsewhere);
    CHECK(f.kernel_bad == 0, "the library's node agrees with the kernel's (%zu differ)",
          f.kernel_bad);
    CHECK(st.mem_short == 1 && st.short_refused > 0, "node %d is short (%d), %llu refusals", node,
          st.mem_short, (unsigned long long)st.short_refused);
    CHECK(st.fallback_out > st0.fallback_out, "the fallbacks are counted (%llu)",
          (unsigned long long)(st.fallback_out - st0.fallback_out));

    struct objs crit = {0};
    size_t on = critical_on(node, &crit);
    CHECK(on >= 90, "critical THISNODE allocations on node %d: %zu of 100 there", node, on);
    errno = 0;
    void *p = numaslab_alloc_node(OBJ, NUMASLAB_THISNODE, node);
    CHECK(p == NULL && errno == ENOMEM,
          "an ordinary THISNODE allocation fails with ENOMEM "
          "(%p, %s)",
          p, strerror(errno));

    /* Large objects and page pools follow the same rule. */
    tu_case("large objects and page pools follow the same rule");
    void *big = numaslab_alloc_node(1 * MiB, 0, node);
    CHECK(big != NULL && kernel_on_node(big, MiB, near),
          "a 1 MiB object for node %d lands on "
          "node %d",
          node, near);
    errno = 0;
    void *big2 = numaslab_alloc_node(1 * MiB, NUMASLAB_THISNODE, node);
    CHECK(big2 == NULL && errno == ENOMEM, "with THISNODE it fails with ENOMEM (%p)", big2);
    errno = 0;
    numaslab_mempool_t *pool = numaslab_page_pool_create(node, 8, 256); /* 256 MiB */
    CHECK(pool == NULL && errno == ENOMEM,
          "a 256 MiB page pool on the short node fails "
          "cleanly (%p, %s)",
          (void *)pool, strerror(errno));
    if (pool)
        numaslab_mempool_destroy(pool);

    /* Everything back: the node serves ordinary THISNODE requests again. */
    tu_case("everything back");
    numaslab_free(big);
    objs_free(&f.o, 0, f.o.n);
    objs_free(&crit, 0, crit.n);
    numaslab_thread_flush();
    struct objs again = {0};
    size_t there = 0;
    int off_kernel = node, off_lib = node;
    for (size_t i = 0; i < 16 * MiB / OBJ; i++) {
        if (!(p = numaslab_alloc_node(OBJ, NUMASLAB_THISNODE, node)))
            break;
        memset(p, 1, OBJ);
        objs_push(&again, p);
        int k = kernel_node_of(p);
        there += k == node;
        if (k != node && off_kernel == node)
            off_kernel = k, off_lib = numaslab_ptr_node(p);
    }
    CHECK(there == 16 * MiB / OBJ,
          "after the frees, 16 MiB of ordinary THISNODE objects on "
          "node %d: %zu of %zu there (the first other: the kernel says %d, "
          "the library %d)",
          node, there, 16 * MiB / OBJ, off_kernel, off_lib);
    big = numaslab_alloc_node(8 * MiB, NUMASLAB_THISNODE, node);
    CHECK(big && (memset(big, 1, 8 * MiB), kernel_on_node(big, 8 * MiB, node)),
          "and an 8 MiB object");
    numaslab_free(big);
    st = node_stats(node);
    CHECK(st.mem_short == 0, "node %d is no longer short", node);
    CHECK(st.reserve_cur == st.reserve_min, "its reserve is back to its minimum (%d of %d)",
          st.reserve_cur, st.reserve_min);
    objs_free(&again, 0, again.n);
    free(f.o.v);
    free(crit.v);
    free(again.v);
    return tu_exit();
}

/* The squeezer: takes node's memory, 4 MiB at a time, until less than
 * leave bytes are free there; says so on fd; then waits to be killed. */
static volatile size_t *squeeze_held; /* shared with the squeezing child */

/* The kernel's last lines (an OOM kill says why), where readable. */
static void kernel_log_tail(int lines)
{
    static char buf[1 << 17];
    int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char *p = buf + n;
    for (int k = 0; p > buf && k <= lines; p--)
        if (p[-1] == '\n')
            k++;
    tu_info("the kernel's log ends:\n%s", p);
}

static void squeeze(int node, long long leave, int fd)
{
    size_t step = 4 * MiB, held = 0;
    unsigned long mask[16] = {0};
    mask[node / (8 * sizeof(long))] = 1UL << (node % (8 * sizeof(long)));
    for (;;) {
        long long freeb = 0;
        numa_node_size64(node, &freeb);
        if (freeb < leave + (long long)step)
            break;
        char *p = mmap(NULL, step, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            break;
        if (mbind(p, step, MPOL_BIND, mask, sizeof(mask) * 8 + 1, 0) != 0)
            break;
        if (madvise(p, step, MADV_POPULATE_WRITE) != 0)
            for (size_t i = 0; i < step; i += 4096)
                p[i] = 1;
        held += step;
        if (squeeze_held)
            *squeeze_held = held;
    }
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "%zu\n", held);
    if (write(fd, msg, (size_t)n) < 0)
        _exit(1);
    for (;;)
        pause();
}

static int squeeze_test(int node)
{
    int near, far;
    guest_setup(node, &near, &far);
    /* The other process must stay above the kernel's min watermark, or its
     * own last page faults end in the OOM killer (the "two" guest's nodes
     * of 512 MiB have a min watermark of 25 MiB); the library takes what
     * it leaves, down to its own watermark above the kernel's. */
    tu_case("squeeze: another process takes the node's memory");
    long long leave = 64 << 20;
    struct objs o = {0};
    /* Some of node's memory is ours before the squeeze. */
    tu_case("some of node's memory is ours before the squeeze");
    for (size_t i = 0; i < 8 * MiB / OBJ; i++) {
        void *p = numaslab_alloc_node(OBJ, NUMASLAB_THISNODE, node);
        REQUIRE(p, "before the squeeze: %s", strerror(errno));
        memset(p, 1, OBJ);
        objs_push(&o, p);
    }
    int pfd[2];
    REQUIRE(pipe(pfd) == 0, "pipe");
    void *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    squeeze_held = sh == MAP_FAILED ? NULL : sh;
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        close(pfd[0]);
        squeeze(node, leave, pfd[1]);
    }
    close(pfd[1]);
    /* Allocate on the node while the other process takes it, and after. */
    tu_case("allocate on the node while the other process takes it, and after");
    struct fill f = {0};
    char buf[64] = "";
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    size_t ready_at = 0;
    int gone = 0;
    for (;;) {
        size_t before = f.o.n;
        fill_node(&f, node, near, far, 1, f.o.n + 64);
        if (!ready_at && f.o.n == before) {
            /* Nothing more to be had and no word from the other process:
             * it may be dead (the OOM killer), and the loop would spin. */
            int wst;
            if (waitpid(pid, &wst, WNOHANG) == pid) {
                tu_info("the other process is gone before it said how much it took: %s %d, "
                        "with %zu MiB taken; we had %zu objects",
                        WIFSIGNALED(wst) ? "signal" : "exit",
                        WIFSIGNALED(wst) ? WTERMSIG(wst) : WEXITSTATUS(wst),
                        squeeze_held ? *squeeze_held >> 20 : 0, f.o.n);
                gone = 1;
                kernel_log_tail(40);
                break;
            }
        }
        if (!ready_at && read(pfd[0], buf, sizeof(buf) - 1) > 0) {
            buf[strcspn(buf, "\n")] = '\0';
            ready_at = f.o.n ? f.o.n : 1;
        }
        if (ready_at && f.on_near >= 2048)
            break;
        if (f.o.n > (size_t)1 << 20) /* 4 GiB of objects: something is wrong */
            break;
        if (f.first_out == (size_t)-1 && !ready_at)
            sleep_ms(1);
    }
    struct numaslab_node_stats st = node_stats(node);
    tu_info("the other process took %s bytes of node %d; meanwhile %zu objects: %zu on node %d, "
            "%zu on %d, %zu on %d, %zu elsewhere; the library saw %llu MiB left",
            buf, node, f.o.n, f.on_node, node, f.on_near, near, f.on_far, far, f.elsewhere,
            (unsigned long long)st.mem_avail >> 20);
    CHECK(ready_at > 0 && !gone, "the other process took the node's memory");
    if (gone)
        return tu_exit();
    CHECK(f.on_near >= 2048 && f.on_far == 0 && f.elsewhere == 0,
          "the objects fell back to node %d, never farther", near);
    CHECK(st.mem_short == 1 && st.short_refused > 0, "node %d is short", node);
    struct objs crit = {0};
    size_t on = critical_on(node, &crit);
    CHECK(on >= 90, "critical THISNODE allocations on node %d: %zu of 100 there", node, on);

    /* The other process goes: the memory comes back. */
    tu_case("the other process goes: the memory comes back");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    sleep_ms(50);
    objs_free(&crit, 0, crit.n);
    size_t there = 0, want = 32 * MiB / OBJ;
    for (size_t i = 0; i < want; i++) {
        void *p = numaslab_alloc_node(OBJ, NUMASLAB_THISNODE, node);
        if (!p)
            break;
        memset(p, 1, OBJ);
        objs_push(&o, p);
        there += kernel_node_of(p) == node;
    }
    CHECK(there == want, "once it is gone, 32 MiB of THISNODE objects on node %d: %zu of %zu", node,
          there, want);
    objs_free(&o, 0, o.n);
    objs_free(&f.o, 0, f.o.n);
    free(o.v);
    free(f.o.v);
    free(crit.v);
    return tu_exit();
}

int main(int argc, char **argv)
{
    tu_init("test-exhaust");
    if (argc >= 3 && !strcmp(argv[1], "--child")) {
        if (!strcmp(argv[2], "all"))
            return child_all();
        if (!strcmp(argv[2], "room"))
            return child_room();
        if (!strcmp(argv[2], "cfg"))
            return child_cfg();
        tu_hard("unknown child %s", argv[2]);
    }
    if (argc >= 2 && !strcmp(argv[1], "--cgroup"))
        return cgroup_test();
    if (argc >= 2 && !strncmp(argv[1], "--fill=", 7))
        return fill_test(atoi(argv[1] + 7));
    if (argc >= 2 && !strncmp(argv[1], "--squeeze=", 10))
        return squeeze_test(atoi(argv[1] + 10));
    return host_tests();
}
