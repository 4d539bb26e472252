/*
 * lib/headroom.c - running short (numaslab(7), MEMORY EXHAUSTION): may the
 * library fault in bytes more on a node, under the process's memory
 * cgroup?  Decided before anything is faulted in, because a fault the
 * kernel cannot satisfy ends in the OOM killer, not in an error.
 *
 * Every mapping goes through nslab__pages_map_fresh (lib/pagesys.c),
 * which calls nslab__headroom_take first, and every unmapping through
 * nslab__pages_unmap_range, which calls nslab__headroom_give.  Two kinds
 * of headroom are kept, each a struct nslab_headroom: one per active node,
 * and one for the process's memory cgroup.
 *
 * A reading (numa/memstate.c) says how many bytes were there to have,
 * avail; since then the library has mapped since bytes more on the node
 * (or under the cgroup), less what it unmapped.  A mapping of b bytes is
 * allowed when
 *     avail - (since + b) >= keep
 * keep is the node's low watermark, or the cgroup's margin; a reserve
 * being filled (floor) needs only keep = 0: the reserve is what the
 * watermark keeps room for.  since is added to before the test and taken
 * back when it fails, so threads mapping at once never pass together on
 * the same bytes.
 *
 * A reading is refreshed before the decision when
 *   - it is older than STALE_NS (NEAR_NS while short, or within a few
 *     watermarks of it), so that memory other processes take or give back
 *     is seen; within two watermarks of the edge, always;
 *   - since + b is more than half the room it showed (avail - keep): far
 *     from the edge a reading serves many chunks, near it every chunk
 *     reads again.
 * The library's own unmappings count at once (since goes down), so frees
 * end a short state without a reading.
 *
 * Cost: nothing on the fast paths; per chunk mapped, a coarse clock read
 * and a few relaxed loads and one atomic add per headroom (bench/RESULTS.md
 * has the figure); per refresh one read of the node's meminfo, or of the
 * cgroup's files (two or three per level).
 *
 * Locks: each headroom's lock (rank NSLAB_RANK_HEADROOM, lib/lock.h) is
 * held only while one thread refreshes the reading, and only taken by
 * trylock (the fork handler excepted): a thread that finds it held decides
 * on the reading it has.  The fields are relaxed atomics,
 * written by the refreshing thread, or atomically added to.
 */
#include "lib/internal.h"

#include <stdlib.h>
#include <time.h>

#define STALE_NS (100ull * 1000 * 1000) /* a reading serves 100 ms at most */
#define NEAR_NS  (10ull * 1000 * 1000)  /* 10 ms near the edge or while short */

/* Defaults (numaslab(7)): a node keeps 1/64 of its memory free, within
 * 8 MiB .. 256 MiB; a cgroup keeps 1/32 of its limit, within 4 MiB ..
 * 256 MiB. */
#define WMARK_DIV  64
#define WMARK_MIN  ((uint64_t)8 << 20)
#define WMARK_MAX  ((uint64_t)256 << 20)
#define MARGIN_DIV 32
#define MARGIN_MIN ((uint64_t)4 << 20)
#define MARGIN_MAX ((uint64_t)256 << 20)

/* Readings are capped here so that signed differences never overflow. */
#define AVAIL_CAP ((uint64_t)1 << 62)

static uint64_t now_coarse(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t nslab__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* keep from an option: a size, a percentage of base, or the default. */
static uint64_t keep_of(const struct nslab_keep *k, uint64_t base, uint64_t div, uint64_t lo,
                        uint64_t hi)
{
    if (k->set == NSLAB_KEEP_BYTES)
        return k->bytes;
    if (k->set == NSLAB_KEEP_PERCENT)
        return (uint64_t)((double)base * k->percent / 100.0);
    uint64_t v = base / div;
    return v < lo ? lo : v > hi ? hi : v;
}

/* ------------------------------------------------------------------------
 * Readings
 * ---------------------------------------------------------------------- */

/* A new reading for h: nidx >= 0 a node, -1 the cgroup.  1 when taken,
 * 0 when another thread is taking one (or the files failed). */
static int refresh(struct nslab_headroom *h, int nidx)
{
    if (nslab__trylock(&h->lock, NSLAB_RANK_HEADROOM) != 0)
        return 0;
    int64_t before = nslab_load_relaxed(&h->since);
    uint64_t avail;
    int ok;
    if (nidx >= 0) {
        struct nslab_node_mem m;
        int node = nslab_g.topo.active[nidx];
        /* One memory node: the machine's figures (numa/memstate.c). */
        ok = nslab__node_mem_read(nslab_g.mem_whole ? -1 : node, &m) == 0;
        avail = ok ? nslab__node_avail(&m, nslab_g.mem_whole ? &nslab_g.wmark_all
                                                             : &nslab_g.wmark[node])
                   : 0;
        if (ok && !nslab_load_relaxed(&h->reads)) {
            /* The first reading sets the watermark, from the node's size
             * as the readings see it (the machine's, when they are the
             * machine's), else hwloc's. */
            uint64_t size = m.total ? m.total : nslab_g.topo.node[node].memory;
            nslab_store_relaxed(
                &h->keep, keep_of(&nslab_g.opt.watermark, size, WMARK_DIV, WMARK_MIN, WMARK_MAX));
        }
    } else {
        struct nslab_cg_reading r;
        ok = nslab__cgroup_read(&nslab_g.cgroup, &r) == 0;
        if (ok) {
            nslab_store_relaxed(&nslab_g.cg_limit, r.limit);
            nslab_store_relaxed(&nslab_g.cg_usage, r.usage);
            /* A limit may be set (or lifted) while the process runs. */
            uint64_t keep = r.limit == UINT64_MAX ? 0
                                                  : keep_of(&nslab_g.opt.margin, r.limit,
                                                            MARGIN_DIV, MARGIN_MIN, MARGIN_MAX);
            nslab_store_relaxed(&h->keep, keep);
        } else {
            nslab_store_relaxed(&nslab_g.cg_state, NSLAB_CG_UNREADABLE);
        }
        avail = ok ? r.headroom : 0;
    }
    if (ok) {
        if (avail > AVAIL_CAP)
            avail = AVAIL_CAP;
        nslab_store_relaxed(&h->avail, avail);
        /* What was mapped during the reading may be in it, or not:
         * counted once more, to be safe. */
        nslab_sub_relaxed(&h->since, before);
        nslab_add_relaxed(&h->reads, 1);
        if ((int64_t)avail - nslab_load_relaxed(&h->since) >= (int64_t)nslab_load_relaxed(&h->keep))
            nslab_store_relaxed(&h->short_since, 0);
    } else {
        /* Unreadable now: never short on a guess. */
        nslab_store_relaxed(&h->known, 0);
    }
    nslab_store_relaxed(&h->read_ns, now_coarse());
    nslab__unlock(&h->lock, NSLAB_RANK_HEADROOM);
    return ok;
}

/* Take bytes from h (see the top of the file).  0, or -ENOMEM when h is
 * short.  floor: only the reading itself counts, not the keep. */
static int take(struct nslab_headroom *h, int nidx, size_t bytes, int floor)
{
    if (!nslab_load_relaxed(&h->known))
        return 0;
    int64_t b = (int64_t)bytes;
    int64_t keep = floor ? 0 : (int64_t)nslab_load_relaxed(&h->keep);
    int64_t avail = (int64_t)nslab_load_relaxed(&h->avail);
    int64_t since = nslab_load_relaxed(&h->since) + b;
    int near = avail - since < 5 * keep || nslab_load_relaxed(&h->short_since);
    uint64_t age = now_coarse() - nslab_load_relaxed(&h->read_ns);
    /* Within two watermarks of the edge every mapping reads again: another
     * process taking the node's memory fast (a few GB/s) could otherwise
     * have emptied it in the ticks a reading serves, and the pages faulted
     * in on a stale reading push the node to the kernel's OOM killer. */
    int edge = avail - since < 2 * keep;
    if (edge || age >= (near ? NEAR_NS : STALE_NS) || since > (avail - keep) / 2) {
        refresh(h, nidx);
        if (!nslab_load_relaxed(&h->known))
            return 0;
        avail = (int64_t)nslab_load_relaxed(&h->avail);
    }
    since = nslab_add_relaxed(&h->since, b) + b;
    if (avail - since >= keep) {
        if (unlikely(nslab_load_relaxed(&h->short_since)))
            nslab_store_relaxed(&h->short_since, 0);
        return 0;
    }
    nslab_sub_relaxed(&h->since, b);
    nslab_add_relaxed(&h->refused, 1);
    uint64_t zero = 0;
    if (!nslab_load_relaxed(&h->short_since) &&
        nslab_cas_relaxed(&h->short_since, &zero, nslab__now_ns()))
        nslab_add_relaxed(&h->episodes, 1);
    return -ENOMEM;
}

int nslab__headroom_take(int nidx, size_t bytes, int floor)
{
    if (take(&nslab_g.head[nidx], nidx, bytes, floor))
        return NSLAB_SHORT_NODE;
    if (take(&nslab_g.cg_head, -1, bytes, floor)) {
        /* Not this node's: the node's bytes go back. */
        nslab_sub_relaxed(&nslab_g.head[nidx].since, (int64_t)bytes);
        return NSLAB_SHORT_CGROUP;
    }
    return 0;
}

void nslab__headroom_give(int nidx, size_t bytes)
{
    nslab_sub_relaxed(&nslab_g.head[nidx].since, (int64_t)bytes);
    nslab_sub_relaxed(&nslab_g.cg_head.since, (int64_t)bytes);
}

/* ------------------------------------------------------------------------
 * Set-up
 * ---------------------------------------------------------------------- */

static void head_init(struct nslab_headroom *h)
{
    memset(h, 0, sizeof(*h));
    nslab__lock_init(&h->lock);
}

/* nslab_g.lock held, the topology known.  0 or -ENOMEM; files that cannot
 * be read leave the headroom unknown (never short), silently. */
int nslab__headroom_init(void)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    const struct nslab_topo *t = &nslab_g.topo;
    nslab_g.head = aligned_alloc(64, sizeof(struct nslab_headroom) * (size_t)t->nactive);
    nslab_g.wmark = calloc((size_t)t->max_node + 1, sizeof(struct nslab_node_wmark));
    if (!nslab_g.head || !nslab_g.wmark)
        return -ENOMEM;
    /* Without watermarks (no /proc/zoneinfo) the node's own low watermark
     * still applies. */
    nslab__node_wmarks_read(t->max_node, nslab_g.wmark);
    int memnodes = 0;
    memset(&nslab_g.wmark_all, 0, sizeof(nslab_g.wmark_all));
    for (int n = 0; n <= t->max_node; n++) {
        memnodes += t->node[n].present && t->node[n].memory > 0;
        nslab_g.wmark_all.min += nslab_g.wmark[n].min;
        nslab_g.wmark_all.low += nslab_g.wmark[n].low;
        nslab_g.wmark_all.high += nslab_g.wmark[n].high;
    }
    /* A simulated machine's nodes all live in this machine's memory. */
    nslab_g.mem_whole = memnodes == 1 || t->simulated;
    for (int i = 0; i < t->nactive; i++) {
        struct nslab_headroom *h = &nslab_g.head[i];
        head_init(h);
        h->known = 1;
        if (!refresh(h, i))
            h->known = 0;
    }
    head_init(&nslab_g.cg_head);
    nslab_g.cg_limit = UINT64_MAX;
    nslab_g.cg_usage = 0;
    int rc = nslab__cgroup_find(&nslab_g.cgroup);
    if (rc == -ENOENT) {
        nslab_g.cg_state = NSLAB_CG_NONE;
    } else if (rc) {
        nslab_g.cg_state = NSLAB_CG_UNREADABLE;
    } else {
        nslab_g.cg_state = nslab_g.cgroup.version;
        nslab_g.cg_head.known = 1;
        if (!refresh(&nslab_g.cg_head, -1))
            nslab_g.cg_head.known = 0;
    }
    return 0;
}

void nslab__headroom_fini(void)
{
    if (nslab_g.head)
        for (int i = 0; i < nslab_g.nactive; i++)
            pthread_mutex_destroy(&nslab_g.head[i].lock);
    free(nslab_g.head);
    free(nslab_g.wmark);
    nslab_g.head = NULL;
    nslab_g.wmark = NULL;
}

void nslab__headroom_fork_lock(void)
{
    for (int i = 0; nslab_g.head && i < nslab_g.nactive; i++)
        nslab__lock_nested(&nslab_g.head[i].lock, NSLAB_RANK_HEADROOM);
    nslab__lock_nested(&nslab_g.cg_head.lock, NSLAB_RANK_HEADROOM);
}

void nslab__headroom_fork_unlock(void)
{
    nslab__unlock(&nslab_g.cg_head.lock, NSLAB_RANK_HEADROOM);
    for (int i = nslab_g.head ? nslab_g.nactive - 1 : -1; i >= 0; i--)
        nslab__unlock(&nslab_g.head[i].lock, NSLAB_RANK_HEADROOM);
}
