/*
 * tests/test-topology.c - the node-table rules of numa/topology.c on hwloc
 * XML files of machines we do not have, then discovery and page binding
 * (numa/bind.c) on this one.
 *
 * Data, in tests/data:
 *   guest-mixed.xml  the 4-node QEMU guest of numa-vm (hwloc export): node 2
 *                    memory-less with CPU 3, node 3 CPU-less, SLIT
 *                    0-1 20, 0-2 20, 0-3 30, 1-2 15, 1-3 30, 2-3 30.
 *   two-nodes.xml    2 nodes of 2 CPUs, 1 GB each, no distance matrix (so
 *                    the 10/20 fallback applies).
 *   sparse.xml       nodes 0, 4, 6 (memory-less, CPUs 4-5), 9 (2 GB, CPUs
 *                    16-17); SLIT 0-4 20, 0-6 30, 0-9 30, 4-6 21, 4-9 25,
 *                    6-9 21; hwloc's allowed_nodeset leaves node 4 out, which
 *                    must not hide it (we compute the allowed set).  Node 1
 *                    is an HBM node (subtype) beside node 4, sharing its
 *                    cpuset as hwloc shows CPU-less memory, and missing from
 *                    the distance matrix.
 *
 * The host part needs libnuma and expects nothing of the machine beyond
 * what libnuma itself reports, so it also runs in the multi-node guest.
 *
 * One line per check, naming its case (tests/testutil.h).  Exit 0: all
 * passed; 1: a check failed; 99: the test could not run (data missing, no
 * temp file).
 */
#include "config.h"

#include "numa/numa.h"
#include "tests/testutil.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <numa.h>
#include <numaif.h>

#define MASK_BITS   (64 * NSLAB_MASK_WORDS)
#define MSG_BAD(v)  "numaslab: NUMASLAB_NODES=\"" v "\" is not a node list (e.g. 0,2-3); ignored\n"
#define MSG_NONE(v) "numaslab: NUMASLAB_NODES=\"" v "\" leaves no active node; ignored\n"

/* A check of tests/testutil.h, which names its case. */
#define check(ok, ...) ((void)CHECK(ok, __VA_ARGS__))

/* got[0..n) == want[0..n), printing both on a failure; n < 0 fails (the
 * caller found the sizes differ). */
static void check_ints(const char *what, const int *got, const int *want, int n)
{
    int ok = n >= 0 && (got != NULL || n == 0);
    for (int i = 0; ok && i < n; i++)
        ok = got[i] == want[i];
    if (ok) {
        check(1, "%s", what);
        return;
    }
    char g[256] = "", w[256] = "";
    for (int i = 0; i < n && got; i++)
        snprintf(g + strlen(g), sizeof(g) - strlen(g), "%s%d", i ? "," : "", got[i]);
    for (int i = 0; i < n; i++)
        snprintf(w + strlen(w), sizeof(w) - strlen(w), "%s%d", i ? "," : "", want[i]);
    check(0, "%s: got {%s}, want {%s}", what, got ? g : "NULL", w);
}

static void hard_error(const char *what)
{
    fprintf(stderr, "test-topology: %s\n", what);
    exit(99);
}

/* ------------------------------------------------------------------------
 * stderr capture: the messages are part of the contract.
 * ---------------------------------------------------------------------- */
static FILE *cap_file;
static int cap_saved = -1;
static char cap_buf[4096];

static void cap_begin(void)
{
    fflush(stderr);
    if (ftruncate(fileno(cap_file), 0) != 0 || lseek(fileno(cap_file), 0, SEEK_SET) < 0)
        hard_error("cannot reset the capture file");
    cap_saved = dup(2);
    if (cap_saved < 0 || dup2(fileno(cap_file), 2) < 0)
        hard_error("cannot redirect stderr");
}

/* What was written to stderr since cap_begin. */
static const char *cap_end(void)
{
    fflush(stderr);
    dup2(cap_saved, 2);
    close(cap_saved);
    cap_saved = -1;
    ssize_t n = pread(fileno(cap_file), cap_buf, sizeof(cap_buf) - 1, 0);
    cap_buf[n > 0 ? n : 0] = '\0';
    return cap_buf;
}

/* msg on one line, for printing ("\\n" for newlines). */
static const char *shown(const char *msg)
{
    static char buf[sizeof(cap_buf) * 2];
    size_t o = 0;
    for (; *msg && o + 3 < sizeof(buf); msg++) {
        if (*msg == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else {
            buf[o++] = *msg;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */
static const char *argv0; /* for tu_data_path */

/* Mask of the listed nodes, list ended by -1. */
static void mask_of(uint64_t m[NSLAB_MASK_WORDS], ...)
{
    va_list ap;
    memset(m, 0, sizeof(uint64_t) * NSLAB_MASK_WORDS);
    va_start(ap, m);
    for (int n = va_arg(ap, int); n >= 0; n = va_arg(ap, int))
        m[n / 64] |= UINT64_C(1) << (n % 64);
    va_end(ap);
}

/* Everything allowed, default policy, no NUMASLAB_NODES. */
static void allow_all(struct nslab_allow *a)
{
    memset(a, 0, sizeof(*a));
    memset(a->mems_allowed, 0xff, sizeof(a->mems_allowed));
    a->policy = NSLAB_POL_DEFAULT;
    a->preferred = -1;
    a->nodes = NULL;
}

/* Load tests/data/<name> with allow; returns the rc, stderr in *msg. */
static int load(struct nslab_topo *t, const char *name, const struct nslab_allow *allow,
                const char **msg)
{
    char path[PATH_MAX + 64];
    tu_data_path(argv0, name, path, sizeof(path));
    cap_begin();
    int rc = nslab__topo_from_xml(t, path, allow);
    *msg = cap_end();
    return rc;
}

/* The OS ids of the active nodes, in nidx order, into out (size n). */
static int active_ids(const struct nslab_topo *t, int *out, int n)
{
    for (int i = 0; i < n && i < t->nactive; i++)
        out[i] = t->active[i];
    return t->nactive;
}

/* order[] row of OS node id, as OS ids. */
static void order_row(const struct nslab_topo *t, int id, int *out)
{
    int i = t->node[id].nidx;
    for (int j = 0; j < t->nactive; j++)
        out[j] = t->active[t->order[i * t->nactive + j]];
}

/* ------------------------------------------------------------------------
 * nslab__parse_nodelist
 * ---------------------------------------------------------------------- */
static void test_parse(void)
{
    tu_case("node lists");
    uint64_t m[NSLAB_MASK_WORDS], want[NSLAB_MASK_WORDS];

    mask_of(want, 0, 2, 3, -1);
    check(nslab__parse_nodelist("0,2-3", m) == 0 && memcmp(m, want, sizeof(m)) == 0,
          "parse: \"0,2-3\" is {0,2,3}");
    mask_of(want, 5, 1023, -1);
    check(nslab__parse_nodelist("1023,5-5", m) == 0 && memcmp(m, want, sizeof(m)) == 0,
          "parse: \"1023,5-5\" is {5,1023}");
    memset(want, 0xff, sizeof(want));
    check(nslab__parse_nodelist("0-1023", m) == 0 && memcmp(m, want, sizeof(m)) == 0,
          "parse: \"0-1023\" is every node");

    static const char *const bad[] = {
        "",
        "a",
        "1,",
        ",1",
        "1,,2",
        "3-2",
        "1-",
        "-1",
        " 1",
        "1 ",
        "1024",
        "0-1024",
        "1--2",
        "0x1",
        "+1",
        "1;2",
        "99999999999999999999",
        "1-2-3",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(m, 0xa5, sizeof(m));
        memcpy(want, m, sizeof(m));
        int rc = nslab__parse_nodelist(bad[i], m);
        check(rc == -EINVAL && memcmp(m, want, sizeof(m)) == 0,
              "parse: \"%s\" is -EINVAL and leaves the mask alone (rc %d)", bad[i], rc);
    }
    check(nslab__parse_nodelist(NULL, m) == -EINVAL, "parse: NULL is -EINVAL");
}

/* ------------------------------------------------------------------------
 * guest-mixed.xml
 * ---------------------------------------------------------------------- */
static void test_mixed(void)
{
    tu_case("guest-mixed.xml: memory-less and CPU-less nodes");
    struct nslab_topo t;
    struct nslab_allow a;
    const char *msg;
    int rc, ids[8], row[8];

    allow_all(&a);
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == 0 && msg[0] == '\0', "mixed: loads, rc 0, silent (rc %d)", rc);
    if (rc != 0)
        return;
    check(t.max_node == 3, "mixed: max_node 3 (got %d)", t.max_node);
    check(t.node[0].present && t.node[1].present && t.node[2].present && t.node[3].present,
          "mixed: 4 nodes present");
    check(numa_available() < 0 ? t.possible == MASK_BITS : t.possible == numa_num_possible_nodes(),
          "mixed: possible is libnuma's count (got %d)", t.possible);
    check(t.node[0].memory == 526733312 && t.node[1].memory == 263806976 && t.node[2].memory == 0 &&
              t.node[3].memory == 217092096,
          "mixed: memory from hwloc local_memory");
    check(t.node[0].has_cpus && t.node[1].has_cpus && t.node[2].has_cpus && !t.node[3].has_cpus,
          "mixed: nodes 0-2 have CPUs, node 3 is CPU-less");
    check(!t.node[2].active && t.node[2].allowed && t.node[2].nidx == -1 && t.node[2].mem_node == 1,
          "mixed: memory-less node 2 inactive, nidx -1, mem_node 1 (got %d, %d, %d)",
          t.node[2].active, t.node[2].nidx, t.node[2].mem_node);
    check(t.node[3].active && t.node[3].mem_node == 3,
          "mixed: CPU-less node 3 active, its own mem_node");
    check(t.node[0].mem_node == 0 && t.node[1].mem_node == 1,
          "mixed: active nodes are their own mem_node");
    check(t.nactive == 3, "mixed: 3 active nodes (got %d)", t.nactive);
    check_ints("mixed: active[] is {0,1,3}", ids, (int[]){0, 1, 3},
               active_ids(&t, ids, 8) == 3 ? 3 : -1);
    check_ints("mixed: nidx {0,1,-1,2}",
               (int[]){t.node[0].nidx, t.node[1].nidx, t.node[2].nidx, t.node[3].nidx},
               (int[]){0, 1, -1, 2}, 4);
    check(t.ncpu == 4, "mixed: ncpu 4 (got %d)", t.ncpu);
    check_ints("mixed: cpu_node {0,0,1,2} (CPU 3 on memory-less node 2)", t.cpu_node,
               (int[]){0, 0, 1, 2}, t.ncpu == 4 ? 4 : -1);
    check_ints("mixed: distances as in the XML", t.dist,
               (int[]){10, 20, 20, 30, 20, 10, 15, 30, 20, 15, 10, 30, 30, 30, 30, 10}, 16);
    order_row(&t, 0, row);
    check_ints("mixed: order of node 0 is 0,1,3", row, (int[]){0, 1, 3}, 3);
    order_row(&t, 1, row);
    check_ints("mixed: order of node 1 is 1,0,3", row, (int[]){1, 0, 3}, 3);
    order_row(&t, 3, row);
    check_ints("mixed: order of node 3 is 3,0,1 (tie 30/30 to the lower id)", row, (int[]){3, 0, 1},
               3);
    check(t.policy == NSLAB_POL_DEFAULT && t.preferred == -1 && t.nlocal == 0,
          "mixed: default policy, no preferred node, no interleave set");
    nslab__topo_free(&t);
    check(t.node == NULL && t.dist == NULL && t.active == NULL && t.nactive == 0,
          "mixed: topo_free zeroes the table");

    /* numactl --membind=1,3 */
    allow_all(&a);
    a.policy = NSLAB_POL_BIND;
    mask_of(a.policy_mask, 1, 3, -1);
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == 0 && t.nactive == 2 && t.node[1].active && t.node[3].active && !t.node[0].active &&
              !t.node[0].allowed,
          "bind {1,3}: only nodes 1 and 3 active (rc %d, nactive %d)", rc, t.nactive);
    check(t.policy == NSLAB_POL_BIND && t.node[1].nidx == 0 && t.node[3].nidx == 1,
          "bind {1,3}: policy BIND, nidx dense (1->0, 3->1)");
    check(t.node[0].mem_node == 1 && t.node[2].mem_node == 1,
          "bind {1,3}: nodes 0 and 2 fall back to node 1 (got %d, %d)", t.node[0].mem_node,
          t.node[2].mem_node);
    order_row(&t, 3, row);
    check_ints("bind {1,3}: order of node 3 is 3,1", row, (int[]){3, 1}, 2);
    nslab__topo_free(&t);

    /* numactl --preferred=1, then a preferred node without memory */
    allow_all(&a);
    a.policy = NSLAB_POL_PREFERRED;
    a.preferred = 1;
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == 0 && t.policy == NSLAB_POL_PREFERRED && t.preferred == 1 && t.nactive == 3,
          "preferred 1: preferred 1, all 3 memory nodes still active (got %d, %d)", t.preferred,
          t.nactive);
    nslab__topo_free(&t);
    a.preferred = 2;
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == 0 && t.preferred == -1, "preferred 2 (memory-less): no preferred node (got %d)",
          t.preferred);
    nslab__topo_free(&t);

    /* numactl --interleave=0,1 and =1,3 */
    allow_all(&a);
    a.policy = NSLAB_POL_INTERLEAVE;
    mask_of(a.policy_mask, 0, 1, -1);
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == 0 && t.policy == NSLAB_POL_INTERLEAVE && t.nactive == 2 && !t.node[3].active,
          "interleave {0,1}: nodes 0 and 1 active, 3 not");
    check_ints("interleave {0,1}: local_set is nidx {0,1}", t.local_set, (int[]){0, 1},
               t.nlocal == 2 ? 2 : -1);
    nslab__topo_free(&t);
    mask_of(a.policy_mask, 1, 3, -1);
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == 0 && t.nlocal == 2 && t.local_set && t.active[t.local_set[0]] == 1 &&
              t.active[t.local_set[1]] == 3,
          "interleave {1,3}: local_set names nodes 1 and 3 by nidx");
    nslab__topo_free(&t);

    /* A cpuset whose mems_allowed leaves out node 1 */
    allow_all(&a);
    mask_of(a.mems_allowed, 0, 2, 3, -1);
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == 0 && !t.node[1].active && !t.node[1].allowed && t.nactive == 2,
          "mems_allowed {0,2,3}: node 1 inactive");
    check(t.node[2].mem_node == 0 && t.node[1].mem_node == 0,
          "mems_allowed {0,2,3}: nodes 1 and 2 fall back to node 0 (got %d, %d)",
          t.node[1].mem_node, t.node[2].mem_node);
    nslab__topo_free(&t);

    /* NUMASLAB_NODES */
    allow_all(&a);
    a.nodes = "0,3";
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == 0 && msg[0] == '\0' && t.nactive == 2 && t.node[0].active && t.node[3].active &&
              !t.node[1].active && !t.node[1].allowed,
          "NUMASLAB_NODES=0,3: only 0 and 3 active, silent");
    check(t.node[2].mem_node == 0, "NUMASLAB_NODES=0,3: node 2 falls back to 0 (got %d)",
          t.node[2].mem_node);
    nslab__topo_free(&t);

    a.nodes = "0,,3";
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == -EINVAL, "NUMASLAB_NODES=0,,3: -EINVAL (got %d)", rc);
    check(strcmp(msg, MSG_BAD("0,,3")) == 0,
          "NUMASLAB_NODES=0,,3: message names the value (got \"%s\")", shown(msg));
    check(t.node && t.nactive == 3, "NUMASLAB_NODES=0,,3: table built as if unset (nactive %d)",
          t.nactive);
    nslab__topo_free(&t);

    a.nodes = "7";
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == 0 && strcmp(msg, MSG_NONE("7")) == 0 && t.nactive == 3,
          "NUMASLAB_NODES=7 (absent): reported and ignored (rc %d, nactive %d, \"%s\")", rc,
          t.nactive, shown(msg));
    nslab__topo_free(&t);

    a.nodes = "2";
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == 0 && strcmp(msg, MSG_NONE("2")) == 0 && t.nactive == 3,
          "NUMASLAB_NODES=2 (memory-less): reported and ignored");
    nslab__topo_free(&t);

    /* NUMASLAB_NODES on top of a policy: intersected, and checked against
     * the policy's nodes, not all nodes. */
    allow_all(&a);
    a.policy = NSLAB_POL_BIND;
    mask_of(a.policy_mask, 1, 3, -1);
    a.nodes = "1";
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == 0 && t.nactive == 1 && t.node[1].active,
          "bind {1,3} + NUMASLAB_NODES=1: node 1 only");
    nslab__topo_free(&t);
    a.nodes = "0";
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == 0 && strcmp(msg, MSG_NONE("0")) == 0 && t.nactive == 2 && t.node[1].active &&
              t.node[3].active,
          "bind {1,3} + NUMASLAB_NODES=0: reported, ignored, 1 and 3 active");
    nslab__topo_free(&t);

    /* Nothing allowed has memory: built, nactive 0, the caller decides. */
    allow_all(&a);
    mask_of(a.mems_allowed, 2, -1);
    rc = load(&t, "guest-mixed.xml", &a, &msg);
    check(rc == 0 && t.nactive == 0 && t.node[2].mem_node == -1 && t.active == NULL,
          "mems_allowed {2}: no active node, no mem_node");
    nslab__topo_free(&t);

    /* A file hwloc cannot read. */
    allow_all(&a);
    cap_begin();
    rc = nslab__topo_from_xml(&t, "/nonexistent/numaslab.xml", &a);
    msg = cap_end();
    check(rc < 0 && t.node == NULL && msg[0] != '\0',
          "missing XML: negative errno, message, empty table (rc %d)", rc);
    nslab__topo_free(&t);
}

/* ------------------------------------------------------------------------
 * sparse.xml and two-nodes.xml
 * ---------------------------------------------------------------------- */
static void test_sparse(void)
{
    tu_case("sparse.xml: sparse ids, HBM, a node hwloc leaves out");
    struct nslab_topo t;
    struct nslab_allow a;
    const char *msg;
    int rc, ids[8], row[8];

    allow_all(&a);
    rc = load(&t, "sparse.xml", &a, &msg);
    check(rc == 0 && msg[0] == '\0', "sparse: loads, rc 0, silent (rc %d)", rc);
    if (rc != 0)
        return;
    check(t.max_node == 9 && t.possible > 9, "sparse: max_node 9 (got %d), possible above it",
          t.max_node);
    check(t.node[0].present && t.node[1].present && t.node[4].present && t.node[6].present &&
              t.node[9].present,
          "sparse: nodes 0,1,4,6,9 present (4 although hwloc marks it disallowed)");
    int holes = 1;
    for (int n = 2; n <= 8; n++)
        if (n != 4 && n != 6)
            holes &= !t.node[n].present && !t.node[n].active && t.node[n].nidx == -1 &&
                     t.node[n].mem_node == -1 && NSLAB_DIST(&t, 0, n) == 0;
    check(holes, "sparse: absent ids are not present, nidx -1, mem_node -1, distance 0");
    check(t.node[9].memory == 2000000000 && t.node[6].memory == 0,
          "sparse: memory 9 is 2 GB, 6 none");
    check_ints("sparse: active[] is {0,1,4,9}", ids, (int[]){0, 1, 4, 9},
               active_ids(&t, ids, 8) == 4 ? 4 : -1);
    check_ints(
        "sparse: nidx of 0,1,4,6,9 is {0,1,2,-1,3}",
        (int[]){t.node[0].nidx, t.node[1].nidx, t.node[4].nidx, t.node[6].nidx, t.node[9].nidx},
        (int[]){0, 1, 2, -1, 3}, 5);
    check(!t.node[1].has_cpus && t.node[4].has_cpus,
          "sparse: HBM node 1 owns no CPU although its cpuset holds 2-3; node 4 does");
    check(t.node[6].has_cpus && !t.node[6].active && t.node[6].mem_node == 4,
          "sparse: memory-less node 6 falls back to 4 (tie 21/21 to the lower id; got %d)",
          t.node[6].mem_node);
    check(t.ncpu == 18, "sparse: ncpu 18 (highest PU 17; got %d)", t.ncpu);
    if (t.ncpu == 18)
        check_ints(
            "sparse: cpu_node of CPUs 2,4,10,16,17 is {4,6,-1,9,9} (2 on node 4, not HBM 1)",
            (int[]){t.cpu_node[2], t.cpu_node[4], t.cpu_node[10], t.cpu_node[16], t.cpu_node[17]},
            (int[]){4, 6, -1, 9, 9}, 5);
    check(NSLAB_DIST(&t, 4, 9) == 25 && NSLAB_DIST(&t, 9, 4) == 25 && NSLAB_DIST(&t, 6, 9) == 21 &&
              NSLAB_DIST(&t, 9, 9) == 10 && NSLAB_DIST(&t, 0, 1) == 0,
          "sparse: distances by OS id, 0 for node 1 (not in the matrix)");
    order_row(&t, 0, row);
    check_ints("sparse: order of node 0 is 0,4,9,1 (unknown distance last)", row,
               (int[]){0, 4, 9, 1}, 4);
    order_row(&t, 4, row);
    check_ints("sparse: order of node 4 is 4,0,9,1", row, (int[]){4, 0, 9, 1}, 4);
    order_row(&t, 9, row);
    check_ints("sparse: order of node 9 is 9,4,0,1", row, (int[]){9, 4, 0, 1}, 4);
    order_row(&t, 1, row);
    check_ints("sparse: order of node 1 is 1,0,4,9 (all unknown: by id)", row, (int[]){1, 0, 4, 9},
               4);
    nslab__topo_free(&t);

    a.nodes = "4-9";
    rc = load(&t, "sparse.xml", &a, &msg);
    check(rc == 0 && t.nactive == 2 && t.node[4].nidx == 0 && t.node[9].nidx == 1 &&
              t.node[0].mem_node == 4 && t.node[1].mem_node == 4,
          "sparse, NUMASLAB_NODES=4-9: nidx 4->0, 9->1, nodes 0 and 1 fall back to 4");
    nslab__topo_free(&t);

    allow_all(&a);
    mask_of(a.mems_allowed, 0, 9, -1);
    rc = load(&t, "sparse.xml", &a, &msg);
    check(rc == 0 && t.node[6].mem_node == 9 && t.node[4].mem_node == 0 && t.node[1].mem_node == 0,
          "sparse, mems_allowed {0,9}: node 6 falls back to 9, nodes 4 and 1 to 0 (got %d, %d, %d)",
          t.node[6].mem_node, t.node[4].mem_node, t.node[1].mem_node);
    nslab__topo_free(&t);
}

static void test_two(void)
{
    tu_case("two-nodes.xml: no distance matrix");
    struct nslab_topo t;
    struct nslab_allow a;
    const char *msg;
    int rc, row[2];

    allow_all(&a);
    rc = load(&t, "two-nodes.xml", &a, &msg);
    check(rc == 0 && msg[0] == '\0' && t.max_node == 1 && t.nactive == 2,
          "two: 2 active nodes (rc %d, nactive %d)", rc, t.nactive);
    if (rc != 0)
        return;
    check(t.node[0].memory == 1000000000 && t.node[1].memory == 1000000000 && t.node[0].has_cpus &&
              t.node[1].has_cpus,
          "two: 1 GB and CPUs each");
    check_ints("two: no matrix in the file gives 10/20", t.dist, (int[]){10, 20, 20, 10}, 4);
    check_ints("two: cpu_node {0,0,1,1}", t.cpu_node, (int[]){0, 0, 1, 1}, t.ncpu == 4 ? 4 : -1);
    order_row(&t, 0, row);
    check_ints("two: order of node 0 is 0,1", row, (int[]){0, 1}, 2);
    order_row(&t, 1, row);
    check_ints("two: order of node 1 is 1,0", row, (int[]){1, 0}, 2);
    nslab__topo_free(&t);
}

/* ------------------------------------------------------------------------
 * This machine
 * ---------------------------------------------------------------------- */
#define HOST_MAP (64 * 1024)

/* Map HOST_MAP bytes on node, check every page is there and usable. */
static void check_map_on(int node)
{
    char *p = nslab__pages_map(node, HOST_MAP);
    check(p != NULL, "host: pages_map(%d, 64 KiB) succeeds (errno %d)", node, p ? 0 : errno);
    if (!p)
        return;
    size_t page = nslab__page_size();
    unsigned char vec[HOST_MAP / 4096];
    int resident = mincore(p, HOST_MAP, vec) == 0;
    for (size_t i = 0; resident && i < HOST_MAP / page; i++)
        resident = vec[i] & 1;
    check(resident, "host: the pages on node %d are faulted in before first touch", node);
    int bad = -1, where = 0;
    for (size_t off = 0; off < HOST_MAP; off += page) {
        p[off] = (char)off;
        where = nslab__page_node_kernel(p + off);
        if (where != node) {
            bad = (int)(off / page);
            break;
        }
    }
    check(bad < 0, "host: the kernel puts every page on node %d (page %d on %d)", node, bad, where);
    nslab__pages_unmap(p, HOST_MAP);
}

/*
 * The kernel as oracle for cpu_node[] and mem_node: a page first touched by
 * a thread pinned to CPU c, under the default policy, lands on the nearest
 * node with memory to c's node (numa_mem_id()), which is what we call
 * node[cpu_node[c]].mem_node.  On a memory-less node's CPU this is the
 * distance rule at work.
 */
static void check_first_touch(const struct nslab_topo *t)
{
    cpu_set_t old, one;
    int checked = 0, bad = -1, got = 0, want = 0;

    if (sched_getaffinity(0, sizeof(old), &old) != 0) {
        printf("skip host, first touch: sched_getaffinity: %s\n", strerror(errno));
        return;
    }
    for (int c = 0; c < t->ncpu && c < CPU_SETSIZE && bad < 0; c++) {
        if (!CPU_ISSET(c, &old) || t->cpu_node[c] < 0)
            continue;
        CPU_ZERO(&one);
        CPU_SET(c, &one);
        if (sched_setaffinity(0, sizeof(one), &one) != 0)
            continue;
        char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            continue;
        p[0] = 1;
        got = nslab__page_node_kernel(p);
        munmap(p, 4096);
        want = t->node[t->cpu_node[c]].mem_node;
        if (got != want)
            bad = c;
        checked++;
    }
    sched_setaffinity(0, sizeof(old), &old);
    check(
        checked > 0 && bad < 0,
        "host: first touch from each of %d CPUs lands on its node's mem_node (CPU %d: %d, want %d)",
        checked, bad, got, want);
}

/* set_mempolicy(mode, {node}); 0 or -1 (then the check is skipped). */
static int set_policy(int mode, int node)
{
    unsigned long m[MASK_BITS / (8 * sizeof(unsigned long))] = {0};
    if (node >= 0)
        m[node / (8 * sizeof(long))] = 1UL << (node % (8 * sizeof(long)));
    return set_mempolicy(mode, node >= 0 ? m : NULL, node >= 0 ? MASK_BITS + 1 : 0);
}

static void test_host_policies(int a0)
{
    tu_case("this machine: memory policies");
    struct nslab_topo t;
    int rc;

    if (set_policy(MPOL_BIND, a0) == 0) {
        rc = nslab__topo_discover(&t, NULL, 0, 0);
        set_policy(MPOL_DEFAULT, -1);
        check(rc == 0 && t.policy == NSLAB_POL_BIND && t.nactive == 1 && t.active[0] == a0,
              "host, membind=%d: policy BIND, node %d the only active one", a0, a0);
        nslab__topo_free(&t);
    } else {
        printf("skip host, membind: set_mempolicy: %s\n", strerror(errno));
    }

    if (set_policy(MPOL_PREFERRED, a0) == 0) {
        rc = nslab__topo_discover(&t, NULL, 0, 0);
        set_policy(MPOL_DEFAULT, -1);
        check(rc == 0 && t.policy == NSLAB_POL_PREFERRED && t.preferred == a0,
              "host, preferred=%d: policy PREFERRED, preferred %d (got %d)", a0, a0, t.preferred);
        nslab__topo_free(&t);
    } else {
        printf("skip host, preferred: set_mempolicy: %s\n", strerror(errno));
    }

    if (set_policy(MPOL_INTERLEAVE, a0) == 0) {
        rc = nslab__topo_discover(&t, NULL, 0, 0);
        set_policy(MPOL_DEFAULT, -1);
        check(rc == 0 && t.policy == NSLAB_POL_INTERLEAVE && t.nlocal == 1 &&
                  t.active[t.local_set[0]] == a0,
              "host, interleave=%d: policy INTERLEAVE over node %d", a0, a0);
        nslab__topo_free(&t);
    } else {
        printf("skip host, interleave: set_mempolicy: %s\n", strerror(errno));
    }

    if (set_policy(MPOL_LOCAL, -1) == 0) {
        rc = nslab__topo_discover(&t, NULL, 0, 0);
        set_policy(MPOL_DEFAULT, -1);
        check(rc == 0 && t.policy == NSLAB_POL_DEFAULT && t.preferred == -1,
              "host, localalloc: policy DEFAULT");
        nslab__topo_free(&t);
    } else {
        printf("skip host, localalloc: set_mempolicy: %s\n", strerror(errno));
    }

    /* A cpuset-relative bind: the kernel maps bit 1 to an allowed node; a
     * page faulted under the policy says which, and so must we. */
    if (set_policy(MPOL_BIND | (1 << 14) /* MPOL_F_RELATIVE_NODES */, 1) == 0) {
        rc = nslab__topo_discover(&t, NULL, 0, 0);
        char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        int where = -1;
        if (p != MAP_FAILED) {
            p[0] = 1;
            where = nslab__page_node_kernel(p);
            munmap(p, 4096);
        }
        set_policy(MPOL_DEFAULT, -1);
        check(rc == 0 && t.policy == NSLAB_POL_BIND && t.nactive == 1 && t.active[0] == where,
              "host, relative bind {+1}: the one active node is where the kernel puts pages (%d)",
              where);
        nslab__topo_free(&t);
    } else {
        printf("skip host, relative bind: set_mempolicy: %s\n", strerror(errno));
    }
}

static void test_host(void)
{
    tu_case("this machine: discovery and binding");
    struct nslab_topo t;
    const char *msg;
    int rc;

    if (numa_available() < 0) {
        printf("skip host: the kernel has no NUMA support\n");
        return;
    }
    cap_begin();
    rc = nslab__topo_discover(&t, NULL, 0, 0);
    msg = cap_end();
    check(rc == 0 && msg[0] == '\0', "host: discover rc 0, silent (rc %d, \"%s\")", rc, shown(msg));
    if (rc != 0)
        return;
    check(t.max_node == numa_max_node() && t.possible == numa_num_possible_nodes(),
          "host: max_node %d and possible %d agree with libnuma", t.max_node, t.possible);
    check(t.nactive >= 1, "host: at least one active node (%d)", t.nactive);
    if (numa_max_node() == 0)
        check(t.node[0].present && t.node[0].active && t.node[0].memory > 0 && t.nactive == 1,
              "host (1 node): node 0 active with %llu bytes", (unsigned long long)t.node[0].memory);

    int cpu = sched_getcpu();
    check(cpu >= 0 && cpu < t.ncpu && t.cpu_node[cpu] == numa_node_of_cpu(cpu),
          "host: cpu_node[%d] is libnuma's node of that CPU (%d)", cpu,
          cpu >= 0 && cpu < t.ncpu ? t.cpu_node[cpu] : -2);
    int agree = 1, first_bad = -1;
    for (int c = 0; c < t.ncpu; c++)
        if (t.cpu_node[c] >= 0 && t.cpu_node[c] != numa_node_of_cpu(c)) {
            agree = 0;
            first_bad = c;
            break;
        }
    check(agree, "host: every CPU's node agrees with libnuma (first disagreement: CPU %d)",
          first_bad);
    int cur = nslab__cpu_current();
    check(cur >= 0 && cur < t.ncpu, "host: cpu_current %d within ncpu %d", cur, t.ncpu);
    check(nslab__page_size() == (size_t)sysconf(_SC_PAGESIZE), "host: page_size %zu",
          nslab__page_size());

    check_first_touch(&t);
    for (int i = 0; i < t.nactive; i++)
        check_map_on(t.active[i]);
    errno = 0;
    void *p = nslab__pages_map(t.max_node + 1, HOST_MAP);
    check(p == NULL && errno == EINVAL,
          "host: pages_map on absent node %d fails with EINVAL (errno %d)", t.max_node + 1, errno);
    for (int n = 0; n <= t.max_node; n++)
        if (t.node[n].present && t.node[n].memory == 0) {
            errno = 0;
            p = nslab__pages_map(n, HOST_MAP);
            check(p == NULL && errno == EINVAL,
                  "host: pages_map on memory-less node %d fails with EINVAL (errno %d)", n, errno);
        }
    errno = 0;
    p = nslab__pages_map(-1, HOST_MAP);
    check(p == NULL && errno == EINVAL, "host: pages_map(-1) is EINVAL");
    errno = 0;
    p = nslab__pages_map(t.active[0], 1000);
    check(p == NULL && errno == EINVAL, "host: a size not a page multiple is EINVAL");

    char *hole = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (hole != MAP_FAILED) {
        munmap(hole, 4096);
        rc = nslab__page_node_kernel(hole);
        check(rc == -EFAULT, "host: page_node_kernel of an unmapped page is -EFAULT (got %d)", rc);
    }

    int a0 = t.active[0];
    nslab__topo_free(&t);

    cap_begin();
    rc = nslab__topo_discover(&t, "x", 0, 0);
    msg = cap_end();
    check(rc == -EINVAL && strstr(msg, MSG_BAD("x")) && t.nactive >= 1,
          "host: NUMASLAB_NODES=x is -EINVAL, reported, table built (rc %d)", rc);
    nslab__topo_free(&t);

    if (numa_max_node() < 1023) {
        cap_begin();
        rc = nslab__topo_discover(&t, "1023", 0, 0);
        msg = cap_end();
        check(rc == 0 && strstr(msg, MSG_NONE("1023")) && t.nactive >= 1,
              "host: NUMASLAB_NODES=1023 (absent) is reported and ignored (rc %d)", rc);
        nslab__topo_free(&t);
    }

    char one[16];
    snprintf(one, sizeof(one), "%d", a0);
    rc = nslab__topo_discover(&t, one, 0, 0);
    check(rc == 0 && t.nactive == 1 && t.active[0] == a0,
          "host: NUMASLAB_NODES=%d leaves node %d only", a0, a0);
    nslab__topo_free(&t);

    test_host_policies(a0);
}

int main(int argc, char **argv)
{
    (void)argc;
    tu_init("test-topology");
    argv0 = argv[0];
    char probe[PATH_MAX + 64]; /* the data is there, or nothing can run */
    tu_data_path(argv0, "guest-mixed.xml", probe, sizeof(probe));
    cap_file = tmpfile();
    if (!cap_file)
        hard_error("tmpfile failed");

    test_parse();
    test_mixed();
    test_sparse();
    test_two();
    test_host();

    return tu_exit();
}
