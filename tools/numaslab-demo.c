/*
 * numaslab-demo - allocate on every active NUMA node from all OpenMP
 * threads and show where the memory really is.
 *
 * For each active node, every thread allocates objects of several sizes
 * (one of them a large, whole-page object) with numaslab_alloc_node and
 * writes them.  The table then shows, per node, what numaslab_ptr_node
 * says and what the kernel says (move_pages on every page).  Exit 1 if
 * anything is misplaced or an allocation failed; 77 (skipped) when it
 * was built without OpenMP.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <numaif.h>

#include "numaslab.h"

#ifndef _OPENMP
int main(void)
{
    fprintf(stderr, "numaslab-demo: skipped: OpenMP was not found at configure time (a compiler "
                    "without it, or --disable-openmp), and the demo is an OpenMP program\n");
    return 77;
}
#else
#include <omp.h>

static const size_t sizes[] = {16, 64, 512, 4096, 8192, 1 << 20};
static const int counts[] = {2000, 1000, 400, 100, 50, 2}; /* per thread */
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Where the kernel has the pages of [p, p + len): the node when all are
 * on one node, -2 when they are on several, a negative errno on error. */
static int kernel_node(const void *p, size_t len)
{
    enum { BATCH = 64 };
    uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)p & ~(ps - 1);
    uintptr_t end = ((uintptr_t)p + len + ps - 1) & ~(ps - 1);
    int node = -1;

    for (uintptr_t a = start; a < end; a += BATCH * ps) {
        void *pages[BATCH];
        int status[BATCH];
        unsigned long n = 0;
        for (; n < BATCH && a + n * ps < end; n++) {
            pages[n] = (void *)(a + n * ps);
            status[n] = -1;
        }
        if (move_pages(0, n, pages, NULL, status, 0) != 0)
            return -errno;
        for (unsigned long i = 0; i < n; i++) {
            if (status[i] < 0)
                return status[i];
            if (node == -1)
                node = status[i];
            else if (node != status[i])
                return -2;
        }
    }
    return node;
}

struct tally {
    unsigned long objects, bytes, failed;
    unsigned long lib_off, kernel_off; /* objects not on the node */
    int lib_seen, kernel_seen;         /* a node seen, -2 when several */
};

static void seen(int *where, int node)
{
    if (*where == -1)
        *where = node;
    else if (*where != node)
        *where = -2;
}

static const char *node_str(int n, char *buf, size_t len)
{
    if (n == -2)
        snprintf(buf, len, "mixed");
    else if (n == -1)
        snprintf(buf, len, "-");
    else if (n < -2)
        snprintf(buf, len, "err %d", -n);
    else
        snprintf(buf, len, "%d", n);
    return buf;
}

static int run_node(int node, struct tally *t)
{
    int nthreads = omp_get_max_threads();
    size_t per_thread = 0;
    void **objs;

    for (size_t k = 0; k < NSIZES; k++)
        per_thread += (size_t)counts[k];
    objs = calloc((size_t)nthreads * per_thread, sizeof(*objs));
    if (!objs) {
        fprintf(stderr, "numaslab-demo: out of memory\n");
        return -1;
    }
    memset(t, 0, sizeof(*t));
    t->lib_seen = t->kernel_seen = -1;

#pragma omp parallel num_threads(nthreads)
    {
        int tid = omp_get_thread_num();
        void **mine = objs + (size_t)tid * per_thread;
        struct tally my;
        size_t i = 0;

        memset(&my, 0, sizeof(my));
        my.lib_seen = my.kernel_seen = -1;
        for (size_t k = 0; k < NSIZES; k++) {
            for (int j = 0; j < counts[k]; j++, i++) {
                void *p = numaslab_alloc_node(sizes[k], 0, node);
                mine[i] = p;
                if (!p) {
                    my.failed++;
                    continue;
                }
                memset(p, (int)(tid + j), sizes[k]);
                int ln = numaslab_ptr_node(p);
                int kn = kernel_node(p, sizes[k]);
                seen(&my.lib_seen, ln);
                seen(&my.kernel_seen, kn);
                my.lib_off += ln != node;
                my.kernel_off += kn != node;
                my.objects++;
                my.bytes += sizes[k];
            }
        }
#pragma omp critical
        {
            t->objects += my.objects;
            t->bytes += my.bytes;
            t->failed += my.failed;
            t->lib_off += my.lib_off;
            t->kernel_off += my.kernel_off;
            if (my.lib_seen != -1)
                seen(&t->lib_seen, my.lib_seen);
            if (my.kernel_seen != -1)
                seen(&t->kernel_seen, my.kernel_seen);
        }
#pragma omp barrier
        for (size_t j = 0; j < per_thread; j++)
            numaslab_free(mine[j]);
        numaslab_thread_flush();
    }
    free(objs);
    return 0;
}

int main(void)
{
    int top = numaslab_max_node(), bad = 0, nactive = 0;

    if (top < 0) {
        fprintf(stderr, "numaslab-demo: numaslab_max_node() = %d\n", top);
        return 1;
    }
    printf("numaslab demo: %d OpenMP threads, nodes 0..%d\n", omp_get_max_threads(), top);

    {
        int nt = omp_get_max_threads();
        int *cpu = calloc((size_t)nt, sizeof(int)), *local = calloc((size_t)nt, sizeof(int));
        if (!cpu || !local) {
            fprintf(stderr, "numaslab-demo: out of memory\n");
            return 1;
        }
#pragma omp parallel num_threads(nt)
        {
            int tid = omp_get_thread_num();
            cpu[tid] = sched_getcpu();
            local[tid] = numaslab_local_node();
        }
        for (int i = 0; i < nt; i++)
            printf("  thread %2d: cpu %2d, local node %d\n", i, cpu[i], local[i]);
        free(cpu);
        free(local);
    }

    printf("\n%-5s %9s %12s %9s %9s  %s\n", "node", "objects", "bytes", "ptr_node", "kernel",
           "status");
    for (int node = 0; node <= top; node++) {
        struct tally t;
        char b1[16], b2[16];
        int act = numaslab_node_is_active(node);

        if (act != 1) {
            printf("%-5d %9s %12s %9s %9s  %s\n", node, "-", "-", "-", "-",
                   act == 0 ? "inactive" : "error");
            continue;
        }
        nactive++;
        if (run_node(node, &t) != 0)
            return 1;
        int ok = t.failed == 0 && t.lib_off == 0 && t.kernel_off == 0;
        printf("%-5d %9lu %12lu %9s %9s  %s", node, t.objects, t.bytes,
               node_str(t.lib_seen, b1, sizeof(b1)), node_str(t.kernel_seen, b2, sizeof(b2)),
               ok ? "ok" : "MISPLACED");
        if (!ok)
            printf(" (%lu failed, %lu off by ptr_node, %lu off by kernel)", t.failed, t.lib_off,
                   t.kernel_off);
        printf("\n");
        if (!ok)
            bad++;
    }
    if (nactive == 0) {
        printf("no active node\n");
        return 1;
    }
    printf("\n%s\n", bad ? "some memory is not where it was asked for"
                         : "all memory is where it "
                           "was asked for");
    return bad ? 1 : 0;
}
#endif /* _OPENMP */
