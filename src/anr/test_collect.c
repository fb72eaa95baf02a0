/* Mark and sweep, the client's debug area and the debug socket of anr
 * heaps: which blocks a collection frees or only reports, the collection's
 * report text and counters, markers (order, limits, removal, allocation
 * while marking, nested collections), the area's size, alignment, zeroing
 * and moving with realloc, and what a debug connection receives, both from
 * anr_heap_debug_serve and from the helper thread's Unix socket. Exact
 * values throughout. */
#include "anr/anr_malloc.h"
#include "mbtest.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

static anr_heap *heap_with(unsigned depth, unsigned guard_words, unsigned client, bool trash)
{
    struct anr_options o;
    anr_options_init(&o);
    o.pool_size = 4 * MiB;
    o.map_size = 16 * MiB;
    o.stack_depth = depth;
    o.guard_words = guard_words;
    o.client_debug_bytes = client;
    o.fill_with_trash = trash;
    o.flight_recorder_entries = 8;
    o.report_fd = -1;
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    return h;
}

static void verify_ok(anr_heap *h)
{
    char msg[256];
    if (!MBT_EQ_INT(0, anr_heap_verify(h, msg, sizeof msg)))
        fprintf(stderr, "    verify: %s\n", msg);
}

static uint64_t live_blocks(anr_heap *h)
{
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    return st.live_blocks;
}

static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    return n;
}

/* What fn wrote to a temporary file. */
static void file_text(FILE *f, char *buf, size_t cap)
{
    fflush(f);
    MBT_EQ_I64(0, lseek(fileno(f), 0, SEEK_SET));
    read_all(fileno(f), buf, cap);
}

/* ---- the sites ---------------------------------------------------------------- */

/* Two allocation sites: the loop must not be unrolled. */
__attribute__((noinline)) static void site_a(anr_heap *h, void **out, volatile int n)
{
#pragma GCC unroll 1
    for (int i = 0; i < n; i++)
        out[i] = anr_heap_malloc(h, 32);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void site_b(anr_heap *h, void **out, volatile int n)
{
#pragma GCC unroll 1
    for (int i = 0; i < n; i++)
        out[i] = anr_heap_malloc(h, 200);
    __asm__ volatile("" ::: "memory");
}

/* The first return address of each live block, in allocation order. */
struct walk {
    unsigned n;
    void *ptr[64];
    uintptr_t ra[64];
};

static void walk_fn(const struct anr_block_info *b, void *user)
{
    struct walk *w = user;
    if (w->n < 64) {
        w->ptr[w->n] = b->ptr;
        w->ra[w->n] = b->depth > 0 ? b->stack[0] : 0;
        w->n++;
    }
}

static uintptr_t ra_of(const struct walk *w, const void *p)
{
    for (unsigned i = 0; i < w->n; i++)
        if (w->ptr[i] == p)
            return w->ra[i];
    return 0;
}

/* A subsystem: a table of roots its marker marks. */
struct roots {
    unsigned n;
    void *p[16];
    unsigned calls;
    int last_rc[16];
    unsigned order; /* when this marker ran (run_counter) */
};

static unsigned run_counter;

static void mark_roots(anr_heap *h, void *user)
{
    struct roots *r = user;
    r->calls++;
    r->order = ++run_counter;
    for (unsigned i = 0; i < r->n && i < 16; i++)
        r->last_rc[i] = anr_heap_mark_block(h, r->p[i]);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_not_debug_mode(void)
{
    anr_heap *h = NULL;
    MBT_REQUIRE(anr_heap_create(NULL, &h) == 0);
    struct roots r = {0};
    void *p = anr_heap_malloc(h, 10);
    MBT_EQ_INT(-EOPNOTSUPP, anr_heap_register_marker(h, mark_roots, &r));
    MBT_EQ_INT(-EOPNOTSUPP, anr_heap_unregister_marker(h, mark_roots, &r));
    MBT_EQ_INT(-EOPNOTSUPP, anr_heap_mark_block(h, p));
    struct anr_collect_result res;
    MBT_EQ_I64(-EOPNOTSUPP, anr_heap_collect(h, ANR_SWEEP_FREE, -1, &res));
    size_t len = 99;
    MBT_NULL(anr_heap_debug_area(h, p, &len));
    MBT_EQ_U64(0, len);
    MBT_EQ_U64(1, live_blocks(h));
    anr_heap_free(h, p);
    anr_heap_destroy(h);
}

static void test_collect_free(void)
{
    anr_heap *h = heap_with(1, 1, 0, true);
    void *a[6], *b[2];
    site_a(h, a, 6);
    site_b(h, b, 2);
    struct walk w = {0};
    MBT_EQ_I64(8, anr_heap_walk_live(h, 0, walk_fn, &w));
    MBT_REQUIRE(w.n == 8);
    uintptr_t ra_a = ra_of(&w, a[0]), ra_b = ra_of(&w, b[0]);
    MBT_TRUE(ra_a != 0 && ra_b != 0 && ra_a != ra_b);
    MBT_EQ_U64(ra_a, ra_of(&w, a[5]));

    /* No collection running: marking is refused. */
    MBT_EQ_INT(-EINVAL, anr_heap_mark_block(h, a[0]));

    struct roots r = {.n = 4, .p = {a[0], a[2], a[4], b[0]}};
    MBT_EQ_INT(0, anr_heap_register_marker(h, mark_roots, &r));
    FILE *f = tmpfile();
    MBT_REQUIRE(f != NULL);
    struct anr_collect_result res;
    MBT_EQ_I64(4, anr_heap_collect(h, ANR_SWEEP_FREE, fileno(f), &res));
    MBT_EQ_U64(1, r.calls);
    for (unsigned i = 0; i < 4; i++)
        MBT_EQ_INT(1, r.last_rc[i]);
    MBT_EQ_U64(1, res.markers);
    MBT_EQ_U64(8, res.live_blocks);
    MBT_EQ_U64(4, res.marked_blocks);
    MBT_EQ_U64(0, res.bad_marks);
    MBT_EQ_U64(0, res.spared_blocks);
    MBT_EQ_U64(4, res.unreachable_blocks);
    MBT_EQ_U64(3 * 32 + 200, res.unreachable_bytes);
    MBT_EQ_U64(4, res.freed_blocks);

    char out[4096], want[4096];
    file_text(f, out, sizeof out);
    fclose(f);
    snprintf(want, sizeof want,
             "anr: collection of heap %p: 4 blocks, 296 bytes unreachable, freed, 2 sites\n"
             "site 1: 1 blocks, 200 bytes allocated at 0x%" PRIxPTR "\n"
             "  block %p size 200 allocation #8\n"
             "site 2: 3 blocks, 96 bytes allocated at 0x%" PRIxPTR "\n"
             "  block %p size 32 allocation #2\n"
             "  block %p size 32 allocation #4\n"
             "  block %p size 32 allocation #6\n"
             "anr: end of collection report\n",
             (void *)h, ra_b, b[1], ra_a, a[1], a[3], a[5]);
    MBT_EQ_STR(want, out);

    /* Exactly the unmarked blocks are gone. */
    MBT_EQ_U64(4, live_blocks(h));
    for (unsigned i = 0; i < 6; i++)
        MBT_EQ_U64(i % 2 == 0 ? 32u : 0u, anr_heap_usable_size(h, a[i]));
    MBT_EQ_U64(200, anr_heap_usable_size(h, b[0]));
    MBT_EQ_U64(0, anr_heap_usable_size(h, b[1]));
    verify_ok(h);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(4, st.frees);
    MBT_EQ_U64(0, st.invalid_frees);

    /* A second collection with the same roots finds nothing; without a
     * report the result is the same. */
    MBT_EQ_I64(0, anr_heap_collect(h, ANR_SWEEP_FREE, -1, &res));
    MBT_EQ_U64(4, res.live_blocks);
    MBT_EQ_U64(4, res.marked_blocks);
    MBT_EQ_U64(0, res.freed_blocks);
    MBT_EQ_U64(2, r.calls);

    /* Dropping a root: the next collection frees that block only. */
    r.n = 3;
    MBT_EQ_I64(1, anr_heap_collect(h, ANR_SWEEP_FREE, -1, &res));
    MBT_EQ_U64(0, anr_heap_usable_size(h, b[0]));
    MBT_EQ_U64(3, live_blocks(h));
    /* Without markers every live block is unreachable. */
    MBT_EQ_INT(0, anr_heap_unregister_marker(h, mark_roots, &r));
    MBT_EQ_INT(-ENOENT, anr_heap_unregister_marker(h, mark_roots, &r));
    MBT_EQ_I64(3, anr_heap_collect(h, ANR_SWEEP_FREE, -1, &res));
    MBT_EQ_U64(0, res.markers);
    MBT_EQ_U64(3, res.freed_blocks);
    MBT_EQ_U64(3, r.calls);
    MBT_EQ_U64(0, live_blocks(h));
    verify_ok(h);
    MBT_EQ_INT(-EINVAL, (int)anr_heap_collect(h, (enum anr_sweep)0, -1, NULL));
    anr_heap_destroy(h);
}

/* Marker details: order, double and bad marks, allocating while marking,
 * a nested collection, the marker limit; REPORT keeps every block. */
static anr_heap *g_heap;
static void *g_young;
static int64_t g_nested;

static void mark_and_allocate(anr_heap *h, void *user)
{
    struct roots *r = user;
    r->order = ++run_counter;
    r->calls++;
    g_young = anr_heap_malloc(h, 48); /* younger than the collection: spared */
    g_nested = anr_heap_collect(h, ANR_SWEEP_FREE, -1, NULL);
    r->last_rc[0] = anr_heap_mark_block(h, r->p[0]);
    r->last_rc[1] = anr_heap_mark_block(h, r->p[0]);
    r->last_rc[2] = anr_heap_mark_block(h, (char *)r->p[0] + 16);
    r->last_rc[3] = anr_heap_mark_block(h, NULL);
}

static void test_collect_report_only(void)
{
    anr_heap *h = heap_with(0, 0, 0, false);
    g_heap = h;
    void *p[5];
    for (unsigned i = 0; i < 5; i++)
        p[i] = anr_heap_malloc(h, 64 + i);
    struct roots r1 = {.n = 1, .p = {p[1]}}, r2 = {.n = 1, .p = {p[3]}};
    MBT_EQ_INT(0, anr_heap_register_marker(h, mark_roots, &r1));
    MBT_EQ_INT(0, anr_heap_register_marker(h, mark_and_allocate, &r2));
    MBT_EQ_INT(-EINVAL, anr_heap_register_marker(h, NULL, NULL));
    run_counter = 0;
    FILE *f = tmpfile();
    MBT_REQUIRE(f != NULL);
    struct anr_collect_result res;
    MBT_EQ_I64(3, anr_heap_collect(h, ANR_SWEEP_REPORT, fileno(f), &res));
    MBT_EQ_U64(1, r1.order);
    MBT_EQ_U64(2, r2.order);
    MBT_EQ_I64(-EBUSY, g_nested);
    MBT_EQ_INT(1, r2.last_rc[0]);
    MBT_EQ_INT(0, r2.last_rc[1]);
    MBT_EQ_INT(-ENOENT, r2.last_rc[2]);
    MBT_EQ_INT(-ENOENT, r2.last_rc[3]);
    MBT_EQ_U64(2, res.markers);
    MBT_EQ_U64(6, res.live_blocks);
    MBT_EQ_U64(2, res.marked_blocks);
    MBT_EQ_U64(2, res.bad_marks);
    MBT_EQ_U64(1, res.spared_blocks);
    MBT_EQ_U64(3, res.unreachable_blocks);
    MBT_EQ_U64(64 + 66 + 68, res.unreachable_bytes);
    MBT_EQ_U64(0, res.freed_blocks);
    char out[4096], want[4096];
    file_text(f, out, sizeof out);
    fclose(f);
    /* No stacks: one site for all. */
    snprintf(want, sizeof want,
             "anr: collection of heap %p: 3 blocks, 198 bytes unreachable, kept, 1 sites\n"
             "site 1: 3 blocks, 198 bytes\n"
             "  block %p size 64 allocation #1\n"
             "  block %p size 66 allocation #3\n"
             "  block %p size 68 allocation #5\n"
             "anr: end of collection report\n",
             (void *)h, p[0], p[2], p[4]);
    MBT_EQ_STR(want, out);
    MBT_EQ_U64(6, live_blocks(h));
    for (unsigned i = 0; i < 5; i++)
        MBT_EQ_U64(64 + i, anr_heap_usable_size(h, p[i]));
    MBT_EQ_U64(48, anr_heap_usable_size(h, g_young));
    verify_ok(h);

    /* A failing report write: the sweep still happens, the error is returned. */
    MBT_EQ_INT(0, anr_heap_unregister_marker(h, mark_and_allocate, &r2));
    int pfd[2];
    MBT_REQUIRE(pipe(pfd) == 0);
    close(pfd[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    MBT_EQ_I64(-EPIPE, anr_heap_collect(h, ANR_SWEEP_FREE, pfd[1], &res));
    signal(SIGPIPE, old);
    close(pfd[1]);
    MBT_EQ_U64(5, res.freed_blocks);
    MBT_EQ_U64(1, live_blocks(h));
    MBT_EQ_U64(65, anr_heap_usable_size(h, p[1]));

    /* 32 markers at most. */
    struct roots many[33];
    MBT_EQ_INT(0, anr_heap_unregister_marker(h, mark_roots, &r1));
    for (unsigned i = 0; i < 32; i++) {
        many[i] = (struct roots){.n = 1, .p = {p[1]}};
        MBT_EQ_INT(0, anr_heap_register_marker(h, mark_roots, &many[i]));
    }
    MBT_EQ_INT(-ENOSPC, anr_heap_register_marker(h, mark_roots, &many[32]));
    MBT_EQ_I64(0, anr_heap_collect(h, ANR_SWEEP_FREE, -1, &res));
    MBT_EQ_U64(32, res.markers);
    MBT_EQ_U64(1, res.marked_blocks);
    MBT_EQ_U64(1, many[0].calls);
    MBT_EQ_U64(1, many[31].calls);
    MBT_EQ_U64(1, live_blocks(h));
    anr_heap_free(h, p[1]);
    verify_ok(h);
    anr_heap_destroy(h);
}

/* A fork while another thread is inside a marker: the child, where that
 * thread does not exist, can collect; the parent's collection completes. */
static int fork_in[2], fork_out[2];

static void blocking_marker(anr_heap *h, void *user)
{
    char c = 0;
    MBT_EQ_I64(1, write(fork_out[1], &c, 1)); /* "inside the marker" */
    MBT_EQ_I64(1, read(fork_in[0], &c, 1));   /* wait for the fork */
    MBT_EQ_INT(1, anr_heap_mark_block(h, user));
}

static void *collector(void *arg)
{
    static int64_t rc;
    rc = anr_heap_collect(arg, ANR_SWEEP_FREE, -1, NULL);
    return &rc;
}

static void test_fork_during_collection(void)
{
    anr_heap *h = heap_with(0, 0, 0, false);
    void *keep = anr_heap_malloc(h, 40), *drop = anr_heap_malloc(h, 50);
    MBT_REQUIRE(pipe(fork_in) == 0 && pipe(fork_out) == 0);
    MBT_EQ_INT(0, anr_heap_register_marker(h, blocking_marker, keep));
    pthread_t t;
    MBT_REQUIRE(pthread_create(&t, NULL, collector, h) == 0);
    char c;
    MBT_EQ_I64(1, read(fork_out[0], &c, 1));
    MBT_EQ_I64(-EBUSY, anr_heap_collect(h, ANR_SWEEP_FREE, -1, NULL));
    pid_t pid = fork();
    MBT_REQUIRE(pid >= 0);
    if (pid == 0) {
        /* Only this thread exists: no marker answers, both blocks go. */
        MBT_EQ_INT(0, anr_heap_unregister_marker(h, blocking_marker, keep));
        int64_t n = anr_heap_collect(h, ANR_SWEEP_FREE, -1, NULL);
        _exit(n == 2 && anr_heap_usable_size(h, keep) == 0 ? 0 : 1);
    }
    int status = -1;
    MBT_EQ_I64(pid, waitpid(pid, &status, 0));
    MBT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    MBT_EQ_I64(1, write(fork_in[1], &c, 1));
    void *res = NULL;
    MBT_EQ_INT(0, pthread_join(t, &res));
    MBT_EQ_I64(1, *(int64_t *)res);
    MBT_EQ_U64(40, anr_heap_usable_size(h, keep));
    MBT_EQ_U64(0, anr_heap_usable_size(h, drop));
    for (int i = 0; i < 2; i++) {
        close(fork_in[i]);
        close(fork_out[i]);
    }
    anr_heap_free(h, keep);
    verify_ok(h);
    anr_heap_destroy(h);
}

/* ---- the client's area ---------------------------------------------------------------- */

static void test_debug_area(void)
{
    struct anr_options o;
    anr_options_init(&o);
    MBT_EQ_U64(0, o.client_debug_bytes);
    anr_heap *h = NULL;
    o.client_debug_bytes = 257;
    MBT_EQ_INT(-EINVAL, anr_heap_create(&o, &h));

    /* The area alone switches debug mode on. */
    o.client_debug_bytes = 24;
    MBT_REQUIRE(anr_heap_create(&o, &h) == 0);
    void *p = anr_heap_malloc(h, 100);
    MBT_EQ_U64(100, anr_heap_usable_size(h, p)); /* debug mode: exact */
    size_t len = 0;
    unsigned char *a = anr_heap_debug_area(h, p, &len);
    MBT_REQUIRE(a != NULL);
    MBT_EQ_U64(24, len);
    MBT_EQ_U64(0, (uintptr_t)a % 16u);
    for (size_t i = 0; i < 24; i++)
        MBT_EQ_U64(0, a[i]);
    memset(a, 0x5c, 24);
    MBT_NULL(anr_heap_debug_area(h, (char *)p + 16, &len));
    MBT_EQ_U64(0, len);
    MBT_NULL(anr_heap_debug_area(h, NULL, NULL));
    /* realloc moves the block and its area. */
    memset(p, 7, 100);
    char *q = anr_heap_realloc(h, p, 300);
    MBT_REQUIRE(q != NULL);
    unsigned char *b = anr_heap_debug_area(h, q, &len);
    MBT_REQUIRE(b != NULL && b != a);
    MBT_EQ_U64(24, len);
    for (size_t i = 0; i < 24; i++)
        MBT_EQ_U64(0x5c, b[i]);
    MBT_EQ_U64(7, (unsigned char)q[99]);
    MBT_NULL(anr_heap_debug_area(h, p, &len)); /* the old block is gone */
    anr_heap_free(h, q);
    MBT_NULL(anr_heap_debug_area(h, q, &len));
    verify_ok(h);
    anr_heap_destroy(h);

    /* With guards, stacks, trash and memalign: aligned, zeroed, separate
     * per block, and writing all of it damages no guard. */
    h = heap_with(3, 3, 40, true);
    void *blk[6];
    for (unsigned i = 0; i < 6; i++) {
        blk[i] = i % 2 ? anr_heap_memalign(h, 64, 10 + i) : anr_heap_calloc(h, 1, 5000 * i + 1);
        MBT_REQUIRE(blk[i] != NULL);
        unsigned char *c = anr_heap_debug_area(h, blk[i], &len);
        MBT_REQUIRE(c != NULL);
        MBT_EQ_U64(40, len);
        MBT_EQ_U64(0, (uintptr_t)c % 16u);
        bool zero = true;
        for (size_t k = 0; k < 40; k++)
            zero = zero && c[k] == 0;
        MBT_TRUE(zero);
        memset(c, (int)(0x10 + i), 40);
    }
    verify_ok(h);
    for (unsigned i = 0; i < 6; i++) {
        unsigned char *c = anr_heap_debug_area(h, blk[i], NULL);
        MBT_REQUIRE(c != NULL);
        MBT_EQ_U64(0x10 + i, c[0]);
        MBT_EQ_U64(0x10 + i, c[39]);
        anr_heap_free(h, blk[i]);
    }
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.guard_faults);
    MBT_EQ_U64(0, st.live_blocks);
    verify_ok(h);
    anr_heap_destroy(h);
}

/* ---- the debug socket ---------------------------------------------------------------- */

/* What anr_heap_debug_serve writes, read through a socket pair. */
static int serve_text(anr_heap *h, char *buf, size_t cap)
{
    int sv[2];
    if (!MBT_EQ_INT(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv)))
        return -1;
    int rc = anr_heap_debug_serve(h, sv[0]);
    close(sv[0]);
    read_all(sv[1], buf, cap);
    close(sv[1]);
    return rc;
}

static void test_debug_serve(void)
{
    static char out[65536], dump[65536], leaks[65536];
    anr_heap *h = heap_with(0, 1, 0, false);
    void *p = anr_heap_malloc(h, 77);
    void *q = anr_heap_malloc(h, 33);
    anr_heap_free(h, q);
    MBT_EQ_INT(0, serve_text(h, out, sizeof out));
    /* Exactly the dump followed by the leak report. */
    FILE *f = tmpfile();
    MBT_REQUIRE(f != NULL);
    MBT_EQ_INT(0, anr_heap_dump(h, fileno(f)));
    file_text(f, dump, sizeof dump);
    fclose(f);
    f = tmpfile();
    MBT_REQUIRE(f != NULL);
    MBT_EQ_I64(1, anr_heap_report_leaks(h, fileno(f)));
    file_text(f, leaks, sizeof leaks);
    fclose(f);
    size_t nd = strlen(dump);
    MBT_EQ_U64(nd + strlen(leaks), strlen(out));
    MBT_TRUE(strncmp(out, dump, nd) == 0);
    MBT_EQ_STR(leaks, out + nd);
    MBT_TRUE(strstr(out, "counts: live_blocks 1 mallocs 2 ") != NULL);
    MBT_TRUE(strstr(out, "flight recorder: last 3 of 3 operations, oldest first\n") != NULL);
    char want[256];
    snprintf(want, sizeof want, "  block %p size 77 allocation #1\n", p);
    MBT_TRUE(strstr(out, want) != NULL);
    MBT_EQ_INT(-EINVAL, anr_heap_debug_serve(h, -1));
    MBT_EQ_INT(-EINVAL, anr_heap_debug_serve(NULL, 1));
    anr_heap_free(h, p);
    anr_heap_destroy(h);

    /* A heap without debug mode: statistics, then a note. */
    MBT_REQUIRE(anr_heap_create(NULL, &h) == 0);
    MBT_EQ_INT(0, serve_text(h, out, sizeof out));
    const char *tail = "anr: end of dump\nanr: no leak report: debug mode off\n";
    size_t n = strlen(out), nt = strlen(tail);
    MBT_TRUE(n > nt && strcmp(out + n - nt, tail) == 0);
    anr_heap_destroy(h);
}

static int connect_to(const char *path)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void test_debug_server(void)
{
    static char direct[65536], got[65536];
    anr_heap *h = heap_with(0, 0, 0, false);
    void *p[3];
    for (unsigned i = 0; i < 3; i++)
        p[i] = anr_heap_malloc(h, 1000 + i);
    char path[108];
    snprintf(path, sizeof path, "/tmp/anr-test-debug-%ld.sock", (long)getpid());
    struct anr_debug_server *srv = NULL;
    MBT_EQ_INT(0, anr_debug_server_start(h, path, &srv));
    MBT_REQUIRE(srv != NULL);
    MBT_EQ_INT(0, access(path, F_OK));
    MBT_EQ_INT(0, serve_text(h, direct, sizeof direct));
    for (int round = 0; round < 2; round++) {
        int fd = connect_to(path);
        MBT_REQUIRE(fd >= 0);
        read_all(fd, got, sizeof got);
        close(fd);
        /* The heap did not change: the same text as served directly. */
        MBT_EQ_STR(direct, got);
    }
    MBT_TRUE(strstr(got, ": 3 blocks, 3003 bytes live since generation 0, 1 sites\n") != NULL);
    /* A client that connects and hangs up at once does no harm. */
    int fd = connect_to(path);
    MBT_REQUIRE(fd >= 0);
    close(fd);
    anr_debug_server_stop(srv);
    MBT_EQ_INT(-1, access(path, F_OK));
    MBT_EQ_INT(-1, connect_to(path));
    anr_debug_server_stop(NULL);

    /* Bad paths. */
    char longp[200];
    memset(longp, 'x', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    MBT_EQ_INT(-ENAMETOOLONG, anr_debug_server_start(h, longp, &srv));
    MBT_EQ_INT(-ENOENT, anr_debug_server_start(h, "/nonexistent-dir/x.sock", &srv));
    MBT_EQ_INT(-EINVAL, anr_debug_server_start(h, "", &srv));
    MBT_EQ_INT(-EINVAL, anr_debug_server_start(NULL, path, &srv));
    for (unsigned i = 0; i < 3; i++)
        anr_heap_free(h, p[i]);
    anr_heap_destroy(h);
}

int main(void)
{
    MBT_RUN(test_not_debug_mode);
    MBT_RUN(test_collect_free);
    MBT_RUN(test_collect_report_only);
    MBT_RUN(test_fork_during_collection);
    MBT_RUN(test_debug_area);
    MBT_RUN(test_debug_serve);
    MBT_RUN(test_debug_server);
    return mbt_finish();
}
