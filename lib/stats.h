/*
 * lib/stats.h - what lib/stats.c and lib/export.c offer the rest of lib/:
 * snapshots of the counters in the layout of include/numaslab-stats.h, and
 * the statistics segment /dev/shm/numaslab.<pid> that the slow paths keep
 * live as they change the figures.
 */
#ifndef NSLAB_STATS_H
#define NSLAB_STATS_H

#include "lib/base.h"

struct numaslab_cache;
struct numaslab_mempool;
struct nslab_tstate;

/* ------------------------------------------------------------------------
 * lib/stats.c: snapshots in the layout of include/numaslab-stats.h
 * ---------------------------------------------------------------------- */
struct numaslab_stats_header;
#define NSLAB_STATS_ABSENT 16 /* records for absent node ids that requests named */
uint32_t nslab__stats_node_cap(void);
/* Set h's layout (version, sizes, offsets, caps) for node_cap node and
 * cache_cap cache records; returns the bytes the whole needs.  h is zeroed
 * first; the caller sets the rest of the header. */
size_t nslab__stats_layout(struct numaslab_stats_header *h, uint32_t node_cap, uint32_t cache_cap);
/* Fill h's records and counts from the counters.  nslab_g.lock held. */
void nslab__stats_snapshot(struct numaslab_stats_header *h);
struct numaslab_stats_node_rec;
struct numaslab_stats_cache_rec;
/* One record from the counters, relaxed loads and plain stores (lib/export.c
 * serialises the writers of a record).  write_node leaves the reserve's
 * fields, write_reserve writes them (the pool's lock held); fill_node is
 * both, from zero. */
void nslab__stats_write_node(struct numaslab_stats_node_rec *r, int node);
void nslab__stats_write_node_objects(struct numaslab_stats_node_rec *r, int node);
/* The object counts and the fields of the page layer and large objects
 * (mapped, cached, large objects and their bytes): what a request the
 * page layer serves without a charge changes. */
void nslab__stats_write_node_pages(struct numaslab_stats_node_rec *r, int node);
void nslab__stats_write_cache_objects(struct numaslab_stats_cache_rec *r, struct numaslab_cache *c,
                                      int nidx);
void nslab__stats_write_reserve(struct numaslab_stats_node_rec *r,
                                const struct numaslab_mempool *p);
void nslab__stats_fill_node(struct numaslab_stats_node_rec *r, int node);
void nslab__stats_write_cache(struct numaslab_stats_cache_rec *r, struct numaslab_cache *c,
                              int nidx);
void nslab__stats_write_process(struct numaslab_stats_header *h);

/* ------------------------------------------------------------------------
 * lib/export.c: the statistics segment /dev/shm/numaslab.<pid>, written
 * live by the slow paths that change the figures (no thread, no lock).
 * ---------------------------------------------------------------------- */
void nslab__export_start(void);      /* init_locked, nslab_g.lock held, library ready */
void nslab__export_stop(void);       /* numaslab_fini, nslab_g.lock NOT held */
void nslab__export_fork_child(void); /* the fork child handler, nslab_g.lock NOT held */
/* Write what changed into the segment, when there is one: a node's record
 * (node id), a (cache, node)'s record and its node's, a node reserve's
 * fields (its pool's lock held), the process's cgroup fields; a cache's
 * records made or cleared (nslab_g.lock held). */
void nslab__pub_node(int node);
void nslab__pub_node_pages(int node); /* only nslab__stats_write_node_pages's fields changed */
void nslab__pub_cache(struct numaslab_cache *c, int nidx);
void nslab__pub_cache_counts(struct numaslab_cache *c, int nidx); /* its object counts changed */
/* ts counted frees into other threads' slabs of c (its thread cache's
 * rfreed): taken off the objects in use and written at most a tick late. */
void nslab__pub_remote(struct nslab_tstate *ts, struct numaslab_cache *c);
/* Cache id's records wait for ts's next nslab__pub_dirty. */
static inline void nslab__pub_wait(struct nslab_tstate *ts, uint32_t id)
{
    ts->pub_ids[id / 64] |= 1ull << (id % 64);
}
void nslab__pub_dirty(struct nslab_tstate *ts); /* what pub_remote left, counted and written now */
/* Every NSLAB_PUB_EVERY-th remote free's look at the coarse clock: a new tick writes
 * what pub_remote left (nslab__pub_dirty). */
void nslab__pub_tick(struct nslab_tstate *ts);
void nslab__pub_reserve(struct numaslab_mempool *pool);
void nslab__pub_process(void);
void nslab__pub_cache_new(struct numaslab_cache *c);
void nslab__pub_cache_gone(struct numaslab_cache *c);

#endif /* NSLAB_STATS_H */
