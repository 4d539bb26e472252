#!/bin/sh
# test-stat-golden.sh - numaslab-stat's tables and JSON on a fixed snapshot
# (tests/data/stat-sample.seg), compared with the committed outputs beside
# it.  The snapshot is what `test-stat-corrupt --write sample` writes: the
# first check makes sure the layout it was made with has not changed.
# Segments of older version-1 layouts must still read: the first one
# (without the running-short, memory cgroup and page layer fields) and the
# one before the page layer's (184-byte node records): the same figures,
# with the fields they lack shown as not in the segment.
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

. "$top_srcdir/tests/testutil.sh"

# A little-endian snapshot: a big-endian host reads it as another byte order.
if [ "$(printf '\001\000' | od -An -tu2 | tr -d ' ')" != 1 ]; then
    tu_skip "the committed snapshot is little-endian"
fi

tu_case "the snapshot's layout"
"$gen" --write sample "$tmp/sample.seg" || exit 99
if cmp -s "$tmp/sample.seg" "$seg"; then
    ok "the snapshot layout is unchanged (test-stat-corrupt --write sample == $seg)"
else
    fail "test-stat-corrupt --write sample differs from $seg: the segment layout changed?"
fi

# golden NAME ARGS...: numaslab-stat --file SEG ARGS == data/NAME, exit 0
tu_case "the committed outputs of the sample"
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

# reads_as SEG EXPECTED OTHER WHAT ARGS...: numaslab-stat --file SEG ARGS
# prints EXPECTED and exits 0; EXPECTED must differ from OTHER (when not
# empty), so that a check of an older layout cannot pass on the sample's
# own output.
reads_as() {
    s=$1 expect=$2 other=$3 what=$4
    shift 4
    "$tool" --file "$s" "$@" >"$tmp/out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && cmp -s "$tmp/out" "$expect" &&
        { [ -z "$other" ] || ! cmp -s "$expect" "$other"; }; then
        ok "$what"
    else
        fail "$what: exit $rc, output differs"
        diff -u "$expect" "$tmp/out" | sed 's/^/  | /'
    fi
}

# A later, compatible layout (larger header and records, unknown fields
# set) reads the same.
tu_case "a later, compatible layout"
"$gen" --write grown "$tmp/grown.seg" || exit 99
reads_as "$tmp/grown.seg" "$data/stat-sample-caches.table" "" \
    "a segment with larger header and records (compatible growth) reads the same" --caches

# The same figures in the sizes of the first version-1 layout (header 144,
# node records 136 bytes): the writer still makes what that layout's made
# (the checksum of the snapshot committed then), and the tool reads it as
# the sample, with the running-short tables and JSON objects absent.
tu_case "the first version-1 layout"
"$gen" --write v1 "$tmp/v1.seg" || exit 99
if [ "$(cksum <"$tmp/v1.seg" | awk '{print $1, $2}')" = "2683815735 1440" ]; then
    ok "test-stat-corrupt --write v1 writes the first version-1 layout's snapshot"
else
    fail "test-stat-corrupt --write v1 differs from the first version-1 layout's snapshot"
fi
# The expected table: the sample's, its page layer and two running-short
# paragraphs replaced by one line each.
awk 'BEGIN { RS = "" }
     { if (n++) printf "\n" }
     /^NODE +PAGES CACHED/ { print "page layer: not in this segment (an older layout)"; next }
     /^NODE +AVAIL/ { print "node memory headroom: not in this segment (an older layout)"; next }
     /^CGROUP/ { print "memory cgroup: not in this segment (an older layout)"; next }
     { print }' "$data/stat-sample-caches.table" >"$tmp/v1.table"
reads_as "$tmp/v1.seg" "$tmp/v1.table" "" \
    "a version-1 segment without the running-short and page layer fields reads, marked as an older layout" \
    --caches
sed -e 's/"memory": {[^}]*}/"memory": null/g' -e 's/"pages": {[^}]*}/"pages": null/g' \
    -e 's/"cgroup": {[^}]*}/"cgroup": null/' \
    "$data/stat-sample-caches.json" >"$tmp/v1.json"
reads_as "$tmp/v1.seg" "$tmp/v1.json" "$data/stat-sample-caches.json" \
    "a version-1 segment's JSON is the sample's with \"memory\", \"pages\" and \"cgroup\" null" \
    --json --caches

# The same figures in the layout before the page layer's fields (header
# 216, node records 184 bytes): the writer makes what stat-sample.seg was
# then (its checksum), and the tool reads it as the sample with the page
# layer's table and JSON objects absent, the running-short ones present.
tu_case "the layout before the page layer"
"$gen" --write nopages "$tmp/nopages.seg" || exit 99
if [ "$(cksum <"$tmp/nopages.seg" | awk '{print $1, $2}')" = "193432409 1696" ]; then
    ok "test-stat-corrupt --write nopages writes the snapshot of the layout before the page layer's fields"
else
    fail "test-stat-corrupt --write nopages differs from the snapshot of the layout before the page layer's fields"
fi
awk 'BEGIN { RS = "" }
     { if (n++) printf "\n" }
     /^NODE +PAGES CACHED/ { print "page layer: not in this segment (an older layout)"; next }
     { print }' "$data/stat-sample-caches.table" >"$tmp/nopages.table"
reads_as "$tmp/nopages.seg" "$tmp/nopages.table" "$data/stat-sample-caches.table" \
    "a segment with 184-byte node records reads, its page layer marked as an older layout" --caches
sed -e 's/"pages": {[^}]*}/"pages": null/g' "$data/stat-sample-caches.json" >"$tmp/nopages.json"
reads_as "$tmp/nopages.seg" "$tmp/nopages.json" "$data/stat-sample-caches.json" \
    "a 184-byte-record segment's JSON is the sample's with \"pages\" null, \"memory\" and \"cgroup\" kept" \
    --json --caches

# The other cgroup states, and a node whose memory was not read.
# grep_has NAME FILE PATTERN...: every fixed-string PATTERN is in FILE.
tu_case "the other cgroup states"
grep_has() {
    what=$1
    file=$2
    shift 2
    for p in "$@"; do
        if ! grep -qF -- "$p" "$file"; then
            fail "$what: output lacks '$p'"
            sed 's/^/  | /' "$file"
            return
        fi
    done
    ok "$what"
}
for kind in unread nocgroup nolimit; do
    "$gen" --write $kind "$tmp/$kind.seg" || exit 99
    "$tool" --file "$tmp/$kind.seg" >"$tmp/$kind.table" 2>&1 || fail "--write $kind: table: exit $?"
    "$tool" --file "$tmp/$kind.seg" --json >"$tmp/$kind.json" 2>&1 || fail "--write $kind: JSON: exit $?"
done
grep_has "a node whose memory was not read shows \"not read\"; unreadable cgroup files are named" \
    "$tmp/unread.table" "   0          -          -  not read " \
    "unreadable  cgroup files unreadable: taken as no limit"
grep_has "... and in JSON: \"known\": false, \"state\": \"unreadable\", limit null" \
    "$tmp/unread.json" '"memory": {"known": false, "avail": 0, "watermark": 0,' \
    '"cgroup": {"version": null, "limit": null, ' '"state": "unreadable"}'
grep_has "no memory cgroup: shown as such" "$tmp/nocgroup.table" "none        no memory cgroup: no limit"
grep_has "... and in JSON: \"state\": \"none\"" "$tmp/nocgroup.json" \
    '"cgroup": {"version": null, "limit": null, ' '"avail": null, ' '"state": "none"}'
grep_has "a cgroup without a limit: \"no limit\"" "$tmp/nolimit.table" "v1           no limit       1.5G          -          -  ok "
grep_has "... and in JSON: limit and avail null" "$tmp/nolimit.json" \
    '"cgroup": {"version": 1, "limit": null, "usage": 1610612736, ' '"avail": null, ' '"state": "v1"}'

# --watch on a file: --count readings, a blank line between tables.
tu_case "--watch on a file"
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

tu_exit
