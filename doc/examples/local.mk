# doc/examples/local.mk - the examples, included by the top-level Makefile.am.
#
#   make examples        builds them: the MPI ones when configure found
#                        mpicc and mpirun (configure's summary says so)
#   make check-examples  runs them and checks their output: the MPI ones
#                        under mpirun -np 2 (and in the two-node guest
#                        when QEMU is there), the CMake consumer against a
#                        temporary install (DESTDIR) of this build
#
# The examples are not part of make check: they need Open MPI and CMake,
# which the library does not.

EXTRA_DIST += doc/examples/hybrid-mpi-omp.c doc/examples/progress-engine.c \
	doc/examples/cmake/CMakeLists.txt doc/examples/cmake/consumer.c \
	doc/examples/check-examples.sh doc/examples/guest-mpi.sh

NSLAB_MPI_EXAMPLES = doc/examples/hybrid-mpi-omp$(EXEEXT) doc/examples/progress-engine$(EXEEXT)
CLEANFILES += $(NSLAB_MPI_EXAMPLES) doc/examples/*.o

if HAVE_MPI
NSLAB_HAVE_MPI = 1
examples: $(NSLAB_MPI_EXAMPLES)

# Compiled by the MPI wrapper, linked by libtool against the library in
# this tree (-no-install: real programs, which the guest can run).
NSLAB_MPICOMPILE = $(MPICC) $(AM_CPPFLAGS) $(CPPFLAGS) $(AM_CFLAGS) $(CFLAGS) $(OPENMP_CFLAGS)
NSLAB_MPILINK = $(LIBTOOL) $(AM_V_lt) --tag=CC --mode=link $(MPICC) $(AM_CFLAGS) $(CFLAGS) \
	$(OPENMP_CFLAGS) $(LDFLAGS) -no-install

doc/examples/hybrid-mpi-omp.o: $(srcdir)/doc/examples/hybrid-mpi-omp.c $(top_srcdir)/include/numaslab.h
	@$(MKDIR_P) doc/examples
	$(AM_V_CC)$(NSLAB_MPICOMPILE) -c -o $@ $(srcdir)/doc/examples/hybrid-mpi-omp.c
doc/examples/hybrid-mpi-omp$(EXEEXT): doc/examples/hybrid-mpi-omp.o libnumaslab.la
	$(AM_V_CCLD)$(NSLAB_MPILINK) -o $@ doc/examples/hybrid-mpi-omp.o libnumaslab.la $(NUMA_LIBS)

doc/examples/progress-engine.o: $(srcdir)/doc/examples/progress-engine.c $(top_srcdir)/include/numaslab.h
	@$(MKDIR_P) doc/examples
	$(AM_V_CC)$(NSLAB_MPICOMPILE) -c -o $@ $(srcdir)/doc/examples/progress-engine.c
doc/examples/progress-engine$(EXEEXT): doc/examples/progress-engine.o libnumaslab.la
	$(AM_V_CCLD)$(NSLAB_MPILINK) -o $@ doc/examples/progress-engine.o libnumaslab.la
else
NSLAB_HAVE_MPI = 0
examples:
	@echo "examples: configure found no mpicc and mpirun: the MPI examples are not built"
endif

check-examples: examples tools/numaslab-stat$(EXEEXT)
	@rm -rf doc/examples/stage
	$(MAKE) $(AM_MAKEFLAGS) install DESTDIR='$(abs_top_builddir)/doc/examples/stage' >/dev/null
	@MPIRUN='$(MPIRUN)' CMAKE='$(CMAKE)' HAVE_MPI='$(NSLAB_HAVE_MPI)' \
	  STAGE='$(abs_top_builddir)/doc/examples/stage' PREFIX='$(prefix)' LIBDIR='$(libdir)' \
	  $(SHELL) $(srcdir)/doc/examples/check-examples.sh --srcdir '$(abs_top_srcdir)'

clean-local: clean-examples
clean-examples:
	rm -rf doc/examples/stage doc/examples/work

.PHONY: examples check-examples clean-examples
