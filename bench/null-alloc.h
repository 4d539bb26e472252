/*
 * bench/null-alloc.h - the null allocator of bench/pairs' `null` workload.
 *
 * Two functions of numaslab_cache_alloc's and numaslab_cache_free's
 * shapes that do nothing: null_alloc returns a pointer to one static
 * buffer, null_free returns at once.  They live in a shared library of
 * their own (bench/libnullalloc.la), as numaslab's functions live in
 * libnumaslab.so, so that bench/pairs calls them the same way, through
 * the PLT, and the compiler can neither inline nor drop the calls.
 */
#ifndef NUMASLAB_BENCH_NULL_ALLOC_H
#define NUMASLAB_BENCH_NULL_ALLOC_H

void *null_alloc(void *c, unsigned flags);
void null_free(void *c, void *p);

#endif
