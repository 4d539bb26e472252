#!/usr/bin/env bash
# tests/fuzz/run.sh - build the libFuzzer target tests/fuzz/fuzz-ops.c
# together with the library's own sources (clang, -fsanitize=fuzzer,
# address and undefined on every file) and run it for a bounded time.
#
#   tests/fuzz/run.sh [-t SECONDS] [-d DEBUG_LEVEL] [-j JOBS] [-o DIR]
#                     [-f usable|requested] [-- LIBFUZZER_ARGS...]
#
#   -t  total run time (default 180)
#   -d  the library's debug level, as ./configure --enable-debug=N (default 0)
#   -j  fuzzing processes run side by side on one shared corpus (default 1)
#   -o  work folder: build, corpus, logs, crash inputs (default
#       ${TMPDIR:-/tmp}/numaslab-fuzz-dDEBUG_LEVEL)
#   -f  cookies over numaslab_usable_size() bytes (default) or over the
#       requested size only
#   -b  build only
#
# The seed corpus tests/fuzz/corpus/ is read, never written: new inputs go
# to DIR/corpus.  The last line is "fuzz: N executions, N crashes"; the
# exit status is 0 when nothing crashed, 1 when something did (each
# reproducer is listed: run DIR/fuzz-ops FILE to replay it), 2 when the
# build failed.  Needs clang with its compiler-rt (Debian 12: clang and
# libclang-rt-14-dev), libhwloc-dev, libnuma-dev, and a source tree where
# autoreconf has run (./configure exists).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
secs=180
debug=0
jobs=1
out=
fill=usable
build_only=0

usage() {
    sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
while getopts "t:d:j:o:f:bh" opt; do
    case $opt in
    t) secs=$OPTARG ;;
    d) debug=$OPTARG ;;
    j) jobs=$OPTARG ;;
    o) out=$OPTARG ;;
    f) fill=$OPTARG ;;
    b) build_only=1 ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
case $secs$debug$jobs in *[!0-9]*) usage ;; esac
case $fill in usable | requested) ;; *) usage ;; esac
out=${out:-${TMPDIR:-/tmp}/numaslab-fuzz-d$debug}
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)

summary() {
    echo "fuzz: $1 executions, $2 crashes"
}
build_fail() {
    echo "fuzz: the build failed: $*" >&2
    summary 0 0
    exit 2
}

# ---- build ------------------------------------------------------------------
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null 2>&1 || build_fail "$CC not found (apt-get install clang libclang-rt-14-dev)"
[ -x "$srcdir/configure" ] || build_fail "$srcdir/configure is missing: run autoreconf -fi there"

# config.h from a configure run: the source tree's own when it is
# configured in place (a second, out-of-tree configure is refused then),
# with NSLAB_DEBUG set to the level asked for; else a configure run of our
# own (the C compiler configure finds: config.h holds nothing specific to
# the compiler).
cfg=$out/config
mkdir -p "$cfg"
if [ -f "$srcdir/config.status" ] && [ -f "$srcdir/config.h" ]; then
    sed "s/^#define NSLAB_DEBUG .*/#define NSLAB_DEBUG $debug/" "$srcdir/config.h" >"$cfg/config.h"
    grep -q "^#define NSLAB_DEBUG $debug\$" "$cfg/config.h" ||
        build_fail "$srcdir/config.h has no NSLAB_DEBUG line"
    echo "in-tree" >"$cfg/debug"
elif [ ! -f "$cfg/config.h" ] || [ "$srcdir/configure" -nt "$cfg/config.h" ] ||
   [ "$(cat "$cfg/debug" 2>/dev/null)" != "$debug" ]; then
    rm -rf "$cfg"
    mkdir -p "$cfg"
    (cd "$cfg" && "$srcdir/configure" --enable-debug="$debug" >configure.log 2>&1) ||
        build_fail "configure failed (see $cfg/configure.log)"
    echo "$debug" >"$cfg/debug"
fi

san="-fsanitize=address,undefined -fno-sanitize-recover=all"
cflags="-g -O1 -fno-omit-frame-pointer -pthread $san -Wall -Wno-unused-parameter"
cppflags="-DNUMASLAB_BUILDING -I$cfg -I$srcdir -I$srcdir/include $(pkg-config --cflags hwloc 2>/dev/null)"
libs="$(pkg-config --libs hwloc 2>/dev/null || echo -lhwloc) -lnuma -lpthread -lrt"
obj=$out/obj
: >"$out/build.log"
rm -rf "$obj"
mkdir -p "$obj"
for f in "$srcdir"/lib/*.c "$srcdir"/numa/*.c; do
    # The drop-in's front end (libnumaslab-malloc) replaces malloc itself:
    # not part of the library the target drives.
    [ "$(basename "$f")" = malloc.c ] && continue
    o=$obj/$(basename "$(dirname "$f")")-$(basename "$f" .c).o
    # shellcheck disable=SC2086
    $CC $cflags -fsanitize=fuzzer-no-link $cppflags -c "$f" -o "$o" 2>>"$out/build.log" ||
        build_fail "$f (see $out/build.log)"
done
# shellcheck disable=SC2086
$CC $cflags -fsanitize=fuzzer -I"$srcdir/include" "$here/fuzz-ops.c" "$obj"/*.o $libs \
    -o "$out/fuzz-ops" 2>>"$out/build.log" || build_fail "fuzz-ops (see $out/build.log)"
echo "fuzz: built $out/fuzz-ops (library debug level $debug, cookies over the $fill size)"
[ "$build_only" = 1 ] && exit 0

# ---- run --------------------------------------------------------------------
mkdir -p "$out/corpus"
rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* "$out"/job-*.log
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export FUZZ_FILL=$fill
export NUMASLAB_STATS=0

echo "fuzz: $jobs process(es) for $secs s, corpus $out/corpus + $here/corpus"
pids=()
for j in $(seq 1 "$jobs"); do
    "$out/fuzz-ops" -max_total_time="$secs" -max_len=2048 -timeout=30 -print_final_stats=1 \
        -seed="$j" -reload=10 -artifact_prefix="$out/" "$@" "$out/corpus" "$here/corpus" \
        >"$out/job-$j.log" 2>&1 &
    pids+=($!)
done
status=0
for p in "${pids[@]}"; do
    wait "$p" || status=1
done

execs=0
for j in $(seq 1 "$jobs"); do
    n=$(awk '/^stat::number_of_executed_units:/ { v = $2 } END { print v + 0 }' "$out/job-$j.log")
    if [ "$n" = 0 ]; then
        # no final statistics (killed?): the last progress line
        n=$(awk '$1 ~ /^#[0-9]+$/ { v = substr($1, 2) } END { print v + 0 }' "$out/job-$j.log")
    fi
    execs=$((execs + n))
done
crashes=0
for f in "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*; do
    [ -e "$f" ] || continue
    crashes=$((crashes + 1))
    echo "fuzz: reproducer $f (replay: $out/fuzz-ops $f)"
done
if [ "$crashes" -gt 0 ] || [ "$status" -ne 0 ]; then
    for j in $(seq 1 "$jobs"); do
        if grep -q -e 'ERROR:' -e 'MODEL VIOLATION' -e 'runtime error' -e 'deadly signal' \
            "$out/job-$j.log"; then
            echo "---- $out/job-$j.log (tail) ----"
            tail -n 60 "$out/job-$j.log"
        fi
    done
    [ "$crashes" -eq 0 ] && crashes=1 # a process failed without leaving an input
fi
echo "fuzz: corpus now holds $(find "$out/corpus" -type f | wc -l) inputs"
summary "$execs" "$crashes"
[ "$crashes" -eq 0 ]
