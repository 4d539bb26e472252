/* bench/malloc-bench.c - multi-threaded workloads for a drop-in malloc
 *
 * One program, plain libc and pthreads, meant to be run under LD_PRELOAD
 * of each allocator in turn (bench/malloc-run.sh does that):
 *
 *   malloc-bench WORKLOAD [-t THREADS] [-s SCALE]
 *
 *   larson   server churn: each thread replaces random objects (8..1000 B)
 *            in an array of slots; after each round the arrays move on to
 *            the next thread, so most frees are of another thread's objects
 *   xmalloc  producer/consumer: half the threads allocate small objects and
 *            pass them in batches through locked queues to the other half,
 *            which free them
 *   mstress  random lifetimes in a per-thread working set, mostly small but
 *            some buffers up to 256 KiB, occasional realloc and calloc; at
 *            the end of each phase a part of the set moves to the next thread
 *   rptest   power-law sizes 16 B..64 KiB, occasional realloc; a quarter of
 *            the objects replaced are sent through a lock-free mailbox to
 *            another thread, which frees them
 *
 * The amount of work is fixed (SCALE times a default sized for about a
 * second with glibc on two cores) and shared among the threads; every
 * thread draws from its own seeded xorshift generator, and the exchanges
 * between threads either happen at barriers or do not feed back into what
 * a thread allocates, so the work and the checksum are the same for every
 * allocator and every run with the same arguments.
 *
 * Each object holds a tag (random bits and its size) in its first 8 bytes,
 * the tag's complement in its last 8 (24 B and over) and one byte per 4 KiB
 * page; they are checked when the object is freed or reallocated, as are
 * the alignment of every pointer and the zeroes calloc returns.  The sum of
 * the tags allocated must equal the sum of the tags freed.  Any failure is
 * reported on stderr and the program exits with status 3.
 *
 * Output, one line on stdout:
 *   WORKLOAD threads=N seconds=X.XXX cpu=X.XXX checksum=HEX ops=N maxrss_kb=N malloc=LIB
 * where cpu is the process's user and system time (getrusage), ops counts
 * the malloc, calloc and realloc calls, maxrss_kb is the
 * process's peak resident set (getrusage) and LIB the file that `malloc`
 * resolved to.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_THREADS   256
#define SIZE_BITS     20
#define SIZE_MASK     ((UINT64_C(1) << SIZE_BITS) - 1)
#define TAG_SIZE(tag) ((size_t)((tag)&SIZE_MASK))
#define PAGE_STEP     4096

static const char *g_workload = "?";
static int g_threads = 2;
static double g_scale = 1.0;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "malloc-bench: %s: ", g_workload);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(3);
}

/* ---- random numbers: xorshift64* seeded through splitmix64 ---- */

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t splitmix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static void rng_seed(rng_t *r, uint64_t seed)
{
    r->s = splitmix64(seed);
    if (r->s == 0)
        r->s = 1;
}

static inline uint64_t rng_next(rng_t *r)
{
    uint64_t x = r->s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * UINT64_C(2685821657736338717);
}

/* Uniform in [0, n), n < 2^32. */
static inline uint32_t rng_below(rng_t *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* ---- objects: tag, fill, checks ---- */

static inline uint64_t make_tag(rng_t *r, size_t size)
{
    return (rng_next(r) & ~SIZE_MASK) | (uint64_t)size;
}

static inline unsigned char page_byte(uint64_t tag, size_t off)
{
    return (unsigned char)((tag >> 24) + (off / PAGE_STEP));
}

static inline uint64_t load64(const void *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store64(void *p, uint64_t v)
{
    memcpy(p, &v, sizeof v);
}

static void obj_fill(void *p, size_t size, uint64_t tag)
{
    unsigned char *b = p;

    store64(b, tag);
    if (size >= 24)
        store64(b + size - 8, ~tag);
    for (size_t off = PAGE_STEP; off + 8 < size; off += PAGE_STEP)
        b[off] = page_byte(tag, off);
}

static void obj_check(const void *p, size_t size, uint64_t tag, const char *when)
{
    const unsigned char *b = p;
    uint64_t v = load64(b);

    if (v != tag)
        fail("%s: object %p (%zu B): head is %016" PRIx64 ", wrote %016" PRIx64, when, p, size, v,
             tag);
    if (size >= 24 && (v = load64(b + size - 8)) != ~tag)
        fail("%s: object %p (%zu B): tail is %016" PRIx64 ", wrote %016" PRIx64, when, p, size, v,
             ~tag);
    for (size_t off = PAGE_STEP; off + 8 < size; off += PAGE_STEP)
        if (b[off] != page_byte(tag, off))
            fail("%s: object %p (%zu B): byte at %zu is %#x, wrote %#x", when, p, size, off, b[off],
                 page_byte(tag, off));
}

/* An object that carries its own size in its tag (passed between threads). */
static uint64_t obj_check_self(const void *p, size_t minsz, size_t maxsz, const char *when)
{
    uint64_t tag = load64(p);
    size_t size = TAG_SIZE(tag);

    if (size < minsz || size > maxsz)
        fail("%s: object %p: head %016" PRIx64 " holds no valid size", when, p, tag);
    obj_check(p, size, tag, when);
    return tag;
}

/* After realloc from oldsize to newsize: what survives must be intact. */
static void obj_check_moved(const void *p, size_t oldsize, size_t newsize, uint64_t tag)
{
    const unsigned char *b = p;
    uint64_t v = load64(b);

    if (v != tag)
        fail("realloc %zu -> %zu B (%p): head is %016" PRIx64 ", wrote %016" PRIx64, oldsize,
             newsize, p, v, tag);
    if (newsize >= oldsize && oldsize >= 24 && (v = load64(b + oldsize - 8)) != ~tag)
        fail("realloc %zu -> %zu B (%p): old tail is %016" PRIx64 ", wrote %016" PRIx64, oldsize,
             newsize, p, v, ~tag);
    for (size_t off = PAGE_STEP; off + 8 < oldsize && off < newsize; off += PAGE_STEP)
        if (b[off] != page_byte(tag, off))
            fail("realloc %zu -> %zu B (%p): byte at %zu is %#x, wrote %#x", oldsize, newsize, p,
                 off, b[off], page_byte(tag, off));
}

static inline void check_align(const void *p, size_t size, const char *fn)
{
    uintptr_t need = size >= 16 ? 16 : 8;

    if ((uintptr_t)p & (need - 1))
        fail("%s(%zu) returned %p, not aligned to %u", fn, size, p, (unsigned)need);
}

/* Big blocks are checked in their first 256 bytes only: reading a fresh page
 * before writing it costs a second fault (the zero page, then a copy). */
static void check_zero(const unsigned char *b, size_t size)
{
    size_t n = size <= PAGE_STEP ? size : 256;

    for (size_t off = 0; off < n; off++)
        if (b[off])
            fail("calloc(1, %zu) returned %p with a non-zero byte at %zu", size, (const void *)b,
                 off);
}

static void *bm_malloc(size_t size)
{
    void *p = malloc(size);

    if (!p)
        fail("malloc(%zu) returned NULL", size);
    check_align(p, size, "malloc");
    return p;
}

static void *bm_calloc(size_t size)
{
    void *p = calloc(1, size);

    if (!p)
        fail("calloc(1, %zu) returned NULL", size);
    check_align(p, size, "calloc");
    check_zero(p, size);
    return p;
}

/* Untagged memory the workloads use for their own bookkeeping. */
static void *raw_calloc(size_t n, size_t size)
{
    void *p = calloc(n, size);

    if (!p)
        fail("calloc(%zu, %zu) returned NULL", n, size);
    return p;
}

/* ---- per-thread state and the accounting of tags ---- */

struct slot {
    void *p;
    uint64_t tag; /* the size is in its low bits */
};

struct tstate {
    _Alignas(64) int id;
    rng_t rng;
    uint64_t alloc_sum, free_sum; /* tags, wrapping */
    uint64_t nalloc, nfree;       /* objects */
    uint64_t ops;                 /* malloc + calloc + realloc calls */
};

static struct tstate g_ts[MAX_THREADS];

static void slot_new(struct tstate *t, struct slot *s, size_t size, int zeroed)
{
    uint64_t tag = make_tag(&t->rng, size);
    void *p = zeroed ? bm_calloc(size) : bm_malloc(size);

    obj_fill(p, size, tag);
    s->p = p;
    s->tag = tag;
    t->alloc_sum += tag;
    t->nalloc++;
    t->ops++;
}

static void slot_free(struct tstate *t, struct slot *s)
{
    obj_check(s->p, TAG_SIZE(s->tag), s->tag, "free");
    free(s->p);
    t->free_sum += s->tag;
    t->nfree++;
    s->p = NULL;
}

/* Counted as the free of the old object and the allocation of a new one. */
static void slot_realloc(struct tstate *t, struct slot *s, size_t newsize)
{
    size_t oldsize = TAG_SIZE(s->tag);
    void *q;
    uint64_t tag;

    obj_check(s->p, oldsize, s->tag, "before realloc");
    q = realloc(s->p, newsize);
    if (!q)
        fail("realloc(%p, %zu) returned NULL", s->p, newsize);
    check_align(q, newsize, "realloc");
    obj_check_moved(q, oldsize, newsize, s->tag);
    t->free_sum += s->tag;
    t->nfree++;
    tag = make_tag(&t->rng, newsize);
    obj_fill(q, newsize, tag);
    s->p = q;
    s->tag = tag;
    t->alloc_sum += tag;
    t->nalloc++;
    t->ops++;
}

/* A freed object whose tag was checked elsewhere. */
static inline void count_free(struct tstate *t, uint64_t tag)
{
    t->free_sum += tag;
    t->nfree++;
}

static uint64_t scaled(uint64_t base)
{
    double v = (double)base * g_scale;

    return v < 1 ? 1 : (uint64_t)v;
}

static pthread_barrier_t g_barrier;

static void barrier(void)
{
    int rc = pthread_barrier_wait(&g_barrier);

    if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
        fail("pthread_barrier_wait: error %d", rc);
}

/* ---- larson ---- */

#define LARSON_SLOTS  1000
#define LARSON_ROUNDS 50
#define LARSON_OPS    48000000 /* replacements in all, shared among the threads */

static struct slot *larson_arr[MAX_THREADS];
static uint64_t larson_per_round;

static size_t larson_size(rng_t *r)
{
    return 8 + rng_below(r, 993);
}

static void *larson_thread(void *arg)
{
    struct tstate *t = arg;
    int n = g_threads;
    struct slot *a = raw_calloc(LARSON_SLOTS, sizeof *a);

    for (int i = 0; i < LARSON_SLOTS; i++)
        slot_new(t, &a[i], larson_size(&t->rng), 0);
    larson_arr[t->id] = a;
    for (int r = 0; r < LARSON_ROUNDS; r++) {
        /* All the arrays are handed on at once. */
        barrier();
        a = larson_arr[(t->id + r) % n];
        for (uint64_t k = 0; k < larson_per_round; k++) {
            struct slot *s = &a[rng_below(&t->rng, LARSON_SLOTS)];

            slot_free(t, s);
            slot_new(t, s, larson_size(&t->rng), 0);
        }
    }
    for (int i = 0; i < LARSON_SLOTS; i++)
        slot_free(t, &a[i]);
    free(a);
    return NULL;
}

static void larson_setup(void)
{
    larson_per_round = scaled(LARSON_OPS) / ((uint64_t)g_threads * LARSON_ROUNDS);
    if (larson_per_round == 0)
        larson_per_round = 1;
}

/* ---- xmalloc ---- */

#define XM_BATCH   64
#define XM_QCAP    16
#define XM_OBJECTS 7000000 /* objects in all, shared among the producers */

struct xm_batch {
    unsigned n;
    void *obj[XM_BATCH];
};

struct xm_queue {
    _Alignas(64) pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    struct xm_batch *ring[XM_QCAP];
    unsigned head, count;
};

static struct xm_queue xm_q[MAX_THREADS];
static int xm_producers, xm_consumers;
static uint64_t xm_per_producer; /* batches */

static size_t xm_size(rng_t *r)
{
    uint32_t c = rng_below(r, 100);

    if (c < 60)
        return 8 + rng_below(r, 57);
    if (c < 90)
        return 64 + rng_below(r, 193);
    return 256 + rng_below(r, 1793);
}

static void xm_push(struct xm_queue *q, struct xm_batch *b)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == XM_QCAP)
        pthread_cond_wait(&q->not_full, &q->mu);
    q->ring[(q->head + q->count) % XM_QCAP] = b;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

static struct xm_batch *xm_pop(struct xm_queue *q)
{
    struct xm_batch *b;

    pthread_mutex_lock(&q->mu);
    while (q->count == 0)
        pthread_cond_wait(&q->not_empty, &q->mu);
    b = q->ring[q->head];
    q->head = (q->head + 1) % XM_QCAP;
    q->count--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return b;
}

static void *xm_producer(struct tstate *t)
{
    int j = t->id;

    for (uint64_t k = 0; k < xm_per_producer; k++) {
        struct xm_batch *b = raw_calloc(1, sizeof *b);
        struct slot s;

        for (unsigned i = 0; i < XM_BATCH; i++) {
            slot_new(t, &s, xm_size(&t->rng), rng_below(&t->rng, 16) == 0);
            b->obj[i] = s.p;
        }
        b->n = XM_BATCH;
        xm_push(&xm_q[((uint64_t)j + k) % (uint64_t)xm_consumers], b);
    }
    return NULL;
}

static void *xm_consumer(struct tstate *t)
{
    int c = t->id - xm_producers;
    uint64_t expect = 0;

    /* Producer j sends its k-th batch to consumer (j + k) mod C. */
    for (int j = 0; j < xm_producers; j++) {
        uint64_t first = (uint64_t)(((c - j) % xm_consumers + xm_consumers) % xm_consumers);

        if (first < xm_per_producer)
            expect += 1 + (xm_per_producer - 1 - first) / (uint64_t)xm_consumers;
    }
    while (expect--) {
        struct xm_batch *b = xm_pop(&xm_q[c]);

        for (unsigned i = 0; i < b->n; i++) {
            count_free(t, obj_check_self(b->obj[i], 8, 2048, "free"));
            free(b->obj[i]);
        }
        free(b);
    }
    return NULL;
}

static void *xmalloc_thread(void *arg)
{
    struct tstate *t = arg;

    return t->id < xm_producers ? xm_producer(t) : xm_consumer(t);
}

static void xmalloc_setup(void)
{
    if (g_threads < 2)
        fail("needs at least 2 threads (a producer and a consumer)");
    xm_producers = g_threads / 2;
    xm_consumers = g_threads - xm_producers;
    xm_per_producer = scaled(XM_OBJECTS) / XM_BATCH / (uint64_t)xm_producers;
    if (xm_per_producer == 0)
        xm_per_producer = 1;
    for (int i = 0; i < xm_consumers; i++) {
        pthread_mutex_init(&xm_q[i].mu, NULL);
        pthread_cond_init(&xm_q[i].not_empty, NULL);
        pthread_cond_init(&xm_q[i].not_full, NULL);
    }
}

/* ---- mstress ---- */

#define MS_SLOTS  4096
#define MS_PHASES 40
#define MS_XFER   256
#define MS_OPS    18000000 /* steps in all, shared among the threads */

static struct slot ms_out[2][MAX_THREADS][MS_XFER];
static uint64_t ms_per_phase;

static size_t ms_size(rng_t *r)
{
    uint32_t c = rng_below(r, 1000);
    size_t lo;

    if (c < 850)
        return 8 + rng_below(r, 121);
    if (c < 980)
        return 128 + rng_below(r, 3969);
    lo = (size_t)PAGE_STEP << rng_below(r, 6); /* 4 KiB .. 128 KiB */
    return lo + rng_below(r, (uint32_t)lo);    /* below 256 KiB */
}

static void *mstress_thread(void *arg)
{
    struct tstate *t = arg;
    int n = g_threads;
    struct slot *set = raw_calloc(MS_SLOTS, sizeof *set);

    for (int i = 0; i < MS_SLOTS; i += 2)
        slot_new(t, &set[i], ms_size(&t->rng), 0);
    for (int ph = 0; ph < MS_PHASES; ph++) {
        struct slot *out = ms_out[ph & 1][t->id], *in;

        for (uint64_t k = 0; k < ms_per_phase; k++) {
            struct slot *s = &set[rng_below(&t->rng, MS_SLOTS)];
            size_t size;

            if (s->p) {
                uint32_t c = rng_below(&t->rng, 100);

                if (c < 6) {
                    slot_realloc(t, s, ms_size(&t->rng));
                    continue;
                }
                slot_free(t, s);
                if (c < 30)
                    continue; /* the slot stays empty a while */
            }
            size = ms_size(&t->rng);
            /* calloc for some of the small ones */
            slot_new(t, s, size, rng_below(&t->rng, 16) == 0 && size <= PAGE_STEP);
        }
        /* A part of the set moves to the next thread; the buffers
         * alternate, so that one barrier a phase is enough. */
        for (int x = 0; x < MS_XFER; x++) {
            struct slot *s = &set[rng_below(&t->rng, MS_SLOTS)];

            out[x] = *s;
            s->p = NULL;
        }
        barrier();
        in = ms_out[ph & 1][(t->id + n - 1) % n];
        for (int x = 0; x < MS_XFER; x++) {
            struct slot *s;

            if (!in[x].p)
                continue;
            s = &set[rng_below(&t->rng, MS_SLOTS)];
            if (s->p)
                slot_free(t, s);
            *s = in[x];
        }
    }
    for (int i = 0; i < MS_SLOTS; i++)
        if (set[i].p)
            slot_free(t, &set[i]);
    free(set);
    return NULL;
}

static void mstress_setup(void)
{
    ms_per_phase = scaled(MS_OPS) / ((uint64_t)g_threads * MS_PHASES);
    if (ms_per_phase == 0)
        ms_per_phase = 1;
}

/* ---- rptest ---- */

#define RP_SLOTS 2048
#define RP_OPS   7000000 /* steps in all, shared among the threads */
#define RP_MIN   16
#define RP_MAX   65536
#define RP_LINK  8 /* where an object in a mailbox keeps the next one */

struct rp_mbox {
    _Alignas(64) _Atomic(void *) head;
};

static struct rp_mbox rp_box[MAX_THREADS];
static atomic_int rp_done;
static uint64_t rp_per_thread;

/* 16 << e, e geometric (2/3 to go on), and up to twice that: power-law like. */
static size_t rp_size(rng_t *r)
{
    unsigned e = 0;
    size_t lo, size;

    while (e < 12 && rng_below(r, 3) < 2)
        e++;
    lo = (size_t)RP_MIN << e;
    size = lo + rng_below(r, (uint32_t)lo);
    return size > RP_MAX ? RP_MAX : size;
}

static void rp_send(int to, void *p)
{
    struct rp_mbox *m = &rp_box[to];
    void *old = atomic_load_explicit(&m->head, memory_order_relaxed);

    do
        memcpy((char *)p + RP_LINK, &old, sizeof old);
    while (!atomic_compare_exchange_weak_explicit(&m->head, &old, p, memory_order_release,
                                                  memory_order_relaxed));
}

static void rp_drain(struct tstate *t)
{
    void *p = atomic_exchange_explicit(&rp_box[t->id].head, NULL, memory_order_acquire);

    while (p) {
        void *next;

        memcpy(&next, (char *)p + RP_LINK, sizeof next);
        count_free(t, obj_check_self(p, RP_MIN, RP_MAX, "free of a received object"));
        free(p);
        p = next;
    }
}

static void *rptest_thread(void *arg)
{
    struct tstate *t = arg;
    int n = g_threads;
    struct slot *set = raw_calloc(RP_SLOTS, sizeof *set);

    for (int i = 0; i < RP_SLOTS; i += 2)
        slot_new(t, &set[i], rp_size(&t->rng), 0);
    for (uint64_t k = 0; k < rp_per_thread; k++) {
        struct slot *s = &set[rng_below(&t->rng, RP_SLOTS)];

        if (s->p) {
            uint32_t c = rng_below(&t->rng, 64);

            if (c < 2) {
                slot_realloc(t, s, rp_size(&t->rng));
                goto next;
            }
            if (c < 18) {
                /* The receiver checks and frees it. */
                int to = n > 1 ? (t->id + 1 + (int)rng_below(&t->rng, (uint32_t)n - 1)) % n : t->id;

                obj_check(s->p, TAG_SIZE(s->tag), s->tag, "send");
                rp_send(to, s->p);
                s->p = NULL;
            } else {
                slot_free(t, s);
            }
        }
        slot_new(t, s, rp_size(&t->rng), 0);
    next:
        if ((k & 63) == 63)
            rp_drain(t);
    }
    for (int i = 0; i < RP_SLOTS; i++)
        if (set[i].p)
            slot_free(t, &set[i]);
    free(set);
    /* Nothing is sent after a thread counts itself done. */
    atomic_fetch_add_explicit(&rp_done, 1, memory_order_acq_rel);
    while (atomic_load_explicit(&rp_done, memory_order_acquire) < n) {
        rp_drain(t);
        sched_yield();
    }
    rp_drain(t);
    return NULL;
}

static void rptest_setup(void)
{
    rp_per_thread = scaled(RP_OPS) / (uint64_t)g_threads;
    if (rp_per_thread == 0)
        rp_per_thread = 1;
}

/* ---- driver ---- */

static const struct workload {
    const char *name;
    void (*setup)(void);
    void *(*thread)(void *);
} workloads[] = {
    {"larson", larson_setup, larson_thread},
    {"xmalloc", xmalloc_setup, xmalloc_thread},
    {"mstress", mstress_setup, mstress_thread},
    {"rptest", rptest_setup, rptest_thread},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: malloc-bench WORKLOAD [-t THREADS] [-s SCALE]\n"
            "  WORKLOAD  larson, xmalloc, mstress or rptest\n"
            "  -t N      threads (default 2, at most %d; xmalloc needs 2)\n"
            "  -s SCALE  times the default amount of work (default 1; the work is\n"
            "            shared among the threads)\n",
            MAX_THREADS);
}

static const char *malloc_library(void)
{
    Dl_info info;
    void *(*fn)(size_t) = malloc;
    const char *slash;

    if (!dladdr((void *)(uintptr_t)fn, &info) || !info.dli_fname)
        return "unknown";
    slash = strrchr(info.dli_fname, '/');
    return slash ? slash + 1 : info.dli_fname;
}

int main(int argc, char **argv)
{
    const struct workload *w = NULL;
    pthread_t tid[MAX_THREADS];
    struct timespec t0, t1;
    struct rusage ru;
    uint64_t alloc_sum = 0, free_sum = 0, nalloc = 0, nfree = 0, ops = 0;
    double secs;
    int rc;

    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        if (!strcmp(argv[1], workloads[i].name))
            w = &workloads[i];
    if (!w) {
        fprintf(stderr, "malloc-bench: unknown workload '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    g_workload = w->name;
    for (int i = 2; i < argc; i++) {
        char *end;

        if (!strcmp(argv[i], "-t") && i + 1 < argc) {
            long v = strtol(argv[++i], &end, 10);

            if (*end || v < 1 || v > MAX_THREADS) {
                fprintf(stderr, "malloc-bench: bad thread count '%s'\n", argv[i]);
                return 2;
            }
            g_threads = (int)v;
        } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
            double v = strtod(argv[++i], &end);

            if (*end || !(v > 0) || v > 1000) {
                fprintf(stderr, "malloc-bench: bad scale '%s'\n", argv[i]);
                return 2;
            }
            g_scale = v;
        } else {
            usage(stderr);
            return 2;
        }
    }

    w->setup();
    rc = pthread_barrier_init(&g_barrier, NULL, (unsigned)g_threads);
    if (rc)
        fail("pthread_barrier_init: error %d", rc);
    for (int i = 0; i < g_threads; i++) {
        g_ts[i].id = i;
        rng_seed(&g_ts[i].rng, ((uint64_t)(w - workloads) << 32) ^ (uint64_t)(i + 1));
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < g_threads; i++) {
        rc = pthread_create(&tid[i], NULL, w->thread, &g_ts[i]);
        if (rc)
            fail("pthread_create: error %d", rc);
    }
    for (int i = 0; i < g_threads; i++)
        pthread_join(tid[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    for (int i = 0; i < g_threads; i++) {
        alloc_sum += g_ts[i].alloc_sum;
        free_sum += g_ts[i].free_sum;
        nalloc += g_ts[i].nalloc;
        nfree += g_ts[i].nfree;
        ops += g_ts[i].ops;
    }
    if (nalloc != nfree || alloc_sum != free_sum)
        fail("%" PRIu64 " objects allocated (tags %016" PRIx64 "), %" PRIu64
             " freed (tags %016" PRIx64 ")",
             nalloc, alloc_sum, nfree, free_sum);
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("%s threads=%d seconds=%.3f cpu=%.3f checksum=%016" PRIx64 " ops=%" PRIu64
           " maxrss_kb=%ld malloc=%s\n",
           w->name, g_threads, secs, cpu, alloc_sum, ops, ru.ru_maxrss, malloc_library());
    return 0;
}
