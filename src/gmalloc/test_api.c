/* test_gmalloc_api: the C library's allocation contract as libgmalloc.so
 * provides it (this program is linked with it, so its malloc is gmalloc's):
 * alignment of every function, errno on every failure, overflow checks,
 * realloc keeping bytes, usable sizes, foreign pointers, the glibc
 * inspection functions against anr's figures. */
#include "anr/gmalloc.h"
#include "mbtest.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Keep the compiler from folding calls with known results. */
static void *volatile sink;
static size_t volatile huge = SIZE_MAX;
static size_t volatile three = 3, zero = 0, forty_eight = 48;
/* Called through these where the test means to do what compilers warn
 * about (freeing a pointer that is not a heap block, using a block after a
 * failed realloc). */
static void (*volatile free_v)(void *) = free;
static void *(*volatile realloc_v)(void *, size_t) = realloc;
static void *(*volatile reallocarray_v)(void *, size_t, size_t) = reallocarray;

/* For calls expected to fail: true when p is NULL (a block is freed). */
static bool is_null(void *p)
{
    free(p);
    return p == NULL;
}

static bool aligned_to(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1u)) == 0;
}

static struct gmalloc_stats stats(void)
{
    struct gmalloc_stats s;
    MBT_EQ_INT(0, gmalloc_stats(&s));
    return s;
}

static void test_heap_is_gmalloc(void)
{
    void *p = malloc(100);
    MBT_REQUIRE(p != NULL);
    MBT_TRUE(gmalloc_owns(p));
    struct gmalloc_settings set;
    MBT_EQ_INT(0, gmalloc_settings(&set));
    MBT_TRUE(set.map_size > 0);
    int x;
    MBT_FALSE(gmalloc_owns(&x));
    free(p);
}

static void test_malloc_alignment_and_usable(void)
{
    for (size_t n = 0; n <= 70000; n += (n < 600 ? 1 : n / 7)) {
        unsigned char *p = malloc(n); // NOLINT(clang-analyzer-optin.portability.UnixAPI): n may be 0 on purpose
        MBT_REQUIRE(p != NULL);
        MBT_TRUE(aligned_to(p, 16));
        MBT_TRUE(malloc_usable_size(p) >= n);
        memset(p, 0x5a, n);
        free(p);
    }
    MBT_EQ_U64(0, malloc_usable_size(NULL));
}

static void test_calloc(void)
{
    for (size_t n = 1; n < 20000; n = n * 3 + 1) {
        unsigned char *p = malloc(n);
        memset(p, 0xff, n);
        free(p);
        unsigned char *q = calloc(n, 1);
        MBT_REQUIRE(q != NULL);
        MBT_TRUE(aligned_to(q, 16));
        size_t nonzero = 0;
        for (size_t i = 0; i < n; i++)
            nonzero += q[i] != 0;
        MBT_EQ_U64(0, nonzero);
        free(q);
    }
    errno = 0;
    MBT_TRUE(is_null(calloc(huge / 2u + 1u, 2)));
    MBT_EQ_INT(ENOMEM, errno);
    errno = 0;
    MBT_TRUE(is_null(calloc(2, huge / 2u + 1u)));
    MBT_EQ_INT(ENOMEM, errno);
}

static void test_malloc_failures(void)
{
    uint64_t before = stats().oom_failures;
    errno = 0;
    MBT_TRUE(is_null(malloc(huge)));
    MBT_EQ_INT(ENOMEM, errno);
    errno = 0;
    MBT_TRUE(is_null(malloc(huge / 2u)));
    MBT_EQ_INT(ENOMEM, errno);
    errno = 0;
    MBT_TRUE(is_null(realloc(NULL, huge - 10u)));
    MBT_EQ_INT(ENOMEM, errno);
    MBT_EQ_U64(before + 3, stats().oom_failures);
}

static void test_realloc_keeps_bytes(void)
{
    size_t sizes[] = {1, 17, 100, 300, 3000, 3100, 5000, 70000, 1 << 20, 40, 2, 200000, 8};
    unsigned char *p = NULL;
    size_t have = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *q = realloc(p, n);
        MBT_REQUIRE(q != NULL);
        MBT_TRUE(aligned_to(q, 16));
        size_t keep = have < n ? have : n, bad = 0;
        for (size_t j = 0; j < keep; j++)
            bad += q[j] != (unsigned char)(j * 7u + 3u);
        MBT_EQ_U64(0, bad);
        for (size_t j = 0; j < n; j++)
            q[j] = (unsigned char)(j * 7u + 3u);
        p = q;
        have = n;
    }
    /* realloc(p, 0) frees p and returns NULL, as glibc does. */
    uint64_t frees = stats().heap.frees;
    MBT_TRUE(is_null(realloc(p, 0)));
    MBT_EQ_U64(frees + 1, stats().heap.frees);
    /* A failing realloc leaves the block alone. */
    unsigned char *r = malloc(64);
    memset(r, 0x11, 64);
    errno = 0;
    MBT_TRUE(is_null(realloc_v(r, huge - 100u)));
    MBT_EQ_INT(ENOMEM, errno);
    MBT_EQ_U64(0x11, r[63]);
    errno = 0;
    MBT_TRUE(is_null(reallocarray_v(r, huge / 4u, 8)));
    MBT_EQ_INT(ENOMEM, errno);
    MBT_EQ_U64(0x11, r[0]);
    unsigned char *s = reallocarray_v(r, 100, 3);
    MBT_REQUIRE(s != NULL);
    MBT_TRUE(aligned_to(s, 16));
    MBT_TRUE(malloc_usable_size(s) >= 300);
    MBT_EQ_U64(0x11, s[63]);
    free(s);
}

static void test_aligned_functions(void)
{
    for (size_t a = sizeof(void *); a <= (1u << 20); a <<= 1) {
        void *p = (void *)0x1;
        MBT_EQ_INT(0, posix_memalign(&p, a, 100));
        MBT_TRUE(aligned_to(p, a));
        MBT_TRUE(malloc_usable_size(p) >= 100);
        free(p);
        void *q = aligned_alloc(a, 3 * a);
        MBT_REQUIRE(q != NULL);
        MBT_TRUE(aligned_to(q, a));
        free(q);
        void *r = memalign(a, 1);
        MBT_REQUIRE(r != NULL);
        MBT_TRUE(aligned_to(r, a));
        free_aligned_sized(r, a, 1);
    }
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    void *v = valloc(10);
    MBT_TRUE(v != NULL && aligned_to(v, pg));
    free(v);
    void *pv = pvalloc(10);
    MBT_TRUE(pv != NULL && aligned_to(pv, pg));
    MBT_TRUE(malloc_usable_size(pv) >= pg);
    free(pv);
    /* memalign rounds an alignment that is not a power of two up. */
    void *m = memalign(forty_eight, 10);
    MBT_TRUE(m != NULL && aligned_to(m, 64));
    free(m);
}

static void test_aligned_errors(void)
{
    void *p = (void *)0x1234;
    errno = 0;
    MBT_EQ_INT(EINVAL, posix_memalign(&p, three, 10));
    MBT_EQ_INT(EINVAL, posix_memalign(&p, sizeof(void *) / 2u, 10));
    MBT_EQ_INT(EINVAL, posix_memalign(&p, zero, 10));
    MBT_EQ_PTR((void *)0x1234, p);
    MBT_EQ_INT(ENOMEM, posix_memalign(&p, 64, huge - 4096u));
    MBT_EQ_PTR((void *)0x1234, p);
    MBT_EQ_INT(0, errno); /* posix_memalign returns its error, errno untouched */
    errno = 0;
    MBT_TRUE(is_null(aligned_alloc(three, 10)));
    MBT_EQ_INT(EINVAL, errno);
    errno = 0;
    MBT_TRUE(is_null(aligned_alloc(zero, 10)));
    MBT_EQ_INT(EINVAL, errno);
    errno = 0;
    MBT_TRUE(is_null(memalign(huge, 1)));
    MBT_EQ_INT(EINVAL, errno);
    errno = 0;
    MBT_TRUE(is_null(pvalloc(huge)));
    MBT_EQ_INT(ENOMEM, errno);
    errno = 0;
    MBT_TRUE(is_null(valloc(huge - 8192u)));
    MBT_EQ_INT(ENOMEM, errno);
}

static void test_free_keeps_errno(void)
{
    void *p = malloc(5000);
    errno = 1234;
    free(p);
    MBT_EQ_INT(1234, errno);
    errno = 4321;
    free(NULL);
    MBT_EQ_INT(4321, errno);
    void *q = malloc(10);
    free_sized(q, 10);
}

static void test_foreign_pointers(void)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                              -1, 0);
    MBT_REQUIRE(map != MAP_FAILED);
    MBT_EQ_INT(0, munmap(map + pg, pg)); /* nothing readable after the first page */
    for (size_t i = 0; i < pg; i++)
        map[i] = (unsigned char)(i ^ 0x3c);
    struct gmalloc_stats s0 = stats();
    free_v(map + 64);
    free_v(map);
    struct gmalloc_stats s1 = stats();
    MBT_EQ_U64(s0.foreign_frees + 2, s1.foreign_frees);
    MBT_EQ_U64(s0.heap.frees, s1.heap.frees);
    MBT_EQ_U64(0x3c ^ 64u, map[64]); /* untouched */

    /* realloc copies: min(new size, bytes readable). */
    unsigned char *q = realloc_v(map + 100, 200);
    MBT_REQUIRE(q != NULL);
    MBT_TRUE(gmalloc_owns(q));
    MBT_EQ_MEM(map + 100, q, 200);
    free(q);
    unsigned char *tail = map + pg - 32;
    unsigned char *r = realloc_v(tail, 100000); /* only 32 bytes are readable */
    MBT_REQUIRE(r != NULL);
    MBT_EQ_MEM(tail, r, 32);
    free(r);
    MBT_TRUE(is_null(realloc_v(map + 8, 0)));
    struct gmalloc_stats s2 = stats();
    MBT_EQ_U64(s1.foreign_reallocs + 2, s2.foreign_reallocs);
    MBT_EQ_U64(s1.foreign_frees + 1, s2.foreign_frees);
    MBT_EQ_U64(0, malloc_usable_size(map));
    munmap(map, pg);
}

static void test_inspection(void)
{
    void *blocks[64];
    for (int i = 0; i < 64; i++)
        blocks[i] = malloc(1000 + (size_t)i * 512);
    struct mallinfo2 mi = mallinfo2();
    struct gmalloc_stats s = stats();
    MBT_EQ_U64(s.heap.in_use_bytes, mi.uordblks);
    MBT_EQ_U64(s.heap.resident_bytes, mi.arena);
    MBT_EQ_U64(s.heap.resident_bytes - s.heap.in_use_bytes, mi.fordblks);
    MBT_EQ_U64(s.heap.reclaimable_bytes, mi.keepcost);
    MBT_EQ_U64(0, mi.hblkhd);
    for (int i = 0; i < 64; i++)
        free(blocks[i]);
    MBT_EQ_INT(1, mallopt(M_TRIM_THRESHOLD, 4096));
    MBT_EQ_INT(1, mallopt(12345, 1));

    /* malloc_trim gives the free pages back. */
    char *big = malloc(4u << 20);
    memset(big, 1, 4u << 20);
    free(big);
    MBT_TRUE(stats().heap.reclaimable_bytes > 0);
    MBT_EQ_INT(1, malloc_trim(0));
    MBT_EQ_U64(0, stats().heap.reclaimable_bytes);

    FILE *f = tmpfile();
    MBT_REQUIRE(f != NULL);
    MBT_EQ_INT(0, malloc_info(0, f));
    errno = 0;
    MBT_EQ_INT(-1, malloc_info(1, f));
    MBT_EQ_INT(EINVAL, errno);
    char text[2048] = {0};
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    MBT_TRUE(n > 0);
    MBT_TRUE(strstr(text, "<malloc version=\"gmalloc-1\">") != NULL);
    MBT_TRUE(strstr(text, "</malloc>") != NULL);

    char buf[200];
    MBT_EQ_INT(0, gmalloc_verify(buf, sizeof buf));
}

static void test_report(void)
{
    int fds[2];
    MBT_REQUIRE(pipe(fds) == 0);
    MBT_EQ_INT(0, gmalloc_report(fds[1]));
    close(fds[1]);
    char text[4096] = {0};
    size_t got = 0;
    ssize_t n;
    while ((n = read(fds[0], text + got, sizeof text - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    MBT_TRUE(strncmp(text, "gmalloc report: on request\n", 27) == 0);
    MBT_TRUE(strstr(text, "\nhard_limit ") != NULL);
    MBT_TRUE(strstr(text, "\nend of gmalloc report\n") != NULL);
}

int main(void)
{
    sink = malloc(1);
    MBT_RUN(test_heap_is_gmalloc);
    MBT_RUN(test_malloc_alignment_and_usable);
    MBT_RUN(test_calloc);
    MBT_RUN(test_malloc_failures);
    MBT_RUN(test_realloc_keeps_bytes);
    MBT_RUN(test_aligned_functions);
    MBT_RUN(test_aligned_errors);
    MBT_RUN(test_free_keeps_errno);
    MBT_RUN(test_foreign_pointers);
    MBT_RUN(test_inspection);
    MBT_RUN(test_report);
    free(sink);
    return mbt_finish();
}
