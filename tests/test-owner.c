/*
 * test-owner - thread-owned slabs (lib/owner.c, numaslab(7) THREADS):
 *
 *   lines     two threads take 16-byte objects of one size class, in
 *             turns; each frees a shuffled half of its own, half of that
 *             half through the other thread, and both take as many again:
 *             no cache line holds live objects of both threads
 *   churn     rounds of threads that allocate, write a cookie into every
 *             object, pass objects to each other through a queue and free
 *             what they receive; each thread exits with objects still in
 *             the queue, so its slabs are given back with live objects
 *             and later freed into, or adopted, by threads of the next
 *             round.  No cookie is ever wrong, no object is handed out
 *             twice, and at the end nothing is in use (run under
 *             ThreadSanitizer in CI)
 *   exit      a thread that allocated 16 MiB of objects and freed them
 *             exits: the bytes mapped come back within the retention
 *             bound.  The same when the objects are freed by another
 *             thread after the allocating thread has exited
 *   fork      threads hold live objects in their slabs when the process
 *             forks: the child reads every cookie, frees the objects of
 *             the threads it does not have, allocates and frees more, and
 *             counts in use only what its own thread still holds
 *   counts    a thread's frees into another thread's slab are one atomic
 *             OR each: the objects in use count them at the freeing
 *             thread's next tick, flush or exit, not at once
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <pthread.h>

/* ------------------------------------------------------------------------
 * lines
 * ---------------------------------------------------------------------- */

#define LN     20000 /* objects per thread */
#define LROUND 500

static pthread_barrier_t lbar;
static void *lobj[2][LN + LN / 2];
static int lcount[2];
static void *lgift[2][LN / 4]; /* objects of thread t the other one frees */

static void *lines_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    uint64_t rs = 77 + (uint64_t)t;
    int n = 0;
    /* In turns, so that a shared slab would interleave them. */
    for (int r = 0; r < LN / LROUND; r++) {
        for (int k = 0; k < LROUND; k++)
            lobj[t][n++] = numaslab_alloc(16, 0);
        pthread_barrier_wait(&lbar);
    }
    /* Shuffle, then free the first half: the first quarter here, the
     * second through the other thread. */
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(tu_rand(&rs) % (uint64_t)(i + 1));
        void *x = lobj[t][i];
        lobj[t][i] = lobj[t][j];
        lobj[t][j] = x;
    }
    for (int i = 0; i < LN / 4; i++)
        numaslab_free(lobj[t][i]);
    for (int i = 0; i < LN / 4; i++)
        lgift[t][i] = lobj[t][LN / 4 + i];
    pthread_barrier_wait(&lbar);
    for (int i = 0; i < LN / 4; i++)
        numaslab_free(lgift[1 - t][i]);
    pthread_barrier_wait(&lbar);
    /* Keep the second half, take as many again, in turns. */
    int m = 0;
    for (int i = LN / 2; i < LN; i++)
        lobj[t][m++] = lobj[t][i];
    for (int r = 0; r < LN / 2 / LROUND; r++) {
        for (int k = 0; k < LROUND; k++)
            lobj[t][m++] = numaslab_alloc(16, 0);
        pthread_barrier_wait(&lbar);
    }
    lcount[t] = m;
    return NULL;
}

struct tagged {
    uintptr_t line;
    int t;
};

static int cmp_tagged(const void *a, const void *b)
{
    const struct tagged *x = a, *y = b;
    return x->line < y->line ? -1 : x->line > y->line ? 1 : x->t - y->t;
}

static void test_lines(void)
{
    tu_case("objects of two threads share no cache line");
    pthread_t th[2];
    pthread_barrier_init(&lbar, NULL, 2);
    for (int t = 0; t < 2; t++)
        pthread_create(&th[t], NULL, lines_thread, (void *)(intptr_t)t);
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&lbar);

    int total = lcount[0] + lcount[1], missing = 0;
    struct tagged *v = malloc((size_t)total * sizeof(*v));
    void **all = malloc((size_t)total * sizeof(*all));
    REQUIRE(v && all, "out of memory");
    int k = 0;
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < lcount[t]; i++) {
            missing += lobj[t][i] == NULL;
            v[k] = (struct tagged){(uintptr_t)lobj[t][i] >> 6, t};
            all[k++] = lobj[t][i];
        }
    qsort(v, (size_t)total, sizeof(*v), cmp_tagged);
    long lines = 0, shared = 0;
    for (int i = 0; i < total; i++) {
        if (i && v[i].line == v[i - 1].line) {
            if (v[i].t != v[i - 1].t)
                shared++;
            continue;
        }
        lines++;
    }
    size_t dups = tu_duplicates(all, (size_t)total);
    CHECK(missing == 0 && dups == 0,
          "lines: %d live objects of 16 bytes, none missing (%d), none "
          "handed out twice (%zu)",
          total, missing, dups);
    CHECK(shared == 0,
          "lines: of the %ld cache lines holding live objects, %ld hold objects of "
          "both threads (want 0)",
          lines, shared);
    for (int i = 0; i < total; i++)
        numaslab_free(all[i]);
    free(v);
    free(all);
}

/* ------------------------------------------------------------------------
 * churn
 * ---------------------------------------------------------------------- */

#define QCAP     8192
#define CROUNDS  6
#define CTHREADS 6
#define COPS     20000
#define CSIZE    48

struct qent {
    void *p;
    uint64_t seed;
    int cache; /* 1: of ccache, 0: numaslab_alloc */
    size_t len;
};

static numaslab_cache_t *ccache;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static struct qent queue[QCAP];
static int qn;
static int bad_cookie, failed_alloc;
static uint64_t cseq;

static int q_push(struct qent e)
{
    pthread_mutex_lock(&qlock);
    int ok = qn < QCAP;
    if (ok)
        queue[qn++] = e;
    pthread_mutex_unlock(&qlock);
    return ok;
}

static int q_pop(struct qent *e, uint64_t pick)
{
    pthread_mutex_lock(&qlock);
    int ok = qn > 0;
    if (ok) {
        int i = (int)(pick % (uint64_t)qn);
        *e = queue[i];
        queue[i] = queue[--qn];
    }
    pthread_mutex_unlock(&qlock);
    return ok;
}

static void release(struct qent *e)
{
    if (!tu_verify(e->p, e->len, e->seed))
        __atomic_fetch_add(&bad_cookie, 1, __ATOMIC_RELAXED);
    if (e->cache)
        numaslab_cache_free(ccache, e->p);
    else
        numaslab_free(e->p);
}

static void *churn_thread(void *arg)
{
    uint64_t rs = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    for (int op = 0; op < COPS; op++) {
        uint64_t r = tu_rand(&rs);
        if (r % 100 < 55) {
            struct qent e;
            e.cache = (int)(r >> 8) & 1;
            e.len = e.cache ? CSIZE : 8 + (size_t)(r >> 16) % 1000;
            e.p = e.cache ? numaslab_cache_alloc(ccache, 0) : numaslab_alloc(e.len, 0);
            if (!e.p) {
                __atomic_fetch_add(&failed_alloc, 1, __ATOMIC_RELAXED);
                continue;
            }
            e.seed = __atomic_fetch_add(&cseq, 1, __ATOMIC_RELAXED);
            tu_fill(e.p, e.len, e.seed);
            if (!q_push(e))
                release(&e);
        } else {
            struct qent e;
            if (q_pop(&e, r >> 20))
                release(&e);
        }
    }
    return NULL; /* with objects of its own still in the queue */
}

static void test_churn(void)
{
    tu_case("remote frees with thread churn");
    ccache = numaslab_cache_create("owner-churn", CSIZE, 0, 0, NULL);
    REQUIRE(ccache, "numaslab_cache_create: %s", strerror(errno));
    long long before = tu_cache_inuse(ccache);
    int left_live = 0;
    for (int round = 0; round < CROUNDS; round++) {
        pthread_t th[CTHREADS];
        for (int t = 0; t < CTHREADS; t++)
            pthread_create(&th[t], NULL, churn_thread,
                           (void *)(intptr_t)(round * CTHREADS + t + 1));
        for (int t = 0; t < CTHREADS; t++)
            pthread_join(th[t], NULL);
        pthread_mutex_lock(&qlock);
        left_live += qn > 0;
        pthread_mutex_unlock(&qlock);
    }
    /* No object is live twice: the queue holds distinct pointers. */
    tu_case("no object is live twice: the queue holds distinct pointers");
    void **v = malloc(QCAP * sizeof(*v));
    REQUIRE(v, "out of memory");
    for (int i = 0; i < qn; i++)
        v[i] = queue[i].p;
    size_t dups = tu_duplicates(v, (size_t)qn);
    free(v);
    CHECK(left_live == CROUNDS && dups == 0,
          "churn: %d rounds of %d threads each left live objects to the next (%d), none of the %d "
          "live ones handed out twice (%zu)",
          CROUNDS, CTHREADS, left_live, qn, dups);
    struct qent e;
    while (q_pop(&e, 0))
        release(&e);
    CHECK(bad_cookie == 0 && failed_alloc == 0,
          "churn: %llu objects allocated, passed between threads and freed: %d wrong cookies, %d "
          "failed allocations",
          (unsigned long long)cseq, bad_cookie, failed_alloc);
    numaslab_thread_flush();
    long long after = tu_cache_inuse(ccache);
    CHECK(before == 0 && after == 0, "churn: objects in use in the cache at the end: %lld (want 0)",
          after);
    CHECK(numaslab_cache_destroy(ccache) == 0, "churn: the cache is destroyed: nothing is live");
}

/* ------------------------------------------------------------------------
 * exit
 * ---------------------------------------------------------------------- */

#define XBYTES (16u << 20)
#define XSIZE  64
#define XN     (XBYTES / XSIZE)

static numaslab_cache_t *xcache;
static void **xobj;

static void *exit_alloc_free(void *arg)
{
    int free_them = (int)(intptr_t)arg;
    for (size_t i = 0; i < XN; i++)
        if (!(xobj[i] = numaslab_cache_alloc(xcache, 0)))
            return (void *)1;
    if (free_them)
        for (size_t i = 0; i < XN; i++)
            numaslab_cache_free(xcache, xobj[i]);
    return NULL; /* exits owning its slabs */
}

static void test_exit(void)
{
    /* Retention (numaslab_init below): one empty slab per cache and node,
     * no page cache. */
    tu_case("retention: one empty slab per cache and node, no page cache");
    struct numaslab_cache_stats st;
    xcache = numaslab_cache_create("owner-exit", XSIZE, 0, 0, NULL);
    xobj = malloc(XN * sizeof(*xobj));
    REQUIRE(xcache && xobj, "numaslab_cache_create: %s", strerror(errno));
    REQUIRE(numaslab_stats_cache(xcache, numaslab_local_node(), &st) == 0, "numaslab_stats_cache");
    numaslab_thread_flush();
    uint64_t m0 = numaslab_bytes_mapped();
    int nodes = tu_count_active_nodes();
    uint64_t bound = (uint64_t)nodes * st.slab_bytes;

    for (int mode = 1; mode >= 0; mode--) {
        pthread_t th;
        void *rc = (void *)1;
        pthread_create(&th, NULL, exit_alloc_free, (void *)(intptr_t)mode);
        pthread_join(th, &rc);
        REQUIRE(rc == NULL, "exit: the thread could not allocate %u objects", XN);
        if (!mode) /* the thread exited with all of them live */
            for (size_t i = 0; i < XN; i++)
                numaslab_cache_free(xcache, xobj[i]);
        uint64_t m1 = numaslab_bytes_mapped();
        CHECK(m1 <= m0 + bound,
              "exit: %u objects of %d bytes %s, the thread gone: %llu bytes mapped more than "
              "before (bound: %llu, one empty slab per node)",
              XN, XSIZE,
              mode ? "freed by the allocating thread" : "freed by another thread after it",
              (unsigned long long)(m1 > m0 ? m1 - m0 : 0), (unsigned long long)bound);
    }
    numaslab_thread_flush();
    CHECK(tu_cache_inuse(xcache) == 0, "exit: nothing in use afterwards");
    CHECK(numaslab_cache_destroy(xcache) == 0, "exit: the cache is destroyed");
    free(xobj);
}

/* ------------------------------------------------------------------------
 * fork
 * ---------------------------------------------------------------------- */

#define FTHREADS 4
#define FN       5000
#define FSIZE    40

static numaslab_cache_t *fcache;
static void *fobj[FTHREADS][FN];
static pthread_barrier_t fbar;

static void *fork_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < FN; i++) {
        fobj[t][i] = numaslab_cache_alloc(fcache, 0);
        if (fobj[t][i])
            tu_fill(fobj[t][i], FSIZE, (uint64_t)t * FN + (uint64_t)i);
    }
    pthread_barrier_wait(&fbar); /* holding them: the main thread forks */
    pthread_barrier_wait(&fbar); /* the child is done */
    for (int i = 0; i < FN; i++)
        numaslab_cache_free(fcache, fobj[t][i]);
    return NULL;
}

static void test_fork(void)
{
    tu_case("fork");
    fcache = numaslab_cache_create("owner-fork", FSIZE, 0, 0, NULL);
    REQUIRE(fcache, "numaslab_cache_create: %s", strerror(errno));
    void *mine[100];
    for (int i = 0; i < 100; i++)
        mine[i] = numaslab_cache_alloc(fcache, 0);
    pthread_t th[FTHREADS];
    pthread_barrier_init(&fbar, NULL, FTHREADS + 1);
    for (int t = 0; t < FTHREADS; t++)
        pthread_create(&th[t], NULL, fork_thread, (void *)(intptr_t)t);
    pthread_barrier_wait(&fbar);
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int bad = 0, missing = 0;
        for (int t = 0; t < FTHREADS; t++)
            for (int i = 0; i < FN; i++) {
                if (!fobj[t][i]) {
                    missing++;
                    continue;
                }
                bad += !tu_verify(fobj[t][i], FSIZE, (uint64_t)t * FN + (uint64_t)i);
                numaslab_cache_free(fcache, fobj[t][i]);
            }
        void **more = malloc(4 * FN * sizeof(*more));
        int got = 0;
        for (int i = 0; more && i < 4 * FN; i++)
            got += (more[i] = numaslab_cache_alloc(fcache, 0)) != NULL;
        size_t dups = more ? tu_duplicates(more, (size_t)got) : 1;
        for (int i = 0; i < got; i++)
            numaslab_cache_free(fcache, more[i]);
        free(more);
        numaslab_thread_flush();
        long long inuse = tu_cache_inuse(fcache);
        int ok = bad == 0 && missing == 0 && got == 4 * FN && dups == 0 && inuse == 100;
        if (!ok)
            fprintf(stdout,
                    "FAIL: fork child: %d wrong cookies, %d missing, %d of %d allocated, "
                    "%zu twice, %lld in use (want 100)\n",
                    bad, missing, got, 4 * FN, dups, inuse);
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "fork: %d threads held %d objects each; the child read every cookie, freed them into the "
          "slabs of threads it does not have, allocated and freed %d more, and counted 100 in use "
          "(status 0x%x)",
          FTHREADS, FN, 4 * FN, status);
    pthread_barrier_wait(&fbar);
    for (int t = 0; t < FTHREADS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&fbar);
    for (int i = 0; i < 100; i++)
        numaslab_cache_free(fcache, mine[i]);
    numaslab_thread_flush();
    CHECK(tu_cache_inuse(fcache) == 0, "fork: the parent's objects all freed, nothing in use");
    CHECK(numaslab_cache_destroy(fcache) == 0, "fork: the cache is destroyed");
}

/* ------------------------------------------------------------------------
 * counts
 * ---------------------------------------------------------------------- */

#define RN 200
static numaslab_cache_t *rcache;
static void *robj[RN];
static uint64_t rseen[2];

static uint64_t rinuse(void)
{
    uint64_t n = 0;
    int nodes[1024], nn = tu_active_nodes(nodes, 1024);
    for (int i = 0; i < nn; i++) {
        struct numaslab_cache_stats st;
        if (numaslab_stats_cache(rcache, nodes[i], &st) == 0)
            n += st.objects_inuse;
    }
    return n;
}

/* Frees three objects of the main thread's slab, in three words of its
 * remote map: two ORs, the third gathered; the counts before and after
 * its flush. */
static void *remote_thread(void *arg)
{
    (void)arg;
    numaslab_cache_free(rcache, robj[0]);
    numaslab_cache_free(rcache, robj[70]);
    numaslab_cache_free(rcache, robj[140]);
    rseen[0] = rinuse();
    numaslab_thread_flush();
    rseen[1] = rinuse();
    return NULL;
}

static void test_counts(void)
{
    tu_case("a free into another thread's slab is counted by its thread later, not at once");
    rcache = numaslab_cache_create("test-remote", 64, 0, 0, NULL);
    REQUIRE(rcache, "numaslab_cache_create: %s", strerror(errno));
    for (int i = 0; i < RN; i++)
        REQUIRE((robj[i] = numaslab_cache_alloc(rcache, 0)), "alloc %d", i);
    numaslab_thread_flush(); /* its counts written; its slabs stay its own */
    CHECK(rinuse() == RN, "%d objects in use (%llu)", RN, (unsigned long long)rinuse());
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, remote_thread, NULL) == 0, "pthread_create");
    pthread_join(t, NULL);
    /* The atomic additions to the shared counters wait for the freeing
     * thread's next tick, flush or exit: its free is its OR alone. */
    CHECK(rseen[0] == RN,
          "before the freeing thread flushes, its two ORed frees are not counted yet (%llu in use)",
          (unsigned long long)rseen[0]);
    CHECK(rseen[1] == RN - 3, "after its flush, all three are (%llu in use)",
          (unsigned long long)rseen[1]);
    robj[0] = robj[70] = robj[140] = NULL;
    for (int i = 0; i < RN; i++)
        if (robj[i])
            numaslab_cache_free(rcache, robj[i]);
    numaslab_thread_flush();
    CHECK(rinuse() == 0, "everything freed: none in use (%llu)", (unsigned long long)rinuse());
    CHECK(numaslab_cache_destroy(rcache) == 0, "the cache is destroyed");
}

int main(void)
{
    tu_init("test-owner");
    setenv("NUMASLAB_RETAIN_BYTES", "0", 1);
    struct numaslab_config cfg = {0};
    cfg.retain = 1;
    REQUIRE(numaslab_init(&cfg) == 0, "numaslab_init");
    test_lines();
    test_churn();
    test_exit();
    test_fork();
    test_counts();
    return tu_exit();
}
