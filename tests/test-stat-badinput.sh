#!/bin/sh
# test-stat-badinput.sh - every bad input to numaslab-stat gets a message
# naming it and a documented exit code below 128, never a crash:
# bad arguments (1), no such process or no segment (2), a dead process's
# segment (3, and --gc removes it), a reused pid (3), permission denied
# (4), truncated, empty and garbage segments (5), a newer layout (6).
#
# The dead process is a real one: test-stat-live --hold initialises
# numaslab, publishes, and is killed with SIGKILL, leaving its segment.
#
# SPDX-License-Identifier: BSD-2-Clause

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
tool=$top_builddir/tools/numaslab-stat
gen=$top_builddir/tests/test-stat-corrupt
live=$top_builddir/tests/test-stat-live
shm=/dev/shm

echo "# test-stat-badinput"
for f in "$tool" "$gen" "$live"; do
    if [ ! -x "$f" ]; then
        echo "ERROR: $f is not built"
        exit 99
    fi
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-stat-badinput.XXXXXX") || exit 99
holder=
cleanup() {
    [ -n "$holder" ] && kill -9 "$holder" 2>/dev/null
    chmod -R u+rwx "$tmp" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

. "$top_srcdir/tests/testutil.sh"
info() { echo "info: $1"; }

# expect CODE PATTERN ARGS...: numaslab-stat ARGS exits CODE and says
# PATTERN (fixed string) on stderr (stdout for CODE 0).
expect() {
    want=$1
    pattern=$2
    shift 2
    "$tool" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    where=$tmp/err
    [ "$want" -eq 0 ] && where=$tmp/out
    if [ $rc -eq "$want" ] && grep -qF -- "$pattern" "$where"; then
        ok "numaslab-stat $* -> exit $rc, \"$pattern\""
    else
        fail "numaslab-stat $*: exit $rc (want $want), output lacks \"$pattern\""
        sed 's/^/  stdout: /' "$tmp/out" | head -5
        sed 's/^/  stderr: /' "$tmp/err" | head -5
    fi
    if [ $rc -ge 128 ]; then
        fail "numaslab-stat $*: exit $rc is 128 or more (a signal?)"
    fi
}

# A pid that no process has: pid_max itself is never handed out.
pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 4194304)
# A process that has just ended (its pid is free again).
sleep 60 &
dead=$!
kill -9 $dead
wait $dead 2>/dev/null

#
# Bad arguments: exit 1.
#
tu_case "bad arguments: exit 1"
expect 1 'not a process id' -p abc
expect 1 'not a process id' -p 0
expect 1 'not a process id' -p -5
expect 1 'not a process id' -p 99999999999999999999
expect 1 'needs an argument' -p
expect 1 'needs an argument' --pid
expect 1 'given twice' -p 1 -p 2
expect 1 'not a number of seconds' --watch 0
expect 1 'not a number of seconds' --watch abc
expect 1 'not a number of seconds' --watch -1
expect 1 'not a number of seconds' --watch nan
expect 1 'not a number of seconds' --watch inf
expect 1 'not a positive count' --watch 1 --count 0
expect 1 'needs --watch' --count 3
expect 1 'unknown option --bogus' --bogus
expect 1 'unknown option -x' -x
expect 1 'did you mean -p 1234' 1234
expect 1 'unexpected argument "x"' x
expect 1 '--gc takes no other option' --gc -p 1
expect 1 '--gc takes no other option' --gc --json
expect 1 'exclude each other' --file x -p 1
expect 1 'empty path' --file ''
expect 1 'empty path' --dir ''

#
# No such process, and a live process that publishes nothing: exit 2.
#
tu_case "no such process, no segment: exit 2"
expect 2 "no process $pid_max" -p "$pid_max"
expect 2 "no process $dead" -p "$dead"
expect 2 "process $$ publishes no numaslab statistics" -p $$
expect 2 "No such file" --file "$tmp/none"
expect 2 "process $$ publishes no numaslab statistics" -p $$ --dir "$tmp/nowhere"
expect 2 "cannot list $tmp/nowhere" --dir "$tmp/nowhere"

#
# A process killed with SIGKILL leaves its segment: stale, exit 3; --gc
# removes it.
#
tu_case "a killed process: stale, exit 3; --gc"
NUMASLAB_STATS=1 "$live" --hold >"$tmp/holder" &
holder=$!
i=0
while [ $i -lt 100 ] && ! [ -s "$tmp/holder" ]; do
    sleep 0.1
    i=$((i + 1))
done
hpid=$(head -n 1 "$tmp/holder")
if [ "$hpid" = "$holder" ] && [ -e "$shm/numaslab.$hpid" ]; then
    ok "test-stat-live --hold (pid $hpid) publishes $shm/numaslab.$hpid"
    expect 0 "pid $hpid (test-stat-live)" -p "$hpid"
    kill -9 "$holder"
    wait "$holder" 2>/dev/null
    holder=
    if [ -e "$shm/numaslab.$hpid" ]; then
        ok "SIGKILL leaves $shm/numaslab.$hpid behind"
    else
        fail "SIGKILL left no segment"
    fi
    expect 3 "$shm/numaslab.$hpid is stale: process $hpid is not running" -p "$hpid"
    expect 3 "is stale" -p "$hpid" --json
    expect 0 "stale" # the listing
    if "$tool" 2>/dev/null | grep -qE "^ *$hpid +test-stat-live +[0-9]+/[0-9]+ +stale"; then
        ok "the listing shows pid $hpid as stale"
    else
        fail "the listing does not show pid $hpid as stale"
        "$tool" 2>&1 | sed 's/^/  | /'
    fi
    if "$tool" --json 2>/dev/null | grep -qF "{\"pid\": $hpid, \"comm\": \"test-stat-live\", \"state\": \"stale\""; then
        ok "the JSON listing gives pid $hpid \"state\": \"stale\""
    else
        fail "the JSON listing lacks pid $hpid as stale"
    fi
    expect 0 "removed $shm/numaslab.$hpid: process $hpid is not running" --gc
    if [ -e "$shm/numaslab.$hpid" ]; then
        fail "--gc left $shm/numaslab.$hpid"
    else
        ok "--gc removed $shm/numaslab.$hpid"
    fi
    expect 2 "no process $hpid" -p "$hpid"
else
    fail "test-stat-live --hold did not publish (pid '$hpid', segment missing)"
fi

# --watch on a process that is killed while watched: exit 3.
tu_case "--watch on a killed process: exit 3"
NUMASLAB_STATS=1 "$live" --hold >"$tmp/holder2" &
holder=$!
i=0
while [ $i -lt 100 ] && ! [ -s "$tmp/holder2" ]; do
    sleep 0.1
    i=$((i + 1))
done
"$tool" -p "$holder" --watch 0.1 --count 100 >"$tmp/wout" 2>"$tmp/werr" &
watcher=$!
sleep 1
kill -9 "$holder"
wait "$holder" 2>/dev/null
wait "$watcher"
rc=$?
if [ $rc -eq 3 ] && grep -qF "is stale" "$tmp/werr" && grep -q "^pid $holder " "$tmp/wout"; then
    ok "--watch follows pid $holder, then exits 3 when it is killed"
else
    fail "--watch on a killed process: exit $rc"
    sed 's/^/  stderr: /' "$tmp/werr"
fi
rm -f "$shm/numaslab.$holder"
holder=

#
# A pid now used by another process (start time differs): exit 3; --gc in
# a directory removes it and the dead one, and keeps the live one.
#
tu_case "a reused pid: exit 3; --gc in a directory"
mkdir "$tmp/d"
"$gen" --write reused "$tmp/d/numaslab.$$" $$ || exit 99
expect 3 "now belongs to another process" -p $$ --dir "$tmp/d"
mkdir "$tmp/g"
"$gen" --write live "$tmp/g/numaslab.$$" $$ || exit 99
"$gen" --write reused "$tmp/g/numaslab.$PPID" $PPID || exit 99
"$gen" --write garbage "$tmp/g/numaslab.$dead" || exit 99
"$gen" --write sample "$tmp/g/numaslab-other" || exit 99
expect 0 "pid $$ (stat-sample)" -p $$ --dir "$tmp/g"
"$tool" --dir "$tmp/g" >"$tmp/out" 2>&1
if grep -qE "^ *$$ +stat-sample +2/3 +live" "$tmp/out" &&
    grep -qE "^ *$PPID +stat-sample +2/3 +stale" "$tmp/out" &&
    grep -qE "^ *$dead +\? +- +stale" "$tmp/out"; then
    ok "the listing of a directory tells live, reused and dead apart"
else
    fail "the listing of a directory"
    sed 's/^/  | /' "$tmp/out"
fi
expect 0 "2 stale segments removed" --gc --dir "$tmp/g"
if [ -e "$tmp/g/numaslab.$$" ] && ! [ -e "$tmp/g/numaslab.$PPID" ] &&
    ! [ -e "$tmp/g/numaslab.$dead" ] && [ -e "$tmp/g/numaslab-other" ]; then
    ok "--gc kept the live process's segment and files not named like segments"
else
    fail "--gc removed the wrong files: $(ls "$tmp/g" | tr '\n' ' ')"
fi

#
# Truncated, empty, garbage, newer: exit 5 and 6, by --file and by -p.
#
tu_case "truncated, empty, garbage, newer segments: exit 5 and 6"
"$gen" --write truncated "$tmp/trunc" || exit 99
"$gen" --write garbage "$tmp/garbage" || exit 99
"$gen" --write newer "$tmp/newer" || exit 99
: >"$tmp/empty"
head -c 4096 /dev/zero >"$tmp/zero"
expect 5 "$tmp/trunc: truncated" --file "$tmp/trunc"
expect 5 "$tmp/empty: empty" --file "$tmp/empty"
expect 5 "$tmp/zero: empty (all zero" --file "$tmp/zero"
expect 5 "$tmp/garbage: not a numaslab statistics segment" --file "$tmp/garbage"
expect 5 "not a numaslab statistics segment" --file "$tmp/garbage" --json
expect 6 "$tmp/newer: layout version 2 is newer" --file "$tmp/newer"
expect 6 "newer" --file "$tmp/newer" --json --caches
mkdir "$tmp/p"
for kind in truncated garbage newer empty; do
    rm -f "$tmp/p/numaslab.$$"
    if [ $kind = empty ]; then
        : >"$tmp/p/numaslab.$$"
    else
        "$gen" --write $kind "$tmp/p/numaslab.$$" $$ || exit 99
    fi
    case $kind in
    newer) expect 6 "$tmp/p/numaslab.$$: layout version 2 is newer" -p $$ --dir "$tmp/p" ;;
    truncated) expect 5 "$tmp/p/numaslab.$$: truncated" -p $$ --dir "$tmp/p" ;;
    garbage) expect 5 "$tmp/p/numaslab.$$: not a numaslab" -p $$ --dir "$tmp/p" ;;
    empty) expect 5 "$tmp/p/numaslab.$$: empty" -p $$ --dir "$tmp/p" ;;
    esac
done
"$tool" --dir "$tmp/p" >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -qE "^ *$$ +\? +- +corrupt +empty" "$tmp/out"; then
    ok "the listing shows a broken segment of a live process as corrupt, and exits 0"
else
    fail "the listing of a broken segment: exit $rc"
    sed 's/^/  | /' "$tmp/out"
fi

#
# A segment of an older, smaller layout is not a bad input: it reads, the
# fields it lacks shown as absent.
#
tu_case "an older layout reads"
"$gen" --write v1 "$tmp/v1" || exit 99
expect 0 "node memory headroom: not in this segment (an older layout)" --file "$tmp/v1"
expect 0 '"cgroup": null' --file "$tmp/v1" --json

#
# Permission denied: exit 4.
#
tu_case "permission denied: exit 4"
mkdir "$tmp/perm"
"$gen" --write live "$tmp/perm/numaslab.$$" $$ || exit 99
chmod 600 "$tmp/perm/numaslab.$$"
if [ "$(id -u)" -ne 0 ]; then
    chmod 000 "$tmp/perm/numaslab.$$"
    expect 4 "permission denied" -p $$ --dir "$tmp/perm"
    expect 4 "permission denied" --file "$tmp/perm/numaslab.$$"
else
    # root reads everything: read as nobody instead.
    chmod 755 "$tmp" "$tmp/perm"
    as_nobody=
    if command -v setpriv >/dev/null 2>&1; then
        as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
    fi
    if [ -n "$as_nobody" ] && $as_nobody test -x "$tool" 2>/dev/null; then
        $as_nobody "$tool" -p $$ --dir "$tmp/perm" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        if [ $rc -eq 4 ] && grep -qF "$tmp/perm/numaslab.$$: permission denied" "$tmp/err"; then
            ok "as nobody: numaslab-stat -p $$ of root's segment -> exit 4, permission denied"
        else
            fail "as nobody: exit $rc"
            sed 's/^/  stderr: /' "$tmp/err"
        fi
        $as_nobody "$tool" --file "$tmp/perm/numaslab.$$" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        if [ $rc -eq 4 ] && grep -qF "permission denied" "$tmp/err"; then
            ok "as nobody: --file of root's segment -> exit 4"
        else
            fail "as nobody: --file: exit $rc"
        fi
    else
        info "running as root and cannot switch to nobody (setpriv, or the build tree is not reachable): permission checks not run"
    fi
fi

tu_exit
