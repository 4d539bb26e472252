#!/usr/bin/env bash
# check-examples.sh - make check-examples: run the examples of doc/examples
# and check what they print, from the build directory.
#
# Usage: check-examples.sh --srcdir DIR
# Environment (set by the make rule): HAVE_MPI (1: the MPI examples are
# built), MPIRUN, CMAKE, STAGE (a DESTDIR install of this build), PREFIX,
# LIBDIR (the configured ones).
#
# Steps:
#   cmake-consumer      doc/examples/cmake, configured against the staged
#                       install with find_package(numaslab 0.1 CONFIG),
#                       built and run
#   cmake-static        the same, linked with numaslab::numaslab_static,
#                       when libnumaslab.a is installed (--enable-static)
#   cmake-version       the installed version file accepts 0, 0.1 and
#                       0.1.0, and refuses 0.2, 0.0.1 (while the major
#                       version is 0, the minor one must match) and 1
#   hybrid              hybrid-mpi-omp under mpirun -np 2, 2 threads per
#                       rank: every rank's pages on the node it asked for
#                       (move_pages), the ring's contents right
#   progress            progress-engine, no fault injection: no reserve used
#   progress-fail       progress-engine --fail: the reserves serve, nothing
#                       dropped; numaslab-stat lists both live ranks and
#                       shows each one's reserve levels
#   guest-hybrid        hybrid-mpi-omp in the two-node QEMU guest, one rank
#                       per node: two different nodes, every page on its
#                       rank's node by the kernel's word (skipped without
#                       QEMU)
# Prints PASS/FAIL/SKIP per step, the output of a failed one, and last
#   check-examples: N passed, N failed, N skipped
# Exit 1 when a step failed.  (No "cmd | grep -q" under pipefail: grep's
# early exit can fail the pipeline with the writer's SIGPIPE.)
#
# SPDX-License-Identifier: BSD-2-Clause

set -uo pipefail

srcdir=
while [ $# -gt 0 ]; do
	case $1 in
	--srcdir) srcdir=$2; shift ;;
	*) echo "check-examples: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$srcdir" ] || { echo "check-examples: --srcdir is needed" >&2; exit 2; }

work=$PWD/doc/examples/work
rm -rf "$work"
mkdir -p "$work"
pass=0 fail=0 skip=0

ok() { echo "PASS: $1"; pass=$((pass + 1)); }
skipped() { echo "SKIP: $1 ($2)"; skip=$((skip + 1)); }
failed() {
	echo "FAIL: $1: $2"
	[ -f "$work/$1.out" ] && sed 's/^/    /' "$work/$1.out" | tail -n 40
	fail=$((fail + 1))
}

# Open MPI as root on a small machine: more ranks than cores allowed, no
# ssh for a local job, shared memory without ptrace-based single copy
# (refused in many containers).
mpirun_() {
	timeout -k 10 300 "$MPIRUN" --allow-run-as-root --oversubscribe \
		--mca btl self,vader --mca btl_vader_single_copy_mechanism none "$@"
}

# ---- CMake ------------------------------------------------------------------------
prefix_staged=$STAGE$PREFIX
libdir_staged=$STAGE$LIBDIR
if [ -z "${CMAKE:-}" ]; then
	skipped cmake-consumer "configure found no cmake"
	skipped cmake-static "configure found no cmake"
	skipped cmake-version "configure found no cmake"
else
	t=cmake-consumer
	if [ ! -f "$libdir_staged/cmake/numaslab/numaslab-config.cmake" ]; then
		echo "no $libdir_staged/cmake/numaslab/numaslab-config.cmake" >"$work/$t.out"
		failed $t "make install wrote no CMake package"
	elif ! "$CMAKE" -S "$srcdir/doc/examples/cmake" -B "$work/cmake" \
		-DCMAKE_PREFIX_PATH="$prefix_staged" >"$work/$t.out" 2>&1; then
		failed $t "cmake could not configure the consumer"
	elif ! "$CMAKE" --build "$work/cmake" >>"$work/$t.out" 2>&1; then
		failed $t "the consumer did not build"
	elif ! grep -q "numaslab 0\.1\.[0-9]* from $libdir_staged\$" "$work/$t.out"; then
		failed $t "find_package did not report the staged install"
	elif ! LD_LIBRARY_PATH=$libdir_staged "$work/cmake/numaslab-consumer" >>"$work/$t.out" 2>&1; then
		failed $t "the consumer failed"
	elif ! grep -q '^numaslab-consumer: ok: numaslab 0\.1' "$work/$t.out"; then
		failed $t "the consumer printed no ok line"
	elif [ -f "$libdir_staged/libnumaslab.so" ] &&
		! LD_LIBRARY_PATH=$libdir_staged ldd "$work/cmake/numaslab-consumer" >"$work/$t.ldd" 2>&1 ||
		! grep -q "$libdir_staged/libnumaslab.so" "$work/$t.ldd"; then
		failed $t "the consumer is not linked with the staged libnumaslab.so"
	else
		ok $t
	fi

	# A build configured --enable-static installs libnumaslab.a: the static
	# target must link with nothing but what it carries.
	t=cmake-static
	if [ ! -f "$libdir_staged/libnumaslab.a" ]; then
		skipped $t "no libnumaslab.a installed (configure --enable-static)"
	elif ! "$CMAKE" -S "$srcdir/doc/examples/cmake" -B "$work/cmake-static" -DCONSUMER_STATIC=ON \
		-DCMAKE_PREFIX_PATH="$prefix_staged" >"$work/$t.out" 2>&1 ||
		! "$CMAKE" --build "$work/cmake-static" >>"$work/$t.out" 2>&1; then
		failed $t "the static consumer did not configure or build"
	elif ldd "$work/cmake-static/numaslab-consumer-static" >"$work/$t.ldd" 2>&1;
		grep -q libnumaslab "$work/$t.ldd"; then
		failed $t "the static consumer loads libnumaslab.so"
	elif ! "$work/cmake-static/numaslab-consumer-static" >>"$work/$t.out" 2>&1 ||
		! grep -q '^numaslab-consumer: ok: ' "$work/$t.out"; then
		failed $t "the static consumer failed"
	else
		ok $t
	fi

	# The version file must refuse what it does not satisfy.
	t=cmake-version
	mkdir -p "$work/cmake-version"
	bad=""
	for want in 0.1 0 0.1.0 0.2 0.0.1 1; do
		cat >"$work/cmake-version/CMakeLists.txt" <<-EOF
		cmake_minimum_required(VERSION 3.13)
		project(v LANGUAGES C)
		find_package(numaslab $want CONFIG)
		message(STATUS "found=\${numaslab_FOUND}")
		EOF
		rm -rf "$work/cmake-version/b"
		"$CMAKE" -S "$work/cmake-version" -B "$work/cmake-version/b" \
			-DCMAKE_PREFIX_PATH="$prefix_staged" >"$work/$t.$want.out" 2>&1
		got=$(sed -n 's/^-- found=//p' "$work/$t.$want.out")
		case $want in
		0.1 | 0 | 0.1.0) [ "$got" = 1 ] || bad="$bad; $want: found=$got, expected 1" ;;
		*) [ "$got" = 0 ] || bad="$bad; $want: found=$got, expected 0" ;;
		esac
		cat "$work/$t.$want.out" >>"$work/$t.out"
	done
	if [ -n "$bad" ]; then failed $t "${bad#; }"; else ok $t; fi
fi

# ---- MPI ----------------------------------------------------------------------------
mpi_steps="hybrid progress progress-fail"
why_no_mpi="configure found no mpicc and mpirun"
if [ "${HAVE_MPI:-0}" = 1 ] && ! grep -q 'Open MPI' <<<"$("$MPIRUN" --version 2>&1)"; then
	HAVE_MPI=0 # the options below are Open MPI's
	why_no_mpi="$MPIRUN is not Open MPI's"
fi
if [ "${HAVE_MPI:-0}" != 1 ]; then
	for t in $mpi_steps guest-hybrid; do
		skipped $t "$why_no_mpi"
	done
	echo "check-examples: $pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ]
	exit
fi

# hybrid: the kernel's figures in the output, read here too, not only the
# program's verdict.
check_hybrid() {
	local out=$1 ranks=$2 r
	for r in $(seq 0 $((ranks - 1))); do
		grep -q "^rank $r: OK\$" "$out" || { echo "rank $r did not say OK"; return 1; }
		grep -q "^rank $r: ring: received rank [0-9]*'s buffer into node [0-9]* memory, contents ok\$" \
			"$out" || { echo "rank $r: no good ring line"; return 1; }
		grep -q "^rank $r: node [0-9]*: " "$out" || { echo "rank $r: no node line"; return 1; }
	done
	if grep -E '^rank [0-9]+: node [0-9]+: ' "$out" |
		awk '{ if ($7 != $13 || $7 == 0) bad = 1 } END { exit !bad }'; then
		echo "a node line whose pages asked and pages there differ"
		return 1
	fi
	grep -q "^hybrid-mpi-omp: $ranks ranks, every page on the node it was asked for\$" "$out" ||
		{ echo "no final verdict line"; return 1; }
}

t=hybrid
if OMP_NUM_THREADS=2 mpirun_ -np 2 --bind-to numa --map-by numa \
	./doc/examples/hybrid-mpi-omp 4 >"$work/$t.out" 2>&1 &&
	why=$(check_hybrid "$work/$t.out" 2); then
	ok $t
else
	failed $t "${why:-mpirun exited with status $?}"
fi

# progress: the engine's line, split into its figures.
engine_line() { grep -E '^rank 1: node [0-9]+: [0-9]+ messages' "$1"; }
t=progress
if mpirun_ -np 2 ./doc/examples/progress-engine --bursts 10 >"$work/$t.out" 2>&1 &&
	line=$(engine_line "$work/$t.out") &&
	grep -q ": 480 messages, 0 dropped, payloads ok, 0 off the node; buffers: 0 from the pool's reserve; descriptors: 0 slab(s) from the node's reserve; fault injection off\$" <<<"$line" &&
	grep -q '^progress-engine: all ranks done$' "$work/$t.out"; then
	ok $t
else
	failed $t "no clean run without fault injection"
fi

t=progress-fail
hold=$work/hold
mkdir -p "$hold"
NUMASLAB_STATS=1 mpirun_ -x NUMASLAB_STATS -np 2 ./doc/examples/progress-engine --fail \
	--bursts 10 --hold "$hold" >"$work/$t.out" 2>&1 &
job=$!
for _ in $(seq 1 600); do
	[ -f "$hold/rank-0.pid" ] && [ -f "$hold/rank-1.pid" ] && break
	kill -0 "$job" 2>/dev/null || break
	sleep 0.1
done
why=""
if [ ! -f "$hold/rank-0.pid" ] || [ ! -f "$hold/rank-1.pid" ]; then
	why="the ranks did not reach the hold point"
else
	./tools/numaslab-stat >"$work/$t.list" 2>&1
	for r in 0 1; do
		pid=$(cat "$hold/rank-$r.pid")
		if ! grep -qE "^ *$pid( |$)" "$work/$t.list"; then
			why="numaslab-stat does not list rank $r (pid $pid)"
			break
		fi
		# A row of the reserve table: node, state, level bar, percentage,
		# elements, bytes, USED, EMPTY, WAIT.
		row='^ *[0-9]+ +active +\[[#.]+\] +[0-9]+% +[0-9]+/[0-9]+ +[^ ]+ +[0-9]+ +[0-9]+ +[0-9]+$'
		if ! ./tools/numaslab-stat -p "$pid" >"$work/$t.stat$r" 2>&1 ||
			! grep -qE "$row" "$work/$t.stat$r"; then
			why="numaslab-stat -p $pid (rank $r) shows no reserve level row"
			break
		fi
		# The engine's node reserve grew descriptor slabs: USED > 0, once
		# the segment shows the figures after the exchange (the segment is
		# refreshed every 200 ms: a few readings at most).
		if [ "$r" = 1 ]; then
			used_ok=0
			for _ in $(seq 1 20); do
				if grep -E "$row" "$work/$t.stat$r" | awk '$7 > 0 { ok = 1 } END { exit !ok }'; then
					used_ok=1
					break
				fi
				sleep 0.25
				./tools/numaslab-stat -p "$pid" >"$work/$t.stat$r" 2>&1
			done
			if [ "$used_ok" = 0 ]; then
				why="numaslab-stat -p $pid (rank 1) shows no use of the reserve"
				break
			fi
		fi
	done
	{ echo "---- numaslab-stat:"; cat "$work/$t.list"; echo "---- numaslab-stat -p (rank 1):"; cat "$work/$t.stat1" 2>/dev/null; } >>"$work/$t.out.stat"
fi
touch "$hold/release"
wait "$job"
rc=$?
cat "$work/$t.out.stat" >>"$work/$t.out" 2>/dev/null
if [ -z "$why" ] && [ "$rc" -ne 0 ]; then why="mpirun exited with status $rc"; fi
if [ -z "$why" ]; then
	line=$(engine_line "$work/$t.out")
	used=$(echo "$line" | sed -n "s/.*buffers: \([0-9]*\) from the pool's reserve.*/\1/p")
	slabs=$(echo "$line" | sed -n "s/.*descriptors: \([0-9]*\) slab(s) from the node's reserve.*/\1/p")
	if ! grep -q ": 480 messages, 0 dropped, payloads ok, 0 off the node;.*fault injection on\$" <<<"$line"; then
		why="the engine lost or spoiled messages under fault injection"
	elif [ "${used:-0}" -le 0 ]; then
		why="the buffer pool's reserve did not serve"
	elif [ "${slabs:-0}" -le 0 ]; then
		why="the node's reserve grew no descriptor slab"
	elif ! grep -q '^progress-engine: all ranks done$' "$work/$t.out"; then
		why="a rank failed"
	fi
fi
if [ -z "$why" ]; then ok $t; else failed $t "$why"; fi

# ---- the two-node guest --------------------------------------------------------------------
t=guest-hybrid
harness=$srcdir/tests/numa-vm/numa-vm.sh
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	skipped $t "no QEMU (tests/numa-vm/numa-vm.sh --install)"
else
	# Open MPI's launcher, daemon, plugins (each with the libraries it
	# loads: numa-vm.sh follows ldd for every ELF it ships), help texts
	# and settings, at their host paths.
	orterun=$(readlink -f "$MPIRUN")
	files=()
	for f in "$orterun" "$(dirname "$orterun")/orted" /etc/openmpi /usr/share/openmpi \
		/usr/lib/*/openmpi/lib/openmpi3/*.so /usr/lib/*/pmix2/lib/pmix/*.so \
		/usr/lib/*/pmix2/lib/libpmix.so.* /usr/lib/*/pmix2/share; do
		[ -e "$f" ] && files+=(--file "$f")
	done
	NUMAVM_TIMEOUT=${NUMAVM_TIMEOUT:-240} bash "$harness" --topology two --chdir "$PWD" \
		"${files[@]}" --file ./doc/examples/hybrid-mpi-omp --env OMP_NUM_THREADS=2 \
		--env MPIRUN="$orterun" \
		"$srcdir/doc/examples/guest-mpi.sh" ./doc/examples/hybrid-mpi-omp 4 >"$work/$t.out" 2>&1
	rc=$?
	nodes=$(grep -E '^rank [01]: node [0-9]+: ' "$work/$t.out" | awk '{print $2 $4}' | sort -u)
	if [ "$rc" -eq 125 ] && grep -q 'the guest did not boot' "$work/$t.out"; then
		skipped $t "the guest did not boot (see $work/$t.out)"
	elif [ "$rc" -ne 0 ]; then
		failed $t "exit status $rc in the guest"
	elif ! why=$(check_hybrid "$work/$t.out" 2); then
		failed $t "$why"
	elif [ "$(echo "$nodes" | wc -l)" -ne 2 ] || [ "$(echo "$nodes" | cut -d: -f2 | sort -u | wc -l)" -ne 2 ]; then
		failed $t "the two ranks' memory is not on two different nodes ($(echo $nodes))"
	else
		ok $t
	fi
fi

echo "check-examples: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
