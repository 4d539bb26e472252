/*
 * lib/lock.h - the library's locks: how they are made, the rank of each
 * and the order they nest in, and the debug build's checks of both (a
 * small lock witness: a rank per lock, a record per thread).
 *
 * Lock order, outermost first: a thread may take a lock only while every
 * lock it holds has a lower rank.  What each lock protects is written
 * beside it, in the file named.
 *   1. NSLAB_RANK_GLOBAL    nslab_g.lock (lib/core.c): the cache list, the
 *                           thread list, cache ids, initialisation and
 *                           teardown.
 *   2. NSLAB_RANK_CNODE     a (cache, node)'s lock (lib/slab.c): its lists
 *                           of unowned slabs and its reserve slabs; taken
 *                           when a slab changes hands, never by a thread's
 *                           own allocations and frees.  One at a time,
 *                           but by the fork handler and cache teardown.
 *   3. NSLAB_RANK_POOL      a mempool's lock (lib/mempool.c); its
 *                           allocator runs outside it.
 *   4. NSLAB_RANK_PAGES     a page layer node lock (lib/pages.c): one
 *                           node's free runs.  Slabs and large objects are
 *                           made and given up outside the cnode locks, pools
 *                           call their allocator outside the pool lock.
 *   5. NSLAB_RANK_PAGEMAP   the pagemap lock (lib/pagemap.c): creation of
 *                           page map leaves.
 *   6. NSLAB_RANK_HEADROOM  each headroom's lock (lib/headroom.c), held
 *                           while its reading is refreshed; taken by trylock
 *                           but in the fork handler.
 *   7. NSLAB_RANK_FAULT     fail_lock (lib/fault.c): the fault-injection
 *                           setting.
 * The statistics segment (lib/export.c) has no lock of its own: a flag per
 * record serialises its writers, which may run under any of these and at
 * most try nslab_g.lock.
 * The fork handler takes them in this order, every lock of a rank before
 * the next rank (lib/fork.c).  nslab__slabs_trim (a short cgroup) only
 * tries nslab_g.lock, so it may run wherever a page is mapped.
 *
 * Every lock is taken through nslab__lock / nslab__trylock /
 * nslab__unlock, which name its rank.  In a release build they are the
 * pthread calls and nothing else.  In a debug build (--enable-debug) each
 * thread keeps a record of the ranks it holds (lib/lock.c): taking a lock
 * of a rank at or below the highest held is reported and aborts, before
 * the thread could block on it (nslab__lock_nested allows the same rank,
 * for the fork handler's many locks of one rank); a trylock is never out
 * of order, since it cannot wait, but what it took is recorded.
 * NSLAB_ASSERT_HELD(m) states, and in a debug build checks, that the
 * caller holds m where the code relies on it.
 */
#ifndef NSLAB_LOCK_H
#define NSLAB_LOCK_H

#include "lib/base.h"

enum nslab_lock_rank {
    NSLAB_RANK_GLOBAL = 1,
    NSLAB_RANK_CNODE = 2,
    NSLAB_RANK_POOL = 3,
    NSLAB_RANK_PAGES = 4,
    NSLAB_RANK_PAGEMAP = 5,
    NSLAB_RANK_HEADROOM = 6,
    NSLAB_RANK_FAULT = 7,
    NSLAB_RANK_MAX = 7
};

/*
 * The per-node locks (cnode, the page layer's node lock) guard a few list and
 * bitmap operations: an adaptive mutex spins a little before it sleeps, as
 * the kernel's spinlocks would, instead of a futex round trip each time
 * two threads of a node meet there.
 */
static inline void nslab__lock_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

#if NSLAB_DEBUG
/* lib/lock.c: the witness.  name is the lock's expression, for the report. */
int nslab__witness_lock(pthread_mutex_t *m, int rank, int nested, const char *name);
int nslab__witness_trylock(pthread_mutex_t *m, int rank);
int nslab__witness_unlock(pthread_mutex_t *m, int rank);
void nslab__witness_assert_held(const pthread_mutex_t *m, const char *name, const char *where);
#define nslab__lock(m, rank)        nslab__witness_lock((m), (rank), 0, #m)
#define nslab__lock_nested(m, rank) nslab__witness_lock((m), (rank), 1, #m)
#define nslab__trylock(m, rank)     nslab__witness_trylock((m), (rank))
#define nslab__unlock(m, rank)      nslab__witness_unlock((m), (rank))
#define NSLAB_ASSERT_HELD(m)        nslab__witness_assert_held((m), #m, __func__)
#else
#define nslab__lock(m, rank)        pthread_mutex_lock(m)
#define nslab__lock_nested(m, rank) pthread_mutex_lock(m)
#define nslab__trylock(m, rank)     pthread_mutex_trylock(m)
#define nslab__unlock(m, rank)      pthread_mutex_unlock(m)
#define NSLAB_ASSERT_HELD(m)        ((void)0)
#endif

#endif /* NSLAB_LOCK_H */
