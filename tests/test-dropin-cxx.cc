/*
 * test-dropin-cxx - a C++ program on libnumaslab-malloc (numaslab-malloc(3)):
 * operator new and delete reach the drop-in through the C library's
 * calls.  std::vector and std::string growth, std::map churn in
 * std::threads, objects made on one thread and destroyed on another,
 * over-aligned new.  The program links no numaslab library and runs
 * itself again under LD_PRELOAD; each check prints one line.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <dlfcn.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

static int failures, checks;

/* The case the checks belong to, named in each line as tests/testutil.h
 * does (a C header this C++ program cannot include). */
static const char *case_name = "setup";

static void tu_case(const char *name)
{
    case_name = name;
    std::printf("## %s\n", name);
}

static void check(bool ok, const char *what)
{
    checks++;
    if (!ok)
        failures++;
    std::printf("%s [%s] %s\n", ok ? "ok:  " : "FAIL:", case_name, what);
}

/* The drop-in needs a sanitizer's runtime (its name is in the library's
 * dynamic string table): it cannot be preloaded into this program. */
static bool needs_sanitizer(const char *path)
{
    std::FILE *f = std::fopen(path, "rb");
    if (!f)
        return false;
    std::string all;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
        all.append(buf, n);
    std::fclose(f);
    return all.find("libasan.so.") != std::string::npos ||
           all.find("libtsan.so.") != std::string::npos;
}

static bool numaslabs(const void *p)
{
    auto ptr_node =
        reinterpret_cast<int (*)(const void *)>(dlsym(RTLD_DEFAULT, "numaslab_ptr_node"));
    return ptr_node && ptr_node(p) >= 0;
}

struct alignas(256) Wide {
    unsigned char bytes[300];
};

static int child()
{
    tu_case("new and delete");
    int *one = new int(7);
    check(numaslabs(one), "new int is numaslab's");
    delete one;

    tu_case("a growing vector");
    std::vector<std::string> v;
    for (int i = 0; i < 100000; i++)
        v.push_back(std::to_string(i) + std::string(static_cast<size_t>(i % 50), 'x'));
    bool ok = v.size() == 100000 && numaslabs(v.data());
    for (int i = 0; i < 100000 && ok; i += 997)
        ok = v[static_cast<size_t>(i)] ==
             std::to_string(i) + std::string(static_cast<size_t>(i % 50), 'x');
    check(ok, "a vector of 100000 strings grows, contents right, its buffer numaslab's");

    tu_case("std::thread and std::map");
    std::vector<std::thread> ts;
    std::vector<std::map<int, std::string>> maps(4);
    for (int t = 0; t < 4; t++)
        ts.emplace_back([t, &maps] {
            for (int i = 0; i < 20000; i++)
                maps[static_cast<size_t>(t)][i] =
                    std::string(static_cast<size_t>(i % 40 + 1), char('a' + t));
            for (int i = 0; i < 20000; i += 2)
                maps[static_cast<size_t>(t)].erase(i);
        });
    for (auto &t : ts)
        t.join();
    ok = true;
    for (int t = 0; t < 4; t++)
        ok = ok && maps[static_cast<size_t>(t)].size() == 10000 &&
             maps[static_cast<size_t>(t)][19999] == std::string(40, char('a' + t));
    maps.clear(); /* nodes made by four threads, destroyed by this one */
    check(ok, "four std::threads fill and thin std::maps, the main thread destroys them");

    std::unique_ptr<std::vector<double>> moved;
    std::thread maker([&moved] { moved.reset(new std::vector<double>(50000, 2.5)); });
    maker.join();
    ok = moved && moved->size() == 50000 && (*moved)[49999] == 2.5 && numaslabs(moved->data());
    std::thread killer([&moved] { moved.reset(); });
    killer.join();
    check(ok && !moved, "an object made on one thread is destroyed on another");

    tu_case("over-aligned new");
    bool aligned = true;
    for (int i = 0; i < 1000; i++) {
        Wide *w = new Wide();
        aligned = aligned && reinterpret_cast<uintptr_t>(w) % 256 == 0 && w->bytes[299] == 0;
        delete w;
    }
    check(aligned, "new of an alignas(256) type: 256-byte aligned, value-initialised");

    std::printf("# %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && std::strcmp(argv[1], "--child") == 0)
        return child();
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    std::printf(
        "SKIP: built with a sanitizer, whose runtime must be the process's first library\n");
    return 77;
#endif
    const char *b = std::getenv("top_builddir");
    char cwd[2048], pre[4200], self[2048];
    if (!getcwd(cwd, sizeof(cwd)))
        return 99;
    std::snprintf(pre, sizeof(pre), "%s/%s/.libs/libnumaslab-malloc.so",
                  b && b[0] == '/' ? "" : cwd, b ? b : ".");
    if (access(pre, R_OK) != 0) {
        std::printf("ERROR: %s: %s\n", pre, std::strerror(errno));
        return 99;
    }
    if (needs_sanitizer(pre)) {
        std::printf("SKIP: %s is built with a sanitizer, whose runtime must come first\n", pre);
        return 77;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return 99;
    self[n] = '\0';
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("LD_PRELOAD", pre, 1);
        execl(self, "test-dropin-cxx", "--child", static_cast<char *>(nullptr));
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return 99;
    check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the C++ program under the drop-in exits 0");
    return failures ? 1 : 0;
}
