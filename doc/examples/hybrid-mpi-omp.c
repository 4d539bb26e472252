/*
 * hybrid-mpi-omp.c - an MPI + OpenMP program on numaslab.
 *
 * Every rank and each of its OpenMP threads allocate their working set on
 * their own NUMA node with numaslab_alloc_node.  The ranks pass buffers
 * round a ring with MPI, into memory of the receiving rank's node.  Then
 * every rank asks the kernel (move_pages) where each page of its memory
 * is, and prints it per node.
 *
 * Build and run, one rank per NUMA node, bound there:
 *
 *   mpicc -fopenmp hybrid-mpi-omp.c $(pkg-config --cflags --libs numaslab) -lnuma \
 *       -o hybrid-mpi-omp
 *   OMP_NUM_THREADS=4 mpirun -np 2 --map-by numa --bind-to numa ./hybrid-mpi-omp [MiB]
 *
 * MiB is each thread's working set (default 4).  Each rank prints:
 *
 *   rank R: node N: T thread(s), P pages asked on node N, P there by the kernel
 *   rank R: ring: received rank L's buffer into node N memory, contents ok
 *   rank R: OK
 *
 * and rank 0 ends with "hybrid-mpi-omp: K ranks, every page on the node it
 * was asked for" (exit status 0), or names what went wrong (exit status 1).
 * A thread asks for memory of the node it runs on (numaslab_local_node),
 * so the binding decides the nodes; without one, each thread's node is
 * wherever the scheduler put it when it allocated.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>
#include <numaif.h>
#include <omp.h>

#include "numaslab.h"

#define MAX_NODES 64

/* One piece of a rank's memory: bytes at p, asked for on node. */
struct piece {
    unsigned char *p;
    size_t bytes;
    int node;
};

/* Add the pages of piece x to asked[x.node], and those the kernel has on
 * that very node to there[x.node].  -1 when move_pages fails. */
static int count_pages(const struct piece *x, long *asked, long *there)
{
    enum { BATCH = 256 };
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)x->p & ~(uintptr_t)(ps - 1);
    uintptr_t end = (uintptr_t)x->p + x->bytes;
    while (a < end) {
        void *pages[BATCH];
        int status[BATCH];
        unsigned long n = 0;
        for (; n < BATCH && a < end; n++, a += ps)
            pages[n] = (void *)a;
        if (move_pages(0, n, pages, NULL, status, 0) != 0) {
            fprintf(stderr, "hybrid-mpi-omp: move_pages: %s\n", strerror(errno));
            return -1;
        }
        for (unsigned long i = 0; i < n; i++) {
            asked[x->node]++;
            if (status[i] == x->node)
                there[x->node]++;
        }
    }
    return 0;
}

static void fill(unsigned char *p, size_t bytes, unsigned seed)
{
    for (size_t i = 0; i < bytes; i++)
        p[i] = (unsigned char)(seed * 131u + i * 7u);
}

static int check(const unsigned char *p, size_t bytes, unsigned seed)
{
    for (size_t i = 0; i < bytes; i++)
        if (p[i] != (unsigned char)(seed * 131u + i * 7u))
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    int provided, rank, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 4;
    if (mib == 0 || mib > 1024) {
        if (rank == 0)
            fprintf(stderr, "usage: hybrid-mpi-omp [MiB per thread, 1..1024]\n");
        MPI_Finalize();
        return 2;
    }
    size_t bytes = mib << 20;
    int nthreads = omp_get_max_threads();
    struct piece *mine = calloc((size_t)nthreads + 1, sizeof(*mine));
    int bad = 0;
    if (!mine) {
        fprintf(stderr, "rank %d: out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }

    /* Each thread: its working set, on the node it runs on, written. */
#pragma omp parallel num_threads(nthreads) reduction(| : bad)
    {
        int t = omp_get_thread_num();
        int node = numaslab_local_node();
        unsigned char *p = numaslab_alloc_node(bytes, 0, node);
        if (!p || node < 0 || node >= MAX_NODES) {
            fprintf(stderr, "rank %d thread %d: numaslab_alloc_node(%zu, 0, %d): %s\n", rank, t,
                    bytes, node, strerror(errno));
            bad = 1;
        } else {
            fill(p, bytes, (unsigned)(rank * 64 + t));
            mine[t] = (struct piece){p, bytes, node};
        }
    }

    /* The ring: thread 0's buffer goes to the right neighbour, the left
     * one's arrives in memory of this rank's node. */
    int right = (rank + 1) % size, left = (rank + size - 1) % size;
    int node0 = mine[0].p ? mine[0].node : numaslab_local_node();
    unsigned char *in = numaslab_alloc_node(bytes, 0, node0);
    int ring_ok = 0;
    if (!in || !mine[0].p) {
        fprintf(stderr, "rank %d: no buffer for the ring: %s\n", rank, strerror(errno));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Sendrecv(mine[0].p, (int)bytes, MPI_BYTE, right, 1, in, (int)bytes, MPI_BYTE, left, 1,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    ring_ok = check(in, bytes, (unsigned)(left * 64));
    mine[nthreads] = (struct piece){in, bytes, node0};

    /* Where the kernel has it all. */
    long asked[MAX_NODES] = {0}, there[MAX_NODES] = {0};
    int threads_on[MAX_NODES] = {0};
    for (int t = 0; t <= nthreads; t++) {
        if (!mine[t].p)
            continue;
        if (t < nthreads)
            threads_on[mine[t].node]++;
        if (count_pages(&mine[t], asked, there))
            bad = 1;
    }

    /* One rank at a time, so that the lines of a rank stay together. */
    for (int r = 0; r < size; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        if (r != rank)
            continue;
        for (int n = 0; n < MAX_NODES; n++) {
            if (!asked[n])
                continue;
            printf("rank %d: node %d: %d thread(s), %ld pages asked on node %d, %ld there by "
                   "the kernel\n",
                   rank, n, threads_on[n], asked[n], n, there[n]);
            if (there[n] != asked[n])
                bad = 1;
        }
        printf("rank %d: ring: received rank %d's buffer into node %d memory, contents %s\n", rank,
               left, node0, ring_ok ? "ok" : "WRONG");
        if (!ring_ok)
            bad = 1;
        printf("rank %d: %s\n", rank, bad ? "FAILED" : "OK");
        fflush(stdout);
    }

    int any_bad = 0;
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
        if (any_bad)
            printf("hybrid-mpi-omp: %d ranks, and some memory is not where it was asked for, or "
                   "an allocation failed\n",
                   size);
        else
            printf("hybrid-mpi-omp: %d ranks, every page on the node it was asked for\n", size);
    }
    for (int t = 0; t <= nthreads; t++)
        numaslab_free(mine[t].p);
    free(mine);
    MPI_Finalize();
    return any_bad ? 1 : 0;
}
