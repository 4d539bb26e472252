/*
 * lib/fault.c - fault injection for ordinary page allocation
 * (NUMASLAB_FAIL_PAGES, numaslab_fail_pages).
 *
 *   after=N          the first N ordinary page allocations succeed, the
 *                    rest fail
 *   prob=P,seed=S    each fails with probability P (0..1), from a
 *                    generator seeded with S (default 1): reproducible
 *   ...,node=K       only allocations on node K are affected
 *
 * Off, it costs one predictable branch on the page-allocation slow path.
 * On, the setting is read under fail_lock (rank NSLAB_RANK_FAULT,
 * lib/lock.h; nothing is taken while it is held), so a setting changed by
 * one thread while others allocate pages is seen whole, never half old
 * and half new.
 */
#include "lib/internal.h"

#include <stdlib.h>

int nslab_fail_on; /* atomic: 1 while a setting is in force */

/* The setting, under fail_lock. */
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static int fail_counted;        /* 1: after=N, 0: prob=P */
static long fail_after;         /* allocations still allowed (may go negative) */
static uint64_t fail_threshold; /* prob * 2^64, 0: no probability */
static uint64_t fail_state;     /* xorshift64 state */
static int fail_node = -1;

int nslab__fail_now(int node)
{
    int fail = 0;
    nslab__lock(&fail_lock, NSLAB_RANK_FAULT);
    if (!nslab_load_relaxed(&nslab_fail_on) || (fail_node >= 0 && node != fail_node)) {
        fail = 0;
    } else if (fail_counted) {
        fail = --fail_after < 0;
    } else {
        /* xorshift64: each caller advances the shared state by one step. */
        uint64_t y = fail_state;
        y ^= y << 13;
        y ^= y >> 7;
        y ^= y << 17;
        fail_state = y;
        fail = y < fail_threshold;
    }
    nslab__unlock(&fail_lock, NSLAB_RANK_FAULT);
    return fail;
}

/* fork: the child must not inherit fail_lock held by a thread it lacks. */
void nslab__fail_fork_lock(void)
{
    nslab__lock(&fail_lock, NSLAB_RANK_FAULT);
}
void nslab__fail_fork_unlock(void)
{
    nslab__unlock(&fail_lock, NSLAB_RANK_FAULT);
}

/* 0 (and the setting applied), or -EINVAL (nothing changed). */
int nslab__fail_parse(const char *spec)
{
    int64_t after = -1;
    double prob = -1;
    uint64_t seed = 1, u;
    long node = -1;
    if (!spec || !*spec) {
        nslab__lock(&fail_lock, NSLAB_RANK_FAULT);
        nslab_store_release(&nslab_fail_on, 0);
        nslab__unlock(&fail_lock, NSLAB_RANK_FAULT);
        return 0;
    }
    const char *s = spec;
    while (*s) {
        const char *end;
        if (!strncmp(s, "after=", 6)) {
            if (nslab_parse_u64(s + 6, INT64_MAX, &end, &u))
                return -EINVAL;
            after = (int64_t)u;
        } else if (!strncmp(s, "prob=", 5)) {
            /* A fraction: strtod, once the strict parser has seen that
             * it starts with a digit (strtod would take blanks and signs). */
            char *dend;
            if (nslab_parse_u64(s + 5, UINT64_MAX, &end, &u))
                return -EINVAL;
            prob = strtod(s + 5, &dend);
            end = dend;
            if (prob < 0 || prob > 1)
                return -EINVAL;
        } else if (!strncmp(s, "seed=", 5)) {
            if (nslab_parse_u64(s + 5, UINT64_MAX, &end, &seed))
                return -EINVAL;
        } else if (!strncmp(s, "node=", 5)) {
            if (nslab_parse_u64(s + 5, 64 * NSLAB_MASK_WORDS - 1, &end, &u))
                return -EINVAL;
            node = (long)u;
        } else {
            return -EINVAL;
        }
        if (*end == ',')
            end++;
        else if (*end)
            return -EINVAL;
        s = end;
    }
    if ((after < 0) == (prob < 0)) /* exactly one of them */
        return -EINVAL;
    nslab__lock(&fail_lock, NSLAB_RANK_FAULT);
    fail_counted = after >= 0;
    fail_after = after;
    fail_threshold = prob >= 1  ? UINT64_MAX
                     : prob < 0 ? 0
                                : (uint64_t)(prob * 18446744073709551616.0);
    fail_state = seed ? seed : 1;
    fail_node = (int)node;
    nslab_store_release(&nslab_fail_on, 1);
    nslab__unlock(&fail_lock, NSLAB_RANK_FAULT);
    return 0;
}

int numaslab_fail_pages(const char *spec)
{
    int rc = nslab__fail_parse(spec);
    if (rc)
        nslab__report("numaslab_fail_pages: \"%s\" is not a fault setting (after=N or "
                      "prob=P[,seed=S], with an optional ,node=K)",
                      spec);
    return rc;
}
