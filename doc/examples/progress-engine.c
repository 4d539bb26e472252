/*
 * progress-engine.c - the allocations of an MPI progress engine on numaslab,
 * and its reserve keeping progress going when memory runs short.
 *
 * Rank 0 sends bursts of eager messages, of mixed sizes, from a numaslab
 * buffer to every other rank.  Each other rank runs a progress loop: it probes for a message,
 * takes a request descriptor from a numaslab cache and an
 * unexpected-message buffer from a critical mempool of its node, receives
 * into the buffer, and queues the request.  At the end of a burst it
 * "matches" the queued requests (checks each payload) and frees them.
 *
 *   descriptors  numaslab_cache_alloc(..., NUMASLAB_CRITICAL): ordinary
 *                slabs first, reserve slabs from the node's reserve pool
 *                when the node cannot give more (numaslab(7), FALLBACK AND
 *                RESERVES);
 *   buffers      numaslab_mempool_alloc on a mempool of the node whose
 *                elements come from numaslab_alloc_node: its own reserve
 *                of elements serves when the underlying allocation fails.
 *
 * Usage: mpirun -np 2 ./progress-engine [--fail] [--bursts N] [--hold DIR]
 *
 *   --fail       fault injection: once the engine is set up, every
 *                ordinary page allocation of the process fails
 *                (numaslab_fail_pages("after=0")), as on a node that has
 *                run out of memory; only the reserves can serve
 *   --bursts N   bursts of 48 messages (default 10)
 *   --hold DIR   after the exchange, every rank writes DIR/rank-R.pid and
 *                waits (at most 120 s) until DIR/release exists, so that
 *                numaslab-stat can be pointed at the live ranks
 *
 * Each engine rank prints one line:
 *
 *   rank R: node N: M messages, D dropped, payloads ok, 0 off the node;
 *   buffers: U from the pool's reserve; descriptors: S slab(s) from the
 *   node's reserve; fault injection on
 *
 * and exits 1 if a payload was wrong, a message had to be dropped, or a
 * descriptor or buffer was not on the engine's node.
 * With --fail, U and S are above 0: the reserves served.  Rank 0 prints
 * "progress-engine: all ranks done" when every rank succeeded.
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
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "numaslab.h"

enum { TAG_DATA = 1, TAG_BURST_END = 2, TAG_DONE = 3 };
#define BURST     48
#define BUF_BYTES 4096
#define POOL_MIN  64 /* buffers the pool keeps for hard times */

/* A request descriptor, as an engine keeps one per message in flight. */
struct request {
    struct request *next;
    void *buf;
    int len;
    int source;
    unsigned seq;
};

static void *buf_alloc(unsigned flags, int node, void *data)
{
    (void)data;
    return numaslab_alloc_node(BUF_BYTES, flags & NUMASLAB_THISNODE, node);
}

static void buf_free(void *elem, void *data)
{
    (void)data;
    numaslab_free(elem);
}

/* Message seq's length and contents: both sides compute them. */
static int msg_len(unsigned seq)
{
    return 64 + (int)(seq * 977u % (BUF_BYTES - 64));
}
static unsigned char msg_byte(unsigned seq, int i)
{
    return (unsigned char)(seq * 13u + (unsigned)i);
}

/* Rank 0: the sender, its message buffer on its own node. */
static int producer(int size, int bursts)
{
    unsigned char *msg = numaslab_alloc_node(BUF_BYTES, 0, NUMASLAB_NODE_LOCAL);
    unsigned seq = 0;
    if (!msg) {
        fprintf(stderr, "rank 0: numaslab_alloc_node(%d): %s\n", BUF_BYTES, strerror(errno));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (int b = 0; b < bursts; b++) {
        for (int i = 0; i < BURST; i++, seq++) {
            int len = msg_len(seq);
            memcpy(msg, &seq, sizeof(seq));
            for (int k = (int)sizeof(seq); k < len; k++)
                msg[k] = msg_byte(seq, k);
            for (int r = 1; r < size; r++)
                MPI_Send(msg, len, MPI_BYTE, r, TAG_DATA, MPI_COMM_WORLD);
        }
        for (int r = 1; r < size; r++)
            MPI_Send(NULL, 0, MPI_BYTE, r, TAG_BURST_END, MPI_COMM_WORLD);
    }
    for (int r = 1; r < size; r++)
        MPI_Send(NULL, 0, MPI_BYTE, r, TAG_DONE, MPI_COMM_WORLD);
    numaslab_free(msg);
    return 0;
}

/* The engine of one rank; 0 when every message arrived whole. */
static int engine(int rank, int inject)
{
    int node = numaslab_local_node();
    numaslab_cache_t *reqs =
        numaslab_cache_create("pe-request", sizeof(struct request), 0, 0, NULL);
    numaslab_mempool_t *pool =
        numaslab_mempool_create_node(POOL_MIN, buf_alloc, buf_free, NULL, node);
    if (!reqs || !pool) {
        fprintf(stderr, "rank %d: cannot set up the engine: %s\n", rank, strerror(errno));
        MPI_Abort(MPI_COMM_WORLD, 1); /* rank 0 would wait in MPI_Send for ever */
    }
    if (inject && numaslab_fail_pages("after=0") != 0) {
        fprintf(stderr, "rank %d: numaslab_fail_pages refused\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }

    struct request *queue = NULL;
    long messages = 0, dropped = 0, wrong = 0, off_node = 0, reserve_slabs = 0;
    numaslab_mempool_t *node_reserve = numaslab_node_reserve(node);
    struct numaslab_mempool_stats before = {0}, after = {0};
    if (node_reserve)
        numaslab_mempool_stats(node_reserve, &before);

    for (;;) {
        MPI_Status st;
        int flag = 0;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag)
            continue; /* a real engine would poll its other channels here */
        if (st.MPI_TAG == TAG_DATA) {
            int len;
            MPI_Get_count(&st, MPI_BYTE, &len);
            struct request *r = numaslab_cache_alloc(reqs, NUMASLAB_CRITICAL);
            void *buf = numaslab_mempool_alloc(pool, NUMASLAB_CRITICAL);
            if (!r || !buf || len > BUF_BYTES) {
                /* Out of memory and reserves: take the message off the
                 * wire and count it lost. */
                static unsigned char sink[BUF_BYTES];
                MPI_Recv(sink, BUF_BYTES, MPI_BYTE, st.MPI_SOURCE, TAG_DATA, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE);
                dropped++;
                if (r)
                    numaslab_cache_free(reqs, r);
                if (buf)
                    numaslab_mempool_free(buf, pool);
                continue;
            }
            MPI_Recv(buf, len, MPI_BYTE, st.MPI_SOURCE, TAG_DATA, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            *r = (struct request){queue, buf, len, st.MPI_SOURCE, 0};
            memcpy(&r->seq, buf, sizeof(r->seq));
            queue = r;
            messages++;
            continue;
        }
        MPI_Recv(NULL, 0, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        /* End of a burst (or of all): match what is queued. */
        while (queue) {
            struct request *r = queue;
            queue = r->next;
            const unsigned char *p = r->buf;
            int ok = r->len == msg_len(r->seq);
            for (int k = (int)sizeof(r->seq); ok && k < r->len; k++)
                ok = p[k] == msg_byte(r->seq, k);
            wrong += !ok;
            if (numaslab_ptr_node(r) != node || numaslab_ptr_node(r->buf) != node)
                off_node++;
            numaslab_mempool_free(r->buf, pool);
            numaslab_cache_free(reqs, r);
        }
        if (st.MPI_TAG == TAG_DONE)
            break;
    }

    struct numaslab_mempool_stats ps;
    numaslab_mempool_stats(pool, &ps);
    if (node_reserve) {
        numaslab_mempool_stats(node_reserve, &after);
        reserve_slabs = (long)(after.used - before.used);
    }
    printf("rank %d: node %d: %ld messages, %ld dropped, payloads %s, %ld off the node; "
           "buffers: %llu from the pool's reserve; descriptors: %ld slab(s) from the node's "
           "reserve; fault injection %s\n",
           rank, node, messages, dropped, wrong ? "WRONG" : "ok", off_node,
           (unsigned long long)ps.used, reserve_slabs, inject ? "on" : "off");
    fflush(stdout);
    if (inject)
        numaslab_fail_pages(NULL);
    if (numaslab_mempool_destroy(pool) != 0 || numaslab_cache_destroy(reqs) != 0) {
        fprintf(stderr, "rank %d: objects still out at the end\n", rank);
        return 1;
    }
    return wrong || dropped || off_node;
}

/* --hold DIR: say who we are, wait to be released. */
static void hold(const char *dir, int rank)
{
    char path[4096], tmp[4100];
    snprintf(path, sizeof(path), "%s/rank-%d.pid", dir, rank);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "rank %d: %s: %s\n", rank, tmp, strerror(errno));
        return;
    }
    fprintf(f, "%ld\n", (long)getpid());
    /* Whole or not at all: the file appears under its name once written. */
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        fprintf(stderr, "rank %d: %s: %s\n", rank, path, strerror(errno));
    snprintf(path, sizeof(path), "%s/release", dir);
    for (int i = 0; i < 1200 && access(path, F_OK) != 0; i++)
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
}

int main(int argc, char **argv)
{
    int rank, size, inject = 0, bursts = 10;
    const char *hold_dir = NULL;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--fail"))
            inject = 1;
        else if (!strcmp(argv[i], "--bursts") && i + 1 < argc && atoi(argv[i + 1]) > 0)
            bursts = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--hold") && i + 1 < argc)
            hold_dir = argv[++i];
        else {
            if (rank == 0)
                fprintf(stderr, "usage: progress-engine [--fail] [--bursts N] [--hold DIR]\n");
            MPI_Finalize();
            return 2;
        }
    }
    if (size < 2) {
        if (rank == 0)
            fprintf(stderr, "progress-engine: needs 2 ranks or more (mpirun -np 2)\n");
        MPI_Finalize();
        return 2;
    }

    int bad = 0;
    if (rank == 0)
        bad = producer(size, bursts);
    else
        bad = engine(rank, inject);

    if (hold_dir)
        hold(hold_dir, rank);
    int any_bad = 0;
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0)
        printf("progress-engine: %s\n", any_bad ? "a rank FAILED" : "all ranks done");
    MPI_Finalize();
    return any_bad;
}
