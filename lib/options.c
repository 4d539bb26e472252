/*
 * lib/options.c - every NUMASLAB_* variable, in one table (options[]):
 * its name, what it holds, its default and one line on what it does.
 * numaslab(7), ENVIRONMENT, documents each entry (tests/test-options
 * checks that it does), and nothing else in the library reads the
 * environment.
 *
 * An explicit struct numaslab_config field wins over the variable, which
 * is then not read.  A malformed value is reported, naming the variable
 * and the value, and the default applies: a typo must not take the
 * allocator down.  Numbers and sizes go through the one strict parser,
 * lib/parse.h.
 */
#include "lib/internal.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_RETAIN       2u
#define DEFAULT_RETAIN_BYTES ((size_t)128 << 20)
#define MAX_TCACHE           4096u

/* What a variable holds, and so how it is parsed and stored. */
enum opt_kind {
    OPT_FLAG,  /* "0" or "1", into an int */
    OPT_COUNT, /* a number in lo..hi, into an unsigned */
    OPT_SIZE,  /* a size (lib/parse.h), into a size_t */
    OPT_KEEP,  /* a size or a percentage, into a struct nslab_keep */
    OPT_TEXT,  /* kept as given (a const char *), parsed where it is used */
};

/* Where a struct numaslab_config field overrides the variable. */
#define NO_CFG ((size_t)-1)
#define OPT(f) offsetof(struct nslab_options, f)
#define CFG(f) offsetof(struct numaslab_config, f)

struct opt_def {
    const char *name;
    enum opt_kind kind;
    size_t off;       /* field of struct nslab_options */
    size_t cfg;       /* field of struct numaslab_config, or NO_CFG */
    unsigned lo, hi;  /* OPT_COUNT */
    const char *dflt; /* the default, as reported */
    const char *doc;  /* one line */
};

static const struct opt_def options[] = {
    {"NUMASLAB_NODES", OPT_TEXT, OPT(nodes), CFG(nodes), 0, 0, "all allowed nodes",
     "the nodes that may be active, a node list such as 0,2-3"},
    {"NUMASLAB_NODE_LIMIT", OPT_SIZE, OPT(node_limit), CFG(node_limit), 0, 0, "no limit",
     "the most ordinary bytes the library maps on each node"},
    {"NUMASLAB_LOW_WATERMARK", OPT_KEEP, OPT(watermark), CFG(low_watermark), 0, 0,
     "1/64 of the node, 8M..256M", "memory each node keeps free of ordinary allocations"},
    {"NUMASLAB_CGROUP_MARGIN", OPT_KEEP, OPT(margin), CFG(cgroup_margin), 0, 0,
     "1/32 of the limit, 4M..256M", "memory kept below the memory cgroup's limit"},
    {"NUMASLAB_RESERVE", OPT_TEXT, OPT(reserve), CFG(reserve), 0, 0, "32 pages of 64K per node",
     "each node's reserve, a size or node:size pairs"},
    {"NUMASLAB_RESERVE_MLOCK", OPT_FLAG, OPT(reserve_mlock), NO_CFG, 0, 1, "0",
     "1: lock the reserves' pages in memory"},
    {"NUMASLAB_RETAIN", OPT_COUNT, OPT(retain), CFG(retain), 0, 1u << 20, "2",
     "empty slabs kept per cache and node"},
    {"NUMASLAB_RETAIN_BYTES", OPT_SIZE, OPT(retain_bytes), NO_CFG, 0, 0, "128M",
     "bytes of freed page runs each node keeps for reuse"},
    {"NUMASLAB_ARENA", OPT_SIZE, OPT(arena), NO_CFG, 0, 0, "fitted to the node, 1G..64G",
     "address space reserved per node for 64K slabs; 0: none"},
    {"NUMASLAB_TCACHE", OPT_COUNT, OPT(tcache), CFG(tcache), 1, MAX_TCACHE, "by object size",
     "objects a thread keeps free per cache and node"},
    {"NUMASLAB_THP", OPT_FLAG, OPT(thp), NO_CFG, 0, 1, "1",
     "0: large objects are never offered to transparent huge pages"},
    {"NUMASLAB_ABORT", OPT_FLAG, OPT(abort_on_bad_free), NO_CFG, 0, 1, "0 (1 in debug builds)",
     "1: a bad free aborts after its message"},
    {"NUMASLAB_FAIL_PAGES", OPT_TEXT, OPT(fail_pages), NO_CFG, 0, 0, "off",
     "fault injection: after=N or prob=P[,seed=S], optionally ,node=K"},
    {"NUMASLAB_STATS", OPT_FLAG, OPT(stats), NO_CFG, 0, 1, "1",
     "0: no statistics segment for numaslab-stat"},
    {"NUMASLAB_STATS_INTERVAL", OPT_COUNT, OPT(stats_interval), NO_CFG, 10, 600000, "200",
     "accepted for older versions; the segment is always live"},
    {"NUMASLAB_STATS_PRINT", OPT_FLAG, OPT(stats_print), NO_CFG, 0, 1, "0",
     "1: print the statistics tables on standard error at exit"},
};

const char *nslab__option_doc(unsigned i, const char **dflt, const char **doc)
{
    if (i >= sizeof(options) / sizeof(options[0]))
        return NULL;
    if (dflt)
        *dflt = options[i].dflt;
    if (doc)
        *doc = options[i].doc;
    return options[i].name;
}

/* "64M" or "2%" (of the node's memory, of the cgroup's limit; 0..100).
 * 0 or -EINVAL. */
static int parse_keep(const char *s, struct nslab_keep *k)
{
    size_t len = s ? strlen(s) : 0;
    if (len > 1 && s[len - 1] == '%') {
        char *end;
        if (!isdigit((unsigned char)*s))
            return -EINVAL;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end != s + len - 1 || v < 0 || v > 100)
            return -EINVAL;
        k->set = NSLAB_KEEP_PERCENT;
        k->percent = v;
        return 0;
    }
    size_t b;
    if (nslab_parse_size(s, &b))
        return -EINVAL;
    k->set = NSLAB_KEEP_BYTES;
    k->bytes = b;
    return 0;
}

/* Parse v, a value of d, into o; 0, or -EINVAL with o untouched. */
static int opt_parse(const struct opt_def *d, const char *v, struct nslab_options *o)
{
    char *field = (char *)o + d->off;
    uint64_t n;
    switch (d->kind) {
    case OPT_FLAG:
        if ((v[0] != '0' && v[0] != '1') || v[1] != '\0')
            return -EINVAL;
        *(int *)field = v[0] == '1';
        return 0;
    case OPT_COUNT:
        if (nslab_parse_count(v, d->lo, d->hi, &n))
            return -EINVAL;
        *(unsigned *)field = (unsigned)n;
        return 0;
    case OPT_SIZE:
        return nslab_parse_size(v, (size_t *)field);
    case OPT_KEEP:
        return parse_keep(v, (struct nslab_keep *)field);
    case OPT_TEXT:
        *(const char **)field = v;
        return 0;
    }
    return -EINVAL;
}

/* What a malformed value of d is not, for the message. */
static void opt_why(const struct opt_def *d, char *buf, size_t n)
{
    switch (d->kind) {
    case OPT_FLAG:
        snprintf(buf, n, "not 0 or 1");
        break;
    case OPT_COUNT:
        snprintf(buf, n, "not a number in %u..%u", d->lo, d->hi);
        break;
    case OPT_SIZE:
        snprintf(buf, n, "not a size (e.g. 64M)");
        break;
    case OPT_KEEP:
        snprintf(buf, n, "not a size (e.g. 64M) or a percentage (e.g. 2%%)");
        break;
    case OPT_TEXT:
        snprintf(buf, n, "malformed");
        break;
    }
}

/* The config's value of d into o, when the config sets it: 1, else 0. */
static int opt_from_cfg(const struct opt_def *d, const struct numaslab_config *cfg,
                        struct nslab_options *o)
{
    if (!cfg || d->cfg == NO_CFG)
        return 0;
    const char *src = (const char *)cfg + d->cfg;
    char *field = (char *)o + d->off;
    switch (d->kind) {
    case OPT_TEXT:
        if (!*(const char *const *)src)
            return 0;
        *(const char **)field = *(const char *const *)src;
        return 1;
    case OPT_SIZE:
        if (!*(const size_t *)src)
            return 0;
        *(size_t *)field = *(const size_t *)src;
        return 1;
    case OPT_COUNT:
        if (!*(const unsigned *)src)
            return 0;
        *(unsigned *)field = *(const unsigned *)src;
        return 1;
    case OPT_KEEP: {
        size_t v = *(const size_t *)src;
        struct nslab_keep *k = (struct nslab_keep *)field;
        if (!v)
            return 0;
        k->set = NSLAB_KEEP_BYTES;
        k->bytes = v == NUMASLAB_KEEP_NONE ? 0 : v;
        return 1;
    }
    case OPT_FLAG:
        return 0;
    }
    return 0;
}

/* Is the process running under valgrind's memcheck?  Its leak check
 * reads every readable mapping, so the slab arena's reservation would
 * cost it seconds per GiB: there the arena is off unless NUMASLAB_ARENA
 * asks for it.  memcheck is known by its preload library, in any build;
 * the tools that do not scan memory (callgrind, cachegrind) keep the
 * arena, so that they measure what runs without them. */
static int under_memcheck(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload_memcheck") != NULL;
}

/*
 * Fill o from cfg (may be NULL) and the environment.  Returns 0, or
 * -EINVAL when a cfg field is out of range (the message names it); bad
 * environment values are reported and replaced by the default.
 */
int nslab__options_load(struct nslab_options *o, const struct numaslab_config *cfg)
{
    memset(o, 0, sizeof(*o));
    o->retain = DEFAULT_RETAIN;
    o->retain_bytes = DEFAULT_RETAIN_BYTES;
    o->arena = NSLAB_ARENA_AUTO;
    o->thp = 1;
    o->abort_on_bad_free = NSLAB_DEBUG ? 1 : 0;
    o->stats = 1;
    o->stats_interval = 200;

    if (cfg && cfg->tcache > MAX_TCACHE) {
        nslab__report("numaslab_init: tcache=%u is out of range (1..%u)", cfg->tcache, MAX_TCACHE);
        return -EINVAL;
    }
    o->reserve_from_cfg = cfg && cfg->reserve;

    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        const struct opt_def *d = &options[i];
        const char *v;
        char why[64];
        if (opt_from_cfg(d, cfg, o) || !(v = getenv(d->name)))
            continue;
        if (opt_parse(d, v, o) == 0) {
            if (d->off == OPT(stats))
                o->stats_asked = o->stats; /* NUMASLAB_STATS=1 given */
            continue;
        }
        opt_why(d, why, sizeof(why));
        nslab__report("numaslab: %s=\"%s\": %s; using the default (%s)", d->name, v, why, d->dflt);
    }

    if (o->arena == NSLAB_ARENA_AUTO && under_memcheck())
        o->arena = 0;

    /* hwloc's own variables that choose its plugins, its components or
     * the topology: with one set, hwloc's plugins are left to hwloc
     * (numaslab(7), TOPOLOGY; numa/topology.c). */
    o->hwloc_quiet = !getenv("HWLOC_PLUGINS_BLACKLIST") && !getenv("HWLOC_PLUGINS_PATH") &&
                     !getenv("HWLOC_COMPONENTS") && !getenv("HWLOC_XMLFILE");

    if (o->fail_pages && nslab__fail_parse(o->fail_pages))
        nslab__report("numaslab: NUMASLAB_FAIL_PAGES=\"%s\": not a fault setting (after=N or "
                      "prob=P[,seed=S], with an optional ,node=K); fault injection stays off",
                      o->fail_pages);
    return 0;
}
