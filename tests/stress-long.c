/*
 * stress-long - a long mixed workload: worker threads that come and go,
 * random node targets (local, active, inactive and invalid ids), random
 * sizes (size classes and whole pages), three caches (one with a
 * constructor, one with one-page slabs), critical allocations, bursts of
 * fault injection, and objects handed between threads and freed by
 * threads that did not allocate them (some after their allocating thread
 * exited).  Every object carries a cookie checked when it is freed.
 *
 * At the end every object has been freed and is accounted for: no cache
 * has an object in use on any node, no large object is live, every
 * reserve is full, the bytes mapped are back within what the retained
 * empty slabs allow, and they equal the bytes of the process's mappings
 * bound to a node (/proc/self/numa_maps).  After numaslab_fini() nothing
 * bound is left.
 *
 *   stress-long [OPERATIONS [THREADS [SEED]]]
 *
 * OPERATIONS defaults to 10^7 (STRESS_OPS in the environment also sets
 * it), THREADS (alive at once) to 4.  Not part of `make check`: `make
 * stress` runs it, and .ci/run with a bounded count.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <limits.h>
#include <pthread.h>
#include <time.h>

#define MAXNODES         1024
#define MAXTHREADS       64
#define LOCAL_MAX        1024  /* objects a worker holds at most */
#define QUOTA            25000 /* operations of one worker before it exits */
#define CLAIM            500   /* operations claimed at a time from the total */
#define NXSLOTS          512   /* hand-over slots between threads */
#define ORPHANS          65536 /* objects left by exited workers */
#define RETAIN           2
#define RETAIN_BYTES     (1u << 20) /* NUMASLAB_RETAIN_BYTES */
#define RETAIN_BYTES_STR "1M"
#define BURST_EVERY_MS   25 /* fault injection: off this long ... */
#define BURST_MS         4  /* ... then on this long */

enum kind { K_SMALL, K_LARGE, K_CACHE };

struct rec {
    void *p;
    uint32_t len; /* bytes asked for */
    uint8_t kind;
    uint8_t cache; /* K_CACHE: index into caches[] */
    uint8_t crit;
    uint64_t seed;
};

/* ------------------------------------------------------------------------
 * Shared state
 * ---------------------------------------------------------------------- */
#define NCACHES 3
static const struct {
    const char *name;
    size_t size, align;
    unsigned flags;
} cdef[NCACHES] = {
    {"stress-56", 56, 0, 0},
    {"stress-ctor-136", 136, 8, 0},
    {"stress-700-page", 700, 0, NUMASLAB_SLAB_ORDER(0)},
};
static numaslab_cache_t *caches[NCACHES];
static unsigned char ctor_image[136];

static void ctor_136(void *obj)
{
    memcpy(obj, ctor_image, sizeof(ctor_image));
}

static int node_table[64], nnode_table, possible, max_node;
static int active_nodes[MAXNODES], nactive;

static struct {
    pthread_mutex_t m;
    struct rec r;
} xslot[NXSLOTS];

static pthread_mutex_t orphan_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec *orphans;
static long norphans;

static long total_ops;
static long claimed;       /* atomic */
static unsigned fault_gen; /* atomic: odd while fault injection is on */
static int stop_bursts;    /* atomic */

/* Counters, atomic. */
static long n_ops, n_alloc, n_free, n_cross, n_adopted, n_fail_fault, n_crit_ok, n_crit_fail,
    n_einval, n_enodev, n_threads, n_bursts, n_errors;

#define ADD(v, n) __atomic_fetch_add(&(v), (n), __ATOMIC_RELAXED)
#define GET(v)    __atomic_load_n(&(v), __ATOMIC_RELAXED)

/* A failed expectation inside a worker: counted, the first ones shown. */
static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void error(const char *fmt, ...)
{
    if (ADD(n_errors, 1) >= 20)
        return;
    va_list ap;
    va_start(ap, fmt);
    flockfile(stdout);
    fputs("FAIL: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    funlockfile(stdout);
    va_end(ap);
}

/* ------------------------------------------------------------------------
 * Objects
 * ---------------------------------------------------------------------- */

/* Cookie bytes: the first 256 and the last 64 of the object. */
static void rec_fill(const struct rec *r)
{
    size_t head = r->len < 256 ? r->len : 256;
    tu_fill(r->p, head, r->seed);
    if (r->len >= 256 + 64)
        tu_fill((char *)r->p + r->len - 64, 64, r->seed ^ 1);
}

static int rec_intact(const struct rec *r)
{
    size_t head = r->len < 256 ? r->len : 256;
    if (!tu_verify(r->p, head, r->seed))
        return 0;
    return r->len < 256 + 64 || tu_verify((char *)r->p + r->len - 64, 64, r->seed ^ 1);
}

static void rec_free(const struct rec *r, int how)
{
    if (!rec_intact(r))
        error("object %p (%u bytes, kind %d) lost its cookie", r->p, r->len, r->kind);
    int node = numaslab_ptr_node(r->p);
    if (node < 0 || node >= MAXNODES || numaslab_node_is_active(node) != 1)
        error("object %p: numaslab_ptr_node %d is not an active node", r->p, node);
    if (r->kind == K_CACHE) {
        if (r->cache == 1)
            memcpy(r->p, ctor_image, sizeof(ctor_image));
        if (how & 1)
            numaslab_cache_free(caches[r->cache], r->p);
        else
            numaslab_free(r->p);
    } else {
        numaslab_free(r->p);
    }
    ADD(n_free, 1);
}

/* ------------------------------------------------------------------------
 * A worker
 * ---------------------------------------------------------------------- */
struct worker {
    pthread_t t;
    int done; /* atomic: finished, may be joined */
    int used;
    uint64_t rng;
    struct rec live[LOCAL_MAX];
    int nlive;
};

static size_t pick_size(uint64_t *rng, int *large)
{
    uint64_t r = tu_rand(rng);
    unsigned k = (unsigned)(r % 1000);
    *large = 0;
    if (k < 600)
        return (size_t)(r >> 20) % 257;
    if (k < 900)
        return (size_t)(r >> 20) % 2049;
    if (k < 985)
        return 1 + (size_t)(r >> 20) % NUMASLAB_MAX_SMALL;
    *large = 1;
    if (k < 998)
        return NUMASLAB_MAX_SMALL + 1 + (size_t)(r >> 20) % (120 * 1024);
    return NUMASLAB_MAX_SMALL + 1 + (size_t)(r >> 20) % (1024 * 1024);
}

static int invalid(int node)
{
    return node < -1 || node >= possible;
}
static int is_active(int node)
{
    return node >= 0 && numaslab_node_is_active(node) == 1;
}

static void do_alloc(struct worker *w)
{
    uint64_t r = tu_rand(&w->rng);
    unsigned gen0 = __atomic_load_n(&fault_gen, __ATOMIC_ACQUIRE);
    int burst = gen0 & 1, node = NUMASLAB_NODE_LOCAL, large = 0, plain = (r & 3) != 0;
    unsigned flags = NUMASLAB_NOWARN;
    struct rec rec;
    memset(&rec, 0, sizeof(rec));

    if (!plain)
        node = node_table[(r >> 2) % (unsigned)nnode_table];
    if (r & (1u << 10))
        flags |= NUMASLAB_ZERO;
    if (!plain && (r & (3u << 11)) == 0)
        flags |= NUMASLAB_THISNODE;
    if ((burst && (r & (1u << 13))) || (r % 97) == 0)
        flags |= NUMASLAB_CRITICAL;
    rec.crit = !!(flags & NUMASLAB_CRITICAL);
    rec.seed = tu_rand(&w->rng);

    errno = 0;
    if ((r >> 16) % 10 < 3) {
        rec.kind = K_CACHE;
        rec.cache = (uint8_t)((r >> 24) % NCACHES);
        rec.len = (uint32_t)cdef[rec.cache].size;
        rec.p = plain && !rec.crit ? numaslab_cache_alloc(caches[rec.cache], flags)
                                   : numaslab_cache_alloc_node(caches[rec.cache], flags, node);
    } else {
        size_t size = pick_size(&w->rng, &large);
        rec.kind = large ? K_LARGE : K_SMALL;
        rec.len = (uint32_t)size;
        rec.p = plain && !rec.crit ? numaslab_alloc(size, flags)
                                   : numaslab_alloc_node(size, flags, node);
    }
    int err = errno;
    unsigned gen1 = __atomic_load_n(&fault_gen, __ATOMIC_ACQUIRE);

    if (invalid(node)) {
        if (rec.p || err != EINVAL)
            error("allocation on invalid node %d: %p, errno %d (want NULL, EINVAL)", node, rec.p,
                  err);
        else
            ADD(n_einval, 1);
        numaslab_free(rec.p);
        return;
    }
    if (node >= 0 && !is_active(node) && (flags & NUMASLAB_THISNODE)) {
        if (rec.p || err != ENODEV)
            error("allocation on inactive node %d with THISNODE: %p, errno %d (want NULL, "
                  "ENODEV)",
                  node, rec.p, err);
        else
            ADD(n_enodev, 1);
        return;
    }
    if (!rec.p) {
        int during = (gen0 & 1) || gen1 != gen0;
        if (err != ENOMEM || !during)
            error("allocation of %u bytes (kind %d, node %d, flags 0x%x) failed with errno %d %s "
                  "fault injection",
                  rec.len, rec.kind, node, flags, err, during ? "during" : "outside");
        ADD(n_fail_fault, 1);
        if (rec.crit)
            ADD(n_crit_fail, 1);
        return;
    }
    if (rec.crit)
        ADD(n_crit_ok, 1);
    size_t usable = numaslab_usable_size(rec.p);
    if (usable < rec.len || usable > (rec.kind == K_LARGE ? rec.len + 4096u * 16 : 8192u))
        error("object %p (%u bytes, kind %d%s): usable size %zu", rec.p, rec.len, rec.kind,
              rec.crit ? ", critical" : "", usable);
    if (rec.kind == K_CACHE && rec.cache == 1 && !(flags & NUMASLAB_ZERO) &&
        memcmp(rec.p, ctor_image, sizeof(ctor_image)))
        error("object %p of %s is not in its constructed state", rec.p, cdef[1].name);
    if (flags & NUMASLAB_ZERO) {
        const unsigned char *b = rec.p;
        for (size_t i = 0; i < rec.len; i += (rec.len > 4096 ? 509 : 1))
            if (b[i]) {
                error("object %p (ZERO, %u bytes): byte %zu is 0x%02x", rec.p, rec.len, i, b[i]);
                break;
            }
    }
    rec_fill(&rec);
    ADD(n_alloc, 1);
    if (w->nlive == LOCAL_MAX) {
        int i = (int)(tu_rand(&w->rng) % LOCAL_MAX);
        rec_free(&w->live[i], (int)r);
        w->live[i] = rec;
    } else {
        w->live[w->nlive++] = rec;
    }
}

static void do_free(struct worker *w)
{
    if (!w->nlive)
        return;
    int i = (int)(tu_rand(&w->rng) % (unsigned)w->nlive);
    rec_free(&w->live[i], (int)w->rng);
    w->live[i] = w->live[--w->nlive];
}

/* Swap one of ours into a hand-over slot; free what was there. */
static void do_handover(struct worker *w)
{
    struct rec mine, theirs;
    int give = w->nlive > 0 && (w->rng & 1);
    int s = (int)(tu_rand(&w->rng) % NXSLOTS);
    memset(&mine, 0, sizeof(mine));
    if (give) {
        int i = (int)(tu_rand(&w->rng) % (unsigned)w->nlive);
        mine = w->live[i];
        w->live[i] = w->live[--w->nlive];
    }
    pthread_mutex_lock(&xslot[s].m);
    theirs = xslot[s].r;
    xslot[s].r = mine;
    pthread_mutex_unlock(&xslot[s].m);
    if (theirs.p) {
        rec_free(&theirs, (int)w->rng >> 3);
        ADD(n_cross, 1);
    }
}

/* Take over objects of workers that exited. */
static void adopt(struct worker *w)
{
    pthread_mutex_lock(&orphan_lock);
    while (norphans > 0 && w->nlive < LOCAL_MAX / 2) {
        w->live[w->nlive++] = orphans[--norphans];
        ADD(n_adopted, 1);
    }
    pthread_mutex_unlock(&orphan_lock);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    long done = 0;
    adopt(w);
    while (done < QUOTA) {
        long base = ADD(claimed, CLAIM);
        if (base >= total_ops)
            break;
        long n = total_ops - base < CLAIM ? total_ops - base : CLAIM;
        for (long k = 0; k < n; k++) {
            uint64_t r = tu_rand(&w->rng) % 1000;
            if (r < 470)
                do_alloc(w);
            else if (r < 900)
                do_free(w);
            else if (r < 995)
                do_handover(w);
            else
                numaslab_thread_flush();
        }
        done += n;
        ADD(n_ops, n);
    }
    /* Leaving: free a half, leave the rest to whoever comes next. */
    int keep = w->nlive / 2;
    while (w->nlive > keep)
        do_free(w);
    pthread_mutex_lock(&orphan_lock);
    while (w->nlive > 0 && norphans < ORPHANS)
        orphans[norphans++] = w->live[--w->nlive];
    pthread_mutex_unlock(&orphan_lock);
    while (w->nlive > 0)
        do_free(w);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* ------------------------------------------------------------------------
 * Fault injection bursts
 * ---------------------------------------------------------------------- */
static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *burst_main(void *arg)
{
    unsigned seed = 1;
    (void)arg;
    while (!__atomic_load_n(&stop_bursts, __ATOMIC_ACQUIRE)) {
        sleep_ms(BURST_EVERY_MS);
        char spec[64];
        /* mostly probabilistic, sometimes every page allocation */
        if (seed % 4 == 0)
            snprintf(spec, sizeof(spec), "after=0");
        else
            snprintf(spec, sizeof(spec), "prob=0.%u,seed=%u", 3 + seed % 6, seed);
        seed++;
        /* On before the generation says so; off after it: a failure seen
         * while the generation is even and unchanged is a real one. */
        __atomic_fetch_add(&fault_gen, 1, __ATOMIC_ACQ_REL);
        if (numaslab_fail_pages(spec) != 0)
            error("numaslab_fail_pages(\"%s\") refused", spec);
        sleep_ms(BURST_MS);
        numaslab_fail_pages(NULL);
        __atomic_fetch_add(&fault_gen, 1, __ATOMIC_ACQ_REL);
        ADD(n_bursts, 1);
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Accounting
 * ---------------------------------------------------------------------- */

static long long caches_inuse(numaslab_cache_t *c, long long *reserve)
{
    long long sum = 0;
    *reserve = 0;
    for (int i = 0; i < nactive; i++) {
        struct numaslab_cache_stats st;
        memset(&st, 0, sizeof(st));
        if (numaslab_stats_cache(c, active_nodes[i], &st) != 0)
            return -1;
        sum += (long long)st.objects_inuse;
        *reserve += (long long)st.objects_reserve;
    }
    return sum;
}

static uint64_t slab_bytes_of(numaslab_cache_t *c)
{
    struct numaslab_cache_stats st;
    memset(&st, 0, sizeof(st));
    numaslab_stats_cache(c, active_nodes[0], &st);
    return st.slab_bytes;
}

/* Every distinct cache: ours, then the size classes. */
static numaslab_cache_t *all_caches[NCACHES + 64];
static int nall;

static void collect_caches(void)
{
    nall = 0;
    for (int i = 0; i < NCACHES; i++)
        all_caches[nall++] = caches[i];
    for (size_t s = 0; s <= NUMASLAB_MAX_SMALL; s++) {
        numaslab_cache_t *c = numaslab_size_cache(s);
        int k;
        for (k = NCACHES; k < nall; k++)
            if (all_caches[k] == c)
                break;
        if (k == nall && nall < NCACHES + 64)
            all_caches[nall++] = c;
    }
}

static void topology(void)
{
    max_node = numaslab_max_node();
    nactive = tu_active_nodes(active_nodes, MAXNODES);
    int lo = max_node, hi = 1 << 20;
    while (lo + 1 < hi) {
        int mid = lo + (hi - lo) / 2;
        if (numaslab_node_is_active(mid) == -EINVAL)
            hi = mid;
        else
            lo = mid;
    }
    possible = hi;
    int k = 0;
    node_table[k++] = NUMASLAB_NODE_LOCAL;
    node_table[k++] = NUMASLAB_NODE_LOCAL;
    for (int i = 0; i < nactive && k < 40; i++)
        node_table[k++] = active_nodes[i];
    for (int n = 0; n <= max_node && k < 52; n++)
        if (numaslab_node_is_active(n) != 1)
            node_table[k++] = n;
    if (max_node + 1 < possible)
        node_table[k++] = max_node + 1;
    node_table[k++] = possible;
    node_table[k++] = -2;
    node_table[k++] = INT_MAX;
    nnode_table = k;
}

int main(int argc, char **argv)
{
    long threads = 4;
    uint64_t seed = 1;
    const char *env = getenv("STRESS_OPS");
    total_ops = 10000000;
    if (env)
        total_ops = strtol(env, NULL, 10);
    if (argc > 1)
        total_ops = strtol(argv[1], NULL, 10);
    if (argc > 2)
        threads = strtol(argv[2], NULL, 10);
    if (argc > 3)
        seed = strtoull(argv[3], NULL, 10);
    tu_init("stress-long");
    REQUIRE(total_ops > 0 && threads >= 2 && threads <= MAXTHREADS,
            "usage: stress-long [OPERATIONS [THREADS (2..%d) [SEED]]]", MAXTHREADS);

    struct numaslab_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.retain = RETAIN;
    /* A small page cache, so that it fills, overflows and is reused. */
    tu_case("a small page cache, so that it fills, overflows and is reused");
    setenv("NUMASLAB_RETAIN_BYTES", RETAIN_BYTES_STR, 1);
    int rc = numaslab_init(&cfg);
    REQUIRE(rc == 0 || rc == -EALREADY, "numaslab_init: %d", rc);
    topology();
    for (size_t i = 0; i < sizeof(ctor_image); i++)
        ctor_image[i] = (unsigned char)(0xa0 ^ i);
    for (int i = 0; i < NCACHES; i++) {
        caches[i] = numaslab_cache_create(cdef[i].name, cdef[i].size, cdef[i].align, cdef[i].flags,
                                          i == 1 ? ctor_136 : NULL);
        REQUIRE(caches[i], "numaslab_cache_create(%s): %s", cdef[i].name, strerror(errno));
    }
    collect_caches();
    orphans = calloc(ORPHANS, sizeof(*orphans));
    REQUIRE(orphans, "out of memory");
    for (int i = 0; i < NXSLOTS; i++)
        pthread_mutex_init(&xslot[i].m, NULL);

    /* Warm-up: one object of every cache on every active node, freed. */
    tu_case("warm-up: one object of every cache on every active node, freed");
    for (int i = 0; i < nall; i++)
        for (int n = 0; n < nactive; n++) {
            void *p = numaslab_cache_alloc_node(all_caches[i], NUMASLAB_THISNODE, active_nodes[n]);
            REQUIRE(p, "warm-up allocation in %s: %s", numaslab_cache_name(all_caches[i]),
                    strerror(errno));
            if (i == 1)
                memcpy(p, ctor_image, sizeof(ctor_image));
            numaslab_cache_free(all_caches[i], p);
        }
    numaslab_thread_flush();
    uint64_t baseline = numaslab_bytes_mapped(), reserve_bytes = 0, allowance = 0;
    int reserve_min[MAXNODES];
    for (int n = 0; n < nactive; n++) {
        struct numaslab_node_stats st;
        memset(&st, 0, sizeof(st));
        numaslab_stats_node(active_nodes[n], &st);
        reserve_min[n] = st.reserve_min;
        reserve_bytes += st.reserve_bytes;
    }
    for (int i = 0; i < nall; i++)
        allowance += (uint64_t)RETAIN * slab_bytes_of(all_caches[i]) * (uint64_t)nactive;
    /* The library's own cache of large objects' headers (numaslab-large,
     * not a size class: numaslab_size_cache never names it) keeps its
     * empty 64 KiB slabs too. */
    tu_case("the headers' cache of large objects");
    allowance += (uint64_t)RETAIN * (64u << 10) * (uint64_t)nactive;
    allowance += (uint64_t)RETAIN_BYTES * (uint64_t)nactive; /* each node's page cache */
    tu_info("%ld operations, %ld threads at a time, seed %llu; %d active node(s), node ids "
            "below %d; %d caches",
            total_ops, threads, (unsigned long long)seed, nactive, possible, nall);
    tu_info("after warm-up: %llu bytes mapped (reserves %llu); retained empty slabs may hold "
            "%llu more",
            (unsigned long long)baseline, (unsigned long long)reserve_bytes,
            (unsigned long long)allowance);

    /* ---- the run ---- */
    tu_case("the run: threads, remote frees, fault bursts");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t burster;
    REQUIRE(pthread_create(&burster, NULL, burst_main, NULL) == 0, "pthread_create");
    struct worker *ws = calloc((size_t)threads, sizeof(*ws));
    REQUIRE(ws, "out of memory");
    uint64_t seeder = seed * 0x9e3779b97f4a7c15ull + 1;
    long next_report = total_ops / 10;
    for (;;) {
        int running = 0;
        for (long i = 0; i < threads; i++) {
            struct worker *w = &ws[i];
            if (w->used && __atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
                pthread_join(w->t, NULL);
                w->used = 0;
            }
            if (!w->used && GET(claimed) < total_ops) {
                memset(w, 0, sizeof(*w));
                w->rng = tu_rand(&seeder) | 1;
                w->used = 1;
                REQUIRE(pthread_create(&w->t, NULL, worker_main, w) == 0, "pthread_create");
                ADD(n_threads, 1);
            }
            running += w->used;
        }
        if (!running)
            break;
        if (GET(n_ops) >= next_report) {
            tu_info("%ld operations done, %ld threads so far", GET(n_ops), GET(n_threads));
            next_report += total_ops / 10;
        }
        sleep_ms(1);
    }
    __atomic_store_n(&stop_bursts, 1, __ATOMIC_RELEASE);
    pthread_join(burster, NULL);
    numaslab_fail_pages(NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    /* ---- everything back ---- */
    tu_case("everything back");
    long leftover = 0;
    for (long i = 0; i < norphans; i++, leftover++)
        rec_free(&orphans[i], (int)i);
    norphans = 0;
    for (int s = 0; s < NXSLOTS; s++)
        if (xslot[s].r.p) {
            rec_free(&xslot[s].r, s);
            xslot[s].r.p = NULL;
            leftover++;
        }
    numaslab_thread_flush();

    tu_info("%ld operations in %.1f s by %ld threads: %ld allocations, %ld frees (%ld by "
            "another thread, %ld adopted from exited threads, %ld at the end), %ld fault "
            "bursts, %ld failures under fault injection, %ld critical allocations served "
            "(%ld failed), %ld EINVAL and %ld ENODEV as expected",
            GET(n_ops), secs, GET(n_threads), GET(n_alloc), GET(n_free), GET(n_cross),
            GET(n_adopted), leftover, GET(n_bursts), GET(n_fail_fault), GET(n_crit_ok),
            GET(n_crit_fail), GET(n_einval), GET(n_enodev));
    CHECK(GET(n_errors) == 0, "no unexpected result in %ld operations (%ld)", GET(n_ops),
          GET(n_errors));
    CHECK(GET(n_ops) == total_ops, "all %ld operations ran (%ld)", total_ops, GET(n_ops));
    CHECK(GET(n_alloc) == GET(n_free), "every allocation was freed (%ld allocations, %ld frees)",
          GET(n_alloc), GET(n_free));
    CHECK(GET(n_threads) >= 2 * threads, "threads came and went (%ld started)", GET(n_threads));
    CHECK(GET(n_bursts) > 0 && GET(n_fail_fault) > 0,
          "fault injection bursts made allocations fail (%ld bursts, %ld failures)", GET(n_bursts),
          GET(n_fail_fault));
    CHECK(GET(n_cross) > 0 && GET(n_adopted) > 0,
          "objects were freed by other threads (%ld) and by threads that adopted them (%ld)",
          GET(n_cross), GET(n_adopted));

    {
        int bad = 0;
        for (int i = 0; i < nall; i++) {
            long long res, inuse = caches_inuse(all_caches[i], &res);
            if (inuse != 0 || res != 0) {
                bad++;
                printf("  cache %s: objects_inuse %lld, objects_reserve %lld\n",
                       numaslab_cache_name(all_caches[i]), inuse, res);
            }
        }
        CHECK(bad == 0, "every cache has no object in use on any node (%d caches do)", bad);
    }
    {
        int bad_large = 0, bad_res = 0;
        for (int n = 0; n < nactive; n++) {
            struct numaslab_node_stats st;
            memset(&st, 0, sizeof(st));
            numaslab_stats_node(active_nodes[n], &st);
            if (st.large_allocs)
                bad_large++;
            if (st.reserve_cur != st.reserve_min || st.reserve_min != reserve_min[n]) {
                bad_res++;
                printf("  node %d reserve: %d of %d (was %d)\n", active_nodes[n], st.reserve_cur,
                       st.reserve_min, reserve_min[n]);
            }
        }
        CHECK(bad_large == 0, "no large object is live on any node");
        CHECK(bad_res == 0, "every reserve is full again");
    }
    uint64_t mapped = numaslab_bytes_mapped();
    CHECK(mapped <= reserve_bytes + allowance,
          "bytes mapped at the end: %llu, baseline %llu (%+lld); at most %llu allowed (reserves "
          "%llu + retained empty slabs %llu)",
          (unsigned long long)mapped, (unsigned long long)baseline,
          (long long)mapped - (long long)baseline, (unsigned long long)(reserve_bytes + allowance),
          (unsigned long long)reserve_bytes, (unsigned long long)allowance);
    long long bound = tu_kernel_bound_bytes();
    CHECK(bound == (long long)mapped,
          "the process's node-bound mappings (numa_maps) hold exactly the bytes the library "
          "counts: %lld, %llu counted",
          bound, (unsigned long long)mapped);
    for (int i = 0; i < NCACHES; i++) {
        rc = numaslab_cache_destroy(caches[i]);
        CHECK(rc == 0, "numaslab_cache_destroy(%s): %d", cdef[i].name, rc);
    }
    numaslab_fini();
    bound = tu_kernel_bound_bytes();
    CHECK(bound == 0 && numaslab_bytes_mapped() == 0,
          "after numaslab_fini: %lld bytes bound to a node remain mapped, %llu counted", bound,
          (unsigned long long)numaslab_bytes_mapped());
    free(ws);
    free(orphans);
    return tu_exit();
}
