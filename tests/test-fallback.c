/*
 * test-fallback - the node argument (rules 1-3 of FALLBACK in numaslab(7)): -1 is the local
 * node; a bad id is EINVAL and silent; a valid but inactive id prints one
 * message per (node, cache), counts every request and allocates on the
 * local node; NUMASLAB_NOWARN and NUMASLAB_THISNODE.  Runs on one node.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <limits.h>

static int local;

static uint64_t inactive_count(int node)
{
    struct numaslab_node_stats st;
    memset(&st, 0, sizeof(st));
    if (numaslab_stats_node(node, &st) != 0)
        return (uint64_t)-1;
    return st.inactive_requests;
}

/* The object is on the local node, by the library and by the kernel. */
static int on_local(void *p, size_t size)
{
    if (!p)
        return 0;
    memset(p, 0x11, size);
    return numaslab_ptr_node(p) == local && kernel_on_node(p, size, local);
}

static void test_local(void)
{
    tu_case("the local node");
    void *p;

    CHECK(numaslab_node_is_active(local) == 1, "numaslab_local_node() = %d is active", local);
    p = numaslab_alloc_node(64, 0, NUMASLAB_NODE_LOCAL);
    CHECK(on_local(p, 64),
          "numaslab_alloc_node(64, 0, -1): node %d by numaslab_ptr_node, "
          "kernel agrees with local node %d: %s",
          p ? numaslab_ptr_node(p) : -1, local, p && kernel_on_node(p, 64, local) ? "yes" : "no");
    numaslab_free(p);
}

static void test_bad_ids(numaslab_cache_t *c)
{
    tu_case("bad node ids");
    int possible = numa_num_possible_nodes();
    int bad[] = {-2, -3, -100, INT_MIN, possible, possible + 1, 1024, INT_MAX};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tu_capture cap;
        void *p, *q;
        int e1, e2, act;
        char *err;

        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= bad[j] == bad[i];
        if (seen || (bad[i] >= 0 && bad[i] < possible))
            continue; /* 1024 is valid where more nodes are possible */
        tu_capture_begin(&cap);
        errno = 0;
        p = numaslab_alloc_node(64, 0, bad[i]);
        e1 = errno;
        errno = 0;
        q = numaslab_cache_alloc_node(c, 0, bad[i]);
        e2 = errno;
        err = tu_capture_end(&cap);
        CHECK(p == NULL && e1 == EINVAL,
              "numaslab_alloc_node(64, 0, %d) -> %p, errno %d "
              "(want NULL, EINVAL)",
              bad[i], p, e1);
        CHECK(q == NULL && e2 == EINVAL,
              "numaslab_cache_alloc_node(c, 0, %d) -> %p, errno %d "
              "(want NULL, EINVAL)",
              bad[i], q, e2);
        CHECK(*err == '\0', "node %d: nothing printed on stderr", bad[i]);
        if (*err)
            tu_show("stderr", err);
        free(err);
        numaslab_free(p);
        if (q)
            numaslab_cache_free(c, q);

        act = numaslab_node_is_active(bad[i]);
        CHECK(act == -EINVAL, "numaslab_node_is_active(%d) = %d (want -EINVAL)", bad[i], act);
    }
    {
        int act = numaslab_node_is_active(-1);
        struct numaslab_node_stats st;
        CHECK(act == -EINVAL, "numaslab_node_is_active(-1) = %d (want -EINVAL)", act);
        CHECK(numaslab_stats_node(-2, &st) == -EINVAL &&
                  numaslab_stats_node(possible, &st) == -EINVAL,
              "numaslab_stats_node(-2) and (%d) return -EINVAL", possible);
    }
}

static void test_inactive(int node)
{
    tu_case("an inactive node");
    char line[160], line2[160];
    struct tu_capture cap;
    numaslab_cache_t *my, *quiet, *strict;
    void *p, *q, *r;
    uint64_t n0, n1;
    char *err;

    snprintf(line, sizeof(line),
             "numaslab: not allocating in inactive node %d for cache "
             "numaslab-64",
             node);

    /* Size class: two calls, one message, memory on the local node. */
    tu_case("size class: two calls, one message, memory on the local node");
    n0 = inactive_count(node);
    tu_capture_begin(&cap);
    p = numaslab_alloc_node(64, 0, node);
    q = numaslab_alloc_node(64, 0, node);
    err = tu_capture_end(&cap);
    CHECK(p && q, "numaslab_alloc_node(64, 0, %d) twice returns memory", node);
    CHECK(tu_count_lines(err, line) == 1 && tu_count(err, "\n") == 1,
          "exactly one line on stderr: \"%s\"", line);
    tu_show("stderr", err);
    free(err);
    CHECK(on_local(p, 64) && on_local(q, 64),
          "both objects are on the local node %d (numaslab_ptr_node %d, %d; kernel agrees)", local,
          p ? numaslab_ptr_node(p) : -1, q ? numaslab_ptr_node(q) : -1);
    n1 = inactive_count(node);
    CHECK(n1 == n0 + 2, "stats_node(%d).inactive_requests counts both: %llu -> %llu", node,
          (unsigned long long)n0, (unsigned long long)n1);
    numaslab_free(p);
    numaslab_free(q);

    /* The same pair again: no second message. */
    tu_case("the same pair again: no second message");
    tu_capture_begin(&cap);
    p = numaslab_alloc_node(64, 0, node);
    err = tu_capture_end(&cap);
    CHECK(p && *err == '\0', "a third call for (node %d, numaslab-64) prints nothing", node);
    numaslab_free(p);
    free(err);

    /* Another cache prints its own line, once. */
    tu_case("another cache prints its own line, once");
    my = numaslab_cache_create("mycache", 64, 0, 0, NULL);
    REQUIRE(my, "cache_create(\"mycache\"): %s", strerror(errno));
    snprintf(line2, sizeof(line2), "numaslab: not allocating in inactive node %d for cache mycache",
             node);
    n0 = inactive_count(node);
    tu_capture_begin(&cap);
    p = numaslab_cache_alloc_node(my, 0, node);
    q = numaslab_cache_alloc_node(my, 0, node);
    err = tu_capture_end(&cap);
    CHECK(p && q, "numaslab_cache_alloc_node(mycache, 0, %d) twice returns memory", node);
    CHECK(tu_count_lines(err, line2) == 1 && tu_count(err, "\n") == 1,
          "exactly one line on stderr: \"%s\"", line2);
    tu_show("stderr", err);
    free(err);
    CHECK(on_local(p, 64) && on_local(q, 64), "mycache objects are on the local node %d", local);
    n1 = inactive_count(node);
    CHECK(n1 == n0 + 2, "inactive_requests counts both: %llu -> %llu", (unsigned long long)n0,
          (unsigned long long)n1);
    if (p)
        numaslab_cache_free(my, p);
    if (q)
        numaslab_cache_free(my, q);

    /* NUMASLAB_NOWARN on pairs that have not warned yet: silent, counted. */
    tu_case("NUMASLAB_NOWARN on pairs that have not warned yet");
    quiet = numaslab_cache_create("quiet", 64, 0, 0, NULL);
    REQUIRE(quiet, "cache_create(\"quiet\"): %s", strerror(errno));
    n0 = inactive_count(node);
    tu_capture_begin(&cap);
    p = numaslab_alloc_node(200, NUMASLAB_NOWARN, node);
    q = numaslab_alloc_node(200, NUMASLAB_NOWARN, node);
    r = numaslab_cache_alloc_node(quiet, NUMASLAB_NOWARN, node);
    err = tu_capture_end(&cap);
    CHECK(p && q && r, "NUMASLAB_NOWARN on inactive node %d returns memory", node);
    CHECK(*err == '\0', "NUMASLAB_NOWARN: nothing printed");
    if (*err)
        tu_show("stderr", err);
    free(err);
    CHECK(on_local(p, 200) && on_local(r, 64), "NUMASLAB_NOWARN objects are on the local node");
    n1 = inactive_count(node);
    CHECK(n1 == n0 + 3, "inactive_requests still counts the 3 NOWARN requests: %llu -> %llu",
          (unsigned long long)n0, (unsigned long long)n1);
    numaslab_free(p);
    numaslab_free(q);
    if (r)
        numaslab_cache_free(quiet, r);

    /* NUMASLAB_THISNODE: NULL, ENODEV, silent; and the message is still
     * printed by the first ordinary request afterwards. */
    tu_case("NUMASLAB_THISNODE: NULL, ENODEV, silent");
    strict = numaslab_cache_create("strict", 64, 0, 0, NULL);
    REQUIRE(strict, "cache_create(\"strict\"): %s", strerror(errno));
    {
        int e1, e2;
        n0 = inactive_count(node);
        tu_capture_begin(&cap);
        errno = 0;
        p = numaslab_alloc_node(1000, NUMASLAB_THISNODE, node);
        e1 = errno;
        errno = 0;
        q = numaslab_cache_alloc_node(strict, NUMASLAB_THISNODE, node);
        e2 = errno;
        err = tu_capture_end(&cap);
        CHECK(p == NULL && e1 == ENODEV,
              "numaslab_alloc_node(1000, THISNODE, %d) -> %p errno %d "
              "(want NULL, ENODEV)",
              node, p, e1);
        CHECK(q == NULL && e2 == ENODEV,
              "numaslab_cache_alloc_node(strict, THISNODE, %d) -> %p errno %d (want NULL, ENODEV)",
              node, q, e2);
        CHECK(*err == '\0', "NUMASLAB_THISNODE: nothing printed");
        if (*err)
            tu_show("stderr", err);
        free(err);
        n1 = inactive_count(node);
        CHECK(n1 == n0 + 2, "inactive_requests counts the THISNODE requests: %llu -> %llu",
              (unsigned long long)n0, (unsigned long long)n1);
        numaslab_free(p);
        if (q)
            numaslab_cache_free(strict, q);

        snprintf(line2, sizeof(line2),
                 "numaslab: not allocating in inactive node %d for cache strict", node);
        tu_capture_begin(&cap);
        q = numaslab_cache_alloc_node(strict, 0, node);
        err = tu_capture_end(&cap);
        CHECK(q && tu_count_lines(err, line2) == 1,
              "after THISNODE, the first ordinary request prints \"%s\"", line2);
        tu_show("stderr", err);
        free(err);
        if (q)
            numaslab_cache_free(strict, q);
    }

    CHECK(numaslab_cache_destroy(my) == 0 && numaslab_cache_destroy(quiet) == 0 &&
              numaslab_cache_destroy(strict) == 0,
          "the three caches are destroyed");
}

int main(void)
{
    int top, absent, possible, act;
    numaslab_cache_t *c;

    tu_init("test-fallback");
    tu_pin_self();
    local = numaslab_local_node();
    top = numaslab_max_node();
    possible = numa_num_possible_nodes();
    tu_info("max node %d, %d active, local node %d, %d possible node ids", top,
            tu_count_active_nodes(), local, possible);
    REQUIRE(top >= 0, "numaslab_max_node() = %d", top);

    for (int n = 0; n <= top; n++) {
        act = numaslab_node_is_active(n);
        CHECK(act == 0 || act == 1, "numaslab_node_is_active(%d) = %d (0 or 1)", n, act);
    }

    test_local();
    c = numaslab_cache_create("fb", 64, 0, 0, NULL);
    REQUIRE(c, "cache_create(\"fb\"): %s", strerror(errno));
    test_bad_ids(c);
    CHECK(numaslab_cache_destroy(c) == 0, "destroy of cache fb returns 0");

    absent = top + 1;
    if (absent >= possible)
        tu_skip("no valid node id above the highest node (%d)", top);
    act = numaslab_node_is_active(absent);
    CHECK(act == 0, "numaslab_node_is_active(%d) (valid, absent) = %d (want 0)", absent, act);
    test_inactive(absent);
    return tu_exit();
}
