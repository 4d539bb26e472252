#!/bin/sh
# test-stat-golden.sh - numaslab-stat's tables and JSON on a fixed snapshot
# (tests/data/stat-sample.seg), compared with the committed outputs beside
# it.  The snapshot is what `test-stat-corrupt --write sample` writes: the
# first check makes sure the layout it was made with has not changed.
#
# To accept a deliberate change of the output, regenerate the expected
# files with the commands the failing check prints.
#
# SPDX-License-Identifier: BSD-2-Clause

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
tool=$top_builddir/tools/numaslab-stat
gen=$top_builddir/tests/test-stat-corrupt
data=$top_srcdir/tests/data
seg=$data/stat-sample.seg

echo "# test-stat-golden"
for f in "$tool" "$gen"; do
    if [ ! -x "$f" ]; then
        echo "ERROR: $f is not built"
        exit 99
    fi
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-stat-golden.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

checks=0
failed=0
ok() { checks=$((checks + 1)); echo "ok:   $1"; }
fail() { checks=$((checks + 1)); failed=$((failed + 1)); echo "FAIL: $1"; }

# A little-endian snapshot: a big-endian host reads it as another byte order.
if [ "$(printf '\001\000' | od -An -tu2 | tr -d ' ')" != 1 ]; then
    echo "skip: the committed snapshot is little-endian"
    exit 77
fi

"$gen" --write sample "$tmp/sample.seg" || exit 99
if cmp -s "$tmp/sample.seg" "$seg"; then
    ok "the snapshot layout is unchanged (test-stat-corrupt --write sample == $seg)"
else
    fail "test-stat-corrupt --write sample differs from $seg: the segment layout changed?"
fi

# golden NAME ARGS...: numaslab-stat --file SEG ARGS == data/NAME, exit 0
golden() {
    name=$1
    shift
    "$tool" --file "$seg" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -eq 0 ] && cmp -s "$tmp/out" "$data/$name"; then
        ok "numaslab-stat --file stat-sample.seg $* matches $name"
    else
        fail "numaslab-stat --file stat-sample.seg $* (exit $rc) differs from $name"
        diff -u "$data/$name" "$tmp/out" | sed 's/^/  | /'
        sed 's/^/  stderr: /' "$tmp/err"
        echo "  to accept: $tool --file $seg $* > $data/$name"
    fi
}
golden stat-sample.table
golden stat-sample-caches.table --caches
golden stat-sample.json --json
golden stat-sample-caches.json --json --caches

# A later, compatible layout (larger header and records, unknown fields
# set) reads the same.
"$gen" --write grown "$tmp/grown.seg" || exit 99
"$tool" --file "$tmp/grown.seg" --caches >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && cmp -s "$tmp/out" "$data/stat-sample-caches.table"; then
    ok "a segment with larger header and records (compatible growth) reads the same"
else
    fail "a segment with larger header and records: exit $rc, output differs"
    diff -u "$data/stat-sample-caches.table" "$tmp/out" | sed 's/^/  | /'
fi

# --watch on a file: --count readings, a blank line between tables.
"$tool" --file "$seg" --watch 0.05 --count 3 >"$tmp/out" 2>&1
rc=$?
n=$(grep -c '^pid 4242 (stat-sample)' "$tmp/out")
if [ $rc -eq 0 ] && [ "$n" -eq 3 ]; then
    ok "--watch 0.05 --count 3 prints 3 tables and exits 0"
else
    fail "--watch 0.05 --count 3: exit $rc, $n tables"
fi
"$tool" --file "$seg" --json --watch 0.05 --count 2 >"$tmp/out" 2>&1
rc=$?
n=$(grep -c '^{"pid": 4242, ' "$tmp/out")
lines=$(wc -l <"$tmp/out")
if [ $rc -eq 0 ] && [ "$n" -eq 2 ] && [ "$lines" -eq 2 ]; then
    ok "--json --watch 0.05 --count 2 prints 2 JSON lines"
else
    fail "--json --watch 0.05 --count 2: exit $rc, $n objects in $lines lines"
fi

echo "# $checks checks, $failed failed"
[ $failed -eq 0 ] || exit 1
exit 0
