/*
 * lib/statread.h - the reader's side of the statistics segment
 * (include/numaslab-stats.h), shared by the library and numaslab-stat(1):
 * one validated, normalised copy of a segment (struct nslab_statsnap),
 * the tables both print from it, and the check that a segment's process
 * is still the one that made it.  The library prints numaslab_stats_print
 * from a copy of its own snapshot, the tool from a copy of a process's
 * segment, so the two print the same tables from the same code.
 *
 * The files behind it (lib/statread.c, lib/stattable.c, lib/statproc.c)
 * use nothing of the library: they are built once, as a convenience
 * library linked into libnumaslab and into the tool.  They allocate with
 * the C library's calloc and write with stdio: the library calls them with
 * the drop-in's busy mark held (numa/numa.h).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef NSLAB_STATREAD_H
#define NSLAB_STATREAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "numaslab-stats.h"

/* What a read comes to; numaslab-stat's exit codes (numaslab-stat(1),
 * EXIT STATUS). */
enum {
    NSLAB_EX_OK = 0,
    NSLAB_EX_USAGE = 1,   /* bad arguments */
    NSLAB_EX_NOPROC = 2,  /* no such process, or it publishes no segment */
    NSLAB_EX_STALE = 3,   /* the segment's process is dead, or the pid was reused */
    NSLAB_EX_PERM = 4,    /* permission denied */
    NSLAB_EX_CORRUPT = 5, /* truncated, empty, garbage, or stuck mid-update */
    NSLAB_EX_NEWER = 6,   /* a layout version newer than this reader */
    NSLAB_EX_OTHER = 7,   /* out of memory, I/O error */
};

/* A validated private copy; header and records normalised to this
 * reader's sizes, the fields the segment does not have set to 0, names
 * NUL-terminated, and the all-zero cache records (ids no cache has) left
 * out. */
struct nslab_statsnap {
    struct numaslab_stats_header h;
    struct numaslab_stats_node_rec *nodes;   /* [h.node_count] */
    struct numaslab_stats_cache_rec *caches; /* [h.cache_count] */
    int have_mem;                            /* the node records have the running-short fields */
    int have_pages;                          /* ... and the page layer's */
    int have_cg;                             /* the header has the memory cgroup's fields */
};

/* ------------------------------------------------------------------------
 * lib/statread.c: reading and validating a segment
 * ---------------------------------------------------------------------- */

/* Copy the segment image (size bytes, not changing meanwhile) into *s.
 * NSLAB_EX_OK, or NSLAB_EX_CORRUPT / NSLAB_EX_NEWER / NSLAB_EX_OTHER (out
 * of memory) with err set; -1 when the image is all zero (never written). */
int nslab_statsnap_copy(struct nslab_statsnap *s, const void *image, uint64_t size, char *err,
                        size_t n);

/* Read the segment file at path into *s, under its sequence lock.
 * NSLAB_EX_OK, or another NSLAB_EX_* with err set; *err_errno gets errno
 * when open fails (ENOENT lets a caller say "no such process"). */
int nslab_statsnap_read(const char *path, struct nslab_statsnap *s, char *err, size_t n,
                        int *err_errno);

void nslab_statsnap_free(struct nslab_statsnap *s);

/* ------------------------------------------------------------------------
 * lib/stattable.c: the tables
 * ---------------------------------------------------------------------- */

/* Every per-node table of s, and with caches the per-cache one, to f.
 * now_ns: the CLOCK_MONOTONIC moment "short for" runs to. */
void nslab_stat_print_tables(FILE *f, const struct nslab_statsnap *s, int caches, uint64_t now_ns);

/* A name as a table shows it, in buf: unprintable bytes become '?'. */
const char *nslab_stat_plain(char *buf, size_t n, const char *s);

/* ------------------------------------------------------------------------
 * lib/statproc.c: the process behind a segment (/proc)
 * ---------------------------------------------------------------------- */

/* /proc/PID/stat (pid 0: /proc/self/stat): *state gets field 3,
 * *threads field 20 (num_threads) and *start field 22 (starttime); any
 * pointer may be NULL.  0 or -1. */
int nslab_proc_stat(long pid, char *state, long *threads, uint64_t *start);

enum nslab_life { NSLAB_ALIVE, NSLAB_GONE, NSLAB_REUSED, NSLAB_EXECED };

/* The life of pid against a (validated) header, as "Staleness" in
 * include/numaslab-stats.h defines it.  h NULL: existence only. */
enum nslab_life nslab_process_life(long pid, const struct numaslab_stats_header *h);

/* "is not running", "now belongs to another process (...)", ... */
const char *nslab_life_why(enum nslab_life l);

#endif /* NSLAB_STATREAD_H */
