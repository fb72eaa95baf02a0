/* Debug mode of anr heaps: guards (overrun, underrun, on free, realloc and
 * verify), trash patterns, call stacks, double and invalid frees, the
 * flight recorder, generations and the leak report, the dump (also from
 * inside a report, with the lock taken), the walk, option limits, and a
 * randomized workload with every debug option on. Exact values throughout.
 *
 * Under valgrind the tests that damage guards or read trash on purpose are
 * skipped (memcheck would rightly report them); the rest run. */
#include "anr/anr_malloc.h"
#include "mbtest.h"

#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(ANR_VALGRIND) && ANR_VALGRIND
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND (RUNNING_ON_VALGRIND != 0)
#else
#define UNDER_VALGRIND 0
#endif

#define MiB ((size_t)1 << 20)

/* ---- helpers ---------------------------------------------------------------- */

#define MAX_LINES 16
static char lines[MAX_LINES][512];
static unsigned nlines;
static bool dump_in_report;
static char report_dump[8192];

static size_t read_fd_all(int fd, char *buf, size_t cap);

static void on_report(anr_heap *h, const char *line, void *user)
{
    (void)user;
    if (nlines < MAX_LINES)
        snprintf(lines[nlines], sizeof lines[0], "%s", line);
    nlines++;
    if (dump_in_report) {
        /* The lock is held by this very thread: the dump must not wait. */
        FILE *f = tmpfile();
        if (f != NULL) {
            anr_heap_dump(h, fileno(f));
            read_fd_all(fileno(f), report_dump, sizeof report_dump);
            fclose(f);
        }
    }
}

static anr_heap *debug_heap(unsigned guard_words, bool trash, unsigned depth, unsigned flight)
{
    struct anr_options o;
    anr_options_init(&o);
    o.pool_size = 8 * MiB;
    o.map_size = 32 * MiB;
    o.page_ceiling = 4096;
    o.guard_words = guard_words;
    o.fill_with_trash = trash;
    o.stack_depth = depth;
    o.flight_recorder_entries = flight;
    o.report = on_report;
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    nlines = 0;
    return h;
}

static size_t guard_bytes(unsigned words)
{
    return (words * sizeof(void *) + 7u) & ~(size_t)7u;
}

static int verify_msg(anr_heap *h, char *msg, size_t len)
{
    return anr_heap_verify(h, msg, len);
}

static void verify_ok(anr_heap *h)
{
    char msg[256];
    if (!MBT_EQ_INT(0, verify_msg(h, msg, sizeof msg)))
        fprintf(stderr, "    verify: %s\n", msg);
}

static struct anr_stats stats_of(anr_heap *h)
{
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    return st;
}

static bool all_bytes(const void *p, int byte, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != (unsigned char)byte)
            return false;
    return true;
}

static size_t read_fd_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    if (lseek(fd, 0, SEEK_SET) != 0)
        return 0;
    while (n + 1 < cap) {
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    return n;
}

/* Runs fn(h, fd) on a temporary file and returns what it wrote. */
static int64_t capture(anr_heap *h, int64_t (*fn)(anr_heap *, int), char *buf, size_t cap)
{
    FILE *f = tmpfile();
    MBT_NOT_NULL(f);
    if (f == NULL)
        return -1;
    int64_t rc = fn(h, fileno(f));
    read_fd_all(fileno(f), buf, cap);
    fclose(f);
    return rc;
}

static int64_t dump_fn(anr_heap *h, int fd)
{
    return anr_heap_dump(h, fd);
}

/* The address the caller of `here` returns to: code right after the call. */
__attribute__((noinline)) static uintptr_t here(void)
{
    return (uintptr_t)__builtin_return_address(0);
}

static uintptr_t code_addr(void (*fn)(void))
{
    return (uintptr_t)fn & ~(uintptr_t)1; /* Thumb's mode bit */
}

/* ---- options ---------------------------------------------------------------- */

static void test_option_defaults_and_limits(void)
{
    struct anr_options o;
    anr_options_init(&o);
    MBT_EQ_U64(0, o.guard_words);
    MBT_FALSE(o.fill_with_trash);
    MBT_EQ_U64(0, o.stack_depth);
    MBT_EQ_U64(0, o.flight_recorder_entries);
    MBT_NULL(o.report);
    MBT_EQ_INT(2, o.report_fd);
    anr_heap *h = NULL;
    o.guard_words = 65;
    MBT_EQ_INT(-EINVAL, anr_heap_create(&o, &h));
    o.guard_words = 64;
    o.stack_depth = 33;
    MBT_EQ_INT(-EINVAL, anr_heap_create(&o, &h));
    o.stack_depth = 32;
    o.flight_recorder_entries = (1u << 20) + 1u;
    MBT_EQ_INT(-EINVAL, anr_heap_create(&o, &h));
    o.flight_recorder_entries = 1u << 20;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    anr_heap_destroy(h);
}

static void test_not_debug_mode(void)
{
    anr_heap *h = NULL;
    MBT_REQUIRE(anr_heap_create(NULL, &h) == 0);
    MBT_EQ_I64(-EOPNOTSUPP, anr_heap_mark(h));
    MBT_EQ_I64(-EOPNOTSUPP, anr_heap_walk_live(h, 0, NULL, NULL));
    MBT_EQ_I64(-EOPNOTSUPP, anr_heap_report_leaks(h, 2));
    struct anr_flight_entry e[2];
    MBT_EQ_U64(0, anr_heap_flight_recorder(h, e, 2));
    void *p = anr_heap_malloc(h, 10);
    char out[4096];
    MBT_EQ_I64(0, capture(h, dump_fn, out, sizeof out));
    MBT_TRUE(strstr(out, "counts: live_blocks 1 mallocs 1 callocs 0") != NULL);
    MBT_TRUE(strstr(out, "debug mode off: no sites, no flight recorder\n") != NULL);
    MBT_TRUE(strstr(out, "anr: end of dump\n") != NULL);
    anr_heap_free(h, p);
    anr_heap_destroy(h);
}

/* Thread caches are off in debug mode (every block has a header). */
static void test_debug_mode_has_no_thread_cache(void)
{
    struct anr_options o;
    anr_options_init(&o);
    o.thread_cache = true;
    o.guard_words = 1;
    anr_heap *h = NULL;
    MBT_REQUIRE(anr_heap_create(&o, &h) == 0);
    for (int i = 0; i < 100; i++)
        anr_heap_free(h, anr_heap_malloc(h, 32));
    struct anr_stats st = stats_of(h);
    MBT_EQ_U64(0, st.thread_cached_blocks);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_EQ_U64(100, st.mallocs);
    MBT_EQ_U64(100, st.frees);
    anr_heap_destroy(h);
}

/* ---- guards ------------------------------------------------------------------- */

static void test_guards_written_and_exact_usable_size(void)
{
    anr_heap *h = debug_heap(2, false, 0, 0);
    size_t g = guard_bytes(2);
    size_t sizes[] = {0, 1, 15, 16, 100, 3000, 5000, 70000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = anr_heap_malloc(h, sizes[i]);
        MBT_REQUIRE(p != NULL);
        MBT_EQ_U64(0, (uintptr_t)p % 16u);
        MBT_EQ_U64(sizes[i], anr_heap_usable_size(h, p));
        if (!UNDER_VALGRIND) {
            MBT_TRUE(all_bytes(p - g, (int)ANR_GUARD_BYTE, g));
            MBT_TRUE(all_bytes(p + sizes[i], (int)ANR_GUARD_BYTE, g));
        }
        anr_heap_free(h, p);
        MBT_EQ_U64(0, anr_heap_usable_size(h, p));
    }
    for (size_t align = 16; align <= 8192; align *= 2) {
        void *p = anr_heap_memalign(h, align, 40);
        MBT_REQUIRE(p != NULL);
        MBT_EQ_U64(0, (uintptr_t)p % align);
        MBT_EQ_U64(40, anr_heap_usable_size(h, p));
        anr_heap_free(h, p);
    }
    verify_ok(h);
    MBT_EQ_U64(0, nlines);
    MBT_EQ_U64(0, stats_of(h).guard_faults);
    anr_heap_destroy(h);
}

static void test_overrun_detected_on_free(void)
{
    if (UNDER_VALGRIND)
        return;
    anr_heap *h = debug_heap(2, false, 0, 0);
    char *p = anr_heap_malloc(h, 100);
    MBT_REQUIRE(p != NULL);
    p[100] ^= 1; /* one byte past the end */
    anr_heap_free(h, p);
    char want[256];
    snprintf(want, sizeof want,
             "anr: heap %p: guard damaged after block %p (size 100, allocation #1)\n",
             (void *)h, (void *)p);
    MBT_EQ_U64(1, nlines);
    MBT_EQ_STR(want, lines[0]);
    struct anr_stats st = stats_of(h);
    MBT_EQ_U64(1, st.guard_faults);
    MBT_EQ_U64(0, st.frees);      /* kept out of use, not freed */
    MBT_EQ_U64(1, st.live_blocks);
    char msg[256];
    MBT_EQ_INT(-EFAULT, verify_msg(h, msg, sizeof msg));
    snprintf(want, sizeof want, "guard damaged after block %p (size 100)", (void *)p);
    MBT_EQ_STR(want, msg);
    MBT_EQ_U64(1, nlines); /* reported and counted once */
    MBT_EQ_U64(1, stats_of(h).guard_faults);
    /* Never reused. */
    for (int i = 0; i < 50; i++) {
        void *q = anr_heap_malloc(h, 100);
        MBT_TRUE(q != p);
    }
    /* Freeing it again is a double free. */
    anr_heap_free(h, p);
    MBT_EQ_U64(2, nlines);
    snprintf(want, sizeof want,
             "anr: heap %p: double free of block %p (size 100, allocation #1)\n", (void *)h,
             (void *)p);
    MBT_EQ_STR(want, lines[1]);
    MBT_EQ_U64(1, stats_of(h).invalid_frees);
    anr_heap_destroy(h);
}

static void test_underrun_detected_by_verify(void)
{
    if (UNDER_VALGRIND)
        return;
    anr_heap *h = debug_heap(3, false, 0, 0);
    char *keep = anr_heap_malloc(h, 8);
    char *r = anr_heap_malloc(h, 24);
    MBT_REQUIRE(r != NULL && keep != NULL);
    r[-1] = 0;
    char msg[256], want[256];
    MBT_EQ_INT(-EFAULT, verify_msg(h, msg, sizeof msg));
    snprintf(want, sizeof want, "guard damaged before block %p (size 24)", (void *)r);
    MBT_EQ_STR(want, msg);
    MBT_EQ_U64(1, nlines);
    snprintf(want, sizeof want,
             "anr: heap %p: guard damaged before block %p (size 24, allocation #2)\n",
             (void *)h, (void *)r);
    MBT_EQ_STR(want, lines[0]);
    anr_heap_free(h, r); /* already reported: not again */
    MBT_EQ_U64(1, nlines);
    MBT_EQ_U64(1, stats_of(h).guard_faults);
    MBT_EQ_INT(-EFAULT, verify_msg(h, msg, sizeof msg));
    anr_heap_free(h, keep);
    anr_heap_destroy(h);
}

static void test_guards_checked_on_realloc(void)
{
    if (UNDER_VALGRIND)
        return;
    anr_heap *h = debug_heap(1, false, 0, 0);
    char *s = anr_heap_malloc(h, 40);
    MBT_REQUIRE(s != NULL);
    memset(s, 'x', 40);
    s[40] = 0; /* overrun */
    s[41] = 0;
    char *t = anr_heap_realloc(h, s, 80);
    MBT_REQUIRE(t != NULL);
    MBT_TRUE(t != s);
    MBT_TRUE(all_bytes(t, 'x', 40));
    char want[256];
    snprintf(want, sizeof want,
             "anr: heap %p: guard damaged after block %p (size 40, allocation #1)\n",
             (void *)h, (void *)s);
    MBT_EQ_U64(1, nlines);
    MBT_EQ_STR(want, lines[0]);
    MBT_EQ_U64(1, stats_of(h).guard_faults);
    MBT_EQ_U64(80, anr_heap_usable_size(h, t));
    MBT_EQ_U64(0, anr_heap_usable_size(h, s)); /* quarantined: not a live block */
    anr_heap_free(h, t);
    MBT_EQ_U64(1, nlines);
    anr_heap_destroy(h);
}

/* ---- trash ---------------------------------------------------------------------- */

static void test_trash_patterns(void)
{
    if (UNDER_VALGRIND)
        return;
    anr_heap *h = debug_heap(0, true, 0, 0);
    unsigned char *m = anr_heap_malloc(h, 64);
    unsigned char *c = anr_heap_calloc(h, 8, 8);
    unsigned char *a = anr_heap_memalign(h, 256, 48);
    unsigned char *big = anr_heap_malloc(h, 5000);
    MBT_REQUIRE(m && c && a && big);
    MBT_TRUE(all_bytes(m, (int)ANR_TRASH_ALLOC, 64));
    MBT_TRUE(all_bytes(c, 0, 64));
    MBT_TRUE(all_bytes(a, (int)ANR_TRASH_ALLOC, 48));
    MBT_TRUE(all_bytes(big, (int)ANR_TRASH_ALLOC, 5000));
    MBT_EQ_U64(0, (uintptr_t)a % 256u);
    memset(m, 1, 64);
    unsigned char *r = anr_heap_realloc(h, m, 128);
    MBT_REQUIRE(r != NULL);
    MBT_TRUE(all_bytes(r, 1, 64));
    MBT_TRUE(all_bytes(r + 64, (int)ANR_TRASH_ALLOC, 64));
    MBT_TRUE(all_bytes(m, (int)ANR_TRASH_FREE, 64)); /* realloc freed the old block */
    anr_heap_free(h, r);
    anr_heap_free(h, c);
    anr_heap_free(h, a);
    anr_heap_free(h, big);
    MBT_TRUE(all_bytes(r, (int)ANR_TRASH_FREE, 128));
    MBT_TRUE(all_bytes(c, (int)ANR_TRASH_FREE, 64));
    MBT_TRUE(all_bytes(a, (int)ANR_TRASH_FREE, 48));
    MBT_TRUE(all_bytes(big, (int)ANR_TRASH_FREE, 5000));
    verify_ok(h);
    anr_heap_destroy(h);
}

/* ---- stacks, double free, leaks ------------------------------------------------------ */

struct site_info {
    uintptr_t lo, hi; /* the call to malloc lies in [lo, hi) */
};

__attribute__((noinline)) static void *alloc_here(anr_heap *h, size_t n, struct site_info *si)
{
    void *p = anr_heap_malloc(h, n);
    si->hi = here();
    si->lo = code_addr((void (*)(void))alloc_here);
    __asm__ volatile("" ::: "memory"); /* no tail call */
    return p;
}

struct walk_copy {
    unsigned n;
    struct anr_block_info b[16];
    uintptr_t stack[16][16];
};

static void copy_block(const struct anr_block_info *b, void *user)
{
    struct walk_copy *w = user;
    if (w->n < 16) {
        w->b[w->n] = *b;
        for (unsigned i = 0; i < b->depth && i < 16; i++)
            w->stack[w->n][i] = b->stack[i];
        w->b[w->n].stack = w->stack[w->n];
    }
    w->n++;
}

static void test_stack_and_double_free(void)
{
    anr_heap *h = debug_heap(1, false, 6, 0);
    struct site_info si;
    void *p = alloc_here(h, 33, &si);
    uintptr_t after_call = here();
    MBT_REQUIRE(p != NULL);
    struct walk_copy w = {0};
    MBT_EQ_I64(1, anr_heap_walk_live(h, 0, copy_block, &w));
    MBT_REQUIRE(w.n == 1);
    MBT_EQ_PTR(p, w.b[0].ptr);
    MBT_EQ_U64(33, w.b[0].size);
    MBT_EQ_U64(1, w.b[0].seq);
    MBT_EQ_U64(0, w.b[0].generation);
    MBT_TRUE(w.b[0].depth >= 2 && w.b[0].depth <= 6);
    /* Frame 0: the call in alloc_here; frame 1: this function's call of it. */
    MBT_TRUE(w.stack[0][0] > si.lo && w.stack[0][0] < si.hi);
    uintptr_t self = code_addr((void (*)(void))test_stack_and_double_free);
    MBT_TRUE(w.stack[0][1] > self && w.stack[0][1] < after_call);
    anr_heap_free(h, p);
    MBT_EQ_U64(0, nlines);
    if (UNDER_VALGRIND) { /* memcheck reports the double free itself */
        anr_heap_destroy(h);
        return;
    }
    anr_heap_free(h, p);
    MBT_EQ_U64(1, nlines);
    char want[512];
    int k = snprintf(want, sizeof want,
                     "anr: heap %p: double free of block %p (size 33, allocation #1) allocated at",
                     (void *)h, p);
    for (unsigned i = 0; i < w.b[0].depth; i++)
        k += snprintf(want + k, sizeof want - (size_t)k, " 0x%" PRIxPTR, w.stack[0][i]);
    snprintf(want + k, sizeof want - (size_t)k, "\n");
    MBT_EQ_STR(want, lines[0]);
    /* A pointer that never was a block. */
    char *inside = anr_heap_malloc(h, 64);
    anr_heap_free(h, inside + 16);
    MBT_EQ_U64(2, nlines);
    snprintf(want, sizeof want, "anr: heap %p: free of %p, not a live block\n", (void *)h,
             (void *)(inside + 16));
    MBT_EQ_STR(want, lines[1]);
    MBT_EQ_U64(2, stats_of(h).invalid_frees);
    anr_heap_free(h, inside);
    verify_ok(h);
    anr_heap_destroy(h);
}

/* One call site for n blocks: the loop must not be unrolled. */
__attribute__((noinline)) static void leak_a(anr_heap *h, void **out, volatile int n,
                                             struct site_info *si)
{
#pragma GCC unroll 1
    for (int i = 0; i < n; i++)
        out[i] = anr_heap_malloc(h, 100);
    si->hi = here();
    si->lo = code_addr((void (*)(void))leak_a);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void *leak_b(anr_heap *h, struct site_info *si)
{
    void *p = anr_heap_malloc(h, 1000);
    si->hi = here();
    si->lo = code_addr((void (*)(void))leak_b);
    __asm__ volatile("" ::: "memory");
    return p;
}

static int64_t leaks_fn(anr_heap *h, int fd)
{
    return anr_heap_report_leaks(h, fd);
}

static int put_stack(char *buf, size_t len, const struct anr_block_info *b)
{
    int k = snprintf(buf, len, " allocated at");
    for (unsigned i = 0; i < b->depth; i++)
        k += snprintf(buf + k, len - (size_t)k, " 0x%" PRIxPTR, b->stack[i]);
    return k;
}

static void test_leak_report(void)
{
    anr_heap *h = debug_heap(1, true, 8, 0);
    void *before = anr_heap_malloc(h, 50); /* generation 0: not reported */
    MBT_EQ_I64(1, anr_heap_mark(h));
    void *a[3];
    struct site_info sa, sb;
    leak_a(h, a, 3, &sa);
    void *b = leak_b(h, &sb);
    MBT_REQUIRE(a[0] && a[1] && a[2] && b);
    anr_heap_free(h, a[1]);
    struct walk_copy w = {0};
    MBT_EQ_I64(3, anr_heap_walk_live(h, 1, copy_block, &w));
    MBT_REQUIRE(w.n == 3);
    MBT_EQ_PTR(a[0], w.b[0].ptr);
    MBT_EQ_PTR(a[2], w.b[1].ptr);
    MBT_EQ_PTR(b, w.b[2].ptr);
    MBT_EQ_U64(1, w.b[0].generation);
    MBT_TRUE(w.stack[0][0] > sa.lo && w.stack[0][0] < sa.hi);
    MBT_TRUE(w.stack[2][0] > sb.lo && w.stack[2][0] < sb.hi);
    MBT_TRUE(w.b[0].depth == w.b[1].depth &&
             memcmp(w.stack[0], w.stack[1], w.b[0].depth * sizeof(uintptr_t)) == 0);

    char out[8192], want[8192];
    MBT_EQ_I64(3, capture(h, leaks_fn, out, sizeof out));
    int k = snprintf(want, sizeof want,
                     "anr: leak report for heap %p: 3 blocks, 1200 bytes live since generation 1,"
                     " 2 sites\nsite 1: 1 blocks, 1000 bytes",
                     (void *)h);
    k += put_stack(want + k, sizeof want - (size_t)k, &w.b[2]);
    k += snprintf(want + k, sizeof want - (size_t)k,
                  "\n  block %p size 1000 allocation #5\nsite 2: 2 blocks, 200 bytes", b);
    k += put_stack(want + k, sizeof want - (size_t)k, &w.b[0]);
    snprintf(want + k, sizeof want - (size_t)k,
             "\n  block %p size 100 allocation #2\n  block %p size 100 allocation #4\n"
             "anr: end of leak report\n",
             a[0], a[2]);
    MBT_EQ_STR(want, out);

    /* After a new mark nothing is new. */
    MBT_EQ_I64(2, anr_heap_mark(h));
    MBT_EQ_I64(0, capture(h, leaks_fn, out, sizeof out));
    snprintf(want, sizeof want,
             "anr: leak report for heap %p: 0 blocks, 0 bytes live since generation 2, 0 sites\n"
             "anr: end of leak report\n",
             (void *)h);
    MBT_EQ_STR(want, out);
    anr_heap_free(h, a[0]);
    anr_heap_free(h, a[2]);
    anr_heap_free(h, b);
    anr_heap_free(h, before);
    verify_ok(h);
    MBT_EQ_U64(0, stats_of(h).live_blocks);
    MBT_EQ_U64(0, nlines);
    anr_heap_destroy(h);
}

/* ---- flight recorder and dump -------------------------------------------------------- */

static void test_flight_recorder(void)
{
    anr_heap *h = debug_heap(0, false, 0, 4);
    void *a = anr_heap_malloc(h, 10);
    void *b = anr_heap_calloc(h, 2, 8);
    void *c = anr_heap_memalign(h, 64, 100);
    void *b2 = anr_heap_realloc(h, b, 40);
    anr_heap_free(h, a);
    anr_heap_free(h, c);
    MBT_REQUIRE(a && b && c && b2);
    struct anr_flight_entry e[8];
    memset(e, 0, sizeof e);
    MBT_EQ_U64(4, anr_heap_flight_recorder(h, e, 8));
    uint32_t tid = (uint32_t)syscall(SYS_gettid);
    const uint32_t ops[4] = {ANR_OP_MEMALIGN, ANR_OP_REALLOC, ANR_OP_FREE, ANR_OP_FREE};
    const void *ptrs[4] = {c, b2, a, c};
    const uint64_t sizes[4] = {100, 40, 10, 100};
    for (unsigned i = 0; i < 4; i++) {
        MBT_EQ_U64(3 + i, e[i].seq);
        MBT_EQ_U64(ops[i], e[i].op);
        MBT_EQ_U64((uintptr_t)ptrs[i], e[i].ptr);
        MBT_EQ_U64(sizes[i], e[i].size);
        MBT_EQ_U64(tid, e[i].tid);
        MBT_EQ_U64(i == 1 ? (uintptr_t)b : 0, e[i].old_ptr);
        if (i > 0)
            MBT_TRUE(e[i].time_ns >= e[i - 1].time_ns);
    }
    MBT_EQ_U64(2, anr_heap_flight_recorder(h, e, 2));
    MBT_EQ_U64(5, e[0].seq);
    MBT_EQ_U64(6, e[1].seq);

    char out[8192];
    MBT_EQ_I64(0, capture(h, dump_fn, out, sizeof out));
    char want[512];
    snprintf(want, sizeof want, "anr: dump of heap %p\n", (void *)h);
    MBT_TRUE(strncmp(out, want, strlen(want)) == 0);
    MBT_TRUE(strstr(out, "counts: live_blocks 1 mallocs 1 callocs 1 reallocs 1 memaligns 1 "
                         "frees 3 failures 0") != NULL);
    MBT_TRUE(strstr(out, "sites: 1 largest of 1 (1 blocks, 40 bytes)\n"
                         "site 1: 1 blocks, 40 bytes\n") != NULL);
    MBT_TRUE(strstr(out, "flight recorder: last 4 of 6 operations, oldest first\n") != NULL);
    snprintf(want, sizeof want, " tid %u realloc %p size 40 from %p\n", (unsigned)tid, b2, b);
    MBT_TRUE(strstr(out, want) != NULL);
    snprintf(want, sizeof want, " tid %u free %p size 100\nanr: end of dump\n", (unsigned)tid,
             c);
    MBT_TRUE(strlen(out) >= strlen(want) && strcmp(out + strlen(out) - strlen(want), want) == 0);
    anr_heap_free(h, b2);
    anr_heap_destroy(h);
}

/* The dump from inside a report: the heap's lock is held, the dump must
 * neither wait nor walk the lists. */
static void test_dump_while_locked(void)
{
    if (UNDER_VALGRIND)
        return;
    anr_heap *h = debug_heap(0, false, 0, 8);
    void *p = anr_heap_malloc(h, 20);
    report_dump[0] = '\0';
    dump_in_report = true;
    anr_heap_free(h, (char *)p + 16); /* reported: not a live block */
    dump_in_report = false;
    MBT_EQ_U64(1, nlines);
    char want[256];
    snprintf(want, sizeof want, "anr: dump of heap %p (heap busy: figures read without its lock)\n",
             (void *)h);
    MBT_TRUE(strncmp(report_dump, want, strlen(want)) == 0);
    MBT_TRUE(strstr(report_dump, "sites: skipped (heap busy)\n") != NULL);
    snprintf(want, sizeof want, "bad-free %p size 0\nanr: end of dump\n", (void *)((char *)p + 16));
    MBT_TRUE(strstr(report_dump, want) != NULL);
    anr_heap_free(h, p);
    anr_heap_destroy(h);
}

/* ---- everything on, randomized ----------------------------------------------------------- */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    return mbt_xorshift64(&rng);
}

#define SLOTS 512
static void test_workload_all_options(void)
{
    anr_heap *h = debug_heap(2, true, 8, 64);
    static unsigned char *slot[SLOTS];
    static size_t size[SLOTS];
    unsigned bad = 0;
    for (unsigned i = 0; i < 20000; i++) {
        unsigned s = (unsigned)(rnd() % SLOTS);
        if (slot[s] != NULL) {
            for (size_t j = 0; j < size[s]; j++)
                bad += slot[s][j] != (unsigned char)(s + j);
            if (rnd() % 4 == 0) {
                size_t n = (size_t)(rnd() % 9000);
                unsigned char *q = anr_heap_realloc(h, slot[s], n);
                if (q == NULL && n > 0)
                    continue;
                slot[s] = q;
                size[s] = n;
            } else {
                anr_heap_free(h, slot[s]);
                slot[s] = NULL;
                size[s] = 0;
            }
        } else {
            size_t n = (size_t)(rnd() % (rnd() % 8 == 0 ? 20000 : 300));
            unsigned kind = (unsigned)(rnd() % 3);
            slot[s] = kind == 0   ? anr_heap_malloc(h, n)
                      : kind == 1 ? anr_heap_calloc(h, 1, n)
                                  : anr_heap_memalign(h, (size_t)16 << (rnd() % 6), n);
            size[s] = slot[s] != NULL ? n : 0;
        }
        for (size_t j = 0; j < size[s]; j++)
            slot[s][j] = (unsigned char)(s + j);
        if (i % 2000 == 0)
            verify_ok(h);
    }
    MBT_EQ_U64(0, bad);
    verify_ok(h);
    for (unsigned s = 0; s < SLOTS; s++) {
        anr_heap_free(h, slot[s]);
        slot[s] = NULL;
    }
    struct anr_stats st = stats_of(h);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_EQ_U64(0, st.in_use_bytes);
    MBT_EQ_U64(0, st.guard_faults);
    MBT_EQ_U64(0, st.invalid_frees);
    MBT_EQ_U64(0, nlines);
    verify_ok(h);
    anr_heap_destroy(h);
}

int main(void)
{
    MBT_RUN(test_option_defaults_and_limits);
    MBT_RUN(test_not_debug_mode);
    MBT_RUN(test_debug_mode_has_no_thread_cache);
    MBT_RUN(test_guards_written_and_exact_usable_size);
    MBT_RUN(test_overrun_detected_on_free);
    MBT_RUN(test_underrun_detected_by_verify);
    MBT_RUN(test_guards_checked_on_realloc);
    MBT_RUN(test_trash_patterns);
    MBT_RUN(test_stack_and_double_free);
    MBT_RUN(test_leak_report);
    MBT_RUN(test_flight_recorder);
    MBT_RUN(test_dump_while_locked);
    MBT_RUN(test_workload_all_options);
    return mbt_finish();
}
