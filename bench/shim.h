/*
 * bench/shim.h - Google Benchmark for C benchmark bodies.
 *
 * A benchmark is a C function taking an opaque state; bench/shim.cc owns
 * main(), hands each registration to benchmark::RegisterBenchmark and runs
 * them with Google Benchmark's command line (--benchmark_filter,
 * --benchmark_out, ...).  Every run uses real (wall-clock) time, so that
 * rates of multi-threaded runs are items per second of wall time.
 *
 *   static void pair(nsb_state *st)
 *   {
 *       size_t size = (size_t)nsb_range(st, 0);
 *       while (nsb_keep_running_batch(st, 64))
 *           for (int k = 0; k < 64; k++) { ... }
 *       nsb_set_items(st, nsb_iterations(st));
 *   }
 *   static void reg(void)
 *   {
 *       NSB_BENCH("pair/glibc", pair, .argnames = {"size"}, .nargs = 1, .nrows = 3,
 *                 .args = {{64}, {256}, {4096}});
 *   }
 *   NSB_REGISTRATIONS(reg)
 *
 * Names are "workload/allocator"; Google Benchmark appends the arguments
 * ("size:64"), "iterations:N" when fixed, "real_time" and "threads:N".
 * bench/report reads them back in that form.
 *
 * Each binary also defines nsb_allocator (the allocator its malloc-style
 * workloads measure) and nsb_malloc_expect (a part of the file name of the
 * library `malloc` must resolve to); the shim refuses to run when malloc
 * resolves elsewhere, since the figures would be another allocator's.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef NSB_SHIM_H
#define NSB_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nsb_state nsb_state; /* a benchmark::State */
typedef void (*nsb_fn)(nsb_state *st);

/* The loop: true while the body should run once more (or n more times). */
int nsb_keep_running(nsb_state *st);
int nsb_keep_running_batch(nsb_state *st, int64_t n);
int64_t nsb_iterations(nsb_state *st);   /* iterations done so far */
int64_t nsb_range(nsb_state *st, int i); /* argument i of this run */
int nsb_thread_index(nsb_state *st);     /* 0 .. nsb_threads - 1 */
int nsb_threads(nsb_state *st);
/* Items processed by this thread (summed over threads; bench/report
 * divides by the thread count for per-thread figures). */
void nsb_set_items(nsb_state *st, int64_t items);
void nsb_pause(nsb_state *st); /* stop the clock (costly: not per item) */
void nsb_resume(nsb_state *st);
void nsb_skip(nsb_state *st, const char *why); /* report an error, skip the run */
void nsb_set_label(nsb_state *st, const char *label);
/* A figure of this run besides the time, under name in the output (a
 * Google Benchmark counter, reported as is). */
void nsb_set_counter(nsb_state *st, const char *name, double value);

#define NSB_MAX_ARGS    4
#define NSB_MAX_ROWS    16
#define NSB_MAX_THREADS 4

/* How to run one benchmark: one run per (row of args, thread count). */
struct nsb_opts {
    const char *argnames[NSB_MAX_ARGS]; /* NULL: unnamed arguments */
    int nargs;                          /* arguments per row, 0..NSB_MAX_ARGS */
    int nrows;                          /* rows of args; 0: one run without */
    int64_t args[NSB_MAX_ROWS][NSB_MAX_ARGS];
    int threads[NSB_MAX_THREADS]; /* thread counts, 0-terminated; none: 1 */
    int64_t iterations;           /* a fixed count; 0: by the minimum time */
};

/* Register a benchmark; name and opts are copied.  Call it from a
 * registration function (NSB_REGISTRATIONS), which runs after the command
 * line is parsed and before the benchmarks run. */
void nsb_register(const char *name, nsb_fn fn, const struct nsb_opts *opts);
#define NSB_BENCH(name, fn, ...) nsb_register((name), (fn), &(const struct nsb_opts){__VA_ARGS__})

/* A key and value in the JSON output's "context" (machine facts). */
void nsb_context(const char *key, const char *value);

/* Registration functions: NSB_REGISTRATIONS(f) makes main() call f. */
void nsb_add_registration(void (*f)(void));
#define NSB_REGISTRATIONS(f)                                                                       \
    __attribute__((constructor)) static void nsb_ctor_##f(void)                                    \
    {                                                                                              \
        nsb_add_registration(f);                                                                   \
    }

/* Defined by each binary's workload file. */
extern const char nsb_allocator[];
extern const char nsb_malloc_expect[];

/* Keep the compiler from removing an allocation (GCC drops an unused
 * malloc/free pair) without touching memory. */
static inline void nsb_escape(void *p)
{
    __asm__ volatile("" : : "g"(p) : "memory");
}

/* A spin-wait hint. */
static inline void nsb_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

#ifdef __cplusplus
}
#endif
#endif /* NSB_SHIM_H */
