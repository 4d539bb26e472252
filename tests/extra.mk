# tests/extra.mk - included by the top-level Makefile.am, after the
# EXTRA_PROGRAMS line.  Programs built on demand, never run by `make check`:
#
#   tests/stress-long           the long stress test: `make stress
#                               [STRESS_OPS=N]` (10^7 operations unless
#                               told), .ci/run with a bounded count
#   tests/test-tools-*          planted bugs for valgrind memcheck,
#                               AddressSanitizer and the debug build:
#                               `make tools-programs`, then
#                               tests/tools-check.sh MODE BUILDDIR (.ci/run
#                               does both in its valgrind, ASan and debug
#                               builds)
NSLAB_EXTRA_TESTS = tests/stress-long tests/test-tools-uaf tests/test-tools-overflow \
	tests/test-tools-pool
EXTRA_PROGRAMS += $(NSLAB_EXTRA_TESTS)
EXTRA_DIST += tests/tools-check.sh

# Linked as the tests are (tests/Makefile.inc's defaults).
tests_test_tools_uaf_SOURCES = tests/test-tools-uaf.c tests/tools-asan.h

tests_test_tools_overflow_SOURCES = tests/test-tools-overflow.c tests/tools-asan.h

stress: tests/stress-long$(EXEEXT)
	NUMASLAB_STATS=0 ./tests/stress-long$(EXEEXT) $(STRESS_OPS)
tools-programs: tests/test-tools-uaf$(EXEEXT) tests/test-tools-overflow$(EXEEXT) \
	tests/test-tools-pool$(EXEEXT)
.PHONY: stress tools-programs
