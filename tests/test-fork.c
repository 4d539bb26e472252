/*
 * test-fork - the library in a forked child: it allocates, frees, frees
 * the parent's pre-fork objects; and a fork while another thread is busy
 * allocating must not leave a lock held in the child (alarm watchdog).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#define NPRE   200
#define CSIZE  96
#define NFORKS 20

static numaslab_cache_t *cache;
static void *pre_size[NPRE], *pre_cache[NPRE];

static size_t pre_len(int i)
{
    return 1 + (size_t)(i * 37) % 3000;
}

static int verify_pre(void)
{
    int bad = 0;
    for (int i = 0; i < NPRE; i++) {
        if (pre_size[i] && !tu_verify(pre_size[i], pre_len(i), 1000 + i))
            bad++;
        if (pre_cache[i] && !tu_verify(pre_cache[i], CSIZE, 5000 + i))
            bad++;
    }
    return bad;
}

/* What every child does; returns its exit status. */
static int child_work(int free_pre)
{
    enum { N = 1000 };
    void **v = malloc(N * sizeof(*v));
    int bad = 0, nulls = 0;

    if (!v)
        return 99;
    if (free_pre && verify_pre()) /* after a free they are not ours to read */
        bad++;
    for (int i = 0; i < N; i++) {
        size_t s = (i % 10 == 9) ? (size_t)CSIZE : 1 + (size_t)(i * 13) % 5000;
        v[i] = (i % 10 == 9) ? numaslab_cache_alloc(cache, 0) : numaslab_alloc(s, 0);
        if (!v[i]) {
            nulls++;
            continue;
        }
        tu_fill(v[i], s, 77 + i);
    }
    for (int i = 0; i < N; i++) {
        size_t s = (i % 10 == 9) ? (size_t)CSIZE : 1 + (size_t)(i * 13) % 5000;
        if (!v[i])
            continue;
        if (!tu_verify(v[i], s, 77 + i))
            bad++;
        if (i % 10 == 9)
            numaslab_cache_free(cache, v[i]);
        else
            numaslab_free(v[i]);
    }
    {
        void *big = numaslab_alloc(1 << 20, 0);
        if (!big)
            nulls++;
        else {
            memset(big, 1, 1 << 20);
            numaslab_free(big);
        }
    }
    if (free_pre) {
        for (int i = 0; i < NPRE; i++) {
            numaslab_free(pre_size[i]);
            if (pre_cache[i])
                numaslab_cache_free(cache, pre_cache[i]);
        }
    }
    free(v);
    return (bad || nulls) ? 1 : 0;
}

static void *child_thread(void *arg)
{
    *(int *)arg = child_work(0);
    numaslab_thread_flush();
    return NULL;
}

static void test_simple_fork(void)
{
    tu_case("simple fork");
    pid_t pid;
    int status = 0;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int r, tr = 99;
        long long inuse;
        pthread_t t;

        alarm(20);
        r = child_work(1);
        printf("child:  allocations, frees and frees of the parent's objects: %s\n",
               r == 0 ? "ok" : "FAILED");
        /* a thread started in the child works too */
        if (pthread_create(&t, NULL, child_thread, &tr) == 0)
            pthread_join(t, NULL);
        printf("child:  a new thread in the child allocates and frees: %s\n",
               tr == 0 ? "ok" : "FAILED");
        numaslab_thread_flush();
        inuse = tu_cache_inuse(cache);
        printf("child:  cache objects in use after freeing everything: %lld\n", inuse);
        fflush(stdout);
        _exit(r == 0 && tr == 0 && inuse == 0 ? 0 : 1);
    }
    REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child allocated, freed, freed the parent's pre-fork objects and exited 0 (%s %d)",
          WIFEXITED(status) ? "exit" : "signal",
          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    CHECK(verify_pre() == 0, "parent's objects are intact after the child freed its copies");
}

/* ---------------------------------------------------------------------- */

static volatile int busy_stop;
static long busy_rounds;

static void *busy_thread(void *arg)
{
    uint64_t rng = 99;
    void *keep[64] = {0};
    int from_cache[64] = {0};
    (void)arg;
    while (!__atomic_load_n(&busy_stop, __ATOMIC_ACQUIRE)) {
        uint64_t r = tu_rand(&rng);
        int k = (int)(r % 64);
        if (keep[k]) {
            if (from_cache[k])
                numaslab_cache_free(cache, keep[k]);
            else
                numaslab_free(keep[k]);
            keep[k] = NULL;
        }
        from_cache[k] = (r >> 8) & 1;
        if (from_cache[k]) {
            keep[k] = numaslab_cache_alloc(cache, 0);
        } else {
            size_t s = (r >> 16) % 97 == 0 ? 100000 : 1 + (size_t)((r >> 16) % 4000);
            keep[k] = numaslab_alloc(s, 0);
        }
        if ((r >> 24) % 64 == 0)
            numaslab_thread_flush();
        __atomic_fetch_add(&busy_rounds, 1, __ATOMIC_RELAXED);
    }
    for (int k = 0; k < 64; k++) {
        if (!keep[k])
            continue;
        if (from_cache[k])
            numaslab_cache_free(cache, keep[k]);
        else
            numaslab_free(keep[k]);
    }
    return NULL;
}

static void test_fork_busy(void)
{
    tu_case("fork while another thread allocates");
    pthread_t t;
    int e, ok = 0, hung = 0, failed = 0;
    long before;

    e = pthread_create(&t, NULL, busy_thread, NULL);
    REQUIRE(e == 0, "pthread_create: %s", strerror(e));
    /* Waits sleep rather than yield: a scheduler that hands the CPU
     * straight back to a yielding thread (valgrind's) would starve the
     * busy thread, which now rarely blocks. */
    tu_case("waits sleep rather than yield");
    while (__atomic_load_n(&busy_rounds, __ATOMIC_RELAXED) < 1000)
        usleep(100);

    for (int i = 0; i < NFORKS; i++) {
        pid_t pid;
        int status = 0;

        before = __atomic_load_n(&busy_rounds, __ATOMIC_RELAXED);
        while (__atomic_load_n(&busy_rounds, __ATOMIC_RELAXED) < before + 50)
            usleep(100);
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        REQUIRE(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            alarm(20);
            int r = child_work(i % 2 == 0);
            _exit(r);
        }
        REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            ok++;
        } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
            hung++;
        } else {
            failed++;
            tu_info("fork %d: child %s %d", i, WIFEXITED(status) ? "exited" : "killed by signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        }
    }
    __atomic_store_n(&busy_stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    CHECK(hung == 0,
          "forks while another thread allocates: %d of %d children hung (killed by "
          "the 20 s alarm)",
          hung, NFORKS);
    CHECK(ok == NFORKS, "those children allocated, freed and exited 0: %d of %d (%d failed)", ok,
          NFORKS, failed);
    CHECK(verify_pre() == 0, "parent's objects are still intact");
}

int main(void)
{
    tu_init("test-fork");
    alarm(120); /* the parent itself must not hang either */
    cache = numaslab_cache_create("forkc", CSIZE, 0, 0, NULL);
    REQUIRE(cache, "cache_create: %s", strerror(errno));

    for (int i = 0; i < NPRE; i++) {
        pre_size[i] = numaslab_alloc(pre_len(i), 0);
        pre_cache[i] = numaslab_cache_alloc(cache, 0);
        REQUIRE(pre_size[i] && pre_cache[i], "allocation failed: %s", strerror(errno));
        tu_fill(pre_size[i], pre_len(i), 1000 + i);
        tu_fill(pre_cache[i], CSIZE, 5000 + i);
    }
    /* some objects sit in the thread caches at fork time */
    {
        void *tmp[50];
        for (int i = 0; i < 50; i++)
            tmp[i] = numaslab_alloc(64, 0);
        for (int i = 0; i < 50; i++)
            numaslab_free(tmp[i]);
    }

    test_simple_fork();
    test_fork_busy();

    for (int i = 0; i < NPRE; i++) {
        numaslab_free(pre_size[i]);
        numaslab_cache_free(cache, pre_cache[i]);
    }
    numaslab_thread_flush();
    CHECK(numaslab_cache_destroy(cache) == 0, "parent frees its objects and destroys the cache");
    return tu_exit();
}
