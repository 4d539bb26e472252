#!/usr/bin/env bash
# check-numa.sh - make check-numa: guest-suite.sh in a numa-vm.sh guest of
# each topology, from the build directory; its results counted here.
#
# Usage: check-numa.sh --srcdir DIR [--topologies "mixed two"] -- FILE...
#   FILE...  the programs the guest runs (built, relative to the build
#            directory); a missing one is left out (its step fails)
#
# Prints one line per guest step ("PASS: mixed test-placement"), the output
# of every step that failed, a count per topology, and last
#   check-numa: N passed, N failed, N skipped
# The whole guest output goes to tests/numa-vm/TOPOLOGY.log.  Exit 1 when
# anything failed (a guest that did not boot or timed out counts as one
# failure, named "boot" or "timeout").
#
# Environment: NUMAVM_TIMEOUT (seconds per guest, default 270: the whole
# run stays under 10 minutes even when both guests hang), and those
# of numa-vm.sh (NUMAVM_CACHE, QEMU).
#
# SPDX-License-Identifier: BSD-2-Clause

set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
harness=$here/numa-vm.sh
srcdir=
topologies="mixed two"
timeout=${NUMAVM_TIMEOUT:-270}

while [ $# -gt 0 ]; do
	case $1 in
	--srcdir) srcdir=$2; shift ;;
	--topologies) topologies=$2; shift ;;
	--) shift; break ;;
	*) echo "check-numa: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$srcdir" ] || { echo "check-numa: --srcdir is needed" >&2; exit 2; }

files=()
for f in "$@"; do
	[ -e "$f" ] && files+=(--file "$f")
done
# test-topology reads the hwloc XML machines of the source tree.
files+=(--file "$srcdir/tests/data" --env "top_srcdir=$srcdir")

mkdir -p tests/numa-vm
# Packages (root, only what is missing) and the kernel, once for all.
bash "$harness" --install || {
	echo "check-numa: numa-vm.sh --install failed; see above"
	echo "check-numa: 0 passed, 1 failed, 0 skipped"
	exit 1
}

total_pass=0 total_fail=0 total_skip=0
start=$(date +%s)
for topo in $topologies; do
	log=tests/numa-vm/$topo.log
	pass=0 fail=0 skip=0 section=() t0=$(date +%s)
	echo "check-numa: $topo: $(bash "$harness" --list | sed -n "s/^$topo *//p")"
	# Results as they come; a failed step's output after its result.
	while IFS= read -r line; do
		printf '%s\n' "$line" >>"$log"
		case $line in
		"==== "*) section=("$line") ;;
		"NUMAVM-RESULT "*)
			set -- $line
			case $4 in
			PASS) pass=$((pass + 1)) ;;
			SKIP) skip=$((skip + 1)) ;;
			*) fail=$((fail + 1)) ;;
			esac
			echo "$4: $2 $3"
			if [ "$4" = FAIL ]; then
				printf '    %s\n' "${section[@]}"
			fi
			section=()
			;;
		"numa-vm: "*) echo "$line"; section+=("$line") ;;
		*) section+=("$line") ;;
		esac
	done < <(: >"$log"; bash "$harness" --topology "$topo" --timeout "$timeout" "${files[@]}" \
		"$here/guest-suite.sh" 2>&1; echo "NUMAVM-HARNESS-EXIT $?")
	rc=$(sed -n 's/^NUMAVM-HARNESS-EXIT //p' "$log" | tail -n 1)
	case $rc in
	0 | 1) ;;
	124) fail=$((fail + 1)); echo "FAIL: $topo timeout (the guest ran past ${timeout} s)"
		printf '    %s\n' "${section[@]}" ;;
	*) fail=$((fail + 1)); echo "FAIL: $topo boot (numa-vm.sh exit $rc)"
		printf '    %s\n' "${section[@]}" ;;
	esac
	# The guest's status must agree with its results.
	if [ "$rc" = 1 ] && [ "$fail" = 0 ]; then
		fail=1
		echo "FAIL: $topo suite (the guest failed without a failed step)"
	fi
	echo "check-numa: $topo: $pass passed, $fail failed, $skip skipped" \
		"($(($(date +%s) - t0)) s; log $log)"
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
done
echo "check-numa: $(($(date +%s) - start)) s in all"
echo "check-numa: $total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" = 0 ]
