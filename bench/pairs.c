/*
 * bench/pairs.c - the hot pairs, for instruction counting.
 *
 *   pairs WORKLOAD N
 *
 * runs N allocation+free pairs of one workload after a warm-up.  Run it
 * under `valgrind --tool=callgrind` with two values of N: the difference of
 * the totals divided by the difference of N is the cost of one pair, with
 * start-up and warm-up cancelled out (bench/callgrind-pairs.sh does this).
 * The pairs run inside run_pairs(), so that `--toggle-collect=run_pairs`
 * profiles them alone.
 *
 * Workloads (SIZE is 64 when left out: cache64, ...):
 *   cacheSIZE       numaslab_cache_alloc + numaslab_cache_free, a SIZE-byte cache
 *   alloc_nodeSIZE  numaslab_alloc_node(SIZE, 0, node) + numaslab_free
 *   allocSIZE       numaslab_alloc(SIZE, 0) + numaslab_free
 *   liveSIZE        alloc_nodeSIZE with one neighbour object kept live
 *   critSIZE        numaslab_cache_alloc(c, NUMASLAB_CRITICAL) + numaslab_cache_free
 *                   while page allocation fails, served by a reserve slab
 *   mallocSIZE      malloc + free (whichever malloc the process has: run it
 *                   with LD_PRELOAD=libjemalloc.so.2 ... for the peers)
 *   mliveSIZE       mallocSIZE with one neighbour object kept live
 *   batchSIZE       numaslab_alloc(SIZE, 0), each object written, then all
 *                   freed, in rounds of 10,000 objects: the figure is per object
 *   mbatchSIZE      batchSIZE with malloc and free
 *   nullSIZE        null_alloc + null_free (bench/null-alloc.h): cacheSIZE's loop
 *                   calling, through the PLT, two functions that return at once;
 *                   its figure is the harness's cost, which the others include
 *                   (with gcc -O2 on x86-64 the alloc_node and mlive loops have
 *                   as many instructions, alloc's one fewer, malloc's two fewer,
 *                   live's two more; SIZE is unused)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numaslab.h"
#include "bench/null-alloc.h"

/* Keep the compiler from dropping the pair. */
static void *volatile sink;

enum kind { CACHE, ALLOC_NODE, ALLOC, LIVE, CRIT, MALLOC, MLIVE, NUL, BATCH, MBATCH };
static const char *const kinds[] = {"cache",  "alloc_node", "alloc", "live",  "crit",
                                    "malloc", "mlive",      "null",  "batch", "mbatch"};

#define BATCH_LEN 10000
static void *batch[BATCH_LEN];

static numaslab_cache_t *cache;
static int node;

static void __attribute__((noinline)) run_pairs(enum kind k, size_t size, long n)
{
    void *keep;
    switch (k) {
    case CACHE:
    case CRIT: {
        unsigned flags = k == CRIT ? NUMASLAB_CRITICAL : 0;
        for (long i = 0; i < n; i++) {
            void *p = numaslab_cache_alloc(cache, flags);
            sink = p;
            numaslab_cache_free(cache, p);
        }
        break;
    }
    case NUL: {
        /* The cache loop: the same two arguments to each call (a constant
         * flags is one instruction per call too). */
        unsigned flags = 0;
        for (long i = 0; i < n; i++) {
            void *p = null_alloc(cache, flags);
            sink = p;
            null_free(cache, p);
        }
        break;
    }
    case ALLOC_NODE:
        for (long i = 0; i < n; i++) {
            void *p = numaslab_alloc_node(size, 0, node);
            sink = p;
            numaslab_free(p);
        }
        break;
    case ALLOC:
        for (long i = 0; i < n; i++) {
            void *p = numaslab_alloc(size, 0);
            sink = p;
            numaslab_free(p);
        }
        break;
    case LIVE:
        keep = numaslab_alloc_node(size, 0, node);
        for (long i = 0; i < n; i++) {
            void *p = numaslab_alloc_node(size, 0, node);
            sink = p;
            numaslab_free(keep);
            keep = p;
        }
        numaslab_free(keep);
        break;
    case MALLOC:
        for (long i = 0; i < n; i++) {
            void *p = malloc(size);
            sink = p;
            free(p);
        }
        break;
    case BATCH:
    case MBATCH:
        /* n objects in rounds of BATCH_LEN: what the bench's batch does, slabs
         * emptied and made again included. */
        for (long done = 0; done < n;) {
            long m = n - done < BATCH_LEN ? n - done : BATCH_LEN;
            for (long i = 0; i < m; i++) {
                uint64_t *p = k == BATCH ? numaslab_alloc(size, 0) : malloc(size);
                *p = (uint64_t)i;
                batch[i] = p;
            }
            sink = batch;
            for (long i = 0; i < m; i++) {
                if (k == BATCH)
                    numaslab_free(batch[i]);
                else
                    free(batch[i]);
            }
            done += m;
        }
        break;
    case MLIVE:
        keep = malloc(size);
        for (long i = 0; i < n; i++) {
            void *p = malloc(size);
            sink = p;
            free(keep);
            keep = p;
        }
        free(keep);
        break;
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr,
                "usage: %s cache|alloc_node|alloc|live|crit|malloc|mlive|null|batch|mbatch[SIZE] "
                "N\n",
                argv[0]);
        return 2;
    }
    const char *w = argv[1];
    long n = atol(argv[2]);
    size_t len = strcspn(w, "0123456789");
    size_t size = w[len] ? (size_t)atol(w + len) : 64;
    int k = -1;
    for (int i = 0; i < (int)(sizeof(kinds) / sizeof(kinds[0])); i++)
        if (strlen(kinds[i]) == len && !strncmp(w, kinds[i], len))
            k = i;
    if (k < 0 || size == 0 || size > NUMASLAB_MAX_SMALL) {
        fprintf(stderr, "pairs: unknown workload %s\n", w);
        return 2;
    }
    if (k == MALLOC || k == MLIVE || k == MBATCH) {
        for (int i = 0; i < 1000; i++) /* warm-up */
            free(sink = malloc(size));
        run_pairs(k, size, n);
        return 0;
    }
    if (k == NUL) {
        for (int i = 0; i < 1000; i++) /* warm-up: the PLT slots are bound */
            null_free(cache, sink = null_alloc(cache, 0));
        run_pairs(k, size, n);
        return 0;
    }

    node = numaslab_local_node();
    cache = numaslab_cache_create("bench-pairs", size, 0, 0, NULL);
    if (!cache || node < 0) {
        fprintf(stderr, "pairs: numaslab setup failed\n");
        return 1;
    }
    void *keep = NULL;
    if (k == CRIT) {
        /* A reserve slab, kept by one live object: the pairs are served
         * by it (see crit_pair in bench/work-numaslab.c). */
        if (numaslab_fail_pages("after=0") ||
            !(keep = numaslab_cache_alloc(cache, NUMASLAB_CRITICAL))) {
            fprintf(stderr, "pairs: no reserve slab\n");
            return 1;
        }
    }
    /* Warm up: the thread caches exist and hold objects. */
    for (int i = 0; i < 1000; i++) {
        void *a = numaslab_cache_alloc(cache, k == CRIT ? NUMASLAB_CRITICAL : 0);
        void *b = numaslab_alloc_node(size, 0, node);
        numaslab_cache_free(cache, a);
        numaslab_free(b);
    }
    run_pairs(k, size, n);
    if (keep) {
        numaslab_cache_free(cache, keep);
        numaslab_fail_pages(NULL);
    }
    numaslab_cache_destroy(cache);
    return 0;
}
