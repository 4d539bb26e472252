/*
 * test-badinput - doc/bad-input.md: pointers numaslab did not hand out, interior
 * pointers, double frees, objects freed to the wrong cache, a NULL cache.
 * Each gets a message naming the call and the value; nothing crashes and
 * the live objects keep their contents.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <pthread.h>

#include <signal.h>
#include <sys/wait.h>

static numaslab_cache_t *ca, *cb;
static void *live_small, *live_cache, *live_large;

#define LIVE_SMALL 64
#define LIVE_CACHE 64
#define LIVE_LARGE (256 * 1024)

static int live_intact(void)
{
    return tu_verify(live_small, LIVE_SMALL, 1) && tu_verify(live_cache, LIVE_CACHE, 2) &&
           tu_verify(live_large, LIVE_LARGE, 3);
}

/* numaslab_free(p) must print a line naming numaslab_free and p. */
static void expect_rejected_free(const char *what, void *p)
{
    struct tu_capture cap;
    char buf[32], *err;

    tu_capture_begin(&cap);
    numaslab_free(p);
    err = tu_capture_end(&cap);
    CHECK(tu_line_has_all(err, "numaslab_free", tu_ptrstr(p, buf, sizeof(buf)), (char *)NULL),
          "numaslab_free(%s %s): a message names numaslab_free and %s", what, buf, buf);
    tu_show("stderr", err);
    free(err);
}

static void test_foreign(void)
{
    tu_case("pointers numaslab did not allocate");
    volatile uint64_t stackvar = 0x5151515151515151ull;
    uint64_t *heap = malloc(256);
    char buf[32];

    REQUIRE(heap, "out of memory");
    memset(heap, 0x42, 256);

    expect_rejected_free("stack pointer", (void *)&stackvar);
    CHECK(stackvar == 0x5151515151515151ull, "the stack variable is untouched");

    expect_rejected_free("malloc'd pointer", heap);
    {
        int same = 1;
        for (int i = 0; i < 32; i++)
            if (heap[i] != 0x4242424242424242ull)
                same = 0;
        CHECK(same, "the malloc'd block is untouched");
    }

    CHECK(numaslab_ptr_node((void *)&stackvar) == -EINVAL && numaslab_ptr_node(heap) == -EINVAL,
          "numaslab_ptr_node of a stack / malloc'd pointer: %d / %d (want -EINVAL)",
          numaslab_ptr_node((void *)&stackvar), numaslab_ptr_node(heap));
    CHECK(numaslab_usable_size((void *)&stackvar) == 0 && numaslab_usable_size(heap) == 0,
          "numaslab_usable_size of a stack / malloc'd pointer: %zu / %zu (want 0)",
          numaslab_usable_size((void *)&stackvar), numaslab_usable_size(heap));
    free(heap);

    {
        struct tu_capture cap;
        char *err;
        tu_capture_begin(&cap);
        numaslab_free(NULL);
        err = tu_capture_end(&cap);
        CHECK(*err == '\0', "numaslab_free(NULL) is silent");
        free(err);
    }

    /* Interior pointers of a size-class, a cache and a large object. */
    tu_case("interior pointers of a size-class, a cache and a large object");
    expect_rejected_free("interior pointer obj+1 of", (char *)live_small + 1);
    expect_rejected_free("interior pointer obj+8 of", (char *)live_small + 8);
    expect_rejected_free("interior pointer of a cache object", (char *)live_cache + 1);
    expect_rejected_free("interior pointer (+4096) of a large object", (char *)live_large + 4096);
    expect_rejected_free("interior pointer (+1) of a large object", (char *)live_large + 1);
    CHECK(live_intact(), "the live objects keep their contents");
    CHECK(numaslab_usable_size(live_small) >= LIVE_SMALL &&
              numaslab_usable_size(live_large) >= LIVE_LARGE,
          "the live objects are still live (usable %zu, %zu)", numaslab_usable_size(live_small),
          numaslab_usable_size(live_large));
    (void)buf;
}

static void *free_elsewhere(void *p)
{
    numaslab_free(p);
    return NULL;
}

static void test_double_free(void)
{
    tu_case("double free");
    enum { N = 1000 };
    struct tu_capture cap;
    char buf[32], *err;
    void *p, *v[N], *w[N];
    size_t nulls = 0, dups, again = 0;

    p = numaslab_alloc(128, 0);
    REQUIRE(p, "numaslab_alloc: %s", strerror(errno));
    memset(p, 1, 128);
    numaslab_free(p);
    /* Not captured: the parent reads this process's stderr for the
     * message (test_double_free_isolated), also when it aborted. */
    printf("double free of %s\n", tu_ptrstr(p, buf, sizeof(buf)));
    fflush(stdout);
    fprintf(stderr, "pointer %s\n", buf);
    numaslab_free(p);
    numaslab_thread_flush();

    for (int i = 0; i < N; i++) {
        v[i] = numaslab_alloc(128, 0);
        if (!v[i])
            nulls++;
        else {
            tu_fill(v[i], 128, (uintptr_t)v[i]);
            if (v[i] == p)
                again++;
        }
        w[i] = v[i];
    }
    dups = tu_duplicates(w, N);
    CHECK(nulls == 0 && dups == 0,
          "then %d allocations of the same size: %zu NULL, %zu pointers handed out twice "
          "(the doubly freed one came back %zu times)",
          N, nulls, dups, again);
    {
        size_t corrupt = 0;
        for (int i = 0; i < N; i++)
            if (v[i] && !tu_verify(v[i], 128, (uintptr_t)v[i]))
                corrupt++;
        CHECK(corrupt == 0, "and they keep their contents (%zu corrupted)", corrupt);
    }
    for (int i = 0; i < N; i++)
        numaslab_free(v[i]);

    /* Freed twice with nothing between, at sizes with and without the
     * threads' free lists (8 B has none): refused at the second free
     * itself, and then handed out once only. */
    tu_case("freed twice with nothing between");
    static const size_t twice[] = {8, 24, 200, 3000};
    for (size_t k = 0; k < sizeof(twice) / sizeof(twice[0]); k++) {
        size_t n = twice[k];
        p = numaslab_alloc(n, 0);
        REQUIRE(p, "numaslab_alloc: %s", strerror(errno));
        memset(p, 2, n);
        numaslab_free(p);
        tu_capture_begin(&cap);
        numaslab_free(p);
        err = tu_capture_end(&cap);
        CHECK(tu_line_has_all(err, "double free", "numaslab_free", tu_ptrstr(p, buf, sizeof(buf)),
                              (char *)NULL),
              "%zu B freed twice in a row: the second free is refused at once, naming "
              "numaslab_free and %s",
              n, buf);
        tu_show("stderr", err);
        free(err);
        again = 0;
        for (int i = 0; i < N; i++) {
            w[i] = v[i] = numaslab_alloc(n, 0);
            again += v[i] == p;
        }
        dups = tu_duplicates(w, N);
        CHECK(dups == 0 && again <= 1,
              "then %d allocations of %zu B, no flush between: none handed out twice (the "
              "doubly freed one came back %zu times)",
              N, n, again);
        for (int i = 0; i < N; i++)
            numaslab_free(v[i]);
    }

    /* Freed by its thread, then again by another: refused (the other
     * thread finds the free cookie), and handed out once. */
    tu_case("freed by its thread, then again by another");
    {
        pthread_t t;
        p = numaslab_alloc(200, 0);
        REQUIRE(p, "numaslab_alloc: %s", strerror(errno));
        numaslab_free(p);
        tu_capture_begin(&cap);
        REQUIRE(pthread_create(&t, NULL, free_elsewhere, p) == 0, "pthread_create");
        pthread_join(t, NULL);
        numaslab_thread_flush(); /* whatever the other thread left is collected */
        err = tu_capture_end(&cap);
        CHECK(tu_line_has_all(err, "double free", tu_ptrstr(p, buf, sizeof(buf)), (char *)NULL),
              "freed by its thread, then by another: the second free is refused, naming %s", buf);
        tu_show("stderr", err);
        free(err);
        again = 0;
        for (int i = 0; i < N; i++) {
            w[i] = v[i] = numaslab_alloc(200, 0);
            again += v[i] == p;
        }
        dups = tu_duplicates(w, N);
        CHECK(dups == 0 && again <= 1,
              "then %d allocations of 200 B: none handed out twice (it came back %zu times)", N,
              again);
        for (int i = 0; i < N; i++)
            numaslab_free(v[i]);
    }

    /* A cache object freed twice. */
    tu_case("a cache object freed twice");
    p = numaslab_cache_alloc(ca, 0);
    REQUIRE(p, "cache_alloc: %s", strerror(errno));
    numaslab_cache_free(ca, p);
    tu_capture_begin(&cap);
    numaslab_cache_free(ca, p);
    numaslab_thread_flush();
    err = tu_capture_end(&cap);
    CHECK(tu_line_has_all(err, "double free", (char *)NULL),
          "freeing a cache object twice: \"double free\" is reported by the flush");
    tu_show("stderr", err);
    free(err);
    for (int i = 0; i < N; i++) {
        v[i] = numaslab_cache_alloc(ca, 0);
        w[i] = v[i];
    }
    dups = tu_duplicates(w, N);
    CHECK(dups == 0, "then %d cache allocations: %zu handed out twice", N, dups);
    for (int i = 0; i < N; i++)
        if (v[i])
            numaslab_cache_free(ca, v[i]);

    /* A large object freed twice: reported, no crash. */
    tu_case("a large object freed twice: reported, no crash");
    p = numaslab_alloc(100000, 0);
    REQUIRE(p, "numaslab_alloc(100000): %s", strerror(errno));
    memset(p, 1, 100000);
    numaslab_free(p);
    tu_capture_begin(&cap);
    numaslab_free(p);
    err = tu_capture_end(&cap);
    CHECK(tu_line_has_all(err, "numaslab_free", tu_ptrstr(p, buf, sizeof(buf)), (char *)NULL),
          "freeing a large object twice: a message names numaslab_free and %s", buf);
    tu_show("stderr", err);
    free(err);
    CHECK(live_intact(), "the live objects keep their contents");
}

static void test_wrong_cache(void)
{
    tu_case("objects freed to the wrong cache");
    struct tu_capture cap;
    char *err;
    void *o, *s;

    o = numaslab_cache_alloc(ca, 0);
    REQUIRE(o, "cache_alloc: %s", strerror(errno));
    tu_fill(o, 64, 9);
    tu_capture_begin(&cap);
    numaslab_cache_free(cb, o);
    err = tu_capture_end(&cap);
    CHECK(tu_line_has_all(err, "numaslab_cache_free", "badin-a", "badin-b", (char *)NULL),
          "numaslab_cache_free(badin-b, object of badin-a): a message names the call and both "
          "caches");
    tu_show("stderr", err);
    free(err);
    CHECK(tu_verify(o, 64, 9), "the object keeps its contents");
    {
        /* still live in badin-a: allocations do not hand it out */
        void *v[200];
        int seen = 0;
        for (int i = 0; i < 200; i++) {
            v[i] = numaslab_cache_alloc(ca, 0);
            if (v[i] == o)
                seen++;
        }
        numaslab_thread_flush();
        for (int i = 0; i < 200; i++) {
            void *x = numaslab_cache_alloc(cb, 0);
            if (x == o)
                seen++;
            if (x)
                numaslab_cache_free(cb, x);
        }
        CHECK(seen == 0, "the object was not handed out again by either cache (%d times)", seen);
        for (int i = 0; i < 200; i++)
            if (v[i])
                numaslab_cache_free(ca, v[i]);
    }
    tu_capture_begin(&cap);
    numaslab_cache_free(ca, o);
    err = tu_capture_end(&cap);
    CHECK(*err == '\0', "freeing it to its own cache is silent");
    free(err);

    /* A size-class object given to numaslab_cache_free. */
    tu_case("a size-class object given to numaslab_cache_free");
    s = numaslab_alloc(64, 0);
    REQUIRE(s, "numaslab_alloc: %s", strerror(errno));
    tu_capture_begin(&cap);
    numaslab_cache_free(ca, s);
    err = tu_capture_end(&cap);
    CHECK(tu_line_has_all(err, "numaslab_cache_free", "badin-a", "numaslab-64", (char *)NULL),
          "numaslab_cache_free(badin-a, object of numaslab-64): a message names both caches");
    tu_show("stderr", err);
    free(err);
    numaslab_free(s);
}

/*
 * A double free is reported and, under NUMASLAB_ABORT=0 (set by main for
 * this process and its children, debug build or not), the process goes
 * on: the child must exit, not abort.  Run it in a child, its stderr in a
 * file, the message required.
 */
static void test_double_free_isolated(void)
{
    tu_case("double free under NUMASLAB_ABORT=0, in a child");
    char path[] = "/tmp/numaslab-badinput-XXXXXX";
    int fd = mkstemp(path), status = 0;
    REQUIRE(fd >= 0, "mkstemp: %s", strerror(errno));
    unlink(path);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fd, 2);
        test_double_free();
        fflush(stdout);
        _exit(tu_failures ? 1 : 0);
    }
    REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
    char text[8192] = "", ptr[64] = "";
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    close(fd);
    sscanf(text, "pointer %63s", ptr);
    int named = ptr[0] && tu_line_has_all(text, "double free", "numaslab_free", ptr, (char *)NULL);
    CHECK(named,
          "NUMASLAB_ABORT=0: the double free of %s is reported, naming the call and the "
          "pointer",
          ptr);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && !strstr(text, "aborting"),
          "NUMASLAB_ABORT=0: the process does not abort, goes on, and the other double-free "
          "checks pass (status 0x%x)",
          status);
    tu_show("stderr", text);
}

/*
 * NUMASLAB_ABORT=1 (the debug build's default): a refused free is
 * reported, then the process aborts.  Run in a re-executed child so the
 * library reads the variable at its initialisation.
 */
static void test_abort_mode(const char *self)
{
    tu_case("NUMASLAB_ABORT=1 aborts a refused free");
    char path[] = "/tmp/numaslab-abort-XXXXXX";
    int fd = mkstemp(path), status = 0;
    REQUIRE(fd >= 0, "mkstemp: %s", strerror(errno));
    unlink(path);
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fd, 2);
        dup2(fd, 1);
        setenv("NUMASLAB_ABORT", "1", 1);
        execl(self, self, "--foreign-free", (char *)NULL);
        _exit(99);
    }
    REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
    char text[4096] = "", ptr[64] = "";
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    close(fd);
    sscanf(text, "freeing %63s", ptr);
    CHECK(
        WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && ptr[0] &&
            tu_line_has_all(text, "numaslab_free", ptr, "not allocated by numaslab", (char *)NULL),
        "NUMASLAB_ABORT=1: freeing a foreign pointer (%s) is reported, naming the call and "
        "the pointer, then the process aborts (status 0x%x)",
        ptr, status);
    tu_show("output", text);
}

int main(int argc, char **argv)
{
    int r;

    if (argc > 1 && !strcmp(argv[1], "--foreign-free")) {
        static char stack_obj[64];
        printf("freeing %p\n", (void *)stack_obj);
        fflush(stdout);
        numaslab_free(stack_obj);
        return 0; /* not reached when NUMASLAB_ABORT=1 */
    }
    /* Refused frees are reported and the process goes on: the checks
     * below look at the messages and at what survives. */
    setenv("NUMASLAB_ABORT", "0", 1);
    tu_init("test-badinput");
    test_abort_mode(tu_self_exe());
    ca = numaslab_cache_create("badin-a", 64, 0, 0, NULL);
    cb = numaslab_cache_create("badin-b", 64, 0, 0, NULL);
    REQUIRE(ca && cb, "cache_create: %s", strerror(errno));
    live_small = numaslab_alloc(LIVE_SMALL, 0);
    live_cache = numaslab_cache_alloc(ca, 0);
    live_large = numaslab_alloc(LIVE_LARGE, 0);
    REQUIRE(live_small && live_cache && live_large, "allocation: %s", strerror(errno));
    tu_fill(live_small, LIVE_SMALL, 1);
    tu_fill(live_cache, LIVE_CACHE, 2);
    tu_fill(live_large, LIVE_LARGE, 3);

    test_foreign();
    test_double_free_isolated();
    test_wrong_cache();

    r = numaslab_cache_destroy(NULL);
    CHECK(r == -EINVAL, "numaslab_cache_destroy(NULL) returns -EINVAL (got %d)", r);

    CHECK(live_intact(), "at the end the live objects still hold their contents");
    {
        struct tu_capture cap;
        char *err;
        tu_capture_begin(&cap);
        numaslab_free(live_small);
        numaslab_cache_free(ca, live_cache);
        numaslab_free(live_large);
        numaslab_thread_flush();
        err = tu_capture_end(&cap);
        CHECK(*err == '\0', "they are freed silently");
        tu_show("stderr", err);
        free(err);
    }
    r = numaslab_cache_destroy(ca);
    CHECK(r == 0, "cache badin-a is destroyed (got %d)", r);
    r = numaslab_cache_destroy(cb);
    CHECK(r == 0, "cache badin-b is destroyed (got %d)", r);
    return tu_exit();
}
