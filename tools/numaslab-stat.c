/*
 * numaslab-stat - per-node reserve levels, memory headroom, page cache and
 * slab statistics of running processes, read from the segments they publish
 * in /dev/shm
 * (include/numaslab-stats.h), without stopping them.  See numaslab-stat(1).
 *
 * Every segment is read into a private copy under its sequence lock and
 * validated (every size, offset and count against the segment's size)
 * before a single figure is used: a segment may be stale, truncated,
 * garbage, of a newer layout, or changing under us.  A bad input is
 * answered by a message naming it and an exit code below 128, never by a
 * crash; SIGBUS from a file truncated under our mapping included.
 *
 * The tool links no part of the library and takes no lock: it only reads.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "numaslab-stats.h"
#include "lib/statfmt.h"

/* Exit codes (numaslab-stat(1), EXIT STATUS). */
enum {
    EX_OK = 0,
    EX_USAGE = 1,   /* bad arguments */
    EX_NOPROC = 2,  /* no such process, or it publishes no segment */
    EX_STALE = 3,   /* the segment's process is dead, or the pid was reused */
    EX_PERM = 4,    /* permission denied */
    EX_CORRUPT = 5, /* truncated, empty, garbage, or stuck mid-update */
    EX_NEWER = 6,   /* a layout version newer than this tool */
    EX_OTHER = 7,   /* out of memory, I/O error */
};

#define READ_TRIES      200 /* an update keeps seq odd for microseconds */
#define READ_BACKOFF_NS 500000L
#define MAX_REC_SIZE    (1u << 16) /* sanity bound on a record's size tag */

static const char *prog = "numaslab-stat";

static struct {
    long pid;         /* -p; 0: none */
    const char *file; /* --file */
    const char *dir;  /* --dir */
    int caches, json, gc;
    double watch; /* seconds; 0: once */
    long count;   /* --count; 0: unbounded */
} opt = {.dir = NUMASLAB_STATS_DIR};

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ------------------------------------------------------------------------
 * Reading a segment
 * ---------------------------------------------------------------------- */

/* A validated private copy; header and records normalised to this tool's
 * sizes, the fields the segment does not have set to 0. */
struct snap {
    struct numaslab_stats_header h;
    struct numaslab_stats_node_rec *nodes;   /* [h.node_count] */
    struct numaslab_stats_cache_rec *caches; /* [h.cache_count] */
    int have_mem;                            /* the node records have the running-short fields */
    int have_pages;                          /* ... and the page layer's */
    int have_cg;                             /* the header has the memory cgroup's fields */
};

static void snap_free(struct snap *s)
{
    free(s->nodes);
    free(s->caches);
    s->nodes = NULL;
    s->caches = NULL;
}

/* SIGBUS, if another process truncates the file under our mapping, ends
 * the copy instead of the program. */
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
    if (bus_armed)
        siglongjmp(bus_jmp, 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

/* A byte-swapped magic: written on a host of the other byte order. */
static uint64_t bswap64(uint64_t v)
{
    return __builtin_bswap64(v);
}

/* Check a header copy against the segment's size.  0, EX_CORRUPT or
 * EX_NEWER with err set; -1: all zero (not made yet, or empty). */
static int check_header(const struct numaslab_stats_header *h, uint64_t size, char *err, size_t n)
{
    if (h->magic != NUMASLAB_STATS_MAGIC) {
        if (all_zero(h, size < sizeof(*h) ? (size_t)size : sizeof(*h)))
            return -1;
        if (h->magic == bswap64(NUMASLAB_STATS_MAGIC))
            snprintf(err, n, "written on a host of the other byte order");
        else
            snprintf(err, n, "not a numaslab statistics segment (magic 0x%016" PRIx64 ")",
                     h->magic);
        return EX_CORRUPT;
    }
    if (h->version > NUMASLAB_STATS_VERSION) {
        snprintf(err, n,
                 "layout version %" PRIu32 " is newer than this numaslab-stat reads (%u); "
                 "use the numaslab-stat of the library the process runs",
                 h->version, NUMASLAB_STATS_VERSION);
        return EX_NEWER;
    }
    if (h->version < 1) {
        snprintf(err, n, "layout version 0 does not exist");
        return EX_CORRUPT;
    }
    if (size < NUMASLAB_STATS_HEADER_SIZE_MIN) {
        snprintf(err, n, "truncated: %" PRIu64 " bytes, less than a header (%u)", size,
                 NUMASLAB_STATS_HEADER_SIZE_MIN);
        return EX_CORRUPT;
    }
    if (h->total_size != size) {
        snprintf(err, n, "%s: the file has %" PRIu64 " bytes, its header says %" PRIu64,
                 size < h->total_size ? "truncated" : "longer than its header says", size,
                 h->total_size);
        return EX_CORRUPT;
    }
    if (h->header_size < NUMASLAB_STATS_HEADER_SIZE_MIN || h->header_size > size) {
        snprintf(err, n, "header size %" PRIu32 " out of range (%u..%" PRIu64 ")", h->header_size,
                 NUMASLAB_STATS_HEADER_SIZE_MIN, size);
        return EX_CORRUPT;
    }
    if (h->pid <= 0) {
        snprintf(err, n, "process id %" PRId32 " is not valid", h->pid);
        return EX_CORRUPT;
    }
    struct {
        const char *what;
        uint32_t off, rec, cap, count;
        size_t min;
    } part[2] = {
        {"node", h->node_off, h->node_rec_size, h->node_cap, h->node_count,
         NUMASLAB_STATS_NODE_REC_SIZE_MIN},
        {"cache", h->cache_off, h->cache_rec_size, h->cache_cap, h->cache_count,
         NUMASLAB_STATS_CACHE_REC_SIZE_MIN},
    };
    for (int i = 0; i < 2; i++) {
        if (part[i].rec < part[i].min || part[i].rec > MAX_REC_SIZE) {
            snprintf(err, n, "%s record size %" PRIu32 " out of range (%zu..%u)", part[i].what,
                     part[i].rec, part[i].min, MAX_REC_SIZE);
            return EX_CORRUPT;
        }
        if (part[i].off < h->header_size ||
            (uint64_t)part[i].off + (uint64_t)part[i].cap * part[i].rec > size) {
            snprintf(err, n,
                     "%s records (%" PRIu32 " of %" PRIu32 " bytes at offset %" PRIu32
                     ") do not fit in %" PRIu64 " bytes after the header",
                     part[i].what, part[i].cap, part[i].rec, part[i].off, size);
            return EX_CORRUPT;
        }
        if (part[i].count > part[i].cap) {
            snprintf(err, n, "%" PRIu32 " %s records in use, room for %" PRIu32, part[i].count,
                     part[i].what, part[i].cap);
            return EX_CORRUPT;
        }
    }
    return 0;
}

/* Copy count records of rec bytes at off into a private array of elem
 * bytes each (the fields this tool knows; those of a shorter, older
 * record stay 0).  NULL only when out of memory. */
static void *copy_recs(const char *map, uint32_t off, uint32_t rec, uint32_t count, size_t elem)
{
    char *v = calloc(count ? count : 1, elem);
    size_t take = rec < elem ? rec : elem;
    if (!v)
        return NULL;
    for (uint32_t i = 0; i < count; i++)
        memcpy(v + (size_t)i * elem, map + off + (size_t)i * rec, take);
    return v;
}

/*
 * Read the segment at path into *s.  Returns EX_OK, or an exit code with
 * err set; *err_errno gets errno for open failures (ENOENT lets callers
 * say "no such process").  The sequence lock's reader side: see
 * numaslab-stats.h.
 */
static int read_segment(const char *path, struct snap *s, char *err, size_t n, int *err_errno)
{
    struct stat st;
    *err_errno = 0;
    memset(s, 0, sizeof(*s));
    /* O_NONBLOCK: a FIFO planted under the name must not hang us;
     * O_NOFOLLOW: nor may a link make us read another file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        *err_errno = errno;
        if (errno == EACCES || errno == EPERM) {
            snprintf(err, n, "permission denied (run as the process's user, or as root)");
            return EX_PERM;
        }
        if (errno == ELOOP) {
            snprintf(err, n, "a symbolic link, not a segment");
            return EX_CORRUPT;
        }
        snprintf(err, n, "%s", strerror(errno));
        return errno == ENOENT ? EX_NOPROC : EX_OTHER;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(err, n, "fstat: %s", strerror(errno));
        close(fd);
        return EX_OTHER;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, n, "not a regular file");
        close(fd);
        return EX_CORRUPT;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0) {
        close(fd);
        snprintf(err, n, "empty (0 bytes)");
        return EX_CORRUPT;
    }
    if (size < offsetof(struct numaslab_stats_header, seq) + sizeof(uint64_t)) {
        /* Too short for a sequence number; its magic and version may
         * still tell a newer layout from garbage. */
        struct numaslab_stats_header h;
        memset(&h, 0, sizeof(h));
        ssize_t got = pread(fd, &h, (size_t)size, 0);
        close(fd);
        if (got == (ssize_t)size && h.magic == NUMASLAB_STATS_MAGIC &&
            h.version > NUMASLAB_STATS_VERSION)
            return check_header(&h, size, err, n);
        snprintf(err, n, "truncated: %" PRIu64 " bytes, less than a header (%u)", size,
                 NUMASLAB_STATS_HEADER_SIZE_MIN);
        return EX_CORRUPT;
    }
    if (size > SIZE_MAX / 2) {
        close(fd);
        snprintf(err, n, "implausibly large (%" PRIu64 " bytes)", size);
        return EX_CORRUPT;
    }
    const char *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, n, "mmap: %s", strerror(errno));
        return EX_OTHER;
    }

    const uint64_t *seqp = (const uint64_t *)(map + offsetof(struct numaslab_stats_header, seq));
    size_t hsz = size < sizeof(s->h) ? (size_t)size : sizeof(s->h);
    int rc = EX_CORRUPT;
    uint64_t s1 = 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old);
    if (sigsetjmp(bus_jmp, 1)) {
        bus_armed = 0;
        snap_free(s);
        snprintf(err, n, "truncated while being read");
        rc = EX_CORRUPT;
        goto out;
    }
    bus_armed = 1;
    for (int t = 0; t < READ_TRIES; t++) {
        if (t) {
            struct timespec ts = {0, READ_BACKOFF_NS};
            nanosleep(&ts, NULL);
        }
        snap_free(s);
        /* Partner: the writer's release store of the even seq. */
        s1 = __atomic_load_n(seqp, __ATOMIC_ACQUIRE);
        if (s1 & 1) {
            /* An update is under way, or garbage: no writer ever leaves a
             * magic other than 0 (being made) or the right one. */
            uint64_t m;
            memcpy(&m, map, sizeof(m));
            if (m != 0 && m != NUMASLAB_STATS_MAGIC) {
                memcpy(&s->h, map, hsz);
                rc = check_header(&s->h, size, err, n);
                goto out;
            }
            continue;
        }
        /* A racy copy: the seq check below throws a torn one away. */
        memset(&s->h, 0, sizeof(s->h));
        memcpy(&s->h, map, hsz);
        rc = check_header(&s->h, size, err, n);
        if (rc == 0) {
            /* An older, shorter header: what follows it is not ours. */
            if (s->h.header_size < sizeof(s->h))
                memset((char *)&s->h + s->h.header_size, 0, sizeof(s->h) - s->h.header_size);
            s->have_cg = s->h.header_size >= NUMASLAB_STATS_HEADER_SIZE_CGROUP;
            s->have_mem = s->h.node_rec_size >= NUMASLAB_STATS_NODE_REC_SIZE_MEM;
            s->have_pages = s->h.node_rec_size >= NUMASLAB_STATS_NODE_REC_SIZE_PAGES;
            s->nodes = copy_recs(map, s->h.node_off, s->h.node_rec_size, s->h.node_count,
                                 sizeof(*s->nodes));
            s->caches = copy_recs(map, s->h.cache_off, s->h.cache_rec_size, s->h.cache_count,
                                  sizeof(*s->caches));
            if (!s->nodes || !s->caches) {
                snprintf(err, n, "out of memory");
                rc = EX_OTHER;
            }
        }
        /* Partner: the writer's release fence after making seq odd. */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(seqp, __ATOMIC_RELAXED) != s1)
            continue; /* torn */
        if (rc == -1)
            continue; /* all zero: maybe being made; give it the tries */
        goto out;
    }
    snap_free(s);
    if (rc == -1)
        snprintf(err, n, "empty (all zero: never written)");
    else if (s1 & 1)
        snprintf(err, n,
                 "stuck mid-update (sequence %" PRIu64 " stays odd): its writer died or "
                 "is stopped",
                 s1);
    else
        snprintf(err, n, "changing too fast to be read");
    rc = EX_CORRUPT;
out:
    bus_armed = 0;
    sigaction(SIGBUS, &old, NULL);
    munmap((void *)map, (size_t)size);
    if (rc == EX_OK) {
        s->h.comm[sizeof(s->h.comm) - 1] = '\0';
        /* A live segment keeps a record per cache id and node; an id no
         * cache has is all zero: left out. */
        uint32_t k = 0;
        for (uint32_t i = 0; i < s->h.cache_count; i++) {
            s->caches[i].name[sizeof(s->caches[i].name) - 1] = '\0';
            if (s->caches[i].name[0] || s->caches[i].object_size)
                s->caches[k++] = s->caches[i];
        }
        s->h.cache_count = k;
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Is the process alive, and is it the one that made the segment?
 * ---------------------------------------------------------------------- */

enum life { ALIVE, GONE, REUSED, EXECED };

/* /proc/PID/stat: state (field 3) and starttime (field 22); 0 or -1. */
static int proc_stat(long pid, char *state, uint64_t *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (got <= 0)
        return -1;
    buf[got] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return -1;
        if (field == 3)
            *state = *p;
        else if (field == 22)
            *start = strtoull(p, NULL, 10);
        while (*p && *p != ' ')
            p++;
    }
    return 0;
}

static int pid_exists(long pid)
{
    /* EPERM: it exists, and is another user's. */
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* The life of pid against a (validated) header.  h NULL: existence only. */
static enum life process_life(long pid, const struct numaslab_stats_header *h)
{
    char state = 0;
    uint64_t start = 0;
    struct stat st;
    char exe[64];

    if (pid <= 0 || pid > INT_MAX || !pid_exists(pid))
        return GONE;
    if (proc_stat(pid, &state, &start) != 0)
        return pid_exists(pid) ? ALIVE : GONE; /* hidden /proc: trust kill() */
    if (state == 'Z' || state == 'X')
        return GONE; /* killed, not yet reaped */
    if (!h)
        return ALIVE;
    if (h->start_time && start != h->start_time)
        return REUSED;
    snprintf(exe, sizeof(exe), "/proc/%ld/exe", pid);
    if ((h->exe_dev || h->exe_ino) && stat(exe, &st) == 0 &&
        ((uint64_t)st.st_dev != h->exe_dev || (uint64_t)st.st_ino != h->exe_ino))
        return EXECED;
    return ALIVE;
}

static const char *life_why(enum life l)
{
    switch (l) {
    case GONE:
        return "is not running";
    case REUSED:
        return "now belongs to another process (its start time differs)";
    case EXECED:
        return "has executed another program since";
    default:
        return "is running";
    }
}

/* ------------------------------------------------------------------------
 * Formatting
 * ---------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A name as a table shows it: unprintable bytes become '?'. */
static const char *plain(char *buf, size_t n, const char *s)
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

static void print_title(const struct snap *s, const char *state, int show_age)
{
    char comm[32];
    const struct numaslab_stats_header *h = &s->h;
    char every[32] = "live";
    if (h->interval_ms) /* a segment refreshed by a publisher thread (older versions) */
        snprintf(every, sizeof(every), "every %" PRIu32 " ms", h->interval_ms);
    printf("pid %" PRId32 " (%s), numaslab %u.%u.%u: %" PRIu32 " of %lld nodes active; "
           "update %" PRIu64 " (%s)",
           h->pid, plain(comm, sizeof(comm), h->comm), (h->lib_version >> 16) & 0xff,
           (h->lib_version >> 8) & 0xff, h->lib_version & 0xff, h->nactive,
           (long long)h->max_node + 1, h->updates, every);
    if (show_age) {
        uint64_t now = now_ns();
        if (h->update_ns <= now)
            printf(", %.1f s ago", (double)(now - h->update_ns) / 1e9);
    }
    if (state)
        printf(" [%s]", state);
    printf("\n\n");
}

static void print_tables(const struct snap *s)
{
    char a[32], b[32], c[48];
    const struct numaslab_stats_header *h = &s->h;

    printf("%4s  %-8s  %-17s  %11s  %13s  %6s  %6s  %4s\n", "NODE", "STATE", "RESERVE LEVEL",
           "ELEMENTS", "BYTES", "USED", "EMPTY", "WAIT");
    for (uint32_t i = 0; i < h->node_count; i++) {
        const struct numaslab_stats_node_rec *r = &s->nodes[i];
        if (!(r->flags & NUMASLAB_STATS_NODE_ACTIVE)) {
            printf("%4" PRId32 "  %-8s  -\n", r->node, node_state(r));
            continue;
        }
        char el[32], by[72];
        snprintf(el, sizeof(el), "%" PRId32 "/%" PRId32, r->reserve_cur, r->reserve_min);
        snprintf(by, sizeof(by), "%s/%s", nslab_fmt_bytes(a, sizeof(a), r->reserve_bytes),
                 nslab_fmt_bytes(b, sizeof(b), r->reserve_min_bytes));
        printf("%4" PRId32 "  %-8s  %-17s  %11s  %13s  %6" PRIu64 "  %6" PRIu64 "  %4" PRId32 "\n",
               r->node, node_state(r), nslab_fmt_bar(c, sizeof(c), r->reserve_cur, r->reserve_min), el,
               by, r->reserve_used, r->reserve_empty, r->reserve_waiters);
    }
    printf("\n%4s  %8s  %20s  %6s  %16s  %21s\n", "NODE", "MAPPED", "OBJECTS INUSE/TOTAL", "LARGE",
           "EXHAUSTED OUT/IN", "INACTIVE ASKED/SERVED");
    for (uint32_t i = 0; i < h->node_count; i++) {
        const struct numaslab_stats_node_rec *r = &s->nodes[i];
        char obj[48], exh[48], ina[48];
        snprintf(obj, sizeof(obj), "%" PRIu64 "/%" PRIu64, r->objects_inuse, r->objects_total);
        snprintf(exh, sizeof(exh), "%" PRIu64 "/%" PRIu64, r->fallback_out, r->fallback_in);
        snprintf(ina, sizeof(ina), "%" PRIu64 "/%" PRIu64, r->inactive_requests,
                 r->inactive_served);
        printf("%4" PRId32 "  %8s  %20s  %6" PRIu64 "  %16s  %21s\n", r->node,
               nslab_fmt_bytes(a, sizeof(a), r->bytes_mapped), obj, r->large_objects, exh, ina);
    }
    nslab_print_pages(stdout, h, s->nodes, s->have_pages);
    /* "short for" runs to the reading's moment, not to ours. */
    nslab_print_headroom(stdout, h, s->nodes, s->have_mem, s->have_cg, h->update_ns);
    if (!opt.caches)
        return;
    printf("\n%-31s %4s %8s %9s %9s %8s %6s %6s %7s %6s %7s %8s\n", "CACHE", "NODE", "OBJSIZE",
           "INUSE", "TOTAL", "OBJ/SLAB", "SLAB", "FULL", "PARTIAL", "EMPTY", "RESERVE", "RSV-OBJS");
    for (uint32_t i = 0; i < h->cache_count; i++) {
        const struct numaslab_stats_cache_rec *r = &s->caches[i];
        char name[32];
        if (!r->objects_total && !r->objects_inuse && !r->slabs_reserve)
            continue; /* no slab on that node: noise (--json lists it) */
        printf("%-31s %4" PRId32 " %8" PRIu32 " %9" PRIu64 " %9" PRIu64 " %8" PRIu32
               " %6s %6" PRIu64 " %7" PRIu64 " %6" PRIu64 " %7" PRIu64 " %8" PRIu64 "\n",
               plain(name, sizeof(name), r->name), r->node, r->object_size, r->objects_inuse,
               r->objects_total, r->objects_per_slab, nslab_fmt_bytes(a, sizeof(a), r->slab_bytes),
               r->slabs_full, r->slabs_partial, r->slabs_empty, r->slabs_reserve,
               r->objects_reserve);
    }
}

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

/* A JSON string: escapes, and U+FFFD for bytes that are not UTF-8. */
static void json_str(const char *s)
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
static void print_json_cgroup(const struct snap *s)
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

static void print_json(const struct snap *s, const char *state, int show_age)
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
    print_json_cgroup(s);
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
    if (opt.caches) {
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

/* ------------------------------------------------------------------------
 * Commands
 * ---------------------------------------------------------------------- */

static void seg_path(char *buf, size_t n, long pid)
{
    snprintf(buf, n, "%s/%s%ld", opt.dir, NUMASLAB_STATS_PREFIX, pid);
}

/* One reading of -p PID (or --file): print it.  An exit code. */
static int show_one(void)
{
    char path[PATH_MAX], err[256];
    struct snap s;
    int e, rc;

    if (opt.file)
        snprintf(path, sizeof(path), "%s", opt.file);
    else
        seg_path(path, sizeof(path), opt.pid);
    rc = read_segment(path, &s, err, sizeof(err), &e);
    if (opt.file) {
        if (rc) {
            msg("%s: %s", path, err);
            return rc;
        }
    } else {
        enum life l = process_life(opt.pid, rc == EX_OK ? &s.h : NULL);
        if (rc == EX_NOPROC) {
            if (l == GONE)
                msg("no process %ld (and no segment %s)", opt.pid, path);
            else
                msg("process %ld publishes no numaslab statistics (no %s): it does not use "
                    "numaslab, runs with NUMASLAB_STATS=0, or has not initialised it yet",
                    opt.pid, path);
            return EX_NOPROC;
        }
        if (l != ALIVE) {
            msg("%s is stale: process %ld %s; numaslab-stat --gc removes it", path, opt.pid,
                life_why(l));
            snap_free(&s);
            return EX_STALE;
        }
        if (rc) {
            msg("%s: %s", path, err);
            return rc;
        }
        if (s.h.pid != opt.pid) {
            msg("%s: claims to be the segment of process %" PRId32 ", not %ld", path, s.h.pid,
                opt.pid);
            snap_free(&s);
            return EX_CORRUPT;
        }
    }
    if (opt.json) {
        print_json(&s, opt.file ? "snapshot" : "live", !opt.file);
    } else {
        print_title(&s, NULL, !opt.file);
        print_tables(&s);
    }
    snap_free(&s);
    return EX_OK;
}

/* Segments in opt.dir, by pid; *n of them.  NULL with *n = 0 when none. */
static long *list_pids(size_t *n, int *rc)
{
    DIR *d = opendir(opt.dir);
    long *v = NULL;
    size_t cap = 0;
    struct dirent *de;
    *n = 0;
    *rc = EX_OK;
    if (!d) {
        int e = errno;
        msg("cannot list %s: %s", opt.dir, strerror(e));
        *rc = e == ENOENT ? EX_NOPROC : e == EACCES ? EX_PERM : EX_OTHER;
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
                *rc = EX_OTHER;
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
static int list_all(void)
{
    size_t n;
    int rc;
    long *pids = list_pids(&n, &rc);
    if (rc)
        return rc;
    if (!opt.json)
        printf("%7s  %-16s  %5s  %-7s  %s\n", "PID", "COMMAND", "NODES", "STATE", "NOTE");
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX], err[256], comm[32], nodes[32];
        struct snap s;
        int e;
        seg_path(path, sizeof(path), pids[i]);
        int r = read_segment(path, &s, err, sizeof(err), &e);
        if (r == EX_NOPROC)
            continue; /* removed since we listed it */
        enum life l = process_life(pids[i], r == EX_OK ? &s.h : NULL);
        const char *state = l != ALIVE      ? "stale"
                            : r == EX_OK    ? "live"
                            : r == EX_PERM  ? "denied"
                            : r == EX_NEWER ? "newer"
                                            : "corrupt";
        if (r == EX_OK && s.h.pid != pids[i]) {
            state = "corrupt";
            snprintf(err, sizeof(err), "claims to be the segment of process %" PRId32, s.h.pid);
            r = EX_CORRUPT;
        }
        if (opt.json) {
            if (r == EX_OK) {
                print_json(&s, state, l == ALIVE);
            } else {
                printf("{\"pid\": %ld, \"state\": \"%s\", \"error\": ", pids[i], state);
                json_str(l != ALIVE ? life_why(l) : err);
                printf(", \"nodes\": []}\n");
            }
        } else {
            char note[320];
            if (l != ALIVE)
                snprintf(note, sizeof(note), "process %s", life_why(l));
            else if (r != EX_OK)
                snprintf(note, sizeof(note), "%s", err);
            else if (s.h.update_ns <= now_ns())
                snprintf(note, sizeof(note), "updated %.1f s ago",
                         (double)(now_ns() - s.h.update_ns) / 1e9);
            else
                note[0] = '\0';
            if (r == EX_OK)
                snprintf(nodes, sizeof(nodes), "%" PRIu32 "/%lld", s.h.nactive,
                         (long long)s.h.max_node + 1);
            else
                snprintf(nodes, sizeof(nodes), "-");
            printf("%7ld  %-16s  %5s  %-7s  %s\n", pids[i],
                   r == EX_OK ? plain(comm, sizeof(comm), s.h.comm) : "?", nodes, state, note);
        }
        snap_free(&s);
    }
    free(pids);
    return EX_OK;
}

/* --gc: remove the segments whose process is gone, or is not the one
 * that made them.  A live process's segment is never removed. */
static int gc(void)
{
    size_t n;
    int rc, worst = EX_OK, removed = 0;
    long *pids = list_pids(&n, &rc);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX], err[256];
        struct snap s;
        int e;
        seg_path(path, sizeof(path), pids[i]);
        int r = read_segment(path, &s, err, sizeof(err), &e);
        enum life l = process_life(pids[i], r == EX_OK ? &s.h : NULL);
        snap_free(&s);
        if (r == EX_NOPROC || l == ALIVE)
            continue;
        if (unlink(path) != 0) {
            msg("cannot remove %s: %s", path, strerror(errno));
            worst = (errno == EACCES || errno == EPERM) ? EX_PERM : EX_OTHER;
            continue;
        }
        printf("removed %s: process %ld %s\n", path, pids[i], life_why(l));
        removed++;
    }
    printf("%d stale segment%s removed\n", removed, removed == 1 ? "" : "s");
    free(pids);
    return worst;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s [--json] [--watch SECONDS [--count N]]\n"
            "       %s -p PID [--caches] [--json] [--watch SECONDS [--count N]]\n"
            "       %s --gc\n"
            "Per-node reserve levels, memory headroom, page cache and slab statistics\n"
            "of processes using numaslab.\n"
            "\n"
            "  (no -p)              list the processes that publish statistics\n"
            "  -p, --pid PID        per-node tables of process PID\n"
            "  -c, --caches         add the per-cache table (like /proc/slabinfo)\n"
            "  -j, --json           one JSON object per process\n"
            "  -w, --watch SECONDS  print again every SECONDS (like vmstat)\n"
            "  -n, --count N        with --watch: stop after N readings\n"
            "      --gc             remove stale segments (their process is gone)\n"
            "  -f, --file PATH      read a segment file instead of a process (debugging)\n"
            "  -d, --dir DIR        look for segments in DIR, not %s (debugging)\n"
            "  -h, --help           this help\n"
            "  -V, --version        version\n"
            "\n"
            "Exit status: 0 ok, 1 bad arguments, 2 no such process or no segment,\n"
            "3 stale segment (process gone), 4 permission denied, 5 corrupt, truncated\n"
            "or empty segment, 6 segment of a newer layout, 7 other error.\n",
            prog, prog, prog, NUMASLAB_STATS_DIR);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    va_end(ap);
    return EX_USAGE;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void sleep_until(struct timespec *t, double seconds)
{
    time_t whole = (time_t)seconds;
    t->tv_sec += whole;
    t->tv_nsec += (long)((seconds - (double)whole) * 1e9);
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR)
        ;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"pid", required_argument, NULL, 'p'},
        {"caches", no_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"watch", required_argument, NULL, 'w'},
        {"count", required_argument, NULL, 'n'},
        {"gc", no_argument, NULL, 'g'},
        {"file", required_argument, NULL, 'f'},
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c, count_set = 0;
    char *end;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:cjw:n:f:d:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (opt.pid)
                return usage_error("-p given twice");
            if (parse_long(optarg, 1, INT_MAX, &opt.pid))
                return usage_error("-p: \"%s\" is not a process id", optarg);
            break;
        case 'c':
            opt.caches = 1;
            break;
        case 'j':
            opt.json = 1;
            break;
        case 'g':
            opt.gc = 1;
            break;
        case 'w':
            errno = 0;
            opt.watch = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(opt.watch > 0) || opt.watch > 86400)
                return usage_error("--watch: \"%s\" is not a number of seconds in (0, 86400]",
                                   optarg);
            break;
        case 'n':
            if (parse_long(optarg, 1, LONG_MAX, &opt.count))
                return usage_error("--count: \"%s\" is not a positive count", optarg);
            count_set = 1;
            break;
        case 'f':
            if (!*optarg)
                return usage_error("--file: empty path");
            opt.file = optarg;
            break;
        case 'd':
            if (!*optarg)
                return usage_error("--dir: empty path");
            opt.dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return EX_OK;
        case 'V':
            printf("numaslab-stat (%s) %s, segment layout %u\n", PACKAGE_NAME, PACKAGE_VERSION,
                   NUMASLAB_STATS_VERSION);
            return EX_OK;
        case ':':
            return usage_error("%s needs an argument", argv[optind - 1]);
        default:
            if (optopt)
                return usage_error("unknown option -%c", optopt);
            return usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        long pid;
        if (parse_long(argv[optind], 1, INT_MAX, &pid) == 0)
            return usage_error("unexpected argument \"%s\" (did you mean -p %s?)", argv[optind],
                               argv[optind]);
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    }
    if (opt.gc && (opt.pid || opt.file || opt.json || opt.caches || opt.watch > 0 || count_set))
        return usage_error("--gc takes no other option but --dir");
    if (opt.file && opt.pid)
        return usage_error("-p and --file exclude each other");
    if (count_set && !(opt.watch > 0))
        return usage_error("--count needs --watch");

    if (opt.gc)
        return gc();
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    for (long i = 0;; i++) {
        int rc = (opt.pid || opt.file) ? show_one() : list_all();
        fflush(stdout);
        if (rc || !(opt.watch > 0) || (opt.count && i + 1 >= opt.count))
            return rc;
        sleep_until(&t, opt.watch);
        if (!opt.json)
            putchar('\n');
    }
}
