/*
 * test-stat-corrupt - numaslab-stat over thousands of broken segments:
 * every truncation of a valid one, targeted bad header fields, random
 * garbage and random mutations (seeded: NUMASLAB_TEST_SEED=S repeats a
 * run).  Zero crashes; every broken segment gets an exit code in 2..6 and
 * a message; a mutation the tool accepts gives well-formed JSON.
 *
 * It also writes the fixed segments the golden and bad-input tests use:
 *   test-stat-corrupt --write KIND PATH [PID]
 * KIND: sample (tests/data/stat-sample.seg), grown (the same figures with
 * larger header and records, as a later compatible layout would write),
 * v1 (the same figures in the sizes of the first version-1 layout, before
 * the running-short and memory cgroup fields), nopages (the same figures
 * with 184-byte node records, the layout before the page layer's fields:
 * the stat-sample.seg committed then), unread (sample with node 0's
 * memory not read and the cgroup files unreadable), nocgroup (no memory
 * cgroup), nolimit (a cgroup v1 without a limit), newer (layout version
 * 2), live (sample as process PID, with its real start time), reused (as
 * PID with another start time), truncated, garbage.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "numaslab-stats.h"

/* ------------------------------------------------------------------------
 * The fixed sample: two active nodes (one with its reserve run dry), a
 * memory-less node, an absent node that requests named, caches with an
 * awkward name; node 1 short of memory, a cgroup v2 with a limit; node 0
 * with large objects, one of them offered to huge pages.  The
 * header and records are hsz / nsz / csz bytes: larger than this layout's
 * as a later compatible layout would write them, or smaller, down to the
 * first version-1 layout's.
 * ---------------------------------------------------------------------- */

struct sample {
    unsigned char *buf;
    size_t size;
};

/* The running-short fields of a node record. */
struct mem {
    unsigned known, is_short;
    uint64_t avail, watermark, since, refused, episodes;
};

/* The page layer's fields of a node record. */
struct pg {
    uint64_t cached, large, huge;
};

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void put_node(unsigned char *at, size_t nsz, const struct mem *m, const struct pg *pg,
                     int node, unsigned flags, int cur, int min, int waiters, uint64_t used,
                     uint64_t empty, uint64_t out, uint64_t mapped, uint64_t large, uint64_t fb_out,
                     uint64_t fb_in, uint64_t asked, uint64_t served, uint64_t inuse,
                     uint64_t total)
{
    struct numaslab_stats_node_rec r;
    memset(&r, 0, sizeof(r));
    r.node = node;
    r.flags = flags;
    r.reserve_cur = cur;
    r.reserve_min = min;
    r.reserve_waiters = waiters;
    r.reserve_elem_bytes = min ? 65536 : 0;
    r.reserve_bytes = (uint64_t)cur * r.reserve_elem_bytes;
    r.reserve_min_bytes = (uint64_t)min * r.reserve_elem_bytes;
    r.reserve_used = used;
    r.reserve_empty = empty;
    r.reserve_out = out;
    r.bytes_mapped = mapped;
    r.large_objects = large;
    r.fallback_out = fb_out;
    r.fallback_in = fb_in;
    r.inactive_requests = asked;
    r.inactive_served = served;
    r.objects_inuse = inuse;
    r.objects_total = total;
    if (m) {
        r.mem_known = m->known;
        r.mem_short = m->is_short;
        r.mem_avail = m->avail;
        r.low_watermark = m->watermark;
        r.short_since_ns = m->since;
        r.short_refused = m->refused;
        r.short_episodes = m->episodes;
    }
    if (pg) {
        r.page_cached = pg->cached;
        r.large_bytes = pg->large;
        r.huge_bytes = pg->huge;
    }
    memcpy(at, &r, min_size(sizeof(r), nsz));
}

static void put_cache(unsigned char *at, const char *name, int node, unsigned flags, unsigned size,
                      unsigned per_slab, uint64_t inuse, uint64_t total, uint64_t full,
                      uint64_t partial, uint64_t empty, uint64_t rslabs, uint64_t robjs)
{
    struct numaslab_stats_cache_rec r;
    memset(&r, 0, sizeof(r));
    memcpy(r.name, name, strlen(name) < sizeof(r.name) ? strlen(name) : sizeof(r.name) - 1);
    r.node = node;
    r.flags = flags;
    r.object_size = size;
    r.objects_per_slab = per_slab;
    r.slab_bytes = 65536;
    r.objects_inuse = inuse;
    r.objects_total = total;
    r.slabs_full = full;
    r.slabs_partial = partial;
    r.slabs_empty = empty;
    r.slabs_reserve = rslabs;
    r.objects_reserve = robjs;
    memcpy(at, &r, sizeof(r));
}

static struct sample make_sample_sized(size_t hsz, size_t nsz, size_t csz)
{
    struct numaslab_stats_header h;
    const uint32_t nodes = 4, caches = 6;
    size_t node_off = (hsz + 63) & ~(size_t)63;
    size_t cache_off = (node_off + nodes * nsz + 63) & ~(size_t)63;
    size_t total = cache_off + caches * csz;
    struct sample s = {calloc(1, total), total};
    REQUIRE(s.buf != NULL, "out of memory");

    memset(&h, 0, sizeof(h));
    h.magic = NUMASLAB_STATS_MAGIC;
    h.version = NUMASLAB_STATS_VERSION;
    h.header_size = (uint32_t)hsz;
    h.total_size = total;
    h.seq = 2468;
    h.pid = 4242;
    h.interval_ms = 200;
    h.start_time = 123456;
    strcpy(h.comm, "stat-sample");
    h.lib_version = 0 << 16 | 1 << 8 | 0;
    h.max_node = 2;
    h.nactive = 2;
    h.node_off = (uint32_t)node_off;
    h.node_rec_size = (uint32_t)nsz;
    h.node_cap = nodes;
    h.cache_off = (uint32_t)cache_off;
    h.cache_rec_size = (uint32_t)csz;
    h.cache_cap = caches;
    h.update_ns = 1000000000ull;
    h.updates = 1234;
    h.node_count = nodes;
    h.cache_count = caches;
    h.cgroup_state = NUMASLAB_STATS_CGROUP_V2;
    h.cgroup_limit = 2ull << 30;
    h.cgroup_usage = 1536ull << 20;
    h.cgroup_margin = 64ull << 20;
    h.cgroup_avail = 512ull << 20;
    h.cgroup_episodes = 1;
    h.cgroup_trims = 1;
    memcpy(s.buf, &h, min_size(sizeof(h), hsz));
    if (hsz > sizeof(h)) /* fields this reader does not know */
        memset(s.buf + sizeof(h), 0xee, hsz - sizeof(h));

    const unsigned A = NUMASLAB_STATS_NODE_ACTIVE | NUMASLAB_STATS_NODE_PRESENT;
    unsigned char *n = s.buf + node_off;
    /* node 1 went short 0.8 s before the update (update_ns is 1 s) */
    const struct mem m0 = {1, 0, 3ull << 30, 64ull << 20, 0, 0, 2};
    const struct mem m1 = {1, 1, 50ull << 20, 64ull << 20, 200000000ull, 17, 3};
    /* node 0: 1 MiB of freed runs cached; large objects of 2.5 MiB (its
     * first 2 MiB offered to huge pages) and twice 64 KiB; node 1: no
     * large object, 3.5 MiB cached */
    const struct pg p0 = {1ull << 20, (5ull << 19) + (2ull << 16), 2ull << 20};
    const struct pg p1 = {7ull << 19, 0, 0};
    put_node(n + 0 * nsz, nsz, &m0, &p0, 0, A, 22, 32, 0, 10, 0, 10, 13107200, 3, 0, 5, 0, 47, 1200,
             4096);
    put_node(n + 1 * nsz, nsz, &m1, &p1, 1, A, 0, 32, 1, 120, 17, 32, 41943040, 0, 5, 0, 0, 0,
             99000, 99000);
    put_node(n + 2 * nsz, nsz, NULL, NULL, 2, NUMASLAB_STATS_NODE_PRESENT, 0, 0, 0, 0, 0, 0, 0, 0,
             0, 0, 5, 0, 0, 0);
    put_node(n + 3 * nsz, nsz, NULL, NULL, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0);
    if (nsz > sizeof(struct numaslab_stats_node_rec))
        for (uint32_t i = 0; i < nodes; i++)
            memset(n + i * nsz + sizeof(struct numaslab_stats_node_rec), 0xee,
                   nsz - sizeof(struct numaslab_stats_node_rec));

    const unsigned SC = NUMASLAB_STATS_CACHE_SIZECLASS;
    unsigned char *c = s.buf + cache_off;
    put_cache(c + 0 * csz, "numaslab-64", 0, SC, 64, 1021, 1000, 2042, 1, 1, 0, 0, 0);
    put_cache(c + 1 * csz, "numaslab-64", 1, SC, 64, 1021, 0, 0, 0, 0, 0, 0, 0);
    put_cache(c + 2 * csz, "conn", 0, 0, 200, 314, 200, 1884, 0, 1, 5, 0, 0);
    put_cache(c + 3 * csz, "conn", 1, 0, 200, 314, 99000, 99000, 313, 0, 0, 2, 500);
    put_cache(c + 4 * csz, "we\"ird\\name\x01\xc3\xa9\xff", 0, 0, 24, 2520, 3, 2520, 0, 1, 0, 0, 0);
    put_cache(c + 5 * csz, "a-cache-name-of-31-characters-x", 1, 0, 8192, 7, 7, 7, 1, 0, 0, 0, 0);
    if (csz > sizeof(struct numaslab_stats_cache_rec))
        for (uint32_t i = 0; i < caches; i++)
            memset(c + i * csz + sizeof(struct numaslab_stats_cache_rec), 0xee,
                   csz - sizeof(struct numaslab_stats_cache_rec));
    return s;
}

/* extra_* grow the header and records past this layout's (compatible growth). */
static struct sample make_sample(size_t extra_hdr, size_t extra_node, size_t extra_cache)
{
    return make_sample_sized(sizeof(struct numaslab_stats_header) + extra_hdr,
                             sizeof(struct numaslab_stats_node_rec) + extra_node,
                             sizeof(struct numaslab_stats_cache_rec) + extra_cache);
}

/* The node record of node id 0 (the first). */
static struct numaslab_stats_node_rec *node0(struct sample *s)
{
    return (struct numaslab_stats_node_rec *)(s->buf +
                                              ((struct numaslab_stats_header *)s->buf)->node_off);
}

static struct numaslab_stats_header *hdr(struct sample *s)
{
    return (struct numaslab_stats_header *)s->buf;
}

static int write_file(const char *path, const void *buf, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    ssize_t w = n ? write(fd, buf, n) : 0;
    close(fd);
    return w == (ssize_t)n ? 0 : -1;
}

/* Field 22 of /proc/PID/stat, 0 when unreadable. */
static uint64_t start_time_of(long pid)
{
    char path[64], buf[1024];
    uint64_t start = 0;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    const char *p = tu_proc_stat(path, buf, sizeof(buf));
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (p)
        start = strtoull(p + 1, NULL, 10);
    return start;
}

static int write_kind(const char *kind, const char *path, long pid)
{
    struct sample s = make_sample(0, 0, 0);
    size_t n = s.size;
    if (!strcmp(kind, "sample")) {
    } else if (!strcmp(kind, "grown")) {
        free(s.buf);
        s = make_sample(40, 16, 24);
        n = s.size;
    } else if (!strcmp(kind, "v1")) {
        free(s.buf);
        s = make_sample_sized(NUMASLAB_STATS_HEADER_SIZE_MIN, NUMASLAB_STATS_NODE_REC_SIZE_MIN,
                              NUMASLAB_STATS_CACHE_REC_SIZE_MIN);
        n = s.size;
    } else if (!strcmp(kind, "nopages")) {
        free(s.buf);
        s = make_sample_sized(NUMASLAB_STATS_HEADER_SIZE_CGROUP, NUMASLAB_STATS_NODE_REC_SIZE_MEM,
                              NUMASLAB_STATS_CACHE_REC_SIZE_MIN);
        n = s.size;
    } else if (!strcmp(kind, "unread")) {
        struct numaslab_stats_node_rec *r = node0(&s);
        r->mem_known = 0;
        r->mem_avail = 0;
        r->low_watermark = 0;
        r->short_episodes = 0;
        hdr(&s)->cgroup_state = NUMASLAB_STATS_CGROUP_UNREADABLE;
        hdr(&s)->cgroup_limit = hdr(&s)->cgroup_avail = UINT64_MAX;
        hdr(&s)->cgroup_usage = hdr(&s)->cgroup_margin = 0;
        hdr(&s)->cgroup_episodes = hdr(&s)->cgroup_trims = 0;
    } else if (!strcmp(kind, "nocgroup")) {
        hdr(&s)->cgroup_state = NUMASLAB_STATS_CGROUP_NONE;
        hdr(&s)->cgroup_limit = hdr(&s)->cgroup_avail = UINT64_MAX;
        hdr(&s)->cgroup_usage = hdr(&s)->cgroup_margin = 0;
        hdr(&s)->cgroup_episodes = hdr(&s)->cgroup_trims = 0;
    } else if (!strcmp(kind, "nolimit")) {
        hdr(&s)->cgroup_state = NUMASLAB_STATS_CGROUP_V1;
        hdr(&s)->cgroup_limit = hdr(&s)->cgroup_avail = UINT64_MAX;
        hdr(&s)->cgroup_margin = 0;
    } else if (!strcmp(kind, "newer")) {
        hdr(&s)->version = NUMASLAB_STATS_VERSION + 1;
    } else if (!strcmp(kind, "live") || !strcmp(kind, "reused")) {
        if (pid <= 0) {
            fprintf(stderr, "--write %s needs a PID\n", kind);
            return 99;
        }
        hdr(&s)->pid = (int32_t)pid;
        hdr(&s)->start_time = start_time_of(pid);
        if (!strcmp(kind, "reused"))
            hdr(&s)->start_time += 1000;
    } else if (!strcmp(kind, "truncated")) {
        n = 100;
    } else if (!strcmp(kind, "garbage")) {
        uint64_t st = 77;
        for (size_t i = 0; i < n; i++)
            s.buf[i] = (unsigned char)tu_rand(&st);
    } else {
        fprintf(stderr, "unknown kind %s\n", kind);
        return 99;
    }
    if (pid > 0 && strcmp(kind, "live") && strcmp(kind, "reused"))
        hdr(&s)->pid = (int32_t)pid;
    int rc = write_file(path, s.buf, n);
    free(s.buf);
    if (rc) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 99;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Running the tool
 * ---------------------------------------------------------------------- */

static char tool[4096], dir[4096], seg[4200], out_path[4200], err_path[4200];

struct run {
    int code; /* exit code, or -1 */
    int sig;  /* the signal that ended it, or 0 */
    char out[1 << 16];
    char err[4096];
};

static void slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t got = 0;
    if (f) {
        got = fread(buf, 1, n - 1, f);
        fclose(f);
    }
    buf[got] = '\0';
}

/* numaslab-stat --file seg [flags...] */
static void run_tool(struct run *r, int variant)
{
    static const char *const extra[4][3] = {
        {NULL}, {"--json", NULL}, {"--caches", NULL}, {"--json", "--caches", NULL}};
    const char *argv[8] = {tool, "--file", seg};
    int argc = 3;
    for (int i = 0; extra[variant & 3][i]; i++)
        argv[argc++] = extra[variant & 3][i];
    argv[argc] = NULL;

    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        alarm(20); /* a hang is a failure too: SIGALRM */
        execv(tool, (char *const *)argv);
        _exit(127);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    r->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    slurp(out_path, r->out, sizeof(r->out));
    slurp(err_path, r->err, sizeof(r->err));
}

/* ------------------------------------------------------------------------
 * Is it JSON?  A strict recursive-descent check of one value per line.
 * ---------------------------------------------------------------------- */

static const char *jv(const char *p, int depth);

static const char *jws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static const char *jstr(const char *p)
{
    if (*p++ != '"')
        return NULL;
    while (*p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
                        return NULL;
                p += 5;
                continue;
            }
            if (!*p || !strchr("\"\\/bfnrt", *p))
                return NULL;
        }
        p++;
    }
    return p + 1;
}

static const char *jv(const char *p, int depth)
{
    p = jws(p);
    if (depth > 32)
        return NULL;
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        int obj = *p == '{';
        p = jws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (obj) {
                if (!(p = jstr(jws(p))))
                    return NULL;
                p = jws(p);
                if (*p++ != ':')
                    return NULL;
            }
            if (!(p = jv(p, depth + 1)))
                return NULL;
            p = jws(p);
            if (*p == close)
                return p + 1;
            if (*p++ != ',')
                return NULL;
        }
    }
    if (*p == '"')
        return jstr(p);
    if (!strncmp(p, "true", 4))
        return p + 4;
    if (!strncmp(p, "false", 5))
        return p + 5;
    if (!strncmp(p, "null", 4))
        return p + 4;
    const char *s = p;
    if (*p == '-')
        p++;
    while (*p >= '0' && *p <= '9')
        p++;
    return p > s && p[-1] != '-' ? p : NULL;
}

/* Every line of text is one JSON value. */
static int json_lines_ok(const char *text)
{
    const char *p = text;
    if (!*p)
        return 0;
    while (*p) {
        const char *e = jv(p, 0);
        if (!e || *e != '\n')
            return 0;
        p = e + 1;
    }
    return 1;
}

/* ------------------------------------------------------------------------
 * The test
 * ---------------------------------------------------------------------- */

struct tally {
    const char *what;
    int runs, crashes, bad_code, no_msg, bad_json;
    int codes[8]; /* exit codes seen, 7: 7 or more */
    char first[256];
};

static void note(struct tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct tally *t, const char *fmt, ...)
{
    va_list ap;
    if (t->first[0])
        return;
    va_start(ap, fmt);
    vsnprintf(t->first, sizeof(t->first), fmt, ap);
    va_end(ap);
    /* keep the segment for whoever reproduces the failure */
    char keep[4300];
    snprintf(keep, sizeof(keep), "%s.failed", seg);
    rename(seg, keep);
}

/*
 * Run the tool on buf (n bytes); lo..hi are the acceptable exit codes,
 * accept0: exit 0 is acceptable too (then the output must be well formed).
 */
static void try_seg(struct tally *t, const void *buf, size_t n, int lo, int hi, int accept0,
                    int variant, const char *label)
{
    static struct run r;
    REQUIRE(write_file(seg, buf, n) == 0, "%s: %s", seg, strerror(errno));
    run_tool(&r, variant);
    t->runs++;
    if (r.code >= 0)
        t->codes[r.code < 7 ? r.code : 7]++;
    if (r.sig || r.code < 0 || r.code >= 126) {
        t->crashes++;
        note(t, "%s: ended by signal %d / exit %d", label, r.sig, r.code);
        return;
    }
    if (r.code == 0 && accept0) {
        if ((variant & 1) && !json_lines_ok(r.out)) {
            t->bad_json++;
            note(t, "%s: output is not JSON: %.120s", label, r.out);
        }
        return;
    }
    if (r.code < lo || r.code > hi) {
        t->bad_code++;
        note(t, "%s: exit %d, expected %d..%d; stderr: %.150s", label, r.code, lo, hi, r.err);
        return;
    }
    if (strncmp(r.err, "numaslab-stat: ", 15) || !strstr(r.err, seg)) {
        t->no_msg++;
        note(t, "%s: no message naming the file: \"%.150s\"", label, r.err);
    }
}

static void report(struct tally *t)
{
    CHECK(t->crashes == 0 && t->bad_code == 0 && t->no_msg == 0 && t->bad_json == 0,
          "%s: %d runs, %d crashes, %d wrong exit codes, %d without a message, %d bad JSON",
          t->what, t->runs, t->crashes, t->bad_code, t->no_msg, t->bad_json);
    if (t->first[0])
        printf("  first: %s\n", t->first);
    printf("info: exit codes 0..6:");
    for (int i = 0; i < 7; i++)
        printf(" %d", t->codes[i]);
    printf(", 7 or more: %d\n", t->codes[7]);
}

/* One targeted mutation of the header: expect exit code want. */
#define TARGETED_SLACK 128
static void targeted(struct tally *t, int want, const char *label,
                     void (*mut)(struct numaslab_stats_header *h, size_t *n))
{
    struct sample s = make_sample(0, 0, 0);
    /* Room for a mutation that lengthens the file (m_longer): zeros. */
    unsigned char *buf = calloc(1, s.size + TARGETED_SLACK);
    REQUIRE(buf != NULL, "out of memory");
    memcpy(buf, s.buf, s.size);
    size_t n = s.size;
    mut((struct numaslab_stats_header *)buf, &n);
    REQUIRE(n <= s.size + TARGETED_SLACK, "%s: the mutation grew the file past its slack", label);
    try_seg(t, buf, n, want, want, 0, t->runs & 3, label);
    free(buf);
    free(s.buf);
}

#define MUT(name, body)                                                                            \
    static void name(struct numaslab_stats_header *h, size_t *n)                                   \
    {                                                                                              \
        (void)h;                                                                                   \
        (void)n;                                                                                   \
        body;                                                                                      \
    }
MUT(m_magic, h->magic ^= 1)
MUT(m_swapped, h->magic = __builtin_bswap64(h->magic))
MUT(m_version0, h->version = 0)
MUT(m_version2, h->version = 2)
MUT(m_version_max, h->version = UINT32_MAX)
MUT(m_hsize_small, h->header_size = 8)
MUT(m_hsize_big, h->header_size = (uint32_t)h->total_size + 1)
MUT(m_total_small, h->total_size -= 1)
MUT(m_total_big, h->total_size += 4096)
MUT(m_total_huge, h->total_size = UINT64_MAX)
MUT(m_pid0, h->pid = 0)
MUT(m_pidneg, h->pid = -7)
MUT(m_nrec0, h->node_rec_size = 0)
MUT(m_hsize_min, h->header_size = NUMASLAB_STATS_HEADER_SIZE_MIN - 1)
MUT(m_nrec_small, h->node_rec_size = NUMASLAB_STATS_NODE_REC_SIZE_MIN - 1)
MUT(m_nrec_huge, h->node_rec_size = UINT32_MAX)
MUT(m_noff0, h->node_off = 0)
MUT(m_noff_end, h->node_off = (uint32_t)h->total_size)
MUT(m_noff_huge, h->node_off = UINT32_MAX - 8)
MUT(m_ncap_huge, h->node_cap = UINT32_MAX)
MUT(m_ncount, h->node_count = h->node_cap + 1)
MUT(m_crec0, h->cache_rec_size = 0)
MUT(m_crec_small, h->cache_rec_size = NUMASLAB_STATS_CACHE_REC_SIZE_MIN - 1)
MUT(m_crec_huge, h->cache_rec_size = 1u << 20)
MUT(m_coff_end, h->cache_off = (uint32_t)h->total_size - 8)
MUT(m_ccap_huge, h->cache_cap = 1u << 30)
MUT(m_ccount, h->cache_count = UINT32_MAX)
MUT(m_odd, h->seq |= 1)
MUT(m_zero, memset(h, 0, *n))
MUT(m_longer, *n += 100)

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "--write"))
        return write_kind(argv[2], argv[3], argc > 4 ? strtol(argv[4], NULL, 10) : 0);
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--write KIND PATH [PID]]\n", argv[0]);
        return 99;
    }
    tu_init("test-stat-corrupt");

    const char *top = getenv("top_builddir");
    snprintf(tool, sizeof(tool), "%s/tools/numaslab-stat", top ? top : ".");
    REQUIRE(access(tool, X_OK) == 0, "%s: %s (build it first)", tool, strerror(errno));
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/test-stat-corrupt.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
    snprintf(seg, sizeof(seg), "%s/seg", dir);
    snprintf(out_path, sizeof(out_path), "%s/out", dir);
    snprintf(err_path, sizeof(err_path), "%s/err", dir);

    uint64_t seed = 20261125;
    const char *se = getenv("NUMASLAB_TEST_SEED");
    if (se && *se)
        seed = strtoull(se, NULL, 0);
    printf("# seed %llu (NUMASLAB_TEST_SEED=%llu repeats this run)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    uint64_t rng = seed;

    /* The sample itself reads, in every output mode. */
    tu_case("the sample itself reads, in every output mode");
    struct sample s = make_sample(0, 0, 0);
    struct tally good = {.what = "the valid sample, 4 output modes"};
    for (int v = 0; v < 4; v++)
        try_seg(&good, s.buf, s.size, 0, 0, 1, v, "sample");
    report(&good);

    /* Every truncation. */
    tu_case("every truncation");
    struct tally trunc = {.what = "every truncation of the sample (0..size-1 bytes)"};
    for (size_t n = 0; n < s.size; n++) {
        char label[64];
        snprintf(label, sizeof(label), "truncated to %zu bytes", n);
        try_seg(&trunc, s.buf, n, 5, 5, 0, (int)n & 3, label);
    }
    report(&trunc);

    /* Targeted header fields. */
    tu_case("targeted header fields");
    struct tally tg = {.what = "targeted bad header fields"};
    targeted(&tg, 5, "bad magic", m_magic);
    targeted(&tg, 5, "byte-swapped magic", m_swapped);
    targeted(&tg, 5, "version 0", m_version0);
    targeted(&tg, 6, "version 2", m_version2);
    targeted(&tg, 6, "version 2^32-1", m_version_max);
    targeted(&tg, 5, "header_size 8", m_hsize_small);
    targeted(&tg, 5, "header_size one below the version-1 minimum", m_hsize_min);
    targeted(&tg, 5, "header_size past the end", m_hsize_big);
    targeted(&tg, 5, "total_size one short", m_total_small);
    targeted(&tg, 5, "total_size past the end", m_total_big);
    targeted(&tg, 5, "total_size 2^64-1", m_total_huge);
    targeted(&tg, 5, "pid 0", m_pid0);
    targeted(&tg, 5, "pid -7", m_pidneg);
    targeted(&tg, 5, "node_rec_size 0", m_nrec0);
    targeted(&tg, 5, "node_rec_size too small (one below the version-1 minimum)", m_nrec_small);
    targeted(&tg, 5, "node_rec_size 2^32-1", m_nrec_huge);
    targeted(&tg, 5, "node_off 0", m_noff0);
    targeted(&tg, 5, "node_off at the end", m_noff_end);
    targeted(&tg, 5, "node_off 2^32-9", m_noff_huge);
    targeted(&tg, 5, "node_cap 2^32-1", m_ncap_huge);
    targeted(&tg, 5, "node_count > node_cap", m_ncount);
    targeted(&tg, 5, "cache_rec_size 0", m_crec0);
    targeted(&tg, 5, "cache_rec_size one below the version-1 minimum", m_crec_small);
    targeted(&tg, 5, "cache_rec_size 1M", m_crec_huge);
    targeted(&tg, 5, "cache_off near the end", m_coff_end);
    targeted(&tg, 5, "cache_cap 2^30", m_ccap_huge);
    targeted(&tg, 5, "cache_count 2^32-1", m_ccount);
    targeted(&tg, 5, "sequence stuck odd", m_odd);
    targeted(&tg, 5, "all zero", m_zero);
    targeted(&tg, 5, "file longer than its header says", m_longer);
    report(&tg);

    /* Sizes between the version-1 minimum and this layout's: an older or
     * partial layout.  The fields the sizes do not wholly cover are
     * absent ("memory", "pages" and "cgroup" null), whatever bytes lie
     * there; those they cover are present. */
    tu_case("sizes between the version-1 minimum and this layout's");
    struct tally mid = {.what = "header and node records between the version-1 and full sizes"};
    {
        static const struct {
            size_t hs, ns;
            int mem, cg; /* "memory" and "cgroup" present; "pages" never */
        } sz[] = {
            {NUMASLAB_STATS_HEADER_SIZE_MIN, NUMASLAB_STATS_NODE_REC_SIZE_MIN, 0, 0},
            {152, 140, 0, 0},
            {NUMASLAB_STATS_HEADER_SIZE_CGROUP - 8, NUMASLAB_STATS_NODE_REC_SIZE_MEM - 8, 0, 0},
            {NUMASLAB_STATS_HEADER_SIZE_CGROUP, NUMASLAB_STATS_NODE_REC_SIZE_MEM, 1, 1},
            {NUMASLAB_STATS_HEADER_SIZE_MIN, NUMASLAB_STATS_NODE_REC_SIZE_MEM + 8, 1, 0},
            {NUMASLAB_STATS_HEADER_SIZE_CGROUP, NUMASLAB_STATS_NODE_REC_SIZE_PAGES - 8, 1, 1},
        };
        static struct run r;
        for (size_t i = 0; i < sizeof(sz) / sizeof(sz[0]); i++) {
            size_t hs = sz[i].hs, ns = sz[i].ns;
            struct sample m = make_sample_sized(hs, ns, NUMASLAB_STATS_CACHE_REC_SIZE_MIN);
            /* what lies past the sizes is not the reader's: make it loud */
            memset(m.buf + hs, 0xee, hdr(&m)->node_off - hs);
            REQUIRE(write_file(seg, m.buf, m.size) == 0, "%s: %s", seg, strerror(errno));
            run_tool(&r, 1);
            mid.runs++;
            mid.codes[r.code >= 0 && r.code < 7 ? r.code : 7]++;
            if (r.code != 0 || r.sig || !json_lines_ok(r.out)) {
                mid.bad_code++;
                note(&mid, "header %zu, nodes %zu: exit %d, signal %d, %.100s", hs, ns, r.code,
                     r.sig, r.err);
            } else if (!strstr(r.out, sz[i].cg ? "\"cgroup\": {" : "\"cgroup\": null") ||
                       !strstr(r.out, sz[i].mem ? "\"memory\": {" : "\"memory\": null") ||
                       strstr(r.out, sz[i].mem ? "\"memory\": null" : "\"memory\": {") ||
                       !strstr(r.out, "\"pages\": null") || strstr(r.out, "\"pages\": {")) {
                mid.bad_json++;
                note(&mid,
                     "header %zu, nodes %zu: fields past the sizes used, or those within "
                     "them not: %.200s",
                     hs, ns, r.out);
            }
            free(m.buf);
        }
    }
    report(&mid);

    /* Not files at all. */
    tu_case("not files at all");
    struct tally nf = {.what = "a directory, a FIFO, a symbolic link, a missing file"};
    {
        static struct run r;
        char keep[4300];
        int codes[4];
        snprintf(keep, sizeof(keep), "%s", seg);
        unlink(seg);
        REQUIRE(mkdir(seg, 0700) == 0, "mkdir: %s", strerror(errno));
        run_tool(&r, 0);
        codes[0] = r.sig ? -r.sig : r.code;
        rmdir(seg);
        REQUIRE(mkfifo(seg, 0600) == 0, "mkfifo: %s", strerror(errno));
        run_tool(&r, 1);
        codes[1] = r.sig ? -r.sig : r.code;
        unlink(seg);
        REQUIRE(symlink(out_path, seg) == 0, "symlink: %s", strerror(errno));
        run_tool(&r, 2);
        codes[2] = r.sig ? -r.sig : r.code;
        unlink(seg);
        run_tool(&r, 3);
        codes[3] = r.sig ? -r.sig : r.code;
        nf.runs = 4;
        for (int i = 0; i < 4; i++)
            nf.codes[codes[i] < 0 || codes[i] > 7 ? 7 : codes[i]]++;
        for (int i = 0; i < 4; i++)
            if (codes[i] != (i == 3 ? 2 : 5)) {
                nf.bad_code++;
                snprintf(nf.first, sizeof(nf.first), "case %d: exit %d", i, codes[i]);
            }
    }
    report(&nf);

    /* Random garbage, half of it with a valid magic and version so that
     * the header checks are what stops it. */
    tu_case("random garbage");
    struct tally rnd = {.what = "random garbage"};
    enum { NRANDOM = 1500, NMUT = 2500 };
    unsigned char *buf = malloc(8192);
    REQUIRE(buf != NULL, "out of memory");
    for (int i = 0; i < NRANDOM; i++) {
        size_t n = (size_t)(tu_rand(&rng) % 4096);
        for (size_t k = 0; k < n; k++)
            buf[k] = (unsigned char)tu_rand(&rng);
        if ((i & 1) && n >= 16) {
            uint64_t m = NUMASLAB_STATS_MAGIC;
            uint32_t v = NUMASLAB_STATS_VERSION;
            memcpy(buf, &m, 8);
            memcpy(buf + 8, &v, 4);
            if (n >= 32)
                buf[24] &= 0xfe; /* an even sequence: the checks, not the retries */
        }
        char label[64];
        snprintf(label, sizeof(label), "random %d (%zu bytes)", i, n);
        try_seg(&rnd, buf, n, 2, 6, 0, i & 3, label);
    }
    report(&rnd);

    /* Mutations of the sample: flipped bytes, fields set to edge values.
     * Some still make a valid segment (a counter changed): exit 0 is
     * fine then, with well-formed output. */
    tu_case("mutations of the sample");
    struct tally mut = {.what = "random mutations of the sample"};
    for (int i = 0; i < NMUT; i++) {
        memcpy(buf, s.buf, s.size);
        int k = 1 + (int)(tu_rand(&rng) % 8);
        for (int j = 0; j < k; j++) {
            size_t at = (size_t)(tu_rand(&rng) % s.size);
            switch (tu_rand(&rng) % 4) {
            case 0:
                buf[at] ^= (unsigned char)(1u << (tu_rand(&rng) % 8));
                break;
            case 1:
                buf[at] = (unsigned char)tu_rand(&rng);
                break;
            case 2: /* a 32-bit field of the header to an edge value */
            {
                static const uint32_t edge[] = {0,   1,   0x7fffffff, 0x80000000, 0xffffffff,
                                                64,  136, 144,        184,        208,
                                                216, 112, 4096};
                size_t f = (size_t)(tu_rand(&rng) % (sizeof(struct numaslab_stats_header) / 4));
                uint32_t v = edge[tu_rand(&rng) % (sizeof(edge) / sizeof(edge[0]))];
                if (f == 6 || f == 7)
                    f = 10; /* leave seq even: retries are slow */
                memcpy(buf + 4 * f, &v, 4);
                break;
            }
            default:
                buf[at] = 0;
                break;
            }
        }
        uint64_t seqv;
        memcpy(&seqv, buf + 24, 8);
        seqv &= ~1ull;
        memcpy(buf + 24, &seqv, 8);
        size_t n = s.size;
        if (tu_rand(&rng) % 8 == 0)
            n = (size_t)(tu_rand(&rng) % s.size); /* and truncated */
        char label[64];
        snprintf(label, sizeof(label), "mutation %d", i);
        try_seg(&mut, buf, n, 2, 6, 1, i & 3, label);
    }
    report(&mut);

    free(buf);
    free(s.buf);
    unlink(seg);
    unlink(out_path);
    unlink(err_path);
    if (!tu_failures)
        rmdir(dir);
    else
        printf("# failing segments kept in %s\n", dir);
    return tu_exit();
}
