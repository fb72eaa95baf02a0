/* Unit tests for units.c: page conversions and the human-readable size rules. */
#include "common/units.h"
#include "mbtest.h"

#include <errno.h>
#include <unistd.h>

#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define TIB (GIB * 1024)
#define PIB (TIB * 1024)
#define EIB (PIB * 1024)

static void test_page_size(void)
{
    size_t size = mb_page_size();
    MBT_EQ_U64((uint64_t)sysconf(_SC_PAGESIZE), size);
    MBT_EQ_U64(0, size & (size - 1)); /* a power of two */
    MBT_CHECK(size >= 4096);
    MBT_EQ_U64(size, mb_page_size()); /* cached, same answer */
}

static void test_pages_to_bytes(void)
{
    uint64_t bytes = 7;
    MBT_EQ_INT(0, mb_pages_to_bytes(0, 4096, &bytes));
    MBT_EQ_U64(0, bytes);
    MBT_EQ_INT(0, mb_pages_to_bytes(3, 4096, &bytes));
    MBT_EQ_U64(12288, bytes);
    MBT_EQ_INT(0, mb_pages_to_bytes(3, 65536, &bytes));
    MBT_EQ_U64(196608, bytes);
    /* More than 4 GiB: fine on 32-bit too. */
    MBT_EQ_INT(0, mb_pages_to_bytes(UINT64_C(1) << 21, 4096, &bytes));
    MBT_EQ_U64(8 * GIB, bytes);
    /* The largest page count that fits, and one more. */
    MBT_EQ_INT(0, mb_pages_to_bytes(UINT64_MAX / 4096, 4096, &bytes));
    MBT_EQ_U64(UINT64_MAX - 4095, bytes);
    MBT_EQ_INT(-ERANGE, mb_pages_to_bytes(UINT64_MAX / 4096 + 1, 4096, &bytes));
    MBT_EQ_U64(UINT64_MAX - 4095, bytes); /* untouched on error */
    MBT_EQ_INT(-EINVAL, mb_pages_to_bytes(1, 0, &bytes));
}

static void test_bytes_to_pages(void)
{
    uint64_t pages = 7;
    static const struct {
        uint64_t bytes, page_size, floor, ceil;
    } cases[] = {
        {0, 4096, 0, 0},
        {1, 4096, 0, 1},
        {4095, 4096, 0, 1},
        {4096, 4096, 1, 1},
        {4097, 4096, 1, 2},
        {65536, 16384, 4, 4},
        {65537, 65536, 1, 2},
        {UINT64_MAX, 4096, UINT64_MAX / 4096, UINT64_MAX / 4096 + 1},
        {UINT64_MAX, 1, UINT64_MAX, UINT64_MAX},
        {UINT64_MAX - 4095, 4096, UINT64_MAX / 4096, UINT64_MAX / 4096},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        MBT_EQ_INT(0, mb_bytes_to_pages_floor(cases[i].bytes, cases[i].page_size, &pages));
        MBT_EQ_U64(cases[i].floor, pages);
        MBT_EQ_INT(0, mb_bytes_to_pages_ceil(cases[i].bytes, cases[i].page_size, &pages));
        MBT_EQ_U64(cases[i].ceil, pages);
    }
    pages = 7;
    MBT_EQ_INT(-EINVAL, mb_bytes_to_pages_floor(1, 0, &pages));
    MBT_EQ_INT(-EINVAL, mb_bytes_to_pages_ceil(1, 0, &pages));
    MBT_EQ_U64(7, pages);
}

static void expect_size(uint64_t bytes, const char *text)
{
    char buf[MB_SIZE_STRING_MAX];
    int len = mb_format_size(bytes, buf, sizeof(buf));
    if (!MBT_EQ_STR(text, buf))
        fprintf(stderr, "    for %" PRIu64 " bytes\n", bytes);
    MBT_EQ_INT((int)strlen(text), len);
}

static void test_format_size_rules(void)
{
    /* Below 1 KiB: exact bytes. */
    expect_size(0, "0 B");
    expect_size(1, "1 B");
    expect_size(512, "512 B");
    expect_size(1023, "1023 B");
    /* Exact multiples: no decimals. */
    expect_size(KIB, "1 KiB");
    expect_size(64 * MIB, "64 MiB");
    expect_size(GIB, "1 GiB");
    expect_size(1023 * MIB, "1023 MiB");
    expect_size(3 * TIB, "3 TiB");
    expect_size(PIB, "1 PiB");
    expect_size(EIB, "1 EiB");
    expect_size(15 * EIB, "15 EiB");
    /* Not exact: one decimal, rounded to nearest (a tie cannot happen:
     * a power of two is never a multiple of 20). */
    expect_size(1536, "1.5 KiB");
    expect_size(1025, "1.0 KiB");
    expect_size(1024 + 51, "1.0 KiB");  /* 1.0498 */
    expect_size(1024 + 52, "1.1 KiB");  /* 1.0508 */
    expect_size(1024 + 512 + 51, "1.5 KiB");
    expect_size(GIB + 1, "1.0 GiB");
    expect_size(GIB + GIB / 20 + 1, "1.1 GiB"); /* just above 1.05 */
    expect_size(GIB + GIB / 20, "1.0 GiB");     /* just below: GIB / 20 rounds down */
    expect_size(2047, "2.0 KiB");       /* 1.999 rounds up within the unit */
    expect_size(10 * KIB - 1, "10.0 KiB");
    expect_size(100 * MIB + 1, "100.0 MiB");
    expect_size(1000 * MIB + MIB / 2, "1000.5 MiB");
    /* Rounding up to 1024.0 of a unit moves to the next unit. */
    expect_size(1024 * KIB - 1, "1.0 MiB");
    expect_size(GIB - 1, "1.0 GiB");
    expect_size(GIB - MIB / 20, "1.0 GiB");        /* 1023.95 MiB */
    expect_size(GIB - MIB / 20 - 1, "1023.9 MiB"); /* just below */
    expect_size(1023 * MIB + MIB / 2, "1023.5 MiB");
    /* The top of the range stays in EiB. */
    expect_size(UINT64_MAX, "16.0 EiB");
    expect_size(15 * EIB + EIB / 2, "15.5 EiB");
}

static void test_format_size_buffer(void)
{
    char buf[MB_SIZE_STRING_MAX];
    /* The longest strings fit MB_SIZE_STRING_MAX. */
    MBT_EQ_INT(10, mb_format_size(1023 * MIB + MIB / 2, buf, sizeof(buf)));
    MBT_EQ_INT(6, mb_format_size(1023, buf, sizeof(buf)));
    /* Exactly enough room, and one byte short. */
    MBT_EQ_INT(7, mb_format_size(1536, buf, 8));
    MBT_EQ_STR("1.5 KiB", buf);
    memcpy(buf, "xxxx", 5);
    MBT_EQ_INT(-ENOSPC, mb_format_size(1536, buf, 7));
    MBT_EQ_STR("", buf);
    MBT_EQ_INT(-ENOSPC, mb_format_size(0, buf, 0));
    MBT_EQ_INT(-ENOSPC, mb_format_size(0, buf, 3));
    MBT_EQ_INT(3, mb_format_size(0, buf, 4));
    MBT_EQ_STR("0 B", buf);
}

static void test_format_pages(void)
{
    char buf[MB_SIZE_STRING_MAX];
    MBT_EQ_INT(5, mb_format_pages(1, 4096, buf, sizeof(buf)));
    MBT_EQ_STR("4 KiB", buf);
    MBT_EQ_INT(6, mb_format_pages(16384, 4096, buf, sizeof(buf)));
    MBT_EQ_STR("64 MiB", buf);
    MBT_EQ_INT(6, mb_format_pages(1, 65536, buf, sizeof(buf)));
    MBT_EQ_STR("64 KiB", buf);
    MBT_EQ_INT(7, mb_format_pages(262145, 4096, buf, sizeof(buf)));
    MBT_EQ_STR("1.0 GiB", buf);
    MBT_EQ_INT(3, mb_format_pages(0, 4096, buf, sizeof(buf)));
    MBT_EQ_STR("0 B", buf);
    memcpy(buf, "xxxx", 5);
    MBT_EQ_INT(-ERANGE, mb_format_pages(UINT64_MAX, 4096, buf, sizeof(buf)));
    MBT_EQ_STR("", buf);
    MBT_EQ_INT(-EINVAL, mb_format_pages(1, 0, buf, sizeof(buf)));
    /* With the machine's own page size. */
    MBT_REQUIRE(mb_format_pages(1, mb_page_size(), buf, sizeof(buf)) > 0);
    char expected[MB_SIZE_STRING_MAX];
    MBT_REQUIRE(mb_format_size(mb_page_size(), expected, sizeof(expected)) > 0);
    MBT_EQ_STR(expected, buf);
}

int main(void)
{
    MBT_RUN(test_page_size);
    MBT_RUN(test_pages_to_bytes);
    MBT_RUN(test_bytes_to_pages);
    MBT_RUN(test_format_size_rules);
    MBT_RUN(test_format_size_buffer);
    MBT_RUN(test_format_pages);
    return mbt_finish();
}
