#!/bin/sh
# bench/callgrind-pairs.sh - instructions per allocation+free pair.
#
#   bench/callgrind-pairs.sh [-k DIR] [PAIRS_BINARY]
#
# Runs each workload of bench/pairs under callgrind with 1,000 and 101,000
# pairs and prints (I(101000) - I(1000)) / 100000: start-up cancels out.
# Instruction counts do not depend on machine load, unlike timings.
#
# Every figure includes the harness: the loop, the two calls and returns
# through the PLT, the store to `sink`.  The first row, `harness null`,
# measures it: the `null` workload runs the cache loop on two functions of
# a shared library that return at once (bench/null-alloc.c).
#
# The peers run the malloc workloads of the same binary with their library
# preloaded (LD_PRELOAD): glibc (none), jemalloc, tcmalloc, mimalloc, each
# when found by ldconfig, or named by NSB_JEMALLOC, NSB_TCMALLOC,
# NSB_MIMALLOC (a path; "none" skips it).
#
# -k DIR: also profile numaslab's 64-byte pairs alone (--toggle-collect on
# the loop) and write DIR/annotate-WORKLOAD.txt (callgrind_annotate) and
# DIR/functions-WORKLOAD.txt (instructions per pair by function).
#
# Output: one line per pair: allocator, workload, size, instructions/pair.
set -eu
keep=
if [ "${1:-}" = -k ]; then
    keep=$2
    shift 2
    mkdir -p "$keep"
fi
bin=${1:-bench/pairs}
command -v valgrind >/dev/null || { echo "callgrind-pairs: valgrind is not installed (apt-get install valgrind)" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# total PRELOAD WORKLOAD N: the instructions of the whole run.
total() {
    if [ -n "$1" ]; then
        LD_PRELOAD=$1 valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$2" "$3" \
            >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
        # The peer really served the pairs: its library is in the profile.
        grep -q "ob=([0-9]*) .*$(basename "$1")" "$tmp/out" ||
            { echo "callgrind-pairs: $1 was not loaded" >&2; exit 1; }
    else
        valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$2" "$3" \
            >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    fi
    sed -n 's/^summary: *//p; s/^totals: *//p' "$tmp/out" | head -1
}

# row ALLOCATOR PRELOAD WORKLOAD SIZE
row() {
    a=$(total "$2" "$3$4" 1000)
    b=$(total "$2" "$3$4" 101000)
    printf '%-10s %-11s %5s %s\n' "$1" "$3" "$4" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 100000 }')"
}

# peer NAME VARIABLE SONAME: the library to preload, empty when absent.
peer() {
    eval "v=\${$2:-}"
    if [ "$v" = none ]; then
        return 0
    elif [ -n "$v" ]; then
        echo "$v"
    else
        ldconfig -p 2>/dev/null | awk -v n="$3" '$1 == n { print $NF; exit }'
    fi
}

printf '%-10s %-11s %5s %s\n' allocator workload size instructions/pair
row harness "" null 64
for w in cache alloc_node live; do
    for s in 64 256 4096; do
        row numaslab "" $w $s
    done
done
row numaslab "" alloc 64
row numaslab "" crit 64
row numaslab "" batch 64
for p in glibc:: jemalloc:NSB_JEMALLOC:libjemalloc.so.2 \
    tcmalloc:NSB_TCMALLOC:libtcmalloc_minimal.so.4 mimalloc:NSB_MIMALLOC:libmimalloc.so.2; do
    name=${p%%:*}
    rest=${p#*:}
    lib=
    if [ "$name" != glibc ]; then
        lib=$(peer "$name" "${rest%%:*}" "${rest#*:}")
        if [ -z "$lib" ]; then
            echo "callgrind-pairs: $name not found (${rest#*:}): skipped" >&2
            continue
        fi
    fi
    for w in malloc mlive; do
        for s in 64 256 4096; do
            row "$name" "$lib" $w $s
        done
    done
    row "$name" "$lib" mbatch 64
done

if [ -n "$keep" ]; then
    command -v callgrind_annotate >/dev/null ||
        { echo "callgrind-pairs: callgrind_annotate is missing" >&2; exit 1; }
    n=100000
    for w in cache64 alloc_node64 live64 crit64; do
        valgrind --tool=callgrind --toggle-collect=run_pairs --dump-instr=no \
            --callgrind-out-file="$keep/callgrind-$w.out" "$bin" "$w" $n >/dev/null 2>"$tmp/err" ||
            { cat "$tmp/err" >&2; exit 1; }
        callgrind_annotate --auto=yes --show-percs=no --context=1 "$keep/callgrind-$w.out" \
            >"$keep/annotate-$w.txt" 2>/dev/null ||
            callgrind_annotate --auto=yes "$keep/callgrind-$w.out" >"$keep/annotate-$w.txt"
        # The "Ir  file:function [object]" table: per pair, largest first;
        # file is where the code was written (inlined code keeps its header).
        callgrind_annotate --inclusive=no "$keep/callgrind-$w.out" 2>/dev/null |
            awk -v n=$n '/file:function/ { on = 1; getline; next }
                on && NF == 0 { on = 0 }
                on && $1 ~ /^[0-9,]+$/ {
                    sub(/\([^)]*\)/, "") # a percentage column, when shown
                    ir = $1; gsub(",", "", ir)
                    split($2, a, ":"); file = a[1]; fn = a[2]
                    k = split(file, d, "/"); if (k >= 2) file = d[k - 1] "/" d[k]
                    printf "%7.1f  %s  %s\n", ir / n, fn, file
                }' >"$keep/functions-$w.txt"
    done
fi
