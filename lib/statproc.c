/*
 * lib/statproc.c - the process behind a statistics segment, from /proc:
 * the one parser of /proc/PID/stat, which the library uses for its own
 * start time (written into its segment's header, lib/export.c) and
 * thread count (numa/topology.c, hwloc's plugins), and numaslab-stat(1)
 * for another process's start time, and the staleness check of
 * include/numaslab-stats.h ("Staleness"): is the segment's process alive,
 * and is it still the one that made the segment (same start time, same
 * program)?
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/statread.h"

/* The command name (field 2) may hold spaces and parentheses: the fields
 * are counted from the last ')'. */
int nslab_proc_stat(long pid, char *state, long *threads, uint64_t *start)
{
    char path[64], buf[1024];
    if (pid)
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    else
        snprintf(path, sizeof(path), "/proc/self/stat");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0)
        close(fd);
    if (got <= 0)
        return -1; /* no such process, or /proc hidden from us */
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
        if (field == 3 && state)
            *state = *p;
        else if (field == 20 && threads)
            *threads = strtol(p, NULL, 10);
        else if (field == 22 && start)
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

enum nslab_life nslab_process_life(long pid, const struct numaslab_stats_header *h)
{
    char state = 0;
    uint64_t start = 0;
    struct stat st;
    char exe[64];

    if (pid <= 0 || pid > INT_MAX || !pid_exists(pid))
        return NSLAB_GONE;
    if (nslab_proc_stat(pid, &state, NULL, &start) != 0)
        return pid_exists(pid) ? NSLAB_ALIVE : NSLAB_GONE; /* hidden /proc: trust kill() */
    if (state == 'Z' || state == 'X')
        return NSLAB_GONE; /* killed, not yet reaped */
    if (!h)
        return NSLAB_ALIVE;
    if (h->start_time && start != h->start_time)
        return NSLAB_REUSED;
    snprintf(exe, sizeof(exe), "/proc/%ld/exe", pid);
    if ((h->exe_dev || h->exe_ino) && stat(exe, &st) == 0 &&
        ((uint64_t)st.st_dev != h->exe_dev || (uint64_t)st.st_ino != h->exe_ino))
        return NSLAB_EXECED;
    return NSLAB_ALIVE;
}

const char *nslab_life_why(enum nslab_life l)
{
    switch (l) {
    case NSLAB_GONE:
        return "is not running";
    case NSLAB_REUSED:
        return "now belongs to another process (its start time differs)";
    case NSLAB_EXECED:
        return "has executed another program since";
    default:
        return "is running";
    }
}
