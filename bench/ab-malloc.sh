#!/bin/sh
# bench/ab-malloc.sh - compare malloc libraries on one malloc-bench
# workload, runs interleaved (A B C A B C ...) so that a machine whose
# speed drifts shifts them alike.  For each library: the fastest and the
# median wall time of the runs, and the median CPU time (user + system).
#
#   bench/ab-malloc.sh ROUNDS WORKLOAD THREADS NAME=LIBRARY...
#   bench/ab-malloc.sh 7 rptest 2 old=/tmp/old.so new=.libs/libnumaslab-malloc.so \
#       tc=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4
#
# LIBRARY is preloaded (LD_PRELOAD); "-" runs the C library's malloc.  Run
# from the build directory, after `make bench/malloc-bench`.
#
# SPDX-License-Identifier: BSD-2-Clause
set -eu
if [ $# -lt 4 ]; then
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
rounds=$1 workload=$2 threads=$3
shift 3
case $rounds in '' | *[!0-9]*) echo "ab-malloc: ROUNDS must be a number: $rounds" >&2; exit 2 ;; esac
bench=${MALLOC_BENCH:-bench/malloc-bench}
[ -x "$bench" ] || { echo "ab-malloc: $bench not built (make bench/malloc-bench)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
r=0
while [ "$r" -lt "$rounds" ]; do
	for cfg in "$@"; do
		name=${cfg%%=*} lib=${cfg#*=}
		[ "$lib" = - ] && lib=
		out=$(LD_PRELOAD=$lib "$bench" "$workload" -t "$threads" 2>&1) ||
			{ echo "ab-malloc: $name failed: $out" >&2; exit 1; }
		secs=$(printf '%s\n' "$out" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
		cpu=$(printf '%s\n' "$out" | sed -n 's/.*cpu=\([0-9.]*\).*/\1/p')
		echo "$secs ${cpu:-0}" >>"$tmp/$name"
	done
	r=$((r + 1))
done
for cfg in "$@"; do
	name=${cfg%%=*}
	wall=$(cut -d' ' -f1 "$tmp/$name" | sort -n |
		awk '{v[NR] = $1} END {printf "fastest %.3f s, median %.3f s", v[1], v[int((NR + 1) / 2)]}')
	cpu=$(cut -d' ' -f2 "$tmp/$name" | sort -n | awk '{v[NR] = $1} END {printf "%.3f", v[int((NR + 1) / 2)]}')
	echo "$workload -t $threads $name: wall $wall; cpu median $cpu s ($rounds runs)"
done
