/*
 * bench/work-libnuma.c - the libnuma peer: numa_alloc_onnode and numa_free,
 * a system call (mmap + mbind, munmap) per object, so with fewer
 * iterations (pairs: a fixed 20,000; batch: 10,000 objects).
 *
 * Objects go to the node numaslab calls local, so that both place memory
 * on the same node under any numactl binding; node-targeted pairs run on
 * numaslab's active nodes.  Linked into bench-numaslab.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <numa.h>
#include <string.h>

#include "numaslab.h"

#define NSB_A             libnuma
#define NSB_SETUP()       int nsb_node = numaslab_local_node()
#define NSB_ALLOC(size)   numa_alloc_onnode((size), nsb_node)
#define NSB_FREE(p, size) numa_free((p), (size))
#include "bench/workloads.h"

#define LIBNUMA_PAIRS 20000
#define LIBNUMA_BATCH 10000

/* Node-targeted pair: args size, node. */
static void node_pair(nsb_state *st)
{
    size_t size = (size_t)nsb_range(st, 0);
    int node = (int)nsb_range(st, 1);
    while (nsb_keep_running_batch(st, NSB_INNER))
        for (int k = 0; k < NSB_INNER; k++) {
            void *p = numa_alloc_onnode(size, node);
            nsb_escape(p);
            numa_free(p, size);
        }
    nsb_set_items(st, nsb_iterations(st));
}

static void reg(void)
{
    if (numa_available() < 0) {
        fprintf(stderr, "bench-numaslab: libnuma reports no NUMA support: no libnuma runs\n");
        return;
    }
    nsb_register_common_libnuma("libnuma", LIBNUMA_BATCH, LIBNUMA_PAIRS);
    struct nsb_opts o = {.argnames = {"size", "node"}, .nargs = 2, .iterations = LIBNUMA_PAIRS};
    for (int n = 0; n <= numaslab_max_node() && o.nrows < NSB_MAX_ROWS; n++)
        if (numaslab_node_is_active(n) == 1) {
            o.args[o.nrows][0] = 64;
            o.args[o.nrows++][1] = n;
        }
    nsb_register("node/libnuma", node_pair, &o);
}
NSB_REGISTRATIONS(reg)
