/*
 * lib/stattable.c - the tables of numaslab-stat(1) and of
 * numaslab_stats_print, written once from a struct nslab_statsnap
 * (lib/statread.h): each node's reserve level, its mapped bytes, objects
 * and fallbacks, the page layer, the running-short readings and the
 * memory cgroup, and the per-cache table.  How a figure looks (byte
 * counts, the reserve bar, "short for") is decided here too, so a table
 * reads the same whichever of the two printed it.  numaslab-stat(1)
 * describes the columns.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/statread.h"

/* ------------------------------------------------------------------------
 * Figures
 * ---------------------------------------------------------------------- */

/* 512, 1.4K, 64K, 12.5M, 512M: binary units, one decimal below 100. */
static const char *fmt_bytes(char *buf, size_t n, uint64_t v)
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
static const char *fmt_bar(char *buf, size_t n, int32_t cur, int32_t min)
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
static const char *fmt_short(char *buf, size_t n, int is_short, uint64_t since_ns, uint64_t now_ns)
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
static const char *fmt_limit(char *buf, size_t n, uint64_t v)
{
    if (v == UINT64_MAX) {
        snprintf(buf, n, "-");
        return buf;
    }
    return fmt_bytes(buf, n, v);
}

/* A name as a table shows it: unprintable bytes become '?'. */
const char *nslab_stat_plain(char *buf, size_t n, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    buf[i] = '\0';
    return buf;
}

static const char *node_state(const struct numaslab_stats_node_rec *r)
{
    if (r->flags & NUMASLAB_STATS_NODE_ACTIVE)
        return "active";
    return (r->flags & NUMASLAB_STATS_NODE_PRESENT) ? "inactive" : "absent";
}

/* ------------------------------------------------------------------------
 * Tables
 * ---------------------------------------------------------------------- */

/*
 * The page layer (numaslab(7), LARGE OBJECTS AND THE PAGE CACHE): per
 * node, the bytes of freed runs kept for reuse, and the bytes of large
 * objects in use, of which those offered to transparent huge pages.  All
 * three are part of the node's MAPPED.
 *   nodes: h->node_count records;
 *   have_pages: the segment carries those fields (an older layout does
 *     not).
 */
static void print_pages(FILE *f, const struct numaslab_stats_header *h,
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
                fmt_bytes(a, sizeof(a), r->page_cached), fmt_bytes(b, sizeof(b), r->large_bytes),
                fmt_bytes(c, sizeof(c), r->huge_bytes));
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
static void print_headroom(FILE *f, const struct numaslab_stats_header *h,
                           const struct numaslab_stats_node_rec *nodes, int have_mem, int have_cg,
                           uint64_t now_ns)
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
                fprintf(f, "%4" PRId32 "  %9s  %9s  %-18s", r->node,
                        fmt_bytes(a, sizeof(a), r->mem_avail),
                        fmt_bytes(b, sizeof(b), r->low_watermark),
                        fmt_short(c, sizeof(c), r->mem_short != 0, r->short_since_ns, now_ns));
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
            fmt_bytes(lim, sizeof(lim), h->cgroup_limit);
            fmt_bytes(mar, sizeof(mar), h->cgroup_margin);
            fmt_limit(av, sizeof(av), h->cgroup_avail);
        }
        fmt_bytes(use, sizeof(use), h->cgroup_usage);
        fmt_short(st, sizeof(st), h->cgroup_short != 0, h->cgroup_short_since_ns, now_ns);
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

void nslab_stat_print_tables(FILE *f, const struct nslab_statsnap *s, int caches, uint64_t now_ns)
{
    char a[32], b[32], c[48];
    const struct numaslab_stats_header *h = &s->h;

    fprintf(f, "%4s  %-8s  %-17s  %11s  %13s  %6s  %6s  %4s\n", "NODE", "STATE", "RESERVE LEVEL",
            "ELEMENTS", "BYTES", "USED", "EMPTY", "WAIT");
    for (uint32_t i = 0; i < h->node_count; i++) {
        const struct numaslab_stats_node_rec *r = &s->nodes[i];
        if (!(r->flags & NUMASLAB_STATS_NODE_ACTIVE)) {
            fprintf(f, "%4" PRId32 "  %-8s  -\n", r->node, node_state(r));
            continue;
        }
        char el[32], by[72];
        snprintf(el, sizeof(el), "%" PRId32 "/%" PRId32, r->reserve_cur, r->reserve_min);
        snprintf(by, sizeof(by), "%s/%s", fmt_bytes(a, sizeof(a), r->reserve_bytes),
                 fmt_bytes(b, sizeof(b), r->reserve_min_bytes));
        fprintf(f,
                "%4" PRId32 "  %-8s  %-17s  %11s  %13s  %6" PRIu64 "  %6" PRIu64 "  %4" PRId32 "\n",
                r->node, node_state(r), fmt_bar(c, sizeof(c), r->reserve_cur, r->reserve_min), el,
                by, r->reserve_used, r->reserve_empty, r->reserve_waiters);
    }
    fprintf(f, "\n%4s  %8s  %20s  %6s  %16s  %21s\n", "NODE", "MAPPED", "OBJECTS INUSE/TOTAL",
            "LARGE", "EXHAUSTED OUT/IN", "INACTIVE ASKED/SERVED");
    for (uint32_t i = 0; i < h->node_count; i++) {
        const struct numaslab_stats_node_rec *r = &s->nodes[i];
        char obj[48], exh[48], ina[48];
        snprintf(obj, sizeof(obj), "%" PRIu64 "/%" PRIu64, r->objects_inuse, r->objects_total);
        snprintf(exh, sizeof(exh), "%" PRIu64 "/%" PRIu64, r->fallback_out, r->fallback_in);
        snprintf(ina, sizeof(ina), "%" PRIu64 "/%" PRIu64, r->inactive_requests,
                 r->inactive_served);
        fprintf(f, "%4" PRId32 "  %8s  %20s  %6" PRIu64 "  %16s  %21s\n", r->node,
                fmt_bytes(a, sizeof(a), r->bytes_mapped), obj, r->large_objects, exh, ina);
    }
    print_pages(f, h, s->nodes, s->have_pages);
    print_headroom(f, h, s->nodes, s->have_mem, s->have_cg, now_ns);
    if (!caches)
        return;
    fprintf(f, "\n%-31s %4s %8s %9s %9s %8s %6s %6s %7s %6s %7s %8s\n", "CACHE", "NODE", "OBJSIZE",
            "INUSE", "TOTAL", "OBJ/SLAB", "SLAB", "FULL", "PARTIAL", "EMPTY", "RESERVE",
            "RSV-OBJS");
    for (uint32_t i = 0; i < h->cache_count; i++) {
        const struct numaslab_stats_cache_rec *r = &s->caches[i];
        char name[32];
        if (!r->objects_total && !r->objects_inuse && !r->slabs_reserve)
            continue; /* no slab on that node: noise (--json lists it) */
        fprintf(f,
                "%-31s %4" PRId32 " %8" PRIu32 " %9" PRIu64 " %9" PRIu64 " %8" PRIu32
                " %6s %6" PRIu64 " %7" PRIu64 " %6" PRIu64 " %7" PRIu64 " %8" PRIu64 "\n",
                nslab_stat_plain(name, sizeof(name), r->name), r->node, r->object_size,
                r->objects_inuse, r->objects_total, r->objects_per_slab,
                fmt_bytes(a, sizeof(a), r->slab_bytes), r->slabs_full, r->slabs_partial,
                r->slabs_empty, r->slabs_reserve, r->objects_reserve);
    }
}
