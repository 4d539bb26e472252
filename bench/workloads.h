/*
 * bench/workloads.h - the workloads every allocator runs, written once.
 *
 * Include it after defining:
 *   NSB_A                 the allocator's name as an identifier (glibc, numaslab, ...)
 *   NSB_ALLOC(size)       allocate size bytes
 *   NSB_FREE(ptr, size)   free it
 *   NSB_SETUP()           optional: statements run at the start of every body
 *                         (per thread), e.g. to look up the local node
 *   NSB_MAPPED_BYTES()    optional: the bytes the allocator itself reports
 *                         mapped, all nodes together (numaslab's statistics)
 * It defines static bodies pair_<A>, live_<A>, batch_<A>, xfree_<A>,
 * ring_<A>, large_pair_<A> and large_batch_<A>, and nsb_register_common_<A>(name of
 * the allocator, opts) registering them.  The calls are direct (no function
 * pointers) so that every allocator is measured the way a program would
 * call it.
 *
 * Every figure is per item: one allocation + free (pair, live, xfree), one
 * object allocated, touched and freed (batch), one buffer allocated, written
 * once per page and freed (large-pair, large-batch).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/shim.h"

#ifndef NSB_SETUP
#define NSB_SETUP()
#endif

#define NSB_CAT2(a, b) a##_##b
#define NSB_CAT(a, b)  NSB_CAT2(a, b)
#define NSB_FN(w)      NSB_CAT(w, NSB_A)

#ifndef NSB_INNER
/* Pairs per turn of the benchmark loop: the loop's own cost (a call into
 * the C++ shim) is spread over this many pairs. */
#define NSB_INNER 64
#define NSB_RING  1024 /* slots of the producer/consumer ring, a power of two */

/* A bounded single-producer single-consumer ring, filled and emptied a
 * batch of NSB_INNER slots at a time.  head is written by the producer
 * only, tail by the consumer only, each once per batch with a release
 * store that the other's acquire load pairs with, so a slot is written
 * before the consumer reads it and read before the producer reuses it;
 * the counters' cache lines cross once per batch, not once per object.
 * Both counters only grow:  0 <= head - tail <= NSB_RING. */
struct nsb_ring {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) void *slot[NSB_RING];
};

/* The producer: wait for room for n slots from *head on. */
static inline void nsb_ring_room(struct nsb_ring *r, uint64_t head, uint64_t *tail_seen, uint64_t n)
{
    while (head + n - *tail_seen > NSB_RING) {
        *tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head + n - *tail_seen > NSB_RING)
            nsb_cpu_relax();
    }
}

/* The consumer: wait until n slots from tail on are filled. */
static inline void nsb_ring_wait(struct nsb_ring *r, uint64_t tail, uint64_t *head_seen, uint64_t n)
{
    while (*head_seen - tail < n) {
        *head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
        if (*head_seen - tail < n)
            nsb_cpu_relax();
    }
}

/* A barrier for the threads of one multi-threaded run (sense-reversing;
 * waiters yield, so that runs with more threads than cores progress).  n
 * must be the same for every thread of a run and every run resets it at
 * its end (all arrive with the same generation). */
struct nsb_barrier {
    _Alignas(64) _Atomic int count;
    _Alignas(64) _Atomic unsigned gen;
};

static inline void nsb_barrier_wait(struct nsb_barrier *b, int n)
{
    unsigned g = atomic_load_explicit(&b->gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == n - 1) {
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        atomic_store_explicit(&b->gen, g + 1, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&b->gen, memory_order_acquire) == g)
        sched_yield();
}

#define NSB_RING_MAX 64 /* threads of the ring workload, at most */

#define NSB_PAGE 4096 /* the large workloads write one byte per page of this size */

/* Write one byte in every page of a buffer, as a program using it would:
 * the first write to a page is what faults it in, and an allocator that
 * hands out pages it already has mapped saves exactly that. */
static inline void nsb_touch_pages(void *buf, size_t size, int v)
{
    char *p = buf;
    for (size_t off = 0; off < size; off += NSB_PAGE)
        p[off] = (char)v;
    nsb_escape(p); /* the writes must stay: the buffer is freed unread */
}

/* Reset the process's peak resident set size (VmHWM) to its current one;
 * Linux does so on "5" written to /proc/self/clear_refs (since 4.0).
 * open/write, not stdio: the peers' binaries would measure stdio's buffer
 * with their own malloc.  0, or -1 where it cannot be reset. */
static int nsb_reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int ok = write(fd, "5", 1) == 1;
    return close(fd) == 0 && ok ? 0 : -1;
}

/* A "Vm...:" line of /proc/self/status in bytes (field "VmHWM:"), or -1. */
static double nsb_status_bytes(const char *field)
{
    char buf[8192];
    size_t n = 0;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    for (ssize_t r; n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0;)
        n += (size_t)r;
    close(fd);
    buf[n] = '\0';
    size_t len = strlen(field);
    for (char *line = buf; line && *line;) {
        if (!strncmp(line, field, len))
            return 1024.0 * strtod(line + len, NULL); /* the kernel writes kB */
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return -1;
}

#define NSB_MIB (1024.0 * 1024.0)
#endif

/* Hot pair: allocate, free, the same size again and again. */
static void NSB_FN(pair)(nsb_state *st)
{
    size_t size = (size_t)nsb_range(st, 0);
    NSB_SETUP();
    while (nsb_keep_running_batch(st, NSB_INNER))
        for (int k = 0; k < NSB_INNER; k++) {
            void *p = NSB_ALLOC(size);
            nsb_escape(p);
            NSB_FREE(p, size);
        }
    nsb_set_items(st, nsb_iterations(st));
}

/* Hot pair with one neighbour kept live: each new object is allocated
 * while the previous one still is, then the previous one is freed. */
static void NSB_FN(live)(nsb_state *st)
{
    size_t size = (size_t)nsb_range(st, 0);
    NSB_SETUP();
    void *keep = NSB_ALLOC(size);
    if (!keep) {
        nsb_skip(st, "allocation failed");
        return;
    }
    while (nsb_keep_running_batch(st, NSB_INNER))
        for (int k = 0; k < NSB_INNER; k++) {
            void *p = NSB_ALLOC(size);
            nsb_escape(p);
            NSB_FREE(keep, size);
            keep = p;
        }
    NSB_FREE(keep, size);
    nsb_set_items(st, nsb_iterations(st));
}

/* Batch: allocate count objects, write each, free them all in the same
 * order.  Every thread of a multi-threaded run does its own batch. */
static void NSB_FN(batch)(nsb_state *st)
{
    size_t size = (size_t)nsb_range(st, 0);
    long count = (long)nsb_range(st, 1);
    NSB_SETUP();
    void **v = calloc((size_t)count, sizeof(*v));
    if (!v) {
        nsb_skip(st, "no memory for the pointer array");
        return;
    }
    while (nsb_keep_running(st)) {
        for (long i = 0; i < count; i++) {
            uint64_t *p = NSB_ALLOC(size);
            *p = (uint64_t)i; /* the touch: first write to the object */
            v[i] = p;
        }
        nsb_escape(v);
        for (long i = 0; i < count; i++)
            NSB_FREE(v[i], size);
    }
    nsb_set_items(st, nsb_iterations(st) * count);
    free(v);
}

/* Cross-thread free: thread 0 allocates and writes each object and passes
 * it through the ring, NSB_INNER at a time; thread 1 frees them a batch at
 * a time.  Run with 2 threads; both count every object, so the per-thread
 * figure is wall time per object. */
static void NSB_FN(xfree)(nsb_state *st)
{
    static struct nsb_ring ring; /* empty between runs: both sides move the same count */
    size_t size = (size_t)nsb_range(st, 0);
    NSB_SETUP();
    uint64_t mine = 0, seen = 0;
    int producer = nsb_thread_index(st) == 0;
    if (nsb_threads(st) != 2) {
        nsb_skip(st, "xfree needs exactly 2 threads");
        return;
    }
    if (producer) {
        mine = atomic_load_explicit(&ring.head, memory_order_relaxed);
        seen = atomic_load_explicit(&ring.tail, memory_order_relaxed);
    } else {
        mine = atomic_load_explicit(&ring.tail, memory_order_relaxed);
        seen = atomic_load_explicit(&ring.head, memory_order_relaxed);
    }
    while (nsb_keep_running_batch(st, NSB_INNER)) {
        if (producer) {
            nsb_ring_room(&ring, mine, &seen, NSB_INNER);
            for (int k = 0; k < NSB_INNER; k++) {
                uint64_t *p = NSB_ALLOC(size);
                *p = (uint64_t)k;
                ring.slot[(mine + (uint64_t)k) & (NSB_RING - 1)] = p;
            }
            mine += NSB_INNER;
            atomic_store_explicit(&ring.head, mine, memory_order_release);
        } else {
            nsb_ring_wait(&ring, mine, &seen, NSB_INNER);
            for (int k = 0; k < NSB_INNER; k++)
                NSB_FREE(ring.slot[(mine + (uint64_t)k) & (NSB_RING - 1)], size);
            mine += NSB_INNER;
            atomic_store_explicit(&ring.tail, mine, memory_order_release);
        }
    }
    nsb_set_items(st, nsb_iterations(st));
}

/* Ring of remote frees: every thread allocates and writes a batch of count
 * objects, then frees the batch its left neighbour allocated (thread i
 * frees thread i - 1's), then all start again.  Each thread counts its own
 * count objects per turn, so the per-thread figure is wall time per object
 * allocated and freed by another thread. */
static void NSB_FN(ring)(nsb_state *st)
{
    static struct nsb_barrier bar;
    static void **batches[NSB_RING_MAX];
    size_t size = (size_t)nsb_range(st, 0);
    long count = (long)nsb_range(st, 1);
    int n = nsb_threads(st), me = nsb_thread_index(st);
    NSB_SETUP();
    if (n < 2 || n > NSB_RING_MAX) {
        nsb_skip(st, "ring needs 2 to 64 threads");
        return;
    }
    void **v = calloc((size_t)count, sizeof(*v));
    batches[me] = v;
    nsb_barrier_wait(&bar, n);
    if (!v) {
        nsb_skip(st, "no memory for the pointer array");
        return;
    }
    void **left = batches[(me + n - 1) % n];
    while (nsb_keep_running(st)) {
        for (long i = 0; i < count; i++) {
            uint64_t *p = NSB_ALLOC(size);
            *p = (uint64_t)i;
            v[i] = p;
        }
        nsb_barrier_wait(&bar, n); /* every batch is full */
        for (long i = 0; i < count; i++)
            NSB_FREE(left[i], size);
        nsb_barrier_wait(&bar, n); /* every batch is freed: v may be refilled */
    }
    nsb_set_items(st, nsb_iterations(st) * count);
    nsb_barrier_wait(&bar, n);
    free(v);
}

/* Large pair: allocate a buffer of whole pages, write one byte per page,
 * free it.  Sizes from 16 KiB to 1 MiB: numaslab serves them as whole
 * pages (above NUMASLAB_MAX_SMALL), the peers from their largest size
 * classes, runs of pages or mappings.  Writing the pages puts the cost of
 * faulting fresh ones in, as a program pays it. */
static void NSB_FN(large_pair)(nsb_state *st)
{
    size_t size = (size_t)nsb_range(st, 0);
    NSB_SETUP();
    while (nsb_keep_running_batch(st, NSB_INNER))
        for (int k = 0; k < NSB_INNER; k++) {
            void *p = NSB_ALLOC(size);
            if (!p) {
                nsb_skip(st, "allocation failed");
                return;
            }
            nsb_touch_pages(p, size, k);
            NSB_FREE(p, size);
        }
    nsb_set_items(st, nsb_iterations(st));
}

/*
 * Large batch: allocate count buffers, all held at once, write one byte
 * per page of each, then free them all.  Besides the time per buffer it
 * reports the memory the batch took: the process's peak RSS over the run
 * (VmHWM, reset before it: peak_rss_MiB; the RSS at that reset:
 * start_rss_MiB) and, where the allocator reports it, the most it had
 * mapped with the count buffers live (peak_mapped_MiB).  The allocator's
 * figure is read with the clock stopped: the allocator that has one is
 * not charged in time for reporting it.
 */
static void NSB_FN(large_batch)(nsb_state *st)
{
    size_t size = (size_t)nsb_range(st, 0);
    long count = (long)nsb_range(st, 1);
    NSB_SETUP();
    void **v = calloc((size_t)count, sizeof(*v));
    if (!v) {
        nsb_skip(st, "no memory for the pointer array");
        return;
    }
    int hwm = nsb_reset_peak_rss() == 0;
    double start_rss = nsb_status_bytes("VmRSS:");
#ifdef NSB_MAPPED_BYTES
    double peak_mapped = 0;
#endif
    while (nsb_keep_running(st)) {
        for (long i = 0; i < count; i++) {
            v[i] = NSB_ALLOC(size);
            if (!v[i]) {
                while (i-- > 0)
                    NSB_FREE(v[i], size);
                free(v);
                nsb_skip(st, "allocation failed");
                return;
            }
        }
#ifdef NSB_MAPPED_BYTES
        nsb_pause(st);
        double m = (double)NSB_MAPPED_BYTES();
        peak_mapped = m > peak_mapped ? m : peak_mapped;
        nsb_resume(st);
#endif
        for (long i = 0; i < count; i++)
            nsb_touch_pages(v[i], size, (int)i);
        for (long i = 0; i < count; i++)
            NSB_FREE(v[i], size);
    }
    nsb_set_items(st, nsb_iterations(st) * count);
    double peak_rss = hwm ? nsb_status_bytes("VmHWM:") : -1;
    if (peak_rss >= 0 && start_rss >= 0) {
        nsb_set_counter(st, "peak_rss_MiB", peak_rss / NSB_MIB);
        nsb_set_counter(st, "start_rss_MiB", start_rss / NSB_MIB);
    }
#ifdef NSB_MAPPED_BYTES
    nsb_set_counter(st, "peak_mapped_MiB", peak_mapped / NSB_MIB);
#endif
    free(v);
}

/* Register them all for allocator name; batch_count: objects per batch
 * (100,000; less for allocators that make a system call per object);
 * pair_iterations: 0 (by time) or a fixed count. */
static void NSB_CAT(nsb_register_common, NSB_A)(const char *name, long batch_count,
                                                int64_t pair_iterations)
{
    char n[64];
    snprintf(n, sizeof(n), "pair/%s", name);
    NSB_BENCH(n, NSB_FN(pair), .argnames = {"size"}, .nargs = 1, .nrows = 3,
              .args = {{64}, {256}, {4096}}, .iterations = pair_iterations);
    snprintf(n, sizeof(n), "live/%s", name);
    NSB_BENCH(n, NSB_FN(live), .argnames = {"size"}, .nargs = 1, .nrows = 3,
              .args = {{64}, {256}, {4096}}, .iterations = pair_iterations);
    snprintf(n, sizeof(n), "batch/%s", name);
    NSB_BENCH(n, NSB_FN(batch), .argnames = {"size", "count"}, .nargs = 2, .nrows = 1,
              .args = {{64, batch_count}}, .threads = {1, 2, 8});
    snprintf(n, sizeof(n), "ring/%s", name);
    NSB_BENCH(n, NSB_FN(ring), .argnames = {"size", "count"}, .nargs = 2, .nrows = 1,
              .args = {{64, batch_count / 10}}, .threads = {8});
    snprintf(n, sizeof(n), "xfree/%s", name);
    NSB_BENCH(n, NSB_FN(xfree), .argnames = {"size"}, .nargs = 1, .nrows = 1, .args = {{64}},
              .threads = {2}, .iterations = pair_iterations);
    /* The large ones run by time for every allocator: a fixed count sized
     * for small pairs would be seconds at 1 MiB for those that map pages. */
    snprintf(n, sizeof(n), "large-pair/%s", name);
    NSB_BENCH(n, NSB_FN(large_pair), .argnames = {"size"}, .nargs = 1, .nrows = 4,
              .args = {{16 << 10}, {64 << 10}, {256 << 10}, {1 << 20}});
    snprintf(n, sizeof(n), "large-batch/%s", name);
    NSB_BENCH(n, NSB_FN(large_batch), .argnames = {"size", "count"}, .nargs = 2, .nrows = 1,
              .args = {{256 << 10, 64}});
}
