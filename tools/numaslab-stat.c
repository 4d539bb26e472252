/*
 * numaslab-stat - per-node reserve levels, memory headroom, page cache and
 * slab statistics of running processes, read from the segments they
 * publish in /dev/shm (include/numaslab-stats.h), without stopping them.
 * See numaslab-stat(1).  This file is its command line: the options, read
 * strictly (a number is digits only, named with its option when it is
 * not one), and the --watch loop; the commands are tools/stat-commands.c,
 * the JSON tools/stat-json.c, and the segment reader and the tables are
 * the library's own (lib/statread.h), built into the tool as well.  The
 * tool takes no lock and writes nothing but --gc's removals.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/parse.h"
#include "tools/stat.h"

static const char *const prog = "numaslab-stat";

/* "numaslab-stat: " and the message, on stderr. */
static void vmsg(const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
}

void msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
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
    vmsg(fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    return NSLAB_EX_USAGE;
}

/*
 * Numbers on the command line, strict (lib/parse.h: digits only, no
 * blank, sign, base prefix or anything after them), within [lo, hi].
 * 0 or -1.
 */
static int parse_long(const char *s, long lo, long hi, long *out)
{
    uint64_t v;
    if (nslab_parse_count(s, (uint64_t)lo, (uint64_t)hi, &v))
        return -1;
    *out = (long)v;
    return 0;
}

/* Seconds: digits, at most one '.' with digits after it ("1", "0.5",
 * "2.25"), in (0, hi].  0 or -1. */
static int parse_seconds(const char *s, double hi, double *out)
{
    const char *p;
    uint64_t whole, frac;
    if (nslab_parse_u64(s, UINT64_MAX, &p, &whole))
        return -1;
    if (*p == '.' && nslab_parse_u64(p + 1, UINT64_MAX, &p, &frac))
        return -1;
    if (*p)
        return -1;
    double v = strtod(s, NULL); /* the C locale: no setlocale call here */
    if (!(v > 0) || v > hi)
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
    struct stat_options opt = {.dir = NUMASLAB_STATS_DIR};
    int c, count_set = 0;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:cjw:n:f:d:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (opt.pid)
                return usage_error("-p given twice");
            if (parse_long(optarg, 1, INT_MAX, &opt.pid))
                return usage_error("-p: \"%s\" is not a process id (digits, 1..%d)", optarg,
                                   INT_MAX);
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
            if (parse_seconds(optarg, 86400, &opt.watch))
                return usage_error("--watch: \"%s\" is not a number of seconds in (0, 86400] "
                                   "(digits, and one '.' with digits after it)",
                                   optarg);
            break;
        case 'n':
            if (parse_long(optarg, 1, LONG_MAX, &opt.count))
                return usage_error("--count: \"%s\" is not a positive count (digits, 1..%ld)",
                                   optarg, LONG_MAX);
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
            return NSLAB_EX_OK;
        case 'V':
            printf("numaslab-stat (%s) %s, segment layout %u\n", PACKAGE_NAME, PACKAGE_VERSION,
                   NUMASLAB_STATS_VERSION);
            return NSLAB_EX_OK;
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
        return gc(&opt);
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    for (long i = 0;; i++) {
        int rc = (opt.pid || opt.file) ? show_one(&opt) : list_all(&opt);
        fflush(stdout);
        if (rc || !(opt.watch > 0) || (opt.count && i + 1 >= opt.count))
            return rc;
        sleep_until(&t, opt.watch);
        if (!opt.json)
            putchar('\n');
    }
}
