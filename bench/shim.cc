// bench/shim.cc - main() of every benchmark binary: C registrations
// (bench/shim.h) become benchmark::RegisterBenchmark calls.
//
// At start it prints the library `malloc` resolves to in this process and
// stops when that is not the library the binary is meant to measure
// (nsb_malloc_expect): jemalloc, tcmalloc and mimalloc replace malloc only
// when the link put them ahead of the C library.
//
// SPDX-License-Identifier: BSD-2-Clause
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/shim.h"

namespace
{

struct Def {
    std::string name;
    nsb_fn fn;
    nsb_opts opts;
};

// Filled before main by constructors (nsb_add_registration): a plain
// array, so nothing depends on the order of static initialisation.
void (*registrations[64])(void);
int nregistrations;

std::vector<Def> *defs;

benchmark::State *S(nsb_state *st)
{
    return reinterpret_cast<benchmark::State *>(st);
}

// The file that defines the malloc this process calls.
std::string malloc_library()
{
    void *f = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info;
    if (!f || !dladdr(f, &info) || !info.dli_fname)
        return "(unknown)";
    return info.dli_fname;
}

} // namespace

extern "C" {

int nsb_keep_running(nsb_state *st)
{
    return S(st)->KeepRunning();
}
int nsb_keep_running_batch(nsb_state *st, int64_t n)
{
    return S(st)->KeepRunningBatch(n);
}
int64_t nsb_iterations(nsb_state *st)
{
    return S(st)->iterations();
}
int64_t nsb_range(nsb_state *st, int i)
{
    return S(st)->range(i);
}
int nsb_thread_index(nsb_state *st)
{
    return S(st)->thread_index();
}
int nsb_threads(nsb_state *st)
{
    return S(st)->threads();
}
void nsb_set_items(nsb_state *st, int64_t items)
{
    S(st)->SetItemsProcessed(items);
}
void nsb_pause(nsb_state *st)
{
    S(st)->PauseTiming();
}
void nsb_resume(nsb_state *st)
{
    S(st)->ResumeTiming();
}
void nsb_skip(nsb_state *st, const char *why)
{
    S(st)->SkipWithError(why);
}
void nsb_set_label(nsb_state *st, const char *label)
{
    S(st)->SetLabel(label);
}
void nsb_set_counter(nsb_state *st, const char *name, double value)
{
    S(st)->counters[name] = benchmark::Counter(value);
}

void nsb_register(const char *name, nsb_fn fn, const struct nsb_opts *opts)
{
    if (!defs)
        defs = new std::vector<Def>;
    defs->push_back(Def{name, fn, *opts});
}

void nsb_context(const char *key, const char *value)
{
    benchmark::AddCustomContext(key, value);
}

void nsb_add_registration(void (*f)(void))
{
    if (nregistrations == (int)(sizeof(registrations) / sizeof(registrations[0]))) {
        fputs("bench: too many registration functions\n", stderr);
        abort();
    }
    registrations[nregistrations++] = f;
}

} // extern "C"

int main(int argc, char **argv)
{
    std::string lib = malloc_library();
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    printf("%s: allocator %s; malloc resolves to %s\n", prog, nsb_allocator, lib.c_str());
    fflush(stdout);
    if (!strstr(lib.c_str(), nsb_malloc_expect)) {
        fprintf(stderr,
                "%s: malloc should come from %s*, not %s: the figures would not be %s's; "
                "check the link order\n",
                prog, nsb_malloc_expect, lib.c_str(), nsb_allocator);
        return 1;
    }

    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::AddCustomContext("allocator", nsb_allocator);
    benchmark::AddCustomContext("malloc_library", lib);

    for (int i = 0; i < nregistrations; i++)
        registrations[i]();
    for (const Def &d : defs ? *defs : std::vector<Def>()) {
        nsb_fn fn = d.fn;
        benchmark::internal::Benchmark *b = benchmark::RegisterBenchmark(
            d.name.c_str(), [fn](benchmark::State &st) { fn(reinterpret_cast<nsb_state *>(&st)); });
        std::vector<std::string> names;
        for (int a = 0; a < d.opts.nargs; a++)
            if (d.opts.argnames[a])
                names.push_back(d.opts.argnames[a]);
        if ((int)names.size() == d.opts.nargs && d.opts.nargs > 0)
            b->ArgNames(names);
        for (int r = 0; r < d.opts.nrows; r++)
            b->Args(std::vector<int64_t>(d.opts.args[r], d.opts.args[r] + d.opts.nargs));
        int nthreads = 0;
        for (int t = 0; t < NSB_MAX_THREADS && d.opts.threads[t] > 0; t++, nthreads++)
            b->Threads(d.opts.threads[t]);
        if (!nthreads)
            b->Threads(1);
        if (d.opts.iterations > 0)
            b->Iterations(d.opts.iterations);
        b->UseRealTime();
    }

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    delete defs;
    return 0;
}
