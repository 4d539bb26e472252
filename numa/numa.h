/*
 * numa/numa.h - the OS boundary of numaslab.
 *
 * numa/ is the only code that talks to hwloc, libnuma and the kernel's
 * NUMA calls.  lib/ asks it for four things and nothing else:
 *   - the node table (which nodes exist, have memory, are allowed, their
 *     distances and the nearest active node of each);
 *   - the node of the CPU the thread runs on;
 *   - chunks of pages bound (MPOL_BIND, strict) to one node, and their
 *     release;
 *   - the kernel's own answer to "which node holds this page" (for tests and
 *     the demo).
 *
 * Node ids here are OS node numbers.  "nidx" is a dense index 0..nactive-1
 * over the active nodes, used by lib/ to index per-node arrays.
 */
#ifndef NSLAB_NUMA_H
#define NSLAB_NUMA_H

#include <stddef.h>
#include <stdint.h>

/* Memory policy the process started with (get_mempolicy at init). */
enum nslab_policy {
    NSLAB_POL_DEFAULT = 0,
    NSLAB_POL_BIND,
    NSLAB_POL_PREFERRED,
    NSLAB_POL_INTERLEAVE,
};

struct nslab_node {
    int present;        /* the node exists in the topology */
    int has_cpus;       /* at least one CPU */
    int allowed;        /* mems_allowed ∩ start policy ∩ NUMASLAB_NODES */
    int active;         /* present && memory > 0 && allowed */
    int nidx;           /* dense index when active, else -1 */
    int mem_node;       /* nearest active node (itself when active), -1 if none */
    uint64_t memory;    /* bytes of local memory (0: memory-less) */
};

/*
 * What restricts the node set, gathered from the process (libnuma) or given
 * by a test.  Masks are bit n = node n, for nodes < 64*NSLAB_MASK_WORDS.
 */
#define NSLAB_MASK_WORDS 16 /* 1024 nodes */
struct nslab_allow {
    uint64_t mems_allowed[NSLAB_MASK_WORDS]; /* cpuset's mems_allowed */
    enum nslab_policy policy;
    uint64_t policy_mask[NSLAB_MASK_WORDS];  /* nodes of BIND / INTERLEAVE */
    int preferred;                           /* node of PREFERRED, else -1 */
    const char *nodes;                       /* NUMASLAB_NODES, or NULL */
};

struct nslab_topo {
    int possible;            /* numa_num_possible_nodes(): ids must be below */
    int max_node;            /* highest present node id */
    struct nslab_node *node; /* [0..max_node] */
    int *dist;               /* [(max_node+1)^2], 0 where unknown */
    int ncpu;                /* size of cpu_node[] */
    int *cpu_node;           /* OS cpu -> OS node, -1 for unknown cpus */
    int nactive;
    int *active;             /* nidx -> OS node id, nearest-first order irrelevant */
    int *order;              /* [nactive*nactive]: for each nidx, the nidx of the
                                active nodes nearest first (itself first) */
    enum nslab_policy policy;
    int preferred;           /* active node of a PREFERRED policy, else -1 */
    int nlocal;              /* interleave set (nidx) when policy is INTERLEAVE */
    int *local_set;
};

#define NSLAB_DIST(t, a, b) ((t)->dist[(a) * ((t)->max_node + 1) + (b)])

/*
 * numa/topology.c
 *
 * nslab__topo_discover: this machine, through hwloc (node table, CPUs,
 * distances) and libnuma (mems_allowed, the start policy).  nodes is
 * NUMASLAB_NODES or NULL.  0, or a negative errno with a message on stderr
 * (-EINVAL: nodes is malformed; the message names the value).
 *
 * nslab__topo_from_xml: the same from an hwloc XML file and a given
 * allow set, for tests of the topology rules.
 *
 * nslab__topo_free: release what either one allocated.
 */
int nslab__topo_discover(struct nslab_topo *t, const char *nodes);
int nslab__topo_from_xml(struct nslab_topo *t, const char *xml_path,
                         const struct nslab_allow *allow);
void nslab__topo_free(struct nslab_topo *t);

/* Parse a node list "0,2-3" into mask.  0 or -EINVAL. */
int nslab__parse_nodelist(const char *s, uint64_t mask[NSLAB_MASK_WORDS]);

/*
 * numa/bind.c
 *
 * nslab__pages_map: size bytes (a multiple of the page size) of anonymous
 * memory bound to node with MPOL_BIND and strict placement, and faulted in
 * (MADV_POPULATE_WRITE) so that a node that has no free memory fails here
 * rather than at first touch.  NULL with errno ENOMEM (no memory on that
 * node, or the mapping failed) or EINVAL (the kernel refused the node).
 *
 * nslab__pages_unmap: give them back.
 *
 * nslab__page_node_kernel: the node the kernel says holds the page at p
 * (get_mempolicy(MPOL_F_NODE|MPOL_F_ADDR)), or a negative errno.
 *
 * nslab__cpu_current: the CPU the thread runs on (sched_getcpu), -1 if
 * unknown.
 */
void *nslab__pages_map(int node, size_t size);
void nslab__pages_unmap(void *p, size_t size);
int nslab__page_node_kernel(const void *p);
int nslab__cpu_current(void);
size_t nslab__page_size(void);

/*
 * nslab__cpu_fast: the current CPU read from the thread's rseq area
 * (glibc 2.35+), a few instructions; a value >= ncpu (never a valid CPU)
 * when rseq is not registered.  Callers then use nslab__cpu_current.
 */
#if defined(HAVE_RSEQ_OFFSET) && defined(__x86_64__)
#include <sys/rseq.h>
static inline unsigned nslab__cpu_fast(void)
{
    char *tp;
    __asm__("mov %%fs:0, %0" : "=r"(tp));
    /* cpu_id is written by the kernel on every migration of this thread;
     * only this thread reads it, so a plain volatile load suffices. */
    return *(volatile uint32_t *)(tp + __rseq_offset + offsetof(struct rseq, cpu_id));
}
static inline int nslab__cpu_fast_usable(void) { return __rseq_size > 0; }
#else
static inline unsigned nslab__cpu_fast(void) { return ~0u; }
static inline int nslab__cpu_fast_usable(void) { return 0; }
#endif

#endif /* NSLAB_NUMA_H */
