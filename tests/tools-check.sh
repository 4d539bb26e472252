#!/usr/bin/env bash
# tests/tools-check.sh - run the planted-bug programs (tests/test-tools-*)
# of a build and check that the bug is caught.
#
#   tests/tools-check.sh valgrind BUILDDIR   library configured --enable-valgrind
#   tests/tools-check.sh asan BUILDDIR       library and programs built with
#                                            -fsanitize=address
#   tests/tools-check.sh debug BUILDDIR      library configured --enable-debug
#
# The programs must be built already (make tests/test-tools-uaf
# tests/test-tools-overflow tests/test-tools-pool in BUILDDIR).  Each
# check passes when the bug is reported at the address the program says
# it wrote to (valgrind, ASan), or the program aborts with the library's
# message naming the object (debug); and the same program without the
# bug runs clean.  One "PASS: ..." or "FAIL: ..." line per check, then
# "tools-check: N passed, N failed"; exit status 1 when one failed.
set -uo pipefail

mode=${1:-}
build=${2:-}
case $mode in valgrind | asan | debug) ;; *)
    echo "usage: $0 valgrind|asan|debug BUILDDIR" >&2
    exit 2 ;;
esac
if [ ! -d "$build/tests" ]; then
    echo "$0: $build/tests: no such folder" >&2
    exit 2
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tools-check.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

pass=0
fail=0
ok() { echo "PASS: $mode: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $mode: $*"; fail=$((fail + 1)); }
show() {
    echo "  ---- $1 ----"
    sed -n '1,60p' "$1" | sed 's/^/  | /'
}

# run PROGRAM ARGS...: stdout in $tmp/out, the tool's report in $tmp/err,
# the exit status in $rc.
run() {
    local prog=$build/tests/$1
    shift
    : >"$tmp/out"
    : >"$tmp/err"
    if [ ! -x "$prog" ]; then
        rc=127
        echo "$prog is not built" >"$tmp/err"
        return
    fi
    case $mode in
    # (in a subshell whose stderr is dropped: no "Aborted" from the shell)
    valgrind)
        (valgrind --error-exitcode=42 --log-file="$tmp/err" "$prog" "$@" >"$tmp/out" \
            2>>"$tmp/err"; exit $?) 2>/dev/null
        rc=$? ;;
    asan)
        (ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 "$prog" "$@" >"$tmp/out" 2>"$tmp/err"
            exit $?) 2>/dev/null
        rc=$? ;;
    debug)
        ("$prog" "$@" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
        rc=$? ;;
    esac
}

planted_at() { sed -n 's/^planted: .* at \(0x[0-9a-f]*\) in .*/\1/p' "$tmp/out" | head -n 1; }
planted_obj() { sed -n 's/^planted: .* in [a-z]* \(0x[0-9a-f]*\).*/\1/p' "$tmp/out" | head -n 1; }

# check NAME PROGRAM ARGS...: the planted bug is caught.
check() {
    local name=$1
    shift
    run "$@"
    local at obj
    at=$(planted_at)
    obj=$(planted_obj)
    if [ -z "$at" ]; then
        bad "$name: the program did not plant its bug (exit status $rc)"
        show "$tmp/out"
        show "$tmp/err"
        return
    fi
    case $mode in
    valgrind)
        if [ "$rc" -eq 42 ] && grep -q "Invalid write of size 1" "$tmp/err" &&
            grep -q "Address $at " "$tmp/err"; then
            ok "$name: memcheck reports an invalid write at $at"
        else
            bad "$name: memcheck did not report the write at $at (exit status $rc)"
            show "$tmp/err"
        fi ;;
    asan)
        if ! grep -q '^asan: 1' "$tmp/out"; then
            bad "$name: the program is not built with -fsanitize=address"
        elif [ "$rc" -ne 0 ] && grep -q "ERROR: AddressSanitizer: use-after-poison on address $at " \
            "$tmp/err" && grep -q "WRITE of size 1" "$tmp/err"; then
            ok "$name: AddressSanitizer reports use-after-poison, a write at $at"
        else
            bad "$name: AddressSanitizer did not report the write at $at (exit status $rc)"
            show "$tmp/err"
        fi ;;
    debug)
        if [ "$rc" -eq 134 ] && grep "^numaslab.*$obj" "$tmp/err" |
            grep -q -e "written after it was freed" -e "written past its end" \
                -e "was written while in the pool"; then
            ok "$name: the debug build aborts: $(grep -m 1 "$obj" "$tmp/err")"
        else
            bad "$name: the debug build did not abort naming $obj (exit status $rc)"
            show "$tmp/err"
        fi ;;
    esac
}

# clean NAME PROGRAM ARGS...: without the bug, nothing is reported.
clean() {
    local name=$1
    shift
    run "$@"
    if [ "$rc" -eq 0 ] && ! grep -q -e "ERROR: AddressSanitizer" -e "Invalid write" \
        -e "aborting" "$tmp/err"; then
        ok "$name: nothing reported without the bug"
    else
        bad "$name: the run without the bug is not clean (exit status $rc)"
        show "$tmp/err"
    fi
}

check "use after free of a slab object" test-tools-uaf
clean "use after free of a slab object" test-tools-uaf --clean
if [ "$mode" != debug ]; then
    # Still mapped, in the node's page cache of free runs: only the annotations tell.
    check "use after free into a slab in the page cache" test-tools-uaf --cached
    clean "use after free into a slab in the page cache" test-tools-uaf --cached --clean
fi
check "write past the end of an object, into the next one" test-tools-overflow next
check "write past the end of an object, into its alignment padding" test-tools-overflow slack
clean "write past the end of an object" test-tools-overflow --clean
if [ "$mode" = debug ]; then
    check "write into a pool element while it sits in the pool" test-tools-pool
    clean "write into a pool element while it sits in the pool" test-tools-pool --clean
fi

echo "tools-check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
