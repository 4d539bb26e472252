#!/usr/bin/env bash
# setup.sh - from a fresh Debian 12 machine to a built numaslab and a run
# of its demo, in this directory (an in-tree build, so that `make check`
# can follow here).  Runs as root, or through sudo when that exists.
# Safe to run again: packages already installed are not fetched again,
# and autoreconf / configure / make simply redo their work.
set -Eeuo pipefail

cd "$(dirname "$0")"

step=""
fail() {
    echo "setup.sh: FAILED at step: ${step:-?}" >&2
    if [ $# -gt 0 ]; then
        echo "setup.sh: $*" >&2
    fi
    exit 1
}
trap 'fail "command \"$BASH_COMMAND\" exited with status $?"' ERR

packages=(build-essential autoconf automake libtool pkg-config libnuma-dev libhwloc-dev libhwloc-plugins
          numactl hwloc-nox libbenchmark-dev valgrind
          qemu-system-x86 busybox-static cpio xz-utils
          openmpi-bin libopenmpi-dev cmake
          python3 git)

# ---- packages ------------------------------------------------------------
step="install packages"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo -n)
    else
        fail "not root and sudo is not installed: run as root, or install: ${packages[*]}"
    fi
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup.sh: installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update \
        || fail "apt-get update failed (no network or no Debian mirror?)"
    "${SUDO[@]}" apt-get install -y --no-install-recommends "${packages[@]}" \
        || fail "apt-get install failed"
else
    echo "setup.sh: all packages already installed"
fi

# ---- build ---------------------------------------------------------------
step="autoreconf -fi"
echo "setup.sh: $step"
autoreconf -fi || fail "autoreconf failed"

step="./configure"
echo "setup.sh: $step"
./configure || fail "configure failed (see config.log)"

step="make -j$(nproc)"
echo "setup.sh: $step"
make -j"$(nproc)" || fail "the build failed"

# ---- demo ----------------------------------------------------------------
step="./tools/numaslab-demo"
echo "setup.sh: $step"
./tools/numaslab-demo || fail "the demo reported a problem (exit status $?)"

echo "setup.sh: done. Next: make check"
