# tests/numa-vm/local.mk - included by the top-level Makefile.am
#
# make check-numa: the tests that need several NUMA nodes, run inside QEMU
# guests whose topology is real to the kernel (ACPI SRAT/SLIT), one guest
# per topology of numa-vm.sh.  Not part of make check: it needs QEMU and a
# Debian kernel image, which check-numa.sh installs and fetches (as root
# the first time, for apt-get).  The results go to the terminal, the whole
# guest output to tests/numa-vm/<topology>.log.

# Only the guest runs it, so only check-numa builds it.
EXTRA_PROGRAMS += tests/numa-vm/test-policy
tests_numa_vm_test_policy_SOURCES = tests/numa-vm/test-policy.c
tests_numa_vm_test_policy_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests $(NUMA_CFLAGS)
tests_numa_vm_test_policy_CFLAGS = $(NSLAB_TCFLAGS)
tests_numa_vm_test_policy_LDADD = $(NSLAB_TEST_LIBS)
tests_numa_vm_test_policy_LDFLAGS = $(NSLAB_TLDFLAGS)

# libnumaslab-malloc's placement under numactl, run with LD_PRELOAD.
EXTRA_PROGRAMS += tests/numa-vm/test-dropin-policy
tests_numa_vm_test_dropin_policy_SOURCES = tests/numa-vm/test-dropin-policy.c
tests_numa_vm_test_dropin_policy_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests $(NUMA_CFLAGS)
tests_numa_vm_test_dropin_policy_CFLAGS = $(AM_CFLAGS) -pthread
tests_numa_vm_test_dropin_policy_LDADD = $(NUMA_LIBS) -ldl -lpthread
tests_numa_vm_test_dropin_policy_LDFLAGS = -no-install

EXTRA_DIST += tests/numa-vm/numa-vm.sh tests/numa-vm/guest-suite.sh \
	tests/numa-vm/check-numa.sh
CLEANFILES += tests/numa-vm/*.log

# make check-numa NUMAVM_TOPOLOGIES=two runs one of them.
NUMAVM_TOPOLOGIES = mixed two

check-numa: $(check_PROGRAMS) $(bin_PROGRAMS) tests/numa-vm/test-policy$(EXEEXT) \
	  tests/numa-vm/test-dropin-policy$(EXEEXT) libnumaslab-malloc.la
	@$(SHELL) $(srcdir)/tests/numa-vm/check-numa.sh \
	  --srcdir '$(abs_top_srcdir)' --topologies '$(NUMAVM_TOPOLOGIES)' -- \
	  $(check_PROGRAMS) $(bin_PROGRAMS) tests/numa-vm/test-policy$(EXEEXT) \
	  tests/numa-vm/test-dropin-policy$(EXEEXT) .libs/libnumaslab-malloc.so
.PHONY: check-numa
