/*
 * test-dropin - libnumaslab-malloc at the edges of the C and POSIX calls,
 * and in the life of a process (numaslab-malloc(3)).  The program links
 * no numaslab library and runs itself under LD_PRELOAD:
 *   - the native calls (numaslab_max_node first of all, caches, resize,
 *     flush, numaslab_stats_print) work beside malloc without deadlock;
 *   - malloc is numaslab's (numaslab_ptr_node knows the objects), on the
 *     thread's local node; what numaslab's own code allocates while it
 *     runs (a stream numaslab_stats_print writes to) is the C library's;
 *   - malloc(0), free(NULL), malloc(SIZE_MAX); calloc zeroes reused
 *     memory and refuses n * size overflow with ENOMEM;
 *   - realloc grows and shrinks across size classes, into large objects
 *     and back, contents kept; realloc(p, 0) frees; reallocarray refuses
 *     overflow and keeps the object;
 *   - posix_memalign, aligned_alloc, memalign at 8 B ... 1 MiB alignment,
 *     valloc, pvalloc: aligned, usable for what was asked; bad alignments
 *     refused as the C library does; errno kept by successful calls;
 *   - malloc_usable_size >= the size asked, every usable byte writable;
 *   - threads: objects freed by another thread, 200 threads one after the
 *     other, a thread-specific destructor that allocates after the
 *     library's own one ran;
 *   - fork while other threads allocate (the child allocates, frees the
 *     parent's objects, exits cleanly), fork + exec, dlopen/dlclose,
 *     allocation in an atexit handler;
 *   - in children of their own: a second free of another thread's object
 *     is refused and reported, its neighbour freed after it with no word;
 *     numaslab started inside setenv (the program's first allocation)
 *     returns.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "dropin.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>

static size_t usable(void *p)
{
    return malloc_usable_size(p);
}

/* Sizes the compiler cannot see, so that it lets the calls through. */
static volatile size_t v_max = SIZE_MAX, v_half = SIZE_MAX / 2, v_big = (size_t)1 << 33;
static volatile size_t v_24 = 24, v_huge_align = SIZE_MAX / 2 + 2;

/* The native calls, found with dlsym (the program links no numaslab
 * library), made before and among malloc calls: none may deadlock or
 * recurse (each would re-enter numaslab's locks through malloc). */
static void native_calls(void)
{
    tu_case("native calls under the drop-in");
/* typeof takes the prototype from numaslab.h without referring to the
 * symbol: the function comes from the drop-in, by dlsym. */
#define NATIVE(name) __typeof__(&name) n_##name = (__typeof__(&name))dlsym(RTLD_DEFAULT, #name)
    NATIVE(numaslab_max_node);
    NATIVE(numaslab_cache_create);
    NATIVE(numaslab_cache_alloc);
    NATIVE(numaslab_cache_free);
    NATIVE(numaslab_cache_destroy);
    NATIVE(numaslab_alloc);
    NATIVE(numaslab_realloc);
    NATIVE(numaslab_free);
    NATIVE(numaslab_thread_flush);
    NATIVE(numaslab_stats_print);
#undef NATIVE
    REQUIRE(n_numaslab_max_node && n_numaslab_cache_create && n_numaslab_cache_alloc &&
                n_numaslab_cache_free && n_numaslab_cache_destroy && n_numaslab_alloc &&
                n_numaslab_realloc && n_numaslab_free && n_numaslab_thread_flush &&
                n_numaslab_stats_print,
            "the drop-in does not export the native calls");
    alarm(60); /* a deadlock fails the test */
    CHECK(n_numaslab_max_node() >= 0, "numaslab_max_node as the process's first numaslab call");
    numaslab_cache_t *c = n_numaslab_cache_create("dropin-native", 100, 0, 0, NULL);
    void *o = c ? n_numaslab_cache_alloc(c, 0) : NULL;
    char *p = n_numaslab_alloc(50, 0), *q = p ? n_numaslab_realloc(p, 5000, 0) : NULL;
    char *m = malloc(300);
    CHECK(c && o && q && m, "a cache, its object, numaslab_alloc + numaslab_realloc, malloc");
    if (o)
        n_numaslab_cache_free(c, o);
    n_numaslab_free(q);
    free(m);
    n_numaslab_thread_flush();
    CHECK(c && n_numaslab_cache_destroy(c) == 0, "the cache is destroyed");
    FILE *f = tmpfile();
    CHECK(f && n_numaslab_stats_print(f) == 0 && ftell(f) > 0,
          "numaslab_stats_print writes (%ld bytes)", f ? ftell(f) : -1L);
    if (f)
        fclose(f);
    alarm(0);
}

static void served(void)
{
    tu_case("malloc served by numaslab");
    void *p = malloc(24), *q = malloc(100000);
    CHECK(dropin_serves(p) && dropin_serves(q), "malloc(24) and malloc(100000) are numaslab's");
    int (*local)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "numaslab_local_node");
    int (*node_of)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "numaslab_ptr_node");
    CHECK(local && node_of && node_of(p) == local(), "on the thread's local node (%d)",
          local ? local() : -1);
    free(p);
    free(q);
}

/* What numaslab's own code allocates while it runs (here: the writes of
 * numaslab_stats_print, made inside the library) is the C library's
 * memory, never numaslab's (numaslab-malloc(3)): a malloc there must not
 * re-enter the thread's lists while the library is halfway through
 * something.  And afterwards malloc is numaslab's again. */
struct inside {
    int calls, served;
    void *ours; /* a numaslab object, freed from inside */
};

static ssize_t inside_write(void *cookie, const char *buf, size_t n)
{
    struct inside *in = cookie;
    void *a = malloc(24), *b = malloc(200);
    (void)buf;
    in->calls++;
    if (!a || !b || dropin_serves(a) || dropin_serves(b))
        in->served++;
    free(a);
    free(b);
    if (in->ours) {
        free(in->ours); /* a numaslab object freed while inside it */
        in->ours = NULL;
    }
    return (ssize_t)n;
}

static void inside(void)
{
    tu_case("calls made inside numaslab");
    int (*print)(FILE *) = (int (*)(FILE *))dlsym(RTLD_DEFAULT, "numaslab_stats_print");
    REQUIRE(print, "the drop-in does not export numaslab_stats_print");
    struct inside in = {0, 0, malloc(48)};
    CHECK(in.ours && dropin_serves(in.ours), "malloc(48) before is numaslab's");
    cookie_io_functions_t io = {.write = inside_write};
    FILE *f = fopencookie(&in, "w", io);
    REQUIRE(f, "fopencookie: %s", strerror(errno));
    setvbuf(f, NULL, _IONBF, 0); /* every write reaches inside_write, inside the library */
    int rc = print(f);
    fclose(f);
    CHECK(rc == 0 && in.calls > 0, "numaslab_stats_print wrote through the stream (%d writes)",
          in.calls);
    CHECK(in.served == 0,
          "malloc inside numaslab: the C library's every time (%d of %d were "
          "numaslab's or NULL)",
          in.served, in.calls);
    CHECK(in.ours == NULL, "a numaslab object was freed from inside");
    void *after[64];
    int ours = 0;
    for (int i = 0; i < 64; i++)
        ours += (after[i] = malloc(48)) && dropin_serves(after[i]);
    for (int i = 0; i < 64; i++)
        free(after[i]);
    CHECK(ours == 64, "after it, malloc is numaslab's again (%d of 64)", ours);
}

static void edges(void)
{
    tu_case("edge sizes");
    void *a = malloc(0), *b = malloc(0);
    CHECK(a && b && a != b, "malloc(0) twice: two unique pointers");
    free(a);
    free(b);
    free(NULL);
    errno = 0;
    CHECK(malloc(v_max) == NULL && errno == ENOMEM, "malloc(SIZE_MAX): NULL, ENOMEM");
    errno = 0;
    CHECK(calloc(v_half, 3) == NULL && errno == ENOMEM, "calloc overflow: NULL, ENOMEM");
    errno = 0;
    CHECK(calloc(v_big, v_big / 4) == NULL && errno == ENOMEM, "calloc(2^33, 2^31): NULL, ENOMEM");
    static const size_t sizes[] = {16, 1000, 8192, 100000, 3 << 20};
    int zero = 1;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        for (int round = 0; round < 3; round++) {
            unsigned char *p = calloc(1, sizes[i]);
            if (!p) {
                zero = 0;
                continue;
            }
            for (size_t k = 0; k < sizes[i]; k++)
                if (p[k])
                    zero = 0;
            memset(p, 0xee, sizes[i]); /* dirty, for the next round to reuse */
            free(p);
        }
    CHECK(zero, "calloc of 16 B ... 3 MiB, reusing dirtied memory: all zero");
}

static void reallocs(void)
{
    tu_case("realloc");
    static const size_t steps[] = {1, 8, 100, 5000, 9000, 70000, 2 << 20, 300, 10, 600000, 40};
    unsigned char *p = realloc(NULL, 4);
    REQUIRE(p, "realloc(NULL, 4)");
    for (size_t k = 0; k < 4; k++)
        p[k] = (unsigned char)(k * 13 + 1);
    size_t have = 4;
    int ok = 1;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        unsigned char *q = realloc(p, steps[i]);
        if (!q) {
            ok = 0;
            break;
        }
        size_t keep = have < steps[i] ? have : steps[i];
        for (size_t k = 0; k < keep; k++)
            if (q[k] != (unsigned char)(k * 13 + 1))
                ok = 0;
        for (size_t k = 0; k < steps[i]; k++)
            q[k] = (unsigned char)(k * 13 + 1);
        have = steps[i];
        p = q;
    }
    CHECK(ok, "realloc through 1 B ... 2 MiB and back: contents kept");
    CHECK(dropin_serves(p), "the reallocated object is numaslab's");
    errno = 0;
    CHECK(realloc(p, 0) == NULL, "realloc(p, 0) frees and returns NULL");
    p = malloc(64);
    REQUIRE(p, "malloc");
    memset(p, 7, 64);
    errno = 0;
    unsigned char *volatile same = p; /* still p's when the call fails */
    CHECK(reallocarray(same, v_half / 2, 8) == NULL && errno == ENOMEM,
          "reallocarray overflow: NULL, ENOMEM");
    CHECK(p[0] == 7 && p[63] == 7 && usable(p) >= 64, "and the object is untouched");
    unsigned char *q = reallocarray(p, 100, 3);
    CHECK(q && q[0] == 7 && q[63] == 7 && usable(q) >= 300, "reallocarray(p, 100, 3) grows it");
    free(q);
}

static void aligned(void)
{
    tu_case("aligned allocation");
    static const size_t sizes[] = {1, 100, 5000, 70000};
    int bad = 0, n = 0;
    for (size_t a = 8; a <= (1 << 20); a <<= 1)
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            void *p[3] = {NULL, NULL, NULL};
            errno = 12345;
            int rc = posix_memalign(&p[0], a, sizes[i]);
            p[1] = aligned_alloc(a, sizes[i]);
            p[2] = memalign(a, sizes[i]);
            if (rc != 0 || errno != 12345)
                bad++;
            for (int k = 0; k < 3; k++) {
                n++;
                if (!p[k] || (uintptr_t)p[k] % a || usable(p[k]) < sizes[i] ||
                    !dropin_serves(p[k])) {
                    if (bad++ < 5)
                        printf("# align %zu size %zu call %d: %p\n", a, sizes[i], k, p[k]);
                } else {
                    memset(p[k], 1, sizes[i]);
                }
                free(p[k]);
            }
        }
    CHECK(bad == 0,
          "%d objects of posix_memalign, aligned_alloc, memalign at 8 B ... 1 MiB: "
          "aligned, usable, numaslab's, errno kept (%d wrong)",
          n, bad);
    void *p = NULL;
    errno = 0;
    CHECK(posix_memalign(&p, v_24, 10) == EINVAL && errno == 0,
          "posix_memalign(24): EINVAL returned, errno untouched");
    CHECK(posix_memalign(&p, 4, 10) == EINVAL, "posix_memalign(4): EINVAL (below sizeof(void *))");
    errno = 0;
    CHECK(posix_memalign(&p, 4096, SIZE_MAX - 100) == ENOMEM && errno == 0,
          "posix_memalign of SIZE_MAX - 100 bytes: ENOMEM returned, errno untouched");
    void *m = memalign(v_24, 100);
    CHECK(m && (uintptr_t)m % 32 == 0, "memalign(24): rounded up to 32, as glibc");
    free(m);
    errno = 0;
    CHECK(memalign(v_huge_align, 10) == NULL && errno == EINVAL,
          "memalign above half the address space: EINVAL");
    long page = tu_pagesize();
    void *v = valloc(100), *pv = pvalloc(100), *pz = pvalloc(0);
    CHECK(v && (uintptr_t)v % (uintptr_t)page == 0, "valloc: page-aligned");
    CHECK(pv && (uintptr_t)pv % (uintptr_t)page == 0 && usable(pv) >= (size_t)page,
          "pvalloc(100): page-aligned, a whole page usable");
    CHECK(pz && usable(pz) >= (size_t)page, "pvalloc(0): a whole page");
    free(v);
    free(pv);
    free(pz);
}

static void usable_sizes(void)
{
    tu_case("malloc_usable_size");
    int bad = 0;
    CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) == 0");
    for (size_t n = 1; n < 300000; n = n * 3 / 2 + 1) {
        unsigned char *p = malloc(n);
        size_t u = p ? usable(p) : 0;
        if (u < n)
            bad++;
        else
            memset(p, 0x5a, u); /* every usable byte is the caller's */
        free(p);
    }
    CHECK(bad == 0, "malloc_usable_size >= the size asked, 1 B ... 300 KB (%d short)", bad);
}

/* ---- threads ---------------------------------------------------------- */

#define XOBJS 20000
static void *xobj[XOBJS];

static void *producer(void *arg)
{
    (void)arg;
    for (int i = 0; i < XOBJS; i++) {
        xobj[i] = malloc((size_t)(16 + i % 500));
        if (xobj[i])
            memset(xobj[i], i & 0xff, 16);
    }
    return NULL;
}

static pthread_key_t late_key;
static void *late_kept[200];

/* Runs at thread exit, before or after numaslab's own destructor. */
static void late_destructor(void *v)
{
    intptr_t i = (intptr_t)v - 1;
    char *p = malloc(1000);
    if (p)
        memset(p, 1, 1000);
    free(p);
    late_kept[i] = malloc(48);
}

static void *churner(void *arg)
{
    pthread_setspecific(late_key, arg);
    void *keep[64];
    for (int k = 0; k < 64; k++)
        keep[k] = malloc((size_t)(k * 37 + 1));
    for (int k = 0; k < 64; k += 2)
        free(keep[k]);
    return keep[1]; /* freed by the main thread */
}

/* Threads alive at once, each allocating: numaslab makes each one's state
 * while inside its own code, with the C library's malloc. */
static pthread_barrier_t arena_bar;
static void *arena_thread(void *arg)
{
    void *p = malloc(100 + (size_t)(intptr_t)arg);
    pthread_barrier_wait(&arena_bar);
    free(p);
    return NULL;
}

static void print_arenas(void *arg)
{
    (void)arg;
    malloc_stats(); /* the C library's: one block per arena, on stderr */
}

static void threads(void)
{
    tu_case("threads");
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, producer, NULL) == 0, "pthread_create");
    pthread_join(t, NULL);
    int ok = 1;
    for (int i = 0; i < XOBJS; i++) {
        unsigned char *p = xobj[i];
        if (!p || p[0] != (unsigned char)(i & 0xff) || p[15] != (unsigned char)(i & 0xff))
            ok = 0;
        free(p);
    }
    CHECK(ok, "%d objects of an exited thread, freed by the main thread", XOBJS);

    REQUIRE(pthread_key_create(&late_key, late_destructor) == 0, "pthread_key_create");
    int fine = 1;
    for (intptr_t i = 0; i < 200; i++) {
        void *r = NULL;
        if (pthread_create(&t, NULL, churner, (void *)(i + 1)) != 0 || pthread_join(t, &r) != 0)
            fine = 0;
        free(r);
    }
    for (int i = 0; i < 200; i++) {
        if (!late_kept[i])
            fine = 0;
        free(late_kept[i]);
    }
    CHECK(fine, "200 threads one after the other, each with a destructor that allocates late");

    /* What numaslab allocates with the C library's malloc stays in one of
     * its arenas (numaslab-malloc(3)): new threads make none of their own. */
    enum { NT = 4 };
    pthread_t at[NT];
    REQUIRE(pthread_barrier_init(&arena_bar, NULL, NT) == 0, "pthread_barrier_init");
    for (intptr_t i = 0; i < NT; i++)
        REQUIRE(pthread_create(&at[i], NULL, arena_thread, (void *)i) == 0, "pthread_create");
    for (int i = 0; i < NT; i++)
        pthread_join(at[i], NULL);
    pthread_barrier_destroy(&arena_bar);
    char *st = tu_capture_stderr(print_arenas, NULL);
    int arenas = 0;
    for (const char *q = st; (q = strstr(q, "Arena ")) != NULL; q++)
        arenas++;
    CHECK(arenas == 1, "%d threads alive at once leave the C library's malloc one arena (%d)", NT,
          arenas);
    tu_show("malloc_stats", st);
    free(st);
}

/* ---- numaslab started inside setenv ------------------------------------ */

/* As "--child setenv-first": the program's first allocation is setenv's,
 * made in this constructor (the drop-in's ran before it), so that
 * numaslab starts inside setenv, which holds the C library's environment
 * lock meanwhile; numaslab must not take it again (numa/topology.c).  A
 * hang is ended by the alarm and fails the parent's check. */
static char **setenv_environ_before;
static int setenv_rc = -1;
__attribute__((constructor)) static void setenv_first(int argc, char **argv)
{
    extern char **environ;
    if (argc < 3 || strcmp(argv[1], "--child") != 0 || strcmp(argv[2], "setenv-first") != 0)
        return;
    alarm(30);
    setenv_environ_before = environ;
    setenv_rc = setenv("NUMASLAB_TEST_SETENV_FIRST", "yes", 1);
}

static int child_setenv_first(void)
{
    tu_case("numaslab started inside setenv");
    const char *v = getenv("NUMASLAB_TEST_SETENV_FIRST");
    CHECK(setenv_rc == 0 && v && strcmp(v, "yes") == 0,
          "setenv as the program's first allocation returned (%d) and set the variable", setenv_rc);
    void *p = malloc(100);
    CHECK(dropin_serves(p), "malloc is numaslab's after it");
    free(p);
    return tu_exit();
}

/* ---- a double free of another thread's object --------------------------- */

/* The owner of the objects: alive until the main thread is done with them. */
static void *dbl_obj[2];
static pthread_mutex_t dbl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dbl_cond = PTHREAD_COND_INITIALIZER;
static int dbl_stage;

static void *dbl_owner(void *arg)
{
    (void)arg;
    dbl_obj[0] = malloc(48);
    dbl_obj[1] = malloc(48);
    pthread_mutex_lock(&dbl_lock);
    dbl_stage = 1;
    pthread_cond_broadcast(&dbl_cond);
    while (dbl_stage != 2)
        pthread_cond_wait(&dbl_cond, &dbl_lock);
    pthread_mutex_unlock(&dbl_lock);
    return NULL;
}

static void free_second(void *p)
{
    free(p);
}

/* Run as its own child, with NUMASLAB_ABORT=0: a free of another thread's
 * object goes into the remote-map word the freeing thread gathers; a
 * second free of it there is refused and reported, naming the call and
 * the pointer, and the object's neighbour still goes in after it. */
static int child_remote_double(void)
{
    tu_case("a double free of another thread's object");
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, dbl_owner, NULL) == 0, "pthread_create");
    pthread_mutex_lock(&dbl_lock);
    while (dbl_stage != 1)
        pthread_cond_wait(&dbl_cond, &dbl_lock);
    pthread_mutex_unlock(&dbl_lock);
    REQUIRE(dbl_obj[0] && dbl_obj[1], "malloc(48) in the owner");
    char ptr[32];
    void *volatile again = dbl_obj[0]; /* the compiler would warn of the use after free */
    snprintf(ptr, sizeof(ptr), "%p", dbl_obj[0]);
    free(dbl_obj[0]);
    char *err = tu_capture_stderr(free_second, again);
    err[strcspn(err, "\n")] = '\0';
    CHECK(tu_line_has_all(err, "double free", "free", ptr, (char *)NULL),
          "the second free of %s is reported as a double free of free(): \"%s\"", ptr, err);
    free(err);
    err = tu_capture_stderr(free_second, dbl_obj[1]);
    CHECK(err[0] == '\0', "its neighbour is freed after it with no message (\"%s\")", err);
    free(err);
    /* Both go home; the owner's next objects are each handed out once. */
    void (*flush)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "numaslab_thread_flush");
    REQUIRE(flush, "numaslab_thread_flush");
    flush();
    pthread_mutex_lock(&dbl_lock);
    dbl_stage = 2;
    pthread_cond_broadcast(&dbl_cond);
    pthread_mutex_unlock(&dbl_lock);
    pthread_join(t, NULL);
    return tu_exit();
}

/* ---- fork, exec, dlopen, exit ----------------------------------------- */

static volatile int spin_stop;

static void *spinner(void *arg)
{
    (void)arg;
    while (!spin_stop) {
        void *p[16];
        for (int i = 0; i < 16; i++)
            p[i] = malloc((size_t)(i * 100 + 8));
        for (int i = 0; i < 16; i++)
            free(p[i]);
    }
    return NULL;
}

static void forks(void)
{
    tu_case("fork");
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        REQUIRE(pthread_create(&t[i], NULL, spinner, NULL) == 0, "pthread_create");
    int clean = 0;
    for (int round = 0; round < 20; round++) {
        char *mine = malloc(5000);
        REQUIRE(mine, "malloc");
        memset(mine, 'x', 5000);
        pid_t pid = fork();
        REQUIRE(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            int ok = mine[0] == 'x' && mine[4999] == 'x';
            free(mine);
            for (int i = 0; i < 10000; i++) {
                char *p = malloc((size_t)(i % 3000 + 1));
                if (!p)
                    ok = 0;
                else
                    p[0] = 1;
                free(p);
            }
            _exit(ok ? 0 : 1);
        }
        int st;
        waitpid(pid, &st, 0);
        clean += WIFEXITED(st) && WEXITSTATUS(st) == 0;
        free(mine);
    }
    spin_stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CHECK(clean == 20,
          "20 forks while three threads allocate: every child allocates, frees the "
          "parent's object and exits 0 (%d did)",
          clean);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", "exit 3", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3, "fork + exec of /bin/sh under the drop-in");

    void *h = dlopen("libm.so.6", RTLD_NOW);
    double (*cosine)(double) = h ? (double (*)(double))dlsym(h, "cos") : NULL;
    CHECK(cosine && cosine(0.0) == 1.0, "dlopen of libm, dlsym of cos");
    if (h)
        dlclose(h);
    CHECK(dlopen("libnumaslab-no-such-library.so", RTLD_NOW) == NULL && dlerror() != NULL,
          "dlopen of a missing library: dlerror has the message");
}

static void at_exit(void)
{
    tu_case("allocation at exit");
    char *p = malloc(3000);
    char *q = p ? realloc(p, 30000) : NULL;
    printf("atexit: allocated %s\n", q && dropin_serves(q) ? "by numaslab" : "elsewhere");
    free(q);
    fflush(stdout);
}

static int child(void)
{
    native_calls();
    served();
    inside();
    edges();
    reallocs();
    aligned();
    usable_sizes();
    threads();
    forks();
    atexit(at_exit);
    return tu_exit();
}

int main(int argc, char **argv)
{
    tu_init("test-dropin");
    if (argc > 2 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "remote-double") == 0)
        return child_remote_double();
    if (argc > 2 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "setenv-first") == 0)
        return child_setenv_first();
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return child();
    tu_case("the program under the drop-in");
    struct tu_child ch = dropin_run_child("test-dropin", NULL, NULL);
    dropin_judge(&ch, "atexit: allocated by numaslab",
                 "an atexit handler allocates and reallocates, from numaslab");
    tu_case("numaslab started inside setenv, in a child");
    ch = dropin_run_child("test-dropin", "setenv-first", NULL);
    CHECK(WIFEXITED(ch.status) && WEXITSTATUS(ch.status) == 0,
          "the child's checks passed (status %#x%s)", ch.status,
          WIFSIGNALED(ch.status) && WTERMSIG(ch.status) == SIGALRM ? ": it hung" : "");
    free(ch.out);
    free(ch.err);
    tu_case("a double free of another thread's object, in a child");
    ch = dropin_run_child_env("test-dropin", "remote-double", NULL, "NUMASLAB_ABORT=0");
    CHECK(WIFEXITED(ch.status) && WEXITSTATUS(ch.status) == 0,
          "the child's checks passed (status %#x)", ch.status);
    free(ch.out);
    free(ch.err);
    return tu_exit();
}
