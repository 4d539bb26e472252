/*
 * tests/test-threadlines.c - what each thread writes on its fast paths
 * shares no cache line with another thread's (doc/design.md, "Thread
 * state and the local node"): its state (struct nslab_tstate), its
 * thread cache of every cache it used (free lists, current slabs, owned
 * slabs) and its cache of large objects.  The C library's allocator packs such small blocks of
 * two threads side by side; a line holding both threads' free lists moves
 * between their cores at every allocation.  The threads here make their
 * thread caches by turns, one cache each in a row, so that the blocks of
 * different threads are made one after another, and every block must
 * start on a line and no line may hold blocks of two threads.
 *
 * Internal API (links libnumaslab-core.la).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "lib/internal.h"
#include "tests/testutil.h"

#include <pthread.h>

#define NTHREADS 4
#define NSIZES   12
/* A size class each: a thread cache each. */
static const size_t sizes[NSIZES] = {32, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048, 4096};
#define LARGE (64 * 1024) /* a large object: its free makes the thread's large cache */

struct block {
    uintptr_t start, end; /* [start, end) */
    int thread;
    const char *what;
};

/* NTHREADS states, their thread caches (NSIZES and the library's own) and
 * large caches. */
static struct block blocks[NTHREADS * (NSIZES + 8)];
static int nblocks;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn;         /* the thread whose turn it is, step * NTHREADS + thread */
static int done, failed; /* threads that recorded their blocks; that failed */
static pthread_barrier_t leave;

static int overflow; /* blocks that did not fit in blocks[] */

static void record(int thread, const void *p, size_t bytes, const char *what)
{
    if (nblocks == (int)(sizeof(blocks) / sizeof(blocks[0]))) {
        overflow++;
        return;
    }
    struct block *b = &blocks[nblocks++];
    b->start = (uintptr_t)p;
    b->end = (uintptr_t)p + bytes;
    b->thread = thread;
    b->what = what;
}

static void wait_turn(int t)
{
    pthread_mutex_lock(&mu);
    while (turn != t)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void next_turn(void)
{
    pthread_mutex_lock(&mu);
    turn++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void *worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    void *objs[NSIZES];
    /* Step k: thread 0, 1, ... in turn makes its thread cache of the k-th
     * size class (its first allocation there), the first step its state
     * too. */
    for (int k = 0; k < NSIZES; k++) {
        wait_turn(k * NTHREADS + me);
        objs[k] = numaslab_alloc(sizes[k], 0);
        next_turn();
    }
    wait_turn(NSIZES * NTHREADS + me);
    numaslab_free(numaslab_alloc(LARGE, 0)); /* the large cache */
    struct nslab_tstate *ts = nslab_tls;
    size_t n = (size_t)nslab_g.nactive;
    size_t tc_bytes = nslab__tc_bytes(n);
    pthread_mutex_lock(&mu);
    int ok = ts != &nslab_empty_ts;
    if (ok) {
        record(me, ts, sizeof(*ts), "state");
        for (uint32_t id = 0; id < NSLAB_MAX_CACHES; id++)
            if (nslab__tc(ts, id))
                record(me, ts->cc[id], tc_bytes, "thread cache");
        /* Every size class it used has its thread cache; a large free
         * made the large cache. */
        for (int k = 0; k < NSIZES; k++)
            ok &= nslab__tc(ts, nslab__class_cache(sizes[k])->id) != NULL;
        ok &= ts->tlc != NULL;
        if (ts->tlc)
            record(me, ts->tlc, n * sizeof(*ts->tlc), "large cache");
    }
    failed += !ok;
    done++;
    turn++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    /* Alive until the blocks are checked: an exit frees them. */
    pthread_barrier_wait(&leave);
    for (int k = 0; k < NSIZES; k++)
        numaslab_free(objs[k]);
    return NULL;
}

int main(void)
{
    tu_init("test-threadlines");
    REQUIRE(numaslab_init(NULL) == 0, "numaslab_init: %s", strerror(errno));
    REQUIRE(pthread_barrier_init(&leave, NULL, NTHREADS + 1) == 0, "pthread_barrier_init");
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        REQUIRE(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0, "pthread_create");
    pthread_mutex_lock(&mu);
    while (done < NTHREADS)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);

    tu_case("each thread has its state, its thread caches and its large cache");
    CHECK(failed == 0,
          "%d of %d threads lacked their state, a size class's thread cache or the large cache",
          failed, NTHREADS);
    CHECK(overflow == 0, "%d blocks more than the test holds", overflow);
    int per[NTHREADS] = {0};
    for (int i = 0; i < nblocks; i++)
        per[blocks[i].thread]++;
    for (int i = 0; i < NTHREADS; i++)
        CHECK(per[i] >= NSIZES + 2, "thread %d: %d blocks (want at least %d)", i, per[i],
              NSIZES + 2);

    tu_case("every block starts on a cache line");
    int misaligned = 0;
    for (int i = 0; i < nblocks; i++)
        if (blocks[i].start % NSLAB_LINE && misaligned++ < 5)
            tu_info("thread %d's %s at %#lx", blocks[i].thread, blocks[i].what,
                    (unsigned long)blocks[i].start);
    CHECK(misaligned == 0, "%d of %d blocks start inside a line", misaligned, nblocks);

    tu_case("no cache line holds blocks of two threads");
    int shared = 0;
    for (int i = 0; i < nblocks; i++)
        for (int j = i + 1; j < nblocks; j++) {
            const struct block *a = &blocks[i], *b = &blocks[j];
            if (a->thread == b->thread)
                continue;
            uintptr_t a0 = a->start / NSLAB_LINE, a1 = (a->end - 1) / NSLAB_LINE;
            uintptr_t b0 = b->start / NSLAB_LINE, b1 = (b->end - 1) / NSLAB_LINE;
            if (a0 <= b1 && b0 <= a1 && shared++ < 5)
                tu_info("line %#lx: thread %d's %s [%#lx, %#lx) and thread %d's %s [%#lx, %#lx)",
                        (unsigned long)((a0 > b0 ? a0 : b0) * NSLAB_LINE), a->thread, a->what,
                        (unsigned long)a->start, (unsigned long)a->end, b->thread, b->what,
                        (unsigned long)b->start, (unsigned long)b->end);
        }
    CHECK(shared == 0, "%d pairs of blocks of two threads share a line", shared);

    pthread_barrier_wait(&leave);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    numaslab_fini();
    return tu_exit();
}
