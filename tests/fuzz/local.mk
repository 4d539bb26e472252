# tests/fuzz/local.mk - included by the top-level Makefile.am.
# The libFuzzer target is built by tests/fuzz/run.sh with clang, from the
# library's sources, outside Automake: `make fuzz [FUZZ_SECONDS=N]`.
EXTRA_DIST += tests/fuzz/fuzz-ops.c tests/fuzz/run.sh tests/fuzz/make-corpus.sh \
	tests/fuzz/corpus

FUZZ_SECONDS = 180
fuzz:
	$(SHELL) $(srcdir)/tests/fuzz/run.sh -t $(FUZZ_SECONDS) -o $(abs_builddir)/fuzz-work
.PHONY: fuzz
