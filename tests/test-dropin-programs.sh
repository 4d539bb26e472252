#!/bin/sh
# test-dropin-programs.sh - unmodified programs from Debian on
# libnumaslab-malloc (numaslab-malloc(3)) give the same output as without
# it: python3 with threads, perl, sort, gzip, git, and a parallel build of
# this project's library sources with make -j2 and gcc (the object files
# must be the same bytes).  Then numaslab-stat -p reads the per-node
# table of a python3 that runs on the drop-in.  A program that is not
# installed is reported as skipped, each on its own line; the test
# passes only when every program that ran gave the same output.
#
# SPDX-License-Identifier: BSD-2-Clause
set -u
b=${top_builddir:-.}
s=${top_srcdir:-.}
so=$(cd "$b" && pwd)/.libs/libnumaslab-malloc.so
[ -r "$so" ] || { echo "ERROR: $so is not built"; exit 99; }
if ldd "$so" 2>/dev/null | grep -Eq 'lib(a|t)san'; then
	echo "SKIP: the drop-in is built with a sanitizer, whose runtime must come first"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset NUMASLAB_STATS
. "$s/tests/testutil.sh"
ran=0
have() {
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "SKIP: $1 is not installed"
	return 1
}
# same NAME CMD...: CMD's stdout and exit status, with and without the
# drop-in, must be the same.  Its stderr under the drop-in must not
# mention numaslab.
same() {
	name=$1
	tu_case "$name on the drop-in"
	shift
	"$@" >"$tmp/$name.plain" 2>"$tmp/$name.plain.err"
	st1=$?
	LD_PRELOAD=$so "$@" >"$tmp/$name.drop" 2>"$tmp/$name.drop.err"
	st2=$?
	ran=$((ran + 1))
	cmp -s "$tmp/$name.plain" "$tmp/$name.drop" && [ "$st1" = "$st2" ] &&
		! grep -q numaslab "$tmp/$name.drop.err"
	check $? "$name: the same output ($(wc -c <"$tmp/$name.drop") bytes) and exit status ($st2) on the drop-in"
	if [ "$tu_failed" != 0 ]; then
		diff "$tmp/$name.plain" "$tmp/$name.drop" | head -n 5 | sed 's/^/#   /'
		head -c 400 "$tmp/$name.drop.err" | sed 's/^/#   stderr: /'
	fi
}

# Input data, the same for every program.
awk 'BEGIN { x = 12345; for (i = 0; i < 200000; i++) { x = (x * 1103515245 + 12345) % 2147483648;
	printf "%d line %d %s\n", x, i, substr("abcdefghijklmnopqrstuvwxyz", x % 26 + 1) } }' \
	>"$tmp/data.txt"

if have python3; then
	cat >"$tmp/threads.py" <<'EOF'
import hashlib, json, queue, threading
q = queue.Queue()
def work(k):
    d = {}
    for i in range(40000):
        d["k%d" % (i * k)] = [i] * (i % 7) + ["x" * (i % 50)]
    q.put((k, len(json.dumps(d)), hashlib.sha256(repr(sorted(d.items())).encode()).hexdigest()))
ts = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
for t in ts: t.start()
for t in ts: t.join()
for r in sorted(q.get() for _ in ts): print(*r)
with open(__import__("sys").argv[1]) as f: lines = f.readlines()
print(len(lines), sorted(lines)[len(lines) // 2].strip(), sum(len(l) for l in lines))
EOF
	same python3 python3 "$tmp/threads.py" "$tmp/data.txt"
fi
if have perl; then
	same perl perl -e 'my %h; while (<>) { my @f = split; $h{$f[3]} .= $f[0] }
		for (sort keys %h) { printf "%s %d %s\n", $_, length $h{$_}, substr($h{$_}, 0, 20) }
		my $s = join ",", map { $_ * 3 } 1 .. 100000; print length($s), "\n"' "$tmp/data.txt"
fi
if have sort; then
	same sort sort -S 1M --parallel=2 -k1,1n -k4 "$tmp/data.txt"
fi
if have gzip; then
	same gzip sh -c 'gzip -9 -n -c "$1" | od -An -tx1 | tail -n 3; gzip -9 -n -c "$1" | gzip -d | cksum' sh "$tmp/data.txt"
fi
if have git; then
	cat >"$tmp/git.sh" <<'EOF'
set -e
d=$1/repo.$$
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t
export GIT_COMMITTER_EMAIL=t@example.org GIT_AUTHOR_DATE='2026-01-01T00:00:00Z'
export GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' GIT_CONFIG_NOSYSTEM=1 HOME=$1
git init -q -b main "$d"
cd "$d"
split -l 20000 "$1/data.txt" part.
git add . && git commit -q -m one
sed -i 's/line 1/LINE 1/' part.aa && git commit -q -am two
git log --stat --format='%H %s'
git gc -q && git count-objects -v | grep -v size
git diff HEAD~1 --stat
cd .. && rm -rf "$d"
EOF
	same git sh "$tmp/git.sh" "$tmp"
fi
if have make && have gcc; then
	# The library's sources, built with a Makefile of their own: the
	# same directory for both builds, so that the objects may be compared.
	mkdir -p "$tmp/build"
	cp -r "$s/lib" "$s/numa" "$s/include" "$tmp/build/"
	cp "$b/config.h" "$tmp/build/"
	rm -f "$tmp/build/lib/malloc.c"
	cat >"$tmp/build/Makefile" <<'EOF'
SRCS := $(wildcard lib/*.c numa/*.c)
OBJS := $(SRCS:.c=.o)
all: $(OBJS)
	@md5sum $(OBJS) | sort -k2
%.o: %.c
	@gcc -O2 -g -fPIC -DNUMASLAB_BUILDING -I. -Iinclude -c $< -o $@
EOF
	same make sh -c 'make -s -j2 -C "$1" all; st=$?; rm -f "$1"/lib/*.o "$1"/numa/*.o; exit $st' sh "$tmp/build"
fi

# NUMASLAB_STATS_PRINT=1: the tables on standard error at exit, written
# while the program's own exit runs on the drop-in.
if command -v python3 >/dev/null 2>&1; then
	NUMASLAB_STATS_PRINT=1 LD_PRELOAD=$so timeout 60 python3 -c 'x = [str(i) for i in range(10000)]' \
		>/dev/null 2>"$tmp/print.err"
	st=$?
	[ "$st" = 0 ] && grep -q '^numaslab statistics, pid' "$tmp/print.err" &&
		grep -q 'RESERVE LEVEL' "$tmp/print.err"
	check $? "NUMASLAB_STATS_PRINT=1: python3 exits (status $st) after printing the tables"
	ran=$((ran + 1))
fi

# numaslab-stat on a program of the drop-in, while it runs.
if command -v python3 >/dev/null 2>&1 && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	LD_PRELOAD=$so python3 -c '
import os, sys, time
keep = [bytes(i % 500 + 1) for i in range(50000)]
open(sys.argv[1], "w").write(str(os.getpid()))
deadline = time.time() + 60
while not os.path.exists(sys.argv[2]) and time.time() < deadline: time.sleep(0.05)
' "$tmp/pid" "$tmp/done" &
	bg=$!
	n=0
	while [ ! -s "$tmp/pid" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
	pid=$(cat "$tmp/pid" 2>/dev/null)
	"$b/tools/numaslab-stat" -p "${pid:-0}" >"$tmp/stat.out" 2>&1
	st=$?
	touch "$tmp/done"
	wait "$bg"
	grep -q "pid ${pid:-x} (python3)" "$tmp/stat.out" && grep -q 'RESERVE LEVEL' "$tmp/stat.out" &&
		grep -Eq '^ +[0-9]+ +[0-9.]+[KMG]? +[1-9][0-9]*/[0-9]+' "$tmp/stat.out"
	check $? "numaslab-stat -p shows python3's per-node tables, objects in use (status $st)"
	[ "$tu_failed" = 0 ] || sed 's/^/#   /' "$tmp/stat.out" | head -n 12
	ran=$((ran + 1))
else
	echo "SKIP: numaslab-stat on python3: no python3 or no writable /dev/shm"
fi

[ "$ran" -gt 0 ] || tu_skip "none of the programs is installed"
tu_exit
