#!/bin/sh
# bench/callgrind-pairs.sh - instructions per allocation+free pair.
#
#   bench/callgrind-pairs.sh [PAIRS_BINARY]
#
# Runs each workload of bench/pairs under callgrind with 1,000 and 101,000
# pairs and prints (I(101000) - I(1000)) / 100000: start-up cancels out.
# Instruction counts do not depend on machine load, unlike timings.
set -eu
bin=${1:-bench/pairs}
command -v valgrind >/dev/null || { echo "callgrind-pairs: valgrind is not installed (apt-get install valgrind)" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
total() {
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$1" "$2" >/dev/null 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; exit 1; }
    sed -n 's/^summary: *//p; s/^totals: *//p' "$tmp/out" | head -1
}
printf '%-14s %s\n' workload instructions/pair
for w in cache64 alloc_node64 alloc64 live64 malloc64; do
    a=$(total "$w" 1000)
    b=$(total "$w" 101000)
    printf '%-14s %s\n' "$w" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 100000 }')"
done
