/*
 * numa/memstate.c - how much memory the kernel can still give: on each
 * node, and to this process under its memory cgroup.
 *
 * A page that is mapped but cannot be had is not an error the kernel
 * returns: a fault it cannot satisfy under MPOL_BIND, or over a memory
 * cgroup limit, ends in the OOM killer.  So lib/ asks here, before it
 * faults anything in, and keeps the answer cached (lib/headroom.c); this
 * file only reads and computes, it keeps no state of its own.
 *
 * Per node.  hwloc gives the size of a node but not its free memory, and
 * libnuma's numa_node_size64 gives the free memory but reads it with
 * stdio (an allocation inside an allocation, and a read of the same file
 * per figure): the node's own meminfo file is read here, once per reading,
 * for its MemFree, file pages and reclaimable slab.  A machine whose only
 * memory is one node is read from /proc/meminfo instead: the same figures
 * for the whole machine, and the right ones on virtual machines whose
 * memory is plugged in as it is used, where a node's own meminfo shows
 * only the part plugged so far.  The kernel's
 * watermarks of each node come from /proc/zoneinfo, read once at
 * initialisation.  What a node can still give is computed the way the
 * kernel computes MemAvailable (the estimate proc(5) describes), per
 * node:
 *   avail = free - high watermark
 *         + file pages - min(file pages / 2, low watermark)
 *         + reclaimable slab - min(reclaimable slab / 2, low watermark)
 * clamped at 0: a node full of clean file cache still gives, a node at
 * its min watermark gives nothing.  The test suite checks MemFree against
 * libnuma's numa_node_size64.
 *
 * Per process.  The memory cgroup the process is in at initialisation,
 * found through /proc/self/cgroup and /proc/self/mountinfo: version 1
 * (memory.limit_in_bytes, memory.usage_in_bytes) or version 2
 * (memory.max, memory.high, memory.current).  A limit of any ancestor up
 * to the mounted root applies as well (Slurm's job cgroup above its step
 * cgroup), so every level is read and the tightest headroom wins.  The
 * process's own inactive file cache (memory.stat) counts half as
 * reclaimable.
 *
 * Reads use open/read/close into stack buffers: no allocation, so a
 * reading may run inside any allocation call.  Every function is
 * thread-safe.
 */
#include "config.h"

#include "numa/numa.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read a small file whole into buf (NUL-terminated).  Bytes read, or
 * -errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* The number after key in text ("Node 0 MemFree:   123 kB"): the first
 * occurrence of key at the start of a line or after the node prefix,
 * followed by blanks.  0 or -ENOENT. */
static int field_u64(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);
    for (const char *p = text; (p = strstr(p, key)) != NULL; p += klen) {
        /* key must start a word: line start, or after a blank */
        if (p != text && p[-1] != ' ' && p[-1] != '\n' && p[-1] != '\t')
            continue;
        const char *v = p + klen;
        if (*v != ' ' && *v != '\t')
            continue;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v < '0' || *v > '9')
            continue;
        *out = strtoull(v, NULL, 10);
        return 0;
    }
    return -ENOENT;
}

/* ------------------------------------------------------------------------
 * Nodes
 * ---------------------------------------------------------------------- */

int nslab__node_meminfo_parse(const char *text, struct nslab_node_mem *m)
{
    uint64_t free_kb, total_kb = 0, af = 0, inf = 0, srec = 0;
    if (field_u64(text, "MemFree:", &free_kb))
        return -EINVAL;
    field_u64(text, "MemTotal:", &total_kb);
    /* Absent in old kernels: no file cache counted then. */
    field_u64(text, "Active(file):", &af);
    field_u64(text, "Inactive(file):", &inf);
    field_u64(text, "SReclaimable:", &srec);
    m->total = total_kb << 10;
    m->free = free_kb << 10;
    m->file = (af + inf) << 10;
    m->slab_reclaimable = srec << 10;
    return 0;
}

int nslab__node_mem_read(int node, struct nslab_node_mem *m)
{
    char path[64], buf[4096];
    if (node < 0)
        snprintf(path, sizeof(path), "/proc/meminfo");
    else
        snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
    ssize_t n = read_small(path, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    return nslab__node_meminfo_parse(buf, m);
}

/* At s, a line's first word past its blanks: when that word is key and
 * a number follows it, 1 with the number in *v; else 0. */
static int zone_field(const char *s, const char *key, unsigned long long *v)
{
    size_t n = strlen(key);
    if (strncmp(s, key, n) != 0 || (s[n] != ' ' && s[n] != '\t'))
        return 0;
    char *end;
    *v = strtoull(s + n, &end, 10);
    return end != s + n;
}

int nslab__zoneinfo_parse(FILE *f, int max_node, struct nslab_node_wmark *w)
{
    char line[512];
    int node = -1, found = 0;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    memset(w, 0, sizeof(*w) * (size_t)(max_node + 1));
    /* A few hundred lines per node, three of them wanted per zone: each
     * line is looked at by its first word, not through sscanf (which made
     * this most of what starting the library costs in instructions). */
    while (fgets(line, sizeof(line), f)) {
        int n;
        char zone[32];
        if (!strncmp(line, "Node ", 5) && sscanf(line, "Node %d, zone %31s", &n, zone) == 2) {
            node = n >= 0 && n <= max_node ? n : -1;
            continue;
        }
        if (node < 0)
            continue;
        /* "        min      1234": the zone's watermarks in pages; other
         * lines ("pages free", "nr_*", protection) are skipped. */
        const char *s = line + strspn(line, " \t");
        unsigned long long v;
        uint64_t *sum = NULL;
        if (zone_field(s, "min", &v))
            sum = &w[node].min, found = 1;
        else if (zone_field(s, "low", &v))
            sum = &w[node].low;
        else if (zone_field(s, "high", &v))
            sum = &w[node].high;
        if (sum)
            *sum += (uint64_t)v * (uint64_t)page;
    }
    return found ? 0 : -EINVAL;
}

int nslab__node_wmarks_read(int max_node, struct nslab_node_wmark *w)
{
    NSLAB_BUSY_ENTER(); /* stdio allocates its buffer (numa/numa.h) */
    FILE *f = fopen("/proc/zoneinfo", "re");
    int rc = f ? nslab__zoneinfo_parse(f, max_node, w) : -errno;
    if (f)
        fclose(f);
    NSLAB_BUSY_LEAVE();
    return rc;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t nslab__node_avail(const struct nslab_node_mem *m, const struct nslab_node_wmark *w)
{
    /* Signed arithmetic: the high watermark may exceed what is free. */
    int64_t avail = (int64_t)m->free - (int64_t)w->high;
    avail += (int64_t)(m->file - min_u64(m->file / 2, w->low));
    avail += (int64_t)(m->slab_reclaimable - min_u64(m->slab_reclaimable / 2, w->low));
    return avail > 0 ? (uint64_t)avail : 0;
}

/* ------------------------------------------------------------------------
 * The memory cgroup
 * ---------------------------------------------------------------------- */

/* Field k (0-based, blank-separated) of line; its length in *len. */
static const char *word(const char *line, int k, size_t *len)
{
    const char *p = line;
    for (int i = 0;; i++) {
        while (*p == ' ')
            p++;
        if (!*p || *p == '\n')
            return NULL;
        const char *e = p;
        while (*e && *e != ' ' && *e != '\n')
            e++;
        if (i == k) {
            *len = (size_t)(e - p);
            return p;
        }
        p = e;
    }
}

/* Is the comma-separated list [s, s+len) holding item? */
static int list_has(const char *s, size_t len, const char *item)
{
    size_t il = strlen(item);
    for (const char *p = s; p < s + len;) {
        const char *e = memchr(p, ',', (size_t)(s + len - p));
        if (!e)
            e = s + len;
        if ((size_t)(e - p) == il && !memcmp(p, item, il))
            return 1;
        p = e + 1;
    }
    return 0;
}

/*
 * The mount point of the hierarchy (v1: the one with the memory
 * controller; v2: cgroup2) and the path inside it that the mount shows
 * as its root, from mountinfo's text.  0 or -ENOENT.
 */
static int find_mount(const char *mountinfo, int version, char *mnt, size_t mcap, char *root,
                      size_t rcap)
{
    for (const char *line = mountinfo; line && *line;) {
        const char *nl = strchr(line, '\n');
        /* "36 35 0:30 ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SRC SUPEROPTS" */
        const char *dash = strstr(line, " - ");
        if (dash && (!nl || dash < nl)) {
            size_t tl, sl, rl, ml;
            const char *type = word(dash + 3, 0, &tl);
            const char *super = word(dash + 3, 2, &sl);
            const char *r = word(line, 3, &rl);
            const char *m = word(line, 4, &ml);
            int match = type && r && m &&
                        (version == 2 ? (tl == 7 && !memcmp(type, "cgroup2", 7))
                                      : (tl == 6 && !memcmp(type, "cgroup", 6) && super &&
                                         list_has(super, sl, "memory")));
            if (match && ml < mcap && rl < rcap) {
                memcpy(mnt, m, ml);
                mnt[ml] = '\0';
                memcpy(root, r, rl);
                root[rl] = '\0';
                return 0;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return -ENOENT;
}

int nslab__cgroup_locate(const char *proc_cgroup, const char *mountinfo, struct nslab_cgroup *cg)
{
    char path[NSLAB_CG_PATH], mnt[NSLAB_CG_PATH], root[NSLAB_CG_PATH];
    memset(cg, 0, sizeof(*cg));
    /* Lines "ID:CONTROLLERS:PATH"; v1's memory line wins over v2's "0::"
     * (a hybrid system has its memory controller on v1). */
    for (int version = 1; version <= 2; version++) {
        for (const char *line = proc_cgroup; line && *line;) {
            const char *nl = strchr(line, '\n');
            const char *eol = nl ? nl : line + strlen(line);
            const char *c1 = memchr(line, ':', (size_t)(eol - line));
            const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
            line = nl ? nl + 1 : NULL;
            if (!c2)
                continue;
            size_t cl = (size_t)(c2 - c1 - 1);
            if (version == 1 ? !(cl && list_has(c1 + 1, cl, "memory")) : cl != 0)
                continue;
            const char *p = c2 + 1;
            if ((size_t)(eol - p) >= sizeof(path))
                return -ENAMETOOLONG;
            memcpy(path, p, (size_t)(eol - p));
            path[eol - p] = '\0';
            if (find_mount(mountinfo, version, mnt, sizeof(mnt), root, sizeof(root)))
                break;
            /* The mount shows ROOT of the hierarchy at MNT: the process's
             * directory is MNT + (PATH less ROOT).  A PATH outside ROOT
             * (another namespace's view) is taken as MNT itself. */
            const char *rel = path;
            size_t rl = strlen(root);
            if (strcmp(root, "/") && !strncmp(path, root, rl) && (path[rl] == '/' || !path[rl]))
                rel = path + rl;
            else if (strcmp(root, "/"))
                rel = "";
            if (!strcmp(rel, "/"))
                rel = "";
            int n = snprintf(cg->dir, sizeof(cg->dir), "%s%s", mnt, rel);
            if (n < 0 || (size_t)n >= sizeof(cg->dir))
                return -ENAMETOOLONG;
            cg->mnt_len = strlen(mnt);
            cg->version = version;
            return 0;
        }
    }
    return -ENOENT;
}

int nslab__cgroup_find(struct nslab_cgroup *cg)
{
    char pc[4096], mi[16384];
    ssize_t n = read_small("/proc/self/cgroup", pc, sizeof(pc));
    if (n < 0)
        return (int)n;
    n = read_small("/proc/self/mountinfo", mi, sizeof(mi));
    if (n < 0)
        return (int)n;
    return nslab__cgroup_locate(pc, mi, cg);
}

/* A limit file's value: "max" (v2) or a huge v1 value is no limit. */
static int read_limit(const char *dir, const char *file, uint64_t *out)
{
    char path[NSLAB_CG_PATH + 32], buf[64];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    ssize_t n = read_small(path, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    if (!strncmp(buf, "max", 3)) {
        *out = UINT64_MAX;
        return 0;
    }
    if (buf[0] < '0' || buf[0] > '9')
        return -EINVAL;
    uint64_t v = strtoull(buf, NULL, 10);
    /* v1 writes "unlimited" as PAGE_COUNTER_MAX pages, about 2^63. */
    *out = v >= (UINT64_C(1) << 62) ? UINT64_MAX : v;
    return 0;
}

int nslab__cgroup_read(const struct nslab_cgroup *cg, struct nslab_cg_reading *r)
{
    char dir[NSLAB_CG_PATH];
    int levels = 0, rc = 0;
    memset(r, 0, sizeof(*r));
    r->limit = UINT64_MAX;
    r->headroom = UINT64_MAX;
    if (!cg->version)
        return -ENOENT;
    strcpy(dir, cg->dir);
    const char *lim_file = cg->version == 2 ? "memory.max" : "memory.limit_in_bytes";
    const char *use_file = cg->version == 2 ? "memory.current" : "memory.usage_in_bytes";
    /* From the process's own directory up to the mount point: a v2 root
     * has no memory.max, a v1 root is unlimited. */
    for (;;) {
        uint64_t lim, use, high = UINT64_MAX;
        int e = read_limit(dir, lim_file, &lim);
        if (e == 0 && cg->version == 2 && read_limit(dir, "memory.high", &high) == 0 && high < lim)
            lim = high;
        if (e == 0 && lim != UINT64_MAX) {
            if ((e = read_limit(dir, use_file, &use)) != 0) {
                rc = e;
            } else {
                uint64_t room = use < lim ? lim - use : 0;
                if (room < r->headroom) {
                    r->headroom = room;
                    r->limit = lim;
                    r->usage = use;
                }
            }
        } else if (e != 0 && e != -ENOENT) {
            rc = e;
        }
        if (levels == 0 && e == 0) {
            if (lim == UINT64_MAX && read_limit(dir, use_file, &use) == 0)
                r->usage = use; /* shown even without a limit */
            /* The process's own inactive file cache can be reclaimed. */
            char path[NSLAB_CG_PATH + 32], buf[8192];
            snprintf(path, sizeof(path), "%s/memory.stat", dir);
            uint64_t inact = 0;
            if (read_small(path, buf, sizeof(buf)) > 0 &&
                field_u64(buf, cg->version == 2 ? "inactive_file" : "total_inactive_file",
                          &inact) == 0)
                r->reclaimable = inact;
        }
        levels++;
        size_t len = strlen(dir);
        if (len <= cg->mnt_len)
            break;
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < cg->mnt_len)
            break;
        *slash = '\0';
    }
    if (r->headroom != UINT64_MAX) {
        uint64_t extra = r->reclaimable / 2;
        r->headroom = r->headroom > UINT64_MAX - extra ? UINT64_MAX : r->headroom + extra;
    }
    return rc;
}
