#!/bin/sh
# guest-mpi.sh - inside a numa-vm.sh guest (busybox sh): run PROGRAM [ARG]...
# under Open MPI's launcher ($MPIRUN), two ranks, one per NUMA node, bound
# there.  Used by check-examples.sh; the launcher and its plugins are
# shipped by the caller.
#
# The guest has a loopback interface and no host name; Open MPI needs the
# one up and the other set, and no ssh for a job on one host.
#
# SPDX-License-Identifier: BSD-2-Clause
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
hostname numavm 2>/dev/null || echo numavm >/proc/sys/kernel/hostname
mkdir -p /tmp /root
export HOME=/root TMPDIR=/tmp PATH=/usr/bin:/bin:/usr/sbin:/sbin
export OMPI_MCA_plm_rsh_agent=false
exec "${MPIRUN:-/usr/bin/orterun}" --allow-run-as-root --oversubscribe -np 2 \
	--bind-to numa --map-by numa --report-bindings \
	--mca btl self,vader --mca btl_vader_single_copy_mechanism none "$@"
