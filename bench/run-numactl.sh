#!/bin/sh
# bench/run-numactl.sh - run the benchmark binaries plain and under
# `numactl --cpunodebind=N --membind=M` for every pair of active nodes.
#
#   bench/run-numactl.sh [-p] [-o OUT] [-r REPETITIONS] [-t MIN_TIME] [-f FILTER] [BINDIR]
#
# -p: the plain run only, no numactl binding.  BINDIR holds bench-numaslab,
# bench-glibc, bench-jemalloc, bench-tcmalloc and bench-mimalloc (those
# present run; default: bench).  For each binding TAG ("plain",
# "cpuN-memM") and binary B it writes OUT/TAG/B.json (Google Benchmark's
# JSON: every repetition and the mean, median, stddev, cv) and OUT/TAG/B.txt
# (the console), and appends the exact command to
# OUT/commands.txt; OUT/machine.txt gets the machine facts.  OUT defaults
# to bench-out.
#
# Active nodes: those `numactl --show` allows this process, with CPUs (for
# --cpunodebind) or memory (for --membind) in `numactl --hardware`.
# Rounds: every binary runs once per round, in turn, NSB_ROUNDS times
# (default 3; round 1 writes B.json, round N B.rN.json), so that a machine
# whose speed drifts while the binaries run (a shared host's neighbours)
# shifts every allocator alike; bench/report takes the median over the
# rounds.  Defaults (3 rounds of 3 repetitions of at least 0.1 s) make a
# full run several minutes on 2 cores and one node; NSB_REPETITIONS and
# NSB_MIN_TIME change them too.
# Timings under emulation (the multi-node guest) mean nothing: there a run
# shows that every binding works and memory lands where it should.
#
# Other processes spoil timings (callgrind counts are immune): before each
# binary the script waits up to NSB_QUIET_WAIT seconds (default 60) for the
# machine to be idle (under 10 % of one CPU busy over a second); OUT/TAG/B.busy
# gets that figure and the CPU other processes used while the binary ran
# (all CPU time from /proc/stat less the binary's own), both in per cent of
# one CPU, which bench/report shows.  A binary that ran beside 10 % or more
# runs again, up to NSB_RETRIES times (default 2); the last run is kept.
set -eu
out=bench-out
reps=${NSB_REPETITIONS:-3}
rounds=${NSB_ROUNDS:-3}
mintime=${NSB_MIN_TIME:-0.1}
filter=
plain_only=
while getopts po:r:t:f: opt; do
    case $opt in
    p) plain_only=1 ;;
    o) out=$OPTARG ;;
    r) reps=$OPTARG ;;
    t) mintime=$OPTARG ;;
    f) filter=$OPTARG ;;
    *)
        echo "usage: $0 [-p] [-o OUT] [-r REPETITIONS] [-t MIN_TIME] [-f FILTER] [BINDIR]" >&2
        exit 2
        ;;
    esac
done
shift $((OPTIND - 1))
bindir=${1:-bench}
srcdir=$(cd "$(dirname "$0")/.." && pwd)

bins=
for b in numaslab glibc jemalloc tcmalloc mimalloc; do
    if [ -x "$bindir/bench-$b" ]; then
        bins="$bins bench-$b"
    else
        echo "run-numactl: $bindir/bench-$b is missing: no $b figures" >&2
    fi
done
[ -n "$bins" ] || { echo "run-numactl: no benchmark binary in $bindir (make bench)" >&2; exit 1; }
mkdir -p "$out"
: >"$out/commands.txt"

# The nodes with CPUs and with memory that this process may use.
cpunodes= memnodes=
if [ -n "$plain_only" ]; then
    : # no bindings asked for
elif command -v numactl >/dev/null && numactl --hardware >/dev/null 2>&1; then
    # "nodebind: 0 1" / "membind: 0 1" of numactl --show
    allowed_cpu=$(numactl --show | sed -n 's/^nodebind: *//p')
    allowed_mem=$(numactl --show | sed -n 's/^membind: *//p')
    hw=$(numactl --hardware)
    cpunodes=$(echo "$hw" | awk -v ok=" $allowed_cpu " \
        '$1 == "node" && $3 == "cpus:" && NF > 3 && index(ok, " " $2 " ") { printf "%s ", $2 }')
    memnodes=$(echo "$hw" | awk -v ok=" $allowed_mem " \
        '$1 == "node" && $3 == "size:" && $4 > 0 && index(ok, " " $2 " ") { printf "%s ", $2 }')
else
    echo "run-numactl: numactl is not usable here (apt-get install numactl): plain runs only" >&2
fi

# Machine facts, for bench/report.
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "model: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
    echo "cpus: $(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
    echo "threads_per_core: $(lscpu 2>/dev/null | sed -n 's/^Thread(s) per core: *//p' | head -1)"
    echo "hypervisor: $(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p' | head -1)"
    echo "kernel: $(uname -sr)"
    echo "libc: $(ldd --version 2>/dev/null | head -1)"
    echo "compiler: $(${CC:-cc} --version 2>/dev/null | head -1)"
    echo "cflags: ${CFLAGS:-?}"
    echo "cxx: $(${CXX:-c++} --version 2>/dev/null | head -1)"
    echo "cxxflags: ${CXXFLAGS:-?}"
    echo "benchmark: $(pkg-config --modversion benchmark 2>/dev/null || echo ?)"
    for p in libjemalloc2 libgoogle-perftools4 libmimalloc2.0 libnuma1; do
        v=$(dpkg-query -W -f '${Version}' "$p" 2>/dev/null || true)
        [ -z "$v" ] || echo "package: $p $v"
    done
    echo "commit: $(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo ?)$(git -C "$srcdir" diff --quiet HEAD -- lib numa include 2>/dev/null || echo ' (lib/, numa/ or include/ modified)')"
    echo "repetitions: $reps"
    echo "rounds: $rounds"
    echo "min_time: $mintime"
    echo "cpu_nodes: $cpunodes"
    echo "mem_nodes: $memnodes"
    echo "numactl --hardware:"
    numactl --hardware 2>/dev/null | sed 's/^/    /' || echo "    (numactl missing)"
} >"$out/machine.txt"

# busy: per cent of one CPU that other processes kept busy over a second.
busy() {
    s1=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat)
    sleep 1
    s2=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat)
    echo "$s1 $s2" | awk -v n="$(nproc 2>/dev/null || echo 1)" \
        '{ u = $3 - $1; i = $4 - $2; printf "%d", (u + i > 0) ? 100 * n * u / (u + i) : 0 }'
}

# wait_quiet FILE: wait for an idle machine; FILE gets the busy figure.
wait_quiet() {
    [ -r /proc/stat ] || { echo "unknown" >"$1"; return 0; }
    waited=0
    q=$(busy)
    while [ "$q" -ge 10 ] && [ "$waited" -lt "${NSB_QUIET_WAIT:-60}" ]; do
        [ "$waited" -gt 0 ] || echo "run-numactl: other processes keep $q % of a CPU busy: waiting" >&2
        sleep 4
        waited=$((waited + 5))
        q=$(busy)
    done
    [ "$q" -lt 10 ] || echo "run-numactl: still $q % of a CPU busy: running anyway" >&2
    echo "before: $q" >"$1"
}

# The machine's busy CPU seconds so far (/proc/stat counts in 1/100 s).
cpu_seconds() { awk '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / 100; exit }' /proc/stat; }
# child_seconds FILE: the CPU seconds this shell's children used, from FILE,
# the output of `times` (run in this shell: a $(...) subshell has no children).
child_seconds() {
    awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, t, "m"); sub("s", "", t[2]); s += 60 * t[1] + t[2] } printf "%.2f", s }' "$1"
}
now() { date +%s.%N 2>/dev/null | awk '{ printf "%.2f", $1 }'; }

# run TAG [PREFIX]: every binary once, under PREFIX (numactl and its
# options: words without blanks).
run() {
    tag=$1
    prefix=${2:-}
    mkdir -p "$out/$tag"
    round=1
    while [ "$round" -le "$rounds" ]; do
        run_round "$round"
        round=$((round + 1))
    done
}

# run_round N: every binary once, in turn (tag and prefix as run's).
run_round() {
    rnd=$1
    sfx=
    [ "$rnd" -eq 1 ] || sfx=".r$rnd"
    for b in $bins; do
        # shellcheck disable=SC2086 # the prefix is split into words on purpose
        set -- $prefix "$bindir/$b" "--benchmark_out=$out/$tag/$b$sfx.json" --benchmark_out_format=json \
            "--benchmark_repetitions=$reps" "--benchmark_min_time=$mintime" \
            --benchmark_display_aggregates_only=true
        [ -z "$filter" ] || set -- "$@" "--benchmark_filter=$filter"
        echo "$*" >>"$out/commands.txt"
        echo "run-numactl: [$tag] $b, round $rnd of $rounds"
        try=0
        while :; do
            wait_quiet "$out/$tag/$b$sfx.busy"
            c0=$(cpu_seconds) t0=$(now)
            times >"$out/.times"
            k0=$(child_seconds "$out/.times")
            "$@" >"$out/$tag/$b$sfx.txt" 2>&1 ||
                { cat "$out/$tag/$b$sfx.txt" >&2; echo "run-numactl: $b failed under '$tag'" >&2; exit 1; }
            c1=$(cpu_seconds) t1=$(now)
            times >"$out/.times"
            k1=$(child_seconds "$out/.times")
            during=$(echo "$c0 $c1 $k0 $k1 $t0 $t1" | awk '{ o = ($2 - $1) - ($4 - $3); w = $6 - $5
                printf "%d", (w > 0 && o > 0) ? 100 * o / w : 0 }')
            echo "during: $during" >>"$out/$tag/$b$sfx.busy"
            try=$((try + 1))
            [ "$during" -ge 10 ] && [ "$try" -le "${NSB_RETRIES:-2}" ] || break
            echo "run-numactl: other processes used $during % of a CPU meanwhile: again" >&2
        done
    done
}

run plain
for c in $cpunodes; do
    for m in $memnodes; do
        run "cpu$c-mem$m" "numactl --cpunodebind=$c --membind=$m"
    done
done
rm -f "$out/.times"
echo "run-numactl: results in $out/"
