/*
 * tests/test-witness.c - the lock witness of debug builds (lib/lock.h,
 * lib/lock.c): locks taken in the order of their ranks pass, a lock taken
 * at or below the rank of one held is reported and aborts before the
 * thread can block on it, nested locks of one rank pass only when taken
 * with nslab__lock_nested, a trylock is never out of order, and
 * NSLAB_ASSERT_HELD aborts when the lock is not held.  Each case runs in a
 * child process, whose exit status and stderr are judged.
 *
 * Internal API (links libnumaslab-core.la).  One case per situation, with
 * tests/testutil.h's lines and exit codes; 77: a release build (the
 * witness is compiled out).
 */
#include "lib/internal.h"
#include "tests/testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER; /* taken at NSLAB_RANK_GLOBAL */
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER; /* taken at NSLAB_RANK_CNODE */
static pthread_mutex_t c = PTHREAD_MUTEX_INITIALIZER; /* taken at NSLAB_RANK_CNODE */
static pthread_mutex_t d = PTHREAD_MUTEX_INITIALIZER; /* taken at NSLAB_RANK_PAGES */

static void in_order(void)
{
    nslab__lock(&a, NSLAB_RANK_GLOBAL);
    nslab__lock(&b, NSLAB_RANK_CNODE);
    NSLAB_ASSERT_HELD(&a);
    NSLAB_ASSERT_HELD(&b);
    nslab__lock(&d, NSLAB_RANK_PAGES);
    nslab__unlock(&d, NSLAB_RANK_PAGES);
    nslab__unlock(&b, NSLAB_RANK_CNODE);
    /* After a release, a lower rank than the one released is fine. */
    nslab__lock(&c, NSLAB_RANK_CNODE);
    nslab__unlock(&c, NSLAB_RANK_CNODE);
    nslab__unlock(&a, NSLAB_RANK_GLOBAL);
}

static void inverted(void)
{
    nslab__lock(&d, NSLAB_RANK_PAGES);
    nslab__lock(&a, NSLAB_RANK_GLOBAL); /* aborts here */
}

static void same_rank(void)
{
    nslab__lock(&b, NSLAB_RANK_CNODE);
    nslab__lock(&c, NSLAB_RANK_CNODE); /* aborts here */
}

static void same_rank_nested(void)
{
    nslab__lock(&b, NSLAB_RANK_CNODE);
    nslab__lock_nested(&c, NSLAB_RANK_CNODE);
    nslab__unlock(&b, NSLAB_RANK_CNODE); /* releases come in any order */
    nslab__unlock(&c, NSLAB_RANK_CNODE);
}

static void nested_below(void)
{
    nslab__lock(&d, NSLAB_RANK_PAGES);
    nslab__lock_nested(&b, NSLAB_RANK_CNODE); /* aborts here: nested is same rank only */
}

static void trylock_inverted(void)
{
    nslab__lock(&d, NSLAB_RANK_PAGES);
    if (nslab__trylock(&a, NSLAB_RANK_GLOBAL) == 0) {
        NSLAB_ASSERT_HELD(&a);
        nslab__unlock(&a, NSLAB_RANK_GLOBAL);
    }
    nslab__unlock(&d, NSLAB_RANK_PAGES);
}

static void not_held(void)
{
    nslab__lock(&a, NSLAB_RANK_GLOBAL);
    NSLAB_ASSERT_HELD(&b); /* aborts here */
}

static void unlocked_twice(void)
{
    nslab__lock(&b, NSLAB_RANK_CNODE);
    nslab__unlock(&b, NSLAB_RANK_CNODE);
    nslab__unlock(&b, NSLAB_RANK_CNODE); /* aborts here */
}

/* A real path of the library: the fork handler takes every lock of the
 * library, many of one rank, and gives them back on both sides. */
static void library_fork(void)
{
    void *p = numaslab_alloc(64, 0);
    numaslab_cache_t *k = numaslab_cache_create("witness", 48, 0, 0, NULL);
    if (!p || !k)
        exit(99);
    pid_t pid = fork();
    if (pid < 0)
        exit(99);
    if (pid == 0) {
        void *q = numaslab_alloc(64, 0);
        numaslab_free(q);
        _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        exit(1);
    numaslab_free(p);
    numaslab_thread_flush();
    numaslab_cache_destroy(k);
}

/* Run fn in a child; want_abort: it must die of SIGABRT with the
 * witness's message on stderr, else exit 0 in silence. */
static void check(const char *name, void (*fn)(void), int want_abort)
{
    int fd[2];
    tu_case("%s", name);
    REQUIRE(pipe(fd) == 0, "pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        fn();
        _exit(0);
    }
    close(fd[1]);
    char err[1024];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(err) - 1 && (r = read(fd[0], err + n, sizeof(err) - 1 - n)) > 0)
        n += (size_t)r;
    err[n] = '\0';
    close(fd[0]);
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    if (want_abort)
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(err, "lock witness") != NULL,
              "the child dies of SIGABRT with the witness's message (status %#x)", st);
    else
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strstr(err, "lock witness"),
              "the child exits 0 with no witness message (status %#x)", st);
    tu_show("child's stderr", err);
}

int main(void)
{
    tu_init("test-witness");
    if (!NSLAB_DEBUG)
        tu_skip("a release build has no lock witness (configure --enable-debug)");
    check("locks in rank order", in_order, 0);
    check("a lower rank under a higher one aborts", inverted, 1);
    check("two locks of one rank abort", same_rank, 1);
    check("two locks of one rank, nested, pass, released in any order", same_rank_nested, 0);
    check("nested below the highest rank aborts", nested_below, 1);
    check("a trylock out of order passes", trylock_inverted, 0);
    check("NSLAB_ASSERT_HELD of a lock not held aborts", not_held, 1);
    check("releasing a lock not held aborts", unlocked_twice, 1);
    check("the library's fork handler keeps the order", library_fork, 0);
    return tu_exit();
}
