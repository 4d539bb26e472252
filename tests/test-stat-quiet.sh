#!/bin/sh
# test-stat-quiet.sh - a process that cannot make its statistics segment
# (/dev/shm read-only) stays silent when statistics were not asked for,
# and says why when they were (NUMASLAB_STATS=1).  Needs root and
# unshare(1) for a mount namespace of its own; skipped (77) otherwise.
#
# SPDX-License-Identifier: BSD-2-Clause
set -u
prog=${top_builddir:-.}/tools/numaslab-demo
[ -x "$prog" ] || { echo "SKIP: $prog is not built"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (a mount namespace with /dev/shm read-only)"; exit 77; }
command -v unshare >/dev/null 2>&1 || { echo "SKIP: no unshare(1)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME ENV...: the demo with /dev/shm read-only; its stderr in $tmp/NAME.err.
run() {
	name=$1
	shift
	env -u NUMASLAB_STATS "$@" unshare -m --propagation private sh -c \
		'mount -t tmpfs -o ro,size=64k tmpfs /dev/shm && exec "$0"' "$prog" \
		>"$tmp/$name.out" 2>"$tmp/$name.err"
}
. "${top_srcdir:-.}/tests/testutil.sh"

run probe true
if grep -q 'mount' "$tmp/probe.err"; then
	echo "SKIP: cannot mount a read-only /dev/shm here: $(head -n 1 "$tmp/probe.err")"
	exit 77
fi
tu_case "/dev/shm read-only, statistics not asked for"
run default
# 77: the demo was built without OpenMP, and says so.
[ $? = 77 ] && { echo "SKIP: $(head -n 1 "$tmp/default.err")"; exit 77; }
grep -q 'cannot publish statistics' "$tmp/default.err"
check $((! $?)) "NUMASLAB_STATS unset, /dev/shm read-only: no message (stderr: $(head -c 200 "$tmp/default.err"))"
tu_case "/dev/shm read-only, NUMASLAB_STATS=1"
run asked NUMASLAB_STATS=1
grep -q 'cannot publish statistics in /dev/shm/numaslab\.[0-9]*: Read-only file system' "$tmp/asked.err"
check $? "NUMASLAB_STATS=1, /dev/shm read-only: the message says where and why ($(head -c 200 "$tmp/asked.err"))"
grep -q 'node' "$tmp/default.out" && grep -q 'node' "$tmp/asked.out"
check $? "the demo ran to its end both times"
tu_exit
