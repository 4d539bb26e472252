/*
 * tests/test-chunks.c - the slab arena's chunk records (lib/pages.h,
 * doc/design.md "The slab arena"): the copy of a slab's owner, cache,
 * first object and owner's list that the drop-in's free reads instead of
 * the slab's header.  Each record must say what the header says through
 * every change of hands: a slab made and taken by a thread, given back
 * when the thread exits (no owner), adopted by another thread (the new
 * owner and its list), and given back to the page layer (no owner, so
 * that no thread takes a stale chunk for its own slab).  A record left
 * behind by any of these makes a case fail.
 *
 * Internal API (links libnumaslab-core.la).  77: no arena (NUMASLAB_ARENA
 * off, or a kernel that refused the reservation).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "lib/internal.h"
#include "tests/testutil.h"

#include <pthread.h>

#define SIZE 128 /* a size class no other part of the test uses */
#define NOBJ 300 /* a part of one 64 KiB slab of it */

static void *objs[NOBJ];

/* 1 when p's record says what its slab's header says. */
static int rec_agrees(const void *p)
{
    const struct nslab_slab *s = nslab__arena_chunk(p);
    const struct nslab_chunk *r = nslab__arena_rec(p);
    if (r->owner != nslab_load_relaxed(&s->owner))
        return 0;
    return !s->owner || (r->cache == s->cache && r->objs == s->objs && r->oslot == s->oslot);
}

static struct nslab_tstate *rec_owner(const void *p)
{
    return nslab_load_relaxed(&nslab__arena_rec(p)->owner);
}

/* Makes NOBJ objects, holds them, says who owned their slab, exits. */
static void *maker(void *arg)
{
    struct nslab_tstate **seen = arg;
    for (int i = 0; i < NOBJ; i++)
        objs[i] = numaslab_alloc(SIZE, 0);
    *seen = objs[0] ? rec_owner(objs[0]) : NULL;
    return NULL;
}

int main(void)
{
    tu_init("test-chunks");
    setenv("NUMASLAB_ABORT", "0", 1);
    /* Empty slabs go back to the page layer, and their chunks to the
     * system, as soon as they are given back. */
    setenv("NUMASLAB_RETAIN", "0", 1);
    setenv("NUMASLAB_RETAIN_BYTES", "0", 1);
    REQUIRE(numaslab_init(NULL) == 0, "numaslab_init: %s", strerror(errno));
    void *probe = numaslab_alloc(SIZE, 0);
    REQUIRE(probe != NULL, "numaslab_alloc(%d): %s", SIZE, strerror(errno));
    if (!nslab__in_arena(probe))
        tu_skip("no slab arena in this process");
    numaslab_free(probe);
    numaslab_thread_flush();

    tu_case("a slab taken by a thread: its record names the thread, the cache and its list");
    struct nslab_tstate *maker_ts = NULL;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, maker, &maker_ts) == 0, "pthread_create");
    pthread_join(t, NULL);
    REQUIRE(objs[0] && objs[NOBJ - 1], "the thread's allocations");
    CHECK(nslab__in_arena(objs[0]), "its objects lie in the arena");
    CHECK(maker_ts != NULL && maker_ts != nslab_tls,
          "while it ran, the record named it as the owner (%p; this thread %p)", (void *)maker_ts,
          (void *)nslab_tls);

    tu_case("the thread exits: its slab is given back, and the record names no owner");
    const struct nslab_slab *s = nslab__arena_chunk(objs[0]);
    CHECK(nslab_load_relaxed(&s->owner) == NULL, "the header names no owner");
    CHECK(rec_owner(objs[0]) == NULL, "the record names none (%p)", (void *)rec_owner(objs[0]));
    CHECK(rec_agrees(objs[0]), "record and header agree");

    tu_case("another thread adopts the slab: the record names it and its list");
    numaslab_free(objs[NOBJ - 1]); /* an unowned slab's free: under the node's lock */
    objs[NOBJ - 1] = NULL;
    void *again = numaslab_alloc(SIZE, 0);
    REQUIRE(again != NULL, "numaslab_alloc: %s", strerror(errno));
    CHECK(nslab__arena_chunk(again) == s, "the allocation adopted the partial slab (%p, %p)",
          nslab__arena_chunk(again), (const void *)s);
    CHECK(rec_owner(objs[0]) == nslab_tls, "the record names this thread (%p, %p)",
          (void *)rec_owner(objs[0]), (void *)nslab_tls);
    CHECK(rec_agrees(objs[0]), "record and header agree: cache %p/%p, objects %p/%p, list %p/%p",
          (void *)nslab__arena_rec(objs[0])->cache, (void *)s->cache,
          (void *)nslab__arena_rec(objs[0])->objs, (void *)s->objs,
          (void *)nslab__arena_rec(objs[0])->oslot, (void *)s->oslot);
    CHECK(nslab__arena_rec(objs[0])->oslot == &nslab_tls->cc[s->cache->id]->slot[s->nidx],
          "the list is this thread's for the slab's cache and node");

    tu_case("the slab goes back to the page layer: the record names no owner");
    numaslab_free(again);
    for (int i = 0; i < NOBJ; i++)
        numaslab_free(objs[i]);
    numaslab_thread_flush();
    CHECK(nslab_load_relaxed(&s->type) != NSLAB_T_SLAB || nslab_load_relaxed(&s->owner) == NULL,
          "the chunk is no owned slab now");
    CHECK(rec_owner(objs[0]) == NULL, "the record names no owner (%p)", (void *)rec_owner(objs[0]));

    tu_case("a chunk made a slab again: the record follows");
    void *p = numaslab_alloc(SIZE, 0);
    REQUIRE(p != NULL, "numaslab_alloc: %s", strerror(errno));
    CHECK(rec_owner(p) == nslab_tls && rec_agrees(p),
          "a new slab's record names this thread and agrees with its header");
    numaslab_free(p);
    numaslab_fini();
    return tu_exit();
}
