/*
 * numa/bind.c - pages bound to one node, and the kernel's word on where a
 * page lives.
 *
 * Every chunk lib/ maps comes from nslab__pages_map: anonymous memory,
 * mbind(MPOL_BIND) to exactly one node, then faulted in at once.  Binding
 * is strict on purpose.  libnuma's numa_alloc_onnode reports a failed mbind
 * (a memory-less node) on stderr and returns the memory anyway, unbound, so
 * its pages land wherever the first touch happens; we return NULL instead
 * and let lib/ pick another node.  Faulting in at map time moves "this node
 * is full" from a SIGBUS or an OOM kill at first touch to an ENOMEM here.
 *
 * No state but the cached page size; every function is thread-safe.
 */
#include "config.h" /* _GNU_SOURCE: mremap */

#include "numa/numa.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <numaif.h>

/* Linux 5.14; glibc headers before 2.35 lack it. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define ULONG_BITS (8 * sizeof(unsigned long))
#define MASK_BITS  (64 * NSLAB_MASK_WORDS)

/*
 * sysconf(_SC_PAGESIZE), read once.  Racing first callers store the same
 * value, so relaxed atomics suffice; they only keep the race defined.
 * Returns the page size in bytes (4096 should sysconf ever fail).
 */
size_t nslab__page_size(void)
{
    static size_t cached;
    size_t ps = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (ps == 0) {
        long v = sysconf(_SC_PAGESIZE);
        ps = v > 0 ? (size_t)v : 4096;
        __atomic_store_n(&cached, ps, __ATOMIC_RELAXED);
    }
    return ps;
}

/* Write one byte per page: the fault-in of kernels without
 * MADV_POPULATE_WRITE.  A node out of memory then means the OOM killer,
 * not an error return; nothing better exists there. */
static void touch_pages(void *p, size_t size, size_t page)
{
    volatile char *c = p;
    for (size_t off = 0; off < size; off += page)
        c[off] = 0;
}

/*
 * size bytes (a non-zero multiple of the page size) on node, bound with
 * MPOL_BIND and faulted in, at an address that is a multiple of align (a
 * power of two, at least the page size).  huge: offered to transparent
 * huge pages (MADV_HUGEPAGE) before the fault-in, so that the kernel
 * faults 2 MiB pages where it has them.  Returns the memory, or NULL with
 * errno:
 *   EINVAL  node is negative or beyond the mask width, size is not a page
 *           multiple, align not a power of two, or the kernel refused the
 *           node (absent, memory-less, outside the cpuset);
 *   ENOMEM  the mapping failed, or the node has no free memory for it.
 * May block in page reclaim.  Thread-safe.
 */
/* Address space for size bytes at a multiple of align (at least a page),
 * nothing faulted in: over-mapped by align less a page, ends cut off.
 * NULL when the kernel has no room. */
static char *reserve_span(size_t size, size_t align, size_t page, int prot, int extra)
{
    size_t span = size + align - page;
    char *p = mmap(NULL, span, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (align > page) {
        char *a = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
        if (a > p)
            munmap(p, (size_t)(a - p));
        if (a + size < p + span)
            munmap(a + size, (size_t)(p + span - (a + size)));
        p = a;
    }
    return p;
}

/* Set once by nslab__pages_simulate before the first mapping, read only
 * after: a simulated machine's node ids are not this kernel's. */
static int simulated;

void nslab__pages_simulate(int on)
{
    simulated = on;
}

/* Bind [p, p+size) to node.  0, or an errno value.  On a simulated
 * machine nothing is bound: the pages are this machine's, wherever its
 * kernel puts them. */
static int bind_only(int node, char *p, size_t size)
{
    unsigned long mask[MASK_BITS / ULONG_BITS] = {0};
    mask[(unsigned)node / ULONG_BITS] = 1UL << ((unsigned)node % ULONG_BITS);
    /* maxnode is one more than the bits passed: the kernel drops the last
     * bit (a historical off-by-one that libnuma compensates the same way).
     * MPOL_MF_STRICT fails rather than leave a page elsewhere. */
    if (!simulated && mbind(p, size, MPOL_BIND, mask, MASK_BITS + 1, MPOL_MF_STRICT) != 0) {
        int e = errno;
        /* A kernel without NUMA has one node, 0, and no mbind: all its
         * memory is on the node asked for. */
        if (!(e == ENOSYS && node == 0))
            return (e == EINVAL || e == ENOSYS) ? EINVAL : ENOMEM;
    }
    return 0;
}

/* Fault [p, p+size) in, for writing, where its policy says.  0 or ENOMEM. */
static int fill(char *p, size_t size, size_t page)
{
    if (madvise(p, size, MADV_POPULATE_WRITE) != 0) {
        if (errno != EINVAL)
            /* ENOMEM: the node is full; EFAULT: a fault failed (SIGBUS
             * territory); EINTR: a fatal signal is pending.  None leaves
             * usable memory. */
            return ENOMEM;
        /* Before Linux 5.14 the advice is unknown. */
        touch_pages(p, size, page);
    }
    return 0;
}

/* Bind [p, p+size) to node and fault it in.  0, or an errno value (the
 * range is left to the caller to unmap). */
static int bind_fill(int node, char *p, size_t size, size_t page, int huge)
{
    int e = bind_only(node, p, size);
    if (e)
        return e;
    if (huge)
        nslab__pages_advise_huge(p, size);
    return fill(p, size, page);
}

void *nslab__pages_map_aligned(int node, size_t size, size_t align, int huge)
{
    size_t page = nslab__page_size();
    if (align < page)
        align = page;
    if (node < 0 || node >= MASK_BITS || size == 0 || size % page != 0 ||
        (align & (align - 1)) != 0 || size > SIZE_MAX - align) {
        errno = EINVAL;
        return NULL;
    }
    char *p = reserve_span(size, align, page, PROT_READ | PROT_WRITE, 0);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    int e = bind_fill(node, p, size, page, huge);
    if (e) {
        munmap(p, size);
        errno = e;
        return NULL;
    }
    return p;
}

/* reserve_span with its arguments checked: NULL with errno EINVAL or
 * ENOMEM.  prot: the mapping's protection; extra: more mmap flags. */
static char *reserve_checked(size_t size, size_t align, int prot, int extra)
{
    size_t page = nslab__page_size();
    if (align < page)
        align = page;
    if (size == 0 || size % page != 0 || (align & (align - 1)) != 0 || size > SIZE_MAX - align) {
        errno = EINVAL;
        return NULL;
    }
    char *p = reserve_span(size, align, page, prot, extra);
    if (!p)
        errno = ENOMEM;
    return p;
}

void *nslab__pages_reserve(size_t size, size_t align)
{
    return reserve_checked(size, align, PROT_READ | PROT_WRITE, 0);
}

void *nslab__pages_reserve_lazy(size_t size, size_t align)
{
    /* No access first: a process under mlockall(MCL_FUTURE) faults in
     * nothing of it (the kernel skips what cannot be accessed), and
     * turning it readable after faults nothing in either. */
    char *p = reserve_checked(size, align, PROT_NONE, MAP_NORESERVE);
    if (!p)
        return NULL;
#ifdef MADV_HUGEPAGE
    /* What is never written may take the kernel's huge zero page: a
     * read there, mlockall(MCL_CURRENT) above all, then costs one page
     * table entry per 2 MiB, not 512. */
    madvise(p, size, MADV_HUGEPAGE);
#endif
    /* Readable, not writable: a read sees zeros, and what mlockall
     * faults in of it is the zero page, not memory.  nslab__pages_open
     * makes writable what is used. */
    if (mprotect(p, size, PROT_READ) != 0) {
        munmap(p, size);
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

int nslab__pages_open(void *p, size_t size)
{
#ifdef MADV_NOHUGEPAGE
    /* First, so that nothing is written there before: its chunks are
     * faulted in a few pages at a time and counted so, and a 2 MiB page
     * behind a 64 KiB chunk would be memory nobody counted. */
    if (madvise(p, size, MADV_NOHUGEPAGE) != 0)
        return -ENOMEM;
#endif
    return mprotect(p, size, PROT_READ | PROT_WRITE) != 0 ? -ENOMEM : 0;
}

int nslab__pages_bind(int node, void *p, size_t size)
{
    size_t page = nslab__page_size();
    if (node < 0 || node >= MASK_BITS || size == 0 || size % page != 0 || (uintptr_t)p % page != 0)
        return -EINVAL;
    return -bind_only(node, p, size);
}

int nslab__pages_fill(void *p, size_t size)
{
    return -fill(p, size, nslab__page_size());
}

int nslab__pages_discard(void *p, size_t size)
{
    if (madvise(p, size, MADV_DONTNEED) == 0)
        return 0;
    int e = errno;
    memset(p, 0, size); /* locked: the pages stay, and read as zeros all the same */
    return -e;
}

int nslab__pages_remap(int node, void *p, size_t size, void *q, size_t newsize, int huge)
{
    size_t page = nslab__page_size();
    char *to = q;
    int e = EINVAL;
    /* The new part first: when it cannot be had, nothing has moved.  The
     * old pages keep their binding when they move. */
    if (node >= 0 && node < MASK_BITS && size < newsize && size % page == 0 &&
        (e = bind_fill(node, to + size, newsize - size, page, huge)) == 0 &&
        mremap(p, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to) == MAP_FAILED)
        e = ENOMEM;
    if (e) {
        munmap(q, newsize);
        return -e;
    }
    if (huge)
        nslab__pages_advise_huge(q, size);
    return 0;
}

void *nslab__pages_map(int node, size_t size)
{
    return nslab__pages_map_aligned(node, size, 0, 0);
}

/* Offer [p, p+size) to transparent huge pages.  A kernel without THP
 * refuses the advice (EINVAL); that is no error: the pages stay small.
 * Returns 1 when the kernel took it.  Thread-safe. */
int nslab__pages_advise_huge(void *p, size_t size)
{
#ifdef MADV_HUGEPAGE
    return madvise(p, size, MADV_HUGEPAGE) == 0;
#else
    (void)p;
    (void)size;
    return 0;
#endif
}

/* Unmap what nslab__pages_map returned (same size).  Thread-safe. */
void nslab__pages_unmap(void *p, size_t size)
{
    if (p)
        munmap(p, size);
}

/*
 * The node holding the page at p, as the kernel sees it; an unfaulted page
 * is faulted in (read) by the query.  Returns the node id, or -errno
 * (-EFAULT: p is not mapped; -ENOSYS: a kernel without NUMA).
 * Thread-safe.
 */
int nslab__page_node_kernel(const void *p)
{
    int node = -1;
    if (get_mempolicy(&node, NULL, 0, (void *)(uintptr_t)p, MPOL_F_NODE | MPOL_F_ADDR) != 0)
        return -errno;
    return node;
}

/* The CPU this thread runs on now (it may move at once), or -1 when the
 * kernel cannot tell.  Thread-safe. */
int nslab__cpu_current(void)
{
    return sched_getcpu();
}
