#!/bin/sh
# guest-suite.sh - the multi-node tests, run inside a numa-vm.sh guest from
# the build directory (busybox sh: POSIX sh only).
#
# Every step prints a header line "==== TOPOLOGY NAME: COMMAND", the
# step's output, and then exactly one line
#   NUMAVM-RESULT TOPOLOGY NAME PASS|FAIL|SKIP
# which check-numa.sh counts.  Exit 0 when no step failed, else 1.
#
# The topology comes from numa-vm.sh: NUMAVM_TOPOLOGY (its name),
# NUMAVM_NODES ("ID:CPUS:MiB ...", CPUS "-" for none, MiB 0 for none) and
# NUMAVM_DIST ("A-B:D ...").  Which numactl runs make sense follows from
# them, so a new topology needs no change here.
#
# SPDX-License-Identifier: BSD-2-Clause

T=${NUMAVM_TOPOLOGY:-unknown}
STEP_TIMEOUT=${NUMAVM_STEP_TIMEOUT:-120}
POLICY=tests/numa-vm/test-policy
failed=0

# As make check: no statistics segments unless a step asks for them.
NUMASLAB_STATS=0
export NUMASLAB_STATS

result() {
	echo "NUMAVM-RESULT $T $1 $2"
	[ "$2" = FAIL ] && failed=1
	return 0
}

# step NAME COMMAND [ARG]...: run a program with a time limit; exit 0
# passes, 77 skips, anything else fails.  check NAME FUNCTION: the same for
# a function of this script (no time limit: they wait for nothing).
step() {
	name=$1
	shift
	echo "==== $T $name: $*"
	if [ "$1" = env ] || [ "$1" = numactl ]; then
		prog=$(for w in "$@"; do case $w in *=*) ;; */*) echo "$w"; break ;; esac; done)
	else
		prog=$1
	fi
	if { [ "${prog#*/}" != "$prog" ] && [ ! -x "$prog" ]; } ||
		! command -v "$prog" >/dev/null 2>&1; then
		echo "$prog: not built or not shipped"
		result "$name" FAIL
		return
	fi
	t0=$(date +%s)
	timeout "$STEP_TIMEOUT" "$@"
	finish $?
}

check() {
	name=$1
	echo "==== $T $name"
	t0=$(date +%s)
	"$2"
	finish $?
}

finish() {
	rc=$1
	echo "# $name: exit $rc, $(($(date +%s) - t0)) s"
	case $rc in
	0) result "$name" PASS ;;
	77) result "$name" SKIP ;;
	143 | 137) echo "# $name: killed after $STEP_TIMEOUT s"; result "$name" FAIL ;;
	*) result "$name" FAIL ;;
	esac
}

# ---------------------------------------------------------------- topology
# Nodes by kind, from NUMAVM_NODES.
MEMNODES=
CPUNODES=
MEMLESS=
CPULESS=
for spec in $NUMAVM_NODES; do
	id=${spec%%:*}
	rest=${spec#*:}
	cpus=${rest%%:*}
	mem=${rest#*:}
	[ "$mem" -gt 0 ] && MEMNODES="$MEMNODES $id"
	[ "$cpus" != - ] && CPUNODES="$CPUNODES $id"
	[ "$mem" -eq 0 ] && MEMLESS="$MEMLESS $id"
	[ "$cpus" = - ] && CPULESS="$CPULESS $id"
done
set -- $MEMNODES
FIRSTMEM=$1
eval "LASTMEM=\${$#}"
NMEM=$#

# The kernel must show the topology numa-vm.sh asked QEMU for: each node's
# CPUs, memory or none, and the distances.
check_topology() {
	bad=0
	sys=/sys/devices/system/node
	for spec in $NUMAVM_NODES; do
		id=${spec%%:*}
		rest=${spec#*:}
		cpus=${rest%%:*}
		mem=${rest#*:}
		[ "$cpus" = - ] && cpus=
		got=$(cat $sys/node$id/cpulist 2>/dev/null)
		kb=$(awk '/MemTotal/ { print $4 }' $sys/node$id/meminfo 2>/dev/null)
		if [ "$mem" -eq 0 ]; then
			echo "node $id: CPUs '$got' (want '$cpus'), MemTotal ${kb:-?} kB (want 0)"
		else
			echo "node $id: CPUs '$got' (want '$cpus'), MemTotal ${kb:-?} kB (want a little under $mem MiB)"
		fi
		[ "$got" = "$cpus" ] || bad=1
		if [ "$mem" -eq 0 ]; then
			[ "${kb:-1}" -eq 0 ] || bad=1
		else
			# the kernel keeps some of it; never more, never half less
			[ "${kb:-0}" -gt $((mem * 512)) ] && [ "${kb:-0}" -le $((mem * 1024)) ] || bad=1
		fi
	done
	for spec in $NUMAVM_DIST; do
		a=${spec%%-*}
		rest=${spec#*-}
		b=${rest%%:*}
		d=${rest#*:}
		ab=$(awk -v k=$((b + 1)) '{ print $k }' $sys/node$a/distance 2>/dev/null)
		ba=$(awk -v k=$((a + 1)) '{ print $k }' $sys/node$b/distance 2>/dev/null)
		echo "distance $a-$b: $ab, $b-$a: $ba (want $d)"
		[ "$ab" = "$d" ] && [ "$ba" = "$d" ] || bad=1
	done
	numactl --hardware
	return $bad
}

# hwloc, which the library discovers the topology with, sees every node.
check_hwloc() {
	lstopo-no-graphics --of console || return 1
	want=$(echo $NUMAVM_NODES | wc -w)
	got=$(lstopo-no-graphics --of console | grep -c 'NUMANode')
	echo "hwloc: $got NUMA nodes (want $want)"
	[ "$got" -eq "$want" ]
}

# ---------------------------------------------------------------- numaslab-stat
# A process holding memory on every node, read from outside by
# numaslab-stat -p: every node is listed, the memory-less ones inactive.
check_stat() {
	stat=tools/numaslab-stat
	ready=/tmp/numavm-hold.$$
	rm -f "$ready"
	NUMASLAB_STATS=1 $POLICY --hold="$ready" &
	pid=$!
	i=0
	while [ ! -s "$ready" ] && [ $i -lt 600 ] && kill -0 $pid 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ ! -s "$ready" ]; then
		echo "the holding process did not get ready"
		kill $pid 2>/dev/null
		return 1
	fi
	bad=0
	echo "--- numaslab-stat -p $pid"
	$stat -p $pid || bad=1
	echo "--- numaslab-stat -p $pid --json"
	json=$($stat -p $pid --json) || bad=1
	echo "$json"
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	# One node object per line, then each node's "active" value.
	nodes=$(echo "$json" | tr -d ' \t\n' | sed 's/{"node":/\n&/g' |
		sed -n 's/^{"node":\([0-9]*\),.*"active":\(true\|false\).*/\1:\2/p')
	for spec in $NUMAVM_NODES; do
		id=${spec%%:*}
		mem=${spec##*:}
		want=true
		[ "$mem" -eq 0 ] && want=false
		got=$(echo "$nodes" | sed -n "s/^$id://p" | head -n 1)
		echo "numaslab-stat: node $id active ${got:-missing} (want $want)"
		[ "$got" = "$want" ] || bad=1
	done
	return $bad
}

# ---------------------------------------------------------------- steps
echo "# topology $T: nodes $NUMAVM_NODES; distances $NUMAVM_DIST"
echo "# memory:$MEMNODES; CPUs:$CPUNODES; memory-less:${MEMLESS:- none}; CPU-less:${CPULESS:- none}"

check topology check_topology
check hwloc check_hwloc

# The test programs of make check that mean more with several nodes.
for t in test-placement test-large test-topology test-reserve test-fallback test-cache test-sizeclass \
	test-arena; do
	step $t tests/$t
done

# TOPOLOGY in numaslab(7): what the process starts with.  Each node with memory
# but the first, bound and preferred (a CPU-less one included);
# interleaving over the first two and over all of them; NUMASLAB_NODES
# keeping the first and the last (or only the last, with two).
for n in $MEMNODES; do
	[ "$n" = "$FIRSTMEM" ] && continue
	step membind-$n numactl --membind=$n $POLICY --membind=$n
	step preferred-$n numactl --preferred=$n $POLICY --preferred=$n
done
set -- $MEMNODES
step interleave-$1,$2 numactl --interleave=$1,$2 $POLICY --interleave=$1,$2
if [ "$NMEM" -gt 2 ]; then
	all=$(echo $MEMNODES | tr ' ' ',')
	step interleave-$all numactl --interleave=$all $POLICY --interleave=$all
	nodes=$FIRSTMEM,$LASTMEM
else
	nodes=$LASTMEM
fi
step nodes-$nodes env NUMASLAB_NODES=$nodes $POLICY --nodes=$nodes

# Remote frees: the first memory node's objects freed on another node with
# CPUs; and a CPU-less node's objects freed on a memory-less node.
for b in $CPUNODES; do
	[ "$b" = "$FIRSTMEM" ] && continue
	step remote-free-$FIRSTMEM,$b $POLICY --remote-free=$FIRSTMEM,$b
	break
done
set -- $CPULESS
a=$1
set -- $MEMLESS
if [ -n "$a" ] && [ -n "$1" ]; then
	step remote-free-$a,$1 $POLICY --remote-free=$a,$1
fi

# The drop-in malloc (numaslab-malloc(3)) under numactl: an unmodified
# program's malloc'd pages where the policy says, every thread's on its
# node, and objects freed on another node going home.
DROPIN=$(pwd)/.libs/libnumaslab-malloc.so
DPOL=tests/numa-vm/test-dropin-policy
for n in $MEMNODES; do
	[ "$n" = "$FIRSTMEM" ] && continue
	step dropin-membind-$n numactl --membind=$n env LD_PRELOAD=$DROPIN $DPOL --node=$n
	step dropin-preferred-$n numactl --preferred=$n env LD_PRELOAD=$DROPIN $DPOL --node=$n
done
set -- $MEMNODES
step dropin-interleave-$1,$2 numactl --interleave=$1,$2 env LD_PRELOAD=$DROPIN $DPOL \
	--interleave=$1,$2
step dropin-local env LD_PRELOAD=$DROPIN $DPOL --local
a=
for n in $CPUNODES; do
	case " $MEMNODES " in *" $n "*) ;; *) continue ;; esac
	if [ -z "$a" ]; then a=$n; else step dropin-home-$a,$n env LD_PRELOAD=$DROPIN $DPOL --home=$a,$n; break; fi
done

step reserve $POLICY --reserve
step critical $POLICY --critical

# Real exhaustion (numaslab(7), MEMORY EXHAUSTION).  The node filled is
# the second memory node with CPUs, whose nearest memory node is another
# one; another process squeezes the same node; then a cgroup v2 limit.
FILL=
for n in $MEMNODES; do
	[ "$n" = "$FIRSTMEM" ] && continue
	case " $CPUNODES " in *" $n "*) FILL=$n; break ;; esac
done
EXHAUST=tests/test-exhaust
if [ -n "$FILL" ]; then
	step exhaust-fill-$FILL $EXHAUST --fill=$FILL
	step exhaust-squeeze-$FILL $EXHAUST --squeeze=$FILL
fi

# A cgroup v2 with memory.max of 48 MiB, the test started inside it.
check_cgroup() {
	cg=/sys/fs/cgroup
	mkdir -p $cg
	grep -q " $cg cgroup2 " /proc/mounts || mount -t cgroup2 none $cg || return 1
	echo +memory >$cg/cgroup.subtree_control || return 1
	d=$cg/numaslab-exhaust
	mkdir -p $d || return 1
	echo 48M >$d/memory.max || return 1
	rc=0
	for mlock in 0 1; do
		echo "--- NUMASLAB_RESERVE_MLOCK=$mlock, memory.max $(cat $d/memory.max)"
		NSLAB_TEST_CGDIR=$d NUMASLAB_RESERVE_MLOCK=$mlock timeout "$STEP_TIMEOUT" \
			sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" --cgroup' sh $d $EXHAUST
		s=$?
		echo "--- exit $s; memory.events: $(tr '\n' ' ' <$d/memory.events)"
		[ $s -eq 0 ] || rc=1
	done
	rmdir $d
	return $rc
}
check exhaust-cgroup-v2 check_cgroup

step demo tools/numaslab-demo

if [ -x tools/numaslab-stat ]; then
	check numaslab-stat check_stat
else
	echo "==== $T numaslab-stat"
	echo "tools/numaslab-stat is not built"
	result numaslab-stat SKIP
fi

exit $failed
