/*
 * bench/work-numaslab.c - numaslab's workloads: the common ones through
 * numaslab_alloc_node(size, 0, local node) and numaslab_free (the large
 * batch also reports the peak the library's statistics show mapped), and
 * those only numaslab has:
 *
 *   cache/numaslab          numaslab_cache_alloc + numaslab_cache_free
 *   node/numaslab           numaslab_alloc_node on each active node + free
 *   crit/numaslab           NUMASLAB_CRITICAL pairs served by a reserve slab
 *   mempool-malloc/numaslab numaslab_mempool_alloc + free, malloc underneath
 *   mempool-page/numaslab   the same on a page pool (pages mapped each time)
 *   mempool-reserve/numaslab the page pool while page allocation fails:
 *                           every element comes from the pool's reserve
 *
 * The binary's malloc is glibc's; bench/work-libnuma.c adds the libnuma peer.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numaslab.h"

extern char **environ;

/* What the library has mapped, from its per-node statistics, all nodes
 * together: slabs, large objects, reserves and the freed memory it keeps
 * mapped for reuse. */
static uint64_t mapped_bytes(void)
{
    uint64_t sum = 0;
    for (int n = 0; n <= numaslab_max_node(); n++) {
        struct numaslab_node_stats ns;
        if (numaslab_stats_node(n, &ns) == 0)
            sum += ns.bytes_mapped;
    }
    return sum;
}

#define NSB_A              numaslab
#define NSB_SETUP()        int nsb_node = numaslab_local_node()
#define NSB_ALLOC(size)    numaslab_alloc_node((size), 0, nsb_node)
#define NSB_FREE(p, size)  numaslab_free(p)
#define NSB_MAPPED_BYTES() mapped_bytes()
#include "bench/workloads.h"

const char nsb_allocator[] = "numaslab";
const char nsb_malloc_expect[] = "libc.so";

static const int64_t sizes[3] = {64, 256, 4096};
static numaslab_cache_t *caches[3];  /* fixed-size caches of those sizes */
static numaslab_cache_t *crit_cache; /* a 64-byte cache only critical requests use */

static numaslab_cache_t *cache_of(int64_t size)
{
    for (int i = 0; i < 3; i++)
        if (sizes[i] == size)
            return caches[i];
    return NULL;
}

/* Fixed-size cache hot pair. */
static void cache_pair(nsb_state *st)
{
    numaslab_cache_t *c = cache_of(nsb_range(st, 0));
    if (!c) {
        nsb_skip(st, "no cache of that size");
        return;
    }
    while (nsb_keep_running_batch(st, NSB_INNER))
        for (int k = 0; k < NSB_INNER; k++) {
            void *p = numaslab_cache_alloc(c, 0);
            nsb_escape(p);
            numaslab_cache_free(c, p);
        }
    nsb_set_items(st, nsb_iterations(st));
}

/* Node-targeted hot pair: args size, node.  Before the clock runs, one
 * object is checked to be on the node, by numaslab and by the kernel
 * (get_mempolicy), so that a run under numactl shows where memory went. */
static void node_pair(nsb_state *st)
{
    size_t size = (size_t)nsb_range(st, 0);
    int node = (int)nsb_range(st, 1);
    void *probe = numaslab_alloc_node(size, NUMASLAB_THISNODE, node);
    int kernel = -1;
    if (probe)
        *(volatile char *)probe = 1;
    if (!probe || get_mempolicy(&kernel, NULL, 0, probe, MPOL_F_NODE | MPOL_F_ADDR) != 0 ||
        kernel != node || numaslab_ptr_node(probe) != node) {
        char why[128];
        snprintf(why, sizeof(why), "an object for node %d is on node %d (numaslab: %d)", node,
                 kernel, probe ? numaslab_ptr_node(probe) : -1);
        numaslab_free(probe);
        nsb_skip(st, why);
        return;
    }
    numaslab_free(probe);
    char label[64];
    snprintf(label, sizeof(label), "on node %d (kernel)", kernel);
    nsb_set_label(st, label);
    while (nsb_keep_running_batch(st, NSB_INNER))
        for (int k = 0; k < NSB_INNER; k++) {
            void *p = numaslab_alloc_node(size, 0, node);
            nsb_escape(p);
            numaslab_free(p);
        }
    nsb_set_items(st, nsb_iterations(st));
}

/*
 * Critical allocation from an already-grown reserve slab.  Ordinary page
 * allocation fails (numaslab_fail_pages("after=0")); the first critical
 * request grows a slab of crit_cache from the node's reserve, and one
 * object of it stays live so the slab is not given back when the measured
 * pairs empty it: every measured pair is served by that slab.
 */
static void crit_pair(nsb_state *st)
{
    numaslab_cache_t *c = crit_cache;
    int node = numaslab_local_node();
    if (numaslab_fail_pages("after=0")) {
        nsb_skip(st, "numaslab_fail_pages refused after=0");
        return;
    }
    void *keep = numaslab_cache_alloc(c, NUMASLAB_CRITICAL);
    struct numaslab_cache_stats cs;
    memset(&cs, 0, sizeof(cs));
    numaslab_stats_cache(c, node, &cs);
    if (!keep || cs.slabs_reserve != 1 || cs.slabs_full + cs.slabs_partial + cs.slabs_empty) {
        numaslab_fail_pages(NULL);
        if (keep)
            numaslab_cache_free(c, keep);
        nsb_skip(st, "the critical request was not served by a reserve slab");
        return;
    }
    while (nsb_keep_running_batch(st, NSB_INNER))
        for (int k = 0; k < NSB_INNER; k++) {
            void *p = numaslab_cache_alloc(c, NUMASLAB_CRITICAL);
            nsb_escape(p);
            numaslab_cache_free(c, p);
        }
    numaslab_cache_free(c, keep);
    numaslab_fail_pages(NULL);
    nsb_set_items(st, nsb_iterations(st));
}

static void *pool_malloc(unsigned flags, int node, void *size)
{
    (void)flags;
    (void)node;
    return malloc((size_t)(uintptr_t)size);
}

static void pool_free(void *elem, void *data)
{
    (void)data;
    free(elem);
}

/* Mempool pair: arg 0 is the kind (0 malloc-backed, 64 bytes; 1 page pool,
 * one page; 2 the page pool while page allocation fails). */
static void mempool_pair(nsb_state *st)
{
    int kind = (int)nsb_range(st, 0);
    numaslab_mempool_t *pool;
    if (kind == 0)
        pool = numaslab_mempool_create(16, pool_malloc, pool_free, (void *)(uintptr_t)64);
    else
        pool = numaslab_page_pool_create(numaslab_local_node(), 0, 16);
    if (!pool) {
        nsb_skip(st, "cannot create the pool");
        return;
    }
    if (kind == 2 && numaslab_fail_pages("after=0")) {
        numaslab_mempool_destroy(pool);
        nsb_skip(st, "numaslab_fail_pages refused after=0");
        return;
    }
    while (nsb_keep_running_batch(st, NSB_INNER))
        for (int k = 0; k < NSB_INNER; k++) {
            void *p = numaslab_mempool_alloc(pool, 0);
            nsb_escape(p);
            numaslab_mempool_free(p, pool);
        }
    if (kind == 2)
        numaslab_fail_pages(NULL);
    numaslab_mempool_destroy(pool);
    nsb_set_items(st, nsb_iterations(st));
}

static void reg(void)
{
    nsb_register_common_numaslab("numaslab", 100000, 0);

    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "bench-%d", (int)sizes[i]);
        caches[i] = numaslab_cache_create(name, (size_t)sizes[i], 0, 0, NULL);
    }
    crit_cache = numaslab_cache_create("bench-crit-64", 64, 0, 0, NULL);
    if (!caches[0] || !caches[1] || !caches[2] || !crit_cache) {
        fprintf(stderr, "bench-numaslab: numaslab_cache_create: %s\n", strerror(errno));
        exit(1);
    }
    NSB_BENCH("cache/numaslab", cache_pair, .argnames = {"size"}, .nargs = 1, .nrows = 3,
              .args = {{64}, {256}, {4096}});

    struct nsb_opts o = {.argnames = {"size", "node"}, .nargs = 2};
    char nodes[256] = "";
    for (int n = 0; n <= numaslab_max_node() && o.nrows < NSB_MAX_ROWS; n++)
        if (numaslab_node_is_active(n) == 1) {
            o.args[o.nrows][0] = 64;
            o.args[o.nrows++][1] = n;
            snprintf(nodes + strlen(nodes), sizeof(nodes) - strlen(nodes), "%s%d",
                     *nodes ? "," : "", n);
        }
    nsb_register("node/numaslab", node_pair, &o);
    nsb_context("numaslab_active_nodes", nodes);
    char local[16];
    snprintf(local, sizeof(local), "%d", numaslab_local_node());
    nsb_context("numaslab_local_node", local);
    char env[512] = "";
    for (char **e = environ; *e; e++)
        if (!strncmp(*e, "NUMASLAB_", 9))
            snprintf(env + strlen(env), sizeof(env) - strlen(env), "%s%s", *env ? " " : "", *e);
    nsb_context("numaslab_environment", *env ? env : "(none: the defaults)");

    NSB_BENCH("crit/numaslab", crit_pair, .argnames = {"size"}, .nargs = 1, .nrows = 1,
              .args = {{64}});
    NSB_BENCH("mempool-malloc/numaslab", mempool_pair, .argnames = {"kind"}, .nargs = 1, .nrows = 1,
              .args = {{0}});
    NSB_BENCH("mempool-page/numaslab", mempool_pair, .argnames = {"kind"}, .nargs = 1, .nrows = 1,
              .args = {{1}});
    NSB_BENCH("mempool-reserve/numaslab", mempool_pair, .argnames = {"kind"}, .nargs = 1,
              .nrows = 1, .args = {{2}});
}
NSB_REGISTRATIONS(reg)
