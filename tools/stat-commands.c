/*
 * tools/stat-commands.c - what numaslab-stat(1) does once its command line
 * is read: show one process's tables (-p PID, or a segment file with
 * --file), list every process that publishes a segment (no -p), or remove
 * the stale segments (--gc).  Each reads segments with the library's
 * reader (lib/statread.c), checks that their process is still the one
 * that made them (lib/statproc.c), and prints with the library's tables
 * (lib/stattable.c) or tools/stat-json.c; each returns an exit code.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/stat.h"

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void print_title(const struct nslab_statsnap *s, const char *state, int show_age)
{
    char comm[32];
    const struct numaslab_stats_header *h = &s->h;
    char every[32] = "live";
    if (h->interval_ms) /* a segment refreshed by a publisher thread (older versions) */
        snprintf(every, sizeof(every), "every %" PRIu32 " ms", h->interval_ms);
    printf("pid %" PRId32 " (%s), numaslab %u.%u.%u: %" PRIu32 " of %lld nodes active; "
           "update %" PRIu64 " (%s)",
           h->pid, nslab_stat_plain(comm, sizeof(comm), h->comm), (h->lib_version >> 16) & 0xff,
           (h->lib_version >> 8) & 0xff, h->lib_version & 0xff, h->nactive,
           (long long)h->max_node + 1, h->updates, every);
    if (show_age) {
        uint64_t now = now_ns();
        if (h->update_ns <= now)
            printf(", %.1f s ago", (double)(now - h->update_ns) / 1e9);
    }
    if (h->machine == NUMASLAB_STATS_MACHINE_SIMULATED)
        printf("; simulated machine");
    if (state)
        printf(" [%s]", state);
    printf("\n\n");
}

static void seg_path(char *buf, size_t n, const char *dir, long pid)
{
    snprintf(buf, n, "%s/%s%ld", dir, NUMASLAB_STATS_PREFIX, pid);
}

/* One reading of -p PID (or --file): print it.  An exit code. */
int show_one(const struct stat_options *o)
{
    char path[PATH_MAX], err[256];
    struct nslab_statsnap s;
    int e, rc;

    if (o->file)
        snprintf(path, sizeof(path), "%s", o->file);
    else
        seg_path(path, sizeof(path), o->dir, o->pid);
    rc = nslab_statsnap_read(path, &s, err, sizeof(err), &e);
    if (o->file) {
        if (rc) {
            msg("%s: %s", path, err);
            return rc;
        }
    } else {
        enum nslab_life l = nslab_process_life(o->pid, rc == NSLAB_EX_OK ? &s.h : NULL);
        if (rc == NSLAB_EX_NOPROC) {
            if (l == NSLAB_GONE)
                msg("no process %ld (and no segment %s)", o->pid, path);
            else
                msg("process %ld publishes no numaslab statistics (no %s): it does not use "
                    "numaslab, runs with NUMASLAB_STATS=0, or has not initialised it yet",
                    o->pid, path);
            return NSLAB_EX_NOPROC;
        }
        if (l != NSLAB_ALIVE) {
            msg("%s is stale: process %ld %s; numaslab-stat --gc removes it", path, o->pid,
                nslab_life_why(l));
            nslab_statsnap_free(&s);
            return NSLAB_EX_STALE;
        }
        if (rc) {
            msg("%s: %s", path, err);
            return rc;
        }
        if (s.h.pid != o->pid) {
            msg("%s: claims to be the segment of process %" PRId32 ", not %ld", path, s.h.pid,
                o->pid);
            nslab_statsnap_free(&s);
            return NSLAB_EX_CORRUPT;
        }
    }
    if (o->json) {
        json_print(&s, o->file ? "snapshot" : "live", !o->file, o->caches);
    } else {
        print_title(&s, NULL, !o->file);
        /* "short for" runs to the reading's moment, not to ours. */
        nslab_stat_print_tables(stdout, &s, o->caches, s.h.update_ns);
    }
    nslab_statsnap_free(&s);
    return NSLAB_EX_OK;
}

/* Segments in dir, by pid; *n of them.  NULL with *n = 0 when none. */
static long *list_pids(const char *dir, size_t *n, int *rc)
{
    DIR *d = opendir(dir);
    long *v = NULL;
    size_t cap = 0;
    struct dirent *de;
    *n = 0;
    *rc = NSLAB_EX_OK;
    if (!d) {
        int e = errno;
        msg("cannot list %s: %s", dir, strerror(e));
        *rc = e == ENOENT ? NSLAB_EX_NOPROC : e == EACCES ? NSLAB_EX_PERM : NSLAB_EX_OTHER;
        return NULL;
    }
    size_t plen = strlen(NUMASLAB_STATS_PREFIX);
    while ((de = readdir(d))) {
        const char *p = de->d_name;
        char *end;
        if (strncmp(p, NUMASLAB_STATS_PREFIX, plen) || p[plen] < '1' || p[plen] > '9')
            continue;
        errno = 0;
        long pid = strtol(p + plen, &end, 10);
        if (*end || errno || pid <= 0 || pid > INT_MAX)
            continue;
        if (*n == cap) {
            long *nv = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));
            if (!nv) {
                free(v);
                closedir(d);
                msg("out of memory");
                *rc = NSLAB_EX_OTHER;
                *n = 0;
                return NULL;
            }
            v = nv;
        }
        v[(*n)++] = pid;
    }
    closedir(d);
    for (size_t i = 1; i < *n; i++) /* by pid: a handful of entries */
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            long t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v;
}

/* No -p: every publishing process, one line (or JSON object) each. */
int list_all(const struct stat_options *o)
{
    size_t n;
    int rc;
    long *pids = list_pids(o->dir, &n, &rc);
    if (rc)
        return rc;
    if (!o->json)
        printf("%7s  %-16s  %5s  %-7s  %s\n", "PID", "COMMAND", "NODES", "STATE", "NOTE");
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX], err[256], comm[32], nodes[32];
        struct nslab_statsnap s;
        int e;
        seg_path(path, sizeof(path), o->dir, pids[i]);
        int r = nslab_statsnap_read(path, &s, err, sizeof(err), &e);
        if (r == NSLAB_EX_NOPROC)
            continue; /* removed since we listed it */
        enum nslab_life l = nslab_process_life(pids[i], r == NSLAB_EX_OK ? &s.h : NULL);
        const char *state = l != NSLAB_ALIVE      ? "stale"
                            : r == NSLAB_EX_OK    ? "live"
                            : r == NSLAB_EX_PERM  ? "denied"
                            : r == NSLAB_EX_NEWER ? "newer"
                                                  : "corrupt";
        if (r == NSLAB_EX_OK && s.h.pid != pids[i]) {
            state = "corrupt";
            snprintf(err, sizeof(err), "claims to be the segment of process %" PRId32, s.h.pid);
            r = NSLAB_EX_CORRUPT;
        }
        if (o->json) {
            if (r == NSLAB_EX_OK) {
                json_print(&s, state, l == NSLAB_ALIVE, o->caches);
            } else {
                printf("{\"pid\": %ld, \"state\": \"%s\", \"error\": ", pids[i], state);
                json_str(l != NSLAB_ALIVE ? nslab_life_why(l) : err);
                printf(", \"nodes\": []}\n");
            }
        } else {
            char note[320];
            if (l != NSLAB_ALIVE)
                snprintf(note, sizeof(note), "process %s", nslab_life_why(l));
            else if (r != NSLAB_EX_OK)
                snprintf(note, sizeof(note), "%s", err);
            else if (s.h.update_ns <= now_ns())
                snprintf(note, sizeof(note), "updated %.1f s ago",
                         (double)(now_ns() - s.h.update_ns) / 1e9);
            else
                note[0] = '\0';
            if (r == NSLAB_EX_OK)
                snprintf(nodes, sizeof(nodes), "%" PRIu32 "/%lld", s.h.nactive,
                         (long long)s.h.max_node + 1);
            else
                snprintf(nodes, sizeof(nodes), "-");
            printf("%7ld  %-16s  %5s  %-7s  %s\n", pids[i],
                   r == NSLAB_EX_OK ? nslab_stat_plain(comm, sizeof(comm), s.h.comm) : "?", nodes,
                   state, note);
        }
        nslab_statsnap_free(&s);
    }
    free(pids);
    return NSLAB_EX_OK;
}

/* --gc: remove the segments whose process is gone, or is not the one
 * that made them.  A live process's segment is never removed. */
int gc(const struct stat_options *o)
{
    size_t n;
    int rc, worst = NSLAB_EX_OK, removed = 0;
    long *pids = list_pids(o->dir, &n, &rc);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX], err[256];
        struct nslab_statsnap s;
        int e;
        seg_path(path, sizeof(path), o->dir, pids[i]);
        int r = nslab_statsnap_read(path, &s, err, sizeof(err), &e);
        enum nslab_life l = nslab_process_life(pids[i], r == NSLAB_EX_OK ? &s.h : NULL);
        nslab_statsnap_free(&s);
        if (r == NSLAB_EX_NOPROC || l == NSLAB_ALIVE)
            continue;
        if (unlink(path) != 0) {
            msg("cannot remove %s: %s", path, strerror(errno));
            worst = (errno == EACCES || errno == EPERM) ? NSLAB_EX_PERM : NSLAB_EX_OTHER;
            continue;
        }
        printf("removed %s: process %ld %s\n", path, pids[i], nslab_life_why(l));
        removed++;
    }
    printf("%d stale segment%s removed\n", removed, removed == 1 ? "" : "s");
    free(pids);
    return worst;
}
