#!/bin/sh
# test-cgroup.sh - test-exhaust --cgroup inside a memory cgroup with a
# 64 MiB limit made for it: cgroup v2 where a cgroup2 mount offers the
# memory controller, else v1.  Twice: as it is, and with the reserves
# mlocked (NUMASLAB_RESERVE_MLOCK=1).  Exit 77 when no such cgroup can be
# made here (not root, no memory controller, a read-only hierarchy).
#
# SPDX-License-Identifier: BSD-2-Clause

prog=${top_builddir:-.}/tests/test-exhaust
limit=64M
[ -x "$prog" ] || { echo "test-cgroup: $prog is not built"; exit 99; }
[ "$(id -u)" = 0 ] || { echo "test-cgroup: not root: no cgroup can be made"; exit 77; }

# The mount point of a cgroup filesystem: $1 is cgroup2, or cgroup with
# the memory option.
mount_of() {
	awk -v t="$1" '{ for (i = 7; i <= NF; i++) if ($i == "-") break
		if ($(i + 1) != t) next
		if (t == "cgroup" && $(i + 3) !~ /(^|,)memory(,|$)/) next
		print $5; exit }' /proc/self/mountinfo
}

dir=
v2=$(mount_of cgroup2)
if [ -n "$v2" ] && grep -qw memory "$v2/cgroup.controllers" 2>/dev/null; then
	# A new group right under the mount's root, which may enable memory
	# for its children.
	grep -qw memory "$v2/cgroup.subtree_control" 2>/dev/null ||
		echo +memory >"$v2/cgroup.subtree_control" 2>/dev/null
	d=$v2/numaslab-test.$$
	if grep -qw memory "$v2/cgroup.subtree_control" 2>/dev/null && mkdir "$d" 2>/dev/null; then
		if echo $limit >"$d/memory.max" 2>/dev/null; then
			dir=$d
		else
			rmdir "$d"
		fi
	fi
fi
if [ -z "$dir" ]; then
	v1=$(mount_of cgroup)
	own=$(sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}memory\(,[^:]*\)\{0,1\}:\(.*\)$/\3/p' /proc/self/cgroup)
	d=$v1${own%/}/numaslab-test.$$
	if [ -n "$v1" ] && mkdir "$d" 2>/dev/null; then
		if echo $limit >"$d/memory.limit_in_bytes" 2>/dev/null; then
			dir=$d
		else
			rmdir "$d"
		fi
	fi
fi
[ -n "$dir" ] || { echo "test-cgroup: no memory cgroup can be made here"; exit 77; }
echo "test-cgroup: $dir, limit $limit"

rc=0
for mlock in 0 1; do
	echo "test-cgroup: NUMASLAB_RESERVE_MLOCK=$mlock"
	NSLAB_TEST_CGDIR=$dir NUMASLAB_RESERVE_MLOCK=$mlock \
		sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" --cgroup' sh "$dir" "$prog"
	s=$?
	echo "test-cgroup: exit $s"
	[ $s -eq 0 ] || rc=1
done
# Back out of it, then remove it.
sleep 0.2
rmdir "$dir" 2>/dev/null || { sleep 1; rmdir "$dir"; }
exit $rc
