#!/bin/sh
# test-simulated-suite.sh - the multi-node tests on simulated machines
# (numaslab(7), SIMULATED MACHINES): each program below runs once per
# topology of tests/data, with HWLOC_XMLFILE naming it, so that fallback,
# remote frees across nodes, per-node reserves and statistics run on a
# one-node host, in every build `make check` is run in (ASan, the debug
# build).  Each run must pass: a skip is a failure here, because the
# simulated machine has the nodes the program asks for.  Placement is the
# library's own bookkeeping on these machines (tests/testutil.h); the
# QEMU guests of tests/numa-vm prove real placement.
#
# SPDX-License-Identifier: BSD-2-Clause

top=${top_builddir:-.}
data=${top_srcdir:-.}/tests/data
progs="test-placement test-fallback test-reserve test-cache test-sizeclass test-threads
       test-owner test-mempool test-large test-realloc test-stat-live"
machines="sim-four.xml guest-mixed.xml sparse.xml two-nodes.xml"

pass=0 fail=0
for m in $machines; do
	[ -r "$data/$m" ] || { echo "test-simulated-suite: $data/$m: missing"; exit 99; }
	for p in $progs; do
		[ -x "$top/tests/$p" ] || { echo "test-simulated-suite: $top/tests/$p is not built"; exit 99; }
		log=$(mktemp)
		HWLOC_XMLFILE=$data/$m timeout 600 "$top/tests/$p" >"$log" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then
			echo "ok:   $p on $m"
			pass=$((pass + 1))
		else
			echo "FAIL: $p on $m: exit status $rc"
			grep -E '^(FAIL|ERROR|SKIP|skip)' "$log" | head -n 10 | sed 's/^/    /'
			fail=$((fail + 1))
		fi
		rm -f "$log"
	done
done
echo "# $pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
