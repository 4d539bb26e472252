# numaslab.m4 - the configure checks of numaslab.
# Each missing dependency stops configure with the Debian package to install.

# NSLAB_CHECK_HWLOC: hwloc >= 2.0 through pkg-config.
AC_DEFUN([NSLAB_CHECK_HWLOC], [
  PKG_CHECK_MODULES([HWLOC], [hwloc >= 2.0], [],
    [AC_MSG_ERROR([hwloc >= 2.0 not found (pkg-config hwloc). On Debian: apt-get install libhwloc-dev])])
])

# NSLAB_CHECK_LIBNUMA: libnuma through pkg-config, else AC_CHECK_LIB.
AC_DEFUN([NSLAB_CHECK_LIBNUMA], [
  PKG_CHECK_MODULES([NUMA], [numa], [],
    [AC_CHECK_LIB([numa], [numa_available], [NUMA_LIBS=-lnuma; NUMA_CFLAGS=],
      [AC_MSG_ERROR([libnuma not found. On Debian: apt-get install libnuma-dev])])])
  nslab_save_CFLAGS=$CFLAGS
  CFLAGS="$CFLAGS $NUMA_CFLAGS"
  AC_CHECK_HEADERS([numa.h numaif.h], [],
    [AC_MSG_ERROR([libnuma headers not found. On Debian: apt-get install libnuma-dev])])
  CFLAGS=$nslab_save_CFLAGS
  AC_SUBST([NUMA_CFLAGS])
  AC_SUBST([NUMA_LIBS])
])

# NSLAB_CHECK_OPENMP: OpenMP is optional.  The library does not use it;
# the demo (tools/numaslab-demo), the OpenMP test (tests/test-threads) and
# the MPI + OpenMP example do.  Without it (no compiler support, or
# AC_OPENMP's --disable-openmp) OPENMP_CFLAGS is empty, _OPENMP is not
# defined, and those programs say so and exit 77 (skipped).
AC_DEFUN([NSLAB_CHECK_OPENMP], [
  AC_LANG_PUSH([C])
  AC_OPENMP
  AC_LANG_POP([C])
  nslab_openmp=no
  AS_IF([test "x$enable_openmp" = xno],
      [nslab_have_openmp="no (--disable-openmp: tools/numaslab-demo and tests/test-threads skip)"],
    [test "x$ac_cv_prog_c_openmp" = xunsupported || test -z "$ac_cv_prog_c_openmp"],
      [nslab_have_openmp="no (tools/numaslab-demo and tests/test-threads skip)"
       AC_MSG_WARN([$CC has no OpenMP: the library builds, the demo and tests/test-threads skip. On Debian: apt-get install gcc (libgomp1)])],
    [nslab_openmp=yes
     nslab_have_openmp="yes ($ac_cv_prog_c_openmp)"])
])

# NSLAB_CHECK_RSEQ: glibc's __rseq_offset lets the fast path read the CPU
# number from the thread's rseq area instead of calling sched_getcpu.
AC_DEFUN([NSLAB_CHECK_RSEQ], [
  AC_CACHE_CHECK([for __rseq_offset], [nslab_cv_rseq_offset], [
    AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <sys/rseq.h>]],
                                    [[return (int)__rseq_offset + (int)__rseq_size;]])],
                   [nslab_cv_rseq_offset=yes], [nslab_cv_rseq_offset=no])])
  AS_IF([test "x$nslab_cv_rseq_offset" = xyes],
    [AC_DEFINE([HAVE_RSEQ_OFFSET], [1], [glibc exports __rseq_offset])])
])

# NSLAB_CHECK_BENCHMARK: Google Benchmark, for `make bench` only.
AC_DEFUN([NSLAB_CHECK_BENCHMARK], [
  PKG_CHECK_MODULES([BENCHMARK], [benchmark], [nslab_have_benchmark=yes],
    [nslab_have_benchmark=no
     AC_MSG_WARN([Google Benchmark not found: `make bench` is disabled. On Debian: apt-get install libbenchmark-dev])])
  AM_CONDITIONAL([HAVE_BENCHMARK], [test "x$nslab_have_benchmark" = xyes])
])

# NSLAB_CHECK_PEER(NAME, LIB, FUNCTION, DEBIAN-PACKAGE): an allocator that
# `make bench` compares numaslab with, optional.  Sets NAME_LIBS and the
# conditional HAVE_NAME; a missing one is named with its package.
AC_DEFUN([NSLAB_CHECK_PEER], [
  AC_CHECK_LIB([$2], [$3], [nslab_have_$2=yes], [nslab_have_$2=no])
  AS_IF([test "x$nslab_have_$2" = xyes], [AC_SUBST([$1_LIBS], [-l$2])],
    [AC_MSG_WARN([$2 not found: `make bench` runs without that peer. On Debian: apt-get install $4])])
  AM_CONDITIONAL([HAVE_$1], [test "x$nslab_have_$2" = xyes])
])

# The peer allocators of the benchmarks.  Each replaces malloc in any
# process that links it, so each gets a benchmark binary of its own.
AC_DEFUN([NSLAB_CHECK_JEMALLOC], [NSLAB_CHECK_PEER([JEMALLOC], [jemalloc], [mallctl], [libjemalloc-dev])])
AC_DEFUN([NSLAB_CHECK_TCMALLOC],
  [NSLAB_CHECK_PEER([TCMALLOC], [tcmalloc_minimal], [tc_malloc], [libgoogle-perftools-dev])])
AC_DEFUN([NSLAB_CHECK_MIMALLOC], [NSLAB_CHECK_PEER([MIMALLOC], [mimalloc], [mi_malloc], [libmimalloc-dev])])

# NSLAB_ARG_DEBUG: --enable-debug[=1|2|3].
AC_DEFUN([NSLAB_ARG_DEBUG], [
  AC_ARG_ENABLE([debug],
    [AS_HELP_STRING([--enable-debug@<:@=LEVEL@:>@],
      [debug checks: 1 cheap asserts, 2 consistency checks, 3 whole-structure walks (default: 0)])],
    [], [enable_debug=no])
  AS_CASE([$enable_debug],
    [no], [nslab_debug=0],
    [yes], [nslab_debug=1],
    [[[0-3]]], [nslab_debug=$enable_debug],
    [AC_MSG_ERROR([--enable-debug takes 0, 1, 2 or 3, not '$enable_debug'])])
  AC_DEFINE_UNQUOTED([NSLAB_DEBUG], [$nslab_debug], [debug level, 0..3])
])

# NSLAB_ARG_STATS: --disable-stats compiles the statistics segment and its
# publisher thread out (for comparing benchmarks; the fast paths are the
# same either way).
AC_DEFUN([NSLAB_ARG_STATS], [
  AC_ARG_ENABLE([stats],
    [AS_HELP_STRING([--disable-stats],
      [compile out the statistics segment /dev/shm/numaslab.PID and its publisher (default: enabled)])],
    [], [enable_stats=yes])
  AS_CASE([$enable_stats],
    [yes], [nslab_stats=1],
    [no], [nslab_stats=0],
    [AC_MSG_ERROR([--enable-stats takes yes or no, not '$enable_stats'])])
  AC_DEFINE_UNQUOTED([NSLAB_STATS], [$nslab_stats],
    [1: publish statistics in /dev/shm/numaslab.PID; 0: compiled out])
])

# NSLAB_CHECK_VISIBILITY: everything is hidden but what NUMASLAB_API marks.
AC_DEFUN([NSLAB_CHECK_VISIBILITY], [
  nslab_save_CFLAGS=$CFLAGS
  CFLAGS="$CFLAGS -fvisibility=hidden -Werror"
  AC_CACHE_CHECK([whether $CC accepts -fvisibility=hidden], [nslab_cv_visibility],
    [AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
      [nslab_cv_visibility=yes], [nslab_cv_visibility=no])])
  CFLAGS=$nslab_save_CFLAGS
  AS_IF([test "x$nslab_cv_visibility" = xyes],
    [AC_SUBST([VISIBILITY_CFLAGS], [-fvisibility=hidden])])
])

# NSLAB_ARG_VALGRIND: --enable-valgrind annotates slab objects for memcheck.
AC_DEFUN([NSLAB_ARG_VALGRIND], [
  AC_ARG_ENABLE([valgrind],
    [AS_HELP_STRING([--enable-valgrind], [tell valgrind memcheck about slab objects (default: no)])],
    [], [enable_valgrind=no])
  AS_IF([test "x$enable_valgrind" != xno], [
    AC_CHECK_HEADER([valgrind/memcheck.h],
      [AC_DEFINE([NSLAB_VALGRIND], [1], [valgrind client requests on slab objects])],
      [AC_MSG_ERROR([--enable-valgrind needs valgrind/memcheck.h. On Debian: apt-get install valgrind])])])
])

# MPI and CMake, for the examples only (doc/examples/local.mk): the MPI
# examples are built when mpicc is found, run with the mpirun found beside
# it; the CMake consumer example needs cmake.  Nothing else depends on them.
AC_DEFUN([NSLAB_CHECK_EXAMPLES], [
  AC_ARG_VAR([MPICC], [MPI C compiler wrapper, for the MPI examples])
  AC_ARG_VAR([MPIRUN], [MPI launcher, for make check-examples])
  AC_ARG_VAR([CMAKE], [cmake, for the CMake consumer example])
  AC_PATH_PROGS([MPICC], [mpicc])
  AC_PATH_PROGS([MPIRUN], [mpirun mpiexec])
  AC_PATH_PROG([CMAKE], [cmake])
  # hybrid-mpi-omp is an OpenMP program too (NSLAB_CHECK_OPENMP first).
  nslab_mpi=no
  AS_IF([test -z "$MPICC" || test -z "$MPIRUN"],
      [nslab_have_mpi="no (the MPI examples are not built; on Debian: apt-get install openmpi-bin libopenmpi-dev)"],
    [test "x$nslab_openmp" != xyes],
      [nslab_have_mpi="no (the MPI examples are not built: hybrid-mpi-omp needs OpenMP)"],
    [nslab_mpi=yes
     nslab_have_mpi="yes ($MPICC)"])
  AM_CONDITIONAL([HAVE_MPI], [test "x$nslab_mpi" = xyes])
  AS_IF([test -n "$CMAKE"], [nslab_have_cmake="yes ($CMAKE)"],
    [nslab_have_cmake="no (the CMake consumer example is skipped; on Debian: apt-get install cmake)"])
])
