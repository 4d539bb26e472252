# tools/local.mk - included by the top-level Makefile.am

#
# numaslab-stat(1): the command line, its commands and its JSON here; the
# segment reader and the tables are the library's (lib/statread.h), linked
# from libnumaslab-common.la, which is all of the library it links.
#
bin_PROGRAMS += tools/numaslab-stat
tools_numaslab_stat_SOURCES = tools/numaslab-stat.c tools/stat-commands.c tools/stat-json.c \
	tools/stat.h
tools_numaslab_stat_LDADD = libnumaslab-common.la
dist_man_MANS += doc/numaslab-stat.1

# Tests of the statistics export and the tool (they find the tool as
# $(top_builddir)/tools/numaslab-stat).
check_PROGRAMS += tests/test-stat-live tests/test-stat-corrupt
tests_test_stat_live_SOURCES = tests/test-stat-live.c
tests_test_stat_live_CFLAGS = $(NSLAB_TCFLAGS)
tests_test_stat_live_LDADD = $(NSLAB_TEST_LIBS)
tests_test_stat_live_LDFLAGS = $(NSLAB_TLDFLAGS)

tests_test_stat_corrupt_SOURCES = tests/test-stat-corrupt.c
tests_test_stat_corrupt_CFLAGS = $(NSLAB_TCFLAGS)
tests_test_stat_corrupt_LDADD = $(NSLAB_TEST_LIBS)
tests_test_stat_corrupt_LDFLAGS = $(NSLAB_TLDFLAGS)
dist_check_SCRIPTS += tests/test-stat-golden.sh tests/test-stat-badinput.sh tests/test-stat-quiet.sh
EXTRA_DIST += tests/data/stat-sample.seg tests/data/stat-sample.table \
	tests/data/stat-sample-caches.table tests/data/stat-sample.json \
	tests/data/stat-sample-caches.json
