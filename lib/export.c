/*
 * lib/export.c - the statistics segment /dev/shm/numaslab.<pid>, in the
 * layout of include/numaslab-stats.h, and the thread that refreshes it.
 *
 * Lifetime:
 *   init_locked -> nslab__export_start: options, the segment, its first
 *     update, the publisher thread.
 *   numaslab_fini and exit (an atexit hook) -> nslab__export_stop: the
 *     thread stopped and joined, the segment unlinked.
 *   a fork child -> nslab__export_fork_child: the parent's mapping is
 *     dropped (its name stays the parent's), and a new publisher thread
 *     makes the child's own segment at its first tick, so that a child
 *     that execs or _exits at once leaves nothing behind.
 *   The publisher quits when it is the last live thread (the main thread
 *   left through pthread_exit): it must not keep the process alive.
 *
 * Writer side of the sequence lock; the reader side is described in
 * numaslab-stats.h and done by tools/numaslab-stat.c.  An update builds
 * the snapshot in private memory first (taking the library's locks), so
 * that seq stays odd only for the memcpy into the segment.
 *
 * Locks:
 *   nslab_g.lock (level 1) is held by every update: writers of the
 *     segment are serialised, the cache list holds still, and it guards
 *     ex.seg, ex.snap, ex.bytes, ex.owner and ex.enabled.  The snapshot
 *     takes level-2 locks and the reserve pools' leaf locks under it.
 *   ex.lock is a leaf: it guards ex.stop and is the mutex the publisher
 *     sleeps on.  It is never held while another lock is taken.
 *   ex.thread / ex.running are written by start, stop and the fork child
 *     handler only, which the API serialises (numaslab_fini and exit must
 *     not race with other calls).
 */
#include "lib/internal.h"
#include "numaslab-stats.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* 0 compiles publishing out (no segment, no thread); the code stays
 * type-checked.  The in-process statistics are not affected. */
#ifndef NSLAB_STATS
#define NSLAB_STATS 1
#endif

#define DEFAULT_INTERVAL_MS 200u
#define MIN_INTERVAL_MS     10u
#define MAX_INTERVAL_MS     600000u
#define THREAD_STACK        (128u << 10)

/* The one fence the sequence lock needs, under a name like the others. */
#define nslab_fence_release() __atomic_thread_fence(__ATOMIC_RELEASE)

static struct {
    /* under nslab_g.lock */
    int enabled;                        /* publishing is on (NUMASLAB_STATS) */
    struct numaslab_stats_header *seg;  /* our mapping of the segment, NULL when none */
    struct numaslab_stats_header *snap; /* private snapshot, ex.bytes long */
    size_t bytes;
    long owner; /* pid whose name the segment has; 0: none */
    int told;   /* a failure to publish was reported */
    int asked;  /* NUMASLAB_STATS=1: a failure to publish is reported */
    /* set by start before the thread exists, read-only while it runs */
    unsigned interval_ms;
    int print_at_exit; /* NUMASLAB_STATS_PRINT=1 */
    /* under ex.lock */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    int stop;
    /* start, stop and the fork child handler only */
    pthread_t thread;
    int running;
} ex = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

/* ------------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------- */

/* "0" or "1"; anything else is reported and gives dflt. */
static int env_bool(const char *name, int dflt)
{
    const char *v = getenv(name);
    if (!v)
        return dflt;
    if (!strcmp(v, "0") || !strcmp(v, "1"))
        return v[0] == '1';
    nslab__report("numaslab: %s=\"%s\": not 0 or 1; using the default %d", name, v, dflt);
    return dflt;
}

static unsigned env_interval(void)
{
    const char *v = getenv("NUMASLAB_STATS_INTERVAL");
    char *end;
    if (!v)
        return DEFAULT_INTERVAL_MS;
    errno = 0;
    unsigned long ms = strtoul(v, &end, 10);
    if (*v < '0' || *v > '9' || errno || *end || ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) {
        nslab__report("numaslab: NUMASLAB_STATS_INTERVAL=\"%s\": not a number of milliseconds "
                      "in %u..%u; using the default %u",
                      v, MIN_INTERVAL_MS, MAX_INTERVAL_MS, DEFAULT_INTERVAL_MS);
        return DEFAULT_INTERVAL_MS;
    }
    return (unsigned)ms;
}

/* ------------------------------------------------------------------------
 * The segment
 * ---------------------------------------------------------------------- */

static void shm_name(char *buf, size_t n, long pid)
{
    snprintf(buf, n, NUMASLAB_STATS_SHM_FMT, pid);
}

/* Read /proc/self/stat; *state = field 3, *threads = field 20, *start =
 * field 22.  0 or -1.  The command name may hold spaces and parentheses:
 * the fields are counted from the last ')'. */
static int self_stat(char *state, long *threads, uint64_t *start)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return -1;
        if (field == 3 && state)
            *state = *p;
        else if (field == 20 && threads)
            *threads = strtol(p, NULL, 10);
        else if (field == 22 && start)
            *start = strtoull(p, NULL, 10);
        while (*p && *p != ' ')
            p++;
    }
    return 0;
}

/* Who we are, so that a reader can tell a stale segment (pid gone, pid
 * reused, program replaced by exec) from ours. */
static void fill_identity(struct numaslab_stats_header *h)
{
    struct stat st;
    h->pid = (int32_t)getpid();
    h->interval_ms = ex.interval_ms;
    if (self_stat(NULL, NULL, &h->start_time))
        h->start_time = 0;
    if (stat("/proc/self/exe", &st) == 0) {
        h->exe_dev = (uint64_t)st.st_dev;
        h->exe_ino = (uint64_t)st.st_ino;
    }
    int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, h->comm, sizeof(h->comm) - 1);
        close(fd);
        if (n > 0 && h->comm[n - 1] == '\n')
            n--;
        h->comm[n > 0 ? n : 0] = '\0';
    }
}

/* Make and map this process's segment; nslab_g.lock held.  The first
 * update (publish_locked) makes it readable: until then it is all zero
 * and seq is 0, which readers take for "not ready yet".  0 or -errno. */
static int seg_create(void)
{
    char name[48];
    long pid = (long)getpid();
    struct numaslab_stats_header lay;
    size_t bytes = nslab__stats_layout(&lay, nslab__stats_node_cap(),
                                       NSLAB_MAX_CACHES * (uint32_t)nslab_g.nactive);

    if (!ex.snap || ex.bytes != bytes) {
        free(ex.snap);
        ex.snap = calloc(1, bytes);
        ex.bytes = ex.snap ? bytes : 0;
        if (!ex.snap)
            return -ENOMEM;
    }
    fill_identity(&lay);
    lay.magic = NUMASLAB_STATS_MAGIC;
    *ex.snap = lay;

    shm_name(name, sizeof(name), pid);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 && errno == EEXIST) {
        /* The name has our pid: left by a killed process that had it
         * before us, or by this process before an exec.  Nobody alive
         * owns it but us. */
        shm_unlink(name);
        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    }
    if (fd < 0)
        return -errno;
    int rc = 0;
    void *m = MAP_FAILED;
    if (ftruncate(fd, (off_t)bytes) != 0)
        rc = -errno;
    else if ((m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
        rc = -errno;
    close(fd);
    if (rc) {
        shm_unlink(name);
        return rc;
    }
    ex.seg = m;
    ex.owner = pid;
    return 0;
}

/* Unmap, and unlink when the name is ours; nslab_g.lock held. */
static void seg_destroy(void)
{
    char name[48];
    if (ex.seg)
        munmap(ex.seg, ex.bytes);
    ex.seg = NULL;
    if (ex.owner && ex.owner == (long)getpid()) {
        shm_name(name, sizeof(name), ex.owner);
        shm_unlink(name);
    }
    ex.owner = 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One update; nslab_g.lock held, ex.seg mapped. */
static void publish_locked(void)
{
    struct numaslab_stats_header *seg = ex.seg, *s = ex.snap;
    const size_t fixed = offsetof(struct numaslab_stats_header, pid);

    nslab__stats_snapshot(s); /* the library's locks, before seq goes odd */
    s->update_ns = now_ns();
    s->updates++;

    uint64_t seq = nslab_load_relaxed(&seg->seq);
    nslab_add_relaxed(&seg->seq, 1); /* odd: an update is under way */
    /* The odd seq is visible before any byte below; partner: the acquire
     * fence a reader puts between its copy and its second read of seq. */
    nslab_fence_release();
    /* Readers copy while we write: a torn copy is what seq tells them to
     * throw away, and they validate every size before using it. */
    memcpy(seg, s, offsetof(struct numaslab_stats_header, seq));
    memcpy((char *)seg + fixed, (char *)s + fixed, sizeof(*s) - fixed);
    memcpy((char *)seg + s->node_off, (char *)s + s->node_off,
           (size_t)s->node_count * s->node_rec_size);
    memcpy((char *)seg + s->cache_off, (char *)s + s->cache_off,
           (size_t)s->cache_count * s->cache_rec_size);
    /* Even again, and every byte above visible first; partner: the
     * reader's acquire load of seq before its copy. */
    nslab_store_release(&seg->seq, seq + 2);
}

/* Publish now, making the segment if there is none; nslab_g.lock held.
 * 0 or -errno.  The first failure of the process is reported when
 * statistics were asked for (NUMASLAB_STATS=1, or numaslab_stats_publish:
 * asked); a process left to the default stays silent, so that a machine
 * without /dev/shm does not print a line for every program. */
static int update_locked(int asked)
{
    int rc = 0;
    if (!nslab_g.ready)
        return -EINVAL;
    if (!ex.enabled)
        return -ENOTSUP;
    if (!ex.seg && (rc = seg_create()) != 0) {
        if (!ex.told && (asked || ex.asked)) {
            ex.told = 1;
            nslab__report("numaslab: cannot publish statistics in %s/%s%ld: %s "
                          "(NUMASLAB_STATS=0 turns publishing off)",
                          NUMASLAB_STATS_DIR, NUMASLAB_STATS_PREFIX, (long)getpid(), strerror(-rc));
        }
        return rc;
    }
    publish_locked();
    return 0;
}

int numaslab_stats_publish(void)
{
    int rc = nslab__init();
    if (rc)
        return rc;
    pthread_mutex_lock(&nslab_g.lock);
    rc = update_locked(1);
    pthread_mutex_unlock(&nslab_g.lock);
    return rc;
}

/* ------------------------------------------------------------------------
 * The publisher thread
 * ---------------------------------------------------------------------- */

/* The main thread has left through pthread_exit and no other thread but
 * us is alive: the process would live on only for our sake. */
static int last_thread(void)
{
    char state = 0;
    long threads = 0;
    /* The zombie leader still counts in num_threads. */
    return self_stat(&state, &threads, NULL) == 0 && state == 'Z' && threads <= 2;
}

static void *publisher(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&ex.lock);
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += ex.interval_ms / 1000;
        until.tv_nsec += (long)(ex.interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!ex.stop && pthread_cond_timedwait(&ex.cond, &ex.lock, &until) != ETIMEDOUT)
            ;
        if (ex.stop)
            break;
        pthread_mutex_unlock(&ex.lock); /* a leaf: not held across the update */
        if (last_thread())
            return NULL; /* the process exits (exit(0)); the atexit hook cleans up */
        pthread_mutex_lock(&nslab_g.lock);
        update_locked(0);
        pthread_mutex_unlock(&nslab_g.lock);
        pthread_mutex_lock(&ex.lock);
    }
    pthread_mutex_unlock(&ex.lock);
    return NULL;
}

static void thread_start(void)
{
    pthread_attr_t attr;
    sigset_t all, old;
    int rc;

    ex.stop = 0;
    /* Every signal blocked: a process-directed signal must go to the
     * application's threads, which may be waiting for it. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    rc = pthread_create(&ex.thread, &attr, publisher, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        nslab__report("numaslab: cannot start the statistics publisher thread (%s); the "
                      "segment is refreshed by numaslab_stats_publish() only",
                      strerror(rc));
        return;
    }
    pthread_setname_np(ex.thread, "numaslab-stats");
    ex.running = 1;
}

static void thread_stop(void)
{
    if (!ex.running)
        return;
    pthread_mutex_lock(&ex.lock);
    ex.stop = 1;
    pthread_cond_signal(&ex.cond);
    pthread_mutex_unlock(&ex.lock);
    if (pthread_equal(pthread_self(), ex.thread))
        pthread_detach(ex.thread); /* exit() run by the last thread, ours */
    else
        pthread_join(ex.thread, NULL);
    ex.running = 0;
}

/* ------------------------------------------------------------------------
 * Start, stop, exit, fork
 * ---------------------------------------------------------------------- */

static void cond_init(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ex.cond, &ca);
    pthread_condattr_destroy(&ca);
}

/* Normal exit: the tables if asked, then no segment left behind. */
static void export_atexit(void)
{
    if (ex.print_at_exit && nslab_load_acquire(&nslab_g.ready))
        numaslab_stats_print(stderr);
    nslab__export_stop();
}

static void ex_once_init(void)
{
    cond_init();
    atexit(export_atexit);
}

void nslab__export_start(void)
{
    pthread_once(&ex_once, ex_once_init);
    ex.print_at_exit = env_bool("NUMASLAB_STATS_PRINT", 0);
    ex.interval_ms = env_interval();
    ex.enabled = env_bool("NUMASLAB_STATS", 1) && NSLAB_STATS;
    ex.asked = getenv("NUMASLAB_STATS") && !strcmp(getenv("NUMASLAB_STATS"), "1");
    if (!ex.enabled || ex.running)
        return;
    /* The segment is there, complete, when initialisation returns. */
    if (update_locked(0) == 0)
        thread_start();
}

void nslab__export_stop(void)
{
    thread_stop();
    pthread_mutex_lock(&nslab_g.lock);
    ex.enabled = 0;
    seg_destroy();
    free(ex.snap);
    ex.snap = NULL;
    ex.bytes = 0;
    pthread_mutex_unlock(&nslab_g.lock);
}

void nslab__export_fork_child(void)
{
    /* Only the forking thread lives on: the publisher is gone, and it may
     * have held ex.lock at the fork. */
    pthread_mutex_init(&ex.lock, NULL);
    cond_init();
    ex.running = 0;
    pthread_mutex_lock(&nslab_g.lock);
    if (ex.seg)
        munmap(ex.seg, ex.bytes); /* the parent's; so is its name */
    ex.seg = NULL;
    ex.owner = 0;
    ex.told = 0;
    int go = ex.enabled && nslab_g.ready;
    pthread_mutex_unlock(&nslab_g.lock);
    if (go)
        thread_start();
}
