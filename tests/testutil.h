/*
 * tests/testutil.h - helpers shared by the public-API test programs.
 *
 * Every test is one program with one concern, its checks grouped in named
 * cases: tu_case("reserve: refill after drain") starts one.  It prints one
 * line per check, naming its case ("ok:   [CASE] ..." or
 * "FAIL: [CASE] ...  [file:line]"), and exits through tu_exit(), which
 * lists the cases that failed:
 *   0 every check passed, 1 a check failed, 77 skipped, 99 hard error
 *   (the test could not even set itself up).
 * A skip never hides a failure: tu_skip() after a failed check exits 1.
 *
 * Placement is always checked against the kernel's own answer:
 * move_pages(0, n, pages, NULL, status, 0) on every page an object
 * touches, after the object was written to.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef NUMASLAB_TESTUTIL_H
#define NUMASLAB_TESTUTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <numa.h>
#include <numaif.h>

#include "numaslab.h"

/* 1 in a build under AddressSanitizer or ThreadSanitizer (gcc's macros or
 * clang's features), else 0. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TU_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TU_SANITIZED 1
#endif
#endif
#ifndef TU_SANITIZED
#define TU_SANITIZED 0
#endif

#define TU_PASS 0
#define TU_FAIL 1
#define TU_SKIP 77
#define TU_HARD 99

/* Failed checks so far; atomic so that worker threads may count. */
static int tu_failures;
static int tu_checks;

/* The case the checks belong to.  Set by the main thread between groups
 * of checks (tu_case), read by every check, worker threads' included:
 * those run inside the case that started them. */
static char tu_case_name[128] = "setup";

/* The names of the cases that failed, for tu_exit's summary; written
 * under stdout's lock (tu_vcheck). */
static char tu_failed_cases[1024];

/* Start the case named by fmt: the checks that follow name it. */
static inline void tu_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tu_case(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stdout);
    vsnprintf(tu_case_name, sizeof(tu_case_name), fmt, ap);
    printf("## %s\n", tu_case_name);
    fflush(stdout);
    funlockfile(stdout);
    va_end(ap);
}

/* Add the current case to tu_failed_cases unless it is there. */
static inline void tu_note_failed_case(void)
{
    size_t used = strlen(tu_failed_cases), l = strlen(tu_case_name);
    for (const char *p = tu_failed_cases; *p;) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == l && memcmp(p, tu_case_name, l) == 0)
            return;
        p += n + (end ? 1 : 0);
    }
    if (used + l + 2 <= sizeof(tu_failed_cases))
        snprintf(tu_failed_cases + used, sizeof(tu_failed_cases) - used, "%s\n", tu_case_name);
}

static inline void tu_vcheck(int ok, const char *file, int line, const char *fmt, va_list ap)
{
    __atomic_fetch_add(&tu_checks, 1, __ATOMIC_RELAXED);
    if (!ok)
        __atomic_fetch_add(&tu_failures, 1, __ATOMIC_RELAXED);
    flockfile(stdout);
    if (!ok)
        tu_note_failed_case();
    fputs(ok ? "ok:   [" : "FAIL: [", stdout);
    fputs(tu_case_name, stdout);
    fputs("] ", stdout);
    vfprintf(stdout, fmt, ap);
    if (!ok)
        fprintf(stdout, "  [%s:%d]", file, line);
    fputc('\n', stdout);
    fflush(stdout);
    funlockfile(stdout);
}

static inline int tu_check(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int tu_check(int ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tu_vcheck(ok, file, line, fmt, ap);
    va_end(ap);
    return ok;
}

/* CHECK(condition, "what was checked", args...): prints one line, counts
 * a failure, and evaluates to the condition so that a test can stop
 * following a path that already failed.  The condition is evaluated
 * before the arguments of the message (a GNU statement expression), so
 * the message shows what the condition saw. */
#define CHECK(cond, ...)                                                                           \
    __extension__({                                                                                \
        int tu_ok_ = !!(cond);                                                                     \
        tu_check(tu_ok_, __FILE__, __LINE__, __VA_ARGS__);                                         \
    })

/* An observation that never fails the test. */
static inline void tu_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tu_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stdout);
    fputs("info: ", stdout);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    funlockfile(stdout);
    va_end(ap);
}

static inline int tu_exit(void);

/* Stop the test: the environment does not allow it to run.  When a check
 * failed before, the test fails (tu_exit's status 1): a skip must never
 * hide a failure. */
static inline void tu_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void tu_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("skip: [%s] ", tu_case_name);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
    if (__atomic_load_n(&tu_failures, __ATOMIC_RELAXED))
        exit(tu_exit());
    exit(TU_SKIP);
}

/* Stop the test: it could not set itself up (not a library failure). */
static inline void tu_hard(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void tu_hard(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("ERROR: [%s] ", tu_case_name);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
    exit(TU_HARD);
}

/* Hard error unless cond holds (for the test's own setup: malloc, pipe). */
#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            tu_hard(__VA_ARGS__);                                                                  \
    } while (0)

static inline void tu_init(const char *name)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("# %s\n", name);
}

/* Summary line and exit status. */
static inline int tu_exit(void)
{
    int f = __atomic_load_n(&tu_failures, __ATOMIC_RELAXED);
    int n = __atomic_load_n(&tu_checks, __ATOMIC_RELAXED);
    if (n == 0) {
        printf("ERROR: no check was run\n");
        fflush(stdout);
        return TU_HARD;
    }
    printf("# %d checks, %d failed\n", n, f);
    for (const char *p = tu_failed_cases; *p;) {
        const char *end = strchr(p, '\n');
        int len = end ? (int)(end - p) : (int)strlen(p);
        printf("# failed case: %.*s\n", len, p);
        p += len + (end ? 1 : 0);
    }
    fflush(stdout);
    return f ? TU_FAIL : TU_PASS;
}

/* ------------------------------------------------------------------------
 * Topology
 * ---------------------------------------------------------------------- */

/* This program's path, for re-executing it: readlink of /proc/self/exe
 * (under valgrind, exec of /proc/self/exe itself would start valgrind's
 * tool, which refuses to run). */
static inline const char *tu_self_exe(void)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0)
        return "/proc/self/exe";
    path[n] = '\0';
    return path;
}

/* A run of this program as a child: its wait status and what it wrote. */
struct tu_child {
    int status;
    char *out, *err;
};

/* All of fd (a file), from its start, NUL-ended; a string to free. */
static inline char *tu_read_fd(int fd)
{
    off_t len = lseek(fd, 0, SEEK_END);
    REQUIRE(len >= 0, "lseek: %s", strerror(errno));
    char *s = malloc((size_t)len + 1);
    REQUIRE(s, "out of memory");
    if (len)
        REQUIRE(pread(fd, s, (size_t)len, 0) == len, "pread: %s", strerror(errno));
    s[len] = '\0';
    return s;
}

/*
 * Run this program again as "NAME --child [ARG]" (the library reads the
 * environment once, at initialisation, so each setting needs a process of
 * its own), with the parent's NUMASLAB_* variables removed but
 * NUMASLAB_STATS=0, and the "VAR=VALUE" strings of vars (NULL-ended; NULL
 * entries before the end are skipped: pass n to say how many) added.
 * stdout and stderr are captured; the child gets 60 s.
 */
static inline struct tu_child tu_spawn_self(const char *name, const char *arg,
                                            const char *const *vars, size_t n)
{
    extern char **environ;
    char tmpl_o[] = "/tmp/numaslab-test-out.XXXXXX", tmpl_e[] = "/tmp/numaslab-test-err.XXXXXX";
    int fo = mkstemp(tmpl_o), fe = mkstemp(tmpl_e);
    struct tu_child res;
    size_t k = 0, cap = n + 2;
    REQUIRE(fo >= 0 && fe >= 0, "mkstemp: %s", strerror(errno));
    unlink(tmpl_o);
    unlink(tmpl_e);
    for (char **e = environ; *e; e++)
        cap++;
    char **env = calloc(cap, sizeof(*env));
    REQUIRE(env, "out of memory");
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "NUMASLAB_", 9) != 0)
            env[k++] = *e;
    env[k++] = "NUMASLAB_STATS=0";
    for (size_t i = 0; i < n; i++)
        if (vars[i])
            env[k++] = (char *)vars[i];
    env[k] = NULL;

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        char *argv[] = {(char *)name, "--child", (char *)arg, NULL};
        dup2(fo, 1);
        dup2(fe, 2);
        alarm(60);
        execve(tu_self_exe(), argv, env);
        _exit(127);
    }
    REQUIRE(waitpid(pid, &res.status, 0) == pid, "waitpid: %s", strerror(errno));
    free(env);
    res.out = tu_read_fd(fo);
    res.err = tu_read_fd(fe);
    close(fo);
    close(fe);
    return res;
}

/*
 * The fields of a /proc stat file (/proc/PID/stat, /proc/self/task/TID/stat)
 * after the command name: a pointer into buf (n bytes) at the ") " that
 * ends it, so that field k (from 1) is the (k - 2)th after it; NULL when
 * the file cannot be read.
 */
static inline const char *tu_proc_stat(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t got = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[got] = '\0';
    return strrchr(buf, ')');
}

/* How long tu_wait_until waits at most: an event under valgrind on a
 * loaded machine can take seconds, never a minute. */
#define TU_WAIT_S 60

/*
 * Wait for an event: poll cond(arg) every millisecond until it returns
 * non-zero (then 1) or TU_WAIT_S seconds pass (then 0).  Tests wait on
 * the condition itself, never for a fixed time.
 */
static inline int tu_wait_until(int (*cond)(void *), void *arg)
{
    struct timespec t0, now, ms = {0, 1000000L};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (cond(arg))
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= TU_WAIT_S)
            return cond(arg) != 0;
        nanosleep(&ms, NULL);
    }
}

/*
 * The path of tests/data/NAME into buf: under top_srcdir when the test
 * harness sets it, else beside the program's source (run by hand).  A
 * file that cannot be read is a hard error.
 */
static inline const char *tu_data_path(const char *argv0, const char *name, char *buf, size_t n)
{
    const char *top = getenv("top_srcdir"), *slash = strrchr(argv0, '/');
    if (top)
        snprintf(buf, n, "%s/tests/data/%s", top, name);
    else if (slash)
        snprintf(buf, n, "%.*s/data/%s", (int)(slash - argv0), argv0, name);
    else
        snprintf(buf, n, "tests/data/%s", name);
    REQUIRE(access(buf, R_OK) == 0, "%s: %s", buf, strerror(errno));
    return buf;
}

static inline long tu_pagesize(void)
{
    static long ps;
    if (!ps)
        ps = sysconf(_SC_PAGESIZE);
    return ps;
}

/* Number of active nodes, and their ids in nodes[] (up to max entries). */
static inline int tu_active_nodes(int *nodes, int max)
{
    int n = 0;
    int top = numaslab_max_node();
    for (int i = 0; i <= top; i++) {
        if (numaslab_node_is_active(i) == 1) {
            if (nodes && n < max)
                nodes[n] = i;
            n++;
        }
    }
    return n;
}

static inline int tu_count_active_nodes(void)
{
    return tu_active_nodes(NULL, 0);
}

/* Bytes the page layer keeps in its caches of free runs, all nodes. */
static inline uint64_t tu_page_cached(void)
{
    uint64_t sum = 0;
    for (int i = 0; i <= numaslab_max_node(); i++) {
        struct numaslab_node_stats st;
        if (numaslab_stats_node(i, &st) == 0)
            sum += st.page_cached;
    }
    return sum;
}

/* Pin the calling thread to the CPU it runs on, so that its local node
 * cannot change under a check that compares with the local node. */
static inline void tu_pin_self(void)
{
    int cpu = sched_getcpu();
    cpu_set_t set;
    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)sched_setaffinity(0, sizeof(set), &set);
}

/* 1 when the OS node has at least one CPU. */
static inline int tu_node_has_cpus(int node)
{
    struct bitmask *bm = numa_allocate_cpumask();
    int has = 0;
    if (!bm)
        return 0;
    if (numa_node_to_cpus(node, bm) == 0)
        has = numa_bitmask_weight(bm) > 0;
    numa_free_cpumask(bm);
    return has;
}

/* ------------------------------------------------------------------------
 * Placement, the kernel's answer
 * ---------------------------------------------------------------------- */

/*
 * 1 on a simulated machine (numaslab(7), SIMULATED MACHINES): hwloc reads
 * HWLOC_XMLFILE and, unless HWLOC_THISSYSTEM=1, the topology is not this
 * system's.  The kernel then knows none of the nodes and nothing is bound,
 * so "the kernel's answer" below is the library's own record
 * (numaslab_ptr_node of each page): the tests' placement logic (which
 * node was chosen, fallback, where a freed object went) still runs, and
 * the QEMU guests of tests/numa-vm prove real placement.
 */
static inline int tu_simulated(void)
{
    const char *x = getenv("HWLOC_XMLFILE"), *t = getenv("HWLOC_THISSYSTEM");
    return x && *x && !(t && !strcmp(t, "1"));
}

/*
 * The kernel's answer for pages the caller has written: move_pages'
 * statuses, asked again (up to 50 times, 1 ms apart) for a page that has
 * no node at that moment.  A written page can answer -ENOENT or -EBUSY
 * for a while when the kernel is migrating it, as compaction does after a
 * node was filled; that is not a placement.
 */
static inline void tu_pages_status(void **pages, size_t n, int *status)
{
    if (move_pages(0, (unsigned long)n, pages, NULL, status, 0) != 0) {
        int e = -errno;
        for (size_t j = 0; j < n; j++)
            status[j] = e;
        return;
    }
    for (size_t j = 0; j < n; j++)
        for (int tries = 0; tries < 50 && (status[j] == -ENOENT || status[j] == -EBUSY); tries++) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
            if (move_pages(0, 1, &pages[j], NULL, &status[j], 0) != 0)
                status[j] = -errno;
        }
}

/* The node the kernel has the page holding p on, or a negative errno
 * (-ENOENT: the page was never touched). */
static inline int kernel_node_of(const void *p)
{
    void *page = (void *)((uintptr_t)p & ~(uintptr_t)(tu_pagesize() - 1));
    int status = -1;
    if (tu_simulated())
        return numaslab_ptr_node(p);
    tu_pages_status(&page, 1, &status);
    return status;
}

/*
 * Ask the kernel about every page of [p, p + len) (len 0 counts as 1).
 * Returns the number of pages that are not on node; *first_bad gets the
 * status of the first such page (a node id or a negative errno), and
 * *npages the pages looked at.  The caller must have written the range.
 */
static inline size_t kernel_pages_off_node(const void *p, size_t len, int node, int *first_bad,
                                           size_t *npages)
{
    enum { BATCH = 256 };
    uintptr_t ps = (uintptr_t)tu_pagesize();
    uintptr_t start = (uintptr_t)p & ~(ps - 1);
    uintptr_t end = ((uintptr_t)p + (len ? len : 1) + ps - 1) & ~(ps - 1);
    size_t n = (end - start) / ps, off = 0;
    void *pages[BATCH];
    int status[BATCH];
    int simulated = tu_simulated();

    if (first_bad)
        *first_bad = node;
    if (npages)
        *npages = n;
    for (size_t i = 0; i < n; i += BATCH) {
        size_t k = n - i < BATCH ? n - i : BATCH;
        for (size_t j = 0; j < k; j++) {
            pages[j] = (void *)(start + (i + j) * ps);
            status[j] = -1;
            if (simulated) /* the first page may begin before p */
                status[j] = numaslab_ptr_node(i + j ? pages[j] : p);
        }
        if (!simulated)
            tu_pages_status(pages, k, status);
        for (size_t j = 0; j < k; j++) {
            if (status[j] != node) {
                if (off == 0 && first_bad)
                    *first_bad = status[j];
                off++;
            }
        }
    }
    return off;
}

/* 1 when every page of [p, p + len) is on node by the kernel's answer. */
static inline int kernel_on_node(const void *p, size_t len, int node)
{
    return kernel_pages_off_node(p, len, node, NULL, NULL) == 0;
}

/* ------------------------------------------------------------------------
 * Mapped memory, the kernel's answer
 * ---------------------------------------------------------------------- */

/*
 * Bytes of the process's memory bound to a node: the pages present in the
 * VMAs whose /proc/self/numa_maps policy is "bind" (their N<node>= counts,
 * times the mapping's page size).  Every chunk numaslab maps is bound to
 * its node and faulted in at once (numaslab(7)), the slab arena is bound
 * but holds pages only where slabs are, and nothing else of a test process
 * is bound, so this is numaslab's mapped memory as the kernel sees it.  -1
 * when the kernel has no numa_maps.
 */
static inline long long tu_kernel_bound_bytes(void)
{
    FILE *nm = fopen("/proc/self/numa_maps", "r");
    if (!nm)
        return -1;
    char line[4096];
    long long sum = 0;
    while (fgets(line, sizeof(line), nm)) {
        unsigned long start;
        char pol[64];
        int whole = strchr(line, '\n') != NULL; /* before strtok cuts the line */
        if (sscanf(line, "%lx %63s", &start, pol) == 2 && !strncmp(pol, "bind", 4)) {
            long long pages = 0, kb = 4;
            for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n")) {
                long long v;
                unsigned node;
                if (sscanf(t, "N%u=%lld", &node, &v) == 2)
                    pages += v;
                else if (sscanf(t, "kernelpagesize_kB=%lld", &v) == 1)
                    kb = v;
            }
            sum += pages * kb * 1024;
        }
        if (!whole) { /* a very long line: skip the rest */
            int c;
            while ((c = fgetc(nm)) != EOF && c != '\n')
                ;
        }
    }
    fclose(nm);
    return sum;
}

/*
 * Check that the kernel agrees with numaslab_bytes_mapped(): the
 * process's node-bound mappings hold exactly the bytes numaslab counts,
 * so memory the counter says was released really was unmapped.  when
 * names the moment ("after numaslab_fini").  Where the kernel has no
 * numa_maps nothing can be asked: an info line, and 1.
 */
static inline int tu_check_kernel_mapped(const char *when)
{
    long long k = tu_kernel_bound_bytes();
    unsigned long long m = (unsigned long long)numaslab_bytes_mapped();
    if (k < 0) {
        tu_info("%s: no /proc/self/numa_maps, the kernel's mappings not compared", when);
        return 1;
    }
    if (tu_simulated()) {
        tu_info("%s: a simulated machine binds nothing, the kernel's mappings not compared", when);
        return 1;
    }
    return CHECK(k == (long long)m,
                 "%s: the kernel's node-bound mappings hold %lld bytes, numaslab counts %llu "
                 "mapped",
                 when, k, m);
}

/* ------------------------------------------------------------------------
 * Capturing stderr
 * ---------------------------------------------------------------------- */

struct tu_capture {
    int saved_fd;
    FILE *tmp;
};

/* Redirect fd 2 into a temporary file until tu_capture_end. */
static inline void tu_capture_begin(struct tu_capture *cap)
{
    fflush(stderr);
    cap->tmp = tmpfile();
    REQUIRE(cap->tmp != NULL, "tmpfile: %s", strerror(errno));
    cap->saved_fd = dup(2);
    REQUIRE(cap->saved_fd >= 0, "dup(2): %s", strerror(errno));
    REQUIRE(dup2(fileno(cap->tmp), 2) == 2, "dup2: %s", strerror(errno));
}

/* Restore fd 2 and return what was written to it (malloc'd, NUL-ended). */
static inline char *tu_capture_end(struct tu_capture *cap)
{
    fflush(stderr);
    REQUIRE(dup2(cap->saved_fd, 2) == 2, "dup2: %s", strerror(errno));
    close(cap->saved_fd);
    fflush(cap->tmp);
    char *text = tu_read_fd(fileno(cap->tmp));
    fclose(cap->tmp);
    return text;
}

/* Call fn(arg) with stderr captured; returns the text (free it). */
static inline char *tu_capture_stderr(void (*fn)(void *), void *arg)
{
    struct tu_capture cap;
    tu_capture_begin(&cap);
    fn(arg);
    return tu_capture_end(&cap);
}

/* The number of a "Key:" line of /proc/PID/status (pid 0: this process;
 * "VmRSS" in KiB, "Threads"), or -1. */
static inline long tu_proc_status(long pid, const char *key)
{
    char path[64], line[256], want[40];
    long n = -1;
    if (pid)
        snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    else
        snprintf(path, sizeof(path), "/proc/self/status");
    snprintf(want, sizeof(want), "%s: %%ld", key);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, want, &n) == 1)
            break;
    fclose(f);
    return n;
}

/* Show captured text under the check lines, indented. */
static inline void tu_show(const char *label, const char *text)
{
    const char *p = text;
    if (!*text) {
        printf("  (%s: nothing on stderr)\n", label);
        return;
    }
    printf("  %s:\n", label);
    while (*p) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        printf("  | %.*s\n", n, p);
        p += n + (nl ? 1 : 0);
    }
}

/* How many times needle occurs in text (non-overlapping). */
static inline int tu_count(const char *text, const char *needle)
{
    int n = 0;
    size_t l = strlen(needle);
    if (!l)
        return 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + l, needle))
        n++;
    return n;
}

/* How many lines of text are exactly line (without its '\n'). */
static inline int tu_count_lines(const char *text, const char *line)
{
    int n = 0;
    size_t l = strlen(line);
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == l && memcmp(p, line, l) == 0)
            n++;
        p += len + (nl ? 1 : 0);
    }
    return n;
}

/* 1 when one line of text contains every string of the NULL-ended list. */
static inline int tu_line_has_all(const char *text, ...)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, len);
        int all = 1;
        va_list ap;
        REQUIRE(line != NULL, "out of memory");
        va_start(ap, text);
        for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
            if (!strstr(line, s))
                all = 0;
        va_end(ap);
        free(line);
        if (all)
            return 1;
        p += len + (nl ? 1 : 0);
    }
    return 0;
}

/* The text "%p" gives for ptr, as the library would print it. */
static inline const char *tu_ptrstr(const void *ptr, char *buf, size_t n)
{
    snprintf(buf, n, "%p", ptr);
    return buf;
}

/* ------------------------------------------------------------------------
 * Cookies
 * ---------------------------------------------------------------------- */

static inline uint64_t tu_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Fill [p, p + len) with bytes derived from seed and the offset. */
static inline void tu_fill(void *p, size_t len, uint64_t seed)
{
    unsigned char *b = p;
    size_t i = 0;
    uint64_t s = tu_mix(seed);
    for (; i + 8 <= len; i += 8) {
        uint64_t w = s ^ (i * 0x9e3779b97f4a7c15ull);
        memcpy(b + i, &w, 8);
    }
    for (; i < len; i++)
        b[i] = (unsigned char)((s >> (8 * (i & 7))) ^ i);
}

/* 1 when [p, p + len) still holds what tu_fill(p, len, seed) wrote. */
static inline int tu_verify(const void *p, size_t len, uint64_t seed)
{
    const unsigned char *b = p;
    size_t i = 0;
    uint64_t s = tu_mix(seed);
    for (; i + 8 <= len; i += 8) {
        uint64_t w = s ^ (i * 0x9e3779b97f4a7c15ull), v;
        memcpy(&v, b + i, 8);
        if (v != w)
            return 0;
    }
    for (; i < len; i++)
        if (b[i] != (unsigned char)((s >> (8 * (i & 7))) ^ i))
            return 0;
    return 1;
}

/* xorshift64*, for reproducible per-thread randomness. */
static inline uint64_t tu_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x2545f4914f6cdd1dull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static inline int tu_cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Number of duplicate pointers in v[0..n) (sorts v). */
static inline size_t tu_duplicates(void **v, size_t n)
{
    size_t d = 0;
    qsort(v, n, sizeof(*v), tu_cmp_ptr);
    for (size_t i = 1; i < n; i++)
        if (v[i] == v[i - 1])
            d++;
    return d;
}

/* Sum of a cache's objects_inuse over every active node; -1 on error. */
static inline long long tu_cache_inuse(numaslab_cache_t *c)
{
    long long sum = 0;
    int top = numaslab_max_node();
    for (int n = 0; n <= top; n++) {
        struct numaslab_cache_stats st;
        if (numaslab_node_is_active(n) != 1)
            continue;
        memset(&st, 0, sizeof(st));
        if (numaslab_stats_cache(c, n, &st) != 0)
            return -1;
        sum += (long long)st.objects_inuse;
    }
    return sum;
}

/* 1 when the mapping holding p has flag (e.g. "hg") in its VmFlags. */
static inline int tu_vma_flag(const void *p, const char *flag)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int in = 0, has = 0;
    uintptr_t a = (uintptr_t)p;
    while (f && fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = a >= lo && a < hi;
            continue;
        }
        if (in && !strncmp(line, "VmFlags:", 8)) {
            char want[8];
            snprintf(want, sizeof(want), " %s", flag);
            has = strstr(line, want) != NULL;
            break;
        }
    }
    if (f)
        fclose(f);
    return has;
}

/* 0 when NUMASLAB_THP=0 asks the library not to advise huge pages. */
static inline int tu_thp_library(void)
{
    const char *v = getenv("NUMASLAB_THP");
    return !(v && !strcmp(v, "0"));
}

/* 1 when the kernel has transparent huge pages and they are not off. */
static inline int tu_thp_kernel(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char buf[128] = "";
    if (!f)
        return 0;
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = 0;
    fclose(f);
    return strstr(buf, "[never]") == NULL && buf[0];
}

/* The locked bytes of this process (VmLck), -1 when unknown. */
static inline long long tu_locked_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long lck = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmLck:", 6))
            lck = strtoll(line + 6, NULL, 10) << 10;
    if (f)
        fclose(f);
    return lck;
}

/* 1 when mlock() really locks here: the sanitizers' locks nothing and
 * returns 0. */
static inline int tu_mlock_locks(void)
{
    static char probe[1 << 14] __attribute__((aligned(4096)));
    long long before = tu_locked_bytes();
    int works = mlock(probe, sizeof(probe)) == 0 && tu_locked_bytes() > before;
    munlock(probe, sizeof(probe));
    return works;
}

#endif /* NUMASLAB_TESTUTIL_H */
