/*
 * tests/test-home.c - frees sent home (lib/owner.c, doc/design.md "Frees
 * sent home"): free() of another thread's object goes into the freeing
 * thread's outbox for the slab's owner, and each NSLAB_OUTBOX_MAX of them
 * onto the owner's inbox at once, which the owner takes when an
 * allocation misses its lists.  The cases:
 *   - a batch: NSLAB_OUTBOX_MAX - 1 frees touch neither the owner's inbox
 *     nor the slabs' remote maps; the next one puts all of them, and only
 *     them, on the inbox; the owner's next allocations get them back;
 *   - a second free of an object on its way home is refused as a double
 *     free, and the object is sent once;
 *   - the owner exits first: its inbox is shut, and the freeing thread's
 *     flush frees the batch into the slabs itself;
 *   - the owner's state is used again by a new thread: the stale batch
 *     lands in the new thread's inbox, which frees the objects into their
 *     own slabs, not onto its lists;
 *   - fork: the child frees what was on its way to a thread it has not.
 *
 * Internal API: the program links the core and lib/malloc.c itself, so
 * that its malloc and free are numaslab's and their state can be read.
 * 77: no arena (NUMASLAB_ARENA off, or a kernel that refused it).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define NSLAB_NO_SYS_ALLOC /* malloc and free here are the program's: numaslab's */
#include "lib/internal.h"
#include "tests/testutil.h"

#include <pthread.h>
#include <sys/wait.h>

#define SIZE 96 /* a size class no other part of the test uses */
#define NOBJ (3 * NSLAB_OUTBOX_MAX)

/* The owner: makes NOBJ objects when told, then allocates or exits as
 * told, step by step. */
static void *objs[NOBJ];
static struct nslab_tstate *owner_ts;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int step, done_step;
enum { S_MAKE = 1, S_TAKE, S_REGET, S_EXIT };
static void *reget[NSLAB_OUTBOX_MAX];

/* malloc then free, which the compiler may not fold away. */
static void *volatile sink;
static void churn(size_t size)
{
    sink = malloc(size);
    free(sink);
}

static void tell(int s)
{
    pthread_mutex_lock(&mu);
    step = s;
    pthread_cond_broadcast(&cv);
    while (done_step != s)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void *owner(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (step == done_step)
            pthread_cond_wait(&cv, &mu);
        int s = step;
        pthread_mutex_unlock(&mu);
        if (s == S_MAKE) {
            for (int i = 0; i < NOBJ; i++)
                objs[i] = malloc(SIZE);
            owner_ts = nslab_tls;
        } else if (s == S_TAKE) {
            /* A large object always misses the lists: the slow path takes
             * the inbox first. */
            churn(256 * 1024);
        } else if (s == S_REGET) {
            for (int i = 0; i < NSLAB_OUTBOX_MAX; i++)
                reget[i] = malloc(SIZE);
        }
        pthread_mutex_lock(&mu);
        done_step = s;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        if (s == S_EXIT)
            return NULL;
    }
}

static pthread_t start_owner(void)
{
    pthread_t t;
    step = done_step = 0;
    owner_ts = NULL;
    REQUIRE(pthread_create(&t, NULL, owner, NULL) == 0, "pthread_create");
    tell(S_MAKE);
    REQUIRE(owner_ts && owner_ts != &nslab_empty_ts && objs[NOBJ - 1],
            "the owner made its objects");
    return t;
}

static void **inbox_of(struct nslab_tstate *ts)
{
    return nslab_load_acquire(&ts->inbox);
}

static struct nslab_outbox *outbox_for(struct nslab_tstate *to)
{
    return &nslab_tls->out[to->sid % NSLAB_OUTBOXES];
}

/* Objects on a chain sent home, up to max (a chain is never longer). */
static int chain_len(void **o, int max)
{
    int n = 0;
    for (; o && o != NSLAB_INBOX_SHUT && n <= max; o = (void **)o[0])
        n++;
    return n;
}

static int on_chain(void **o, const void *p)
{
    for (; o && o != NSLAB_INBOX_SHUT; o = (void **)o[0])
        if (o == p)
            return 1;
    return 0;
}

/* Bits set in the remote maps of the slabs of objs[from, to). */
static int remote_bits(int from, int to)
{
    int n = 0;
    for (int i = from; i < to; i++) {
        struct nslab_slab *s = nslab__arena_chunk(objs[i]);
        uint32_t idx = nslab__obj_index(s, s->cache, objs[i]);
        n += !!(nslab_load_relaxed(&s->rmap[idx / 64]) & (1ull << (idx % 64)));
    }
    return n;
}

/* objs[from, to) free in their slabs' maps, by the kernel of the slab. */
static int free_in_slabs(int from, int to)
{
    int n = 0;
    for (int i = from; i < to; i++)
        n += nslab__slab_is_free(nslab__arena_chunk(objs[i]), objs[i]);
    return n;
}

static void batch(void)
{
    tu_case("a batch goes home at once");
    pthread_t t = start_owner();
    const int k = NSLAB_OUTBOX_MAX;
    for (int i = 0; i < k - 1; i++)
        free(objs[i]);
    struct nslab_outbox *b = outbox_for(owner_ts);
    CHECK(inbox_of(owner_ts) == NULL && remote_bits(0, k - 1) == 0,
          "%d frees: the owner's inbox is empty (%p) and no remote-map bit is set (%d)", k - 1,
          (void *)inbox_of(owner_ts), remote_bits(0, k - 1));
    CHECK(b->to == owner_ts && b->n == (uint32_t)k - 1 && chain_len(b->head, k) == k - 1,
          "they wait in this thread's outbox for the owner (%u, chain of %d)", b->n,
          chain_len(b->head, k));
    free(objs[k - 1]);
    void **in = inbox_of(owner_ts);
    int all = 1;
    for (int i = 0; i < k; i++)
        all &= on_chain(in, objs[i]);
    CHECK(chain_len(in, k) == k && all && b->n == 0 && b->head == NULL,
          "the %d-th free puts all %d on the owner's inbox (%d there, every one: %d) and "
          "empties the outbox (%u)",
          k, k, chain_len(in, k), all, b->n);
    CHECK(remote_bits(0, k) == 0 && free_in_slabs(0, k) == 0,
          "still no remote-map bit (%d), nothing free in the maps yet (%d)", remote_bits(0, k),
          free_in_slabs(0, k));
    tell(S_TAKE);
    CHECK(inbox_of(owner_ts) == NULL, "the owner's next slow allocation took its inbox");
    tell(S_REGET);
    int back = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            back += reget[i] == objs[j];
    CHECK(back == k, "its next %d allocations of the size are those objects (%d of them)", k,
          back);
    for (int i = 0; i < k; i++)
        objs[i] = reget[i];
    tell(S_EXIT);
    pthread_join(t, NULL);
}

static void double_free_fn(void *p)
{
    sink = p;
    free(sink);
    free(sink);
}

static void double_free(void)
{
    tu_case("a double free on the way home");
    pthread_t t = start_owner();
    struct nslab_outbox *b = outbox_for(owner_ts);
    char *msg = tu_capture_stderr(double_free_fn, objs[0]);
    CHECK(msg && strstr(msg, "double free") && strstr(msg, "free"),
          "the second free is refused as a double free (\"%s\")", msg ? msg : "");
    free(msg);
    CHECK(b->to == owner_ts && b->n == 1 && chain_len(b->head, 4) == 1,
          "the object is in the outbox once (%u, chain of %d)", b->n, chain_len(b->head, 4));
    tell(S_EXIT);
    pthread_join(t, NULL);
    numaslab_thread_flush(); /* sends what it holds: into shut inboxes */
    CHECK(b->head == NULL && free_in_slabs(0, 1) == 1, "and it is freed once in its slab");
}

static void owner_gone(void)
{
    tu_case("the owner exits first");
    pthread_t t = start_owner();
    const int k = 5;
    for (int i = 0; i < k; i++)
        free(objs[i]);
    struct nslab_tstate *was = owner_ts;
    tell(S_EXIT);
    pthread_join(t, NULL);
    CHECK(inbox_of(was) == NSLAB_INBOX_SHUT, "its inbox is shut (%p)", (void *)inbox_of(was));
    CHECK(free_in_slabs(0, k) == 0, "the %d objects are still on their way (%d free)", k,
          free_in_slabs(0, k));
    numaslab_thread_flush();
    CHECK(free_in_slabs(0, k) == k && outbox_for(was)->head == NULL,
          "this thread's flush freed them into their slabs (%d of %d)", free_in_slabs(0, k), k);
    CHECK(free_in_slabs(k, NOBJ) == 0, "and nothing else (%d)", free_in_slabs(k, NOBJ));
}

static void *reused[3]; /* the new thread: its state, then what it saw */

static void *newcomer(void *arg)
{
    (void)arg;
    churn(2 * SIZE); /* a state of its own, and no slab of SIZE */
    reused[0] = nslab_tls;
    pthread_mutex_lock(&mu);
    while (step != S_TAKE)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    reused[1] = (void *)(uintptr_t)chain_len(inbox_of(nslab_tls), 64);
    churn(256 * 1024); /* takes the inbox */
    reused[2] = inbox_of(nslab_tls);
    return NULL;
}

static void state_reused(void)
{
    tu_case("the owner's state used again");
    pthread_t t = start_owner();
    const int k = 6;
    for (int i = 0; i < k; i++)
        free(objs[i]);
    struct nslab_tstate *was = owner_ts;
    tell(S_EXIT);
    pthread_join(t, NULL);
    step = 0;
    pthread_t n;
    REQUIRE(pthread_create(&n, NULL, newcomer, NULL) == 0, "pthread_create");
    while (!nslab_load_acquire(&reused[0]))
        sched_yield();
    CHECK(reused[0] == was && inbox_of(was) == NULL,
          "a new thread has the gone owner's state (%p, was %p), its inbox open (%p)", reused[0],
          (void *)was, (void *)inbox_of(was));
    numaslab_thread_flush(); /* the stale batch goes to that state */
    pthread_mutex_lock(&mu);
    step = S_TAKE;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(n, NULL);
    CHECK((uintptr_t)reused[1] == (uintptr_t)k && reused[2] == NULL,
          "the new thread found the %d objects in its inbox (%zu) and took them", k,
          (size_t)(uintptr_t)reused[1]);
    CHECK(free_in_slabs(0, k) == k, "they are free in their own slabs (%d of %d), not on its lists",
          free_in_slabs(0, k), k);
}

static void forked(void)
{
    tu_case("fork");
    pthread_t t = start_owner();
    const int k = 7;
    for (int i = 0; i < k; i++)
        free(objs[i]);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* The owner is not in the child: its state was given back. */
        int ok = inbox_of(owner_ts) == NSLAB_INBOX_SHUT && free_in_slabs(0, k) == k &&
                 free_in_slabs(k, NOBJ) == 0;
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the child freed the objects on their way to the owner it has not into their slabs, "
          "and no other (status %#x)",
          st);
    CHECK(free_in_slabs(0, k) == 0 && outbox_for(owner_ts)->n == (uint32_t)k,
          "the parent still has them on their way (%u)", outbox_for(owner_ts)->n);
    tell(S_EXIT);
    pthread_join(t, NULL);
    numaslab_thread_flush();
}

int main(void)
{
    tu_init("test-home");
    setenv("NUMASLAB_ABORT", "0", 1);
    /* numaslab starts, and this thread has a state and a slab of SIZE of
     * its own. */
    void *p = malloc(SIZE);
    int in = nslab_g.ready && nslab__in_arena(p) && nslab_tls != &nslab_empty_ts;
    free(p);
    if (!in) {
        tu_info("no slab arena here: nothing is sent home");
        return 77;
    }
    if (!nslab__class_cache(SIZE)->mag) {
        tu_info("objects of %d bytes have no free list (a debug build): nothing is sent home",
                SIZE);
        return 77;
    }
    batch();
    double_free();
    owner_gone();
    state_reused();
    forked();
    return tu_exit();
}
