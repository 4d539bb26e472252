#!/bin/sh
# bench/guest-bench.sh - bench/run-numactl.sh inside a multi-node QEMU guest
# (tests/numa-vm/numa-vm.sh), to show that every --cpunodebind/--membind
# pair runs and that memory lands on the node asked for.  Timings under
# emulation mean nothing: each benchmark runs once, briefly.
#
#   tests/numa-vm/numa-vm.sh --topology mixed --file bench/bench-numaslab \
#       --file bench/run-numactl.sh bench/guest-bench.sh
#
# (`make bench-numa-vm` does this for every topology.)  Prints, per binding,
# the node-targeted runs of bench-numaslab with the node the kernel reports
# for their memory, and ends with "guest-bench: N runs, N errors"; exits
# non-zero when a binding failed or a benchmark reported an error.
out=/tmp/guest-bench
rm -rf "$out"
NSB_QUIET_WAIT=0 NSB_RETRIES=0 sh bench/run-numactl.sh -o "$out" -r 1 -t 0.01 \
    -f '^(node|pair)/numaslab/size:64' bench >/dev/null || {
    echo "guest-bench: bench/run-numactl.sh failed"
    exit 1
}
runs=0 errors=0
for d in "$out"/*/; do
    tag=$(basename "$d")
    txt=$d/bench-numaslab.txt
    [ -f "$txt" ] || continue
    echo "== $tag"
    grep -E '^(node|pair)/' "$txt" | grep -v -E '_(mean|median|stddev|cv) ' |
        sed -E 's/ +[0-9.]+ ns +[0-9.]+ ns +[0-9]+//; s/items_per_second=[^ ]+ //; s/^/   /'
    n=$(grep -c -E '^(node|pair)/' "$txt")
    e=$(grep -c -i 'error' "$txt")
    runs=$((runs + n))
    errors=$((errors + e))
done
echo "guest-bench: $runs runs, $errors errors"
[ "$runs" -gt 0 ] && [ "$errors" -eq 0 ]
