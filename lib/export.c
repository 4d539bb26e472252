/*
 * lib/export.c - the statistics segment /dev/shm/numaslab.<pid>, in the
 * layout of include/numaslab-stats.h, kept live by the code that changes
 * the figures: no thread of ours, no lock of the allocator taken for it.
 *
 * Lifetime:
 *   init_locked -> nslab__export_start: options, the segment made and
 *     filled from a snapshot (nslab__stats_snapshot), then published for
 *     the live writers (ex_live).
 *   numaslab_fini -> nslab__export_stop: unpublished, unmapped, unlinked.
 *   exit (an atexit hook): unpublished and unlinked, not unmapped: other
 *     threads may still be on a slow path that writes it.
 *   a fork child -> nslab__export_fork_child: the parent's mapping is
 *     dropped (its name stays the parent's); the child's own segment is
 *     made at its first write (nslab__pub_*), so that a child that execs
 *     or _exits at once leaves nothing behind.
 *
 * Writers: every slow path that changes a figure writes the records it
 * changed with relaxed stores, reading the library's relaxed counters:
 *   nslab__pub_cache   one (cache, node) record: lib/slab.c, lib/reserve.c
 *   nslab__pub_node    one node record but its reserve fields: the page
 *                      layer, large objects, fallback, inactive requests,
 *                      headroom, and with every cache record
 *   nslab__pub_node_pages  only its page-layer and large-object fields and
 *                      its object counts: a request of the page layer that
 *                      made no charge (lib/pages.c), a large object counted
 *   nslab__pub_reserve a node reserve's fields, by lib/mempool.c under the
 *                      pool's own lock
 *   nslab__pub_process the header's cgroup fields: lib/headroom.c
 * Two threads may write one record at once: each record has a combining
 * flag (struct pubflag) instead of a lock: a writer that finds it taken
 * leaves a request, and the one holding it writes again before it leaves,
 * so the last figures are always the ones written.
 *
 * Readers: the sequence count stays even once the segment is complete
 * (magic stored last), so a reader's copy is accepted at once; each field
 * is whole, and two fields may come from a few nanoseconds apart.
 * update_ns is the time of the last write; interval_ms is 0 ("live").
 *
 * Locks: nslab_g.lock (level 1) guards ex.* and the making and unmaking
 * of the segment; the writers take none (a fork child's first writer only
 * tries nslab_g.lock to make its segment).
 */
#include "lib/internal.h"
#include "lib/statread.h"
#include "numaslab-stats.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* 0 compiles publishing out (no segment); the code stays type-checked.
 * The in-process statistics are not affected. */
#ifndef NSLAB_STATS
#define NSLAB_STATS 1
#endif

/* A record's combining flag: busy while one writer writes it; want counts
 * the requests, so that the writer sees one that came meanwhile. */
struct pubflag {
    int busy;
    unsigned want;
    unsigned parts; /* PUB_* asked for beyond the object counts, not yet written */
};
/* What a request asks to be written of a record besides its object
 * counts, which every write writes: a node record's page-layer fields
 * (nslab__stats_write_node_pages), or all of it. */
#define PUB_PAGES 1u
#define PUB_WHOLE 2u

static struct {
    /* under nslab_g.lock */
    int enabled;                       /* publishing is on (NUMASLAB_STATS) */
    struct numaslab_stats_header *seg; /* our mapping of the segment, NULL when none */
    size_t bytes;
    long owner;            /* pid whose name the segment has; 0: none */
    int told;              /* a failure to publish was reported */
    int asked;             /* NUMASLAB_STATS=1: a failure to publish is reported */
    int pending;           /* a fork child: its segment is made at its first write */
    int print_at_exit;     /* NUMASLAB_STATS_PRINT=1 */
    struct pubflag *flags; /* [node_cap + cache_cap + 1] */
    int16_t *node_rec;     /* [possible]: node id -> record index, -1: none */
} ex;

/* The segment the writers write, NULL while none (acquire/release). */
static struct numaslab_stats_header *ex_live;

static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

/* ------------------------------------------------------------------------
 * The segment
 * ---------------------------------------------------------------------- */

static void shm_name(char *buf, size_t n, long pid)
{
    snprintf(buf, n, NUMASLAB_STATS_SHM_FMT, pid);
}

/* Who we are, so that a reader can tell a stale segment (pid gone, pid
 * reused, program replaced by exec) from ours. */
static void fill_identity(struct numaslab_stats_header *h)
{
    struct stat st;
    h->pid = (int32_t)getpid();
    h->interval_ms = 0; /* live: written by the slow paths, not refreshed */
    if (nslab_proc_stat(0, NULL, NULL, &h->start_time)) /* lib/statproc.c */
        h->start_time = 0;
    if (stat("/proc/self/exe", &st) == 0) {
        h->exe_dev = (uint64_t)st.st_dev;
        h->exe_ino = (uint64_t)st.st_ino;
    }
    int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, h->comm, sizeof(h->comm) - 1);
        close(fd);
        if (n > 0 && h->comm[n - 1] == '\n')
            n--;
        h->comm[n > 0 ? n : 0] = '\0';
    }
}

/* Make, map and fill this process's segment, then publish it to the
 * writers; nslab_g.lock held.  Until its magic is stored it is all zero
 * but its layout, which readers take for "not ready yet".  0 or -errno. */
static int seg_create(void)
{
    char name[48];
    long pid = (long)getpid();
    struct numaslab_stats_header lay;
    uint32_t node_cap = nslab__stats_node_cap(),
             cache_cap = NSLAB_MAX_CACHES * (uint32_t)nslab_g.nactive;
    size_t bytes = nslab__stats_layout(&lay, node_cap, cache_cap);

    free(ex.flags);
    free(ex.node_rec);
    ex.flags = calloc((size_t)node_cap + cache_cap + 1, sizeof(*ex.flags));
    ex.node_rec = malloc((size_t)nslab_g.possible * sizeof(*ex.node_rec));
    if (!ex.flags || !ex.node_rec)
        return -ENOMEM;
    fill_identity(&lay);
    lay.interval_ms = 0; /* live */

    shm_name(name, sizeof(name), pid);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 && errno == EEXIST) {
        /* The name has our pid: left by a killed process that had it
         * before us, or by this process before an exec.  Nobody alive
         * owns it but us. */
        shm_unlink(name);
        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    }
    if (fd < 0)
        return -errno;
    int rc = 0;
    struct numaslab_stats_header *h = MAP_FAILED;
    if (ftruncate(fd, (off_t)bytes) != 0)
        rc = -errno;
    else if ((h = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
        rc = -errno;
    close(fd);
    if (rc) {
        shm_unlink(name);
        return rc;
    }
    *h = lay;
    nslab__stats_snapshot(h);
    /* Every cache id gets its records (nslab__pub_cache_new writes the
     * caches made later), and the absent nodes the snapshot found keep
     * theirs. */
    h->cache_count = cache_cap;
    for (int n = 0; n < nslab_g.possible; n++)
        ex.node_rec[n] = (int16_t)(n <= nslab_g.topo.max_node ? n : -1);
    const struct numaslab_stats_node_rec *nodes = (const void *)((char *)h + h->node_off);
    for (uint32_t i = (uint32_t)nslab_g.topo.max_node + 1; i < h->node_count; i++)
        if (nodes[i].node >= 0 && nodes[i].node < nslab_g.possible)
            ex.node_rec[nodes[i].node] = (int16_t)i;
    h->update_ns = nslab__now_ns();
    h->updates = 1;
    nslab_store_relaxed(&h->seq, 2);
    nslab_store_release(&h->magic, NUMASLAB_STATS_MAGIC);
    ex.seg = h;
    ex.bytes = bytes;
    ex.owner = pid;
    nslab_store_relaxed(&ex.pending, 0);
    nslab_store_release(&ex_live, h);
    return 0;
}

/* Unpublish; unmap unless keep_mapped; unlink when the name is ours.
 * nslab_g.lock held. */
static void seg_destroy(int keep_mapped)
{
    char name[48];
    nslab_store_release(&ex_live, NULL);
    if (ex.seg && !keep_mapped)
        munmap(ex.seg, ex.bytes);
    ex.seg = NULL;
    if (ex.owner && ex.owner == (long)getpid()) {
        shm_name(name, sizeof(name), ex.owner);
        shm_unlink(name);
    }
    ex.owner = 0;
}

/* Make the segment if there is none; nslab_g.lock held.  0 or -errno.
 * The first failure of the process is reported when statistics were
 * asked for (NUMASLAB_STATS=1, or numaslab_stats_publish: asked); a
 * process left to the default stays silent, so that a machine without
 * /dev/shm does not print a line for every program. */
static int ensure_locked(int asked)
{
    int rc = 0;
    if (!nslab_g.ready)
        return -EINVAL;
    if (!ex.enabled)
        return -ENOTSUP;
    if (!ex.seg && (rc = seg_create()) != 0) {
        if (!ex.told && (asked || ex.asked)) {
            ex.told = 1;
            nslab__report("numaslab: cannot publish statistics in %s/%s%ld: %s "
                          "(NUMASLAB_STATS=0 turns publishing off)",
                          NUMASLAB_STATS_DIR, NUMASLAB_STATS_PREFIX, (long)getpid(), strerror(-rc));
        }
        nslab_store_relaxed(&ex.pending, 0);
        return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The writers
 * ---------------------------------------------------------------------- */

/* The live segment, or NULL.  A fork child's first writer makes its own
 * (only tries nslab_g.lock: a writer may hold a cnode lock, or run under
 * nslab_g.lock itself). */
static struct numaslab_stats_header *live(void)
{
    struct numaslab_stats_header *h = nslab_load_acquire(&ex_live);
    if (likely(h != NULL) || !nslab_load_relaxed(&ex.pending))
        return h;
    if (nslab__trylock(&nslab_g.lock, NSLAB_RANK_GLOBAL) != 0)
        return NULL;
    if (ex.pending)
        ensure_locked(0);
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    return nslab_load_acquire(&ex_live);
}

/* 1 when the caller holds f and must write; else another writer does. */
static int pub_enter(struct pubflag *f, unsigned *ticket)
{
    __atomic_fetch_add(&f->want, 1, __ATOMIC_SEQ_CST);
    if (__atomic_exchange_n(&f->busy, 1, __ATOMIC_ACQUIRE))
        return 0;
    *ticket = __atomic_load_n(&f->want, __ATOMIC_SEQ_CST);
    return 1;
}

/* After a write: 1 when a request came meanwhile and the caller, holding
 * f again, must write once more. */
static int pub_again(struct pubflag *f, unsigned *ticket)
{
    __atomic_store_n(&f->busy, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&f->want, __ATOMIC_SEQ_CST) == *ticket)
        return 0;
    if (__atomic_exchange_n(&f->busy, 1, __ATOMIC_ACQUIRE))
        return 0; /* taken: that writer writes */
    *ticket = __atomic_load_n(&f->want, __ATOMIC_SEQ_CST);
    return 1;
}

/* The time of the last write, to a few milliseconds (the coarse clock,
 * and no store while it has not moved): every writer of every record
 * comes here, and the header's line is shared by all. */
static uint64_t coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void touched(struct numaslab_stats_header *h)
{
    uint64_t now = coarse_ns();
    if (nslab_load_relaxed(&h->update_ns) < now) {
        nslab_store_relaxed(&h->update_ns, now);
        nslab_store_relaxed(&h->updates, nslab_load_relaxed(&h->updates) + 1);
    }
}

/* The record of node id node (< possible), or NULL: an absent id gets one
 * of the spare records the first time, when nslab_g.lock is free. */
static struct numaslab_stats_node_rec *node_rec(struct numaslab_stats_header *h, int node)
{
    struct numaslab_stats_node_rec *nodes = (void *)((char *)h + h->node_off);
    int i = nslab_load_relaxed(&ex.node_rec[node]);
    if (i >= 0)
        return &nodes[i];
    if (nslab__trylock(&nslab_g.lock, NSLAB_RANK_GLOBAL) != 0)
        return NULL;
    if (ex_live == h && (i = ex.node_rec[node]) < 0 && h->node_count < h->node_cap) {
        i = (int)h->node_count;
        nslab__stats_fill_node(&nodes[i], node);
        nslab_store_relaxed(&ex.node_rec[node], (int16_t)i);
        nslab_store_release(&h->node_count, h->node_count + 1);
    }
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    return i >= 0 ? &nodes[i] : NULL;
}

/*
 * Write a record through its flag: its object counts, the fields a free
 * or an allocation counted by another thread changes, and the parts asked
 * for (PUB_*).  The parts of a request that reaches the writer holding
 * the flag are written in that writer's next round.  Node records: node
 * set, c NULL; cache records (whole or counts): c and nidx.
 */
static void pub_rec(struct pubflag *f, unsigned parts, void *r, int node, struct numaslab_cache *c,
                    int nidx)
{
    unsigned t;
    if (parts) /* before the request (pub_enter); pairs with the exchange below */
        __atomic_fetch_or(&f->parts, parts, __ATOMIC_RELEASE);
    if (!pub_enter(f, &t))
        return;
    do {
        unsigned ask = __atomic_exchange_n(&f->parts, 0, __ATOMIC_ACQUIRE);
        if (!c && (ask & PUB_WHOLE))
            nslab__stats_write_node(r, node);
        else if (!c && ask)
            nslab__stats_write_node_pages(r, node);
        else if (!c)
            nslab__stats_write_node_objects(r, node);
        else if (ask)
            nslab__stats_write_cache(r, c, nidx);
        else
            nslab__stats_write_cache_objects(r, c, nidx);
    } while (pub_again(f, &t));
}

static void pub_node_rec(int node, unsigned parts)
{
    struct numaslab_stats_header *h = live();
    if (!h || node < 0 || node >= nslab_g.possible)
        return;
    struct numaslab_stats_node_rec *r = node_rec(h, node);
    if (!r)
        return;
    pub_rec(&ex.flags[r - (struct numaslab_stats_node_rec *)((char *)h + h->node_off)], parts, r,
            node, NULL, 0);
    touched(h);
}

void nslab__pub_node(int node)
{
    pub_node_rec(node, PUB_WHOLE);
}

void nslab__pub_node_pages(int node)
{
    pub_node_rec(node, PUB_PAGES);
}

static void pub_cache_rec(struct numaslab_cache *c, int nidx, unsigned parts)
{
    struct numaslab_stats_header *h = live();
    if (!h)
        return;
    uint32_t i = c->id * (uint32_t)nslab_g.nactive + (uint32_t)nidx;
    pub_rec(&ex.flags[h->node_cap + i], parts,
            (struct numaslab_stats_cache_rec *)((char *)h + h->cache_off) + i, 0, c, nidx);
    pub_node_rec(nslab_g.topo.active[nidx], 0);
}

void nslab__pub_cache(struct numaslab_cache *c, int nidx)
{
    pub_cache_rec(c, nidx, PUB_WHOLE);
}

void nslab__pub_cache_counts(struct numaslab_cache *c, int nidx)
{
    pub_cache_rec(c, nidx, 0);
}

/* Frees into other threads' slabs come one map word at a time, at the
 * freeing thread's pace: counting and writing each would cost more than
 * the free (two atomic additions on lines every thread shares, and a
 * record).  A thread counts and writes them at most once per tick of the
 * coarse clock (a few milliseconds), looking at the clock every
 * NSLAB_PUB_EVERY-th time (lib/thread.h), and what it left at its next
 * flush or exit (nslab__pub_dirty). */
void nslab__pub_remote(struct nslab_tstate *ts, struct numaslab_cache *c)
{
    nslab__pub_wait(ts, c->id);
    if (++ts->pub_n % NSLAB_PUB_EVERY == 0)
        nslab__pub_tick(ts);
}

void nslab__pub_tick(struct nslab_tstate *ts)
{
    uint64_t now = coarse_ns();
    if (now == ts->pub_tick)
        return;
    ts->pub_tick = now;
    nslab__pub_dirty(ts);
}

void nslab__pub_dirty(struct nslab_tstate *ts)
{
    for (int w = 0; w < NSLAB_MAX_CACHES / 64; w++)
        for (uint64_t m = ts->pub_ids[w]; m; m &= m - 1) {
            int id = w * 64 + __builtin_ctzll(m);
            struct nslab_thread_cache *tc = nslab__tc(ts, id);
            struct numaslab_cache *c = nslab_g.by_id[id];
            if (!tc || !c)
                continue;
            nslab__rfreed_apply(c, tc);
            for (int i = 0; i < nslab_g.nactive; i++)
                nslab__pub_cache_counts(c, i);
        }
    memset(ts->pub_ids, 0, sizeof ts->pub_ids);
}

void nslab__pub_reserve(struct numaslab_mempool *pool)
{
    /* Not live(): with the pool's lock held, making a segment (which
     * reads this pool) must wait for another writer. */
    struct numaslab_stats_header *h = nslab_load_acquire(&ex_live);
    if (!h || pool->page_nidx < 0 || pool->page_nidx >= nslab_g.nactive || !nslab_g.reserve ||
        nslab_g.reserve[pool->page_nidx] != pool)
        return;
    int i = nslab_load_relaxed(&ex.node_rec[nslab_g.topo.active[pool->page_nidx]]);
    if (i < 0)
        return;
    /* The pool's lock serialises these fields. */
    nslab__stats_write_reserve((struct numaslab_stats_node_rec *)((char *)h + h->node_off) + i,
                               pool);
    touched(h);
}

void nslab__pub_process(void)
{
    struct numaslab_stats_header *h = live();
    if (!h)
        return;
    struct pubflag *f = &ex.flags[h->node_cap + h->cache_cap];
    unsigned t;
    if (!pub_enter(f, &t))
        return;
    do
        nslab__stats_write_process(h);
    while (pub_again(f, &t));
    touched(h);
}

void nslab__pub_cache_new(struct numaslab_cache *c)
{
    struct numaslab_stats_header *h = nslab_load_acquire(&ex_live);
    if (!h)
        return;
    for (int i = 0; i < nslab_g.nactive; i++) {
        struct numaslab_stats_cache_rec *r =
            (struct numaslab_stats_cache_rec *)((char *)h + h->cache_off) +
            c->id * (uint32_t)nslab_g.nactive + (uint32_t)i;
        nslab__stats_write_cache(r, c, i);
    }
    touched(h);
}

void nslab__pub_cache_gone(struct numaslab_cache *c)
{
    struct numaslab_stats_header *h = nslab_load_acquire(&ex_live);
    if (!h)
        return;
    struct numaslab_stats_cache_rec *r =
        (struct numaslab_stats_cache_rec *)((char *)h + h->cache_off) +
        c->id * (uint32_t)nslab_g.nactive;
    memset(r, 0, sizeof(*r) * (size_t)nslab_g.nactive);
    touched(h);
}

/* Every record written again from the counters; nslab_g.lock held. */
static void pub_all(void)
{
    struct numaslab_stats_header *h = nslab_load_acquire(&ex_live);
    if (!h)
        return;
    for (int n = 0; n < nslab_g.possible; n++)
        if (ex.node_rec[n] >= 0)
            nslab__pub_node(n);
    for (struct nslab_list *l = nslab_g.caches.next; l != &nslab_g.caches; l = l->next)
        for (int i = 0; i < nslab_g.nactive; i++)
            nslab__pub_cache(nslab_container_of(l, struct numaslab_cache, link), i);
    for (int i = 0; nslab_g.reserve && i < nslab_g.nactive; i++)
        if (nslab_g.reserve[i]) {
            nslab__lock(&nslab_g.reserve[i]->lock, NSLAB_RANK_POOL);
            nslab__pub_reserve(nslab_g.reserve[i]);
            nslab__unlock(&nslab_g.reserve[i]->lock, NSLAB_RANK_POOL);
        }
    nslab__pub_process();
}

int numaslab_stats_publish(void)
{
    NSLAB_INIT_OR_ERR();
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    int rc = ensure_locked(1);
    if (rc == 0)
        pub_all();
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    return rc;
}

/* ------------------------------------------------------------------------
 * Start, stop, exit, fork
 * ---------------------------------------------------------------------- */

/* Normal exit: the tables if asked, then no segment left behind. */
static void export_atexit(void)
{
    if (ex.print_at_exit && nslab_load_acquire(&nslab_g.ready))
        numaslab_stats_print(stderr);
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    ex.enabled = 0;
    nslab_store_relaxed(&ex.pending, 0);
    seg_destroy(1); /* other threads may still be writing it */
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
}

static void ex_once_init(void)
{
    atexit(export_atexit);
}

void nslab__export_start(void)
{
    pthread_once(&ex_once, ex_once_init);
    /* NUMASLAB_STATS_INTERVAL is checked with the options, and has no
     * effect: the segment is live. */
    ex.print_at_exit = nslab_g.opt.stats_print;
    ex.enabled = nslab_g.opt.stats && NSLAB_STATS;
    ex.asked = nslab_g.opt.stats_asked;
    if (ex.enabled && !ex.seg)
        ensure_locked(0); /* there, complete, when initialisation returns */
}

void nslab__export_stop(void)
{
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    ex.enabled = 0;
    nslab_store_relaxed(&ex.pending, 0);
    seg_destroy(0);
    free(ex.flags);
    free(ex.node_rec);
    ex.flags = NULL;
    ex.node_rec = NULL;
    ex.bytes = 0;
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
}

void nslab__export_fork_child(void)
{
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    nslab_store_release(&ex_live, NULL);
    if (ex.seg)
        munmap(ex.seg, ex.bytes); /* the parent's; so is its name */
    ex.seg = NULL;
    ex.owner = 0;
    ex.told = 0;
    nslab_store_relaxed(&ex.pending, ex.enabled && nslab_g.ready);
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
}
