/*
 * test-threads - many threads allocating, writing per-object cookies,
 * freeing each other's objects (OpenMP), then 200 short-lived pthreads;
 * every object keeps its cookie and, once every thread has flushed, no
 * cache has an object in use.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#ifndef _OPENMP
int main(void)
{
    tu_init("test-threads");
    tu_skip("OpenMP was not found at configure time (a compiler without it, or --disable-openmp)");
}
#else
#include <omp.h>
#include <pthread.h>

#define MAXNODES      1024
#define ROUNDS        100
#define SLOTS         3000
#define CHURN_THREADS 200
#define CHURN_BATCH   8

enum kind { K_SIZE, K_CACHE_A, K_CACHE_B };

struct slot {
    void *p;
    size_t size;
    int kind;
    int owner; /* thread that allocated it: part of the cookie */
    int node;  /* node asked for, -1: local */
};

static int nodes[MAXNODES];
static int nnodes;
static numaslab_cache_t *cache_a, *cache_b;
#define SIZE_A        48
#define SIZE_B        200

static struct slot (*slots)[SLOTS];
static long errs_null, errs_cookie, errs_usable, errs_node, nallocs, ncross;

static uint64_t cookie(const void *p, int owner)
{
    return (uintptr_t)p ^ ((uint64_t)(owner + 1) * 0x9e3779b97f4a7c15ull);
}

static size_t fill_len(size_t size)
{
    /* write the whole object, but only the first 4 KiB of a large one
     * (whose last 8 bytes get a cookie word of their own) */
    return size <= NUMASLAB_MAX_SMALL ? size : 4096;
}

static void write_obj(struct slot *s)
{
    tu_fill(s->p, fill_len(s->size), cookie(s->p, s->owner));
    if (s->size > NUMASLAB_MAX_SMALL) {
        uint64_t c = cookie(s->p, s->owner);
        memcpy((char *)s->p + s->size - 8, &c, 8);
    }
}

static int check_obj(const struct slot *s)
{
    if (!tu_verify(s->p, fill_len(s->size), cookie(s->p, s->owner)))
        return 0;
    if (s->size > NUMASLAB_MAX_SMALL) {
        uint64_t c;
        memcpy(&c, (char *)s->p + s->size - 8, 8);
        if (c != cookie(s->p, s->owner))
            return 0;
    }
    return 1;
}

static void report_corruption(const struct slot *s)
{
    const unsigned char *b = s->p;
    unsigned char *ref = malloc(fill_len(s->size));
    size_t first = 0, nbad = 0, len = fill_len(s->size);

    REQUIRE(ref, "out of memory");
    tu_fill(ref, len, cookie(s->p, s->owner));
    for (size_t i = 0; i < len; i++)
        if (b[i] != ref[i] && nbad++ == 0)
            first = i;
    free(ref);
    tu_info("corrupted: %p kind %s size %zu (usable %zu) owner %d node asked %d, now on %d: "
            "%zu of %zu bytes differ, first at offset %zu",
            s->p,
            s->kind == K_SIZE      ? "size-class"
            : s->kind == K_CACHE_A ? "thr-a"
                                   : "thr-b",
            s->size, numaslab_usable_size(s->p), s->owner, s->node, numaslab_ptr_node(s->p), nbad,
            len, first);
}

static void alloc_obj(struct slot *s, int tid, uint64_t *rng)
{
    uint64_t r = tu_rand(rng);
    int node = -1;

    if (r % 4 == 0)
        node = nodes[(r >> 8) % (uint64_t)nnodes];
    s->owner = tid;
    s->node = node;
    switch ((r >> 20) % 5) {
    case 0:
        s->kind = K_CACHE_A;
        s->size = SIZE_A;
        s->p = numaslab_cache_alloc_node(cache_a, 0, node);
        break;
    case 1:
        s->kind = K_CACHE_B;
        s->size = SIZE_B;
        s->p = numaslab_cache_alloc_node(cache_b, 0, node);
        break;
    default:
        s->kind = K_SIZE;
        if ((r >> 32) % 500 == 0)
            s->size = NUMASLAB_MAX_SMALL + 1 + (size_t)((r >> 40) % (64 * 1024));
        else if ((r >> 32) % 8 == 0)
            s->size = 1 + (size_t)((r >> 40) % NUMASLAB_MAX_SMALL);
        else
            s->size = 1 + (size_t)((r >> 40) % 512);
        s->p = numaslab_alloc_node(s->size, 0, node);
        break;
    }
    __atomic_fetch_add(&nallocs, 1, __ATOMIC_RELAXED);
    if (!s->p) {
        __atomic_fetch_add(&errs_null, 1, __ATOMIC_RELAXED);
        return;
    }
    if (node >= 0 && numaslab_ptr_node(s->p) != node)
        __atomic_fetch_add(&errs_node, 1, __ATOMIC_RELAXED);
    if (numaslab_usable_size(s->p) < s->size)
        __atomic_fetch_add(&errs_usable, 1, __ATOMIC_RELAXED);
    write_obj(s);
}

static void free_obj(struct slot *s)
{
    if (!s->p)
        return;
    if (!check_obj(s)) {
        long n = __atomic_fetch_add(&errs_cookie, 1, __ATOMIC_RELAXED);
        if (n < 5)
            report_corruption(s);
    }
    if (s->kind == K_CACHE_A)
        numaslab_cache_free(cache_a, s->p);
    else if (s->kind == K_CACHE_B)
        numaslab_cache_free(cache_b, s->p);
    else
        numaslab_free(s->p);
    s->p = NULL;
}

static void stress_openmp(int nthreads)
{
    tu_case("OpenMP threads: cross-thread frees");
    slots = calloc((size_t)nthreads, sizeof(*slots));
    REQUIRE(slots, "out of memory");

#pragma omp parallel num_threads(nthreads)
    {
        int tid = omp_get_thread_num();
        int nt = omp_get_num_threads();
        uint64_t rng = 0x1234567ull + (uint64_t)tid * 0x9e3779b97f4a7c15ull;

        for (int round = 0; round < ROUNDS; round++) {
            /* private churn: allocate and free at once */
            for (int i = 0; i < 300; i++) {
                struct slot s;
                alloc_obj(&s, tid, &rng);
                free_obj(&s);
            }
            for (int i = 0; i < SLOTS; i++)
                alloc_obj(&slots[tid][i], tid, &rng);
#pragma omp barrier
            /* every fourth object is freed by the next thread (which
             * checks the cookie written by its owner) */
            for (int i = 0; i < SLOTS; i++) {
                int from = (i % 4 == 0) ? (tid + 1 + round % (nt > 1 ? nt - 1 : 1)) % nt : tid;
                if (from != tid && slots[from][i].p)
                    __atomic_fetch_add(&ncross, 1, __ATOMIC_RELAXED);
                free_obj(&slots[from][i]);
            }
#pragma omp barrier
        }
        numaslab_thread_flush();
    }
    free(slots);
}

/* ---------------------------------------------------------------------- */

static void *churn_thread(void *arg)
{
    uint64_t rng = (uintptr_t)arg * 0x2545f4914f6cdd1dull + 7;
    struct slot s[64];
    int tid = (int)(uintptr_t)arg + 1000;

    for (int i = 0; i < 64; i++)
        alloc_obj(&s[i], tid, &rng);
    /* free half, keep half in this thread's caches and the rest live
     * until just before exit: exit must flush what the thread holds */
    for (int i = 0; i < 64; i += 2)
        free_obj(&s[i]);
    for (int i = 0; i < 16; i++) {
        struct slot t;
        alloc_obj(&t, tid, &rng);
        free_obj(&t);
    }
    for (int i = 1; i < 64; i += 2)
        free_obj(&s[i]);
    return NULL;
}

static void churn(void)
{
    tu_case("thread churn");
    int created = 0;
    for (int i = 0; i < CHURN_THREADS; i += CHURN_BATCH) {
        pthread_t t[CHURN_BATCH];
        int n = 0;
        for (int k = 0; k < CHURN_BATCH && i + k < CHURN_THREADS; k++) {
            int e = pthread_create(&t[n], NULL, churn_thread, (void *)(uintptr_t)(i + k));
            REQUIRE(e == 0, "pthread_create: %s", strerror(e));
            n++;
        }
        for (int k = 0; k < n; k++)
            pthread_join(t[k], NULL);
        created += n;
    }
    CHECK(created == CHURN_THREADS, "%d threads created and joined, each allocating and freeing",
          created);
}

/* ---------------------------------------------------------------------- */

static void check_inuse(const char *when)
{
    long long a = tu_cache_inuse(cache_a), b = tu_cache_inuse(cache_b);
    size_t busy_classes = 0;
    long long busy_objs = 0;
    numaslab_cache_t *prev = NULL;

    for (size_t s = 1; s <= NUMASLAB_MAX_SMALL; s++) {
        numaslab_cache_t *c = numaslab_size_cache(s);
        long long n;
        if (!c || c == prev)
            continue;
        prev = c;
        n = tu_cache_inuse(c);
        if (n != 0) {
            busy_classes++;
            busy_objs += n;
            tu_info("%s: %s has %lld objects in use", when, numaslab_cache_name(c), n);
        }
    }
    CHECK(a == 0 && b == 0, "%s: objects_inuse of thr-a %lld, thr-b %lld (want 0)", when, a, b);
    CHECK(busy_classes == 0, "%s: size classes with objects in use: %zu (%lld objects)", when,
          busy_classes, busy_objs);
}

int main(void)
{
    int nthreads;
    struct numaslab_node_stats st;
    uint64_t large_live = 0;

    tu_init("test-threads");
    nnodes = tu_active_nodes(nodes, MAXNODES);
    REQUIRE(nnodes >= 1, "no active node");
    cache_a = numaslab_cache_create("thr-a", SIZE_A, 0, 0, NULL);
    cache_b = numaslab_cache_create("thr-b", SIZE_B, 64, 0, NULL);
    REQUIRE(cache_a && cache_b, "cache_create: %s", strerror(errno));

    nthreads = omp_get_max_threads();
    if (nthreads < 4)
        nthreads = 4;
    omp_set_num_threads(nthreads);
    tu_info("%d OpenMP threads, %d active node(s), %d rounds of %d objects per thread", nthreads,
            nnodes, ROUNDS, SLOTS);

    stress_openmp(nthreads);
    tu_info("%ld allocations, %ld objects freed by another thread", nallocs, ncross);
    CHECK(ncross > 0, "objects were freed by a thread other than their owner (%ld)", ncross);
    CHECK(errs_null == 0, "OpenMP stress: no allocation returned NULL (%ld did)", errs_null);
    CHECK(errs_cookie == 0,
          "OpenMP stress: every cookie intact at free, own and cross-thread "
          "(%ld corrupted)",
          errs_cookie);
    CHECK(errs_usable == 0, "OpenMP stress: usable_size >= size (%ld not)", errs_usable);
    CHECK(errs_node == 0, "OpenMP stress: objects asked on a node are on it (%ld not)", errs_node);
    numaslab_thread_flush();
    check_inuse("after the OpenMP stress");

    errs_null = errs_cookie = errs_usable = errs_node = 0;
    churn();
    CHECK(errs_null == 0 && errs_cookie == 0 && errs_usable == 0 && errs_node == 0,
          "thread churn: %ld NULL, %ld corrupted, %ld short, %ld misplaced", errs_null, errs_cookie,
          errs_usable, errs_node);
    /* the churn threads have exited: they flushed by themselves */
    numaslab_thread_flush();
    check_inuse("after the thread churn");

    for (int i = 0; i < nnodes; i++)
        if (numaslab_stats_node(nodes[i], &st) == 0)
            large_live += st.large_allocs;
    CHECK(large_live == 0, "no large object is live (%llu)", (unsigned long long)large_live);

    CHECK(numaslab_cache_destroy(cache_a) == 0 && numaslab_cache_destroy(cache_b) == 0,
          "both caches are destroyed (no object left live)");
    return tu_exit();
}
#endif /* _OPENMP */
