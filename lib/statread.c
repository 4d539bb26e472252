/*
 * lib/statread.c - reading a statistics segment (include/numaslab-stats.h)
 * into a validated private copy, struct nslab_statsnap (lib/statread.h).
 * numaslab-stat(1) reads other processes' segment files with it, under
 * their sequence lock, and numaslab_stats_print copies the library's own
 * snapshot with it, so that both print from the same normalised copy.
 *
 * Every size, offset and count is checked against the segment's size
 * before a single figure is used: a segment may be stale, truncated,
 * garbage, of a newer layout, or changing under us.  A bad input is
 * answered by a message naming it and an NSLAB_EX_* code, never by a
 * crash; SIGBUS from a file truncated under our mapping included.  Only
 * reads: no lock is taken, nothing is written.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/statread.h"

#define READ_TRIES      200 /* an update keeps seq odd for microseconds */
#define READ_BACKOFF_NS 500000L
#define MAX_REC_SIZE    (1u << 16) /* sanity bound on a record's size tag */

void nslab_statsnap_free(struct nslab_statsnap *s)
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

/* What a segment holds before its writer has filled it in. */
static const struct numaslab_stats_header zero_header;

/* A byte-swapped magic: written on a host of the other byte order. */
static uint64_t bswap64(uint64_t v)
{
    return __builtin_bswap64(v);
}

/* Check a header copy against the segment's size.  0, NSLAB_EX_CORRUPT or
 * NSLAB_EX_NEWER with err set; -1: all zero (not made yet, or empty). */
static int check_header(const struct numaslab_stats_header *h, uint64_t size, char *err, size_t n)
{
    if (h->magic != NUMASLAB_STATS_MAGIC) {
        if (!memcmp(h, &zero_header, size < sizeof(*h) ? (size_t)size : sizeof(*h)))
            return -1;
        if (h->magic == bswap64(NUMASLAB_STATS_MAGIC))
            snprintf(err, n, "written on a host of the other byte order");
        else
            snprintf(err, n, "not a numaslab statistics segment (magic 0x%016" PRIx64 ")",
                     h->magic);
        return NSLAB_EX_CORRUPT;
    }
    if (h->version > NUMASLAB_STATS_VERSION) {
        snprintf(err, n,
                 "layout version %" PRIu32 " is newer than this numaslab-stat reads (%u); "
                 "use the numaslab-stat of the library the process runs",
                 h->version, NUMASLAB_STATS_VERSION);
        return NSLAB_EX_NEWER;
    }
    if (h->version < 1) {
        snprintf(err, n, "layout version 0 does not exist");
        return NSLAB_EX_CORRUPT;
    }
    if (size < NUMASLAB_STATS_HEADER_SIZE_MIN) {
        snprintf(err, n, "truncated: %" PRIu64 " bytes, less than a header (%u)", size,
                 NUMASLAB_STATS_HEADER_SIZE_MIN);
        return NSLAB_EX_CORRUPT;
    }
    if (h->total_size != size) {
        snprintf(err, n, "%s: the file has %" PRIu64 " bytes, its header says %" PRIu64,
                 size < h->total_size ? "truncated" : "longer than its header says", size,
                 h->total_size);
        return NSLAB_EX_CORRUPT;
    }
    if (h->header_size < NUMASLAB_STATS_HEADER_SIZE_MIN || h->header_size > size) {
        snprintf(err, n, "header size %" PRIu32 " out of range (%u..%" PRIu64 ")", h->header_size,
                 NUMASLAB_STATS_HEADER_SIZE_MIN, size);
        return NSLAB_EX_CORRUPT;
    }
    if (h->pid <= 0) {
        snprintf(err, n, "process id %" PRId32 " is not valid", h->pid);
        return NSLAB_EX_CORRUPT;
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
            return NSLAB_EX_CORRUPT;
        }
        if (part[i].off < h->header_size ||
            (uint64_t)part[i].off + (uint64_t)part[i].cap * part[i].rec > size) {
            snprintf(err, n,
                     "%s records (%" PRIu32 " of %" PRIu32 " bytes at offset %" PRIu32
                     ") do not fit in %" PRIu64 " bytes after the header",
                     part[i].what, part[i].cap, part[i].rec, part[i].off, size);
            return NSLAB_EX_CORRUPT;
        }
        if (part[i].count > part[i].cap) {
            snprintf(err, n, "%" PRIu32 " %s records in use, room for %" PRIu32, part[i].count,
                     part[i].what, part[i].cap);
            return NSLAB_EX_CORRUPT;
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

/* A validated header's copy: normalise it, copy the records in use. */
static int copy_body(struct nslab_statsnap *s, const char *map, char *err, size_t n)
{
    /* An older, shorter header: what follows it is not ours. */
    if (s->h.header_size < sizeof(s->h))
        memset((char *)&s->h + s->h.header_size, 0, sizeof(s->h) - s->h.header_size);
    s->have_cg = s->h.header_size >= NUMASLAB_STATS_HEADER_SIZE_CGROUP;
    s->have_mem = s->h.node_rec_size >= NUMASLAB_STATS_NODE_REC_SIZE_MEM;
    s->have_pages = s->h.node_rec_size >= NUMASLAB_STATS_NODE_REC_SIZE_PAGES;
    s->nodes =
        copy_recs(map, s->h.node_off, s->h.node_rec_size, s->h.node_count, sizeof(*s->nodes));
    s->caches =
        copy_recs(map, s->h.cache_off, s->h.cache_rec_size, s->h.cache_count, sizeof(*s->caches));
    if (!s->nodes || !s->caches) {
        nslab_statsnap_free(s);
        snprintf(err, n, "out of memory");
        return NSLAB_EX_OTHER;
    }
    return NSLAB_EX_OK;
}

/* A copy that stood (not torn): terminate its strings, and leave out the
 * cache records of ids no cache has (a live segment keeps a record per
 * cache id and node; an unused one is all zero). */
static void finish(struct nslab_statsnap *s)
{
    s->h.comm[sizeof(s->h.comm) - 1] = '\0';
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->h.cache_count; i++) {
        s->caches[i].name[sizeof(s->caches[i].name) - 1] = '\0';
        if (s->caches[i].name[0] || s->caches[i].object_size)
            s->caches[k++] = s->caches[i];
    }
    s->h.cache_count = k;
}

/* The header of image (size bytes) into s->h, checked: check_header's
 * answer. */
static int copy_header(struct nslab_statsnap *s, const void *image, uint64_t size, char *err,
                       size_t n)
{
    memset(&s->h, 0, sizeof(s->h));
    memcpy(&s->h, image, size < sizeof(s->h) ? (size_t)size : sizeof(s->h));
    return check_header(&s->h, size, err, n);
}

int nslab_statsnap_copy(struct nslab_statsnap *s, const void *image, uint64_t size, char *err,
                        size_t n)
{
    memset(s, 0, sizeof(*s));
    int rc = copy_header(s, image, size, err, n);
    if (rc == 0)
        rc = copy_body(s, image, err, n);
    if (rc == NSLAB_EX_OK)
        finish(s);
    return rc;
}

/* The sequence lock's reader side (include/numaslab-stats.h, Reading). */
int nslab_statsnap_read(const char *path, struct nslab_statsnap *s, char *err, size_t n,
                        int *err_errno)
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
            return NSLAB_EX_PERM;
        }
        if (errno == ELOOP) {
            snprintf(err, n, "a symbolic link, not a segment");
            return NSLAB_EX_CORRUPT;
        }
        snprintf(err, n, "%s", strerror(errno));
        return errno == ENOENT ? NSLAB_EX_NOPROC : NSLAB_EX_OTHER;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(err, n, "fstat: %s", strerror(errno));
        close(fd);
        return NSLAB_EX_OTHER;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, n, "not a regular file");
        close(fd);
        return NSLAB_EX_CORRUPT;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0) {
        close(fd);
        snprintf(err, n, "empty (0 bytes)");
        return NSLAB_EX_CORRUPT;
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
        return NSLAB_EX_CORRUPT;
    }
    if (size > SIZE_MAX / 2) {
        close(fd);
        snprintf(err, n, "implausibly large (%" PRIu64 " bytes)", size);
        return NSLAB_EX_CORRUPT;
    }
    const char *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, n, "mmap: %s", strerror(errno));
        return NSLAB_EX_OTHER;
    }

    const uint64_t *seqp = (const uint64_t *)(map + offsetof(struct numaslab_stats_header, seq));
    int rc = NSLAB_EX_CORRUPT;
    uint64_t s1 = 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old);
    if (sigsetjmp(bus_jmp, 1)) {
        bus_armed = 0;
        nslab_statsnap_free(s);
        snprintf(err, n, "truncated while being read");
        rc = NSLAB_EX_CORRUPT;
        goto out;
    }
    bus_armed = 1;
    for (int t = 0; t < READ_TRIES; t++) {
        if (t) {
            struct timespec ts = {0, READ_BACKOFF_NS};
            nanosleep(&ts, NULL);
        }
        nslab_statsnap_free(s);
        /* Partner: the writer's release store of the even seq. */
        s1 = __atomic_load_n(seqp, __ATOMIC_ACQUIRE);
        if (s1 & 1) {
            /* An update is under way, or garbage: no writer ever leaves a
             * magic other than 0 (being made) or the right one. */
            uint64_t m;
            memcpy(&m, map, sizeof(m));
            if (m != 0 && m != NUMASLAB_STATS_MAGIC) {
                rc = copy_header(s, map, size, err, n);
                goto out;
            }
            continue;
        }
        /* A racy copy: the seq check below throws a torn one away. */
        rc = copy_header(s, map, size, err, n);
        if (rc == 0)
            rc = copy_body(s, map, err, n);
        /* Partner: the writer's release fence after making seq odd. */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(seqp, __ATOMIC_RELAXED) != s1)
            continue; /* torn */
        if (rc == -1)
            continue; /* all zero: maybe being made; give it the tries */
        goto out;
    }
    nslab_statsnap_free(s);
    if (rc == -1)
        snprintf(err, n, "empty (all zero: never written)");
    else if (s1 & 1)
        snprintf(err, n,
                 "stuck mid-update (sequence %" PRIu64 " stays odd): its writer died or "
                 "is stopped",
                 s1);
    else
        snprintf(err, n, "changing too fast to be read");
    rc = NSLAB_EX_CORRUPT;
out:
    bus_armed = 0;
    sigaction(SIGBUS, &old, NULL);
    munmap((void *)map, (size_t)size);
    if (rc == NSLAB_EX_OK)
        finish(s);
    return rc;
}
