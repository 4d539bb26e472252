/*
 * tests/dropin.h - what the tests of libnumaslab-malloc share: each test
 * program links no numaslab library; run by `make check`, it runs itself
 * again as "--child" with LD_PRELOAD naming the drop-in that was built
 * (and, first, any libraries the test puts before it), passes on what the
 * child printed and judges its exit status and output.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef NUMASLAB_TESTS_DROPIN_H
#define NUMASLAB_TESTS_DROPIN_H

#include "testutil.h"

#include <dlfcn.h>

/* The drop-in of this build tree, checked to exist. */
static inline const char *dropin_path(void)
{
    static char path[4096];
    const char *b = getenv("top_builddir");
    snprintf(path, sizeof(path), "%.3000s/.libs/libnumaslab-malloc.so", b ? b : ".");
    REQUIRE(access(path, R_OK) == 0, "%s: %s (run from the build tree, or set top_builddir)", path,
            strerror(errno));
    return path;
}

/* path, made absolute (against the working directory), into buf. */
static inline void dropin_absolute(const char *path, char *buf, size_t len)
{
    if (path[0] != '/') {
        char cwd[3000];
        REQUIRE(getcwd(cwd, sizeof(cwd)), "getcwd: %s", strerror(errno));
        snprintf(buf, len, "%s/%.1000s", cwd, path);
    } else {
        snprintf(buf, len, "%.4000s", path);
    }
}

/* 1 when the library at path needs a sanitizer's runtime (its name is in
 * the dynamic string table): it cannot be preloaded into a program that
 * is not built with that sanitizer. */
static inline int dropin_needs_sanitizer(const char *path)
{
    FILE *f = fopen(path, "rb");
    char buf[65536];
    size_t n, keep = 0;
    int found = 0;
    if (!f)
        return 0;
    while (!found && (n = fread(buf + keep, 1, sizeof(buf) - keep, f)) > 0) {
        n += keep;
        for (size_t i = 0; i + 11 <= n && !found; i++)
            found =
                memcmp(buf + i, "libasan.so.", 11) == 0 || memcmp(buf + i, "libtsan.so.", 11) == 0;
        keep = n < 16 ? n : 16;
        memmove(buf, buf + n - keep, keep);
    }
    fclose(f);
    return found;
}

/* Run this program as "--child" under the drop-in; after: libraries to
 * preload after it (or NULL); extra: one more "VAR=VALUE" for its
 * environment (or NULL).  Its output is passed on; the result is its wait
 * status and output, to judge. */
static inline struct tu_child dropin_run_child_env(const char *name, const char *arg,
                                                   const char *after, const char *extra)
{
#if TU_SANITIZED
    /* The sanitizers interpose malloc themselves, and their runtime must
     * be the first library of a process: a drop-in cannot be tested there. */
    tu_skip("built with a sanitizer, whose runtime must be the process's first library");
#endif
    static char pre[16384], lib[4096];
    const char *so = dropin_path();
    if (dropin_needs_sanitizer(so))
        tu_skip("%s is built with a sanitizer, whose runtime must be the process's first library",
                so);
    dropin_absolute(so, lib, sizeof(lib));
    snprintf(pre, sizeof(pre), "LD_PRELOAD=%s%s%s", lib, after ? " " : "", after ? after : "");
    const char *vars[] = {pre, extra, NULL};
    struct tu_child ch = tu_spawn_self(name, arg, vars, extra ? 2 : 1);
    fputs(ch.out, stdout);
    if (ch.err[0])
        printf("# child's stderr:\n%s", ch.err);
    return ch;
}

static inline struct tu_child dropin_run_child(const char *name, const char *arg, const char *after)
{
    return dropin_run_child_env(name, arg, after, NULL);
}

/* The verdict on a child of dropin_run_child: it exited 0, numaslab said
 * nothing on its stderr and, when want is given, its output has want
 * (what: the check's text).  What was read of it is freed. */
static inline void dropin_judge(struct tu_child *ch, const char *want, const char *what)
{
    CHECK(WIFEXITED(ch->status) && WEXITSTATUS(ch->status) == 0,
          "the program under the drop-in exits 0 (status %#x)", ch->status);
    if (want)
        CHECK(strstr(ch->out, want) != NULL, "%s", what);
    CHECK(strstr(ch->err, "numaslab") == NULL, "no message from numaslab on stderr");
    free(ch->out);
    free(ch->err);
}

/* In the child: is malloc numaslab's?  The drop-in exports the native
 * calls too; numaslab_ptr_node knows its objects. */
static inline int dropin_serves(const void *p)
{
    int (*ptr_node)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "numaslab_ptr_node");
    return ptr_node && ptr_node(p) >= 0;
}

#endif
