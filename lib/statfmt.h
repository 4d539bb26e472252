/*
 * lib/statfmt.h - how figures look in numaslab_stats_print and in
 * numaslab-stat(1), which share no code otherwise (the tool links no part
 * of the library): byte counts, the reserve bar, and the page layer and
 * running-short tables, which both print from the layout of
 * include/numaslab-stats.h.
 */
#ifndef NSLAB_STATFMT_H
#define NSLAB_STATFMT_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "numaslab-stats.h"

/* 512, 1.4K, 64K, 12.5M, 512M: binary units, one decimal below 100. */
static inline const char *nslab_fmt_bytes(char *buf, size_t n, uint64_t v)
{
    static const char unit[] = "KMGTPE";
    if (v < 1024) {
        snprintf(buf, n, "%" PRIu64, v);
        return buf;
    }
    double d = (double)v;
    int u = -1;
    while (d >= 1024 && u < 5) {
        d /= 1024;
        u++;
    }
    snprintf(buf, n, "%.*f%c", d < 99.95 ? 1 : 0, d, unit[u]);
    char *dot = strstr(buf, ".0");
    if (dot)
        memmove(dot, dot + 2, strlen(dot + 2) + 1); /* 64.0K -> 64K */
    return buf;
}

/* "[#######---]  70%": the reserve level, so a glance finds the low node;
 * the bar is full only when the reserve is. */
static inline const char *nslab_fmt_bar(char *buf, size_t n, int32_t cur, int32_t min)
{
    char bar[11];
    if (min <= 0) {
        snprintf(buf, n, "[          ]    -");
        return buf;
    }
    long long c = cur < 0 ? 0 : cur > min ? min : cur;
    int fill = (int)(c * 10 / min), pct = (int)(c * 100 / min);
    for (int i = 0; i < 10; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[10] = '\0';
    snprintf(buf, n, "[%s] %3d%%", bar, pct);
    return buf;
}

/* "ok", or "short for 3.2 s": since_ns (when it went short) to now_ns,
 * both CLOCK_MONOTONIC; plain "short" when the start is not before now. */
static inline const char *nslab_fmt_short(char *buf, size_t n, int is_short, uint64_t since_ns,
                                          uint64_t now_ns)
{
    if (!is_short)
        snprintf(buf, n, "ok");
    else if (since_ns && since_ns <= now_ns)
        snprintf(buf, n, "short for %.1f s", (double)(now_ns - since_ns) / 1e9);
    else
        snprintf(buf, n, "short");
    return buf;
}

/* A byte count, or "-" for UINT64_MAX (no limit). */
static inline const char *nslab_fmt_limit(char *buf, size_t n, uint64_t v)
{
    if (v == UINT64_MAX) {
        snprintf(buf, n, "-");
        return buf;
    }
    return nslab_fmt_bytes(buf, n, v);
}

/*
 * The page layer (numaslab(7), LARGE OBJECTS AND THE PAGE CACHE): per
 * node, the bytes of freed runs kept for reuse, and the bytes of large
 * objects in use, of which those offered to transparent huge pages.  All
 * three are part of the node's MAPPED.
 *   nodes: h->node_count records;
 *   have_pages: the segment carries those fields (an older layout does
 *     not).
 */
static inline void nslab_print_pages(FILE *f, const struct numaslab_stats_header *h,
                                     const struct numaslab_stats_node_rec *nodes, int have_pages)
{
    char a[32], b[32], c[32];

    if (!have_pages) {
        fprintf(f, "\npage layer: not in this segment (an older layout)\n");
        return;
    }
    fprintf(f, "\n%4s  %12s  %11s  %10s\n", "NODE", "PAGES CACHED", "LARGE BYTES", "HUGE BYTES");
    for (uint32_t i = 0; i < h->node_count; i++) {
        const struct numaslab_stats_node_rec *r = &nodes[i];
        if (!(r->flags & NUMASLAB_STATS_NODE_ACTIVE)) {
            fprintf(f, "%4" PRId32 "  -\n", r->node);
            continue;
        }
        fprintf(f, "%4" PRId32 "  %12s  %11s  %10s\n", r->node,
                nslab_fmt_bytes(a, sizeof(a), r->page_cached),
                nslab_fmt_bytes(b, sizeof(b), r->large_bytes),
                nslab_fmt_bytes(c, sizeof(c), r->huge_bytes));
    }
}

/*
 * Running short (numaslab(7), MEMORY EXHAUSTION): per node, what the
 * kernel could still give at the library's last reading against the
 * node's low watermark; for the process, its memory cgroup.
 *   nodes: h->node_count records;
 *   have_mem, have_cg: the segment carries those fields (an older layout
 *     does not);
 *   now_ns: the CLOCK_MONOTONIC moment "short for" runs to.
 */
static inline void nslab_print_headroom(FILE *f, const struct numaslab_stats_header *h,
                                        const struct numaslab_stats_node_rec *nodes, int have_mem,
                                        int have_cg, uint64_t now_ns)
{
    char a[32], b[32], c[48];

    if (!have_mem) {
        fprintf(f, "\nnode memory headroom: not in this segment (an older layout)\n");
    } else {
        fprintf(f, "\n%4s  %9s  %9s  %-18s  %7s  %8s\n", "NODE", "AVAIL", "WATERMARK", "MEMORY",
                "REFUSED", "EPISODES");
        for (uint32_t i = 0; i < h->node_count; i++) {
            const struct numaslab_stats_node_rec *r = &nodes[i];
            if (!(r->flags & NUMASLAB_STATS_NODE_ACTIVE)) {
                fprintf(f, "%4" PRId32 "  -\n", r->node);
                continue;
            }
            if (!r->mem_known)
                fprintf(f, "%4" PRId32 "  %9s  %9s  %-18s", r->node, "-", "-", "not read");
            else
                fprintf(
                    f, "%4" PRId32 "  %9s  %9s  %-18s", r->node,
                    nslab_fmt_bytes(a, sizeof(a), r->mem_avail),
                    nslab_fmt_bytes(b, sizeof(b), r->low_watermark),
                    nslab_fmt_short(c, sizeof(c), r->mem_short != 0, r->short_since_ns, now_ns));
            fprintf(f, "  %7" PRIu64 "  %8" PRIu64 "\n", r->short_refused, r->short_episodes);
        }
    }

    if (!have_cg) {
        fprintf(f, "\nmemory cgroup: not in this segment (an older layout)\n");
        return;
    }
    fprintf(f, "\n%-10s  %9s  %9s  %9s  %9s  %-18s  %7s  %8s  %5s\n", "CGROUP", "LIMIT", "USAGE",
            "MARGIN", "AVAIL", "MEMORY", "REFUSED", "EPISODES", "TRIMS");
    switch (h->cgroup_state) {
    case NUMASLAB_STATS_CGROUP_V1:
    case NUMASLAB_STATS_CGROUP_V2: {
        char lim[32], use[32], mar[32], av[32], st[48];
        int nolimit = h->cgroup_limit == UINT64_MAX;
        if (nolimit) {
            snprintf(lim, sizeof(lim), "no limit");
            snprintf(mar, sizeof(mar), "-");
            snprintf(av, sizeof(av), "-");
        } else {
            nslab_fmt_bytes(lim, sizeof(lim), h->cgroup_limit);
            nslab_fmt_bytes(mar, sizeof(mar), h->cgroup_margin);
            nslab_fmt_limit(av, sizeof(av), h->cgroup_avail);
        }
        nslab_fmt_bytes(use, sizeof(use), h->cgroup_usage);
        nslab_fmt_short(st, sizeof(st), h->cgroup_short != 0, h->cgroup_short_since_ns, now_ns);
        fprintf(f, "%-10s  %9s  %9s  %9s  %9s  %-18s  %7" PRIu64 "  %8" PRIu64 "  %5" PRIu64 "\n",
                h->cgroup_state == NUMASLAB_STATS_CGROUP_V1 ? "v1" : "v2", lim, use, mar, av, st,
                h->cgroup_refused, h->cgroup_episodes, h->cgroup_trims);
        break;
    }
    case NUMASLAB_STATS_CGROUP_NONE:
        fprintf(f, "%-10s  no memory cgroup: no limit\n", "none");
        break;
    case NUMASLAB_STATS_CGROUP_UNREADABLE:
        fprintf(f, "%-10s  cgroup files unreadable: taken as no limit\n", "unreadable");
        break;
    default:
        fprintf(f, "%-10s  state %" PRIu32 ", unknown to this reader\n", "?", h->cgroup_state);
        break;
    }
}

#endif /* NSLAB_STATFMT_H */
