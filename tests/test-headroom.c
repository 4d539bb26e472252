/*
 * test-headroom.c - the readings behind "running short" (numa/memstate.c):
 * node meminfo and zoneinfo parsing, the MemAvailable-style formula, the
 * memory cgroup's location from /proc/self/cgroup and mountinfo (v1, v2,
 * hybrid, a namespace's view) and its limits over a directory tree made
 * here, and this machine's real figures against libnuma's.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "testutil.h"

#include "numa/numa.h"

#include <numa.h>
#include <sys/stat.h>

#define MiB (UINT64_C(1) << 20)

static void meminfo(void)
{
    tu_case("meminfo");
    const char *node = "Node 0 MemTotal:        4417740 kB\n"
                       "Node 0 MemFree:         1000 kB\n"
                       "Node 0 Active:          900 kB\n"
                       "Node 0 Active(anon):    50 kB\n"
                       "Node 0 Active(file):    200 kB\n"
                       "Node 0 Inactive(file):  300 kB\n"
                       "Node 0 SReclaimable:    40 kB\n";
    struct nslab_node_mem m;
    CHECK(nslab__node_meminfo_parse(node, &m) == 0, "a node's meminfo parses");
    CHECK(m.free == 1000 << 10 && m.file == 500 << 10 && m.slab_reclaimable == 40 << 10 &&
              m.total == UINT64_C(4417740) << 10,
          "MemFree, file pages (Active(file) + Inactive(file), not Active), SReclaimable, "
          "MemTotal: %llu %llu %llu %llu",
          (unsigned long long)m.free, (unsigned long long)m.file,
          (unsigned long long)m.slab_reclaimable, (unsigned long long)m.total);
    const char *whole = "MemTotal:       24684084 kB\nMemFree:        2000 kB\n"
                        "MemAvailable:   3000 kB\nActive(file):     10 kB\n";
    CHECK(nslab__node_meminfo_parse(whole, &m) == 0 && m.free == 2000 << 10 && m.file == 10 << 10 &&
              m.slab_reclaimable == 0,
          "/proc/meminfo's form parses too");
    CHECK(nslab__node_meminfo_parse("Node 0 MemTotal: 5 kB\n", &m) == -EINVAL,
          "no MemFree: -EINVAL");
}

static void zoneinfo(void)
{
    tu_case("zoneinfo");
    const char *text = "Node 0, zone      DMA\n"
                       "  per-node stats\n"
                       "      nr_inactive_anon 5\n"
                       "  pages free     3840\n"
                       "        min      10\n"
                       "        low      12\n"
                       "        high     14\n"
                       "        protection: (0, 2, 3)\n"
                       "        min_unmapped_pages 999\n"
                       "        highmem 999\n"
                       "        low\n"
                       "Node 0, zone   Normal\n"
                       "  pages free     100\n"
                       "        min      100\n"
                       "        low      120\n"
                       "        high     140\n"
                       "Node 2, zone   Normal\n"
                       "        min      7\n"
                       "        low      8\n"
                       "        high     9\n"
                       "Node 9, zone   Normal\n"
                       "        min      1000\n";
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    struct nslab_node_wmark w[3];
    REQUIRE(f, "fmemopen");
    CHECK(nslab__zoneinfo_parse(f, 2, w) == 0, "zoneinfo parses");
    fclose(f);
    uint64_t page = (uint64_t)tu_pagesize();
    CHECK(w[0].min == 110 * page && w[0].low == 132 * page && w[0].high == 154 * page,
          "node 0: its zones summed (min %llu low %llu high %llu pages)",
          (unsigned long long)(w[0].min / page), (unsigned long long)(w[0].low / page),
          (unsigned long long)(w[0].high / page));
    CHECK(w[1].min == 0 && w[2].high == 9 * page, "a node without zones is 0; node 2 is its own");

    /* The formula: clean file cache is room, the min watermark is not. */
    struct nslab_node_wmark wm = {.min = 4 * MiB, .low = 5 * MiB, .high = 6 * MiB};
    struct nslab_node_mem cache = {.free = 7 * MiB, .file = 1024 * MiB};
    uint64_t a = nslab__node_avail(&cache, &wm);
    CHECK(a == 7 * MiB - 6 * MiB + 1024 * MiB - 5 * MiB,
          "a node full of clean file cache still gives %llu MiB", (unsigned long long)a >> 20);
    struct nslab_node_mem atmin = {.free = 4 * MiB, .file = 2 * MiB};
    CHECK(nslab__node_avail(&atmin, &wm) == 0, "a node at its min watermark gives nothing");
    struct nslab_node_mem half = {.free = 6 * MiB, .file = 4 * MiB, .slab_reclaimable = 2 * MiB};
    CHECK(nslab__node_avail(&half, &wm) == 2 * MiB + 1 * MiB, "small caches count half (%llu)",
          (unsigned long long)nslab__node_avail(&half, &wm));
}

static void locate(void)
{
    tu_case("finding the cgroup");
    struct nslab_cgroup cg;
    const char *mi_v2 = "24 1 0:22 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw\n"
                        "25 1 0:23 / /proc rw - proc proc rw\n";
    CHECK(nslab__cgroup_locate("0::/user.slice/job.scope\n", mi_v2, &cg) == 0 && cg.version == 2 &&
              !strcmp(cg.dir, "/sys/fs/cgroup/user.slice/job.scope") &&
              cg.mnt_len == strlen("/sys/fs/cgroup"),
          "v2: %s", cg.dir);
    CHECK(nslab__cgroup_locate("0::/\n", mi_v2, &cg) == 0 && !strcmp(cg.dir, "/sys/fs/cgroup"),
          "v2 at the root: %s", cg.dir);
    const char *hybrid_cg = "9:name=systemd:/\n4:memory:/process_api/abc\n3:cpuset:/\n0::/\n";
    const char *hybrid_mi =
        "30 29 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
        "33 29 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "38 29 0:34 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
    CHECK(nslab__cgroup_locate(hybrid_cg, hybrid_mi, &cg) == 0 && cg.version == 1 &&
              !strcmp(cg.dir, "/sys/fs/cgroup/memory/process_api/abc"),
          "hybrid: v1's memory controller wins: %s", cg.dir);
    const char *combined = "5:cpu,memory:/a\n";
    const char *combined_mi = "33 29 0:29 / /cg rw - cgroup cgroup rw,cpu,memory\n";
    CHECK(nslab__cgroup_locate(combined, combined_mi, &cg) == 0 && !strcmp(cg.dir, "/cg/a"),
          "v1 with controllers mounted together: %s", cg.dir);
    const char *ns_mi = "40 39 0:29 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    CHECK(nslab__cgroup_locate("0::/docker/abc/sub\n", ns_mi, &cg) == 0 &&
              !strcmp(cg.dir, "/sys/fs/cgroup/sub"),
          "a mount of a subtree: the path below its root: %s", cg.dir);
    CHECK(nslab__cgroup_locate("4:memory:/x\n", mi_v2, &cg) == -ENOENT,
          "v1 memory line without its mount: no cgroup");
    CHECK(nslab__cgroup_locate("1:cpu:/\n", mi_v2, &cg) == -ENOENT, "no memory cgroup: -ENOENT");
}

static void put(const char *dir, const char *file, const char *text)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    REQUIRE(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

static void tree(void)
{
    tu_case("cgroup limits up the tree");
    char root[] = "/tmp/numaslab-cg.XXXXXX", a[256], b[256];
    REQUIRE(mkdtemp(root), "mkdtemp");
    snprintf(a, sizeof(a), "%s/job", root);
    snprintf(b, sizeof(b), "%s/job/step", root);
    REQUIRE(mkdir(a, 0700) == 0 && mkdir(b, 0700) == 0, "mkdir");
    /* v2: the step has only memory.high, the job a tighter memory.max. */
    put(b, "memory.max", "max\n");
    put(b, "memory.high", "100000000\n");
    put(b, "memory.current", "60000000\n");
    put(b, "memory.stat", "anon 5\nfile 9000000\nactive_file 1000000\ninactive_file 8000000\n");
    put(a, "memory.max", "90000000\n");
    put(a, "memory.high", "max\n");
    put(a, "memory.current", "85000000\n");
    struct nslab_cgroup cg = {.version = 2};
    snprintf(cg.dir, sizeof(cg.dir), "%s", b);
    cg.mnt_len = strlen(root);
    struct nslab_cg_reading r;
    CHECK(nslab__cgroup_read(&cg, &r) == 0, "the tree reads");
    CHECK(r.limit == 90000000 && r.usage == 85000000 && r.reclaimable == 8000000 &&
              r.headroom == 5000000 + 4000000,
          "the job's limit is the tighter: limit %llu usage %llu, headroom %llu (5 MB + half "
          "of 8 MB inactive file)",
          (unsigned long long)r.limit, (unsigned long long)r.usage, (unsigned long long)r.headroom);
    put(a, "memory.max", "max\n");
    CHECK(nslab__cgroup_read(&cg, &r) == 0 && r.limit == 100000000 &&
              r.headroom == 40000000 + 4000000,
          "without it, the step's memory.high: limit %llu", (unsigned long long)r.limit);
    put(b, "memory.high", "max\n");
    CHECK(nslab__cgroup_read(&cg, &r) == 0 && r.limit == UINT64_MAX && r.headroom == UINT64_MAX,
          "no limit anywhere: UINT64_MAX");

    /* v1: the kernel's "unlimited" is about 2^63. */
    struct nslab_cgroup v1 = {.version = 1};
    snprintf(v1.dir, sizeof(v1.dir), "%s", b);
    v1.mnt_len = strlen(root);
    put(b, "memory.limit_in_bytes", "9223372036854771712\n");
    put(b, "memory.usage_in_bytes", "1000\n");
    put(a, "memory.limit_in_bytes", "67108864\n");
    put(a, "memory.usage_in_bytes", "60000000\n");
    put(b, "memory.stat", "cache 0\ntotal_inactive_file 2000000\n");
    CHECK(nslab__cgroup_read(&v1, &r) == 0 && r.limit == 67108864 &&
              r.headroom == 67108864 - 60000000 + 1000000,
          "v1: the parent's limit (%llu), headroom %llu", (unsigned long long)r.limit,
          (unsigned long long)r.headroom);

    /* A limit file that cannot be read is an error, not a limit. */
    char path[512];
    snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", a);
    unlink(path);
    REQUIRE(mkdir(path, 0700) == 0, "mkdir");
    CHECK(nslab__cgroup_read(&v1, &r) < 0, "an unreadable limit file: an error (%d)",
          nslab__cgroup_read(&v1, &r));
    rmdir(path);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        tu_info("could not remove %s", root);
}

/* This machine: MemFree as libnuma reads it, and the process's cgroup. */
static void this_machine(void)
{
    tu_case("this machine");
    struct nslab_node_mem m;
    if (numa_available() < 0 || nslab__node_mem_read(0, &m) != 0) {
        tu_info("no node meminfo here");
        return;
    }
    long long freeb = 0;
    numa_node_size64(0, &freeb);
    long long d = (long long)m.free - freeb;
    CHECK(llabs(d) < 64LL << 20, "node 0's MemFree agrees with numa_node_size64: %llu vs %lld",
          (unsigned long long)m.free, freeb);
    struct nslab_node_wmark w[1];
    CHECK(nslab__node_wmarks_read(0, w) == 0 && w[0].min > 0 && w[0].min <= w[0].low &&
              w[0].low <= w[0].high,
          "the kernel's watermarks of node 0: min %llu <= low %llu <= high %llu",
          (unsigned long long)w[0].min, (unsigned long long)w[0].low,
          (unsigned long long)w[0].high);
    CHECK(nslab__node_mem_read(-1, &m) == 0 && m.total > 0, "the whole machine's figures read");
    struct nslab_cgroup cg;
    int rc = nslab__cgroup_find(&cg);
    tu_info("this process's memory cgroup: %s (v%d)", rc ? "none" : cg.dir, rc ? 0 : cg.version);
    CHECK(rc == 0 || rc == -ENOENT, "finding it gives a cgroup or none (%d)", rc);
}

int main(void)
{
    tu_init("test-headroom");
    meminfo();
    zoneinfo();
    locate();
    tree();
    this_machine();
    return tu_exit();
}
