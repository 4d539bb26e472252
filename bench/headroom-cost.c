/*
 * bench/headroom-cost.c - what knowing "running short" costs per chunk
 * mapped (numaslab(7), MEMORY EXHAUSTION): the decision on a cached
 * reading, a fresh reading of a node and of the memory cgroup, and a whole
 * 64 KiB chunk mapped, bound, faulted in and unmapped for scale.
 *
 *   bench/headroom-cost [ITERATIONS]
 *
 * Prints one line per figure, in ns per call (CLOCK_MONOTONIC, the median
 * of five runs).  Built by `make bench-headroom`.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "lib/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static volatile uint64_t sink;

/* ns per call of fn, median of five runs of n calls. */
static double measure(void (*fn)(void), long n)
{
    double r[5];
    for (int k = 0; k < 5; k++) {
        double t0 = now();
        for (long i = 0; i < n; i++)
            fn();
        r[k] = (now() - t0) / (double)n;
    }
    qsort(r, 5, sizeof(r[0]), cmp);
    return r[2];
}

static void decide(void)
{
    /* The check every chunk mapping makes, and its undo at unmapping. */
    sink += (uint64_t)nslab__headroom_take(0, NSLAB_MIN_SLAB, 0);
    nslab__headroom_give(0, NSLAB_MIN_SLAB);
}

static void read_node(void)
{
    struct nslab_node_mem m;
    int node = nslab_g.mem_whole ? -1 : nslab_g.topo.active[0];
    sink += (uint64_t)nslab__node_mem_read(node, &m) + m.free;
}

static void read_cgroup(void)
{
    struct nslab_cg_reading r;
    sink += (uint64_t)nslab__cgroup_read(&nslab_g.cgroup, &r) + r.headroom;
}

static void map_chunk(void)
{
    void *p = nslab__map_node(0, NSLAB_MIN_SLAB);
    if (p)
        nslab__unmap_node(0, p, NSLAB_MIN_SLAB);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    if (nslab__init() != 0) {
        fprintf(stderr, "headroom-cost: numaslab does not initialise\n");
        return 1;
    }
    printf("decision on a cached reading (take + give): %.1f ns\n", measure(decide, n));
    printf("reading node %d's meminfo%s: %.0f ns\n", nslab_g.topo.active[0],
           nslab_g.mem_whole ? " (the machine's: /proc/meminfo)" : "", measure(read_node, n / 100));
    if (nslab_g.cgroup.version)
        printf("reading the memory cgroup (v%d, %s): %.0f ns\n", nslab_g.cgroup.version,
               nslab_g.cgroup.dir, measure(read_cgroup, n / 100));
    else
        printf("no memory cgroup\n");
    printf("a 64 KiB chunk mapped, bound, faulted in and unmapped: %.0f ns\n",
           measure(map_chunk, n / 100));
    return 0;
}
