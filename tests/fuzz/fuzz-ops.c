/*
 * tests/fuzz/fuzz-ops.c - a libFuzzer target: the input is a sequence of
 * allocator operations, run against a simple model of what must hold.
 *
 * Built from the library's own sources with the same sanitizer flags
 * (tests/fuzz/run.sh), so that coverage guides the fuzzer through lib/
 * and numa/, and ASan / UBSan see every access the allocator makes.
 *
 * Operations (one byte each, then their arguments; a short input reads
 * zeros): size-class and large allocation on any node id (valid, inactive,
 * invalid), cache allocation on three caches (one with a constructor and
 * a size that is no multiple of its alignment, one with slabs of a single
 * page), critical allocation, allocation backed by a page pool, mempool
 * alloc / preallocated / bulk / resize on a page pool, free (by the
 * matching call or by numaslab_free), free and allocation in a helper
 * thread, fault injection on and off, thread flush, cache and pool
 * destruction.
 *
 * The model, checked after every step:
 *   - no two live objects overlap (a sorted array; neighbours compared at
 *     each insertion);
 *   - every object keeps its cookie (bytes derived from its address and
 *     an id), checked at free and every VERIFY_EVERY steps;
 *   - every live object's node (numaslab_ptr_node) is an active node;
 *   - per cache and node, objects_inuse + objects_reserve == the model's
 *     live count after both threads flushed (between flushes a thread's
 *     slabs are counted as of its last slow path: no bound either way);
 *   - large_allocs per node == the model's large objects there;
 *   - every reserve and pool holds no more than its min_nr; the element
 *     pool's `out` equals the model's count;
 *   - an ordinary allocation never takes from a reserve;
 *   - failures only where the contract allows them: EINVAL for a bad id,
 *     ENODEV for an inactive node under NUMASLAB_THISNODE, ENOMEM only
 *     while fault injection is on (and, for a request a reserve backs,
 *     only once that reserve is empty).
 * At the end of each input everything is freed, both threads flush, the
 * counters must be exactly zero, reserves full, caches and pools
 * destroyed, and the bytes still mapped within what retention allows.
 *
 * A violation prints what was seen and aborts: libFuzzer keeps the input.
 * FUZZ_FILL=requested (environment) writes cookies over the requested
 * size only instead of numaslab_usable_size().
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "numaslab.h"

/* ------------------------------------------------------------------------
 * Configuration
 * ---------------------------------------------------------------------- */
#define MAXLIVE          512          /* live objects the model keeps at most */
#define VERIFY_EVERY     32           /* steps between whole cookie checks */
#define NODE_LIMIT       (256u << 20) /* never reached: failures without fault are bugs */
#define RETAIN           1
#define RETAIN_BYTES     (256u << 10) /* NUMASLAB_RETAIN_BYTES */
#define RETAIN_BYTES_STR "256K"
#define TCACHE           6
#define RESERVE          "256K" /* 4 elements of 64 KiB per node */

#define NCACHES  3
#define CA_SIZE  20 /* cache A: size 20, align 16 */
#define CA_ALIGN 16
#define CB_SIZE  200  /* cache B: constructor */
#define CC_SIZE  1000 /* cache C: NUMASLAB_SLAB_ORDER(0) */
#define CC_ALIGN 64

#define PE_ORDER 1 /* element pool: order 1, mempool ops */
#define PE_MIN   4
#define PS_ORDER 4 /* backs 64 KiB slabs (size classes, caches A and B) */
#define PS_MIN   3
#define PC_ORDER 0 /* backs cache C's one-page slabs */
#define PC_MIN   2

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz-ops: MODEL VIOLATION: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* Loops over object bytes: no coverage feedback, it would only slow the
 * fuzzer down (the library's branches are what should guide it). */
#if defined(__clang__)
#define NO_COV __attribute__((no_sanitize("coverage"), noinline))
#else
#define NO_COV
#endif

#define ENSURE(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            die(__VA_ARGS__);                                                                      \
    } while (0)

/* ------------------------------------------------------------------------
 * Input reader
 * ---------------------------------------------------------------------- */
struct input {
    const uint8_t *p;
    size_t n;
};

static unsigned get8(struct input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static unsigned get16(struct input *in)
{
    unsigned a = get8(in);
    return a | get8(in) << 8;
}

/* Sizes: two bytes v, little endian; x = v & 0x1fff by the top three bits:
 * 0-3 x % 257, 4-5 x % 2049, 6 x + 1 (up to NUMASLAB_MAX_SMALL), 7 whole
 * pages: NUMASLAB_MAX_SMALL + 1 + 16 x. */
static size_t get_size(struct input *in)
{
    unsigned v = get16(in), x = v & 0x1fff;
    switch (v >> 13) {
    case 0:
    case 1:
    case 2:
    case 3:
        return x % 257;
    case 4:
    case 5:
        return x % 2049;
    case 6:
        return (size_t)x + 1;
    default:
        return NUMASLAB_MAX_SMALL + 1 + (size_t)x * 16;
    }
}

/* ------------------------------------------------------------------------
 * Topology
 * ---------------------------------------------------------------------- */
static int max_node, possible, nactive;
static int active[1024]; /* active node ids */
static int node_table[64], nnode_table;

static int is_active(int node)
{
    return node >= 0 && node <= max_node && numaslab_node_is_active(node) == 1;
}

static int bad_id(int node)
{
    return node < -1 || node >= possible;
}

static void topology_init(void)
{
    max_node = numaslab_max_node();
    ENSURE(max_node >= 0, "numaslab_max_node: %d", max_node);
    /* The first id numaslab_node_is_active refuses: numa_num_possible_nodes(). */
    int lo = max_node, hi = 1 << 20;
    while (lo + 1 < hi) {
        int mid = lo + (hi - lo) / 2;
        if (numaslab_node_is_active(mid) == -EINVAL)
            hi = mid;
        else
            lo = mid;
    }
    possible = hi;
    for (int n = 0; n <= max_node; n++)
        if (numaslab_node_is_active(n) == 1 && nactive < 1024)
            active[nactive++] = n;
    ENSURE(nactive > 0, "no active node");

    /* Node arguments the fuzzer picks from. */
    int *t = node_table, k = 0;
    t[k++] = NUMASLAB_NODE_LOCAL;
    for (int i = 0; i < nactive && k < 40; i++)
        t[k++] = active[i];
    for (int n = 0; n <= max_node && k < 48; n++)
        if (!is_active(n))
            t[k++] = n; /* present or absent, but inactive */
    if (max_node + 1 < possible)
        t[k++] = max_node + 1; /* absent: inactive, not invalid */
    if (possible - 1 > max_node + 1)
        t[k++] = possible - 1;
    t[k++] = possible; /* invalid from here on */
    t[k++] = possible + 7;
    t[k++] = -2;
    t[k++] = INT_MAX;
    t[k++] = INT_MIN;
    nnode_table = k;
}

static int get_node(struct input *in)
{
    return node_table[get8(in) % (unsigned)nnode_table];
}

/* ------------------------------------------------------------------------
 * Caches and pools under test
 * ---------------------------------------------------------------------- */
static unsigned char ctor_image[CB_SIZE];

static void ctor_b(void *obj)
{
    memcpy(obj, ctor_image, CB_SIZE);
}

struct ucache {
    const char *name;
    size_t size, align;
    unsigned flags;
    void (*ctor)(void *);
    numaslab_cache_t *c;
};
static struct ucache ucaches[NCACHES] = {
    {"fuzz-a", CA_SIZE, CA_ALIGN, 0, NULL, NULL},
    {"fuzz-b", CB_SIZE, 0, 0, ctor_b, NULL},
    {"fuzz-c", CC_SIZE, CC_ALIGN, NUMASLAB_SLAB_ORDER(0), NULL, NULL},
};

enum { P_ELEM, P_SLAB, P_CSLAB, NPOOLS };
struct upool {
    unsigned order;
    int min_nr;
    numaslab_mempool_t *p;
};
static struct upool upools[NPOOLS] = {
    {PE_ORDER, PE_MIN, NULL},
    {PS_ORDER, PS_MIN, NULL},
    {PC_ORDER, PC_MIN, NULL},
};
static int pool_node; /* the pools' node: the first active one */
static size_t page_size;

/* Statistics slots: the three caches, then every size-class cache. */
#define MAXSLOTS (NCACHES + 64)
static numaslab_cache_t *slot_cache[MAXSLOTS];
static int nslots;
static uint8_t size_slot[NUMASLAB_MAX_SMALL + 1];
static size_t slot_slab_bytes[MAXSLOTS];

static numaslab_cache_t *slot_get(int s)
{
    return s < NCACHES ? ucaches[s].c : slot_cache[s];
}

static void caches_create(void)
{
    for (int i = 0; i < NCACHES; i++) {
        struct ucache *u = &ucaches[i];
        u->c = numaslab_cache_create(u->name, u->size, u->align, u->flags, u->ctor);
        ENSURE(u->c, "numaslab_cache_create(%s): %s", u->name, strerror(errno));
    }
}

static void pools_create(void)
{
    for (int i = 0; i < NPOOLS; i++) {
        struct upool *u = &upools[i];
        u->p = numaslab_page_pool_create(pool_node, u->order, u->min_nr);
        ENSURE(u->p, "numaslab_page_pool_create(%d, %u, %d): %s", pool_node, u->order, u->min_nr,
               strerror(errno));
    }
}

static struct numaslab_mempool_stats pool_stats(numaslab_mempool_t *p)
{
    struct numaslab_mempool_stats st;
    memset(&st, 0, sizeof(st));
    ENSURE(numaslab_mempool_stats(p, &st) == 0, "numaslab_mempool_stats failed");
    return st;
}

/* ------------------------------------------------------------------------
 * The model
 * ---------------------------------------------------------------------- */
enum kind { K_SMALL, K_LARGE, K_CACHE, K_ELEM };

struct obj {
    uintptr_t addr;
    size_t len;  /* bytes the cookie covers */
    size_t span; /* bytes that belong to the object (>= 1) */
    uint64_t id;
    int slot; /* statistics slot, -1: none */
    int node; /* numaslab_ptr_node at allocation */
    uint8_t kind;
    uint8_t ctor; /* restore the constructed state before freeing */
};

static struct obj live[MAXLIVE];
static int nlive;
static uint64_t next_id;
static long cnt[MAXSLOTS][1024 / 16]; /* per slot, per node (node ids < 64 tracked) */
static long large_cnt[64];
static long elem_cnt;
static int fault_on;
static int fill_usable = 1;
static int trace; /* FUZZ_TRACE=1: one line per step on stderr */
static unsigned long steps;

static long *slot_count(int slot, int node)
{
    static long overflow;
    return node >= 0 && node < 64 ? &cnt[slot][node] : &overflow;
}

NO_COV static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

NO_COV static void cookie_fill(const struct obj *o)
{
    unsigned char *b = (unsigned char *)o->addr;
    uint64_t s = mix64(o->addr ^ (o->id * 0x9e3779b97f4a7c15ull));
    size_t i = 0;
    for (; i + 8 <= o->len; i += 8) {
        uint64_t w = s + i;
        memcpy(b + i, &w, 8);
    }
    for (; i < o->len; i++)
        b[i] = (unsigned char)(s >> (8 * (i & 7)));
}

NO_COV static void cookie_check(const struct obj *o, const char *when)
{
    const unsigned char *b = (const unsigned char *)o->addr;
    uint64_t s = mix64(o->addr ^ (o->id * 0x9e3779b97f4a7c15ull));
    size_t i = 0;
    for (; i + 8 <= o->len; i += 8) {
        uint64_t w = s + i, v;
        memcpy(&v, b + i, 8);
        ENSURE(v == w, "%s: object %p (id %llu, %zu bytes, kind %d) lost its cookie at byte %zu",
               when, (void *)o->addr, (unsigned long long)o->id, o->len, o->kind, i);
    }
    for (; i < o->len; i++)
        ENSURE(b[i] == (unsigned char)(s >> (8 * (i & 7))),
               "%s: object %p (id %llu) lost its cookie at byte %zu", when, (void *)o->addr,
               (unsigned long long)o->id, i);
}

/* Index of the first live object with addr >= a. */
NO_COV static int live_lower(uintptr_t a)
{
    int lo = 0, hi = nlive;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (live[mid].addr < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void live_insert(const struct obj *o)
{
    int i = live_lower(o->addr);
    if (i < nlive)
        ENSURE(o->addr + o->span <= live[i].addr,
               "new object %p (+%zu, kind %d) overlaps live object %p (+%zu, kind %d, id %llu)",
               (void *)o->addr, o->span, o->kind, (void *)live[i].addr, live[i].span, live[i].kind,
               (unsigned long long)live[i].id);
    if (i > 0)
        ENSURE(live[i - 1].addr + live[i - 1].span <= o->addr,
               "new object %p (+%zu, kind %d) overlaps live object %p (+%zu, kind %d, id %llu)",
               (void *)o->addr, o->span, o->kind, (void *)live[i - 1].addr, live[i - 1].span,
               live[i - 1].kind, (unsigned long long)live[i - 1].id);
    memmove(&live[i + 1], &live[i], (size_t)(nlive - i) * sizeof(live[0]));
    live[i] = *o;
    nlive++;
    if (o->slot >= 0)
        (*slot_count(o->slot, o->node))++;
    if (o->kind == K_LARGE && o->node >= 0 && o->node < 64)
        large_cnt[o->node]++;
    if (o->kind == K_ELEM)
        elem_cnt++;
}

static struct obj live_remove(int i)
{
    struct obj o = live[i];
    memmove(&live[i], &live[i + 1], (size_t)(nlive - i - 1) * sizeof(live[0]));
    nlive--;
    if (o.slot >= 0)
        (*slot_count(o.slot, o.node))--;
    if (o.kind == K_LARGE && o.node >= 0 && o.node < 64)
        large_cnt[o.node]--;
    if (o.kind == K_ELEM)
        elem_cnt--;
    return o;
}

/* ------------------------------------------------------------------------
 * The helper thread: frees and allocations on another thread, one at a
 * time, the caller waiting for each (so a run is reproducible).
 * ---------------------------------------------------------------------- */
enum { H_IDLE, H_FREE, H_CACHE_FREE, H_POOL_FREE, H_ALLOC, H_CACHE_ALLOC, H_FLUSH };
static struct {
    pthread_mutex_t m;
    pthread_cond_t cv;
    pthread_t t;
    int cmd;
    void *ptr;
    numaslab_cache_t *c;
    numaslab_mempool_t *pool;
    size_t size;
    unsigned flags;
    int node;
    void *ret;
    int err;
} H = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static void *helper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&H.m);
    for (;;) {
        while (H.cmd == H_IDLE)
            pthread_cond_wait(&H.cv, &H.m);
        errno = 0;
        switch (H.cmd) {
        case H_FREE:
            numaslab_free(H.ptr);
            break;
        case H_CACHE_FREE:
            numaslab_cache_free(H.c, H.ptr);
            break;
        case H_POOL_FREE:
            numaslab_mempool_free(H.ptr, H.pool);
            break;
        case H_ALLOC:
            H.ret = numaslab_alloc_node(H.size, H.flags, H.node);
            break;
        case H_CACHE_ALLOC:
            H.ret = numaslab_cache_alloc_node(H.c, H.flags, H.node);
            break;
        case H_FLUSH:
            numaslab_thread_flush();
            break;
        }
        H.err = errno;
        H.cmd = H_IDLE;
        pthread_cond_broadcast(&H.cv);
    }
    return NULL;
}

static void helper_run(int cmd)
{
    pthread_mutex_lock(&H.m);
    H.cmd = cmd;
    pthread_cond_broadcast(&H.cv);
    while (H.cmd != H_IDLE)
        pthread_cond_wait(&H.cv, &H.m);
    pthread_mutex_unlock(&H.m);
}

/* Commands are set up while the helper waits: it holds nothing then. */
static void helper_set(void *ptr, numaslab_cache_t *c, numaslab_mempool_t *pool)
{
    pthread_mutex_lock(&H.m);
    H.ptr = ptr;
    H.c = c;
    H.pool = pool;
    pthread_mutex_unlock(&H.m);
}

/* ------------------------------------------------------------------------
 * Checks
 * ---------------------------------------------------------------------- */
static struct numaslab_cache_stats cache_stats(numaslab_cache_t *c, int node)
{
    struct numaslab_cache_stats st;
    memset(&st, 0, sizeof(st));
    int rc = numaslab_stats_cache(c, node, &st);
    ENSURE(rc == 0, "numaslab_stats_cache(%s, %d): %d", numaslab_cache_name(c), node, rc);
    return st;
}

static struct numaslab_node_stats node_stats(int node)
{
    struct numaslab_node_stats st;
    memset(&st, 0, sizeof(st));
    int rc = numaslab_stats_node(node, &st);
    ENSURE(rc == 0, "numaslab_stats_node(%d): %d", node, rc);
    return st;
}

static int reserve_min0[1024];

/* exact: both threads have flushed since the last allocation. */
static void check_counters(int exact, const char *when)
{
    for (int s = 0; s < nslots; s++) {
        numaslab_cache_t *c = slot_get(s);
        for (int i = 0; i < nactive; i++) {
            int n = active[i];
            struct numaslab_cache_stats st = cache_stats(c, n);
            long want = *slot_count(s, n);
            long have = (long)(st.objects_inuse + st.objects_reserve);
            if (exact)
                ENSURE(have == want,
                       "%s: cache %s node %d: objects_inuse %llu + objects_reserve %llu != %ld "
                       "live in the model (after both threads flushed)",
                       when, numaslab_cache_name(c), n, (unsigned long long)st.objects_inuse,
                       (unsigned long long)st.objects_reserve, want);

            ENSURE(st.objects_total >= st.objects_inuse + st.objects_reserve,
                   "%s: cache %s node %d: objects_total %llu < in use %llu + %llu", when,
                   numaslab_cache_name(c), n, (unsigned long long)st.objects_total,
                   (unsigned long long)st.objects_inuse, (unsigned long long)st.objects_reserve);
        }
    }
    for (int i = 0; i < nactive; i++) {
        int n = active[i];
        struct numaslab_node_stats st = node_stats(n);
        ENSURE(st.active == 1, "%s: node %d is no longer active", when, n);
        ENSURE(st.reserve_cur >= 0 && st.reserve_cur <= st.reserve_min,
               "%s: node %d reserve holds %d elements, min_nr %d", when, n, st.reserve_cur,
               st.reserve_min);
        ENSURE(st.reserve_min == reserve_min0[i], "%s: node %d reserve min_nr changed: %d -> %d",
               when, n, reserve_min0[i], st.reserve_min);
        if (n < 64)
            ENSURE((long)st.large_allocs == large_cnt[n],
                   "%s: node %d: large_allocs %llu, the model has %ld", when, n,
                   (unsigned long long)st.large_allocs, large_cnt[n]);
    }
    for (int i = 0; i < NPOOLS; i++) {
        struct numaslab_mempool_stats ps = pool_stats(upools[i].p);
        ENSURE(ps.curr_nr >= 0 && ps.curr_nr <= ps.min_nr,
               "%s: pool %d holds %d elements, min_nr %d", when, i, ps.curr_nr, ps.min_nr);
        ENSURE(ps.out >= 0, "%s: pool %d: out %ld", when, i, ps.out);
        if (i == P_ELEM)
            ENSURE(ps.out == elem_cnt, "%s: element pool: out %ld, the model has %ld", when, ps.out,
                   elem_cnt);
        if (exact && i != P_ELEM)
            ENSURE(ps.out == 0 || nlive > 0, "%s: pool %d: out %ld with nothing live", when, i,
                   ps.out);
    }
}

static void check_object(const struct obj *o, const char *when)
{
    int n = numaslab_ptr_node((void *)o->addr);
    if (o->kind == K_ELEM)
        ENSURE(n == -EINVAL || n == pool_node, "%s: pool element %p: numaslab_ptr_node %d", when,
               (void *)o->addr, n);
    else
        ENSURE(is_active(n) && n == o->node,
               "%s: object %p (kind %d): numaslab_ptr_node %d, was %d at allocation", when,
               (void *)o->addr, o->kind, n, o->node);
    cookie_check(o, when);
}

static void verify_all(const char *when)
{
    for (int i = 0; i < nlive; i++)
        check_object(&live[i], when);
}

static int reserve_cur_sum(void)
{
    int sum = 0;
    for (int i = 0; i < nactive; i++)
        sum += node_stats(active[i]).reserve_cur;
    return sum;
}

/* The reserve that backs a request for node: that node's, or for the
 * local node (-1 and inactive ids) the emptiest one, as the thread that
 * asked may have run on any node. */
static int reserve_cur_of(int node)
{
    if (is_active(node))
        return node_stats(node).reserve_cur;
    int least = INT_MAX;
    for (int i = 0; i < nactive; i++) {
        int cur = node_stats(active[i]).reserve_cur;
        least = cur < least ? cur : least;
    }
    return least;
}

/* ------------------------------------------------------------------------
 * Allocation outcomes
 * ---------------------------------------------------------------------- */
enum { CALL_PLAIN, CALL_NODE, CALL_MEMPOOL };
enum { B_NONE = -1, B_NODE_RESERVE = -2, B_UNBACKED = -3 };

struct req {
    int kind; /* K_SMALL (size; large above MAX_SMALL), K_CACHE */
    size_t size;
    int cache; /* K_CACHE: index into ucaches */
    unsigned flags;
    int node;    /* NUMASLAB_NODE_LOCAL or any id */
    int call;    /* numaslab_[cache_]alloc, ..._node, ..._node_mempool */
    int pool;    /* CALL_MEMPOOL: index into upools, -1 for NULL */
    int backing; /* what may back it under fault injection: a pool index,
                    B_NODE_RESERVE, B_UNBACKED, or B_NONE (ordinary) */
    int remote;  /* allocated by the helper thread */
};

static size_t req_size(const struct req *r)
{
    return r->kind == K_CACHE ? ucaches[r->cache].size : r->size;
}

static int req_large(const struct req *r)
{
    return r->kind == K_SMALL && r->size > NUMASLAB_MAX_SMALL;
}

/* What backs a critical or pool request (rule 5 of FALLBACK in numaslab(7)): a pool whose
 * elements are pages of the cache's slab size, else nothing. */
static int req_backing(const struct req *r)
{
    if (r->call != CALL_MEMPOOL && !(r->flags & NUMASLAB_CRITICAL))
        return B_NONE;
    if (req_large(r))
        return B_UNBACKED;                              /* whole pages never come from a reserve */
    int one_page = r->kind == K_CACHE && r->cache == 2; /* cache C: 4 KiB slabs */
    if (r->call != CALL_MEMPOOL || r->pool < 0)
        return one_page ? B_UNBACKED : B_NODE_RESERVE; /* node reserve: 64 KiB elements */
    if (r->pool == P_SLAB)
        return one_page ? B_UNBACKED : P_SLAB;
    if (r->pool == P_CSLAB)
        return one_page ? P_CSLAB : B_UNBACKED;
    return B_UNBACKED;
}

/* The first byte of p[0..n) not zero, looking every step bytes; n if none. */
NO_COV static size_t nonzero(const void *p, size_t n, size_t step)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i += step)
        if (b[i])
            return i;
    return n;
}

/* p came back (or not, err) from the request r: judge it, then enter it
 * in the model.  Returns 1 when an object was added. */
static int judge(const struct req *r, void *p, int err)
{
    int large = req_large(r);
    const char *what = r->kind == K_CACHE ? ucaches[r->cache].name : large ? "large" : "size-class";

    if (trace)
        fprintf(stderr,
                "  %s %s size %zu call %d flags 0x%x node %d pool %d backing %d: %p "
                "errno %d\n",
                r->remote ? "remote" : "local", what, req_size(r), r->call, r->flags, r->node,
                r->pool, r->backing, p, p ? 0 : err);

    if (bad_id(r->node)) {
        ENSURE(!p && err == EINVAL,
               "%s allocation on invalid node %d: %p, errno %d (want NULL, "
               "EINVAL)",
               what, r->node, p, err);
        return 0;
    }
    if (!is_active(r->node) && r->node != NUMASLAB_NODE_LOCAL && (r->flags & NUMASLAB_THISNODE)) {
        ENSURE(!p && err == ENODEV,
               "%s allocation on inactive node %d with THISNODE: %p, "
               "errno %d (want NULL, ENODEV)",
               what, r->node, p, err);
        return 0;
    }
    if (!p) {
        ENSURE(err == ENOMEM,
               "%s allocation (size %zu, node %d, flags 0x%x) failed with errno "
               "%d, not ENOMEM",
               what, req_size(r), r->node, r->flags, err);
        ENSURE(fault_on,
               "%s allocation (size %zu, node %d, flags 0x%x) failed while fault "
               "injection is off",
               what, req_size(r), r->node, r->flags);
        if (r->backing == B_NODE_RESERVE)
            ENSURE(reserve_cur_of(r->node) == 0,
                   "%s allocation (size %zu, node %d, flags 0x%x) "
                   "that the node reserve backs failed while it still holds %d elements",
                   what, req_size(r), r->node, r->flags, reserve_cur_of(r->node));
        else if (r->backing >= 0) {
            int cur = pool_stats(upools[r->backing].p).curr_nr;
            ENSURE(cur == 0,
                   "%s allocation backed by pool %d (size %zu, node %d) failed while "
                   "the pool still holds %d elements",
                   what, r->backing, req_size(r), r->node, cur);
        }
        return 0;
    }

    struct obj o;
    memset(&o, 0, sizeof(o));
    o.addr = (uintptr_t)p;
    o.id = ++next_id;
    o.node = numaslab_ptr_node(p);
    ENSURE(is_active(o.node), "%s object %p: numaslab_ptr_node %d is not an active node", what, p,
           o.node);
    if (is_active(r->node) && (r->flags & NUMASLAB_THISNODE))
        ENSURE(o.node == r->node, "%s object %p: on node %d, THISNODE asked for %d", what, p,
               o.node, r->node);
    if (is_active(r->node) && !fault_on)
        ENSURE(o.node == r->node,
               "%s object %p: on node %d, node %d was asked for and nothing "
               "was exhausted",
               what, p, o.node, r->node);
    size_t usable = numaslab_usable_size(p), want = req_size(r);
    ENSURE(usable >= want, "%s object %p: usable size %zu < %zu asked for", what, p, usable, want);

    if (r->kind == K_CACHE) {
        const struct ucache *u = &ucaches[r->cache];
        size_t align = u->align ? u->align : (u->size <= 8 ? 8 : 16);
        ENSURE(o.addr % align == 0, "%s object %p is not aligned to %zu", what, p, align);
        o.kind = K_CACHE;
        o.slot = r->cache;
        o.ctor = u->ctor != NULL;
        if (u->ctor && !(r->flags & NUMASLAB_ZERO))
            ENSURE(!memcmp(p, ctor_image, CB_SIZE),
                   "%s object %p is not in its constructed state when handed out", what, p);
    } else if (large) {
        ENSURE(o.addr % page_size == 0, "large object %p is not page aligned", p);
        o.kind = K_LARGE;
        o.slot = -1;
        /* Not zero unless asked: a run the page layer recycled keeps what
         * its last owner wrote (numaslab(7), LARGE OBJECTS AND THE PAGE
         * CACHE); NUMASLAB_ZERO is checked below for every kind. */
    } else {
        ENSURE(o.addr % (want <= 8 ? 8 : 16) == 0,
               "size-class object %p (size %zu) is "
               "misaligned",
               p, want);
        o.kind = K_SMALL;
        o.slot = size_slot[want];
    }
    if (r->flags & NUMASLAB_ZERO) {
        size_t i = nonzero(p, want, 1);
        ENSURE(i == want, "%s object %p (ZERO): byte %zu of %zu is 0x%02x", what, p, i, want,
               ((unsigned char *)p)[i]);
    }
    o.len = large ? want : fill_usable ? usable : want;
    o.span = usable ? usable : 1;
    ENSURE(nlive < MAXLIVE, "model full");
    live_insert(&o);
    cookie_fill(&o);
    return 1;
}

/* Run the request on this thread or the helper, judge it. */
static int do_alloc(struct req *r)
{
    void *p;
    int err;
    numaslab_cache_t *c = r->kind == K_CACHE ? ucaches[r->cache].c : NULL;
    numaslab_cache_t *sc = c ? c : req_large(r) ? NULL : slot_get(size_slot[r->size]);
    numaslab_mempool_t *pool = r->call == CALL_MEMPOOL && r->pool >= 0 ? upools[r->pool].p : NULL;
    uint64_t res_before = 0;
    int resv_before = 0;

    if (nlive >= MAXLIVE)
        return 0;
    if (r->remote && r->call == CALL_MEMPOOL)
        r->call = CALL_NODE;
    r->backing = req_backing(r);
    if (r->backing == B_NONE) {
        resv_before = reserve_cur_sum();
        for (int i = 0; sc && i < nactive; i++)
            res_before += cache_stats(sc, active[i]).objects_reserve;
    }
    if (r->remote) {
        pthread_mutex_lock(&H.m);
        H.c = c;
        H.size = r->size;
        H.flags = r->flags;
        H.node = r->node;
        pthread_mutex_unlock(&H.m);
        helper_run(c ? H_CACHE_ALLOC : H_ALLOC);
        pthread_mutex_lock(&H.m);
        p = H.ret;
        err = H.err;
        pthread_mutex_unlock(&H.m);
    } else {
        errno = 0;
        switch (r->call) {
        case CALL_MEMPOOL:
            p = c ? numaslab_cache_alloc_node_mempool(c, r->flags, r->node, pool)
                  : numaslab_alloc_node_mempool(r->size, r->flags, r->node, pool);
            break;
        case CALL_PLAIN:
            p = c ? numaslab_cache_alloc(c, r->flags) : numaslab_alloc(r->size, r->flags);
            break;
        default:
            p = c ? numaslab_cache_alloc_node(c, r->flags, r->node)
                  : numaslab_alloc_node(r->size, r->flags, r->node);
            break;
        }
        err = errno;
    }
    if (r->backing == B_NONE) {
        uint64_t res_after = 0;
        for (int i = 0; sc && i < nactive; i++)
            res_after += cache_stats(sc, active[i]).objects_reserve;
        ENSURE(res_after == res_before,
               "an ordinary allocation (size %zu, node %d) took an "
               "object of a reserve slab: objects_reserve %llu -> %llu",
               req_size(r), r->node, (unsigned long long)res_before, (unsigned long long)res_after);
        ENSURE(reserve_cur_sum() == resv_before,
               "an ordinary allocation (size %zu, node %d) "
               "changed the node reserves: %d -> %d elements",
               req_size(r), r->node, resv_before, reserve_cur_sum());
    }
    return judge(r, p, err);
}

/* ------------------------------------------------------------------------
 * Frees
 * ---------------------------------------------------------------------- */
static void free_obj(int i, unsigned how, int remote)
{
    struct obj o = live_remove(i);
    check_object(&o, "free");
    if (o.ctor)
        memcpy((void *)o.addr, ctor_image, CB_SIZE); /* back in its constructed state */
    void *p = (void *)o.addr;
    if (o.kind == K_ELEM) {
        if (remote) {
            helper_set(p, NULL, upools[P_ELEM].p);
            helper_run(H_POOL_FREE);
        } else {
            numaslab_mempool_free(p, upools[P_ELEM].p);
        }
        return;
    }
    int by_cache = o.kind == K_CACHE && (how & 1);
    if (remote) {
        helper_set(p, by_cache ? ucaches[o.slot].c : NULL, NULL);
        helper_run(by_cache ? H_CACHE_FREE : H_FREE);
    } else if (by_cache) {
        numaslab_cache_free(ucaches[o.slot].c, p);
    } else {
        numaslab_free(p);
    }
}

/* A thread's frees of the other's objects are published by its flush and
 * collected by the owner's next one (numaslab(7), "Thread-owned slabs"):
 * the thread that flushed first flushes again. */
static void flush_both(void)
{
    numaslab_thread_flush();
    helper_run(H_FLUSH);
    numaslab_thread_flush();
}

/* ------------------------------------------------------------------------
 * Operations
 * ---------------------------------------------------------------------- */
enum {
    OP_ALLOC,        /* target, flags: numaslab_alloc / numaslab_cache_alloc */
    OP_ALLOC_NODE,   /* target, flags, node: ..._alloc_node */
    OP_CRITICAL,     /* target, flags, node: ..._alloc_node with NUMASLAB_CRITICAL */
    OP_POOL_BACKED,  /* target, flags, node, pool: ..._alloc_node_mempool */
    OP_ALLOC_REMOTE, /* target, flags, node: ..._alloc_node on the helper thread */
    OP_BURST,        /* count, call, target, flags, [node, [pool]], remote: many at once */
    OP_ELEM,         /* variant: mempool alloc / preallocated / bulk on the element pool */
    OP_RESIZE,       /* min_nr: numaslab_mempool_resize of the element pool */
    OP_FREE,         /* index, how: free one object on this thread */
    OP_FREE_REMOTE,  /* index, how: free one object on the helper thread */
    OP_FREE_MANY,    /* stride, how: free every stride-th object */
    OP_FAULT,        /* setting: fault injection off or one of seven settings */
    OP_FLUSH,        /* which: this thread, the helper, both (then exact counters) */
    OP_VERIFY,       /* every cookie and node */
    OP_DESTROY,      /* which: a cache or the element pool (-EBUSY while in use) */
    NOPS
};

static unsigned get_flags(struct input *in)
{
    unsigned f = get8(in), flags = NUMASLAB_NOWARN;
    if (f & 1)
        flags |= NUMASLAB_ZERO;
    if (f & 2)
        flags |= NUMASLAB_THISNODE;
    return flags;
}

static void op_fault(struct input *in)
{
    static const char *const specs[] = {NULL,
                                        "after=0",
                                        "after=1",
                                        "after=3",
                                        "prob=0.5,seed=7",
                                        "prob=0.9,seed=3",
                                        "after=0,node=0",
                                        "after=2,node=1"};
    unsigned k = get8(in) % (sizeof(specs) / sizeof(specs[0]));
    int rc = numaslab_fail_pages(specs[k]);
    ENSURE(rc == 0, "numaslab_fail_pages(\"%s\"): %d", specs[k] ? specs[k] : "(null)", rc);
    fault_on = specs[k] != NULL;
}

static void op_elem(struct input *in)
{
    numaslab_mempool_t *pe = upools[P_ELEM].p;
    unsigned v = get8(in);
    struct numaslab_mempool_stats before = pool_stats(pe);
    void *got[8];
    int n = 0;
    switch (v % 3) {
    case 0: {
        errno = 0;
        void *p = numaslab_mempool_alloc(pe, 0);
        if (!p)
            ENSURE(errno == ENOMEM && fault_on && pool_stats(pe).curr_nr == 0,
                   "numaslab_mempool_alloc failed (errno %d, fault %d, %d held)", errno, fault_on,
                   pool_stats(pe).curr_nr);
        else
            got[n++] = p;
        break;
    }
    case 1: {
        void *p = numaslab_mempool_alloc_preallocated(pe);
        ENSURE(!!p == (before.curr_nr > 0),
               "numaslab_mempool_alloc_preallocated: %p with %d "
               "held",
               p, before.curr_nr);
        if (p)
            got[n++] = p;
        break;
    }
    default: {
        int k = (int)(v >> 2) % 6;
        int rc = numaslab_mempool_alloc_bulk(pe, got, k);
        ENSURE(rc == (before.curr_nr >= k ? 0 : -ENOMEM),
               "numaslab_mempool_alloc_bulk(%d) "
               "with %d held: %d",
               k, before.curr_nr, rc);
        if (rc == 0) {
            n = k;
            ENSURE(pool_stats(pe).curr_nr == before.curr_nr - k, "bulk took %d: %d -> %d held", k,
                   before.curr_nr, pool_stats(pe).curr_nr);
        }
        break;
    }
    }
    for (int i = 0; i < n; i++) {
        if (nlive >= MAXLIVE) {
            numaslab_mempool_free(got[i], pe);
            continue;
        }
        struct obj o;
        memset(&o, 0, sizeof(o));
        o.addr = (uintptr_t)got[i];
        o.id = ++next_id;
        o.kind = K_ELEM;
        o.slot = -1;
        o.node = pool_node;
        o.len = o.span = page_size << upools[P_ELEM].order;
        ENSURE(o.addr % page_size == 0, "pool element %p is not page aligned", got[i]);
        live_insert(&o);
        cookie_fill(&o);
    }
}

static void op_resize(struct input *in)
{
    numaslab_mempool_t *pe = upools[P_ELEM].p;
    int n = (int)(get8(in) % 9);
    int rc = numaslab_mempool_resize(pe, n);
    ENSURE(rc == 0, "numaslab_mempool_resize(%d): %d", n, rc);
    struct numaslab_mempool_stats st = pool_stats(pe);
    /* Filling a reserve is not ordinary allocation: fault injection leaves it alone. */
    ENSURE(st.min_nr == n && st.curr_nr == n,
           "after numaslab_mempool_resize(%d): min_nr %d, "
           "%d held",
           n, st.min_nr, st.curr_nr);
    int rc2 = numaslab_mempool_resize(pe, -1);
    ENSURE(rc2 == -EINVAL, "numaslab_mempool_resize(-1): %d", rc2);
}

static void op_destroy(struct input *in)
{
    unsigned v = get8(in) % (NCACHES + 1);
    if (v == NCACHES) {
        int rc = numaslab_mempool_destroy(upools[P_ELEM].p);
        if (elem_cnt) {
            ENSURE(rc == -EBUSY, "numaslab_mempool_destroy with %ld out: %d", elem_cnt, rc);
            return;
        }
        ENSURE(rc == 0, "numaslab_mempool_destroy with nothing out: %d", rc);
        upools[P_ELEM].p =
            numaslab_page_pool_create(pool_node, upools[P_ELEM].order, upools[P_ELEM].min_nr);
        ENSURE(upools[P_ELEM].p, "numaslab_page_pool_create: %s", strerror(errno));
        return;
    }
    long n = 0;
    for (int i = 0; i < nlive; i++)
        n += live[i].kind == K_CACHE && live[i].slot == (int)v;
    int rc = numaslab_cache_destroy(ucaches[v].c);
    if (n) {
        ENSURE(rc == -EBUSY, "numaslab_cache_destroy(%s) with %ld live: %d", ucaches[v].name, n,
               rc);
        return;
    }
    ENSURE(rc == 0, "numaslab_cache_destroy(%s) with nothing live: %d", ucaches[v].name, rc);
    struct ucache *u = &ucaches[v];
    u->c = numaslab_cache_create(u->name, u->size, u->align, u->flags, u->ctor);
    ENSURE(u->c, "numaslab_cache_create(%s): %s", u->name, strerror(errno));
}

static void get_target(struct input *in, struct req *r)
{
    unsigned k = get8(in);
    if (k & 1) {
        r->kind = K_CACHE;
        r->cache = (int)((k >> 1) % NCACHES);
    } else {
        r->kind = K_SMALL;
        r->size = get_size(in);
    }
}

/* One allocation request: what (size or cache), how (call, flags), where. */
static void get_request(struct input *in, struct req *r, int call)
{
    get_target(in, r);
    r->call = call;
    r->flags = get_flags(in);
    if (call == CALL_PLAIN)
        r->flags &= ~NUMASLAB_THISNODE;
    else
        r->node = get_node(in);
    if (call == CALL_MEMPOOL) {
        unsigned w = get8(in);
        r->pool = (int)(w % 4) - 1; /* -1: NULL, the node reserve */
        if (w & 4)
            r->flags |= NUMASLAB_CRITICAL;
    }
}

static void step(struct input *in)
{
    struct req r;
    memset(&r, 0, sizeof(r));
    r.node = NUMASLAB_NODE_LOCAL;
    r.pool = -1;
    unsigned op = get8(in) % NOPS;
    if (trace) {
        static const char *const names[NOPS] = {
            "alloc",     "alloc_node", "critical", "pool_backed", "alloc_remote",
            "burst",     "elem",       "resize",   "free",        "free_remote",
            "free_many", "fault",      "flush",    "verify",      "destroy"};
        fprintf(stderr, "step %lu: %s (%d live, fault %s)\n", steps, names[op], nlive,
                fault_on ? "on" : "off");
    }
    switch (op) {
    case OP_ALLOC:
        get_request(in, &r, CALL_PLAIN);
        do_alloc(&r);
        break;
    case OP_ALLOC_NODE:
        get_request(in, &r, CALL_NODE);
        do_alloc(&r);
        break;
    case OP_CRITICAL:
        get_request(in, &r, CALL_NODE);
        r.flags |= NUMASLAB_CRITICAL;
        do_alloc(&r);
        break;
    case OP_POOL_BACKED:
        get_request(in, &r, CALL_MEMPOOL);
        do_alloc(&r);
        break;
    case OP_ALLOC_REMOTE:
        get_request(in, &r, CALL_NODE);
        r.remote = 1;
        do_alloc(&r);
        break;
    case OP_BURST: {
        unsigned n = get8(in) % 64 + 1;
        get_request(in, &r, (int)(get8(in) % 3));
        r.remote = (int)(get8(in) & 1);
        for (unsigned k = 0; k < n && nlive < MAXLIVE; k++)
            do_alloc(&r);
        break;
    }
    case OP_ELEM:
        op_elem(in);
        break;
    case OP_RESIZE:
        op_resize(in);
        break;
    case OP_FREE:
    case OP_FREE_REMOTE: {
        unsigned i = get16(in), how = get8(in);
        if (nlive)
            free_obj((int)(i % (unsigned)nlive), how, op == OP_FREE_REMOTE);
        break;
    }
    case OP_FREE_MANY: {
        unsigned stride = get8(in) % 4 + 1, how = get8(in);
        for (int i = nlive - 1; i >= 0; i -= (int)stride, how++)
            free_obj(i, how, (how & 2) != 0);
        break;
    }
    case OP_FAULT:
        op_fault(in);
        break;
    case OP_FLUSH: {
        unsigned w = get8(in) % 3;
        if (w == 0)
            numaslab_thread_flush();
        else if (w == 1)
            helper_run(H_FLUSH);
        else {
            flush_both();
            check_counters(1, "after both threads flushed");
        }
        break;
    }
    case OP_VERIFY:
        verify_all("verify");
        break;
    case OP_DESTROY:
        op_destroy(in);
        break;
    }
    steps++;
    check_counters(0, "step");
    if (steps % VERIFY_EVERY == 0)
        verify_all("periodic check");
}

/* ------------------------------------------------------------------------
 * Per input: set up, run, take everything down and check the books.
 * ---------------------------------------------------------------------- */
static uint64_t retained_allowance(void)
{
    uint64_t a = 0;
    for (int s = NCACHES; s < nslots; s++)
        a += (uint64_t)RETAIN * slot_slab_bytes[s] * (uint64_t)nactive;
    for (int i = 0; i < nactive; i++)
        a += (uint64_t)node_stats(active[i]).reserve_min * 65536u;
    a += (uint64_t)RETAIN_BYTES * (uint64_t)nactive; /* each node's page cache */
    /* The internal cache of large objects' headers retains its empty
     * slabs as every cache does: one slab of 64 KiB per node. */
    a += (uint64_t)RETAIN * 65536u * (uint64_t)nactive;
    return a;
}

static void end_of_input(void)
{
    int rc = numaslab_fail_pages(NULL);
    ENSURE(rc == 0, "numaslab_fail_pages(NULL): %d", rc);
    fault_on = 0;
    verify_all("end of input");
    for (unsigned k = 0; nlive; k++)
        free_obj(nlive - 1, k, k % 3 == 0);
    flush_both();
    check_counters(1, "end of input");
    for (int i = 0; i < nactive; i++) {
        struct numaslab_node_stats st = node_stats(active[i]);
        ENSURE(st.reserve_cur == st.reserve_min,
               "end of input: node %d reserve holds %d of %d "
               "with nothing live",
               active[i], st.reserve_cur, st.reserve_min);
    }
    for (int i = 0; i < NPOOLS; i++) {
        struct numaslab_mempool_stats ps = pool_stats(upools[i].p);
        ENSURE(ps.out == 0, "end of input: pool %d: out %ld with nothing live", i, ps.out);
        if (i != P_ELEM)
            ENSURE(ps.curr_nr == ps.min_nr, "end of input: pool %d holds %d of %d", i, ps.curr_nr,
                   ps.min_nr);
        rc = numaslab_mempool_destroy(upools[i].p);
        ENSURE(rc == 0, "end of input: numaslab_mempool_destroy(pool %d): %d", i, rc);
        upools[i].p = NULL;
    }
    for (int i = 0; i < NCACHES; i++) {
        rc = numaslab_cache_destroy(ucaches[i].c);
        ENSURE(rc == 0, "end of input: numaslab_cache_destroy(%s): %d", ucaches[i].name, rc);
        ucaches[i].c = NULL;
    }
    uint64_t mapped = numaslab_bytes_mapped(), allowed = retained_allowance();
    ENSURE(mapped <= allowed,
           "end of input: %llu bytes still mapped, reserves and retained "
           "empty slabs allow %llu",
           (unsigned long long)mapped, (unsigned long long)allowed);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("NUMASLAB_STATS", "0", 1);
    setenv("NUMASLAB_ABORT", "1", 1); /* a refused free of a valid object is a bug */
    const char *f = getenv("FUZZ_FILL");
    trace = getenv("FUZZ_TRACE") != NULL;
    fill_usable = !(f && !strcmp(f, "requested"));
    struct numaslab_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.reserve = RESERVE;
    cfg.node_limit = NODE_LIMIT;
    cfg.retain = RETAIN;
    cfg.tcache = TCACHE;
    /* A chunk cache of four slabs: it fills, overflows and is reused. */
    setenv("NUMASLAB_RETAIN_BYTES", RETAIN_BYTES_STR, 1);
    int rc = numaslab_init(&cfg);
    ENSURE(rc == 0, "numaslab_init: %d", rc);
    topology_init();
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    pool_node = active[0];
    for (size_t i = 0; i < CB_SIZE; i++)
        ctor_image[i] = (unsigned char)(i * 7 + 3);
    for (int i = 0; i < nactive; i++)
        reserve_min0[i] = node_stats(active[i]).reserve_min;

    /* Statistics slots of the size classes. */
    nslots = NCACHES;
    for (size_t s = 0; s <= NUMASLAB_MAX_SMALL; s++) {
        numaslab_cache_t *c = numaslab_size_cache(s);
        ENSURE(c, "numaslab_size_cache(%zu) is NULL", s);
        int k;
        for (k = NCACHES; k < nslots; k++)
            if (slot_cache[k] == c)
                break;
        if (k == nslots) {
            ENSURE(nslots < MAXSLOTS, "too many size classes");
            slot_cache[nslots++] = c;
        }
        size_slot[s] = (uint8_t)k;
    }
    for (int s = NCACHES; s < nslots; s++) {
        slot_slab_bytes[s] = cache_stats(slot_cache[s], active[0]).slab_bytes;
    }
    ENSURE(pthread_create(&H.t, NULL, helper_main, NULL) == 0, "pthread_create");
    fprintf(stderr,
            "fuzz-ops: %d active node(s), max node %d, node ids below %d; %d size "
            "classes; cookies over the %s size\n",
            nactive, max_node, possible, nslots - NCACHES, fill_usable ? "usable" : "requested");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    caches_create();
    pools_create();
    check_counters(1, "start of input");
    while (in.n)
        step(&in);
    end_of_input();
    return 0;
}
