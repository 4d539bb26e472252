/*
 * test-badargs - doc/bad-input.md for the bad inputs the other tests leave out:
 * malformed NUMASLAB_RESERVE, NUMASLAB_RESERVE_MLOCK, NUMASLAB_FAIL_PAGES
 * and NUMASLAB_ABORT (a message names the variable and the value, the
 * default applies, allocation works); numaslab_init with an out-of-range
 * tcache or a malformed reserve; numaslab_fail_pages with a malformed
 * setting; numaslab_cache_create with unknown flags; destroying a
 * size-class cache; mempool calls with bad arguments; reserves, page
 * pools and statistics of an inactive node; a mempool element given to
 * numaslab_free.  (test-env covers NUMASLAB_NODES, _RETAIN, _TCACHE and
 * _NODE_LIMIT; test-badinput the bad frees; test-fallback bad node ids.)
 *
 * Each environment case runs in a re-executed child (the library reads
 * the environment once, at initialisation).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/wait.h>

/* ------------------------------------------------------------------------
 * Children
 * ---------------------------------------------------------------------- */

/* Allocate, print what the parent compares, exit 0 when allocation works. */
static int child_report(void)
{
    int node = numaslab_local_node(), ok = 1;
    for (int i = 0; i < 200; i++) { /* 200 slabs' worth: page allocation works */
        void *p = numaslab_alloc(4096, 0);
        if (!p) {
            ok = 0;
            break;
        }
        memset(p, 1, 4096);
        numaslab_free(p);
        void *q = numaslab_alloc(100000, 0);
        if (!q) {
            ok = 0;
            break;
        }
        numaslab_free(q);
    }
    struct numaslab_node_stats st;
    memset(&st, 0, sizeof(st));
    numaslab_stats_node(node, &st);
    printf("reserve_min %d\n", st.reserve_min);
    /* NUMASLAB_ABORT's effect: does a refused free abort? */
    tu_case("child: does a refused free abort?");
    printf("allocation %s\n", ok ? "works" : "FAILED");
    fflush(stdout);
    if (getenv("BADARGS_FOREIGN_FREE")) {
        static char not_ours[64];
        numaslab_free(not_ours);
        printf("foreign free: went on\n");
    }
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------------------
 * The parent
 * ---------------------------------------------------------------------- */

/* Run this program as a child with setting and extra (each may be NULL)
 * added to its environment. */
static struct tu_child spawn(const char *setting, const char *extra)
{
    const char *vars[] = {setting, extra};
    return tu_spawn_self("test-badargs", NULL, vars, 2);
}

static int reserve_min_of(const struct tu_child *r)
{
    int v = -1;
    const char *p = strstr(r->out, "reserve_min ");
    if (p)
        sscanf(p, "reserve_min %d", &v);
    return v;
}

/* A malformed value: a message names the variable and the value, the
 * child allocates and exits 0. */
static void bad_env(const char *var, const char *value, int baseline_reserve)
{
    char setting[128];
    snprintf(setting, sizeof(setting), "%s=%s", var, value);
    struct tu_child r = spawn(setting, NULL);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && strstr(r.out, "allocation works"),
          "%s: the process allocates (ordinary pages included) and exits 0 (status 0x%x)", setting,
          r.status);
    CHECK(tu_line_has_all(r.err, var, value, (char *)NULL), "%s: one message names %s and \"%s\"",
          setting, var, value);
    if (!strcmp(var, "NUMASLAB_RESERVE"))
        CHECK(reserve_min_of(&r) == baseline_reserve,
              "%s: the default reserve applies (%d elements, %d without the variable)", setting,
              reserve_min_of(&r), baseline_reserve);
    tu_show("stderr", r.err);
    free(r.out);
    free(r.err);
}

/* Sizes take K, M, G or T in either case and an optional B (numaslab(7)):
 * each spelling is read silently, as the bytes it means. */
static void test_size_suffixes(void)
{
    static const struct {
        const char *setting;
        int reserve_min; /* elements of 64 KiB; -1: not a reserve */
    } sizes[] = {
        {"NUMASLAB_RESERVE=1M", 16},       {"NUMASLAB_RESERVE=1mb", 16},
        {"NUMASLAB_RESERVE=1MB", 16},      {"NUMASLAB_RESERVE=1024kB", 16},
        {"NUMASLAB_RESERVE=1048576B", 16}, {"NUMASLAB_RESERVE=1048576", 16},
        {"NUMASLAB_NODE_LIMIT=1T", -1},    {"NUMASLAB_NODE_LIMIT=1tb", -1},
    };
    tu_case("size suffixes: K, M, G, T, either case, an optional B");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct tu_child r = spawn(sizes[i].setting, NULL);
        int got = reserve_min_of(&r);
        CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && *r.err == '\0' &&
                  (sizes[i].reserve_min < 0 || got == sizes[i].reserve_min),
              "%s: read silently, the child allocates (reserve %d elements, want %d)",
              sizes[i].setting, got, sizes[i].reserve_min);
        tu_show("stderr", r.err);
        free(r.out);
        free(r.err);
    }
}

static void test_env(void)
{
    tu_case("malformed NUMASLAB_* values");
    struct tu_child base = spawn(NULL, NULL);
    int reserve = reserve_min_of(&base);
    CHECK(WIFEXITED(base.status) && WEXITSTATUS(base.status) == 0 && *base.err == '\0',
          "without NUMASLAB_* variables: the child allocates silently (reserve %d elements)",
          reserve);
    free(base.out);
    free(base.err);

    bad_env("NUMASLAB_RESERVE", "4Q", reserve);
    bad_env("NUMASLAB_RESERVE", "0:", reserve);
    bad_env("NUMASLAB_RESERVE_MLOCK", "yes", reserve);
    bad_env("NUMASLAB_FAIL_PAGES", "sometimes", reserve);
    bad_env("NUMASLAB_FAIL_PAGES", "prob=1.5", reserve);
    bad_env("NUMASLAB_ABORT", "maybe", reserve);

    /* NUMASLAB_ABORT=0 in any build: a refused free is reported, no abort. */
    tu_case("NUMASLAB_ABORT=0 in any build");
    struct tu_child r = spawn("NUMASLAB_ABORT=0", "BADARGS_FOREIGN_FREE=1");
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && strstr(r.out, "went on") &&
              tu_line_has_all(r.err, "numaslab_free", "not allocated by numaslab", (char *)NULL),
          "NUMASLAB_ABORT=0: a foreign free is reported and the process goes on (status 0x%x)",
          r.status);
    free(r.out);
    free(r.err);
}

/*
 * numaslab_init with bad fields, in a child each (init happens once): the
 * field, what the child sets, the status numaslab_init must return, a
 * string its message must hold (NULL: none required), and the nodes list
 * the nodes cases set.
 */
static const struct init_case {
    const char *which, *what;
    int rc;
    const char *msg;
    const char *nodes;
} init_cases[] = {
    {"tcache", "tcache 5000", -EINVAL, "tcache=5000", NULL},
    {"reserve", "reserve \"4Q\"", -EINVAL, "4Q", NULL},
    /* named as the field, not as the variable NUMASLAB_NODES */
    {"nodes", "nodes \"x-y\"", -EINVAL, "numaslab_init: nodes=\"x-y\"", "x-y"},
    {"nodes-none", "nodes \"1000\" (no active node)", 0, "numaslab_init: nodes=\"1000\"", "1000"},
};

static void test_init_cfg(void)
{
    for (size_t i = 0; i < sizeof(init_cases) / sizeof(init_cases[0]); i++) {
        const struct init_case *ic = &init_cases[i];
        char var[64];
        tu_case("numaslab_init({%s})", ic->what);
        snprintf(var, sizeof(var), "BADARGS_INIT=%s", ic->which);
        struct tu_child r = spawn(var, NULL);
        CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
              "numaslab_init({%s}): checks passed in the child (status 0x%x)", ic->what, r.status);
        printf("%s", r.out);
        tu_show("stderr", r.err);
        CHECK(tu_line_has_all(r.err, ic->msg, (char *)NULL),
              "numaslab_init({%s}): a message names \"%s\"", ic->what, ic->msg);
        free(r.out);
        free(r.err);
    }
}

static int child_init(const char *which)
{
    struct numaslab_config cfg;
    const struct init_case *ic = NULL;
    memset(&cfg, 0, sizeof(cfg));
    tu_init(which);
    for (size_t i = 0; i < sizeof(init_cases) / sizeof(init_cases[0]); i++)
        if (!strcmp(which, init_cases[i].which))
            ic = &init_cases[i];
    REQUIRE(ic, "BADARGS_INIT=%s: no such case", which);
    tu_case("child: numaslab_init({%s})", ic->what);
    if (!strcmp(which, "tcache"))
        cfg.tcache = 5000;
    else if (!strcmp(which, "reserve"))
        cfg.reserve = "4Q";
    else
        cfg.nodes = ic->nodes;
    int r = numaslab_init(&cfg);
    CHECK(r == ic->rc, "numaslab_init({%s}) returns %d (got %d)", ic->what, ic->rc, r);
    void *p = numaslab_alloc(64, 0);
    CHECK(p != NULL, "after numaslab_init, allocation works (%s)",
          ic->rc ? "the defaults" : "the list ignored");
    numaslab_free(p);
    return tu_exit();
}

static void *under_alloc(unsigned flags, int node, void *data)
{
    (void)flags;
    (void)node;
    (void)data;
    return malloc(64);
}

static void under_free(void *elem, void *data)
{
    (void)data;
    free(elem);
}

static void test_calls(void)
{
    tu_case("calls with bad arguments");
    struct tu_capture cap;
    char *err;
    int r;

    /* numaslab_fail_pages with a malformed setting: -EINVAL, a message,
     * fault injection unchanged (off). */
    const char *specs[] = {"bogus", "after=-1", "prob=2", "after=1,prob=0.5", "after=3,node=x"};
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        tu_capture_begin(&cap);
        r = numaslab_fail_pages(specs[i]);
        err = tu_capture_end(&cap);
        CHECK(r == -EINVAL && tu_line_has_all(err, "numaslab_fail_pages", specs[i], (char *)NULL),
              "numaslab_fail_pages(\"%s\") returns -EINVAL (got %d), a message names the call "
              "and the value",
              specs[i], r);
        free(err);
    }
    void *big = numaslab_alloc(200000, 0);
    CHECK(big != NULL, "fault injection stayed off: a new large object is mapped");
    numaslab_free(big);

    /* numaslab_cache_create with unknown flags. */
    tu_capture_begin(&cap);
    errno = 0;
    numaslab_cache_t *c = numaslab_cache_create("badargs-flags", 64, 0, 0x1, NULL);
    int e = errno;
    err = tu_capture_end(&cap);
    CHECK(c == NULL && e == EINVAL &&
              tu_line_has_all(err, "numaslab_cache_create", "badargs-flags", "0x1", (char *)NULL),
          "numaslab_cache_create(flags 0x1): NULL, EINVAL (errno %d), a message names the call, "
          "the cache and the flags",
          e);
    free(err);
    errno = 0;
    c = numaslab_cache_create("badargs-zero", 0, 0, 0, NULL);
    CHECK(c == NULL && errno == EINVAL, "numaslab_cache_create(size 0): NULL, EINVAL");

    /* A large object given to numaslab_cache_free: refused, still live. */
    tu_case("a large object given to numaslab_cache_free: refused, still live");
    {
        numaslab_cache_t *c64 = numaslab_cache_create("badargs-64", 64, 0, 0, NULL);
        void *large = numaslab_alloc(100000, 0);
        char lbuf[32];
        REQUIRE(c64 && large, "setup: %s", strerror(errno));
        memset(large, 0x44, 100000);
        tu_capture_begin(&cap);
        numaslab_cache_free(c64, large);
        err = tu_capture_end(&cap);
        CHECK(tu_line_has_all(err, "numaslab_cache_free", "badargs-64",
                              tu_ptrstr(large, lbuf, sizeof(lbuf)), "large object", (char *)NULL),
              "numaslab_cache_free(badargs-64, a large object %s): a message names the call, "
              "the cache and the pointer",
              lbuf);
        free(err);
        CHECK(numaslab_usable_size(large) >= 100000 && ((unsigned char *)large)[99999] == 0x44,
              "the large object is still live and intact");
        numaslab_free(large);
        CHECK(numaslab_cache_destroy(c64) == 0, "badargs-64 is destroyed");
    }

    /* A size-class cache cannot be destroyed, and stays usable. */
    tu_case("a size-class cache cannot be destroyed, and stays usable");
    numaslab_cache_t *sc = numaslab_size_cache(64);
    tu_capture_begin(&cap);
    r = numaslab_cache_destroy(sc);
    err = tu_capture_end(&cap);
    CHECK(r == -EINVAL &&
              tu_line_has_all(err, "numaslab_cache_destroy", "numaslab-64", (char *)NULL),
          "numaslab_cache_destroy(numaslab-64): -EINVAL (got %d), a message names the call and "
          "the cache",
          r);
    free(err);
    void *p = numaslab_alloc(64, 0);
    CHECK(p != NULL, "numaslab-64 still works");
    numaslab_free(p);

    /* Mempool calls with bad arguments. */
    tu_case("mempool calls with bad arguments");
    int node = numaslab_local_node();
    numaslab_mempool_t *pool = numaslab_page_pool_create(node, 0, 2);
    REQUIRE(pool, "numaslab_page_pool_create: %s", strerror(errno));
    void *elems[4];
    CHECK(numaslab_mempool_resize(pool, -1) == -EINVAL, "numaslab_mempool_resize(-1): -EINVAL");
    CHECK(numaslab_mempool_alloc_bulk(pool, elems, -1) == -EINVAL,
          "numaslab_mempool_alloc_bulk(n -1): -EINVAL");
    CHECK(numaslab_mempool_alloc_bulk(pool, NULL, 1) == -EINVAL,
          "numaslab_mempool_alloc_bulk(NULL array): -EINVAL");
    errno = 0;
    CHECK(numaslab_mempool_alloc(NULL, 0) == NULL && errno == EINVAL,
          "numaslab_mempool_alloc(NULL pool): NULL, EINVAL");
    CHECK(numaslab_mempool_destroy(NULL) == -EINVAL, "numaslab_mempool_destroy(NULL): -EINVAL");
    CHECK(numaslab_mempool_stats(NULL, NULL) == -EINVAL, "numaslab_mempool_stats(NULL): -EINVAL");
    errno = 0;
    CHECK(numaslab_mempool_create(1, NULL, NULL, NULL) == NULL && errno == EINVAL,
          "numaslab_mempool_create without functions: NULL, EINVAL");
    errno = 0;
    CHECK(numaslab_mempool_create_node(1, under_alloc, under_free, NULL, -5) == NULL &&
              errno == EINVAL,
          "numaslab_mempool_create_node(node -5): NULL, EINVAL");
    errno = 0;
    CHECK(numaslab_mempool_create_node(1, under_alloc, under_free, NULL, INT_MAX) == NULL &&
              errno == EINVAL,
          "numaslab_mempool_create_node(node INT_MAX): NULL, EINVAL");

    /* A pool element given to numaslab_free: not a numaslab object. */
    tu_case("a pool element given to numaslab_free: not a numaslab object");
    void *el = numaslab_mempool_alloc(pool, 0);
    REQUIRE(el, "numaslab_mempool_alloc: %s", strerror(errno));
    memset(el, 0x33, 4096);
    char buf[32];
    tu_capture_begin(&cap);
    numaslab_free(el);
    err = tu_capture_end(&cap);
    CHECK(tu_line_has_all(err, "numaslab_free", tu_ptrstr(el, buf, sizeof(buf)),
                          "not allocated by numaslab", (char *)NULL),
          "numaslab_free(a pool element %s): reported as not allocated by numaslab", buf);
    free(err);
    {
        int same = 1;
        for (int i = 0; i < 4096; i++)
            same &= ((unsigned char *)el)[i] == 0x33;
        struct numaslab_mempool_stats st;
        numaslab_mempool_stats(pool, &st);
        CHECK(same && st.out == 1, "the element is untouched and still out of its pool (out %ld)",
              st.out);
    }
    numaslab_mempool_free(el, pool);
    CHECK(numaslab_mempool_destroy(pool) == 0, "the pool is destroyed once the element is back");

    /* An inactive node id: no reserve, no page pool, no cache statistics. */
    tu_case("an inactive node id");
    int top = numaslab_max_node(), inactive = -1;
    for (int n = 0; n <= top + 1 && inactive < 0; n++)
        if (numaslab_node_is_active(n) == 0)
            inactive = n;
    if (inactive < 0) {
        tu_info("every node id up to %d is active: no inactive id to try", top + 1);
        return;
    }
    errno = 0;
    CHECK(numaslab_node_reserve(inactive) == NULL && errno == ENODEV,
          "numaslab_node_reserve(inactive node %d): NULL, ENODEV (errno %d)", inactive, errno);
    errno = 0;
    CHECK(numaslab_page_pool_create(inactive, 0, 1) == NULL && errno == ENODEV,
          "numaslab_page_pool_create(inactive node %d): NULL, ENODEV (errno %d)", inactive, errno);
    struct numaslab_cache_stats cs;
    CHECK(numaslab_stats_cache(numaslab_size_cache(64), inactive, &cs) == -EINVAL,
          "numaslab_stats_cache(numaslab-64, inactive node %d): -EINVAL", inactive);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--child")) {
        const char *init = getenv("BADARGS_INIT");
        return init ? child_init(init) : child_report();
    }
    /* Refused frees are reported and the process goes on. */
    setenv("NUMASLAB_ABORT", "0", 1);
    tu_init("test-badargs");
    test_env();
    test_size_suffixes();
    test_init_cfg();
    test_calls();
    return tu_exit();
}
