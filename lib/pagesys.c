/*
 * lib/pagesys.c - the page layer's side that faces the system: counting
 * what is mapped on each node against the node limit and the headroom of
 * the node and of the memory cgroup (lib/headroom.c) before anything is
 * faulted in, mapping fresh runs bound to their node, unmapping runs, and
 * moving a handed-out run by remapping it (numaslab_realloc of a large
 * object).  The system calls themselves are numa/bind.c's; the cache of
 * free runs in front of all this is lib/pages.c's.
 *
 * Invariant: a node's bytes_mapped and its headroom's bytes mapped count
 * every byte mapped here and not yet unmapped, free runs included.
 *
 * Locks: none; everything here runs outside the page layer's node locks.
 * The headroom's locks are taken by trylock (lib/headroom.c).
 */
#include "lib/internal.h"

/*
 * Count bytes more as mapped on node nidx, with the node limit and the
 * headroom of the node and of the memory cgroup checked first (floor: a
 * reserve fill, past the limit and the low watermark).  0, or the
 * shortage (NSLAB_SHORT_NODE, NSLAB_SHORT_CGROUP): nothing is counted.
 */
static int charge(int nidx, size_t bytes, int floor)
{
    int node = nslab_g.topo.active[nidx];
    uint64_t *mapped = &nslab_g.node_counters[node].bytes_mapped;
    nslab_add_relaxed(&nslab_g.charges, 1);
    uint64_t old = nslab_add_relaxed(mapped, bytes);
    int why = NSLAB_SHORT_NODE;
    /* The node's reserve is mapped too, but the limit is for ordinary
     * memory: the reserve's full size is allowed on top of it. */
    if (!nslab_g.opt.node_limit || floor ||
        old + bytes <= nslab_g.opt.node_limit + nslab_g.node_counters[node].reserve_allowance)
        why = nslab__headroom_take(nidx, bytes, floor);
    if (why)
        nslab_sub_relaxed(mapped, bytes);
    return why;
}

static void uncharge(int nidx, size_t bytes)
{
    nslab_add_relaxed(&nslab_g.charges, 1);
    nslab__headroom_give(nidx, bytes);
    nslab_sub_relaxed(&nslab_g.node_counters[nslab_g.topo.active[nidx]].bytes_mapped, bytes);
}

/* Unmap [p, p+bytes) of node nidx; its page map entries are cleared
 * already (or were never set). */
void nslab__pages_unmap_range(int nidx, void *p, size_t bytes)
{
    nslab__pages_unmap(p, bytes);
    uncharge(nidx, bytes);
}

/*
 * bytes mapped fresh on node nidx, bound and faulted in, once charge()
 * allows them.  NULL with errno ENOMEM when the node is exhausted; *why
 * then says whether it was the cgroup (NSLAB_SHORT_CGROUP) or the node.
 */
void *nslab__pages_map_fresh(int nidx, size_t bytes, size_t align, unsigned flags, int *why)
{
    void *p = NULL;
    *why = charge(nidx, bytes, (flags & NSLAB_PG_NOLIMIT) != 0);
    if (!*why && !(p = nslab__pages_map_aligned(nslab_g.topo.active[nidx], bytes, align,
                                                (flags & NSLAB_PG_HUGE) != 0))) {
        uncharge(nidx, bytes);
        *why = NSLAB_SHORT_NODE;
    }
    if (!p)
        errno = ENOMEM;
    return p;
}

/*
 * [p, p+bytes) of node nidx, a chunk of the slab arena or a cut of the
 * node's region for fresh runs (lib/pages.c), bound already, faulted in
 * once charge() allows it.  0; or -ENOMEM with errno ENOMEM,
 * nothing counted and nothing left faulted in, *why saying whether it was
 * the cgroup (NSLAB_SHORT_CGROUP) or the node.
 */
int nslab__pages_arena_fill(int nidx, void *p, size_t bytes, unsigned flags, int *why)
{
    *why = charge(nidx, bytes, (flags & NSLAB_PG_NOLIMIT) != 0);
    if (!*why && nslab__pages_fill(p, bytes) != 0) {
        nslab__pages_discard(p, bytes); /* what was faulted before the failure */
        uncharge(nidx, bytes);
        *why = NSLAB_SHORT_NODE;
    }
    if (*why) {
        errno = ENOMEM;
        return -ENOMEM;
    }
    return 0;
}

/* The arena's chunk [p, p+bytes) of node nidx back to the system and
 * uncounted; it stays reserved and bound. */
void nslab__pages_arena_release(int nidx, void *p, size_t bytes)
{
    nslab__pages_discard(p, bytes);
    uncharge(nidx, bytes);
}

/*
 * Move the run [p, p+bytes) of node nidx, handed out, to a new address
 * where it is newbytes long: its pages are remapped, not copied, and only
 * the new part is faulted in.  The new address (align-aligned), or NULL
 * with errno ENOMEM and the run untouched.  The page map is the caller's.
 */
void *nslab__pages_move(int nidx, void *mem, size_t bytes, size_t newbytes, size_t align,
                        unsigned flags)
{
    size_t more = newbytes - bytes;
    if (nslab__fail_injected(nidx) || charge(nidx, more, 0)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t page = nslab__page_size();
    void *q = nslab__pages_reserve(newbytes, align > page ? align : page);
    /* The page map's leaves for the new place exist before anything
     * moves: the caller's entries there cannot fail. */
    if (q && nslab__pagemap_set(q, newbytes, NULL)) {
        nslab__pages_unmap(q, newbytes);
        q = NULL;
    }
    if (!q || nslab__pages_remap(nslab_g.topo.active[nidx], mem, bytes, q, newbytes,
                                 (flags & NSLAB_PG_HUGE) != 0)) {
        uncharge(nidx, more);
        errno = ENOMEM;
        return NULL;
    }
    nslab__pub_node(nslab_g.topo.active[nidx]);
    nslab__pub_process();
    return q;
}
