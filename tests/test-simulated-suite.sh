#!/bin/sh
# test-simulated-suite.sh - the multi-node tests on simulated machines
# (numaslab(7), SIMULATED MACHINES): each program below runs once per
# topology of tests/data, with HWLOC_XMLFILE naming it, so that fallback,
# remote frees across nodes, per-node reserves and statistics run on a
# one-node host, in every build `make check` is run in (ASan, the debug
# build).  Each run must pass: a skip is a failure here, because the
# simulated machine has the nodes the program asks for (the one exception:
# test-threads in a build without OpenMP).  Placement is the
# library's own bookkeeping on these machines (tests/testutil.h); the
# QEMU guests of tests/numa-vm prove real placement.  test-mempool is left
# out: a page pool's elements are no numaslab object, so on a simulated
# machine nothing can say which node they are on.
#
# SPDX-License-Identifier: BSD-2-Clause

top=${top_builddir:-.}
data=${top_srcdir:-.}/tests/data
. "${top_srcdir:-.}/tests/testutil.sh"
progs="test-placement test-fallback test-reserve test-cache test-sizeclass test-threads
       test-owner test-large test-realloc test-stat-live"
machines="sim-four.xml guest-mixed.xml sparse.xml two-nodes.xml"

for m in $machines; do
	[ -r "$data/$m" ] || { echo "test-simulated-suite: $data/$m: missing"; exit 99; }
	tu_case "the multi-node tests on $m"
	for p in $progs; do
		[ -x "$top/tests/$p" ] || { echo "test-simulated-suite: $top/tests/$p is not built"; exit 99; }
		log=$(mktemp)
		HWLOC_XMLFILE=$data/$m timeout 600 "$top/tests/$p" >"$log" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then
			ok "$p passes on $m"
		elif [ $rc -eq 77 ] && grep -q 'OpenMP was not found at configure time' "$log"; then
			# The one skip that is not the machine's: a build without OpenMP.
			echo "info: $p skips on $m: this build has no OpenMP"
		else
			fail "$p on $m: exit status $rc (a skip fails here too)"
			grep -E '^(FAIL|ERROR|skip)' "$log" | head -n 10 | sed 's/^/    /'
		fi
		rm -f "$log"
	done
done
tu_exit
