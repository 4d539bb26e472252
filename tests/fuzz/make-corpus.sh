#!/bin/sh
# tests/fuzz/make-corpus.sh - write the seed corpus of fuzz-ops.c into
# tests/fuzz/corpus/ (or the folder given): a dozen small inputs, each a
# sequence of operations in the encoding fuzz-ops.c reads.  The corpus also
# keeps inputs the fuzzer found, which this script does not write:
# remote-counts-1 to -3 made a cache's objects in use exceed its slabs'
# total (remote frees counted by their freers after the owner had given
# the emptied slab back; the figures now show at most the slabs' room).
#
# Encoding (fuzz-ops.c is the reference): one byte operation, then its
# arguments, each one byte unless said:
#   target  odd k: cache (k >> 1) % 3 (0 fuzz-a, 1 fuzz-b ctor, 2 fuzz-c
#           one-page slabs); even k: a size in 2 bytes v, little endian
#           (v < 0x8000: v % 257; v = 0xc000 | (n - 1): n up to 8192;
#           v = 0xe000 | i: 8193 + 16 i, whole pages)
#   flags   bit 0 NUMASLAB_ZERO, bit 1 NUMASLAB_THISNODE
#   node    index into the node table: 0 is -1 (local), 1 the first
#           active node, then the other active nodes, inactive ids, and
#           invalid ids (-2, INT_MAX, ...) at the end
#   pool    (w % 4) - 1: -1 NULL (node reserve), 0 element pool, 1 pool
#           of 64 KiB pages, 2 pool of single pages; bit 2: CRITICAL
set -eu

dir=${1:-$(dirname "$0")/corpus}
mkdir -p "$dir"

# Operations, as enum in fuzz-ops.c.
ALLOC=0 ALLOC_NODE=1 CRITICAL=2 POOL_BACKED=3 ALLOC_REMOTE=4 BURST=5 ELEM=6 RESIZE=7
FREE=8 FREE_REMOTE=9 FREE_MANY=10 FAULT=11 FLUSH=12 VERIFY=13 DESTROY=14
# Fault settings: 0 off, 1 after=0, 2 after=1, 3 after=3, 4 prob=0.5, 5 prob=0.9,
# 6 after=0,node=0, 7 after=2,node=1.
# Targets.
CA=1 CB=3 CC=5
# Calls for BURST.
PLAIN=0 NODE=1 MEMPOOL=2

b() {
    for x in "$@"; do
        # shellcheck disable=SC2059
        printf "\\$(printf %03o "$x")"
    done
}
size() {  # an even target byte, then the size
    if [ "$1" -le 256 ]; then
        b 0 "$1" 0
    else
        b 0 $((($1 - 1) & 255)) $((0xc0 | (($1 - 1) >> 8)))
    fi
}
large() { b 0 $(($1 & 255)) $((0xe0 | (($1 >> 8) & 0x1f))); }  # 8193 + 16 * $1

seed() {
    name=$1
    shift
    "$@" >"$dir/$name"
}

s_alloc_free() {
    for n in 1 8 24 64 100 255 0; do b $ALLOC; size $n; b 0; done
    b $VERIFY
    for i in 0 1 2 3 4 5 6; do b $FREE $i 0 0; done
}
s_caches() {
    b $ALLOC $CA 0 $ALLOC $CB 0 $ALLOC $CC 1 $ALLOC $CB 1
    b $FREE 0 0 1 $FREE 0 0 0 $FREE 1 0 1 $FREE 0 0 1
    b $FLUSH 2
}
s_nodes() {
    for n in 0 1 2 3 4 5 6 7 8 9 10 11 12; do
        b $ALLOC_NODE; size 48; b 0 $n
        b $ALLOC_NODE; size 48; b 2 $n
        b $ALLOC_NODE $CA 2 $n
    done
    b $FLUSH 2 $FREE_MANY 0 0
}
s_large() {
    b $ALLOC; large 100; b 1
    b $ALLOC_NODE; large 3000; b 2 1
    b $ALLOC_NODE; large 2; b 0 12
    b $VERIFY $FREE 0 0 0 $FREE 0 0 0 $FLUSH 2
}
s_critical() {
    b $BURST 20 $NODE; size 8192; b 0 1 0      # ordinary, on the first active node
    b $FAULT 1
    b $BURST 60 $NODE; size 8192; b 0 0 0      # what the slabs hold, then ENOMEM
    b $BURST 40 $MEMPOOL; size 8192; b 0 0 4 0 # critical, NULL pool: the node reserve
    b $CRITICAL; size 8000; b 0 1
    b $CRITICAL $CB 0 0 $CRITICAL $CC 0 0
    b $FLUSH 2 $FAULT 0 $FREE_MANY 0 1
}
s_pool_backed() {
    b $FAULT 1
    for p in 0 1 2 3 4 5 6 7; do
        b $POOL_BACKED; size 4000; b 0 1 $p
        b $POOL_BACKED $CC 0 1 $p
        b $POOL_BACKED $CA 1 0 $p
    done
    b $BURST 20 $MEMPOOL $CC 0 1 2 0
    b $FAULT 0 $FLUSH 2 $FREE_MANY 1 0
}
s_mempool() {
    b $ELEM 0 $ELEM 1 $ELEM 2 $ELEM 14 $RESIZE 7 $ELEM 1 $FAULT 1 $ELEM 0 $ELEM 0
    b $RESIZE 0 $ELEM 1 $ELEM 0 $FAULT 0 $ELEM 0 $DESTROY 3 $FREE_MANY 0 0 $DESTROY 3
}
s_remote() {
    b $ALLOC_REMOTE; size 64; b 0 0
    b $ALLOC_REMOTE $CB 0 1
    b $ALLOC; size 64; b 0
    b $FREE_REMOTE 0 0 0 $FREE_REMOTE 0 0 1 $FLUSH 1
    b $BURST 30 $NODE $CA 0 0 1
    b $FREE_MANY 1 2 $FLUSH 2
}
s_destroy() {
    b $ALLOC $CA 0 $ALLOC $CC 0 $DESTROY 0 $DESTROY 2 $DESTROY 1
    b $FREE 0 0 1 $FREE 0 0 0 $DESTROY 0 $DESTROY 2 $ALLOC $CA 0 $DESTROY 0
}
s_burst() {
    b $BURST 63 $PLAIN; size 128; b 0 0
    b $BURST 63 $PLAIN $CC 0 0
    b $FREE_MANY 2 0 $FLUSH 0
    b $BURST 63 $NODE; size 2000; b 1 1 1
    b $VERIFY $FREE_MANY 0 3
}
s_fault_prob() {
    b $FAULT 4
    b $BURST 50 $NODE; size 4096; b 0 0 0
    b $BURST 50 $NODE $CB 0 1 0
    b $FAULT 5 $CRITICAL; size 100; b 0 1
    b $FAULT 2 $BURST 30 $PLAIN $CA 0 0
    b $FAULT 0 $FLUSH 2
}
s_mixed() {
    b $ALLOC; size 16; b 1
    b $FAULT 3 $ALLOC_NODE $CB 1 1 $FAULT 6
    b $POOL_BACKED; size 640; b 2 1 2
    b $ALLOC_REMOTE; large 700; b 0 1
    b $ELEM 2 $FREE 1 0 0 $FREE_REMOTE 2 0 0 $FAULT 0 $FLUSH 2 $VERIFY
}

seed alloc-free s_alloc_free
seed caches s_caches
seed nodes s_nodes
seed large s_large
seed critical s_critical
seed pool-backed s_pool_backed
seed mempool s_mempool
seed remote s_remote
seed destroy s_destroy
seed burst s_burst
seed fault-prob s_fault_prob
seed mixed s_mixed
echo "make-corpus: $(ls "$dir" | wc -l) inputs in $dir"
