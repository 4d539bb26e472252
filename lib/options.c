/*
 * lib/options.c - options from struct numaslab_config and NUMASLAB_*.
 *
 * An explicit config field wins over the environment.  A malformed
 * environment value is reported, naming the variable and the value, and
 * the default applies: a typo must not take the allocator down.
 */
#include "lib/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_RETAIN 2u
#define DEFAULT_RETAIN_BYTES ((size_t)32 << 20)
#define MAX_TCACHE 4096u

/* "123", "64K", "8M", "2G" (binary units).  0 or -EINVAL. */
int nslab__parse_size(const char *s, size_t *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0' || (shift && v > (~0ull >> shift)))
        return -EINVAL;
    *out = (size_t)(v << shift);
    return 0;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
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
    if (nslab__parse_size(s, &b))
        return -EINVAL;
    k->set = NSLAB_KEEP_BYTES;
    k->bytes = b;
    return 0;
}

/* A keep option from its config field (0: not set) or its variable. */
static void load_keep(struct nslab_keep *k, size_t cfg, const char *var, const char *dflt)
{
    const char *v;
    k->set = NSLAB_KEEP_DEFAULT;
    if (cfg) {
        k->set = NSLAB_KEEP_BYTES;
        k->bytes = cfg == NUMASLAB_KEEP_NONE ? 0 : cfg;
    } else if ((v = getenv(var)) && parse_keep(v, k)) {
        nslab__report("numaslab: %s=\"%s\": not a size (e.g. 64M) or a percentage "
                      "(e.g. 2%%); using the default (%s)", var, v, dflt);
        k->set = NSLAB_KEEP_DEFAULT;
    }
}

/*
 * Fill o from cfg (may be NULL) and the environment.  Returns 0, or
 * -EINVAL when a cfg field is out of range (the message names it); bad
 * environment values are reported and replaced by the default.
 */
int nslab__options_load(struct nslab_options *o, const struct numaslab_config *cfg)
{
    const char *v;
    memset(o, 0, sizeof(*o));
    o->retain = DEFAULT_RETAIN;
    o->retain_bytes = DEFAULT_RETAIN_BYTES;

    if (cfg && cfg->tcache > MAX_TCACHE) {
        nslab__report("numaslab_init: tcache=%u is out of range (1..%u)", cfg->tcache, MAX_TCACHE);
        return -EINVAL;
    }

    o->nodes = cfg && cfg->nodes ? cfg->nodes : getenv("NUMASLAB_NODES");
    o->reserve = cfg && cfg->reserve ? cfg->reserve : getenv("NUMASLAB_RESERVE");
    o->reserve_from_cfg = cfg && cfg->reserve;

    if ((v = getenv("NUMASLAB_RESERVE_MLOCK"))) {
        if (!strcmp(v, "1"))
            o->reserve_mlock = 1;
        else if (strcmp(v, "0"))
            nslab__report("numaslab: NUMASLAB_RESERVE_MLOCK=\"%s\": not 0 or 1; "
                          "using the default 0", v);
    }

    o->thp = 1;
    if ((v = getenv("NUMASLAB_THP"))) {
        if (!strcmp(v, "0"))
            o->thp = 0;
        else if (strcmp(v, "1"))
            nslab__report("numaslab: NUMASLAB_THP=\"%s\": not 0 or 1; using the default 1", v);
    }

    o->abort_on_bad_free = NSLAB_DEBUG ? 1 : 0;
    if ((v = getenv("NUMASLAB_ABORT"))) {
        if (!strcmp(v, "0") || !strcmp(v, "1"))
            o->abort_on_bad_free = v[0] == '1';
        else
            nslab__report("numaslab: NUMASLAB_ABORT=\"%s\": not 0 or 1; using the default %d", v,
                          o->abort_on_bad_free);
    }

    if ((v = getenv("NUMASLAB_FAIL_PAGES")) && nslab__fail_parse(v))
        nslab__report("numaslab: NUMASLAB_FAIL_PAGES=\"%s\": not a fault setting (after=N or "
                      "prob=P[,seed=S], with an optional ,node=K); fault injection stays off", v);

    if (cfg && cfg->node_limit)
        o->node_limit = cfg->node_limit;
    else if ((v = getenv("NUMASLAB_NODE_LIMIT")) && nslab__parse_size(v, &o->node_limit))
        nslab__report("numaslab: NUMASLAB_NODE_LIMIT=\"%s\": not a size (e.g. 512M); "
                      "using the default (no limit)", v);

    if (cfg && cfg->retain)
        o->retain = cfg->retain;
    else if ((v = getenv("NUMASLAB_RETAIN")) && parse_uint(v, 0, 1u << 20, &o->retain)) {
        nslab__report("numaslab: NUMASLAB_RETAIN=\"%s\": not a count of slabs; "
                      "using the default %u", v, DEFAULT_RETAIN);
        o->retain = DEFAULT_RETAIN;
    }

    if ((v = getenv("NUMASLAB_RETAIN_BYTES")) && nslab__parse_size(v, &o->retain_bytes)) {
        nslab__report("numaslab: NUMASLAB_RETAIN_BYTES=\"%s\": not a size (e.g. 8M, 0 for none); "
                      "using the default 32M", v);
        o->retain_bytes = DEFAULT_RETAIN_BYTES;
    }

    load_keep(&o->watermark, cfg ? cfg->low_watermark : 0, "NUMASLAB_LOW_WATERMARK",
              "1/64 of the node, 8M..256M");
    load_keep(&o->margin, cfg ? cfg->cgroup_margin : 0, "NUMASLAB_CGROUP_MARGIN",
              "1/32 of the limit, 4M..256M");

    if (cfg && cfg->tcache)
        o->tcache = cfg->tcache;
    else if ((v = getenv("NUMASLAB_TCACHE")) && parse_uint(v, 1, MAX_TCACHE, &o->tcache)) {
        nslab__report("numaslab: NUMASLAB_TCACHE=\"%s\": not a count in 1..%u; "
                      "using the default (by object size)", v, MAX_TCACHE);
        o->tcache = 0;
    }
    return 0;
}
