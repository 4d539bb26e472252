#!/bin/sh
# gen-config.sh - write numaslab's CMake package files at install time.
#
# Usage: gen-config.sh SRCDIR OUTDIR PREFIX LIBDIR INCLUDEDIR VERSION SIZEOF_VOID_P DEPLIBS
#
# OUTDIR is where they go (DESTDIR included); LIBDIR and INCLUDEDIR are
# the final, installed paths.  When both lie under PREFIX, the files
# record them relative to PREFIX and find PREFIX from their own place
# (LIBDIR/cmake/numaslab), so the installed tree can be moved; otherwise
# they record absolute paths.
set -eu
srcdir=$1 outdir=$2 prefix=$3 libdir=$4 includedir=$5 version=$6 voidp=$7 deps=$8

# The part of $1 below $prefix, or nothing when $1 is not below it.
below() {
	case $1 in
	"$prefix"/*) echo "${1#"$prefix"/}" ;;
	*) echo "" ;;
	esac
}

rel_lib=$(below "$libdir")
rel_inc=$(below "$includedir")
rel_prefix=""
if [ -n "$rel_lib" ] && [ -n "$rel_inc" ]; then
	# One ".." for each component of LIBDIR/cmake/numaslab below PREFIX.
	for _ in $(echo "$rel_lib/cmake/numaslab" | tr '/' ' '); do
		rel_prefix="$rel_prefix../"
	done
	rel_prefix=${rel_prefix%/}
	libdir=$rel_lib
	includedir=$rel_inc
fi

# sed replacement texts: escape \, & and the | delimiter.
esc() { printf '%s' "$1" | sed 's/[\\&|]/\\&/g'; }

for f in numaslab-config.cmake numaslab-config-version.cmake; do
	sed -e "s|@NSLAB_REL_PREFIX@|$(esc "$rel_prefix")|g" \
	    -e "s|@NSLAB_PREFIX@|$(esc "$prefix")|g" \
	    -e "s|@NSLAB_LIBDIR@|$(esc "$libdir")|g" \
	    -e "s|@NSLAB_INCLUDEDIR@|$(esc "$includedir")|g" \
	    -e "s|@NSLAB_VERSION@|$(esc "$version")|g" \
	    -e "s|@NSLAB_SIZEOF_VOID_P@|$(esc "$voidp")|g" \
	    -e "s|@NSLAB_DEP_LIBS@|$(esc "$deps")|g" \
	    "$srcdir/$f.in" >"$outdir/$f.tmp"
	mv "$outdir/$f.tmp" "$outdir/$f"
done
