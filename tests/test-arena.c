/*
 * test-arena - the slab arena (numaslab(7), The slab arena): 64 KiB slabs
 * of every active node lie in one reserved mapping per node, bound to that
 * node, with their pages where the kernel says; a span used up hands out
 * slabs mapped one by one, which work as well; NUMASLAB_ARENA=0 turns it
 * off; freed slabs' pages really go back to the system; a pointer into
 * the arena that is no slab is refused with the usual message and nothing
 * is lost; under mlockall, made before the library starts, only the
 * part of a span in use is writable, locked and resident, and chunks given
 * back read as zeros though the kernel keeps their pages; a malformed
 * NUMASLAB_ARENA is reported.  Under memcheck, where
 * the default is no arena, the cases that need one ask for 256 MiB.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include <sys/mman.h>

#define MAXNODES 1024
#define CHUNK    (64 * 1024)
#define NOBJ     20000

/* The mapping of /proc/self/maps that holds p: 0 and [*lo, *hi), or -1. */
static int vma_of(const void *p, uintptr_t *lo, uintptr_t *hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int found = -1;
    if (!f)
        return -1;
    while (found < 0 && fgets(line, sizeof(line), f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx", &a, &b) == 2 && (uintptr_t)p >= a && (uintptr_t)p < b) {
            *lo = a;
            *hi = b;
            found = 0;
        }
    }
    fclose(f);
    return found;
}

/* The numa_maps policy of the mapping that starts at lo ("bind:1"), into
 * buf; "" when there is none. */
static const char *policy_of(uintptr_t lo, char *buf, size_t n)
{
    FILE *f = fopen("/proc/self/numa_maps", "r");
    char line[4096];
    buf[0] = '\0';
    if (!f)
        return buf;
    while (fgets(line, sizeof(line), f)) {
        unsigned long a;
        char pol[64];
        if (sscanf(line, "%lx %63s", &a, pol) == 2 && a == lo) {
            snprintf(buf, n, "%s", pol);
            break;
        }
    }
    fclose(f);
    return buf;
}

/* The reservation that holds p: the mapping of p and its neighbours that
 * go on from it without a gap, anonymous and under the same policy (the
 * used part of a span is writable, the rest read-only: two mappings to
 * the kernel).  0 and [*lo, *hi), or -1. */
static int span_of(const void *p, uintptr_t *lo, uintptr_t *hi)
{
    enum { MAXV = 4096 };
    static unsigned long a[MAXV], b[MAXV];
    static int anon[MAXV];
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512], path[256], pol[64], pol2[64];
    int n = 0, at = -1;
    if (!f)
        return -1;
    while (n < MAXV && fgets(line, sizeof(line), f)) {
        path[0] = '\0';
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &a[n], &b[n], path) < 2)
            continue;
        anon[n] = path[0] == '\0';
        if ((uintptr_t)p >= a[n] && (uintptr_t)p < b[n])
            at = n;
        n++;
    }
    fclose(f);
    if (at < 0)
        return -1;
    policy_of(a[at], pol, sizeof(pol));
    int i = at, j = at;
    while (i > 0 && b[i - 1] == a[i] && anon[i - 1] &&
           !strcmp(policy_of(a[i - 1], pol2, sizeof(pol2)), pol))
        i--;
    while (j + 1 < n && a[j + 1] == b[j] && anon[j + 1] &&
           !strcmp(policy_of(a[j + 1], pol2, sizeof(pol2)), pol))
        j++;
    *lo = a[i];
    *hi = b[j];
    return 0;
}

static void *objs[NOBJ];

/* The process's resident memory in KiB (VmRSS), or -1. */
static long rss_kb(void)
{
    return tu_proc_status(0, "VmRSS");
}

/* The permissions ("rw-p") of the mapping that holds p, into buf. */
static const char *perms_of(const void *p, char *buf)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    strcpy(buf, "?");
    if (!f)
        return buf;
    while (fgets(line, sizeof(line), f)) {
        unsigned long a, b;
        char perm[8];
        if (sscanf(line, "%lx-%lx %7s", &a, &b, perm) == 3 && (uintptr_t)p >= a &&
            (uintptr_t)p < b) {
            strcpy(buf, perm);
            break;
        }
    }
    fclose(f);
    return buf;
}

/* What the mlockall child (below) saw. */
struct lock_seen {
    int locked;                  /* 0: mlockall was refused (no privilege) */
    int init_rc;                 /* numaslab_init's */
    long rss_future, rss_after;  /* KiB, after the allocations; after MCL_CURRENT again */
    int allocs;                  /* allocations that worked */
    char ro_perm[8], rw_perm[8]; /* a chunk never used, and a used one */
    int zero_bad;                /* bytes of reused chunks that did not read as zero */
};

/* Under mlockall(MCL_CURRENT | MCL_FUTURE) made before numaslab starts,
 * with a 1 GiB span: allocate and free 20000 objects of 256 bytes (their
 * slabs given back at once, which the kernel refuses for locked pages),
 * then allocate zeroed objects in those chunks again. */
static void lock_child(int fd)
{
    struct lock_seen r;
    memset(&r, 0, sizeof(r));
    numaslab_fini();
    setenv("NUMASLAB_ARENA", "1G", 1);
    setenv("NUMASLAB_RETAIN_BYTES", "0", 1);
    setenv("NUMASLAB_RETAIN", "0", 1);
    r.locked = mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
    if (r.locked && (r.init_rc = numaslab_init(NULL)) == 0) {
        for (int i = 0; i < NOBJ; i++)
            if ((objs[i] = numaslab_alloc(256, 0)) != NULL) {
                memset(objs[i], 0x3c, 256);
                r.allocs++;
            }
        r.rss_future = rss_kb();
        uintptr_t lo = 0, hi = 0;
        if (objs[0] && span_of(objs[0], &lo, &hi) == 0) {
            perms_of((char *)hi - CHUNK, r.ro_perm);
            perms_of(objs[0], r.rw_perm);
        }
        for (int i = 0; i < NOBJ; i++)
            numaslab_free(objs[i]);
        numaslab_thread_flush();
        for (int i = 0; i < NOBJ; i++) {
            unsigned char *q = numaslab_alloc(256, 0);
            if (!q)
                break;
            for (int k = 16; k < 256; k++) /* past the two words the lists use */
                r.zero_bad += q[k] == 0x3c;
            objs[i] = q;
        }
        r.rss_after = mlockall(MCL_CURRENT) == 0 ? rss_kb() : -1;
    }
    if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
        _exit(2);
    _exit(0);
}

/* Where the arena is off by default (numaslab(7), NUMASLAB_ARENA):
 * under valgrind's memcheck, known by its preload library, and under a
 * strict overcommit policy. */
static int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    if (p && strstr(p, "vgpreload_memcheck"))
        return 1;
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int mode = 0;
    if (f) {
        if (fscanf(f, "%d", &mode) != 1)
            mode = 0;
        fclose(f);
    }
    return mode == 2;
}

/* Restart the library with NUMASLAB_ARENA set to v (NULL: the default,
 * or 256 MiB under valgrind). */
static void restart(const char *v)
{
    numaslab_fini();
    if (!v && under_valgrind())
        v = "256M";
    if (v)
        setenv("NUMASLAB_ARENA", v, 1);
    else
        unsetenv("NUMASLAB_ARENA");
    REQUIRE(numaslab_init(NULL) == 0, "numaslab_init with NUMASLAB_ARENA=%s: %s", v ? v : "(unset)",
            strerror(errno));
}

struct bad_free {
    void *p;
};

static void free_it(void *arg)
{
    numaslab_free(((struct bad_free *)arg)->p);
}

/* Free p, expected refused: the message names the call and p, and the
 * lookups agree that it is not numaslab's. */
static void check_refused(const char *what, void *p)
{
    struct bad_free b = {p};
    char want[64], *err;
    snprintf(want, sizeof(want), "%p", p);
    err = tu_capture_stderr(free_it, &b);
    CHECK(strstr(err, "numaslab_free") && strstr(err, want) &&
              strstr(err, "was not allocated by numaslab"),
          "%s: numaslab_free(%p) is refused, naming the call and the pointer", what, p);
    tu_show("stderr", err);
    free(err);
    CHECK(numaslab_ptr_node(p) == -EINVAL && numaslab_usable_size(p) == 0,
          "%s: numaslab_ptr_node says -EINVAL and numaslab_usable_size 0", what);
}

int main(void)
{
    tu_init("test-arena");
    /* The refused frees below are reported and go on, in a debug build too. */
    setenv("NUMASLAB_ABORT", "0", 1);
    int nodes[MAXNODES];
    restart(NULL);
    int nn = tu_active_nodes(nodes, MAXNODES);
    REQUIRE(nn > 0, "no active node");
    char pol[64];

    /* Each node's 64 KiB slabs in one reserved mapping, bound to it. */
    tu_case("the slabs of every node lie in its own bound span of the arena");
    uintptr_t span_lo[MAXNODES], span_hi[MAXNODES];
    for (int i = 0; i < nn; i++) {
        int node = nodes[i];
        void *a = numaslab_alloc_node(64, NUMASLAB_THISNODE, node);
        void *b = numaslab_alloc_node(4096, NUMASLAB_THISNODE, node);
        REQUIRE(a && b, "allocations on node %d: %s", node, strerror(errno));
        memset(a, 1, 64);
        memset(b, 1, 4096);
        uintptr_t lo = 0, hi = 0, lo2 = 0, hi2 = 0;
        CHECK(span_of(a, &lo, &hi) == 0 && span_of(b, &lo2, &hi2) == 0 && lo == lo2 && hi == hi2,
              "node %d: a 64-byte and a 4096-byte object lie in one reservation", node);
        CHECK(hi - lo >= ((uintptr_t)256 << 20),
              "node %d: that mapping is a reservation (%lu MiB), not one slab", node,
              (unsigned long)((hi - lo) >> 20));
        if (!tu_simulated()) {
            char want[32];
            snprintf(want, sizeof(want), "bind:%d", node);
            CHECK(!strcmp(policy_of(lo, pol, sizeof(pol)), want),
                  "node %d: the kernel has the mapping bound to it (%s)", node, pol);
        }
        CHECK(kernel_node_of(a) == node && kernel_node_of(b) == node,
              "node %d: the kernel has both objects' pages there (%d, %d)", node, kernel_node_of(a),
              kernel_node_of(b));
        for (int j = 0; j < i && !tu_simulated(); j++) /* unbound spans merge */
            CHECK(hi <= span_lo[j] || lo >= span_hi[j], "node %d's span does not overlap node %d's",
                  node, nodes[j]);
        span_lo[i] = lo;
        span_hi[i] = hi;
        numaslab_free(a);
        numaslab_free(b);
    }

    /* Freed slabs: their pages go back, as the kernel counts them. */
    tu_case("slabs freed with no retention give their pages back");
    setenv("NUMASLAB_RETAIN_BYTES", "0", 1);
    setenv("NUMASLAB_RETAIN", "0", 1);
    restart(NULL);
    unsigned long long m0 = numaslab_bytes_mapped();
    for (int i = 0; i < NOBJ; i++)
        REQUIRE((objs[i] = numaslab_alloc(256, 0)), "alloc %d: %s", i, strerror(errno));
    unsigned long long m1 = numaslab_bytes_mapped();
    CHECK(m1 >= m0 + (unsigned long long)NOBJ * 256,
          "%d objects of 256 bytes map at least their bytes (%llu -> %llu)", NOBJ, m0, m1);
    tu_check_kernel_mapped("with the objects allocated");
    void *stale = objs[NOBJ / 2];
    for (int i = 0; i < NOBJ; i++)
        numaslab_free(objs[i]);
    numaslab_thread_flush();
    unsigned long long m2 = numaslab_bytes_mapped();
    CHECK(m2 + (unsigned long long)NOBJ * 256 / 2 <= m1,
          "freeing them gives most back (%llu -> %llu bytes mapped)", m1, m2);
    tu_check_kernel_mapped("with the objects freed");

    /* A pointer into the arena that is no slab now, and one never used. */
    tu_case("a pointer into the arena that holds no slab is refused");
    uintptr_t lo = 0, hi = 0;
    if (span_of(stale, &lo, &hi) == 0 && hi - lo >= ((uintptr_t)256 << 20)) {
        check_refused("a slab given back", stale);
        check_refused("a chunk never used", (char *)hi - CHUNK + 128);
        void *p = numaslab_alloc(256, 0);
        CHECK(p != NULL, "allocation still works after the refusals");
        numaslab_free(p);
    } else {
        CHECK(0, "the freed object's mapping is the arena (%lu MiB)",
              (unsigned long)((hi - lo) >> 20));
    }
    unsetenv("NUMASLAB_RETAIN_BYTES");
    unsetenv("NUMASLAB_RETAIN");

    /* A small span: 16 chunks, then slabs mapped one by one. */
    tu_case("a span used up: further slabs are mapped one by one and work");
    restart("1M");
    int node = nodes[0];
    size_t in = 0, out = 0;
    uintptr_t alo = 0, ahi = 0;
    int wrong = 0;
    for (int i = 0; i < 1000; i++) {
        REQUIRE((objs[i] = numaslab_alloc_node(4096, NUMASLAB_THISNODE, node)), "alloc %d: %s", i,
                strerror(errno));
        memset(objs[i], (int)i, 4096);
        uintptr_t l, h;
        REQUIRE(vma_of(objs[i], &l, &h) == 0, "no mapping holds %p", objs[i]);
        if (i == 0) {
            alo = l;
            ahi = h;
        }
        if (l == alo && h == ahi)
            in++;
        else
            out++;
        wrong += numaslab_ptr_node(objs[i]) != node;
    }
    CHECK(wrong == 0, "every object is on node %d (%d are not)", node, wrong);
    /* One mapping per node's span; a simulated machine's spans, bound to
     * nothing, merge into one. */
    CHECK((ahi - alo) % ((uintptr_t)1 << 20) == 0 && ahi - alo <= (uintptr_t)nn << 20,
          "NUMASLAB_ARENA=1M reserves 1 MiB per node (a mapping of %lu KiB, %d nodes)",
          (unsigned long)((ahi - alo) >> 10), nn);
    CHECK(in > 0 && in <= 16 * 15 && out > 0,
          "the first slabs come from the span (%zu objects), the rest from mappings of "
          "their own (%zu)",
          in, out);
    CHECK(kernel_on_node(objs[999], 4096, node), "the kernel has the last object on node %d", node);
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        const unsigned char *b = objs[i];
        bad += b[0] != (unsigned char)i || b[4095] != (unsigned char)i;
        numaslab_free(objs[i]);
    }
    CHECK(bad == 0, "every object kept its bytes (%d did not)", bad);
    numaslab_thread_flush();
    tu_check_kernel_mapped("with the span used up and everything freed");

    /* mlockall: only what the arena uses is locked and resident. */
    tu_case("under mlockall, the arena's unused part stays read-only and not resident");
    if (TU_SANITIZED || under_valgrind()) {
        /* A sanitizer's shadow memory would all be locked too. */
        printf("# skipped: under a sanitizer or valgrind\n");
    } else {
        int fds[2];
        REQUIRE(pipe(fds) == 0, "pipe: %s", strerror(errno));
        fflush(NULL);
        pid_t pid = fork();
        REQUIRE(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            close(fds[0]);
            lock_child(fds[1]);
        }
        close(fds[1]);
        struct lock_seen r;
        ssize_t got = read(fds[0], &r, sizeof(r));
        close(fds[0]);
        int st = 0;
        waitpid(pid, &st, 0);
        REQUIRE(got == (ssize_t)sizeof(r) && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                "the mlockall child reported (%zd bytes, status %#x)", got, st);
        if (!r.locked) {
            printf("# skipped: mlockall refused (no privilege, RLIMIT_MEMLOCK)\n");
        } else {
            CHECK(r.init_rc == 0 && r.allocs == NOBJ,
                  "numaslab starts under mlockall(MCL_FUTURE) and serves %d objects (%d, rc %d)",
                  NOBJ, r.allocs, r.init_rc);
            /* The objects are 5 MiB; a span of 1 GiB locked whole would be it. */
            CHECK(r.rss_future > 0 && r.rss_future < 128 * 1024,
                  "with a 1 GiB span, the process's resident memory stays %ld KiB (< 128 MiB)",
                  r.rss_future);
            CHECK(!strcmp(r.ro_perm, "r--p") && !strcmp(r.rw_perm, "rw-p"),
                  "a chunk never used is read-only (%s), a used one writable (%s)", r.ro_perm,
                  r.rw_perm);
            CHECK(r.zero_bad == 0,
                  "chunks given back under the lock (the kernel keeps their pages) read as zeros "
                  "when used again (%d stale bytes)",
                  r.zero_bad);
            CHECK(r.rss_after > 0 && r.rss_after < 128 * 1024,
                  "mlockall(MCL_CURRENT) later locks %ld KiB (< 128 MiB)", r.rss_after);
        }
    }

    /* Fresh large runs of up to 256 KiB: cut from the node's region, one
     * after another, no mapping of their own (lib/pages.c). */
    tu_case(
        "fresh large objects of up to 256 KiB are cut one after another from the node's region");
    restart(NULL);
    {
        static const size_t rsz[] = {12 << 10,  20 << 10, 64 << 10, 9 << 10,  256 << 10,
                                     100 << 10, 16 << 10, 8200,     40 << 10, 200 << 10};
        enum { NR = sizeof(rsz) / sizeof(rsz[0]) };
        size_t pg = (size_t)tu_pagesize(), run[NR]; /* each one's run: whole pages */
        for (int k = 0; k < NR; k++)
            run[k] = (rsz[k] + pg - 1) / pg * pg;
        for (int i = 0; i < nn; i++) {
            int node = nodes[i];
            /* The large objects' headers' first slab, made now. */
            void *w = numaslab_alloc_node(300 << 10, NUMASLAB_THISNODE, node);
            REQUIRE(w, "a 300 KiB object on node %d: %s", node, strerror(errno));
            struct numaslab_node_stats st0, st1;
            numaslab_stats_node(node, &st0);
            void *q[NR];
            size_t want = 0;
            for (int k = 0; k < NR; k++) {
                q[k] = numaslab_alloc_node(rsz[k], NUMASLAB_THISNODE, node);
                REQUIRE(q[k], "%zu bytes on node %d: %s", rsz[k], node, strerror(errno));
                memset(q[k], 0x5a, rsz[k]);
                want += run[k];
            }
            numaslab_stats_node(node, &st1);
            int adjacent = 0, on_node = 0;
            for (int k = 1; k < NR; k++)
                adjacent += (char *)q[k] == (char *)q[k - 1] + run[k - 1];
            CHECK(adjacent == NR - 1,
                  "node %d: each of %d fresh objects starts where the one before ends (%d do)",
                  node, NR, adjacent + 1);
            for (int k = 0; k < NR; k++)
                on_node += kernel_pages_off_node(q[k], rsz[k], node, NULL, NULL) == 0;
            CHECK(on_node == NR, "node %d: the kernel has every page of all %d on the node (%d)",
                  node, NR, on_node);
            uintptr_t lo, hi;
            CHECK(vma_of(q[0], &lo, &hi) == 0 && hi - lo > want,
                  "node %d: they lie in one mapping larger than they are (%lu KiB for %zu KiB)",
                  node, (unsigned long)((hi - lo) >> 10), want >> 10);
            policy_of(lo, pol, sizeof(pol));
            char bound[32];
            snprintf(bound, sizeof(bound), "bind:%d", node);
            CHECK(!strcmp(pol, bound), "node %d: that mapping is bound to it (numa_maps: %s)", node,
                  pol);
            CHECK(st1.bytes_mapped - st0.bytes_mapped == want,
                  "node %d: only what they use is counted as mapped (%llu bytes, want %zu)", node,
                  (unsigned long long)(st1.bytes_mapped - st0.bytes_mapped), want);
            for (int k = 0; k < NR; k++)
                numaslab_free(q[k]);
            numaslab_free(w);
        }
    }

    /* A span smaller than a region: the region is the span's size, and
     * runs larger than that are mapped alone. */
    tu_case("NUMASLAB_ARENA=128K: regions of 128 KiB, larger fresh runs mapped alone");
    restart("128K");
    {
        enum { NQ = 24 };
        void *q[NQ];
        int good = 0;
        for (int k = 0; k < NQ; k++) {
            size_t sz = k % 2 ? 200 << 10 : 100 << 10;
            q[k] = numaslab_alloc_node(sz, NUMASLAB_THISNODE, nodes[0]);
            REQUIRE(q[k], "%zu bytes on node %d: %s", sz, nodes[0], strerror(errno));
            memset(q[k], k + 1, sz);
        }
        for (int k = 0; k < NQ; k++) {
            size_t sz = k % 2 ? 200 << 10 : 100 << 10;
            const unsigned char *b = q[k];
            good += b[0] == k + 1 && b[sz - 1] == k + 1 && numaslab_usable_size(q[k]) >= sz &&
                    kernel_pages_off_node(q[k], sz, nodes[0], NULL, NULL) == 0;
        }
        CHECK(good == NQ, "%d objects of 100 and 200 KiB keep their bytes, on node %d (%d do)", NQ,
              nodes[0], good);
        for (int k = 0; k < NQ; k++)
            numaslab_free(q[k]);
    }

    /* No arena. */
    tu_case("NUMASLAB_ARENA=0: no arena, slabs mapped one by one");
    restart("0");
    void *p = numaslab_alloc_node(64, NUMASLAB_THISNODE, node);
    REQUIRE(p, "alloc: %s", strerror(errno));
    memset(p, 1, 64);
    CHECK(vma_of(p, &lo, &hi) == 0 && hi - lo < ((uintptr_t)256 << 20),
          "the object's mapping is no reservation (%lu KiB)", (unsigned long)((hi - lo) >> 10));
    CHECK(kernel_node_of(p) == node, "the kernel has it on node %d", node);
    numaslab_free(p);

    /* A malformed value: reported, the default applies. */
    tu_case("a malformed NUMASLAB_ARENA is reported and the default applies");
    numaslab_fini();
    setenv("NUMASLAB_ARENA", "12Q", 1);
    struct tu_capture cap;
    tu_capture_begin(&cap);
    int rc = numaslab_init(NULL);
    char *err = tu_capture_end(&cap);
    CHECK(rc == 0 && strstr(err, "NUMASLAB_ARENA=\"12Q\"") && strstr(err, "using the default"),
          "numaslab_init reports NUMASLAB_ARENA=\"12Q\" and goes on");
    tu_show("stderr", err);
    free(err);
    p = numaslab_alloc_node(64, NUMASLAB_THISNODE, node);
    REQUIRE(p, "alloc: %s", strerror(errno));
    if (under_valgrind())
        CHECK(vma_of(p, &lo, &hi) == 0 && hi - lo < ((uintptr_t)256 << 20),
              "where the default is no arena (memcheck, strict overcommit): a mapping of %lu KiB",
              (unsigned long)((hi - lo) >> 10));
    else
        CHECK(span_of(p, &lo, &hi) == 0 && hi - lo >= ((uintptr_t)256 << 20),
              "the default arena is there (%lu MiB)", (unsigned long)((hi - lo) >> 20));
    numaslab_free(p);
    numaslab_fini();
    CHECK(numaslab_bytes_mapped() == 0, "numaslab_fini(): nothing mapped");
    return tu_exit();
}
