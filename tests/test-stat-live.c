/*
 * test-stat-live - the statistics segment of a live process, read by
 * numaslab-stat: the figures `numaslab-stat -p <our pid> --json` prints
 * equal our own numaslab_stats_node / numaslab_stats_cache /
 * numaslab_stats_process readings at that moment (each node's "memory"
 * and "pages" objects and the process's "cgroup" object included, with
 * large objects, one of them offered to huge pages, and freed pages
 * cached on every active node), and the reserve
 * counts move when the reserve is used
 * (NUMASLAB_CRITICAL under numaslab_fail_pages("after=0")).  Also: the
 * segment is live (written by the slow paths themselves: the figures are
 * there at once, in a process that runs no thread of the library's; an
 * idle child's figures, read by numaslab-stat, are its own), numaslab_fini
 * and exit remove the segment, a fork child publishes under its own pid at
 * its first write (and one that _exits at once leaves nothing),
 * NUMASLAB_STATS=0 publishes nothing, malformed NUMASLAB_STATS* values are
 * reported, NUMASLAB_STATS_PRINT=1 prints the tables at exit, and a process
 * whose main thread left by pthread_exit still ends.
 *
 *   test-stat-live --hold   publish, print our pid, wait to be killed
 *                           (test-stat-badinput.sh kills it with SIGKILL)
 *   test-stat-live --print  allocate and exit (NUMASLAB_STATS_PRINT=1 set
 *                           by the test prints the tables at exit)
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define MAXN 64

static char tool[4096];

static void seg_path(char *buf, size_t n, long pid)
{
    snprintf(buf, n, "/dev/shm/numaslab.%ld", pid);
}

/* "Threads:" of /proc/PID/status, or -1. */
static long proc_threads(long pid)
{
    return tu_proc_status(pid, "Threads");
}

static int seg_exists(long pid)
{
    char p[64];
    seg_path(p, sizeof(p), pid);
    return access(p, F_OK) == 0;
}

/* ------------------------------------------------------------------------
 * Running numaslab-stat
 * ---------------------------------------------------------------------- */

/* Run the tool with args (NULL-ended); its stdout in a malloc'd string,
 * its exit code (-1 for a signal) in *code. */
static char *run_tool(int *code, const char *a1, const char *a2, const char *a3, const char *a4)
{
    const char *argv[] = {tool, a1, a2, a3, a4, NULL};
    int pfd[2];
    REQUIRE(pipe(pfd) == 0, "pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(pfd[0]);
        dup2(pfd[1], 1);
        execv(tool, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    REQUIRE(out != NULL, "out of memory");
    for (;;) {
        if (len + 4096 > cap)
            REQUIRE((out = realloc(out, cap *= 2)) != NULL, "out of memory");
        ssize_t n = read(pfd[0], out + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    out[len] = '\0';
    close(pfd[0]);
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    *code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

static char *stat_json(long pid, int *code)
{
    char p[32];
    snprintf(p, sizeof(p), "%ld", pid);
    return run_tool(code, "-p", p, "--json", "--caches");
}

/* ------------------------------------------------------------------------
 * Just enough JSON: find a member, an array element; read a number.
 * ---------------------------------------------------------------------- */

static const char *jws(const char *p)
{
    while (p && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

static const char *jskip(const char *p);

static const char *jstr_end(const char *p)
{
    if (!p || *p != '"')
        return NULL;
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && !*++p)
            return NULL;
    return *p ? p + 1 : NULL;
}

static const char *jskip(const char *p)
{
    p = jws(p);
    if (!p || !*p)
        return NULL;
    if (*p == '"')
        return jstr_end(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = jws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (close == '}') {
                p = jws(jstr_end(jws(p)));
                if (!p || *p++ != ':')
                    return NULL;
            }
            p = jws(jskip(p));
            if (!p)
                return NULL;
            if (*p == close)
                return p + 1;
            if (*p++ != ',')
                return NULL;
        }
    }
    while (*p && !strchr(",}] \n", *p))
        p++;
    return p;
}

/* The value of member key of the object at obj, or NULL. */
static const char *jget(const char *obj, const char *key)
{
    const char *p = jws(obj);
    size_t kl = strlen(key);
    if (!p || *p != '{')
        return NULL;
    p = jws(p + 1);
    while (p && *p == '"') {
        const char *k = p + 1, *e = jstr_end(p);
        if (!e)
            return NULL;
        p = jws(e);
        if (*p++ != ':')
            return NULL;
        if ((size_t)(e - 1 - k) == kl && !strncmp(k, key, kl))
            return jws(p);
        p = jws(jskip(p));
        if (!p || *p != ',')
            return NULL;
        p = jws(p + 1);
    }
    return NULL;
}

/* Element i of the array at arr, or NULL. */
static const char *jat(const char *arr, int i)
{
    const char *p = jws(arr);
    if (!p || *p != '[')
        return NULL;
    p = jws(p + 1);
    if (*p == ']')
        return NULL;
    for (int k = 0; k < i; k++) {
        p = jws(jskip(p));
        if (!p || *p != ',')
            return NULL;
        p = jws(p + 1);
    }
    return p;
}

/* A number at path "a.b.c" below obj; LLONG_MIN when missing. */
static long long jnum(const char *obj, const char *path)
{
    char key[64];
    const char *p = obj;
    while (p && *path) {
        size_t l = strcspn(path, ".");
        snprintf(key, sizeof(key), "%.*s", (int)l, path);
        p = jget(p, key);
        path += l + (path[l] == '.');
    }
    if (!p || !(*p == '-' || (*p >= '0' && *p <= '9')))
        return LLONG_MIN;
    return strtoll(p, NULL, 10);
}

static int jtrue(const char *obj, const char *key)
{
    const char *p = jget(obj, key);
    return p && !strncmp(p, "true", 4);
}

static int jnull(const char *obj, const char *key)
{
    const char *p = jget(obj, key);
    return p && !strncmp(p, "null", 4);
}

/* The element of array arr whose member key is the number want. */
static const char *jfind(const char *arr, const char *key, long long want)
{
    const char *e;
    for (int i = 0; (e = jat(arr, i)); i++)
        if (jnum(e, key) == want)
            return e;
    return NULL;
}

/* The cache record (name, node). */
static const char *jcache(const char *doc, const char *name, int node)
{
    const char *arr = jget(doc, "caches"), *e;
    char want[80];
    snprintf(want, sizeof(want), "\"%s\"", name);
    for (int i = 0; (e = jat(arr, i)); i++) {
        const char *n = jget(e, "name");
        if (n && !strncmp(n, want, strlen(want)) && jnum(e, "node") == node)
            return e;
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Comparing the tool's figures with ours
 * ---------------------------------------------------------------------- */

#define SAME(json, path, ours, node)                                                               \
    CHECK(jnum(json, path) == (long long)(ours), "node %d: %s: tool %lld, in-process %lld", node,  \
          path, jnum(json, path), (long long)(ours))

static void compare_node(const char *doc, int node)
{
    struct numaslab_node_stats st;
    const char *j = jfind(jget(doc, "nodes"), "node", node);
    if (!CHECK(j != NULL, "node %d: has a record in the JSON", node))
        return;
    REQUIRE(numaslab_stats_node(node, &st) == 0, "numaslab_stats_node(%d)", node);
    CHECK(jtrue(j, "active") == st.active, "node %d: active is %s", node,
          st.active ? "true" : "false");
    SAME(j, "reserve.cur", st.reserve_cur, node);
    SAME(j, "reserve.min", st.reserve_min, node);
    SAME(j, "reserve.bytes", st.reserve_bytes, node);
    SAME(j, "reserve.used", st.reserve_used, node);
    SAME(j, "reserve.empty", st.reserve_empty, node);
    SAME(j, "reserve.waiters", st.reserve_waiters, node);
    SAME(j, "bytes_mapped", st.bytes_mapped, node);
    SAME(j, "large_objects", st.large_allocs, node);
    SAME(j, "fallback.exhausted.out", st.fallback_out, node);
    SAME(j, "fallback.exhausted.in", st.fallback_in, node);
    SAME(j, "fallback.inactive.asked", st.inactive_requests, node);
    SAME(j, "fallback.inactive.served", st.inactive_served, node);

    /* The page layer: this layout's segment always has it. */
    const char *pg = jget(j, "pages");
    if (CHECK(pg && *pg == '{', "node %d: has a \"pages\" object", node)) {
        SAME(pg, "cached", st.page_cached, node);
        SAME(pg, "large_bytes", st.large_bytes, node);
        SAME(pg, "huge_bytes", st.huge_bytes, node);
    }

    /* Running short: on Linux an active node's free memory is read (from
     * its meminfo file, or the machine's when it has one memory node). */
    const char *m = jget(j, "memory");
    if (!CHECK(m && *m == '{', "node %d: has a \"memory\" object", node))
        return;
    CHECK(jtrue(m, "known") == (st.mem_known != 0), "node %d: memory.known is %s", node,
          st.mem_known ? "true" : "false");
    CHECK(jtrue(m, "short") == (st.mem_short != 0), "node %d: memory.short is %s", node,
          st.mem_short ? "true" : "false");
    SAME(m, "avail", st.mem_avail, node);
    SAME(m, "watermark", st.low_watermark, node);
    SAME(m, "short_since_ns", st.short_since_ns, node);
    SAME(m, "refused", st.short_refused, node);
    SAME(m, "episodes", st.short_episodes, node);
    if (st.active) {
        char path[96];
        snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
        if (access(path, R_OK) == 0 || access("/proc/meminfo", R_OK) == 0)
            CHECK(jtrue(m, "known") && jnum(m, "avail") > 0 && jnum(m, "watermark") > 0,
                  "node %d: active, its memory is known (avail %lld, watermark %lld)", node,
                  jnum(m, "avail"), jnum(m, "watermark"));
        else
            tu_info("node %d: no meminfo to read here: memory.known not required", node);
    }
}

/* A byte count that UINT64_MAX (no limit) gives as null. */
#define SAME_LIMIT(json, key, ours)                                                                \
    CHECK((ours) == UINT64_MAX ? jnull(json, key) : jnum(json, key) == (long long)(ours),          \
          "cgroup: %s: tool %lld%s, in-process %llu", key, jnum(json, key),                        \
          jnull(json, key) ? " (null)" : "", (unsigned long long)(ours))

#define SAME_CG(json, key, ours)                                                                   \
    CHECK(jnum(json, key) == (long long)(ours), "cgroup: %s: tool %lld, in-process %lld", key,     \
          jnum(json, key), (long long)(ours))

/* The process's memory cgroup: "cgroup" equals numaslab_stats_process. */
static void compare_cgroup(const char *doc)
{
    static const char *const state[] = {"\"none\"", "\"v1\"", "\"v2\"", "\"unreadable\""};
    struct numaslab_process_stats ps;
    const char *g = jget(doc, "cgroup");
    if (!CHECK(g && *g == '{', "the JSON has a \"cgroup\" object"))
        return;
    REQUIRE(numaslab_stats_process(&ps) == 0, "numaslab_stats_process");
    REQUIRE(ps.cgroup >= 0 && ps.cgroup <= 3, "numaslab_stats_process: cgroup %d", ps.cgroup);
    const char *st = jget(g, "state");
    CHECK(st && !strncmp(st, state[ps.cgroup], strlen(state[ps.cgroup])),
          "cgroup: state is %s (%.16s)", state[ps.cgroup], st ? st : "missing");
    if (ps.cgroup == NUMASLAB_CGROUP_V1 || ps.cgroup == NUMASLAB_CGROUP_V2)
        CHECK(jnum(g, "version") == ps.cgroup, "cgroup: version %d", ps.cgroup);
    else
        CHECK(jnull(g, "version"), "cgroup: version null (state %s)", state[ps.cgroup]);
    SAME_LIMIT(g, "limit", ps.cgroup_limit);
    SAME_LIMIT(g, "avail", ps.cgroup_avail);
    CHECK(jtrue(g, "short") == (ps.cgroup_short != 0), "cgroup: short is %s",
          ps.cgroup_short ? "true" : "false");
    SAME_CG(g, "usage", ps.cgroup_usage);
    SAME_CG(g, "margin", ps.cgroup_margin);
    SAME_CG(g, "short_since_ns", ps.short_since_ns);
    SAME_CG(g, "refused", ps.short_refused);
    SAME_CG(g, "episodes", ps.short_episodes);
    SAME_CG(g, "trims", ps.trims);
    tu_info("memory cgroup: %s, limit %llu, usage %llu", state[ps.cgroup],
            (unsigned long long)ps.cgroup_limit, (unsigned long long)ps.cgroup_usage);
}

static void compare_cache(const char *doc, numaslab_cache_t *c, int node)
{
    struct numaslab_cache_stats st;
    const char *j = jcache(doc, numaslab_cache_name(c), node);
    if (!CHECK(j != NULL, "cache %s node %d: has a record", numaslab_cache_name(c), node))
        return;
    REQUIRE(numaslab_stats_cache(c, node, &st) == 0, "numaslab_stats_cache");
    SAME(j, "objects.inuse", st.objects_inuse, node);
    SAME(j, "objects.total", st.objects_total, node);
    SAME(j, "objects.reserve", st.objects_reserve, node);
    SAME(j, "slabs.full", st.slabs_full, node);
    SAME(j, "slabs.partial", st.slabs_partial, node);
    SAME(j, "slabs.empty", st.slabs_empty, node);
    SAME(j, "slabs.reserve", st.slabs_reserve, node);
    SAME(j, "slab_bytes", st.slab_bytes, node);
}

/* ------------------------------------------------------------------------
 * Children
 * ---------------------------------------------------------------------- */

static pid_t last_child;

/* Run fn in a child; its exit status (-1: killed; -2: timed out). */
static int in_child(int (*fn)(void *), void *arg, int timeout_s)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = last_child = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        alarm((unsigned)timeout_s);
        exit(fn(arg));
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    if (WIFSIGNALED(st))
        return WTERMSIG(st) == SIGALRM ? -2 : -1;
    return WEXITSTATUS(st);
}

/* A child that re-initialises with env name=value and captures stderr. */
struct envcase {
    const char *name, *value, *expect;
};

static int child_env(void *arg)
{
    const struct envcase *e = arg;
    struct tu_capture cap;
    numaslab_fini();
    setenv(e->name, e->value, 1);
    tu_capture_begin(&cap);
    int rc = numaslab_init(NULL);
    char *text = tu_capture_end(&cap);
    int ok = rc == 0 && strstr(text, e->expect) != NULL;
    if (!ok)
        tu_show("stderr", text);
    free(text);
    return ok ? 0 : 1;
}

static int child_stats_off(void *arg)
{
    (void)arg;
    numaslab_fini();
    setenv("NUMASLAB_STATS", "0", 1);
    if (numaslab_init(NULL) != 0)
        return 2;
    if (seg_exists(getpid()))
        return 3;
    return numaslab_stats_publish() == -ENOTSUP ? 0 : 4;
}

/* The tables at exit: written to the file named by arg. */
/* A fresh process (this program again, --print), not a re-initialised
 * fork child: the child's copies of our objects would still be live in
 * valgrind's books when its new slabs reuse their addresses. */
static int child_print(void *arg)
{
    int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, 2) != 2)
        return 99;
    setenv("NUMASLAB_STATS_PRINT", "1", 1);
    execl(tu_self_exe(), "test-stat-live", "--print", (char *)NULL);
    return 98;
}

/* --print: allocate, exit: the atexit hook prints the tables. */
static int print_at_exit(void)
{
    void *p = numaslab_alloc(100, 0);
    (void)p;
    return 0;
}

/* A condition for tu_wait_until: the main thread (its id is the
 * process's) has exited and is a zombie until the process ends. */
static int main_thread_gone(void *unused)
{
    char path[64], buf[256];
    (void)unused;
    snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", (long)getpid());
    const char *paren = tu_proc_stat(path, buf, sizeof(buf));
    return !paren || (paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

/* The last application thread: it ends once the main thread has. */
static void *sleeper(void *arg)
{
    tu_wait_until(main_thread_gone, NULL);
    return arg;
}

/* main leaves through pthread_exit; once the last application thread is
 * gone, the process must end although the publisher runs. */
static int child_last_thread(void *arg)
{
    pthread_t t;
    (void)arg;
    if (numaslab_stats_publish() != 0 || !seg_exists(getpid()))
        return 2;
    if (pthread_create(&t, NULL, sleeper, NULL))
        return 99;
    pthread_exit(NULL);
}

/* ------------------------------------------------------------------------
 * --hold: for test-stat-badinput.sh
 * ---------------------------------------------------------------------- */

static int hold(void)
{
    setenv("NUMASLAB_STATS", "1", 1);
    if (numaslab_init(NULL) != 0)
        return 99;
    void *p = numaslab_alloc(64, 0);
    (void)p;
    if (numaslab_stats_publish() != 0)
        return 99;
    printf("%ld\n", (long)getpid());
    fflush(stdout);
    for (;;)
        pause();
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--hold"))
        return hold();
    if (argc == 2 && !strcmp(argv[1], "--print"))
        return print_at_exit();
    tu_init("test-stat-live");

    const char *top = getenv("top_builddir");
    snprintf(tool, sizeof(tool), "%s/tools/numaslab-stat", top ? top : ".");
    REQUIRE(access(tool, X_OK) == 0, "%s: %s (build it first)", tool, strerror(errno));
    if (access("/dev/shm", W_OK) != 0)
        tu_skip("/dev/shm is not writable: no segment can be published");

    /* The test harness turns publishing off for every other test. */
    tu_case("publishing: the segment exists");
    setenv("NUMASLAB_STATS", "1", 1);
    setenv("NUMASLAB_STATS_INTERVAL", "50", 1);
    unsetenv("NUMASLAB_STATS_PRINT");
    unsetenv("NUMASLAB_FAIL_PAGES");
    REQUIRE(numaslab_init(NULL) == 0, "numaslab_init failed");
    tu_pin_self();

    long me = (long)getpid();
    int nodes[MAXN], code;
    int nact = tu_active_nodes(nodes, MAXN);
    int maxnode = numaslab_max_node();
    REQUIRE(nact > 0 && nact <= MAXN, "%d active nodes", nact);
    tu_info("%d active node(s), highest node id %d", nact, maxnode);

    CHECK(seg_exists(me), "/dev/shm/numaslab.%ld exists right after numaslab_init", me);

    /* An inactive request, so that an absent node has a record. */
    tu_case("an inactive request, so that an absent node has a record");
    int absent = maxnode + 1;
    void *ina = numaslab_alloc_node(64, NUMASLAB_NOWARN, absent);
    CHECK(ina != NULL, "a request for absent node %d is served", absent);

    /* Ordinary objects on every active node. */
    tu_case("ordinary objects on every active node");
    numaslab_cache_t *c = numaslab_cache_create("stat-live", 256, 0, 0, NULL);
    REQUIRE(c != NULL, "numaslab_cache_create");
    enum { NORD = 600, NCRIT = 4000 };
    static void *ord[MAXN][NORD];
    for (int i = 0; i < nact; i++)
        for (int k = 0; k < NORD; k++)
            REQUIRE((ord[i][k] = numaslab_cache_alloc_node(c, 0, nodes[i])) != NULL,
                    "allocation on node %d", nodes[i]);

    /* Large objects on every active node: 2.5 MiB (its first 2 MiB
     * offered to huge pages, unless NUMASLAB_THP=0) and 64 KiB; and a
     * freed one of 128 KiB, whose run the node's page cache keeps. */
    tu_case("large objects on every active node: 2.5 MiB and 64 KiB");
    enum { BIG = 5 << 19, SMALL = 64 << 10, FREED = 128 << 10 };
    static void *big[MAXN], *small[MAXN];
    for (int i = 0; i < nact; i++) {
        struct numaslab_node_stats st0, st;
        REQUIRE(numaslab_stats_node(nodes[i], &st0) == 0, "numaslab_stats_node");
        void *tmp = numaslab_alloc_node(FREED, NUMASLAB_THISNODE, nodes[i]);
        big[i] = numaslab_alloc_node(BIG, NUMASLAB_THISNODE, nodes[i]);
        small[i] = numaslab_alloc_node(SMALL, NUMASLAB_THISNODE, nodes[i]);
        REQUIRE(tmp && big[i] && small[i], "large objects on node %d", nodes[i]);
        numaslab_free(tmp);
        numaslab_thread_flush(); /* the thread's cache of freed large objects too */
        REQUIRE(numaslab_stats_node(nodes[i], &st) == 0, "numaslab_stats_node");
        CHECK(st.large_bytes == st0.large_bytes + BIG + SMALL,
              "node %d: large_bytes grew by the two objects' bytes (%llu -> %llu)", nodes[i],
              (unsigned long long)st0.large_bytes, (unsigned long long)st.large_bytes);
        const char *thp = getenv("NUMASLAB_THP");
        uint64_t want = thp && !strcmp(thp, "0") ? 0 : 2u << 20;
        CHECK(st.huge_bytes == st0.huge_bytes + want,
              "node %d: huge_bytes grew by %llu (%llu -> %llu)", nodes[i], (unsigned long long)want,
              (unsigned long long)st0.huge_bytes, (unsigned long long)st.huge_bytes);
        if (st.mem_short)
            tu_info("node %d: short of memory: freed runs are not kept", nodes[i]);
        else
            CHECK(st.page_cached >= FREED, "node %d: the freed object's run is cached (%llu bytes)",
                  nodes[i], (unsigned long long)st.page_cached);
    }

    REQUIRE(numaslab_stats_publish() == 0, "numaslab_stats_publish");
    char *before = stat_json(me, &code);
    CHECK(code == 0, "numaslab-stat -p %ld --json exits 0 (got %d)", me, code);
    CHECK(jnum(before, "pid") == me, "its pid is ours");
    for (int n = 0; n <= maxnode; n++)
        compare_node(before, n);
    compare_node(before, absent);
    compare_cgroup(before);
    for (int i = 0; i < nact; i++)
        compare_cache(before, c, nodes[i]);

    /* The reserves: ordinary pages fail from now on, critical requests
     * grow the cache from each node's reserve. */
    tu_case("the reserves");
    REQUIRE(numaslab_fail_pages("after=0") == 0, "numaslab_fail_pages");
    static void *crit[MAXN][NCRIT];
    int ncrit[MAXN] = {0};
    for (int i = 0; i < nact; i++) {
        struct numaslab_node_stats st0, st;
        numaslab_stats_node(nodes[i], &st0);
        for (int k = 0; k < NCRIT; k++) {
            crit[i][k] =
                numaslab_cache_alloc_node(c, NUMASLAB_CRITICAL | NUMASLAB_THISNODE, nodes[i]);
            if (!crit[i][k])
                break;
            ncrit[i]++;
            numaslab_stats_node(nodes[i], &st);
            if (st.reserve_used >= st0.reserve_used + 2)
                break; /* two reserve slabs: enough to see it move */
        }
    }
    numaslab_fail_pages(NULL);

    REQUIRE(numaslab_stats_publish() == 0, "numaslab_stats_publish");
    char *after = stat_json(me, &code);
    CHECK(code == 0, "numaslab-stat -p %ld --json --caches exits 0 after the reserve was used", me);
    for (int n = 0; n <= maxnode; n++)
        compare_node(after, n);
    compare_node(after, absent);
    compare_cgroup(after);
    for (int i = 0; i < nact; i++) {
        int node = nodes[i];
        const char *b = jfind(jget(before, "nodes"), "node", node);
        const char *a = jfind(jget(after, "nodes"), "node", node);
        compare_cache(after, c, node);
        CHECK(a && b && jnum(a, "reserve.used") > jnum(b, "reserve.used"),
              "node %d: reserve.used moved %lld -> %lld (%d critical objects)", node,
              jnum(b, "reserve.used"), jnum(a, "reserve.used"), ncrit[i]);
        CHECK(a && b && jnum(a, "reserve.cur") < jnum(b, "reserve.cur"),
              "node %d: reserve.cur fell %lld -> %lld", node, jnum(b, "reserve.cur"),
              jnum(a, "reserve.cur"));
        CHECK(a && jnum(a, "reserve.cur") < jnum(a, "reserve.min"),
              "node %d: the reserve is below its minimum (%lld < %lld)", node,
              jnum(a, "reserve.cur"), jnum(a, "reserve.min"));
        const char *cr = jcache(after, "stat-live", node);
        CHECK(cr && jnum(cr, "slabs.reserve") > 0, "node %d: the cache has reserve slabs", node);
    }
    /* Freed before the forks below: the children end without them in
     * reach, which LeakSanitizer would count as leaks. */
    free(before);

    /* The table: a bar per active node, low reserve visible. */
    tu_case("the table: a bar per active node, low reserve visible");
    {
        char p[32];
        snprintf(p, sizeof(p), "%ld", me);
        char *t = run_tool(&code, "-p", p, "--caches", NULL);
        CHECK(code == 0, "numaslab-stat -p %ld --caches exits 0", me);
        for (int i = 0; i < nact; i++) {
            char lead[32];
            snprintf(lead, sizeof(lead), "%4d  active ", nodes[i]);
            CHECK(tu_line_has_all(t, lead, "[", "#", "-", "]", "%", (char *)NULL),
                  "node %d: its row shows the reserve as a bar below full", nodes[i]);
        }
        CHECK(tu_line_has_all(t, "stat-live", (char *)NULL), "the cache table lists stat-live");
        CHECK(tu_line_has_all(t, "NODE", "AVAIL", "WATERMARK", "MEMORY", "REFUSED", "EPISODES",
                              (char *)NULL) &&
                  !strstr(t, "not in this segment"),
              "the table has the per-node running-short table");
        CHECK(tu_line_has_all(t, "NODE", "PAGES CACHED", "LARGE BYTES", "HUGE BYTES", (char *)NULL),
              "the table has the per-node page layer table");
        for (int i = 0; i < nact; i++) {
            struct numaslab_node_stats st;
            char lead[32];
            numaslab_stats_node(nodes[i], &st);
            snprintf(lead, sizeof(lead), "%4d  ", nodes[i]);
            CHECK(tu_line_has_all(t, lead,
                                  st.mem_known ? (st.mem_short ? "short" : " ok ") : " not read ",
                                  (char *)NULL),
                  "node %d: its running-short row says %s", nodes[i],
                  st.mem_known ? (st.mem_short ? "short" : "ok") : "not read");
        }
        {
            static const char *const row[] = {"none ", "v1 ", "v2 ", "unreadable "};
            struct numaslab_process_stats ps;
            numaslab_stats_process(&ps);
            const char *g = strstr(t, "\nCGROUP ");
            g = g ? strchr(g + 1, '\n') : NULL;
            CHECK(g && ps.cgroup >= 0 && ps.cgroup <= 3 &&
                      !strncmp(g + 1, row[ps.cgroup], strlen(row[ps.cgroup])),
                  "the cgroup table's row starts with \"%s\"",
                  ps.cgroup >= 0 && ps.cgroup <= 3 ? row[ps.cgroup] : "?");
        }
        free(t);
    }

    /* Back to full: the reserve slabs empty, their pages go home. */
    tu_case("back to full: the reserve slabs empty, their pages go home");
    for (int i = 0; i < nact; i++)
        for (int k = 0; k < ncrit[i]; k++)
            numaslab_cache_free(c, crit[i][k]);

    /* The segment is live: the frees above are in it at once, without
     * numaslab_stats_publish and without waiting, and the process runs
     * no thread of the library's. */
    tu_case("the segment is live");
    {
        free(after);
        char *j = stat_json(me, &code);
        CHECK(code == 0 && jnum(j, "interval_ms") == 0,
              "the segment says it is live (interval_ms 0)");
        for (int i = 0; i < nact; i++) {
            struct numaslab_node_stats st;
            numaslab_stats_node(nodes[i], &st);
            const char *a = jfind(jget(j, "nodes"), "node", nodes[i]);
            CHECK(a && jnum(a, "reserve.cur") == st.reserve_cur,
                  "node %d: the reserve level, read at once, is ours (%d)", nodes[i],
                  st.reserve_cur);
        }
        free(j);
        CHECK(proc_threads(me) == 1, "the process runs one thread, ours (Threads: %ld)",
              proc_threads(me));
    }

    /* A large object the page layer serves from its cache of freed runs,
     * and its run given back there, map nothing: those writes carry the
     * page layer's fields only (lib/pages.c).  Every figure of every node
     * and of the cgroup must still be the library's, read at once. */
    tu_case("the segment is live: large objects through the page layer's cache");
    {
        static void *lo[MAXN];
        for (int i = 0; i < nact; i++) {
            void *p = numaslab_alloc_node(SMALL, NUMASLAB_THISNODE, nodes[i]);
            REQUIRE(p != NULL, "a large object on node %d", nodes[i]);
            numaslab_free(p);
            numaslab_thread_flush(); /* its run goes back to the page layer */
            lo[i] = numaslab_alloc_node(SMALL, NUMASLAB_THISNODE, nodes[i]);
            REQUIRE(lo[i] != NULL, "a large object on node %d, again", nodes[i]);
        }
        char *j = stat_json(me, &code);
        CHECK(code == 0, "numaslab-stat -p %ld --json exits 0 (got %d)", me, code);
        for (int n = 0; n <= maxnode; n++)
            compare_node(j, n);
        compare_cgroup(j);
        free(j);
        for (int i = 0; i < nact; i++)
            numaslab_free(lo[i]);
        numaslab_thread_flush();
        j = stat_json(me, &code);
        CHECK(code == 0, "numaslab-stat -p %ld --json exits 0 (got %d)", me, code);
        for (int n = 0; n <= maxnode; n++)
            compare_node(j, n);
        compare_cgroup(j);
        free(j);
    }

    /* Fork: the child publishes under its own pid; the parent's segment
     * is left alone by the child's exit. */
    tu_case("fork: the child publishes under its own pid");
    {
        int go[2], ready[2];
        REQUIRE(pipe(go) == 0 && pipe(ready) == 0, "pipe");
        fflush(stdout);
        pid_t ch = fork();
        REQUIRE(ch >= 0, "fork");
        if (ch == 0) {
            char b = 0;
            alarm(20);
            int ok = numaslab_stats_publish() == 0;
            if (write(ready[1], &ok, sizeof(ok)) != sizeof(ok))
                _exit(99);
            if (read(go[0], &b, 1) != 1)
                _exit(99);
            exit(0);
        }
        int ok = 0;
        REQUIRE(read(ready[0], &ok, sizeof(ok)) == sizeof(ok), "child");
        CHECK(ok && seg_exists(ch), "a fork child publishes /dev/shm/numaslab.%ld", (long)ch);
        char *j = stat_json(ch, &code);
        CHECK(code == 0 && jnum(j, "pid") == ch, "numaslab-stat -p %ld reads the child (exit %d)",
              (long)ch, code);
        free(j);
        REQUIRE(write(go[1], "x", 1) == 1, "pipe");
        int st;
        waitpid(ch, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child exits normally");
        CHECK(!seg_exists(ch), "its segment is gone after its exit");
        CHECK(seg_exists(me), "ours is still there");
        j = stat_json(me, &code);
        CHECK(code == 0 && jnum(j, "pid") == me, "and still reads (exit %d)", code);
        free(j);
        close(go[0]);
        close(go[1]);
        close(ready[0]);
        close(ready[1]);
    }

    /* An idle process: a child allocates, flushes and waits; read from
     * here, its figures are its own and it runs its one thread. */
    tu_case("an idle process: a child allocates, flushes and waits");
    {
        int ready[2], go[2];
        REQUIRE(pipe(ready) == 0 && pipe(go) == 0, "pipe");
        fflush(stdout);
        pid_t ch = fork();
        REQUIRE(ch >= 0, "fork");
        if (ch == 0) {
            char b;
            alarm(20);
            numaslab_cache_t *ic = numaslab_cache_create("stat-idle", 96, 0, 0, NULL);
            for (int k = 0; ic && k < 777; k++)
                if (!numaslab_cache_alloc(ic, 0))
                    _exit(99);
            numaslab_thread_flush();
            if (write(ready[1], "x", 1) != 1 || read(go[0], &b, 1) != 1)
                _exit(99);
            _exit(0);
        }
        char b = 0;
        REQUIRE(read(ready[0], &b, 1) == 1, "the idle child");
        char *j = stat_json(ch, &code);
        const char *ic = jcache(j, "stat-idle", numaslab_local_node());
        CHECK(code == 0 && ic && jnum(ic, "objects.inuse") == 777,
              "an idle child's figures, read at once by numaslab-stat: stat-idle has %lld objects "
              "in use (want 777)",
              ic ? jnum(ic, "objects.inuse") : -1);
        CHECK(proc_threads(ch) == 1, "the idle child runs one thread, its own (Threads: %ld)",
              proc_threads(ch));
        free(j);
        REQUIRE(write(go[1], "x", 1) == 1, "pipe");
        waitpid(ch, NULL, 0);
        close(ready[0]);
        close(ready[1]);
        close(go[0]);
        close(go[1]);
    }

    /* A child that _exits at once (fork + exec is the common case) leaves
     * no segment: the child's is made one interval after the fork. */
    tu_case("a child that _exits at once leaves no segment");
    {
        fflush(stdout);
        pid_t ch = fork();
        REQUIRE(ch >= 0, "fork");
        if (ch == 0)
            _exit(0);
        waitpid(ch, NULL, 0);
        CHECK(!seg_exists(ch), "a child that _exits at once leaves no segment");
    }
    {
        fflush(stdout);
        pid_t ch = fork();
        REQUIRE(ch >= 0, "fork");
        if (ch == 0) {
            int before = seg_exists(getpid());
            void *p = numaslab_alloc(1 << 20, 0); /* a slow path: its first write */
            (void)p;
            _exit(!before && seg_exists(getpid()) ? 0 : 1);
        }
        int st;
        waitpid(ch, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "a child that goes on allocating gets its own segment at its first write");
        CHECK(seg_exists(ch), "... which its _exit leaves behind (stale)");
        char p[32];
        snprintf(p, sizeof(p), "%ld", (long)ch);
        char *t = run_tool(&code, "-p", p, NULL, NULL);
        if (code == 2 && !seg_exists(ch))
            tu_info("a concurrent numaslab-stat --gc removed it first");
        else
            CHECK(code == 3, "numaslab-stat -p %ld calls it stale (exit %d)", (long)ch, code);
        free(t);
        char path[64];
        seg_path(path, sizeof(path), ch);
        unlink(path);
    }

    /* Environment. */
    tu_case("NUMASLAB_STATS* values");
    {
        static const struct envcase cases[] = {
            {"NUMASLAB_STATS_INTERVAL", "abc", "NUMASLAB_STATS_INTERVAL=\"abc\""},
            {"NUMASLAB_STATS_INTERVAL", "5", "NUMASLAB_STATS_INTERVAL=\"5\""},
            {"NUMASLAB_STATS_INTERVAL", "100ms", "NUMASLAB_STATS_INTERVAL=\"100ms\""},
            {"NUMASLAB_STATS", "yes", "NUMASLAB_STATS=\"yes\""},
            {"NUMASLAB_STATS_PRINT", "2", "NUMASLAB_STATS_PRINT=\"2\""},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
            CHECK(in_child(child_env, (void *)&cases[i], TU_WAIT_S) == 0,
                  "%s=\"%s\" is reported, naming the variable and the value", cases[i].name,
                  cases[i].value);
        CHECK(in_child(child_stats_off, NULL, TU_WAIT_S) == 0,
              "NUMASLAB_STATS=0: no segment, numaslab_stats_publish gives -ENOTSUP");
    }

    /* NUMASLAB_STATS_PRINT=1 and numaslab_stats_print. */
    tu_case("NUMASLAB_STATS_PRINT=1 and numaslab_stats_print");
    {
        char path[] = "/tmp/test-stat-live.XXXXXX";
        int fd = mkstemp(path);
        REQUIRE(fd >= 0, "mkstemp: %s", strerror(errno));
        close(fd);
        int rc = in_child(child_print, path, TU_WAIT_S);
        char *text = malloc(1 << 16);
        REQUIRE(text != NULL, "out of memory");
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(text, 1, (1 << 16) - 1, f) : 0;
        text[n] = '\0';
        if (f)
            fclose(f);
        unlink(path);
        CHECK(rc == 0 && strstr(text, "numaslab statistics, pid") &&
                  strstr(text, "RESERVE LEVEL") && strstr(text, "numaslab-112"),
              "NUMASLAB_STATS_PRINT=1 prints the tables on stderr at exit");
        CHECK(strstr(text, "WATERMARK") && strstr(text, "\nCGROUP ") &&
                  strstr(text, "PAGES CACHED") && !strstr(text, "not in this segment"),
              "... the page layer, running-short and memory cgroup tables included");
        free(text);

        FILE *tmp = tmpfile();
        REQUIRE(tmp != NULL, "tmpfile");
        CHECK(numaslab_stats_print(tmp) == 0, "numaslab_stats_print returns 0");
        long len = ftell(tmp);
        CHECK(len > 200, "and prints the tables (%ld bytes)", len);
        fclose(tmp);
        CHECK(numaslab_stats_print(NULL) == -EINVAL, "numaslab_stats_print(NULL) is -EINVAL");
    }

    /* The publisher never keeps a process alive. */
    tu_case("the publisher never keeps a process alive");
    {
        int rc = in_child(child_last_thread, NULL, 2 * TU_WAIT_S);
        CHECK(rc == 0, "a process whose main thread left by pthread_exit still ends (%s)",
              rc == -2  ? "timed out"
              : rc == 0 ? "exit 0"
                        : "bad exit");
        CHECK(!seg_exists(last_child), "... and its segment is removed");
    }

    /* numaslab_fini removes the segment; numaslab_init makes it again. */
    for (int i = 0; i < nact; i++)
        for (int k = 0; k < NORD; k++)
            numaslab_cache_free(c, ord[i][k]);
    for (int i = 0; i < nact; i++) {
        numaslab_free(big[i]);
        numaslab_free(small[i]);
    }
    numaslab_free(ina);
    numaslab_fini();
    CHECK(!seg_exists(me), "numaslab_fini removes the segment");
    REQUIRE(numaslab_init(NULL) == 0, "numaslab_init again");
    CHECK(seg_exists(me), "numaslab_init makes it again");
    char *again = stat_json(me, &code);
    CHECK(code == 0 && jnum(again, "pid") == me, "and numaslab-stat reads it (exit %d)", code);
    free(again);

    return tu_exit(); /* exit: the atexit hook removes the segment */
}
