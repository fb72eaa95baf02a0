/* API contract of anr_malloc: sizes, alignment, usable sizes, realloc,
 * calloc, errors and errno, statistics, the default heap and verify. */
#include "anr/anr_malloc.h"
#include "mbtest.h"

#include <errno.h>
#include <stdalign.h>

/* The corruption below is on purpose: memcheck is told so (docs/anr.md,
 * "Valgrind"), so the suite runs clean under valgrind. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define QUIET_BEGIN() VALGRIND_DISABLE_ERROR_REPORTING
#define QUIET_END() VALGRIND_ENABLE_ERROR_REPORTING
#endif
#endif
#ifndef QUIET_BEGIN
#define QUIET_BEGIN() ((void)0)
#define QUIET_END() ((void)0)
#endif

#define MiB ((size_t)1 << 20)

/* The built-in classes, computed here independently of slab.c. */
static size_t classes[64];
static size_t nclasses;

static void build_classes(void)
{
    nclasses = 0;
    for (size_t s = 16; s <= 128; s += 16)
        classes[nclasses++] = s;
    for (size_t base = 128; base < 3072; base *= 2)
        for (size_t i = 1; i <= 8 && base + i * base / 8 <= 3072; i++)
            classes[nclasses++] = base + i * base / 8;
}

/* What usable size a fresh heap gives for `size` bytes. */
static size_t expected_usable(size_t size)
{
    if (size == 0)
        size = 1;
    for (size_t i = 0; i < nclasses; i++)
        if (classes[i] >= size)
            return classes[i];
    return (size + 15u) & ~(size_t)15u;
}

static size_t page_size_of(anr_heap *h)
{
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    return (size_t)st.page_size;
}

static anr_heap *make_heap(size_t pool, size_t map)
{
    struct anr_options o;
    anr_options_init(&o);
    o.pool_size = pool;
    o.map_size = map;
    anr_heap *h = NULL;
    int rc = anr_heap_create(&o, &h);
    MBT_EQ_INT(0, rc);
    return h;
}

static void verify_ok(anr_heap *h)
{
    char msg[256];
    int rc = anr_heap_verify(h, msg, sizeof msg);
    if (!MBT_EQ_INT(0, rc))
        fprintf(stderr, "    verify: %s\n", msg);
}

static void test_defaults(void)
{
    struct anr_options o;
    anr_options_init(&o);
    MBT_EQ_U64(2 * MiB, o.pool_size);
    MBT_EQ_U64(0, o.map_size);
    MBT_EQ_U64(128, o.page_ceiling);
    MBT_EQ_U64(SIZE_MAX, o.page_floor);
    MBT_EQ_U64(256, o.reclaim_batch);
    MBT_EQ_U64(8, o.max_attempts);
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(NULL, &h));
    MBT_REQUIRE(h != NULL);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(2 * MiB, st.budget_bytes);
    MBT_EQ_U64(4 * MiB, st.map_bytes);
    MBT_EQ_U64(4 * MiB, st.hard_limit_bytes);
    MBT_EQ_U64(0, st.in_use_bytes);
    MBT_EQ_U64(2 * st.page_size, st.resident_bytes); /* first and last arena page */
    verify_ok(h);
    anr_heap_destroy(h);
}

static void test_bad_options(void)
{
    struct anr_options o;
    anr_heap *h = (anr_heap *)&o;
    uint32_t unsorted[] = {32, 16};
    uint32_t odd[] = {24};
    anr_options_init(&o);
    o.slab_sizes = unsorted;
    o.slab_size_count = 2;
    MBT_EQ_INT(-EINVAL, anr_heap_create(&o, &h));
    MBT_NULL(h);
    o.slab_sizes = odd;
    o.slab_size_count = 1;
    MBT_EQ_INT(-EINVAL, anr_heap_create(&o, &h));
    anr_options_init(&o);
    o.hard_limit = 1 * MiB; /* below the pool */
    MBT_EQ_INT(-EINVAL, anr_heap_create(&o, &h));
    anr_options_init(&o);
    o.page_floor = 200; /* above the ceiling */
    MBT_EQ_INT(-EINVAL, anr_heap_create(&o, &h));
    anr_options_init(&o);
    o.map_size = 4096; /* too small to hold anything */
    MBT_EQ_INT(-EINVAL, anr_heap_create(&o, &h));
    anr_options_init(&o);
    o.max_attempts = 1001;
    MBT_EQ_INT(-EINVAL, anr_heap_create(&o, &h));
}

static void test_every_size(void)
{
    anr_heap *h = make_heap(8 * MiB, 16 * MiB);
    MBT_REQUIRE(h != NULL);
    size_t pg = page_size_of(h);
    for (size_t size = 0; size <= 3 * pg + 100; size++) {
        unsigned char *p = anr_heap_malloc(h, size);
        if (!MBT_NOT_NULL(p))
            break;
        size_t u = anr_heap_usable_size(h, p);
        MBT_EQ_U64(0, (uintptr_t)p % alignof(max_align_t));
        MBT_EQ_U64(0, (uintptr_t)p % 16);
        if (!MBT_EQ_U64(expected_usable(size), u)) {
            fprintf(stderr, "    size %zu\n", size);
            break;
        }
        memset(p, 0x5a, u); /* the whole usable size is ours */
        anr_heap_free(h, p);
    }
    verify_ok(h);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(3 * pg + 101, st.mallocs);
    MBT_EQ_U64(3 * pg + 101, st.frees);
    MBT_EQ_U64(0, st.invalid_frees);
    MBT_EQ_U64(0, st.in_use_bytes);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_EQ_U64(0, st.failures);
    anr_heap_destroy(h);
}

static void test_edges_kept_live(void)
{
    /* Blocks at every class boundary and page edge, all live at once, each
     * filled with its own byte: no block overlaps another or its header. */
    anr_heap *h = make_heap(8 * MiB, 16 * MiB);
    MBT_REQUIRE(h != NULL);
    size_t sizes[256], n = 0;
    size_t pg = page_size_of(h);
    size_t edges[] = {0, 1, pg - 1, pg, pg + 1, 2 * pg, 64 * 1024, 1 * MiB};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        sizes[n++] = edges[i];
    for (size_t i = 0; i < nclasses; i++) {
        sizes[n++] = classes[i] - 1;
        sizes[n++] = classes[i];
        sizes[n++] = classes[i] + 1;
    }
    unsigned char *blocks[256];
    uint64_t in_use = 0;
    for (size_t i = 0; i < n; i++) {
        blocks[i] = anr_heap_malloc(h, sizes[i]);
        MBT_REQUIRE(blocks[i] != NULL);
        MBT_EQ_U64(0, (uintptr_t)blocks[i] % 16);
        size_t u = anr_heap_usable_size(h, blocks[i]);
        MBT_CHECK(u >= sizes[i]);
        MBT_EQ_U64(expected_usable(sizes[i]), u);
        in_use += u;
        memset(blocks[i], (int)(i & 0xff), u);
    }
    verify_ok(h);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(in_use, st.in_use_bytes);
    MBT_EQ_U64(n, st.live_blocks);
    for (size_t i = 0; i < n; i++) {
        size_t u = anr_heap_usable_size(h, blocks[i]);
        for (size_t j = 0; j < u; j++) {
            if (blocks[i][j] != (unsigned char)(i & 0xff)) {
                MBT_EQ_U64(i & 0xff, blocks[i][j]);
                break;
            }
        }
        anr_heap_free(h, blocks[i]);
    }
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.in_use_bytes);
    verify_ok(h);
    anr_heap_destroy(h);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7u);
}

static bool check_fill(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7u))
            return MBT_EQ_U64((unsigned char)(seed + i * 7u), p[i]);
    return true;
}

/* Large blocks grown a little at a time, four of them in turn so each is in
 * the others' way, move into blocks with an eighth of headroom: few moves,
 * contents kept, and none of the headroom when the budget is short. */
static void test_realloc_growth_headroom(void)
{
    anr_heap *h = make_heap(8 * MiB, 16 * MiB);
    MBT_REQUIRE(h != NULL);
    unsigned char *p[4];
    size_t size = 20000;
    for (unsigned k = 0; k < 4; k++) {
        p[k] = anr_heap_malloc(h, size);
        MBT_REQUIRE(p[k] != NULL);
        fill(p[k], size, k);
    }
    unsigned moves = 0;
    while (size < 400000) {
        size_t want = size + 600u;
        for (unsigned k = 0; k < 4; k++) {
            unsigned char *q = anr_heap_realloc(h, p[k], want);
            MBT_REQUIRE(q != NULL);
            if (q != p[k]) {
                moves++;
                /* The new block has an eighth more than asked. */
                MBT_CHECK(anr_heap_usable_size(h, q) >= want + want / 8u);
                MBT_CHECK(check_fill(q, size, k));
            }
            for (size_t i = size; i < want; i++) /* the pattern of fill() */
                q[i] = (unsigned char)(k + i * 7u);
            p[k] = q;
        }
        size = want;
    }
    for (unsigned k = 0; k < 4; k++)
        MBT_CHECK(check_fill(p[k], size, k));
    /* 20000 -> 400000 by 600 bytes is 634 calls per block; with an eighth
     * of headroom at each move, ln(20)/ln(1.125) is about 26 moves a block
     * at most. */
    MBT_CHECK(moves <= 4 * 26);
    for (unsigned k = 0; k < 4; k++)
        anr_heap_free(h, p[k]);
    verify_ok(h);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.live_blocks);
    anr_heap_destroy(h);

    /* No headroom past the budget: under a 7.25 MiB budget a 3 MiB block
     * grows to 4 MiB (3 + 4.5 would not fit while both exist; 3 + 4 does),
     * and the headroom that did not fit is no failure. */
    h = make_heap(7 * MiB + MiB / 4u, 16 * MiB);
    MBT_REQUIRE(h != NULL);
    unsigned char *b = anr_heap_malloc(h, 3 * MiB);
    MBT_REQUIRE(b != NULL);
    fill(b, 3 * MiB, 5);
    void *wall = anr_heap_malloc(h, 5000);
    unsigned char *c = anr_heap_realloc(h, b, 4 * MiB);
    MBT_REQUIRE(c != NULL);
    MBT_TRUE(c != b);
    MBT_CHECK(check_fill(c, 3 * MiB, 5));
    MBT_CHECK(anr_heap_usable_size(h, c) < 4 * MiB + 64);
    anr_heap_free(h, c);
    anr_heap_free(h, wall);
    verify_ok(h);
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_EQ_U64(0, st.failures);
    anr_heap_destroy(h);
}

static void test_realloc(void)
{
    anr_heap *h = make_heap(8 * MiB, 16 * MiB);
    MBT_REQUIRE(h != NULL);
    /* A chain of sizes across small/large, growing and shrinking. */
    size_t chain[] = {1, 16, 17, 100, 3072, 3073, 5000, 4096, 70000, 300000, 200000, 2000,
                      48, 100000, 8, 0};
    unsigned char *p = anr_heap_realloc(h, NULL, 10); /* NULL: acts as malloc */
    MBT_REQUIRE(p != NULL);
    fill(p, 10, 1);
    size_t have = 10;
    for (size_t i = 0; chain[i] != 0; i++) {
        unsigned char *q = anr_heap_realloc(h, p, chain[i]);
        MBT_REQUIRE(q != NULL);
        size_t keep = have < chain[i] ? have : chain[i];
        check_fill(q, keep, 1);
        MBT_CHECK(anr_heap_usable_size(h, q) >= chain[i]);
        MBT_EQ_U64(0, (uintptr_t)q % 16);
        fill(q, chain[i], 1);
        have = chain[i];
        p = q;
        verify_ok(h);
    }
    /* In place: a large block followed by free space grows where it is. */
    unsigned char *big = anr_heap_malloc(h, 10000);
    unsigned char *grown = anr_heap_realloc(h, big, 20000);
    MBT_EQ_PTR(big, grown);
    unsigned char *shrunk = anr_heap_realloc(h, grown, 12000);
    MBT_EQ_PTR(big, shrunk);
    MBT_EQ_U64(12000, anr_heap_usable_size(h, shrunk));
    /* Same class: same pointer. */
    unsigned char *s = anr_heap_malloc(h, 100);
    MBT_EQ_PTR(s, anr_heap_realloc(h, s, 110));
    /* size 0 frees and returns NULL. */
    errno = 0;
    MBT_NULL(anr_heap_realloc(h, s, 0));
    MBT_EQ_INT(0, errno);
    /* Failure leaves the block intact. */
    fill(shrunk, 12000, 9);
    errno = 0;
    MBT_NULL(anr_heap_realloc(h, shrunk, SIZE_MAX - 8));
    MBT_EQ_INT(ENOMEM, errno);
    MBT_NULL(anr_heap_realloc(h, shrunk, 64 * MiB)); /* larger than the map */
    check_fill(shrunk, 12000, 9);
    anr_heap_free(h, shrunk);
    anr_heap_free(h, p);
    verify_ok(h);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.live_blocks);
    anr_heap_destroy(h);
}

static void test_calloc_zeroes(void)
{
    anr_heap *h = make_heap(4 * MiB, 8 * MiB);
    MBT_REQUIRE(h != NULL);
    size_t sizes[] = {1, 16, 100, 3000, 4096, 9000, 200000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = anr_heap_malloc(h, sizes[i]);
        MBT_REQUIRE(p != NULL);
        memset(p, 0xff, anr_heap_usable_size(h, p));
        anr_heap_free(h, p);
        unsigned char *q = anr_heap_calloc(h, 1, sizes[i]);
        MBT_REQUIRE(q != NULL);
        MBT_EQ_PTR(p, q); /* the same memory came back: it must be cleared */
        unsigned char zero[256] = {0};
        for (size_t off = 0; off < sizes[i]; off += sizeof zero) {
            size_t n = sizes[i] - off < sizeof zero ? sizes[i] - off : sizeof zero;
            MBT_EQ_MEM(zero, q + off, n);
        }
        anr_heap_free(h, q);
    }
    unsigned *arr = anr_heap_calloc(h, 1000, sizeof(unsigned));
    MBT_REQUIRE(arr != NULL);
    MBT_EQ_U64(0, arr[0] | arr[999]);
    anr_heap_free(h, arr);
    anr_heap_destroy(h);
}

static void test_errors(void)
{
    anr_heap *h = make_heap(2 * MiB, 4 * MiB);
    MBT_REQUIRE(h != NULL);
    size_t bad[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15, SIZE_MAX - 16, SIZE_MAX - 4096,
                    SIZE_MAX / 2 + 1, SIZE_MAX / 2, 5 * MiB};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        MBT_NULL(anr_heap_malloc(h, bad[i]));
        MBT_EQ_INT(ENOMEM, errno);
        errno = 0;
        MBT_NULL(anr_heap_memalign(h, 64, bad[i]));
        MBT_EQ_INT(ENOMEM, errno);
        errno = 0;
        MBT_NULL(anr_heap_malloc_if_available(h, bad[i]));
        MBT_EQ_INT(ENOMEM, errno);
    }
    size_t half = (size_t)1 << (sizeof(size_t) * 4);
    errno = 0;
    MBT_NULL(anr_heap_calloc(h, half, half)); /* wraps to 0 */
    MBT_EQ_INT(ENOMEM, errno);
    errno = 0;
    MBT_NULL(anr_heap_calloc(h, SIZE_MAX / 2 + 1, 2));
    MBT_EQ_INT(ENOMEM, errno);
    errno = 0;
    MBT_NULL(anr_heap_calloc(h, 3, SIZE_MAX / 3 + 1));
    MBT_EQ_INT(ENOMEM, errno);
    errno = 0;
    MBT_NULL(anr_heap_calloc(h, 1024, 1024 * 5)); /* fits size_t, not the heap */
    MBT_EQ_INT(ENOMEM, errno);
    size_t bad_align[] = {0, 3, 24, 48, 100, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++) {
        errno = 0;
        MBT_NULL(anr_heap_memalign(h, bad_align[i], 16));
        MBT_EQ_INT(EINVAL, errno);
    }
    errno = 0;
    MBT_NULL(anr_heap_memalign(h, (SIZE_MAX >> 1) + 1, 16)); /* power of two, too big */
    MBT_EQ_INT(ENOMEM, errno);
    /* The heap still works after every failure: no sticky error. */
    void *p = anr_heap_malloc(h, 100);
    MBT_NOT_NULL(p);
    anr_heap_free(h, p);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(8 * 3 + 4 + 6 + 1, st.failures);
    MBT_EQ_U64(1, st.mallocs);
    verify_ok(h);
    anr_heap_destroy(h);
}

static void test_memalign(void)
{
    anr_heap *h = make_heap(16 * MiB, 32 * MiB);
    MBT_REQUIRE(h != NULL);
    size_t sizes[] = {0, 1, 16, 40, 100, 1000, 4095, 4096, 5000, 70000};
    void *keep[200];
    size_t nkeep = 0;
    for (size_t align = 1; align <= 1 * MiB; align *= 2) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            unsigned char *p = anr_heap_memalign(h, align, sizes[i]);
            MBT_REQUIRE(p != NULL);
            MBT_EQ_U64(0, (uintptr_t)p % align);
            MBT_EQ_U64(0, (uintptr_t)p % 16);
            size_t u = anr_heap_usable_size(h, p);
            MBT_CHECK(u >= sizes[i]);
            memset(p, 0x11, u);
            if (nkeep < 200 && (i % 2) == 0)
                keep[nkeep++] = p;
            else
                anr_heap_free(h, p);
        }
        verify_ok(h);
    }
    for (size_t i = 0; i < nkeep; i++)
        anr_heap_free(h, keep[i]);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.live_blocks);
    MBT_EQ_U64(21 * 10, st.memaligns);
    verify_ok(h);
    anr_heap_destroy(h);
}

static void test_invalid_frees(void)
{
    anr_heap *h = make_heap(2 * MiB, 4 * MiB);
    MBT_REQUIRE(h != NULL);
    int local = 0;
    char *small = anr_heap_malloc(h, 32);
    char *large = anr_heap_malloc(h, 10000);
    MBT_REQUIRE(small && large);
    MBT_TRUE(anr_heap_owns(h, small));
    MBT_TRUE(anr_heap_owns(h, large + 5000));
    MBT_FALSE(anr_heap_owns(h, &local));
    MBT_EQ_U64(0, anr_heap_usable_size(h, &local));
    MBT_EQ_U64(0, anr_heap_usable_size(h, small + 16)); /* a free slice */
    MBT_EQ_U64(0, anr_heap_usable_size(h, large + 16)); /* inside a block */
    anr_heap_free(h, &local);
    anr_heap_free(h, small + 8);
    anr_heap_free(h, large + 32);
    anr_heap_free(h, small);
    anr_heap_free(h, small); /* double free: ignored */
    anr_heap_free(h, large);
    anr_heap_free(h, large);
    anr_heap_free(h, NULL);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(5, st.invalid_frees);
    MBT_EQ_U64(2, st.frees);
    MBT_EQ_U64(0, st.live_blocks);
    verify_ok(h);
    anr_heap_destroy(h);
}

static void test_custom_classes(void)
{
    uint32_t sizes[] = {16, 48, 256, 4000};
    struct anr_options o;
    anr_options_init(&o);
    o.slab_sizes = sizes;
    o.slab_size_count = 4;
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(&o, &h));
    MBT_REQUIRE(h != NULL);
    MBT_EQ_U64(16, anr_heap_usable_size(h, anr_heap_malloc(h, 1)));
    MBT_EQ_U64(48, anr_heap_usable_size(h, anr_heap_malloc(h, 17)));
    MBT_EQ_U64(256, anr_heap_usable_size(h, anr_heap_malloc(h, 49)));
    MBT_EQ_U64(4000, anr_heap_usable_size(h, anr_heap_malloc(h, 257)));
    MBT_EQ_U64(4016, anr_heap_usable_size(h, anr_heap_malloc(h, 4001)));
    verify_ok(h);
    anr_heap_destroy(h);
}

static void test_verify_finds_corruption(void)
{
    anr_heap *h = make_heap(2 * MiB, 4 * MiB);
    MBT_REQUIRE(h != NULL);
    unsigned char *a = anr_heap_malloc(h, 5000);
    unsigned char *b = anr_heap_malloc(h, 5000);
    MBT_REQUIRE(a && b);
    verify_ok(h);
    QUIET_BEGIN();
    memset(a, 0, anr_heap_usable_size(h, a) + 16); /* overrun into b's header */
    QUIET_END();
    char msg[200];
    MBT_EQ_INT(-EFAULT, anr_heap_verify(h, msg, sizeof msg));
    MBT_CHECK(strstr(msg, "chunk at +") != NULL);
    printf("verify reported: %s\n", msg);
    anr_heap_destroy(h);
}

static void test_default_heap(void)
{
    errno = 0;
    MBT_NULL(anr_malloc(10));
    MBT_EQ_INT(ENOMEM, errno);
    struct anr_stats st;
    MBT_EQ_INT(-ENODEV, anr_malloc_stats(&st));
    MBT_EQ_INT(0, anr_malloc_init(NULL));
    MBT_EQ_INT(-EALREADY, anr_malloc_init(NULL));
    MBT_NOT_NULL(anr_malloc_default_heap());
    char *p = anr_malloc(100);
    char *q = anr_calloc(10, 10);
    char *r = anr_memalign(256, 100);
    MBT_REQUIRE(p && q && r);
    MBT_EQ_U64(0, (uintptr_t)r % 256);
    MBT_EQ_U64(112, anr_malloc_usable_size(p));
    p = anr_realloc(p, 1000);
    MBT_NOT_NULL(p);
    char *s = anr_malloc_if_possible(50);
    char *t = anr_malloc_if_available(50);
    MBT_REQUIRE(s && t);
    MBT_EQ_INT(0, anr_malloc_stats(&st));
    MBT_EQ_U64(3, st.mallocs);
    MBT_EQ_U64(1, st.callocs);
    MBT_EQ_U64(1, st.memaligns);
    MBT_EQ_U64(1, st.reallocs);
    MBT_EQ_U64(5, st.live_blocks);
    MBT_EQ_U64(1, st.frees); /* realloc moved 100 -> 1000 */
    anr_free(p);
    anr_free(q);
    anr_free(r);
    anr_free(s);
    anr_free(t);
    char msg[128];
    MBT_EQ_INT(0, anr_malloc_verify(msg, sizeof msg));
    MBT_EQ_INT(0, anr_malloc_expand(4096));
    MBT_EQ_INT(-ENOSPC, anr_malloc_expand(4 * MiB));
    MBT_EQ_U64(4096, anr_malloc_shrink(4096));
    anr_malloc_trim();
    MBT_EQ_INT(0, anr_malloc_stats(&st));
    MBT_EQ_U64(0, st.in_use_bytes);
    MBT_EQ_U64(0, st.reclaimable_bytes);
    anr_malloc_destroy();
    MBT_NULL(anr_malloc_default_heap());
    MBT_EQ_INT(0, anr_malloc_init(NULL)); /* again after destroy */
    anr_malloc_destroy();
}

static void test_many_heaps(void)
{
    anr_heap *heaps[16];
    void *blocks[16];
    for (int i = 0; i < 16; i++) {
        heaps[i] = make_heap(256 * 1024, 512 * 1024);
        MBT_REQUIRE(heaps[i] != NULL);
        blocks[i] = anr_heap_malloc(heaps[i], 1000);
        MBT_REQUIRE(blocks[i] != NULL);
    }
    for (int i = 0; i < 16; i++) {
        MBT_TRUE(anr_heap_owns(heaps[i], blocks[i]));
        MBT_FALSE(anr_heap_owns(heaps[(i + 1) % 16], blocks[i]));
    }
    for (int i = 0; i < 16; i++) {
        anr_heap_free(heaps[i], blocks[i]);
        anr_heap_destroy(heaps[i]);
    }
}

int main(void)
{
    build_classes();
    MBT_RUN(test_defaults);
    MBT_RUN(test_bad_options);
    MBT_RUN(test_every_size);
    MBT_RUN(test_edges_kept_live);
    MBT_RUN(test_realloc);
    MBT_RUN(test_realloc_growth_headroom);
    MBT_RUN(test_calloc_zeroes);
    MBT_RUN(test_errors);
    MBT_RUN(test_memalign);
    MBT_RUN(test_invalid_frees);
    MBT_RUN(test_custom_classes);
    MBT_RUN(test_verify_finds_corruption);
    MBT_RUN(test_default_heap);
    MBT_RUN(test_many_heaps);
    return mbt_finish();
}
