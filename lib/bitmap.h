/*
 * lib/bitmap.h - the library's one bitmap type: an array of 64-bit words,
 * bit n in word n / 64 at n % 64, with the operations lib/ needs on it.
 * Sets of nodes (the inactive nodes a cache has reported), of cache ids
 * and of non-empty page bins are all nslab_bitmap_t arrays.  The slab
 * free maps use the same layout but stay open-coded in the fast paths
 * (lib/thread.h), where every instruction counts and each word is read
 * and written once through the named atomic wrappers.
 *
 * Plain operations are for bitmaps one thread writes, or writes under a
 * lock; nslab__bit_set_atomic is for a set that any thread may add to.
 */
#ifndef NSLAB_BITMAP_H
#define NSLAB_BITMAP_H

#include "lib/base.h"

typedef uint64_t nslab_bitmap_t;

/* Words of a bitmap of bits bits. */
#define NSLAB_BITMAP_WORDS(bits) (((bits) + 63) / 64)

static inline int nslab__bit_test(const nslab_bitmap_t *m, unsigned n)
{
    return (int)((m[n / 64] >> (n % 64)) & 1);
}

static inline void nslab__bit_set(nslab_bitmap_t *m, unsigned n)
{
    m[n / 64] |= (nslab_bitmap_t)1 << (n % 64);
}

static inline void nslab__bit_clear(nslab_bitmap_t *m, unsigned n)
{
    m[n / 64] &= ~((nslab_bitmap_t)1 << (n % 64));
}

/* Set bit n with one atomic OR (relaxed); returns whether it was set. */
static inline int nslab__bit_set_atomic(nslab_bitmap_t *m, unsigned n)
{
    nslab_bitmap_t bit = (nslab_bitmap_t)1 << (n % 64);
    return (nslab_or_relaxed(&m[n / 64], bit) & bit) != 0;
}

/* The lowest set bit at or above from, below nbits; nbits when none. */
static inline unsigned nslab__bit_next(const nslab_bitmap_t *m, unsigned from, unsigned nbits)
{
    while (from < nbits) {
        nslab_bitmap_t w = m[from / 64] >> (from % 64);
        if (w) {
            from += (unsigned)__builtin_ctzll(w);
            return from < nbits ? from : nbits;
        }
        from = (from / 64 + 1) * 64;
    }
    return nbits;
}

/* The lowest clear bit below nbits (a multiple of 64); nbits when none. */
static inline unsigned nslab__bit_first_clear(const nslab_bitmap_t *m, unsigned nbits)
{
    for (unsigned w = 0; w < nbits / 64; w++)
        if (~m[w])
            return w * 64 + (unsigned)__builtin_ctzll(~m[w]);
    return nbits;
}

#endif /* NSLAB_BITMAP_H */
