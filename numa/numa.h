/*
 * numa/numa.h - the OS boundary of numaslab, the bottom layer of
 * doc/design.md.
 *
 * numa/ is the only code that talks to hwloc, libnuma and the kernel's
 * NUMA calls.  lib/ asks it for five things and nothing else:
 *   - the node table (which nodes exist, have memory, are allowed, their
 *     distances and the nearest active node of each);
 *   - the node of the CPU the thread runs on;
 *   - chunks of pages bound (MPOL_BIND, strict) to one node, and their
 *     release;
 *   - the kernel's own answer to "which node holds this page" (for tests and
 *     the demo);
 *   - how much memory the kernel can still give, per node and under the
 *     process's memory cgroup (numa/memstate.c).
 *
 * Node ids here are OS node numbers.  "nidx" is a dense index 0..nactive-1
 * over the active nodes, used by lib/ to index per-node arrays.
 */
#ifndef NSLAB_NUMA_H
#define NSLAB_NUMA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * nslab_busy: non-zero while the calling thread runs inside numaslab: its
 * slow paths, its fork handlers, its discovery of the machine, after its
 * thread state was given back at exit.  The drop-in malloc (lib/malloc.c)
 * serves every malloc call made then from the C library's allocator, so
 * that the library's own memory (below), hwloc's and libnuma's
 * allocations and stdio's buffers never re-enter numaslab while it holds
 * a lock or is halfway through a change.  The native calls do not look
 * at it.
 *
 * nslab_dts: what the drop-in's fast paths take for the calling thread's
 * state: its own (nslab_tls) while it is not busy, the empty state while
 * it is, whose lists are all empty and which owns no slab, so that those
 * paths miss with no test of nslab_busy.  Kept so by the marks below and
 * wherever the thread's state changes (lib/core.c).
 */
struct nslab_tstate;
extern struct nslab_tstate nslab_empty_ts;

/* The thread's variables of the library, one thread-local block so that a
 * function reaches all of them through one address (lib/core.c). */
struct nslab_thread_vars {
    struct nslab_tstate *ts;  /* nslab_tls: its state, &nslab_empty_ts until it has one */
    struct nslab_tstate *dts; /* nslab_dts (above) */
    unsigned char busy;       /* nslab_busy (above) */
    unsigned char exited;     /* nslab_exited: its state was given back at its exit */
};
extern __thread struct nslab_thread_vars nslab_tv __attribute__((tls_model("initial-exec")));
#define nslab_tls    (nslab_tv.ts)
#define nslab_dts    (nslab_tv.dts)
#define nslab_busy   (nslab_tv.busy)
#define nslab_exited (nslab_tv.exited)

/* The library's own memory (its tables, threads' states, the statistics
 * segment's scratch), always from the C library's allocator, marked busy
 * for the drop-in.  lib/ and numa/ call these under the usual names.  The
 * compiler barriers keep the marks where they are: a compiler knows that
 * malloc touches no variable of the program, and would drop them. */
#define NSLAB_BARRIER() __asm__ __volatile__("" ::: "memory")
#define NSLAB_BUSY_ENTER()                                                                         \
    do {                                                                                           \
        nslab_busy++;                                                                              \
        nslab_dts = &nslab_empty_ts;                                                               \
        NSLAB_BARRIER();                                                                           \
    } while (0)
#define NSLAB_BUSY_LEAVE()                                                                         \
    do {                                                                                           \
        NSLAB_BARRIER();                                                                           \
        if (--nslab_busy == 0)                                                                     \
            nslab_dts = nslab_tls;                                                                 \
    } while (0)
/* The value of a call made busy. */
#define NSLAB_BUSY_CALL(call)                                                                      \
    __extension__({                                                                                \
        NSLAB_BUSY_ENTER();                                                                        \
        __typeof__(call) nslab_r_ = call;                                                          \
        NSLAB_BUSY_LEAVE();                                                                        \
        nslab_r_;                                                                                  \
    })
static inline void *nslab__sys_malloc(size_t n)
{
    return NSLAB_BUSY_CALL(malloc(n));
}
static inline void *nslab__sys_calloc(size_t n, size_t size)
{
    return NSLAB_BUSY_CALL(calloc(n, size));
}
static inline void *nslab__sys_realloc(void *old, size_t n)
{
    return NSLAB_BUSY_CALL(realloc(old, n));
}
static inline void *nslab__sys_aligned_alloc(size_t align, size_t n)
{
    return NSLAB_BUSY_CALL(aligned_alloc(align, n));
}
static inline void nslab__sys_free(void *p)
{
    NSLAB_BUSY_ENTER();
    free(p);
    NSLAB_BUSY_LEAVE();
}
#ifndef NSLAB_NO_SYS_ALLOC /* lib/malloc.c defines the real names */
#define malloc(n)           nslab__sys_malloc(n)
#define calloc(n, s)        nslab__sys_calloc((n), (s))
#define realloc(p, n)       nslab__sys_realloc((p), (n))
#define aligned_alloc(a, n) nslab__sys_aligned_alloc((a), (n))
#define free(p)             nslab__sys_free(p)
#endif

/* Memory policy the process started with (get_mempolicy at init). */
enum nslab_policy {
    NSLAB_POL_DEFAULT = 0,
    NSLAB_POL_BIND,
    NSLAB_POL_PREFERRED,
    NSLAB_POL_INTERLEAVE,
};

struct nslab_node {
    int present;     /* the node exists in the topology */
    int has_cpus;    /* at least one CPU */
    int allowed;     /* mems_allowed ∩ start policy ∩ NUMASLAB_NODES */
    int active;      /* present && memory > 0 && allowed */
    int nidx;        /* dense index when active, else -1 */
    int mem_node;    /* nearest active node (itself when active), -1 if none */
    uint64_t memory; /* bytes of local memory (0: memory-less) */
};

/*
 * What restricts the node set, gathered from the process (libnuma) or given
 * by a test.  Masks are bit n = node n, for nodes < 64*NSLAB_MASK_WORDS.
 */
#define NSLAB_MASK_WORDS 16 /* 1024 nodes */
struct nslab_allow {
    uint64_t mems_allowed[NSLAB_MASK_WORDS]; /* cpuset's mems_allowed */
    enum nslab_policy policy;
    uint64_t policy_mask[NSLAB_MASK_WORDS]; /* nodes of BIND / INTERLEAVE */
    int preferred;                          /* node of PREFERRED, else -1 */
    const char *nodes;                      /* NUMASLAB_NODES, or NULL */
    int nodes_cfg;                          /* nodes is numaslab_init's config field */
};

struct nslab_topo {
    int possible;            /* numa_num_possible_nodes(): ids must be below */
    int max_node;            /* highest present node id */
    struct nslab_node *node; /* [0..max_node] */
    int *dist;               /* [(max_node+1)^2], 0 where unknown */
    int ncpu;                /* size of cpu_node[] */
    int *cpu_node;           /* OS cpu -> OS node, -1 for unknown cpus */
    int nactive;
    int *active; /* nidx -> OS node id, nearest-first order irrelevant */
    int *order;  /* [nactive*nactive]: for each nidx, the nidx of the
                    active nodes nearest first (itself first) */
    enum nslab_policy policy;
    int preferred; /* active node of a PREFERRED policy, else -1 */
    int nlocal;    /* interleave set (nidx) when policy is INTERLEAVE */
    int *local_set;
    int simulated; /* the topology is not this machine's (an hwloc XML
                      file, HWLOC_XMLFILE): nothing is bound to its nodes */
};

#define NSLAB_DIST(t, a, b) ((t)->dist[(a) * ((t)->max_node + 1) + (b)])

/*
 * numa/topology.c
 *
 * nslab__topo_discover: this machine, through hwloc (node table, CPUs,
 * distances) and libnuma (mems_allowed, the start policy).  nodes is
 * NUMASLAB_NODES or NULL.  quiet_plugins: hwloc's plugins may be left
 * closed (numa/topology.c).  0, or a negative errno with a message on
 * stderr (-EINVAL: nodes is malformed; the message names the value).
 *
 * nslab__topo_from_xml: the same from an hwloc XML file and a given
 * allow set, for tests of the topology rules.
 *
 * nslab__topo_free: release what either one allocated.
 */
int nslab__topo_discover(struct nslab_topo *t, const char *nodes, int nodes_cfg, int quiet_plugins);
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
void *nslab__pages_map_aligned(int node, size_t size, size_t align, int huge);
int nslab__pages_advise_huge(void *p, size_t size);
void nslab__pages_unmap(void *p, size_t size);
/* Address space for size bytes (a page multiple) at a multiple of align,
 * nothing bound or faulted in: the target of nslab__pages_remap.  NULL
 * with errno EINVAL or ENOMEM. */
void *nslab__pages_reserve(size_t size, size_t align);
/* Move the mapping [p, p+size) into q (newsize bytes from
 * nslab__pages_reserve), where it is newsize long: the new part is bound
 * to node and faulted in first, then the old pages are remapped, not
 * copied.  0; or -ENOMEM / -EINVAL with q unmapped and p untouched. */
int nslab__pages_remap(int node, void *p, size_t size, void *q, size_t newsize, int huge);
/* Address space for size bytes at a multiple of align, readable but not
 * writable, neither charged against the commit limit (MAP_NORESERVE) nor
 * faulted in: reads see zeros.  The slab arena (lib/pages.c).  NULL with
 * errno EINVAL or ENOMEM. */
void *nslab__pages_reserve_lazy(size_t size, size_t align);
/* Make [p, p+size) of such a reservation writable (page-aligned) and kept
 * from transparent huge pages, nothing faulted in unless the process is
 * under mlockall: 0, or -ENOMEM (the
 * commit limit under strict overcommit, RLIMIT_DATA, the count of
 * mappings). */
int nslab__pages_open(void *p, size_t size);
/* Bind [p, p+size) (page-aligned) to node with MPOL_BIND, nothing faulted
 * in; nothing is bound on a simulated machine.  0, or -EINVAL (the kernel
 * refused the node) / -ENOMEM. */
int nslab__pages_bind(int node, void *p, size_t size);
/* Fault [p, p+size) in where its policy says: 0, or -ENOMEM. */
int nslab__pages_fill(void *p, size_t size);
/* Give the pages of [p, p+size) back to the system; the range stays
 * mapped and bound, and reads as zeros until written again.  0, or
 * -EINVAL when the kernel keeps them (the range is locked: mlock,
 * mlockall): they are zeroed instead. */
int nslab__pages_discard(void *p, size_t size);
int nslab__page_node_kernel(const void *p);
/* nslab__pages_simulate(1): the node table is a simulated machine's
 * (struct nslab_topo.simulated); from then on nothing is bound.  Called
 * before the first mapping. */
void nslab__pages_simulate(int on);
int nslab__cpu_current(void);
size_t nslab__page_size(void);

/*
 * numa/memstate.c: what the kernel can still give, per node and to this
 * process under its memory cgroup (the formulas at the top of the file).
 * Nothing is cached here; lib/headroom.c keeps the readings.
 *
 * nslab__node_mem_read: node's MemFree, file pages and reclaimable slab
 * from its meminfo (no allocation); node -1: the whole machine's, from
 * /proc/meminfo.  0, or -errno (-ENOENT: no such file,
 * a kernel without NUMA; -EINVAL: unparsable).
 * nslab__node_wmarks_read: the kernel's min / low / high watermarks of
 * every node up to max_node (its zones summed) from /proc/zoneinfo, into
 * w[0..max_node].  0 or -errno.
 * nslab__node_avail: bytes the node can still give, 0 at or below its
 * high watermark.  A reading of the whole machine goes with the sum of
 * every node's watermarks.
 * The _parse functions take the files' text, for tests.
 */
struct nslab_node_mem {
    uint64_t total;            /* MemTotal (0 when absent) */
    uint64_t free;             /* MemFree */
    uint64_t file;             /* Active(file) + Inactive(file) */
    uint64_t slab_reclaimable; /* SReclaimable */
};
struct nslab_node_wmark {
    uint64_t min, low, high; /* bytes */
};
int nslab__node_mem_read(int node, struct nslab_node_mem *m);
int nslab__node_meminfo_parse(const char *text, struct nslab_node_mem *m);
int nslab__node_wmarks_read(int max_node, struct nslab_node_wmark *w);
int nslab__zoneinfo_parse(FILE *f, int max_node, struct nslab_node_wmark *w);
uint64_t nslab__node_avail(const struct nslab_node_mem *m, const struct nslab_node_wmark *w);

/*
 * The memory cgroup: nslab__cgroup_find locates the process's own
 * directory (from /proc/self/cgroup and /proc/self/mountinfo; 0, -ENOENT
 * when there is no memory cgroup, or -errno); nslab__cgroup_locate does
 * the same from those files' text.  nslab__cgroup_read reads the limit,
 * the usage and the headroom (the tightest over the directory and its
 * ancestors up to the mount point, plus half the inactive file cache):
 * 0, or -errno when a file that exists could not be read (the figures
 * then hold what could be read).
 */
#define NSLAB_CG_PATH 512
struct nslab_cgroup {
    int version;             /* 0: none, 1 or 2 */
    size_t mnt_len;          /* dir[0..mnt_len) is the mount point */
    char dir[NSLAB_CG_PATH]; /* the process's own cgroup directory */
};
struct nslab_cg_reading {
    uint64_t limit;       /* the tightest limit, UINT64_MAX: none */
    uint64_t usage;       /* usage where that limit is set */
    uint64_t reclaimable; /* inactive file cache of the process's own cgroup */
    uint64_t headroom;    /* bytes that may still be charged, UINT64_MAX: no limit */
};
int nslab__cgroup_find(struct nslab_cgroup *cg);
int nslab__cgroup_locate(const char *proc_cgroup, const char *mountinfo, struct nslab_cgroup *cg);
int nslab__cgroup_read(const struct nslab_cgroup *cg, struct nslab_cg_reading *r);

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
static inline int nslab__cpu_fast_usable(void)
{
    return __rseq_size > 0;
}
#else
static inline unsigned nslab__cpu_fast(void)
{
    return ~0u;
}
static inline int nslab__cpu_fast_usable(void)
{
    return 0;
}
#endif

#endif /* NSLAB_NUMA_H */
