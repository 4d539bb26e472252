/*
 * lib/statfmt.h - how figures look in numaslab_stats_print and in
 * numaslab-stat(1), which share no code otherwise (the tool links no part
 * of the library): byte counts and the reserve bar.
 */
#ifndef NSLAB_STATFMT_H
#define NSLAB_STATFMT_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

#endif /* NSLAB_STATFMT_H */
