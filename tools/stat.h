/*
 * tools/stat.h - what the files of numaslab-stat(1) share: its options,
 * its messages, and the commands and the JSON output the command line
 * (tools/numaslab-stat.c) calls.  The segment reader and the tables are
 * the library's (lib/statread.h).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef NSLAB_TOOLS_STAT_H
#define NSLAB_TOOLS_STAT_H

#include <stdint.h>

#include "lib/statread.h"

struct stat_options {
    long pid;         /* -p; 0: none */
    const char *file; /* --file */
    const char *dir;  /* --dir */
    int caches, json, gc;
    double watch; /* seconds; 0: once */
    long count;   /* --count; 0: unbounded */
};

/* tools/numaslab-stat.c */
/* "numaslab-stat: ..." and a newline, on stderr. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* tools/stat-commands.c: each returns an exit code (lib/statread.h). */
int show_one(const struct stat_options *o); /* -p PID or --file: one reading */
int list_all(const struct stat_options *o); /* no -p: every publishing process */
int gc(const struct stat_options *o);       /* --gc: remove stale segments */
uint64_t now_ns(void);                      /* CLOCK_MONOTONIC */

/* tools/stat-json.c */
/* One JSON object for s on one line; state: "live", "snapshot", ...;
 * show_age: add its age ("age_ms"); caches: add the per-cache records. */
void json_print(const struct nslab_statsnap *s, const char *state, int show_age, int caches);
void json_str(const char *s); /* a JSON string: escaped, U+FFFD for bytes not UTF-8 */

#endif /* NSLAB_TOOLS_STAT_H */
