#!/usr/bin/env bash
# numa-vm.sh - run a program inside a small QEMU guest whose NUMA topology is
# real to the kernel (ACPI SRAT/SLIT tables), so that mbind, move_pages and
# get_mempolicy give the answers of a multi-node machine.
#
# Usage: numa-vm.sh [OPTION]... [--] PROGRAM [ARG]...
#        numa-vm.sh --install            (install and fetch only)
#
# PROGRAM is an ELF executable, a libtool wrapper script (its real program
# is shipped in its place) or a "#!" script (run by busybox sh; busybox is
# the guest's only shell).  PROGRAM, every --file and every shared library
# they load (ldd) are copied into the guest at their host paths, and
# LD_LIBRARY_PATH lists the directories of those libraries, so a build
# tree's programs find their .libs there as they do here.  numactl and
# lstopo-no-graphics come along when the host has them.  In the guest the
# program runs as root, from the directory numa-vm.sh was started in (see
# --chdir), with NUMAVM_TOPOLOGY, NUMAVM_NODES and NUMAVM_DIST describing the
# topology it boots (see topology below).
#
# Options:
#   --install         install what is missing (apt-get: qemu-system-x86,
#                     busybox-static, cpio, xz-utils, numactl, hwloc-nox;
#                     needs root) and fetch the kernel into the cache
#   --topology NAME   mixed (default) or two; --list prints them
#   --timeout S       stop the guest after S seconds (default 600)
#   --file F          ship F too (a directory with its contents); repeatable
#   --env V=X         set V=X in the guest; repeatable
#   --chdir DIR       run PROGRAM in DIR (default: the current directory)
#   --cache DIR       kernel cache (default ${NUMAVM_CACHE:-~/.cache/numaslab-vm})
#   --kernel FILE     boot FILE (a bzImage or an ELF vmlinux) instead
#   --no-pvh          boot the bzImage even when a vmlinux can be made
#   --keep            keep the work directory (initramfs, console log)
#   --verbose         print the whole console, not only the program's output
#   --list            print the topologies and exit
#
# The guest's kernel is Debian's: "apt-get download" of the package that
# linux-image-amd64 depends on, of which only /boot/vmlinuz-* is kept
# (nothing is installed, no root needed).  Under TCG the guest spends about
# half of a boot decompressing that bzImage, so it is unpacked once on the
# host (the xz stream inside it, as the kernel's scripts/extract-vmlinux
# does) and the ELF vmlinux is booted directly through its PVH entry note.
# Both are cached.  If QEMU cannot boot the vmlinux, the bzImage is booted
# and the vmlinux is not tried again.
#
# Exit status: PROGRAM's status in the guest; 124 the guest timed out; 125
# a setup or boot failure (the console's last lines are printed).
#
# SPDX-License-Identifier: BSD-2-Clause

set -euo pipefail

me=numa-vm
TOPOLOGY=${NUMAVM_TOPOLOGY:-mixed}
TIMEOUT=${NUMAVM_TIMEOUT:-600}
CACHE=${NUMAVM_CACHE:-${HOME:-/root}/.cache/numaslab-vm}
KERNEL=${NUMAVM_KERNEL:-}
QEMU=${QEMU:-qemu-system-x86_64}
INSTALL=0
PVH=1
KEEP=0
VERBOSE=0
CHDIR=$PWD
FILES=()
GUEST_ENV=()
WORK=

die() { echo "$me: $*" >&2; exit 125; }
note() { echo "$me: $*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- topologies
#
# A topology is two lines:
#   nodes  "ID:CPUS:MEM ..."  CPUS a cpulist or "-" (a CPU-less node), MEM in
#          MiB, 0 for a memory-less node.  CPUs are numbered from 0 without
#          gaps; each CPU is a socket of its own.
#   dist   "A-B:D ..."        SLIT distances, symmetric; 10 on the diagonal.
# qemu_numa_args turns them into QEMU's -smp, -m, -object memory-backend-ram,
# -numa node and -numa dist arguments; the guest gets them as NUMAVM_NODES
# and NUMAVM_DIST to compare with what its kernel reports.
topology() {
	case $1 in
	mixed)
		# node 2: CPUs, no memory; node 3: memory, no CPUs; node 1 is
		# the nearest to node 2, so it is node 2's local memory.
		NODES="0:0-1:512 1:2:256 2:3:0 3:-:256"
		DIST="0-1:20 0-2:20 0-3:30 1-2:15 1-3:30 2-3:30"
		;;
	two)
		NODES="0:0-1:512 1:2-3:512"
		DIST="0-1:20"
		;;
	*) return 1 ;;
	esac
}
TOPOLOGIES="mixed two"

# Expand a cpulist "0-1,3" to "0 1 3".
cpulist_expand() {
	local part c out=()
	local IFS=,
	for part in $1; do
		if [[ $part == *-* ]]; then
			for ((c = ${part%-*}; c <= ${part#*-}; c++)); do out+=("$c"); done
		else
			out+=("$part")
		fi
	done
	IFS=' '
	echo "${out[*]}"
}

# Sets QEMU_NUMA (an array) from NODES and DIST.
qemu_numa_args() {
	local spec id cpus mem ncpu=0 total=0 arg d
	QEMU_NUMA=()
	for spec in $NODES; do
		IFS=: read -r id cpus mem <<<"$spec"
		arg="node,nodeid=$id"
		if [ "$cpus" != - ]; then
			arg+=",cpus=$cpus"
			for d in $(cpulist_expand "$cpus"); do
				[ "$d" -ge "$ncpu" ] && ncpu=$((d + 1))
			done
		fi
		if [ "$mem" -gt 0 ]; then
			QEMU_NUMA+=(-object "memory-backend-ram,id=mem$id,size=${mem}M")
			arg+=",memdev=mem$id"
			total=$((total + mem))
		fi
		QEMU_NUMA+=(-numa "$arg")
	done
	for spec in $DIST; do
		d=${spec#*:}
		spec=${spec%:*}
		QEMU_NUMA+=(-numa "dist,src=${spec%-*},dst=${spec#*-},val=$d")
	done
	if [ "$ncpu" -eq 0 ] || [ "$total" -eq 0 ]; then
		die "topology $TOPOLOGY has no CPU or no memory"
	fi
	# -m must be the sum of the memory backends.
	QEMU_NUMA=(-smp "$ncpu,sockets=$ncpu,cores=1,threads=1" -m "${total}M" "${QEMU_NUMA[@]}")
}

# ---------------------------------------------------------------- options
while [ $# -gt 0 ]; do
	case $1 in
	--install) INSTALL=1 ;;
	--topology) TOPOLOGY=${2:?--topology needs a name}; shift ;;
	--topology=*) TOPOLOGY=${1#*=} ;;
	--timeout) TIMEOUT=${2:?--timeout needs seconds}; shift ;;
	--timeout=*) TIMEOUT=${1#*=} ;;
	--file) FILES+=("${2:?--file needs a path}"); shift ;;
	--file=*) FILES+=("${1#*=}") ;;
	--env) GUEST_ENV+=("${2:?--env needs VAR=VALUE}"); shift ;;
	--env=*) GUEST_ENV+=("${1#*=}") ;;
	--chdir) CHDIR=${2:?--chdir needs a directory}; shift ;;
	--chdir=*) CHDIR=${1#*=} ;;
	--cache) CACHE=${2:?--cache needs a directory}; shift ;;
	--cache=*) CACHE=${1#*=} ;;
	--kernel) KERNEL=${2:?--kernel needs a file}; shift ;;
	--kernel=*) KERNEL=${1#*=} ;;
	--no-pvh) PVH=0 ;;
	--keep) KEEP=1 ;;
	-v | --verbose) VERBOSE=1 ;;
	--list)
		for t in $TOPOLOGIES; do
			topology "$t"
			printf '%-6s nodes %s; distances %s\n' "$t" "$NODES" "$DIST"
		done
		exit 0
		;;
	-h | --help) sed -n '2,/^# SPDX/{/^# SPDX/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) break ;;
	esac
	shift
done
[ $# -gt 0 ] || [ "$INSTALL" = 1 ] || die "no program to run (see --help)"
# A bare command name is looked up in PATH.
if [ $# -gt 0 ] && [ ! -e "$1" ] && [ "${1#*/}" = "$1" ]; then
	prog=$(command -v "$1") || die "$1: no such program"
	set -- "$prog" "${@:2}"
fi
topology "$TOPOLOGY" || die "unknown topology '$TOPOLOGY' (known: $TOPOLOGIES)"
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "--timeout $TIMEOUT: not a number of seconds"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/numa-vm.XXXXXX") || die "mktemp failed"
cleanup() {
	if [ "$KEEP" = 1 ]; then
		note "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- packages
# command:package; busybox must be the static build (the guest has no
# libc of its own before the programs' libraries are copied in, and
# busybox-static is what Debian ships for that).
NEEDED="$QEMU:qemu-system-x86 busybox:busybox-static cpio:cpio xz:xz-utils numactl:numactl
lstopo-no-graphics:hwloc-nox"

missing_packages() {
	local item
	for item in $NEEDED; do
		command -v "${item%%:*}" >/dev/null 2>&1 || echo "${item#*:}"
	done
}

install_packages() {
	local pkgs
	pkgs=$(missing_packages | sort -u | tr '\n' ' ')
	[ -n "$pkgs" ] || return 0
	[ "$(id -u)" = 0 ] || die "missing packages: $pkgs; run this as root with --install (or apt-get install $pkgs)"
	note "installing $pkgs"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2 || die "apt-get update failed"
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $pkgs >&2 || die "apt-get install $pkgs failed"
}

# ---------------------------------------------------------------- kernel
is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; }

# The newest cached bzImage, else Debian's, downloaded and cut out of its
# package.  Prints its path.
fetch_kernel() {
	local cached pkg dl tmp deb
	cached=$(ls -1 "$CACHE"/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -n "$cached" ] && [ -s "$cached" ]; then
		echo "$cached"
		return 0
	fi
	command -v apt-get >/dev/null || die "no kernel in $CACHE and no apt-get to fetch one (use --kernel)"
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	if [ -z "$pkg" ] && [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ]; then
		apt-get update -q >&2 || true
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	fi
	[ -n "$pkg" ] || die "apt-cache does not know linux-image-amd64 (run apt-get update, or use --kernel)"
	mkdir -p "$CACHE" || die "cannot create $CACHE"
	dl=$WORK/deb
	mkdir -p "$dl"
	# apt drops root and downloads as _apt: let it write here.
	chmod 0777 "$dl"
	chmod 0755 "$WORK"
	note "downloading $pkg (the kernel image is kept, the package is not installed)"
	(cd "$dl" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed"
	deb=$(ls -1 "$dl"/*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || die "apt-get download $pkg left no .deb"
	# Parallel runs may fetch at once: publish with a rename.
	tmp=$(mktemp "$CACHE/.vmlinuz.XXXXXX")
	dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './boot/vmlinuz-*' >"$tmp" ||
		{ rm -f "$tmp"; die "no /boot/vmlinuz-* in $deb"; }
	[ -s "$tmp" ] || { rm -f "$tmp"; die "no /boot/vmlinuz-* in $deb"; }
	chmod 0644 "$tmp"
	mv -f "$tmp" "$CACHE/vmlinuz-${pkg#linux-image-}"
	rm -rf "$dl"
	echo "$CACHE/vmlinuz-${pkg#linux-image-}"
}

# The ELF vmlinux inside a bzImage: the payload is one compressed stream
# (xz on Debian, gzip on older kernels) somewhere after the setup code;
# try each place its magic number occurs until one unpacks to an ELF file.
# Prints the cached vmlinux's path, or nothing.
extract_vmlinux() {
	local bz=$1 out tmp magic tool off
	out=$CACHE/vmlinux-${bz##*/vmlinuz-}
	[ "$bz" = "${bz##*/vmlinuz-}" ] && out=$WORK/vmlinux
	if [ -e "$out.no-pvh" ]; then
		return 0
	fi
	if [ -s "$out" ] && is_elf "$out"; then
		echo "$out"
		return 0
	fi
	mkdir -p "$(dirname "$out")" && tmp=$(mktemp "$(dirname "$out")/.vmlinux.XXXXXX") || return 0
	for magic in '\xfd7zXZ\x00:xz -dc --single-stream' '\x1f\x8b\x08\x00:gzip -dc'; do
		tool=${magic#*:}
		command -v "${tool%% *}" >/dev/null || continue
		for off in $(LC_ALL=C grep -obUaP "${magic%%:*}" "$bz" | cut -d: -f1 | head -n 4); do
			if tail -c +$((off + 1)) "$bz" | $tool >"$tmp" 2>/dev/null || [ -s "$tmp" ]; then
				if is_elf "$tmp"; then
					chmod 0644 "$tmp"
					mv -f "$tmp" "$out"
					echo "$out"
					return 0
				fi
			fi
		done
	done
	rm -f "$tmp"
	: >"$out.no-pvh"
}

# ---------------------------------------------------------------- initramfs
ROOT=$WORK/root
LIBDIRS=()

# add_file SRC [DEST]: copy SRC (following links) to DEST in the guest.
add_file() {
	local src=$1 dst=${2:-$1}
	mkdir -p "$ROOT$(dirname "$dst")"
	cp -L "$src" "$ROOT$dst" || die "cannot copy $src"
}

add_libdir() {
	local d=$1 x
	for x in "${LIBDIRS[@]}"; do [ "$x" = "$d" ] && return 0; done
	LIBDIRS+=("$d")
}

# add_libs ELF [LIBPATH]: the shared libraries ELF loads, at their paths.
add_libs() {
	local elf=$1 libpath=${2:-} out line lib
	out=$(LD_LIBRARY_PATH=$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ldd "$elf" 2>&1) || {
		case $out in
		*"not a dynamic executable"* | *"statically linked"*) return 0 ;;
		*) die "ldd $elf: $out" ;;
		esac
	}
	while IFS= read -r line; do
		case $line in
		*"not found"*) die "$elf: a library is not found: $line" ;;
		*"=> /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
		[[:space:]]/*) lib=${line#"${line%%[![:space:]]*}"}; lib=${lib%% (*} ;;
		*) continue ;;
		esac
		[ -e "$ROOT$lib" ] || add_file "$lib"
		add_libdir "$(dirname "$lib")"
	done <<<"$out"
}

# A libtool wrapper script stands for .libs/<program>, which finds the
# build tree's libraries through the LD_LIBRARY_PATH the wrapper sets.
# Prints "REAL-PROGRAM<TAB>LIBPATH", or nothing for any other file.
libtool_target() {
	local f=$1 prog libpath dir
	[ "$(head -c 2 "$f")" = '#!' ] || return 0
	grep -q 'libtool' "$f" 2>/dev/null && grep -q "^ *program=" "$f" || return 0
	prog=$(sed -n "s/^ *program=//p" "$f" | head -n 1 | tr -d "'\"")
	libpath=$(sed -n 's/^ *LD_LIBRARY_PATH="\(.*\):\$LD_LIBRARY_PATH"$/\1/p' "$f" | head -n 1)
	dir=$(cd "$(dirname "$f")" && pwd)/.libs
	if [ -x "$dir/$prog" ]; then
		printf '%s\t%s\n' "$dir/$prog" "$libpath"
	elif [ -x "$dir/${prog#lt-}" ]; then
		printf '%s\t%s\n' "$dir/${prog#lt-}" "$libpath"
	else
		die "$f is a libtool wrapper whose program $dir/$prog is not built"
	fi
}

# ship PATH: a file at its absolute path, with its libraries when it is a
# program; a directory with everything in it (data, not programs).
ship() {
	local f=$1 abs lt real libpath
	[ -e "$f" ] || die "$f: no such file"
	abs=$(cd "$(dirname "$f")" && pwd)/$(basename "$f")
	if [ -d "$f" ]; then
		mkdir -p "$ROOT$abs"
		cp -RL "$f"/. "$ROOT$abs"/ || die "cannot copy $f"
		return 0
	fi
	lt=$(libtool_target "$abs")
	if [ -n "$lt" ]; then
		real=${lt%%$'\t'*}
		libpath=${lt#*$'\t'}
		add_file "$real" "$abs"
		add_libs "$real" "$libpath"
		local d IFS=:
		for d in $libpath; do add_libdir "$d"; done
		return 0
	fi
	add_file "$abs"
	is_elf "$abs" && add_libs "$abs"
	return 0
}

# sh_quote WORD: WORD as one single-quoted word for the guest's shell.
sh_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

build_initramfs() {
	local bb app tool prog var init
	mkdir -p "$ROOT"/{bin,dev,proc,sys,tmp,run,numavm}
	chmod 1777 "$ROOT/tmp"
	bb=$(command -v busybox)
	add_file "$bb" /bin/busybox
	is_elf "$bb" && add_libs "$bb"
	for app in $("$bb" --list); do
		[ -e "$ROOT/bin/$app" ] || ln -s busybox "$ROOT/bin/$app"
	done
	for tool in numactl lstopo-no-graphics; do
		if command -v "$tool" >/dev/null; then
			ship "$(command -v "$tool")"
		fi
	done
	for prog in "${FILES[@]}"; do ship "$prog"; done
	ship "$1"

	{
		echo "export NUMAVM_TOPOLOGY=$(sh_quote "$TOPOLOGY")"
		echo "export NUMAVM_NODES=$(sh_quote "$NODES")"
		echo "export NUMAVM_DIST=$(sh_quote "$DIST")"
		echo "export LD_LIBRARY_PATH=$(sh_quote "$(IFS=:; echo "${LIBDIRS[*]}")")"
		for var in "${GUEST_ENV[@]}"; do
			[[ $var == [A-Za-z_]*=* ]] || die "--env $var: not VAR=VALUE"
			echo "export ${var%%=*}=$(sh_quote "${var#*=}")"
		done
	} >"$ROOT/numavm/env"

	# The command line, each word quoted.  A "#!" script runs under
	# busybox sh: its interpreter line names a host path.
	{
		printf 'cd %s || exit 125\n' "$(sh_quote "$CHDIR")"
		if [ "$(head -c 2 "$1")" = '#!' ] && [ -z "$(libtool_target "$1")" ]; then
			printf 'exec /bin/sh'
		else
			printf 'exec'
		fi
		for var in "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" "${@:2}"; do
			printf ' %s' "$(sh_quote "$var")"
		done
		printf '\n'
	} >"$ROOT/numavm/run"

	# PID 1.  The kernel finds no /dev/console in the archive (making one
	# needs root), so the console is opened after devtmpfs is mounted.  No
	# tmpfs on /tmp: it would hide the files shipped under /tmp.
	init=$ROOT/init
	cat >"$init" <<'EOF'
#!/bin/busybox sh
export PATH=/bin:/usr/bin:/sbin:/usr/sbin HOME=/root
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/shm /root
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
. /numavm/env
echo "@@NUMAVM-BEGIN@@"
sh /numavm/run
rc=$?
echo "@@NUMAVM-EXIT=$rc@@"
poweroff -f
EOF
	chmod 0755 "$init"
	(cd "$ROOT" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$WORK/initramfs.cpio" ||
		die "cpio failed"
}

# ---------------------------------------------------------------- boot
# boot KERNEL: run the guest; sets GUEST_RC ("" when it never reported)
# and BEGUN (the program started).
boot() {
	local kernel=$1 line state=0 rc
	GUEST_RC=
	BEGUN=0
	: >"$WORK/console.log"
	set +e
	timeout -k 10 "$TIMEOUT" "$QEMU" -accel tcg -machine pc -nodefaults -no-user-config \
		-display none -no-reboot -serial stdio "${QEMU_NUMA[@]}" \
		-kernel "$kernel" -initrd "$WORK/initramfs.cpio" \
		-append "console=ttyS0 quiet loglevel=3 panic=-1" </dev/null 2>&1 |
		while IFS= read -r line; do
			line=${line%$'\r'}
			printf '%s\n' "$line" >>"$WORK/console.log"
			case $line in
			*@@NUMAVM-BEGIN@@*) state=1; continue ;;
			*@@NUMAVM-EXIT=*@@*) state=2 ;;
			esac
			if [ "$VERBOSE" = 1 ] || [ "$state" = 1 ]; then
				printf '%s\n' "$line"
			fi
		done
	rc=${PIPESTATUS[0]}
	set -e
	grep -q '@@NUMAVM-BEGIN@@' "$WORK/console.log" && BEGUN=1
	GUEST_RC=$(sed -n 's/.*@@NUMAVM-EXIT=\([0-9]*\)@@.*/\1/p' "$WORK/console.log" | tail -n 1)
	QEMU_RC=$rc
}

console_tail() {
	note "last console lines:"
	tail -n 30 "$WORK/console.log" | sed 's/^/  | /' >&2
}

# ---------------------------------------------------------------- main
[ "$INSTALL" = 1 ] && install_packages
miss=$(missing_packages | tr '\n' ' ')
[ -z "$miss" ] || die "missing packages: $miss(run this as root with --install)"

t0=$(now)
if [ -n "$KERNEL" ]; then
	[ -r "$KERNEL" ] || die "--kernel $KERNEL: not readable"
	BZIMAGE=$KERNEL
else
	BZIMAGE=$(fetch_kernel)
fi
VMLINUX=
if is_elf "$BZIMAGE"; then
	VMLINUX=$BZIMAGE
elif [ "$PVH" = 1 ]; then
	VMLINUX=$(extract_vmlinux "$BZIMAGE")
fi
if [ $# -eq 0 ]; then
	note "ready: kernel $BZIMAGE${VMLINUX:+, vmlinux $VMLINUX}"
	exit 0
fi

t1=$(now)
build_initramfs "$@"
qemu_numa_args
size=$(du -m "$WORK/initramfs.cpio" | cut -f1)
t2=$(now)

how=bzImage
if [ -n "$VMLINUX" ]; then
	how=pvh
	boot "$VMLINUX"
	if [ "$BEGUN" = 0 ] && [ "$QEMU_RC" != 124 ] && [ "$VMLINUX" != "$BZIMAGE" ]; then
		note "QEMU could not boot $VMLINUX (exit $QEMU_RC); booting the bzImage from now on"
		console_tail
		: >"$VMLINUX.no-pvh"
		how=bzImage
		boot "$BZIMAGE"
	fi
else
	boot "$BZIMAGE"
fi
t3=$(now)
note "$TOPOLOGY: kernel $(secs "$t0" "$t1") s, initramfs $(secs "$t1" "$t2") s (${size} MB)," \
	"guest $(secs "$t2" "$t3") s ($how boot)"

if [ "$QEMU_RC" = 124 ] || [ "$QEMU_RC" = 137 ]; then
	note "$TOPOLOGY: the guest did not finish within ${TIMEOUT} s"
	console_tail
	exit 124
fi
if [ "$BEGUN" = 0 ]; then
	note "$TOPOLOGY: the guest did not boot (QEMU exit $QEMU_RC)"
	console_tail
	exit 125
fi
if [ -z "$GUEST_RC" ]; then
	note "$TOPOLOGY: the guest stopped before the program finished (QEMU exit $QEMU_RC)"
	console_tail
	exit 125
fi
exit "$GUEST_RC"
