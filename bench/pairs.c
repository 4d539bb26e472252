/*
 * bench/pairs.c - the hot pairs, for instruction counting.
 *
 *   pairs WORKLOAD N
 *
 * runs N allocation+free pairs of one workload after a warm-up.  Run it
 * under `valgrind --tool=callgrind` with two values of N: the difference of
 * the totals divided by the difference of N is the cost of one pair, with
 * start-up and warm-up cancelled out (bench/callgrind-pairs.sh does this).
 *
 * Workloads:
 *   cache64       numaslab_cache_alloc + numaslab_cache_free, 64-byte cache
 *   alloc_node64  numaslab_alloc_node(64, 0, node) + numaslab_free
 *   alloc64       numaslab_alloc(64, 0) + numaslab_free
 *   live64        alloc_node64 with one neighbour object kept live
 *   malloc64      glibc malloc + free, for scale
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numaslab.h"

/* Keep the compiler from dropping the pair. */
static void *volatile sink;

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s cache64|alloc_node64|alloc64|live64|malloc64 N\n", argv[0]);
        return 2;
    }
    const char *w = argv[1];
    long n = atol(argv[2]);
    int node = numaslab_local_node();
    numaslab_cache_t *c = numaslab_cache_create("bench-64", 64, 0, 0, NULL);
    if (!c || node < 0) {
        fprintf(stderr, "pairs: numaslab setup failed\n");
        return 1;
    }
    /* Warm up: the thread caches exist and hold objects. */
    for (int i = 0; i < 1000; i++) {
        void *a = numaslab_cache_alloc(c, 0), *b = numaslab_alloc_node(64, 0, node);
        numaslab_cache_free(c, a);
        numaslab_free(b);
    }
    if (!strcmp(w, "cache64")) {
        for (long i = 0; i < n; i++) {
            void *p = numaslab_cache_alloc(c, 0);
            sink = p;
            numaslab_cache_free(c, p);
        }
    } else if (!strcmp(w, "alloc_node64")) {
        for (long i = 0; i < n; i++) {
            void *p = numaslab_alloc_node(64, 0, node);
            sink = p;
            numaslab_free(p);
        }
    } else if (!strcmp(w, "alloc64")) {
        for (long i = 0; i < n; i++) {
            void *p = numaslab_alloc(64, 0);
            sink = p;
            numaslab_free(p);
        }
    } else if (!strcmp(w, "live64")) {
        void *keep = numaslab_alloc_node(64, 0, node);
        for (long i = 0; i < n; i++) {
            void *p = numaslab_alloc_node(64, 0, node);
            sink = p;
            numaslab_free(keep);
            keep = p;
        }
        numaslab_free(keep);
    } else if (!strcmp(w, "malloc64")) {
        for (long i = 0; i < n; i++) {
            void *p = malloc(64);
            sink = p;
            free(p);
        }
    } else {
        fprintf(stderr, "pairs: unknown workload %s\n", w);
        return 2;
    }
    numaslab_cache_destroy(c);
    return 0;
}
