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

/* The sanitizers interpose malloc themselves, and their runtime must be
 * the first library of a process: a drop-in cannot be tested there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DROPIN_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define DROPIN_SANITIZED 1
#endif
#endif

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
            found = memcmp(buf + i, "libasan.so.", 11) == 0 || memcmp(buf + i, "libtsan.so.", 11) == 0;
        keep = n < 16 ? n : 16;
        memmove(buf, buf + n - keep, keep);
    }
    fclose(f);
    return found;
}

/* Run this program as "--child" under the drop-in; after: libraries to
 * preload after it (or NULL).  Its output is passed on; the result is
 * its wait status and output, to judge. */
static inline struct tu_child dropin_run_child(const char *name, const char *arg,
                                               const char *after)
{
#ifdef DROPIN_SANITIZED
    tu_skip("built with a sanitizer, whose runtime must be the process's first library");
#endif
    static char pre[16384], lib[4096];
    const char *so = dropin_path();
    if (dropin_needs_sanitizer(so))
        tu_skip("%s is built with a sanitizer, whose runtime must be the process's first library",
                so);
    if (so[0] != '/') {
        char cwd[3000];
        REQUIRE(getcwd(cwd, sizeof(cwd)), "getcwd: %s", strerror(errno));
        snprintf(lib, sizeof(lib), "%s/%.1000s", cwd, so);
    } else {
        snprintf(lib, sizeof(lib), "%.4000s", so);
    }
    snprintf(pre, sizeof(pre), "LD_PRELOAD=%s%s%s", lib, after ? " " : "", after ? after : "");
    const char *vars[] = {pre, NULL};
    struct tu_child ch = tu_spawn_self(name, arg, vars, 1);
    fputs(ch.out, stdout);
    if (ch.err[0])
        printf("# child's stderr:\n%s", ch.err);
    return ch;
}

/* In the child: is malloc numaslab's?  The drop-in exports the native
 * calls too; numaslab_ptr_node knows its objects. */
static inline int dropin_serves(const void *p)
{
    int (*ptr_node)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "numaslab_ptr_node");
    return ptr_node && ptr_node(p) >= 0;
}

#endif
