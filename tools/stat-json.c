/*
 * tools/stat-json.c - numaslab-stat --json: one JSON object per process
 * and reading, on one line, for scripts.  The fields follow the segment's
 * (include/numaslab-stats.h) one for one, grouped as numaslab-stat(1)
 * describes; a part an older layout does not have ("memory", "pages",
 * "cgroup") is null, so a script can tell it from a zero.  Names are
 * written as valid UTF-8 whatever bytes the segment holds.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/stat.h"

/* Length of the valid UTF-8 sequence at s, 0 when it is not one. */
static int utf8_len(const unsigned char *s)
{
    int len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (s[0] >= 0xf8)
        return 0;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

void json_str(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    putchar('"');
    while (*p) {
        if (*p == '"' || *p == '\\') {
            printf("\\%c", *p++);
        } else if (*p < 0x20 || *p == 0x7f) {
            printf("\\u%04x", *p++);
        } else if (*p < 0x80) {
            putchar(*p++);
        } else {
            int len = utf8_len(p);
            if (len) {
                fwrite(p, 1, (size_t)len, stdout);
                p += len;
            } else {
                fputs("\\ufffd", stdout);
                p++;
            }
        }
    }
    putchar('"');
}

static const char *json_bool(int v)
{
    return v ? "true" : "false";
}

/* A byte count, or null for UINT64_MAX (no limit). */
static void json_limit(uint64_t v)
{
    if (v == UINT64_MAX)
        printf("null");
    else
        printf("%" PRIu64, v);
}

/* ", \"cgroup\": {...}": the process's memory cgroup; null in a segment of
 * an older layout. */
static void json_cgroup(const struct nslab_statsnap *s)
{
    const struct numaslab_stats_header *h = &s->h;
    if (!s->have_cg) {
        printf(", \"cgroup\": null");
        return;
    }
    const char *state = h->cgroup_state == NUMASLAB_STATS_CGROUP_V1           ? "v1"
                        : h->cgroup_state == NUMASLAB_STATS_CGROUP_V2         ? "v2"
                        : h->cgroup_state == NUMASLAB_STATS_CGROUP_NONE       ? "none"
                        : h->cgroup_state == NUMASLAB_STATS_CGROUP_UNREADABLE ? "unreadable"
                                                                              : "unknown";
    printf(", \"cgroup\": {\"version\": ");
    if (h->cgroup_state == NUMASLAB_STATS_CGROUP_V1 || h->cgroup_state == NUMASLAB_STATS_CGROUP_V2)
        printf("%" PRIu32, h->cgroup_state);
    else
        printf("null");
    printf(", \"limit\": ");
    json_limit(h->cgroup_limit);
    printf(", \"usage\": %" PRIu64 ", \"margin\": %" PRIu64 ", \"avail\": ", h->cgroup_usage,
           h->cgroup_margin);
    json_limit(h->cgroup_avail);
    printf(", \"short\": %s, \"short_since_ns\": %" PRIu64 ", \"refused\": %" PRIu64
           ", \"episodes\": %" PRIu64 ", \"trims\": %" PRIu64 ", \"state\": \"%s\"}",
           json_bool(h->cgroup_short != 0), h->cgroup_short_since_ns, h->cgroup_refused,
           h->cgroup_episodes, h->cgroup_trims, state);
}

void json_print(const struct nslab_statsnap *s, const char *state, int show_age, int caches)
{
    const struct numaslab_stats_header *h = &s->h;
    printf("{\"pid\": %" PRId32 ", \"comm\": ", h->pid);
    json_str(h->comm);
    printf(", \"state\": \"%s\", \"version\": %" PRIu32 ", \"numaslab\": \"%u.%u.%u\", "
           "\"interval_ms\": %" PRIu32 ", \"updates\": %" PRIu64,
           state, h->version, (h->lib_version >> 16) & 0xff, (h->lib_version >> 8) & 0xff,
           h->lib_version & 0xff, h->interval_ms, h->updates);
    if (show_age) {
        uint64_t now = now_ns();
        if (h->update_ns <= now)
            printf(", \"age_ms\": %" PRIu64, (now - h->update_ns) / 1000000u);
    }
    if (h->machine == NUMASLAB_STATS_MACHINE_SIMULATED)
        printf(", \"machine\": \"simulated\"");
    json_cgroup(s);
    printf(", \"nodes\": [");
    for (uint32_t i = 0; i < h->node_count; i++) {
        const struct numaslab_stats_node_rec *r = &s->nodes[i];
        printf("%s{\"node\": %" PRId32 ", \"active\": %s, \"present\": %s, "
               "\"reserve\": {\"cur\": %" PRId32 ", \"min\": %" PRId32 ", \"bytes\": %" PRIu64
               ", \"min_bytes\": %" PRIu64 ", \"elem_bytes\": %" PRIu64 ", \"used\": %" PRIu64
               ", \"empty\": %" PRIu64 ", \"waiters\": %" PRId32 ", \"out\": %" PRIu64 "}, "
               "\"bytes_mapped\": %" PRIu64 ", \"large_objects\": %" PRIu64 ", "
               "\"objects\": {\"inuse\": %" PRIu64 ", \"total\": %" PRIu64 "}, "
               "\"fallback\": {\"exhausted\": {\"out\": %" PRIu64 ", \"in\": %" PRIu64 "}, "
               "\"inactive\": {\"asked\": %" PRIu64 ", \"served\": %" PRIu64 "}}",
               i ? ", " : "", r->node, json_bool(r->flags & NUMASLAB_STATS_NODE_ACTIVE),
               json_bool(r->flags & NUMASLAB_STATS_NODE_PRESENT), r->reserve_cur, r->reserve_min,
               r->reserve_bytes, r->reserve_min_bytes, r->reserve_elem_bytes, r->reserve_used,
               r->reserve_empty, r->reserve_waiters, r->reserve_out, r->bytes_mapped,
               r->large_objects, r->objects_inuse, r->objects_total, r->fallback_out,
               r->fallback_in, r->inactive_requests, r->inactive_served);
        if (s->have_mem)
            printf(", \"memory\": {\"known\": %s, \"avail\": %" PRIu64 ", \"watermark\": %" PRIu64
                   ", \"short\": %s, \"short_since_ns\": %" PRIu64 ", \"refused\": %" PRIu64
                   ", \"episodes\": %" PRIu64 "}",
                   json_bool(r->mem_known != 0), r->mem_avail, r->low_watermark,
                   json_bool(r->mem_short != 0), r->short_since_ns, r->short_refused,
                   r->short_episodes);
        else
            printf(", \"memory\": null");
        if (s->have_pages)
            printf(", \"pages\": {\"cached\": %" PRIu64 ", \"large_bytes\": %" PRIu64
                   ", \"huge_bytes\": %" PRIu64 "}}",
                   r->page_cached, r->large_bytes, r->huge_bytes);
        else
            printf(", \"pages\": null}");
    }
    printf("]");
    if (caches) {
        printf(", \"caches\": [");
        for (uint32_t i = 0; i < h->cache_count; i++) {
            const struct numaslab_stats_cache_rec *r = &s->caches[i];
            printf("%s{\"name\": ", i ? ", " : "");
            json_str(r->name);
            printf(", \"node\": %" PRId32 ", \"sizeclass\": %s, \"object_size\": %" PRIu32
                   ", \"objects_per_slab\": %" PRIu32 ", \"slab_bytes\": %" PRIu64 ", "
                   "\"objects\": {\"inuse\": %" PRIu64 ", \"total\": %" PRIu64
                   ", \"reserve\": %" PRIu64 "}, \"slabs\": {\"full\": %" PRIu64
                   ", \"partial\": %" PRIu64 ", \"empty\": %" PRIu64 ", \"reserve\": %" PRIu64 "}}",
                   r->node, json_bool(r->flags & NUMASLAB_STATS_CACHE_SIZECLASS), r->object_size,
                   r->objects_per_slab, r->slab_bytes, r->objects_inuse, r->objects_total,
                   r->objects_reserve, r->slabs_full, r->slabs_partial, r->slabs_empty,
                   r->slabs_reserve);
        }
        printf("]");
    }
    printf("}\n");
}
