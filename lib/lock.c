/*
 * lib/lock.c - the lock witness of debug builds (the ranks and the order
 * are in lib/lock.h): each thread's record of the locks it holds, the
 * check that a lock is taken in order, and the check that a lock the code
 * relies on is held.  A release build compiles nothing here.
 *
 * The record is thread-local and needs no lock.  It counts the locks held
 * by rank, for the order check, and keeps the most recent HELD_MAX of them
 * by address, for NSLAB_ASSERT_HELD; the fork handler holds many more (one
 * per cache and node), and while more than HELD_MAX are held an address
 * not among them is taken to be held.  A fork child inherits the forking
 * thread's record, which matches the locks it inherited.  A lock taken
 * with the pthread calls directly is not recorded: NSLAB_ASSERT_HELD then
 * asks the C library who owns it.
 */
#include "lib/internal.h"

#if NSLAB_DEBUG

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HELD_MAX 16

struct witness {
    unsigned count[NSLAB_RANK_MAX + 1]; /* locks held, by rank */
    unsigned n;                         /* locks held; lock[] keeps the first HELD_MAX */
    int lost;                           /* 1: more than HELD_MAX held since n was last 0 */
    const pthread_mutex_t *lock[HELD_MAX];
};

/* The default TLS model: a debug build may be loaded by dlopen. */
static __thread struct witness wit;

static int highest_held(void)
{
    for (int r = NSLAB_RANK_MAX; r > 0; r--)
        if (wit.count[r])
            return r;
    return 0;
}

__attribute__((noreturn, cold, format(printf, 1, 2))) static void witness_die(const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    nslab__report("numaslab: lock witness: %s", what);
    abort();
}

static void record(const pthread_mutex_t *m, int rank)
{
    wit.count[rank]++;
    if (wit.n < HELD_MAX)
        wit.lock[wit.n] = m;
    else
        wit.lost = 1;
    wit.n++;
}

int nslab__witness_lock(pthread_mutex_t *m, int rank, int nested, const char *name)
{
    int top = highest_held();
    if (rank <= 0 || rank > NSLAB_RANK_MAX)
        witness_die("taking %s with rank %d, which is no rank", name, rank);
    if (rank < top || (rank == top && !nested))
        witness_die("taking %s (rank %d) while holding a lock of rank %d", name, rank, top);
    int rc = pthread_mutex_lock(m);
    if (rc == 0)
        record(m, rank);
    return rc;
}

int nslab__witness_trylock(pthread_mutex_t *m, int rank)
{
    int rc = pthread_mutex_trylock(m);
    if (rc == 0)
        record(m, rank);
    return rc;
}

int nslab__witness_unlock(pthread_mutex_t *m, int rank)
{
    unsigned kept = wit.n < HELD_MAX ? wit.n : HELD_MAX, i = kept;
    while (i > 0 && wit.lock[i - 1] != m)
        i--;
    if (wit.count[rank] == 0 || (i == 0 && !wit.lost))
        witness_die("releasing a lock of rank %d that this thread does not hold", rank);
    if (i > 0) {
        memmove(&wit.lock[i - 1], &wit.lock[i], (kept - i) * sizeof(wit.lock[0]));
        if (wit.n > HELD_MAX) /* one not kept by address fills the gap: unknown */
            wit.lock[HELD_MAX - 1] = NULL;
    }
    wit.count[rank]--;
    if (--wit.n == 0)
        wit.lost = 0;
    return pthread_mutex_unlock(m);
}

/* m was taken with the pthread calls directly (no record): its owner. */
static int owned_here(const pthread_mutex_t *m)
{
#ifdef __GLIBC__
    return m->__data.__owner == (int)syscall(SYS_gettid);
#else
    (void)m;
    return 1;
#endif
}

void nslab__witness_assert_held(const pthread_mutex_t *m, const char *name, const char *where)
{
    unsigned kept = wit.n < HELD_MAX ? wit.n : HELD_MAX;
    for (unsigned i = 0; i < kept; i++)
        if (wit.lock[i] == m)
            return;
    if (wit.lost || owned_here(m))
        return;
    witness_die("%s runs without %s held", where, name);
}

#endif /* NSLAB_DEBUG */
