#!/bin/sh
# bench/ab-compare.sh - two builds of bench-numaslab in turn, same machine,
# same hour: the median of ROUNDS runs of each, ns per object and thread.
#
#   bench/ab-compare.sh OLD_BINARY NEW_BINARY [ROUNDS]
#
# OLD_BINARY and NEW_BINARY are bench/bench-numaslab of two build trees
# (each finds its own library through its run path).  Prints one line per
# workload: its name with the thread count, old, new, new / old.
set -eu
old=$1 new=$2 rounds=${3:-5}
filter='^(pair|live)/numaslab/size:64/|^(batch|xfree|ring)/numaslab/'
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
	for v in old new; do
		eval bin=\$$v
		"$bin" --benchmark_filter="$filter" --benchmark_min_time=0.3 2>/dev/null |
			awk -v v="$v" '/items_per_second=/ {
				n = $1; sub(/.*threads:/, "", n)
				ips = $NF; sub(/items_per_second=/, "", ips)
				m = 1
				if (ips ~ /G\/s/) { sub(/G\/s/, "", ips); m = 1e9 }
				else if (ips ~ /M\/s/) { sub(/M\/s/, "", ips); m = 1e6 }
				else if (ips ~ /k\/s/) { sub(/k\/s/, "", ips); m = 1e3 }
				split($1, p, "/")
				printf "%s %s/%s %.3f\n", v, p[1], n, n * 1e9 / (ips * m)
			}' >>"$tmp"
	done
	i=$((i + 1))
done
sort -k2,2 -k1,1 -k3,3n "$tmp" | awk '
	{ k = $2; v[$1 "," k, ++c[$1 "," k]] = $3; keys[k] = 1 }
	function med(who, k,   n) { n = c[who "," k]; return n ? v[who "," k, int((n + 1) / 2)] : 0 }
	END {
		for (k in keys) {
			o = med("old", k); n = med("new", k)
			printf "%-12s %9.2f %9.2f %7.2f\n", k, o, n, o ? n / o : 0
		}
	}' | sort >"$tmp.out"
printf '%-12s %9s %9s %7s\n' workload old new new/old
cat "$tmp.out"
rm -f "$tmp.out"
