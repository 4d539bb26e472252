/*
 * numa/topology.c - the node table: which nodes exist, which are active,
 * how far apart they are, and which node each CPU belongs to.
 *
 * Two sources feed one builder (topo_build):
 *   - hwloc gives the shape: NUMA nodes by OS index, their memory, the PUs
 *     each node's cpuset covers, and the distance matrix.  Nothing here
 *     reads /sys itself.
 *   - libnuma and get_mempolicy give what this process may use (struct
 *     nslab_allow): the cpuset's mems_allowed and the memory policy it was
 *     started with.  Tests pass their own struct nslab_allow together with
 *     an hwloc XML file instead.
 *
 * Invariants of a built struct nslab_topo (t):
 *   node[n].active == present && memory > 0 && allowed
 *   0 <= node[n].nidx < nactive  <=>  node[n].active;  active[node[n].nidx] == n
 *   nidx follows increasing OS id: n < m, both active  =>  nidx(n) < nidx(m)
 *   node[n].active  =>  node[n].mem_node == n
 *   order[i*nactive + 0] == i, and distances are non-decreasing along a row
 *   max_node < possible
 *
 * No locks: the caller (lib/core.c) builds the table once under its init
 * lock and only reads it afterwards.
 */
#include "config.h"

#include "numa/numa.h"
#include "lib/bitmap.h"
#include "lib/parse.h"
#include "lib/statread.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>
#include <numa.h>
#include <numaif.h>

/* Node ids a mask of struct nslab_allow can name; a node beyond cannot be
 * allowed, bound or restricted, so it is left out of the table. */
#define MASK_BITS (64 * NSLAB_MASK_WORDS)

/* PU ids above this are ignored: a cpu_node[] of that size would be an XML
 * file's typo, not a machine (Linux's NR_CPUS tops out at 8192). */
#define MAX_CPU_IDS 65536

/* get_mempolicy ORs these flags into the mode; numaif.h of libnuma 2.0.16
 * lacks the first two. */
#ifndef MPOL_F_STATIC_NODES
#define MPOL_F_STATIC_NODES (1 << 15)
#endif
#ifndef MPOL_F_RELATIVE_NODES
#define MPOL_F_RELATIVE_NODES (1 << 14)
#endif
#ifndef MPOL_F_NUMA_BALANCING
#define MPOL_F_NUMA_BALANCING (1 << 13)
#endif
#define MODE_FLAGS (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING)

/* Newer kernels' modes; older headers lack them, the kernel may still
 * report them. */
#ifndef MPOL_PREFERRED_MANY
#define MPOL_PREFERRED_MANY 5
#endif
#ifndef MPOL_WEIGHTED_INTERLEAVE
#define MPOL_WEIGHTED_INTERLEAVE 6
#endif

/* Node masks are the library's bitmaps (lib/bitmap.h), of MASK_BITS bits;
 * an id beyond cannot be in one. */
static int mask_test(const nslab_bitmap_t *m, unsigned n)
{
    return n < MASK_BITS && nslab__bit_test(m, n);
}

static void mask_set(nslab_bitmap_t *m, unsigned n)
{
    if (n < MASK_BITS)
        nslab__bit_set(m, n);
}

/* ------------------------------------------------------------------------
 * Node lists
 * ---------------------------------------------------------------------- */

/* Grammar and errors: nslab_parse_nodelist (lib/parse.h), ids below
 * 64*NSLAB_MASK_WORDS.  0, or -EINVAL with mask untouched. */
int nslab__parse_nodelist(const char *s, uint64_t mask[NSLAB_MASK_WORDS])
{
    return nslab_parse_nodelist(s, MASK_BITS, mask);
}

/* ------------------------------------------------------------------------
 * hwloc
 * ---------------------------------------------------------------------- */

/*
 * hwloc's plugins.  hwloc opens every plugin of its plugin directory at the
 * first hwloc_topology_init of a process and closes them at the last
 * hwloc_topology_destroy.  Those a distribution ships are I/O discovery
 * (PCI, OpenCL, OpenGL, CUDA, NVML, ROCm SMI, Level Zero), which numaslab
 * filters out, and the libxml2 XML backend, whose work hwloc's own parser
 * does; opening them loads libxml2, ICU, libstdc++, libX11, libOpenCL and
 * more: on Debian 12 about 7.5 M instructions at the start of every
 * process numaslab serves, three quarters of what the drop-in adds to
 * the start of ls(1) (bench/RESULTS.md).  So numaslab names them in
 * hwloc's own HWLOC_PLUGINS_BLACKLIST, in the environment hwloc reads
 * while it loads numaslab's topology (topology_init_quiet), but only
 *   - when the user set none of hwloc's variables that choose plugins or
 *     components (HWLOC_PLUGINS_BLACKLIST, HWLOC_PLUGINS_PATH,
 *     HWLOC_COMPONENTS) or a topology (HWLOC_XMLFILE): those are theirs
 *     (lib/options.c reads them: nslab_options.hwloc_quiet);
 *   - when the process has one thread (/proc/self/stat): environ is not
 *     for swapping while another thread may read or change it.
 * A program that uses hwloc itself is not affected: its own first
 * topology opens the plugins again, the variable gone by then (or they
 * are open already, and numaslab's topology changes nothing).
 */
static const char quiet_plugins[] =
    "HWLOC_PLUGINS_BLACKLIST=hwloc_pci.so,hwloc_opencl.so,hwloc_gl.so,hwloc_cuda.so,"
    "hwloc_nvml.so,hwloc_rsmi.so,hwloc_levelzero.so,hwloc_xml_libxml.so";

/* 1 when /proc/self/stat says the process has one thread. */
static int single_threaded(void)
{
    long threads = 0;
    return nslab_proc_stat(0, NULL, &threads, NULL) == 0 && threads == 1;
}

extern char **environ;

/* hwloc_topology_init, with hwloc's plugins left closed when quiet (the
 * user set none of hwloc's variables: lib/options.c) and the process has
 * one thread (above).  The variable goes into a copy of the environment
 * that environ points to for the call, and environ is put back after it:
 * setenv and putenv are not used, because they take the C library's
 * environment lock, which the calling thread may hold already (the
 * drop-in starts numaslab inside whatever allocates first, setenv
 * included), and because they would leave environ a new array. */
static int topology_init_quiet(hwloc_topology_t *topo, int quiet)
{
    char **saved = environ, **env = NULL;
    if (quiet && single_threaded()) {
        size_t n = 0;
        while (saved && saved[n])
            n++;
        env = malloc((n + 2) * sizeof(*env));
        if (env) {
            env[0] = (char *)quiet_plugins; /* hwloc only reads it */
            if (n)
                memcpy(env + 1, saved, n * sizeof(*env));
            env[n + 1] = NULL;
            environ = env;
        }
    }
    int rc = hwloc_topology_init(topo);
    int e = errno;
    if (env) {
        environ = saved;
        free(env);
    }
    errno = e;
    return rc;
}

/* hwloc_open's flags: INCLUDE_DISALLOWED (below), and what hwloc need not
 * read, since numaslab reads nodes, PUs and distances only: memory
 * attributes and CPU kinds (hwloc 2.8 and later), which cost four reads
 * per node (its initiators' bandwidths and latencies) and three per CPU
 * (its frequencies and capacity). */
#if HWLOC_API_VERSION >= 0x00020800
#define OPEN_FLAGS                                                                                 \
    (HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED | HWLOC_TOPOLOGY_FLAG_NO_MEMATTRS |                    \
     HWLOC_TOPOLOGY_FLAG_NO_CPUKINDS)
#else
#define OPEN_FLAGS HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED
#endif

/*
 * A loaded hwloc topology of this system (xml == NULL) or of an XML file.
 * Disallowed nodes and PUs are kept (INCLUDE_DISALLOWED) because the allowed
 * set is ours to compute from libnuma: hwloc's own view of the cpuset would
 * otherwise drop nodes silently, and node ids must mean the same thing to
 * both.  Caches and I/O objects are filtered out: we read nodes, PUs and
 * distances only.  Cores, packages and groups stay: a node's cpuset is
 * that of the object it hangs from, and filtering those out moves a
 * memory-less or CPU-less node's memory up to a larger one.
 * The x86 backend is left out for the same reason and a better one: it runs
 * CPUID on every CPU by binding the calling thread to each in turn, and the
 * calling thread is the application's.  quiet: hwloc's plugins may be
 * left closed (above).
 * Returns 0 with *out loaded, or a negative errno with a message on stderr
 * (-ENOSYS: the hwloc library at run time is not the ABI we were built
 * against; anything else: hwloc could not load the topology).
 */
static int hwloc_open(hwloc_topology_t *out, const char *xml, int quiet)
{
    hwloc_topology_t topo;
    int rc;

    /* hwloc changes its ABI between major versions. */
    if ((hwloc_get_api_version() >> 16) != (HWLOC_API_VERSION >> 16)) {
        fprintf(stderr, "numaslab: hwloc API %#x at run time, built for %#x\n",
                hwloc_get_api_version(), (unsigned)HWLOC_API_VERSION);
        return -ENOSYS;
    }
    if (topology_init_quiet(&topo, quiet && !xml) != 0) {
        rc = errno > 0 ? -errno : -ENOMEM;
        fprintf(stderr, "numaslab: hwloc_topology_init failed\n");
        return rc;
    }
    /* Blacklisting may fail where the component does not exist (another
     * architecture); that is no error. */
#if HWLOC_API_VERSION >= 0x00020100
    (void)hwloc_topology_set_components(topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "x86");
#endif
    errno = 0;
    if (hwloc_topology_set_flags(topo, hwloc_topology_get_flags(topo) | OPEN_FLAGS) != 0 ||
        hwloc_topology_set_cache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE) != 0 ||
        hwloc_topology_set_icache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE) != 0 ||
        hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE) != 0 ||
        (xml && hwloc_topology_set_xml(topo, xml) != 0) || hwloc_topology_load(topo) != 0) {
        rc = errno > 0 ? -errno : -EINVAL;
        fprintf(stderr, "numaslab: cannot load the hwloc topology%s%s: %s\n", xml ? " from " : "",
                xml ? xml : "", strerror(-rc));
        hwloc_topology_destroy(topo);
        return rc;
    }
    *out = topo;
    return 0;
}

/*
 * Of two nodes whose cpusets hold the same PU, is a a better home for it
 * than b?  The kernel gives each CPU one node; hwloc gives a CPU-less memory
 * node (HBM, NVM, CXL, GPU memory) the cpuset of the CPUs near it, so such a
 * node, recognised by its subtype, loses to a plain one, then the lower id
 * wins (the kernel numbers the CPU nodes first).
 */
static int better_home(hwloc_obj_t a, hwloc_obj_t b)
{
    int sa = a->subtype && strcmp(a->subtype, "DRAM") != 0;
    int sb = b->subtype && strcmp(b->subtype, "DRAM") != 0;
    if (sa != sb)
        return sa < sb;
    return a->os_index < b->os_index;
}

/* Is obj a node the table can hold (a known OS index below MASK_BITS)? */
static int usable_node(hwloc_obj_t obj)
{
    return obj->os_index != HWLOC_UNKNOWN_INDEX && obj->os_index < MASK_BITS;
}

/*
 * Copy one hwloc NUMA distance matrix into t->dist, by OS index.  The
 * kernel's SLIT (FROM_OS, latency) is preferred; any latency matrix will
 * do; a bandwidth matrix would order nodes backwards, so it is never used.
 * Returns 1 when a matrix was copied, 0 when hwloc has none.
 */
static int copy_distances(struct nslab_topo *t, hwloc_topology_t topo)
{
    static const unsigned long kinds[] = {
        HWLOC_DISTANCES_KIND_FROM_OS | HWLOC_DISTANCES_KIND_MEANS_LATENCY,
        HWLOC_DISTANCES_KIND_MEANS_LATENCY,
    };
    int dim = t->max_node + 1;

    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        struct hwloc_distances_s *d = NULL;
        unsigned nr = 1;
        if (hwloc_distances_get_by_type(topo, HWLOC_OBJ_NUMANODE, &nr, &d, kinds[k], 0) != 0 ||
            nr == 0 || !d)
            continue;
        for (unsigned i = 0; i < d->nbobjs; i++) {
            hwloc_obj_t a = d->objs[i];
            if (!a || !usable_node(a))
                continue;
            for (unsigned j = 0; j < d->nbobjs; j++) {
                hwloc_obj_t b = d->objs[j];
                if (!b || !usable_node(b))
                    continue;
                uint64_t v = d->values[(size_t)i * d->nbobjs + j];
                t->dist[(size_t)a->os_index * (size_t)dim + b->os_index] =
                    v > INT_MAX ? INT_MAX : (int)v;
            }
        }
        hwloc_distances_release(topo, d);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The builder
 * ---------------------------------------------------------------------- */

/* Sort key of node b seen from node a: itself first, unknown (0) distances
 * after every known one. */
static unsigned dist_key(const struct nslab_topo *t, int a, int b)
{
    if (a == b)
        return 0;
    int d = NSLAB_DIST(t, a, b);
    return d > 0 ? (unsigned)d : UINT_MAX;
}

static int cmp_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

/* Is node n allowed, before NUMASLAB_NODES (nodes == NULL) or after it? */
static int allowed_by(const struct nslab_allow *allow, const uint64_t *nodes, unsigned n)
{
    if (!mask_test(allow->mems_allowed, n))
        return 0;
    if ((allow->policy == NSLAB_POL_BIND || allow->policy == NSLAB_POL_INTERLEAVE) &&
        !mask_test(allow->policy_mask, n))
        return 0;
    return !nodes || mask_test(nodes, n);
}

/* How many nodes would be active with the given NUMASLAB_NODES mask. */
static int count_active(const struct nslab_topo *t, const struct nslab_allow *allow,
                        const uint64_t *nodes)
{
    int c = 0;
    for (int n = 0; n <= t->max_node; n++)
        c += t->node[n].present && t->node[n].memory > 0 && allowed_by(allow, nodes, (unsigned)n);
    return c;
}

/*
 * Apply NUMASLAB_NODES: the mask to restrict with, or NULL for none.  A
 * malformed value or one that leaves no active node is reported on stderr
 * and ignored; *rc becomes -EINVAL for the malformed one, so that the caller
 * can tell a mistyped variable from an unusable one.
 */
static const uint64_t *nodes_filter(const struct nslab_topo *t, const struct nslab_allow *allow,
                                    uint64_t mask[NSLAB_MASK_WORDS], int *rc)
{
    if (!allow->nodes)
        return NULL;
    /* Named as the caller gave it: the variable, or numaslab_init's field
     * (which fails the call when malformed, numaslab(3)). */
    const char *name = allow->nodes_cfg ? "numaslab_init: nodes" : "numaslab: NUMASLAB_NODES";
    if (nslab__parse_nodelist(allow->nodes, mask) != 0) {
        fprintf(stderr, "%s=\"%s\" is not a node list (e.g. 0,2-3)%s\n", name, allow->nodes,
                allow->nodes_cfg ? "" : "; ignored");
        *rc = -EINVAL;
        return NULL;
    }
    /* Only when the restriction itself empties the set: if nothing is
     * active even without it, the caller reports that, not us. */
    if (count_active(t, allow, mask) == 0 && count_active(t, allow, NULL) > 0) {
        fprintf(stderr, "%s=\"%s\" leaves no active node; ignored\n", name, allow->nodes);
        return NULL;
    }
    return mask;
}

/*
 * Fill t from a loaded hwloc topology and an allow set.  Returns 0, or
 * -EINVAL when allow->nodes is malformed (reported; the table is built as
 * if it were NULL), with t filled in both cases; or -ENOMEM / -ENODEV (hwloc
 * shows no usable NUMA node) with t zeroed.  nactive may be 0 (nothing
 * allowed has memory): the caller decides what that means.
 */
static int topo_build(struct nslab_topo *t, hwloc_topology_t topo, const struct nslab_allow *allow)
{
    hwloc_obj_t obj;
    int rc = 0;

    memset(t, 0, sizeof(*t));
    t->max_node = -1;
    t->preferred = -1;

    obj = NULL;
    while ((obj = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, obj)))
        if (usable_node(obj) && (int)obj->os_index > t->max_node)
            t->max_node = (int)obj->os_index;
    if (t->max_node < 0) {
        memset(t, 0, sizeof(*t));
        return -ENODEV;
    }
    int dim = t->max_node + 1;

    /* libnuma's count is what the kernel may ever name; lib/ sizes its
     * per-node tables with it, so it must also cover what hwloc shows
     * (an XML file of a larger machine). */
    t->possible = numa_available() >= 0 ? numa_num_possible_nodes() : MASK_BITS;
    if (t->possible < dim)
        t->possible = dim;

    int maxcpu = -1;
    obj = NULL;
    while ((obj = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PU, obj)))
        if (obj->os_index != HWLOC_UNKNOWN_INDEX && obj->os_index < MAX_CPU_IDS &&
            (int)obj->os_index > maxcpu)
            maxcpu = (int)obj->os_index;
    t->ncpu = maxcpu + 1;

    t->node = calloc((size_t)dim, sizeof(*t->node));
    t->dist = calloc((size_t)dim * (size_t)dim, sizeof(*t->dist));
    t->cpu_node = malloc((size_t)(t->ncpu ? t->ncpu : 1) * sizeof(*t->cpu_node));
    hwloc_obj_t *home = calloc((size_t)(t->ncpu ? t->ncpu : 1), sizeof(*home));
    if (!t->node || !t->dist || !t->cpu_node || !home) {
        free(home);
        nslab__topo_free(t);
        return -ENOMEM;
    }
    for (int n = 0; n < dim; n++) {
        t->node[n].nidx = -1;
        t->node[n].mem_node = -1;
    }

    /* Nodes and the home node of each PU. */
    obj = NULL;
    while ((obj = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, obj))) {
        if (!usable_node(obj) || t->node[obj->os_index].present)
            continue;
        struct nslab_node *nd = &t->node[obj->os_index];
        nd->present = 1;
        nd->memory = obj->attr ? obj->attr->numanode.local_memory : 0;
        if (!obj->cpuset)
            continue;
        unsigned cpu;
        hwloc_bitmap_foreach_begin(cpu, obj->cpuset)
        {
            if (cpu >= (unsigned)t->ncpu)
                break; /* the bitmap is sorted; the rest is out of range too */
            if (!home[cpu] || better_home(obj, home[cpu]))
                home[cpu] = obj;
        }
        hwloc_bitmap_foreach_end();
    }
    for (int c = 0; c < t->ncpu; c++) {
        t->cpu_node[c] = home[c] ? (int)home[c]->os_index : -1;
        if (home[c])
            t->node[home[c]->os_index].has_cpus = 1;
    }
    free(home);

    /* Distances; with no matrix at all every other node is equally far
     * (the kernel's LOCAL_DISTANCE and REMOTE_DISTANCE). */
    if (!copy_distances(t, topo))
        for (int a = 0; a < dim; a++)
            for (int b = 0; b < dim; b++)
                if (t->node[a].present && t->node[b].present)
                    NSLAB_DIST(t, a, b) = a == b ? 10 : 20;

    /* The allowed set, then the active nodes in increasing id order. */
    uint64_t nodes_mask[NSLAB_MASK_WORDS];
    const uint64_t *nodes = nodes_filter(t, allow, nodes_mask, &rc);
    for (int n = 0; n < dim; n++) {
        struct nslab_node *nd = &t->node[n];
        nd->allowed = nd->present && allowed_by(allow, nodes, (unsigned)n);
        nd->active = nd->allowed && nd->memory > 0;
        if (nd->active)
            nd->nidx = t->nactive++;
    }
    if (t->nactive > 0) {
        t->active = malloc((size_t)t->nactive * sizeof(*t->active));
        t->order = malloc((size_t)t->nactive * (size_t)t->nactive * sizeof(*t->order));
        if (!t->active || !t->order) {
            nslab__topo_free(t);
            return -ENOMEM;
        }
    }
    for (int n = 0; n < dim; n++)
        if (t->node[n].active)
            t->active[t->node[n].nidx] = n;

    /* Nearest active node of every present node: itself when active,
     * else the kernel's numa_mem_id() rule; ties go to the lower id. */
    for (int n = 0; n < dim; n++) {
        if (!t->node[n].present)
            continue;
        int best = -1;
        for (int i = 0; i < t->nactive; i++) {
            int m = t->active[i]; /* increasing id: '<' keeps the lower on a tie */
            if (best < 0 || dist_key(t, n, m) < dist_key(t, n, best))
                best = m;
        }
        t->node[n].mem_node = best;
    }

    /* Fallback order of each active node: (distance, id) packed into one
     * key so that a plain qsort does it. */
    if (t->nactive > 0) {
        uint64_t *keys = malloc((size_t)t->nactive * sizeof(*keys));
        if (!keys) {
            nslab__topo_free(t);
            return -ENOMEM;
        }
        for (int i = 0; i < t->nactive; i++) {
            int a = t->active[i];
            for (int j = 0; j < t->nactive; j++)
                keys[j] = (uint64_t)dist_key(t, a, t->active[j]) << 32 | (uint32_t)t->active[j];
            qsort(keys, (size_t)t->nactive, sizeof(*keys), cmp_u64);
            for (int j = 0; j < t->nactive; j++)
                t->order[i * t->nactive + j] = t->node[(uint32_t)keys[j]].nidx;
        }
        free(keys);
    }

    /* The start policy as lib/ uses it. */
    t->policy = allow->policy;
    if (allow->policy == NSLAB_POL_PREFERRED && allow->preferred >= 0 &&
        allow->preferred <= t->max_node && t->node[allow->preferred].active)
        t->preferred = allow->preferred;
    if (allow->policy == NSLAB_POL_INTERLEAVE && t->nactive > 0) {
        t->local_set = malloc((size_t)t->nactive * sizeof(*t->local_set));
        if (!t->local_set) {
            nslab__topo_free(t);
            return -ENOMEM;
        }
        /* Every active node is in the mask already (allowed_by); this
         * states the rule rather than relying on it. */
        for (int i = 0; i < t->nactive; i++)
            if (mask_test(allow->policy_mask, (unsigned)t->active[i]))
                t->local_set[t->nlocal++] = i;
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * The process's allow set (libnuma, get_mempolicy)
 * ---------------------------------------------------------------------- */

/* Copy a libnuma bitmask into a mask of struct nslab_allow: word by word
 * through its public layout (numa.h), its set bits only.  (A call of
 * numa_bitmask_isbitset per possible node cost 28 K instructions a mask
 * at the start of every process.) */
static void from_bitmask(uint64_t *m, const struct bitmask *bm)
{
    const unsigned per = sizeof(unsigned long) * CHAR_BIT;
    unsigned bits = bm->size < MASK_BITS ? (unsigned)bm->size : MASK_BITS;
    memset(m, 0, sizeof(uint64_t) * NSLAB_MASK_WORDS);
    for (unsigned n = 0; n < bits; n += per) {
        unsigned long w = bm->maskp[n / per];
        if (bits - n < per)
            w &= (1ul << (bits - n)) - 1;
        for (; w; w &= w - 1)
            mask_set(m, n + (unsigned)__builtin_ctzl(w));
    }
}

/*
 * A MPOL_F_RELATIVE_NODES mask names nodes by rank inside mems_allowed, and
 * get_mempolicy hands it back as given; map it to OS ids the way the kernel
 * does (mpol_relative_nodemask: fold modulo the weight of mems_allowed,
 * then bit k means the k-th allowed node).
 */
static void relative_to_os(uint64_t *m, const uint64_t *mems)
{
    unsigned ids[MASK_BITS], w = 0;
    uint64_t out[NSLAB_MASK_WORDS] = {0};
    for (unsigned n = 0; n < MASK_BITS; n++)
        if (mask_test(mems, n))
            ids[w++] = n;
    if (w == 0)
        return;
    for (unsigned k = 0; k < MASK_BITS; k++)
        if (mask_test(m, k))
            mask_set(out, ids[k % w]);
    memcpy(m, out, sizeof(out));
}

/* Lowest node in m, or -1. */
static int mask_first(const nslab_bitmap_t *m)
{
    unsigned n = nslab__bit_next(m, 0, MASK_BITS);
    return n < MASK_BITS ? (int)n : -1;
}

/* No node allowed yet, the DEFAULT policy, nodes as NUMASLAB_NODES. */
static void allow_default(struct nslab_allow *a, const char *nodes)
{
    memset(a, 0, sizeof(*a));
    a->policy = NSLAB_POL_DEFAULT;
    a->preferred = -1;
    a->nodes = nodes;
}

/*
 * What restricts this process: mems_allowed and the calling thread's memory
 * policy (at init, the policy the process was started with, as numactl sets
 * it).  Without libnuma (a kernel without NUMA) everything is allowed and
 * the policy is DEFAULT.  Cannot fail.
 */
static void gather_allow(struct nslab_allow *a, const char *nodes)
{
    allow_default(a, nodes);
    memset(a->mems_allowed, 0xff, sizeof(a->mems_allowed));
    if (numa_available() < 0)
        return;

    struct bitmask *bm = numa_get_mems_allowed();
    if (bm) {
        uint64_t m[NSLAB_MASK_WORDS];
        from_bitmask(m, bm);
        /* A process always has some memory; an empty mask means the query
         * failed, and then the kernel is the one to refuse nodes. */
        if (mask_first(m) >= 0)
            memcpy(a->mems_allowed, m, sizeof(m));
        numa_bitmask_free(bm);
    }

    bm = numa_allocate_nodemask();
    if (!bm)
        return;
    int mode = MPOL_DEFAULT;
    /* size + 1: the kernel's maxnode counts one past the last bit, as
     * libnuma's own calls do. */
    if (get_mempolicy(&mode, bm->maskp, bm->size + 1, NULL, 0) != 0) {
        numa_bitmask_free(bm);
        return;
    }
    from_bitmask(a->policy_mask, bm);
    numa_bitmask_free(bm);
    if (mode & MPOL_F_RELATIVE_NODES)
        relative_to_os(a->policy_mask, a->mems_allowed);
    switch (mode & ~MODE_FLAGS) {
    case MPOL_BIND:
        a->policy = NSLAB_POL_BIND;
        break;
    case MPOL_INTERLEAVE:
    case MPOL_WEIGHTED_INTERLEAVE:
        a->policy = NSLAB_POL_INTERLEAVE;
        break;
    case MPOL_PREFERRED:
    case MPOL_PREFERRED_MANY:
        /* An empty mask is "preferred local", i.e. the default.  Of several
         * preferred nodes (PREFERRED_MANY) the kernel takes the one nearest
         * the allocating CPU; lib/ has room for one, the lowest. */
        a->preferred = mask_first(a->policy_mask);
        a->policy = a->preferred >= 0 ? NSLAB_POL_PREFERRED : NSLAB_POL_DEFAULT;
        break;
    default: /* MPOL_DEFAULT, MPOL_LOCAL, modes we do not know */
        break;
    }
}

/*
 * The allow set of a simulated machine (a topology that is not this
 * system's, numaslab(7), SIMULATED MACHINES): the file's own allowed
 * nodes, the DEFAULT policy.  This process's mems_allowed and memory policy
 * name this machine's nodes, not the file's, so they do not apply; a
 * NUMASLAB_NODES list still does.
 */
static void simulated_allow(struct nslab_allow *a, hwloc_topology_t topo, const char *nodes)
{
    allow_default(a, nodes);
    hwloc_const_nodeset_t allowed = hwloc_topology_get_allowed_nodeset(topo);
    unsigned n;
    hwloc_bitmap_foreach_begin(n, allowed)
    {
        if (n >= MASK_BITS)
            break;
        mask_set(a->mems_allowed, n);
    }
    hwloc_bitmap_foreach_end();
}

/* ------------------------------------------------------------------------
 * Entry points
 * ---------------------------------------------------------------------- */

/*
 * This machine.  nodes_cfg: nodes is numaslab_init's field, not the
 * variable (the messages name it so).  Returns 0; -EINVAL when nodes is
 * malformed, reported on stderr, with t filled as if it were NULL; or
 * another negative errno (hwloc failed, -ENOMEM) with t zeroed.  Either way
 * nslab__topo_free(t) is safe.  Not thread-safe with itself (hwloc and
 * libnuma are, but t is written).
 */
int nslab__topo_discover(struct nslab_topo *t, const char *nodes, int nodes_cfg, int quiet_plugins)
{
    struct nslab_allow allow;
    hwloc_topology_t topo = NULL;
    int rc;

    memset(t, 0, sizeof(*t));
    /* hwloc itself honours HWLOC_XMLFILE (and its other backends'
     * variables): the topology may be another machine's. */
    rc = hwloc_open(&topo, NULL, quiet_plugins);
    if (rc)
        return rc;
    int simulated = !hwloc_topology_is_thissystem(topo);
    if (simulated)
        simulated_allow(&allow, topo, nodes);
    else
        gather_allow(&allow, nodes);
    allow.nodes_cfg = nodes_cfg;
    rc = topo_build(t, topo, &allow);
    hwloc_topology_destroy(topo);
    if (t->node)
        t->simulated = simulated;
    return rc;
}

/*
 * An hwloc XML file with the caller's allow set (tests).  Returns as
 * nslab__topo_discover; a file hwloc cannot read gives its errno (usually
 * -EINVAL or -ENOENT), with a message.
 */
int nslab__topo_from_xml(struct nslab_topo *t, const char *xml_path,
                         const struct nslab_allow *allow)
{
    hwloc_topology_t topo = NULL;
    int rc;

    memset(t, 0, sizeof(*t));
    if (!xml_path || !allow)
        return -EINVAL;
    rc = hwloc_open(&topo, xml_path, 0);
    if (rc)
        return rc;
    rc = topo_build(t, topo, allow);
    hwloc_topology_destroy(topo);
    return rc;
}

/* Free what a build allocated and zero t; a zeroed t is fine too. */
void nslab__topo_free(struct nslab_topo *t)
{
    free(t->node);
    free(t->dist);
    free(t->cpu_node);
    free(t->active);
    free(t->order);
    free(t->local_set);
    memset(t, 0, sizeof(*t));
}
