# bench/local.mk - included by the top-level Makefile.am
#
# Benchmarks, never built by `make` or `make check`:
#   make bench         one Google Benchmark binary per allocator (bench/bench-*)
#                      and bench/pairs; needs libbenchmark-dev; each peer
#                      (jemalloc, tcmalloc, mimalloc) is built when configure
#                      found it
#   make bench-run     bench/run-numactl.sh (plain and under numactl, a JSON
#                      file per binary and binding) and bench/callgrind-pairs.sh,
#                      into $(NSB_OUT)/
#   make bench-report  $(NSB_OUT)/ -> bench/RESULTS.md and bench/plots/ in the
#                      source tree (needs python3; gnuplot for the plots)
#   make bench-large   the large-object workloads only (large-pair, large-batch)
#                      for every allocator built, no numactl binding, into
#                      $(NSB_OUT)/large/, then their table of ratios to the
#                      fastest peer and the batch's memory on the terminal
#                      (bench/report --large; needs python3)
#   make bench-numa-vm bench/run-numactl.sh in the multi-node QEMU guests
#                      (tests/numa-vm): every binding runs, memory is placed
#   make bench-callgrind  instructions per pair only (the top-level Makefile.am)
#
# jemalloc, tcmalloc and mimalloc replace malloc in any process that links
# them, hence a binary each; the workload source is the same
# (bench/work-malloc.c), compiled with the allocator's name.

NSB_OUT = bench-out
NSB_SHIM = bench/shim.cc bench/shim.h bench/workloads.h
NSB_CXXFLAGS = -Wall -Wextra $(BENCHMARK_CFLAGS)
NSB_CFLAGS = $(AM_CFLAGS) -pthread
NSB_LIBS = $(BENCHMARK_LIBS) -ldl -lpthread

# Each peer binary is named after its allocator (NSB_PEER) and knows a part
# of its library's file name, which it checks `malloc` resolves to.
EXTRA_PROGRAMS += bench/bench-numaslab bench/bench-glibc bench/bench-jemalloc \
	bench/bench-tcmalloc bench/bench-mimalloc
dist_noinst_SCRIPTS += bench/run-numactl.sh bench/report bench/guest-bench.sh bench/ab-compare.sh \
	bench/ab-malloc.sh
# What starting a small program costs (bench/RESULTS.md; built by hand,
# the command is in its header).
EXTRA_DIST += bench/spawn-time.c
# The plots bench/RESULTS.md shows (bench/report makes them).
EXTRA_DIST += bench/plots/pair.png bench/plots/live.png bench/plots/batch.png \
	bench/plots/xfree.png bench/plots/scaling.png bench/plots/node.png \
	bench/plots/numaslab.png bench/plots/instructions.png

bench_bench_numaslab_SOURCES = $(NSB_SHIM) bench/work-numaslab.c bench/work-libnuma.c
bench_bench_numaslab_CPPFLAGS = $(AM_CPPFLAGS) $(NUMA_CFLAGS)
bench_bench_numaslab_CFLAGS = $(NSB_CFLAGS)
bench_bench_numaslab_CXXFLAGS = $(NSB_CXXFLAGS)
bench_bench_numaslab_LDADD = libnumaslab.la $(NUMA_LIBS) $(NSB_LIBS)
bench_bench_numaslab_LDFLAGS = -no-install

bench_bench_glibc_SOURCES = $(NSB_SHIM) bench/work-malloc.c
bench_bench_glibc_CPPFLAGS = $(AM_CPPFLAGS) -DNSB_PEER='"glibc"' -DNSB_MALLOC_EXPECT='"libc.so"'
bench_bench_glibc_CFLAGS = $(NSB_CFLAGS)
bench_bench_glibc_CXXFLAGS = $(NSB_CXXFLAGS)
bench_bench_glibc_LDADD = $(NSB_LIBS)
bench_bench_glibc_LDFLAGS = -no-install

bench_bench_jemalloc_SOURCES = $(NSB_SHIM) bench/work-malloc.c
bench_bench_jemalloc_CPPFLAGS = $(AM_CPPFLAGS) -DNSB_PEER='"jemalloc"' \
	-DNSB_MALLOC_EXPECT='"libjemalloc"'
bench_bench_jemalloc_CFLAGS = $(NSB_CFLAGS)
bench_bench_jemalloc_CXXFLAGS = $(NSB_CXXFLAGS)
bench_bench_jemalloc_LDADD = $(JEMALLOC_LIBS) $(NSB_LIBS)
bench_bench_jemalloc_LDFLAGS = -no-install

bench_bench_tcmalloc_SOURCES = $(NSB_SHIM) bench/work-malloc.c
bench_bench_tcmalloc_CPPFLAGS = $(AM_CPPFLAGS) -DNSB_PEER='"tcmalloc"' \
	-DNSB_MALLOC_EXPECT='"libtcmalloc"'
bench_bench_tcmalloc_CFLAGS = $(NSB_CFLAGS)
bench_bench_tcmalloc_CXXFLAGS = $(NSB_CXXFLAGS)
bench_bench_tcmalloc_LDADD = $(TCMALLOC_LIBS) $(NSB_LIBS)
bench_bench_tcmalloc_LDFLAGS = -no-install

bench_bench_mimalloc_SOURCES = $(NSB_SHIM) bench/work-malloc.c
bench_bench_mimalloc_CPPFLAGS = $(AM_CPPFLAGS) -DNSB_PEER='"mimalloc"' \
	-DNSB_MALLOC_EXPECT='"libmimalloc"'
bench_bench_mimalloc_CFLAGS = $(NSB_CFLAGS)
bench_bench_mimalloc_CXXFLAGS = $(NSB_CXXFLAGS)
bench_bench_mimalloc_LDADD = $(MIMALLOC_LIBS) $(NSB_LIBS)
bench_bench_mimalloc_LDFLAGS = -no-install

NSB_PROGS = bench/bench-numaslab$(EXEEXT) bench/bench-glibc$(EXEEXT)
NSB_MISSING =
if HAVE_JEMALLOC
NSB_PROGS += bench/bench-jemalloc$(EXEEXT)
else
NSB_MISSING += "jemalloc (libjemalloc-dev)"
endif
if HAVE_TCMALLOC
NSB_PROGS += bench/bench-tcmalloc$(EXEEXT)
else
NSB_MISSING += "tcmalloc (libgoogle-perftools-dev)"
endif
if HAVE_MIMALLOC
NSB_PROGS += bench/bench-mimalloc$(EXEEXT)
else
NSB_MISSING += "mimalloc (libmimalloc-dev)"
endif

if HAVE_BENCHMARK
bench: $(NSB_PROGS) bench/pairs$(EXEEXT)
	@for p in $(NSB_MISSING); do \
	  echo "make bench: no benchmark of $$p: configure did not find it"; done
else
bench:
	@echo "make bench: Google Benchmark was not found by configure." >&2; \
	echo "  On Debian: apt-get install libbenchmark-dev, then run configure again." >&2; \
	exit 1
endif

bench-run: bench
	CC='$(CC)' CFLAGS='$(CFLAGS)' CXX='$(CXX)' CXXFLAGS='$(CXXFLAGS)' \
	  $(SHELL) $(srcdir)/bench/run-numactl.sh -o $(NSB_OUT) bench
	$(SHELL) $(srcdir)/bench/callgrind-pairs.sh -k $(NSB_OUT)/callgrind \
	  bench/pairs$(EXEEXT) >$(NSB_OUT)/callgrind.txt
	@echo "make bench-run: results in $(NSB_OUT)/; make bench-report writes bench/RESULTS.md"

# The large-object workloads alone: a quick look at them without the
# minutes of a full bench-run.
bench-large: bench
	CC='$(CC)' CFLAGS='$(CFLAGS)' CXX='$(CXX)' CXXFLAGS='$(CXXFLAGS)' \
	  $(SHELL) $(srcdir)/bench/run-numactl.sh -p -f '^large-' -o $(NSB_OUT)/large bench
	@command -v python3 >/dev/null || \
	  { echo "make bench-large: the table needs python3; the JSON is in $(NSB_OUT)/large/" >&2; \
	  exit 1; }
	python3 $(srcdir)/bench/report --large $(NSB_OUT)/large

# bench/run-numactl.sh in each multi-node guest of tests/numa-vm: every
# binding runs and places memory on its node (no timings worth reading).
bench-numa-vm: bench/bench-numaslab$(EXEEXT)
	@for t in $(NUMAVM_TOPOLOGIES); do \
	  echo "bench-numa-vm: topology $$t"; \
	  $(SHELL) $(srcdir)/tests/numa-vm/numa-vm.sh --topology $$t \
	    --file bench/bench-numaslab$(EXEEXT) --file $(srcdir)/bench/run-numactl.sh \
	    $(srcdir)/bench/guest-bench.sh || exit 1; \
	done

bench-report:
	@command -v python3 >/dev/null || \
	  { echo "make bench-report: needs python3 (apt-get install python3)" >&2; exit 1; }
	python3 $(srcdir)/bench/report -o $(srcdir)/bench $(NSB_OUT)

.PHONY: bench bench-run bench-report bench-numa-vm bench-large

# What the running-short check costs per chunk mapped (internal API).
EXTRA_PROGRAMS += bench/headroom-cost
bench_headroom_cost_SOURCES = bench/headroom-cost.c
bench_headroom_cost_CPPFLAGS = $(AM_CPPFLAGS) $(HWLOC_CFLAGS) $(NUMA_CFLAGS)
bench_headroom_cost_LDADD = $(INTERNAL_LIBS)
bench_headroom_cost_LDFLAGS = -no-install
bench-headroom: bench/headroom-cost$(EXEEXT)
	./bench/headroom-cost$(EXEEXT)
.PHONY: bench-headroom

# Drop-in malloc workloads (larson, xmalloc, mstress, rptest): one program,
# plain libc, run by bench/malloc-run.sh without a preload (glibc) and under
# LD_PRELOAD of jemalloc, tcmalloc, mimalloc (each where its .so is found)
# and libnumaslab-malloc; the table of medians, peak RSS and numaslab's
# ratio to the fastest peer goes to the terminal and $(NSB_OUT)/malloc.md.
# NSB_MALLOC_FLAGS passes options, e.g. make bench-malloc NSB_MALLOC_FLAGS='-r 3'.
EXTRA_PROGRAMS += bench/malloc-bench
dist_noinst_SCRIPTS += bench/malloc-run.sh
bench_malloc_bench_SOURCES = bench/malloc-bench.c
bench_malloc_bench_CFLAGS = $(AM_CFLAGS) -pthread
bench_malloc_bench_LDADD = -lpthread
NSB_MALLOC_SO = .libs/libnumaslab-malloc.so
NSB_MALLOC_FLAGS =
bench-malloc: bench/malloc-bench$(EXEEXT) libnumaslab-malloc.la
	$(SHELL) $(srcdir)/bench/malloc-run.sh -b bench/malloc-bench$(EXEEXT) \
	  -o $(NSB_OUT)/malloc.md $(NSB_MALLOC_FLAGS) $(NSB_MALLOC_SO)
.PHONY: bench-malloc

# The null allocator of bench/pairs' `null` workload (bench/null-alloc.h):
# a shared library, as libnumaslab is, so that bench/pairs calls it through
# the PLT like numaslab and the peers' malloc; built with bench/pairs only.
EXTRA_LTLIBRARIES = bench/libnullalloc.la
bench_libnullalloc_la_SOURCES = bench/null-alloc.c bench/null-alloc.h
bench_libnullalloc_la_LDFLAGS = -avoid-version -shared -rpath $(abs_builddir)/bench/.libs
bench_pairs_LDADD += bench/libnullalloc.la
CLEANFILES += bench/libnullalloc.la
