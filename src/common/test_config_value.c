/* Unit tests for config_value.c: every value form, every error text. */
#include "common/config_value.h"
#include "mbtest.h"

#include <errno.h>

/* The reason text of the last failing parse. */
static char why_text[256];

static struct mb_strbuf *why(void)
{
    static struct mb_strbuf sb;
    mb_strbuf_init(&sb, why_text, sizeof(why_text));
    return &sb;
}

static int u64_of(const char *text, uint64_t *out)
{
    return mb_value_parse_u64(text, strlen(text), out, why());
}

static int size_of(const char *text, unsigned allow, struct mb_size *out)
{
    return mb_value_parse_size(text, strlen(text), allow, out, why());
}

static int duration_of(const char *text, enum mb_duration_unit unit, uint64_t *out)
{
    return mb_value_parse_duration(text, strlen(text), unit, out, why());
}

static int bool_of(const char *text, bool *out)
{
    return mb_value_parse_bool(text, strlen(text), out, why());
}

#define ALL (MB_SIZE_ALLOW_PERCENT | MB_SIZE_ALLOW_ALL_EXCEPT)

static void test_u64(void)
{
    uint64_t v = 7;
    MBT_EQ_INT(0, u64_of("0", &v));
    MBT_EQ_U64(0, v);
    MBT_EQ_INT(0, u64_of("18446744073709551615", &v));
    MBT_EQ_U64(UINT64_MAX, v);
    MBT_EQ_INT(0, u64_of("007", &v));
    MBT_EQ_U64(7, v);

    v = 5;
    MBT_EQ_INT(-ERANGE, u64_of("18446744073709551616", &v));
    MBT_EQ_STR("too large for 64 bits", why_text);
    MBT_EQ_U64(5, v);
    MBT_EQ_INT(-EINVAL, u64_of("-1", &v));
    MBT_EQ_STR("negative numbers are not allowed", why_text);
    MBT_EQ_INT(-EINVAL, u64_of("+1", &v));
    MBT_EQ_STR("not a number", why_text);
    MBT_EQ_INT(-EINVAL, u64_of("0x10", &v));
    MBT_EQ_STR("unexpected 'x10' after the number", why_text);
    MBT_EQ_INT(-EINVAL, u64_of("12 3", &v));
    MBT_EQ_STR("unexpected ' 3' after the number", why_text);
    MBT_EQ_INT(-EINVAL, u64_of("", &v));
    MBT_EQ_STR("missing value", why_text);
    MBT_EQ_U64(5, v);
    /* Never reads past the given length. */
    MBT_EQ_INT(0, mb_value_parse_u64("12x", 2, &v, NULL));
    MBT_EQ_U64(12, v);
}

static void test_size_bytes_and_suffixes(void)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } cases[] = {
        {"0", 0},
        {"4096", 4096},
        {"1K", 1024},
        {"1k", 1024},
        {"3KiB", 3072},
        {"2M", 2097152},
        {"2MiB", 2097152},
        {"1G", 1073741824},
        {"1GiB", 1073741824},
        {"1T", UINT64_C(1099511627776)},
        {"1TiB", UINT64_C(1099511627776)},
        {"16777215T", UINT64_C(16777215) << 40},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mb_size s = {MB_SIZE_PERCENT, true, 99};
        MBT_EQ_INT(0, size_of(cases[i].text, 0, &s));
        MBT_EQ_INT(MB_SIZE_BYTES, s.unit);
        MBT_FALSE(s.all_except);
        MBT_EQ_U64(cases[i].bytes, s.amount);
    }
}

static void test_size_pages(void)
{
    struct mb_size s;
    MBT_EQ_INT(0, size_of("128p", 0, &s));
    MBT_EQ_INT(MB_SIZE_PAGES, s.unit);
    MBT_EQ_U64(128, s.amount);
    MBT_EQ_INT(0, size_of("0p", 0, &s));
    MBT_EQ_INT(MB_SIZE_PAGES, s.unit);
    MBT_EQ_U64(0, s.amount);
}

static void test_size_errors(void)
{
    struct mb_size s = {MB_SIZE_BYTES, false, 77};
    MBT_EQ_INT(-EINVAL, size_of("12Q", 0, &s));
    MBT_EQ_STR("unknown size suffix 'Q' (use K, M, G, T or p)", why_text);
    MBT_EQ_INT(-EINVAL, size_of("12Q", MB_SIZE_ALLOW_PERCENT, &s));
    MBT_EQ_STR("unknown size suffix 'Q' (use K, M, G, T, p or %)", why_text);
    MBT_EQ_INT(-EINVAL, size_of("4KB", 0, &s));
    MBT_EQ_STR("unknown size suffix 'KB' (use K, M, G, T or p)", why_text);
    MBT_EQ_INT(-EINVAL, size_of("4m", 0, &s));
    MBT_EQ_STR("unknown size suffix 'm' (use K, M, G, T or p)", why_text);
    MBT_EQ_INT(-EINVAL, size_of("4 M", 0, &s));
    MBT_EQ_STR("unknown size suffix ' M' (use K, M, G, T or p)", why_text);
    MBT_EQ_INT(-EINVAL, size_of("M", 0, &s));
    MBT_EQ_STR("not a number", why_text);
    MBT_EQ_INT(-EINVAL, size_of("-4K", 0, &s));
    MBT_EQ_STR("negative numbers are not allowed", why_text);
    MBT_EQ_INT(-ERANGE, size_of("99999999999999999999", 0, &s));
    MBT_EQ_STR("too large for 64 bits", why_text);
    /* Fits in 64 bits as digits, overflows once multiplied by the suffix. */
    MBT_EQ_INT(-ERANGE, size_of("16777216T", 0, &s));
    MBT_EQ_STR("too large for 64 bits", why_text);
    MBT_EQ_INT(-ERANGE, size_of("18014398509481984K", 0, &s));
    MBT_EQ_INT(-EINVAL, size_of("1.5M", ALL, &s));
    MBT_EQ_STR("decimals are only allowed with %", why_text);
    MBT_EQ_INT(-EINVAL, size_of("1.5", ALL, &s));
    MBT_EQ_STR("decimals are only allowed with %", why_text);
    MBT_EQ_INT(-EINVAL, size_of("12.%", ALL, &s));
    MBT_EQ_STR("digit expected after '.'", why_text);
    MBT_EQ_INT(-EINVAL, size_of("12.125%", ALL, &s));
    MBT_EQ_STR("at most two decimals", why_text);
    MBT_EQ_INT(-EINVAL, size_of("", ALL, &s));
    MBT_EQ_STR("missing value", why_text);
    /* Unchanged after every failure. */
    MBT_EQ_INT(MB_SIZE_BYTES, s.unit);
    MBT_EQ_U64(77, s.amount);
}

static void test_size_percent(void)
{
    struct mb_size s;
    MBT_EQ_INT(0, size_of("12.5%", MB_SIZE_ALLOW_PERCENT, &s));
    MBT_EQ_INT(MB_SIZE_PERCENT, s.unit);
    MBT_EQ_U64(1250, s.amount);
    MBT_EQ_INT(0, size_of("12.05%", MB_SIZE_ALLOW_PERCENT, &s));
    MBT_EQ_U64(1205, s.amount);
    MBT_EQ_INT(0, size_of("0.01%", MB_SIZE_ALLOW_PERCENT, &s));
    MBT_EQ_U64(1, s.amount);
    MBT_EQ_INT(0, size_of("100%", MB_SIZE_ALLOW_PERCENT, &s));
    MBT_EQ_U64(10000, s.amount);
    MBT_EQ_INT(0, size_of("100.00%", MB_SIZE_ALLOW_PERCENT, &s));
    MBT_EQ_U64(10000, s.amount);
    MBT_EQ_INT(0, size_of("0%", MB_SIZE_ALLOW_PERCENT, &s));
    MBT_EQ_U64(0, s.amount);

    MBT_EQ_INT(-ERANGE, size_of("100.01%", MB_SIZE_ALLOW_PERCENT, &s));
    MBT_EQ_STR("percent over 100", why_text);
    MBT_EQ_INT(-ERANGE, size_of("101%", MB_SIZE_ALLOW_PERCENT, &s));
    MBT_EQ_STR("percent over 100", why_text);
    MBT_EQ_INT(-ERANGE, size_of("18446744073709551615%", MB_SIZE_ALLOW_PERCENT, &s));
    MBT_EQ_STR("percent over 100", why_text);
    /* Only where the key allows it. */
    MBT_EQ_INT(-EINVAL, size_of("50%", MB_SIZE_ALLOW_ALL_EXCEPT, &s));
    MBT_EQ_STR("percent is not allowed here", why_text);
    MBT_EQ_INT(-EINVAL, size_of("12.5%", 0, &s));
    MBT_EQ_STR("percent is not allowed here", why_text);
}

static void test_size_all_except(void)
{
    struct mb_size s;
    MBT_EQ_INT(0, size_of("all-except 64M", ALL, &s));
    MBT_EQ_INT(MB_SIZE_BYTES, s.unit);
    MBT_TRUE(s.all_except);
    MBT_EQ_U64(67108864, s.amount);
    MBT_EQ_INT(0, size_of("all-except \t 100p", MB_SIZE_ALLOW_ALL_EXCEPT, &s));
    MBT_EQ_INT(MB_SIZE_PAGES, s.unit);
    MBT_TRUE(s.all_except);
    MBT_EQ_U64(100, s.amount);
    MBT_EQ_INT(0, size_of("all-except 10%", ALL, &s));
    MBT_EQ_INT(MB_SIZE_PERCENT, s.unit);
    MBT_TRUE(s.all_except);
    MBT_EQ_U64(1000, s.amount);
    MBT_EQ_INT(0, size_of("all-except 0", ALL, &s));
    MBT_EQ_U64(0, s.amount);

    MBT_EQ_INT(-EINVAL, size_of("all-except 10%", MB_SIZE_ALLOW_ALL_EXCEPT, &s));
    MBT_EQ_STR("percent is not allowed here", why_text);
    MBT_EQ_INT(-EINVAL, size_of("all-except 64M", MB_SIZE_ALLOW_PERCENT, &s));
    MBT_EQ_STR("all-except is not allowed here", why_text);
    MBT_EQ_INT(-EINVAL, size_of("all-except", ALL, &s));
    MBT_EQ_STR("all-except needs a size", why_text);
    MBT_EQ_INT(-EINVAL, size_of("all-except  ", ALL, &s));
    MBT_EQ_STR("all-except needs a size", why_text);
    MBT_EQ_INT(-EINVAL, size_of("all-except all-except 1M", ALL, &s));
    MBT_EQ_STR("all-except is not allowed here", why_text);
    MBT_EQ_INT(-EINVAL, size_of("all-except64M", ALL, &s));
    MBT_EQ_STR("not a number", why_text);
    MBT_EQ_INT(-EINVAL, size_of("All-except 64M", ALL, &s));
    MBT_EQ_STR("not a number", why_text);
}

static void test_size_resolve(void)
{
    const uint64_t page = 4096, mem = UINT64_C(1) << 30; /* 1 GiB */
    uint64_t bytes = 0, pages = 0;
    struct mb_size s = {MB_SIZE_BYTES, false, 5000};
    MBT_EQ_INT(0, mb_size_resolve(&s, page, mem, &bytes));
    MBT_EQ_U64(5000, bytes);
    MBT_EQ_INT(0, mb_size_resolve_pages(&s, page, mem, &pages));
    MBT_EQ_U64(2, pages); /* rounded up */
    s.amount = 8192;
    MBT_EQ_INT(0, mb_size_resolve_pages(&s, page, mem, &pages));
    MBT_EQ_U64(2, pages);
    s.amount = 0;
    MBT_EQ_INT(0, mb_size_resolve_pages(&s, page, mem, &pages));
    MBT_EQ_U64(0, pages);

    s = (struct mb_size){MB_SIZE_PAGES, false, 128};
    MBT_EQ_INT(0, mb_size_resolve(&s, page, mem, &bytes));
    MBT_EQ_U64(524288, bytes);
    MBT_EQ_INT(0, mb_size_resolve(&s, 65536, mem, &bytes));
    MBT_EQ_U64(8388608, bytes);
    MBT_EQ_INT(0, mb_size_resolve_pages(&s, page, mem, &pages));
    MBT_EQ_U64(128, pages);
    s.amount = UINT64_MAX / 4096 + 1;
    bytes = 3;
    MBT_EQ_INT(-ERANGE, mb_size_resolve(&s, page, mem, &bytes));
    MBT_EQ_U64(3, bytes);
    MBT_EQ_INT(0, mb_size_resolve_pages(&s, page, mem, &pages)); /* pages need no product */
    MBT_EQ_U64(UINT64_MAX / 4096 + 1, pages);
    MBT_EQ_INT(-EINVAL, mb_size_resolve(&s, 0, mem, &bytes));
    MBT_EQ_INT(-EINVAL, mb_size_resolve_pages(&s, 0, mem, &pages));

    s = (struct mb_size){MB_SIZE_PERCENT, false, 1250};
    MBT_EQ_INT(0, mb_size_resolve(&s, page, mem, &bytes));
    MBT_EQ_U64(134217728, bytes); /* 12.5% of 1 GiB */
    MBT_EQ_INT(0, mb_size_resolve(&s, page, 999, &bytes));
    MBT_EQ_U64(124, bytes); /* floor(124.875) */
    s.amount = 1;
    MBT_EQ_INT(0, mb_size_resolve(&s, page, UINT64_MAX, &bytes));
    MBT_EQ_U64(UINT64_MAX / 10000, bytes); /* no overflow of the product */
    s.amount = 10000;
    MBT_EQ_INT(0, mb_size_resolve(&s, page, UINT64_MAX, &bytes));
    MBT_EQ_U64(UINT64_MAX, bytes);
    s.amount = 10001;
    MBT_EQ_INT(-EINVAL, mb_size_resolve(&s, page, mem, &bytes));
    s.amount = 3333;
    MBT_EQ_INT(0, mb_size_resolve(&s, page, mem, &bytes));
    MBT_EQ_U64(357878149, bytes); /* floor(1073741824 * 0.3333) */
    MBT_EQ_INT(0, mb_size_resolve_pages(&s, page, mem, &pages));
    MBT_EQ_U64(87373, pages); /* 87372.6 pages rounded up */

    s = (struct mb_size){MB_SIZE_BYTES, true, UINT64_C(64) << 20};
    MBT_EQ_INT(0, mb_size_resolve(&s, page, mem, &bytes));
    MBT_EQ_U64((UINT64_C(1) << 30) - (UINT64_C(64) << 20), bytes);
    MBT_EQ_INT(0, mb_size_resolve_pages(&s, page, mem, &pages));
    MBT_EQ_U64(245760, pages);
    s.amount = mem;
    MBT_EQ_INT(0, mb_size_resolve(&s, page, mem, &bytes));
    MBT_EQ_U64(0, bytes);
    s.amount = mem + 1;
    MBT_EQ_INT(-EINVAL, mb_size_resolve(&s, page, mem, &bytes));
    s = (struct mb_size){MB_SIZE_PAGES, true, 1};
    MBT_EQ_INT(0, mb_size_resolve(&s, page, mem, &bytes));
    MBT_EQ_U64(mem - 4096, bytes);
    MBT_EQ_INT(0, mb_size_resolve_pages(&s, page, mem, &pages));
    MBT_EQ_U64(262143, pages);
    s = (struct mb_size){MB_SIZE_PERCENT, true, 2500};
    MBT_EQ_INT(0, mb_size_resolve(&s, page, mem, &bytes));
    MBT_EQ_U64(805306368, bytes);
    s = (struct mb_size){(enum mb_size_unit)7, false, 1};
    MBT_EQ_INT(-EINVAL, mb_size_resolve(&s, page, mem, &bytes));
}

static void test_duration(void)
{
    uint64_t ms = 9;
    MBT_EQ_INT(0, duration_of("250ms", MB_DURATION_S, &ms));
    MBT_EQ_U64(250, ms);
    MBT_EQ_INT(0, duration_of("5s", MB_DURATION_MS, &ms));
    MBT_EQ_U64(5000, ms);
    MBT_EQ_INT(0, duration_of("2m", MB_DURATION_MS, &ms));
    MBT_EQ_U64(120000, ms);
    MBT_EQ_INT(0, duration_of("1h", MB_DURATION_MS, &ms));
    MBT_EQ_U64(3600000, ms);
    MBT_EQ_INT(0, duration_of("0", MB_DURATION_H, &ms));
    MBT_EQ_U64(0, ms);
    /* Default units. */
    MBT_EQ_INT(0, duration_of("7", MB_DURATION_MS, &ms));
    MBT_EQ_U64(7, ms);
    MBT_EQ_INT(0, duration_of("7", MB_DURATION_S, &ms));
    MBT_EQ_U64(7000, ms);
    MBT_EQ_INT(0, duration_of("7", MB_DURATION_MIN, &ms));
    MBT_EQ_U64(420000, ms);
    MBT_EQ_INT(0, duration_of("7", MB_DURATION_H, &ms));
    MBT_EQ_U64(25200000, ms);

    ms = 9;
    MBT_EQ_INT(-EINVAL, duration_of("3d", MB_DURATION_MS, &ms));
    MBT_EQ_STR("unknown duration suffix 'd' (use ms, s, m or h)", why_text);
    MBT_EQ_INT(-EINVAL, duration_of("3 s", MB_DURATION_MS, &ms));
    MBT_EQ_STR("unknown duration suffix ' s' (use ms, s, m or h)", why_text);
    MBT_EQ_INT(-EINVAL, duration_of("3S", MB_DURATION_MS, &ms));
    MBT_EQ_INT(-EINVAL, duration_of("s", MB_DURATION_MS, &ms));
    MBT_EQ_STR("not a number", why_text);
    MBT_EQ_INT(-ERANGE, duration_of("5124095576031h", MB_DURATION_MS, &ms));
    MBT_EQ_STR("too large for 64 bits", why_text);
    MBT_EQ_INT(0, duration_of("5124095576030h", MB_DURATION_MS, &ms));
    MBT_EQ_U64(UINT64_C(5124095576030) * 3600000, ms);
    ms = 9;
    MBT_EQ_INT(-ERANGE, duration_of("18446744073709551615", MB_DURATION_S, &ms));
    MBT_EQ_U64(9, ms);
}

static void test_bool(void)
{
    static const char *const yes[] = {"1", "yes", "YES", "Yes", "true", "TRUE", "on", "On"};
    static const char *const no[] = {"0", "no", "NO", "false", "False", "off", "OFF"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        bool b = false;
        MBT_EQ_INT(0, bool_of(yes[i], &b));
        MBT_TRUE(b);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        bool b = true;
        MBT_EQ_INT(0, bool_of(no[i], &b));
        MBT_FALSE(b);
    }
    bool b = true;
    MBT_EQ_INT(-EINVAL, bool_of("2", &b));
    MBT_EQ_STR("not a boolean (use 1/0, yes/no, true/false or on/off)", why_text);
    MBT_EQ_INT(-EINVAL, bool_of("yess", &b));
    MBT_EQ_INT(-EINVAL, bool_of("enabled", &b));
    MBT_EQ_INT(-EINVAL, bool_of("y", &b));
    MBT_EQ_INT(-EINVAL, bool_of("", &b));
    MBT_EQ_STR("missing value", why_text);
    MBT_TRUE(b);
}

static void test_u64_list(void)
{
    uint64_t items[6] = {0};
    size_t count = 99;
    const char *text = "16 32 48 64 96 128";
    MBT_EQ_INT(0, mb_value_parse_u64_list(text, strlen(text), items, 6, &count, why()));
    MBT_EQ_U64(6, count);
    static const uint64_t want[] = {16, 32, 48, 64, 96, 128};
    MBT_EQ_MEM(want, items, sizeof(want));

    text = "1,2, 3 ,4\t,\t5";
    MBT_EQ_INT(0, mb_value_parse_u64_list(text, strlen(text), items, 6, &count, why()));
    MBT_EQ_U64(5, count);
    static const uint64_t want2[] = {1, 2, 3, 4, 5};
    MBT_EQ_MEM(want2, items, sizeof(want2));

    text = "  7  ";
    MBT_EQ_INT(0, mb_value_parse_u64_list(text, strlen(text), items, 1, &count, why()));
    MBT_EQ_U64(1, count);
    MBT_EQ_U64(7, items[0]);
    MBT_EQ_INT(0, mb_value_parse_u64_list("", 0, items, 1, &count, why()));
    MBT_EQ_U64(0, count);

    count = 99;
    text = "1 2 3 4 5 6 7";
    MBT_EQ_INT(-EINVAL, mb_value_parse_u64_list(text, strlen(text), items, 6, &count, why()));
    MBT_EQ_STR("more than 6 items", why_text);
    MBT_EQ_U64(99, count);
    text = "1 2";
    MBT_EQ_INT(-EINVAL, mb_value_parse_u64_list(text, strlen(text), items, 1, &count, why()));
    MBT_EQ_STR("more than 1 item", why_text);
    text = "16 x2 48";
    MBT_EQ_INT(-EINVAL, mb_value_parse_u64_list(text, strlen(text), items, 6, &count, why()));
    MBT_EQ_STR("item 2 \"x2\": not a number", why_text);
    text = "16 99999999999999999999";
    MBT_EQ_INT(-ERANGE, mb_value_parse_u64_list(text, strlen(text), items, 6, &count, why()));
    MBT_EQ_STR("item 2 \"9999999999999999...\": too large for 64 bits", why_text);
    text = "16,,32";
    MBT_EQ_INT(-EINVAL, mb_value_parse_u64_list(text, strlen(text), items, 6, &count, why()));
    MBT_EQ_STR("empty list item", why_text);
    text = ",16";
    MBT_EQ_INT(-EINVAL, mb_value_parse_u64_list(text, strlen(text), items, 6, &count, why()));
    MBT_EQ_STR("empty list item", why_text);
    text = "16, ";
    MBT_EQ_INT(-EINVAL, mb_value_parse_u64_list(text, strlen(text), items, 6, &count, why()));
    MBT_EQ_STR("empty list item after the last ','", why_text);
    text = "16 , , 32";
    MBT_EQ_INT(-EINVAL, mb_value_parse_u64_list(text, strlen(text), items, 6, &count, why()));
    MBT_EQ_STR("empty list item", why_text);
    MBT_EQ_U64(99, count);
}

static void test_size_list(void)
{
    struct mb_size items[4];
    size_t count = 0;
    const char *text = "4K, 2p 10% 1M";
    MBT_EQ_INT(0, mb_value_parse_size_list(text, strlen(text), MB_SIZE_ALLOW_PERCENT, items, 4,
                                           &count, why()));
    MBT_EQ_U64(4, count);
    MBT_EQ_INT(MB_SIZE_BYTES, items[0].unit);
    MBT_EQ_U64(4096, items[0].amount);
    MBT_EQ_INT(MB_SIZE_PAGES, items[1].unit);
    MBT_EQ_U64(2, items[1].amount);
    MBT_EQ_INT(MB_SIZE_PERCENT, items[2].unit);
    MBT_EQ_U64(1000, items[2].amount);
    MBT_EQ_U64(1048576, items[3].amount);

    MBT_EQ_INT(-EINVAL, mb_value_parse_size_list(text, strlen(text), 0, items, 4, &count, why()));
    MBT_EQ_STR("item 3 \"10%\": percent is not allowed here", why_text);
    text = "all-except 4K";
    MBT_EQ_INT(-EINVAL, mb_value_parse_size_list(text, strlen(text), MB_SIZE_ALLOW_ALL_EXCEPT, items,
                                                 4, &count, why()));
    MBT_EQ_STR("item 1 \"all-except\": all-except is not allowed here", why_text);
    text = "1K 2Q";
    MBT_EQ_INT(-EINVAL, mb_value_parse_size_list(text, strlen(text), 0, items, 4, &count, why()));
    MBT_EQ_STR("item 2 \"2Q\": unknown size suffix 'Q' (use K, M, G, T or p)", why_text);
    text = "1K 2K 3K 4K 5K";
    MBT_EQ_INT(-EINVAL, mb_value_parse_size_list(text, strlen(text), 0, items, 4, &count, why()));
    MBT_EQ_STR("more than 4 items", why_text);
}

static void test_copy_string(void)
{
    char dst[8];
    memset(dst, 'x', sizeof(dst));
    MBT_EQ_INT(0, mb_value_copy_string("abcdefg", 7, dst, sizeof(dst), why()));
    MBT_EQ_STR("abcdefg", dst);
    MBT_EQ_INT(0, mb_value_copy_string("", 0, dst, sizeof(dst), why()));
    MBT_EQ_STR("", dst);
    MBT_EQ_INT(0, mb_value_copy_string("ab", 2, dst, sizeof(dst), why()));
    MBT_EQ_INT(-EINVAL, mb_value_copy_string("abcdefgh", 8, dst, sizeof(dst), why()));
    MBT_EQ_STR("longer than 7 bytes", why_text);
    MBT_EQ_STR("ab", dst);
    MBT_EQ_INT(-EINVAL, mb_value_copy_string("a", 1, dst, 0, why()));
    MBT_EQ_STR("longer than 0 bytes", why_text);
}

/* Splits text and returns the value as a NUL-terminated copy. */
static int split(const char *text, char *value, size_t cap, bool *quoted)
{
    const char *v = NULL;
    size_t n = 0;
    int rc = mb_value_split(text, strlen(text), &v, &n, quoted, why());
    if (rc == 0 && n < cap) {
        memcpy(value, v, n);
        value[n] = '\0';
    }
    return rc;
}

static void test_split(void)
{
    char v[64];
    bool quoted = true;
    MBT_EQ_INT(0, split("  64M  ", v, sizeof(v), &quoted));
    MBT_EQ_STR("64M", v);
    MBT_FALSE(quoted);
    MBT_EQ_INT(0, split(" 64M # the default", v, sizeof(v), &quoted));
    MBT_EQ_STR("64M", v);
    MBT_EQ_INT(0, split(" 64M\t# tab before", v, sizeof(v), &quoted));
    MBT_EQ_STR("64M", v);
    MBT_EQ_INT(0, split(" a#b", v, sizeof(v), &quoted));
    MBT_EQ_STR("a#b", v);
    MBT_EQ_INT(0, split(" /tmp/my file.txt  ", v, sizeof(v), &quoted));
    MBT_EQ_STR("/tmp/my file.txt", v);
    MBT_EQ_INT(0, split(" # only a comment", v, sizeof(v), &quoted));
    MBT_EQ_STR("", v);
    MBT_FALSE(quoted);
    MBT_EQ_INT(0, split("#x", v, sizeof(v), &quoted)); /* nothing before '#' */
    MBT_EQ_STR("#x", v);
    MBT_EQ_INT(0, split("", v, sizeof(v), &quoted));
    MBT_EQ_STR("", v);

    MBT_EQ_INT(0, split(" \"  two  spaces # kept \"  ", v, sizeof(v), &quoted));
    MBT_EQ_STR("  two  spaces # kept ", v);
    MBT_TRUE(quoted);
    MBT_EQ_INT(0, split(" \"\" # empty", v, sizeof(v), &quoted));
    MBT_EQ_STR("", v);
    MBT_TRUE(quoted);
    MBT_EQ_INT(0, split(" a\"b\"", v, sizeof(v), &quoted)); /* a quote inside is literal */
    MBT_EQ_STR("a\"b\"", v);
    MBT_FALSE(quoted);

    MBT_EQ_INT(-EINVAL, split(" \"open", v, sizeof(v), &quoted));
    MBT_EQ_STR("missing closing quote", why_text);
    MBT_EQ_INT(-EINVAL, split(" \"a\" b", v, sizeof(v), &quoted));
    MBT_EQ_STR("unexpected text after the closing quote", why_text);
    MBT_EQ_INT(-EINVAL, split(" \"a\"#b", v, sizeof(v), &quoted));
    MBT_EQ_STR("unexpected text after the closing quote", why_text);
}

int main(void)
{
    MBT_RUN(test_u64);
    MBT_RUN(test_size_bytes_and_suffixes);
    MBT_RUN(test_size_pages);
    MBT_RUN(test_size_errors);
    MBT_RUN(test_size_percent);
    MBT_RUN(test_size_all_except);
    MBT_RUN(test_size_resolve);
    MBT_RUN(test_duration);
    MBT_RUN(test_bool);
    MBT_RUN(test_u64_list);
    MBT_RUN(test_size_list);
    MBT_RUN(test_copy_string);
    MBT_RUN(test_split);
    return mbt_finish();
}
