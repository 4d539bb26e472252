/*
 * test-mempool - mempool semantics with a counting underlying allocator:
 * creation fills min_nr (or fails whole), the underlying allocator comes
 * first, the reserve only when it fails, frees refill the reserve first,
 * NUMASLAB_WAIT blocks until a free, resize, destroy refusing with
 * elements out, the reserve-only and bulk calls, and page pools.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <pthread.h>
#include <time.h>

/* The underlying allocator: malloc, failing on demand, counting. */
static int under_fail;            /* 1: every call fails */
static int under_fail_after = -1; /* calls left before failing, -1: never */
static long under_allocs, under_frees;
static long under_calls; /* every call, failed ones included */

static void *under_alloc(unsigned flags, int node, void *data)
{
    (void)flags;
    (void)node;
    (void)data;
    __atomic_fetch_add(&under_calls, 1, __ATOMIC_RELAXED);
    if (under_fail)
        return NULL;
    if (under_fail_after == 0)
        return NULL;
    if (under_fail_after > 0)
        under_fail_after--;
    __atomic_fetch_add(&under_allocs, 1, __ATOMIC_RELAXED);
    return malloc(32);
}

static void under_free(void *elem, void *data)
{
    (void)data;
    __atomic_fetch_add(&under_frees, 1, __ATOMIC_RELAXED);
    free(elem);
}

static struct numaslab_mempool_stats stats(numaslab_mempool_t *p)
{
    struct numaslab_mempool_stats st;
    memset(&st, 0, sizeof(st));
    numaslab_mempool_stats(p, &st);
    return st;
}

struct waiter {
    numaslab_mempool_t *pool;
    void *got;
    int done;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    w->got = numaslab_mempool_alloc(w->pool, NUMASLAB_WAIT);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Conditions for tu_wait_until. */
static int pool_has_waiter(void *pool)
{
    return stats(pool).waiters > 0;
}

static long calls_before;
static int allocator_retried(void *unused)
{
    (void)unused;
    return __atomic_load_n(&under_calls, __ATOMIC_RELAXED) > calls_before;
}

int main(void)
{
    tu_init("test-mempool");

    /* Creation fills min_nr with the underlying allocator. */
    tu_case("creation fills min_nr with the underlying allocator");
    numaslab_mempool_t *p = numaslab_mempool_create(4, under_alloc, under_free, NULL);
    REQUIRE(p, "numaslab_mempool_create: %s", strerror(errno));
    struct numaslab_mempool_stats st = stats(p);
    CHECK(st.curr_nr == 4 && st.min_nr == 4 && under_allocs == 4,
          "create(4) pre-allocates 4 elements (curr %d, min %d, underlying calls %ld)", st.curr_nr,
          st.min_nr, under_allocs);

    /* Creation that cannot fill fails whole and keeps nothing. */
    tu_case("creation that cannot fill fails whole and keeps nothing");
    under_fail_after = 2;
    long frees0 = under_frees;
    numaslab_mempool_t *q = numaslab_mempool_create(5, under_alloc, under_free, NULL);
    int e = errno;
    CHECK(q == NULL && e == ENOMEM && under_frees - frees0 == 2,
          "create(5) with only 2 elements to be had fails with ENOMEM and frees the 2 "
          "(errno %d, freed %ld)",
          e, under_frees - frees0);
    under_fail_after = -1;
    CHECK(numaslab_mempool_create(-1, under_alloc, under_free, NULL) == NULL && errno == EINVAL,
          "create(-1) fails with EINVAL");
    CHECK(numaslab_mempool_create(1, NULL, under_free, NULL) == NULL && errno == EINVAL,
          "create without alloc_fn fails with EINVAL");

    /* The underlying allocator comes first: the reserve stays full. */
    tu_case("the underlying allocator comes first: the reserve stays full");
    long a0 = under_allocs;
    void *x = numaslab_mempool_alloc(p, 0);
    st = stats(p);
    CHECK(x && under_allocs == a0 + 1 && st.curr_nr == 4 && st.used == 0,
          "alloc with a working allocator leaves the reserve alone (curr %d, used %llu)",
          st.curr_nr, (unsigned long long)st.used);
    /* A free with the reserve full goes to the underlying allocator. */
    tu_case("a free with the reserve full goes to the underlying allocator");
    frees0 = under_frees;
    numaslab_mempool_free(x, p);
    CHECK(under_frees == frees0 + 1 && stats(p).curr_nr == 4,
          "free with a full reserve calls free_fn");

    /* The allocator fails: the reserve serves, then runs dry. */
    tu_case("the allocator fails: the reserve serves, then runs dry");
    under_fail = 1;
    void *r[5];
    int got = 0;
    for (int i = 0; i < 5; i++)
        if ((r[i] = numaslab_mempool_alloc(p, 0)))
            got++;
    st = stats(p);
    CHECK(got == 4 && r[4] == NULL && st.curr_nr == 0 && st.used == 4 && st.empty >= 1 &&
              st.out == 4,
          "with the allocator failing, the reserve serves exactly its 4 elements, then "
          "ENOMEM (got %d, used %llu, empty %llu, out %ld)",
          got, (unsigned long long)st.used, (unsigned long long)st.empty, st.out);
    CHECK(numaslab_mempool_destroy(p) == -EBUSY, "destroy with 4 elements out: -EBUSY");

    /* NUMASLAB_WAIT blocks until a free, and gets the freed element. */
    tu_case("NUMASLAB_WAIT blocks until a free, and gets the freed element");
    struct waiter w = {p, NULL, 0};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, wait_thread, &w) == 0, "pthread_create");
    tu_wait_until(pool_has_waiter, p);
    int waiters = stats(p).waiters;
    CHECK(waiters == 1 && !__atomic_load_n(&w.done, __ATOMIC_ACQUIRE),
          "NUMASLAB_WAIT on an empty reserve blocks (waiters %d)", waiters);
    /* The waiter retries the (failing) allocator now and then: wait for a
     * retry, after which it must still be waiting. */
    tu_case("the waiter retries the allocator now and then");
    calls_before = __atomic_load_n(&under_calls, __ATOMIC_RELAXED);
    int retried = tu_wait_until(allocator_retried, NULL);
    CHECK(retried && !__atomic_load_n(&w.done, __ATOMIC_ACQUIRE),
          "still blocked after a retry of the failing allocator while nothing is freed "
          "(retried: %s)",
          retried ? "yes" : "no");
    numaslab_mempool_free(r[2], p);
    pthread_join(t, NULL);
    CHECK(w.got == r[2], "the waiter returns the element another thread freed (%p, want %p)", w.got,
          r[2]);
    r[2] = w.got;

    /* Frees refill the reserve first. */
    tu_case("frees refill the reserve first");
    frees0 = under_frees;
    for (int i = 0; i < 4; i++)
        numaslab_mempool_free(r[i], p);
    st = stats(p);
    CHECK(st.curr_nr == 4 && under_frees == frees0 && st.out == 0,
          "freeing the 4 refills the reserve to min_nr, free_fn not called (curr %d)", st.curr_nr);

    /* Reserve-only and bulk. */
    tu_case("reserve-only and bulk");
    long a1 = under_allocs;
    under_fail = 0;
    void *pre = numaslab_mempool_alloc_preallocated(p);
    CHECK(pre && under_allocs == a1 && stats(p).curr_nr == 3,
          "alloc_preallocated takes from the reserve, never the allocator");
    void *bulk[4];
    CHECK(numaslab_mempool_alloc_bulk(p, bulk, 4) == -ENOMEM && stats(p).curr_nr == 3,
          "bulk(4) with 3 held: -ENOMEM and nothing taken");
    CHECK(numaslab_mempool_alloc_bulk(p, bulk, 3) == 0 && stats(p).curr_nr == 0,
          "bulk(3) with 3 held takes all 3");
    CHECK(numaslab_mempool_alloc_preallocated(p) == NULL && errno == ENOMEM,
          "alloc_preallocated on an empty reserve: NULL, ENOMEM, no blocking");
    for (int i = 0; i < 3; i++)
        numaslab_mempool_free(bulk[i], p);
    numaslab_mempool_free(pre, p);

    /* Resize: shrink releases the surplus at once, grow fills. */
    tu_case("resize: shrink releases the surplus at once, grow fills");
    frees0 = under_frees;
    CHECK(numaslab_mempool_resize(p, 1) == 0 && stats(p).curr_nr == 1 && under_frees == frees0 + 3,
          "resize 4 -> 1 frees the 3 surplus elements at once");
    under_fail = 1;
    CHECK(numaslab_mempool_resize(p, 3) == 0 && stats(p).min_nr == 3 && stats(p).curr_nr == 1,
          "resize 1 -> 3 with the allocator failing: min 3, still 1 held");
    under_fail = 0;
    void *y = numaslab_mempool_alloc(p, 0); /* from the allocator */
    numaslab_mempool_free(y, p);            /* completes the growth */
    CHECK(stats(p).curr_nr == 2, "a later free completes the growth (curr %d)", stats(p).curr_nr);
    CHECK(numaslab_mempool_destroy(p) == 0, "destroy with nothing out: 0");

    /* Page pools: elements on the node, pre-faulted, page sized. */
    tu_case("page pools: elements on the node, pre-faulted, page sized");
    int node = numaslab_local_node();
    numaslab_mempool_t *pp = numaslab_page_pool_create(node, 2, 3);
    REQUIRE(pp, "numaslab_page_pool_create: %s", strerror(errno));
    st = stats(pp);
    CHECK(st.curr_nr == 3 && st.elem_bytes == (size_t)tu_pagesize() * 4,
          "page pool: 3 elements of 4 pages (curr %d, %zu bytes)", st.curr_nr, st.elem_bytes);
    void *els[3];
    REQUIRE(numaslab_mempool_alloc_bulk(pp, els, 3) == 0, "page pool bulk");
    for (int i = 0; i < 3; i++) {
        memset(els[i], 0x5a, st.elem_bytes);
        CHECK(kernel_on_node(els[i], st.elem_bytes, node),
              "page pool element %d: every page on node %d (kernel)", i, node);
        CHECK(((uintptr_t)els[i] & (tu_pagesize() - 1)) == 0, "element %d is page aligned", i);
    }
    for (int i = 0; i < 3; i++)
        numaslab_mempool_free(els[i], pp);
    CHECK(numaslab_page_pool_create(-5, 0, 1) == NULL && errno == EINVAL,
          "page pool on node -5: EINVAL");
    CHECK(numaslab_page_pool_create(node, 40, 1) == NULL && errno == EINVAL,
          "page pool of order 40: EINVAL");
    /* Made as one run of pages: whole 2 MiB units of it 2 MiB-aligned
     * and advised for huge pages (lib/pagepool.c). */
    tu_case("a page pool is made as one run");
    {
        const size_t huge = (size_t)2 << 20, elem = (size_t)tu_pagesize() << 4;
        enum { N = 64 };
        int n = (int)(huge / elem);
        void *hp_els[N];
        numaslab_mempool_t *hp = n <= N ? numaslab_page_pool_create(node, 4, n) : NULL;
        if (CHECK(hp && numaslab_mempool_alloc_bulk(hp, hp_els, n) == 0,
                  "a page pool of %d chunks of %zu bytes, all taken (%s)", n, elem,
                  hp ? "made" : strerror(errno))) {
            uintptr_t start = (uintptr_t)hp_els[0] & ~(uintptr_t)(huge - 1);
            int inside = 1, advised = 1;
            for (int i = 0; i < n; i++) {
                uintptr_t a = (uintptr_t)hp_els[i];
                inside &= a >= start && a + elem <= start + huge;
                advised &= tu_vma_flag(hp_els[i], "hg");
            }
            if (tu_thp_library()) {
                CHECK(inside, "its %d chunks fill the 2 MiB-aligned run from %#lx", n,
                      (unsigned long)start);
                if (tu_thp_kernel())
                    CHECK(advised, "the run is advised for huge pages (VmFlags hg)");
            } else {
                tu_info("NUMASLAB_THP=0: the run is neither aligned nor advised; not checked");
            }
            for (int i = 0; i < n; i++)
                numaslab_mempool_free(hp_els[i], hp);
        }
        if (hp)
            numaslab_mempool_destroy(hp);
    }

    /* Its elements go back to the page layer: unmapped, or kept in its
     * cache of free runs for the next request of the node. */
    tu_case("its elements go back to the page layer");
    uint64_t before = numaslab_bytes_mapped() - tu_page_cached();
    CHECK(numaslab_mempool_destroy(pp) == 0 &&
              numaslab_bytes_mapped() - tu_page_cached() == before - 3 * st.elem_bytes,
          "destroying the page pool gives its 3 elements back (%llu bytes in use, %llu before)",
          (unsigned long long)(numaslab_bytes_mapped() - tu_page_cached()),
          (unsigned long long)before);
    tu_check_kernel_mapped("after the page pool's destroy");

    tu_case("node -1 is the local node");
    tu_pin_self(); /* the local node must not change under the checks */
    node = numaslab_local_node();
    numaslab_mempool_t *lp = numaslab_page_pool_create(NUMASLAB_NODE_LOCAL, 0, 1);
    if (CHECK(lp != NULL, "numaslab_page_pool_create(-1, 0, 1) makes a pool (%s)",
              lp ? "yes" : strerror(errno))) {
        st = stats(lp);
        void *el = numaslab_mempool_alloc_preallocated(lp);
        if (el)
            memset(el, 0x6b, st.elem_bytes);
        CHECK(st.node == node && el && kernel_on_node(el, st.elem_bytes, node),
              "its node is the local node %d (stats: %d), and so is its element's page by the "
              "kernel",
              node, st.node);
        if (el)
            numaslab_mempool_free(el, lp);
        CHECK(numaslab_mempool_destroy(lp) == 0, "the pool on node -1 is destroyed");
    }
    CHECK(numaslab_node_reserve(NUMASLAB_NODE_LOCAL) == numaslab_node_reserve(node) &&
              numaslab_node_reserve(node) != NULL,
          "numaslab_node_reserve(-1) is the local node's reserve");
    return tu_exit();
}
