/*
 * test-env - NUMASLAB_* environment variables and numaslab_init().  The
 * test re-executes itself (/proc/self/exe --child SCENARIO) with the
 * environment of each scenario, so that every one starts uninitialised;
 * the parent checks the child's exit status and its stderr.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "config.h" /* NSLAB_DEBUG */
#include "testutil.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>

#define MIB (1024 * 1024)

/* ------------------------------------------------------------------------
 * Children: print their own check lines, exit 0 when all passed.
 * ---------------------------------------------------------------------- */

/* Allocation works: a few sizes, written and read back. */
static void child_alloc_works(void)
{
    size_t sizes[] = {1, 64, 1000, 8192, 100000};
    int ok = 1;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        void *p = numaslab_alloc(sizes[i], 0);
        if (!p) {
            ok = 0;
            continue;
        }
        tu_fill(p, sizes[i], i);
        if (!tu_verify(p, sizes[i], i) || numaslab_node_is_active(numaslab_ptr_node(p)) != 1)
            ok = 0;
        numaslab_free(p);
    }
    CHECK(ok, "allocation works (5 sizes, on an active node)");
}

static int child_nodes0(void)
{
    int top = numaslab_max_node(), others = 0;
    void *p;

    CHECK(numaslab_node_is_active(0) == 1, "NUMASLAB_NODES=0: node 0 is active");
    for (int n = 1; n <= top; n++)
        if (numaslab_node_is_active(n) != 0)
            others++;
    CHECK(others == 0, "NUMASLAB_NODES=0: no other node is active (%d are)", others);
    CHECK(numaslab_local_node() == 0, "NUMASLAB_NODES=0: the local node is 0 (got %d)",
          numaslab_local_node());
    p = numaslab_alloc(4096, 0);
    if (CHECK(p != NULL, "NUMASLAB_NODES=0: numaslab_alloc(4096) returns memory")) {
        memset(p, 1, 4096);
        CHECK(numaslab_ptr_node(p) == 0 && kernel_on_node(p, 4096, 0),
              "the object is on node 0 (numaslab_ptr_node %d, kernel agrees: %s)",
              numaslab_ptr_node(p), kernel_on_node(p, 4096, 0) ? "yes" : "no");
        numaslab_free(p);
    }
    child_alloc_works();
    return tu_exit();
}

static int child_alloc_only(void)
{
    child_alloc_works();
    return tu_exit();
}

/* NUMASLAB_NODE_LIMIT=1M with a single active node. */
static int child_limit(void)
{
    enum { SZ = 64 };
    size_t want = 4 * MIB / SZ, got = 0;
    void **v = malloc(want * sizeof(*v));
    int err = 0, nodes[1];
    struct numaslab_node_stats st;
    int n = tu_active_nodes(nodes, 1);

    REQUIRE(v, "out of memory");
    REQUIRE(n == 1, "%d active nodes, the scenario needs 1", n);
    for (; got < want; got++) {
        errno = 0;
        v[got] = numaslab_alloc(SZ, 0);
        if (!v[got]) {
            err = errno;
            break;
        }
        *(uint64_t *)v[got] = got;
    }
    CHECK(got < want && err == ENOMEM,
          "NUMASLAB_NODE_LIMIT=1M: allocating 4 MiB of %d-byte objects fails with ENOMEM (%zu "
          "allocated, errno %d)",
          SZ, got, err);
    CHECK(got * SZ <= 1 * MIB && got * SZ >= MIB / 2,
          "it fails after about 1 MiB: %zu bytes of objects were handed out", got * SZ);
    memset(&st, 0, sizeof(st));
    if (numaslab_stats_node(nodes[0], &st) == 0)
        tu_info("node %d: %llu bytes mapped, reserve %d of %d elements, %llu bytes", nodes[0],
                (unsigned long long)st.bytes_mapped, st.reserve_cur, st.reserve_min,
                (unsigned long long)st.reserve_bytes);
    /* The reserve is mapped too but sits outside the limit. */
    tu_case("the reserve is mapped too but sits outside the limit");
    CHECK(numaslab_stats_node(nodes[0], &st) == 0 &&
              st.bytes_mapped - st.reserve_bytes <= 1 * MIB && st.bytes_mapped > st.reserve_bytes,
          "numaslab_stats_node(%d): %llu bytes mapped besides the reserve's %llu, <= 1 MiB",
          nodes[0], (unsigned long long)(st.bytes_mapped - st.reserve_bytes),
          (unsigned long long)st.reserve_bytes);
    {
        void *big;
        errno = 0;
        big = numaslab_alloc(2 * MIB, 0);
        CHECK(big == NULL && errno == ENOMEM, "a 2 MiB large object is refused too (%p, errno %d)",
              big, errno);
        numaslab_free(big);
    }
    {
        size_t bad = 0;
        for (size_t i = 0; i < got; i++)
            if (*(uint64_t *)v[i] != i)
                bad++;
        CHECK(bad == 0, "the objects handed out keep their contents (%zu do not)", bad);
    }
    for (size_t i = 0; i < got; i++)
        numaslab_free(v[i]);
    numaslab_thread_flush();
    if (got > 0) {
        /* the limit was reached by objects: freeing them makes room */
        void *p = numaslab_alloc(SZ, 0);
        CHECK(p != NULL, "after freeing them, allocation works again");
        numaslab_free(p);
    }
    free(v);
    return tu_exit();
}

/* numaslab_init with a config struct, before any allocation. */
static int child_config(void)
{
    struct numaslab_config cfg;
    int r, nodes[1024], nn;
    numaslab_cache_t *c;
    void **v;
    enum { N = 100000 };

    memset(&cfg, 0, sizeof(cfg));
    cfg.retain = 1;
    cfg.tcache = 16;
    r = numaslab_init(&cfg);
    CHECK(r == 0, "numaslab_init({retain 1, tcache 16}) returns 0 (got %d)", r);
    r = numaslab_init(&cfg);
    CHECK(r == -EALREADY, "a second numaslab_init returns -EALREADY (got %d)", r);
    r = numaslab_init(NULL);
    CHECK(r == -EALREADY, "numaslab_init(NULL) then returns -EALREADY too (got %d)", r);
    child_alloc_works();

    /* retain 1 is applied: at most one empty slab kept per node. */
    nn = tu_active_nodes(nodes, 1024);
    v = malloc(N * sizeof(*v));
    REQUIRE(v, "out of memory");
    for (int i = 0; i < N; i++)
        v[i] = numaslab_alloc(64, 0);
    for (int i = 0; i < N; i++)
        numaslab_free(v[i]);
    numaslab_thread_flush();
    free(v);
    c = numaslab_size_cache(64);
    for (int i = 0; i < nn && c; i++) {
        struct numaslab_cache_stats st;
        memset(&st, 0, sizeof(st));
        r = numaslab_stats_cache(c, nodes[i], &st);
        CHECK(r == 0 && st.slabs_empty <= 1 && st.objects_inuse == 0,
              "retain 1 applied: node %d keeps %llu empty slab(s) of numaslab-64 after %d frees",
              nodes[i], (unsigned long long)st.slabs_empty, N);
    }
    return tu_exit();
}

/* numaslab_init with a bad option. */
static int child_badcfg(void)
{
    struct numaslab_config cfg;
    int r;

    memset(&cfg, 0, sizeof(cfg));
    cfg.nodes = "zz";
    r = numaslab_init(&cfg);
    CHECK(r == -EINVAL, "numaslab_init({nodes \"zz\"}) returns -EINVAL (got %d)", r);
    child_alloc_works();
    return tu_exit();
}

/* 100 objects of a fresh cache of 64-byte objects, freed in the order they
 * were made, then one allocation: which one comes back says how many the
 * thread's free list held (it returns the last one it took; the free map,
 * the lowest).  Prints "tcache-index N". */
static int child_tcache(void)
{
    numaslab_cache_t *c = numaslab_cache_create("env-tcache", 64, 0, 0, NULL);
    void *a[100];
    REQUIRE(c, "numaslab_cache_create: %s", strerror(errno));
    for (int i = 0; i < 100; i++)
        REQUIRE((a[i] = numaslab_cache_alloc(c, 0)), "numaslab_cache_alloc: %s", strerror(errno));
    /* The objects the list took ahead from the slab go back: it holds
     * only frees from here on (numaslab(7), Thread-owned slabs). */
    numaslab_thread_flush();
    for (int i = 0; i < 100; i++)
        numaslab_cache_free(c, a[i]);
    void *p = numaslab_cache_alloc(c, 0);
    int idx = -1;
    for (int i = 0; i < 100; i++)
        if (a[i] == p)
            idx = i;
    printf("tcache-index %d\n", idx);
    CHECK(idx >= 0, "the allocation is one of the 100 freed objects");
    numaslab_cache_free(c, p);
    return tu_exit();
}

/* A thread that waits until the child is done with numaslab_init. */
static int plug_pipe[2];
static void *plug_waiter(void *arg)
{
    char c;
    (void)arg;
    while (read(plug_pipe[0], &c, 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

/* numaslab_init, another thread alive meanwhile or not; what
 * HWLOC_PLUGINS_BLACKLIST is afterwards goes to stdout (hwloc itself
 * writes what it does with its plugins to stderr: HWLOC_PLUGINS_VERBOSE). */
static int child_plugins(int threaded)
{
    pthread_t t;
    if (threaded) {
        REQUIRE(pipe(plug_pipe) == 0, "pipe: %s", strerror(errno));
        REQUIRE(pthread_create(&t, NULL, plug_waiter, NULL) == 0, "pthread_create");
    }
    extern char **environ;
    char **before = environ;
    CHECK(numaslab_init(NULL) == 0, "numaslab_init: %s", strerror(errno));
    CHECK(environ == before, "environ is the array it was before numaslab_init");
    const char *v = getenv("HWLOC_PLUGINS_BLACKLIST");
    printf("blacklist-after [%s]\n", v ? v : "(unset)");
    if (threaded) {
        REQUIRE(write(plug_pipe[1], "x", 1) == 1, "write: %s", strerror(errno));
        pthread_join(t, NULL);
    }
    child_alloc_works();
    return tu_exit();
}

static int run_child(const char *scenario)
{
    tu_init(scenario);
    tu_case("child: %s", scenario);
    if (!strcmp(scenario, "nodes0"))
        return child_nodes0();
    if (!strcmp(scenario, "alloc"))
        return child_alloc_only();
    if (!strcmp(scenario, "limit"))
        return child_limit();
    if (!strcmp(scenario, "config"))
        return child_config();
    if (!strcmp(scenario, "badcfg"))
        return child_badcfg();
    if (!strcmp(scenario, "tcache"))
        return child_tcache();
    if (!strcmp(scenario, "plugins"))
        return child_plugins(0);
    if (!strcmp(scenario, "plugins-thread"))
        return child_plugins(1);
    tu_hard("unknown scenario %s", scenario);
}

/* ------------------------------------------------------------------------
 * Parent
 * ---------------------------------------------------------------------- */

/* Run this program --child scenario with vars (NULL-ended) added. */
static struct tu_child spawn(const char *scenario, const char *const *vars)
{
    size_t n = 0;
    while (vars && vars[n])
        n++;
    return tu_spawn_self("test-env", scenario, vars, n);
}

static void show_child(const struct tu_child *r)
{
    const char *p = r->out;
    while (*p) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        printf("    %.*s\n", n, p);
        p += n + (nl ? 1 : 0);
    }
    tu_show("child's stderr", r->err);
}

static int exited0(const struct tu_child *r)
{
    return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

static const char *status_str(const struct tu_child *r, char *buf, size_t n)
{
    if (WIFEXITED(r->status))
        snprintf(buf, n, "exit %d", WEXITSTATUS(r->status));
    else if (WIFSIGNALED(r->status))
        snprintf(buf, n, "signal %d", WTERMSIG(r->status));
    else
        snprintf(buf, n, "status %#x", r->status);
    return buf;
}

/* What hwloc's verbose plugin messages (stderr) say of plugin name:
 * 'L' loaded, 'B' left out by HWLOC_PLUGINS_BLACKLIST, 0 not found. */
static char plugin_fate(const char *err, const char *name)
{
    char loaded[128], left[128];
    snprintf(loaded, sizeof(loaded), "Plugin descriptor `%s' ready", name);
    snprintf(left, sizeof(left), "Plugin `%s' is blacklisted", name);
    return strstr(err, loaded) ? 'L' : strstr(err, left) ? 'B' : 0;
}

/* The plugins a distribution ships whose loading numaslab spares a
 * process (numa/topology.c). */
static const char *const spared[] = {"hwloc_pci", "hwloc_opencl", "hwloc_gl", "hwloc_xml_libxml"};
#define NSPARED (sizeof(spared) / sizeof(spared[0]))

/* hwloc's plugins while numaslab loads its topology (numaslab(7), hwloc's
 * plugins): left closed when the process has one thread and the user set
 * no hwloc variable of theirs; opened as hwloc does by itself otherwise;
 * the environment as it was, either way. */
static void hwloc_plugins(void)
{
    char buf[64];
    struct tu_child r;

    tu_case("hwloc's plugins left closed");
    const char *plain[] = {"HWLOC_PLUGINS_VERBOSE=1", NULL};
    r = spawn("plugins", plain);
    show_child(&r);
    CHECK(exited0(&r), "child passed (%s)", status_str(&r, buf, sizeof(buf)));
    CHECK(strstr(r.out, "blacklist-after [(unset)]") != NULL,
          "HWLOC_PLUGINS_BLACKLIST is unset again after numaslab_init");
    int found = 0, loaded = 0;
    for (size_t i = 0; i < NSPARED; i++) {
        char f = plugin_fate(r.err, spared[i]);
        found += f != 0;
        loaded += f == 'L';
        if (f == 'L')
            tu_info("%s was loaded", spared[i]);
    }
    if (!found)
        tu_info("hwloc found none of its plugins here (%s ...): the cases below check the "
                "environment only",
                spared[0]);
    CHECK(loaded == 0, "none of the %d plugins hwloc found was loaded (%d were)", found, loaded);
    free(r.out);
    free(r.err);

    tu_case("hwloc's plugins: the user's HWLOC_PLUGINS_BLACKLIST");
    const char *user[] = {"HWLOC_PLUGINS_VERBOSE=1", "HWLOC_PLUGINS_BLACKLIST=hwloc_gl", NULL};
    r = spawn("plugins", user);
    show_child(&r);
    CHECK(exited0(&r), "child passed (%s)", status_str(&r, buf, sizeof(buf)));
    CHECK(strstr(r.out, "blacklist-after [hwloc_gl]") != NULL,
          "the user's HWLOC_PLUGINS_BLACKLIST is left as it was");
    if (plugin_fate(r.err, "hwloc_pci"))
        CHECK(plugin_fate(r.err, "hwloc_pci") == 'L' && plugin_fate(r.err, "hwloc_gl") != 'L',
              "only the plugin the user named is left out (hwloc_pci %c, hwloc_gl %c)",
              plugin_fate(r.err, "hwloc_pci"), plugin_fate(r.err, "hwloc_gl") ?: '-');
    free(r.out);
    free(r.err);

    tu_case("hwloc's plugins: a second thread");
    r = spawn("plugins-thread", plain);
    show_child(&r);
    CHECK(exited0(&r), "child passed (%s)", status_str(&r, buf, sizeof(buf)));
    CHECK(strstr(r.out, "blacklist-after [(unset)]") != NULL,
          "HWLOC_PLUGINS_BLACKLIST was never set");
    if (found) {
        int now = 0;
        for (size_t i = 0; i < NSPARED; i++)
            now += plugin_fate(r.err, spared[i]) == 'L';
        CHECK(now == found,
              "with another thread alive the environment is not changed: hwloc "
              "loads its %d plugins (%d loaded)",
              found, now);
    }
    free(r.out);
    free(r.err);
}

/* 1 when a line of text contains var and, elsewhere on it, value as a
 * token (not part of a longer word or number). */
static int line_names(const char *text, const char *var, const char *value)
{
    size_t vl = strlen(value);
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, len), *q, *v;
        int found = 0;
        REQUIRE(line, "out of memory");
        v = strstr(line, var);
        if (v) {
            /* blank out the variable's name: the value must be elsewhere */
            memset(v, ' ', strlen(var));
            for (q = strstr(line, value); q && !found; q = strstr(q + 1, value)) {
                char before = q == line ? ' ' : q[-1], after = q[vl];
                if (!isalnum((unsigned char)before) && before != '_' &&
                    !isalnum((unsigned char)after) && after != '_')
                    found = 1;
            }
        }
        free(line);
        if (found)
            return 1;
        p += len + (nl ? 1 : 0);
    }
    return 0;
}

/* A bad value: a message names the variable and the value, allocation
 * still works. */
static void bad_value(const char *var, const char *value)
{
    char setting[128], buf[32];
    const char *vars[2] = {setting, NULL};
    struct tu_child r;

    snprintf(setting, sizeof(setting), "%s=%s", var, value);
    tu_case("%s", setting);
    r = spawn("alloc", vars);
    show_child(&r);
    CHECK(exited0(&r), "%s: the child allocates and exits 0 (%s)", setting,
          status_str(&r, buf, sizeof(buf)));
    CHECK(line_names(r.err, var, value), "%s: a message on stderr names %s and \"%s\"", setting,
          var, value);
    free(r.out);
    free(r.err);
}

int main(int argc, char **argv)
{
    struct tu_child r;
    char buf[32];
    int nact;

    if (argc >= 3 && !strcmp(argv[1], "--child"))
        return run_child(argv[2]);

    tu_init("test-env");
    REQUIRE(access("/proc/self/exe", X_OK) == 0, "/proc/self/exe: %s", strerror(errno));
    nact = tu_count_active_nodes();
    tu_info("%d active node(s) in the parent", nact);

    {
        const char *vars[] = {"NUMASLAB_NODES=0", NULL};
        tu_case("NUMASLAB_NODES=0");
        r = spawn("nodes0", vars);
        show_child(&r);
        CHECK(exited0(&r), "NUMASLAB_NODES=0: child passed (%s)", status_str(&r, buf, sizeof(buf)));
        CHECK(*r.err == '\0', "NUMASLAB_NODES=0: nothing on stderr");
        free(r.out);
        free(r.err);
    }

    /* NUMASLAB_TCACHE sizes the threads' free lists: 100 objects freed in
     * order, the next allocation is the last the list took. */
    tu_case("NUMASLAB_TCACHE sizes the threads' free lists");
    {
        static const struct {
            const char *var;
            int want;
        } tc[] = {{"NUMASLAB_TCACHE=1", 0},
                  {"NUMASLAB_TCACHE=100", NSLAB_DEBUG ? 0 : 99},
                  {NULL, NSLAB_DEBUG ? 0 : 63}};
        /* A debug build keeps no lists: every free is in the map. */
        for (size_t k = 0; k < sizeof(tc) / sizeof(tc[0]); k++) {
            const char *vars[] = {tc[k].var, NULL};
            r = spawn("tcache", vars);
            int got = -2;
            const char *at = strstr(r.out, "tcache-index ");
            if (at)
                got = atoi(at + 13);
            CHECK(exited0(&r) && got == tc[k].want,
                  "%s: the allocation after 100 frees of 64 B gets the object freed %d-th "
                  "(got %d)",
                  tc[k].var ? tc[k].var : "NUMASLAB_TCACHE unset (8 KiB: 64 objects)",
                  tc[k].want + 1, got + 1);
            free(r.out);
            free(r.err);
        }
    }

    bad_value("NUMASLAB_NODES", "zz");
    bad_value("NUMASLAB_RETAIN", "abc");
    bad_value("NUMASLAB_TCACHE", "0");
    bad_value("NUMASLAB_NODE_LIMIT", "12Q");
    bad_value("NUMASLAB_RETAIN_BYTES", "-1");
    bad_value("NUMASLAB_RETAIN_BYTES", "8X");
    bad_value("NUMASLAB_LOW_WATERMARK", "lots");
    bad_value("NUMASLAB_LOW_WATERMARK", "150%");
    bad_value("NUMASLAB_LOW_WATERMARK", "5%%");
    bad_value("NUMASLAB_CGROUP_MARGIN", "-4M");
    bad_value("NUMASLAB_CGROUP_MARGIN", "3x%");

    {
        /* One node to fill: on a multi-node machine NUMASLAB_NODES=0
         * removes the others that would take the fallback. */
        const char *one[] = {"NUMASLAB_NODE_LIMIT=1M", NULL};
        const char *multi[] = {"NUMASLAB_NODE_LIMIT=1M", "NUMASLAB_NODES=0", NULL};
        tu_case("NUMASLAB_NODE_LIMIT=1M%s", nact > 1 ? " NUMASLAB_NODES=0" : "");
        r = spawn("limit", nact > 1 ? multi : one);
        show_child(&r);
        CHECK(exited0(&r), "NUMASLAB_NODE_LIMIT=1M: child passed (%s)",
              status_str(&r, buf, sizeof(buf)));
        free(r.out);
        free(r.err);
    }

    tu_case("numaslab_init with a config struct");
    r = spawn("config", NULL);
    show_child(&r);
    CHECK(exited0(&r), "numaslab_init(cfg): child passed (%s)", status_str(&r, buf, sizeof(buf)));
    free(r.out);
    free(r.err);

    tu_case("numaslab_init with a bad option");
    r = spawn("badcfg", NULL);
    show_child(&r);
    CHECK(exited0(&r), "numaslab_init({nodes \"zz\"}): child passed (%s)",
          status_str(&r, buf, sizeof(buf)));
    CHECK(tu_line_has_all(r.err, "zz", (char *)NULL), "a message on stderr names \"zz\"");
    free(r.out);
    free(r.err);

    hwloc_plugins();

    return tu_exit();
}
