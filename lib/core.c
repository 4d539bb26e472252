/*
 * lib/core.c - initialisation and teardown, thread states, node
 * resolution (rules 1-3 of FALLBACK in numaslab(7)), the topology calls.
 *
 * Locks: nslab_g.lock (rank NSLAB_RANK_GLOBAL, the outermost; lib/lock.h)
 * protects initialisation,
 * teardown, the cache list and the thread list.  nslab_g.ready is written
 * under it and read without it (acquire, pairing with the release store at
 * the end of init_locked).
 */
#include "lib/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct nslab_global nslab_g = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .caches = {&nslab_g.caches, &nslab_g.caches},
    .threads = {&nslab_g.threads, &nslab_g.threads},
};

/* Every thread starts on this state: no array caches, so every fast path
 * misses and the slow path gives the thread a state of its own. */
struct nslab_tstate nslab_empty_ts = {.cc = {[0 ... NSLAB_MAX_CACHES] = &nslab_no_tc},
                                      .lslot = {[0 ... NSLAB_MAX_CACHES] = &nslab_no_tc.slot[0]}};
__thread struct nslab_thread_vars nslab_tv
    __attribute__((tls_model("initial-exec"))) = {.ts = &nslab_empty_ts, .dts = &nslab_empty_ts};
uintptr_t nslab_cookie = 1;

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* One line on stderr, whole even when threads report at once. */
static void vreport(const char *fmt, va_list ap)
{
    flockfile(stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}

void nslab__report(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
}

void nslab__bad_free(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    nslab__init(); /* the options decide; a foreign free may come first */
    if (nslab_g.opt.abort_on_bad_free) {
        nslab__report("numaslab: NUMASLAB_ABORT is on: aborting");
        abort();
    }
}

/* A debug build's verdict on a corrupted object: say what, where, stop. */
void nslab__debug_die(const char *what, const char *call, const void *obj, const char *cache)
{
    nslab__report("numaslab: %s: object %p of cache %s %s; aborting", call, obj, cache, what);
    abort();
}

/* ------------------------------------------------------------------------
 * Threads
 * ---------------------------------------------------------------------- */

/* Give back every slab ts owns and its cached large objects, and free its
 * caches' state.  nslab_g.lock held. */
void nslab__tstate_drain(struct nslab_tstate *ts)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    nslab__large_cache_flush(ts); /* first: its headers go straight to their slabs */
    free(ts->tlc);
    ts->tlc = NULL;
    for (int id = 0; id < NSLAB_MAX_CACHES; id++) {
        if (!nslab__tc(ts, id))
            continue;
        if (nslab_g.by_id[id])
            nslab__thread_cache_flush(nslab_g.by_id[id], ts, 0);
    }
    nslab__pub_dirty(ts); /* before its caches' state goes */
    for (int id = 0; id < NSLAB_MAX_CACHES; id++)
        nslab__tc_free(ts, id);
}

/* pthread key destructor: the exiting thread's objects go home. */
static void tstate_exit(void *p)
{
    struct nslab_tstate *ts = p;
    /* For good: what this thread's later destructors allocate is not
     * numaslab's (lib/malloc.c), so nothing is left owned by a thread
     * that is gone. */
    nslab_busy = 1;
    nslab_dts = &nslab_empty_ts;
    nslab_exited = 1; /* no new state for it: its later frees go straight to their slabs */
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    nslab__tstate_drain(ts);
    nslab_list_del(&ts->link);
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    nslab_tls = &nslab_empty_ts;
    free(ts);
}

/* The local node, and its slot's offset in a thread cache (the fast
 * path's, nslab__own_pop_local). */
static void set_local(struct nslab_tstate *ts, int nidx)
{
    if (ts->cached_nidx == nidx)
        return;
    ts->cached_nidx = nidx;
    for (uint32_t id = 0; id < NSLAB_MAX_CACHES; id++)
        if (ts->cc[id] != &nslab_no_tc)
            ts->lslot[id] = &ts->cc[id]->slot[nidx];
}

struct nslab_tstate *nslab__tstate(void)
{
    struct nslab_tstate *ts = nslab_tls;
    if (ts == &nslab_empty_ts) {
        ts = nslab__calloc_lines(sizeof(*ts));
        if (!ts)
            return NULL;
        for (uint32_t id = 0; id <= NSLAB_MAX_CACHES; id++)
            nslab__tc_set(ts, id, &nslab_no_tc);
        nslab_list_init(&ts->link);
        nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
        nslab_list_add(&nslab_g.threads, &ts->link);
        ts->registered = 1;
        nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
        pthread_setspecific(nslab_g.key, ts);
        nslab_tls = ts;
        if (!nslab_busy)
            nslab_dts = ts;
        ts->gen = nslab_g.gen - 1; /* forces the refresh below */
    }
    if (ts->gen != nslab_g.gen) {
        ts->gen = nslab_g.gen;
        ts->ipos = 0;
        set_local(ts, 0);
        nslab__refresh_local(ts);
    }
    return ts;
}

void numaslab_thread_flush(void)
{
    struct nslab_tstate *ts = nslab_tls;
    if (ts == &nslab_empty_ts)
        return;
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    nslab__large_cache_flush(ts);
    for (int id = 0; id < NSLAB_MAX_CACHES; id++)
        if (nslab__tc(ts, id) && nslab_g.by_id[id]) {
            nslab__thread_cache_flush(nslab_g.by_id[id], ts, 1);
            /* Frees that reached slabs after their owners gave them
             * back: a few of the full ones (oldest first) each time. */
            nslab__cache_sweep_some(nslab_g.by_id[id], 8);
        }
    nslab__pub_dirty(ts);
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
}

/* ------------------------------------------------------------------------
 * Local node and node resolution
 * ---------------------------------------------------------------------- */

/* Re-read the CPU the thread runs on: the fallback when the rseq CPU
 * number is not readable, so the local node is right at every slow path. */
void nslab__refresh_local(struct nslab_tstate *ts)
{
    if (!nslab_g.ready || nslab_g.topo.policy == NSLAB_POL_INTERLEAVE)
        return;
    int cpu = nslab__cpu_current();
    if (cpu >= 0 && cpu < nslab_g.topo.ncpu)
        set_local(ts, nslab_g.cpu_nidx[cpu]);
}

/* The local node's nidx on a slow path.  Under an interleave policy every
 * call with rotate set moves the thread to the next node of the set, so
 * local-node slabs spread round-robin, a refill at a time. */
int nslab__local_nidx_slow(struct nslab_tstate *ts, int rotate)
{
    const struct nslab_topo *t = &nslab_g.topo;
    if (t->policy == NSLAB_POL_INTERLEAVE && t->nlocal > 0) {
        if (rotate)
            set_local(ts, t->local_set[ts->ipos++ % (unsigned)t->nlocal]);
        return ts->cached_nidx;
    }
    unsigned cpu = nslab__cpu_fast();
    if (cpu < nslab_g.ncpu_fast)
        return nslab_g.cpu_nidx[cpu];
    return ts->cached_nidx;
}

/*
 * Rules 1-3 of FALLBACK in numaslab(7): map a node argument to an active node.
 * warned/name: the cache's "already reported" set and name.
 * Returns 0 with *nidx set, -EINVAL for a bad id (silent), -ENODEV for an
 * inactive node under NUMASLAB_THISNODE (silent).
 */
int nslab__resolve_node(nslab_bitmap_t *warned, const char *name, int node, unsigned flags,
                        int *nidx)
{
    struct nslab_tstate *ts = nslab_tls;
    if (node == NUMASLAB_NODE_LOCAL) {
        *nidx = nslab__local_nidx_slow(ts, 1);
        return 0;
    }
    if (node < -1 || node >= nslab_g.possible)
        return -EINVAL;
    if (nslab_g.node_nidx[node] >= 0) {
        *nidx = nslab_g.node_nidx[node];
        return 0;
    }
    nslab_add_relaxed(&nslab_g.node_counters[node].inactive, 1);
    nslab__pub_node(node);
    if (flags & NUMASLAB_THISNODE)
        return -ENODEV;
    if (!(flags & NUMASLAB_NOWARN)) {
        if (!nslab__bit_set_atomic(warned, (unsigned)node))
            nslab__report("numaslab: not allocating in inactive node %d for cache %s", node, name);
    }
    *nidx = nslab__local_nidx_slow(ts, 0);
    /* The reason split of the statistics: asked for node, served here. */
    nslab_add_relaxed(&nslab_g.node_counters[nslab_g.topo.active[*nidx]].inactive_served, 1);
    nslab__pub_node(nslab_g.topo.active[*nidx]);
    return 0;
}

int numaslab_local_node(void)
{
    NSLAB_INIT_OR(-1);
    struct nslab_tstate *ts = nslab__tstate();
    if (ts)
        nslab__refresh_local(ts);
    int nidx = ts ? nslab__local_nidx_slow(ts, 0) : 0;
    return nslab_g.topo.active[nidx];
}

int numaslab_node_is_active(int node)
{
    NSLAB_INIT_OR_ERR();
    if (node < 0 || node >= nslab_g.possible)
        return -EINVAL;
    return nslab_g.node_nidx[node] >= 0;
}

int numaslab_max_node(void)
{
    NSLAB_INIT_OR_ERR();
    return nslab_g.topo.max_node;
}

/* ------------------------------------------------------------------------
 * Initialisation and teardown
 * ---------------------------------------------------------------------- */

static void once_init(void)
{
    nslab_g.key_made = pthread_key_create(&nslab_g.key, tstate_exit) == 0;
    nslab__fork_handlers();
}

static void free_tables(void)
{
    free(nslab_g.node_nidx);
    free(nslab_g.cpu_nidx);
    free(nslab_g.node_counters);
    nslab_g.node_nidx = NULL;
    nslab_g.node_soff = NULL;
    nslab_g.cpu_nidx = NULL;
    nslab_g.node_counters = NULL;
    nslab__topo_free(&nslab_g.topo);
}

/* nslab_g.lock held. */
/* A value no live object holds unless its user wrote it there: the free
 * cookie (lib/thread.h), from the clock and the address space layout,
 * mixed (splitmix64), odd so that no aligned pointer equals it. */
static uintptr_t make_cookie(void)
{
    uint64_t x = nslab__now_ns() ^ ((uint64_t)(uintptr_t)&x << 16) ^ (uint64_t)getpid();
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return (uintptr_t)(x ^ (x >> 31)) | 1;
}

static int init_locked(const struct numaslab_config *cfg)
{
    struct nslab_topo *t = &nslab_g.topo;
    nslab_cookie = make_cookie();
    int rc = nslab__options_load(&nslab_g.opt, cfg);
    if (rc)
        return rc;
    rc = nslab__topo_discover(t, nslab_g.opt.nodes, cfg && cfg->nodes, nslab_g.opt.hwloc_quiet);
    if (rc == -EINVAL && !(cfg && cfg->nodes))
        rc = 0; /* a malformed NUMASLAB_NODES was reported and ignored */
    if (rc)
        goto fail;
    if (t->nactive == 0) {
        nslab__report("numaslab: no NUMA node with memory is allowed to this process");
        rc = -ENODEV;
        goto fail;
    }
    nslab_g.nactive = t->nactive;
    nslab_g.possible = t->possible;
    nslab__pages_simulate(t->simulated);
    /* node_nidx, then node_soff, aligned for it */
    size_t soff_at = (sizeof(int16_t) * (size_t)t->possible + sizeof(long) - 1) / sizeof(long);
    long *nodes = malloc(sizeof(long) * (soff_at + (size_t)t->possible));
    nslab_g.node_nidx = (int16_t *)nodes;
    nslab_g.node_soff = nodes ? nodes + soff_at : NULL;
    nslab_g.cpu_nidx = calloc((size_t)t->ncpu + 1, sizeof(uint16_t));
    nslab_g.node_counters = calloc((size_t)t->possible, sizeof(struct nslab_node_counters));
    rc = -ENOMEM;
    if (!nslab_g.node_nidx || !nslab_g.cpu_nidx || !nslab_g.node_counters)
        goto fail;
    for (int n = 0; n < t->possible; n++) {
        int nidx = n <= t->max_node && t->node[n].active ? t->node[n].nidx : -1;
        nslab_g.node_nidx[n] = (int16_t)nidx;
        /* An inactive node's is the spare slot after the active ones,
         * always empty (lib/owner.c): its allocations miss with no test. */
        nslab_g.node_soff[n] =
            (nidx < 0 ? t->nactive : nidx) * (long)sizeof(struct nslab_thread_node);
    }
    for (int cpu = 0; cpu < t->ncpu; cpu++) {
        int node = t->cpu_node[cpu], m = -1;
        if (t->preferred >= 0)
            m = t->preferred;
        else if (node >= 0 && node <= t->max_node)
            m = t->node[node].mem_node;
        nslab_g.cpu_nidx[cpu] = (uint16_t)(m >= 0 ? t->node[m].nidx : 0);
    }
    memset(nslab_g.large_warned, 0, sizeof(nslab_g.large_warned));
    /* The layers bottom up; the headroom before the first mapping (the
     * reserves' first of all). */
    static int (*const layer_init[])(void) = {nslab__headroom_init, nslab__pages_init,
                                              nslab__sizeclass_init, nslab__large_init,
                                              nslab__reserves_init};
    for (size_t i = 0; i < sizeof(layer_init) / sizeof(layer_init[0]); i++)
        if ((rc = layer_init[i]()))
            goto fail;
    nslab_g.ncpu_fast =
        (t->policy != NSLAB_POL_INTERLEAVE && nslab__cpu_fast_usable()) ? (uint32_t)t->ncpu : 0;
    nslab_g.gen++;
    nslab_store_release(&nslab_g.ready, 1);
    nslab__export_start(); /* never fails init: a failure is reported */
    return 0;
fail:
    nslab__class_cache_clear();
    for (int i = 0; i < NSLAB_NCLASSES; i++)
        if (nslab_g.sc[i]) {
            nslab__cache_release(nslab_g.sc[i]);
            nslab_g.sc[i] = NULL;
        }
    if (nslab_g.large_hdr)
        nslab__cache_release(nslab_g.large_hdr);
    nslab_g.large_hdr = NULL;
    nslab__reserves_fini();
    nslab__pages_fini();
    nslab__headroom_fini();
    free_tables();
    nslab_g.possible = 0;
    nslab_g.nactive = 0;
    return rc;
}

/* Discovery runs hwloc and libnuma, which allocate: busy (numa/numa.h). */
int nslab__init(void)
{
    if (likely(nslab_load_acquire(&nslab_g.ready)))
        return 0;
    NSLAB_BUSY_ENTER();
    pthread_once(&once, once_init);
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    int rc = nslab_g.ready ? 0 : init_locked(NULL);
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    NSLAB_BUSY_LEAVE();
    return rc;
}

int numaslab_init(const struct numaslab_config *cfg)
{
    NSLAB_BUSY_ENTER();
    pthread_once(&once, once_init);
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    int rc = nslab_g.ready ? -EALREADY : init_locked(cfg);
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    NSLAB_BUSY_LEAVE();
    return rc;
}

void numaslab_fini(void)
{
    if (nslab_g.pinned) {
        nslab__report("numaslab_fini: libnumaslab-malloc serves this process's malloc; "
                      "nothing is released");
        return;
    }
    nslab__export_stop(); /* first: it takes nslab_g.lock itself */
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    if (!nslab_g.ready) {
        nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
        return;
    }
    /* Fast paths must miss from now on: the tables they read go away. */
    nslab_g.ncpu_fast = 0;
    nslab_g.possible = 0;
    memset(nslab_g.sc, 0, sizeof(nslab_g.sc));
    nslab__class_cache_clear();
    struct nslab_list *l;
    for (l = nslab_g.threads.next; l != &nslab_g.threads; l = l->next) {
        struct nslab_tstate *ts = nslab_container_of(l, struct nslab_tstate, link);
        /* Its cached large objects are released below with the rest;
         * its slabs go back to the node lists, where the release finds
         * them. */
        free(ts->tlc);
        ts->tlc = NULL;
        for (int id = 0; id < NSLAB_MAX_CACHES; id++) {
            if (nslab__tc(ts, id) && nslab_g.by_id[id])
                nslab__thread_cache_flush(nslab_g.by_id[id], ts, 0);
            nslab__tc_free(ts, id);
        }
        /* A node index of this topology: the next one may have fewer
         * nodes, and a thread cache made before the state's refresh (a
         * remote free's) takes its lslot from it. */
        ts->cached_nidx = 0;
    }
    nslab__large_release_all();
    nslab_g.large_hdr = NULL;
    while (!nslab_list_empty(&nslab_g.caches))
        nslab__cache_release(nslab_container_of(nslab_g.caches.next, struct numaslab_cache, link));
    nslab__reserves_fini();
    nslab__pages_fini();
    nslab__headroom_fini();
    free_tables();
    nslab_g.nactive = 0;
    nslab_store_release(&nslab_g.ready, 0);
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
}
