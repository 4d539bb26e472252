/*
 * lib/fork.c - fork(): the parent takes every lock of the library before
 * the fork and both sides release them after it, so that the child
 * inherits lists and counters that no thread was halfway through
 * changing.  In the child only the forking thread exists: the slabs the
 * other threads owned, and their cached large objects, are given back to
 * their nodes there, so that nothing is lost and the child's threads
 * adopt them.
 *
 * Order (the ranks of lib/lock.h): nslab_g.lock, every cnode lock in
 * cache-list order then node order, the node reserves' pool locks, the
 * page layer's node locks, the page map lock, the headroom locks, the
 * fault-injection lock; the locks of one rank are taken with
 * nslab__lock_nested.  Pools the application made are its own to keep
 * quiet across fork.
 */
#include "lib/internal.h"

#include <stdlib.h>

void nslab__fork_lock(void)
{
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    struct nslab_list *l;
    for (l = nslab_g.caches.next; l != &nslab_g.caches; l = l->next) {
        struct numaslab_cache *c = nslab_container_of(l, struct numaslab_cache, link);
        for (int i = 0; i < nslab_g.nactive; i++)
            nslab__lock_nested(&c->cnode[i].lock, NSLAB_RANK_CNODE);
    }
    for (int i = 0; nslab_g.reserve && i < nslab_g.nactive; i++)
        if (nslab_g.reserve[i])
            nslab__lock_nested(&nslab_g.reserve[i]->lock, NSLAB_RANK_POOL);
    nslab__pages_fork_lock();
    nslab__pagemap_lock();
    nslab__headroom_fork_lock();
    nslab__fail_fork_lock();
}

void nslab__fork_unlock(void)
{
    nslab__fail_fork_unlock();
    nslab__headroom_fork_unlock();
    nslab__pagemap_unlock();
    nslab__pages_fork_unlock();
    for (int i = nslab_g.reserve ? nslab_g.nactive - 1 : -1; i >= 0; i--)
        if (nslab_g.reserve[i])
            nslab__unlock(&nslab_g.reserve[i]->lock, NSLAB_RANK_POOL);
    struct nslab_list *l;
    for (l = nslab_g.caches.prev; l != &nslab_g.caches; l = l->prev) {
        struct numaslab_cache *c = nslab_container_of(l, struct numaslab_cache, link);
        for (int i = nslab_g.nactive - 1; i >= 0; i--)
            nslab__unlock(&c->cnode[i].lock, NSLAB_RANK_CNODE);
    }
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
}

/* Between prepare and the parent's or child's handler every lock is held:
 * a malloc then (another fork handler's) is the C library's
 * (nslab_busy, numa/numa.h). */
static void fork_prepare(void)
{
    NSLAB_BUSY_ENTER();
    nslab__fork_lock();
}

static void fork_parent(void)
{
    nslab__fork_unlock();
    NSLAB_BUSY_LEAVE();
}

static void fork_child(void)
{
    nslab__fork_unlock();
    /* First: what the drain below publishes is the child's, never the
     * parent's segment (the child makes its own at its first write). */
    nslab__export_fork_child();
    nslab__lock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    struct nslab_list *l = nslab_g.threads.next;
    while (l != &nslab_g.threads) {
        struct nslab_tstate *ts = nslab_container_of(l, struct nslab_tstate, link);
        l = l->next;
        if (ts == nslab_tls)
            continue;
        nslab__tstate_drain(ts);
        nslab_list_del(&ts->link);
        free(ts);
    }
    /* A lease another thread was taking at the fork is not in any cache
     * of the child: the nodes' leases are what this thread holds. */
    if (nslab_g.ready) {
        uint64_t kept[nslab_g.nactive > 0 ? nslab_g.nactive : 1];
        const struct nslab_large_cache *tlc = nslab_tls->tlc;
        for (int i = 0; i < nslab_g.nactive; i++)
            kept[i] = tlc ? tlc[i].lease : 0;
        nslab__pages_fork_child_leases(kept);
    }
    nslab__unlock(&nslab_g.lock, NSLAB_RANK_GLOBAL);
    NSLAB_BUSY_LEAVE();
}

void nslab__fork_handlers(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}
