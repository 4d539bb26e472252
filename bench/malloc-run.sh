#!/bin/bash
# bench/malloc-run.sh - bench/malloc-bench under each allocator, one table
#
# usage: bench/malloc-run.sh [-r ROUNDS] [-t "2 8"] [-w WORKLOADS] [-s SCALE]
#                            [-b MALLOC_BENCH] [-T TIMEOUT] [-o OUT.md]
#                            [NUMASLAB_MALLOC_SO]
#
#   -r ROUNDS     runs of each allocator per workload and thread count
#                 (default 5); the median time is reported
#   -t THREADS    thread counts, space separated (default "2 8")
#   -w WORKLOADS  default "larson xmalloc mstress rptest"
#   -s SCALE      passed to malloc-bench (default 1)
#   -b PROGRAM    the benchmark (default malloc-bench next to this script,
#                 else bench/malloc-bench)
#   -T SECONDS    limit of one run, where timeout(1) exists (default 300)
#   -o FILE       also write the table to FILE
#   NUMASLAB_MALLOC_SO  default lib/.libs/libnumaslab-malloc.so, else
#                 .libs/libnumaslab-malloc.so (where libtool builds it)
#
# glibc runs without LD_PRELOAD; jemalloc, tcmalloc, mimalloc and numaslab
# are preloaded, each only where its .so exists (a missing one is named and
# skipped).  For each workload and thread count the allocators take turns,
# round after round (the first of each round rotates), so that drift in the
# machine touches all of them alike.  Peak RSS is the largest maxrss_kb
# malloc-bench reported (getrusage) over the rounds.  Every run must exit 0,
# resolve `malloc` to the allocator meant and print the same checksum as the
# others (the work is deterministic); any run that does not is reported and
# the script exits 1 once the table is written.

set -u

cmdline=$(printf '%q ' "$0" "$@")
cmdline=${cmdline% }

usage() {
	sed -n '3,6p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

rounds=5
threads="2 8"
workloads="larson xmalloc mstress rptest"
scale=1
bench=
limit=300
outfile=
while getopts r:t:w:s:b:T:o:h opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	t) threads=$OPTARG ;;
	w) workloads=$OPTARG ;;
	s) scale=$OPTARG ;;
	b) bench=$OPTARG ;;
	T) limit=$OPTARG ;;
	o) outfile=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
if [ $# -eq 1 ]; then
	numaslab_so=$1
else
	# libtool puts the top-level libnumaslab-malloc.la's .so in .libs/
	numaslab_so=lib/.libs/libnumaslab-malloc.so
	[ -e "$numaslab_so" ] || [ ! -e .libs/libnumaslab-malloc.so ] ||
		numaslab_so=.libs/libnumaslab-malloc.so
fi
case $rounds in '' | *[!0-9]* | 0) echo "malloc-run: bad -r '$rounds'" >&2; exit 2 ;; esac

if [ -z "$bench" ]; then
	bench=$(dirname "$0")/malloc-bench
	[ -x "$bench" ] || bench=bench/malloc-bench
fi
if [ ! -x "$bench" ]; then
	echo "malloc-run: $bench is not built (make bench/malloc-bench)" >&2
	exit 2
fi

lib=/usr/lib/x86_64-linux-gnu
names=(glibc jemalloc tcmalloc mimalloc numaslab)
declare -A so=(
	[glibc]=""
	[jemalloc]=$lib/libjemalloc.so.2
	[tcmalloc]=$lib/libtcmalloc_minimal.so.4
	[mimalloc]=$lib/libmimalloc.so.2
	[numaslab]=$numaslab_so
)
allocs=()
notes=()
for a in "${names[@]}"; do
	if [ -n "${so[$a]}" ] && [ ! -e "${so[$a]}" ]; then
		notes+=("$a skipped: ${so[$a]} not found")
		echo "malloc-run: $a skipped: ${so[$a]} not found" >&2
	else
		allocs+=("$a")
	fi
done

tmo=()
command -v timeout >/dev/null && tmo=(timeout "$limit")
errf=$(mktemp)
table=$(mktemp)
trap 'rm -f "$errf" "$table"' EXIT

declare -A secs rss sum failed
failures=()
status=0

fail_run() { # alloc workload threads message
	failed[$2/$3/$1]=1
	failures+=("$2 -t $3 under $1: $4")
	echo "malloc-run: FAIL: $2 -t $3 under $1: $4" >&2
	status=1
}

run_one() { # alloc workload threads
	local a=$1 w=$2 t=$3 out rc want got s r c key=$2/$3/$1
	# The preload is for the benchmark only, not for timeout(1).
	if [ -n "${so[$a]}" ]; then
		out=$("${tmo[@]}" env LD_PRELOAD="${so[$a]}" "$bench" "$w" -t "$t" -s "$scale" 2>"$errf")
	else
		out=$("${tmo[@]}" env -u LD_PRELOAD "$bench" "$w" -t "$t" -s "$scale" 2>"$errf")
	fi
	rc=$?
	if [ $rc -ne 0 ]; then
		case $rc in
		124) fail_run "$a" "$w" "$t" "timed out after ${limit}s" ;;
		*) fail_run "$a" "$w" "$t" "exit $rc: $(tail -n 3 "$errf" | tr '\n' ' ')" ;;
		esac
		return
	fi
	s=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$out")
	r=$(sed -n 's/.* maxrss_kb=\([0-9]*\).*/\1/p' <<<"$out")
	c=$(sed -n 's/.* checksum=\([0-9a-f]*\).*/\1/p' <<<"$out")
	got=$(sed -n 's/.* malloc=\([^ ]*\).*/\1/p' <<<"$out")
	if [ -z "$s" ] || [ -z "$r" ] || [ -z "$c" ]; then
		fail_run "$a" "$w" "$t" "unexpected output: $out"
		return
	fi
	if [ -n "${so[$a]}" ]; then want=$(basename "${so[$a]}"); else want=libc.so.6; fi
	if [ "$got" != "$want" ]; then
		fail_run "$a" "$w" "$t" "malloc resolved to $got, not $want"
		return
	fi
	if [ -z "${sum[$w/$t]:-}" ]; then
		sum[$w/$t]=$c
	elif [ "${sum[$w/$t]}" != "$c" ]; then
		fail_run "$a" "$w" "$t" "checksum $c, others gave ${sum[$w/$t]}"
		return
	fi
	secs[$key]="${secs[$key]:-} $s"
	[ "${rss[$key]:-0}" -ge "$r" ] || rss[$key]=$r
	echo "malloc-run: $w -t $t $a: $s s, $r KiB" >&2
}

median() {
	tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

n=${#allocs[@]}
for w in $workloads; do
	for t in $threads; do
		for ((round = 0; round < rounds; round++)); do
			echo "malloc-run: $w -t $t round $((round + 1))/$rounds" >&2
			for ((i = 0; i < n; i++)); do
				a=${allocs[$(((i + round) % n))]}
				[ -n "${failed[$w/$t/$a]:-}" ] || run_one "$a" "$w" "$t"
			done
		done
	done
done

{
	echo "# malloc-bench: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo '```'
	echo "$cmdline"
	echo '```'
	echo
	echo "Machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), Linux $(uname -r)."
	echo "Median of $rounds round(s) in seconds (s), peak RSS in MiB; scale $scale."
	echo "numaslab/best: numaslab's median over the lowest of the peers (glibc, jemalloc, tcmalloc, mimalloc)."
	for note in "${notes[@]}"; do echo "- $note"; done
	echo
	hdr="| workload | threads |"
	sep="|---|---:|"
	for a in "${allocs[@]}"; do
		hdr+=" $a s | $a MiB |"
		sep+="---:|---:|"
	done
	echo "$hdr numaslab/best | best peer |"
	echo "$sep---:|---|"
	for w in $workloads; do
		for t in $threads; do
			line="| $w | $t |"
			best="" bestname="" ns=""
			for a in "${allocs[@]}"; do
				key=$w/$t/$a
				if [ -n "${failed[$key]:-}" ] || [ -z "${secs[$key]:-}" ]; then
					line+=" FAIL | - |"
					continue
				fi
				m=$(median "${secs[$key]}")
				line+=" $(printf '%.3f' "$m") | $(awk -v k="${rss[$key]}" 'BEGIN { printf "%.1f", k / 1024 }') |"
				if [ "$a" = numaslab ]; then
					ns=$m
				elif [ -z "$best" ] || awk -v x="$m" -v y="$best" 'BEGIN { exit !(x < y) }'; then
					best=$m bestname=$a
				fi
			done
			if [ -n "$ns" ] && [ -n "$best" ]; then
				line+=" $(awk -v x="$ns" -v y="$best" 'BEGIN { printf "%.2f", (y > 0 ? x / y : 0) }') | $bestname |"
			else
				line+=" - | ${bestname:--} |"
			fi
			echo "$line"
		done
	done
	if [ ${#failures[@]} -gt 0 ]; then
		echo
		echo "Failures:"
		for f in "${failures[@]}"; do echo "- $f"; done
	fi
} >"$table"

cat "$table"
if [ -n "$outfile" ]; then
	mkdir -p "$(dirname "$outfile")" && cp "$table" "$outfile" || status=1
fi
exit $status
