/*
 * lib/nodereserve.c - the reserve every active node owns: a page pool of
 * NSLAB_MIN_SLAB chunks on that node, NUMASLAB_RESERVE bytes (2 MiB by
 * default, or per node as "NODE:SIZE,..."), made and faulted in when the
 * library initialises, past the node limit and the low watermark: as one
 * run of the page layer where the node can give it (lib/pagepool.c),
 * chunk by chunk for what it cannot.
 * Critical and mempool requests grow their cache from it once ordinary
 * memory has failed (lib/reserve.c); numaslab_node_reserve hands it out.
 * Its full size is counted as the node's reserve allowance, on top of the
 * node limit (lib/pagesys.c).
 *
 * Locks: nslab_g.lock held at initialisation and teardown; the pools lock
 * as every mempool does (lib/mempool.c).
 */
#include "lib/internal.h"

#include <stdlib.h>

#define DEFAULT_RESERVE (2u << 20)

/*
 * Parse "SIZE" or "NODE:SIZE,..." (a bare SIZE applies to every node not
 * named) into bytes[possible].  0 or -EINVAL.
 */
static int parse_reserve(const char *s, size_t *bytes, int possible)
{
    char buf[256];
    if (!s || !*s || strlen(s) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, s);
    size_t dflt = DEFAULT_RESERVE;
    static char named[1 << 10];
    memset(named, 0, sizeof(named));
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        size_t v;
        if (!colon) {
            if (nslab_parse_size(tok, &v))
                return -EINVAL;
            dflt = v;
            continue;
        }
        *colon = '\0';
        uint64_t n;
        int top = possible < (int)sizeof(named) ? possible : (int)sizeof(named);
        if (nslab_parse_count(tok, 0, (uint64_t)top - 1, &n) || nslab_parse_size(colon + 1, &v))
            return -EINVAL;
        bytes[n] = v;
        named[n] = 1;
    }
    for (int n = 0; n < possible && n < (int)sizeof(named); n++)
        if (!named[n])
            bytes[n] = dflt;
    return 0;
}

/* nslab_g.lock held; after the topology and the tables. */
int nslab__reserves_init(void)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    int possible = nslab_g.possible;
    size_t *bytes = calloc((size_t)possible, sizeof(size_t));
    nslab_g.reserve = calloc((size_t)nslab_g.nactive, sizeof(*nslab_g.reserve));
    if (!bytes || !nslab_g.reserve) {
        free(bytes);
        return -ENOMEM;
    }
    const char *spec = nslab_g.opt.reserve;
    if (spec && parse_reserve(spec, bytes, possible) && nslab_g.opt.reserve_from_cfg) {
        nslab__report("numaslab_init: reserve=\"%s\" is not a size or a list NODE:SIZE,... "
                      "(e.g. 4M or 0:8M,3:2M)",
                      spec);
        free(bytes);
        return -EINVAL;
    }
    if (spec && parse_reserve(spec, bytes, possible)) {
        nslab__report("numaslab: NUMASLAB_RESERVE=\"%s\": not a size or a list NODE:SIZE,... "
                      "(e.g. 4M or 0:8M,3:2M); using the default %u bytes per node",
                      spec, DEFAULT_RESERVE);
        spec = NULL;
    }
    if (!spec)
        for (int n = 0; n < possible; n++)
            bytes[n] = DEFAULT_RESERVE;
    size_t elem = NSLAB_MIN_SLAB;
    for (int i = 0; i < nslab_g.nactive; i++) {
        int node = nslab_g.topo.active[i];
        int min_nr = (int)((bytes[node] + elem - 1) / elem);
        struct numaslab_mempool *p = nslab__page_pool_new(i, elem, min_nr);
        if (!p)
            continue;
        nslab_g.node_counters[node].reserve_allowance = (uint64_t)min_nr * elem;
        nslab__page_pool_fill_run(p);         /* one run where it can be had, */
        int missing = nslab__mempool_fill(p); /* chunk by chunk for the rest */
        if (missing)
            nslab__report("numaslab: the reserve of node %d holds %d of %d elements of %zu bytes "
                          "(no more memory there)",
                          node, min_nr - missing, min_nr, elem);
        nslab_g.reserve[i] = p;
    }
    free(bytes);
    return 0;
}

/* nslab_g.lock held; every reserve slab has gone back to its pool. */
void nslab__reserves_fini(void)
{
    NSLAB_ASSERT_HELD(&nslab_g.lock);
    for (int i = 0; nslab_g.reserve && i < nslab_g.nactive; i++) {
        struct numaslab_mempool *p = nslab_g.reserve[i];
        if (p)
            nslab__mempool_release(p);
    }
    free(nslab_g.reserve);
    nslab_g.reserve = NULL;
}

numaslab_mempool_t *numaslab_node_reserve(int node)
{
    NSLAB_INIT_OR_NULL();
    int nidx = nslab__pool_node(node, 0);
    if (nidx < 0)
        return NULL;
    numaslab_mempool_t *p = nslab_g.reserve[nidx];
    if (!p)
        errno = ENOMEM; /* it could not be made at initialisation */
    return p;
}
