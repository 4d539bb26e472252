/*
 * test-reserve - reserve-backed slabs under fault injection: critical and
 * mempool requests succeed until the reserve is used up, ordinary ones
 * fail and take nothing from it; objects of reserve slabs never go to an
 * ordinary request; emptied slabs give their pages back to their pool;
 * slabs of order 0, 1 and 3; a mismatched pool is skipped; NUMASLAB_WAIT
 * through a cache; an inactive node uses the local reserve; nothing lost;
 * the reserve is one run of pages, advised for huge pages, and locked
 * chunk by chunk as far as RLIMIT_MEMLOCK goes when the run cannot be.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <linux/capability.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>

static struct numaslab_mempool_stats pstats(numaslab_mempool_t *p)
{
    struct numaslab_mempool_stats st;
    memset(&st, 0, sizeof(st));
    numaslab_mempool_stats(p, &st);
    return st;
}

static struct numaslab_cache_stats cstats(numaslab_cache_t *c, int node)
{
    struct numaslab_cache_stats st;
    memset(&st, 0, sizeof(st));
    numaslab_stats_cache(c, node, &st);
    return st;
}

/* Objects in one slab of a cache: make one slab, read its capacity. */
static long slab_objects(numaslab_cache_t *c, int node)
{
    void *p = numaslab_cache_alloc_node(c, 0, node);
    long n = p ? (long)cstats(c, node).objects_total : -1;
    numaslab_cache_free(c, p);
    numaslab_thread_flush();
    return n;
}

#define MAXOBJ 200000
static void *objs[MAXOBJ], *kept[MAXOBJ];

/* Allocate with flags/pool until NULL; returns the count. */
static long drain(numaslab_cache_t *c, unsigned flags, int node, numaslab_mempool_t *pool,
                  int use_pool)
{
    long n = 0;
    while (n < MAXOBJ) {
        void *p = use_pool ? numaslab_cache_alloc_node_mempool(c, flags, node, pool)
                           : numaslab_cache_alloc_node(c, flags, node);
        if (!p)
            break;
        memset(p, (int)(n & 0xff), 64 > numaslab_usable_size(p) ? numaslab_usable_size(p) : 64);
        objs[n++] = p;
    }
    return n;
}

static void free_all(numaslab_cache_t *c, long n)
{
    for (long i = 0; i < n; i++)
        numaslab_cache_free(c, objs[i]);
}

struct waiter {
    numaslab_cache_t *c;
    numaslab_mempool_t *pool;
    int node;
    void *got;
    int done;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    w->got = numaslab_cache_alloc_node_mempool(w->c, NUMASLAB_WAIT, w->node, w->pool);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* A condition for tu_wait_until: a thread waits on pool. */
static int pool_has_waiter(void *pool)
{
    return pstats(pool).waiters > 0;
}

static void inactive_critical(void *arg)
{
    void **out = arg;
    *out = numaslab_alloc_node(64, NUMASLAB_CRITICAL, numaslab_max_node() + 1);
}

#define MLOCK_LIMIT ((rlim_t)1 << 20)

/* Re-executed with NUMASLAB_RESERVE_MLOCK=1 under an RLIMIT_MEMLOCK of
 * MLOCK_LIMIT, below the reserves: they are locked as far as the limit
 * goes, chunk by chunk.  Exit 0 when so. */
static int mlock_child(void)
{
    if (numaslab_init(NULL) != 0)
        return 2;
    unsigned long long reserve = 0;
    for (int n = 0; n <= numaslab_max_node(); n++) {
        numaslab_mempool_t *p = numaslab_node_reserve(n);
        if (p) {
            struct numaslab_mempool_stats st = pstats(p);
            reserve += (unsigned long long)st.curr_nr * st.elem_bytes;
        }
    }
    unsigned long long want = reserve < MLOCK_LIMIT ? reserve : MLOCK_LIMIT;
    long long lck = tu_locked_bytes();
    printf("mlock-child: %lld bytes locked of reserves of %llu bytes, %llu wanted\n", lck, reserve,
           want);
    return lck == (long long)want ? 0 : 1;
}

/* NUMASLAB_RESERVE_MLOCK=1 with RLIMIT_MEMLOCK below the reserves, in a
 * child that cannot lock past it (root drops CAP_IPC_LOCK first). */
static void mlock_partial(void)
{
    tu_case("a reserve is locked as far as RLIMIT_MEMLOCK goes");
    if (!tu_mlock_locks()) {
        tu_info("mlock() locks nothing here (a sanitizer's): not checked");
        return;
    }
    char errpath[] = "/tmp/test-reserve-mlock.XXXXXX";
    int errfd = mkstemp(errpath);
    REQUIRE(errfd >= 0, "mkstemp: %s", strerror(errno));
    unlink(errpath);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (dup2(errfd, 2) < 0)
            _exit(3);
        if (geteuid() == 0) {
            struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
            struct __user_cap_data_struct d[2];
            uint32_t bit = 1u << (CAP_IPC_LOCK % 32);
            if (prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0) != 0 ||
                syscall(SYS_capget, &h, d) != 0)
                _exit(3);
            d[CAP_IPC_LOCK / 32].effective &= ~bit;
            d[CAP_IPC_LOCK / 32].permitted &= ~bit;
            d[CAP_IPC_LOCK / 32].inheritable &= ~bit;
            if (syscall(SYS_capset, &h, d) != 0)
                _exit(3);
        }
        struct rlimit rl = {MLOCK_LIMIT, MLOCK_LIMIT};
        if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0 || setenv("NUMASLAB_RESERVE_MLOCK", "1", 1) != 0)
            _exit(3);
        execl(tu_self_exe(), "test-reserve", "--mlock-child", (char *)NULL);
        _exit(4);
    }
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "with RLIMIT_MEMLOCK at %llu bytes the reserves' chunks are locked up to it "
          "(child status %d: 1 wrong amount, 3 no limit could be set, 4 no exec)",
          (unsigned long long)MLOCK_LIMIT, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    char err[1024] = "", want[64];
    ssize_t got = pread(errfd, err, sizeof(err) - 1, 0);
    err[got > 0 ? got : 0] = '\0';
    close(errfd);
    fputs(err, stdout);
    snprintf(want, sizeof(want), "RLIMIT_MEMLOCK is %llu bytes", (unsigned long long)MLOCK_LIMIT);
    CHECK(strstr(err, "NUMASLAB_RESERVE_MLOCK=1") && strstr(err, want),
          "one message names NUMASLAB_RESERVE_MLOCK and the limit");
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--mlock-child"))
        return mlock_child();
    tu_init("test-reserve");
    tu_pin_self(); /* "local" must not change under the checks */
    int node = numaslab_local_node();
    REQUIRE(node >= 0, "no local node");
    uint64_t mapped0 = numaslab_bytes_mapped();

    numaslab_mempool_t *res = numaslab_node_reserve(node);
    REQUIRE(res, "numaslab_node_reserve(%d): %s", node, strerror(errno));
    struct numaslab_mempool_stats r0 = pstats(res);
    REQUIRE(r0.min_nr > 0 && r0.curr_nr == r0.min_nr, "the reserve of node %d is full (%d/%d)",
            node, r0.curr_nr, r0.min_nr);
    CHECK(numaslab_node_reserve(-7) == NULL && errno == EINVAL,
          "numaslab_node_reserve(-7): EINVAL");

    numaslab_cache_t *probe = numaslab_cache_create("crit-probe", 64, 0, 0, NULL);
    numaslab_cache_t *c = numaslab_cache_create("crit-64", 64, 0, 0, NULL);
    REQUIRE(probe && c, "cache_create: %s", strerror(errno));
    long per_slab = slab_objects(probe, node);
    REQUIRE(per_slab > 0, "no slab could be made");
    CHECK(cstats(probe, node).slab_bytes == r0.elem_bytes,
          "a 64-byte cache's slab (%llu bytes) is a reserve element (%zu bytes)",
          (unsigned long long)cstats(probe, node).slab_bytes, r0.elem_bytes);

    /* Ordinary memory is gone. */
    tu_case("ordinary memory is gone");
    REQUIRE(numaslab_fail_pages("after=0") == 0, "numaslab_fail_pages");
    errno = 0;
    void *o = numaslab_cache_alloc_node(c, 0, node);
    int e = errno;
    struct numaslab_mempool_stats r1 = pstats(res);
    CHECK(o == NULL && e == ENOMEM, "ordinary allocation fails with ENOMEM (errno %d)", e);
    CHECK(r1.curr_nr == r0.min_nr && r1.used == r0.used,
          "the failed ordinary allocation took nothing from the reserve (%d/%d)", r1.curr_nr,
          r1.min_nr);

    /* Critical requests drain exactly the reserve. */
    tu_case("critical requests drain exactly the reserve");
    long want = per_slab * r0.min_nr;
    long got = drain(c, NUMASLAB_CRITICAL, node, NULL, 0);
    struct numaslab_mempool_stats r2 = pstats(res);
    CHECK(got == want,
          "critical allocations succeed until the reserve is used up: %ld "
          "(%d elements x %ld objects = %ld)",
          got, r0.min_nr, per_slab, want);
    CHECK(r2.curr_nr == 0 && r2.used - r0.used == (uint64_t)r0.min_nr && r2.empty > r0.empty,
          "the reserve is empty, served %llu times, found empty %llu times",
          (unsigned long long)(r2.used - r0.used), (unsigned long long)(r2.empty - r0.empty));
    CHECK(got > 0 && kernel_on_node(objs[0], 64, node) && kernel_on_node(objs[got - 1], 64, node) &&
              numaslab_ptr_node(objs[got / 2]) == node,
          "critical objects are on node %d (kernel)", node);
    struct numaslab_cache_stats cs = cstats(c, node);
    CHECK(cs.slabs_reserve == (uint64_t)r0.min_nr && cs.objects_reserve == (uint64_t)got &&
              cs.slabs_full + cs.slabs_partial + cs.slabs_empty == 0,
          "the cache has %llu reserve slabs, %llu reserve objects, no ordinary slab",
          (unsigned long long)cs.slabs_reserve, (unsigned long long)cs.objects_reserve);

    /* The reserve was made as one run of pages, not element by element
     * (lib/pagepool.c): a reserve of whole 2 MiB units is 2 MiB-aligned
     * and advised for huge pages. */
    tu_case("the reserve is one run, 2 MiB-aligned and advised for huge pages");
    {
        const size_t huge = (size_t)2 << 20;
        size_t run = (size_t)r0.min_nr * r0.elem_bytes;
        uintptr_t lo = UINTPTR_MAX, hi = 0;
        int advised = 1;
        for (long i = 0; i < got; i++) {
            uintptr_t a = (uintptr_t)objs[i];
            lo = a < lo ? a : lo;
            hi = a > hi ? a : hi;
            if (i % per_slab == 0)
                advised &= tu_vma_flag(objs[i], "hg");
        }
        CHECK(got > 0 && hi - lo < run,
              "the %ld objects of the reserve's %d slabs lie within its %zu bytes (%#lx..%#lx)",
              got, r0.min_nr, run, (unsigned long)lo, (unsigned long)hi);
        if (run % huge == 0 && run > 0 && tu_thp_library()) {
            uintptr_t start = lo & ~(uintptr_t)(huge - 1);
            CHECK(got > 0 && hi < start + run,
                  "they lie within the 2 MiB-aligned run of %zu bytes from %#lx (last at %#lx)",
                  run, (unsigned long)start, (unsigned long)hi);
            if (tu_thp_kernel())
                CHECK(advised,
                      "every reserve slab's mapping is advised for huge pages (VmFlags hg)");
            else
                tu_info("the kernel's transparent huge pages are off: advice not checked");
        } else {
            tu_info("a reserve of %zu bytes, not whole 2 MiB units or NUMASLAB_THP=0: alignment "
                    "not checked",
                    run);
        }
    }

    /* A freed critical object is never handed to an ordinary request. */
    tu_case("a freed critical object is never handed to an ordinary request");
    void *freed = objs[got / 2];
    numaslab_cache_free(c, freed);
    errno = 0;
    o = numaslab_cache_alloc_node(c, 0, node);
    CHECK(o == NULL && errno == ENOMEM,
          "after freeing a critical object an ordinary request still fails (got %p)", o);
    o = numaslab_alloc_node(64, 0, node); /* the size class: its own slabs */
    CHECK(o != freed, "numaslab_alloc_node(64) does not get the reserve object either");
    if (o)
        numaslab_free(o);
    void *again = numaslab_cache_alloc_node(c, NUMASLAB_CRITICAL, node);
    CHECK(again == freed, "a critical request gets it back (%p, want %p)", again, freed);
    objs[got / 2] = again;

    /* Freeing everything gives every page back to the reserve. */
    tu_case("freeing everything gives every page back to the reserve");
    free_all(c, got);
    struct numaslab_mempool_stats r3 = pstats(res);
    cs = cstats(c, node);
    CHECK(r3.curr_nr == r0.min_nr && cs.slabs_reserve == 0 && cs.objects_total == 0,
          "freeing all of them refills the reserve to min_nr (%d/%d), no reserve slab left",
          r3.curr_nr, r3.min_nr);
    long got2 = drain(c, NUMASLAB_CRITICAL, node, NULL, 0);
    CHECK(got2 == want, "the same number of critical allocations succeeds again (%ld)", got2);
    free_all(c, got2);
    /* numaslab_free works on reserve objects too. */
    void *viafree = numaslab_alloc_node(64, NUMASLAB_CRITICAL, node);
    CHECK(viafree && pstats(res).curr_nr == r0.min_nr - 1,
          "numaslab_alloc_node(64, CRITICAL) under fault injection uses the reserve");
    numaslab_free(viafree);
    CHECK(pstats(res).curr_nr == r0.min_nr, "numaslab_free of it refills the reserve");

    /* An inactive node: the local reserve, with the inactive-node line. */
    tu_case("an inactive node: the local reserve, with the inactive-node line");
    if (numaslab_max_node() + 1 < numa_num_possible_nodes()) {
        void *ip = NULL;
        char *err = tu_capture_stderr(inactive_critical, &ip);
        char line[128];
        snprintf(line, sizeof(line),
                 "numaslab: not allocating in inactive node %d for cache numaslab-64",
                 numaslab_max_node() + 1);
        CHECK(ip && numaslab_ptr_node(ip) == node && pstats(res).curr_nr == r0.min_nr - 1 &&
                  tu_count(err, line) == 1,
              "a critical request for inactive node %d is served from the local reserve, with "
              "the inactive-node message",
              numaslab_max_node() + 1);
        numaslab_free(ip);
        free(err);
    }
    numaslab_fail_pages(NULL);

    /* Any slab order; a mismatched pool is skipped. */
    tu_case("any slab order");
    const unsigned orders[] = {0, 1, 3};
    for (int k = 0; k < 3; k++) {
        unsigned ord = orders[k];
        char name[32];
        snprintf(name, sizeof(name), "order-%u", ord);
        numaslab_cache_t *oc = numaslab_cache_create(name, 64, 0, NUMASLAB_SLAB_ORDER(ord), NULL);
        numaslab_mempool_t *pp = numaslab_page_pool_create(node, ord, 2);
        numaslab_mempool_t *bad = numaslab_page_pool_create(node, ord + 1, 2);
        REQUIRE(oc && pp && bad, "order %u: cache or pools: %s", ord, strerror(errno));
        long n1 = slab_objects(oc, node);
        CHECK(cstats(oc, node).slab_bytes == (uint64_t)tu_pagesize() << ord,
              "order %u: slabs of %ld bytes", ord, tu_pagesize() << ord);
        numaslab_fail_pages("after=0");
        /* Empty slabs the probe left are ordinary memory: use them up. */
        long ordinary = drain(oc, 0, node, NULL, 0);
        memcpy(kept, objs, sizeof(void *) * (size_t)ordinary);
        errno = 0;
        void *m = numaslab_cache_alloc_node_mempool(oc, 0, node, bad);
        CHECK(m == NULL && errno == ENOMEM && pstats(bad).curr_nr == 2 && pstats(bad).used == 0,
              "order %u: a pool of order %u is not used (ENOMEM, still 2/2)", ord, ord + 1);
        long n2 = drain(oc, 0, node, pp, 1);
        CHECK(n2 == 2 * n1 && pstats(pp).curr_nr == 0,
              "order %u: the matching pool backs exactly 2 slabs of %ld objects (%ld)", ord, n1,
              n2);
        int placed =
            n2 > 0 && kernel_on_node(objs[0], 64, node) && kernel_on_node(objs[n2 - 1], 64, node);
        CHECK(placed, "order %u: pool-backed objects are on node %d (kernel)", ord, node);
        free_all(oc, n2);
        CHECK(pstats(pp).curr_nr == 2, "order %u: emptied slabs went back to the pool (2/2)", ord);
        numaslab_fail_pages(NULL);
        for (long i = 0; i < ordinary; i++)
            numaslab_cache_free(oc, kept[i]);
        numaslab_thread_flush();
        CHECK(numaslab_cache_destroy(oc) == 0 && numaslab_mempool_destroy(pp) == 0 &&
                  numaslab_mempool_destroy(bad) == 0,
              "order %u: cache and pools destroyed", ord);
    }

    /* NUMASLAB_WAIT through a cache: blocks until a reserve slab empties. */
    tu_case("NUMASLAB_WAIT through a cache");
    numaslab_cache_t *wc = numaslab_cache_create("wait-64", 64, 0, NUMASLAB_SLAB_ORDER(0), NULL);
    numaslab_mempool_t *wp = numaslab_page_pool_create(node, 0, 1);
    REQUIRE(wc && wp, "wait cache/pool: %s", strerror(errno));
    numaslab_fail_pages("after=0");
    long wn = drain(wc, 0, node, wp, 1);
    CHECK(wn > 0 && pstats(wp).curr_nr == 0, "one reserve slab of %ld objects in use", wn);
    struct waiter w = {wc, wp, node, NULL, 0};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, wait_thread, &w) == 0, "pthread_create");
    tu_wait_until(pool_has_waiter, wp);
    int waiters = pstats(wp).waiters;
    CHECK(waiters == 1 && !__atomic_load_n(&w.done, __ATOMIC_ACQUIRE),
          "a NUMASLAB_WAIT request blocks while the pool is empty");
    free_all(wc, wn); /* the slab empties, its pages go back, the waiter wakes */
    pthread_join(t, NULL);
    CHECK(w.got != NULL, "it returns an object once the slab's pages came back (%p)", w.got);
    numaslab_cache_free(wc, w.got);
    numaslab_fail_pages(NULL);
    CHECK(pstats(wp).curr_nr == 1, "the pool is full again");
    CHECK(numaslab_cache_destroy(wc) == 0 && numaslab_mempool_destroy(wp) == 0,
          "wait cache and pool destroyed");

    /* Nothing lost. */
    tu_case("nothing lost");
    numaslab_thread_flush();
    CHECK(numaslab_cache_destroy(c) == 0 && numaslab_cache_destroy(probe) == 0,
          "the caches are destroyed (no object live)");
    struct numaslab_node_stats ns;
    numaslab_stats_node(node, &ns);
    CHECK(ns.reserve_cur == ns.reserve_min && ns.reserve_min == r0.min_nr,
          "node %d's reserve holds exactly min_nr (%d/%d)", node, ns.reserve_cur, ns.reserve_min);
    uint64_t mapped1 = numaslab_bytes_mapped();
    CHECK(mapped1 <= mapped0 + 64 * 33 * 2 * 1024,
          "mapped bytes are back near the start (%llu -> %llu; size classes may keep their "
          "retained slabs)",
          (unsigned long long)mapped0, (unsigned long long)mapped1);
    tu_check_kernel_mapped("with the caches destroyed");
    numaslab_fini();
    CHECK(numaslab_bytes_mapped() == 0, "after numaslab_fini nothing is mapped");
    tu_check_kernel_mapped("after numaslab_fini");
    mlock_partial();
    return tu_exit();
}
