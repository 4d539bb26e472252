/* bench/spawn-time.c - what starting a small program costs under each
 * environment: the program is started N times with each environment in
 * turn (A B C A B C ...), its output to /dev/null, and for each the median
 * and the 10th percentile of the wall time from posix_spawn to waitpid
 * are printed.
 *
 *   cc -O2 -o spawn-time bench/spawn-time.c
 *   ./spawn-time 400 /bin/ls / -- LD_PRELOAD=/tmp/old.so LD_PRELOAD=/tmp/new.so X=1
 *
 * Each environment after "--" is one argument: its variables separated
 * by blanks ("LD_PRELOAD=/tmp/new.so NUMASLAB_THP=0"; X=1: none that
 * matters, the C library's malloc).  The program gets only those.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int sep = 0;
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            sep = i;
            break;
        }
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
    if (n <= 0 || sep < 3 || sep == argc - 1) {
        fprintf(stderr, "usage: spawn-time N PROGRAM [ARG...] -- VAR=VALUE...\n");
        return 2;
    }
    int k = argc - sep - 1;
    char **args = calloc((size_t)(sep - 1), sizeof(char *));
    double *t = calloc((size_t)(n * k), sizeof(double));
    if (!args || !t)
        return 1;
    for (int i = 2; i < sep; i++)
        args[i - 2] = argv[i];
    char ***envs = calloc((size_t)k, sizeof(char **));
    if (!envs)
        return 1;
    for (int j = 0; j < k; j++) {
        char *copy = strdup(argv[sep + 1 + j]), *save = NULL;
        int m = 0;
        envs[j] = calloc(strlen(copy) / 2 + 2, sizeof(char *));
        if (!envs[j])
            return 1;
        for (char *v = strtok_r(copy, " ", &save); v; v = strtok_r(NULL, " ", &save))
            envs[j][m++] = v;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    for (long i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            char **env = envs[j];
            pid_t pid;
            int st;
            double a = now();
            if (posix_spawn(&pid, args[0], &fa, NULL, args, env) != 0 ||
                waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "spawn-time: %s with %s failed\n", args[0], argv[sep + 1 + j]);
                return 1;
            }
            t[j * n + i] = now() - a;
        }
    for (int j = 0; j < k; j++) {
        qsort(t + j * n, (size_t)n, sizeof(double), cmp);
        printf("%s: median %.3f ms, 10th percentile %.3f ms (%ld runs)\n", argv[sep + 1 + j],
               t[j * n + n / 2] * 1e3, t[j * n + n / 10] * 1e3, n);
    }
    return 0;
}
