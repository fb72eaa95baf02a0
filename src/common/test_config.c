/* Unit tests for config.c: tables, the line scanner, files, buffers,
 * environment overrides and error messages, with exact values. */
#include "common/config.h"
#include "mbtest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIXTURES "../../tests/fixtures/config/"
/* environ holds writable strings; so do the tests' environments. */
#define ENV(text) ((char[]){text})

/* Copies text without its NUL (the buffers here are not strings). */
static void put(char *dst, const char *text)
{
    for (size_t i = 0; text[i] != '\0'; i++)
        dst[i] = text[i];
}

/* Copies text and its NUL. */
static void put_str(char *dst, const char *text)
{
    size_t i = 0;
    for (; text[i] != '\0'; i++)
        dst[i] = text[i];
    dst[i] = '\0';
}

enum {
    K_POOL_SIZE,
    K_EXPANDABLE_POOL_SIZE,
    K_MAP_SIZE,
    K_PAGE_CEILING,
    K_EXTRA_DEBUG_WORDS,
    K_TIMEOUT,
    K_FILL_WITH_TRASH,
    K_SLAB_SIZES,
    K_WATERMARKS,
    K_DUMP_FILE,
    K_COUNT
};

struct test_cfg {
    struct mb_size pool_size;
    struct mb_size expandable_pool_size;
    struct mb_size map_size;
    uint64_t page_ceiling;
    uint64_t extra_debug_words;
    uint64_t timeout_ms;
    bool fill_with_trash;
    uint64_t slab_sizes[8];
    size_t slab_size_count;
    struct mb_size watermarks[3];
    size_t watermark_count;
    char dump_file[16];
    bool present[K_COUNT];
};

static const struct mb_config_key test_keys[] = {
    [K_POOL_SIZE] = MB_CONFIG_KEY_SIZE("POOL_SIZE", struct test_cfg, pool_size, 0),
    [K_EXPANDABLE_POOL_SIZE] = MB_CONFIG_KEY_SIZE("EXPANDABLE_POOL_SIZE", struct test_cfg,
                                                  expandable_pool_size,
                                                  MB_CONFIG_PERCENT | MB_CONFIG_ALL_EXCEPT),
    [K_MAP_SIZE] = MB_CONFIG_KEY_SIZE("MAP_SIZE", struct test_cfg, map_size, MB_CONFIG_PERCENT),
    [K_PAGE_CEILING] = MB_CONFIG_KEY_U64("PAGE_CEILING", struct test_cfg, page_ceiling),
    [K_EXTRA_DEBUG_WORDS] = MB_CONFIG_KEY_U64_RANGE("EXTRA_DEBUG_WORDS", struct test_cfg,
                                                    extra_debug_words, 0, 16),
    [K_TIMEOUT] = MB_CONFIG_KEY_DURATION_RANGE("TIMEOUT", struct test_cfg, timeout_ms,
                                               MB_DURATION_S, 10, 60000),
    [K_FILL_WITH_TRASH] = MB_CONFIG_KEY_BOOL("FILL_WITH_TRASH", struct test_cfg, fill_with_trash),
    [K_SLAB_SIZES] = MB_CONFIG_KEY_U64_LIST_RANGE("SLAB_SIZES", struct test_cfg, slab_sizes,
                                                  slab_size_count, 8, 4096),
    [K_WATERMARKS] = MB_CONFIG_KEY_SIZE_LIST("WATERMARKS", struct test_cfg, watermarks,
                                             watermark_count, MB_CONFIG_PERCENT),
    [K_DUMP_FILE] = MB_CONFIG_KEY_STRING("DUMP_FILE", struct test_cfg, dump_file),
};

static const struct mb_config_schema test_schema =
    MB_CONFIG_SCHEMA(test_keys, struct test_cfg, present, "GMALLOC_");

/* Defaults that differ from every value the tests parse. */
static struct test_cfg defaults(void)
{
    struct test_cfg cfg;
    memset(&cfg, 0, sizeof(cfg)); /* padding too, so memcmp compares values */
    cfg.pool_size = (struct mb_size){MB_SIZE_BYTES, false, 2097152};
    cfg.page_ceiling = 128;
    cfg.extra_debug_words = 1;
    cfg.timeout_ms = 5000;
    cfg.slab_sizes[0] = 24;
    cfg.slab_size_count = 1;
    put_str(cfg.dump_file, "default");
    return cfg;
}

static struct mb_config_error err;
static char text[512];

/* Parses a NUL-terminated string as a buffer called "test.cfg". */
static int parse(const char *input, struct test_cfg *cfg)
{
    struct test_cfg scratch;
    return mb_config_parse_buffer(&test_schema, "test.cfg", input, strlen(input), cfg, &scratch,
                                  &err);
}

/* The formatted error of the last parse. */
static const char *error_text(void)
{
    mb_config_error_format(&err, text, sizeof(text));
    return text;
}

/* Parses input that must fail; checks the whole formatted message and that
 * the destination did not change at all. */
static void expect_error(const char *input, int code, const char *message, int line)
{
    struct test_cfg cfg = defaults(), before = defaults();
    MBT_EQ_INT(code, parse(input, &cfg));
    MBT_EQ_INT(code, err.code);
    MBT_EQ_STR(message, error_text());
    MBT_EQ_U64((uint64_t)line, err.line);
    MBT_EQ_MEM(&before, &cfg, sizeof(cfg));
}

static void check_full_cfg(const struct test_cfg *cfg)
{
    for (size_t i = 0; i < K_COUNT; i++)
        MBT_TRUE(cfg->present[i]);
    MBT_EQ_INT(MB_SIZE_BYTES, cfg->pool_size.unit);
    MBT_EQ_U64(2097152, cfg->pool_size.amount);
    MBT_FALSE(cfg->pool_size.all_except);
    MBT_EQ_INT(MB_SIZE_BYTES, cfg->expandable_pool_size.unit);
    MBT_TRUE(cfg->expandable_pool_size.all_except);
    MBT_EQ_U64(67108864, cfg->expandable_pool_size.amount);
    MBT_EQ_INT(MB_SIZE_PERCENT, cfg->map_size.unit);
    MBT_EQ_U64(1250, cfg->map_size.amount);
    MBT_EQ_U64(0, cfg->page_ceiling);
    MBT_EQ_U64(16, cfg->extra_debug_words);
    MBT_EQ_U64(250, cfg->timeout_ms);
    MBT_TRUE(cfg->fill_with_trash);
    MBT_EQ_U64(6, cfg->slab_size_count);
    static const uint64_t slabs[] = {16, 32, 48, 64, 96, 128};
    MBT_EQ_MEM(slabs, cfg->slab_sizes, sizeof(slabs));
    MBT_EQ_U64(3, cfg->watermark_count);
    MBT_EQ_INT(MB_SIZE_PERCENT, cfg->watermarks[0].unit);
    MBT_EQ_U64(1000, cfg->watermarks[0].amount);
    MBT_EQ_U64(2000, cfg->watermarks[1].amount);
    MBT_EQ_INT(MB_SIZE_BYTES, cfg->watermarks[2].unit);
    MBT_EQ_U64(65536, cfg->watermarks[2].amount);
    MBT_EQ_STR("/tmp/a b#c", cfg->dump_file);
}

static void test_schema_is_valid(void)
{
    MBT_EQ_INT(0, mb_config_schema_check(&test_schema, &err));
    MBT_EQ_INT(K_POOL_SIZE, mb_config_find_key(&test_schema, "POOL_SIZE", 9));
    MBT_EQ_INT(K_EXPANDABLE_POOL_SIZE, mb_config_find_key(&test_schema, "EXPANDABLE_POOL_SIZE", 20));
    MBT_EQ_INT(-1, mb_config_find_key(&test_schema, "POOL_SIZ", 8));
    MBT_EQ_INT(-1, mb_config_find_key(&test_schema, "POOL_SIZEX", 10));
    MBT_EQ_INT(-1, mb_config_find_key(&test_schema, "pool_size", 9));
    MBT_EQ_INT(-1, mb_config_find_key(&test_schema, "", 0));
    MBT_EQ_INT(K_POOL_SIZE, mb_config_find_key(&test_schema, "POOL_SIZE=4", 9));
}

static void test_full_file(void)
{
    struct test_cfg cfg = defaults(), scratch;
    MBT_EQ_INT(0, mb_config_parse_file(&test_schema, FIXTURES "full.cfg", &cfg, &scratch, &err));
    MBT_EQ_INT(0, err.code);
    MBT_EQ_STR("no error", error_text());
    check_full_cfg(&cfg);
}

static void test_full_buffer_not_terminated(void)
{
    /* The same text from a buffer that is not NUL-terminated: the parser
     * must stop at len (the bytes after it would be an unknown key). */
    static const char input[] =
        "POOL_SIZE 2M\n"
        "EXPANDABLE_POOL_SIZE all-except 64M\n"
        "MAP_SIZE 12.5%\n"
        "PAGE_CEILING 0\n"
        "EXTRA_DEBUG_WORDS 16\n"
        "TIMEOUT 250ms\n"
        "FILL_WITH_TRASH yes\n"
        "SLAB_SIZES 16,32,48,64,96,128\n"
        "WATERMARKS 10% 20% 64K\n"
        "DUMP_FILE \"/tmp/a b#c\"\n"
        "JUNK";
    struct test_cfg cfg = defaults(), scratch;
    MBT_EQ_INT(0, mb_config_parse_buffer(&test_schema, NULL, input, sizeof(input) - 5, &cfg,
                                         &scratch, &err));
    check_full_cfg(&cfg);
}

static void test_zero_differs_from_absent(void)
{
    struct test_cfg cfg = defaults();
    MBT_EQ_INT(0, parse("PAGE_CEILING 0\n", &cfg));
    MBT_TRUE(cfg.present[K_PAGE_CEILING]);
    MBT_EQ_U64(0, cfg.page_ceiling);
    for (size_t i = 0; i < K_COUNT; i++) {
        if (i != K_PAGE_CEILING)
            MBT_FALSE(cfg.present[i]);
    }
    /* Absent keys keep their defaults. */
    MBT_EQ_U64(2097152, cfg.pool_size.amount);
    MBT_EQ_U64(1, cfg.extra_debug_words);
    MBT_EQ_U64(1, cfg.slab_size_count);
    MBT_EQ_STR("default", cfg.dump_file);

    /* An empty input sets nothing and succeeds. */
    struct test_cfg empty = defaults(), before = defaults();
    MBT_EQ_INT(0, parse("", &empty));
    MBT_EQ_MEM(&before, &empty, sizeof(empty));
    MBT_EQ_INT(0, parse("\n\n# only comments\n   \n\t\n", &empty));
    MBT_EQ_MEM(&before, &empty, sizeof(empty));
}

static void test_key_prefix_never_matches(void)
{
    struct test_cfg cfg = defaults();
    MBT_EQ_INT(0, parse("EXPANDABLE_POOL_SIZE 8M\n", &cfg));
    MBT_TRUE(cfg.present[K_EXPANDABLE_POOL_SIZE]);
    MBT_FALSE(cfg.present[K_POOL_SIZE]);
    MBT_EQ_U64(8388608, cfg.expandable_pool_size.amount);
    MBT_EQ_U64(2097152, cfg.pool_size.amount);

    cfg = defaults();
    MBT_EQ_INT(0, parse("POOL_SIZE 1M\nEXPANDABLE_POOL_SIZE 3M\n", &cfg));
    MBT_EQ_U64(1048576, cfg.pool_size.amount);
    MBT_EQ_U64(3145728, cfg.expandable_pool_size.amount);
    cfg = defaults();
    MBT_EQ_INT(0, parse("EXPANDABLE_POOL_SIZE 3M\nPOOL_SIZE 1M\n", &cfg));
    MBT_EQ_U64(1048576, cfg.pool_size.amount);
    MBT_EQ_U64(3145728, cfg.expandable_pool_size.amount);

    expect_error("POOL_SIZ 1M\n", -EINVAL, "test.cfg:1: POOL_SIZ: unknown key", 1);
    expect_error("POOL_SIZE_MAX 1M\n", -EINVAL, "test.cfg:1: POOL_SIZE_MAX: unknown key", 1);
    expect_error("pool_size 1M\n", -EINVAL, "test.cfg:1: pool_size: unknown key", 1);
    expect_error("POOL_SIZE=1M\n", -EINVAL, "test.cfg:1: POOL_SIZE=1M: unknown key", 1);
    expect_error("# x\nXPOOL_SIZE 1M\n", -EINVAL, "test.cfg:2: XPOOL_SIZE: unknown key", 2);
}

static void test_line_forms(void)
{
    struct test_cfg cfg = defaults();
    /* Leading blanks, tabs between key and value, trailing blanks, a comment
     * after a value, CRLF, and a last line without a newline. */
    MBT_EQ_INT(0, parse("  \tPOOL_SIZE\t\t4K  \r\n"
                        "PAGE_CEILING 7 # seven\r\n"
                        "# POOL_SIZE 99\n"
                        "\r\n"
                        "   # indented comment\n"
                        "DUMP_FILE  /x y/z  \n"
                        "EXTRA_DEBUG_WORDS 3",
                        &cfg));
    MBT_EQ_U64(4096, cfg.pool_size.amount);
    MBT_EQ_U64(7, cfg.page_ceiling);
    MBT_EQ_STR("/x y/z", cfg.dump_file);
    MBT_EQ_U64(3, cfg.extra_debug_words);
    MBT_TRUE(cfg.present[K_EXTRA_DEBUG_WORDS]);

    /* A last line of CRLF type without its LF, and one ending in a bare CR. */
    cfg = defaults();
    MBT_EQ_INT(0, parse("PAGE_CEILING 9\r", &cfg));
    MBT_EQ_U64(9, cfg.page_ceiling);

    /* '#' not after a blank is part of the value. */
    expect_error("PAGE_CEILING 7#x\n", -EINVAL,
                 "test.cfg:1: PAGE_CEILING: \"7#x\": unexpected '#x' after the number", 1);
    cfg = defaults();
    MBT_EQ_INT(0, parse("DUMP_FILE a#b\n", &cfg));
    MBT_EQ_STR("a#b", cfg.dump_file);

    /* Lines counted correctly across CRLF and blank lines. */
    expect_error("\r\n\r\n# c\r\nNOPE 1\r\n", -EINVAL, "test.cfg:4: NOPE: unknown key", 4);
}

static void test_crlf_file_without_final_newline(void)
{
    struct test_cfg cfg = defaults(), scratch;
    cfg.fill_with_trash = true;
    MBT_EQ_INT(0, mb_config_parse_file(&test_schema, FIXTURES "crlf_no_final_newline.cfg", &cfg,
                                       &scratch, &err));
    MBT_EQ_U64(4096, cfg.pool_size.amount);
    MBT_EQ_STR("/tmp/x", cfg.dump_file);
    MBT_FALSE(cfg.fill_with_trash);
    MBT_TRUE(cfg.present[K_FILL_WITH_TRASH]);
}

static void test_value_errors_name_file_line_key(void)
{
    expect_error("# 1\n# 2\n# 3\n# 4\n# 5\n# 6\n# 7\n# 8\n# 9\n# 10\n# 11\nPOOL_SIZE 12Q\n",
                 -EINVAL, "test.cfg:12: POOL_SIZE: \"12Q\": unknown size suffix 'Q' (use K, M, G, T or p)",
                 12);
    MBT_EQ_STR("test.cfg", err.source);
    MBT_EQ_STR("POOL_SIZE", err.key);
    MBT_EQ_STR("\"12Q\": unknown size suffix 'Q' (use K, M, G, T or p)", err.message);
    expect_error("MAP_SIZE 12Q\n", -EINVAL,
                 "test.cfg:1: MAP_SIZE: \"12Q\": unknown size suffix 'Q' (use K, M, G, T, p or %)", 1);
    expect_error("PAGE_CEILING ten\n", -EINVAL, "test.cfg:1: PAGE_CEILING: \"ten\": not a number", 1);
    expect_error("PAGE_CEILING -1\n", -EINVAL,
                 "test.cfg:1: PAGE_CEILING: \"-1\": negative numbers are not allowed", 1);
    expect_error("FILL_WITH_TRASH maybe\n", -EINVAL,
                 "test.cfg:1: FILL_WITH_TRASH: \"maybe\": not a boolean (use 1/0, yes/no, true/false or on/off)",
                 1);
    expect_error("TIMEOUT 3d\n", -EINVAL,
                 "test.cfg:1: TIMEOUT: \"3d\": unknown duration suffix 'd' (use ms, s, m or h)", 1);
    expect_error("PAGE_CEILING \"5\"\n", -EINVAL,
                 "test.cfg:1: PAGE_CEILING: \"5\": quotes are only for string values", 1);
    expect_error("DUMP_FILE \"abc\n", -EINVAL, "test.cfg:1: DUMP_FILE: missing closing quote", 1);
    /* A long bad value is cut in the message. */
    expect_error("POOL_SIZE 1234567890123456789012345678901234567890123456789012345678901234567890\n",
                 -ERANGE,
                 "test.cfg:1: POOL_SIZE: \"123456789012345678901234567890123456789012345678...\": "
                 "too large for 64 bits",
                 1);
}

static void test_overflow(void)
{
    struct test_cfg cfg = defaults();
    MBT_EQ_INT(0, parse("PAGE_CEILING 18446744073709551615\n", &cfg));
    MBT_EQ_U64(UINT64_MAX, cfg.page_ceiling);
    expect_error("PAGE_CEILING 18446744073709551616\n", -ERANGE,
                 "test.cfg:1: PAGE_CEILING: \"18446744073709551616\": too large for 64 bits", 1);
    expect_error("POOL_SIZE 16777216T\n", -ERANGE,
                 "test.cfg:1: POOL_SIZE: \"16777216T\": too large for 64 bits", 1);
    expect_error("POOL_SIZE 17179869184G\n", -ERANGE,
                 "test.cfg:1: POOL_SIZE: \"17179869184G\": too large for 64 bits", 1);
    cfg = defaults();
    MBT_EQ_INT(0, parse("POOL_SIZE 17179869183G\n", &cfg));
    MBT_EQ_U64(UINT64_C(17179869183) << 30, cfg.pool_size.amount);
    expect_error("TIMEOUT 18446744073709551615\n", -ERANGE,
                 "test.cfg:1: TIMEOUT: \"18446744073709551615\": too large for 64 bits", 1);
}

static void test_range(void)
{
    struct test_cfg cfg = defaults();
    MBT_EQ_INT(0, parse("EXTRA_DEBUG_WORDS 0\nTIMEOUT 10ms\nSLAB_SIZES 8 4096\n", &cfg));
    MBT_EQ_U64(0, cfg.extra_debug_words);
    MBT_EQ_U64(10, cfg.timeout_ms);
    MBT_EQ_U64(2, cfg.slab_size_count);
    cfg = defaults();
    MBT_EQ_INT(0, parse("EXTRA_DEBUG_WORDS 16\nTIMEOUT 60\n", &cfg));
    MBT_EQ_U64(60000, cfg.timeout_ms); /* default unit: seconds */
    expect_error("EXTRA_DEBUG_WORDS 17\n", -ERANGE,
                 "test.cfg:1: EXTRA_DEBUG_WORDS: \"17\": out of range (min 0, max 16)", 1);
    expect_error("TIMEOUT 61s\n", -ERANGE,
                 "test.cfg:1: TIMEOUT: \"61s\": out of range (min 10ms, max 60000ms)", 1);
    expect_error("TIMEOUT 9ms\n", -ERANGE,
                 "test.cfg:1: TIMEOUT: \"9ms\": out of range (min 10ms, max 60000ms)", 1);
    expect_error("SLAB_SIZES 16 4 32\n", -ERANGE,
                 "test.cfg:1: SLAB_SIZES: \"16 4 32\": item 2: out of range (min 8, max 4096)", 1);
}

static void test_percent_and_all_except_only_where_allowed(void)
{
    struct test_cfg cfg = defaults();
    MBT_EQ_INT(0, parse("EXPANDABLE_POOL_SIZE 50%\nMAP_SIZE 100%\n", &cfg));
    MBT_EQ_INT(MB_SIZE_PERCENT, cfg.expandable_pool_size.unit);
    MBT_EQ_U64(5000, cfg.expandable_pool_size.amount);
    MBT_EQ_U64(10000, cfg.map_size.amount);
    cfg = defaults();
    MBT_EQ_INT(0, parse("EXPANDABLE_POOL_SIZE all-except 128p\n", &cfg));
    MBT_TRUE(cfg.expandable_pool_size.all_except);
    MBT_EQ_INT(MB_SIZE_PAGES, cfg.expandable_pool_size.unit);
    MBT_EQ_U64(128, cfg.expandable_pool_size.amount);

    expect_error("POOL_SIZE 10%\n", -EINVAL, "test.cfg:1: POOL_SIZE: \"10%\": percent is not allowed here", 1);
    expect_error("MAP_SIZE all-except 1M\n", -EINVAL,
                 "test.cfg:1: MAP_SIZE: \"all-except 1M\": all-except is not allowed here", 1);
    expect_error("POOL_SIZE all-except 1M\n", -EINVAL,
                 "test.cfg:1: POOL_SIZE: \"all-except 1M\": all-except is not allowed here", 1);
    expect_error("MAP_SIZE 100.5%\n", -ERANGE, "test.cfg:1: MAP_SIZE: \"100.5%\": percent over 100", 1);
    expect_error("WATERMARKS 1% all-except\n", -EINVAL,
                 "test.cfg:1: WATERMARKS: \"1% all-except\": item 2 \"all-except\": all-except is not allowed here",
                 1);
}

static void test_empty_value(void)
{
    expect_error("POOL_SIZE\n", -EINVAL, "test.cfg:1: POOL_SIZE: missing value", 1);
    expect_error("POOL_SIZE   \t \n", -EINVAL, "test.cfg:1: POOL_SIZE: missing value", 1);
    expect_error("POOL_SIZE # no value\n", -EINVAL, "test.cfg:1: POOL_SIZE: missing value", 1);
    expect_error("DUMP_FILE", -EINVAL, "test.cfg:1: DUMP_FILE: missing value", 1);
    expect_error("SLAB_SIZES\r\n", -EINVAL, "test.cfg:1: SLAB_SIZES: missing value", 1);
    /* An empty string is written with quotes. */
    struct test_cfg cfg = defaults();
    MBT_EQ_INT(0, parse("DUMP_FILE \"\"\n", &cfg));
    MBT_EQ_STR("", cfg.dump_file);
    MBT_TRUE(cfg.present[K_DUMP_FILE]);
}

static void test_duplicate_key(void)
{
    expect_error("POOL_SIZE 1M\nPAGE_CEILING 10\n\nPOOL_SIZE 2M\n", -EINVAL,
                 "test.cfg:4: POOL_SIZE: set again (first set on line 1)", 4);
    /* A bad first value stops the parse before any duplicate check. */
    expect_error("PAGE_CEILING x\nPAGE_CEILING 1\n", -EINVAL,
                 "test.cfg:1: PAGE_CEILING: \"x\": not a number", 1);
    struct test_cfg cfg = defaults(), scratch;
    MBT_EQ_INT(-EINVAL, mb_config_parse_file(&test_schema, FIXTURES "duplicate.cfg", &cfg, &scratch,
                                             &err));
    MBT_EQ_STR(FIXTURES "duplicate.cfg:3: POOL_SIZE: set again (first set on line 1)", error_text());
}

static void test_lists_and_strings(void)
{
    struct test_cfg cfg = defaults();
    MBT_EQ_INT(0, parse("SLAB_SIZES 8 16 24 32 40 48 56 64\n", &cfg));
    MBT_EQ_U64(8, cfg.slab_size_count);
    MBT_EQ_U64(64, cfg.slab_sizes[7]);
    expect_error("SLAB_SIZES 8 16 24 32 40 48 56 64 72\n", -EINVAL,
                 "test.cfg:1: SLAB_SIZES: \"8 16 24 32 40 48 56 64 72\": more than 8 items", 1);
    expect_error("WATERMARKS 1K 2K 3K 4K\n", -EINVAL,
                 "test.cfg:1: WATERMARKS: \"1K 2K 3K 4K\": more than 3 items", 1);
    expect_error("SLAB_SIZES 16,,32\n", -EINVAL,
                 "test.cfg:1: SLAB_SIZES: \"16,,32\": empty list item", 1);

    cfg = defaults();
    MBT_EQ_INT(0, parse("DUMP_FILE 123456789012345\n", &cfg));
    MBT_EQ_STR("123456789012345", cfg.dump_file);
    expect_error("DUMP_FILE 1234567890123456\n", -EINVAL,
                 "test.cfg:1: DUMP_FILE: \"1234567890123456\": longer than 15 bytes", 1);
    cfg = defaults();
    MBT_EQ_INT(0, parse("DUMP_FILE \"  spaced  \" # kept\n", &cfg));
    MBT_EQ_STR("  spaced  ", cfg.dump_file);
    expect_error("DUMP_FILE \"a\" b\n", -EINVAL,
                 "test.cfg:1: DUMP_FILE: unexpected text after the closing quote", 1);
}

static void test_control_bytes(void)
{
    static const char with_nul[] = "PAGE_CEILING 1\nPOOL_SIZE 1\0M\n";
    struct test_cfg cfg = defaults(), before = defaults(), scratch;
    MBT_EQ_INT(-EINVAL, mb_config_parse_buffer(&test_schema, "test.cfg", with_nul,
                                               sizeof(with_nul) - 1, &cfg, &scratch, &err));
    MBT_EQ_STR("test.cfg:2: NUL byte at column 12", error_text());
    MBT_EQ_MEM(&before, &cfg, sizeof(cfg));
    expect_error("# ok\n# bell \a\n", -EINVAL, "test.cfg:2: control character 0x07 at column 8", 2);
    expect_error("POOL_SIZE 1\rM\n", -EINVAL, "test.cfg:1: control character 0x0d at column 12", 1);
    expect_error("DUMP_FILE a\x7f\n", -EINVAL, "test.cfg:1: control character 0x7f at column 12", 1);
    /* Bytes from 0x80 up (UTF-8) are fine in strings. */
    cfg = defaults();
    MBT_EQ_INT(0, parse("DUMP_FILE /tmp/\xc3\xa9t\xc3\xa9\n", &cfg));
    MBT_EQ_STR("/tmp/\xc3\xa9t\xc3\xa9", cfg.dump_file);
}

/* A line of n bytes: "#" and n-1 'x'. */
static void fill_comment(char *p, size_t n)
{
    p[0] = '#';
    memset(p + 1, 'x', n - 1);
}

static void test_line_length_limit_in_buffer(void)
{
    static char input[2 * MB_CONFIG_LINE_MAX + 64];
    struct test_cfg cfg = defaults(), scratch;

    /* Exactly the limit, with "\r\n": accepted. */
    size_t n = 0;
    put(input, "PAGE_CEILING 3\n");
    n = 15;
    fill_comment(input + n, MB_CONFIG_LINE_MAX);
    n += MB_CONFIG_LINE_MAX;
    put(input + n, "\r\nPOOL_SIZE 1K\n");
    n += 15;
    MBT_EQ_INT(0, mb_config_parse_buffer(&test_schema, "test.cfg", input, n, &cfg, &scratch, &err));
    MBT_EQ_U64(1024, cfg.pool_size.amount);

    /* One byte more: refused with its line number. */
    n = 15;
    fill_comment(input + n, MB_CONFIG_LINE_MAX + 1);
    n += MB_CONFIG_LINE_MAX + 1;
    put(input + n, "\nPOOL_SIZE 1K\n");
    n += 14;
    MBT_EQ_INT(-EINVAL, mb_config_parse_buffer(&test_schema, "test.cfg", input, n, &cfg, &scratch, &err));
    MBT_EQ_STR("test.cfg:2: line longer than 4096 bytes", error_text());

    /* Also as the last line without a newline. */
    n = 15 + MB_CONFIG_LINE_MAX + 1;
    MBT_EQ_INT(-EINVAL, mb_config_parse_buffer(&test_schema, "test.cfg", input, n, &cfg, &scratch, &err));
    MBT_EQ_STR("test.cfg:2: line longer than 4096 bytes", error_text());
}

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char path[128];
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, path, sizeof(path));
    mb_strbuf_append(&sb, tmpdir);
    mb_strbuf_append_char(&sb, '/');
    mb_strbuf_append(&sb, name);
    return path;
}

static bool write_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    bool ok = write(fd, data, len) == (ssize_t)len;
    close(fd);
    return ok;
}

/* A repeatable key beside an ordinary one, in a table of its own. */
enum { R_CLASS, R_LEVEL, R_COUNT };

struct repeat_cfg {
    char classes[3][8];
    size_t class_count;
    uint64_t level;
    bool present[R_COUNT];
};

static const struct mb_config_key repeat_keys[] = {
    [R_CLASS] = MB_CONFIG_KEY_STRING_LIST("CLASS", struct repeat_cfg, classes, class_count),
    [R_LEVEL] = MB_CONFIG_KEY_U64("LEVEL", struct repeat_cfg, level),
};

static const struct mb_config_schema repeat_schema =
    MB_CONFIG_SCHEMA(repeat_keys, struct repeat_cfg, present, "RP_");

static struct repeat_cfg repeat_defaults(void)
{
    struct repeat_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    put_str(cfg.classes[0], "dflt");
    cfg.class_count = 1;
    cfg.level = 7;
    return cfg;
}

static int parse_repeat(const char *input, struct repeat_cfg *cfg)
{
    struct repeat_cfg scratch;
    return mb_config_parse_buffer(&repeat_schema, "rep.cfg", input, strlen(input), cfg, &scratch,
                                  &err);
}

static void expect_repeat_error(const char *input, const char *message, int line)
{
    struct repeat_cfg cfg = repeat_defaults(), before = repeat_defaults();
    MBT_EQ_INT(-EINVAL, parse_repeat(input, &cfg));
    MBT_EQ_INT(-EINVAL, err.code);
    MBT_EQ_STR(message, error_text());
    MBT_EQ_U64((uint64_t)line, err.line);
    MBT_EQ_MEM(&before, &cfg, sizeof(cfg));
}

static void test_string_list(void)
{
    MBT_EQ_INT(0, mb_config_schema_check(&repeat_schema, &err));
    struct repeat_cfg cfg = repeat_defaults();
    /* Each line appends its trimmed value; other keys may come between. */
    MBT_EQ_INT(0, parse_repeat("CLASS  a b \t# comment\nLEVEL 3\n\nCLASS \" q \"\nCLASS 1234567\n",
                               &cfg));
    MBT_EQ_U64(3, cfg.class_count);
    MBT_EQ_STR("a b", cfg.classes[0]);
    MBT_EQ_STR(" q ", cfg.classes[1]);
    MBT_EQ_STR("1234567", cfg.classes[2]);
    MBT_EQ_U64(3, cfg.level);
    MBT_TRUE(cfg.present[R_CLASS]);

    /* The file's first line replaces the defaults; no line keeps them. */
    cfg = repeat_defaults();
    MBT_EQ_INT(0, parse_repeat("CLASS x\n", &cfg));
    MBT_EQ_U64(1, cfg.class_count);
    MBT_EQ_STR("x", cfg.classes[0]);
    cfg = repeat_defaults();
    MBT_EQ_INT(0, parse_repeat("LEVEL 1\n", &cfg));
    MBT_EQ_U64(1, cfg.class_count);
    MBT_EQ_STR("dflt", cfg.classes[0]);
    MBT_FALSE(cfg.present[R_CLASS]);

    /* Errors name the line and leave dest as it was. */
    expect_repeat_error("CLASS a\nCLASS b\nCLASS c\nCLASS d\n",
                        "rep.cfg:4: CLASS: \"d\": more than 3 lines with this key", 4);
    expect_repeat_error("CLASS a\nCLASS 12345678\n",
                        "rep.cfg:2: CLASS: \"12345678\": longer than 7 bytes", 2);
    expect_repeat_error("CLASS a\nCLASS\n", "rep.cfg:2: CLASS: missing value", 2);
    /* Other keys still refuse a second line. */
    expect_repeat_error("CLASS a\nLEVEL 1\nCLASS b\nLEVEL 2\n",
                        "rep.cfg:4: LEVEL: set again (first set on line 2)", 4);

    /* The environment replaces the file's list with its one value. */
    char *env[] = {ENV("RP_CLASS= env "), NULL};
    char *env_twice[] = {ENV("RP_CLASS=a"), ENV("RP_CLASS=b"), NULL};
    static const char file_text[] = "CLASS f1\nCLASS f2\n";
    const char *path = tmp_path("repeat.cfg");
    MBT_REQUIRE(write_file(path, file_text, sizeof(file_text) - 1));
    struct repeat_cfg scratch;
    cfg = repeat_defaults();
    MBT_EQ_INT(0, mb_config_load(&repeat_schema, path, NULL, &cfg, &scratch, &err));
    MBT_EQ_U64(2, cfg.class_count);
    MBT_EQ_STR("f2", cfg.classes[1]);
    cfg = repeat_defaults();
    MBT_EQ_INT(0, mb_config_load(&repeat_schema, path, env, &cfg, &scratch, &err));
    MBT_EQ_U64(1, cfg.class_count);
    MBT_EQ_STR("env", cfg.classes[0]);
    struct repeat_cfg before = repeat_defaults();
    cfg = repeat_defaults();
    MBT_EQ_INT(-EINVAL, mb_config_load(&repeat_schema, path, env_twice, &cfg, &scratch, &err));
    MBT_EQ_STR("environment: RP_CLASS: set twice in the environment", error_text());
    MBT_EQ_MEM(&before, &cfg, sizeof(cfg));
}

static void test_file_streaming(void)
{
    /* Lines of many lengths so that lines straddle every read boundary,
     * including 4096-byte comments right at the buffer's end. */
    size_t cap = 600000, n = 0;
    char *data = malloc(cap);
    MBT_REQUIRE(data != NULL);
    uint32_t lines = 0;
    for (size_t len = 1; len <= 700 && n + 2 * MB_CONFIG_LINE_MAX < cap; len += 7) {
        fill_comment(data + n, len);
        n += len;
        data[n++] = (len % 2) ? '\n' : '\r';
        if (data[n - 1] == '\r')
            data[n++] = '\n';
        lines++;
        if (len % 100 == 1) {
            fill_comment(data + n, MB_CONFIG_LINE_MAX);
            n += MB_CONFIG_LINE_MAX;
            put(data + n, "\r\n");
            n += 2;
            lines++;
        }
    }
    static const char tail[] = "POOL_SIZE 3M\nDUMP_FILE end";
    memcpy(data + n, tail, sizeof(tail) - 1);
    n += sizeof(tail) - 1;
    lines += 2;
    MBT_REQUIRE(write_file(tmp_path("long.cfg"), data, n));
    struct test_cfg cfg = defaults(), scratch;
    MBT_EQ_INT(0, mb_config_parse_file(&test_schema, tmp_path("long.cfg"), &cfg, &scratch, &err));
    MBT_EQ_U64(3145728, cfg.pool_size.amount);
    MBT_EQ_STR("end", cfg.dump_file);

    /* The same file with an error on its last line reports that line. */
    static const char bad_tail[] = "POOL_SIZE 3M\nNOPE_FILE end"; /* same length */
    memcpy(data + n - (sizeof(tail) - 1), bad_tail, sizeof(bad_tail) - 1);
    MBT_REQUIRE(write_file(tmp_path("long.cfg"), data, n));
    MBT_EQ_INT(-EINVAL, mb_config_parse_file(&test_schema, tmp_path("long.cfg"), &cfg, &scratch, &err));
    MBT_EQ_U64(lines, err.line);
    MBT_EQ_STR("NOPE_FILE", err.key);
    MBT_EQ_STR("unknown key", err.message);

    /* A line over the limit in a file, then more text. */
    put(data, "PAGE_CEILING 1\n");
    n = 15;
    fill_comment(data + n, MB_CONFIG_LINE_MAX + 1);
    n += MB_CONFIG_LINE_MAX + 1;
    put(data + n, "\r\nPOOL_SIZE 1K\n");
    n += 15;
    MBT_REQUIRE(write_file(tmp_path("huge.cfg"), data, n));
    MBT_EQ_INT(-EINVAL, mb_config_parse_file(&test_schema, tmp_path("huge.cfg"), &cfg, &scratch, &err));
    MBT_EQ_U64(2, err.line);
    MBT_EQ_STR("line longer than 4096 bytes", err.message);
    /* A very long line without any newline. */
    memset(data, 'x', 3 * MB_CONFIG_LINE_MAX);
    MBT_REQUIRE(write_file(tmp_path("huge.cfg"), data, 3 * MB_CONFIG_LINE_MAX));
    MBT_EQ_INT(-EINVAL, mb_config_parse_file(&test_schema, tmp_path("huge.cfg"), &cfg, &scratch, &err));
    MBT_EQ_U64(1, err.line);
    MBT_EQ_STR("line longer than 4096 bytes", err.message);
    /* Exactly the limit as the last line without a newline is fine. */
    fill_comment(data, MB_CONFIG_LINE_MAX);
    data[MB_CONFIG_LINE_MAX] = '\r';
    MBT_REQUIRE(write_file(tmp_path("huge.cfg"), data, MB_CONFIG_LINE_MAX + 1));
    MBT_EQ_INT(0, mb_config_parse_file(&test_schema, tmp_path("huge.cfg"), &cfg, &scratch, &err));

    /* NUL bytes in a file. */
    static const char nul[] = "PAGE_CEILING 1\n\0\n";
    MBT_REQUIRE(write_file(tmp_path("nul.cfg"), nul, sizeof(nul) - 1));
    MBT_EQ_INT(-EINVAL, mb_config_parse_file(&test_schema, tmp_path("nul.cfg"), &cfg, &scratch, &err));
    MBT_EQ_U64(2, err.line);
    MBT_EQ_STR("NUL byte at column 1", err.message);
    free(data);
}

static void test_too_many_lines(void)
{
    size_t n = MB_CONFIG_MAX_LINES + 1;
    char *data = malloc(n);
    MBT_REQUIRE(data != NULL);
    memset(data, '\n', n);
    struct test_cfg cfg = defaults(), scratch;
    MBT_EQ_INT(0, mb_config_parse_buffer(&test_schema, "test.cfg", data, n - 1, &cfg, &scratch, &err));
    MBT_EQ_INT(-EINVAL, mb_config_parse_buffer(&test_schema, "test.cfg", data, n, &cfg, &scratch, &err));
    MBT_EQ_STR("test.cfg:1000001: more than 1000000 lines", error_text());
    free(data);
}

static void test_file_errors(void)
{
    struct test_cfg cfg = defaults(), before = defaults(), scratch;
    MBT_EQ_INT(-ENOENT, mb_config_parse_file(&test_schema, FIXTURES "no-such.cfg", &cfg, &scratch,
                                             &err));
    MBT_EQ_STR(FIXTURES "no-such.cfg: cannot open: No such file or directory", error_text());
    MBT_EQ_U64(0, err.line);
    MBT_EQ_STR("", err.key);
    MBT_EQ_INT(-ENOENT, err.code);
    MBT_EQ_INT(-EISDIR, mb_config_parse_file(&test_schema, FIXTURES, &cfg, &scratch, &err));
    MBT_EQ_STR(FIXTURES ": cannot read: Is a directory", error_text());
    MBT_EQ_INT(-ENOENT, mb_config_parse_file(&test_schema, NULL, &cfg, &scratch, &err));
    MBT_EQ_INT(-ENOTDIR, mb_config_parse_file(&test_schema, FIXTURES "full.cfg/x", &cfg, &scratch,
                                              &err));
    MBT_EQ_STR(FIXTURES "full.cfg/x: cannot open: Not a directory", error_text());
    MBT_EQ_MEM(&before, &cfg, sizeof(cfg));

    /* A path longer than the error's field keeps its end. */
    char path[300];
    memset(path, 'd', sizeof(path));
    for (size_t i = 0; i < sizeof(path); i += 50)
        path[i] = '/';
    put_str(path + sizeof(path) - 10, "/name.cfg");
    MBT_EQ_INT(-ENOENT, mb_config_parse_file(&test_schema, path, &cfg, &scratch, &err));
    MBT_EQ_U64(MB_CONFIG_SOURCE_MAX - 1, strlen(err.source));
    MBT_EQ_MEM("...ddd", err.source, 6);
    MBT_EQ_STR("/name.cfg", err.source + strlen(err.source) - 9);
}

static void test_all_or_nothing(void)
{
    /* Valid lines before the bad one are not applied. */
    expect_error("POOL_SIZE 1M\nSLAB_SIZES 16 32\nDUMP_FILE x\nPAGE_CEILING 1Q\n", -EINVAL,
                 "test.cfg:4: PAGE_CEILING: \"1Q\": unexpected 'Q' after the number", 4);
    /* Flags set by an earlier parse stay set; a later parse adds its own. */
    struct test_cfg cfg = defaults();
    MBT_EQ_INT(0, parse("POOL_SIZE 1M\n", &cfg));
    MBT_EQ_INT(0, parse("PAGE_CEILING 2\n", &cfg));
    MBT_TRUE(cfg.present[K_POOL_SIZE]);
    MBT_TRUE(cfg.present[K_PAGE_CEILING]);
    MBT_EQ_U64(1048576, cfg.pool_size.amount);
    /* A list that fails part way leaves the old list whole. */
    struct test_cfg copy = cfg;
    MBT_EQ_INT(-ERANGE, parse("SLAB_SIZES 16 32 4\n", &cfg));
    MBT_EQ_MEM(&copy, &cfg, sizeof(cfg));
}

static void test_environment(void)
{
    char *env[] = {
        ENV("HOME=/root"),
        ENV("GMALLOC_CFG=/etc/gmalloc.cfg"), /* not a key: ignored */
        ENV("GMALLOC_POOL_SIZE=4M"),
        ENV("GMALLOC_DUMP_FILE= \"a b\" "),
        ENV("GMALLOC_PAGE_CEILING"),         /* no '=': ignored */
        ENV("POOL_SIZE=9M"),                 /* no prefix: ignored */
        ENV("GMALLOC_pool_size=1K"),         /* case matters: ignored */
        NULL,
    };
    struct test_cfg cfg = defaults(), scratch;
    MBT_EQ_INT(0, mb_config_load(&test_schema, FIXTURES "full.cfg", env, &cfg, &scratch, &err));
    MBT_EQ_U64(4194304, cfg.pool_size.amount); /* environment wins over the file */
    MBT_EQ_STR("a b", cfg.dump_file);
    MBT_EQ_U64(0, cfg.page_ceiling); /* from the file */
    MBT_TRUE(cfg.present[K_POOL_SIZE]);

    /* Environment alone. */
    cfg = defaults();
    MBT_EQ_INT(0, mb_config_apply_env(&test_schema, env, &cfg, &scratch, &err));
    MBT_EQ_U64(4194304, cfg.pool_size.amount);
    MBT_TRUE(cfg.present[K_POOL_SIZE]);
    MBT_TRUE(cfg.present[K_DUMP_FILE]);
    MBT_FALSE(cfg.present[K_PAGE_CEILING]);

    /* A schema without a prefix ignores the environment. */
    struct mb_config_schema no_prefix = test_schema;
    no_prefix.env_prefix = NULL;
    struct test_cfg before = defaults();
    cfg = defaults();
    MBT_EQ_INT(0, mb_config_apply_env(&no_prefix, env, &cfg, &scratch, &err));
    MBT_EQ_MEM(&before, &cfg, sizeof(cfg));
    MBT_EQ_INT(0, mb_config_load(&test_schema, NULL, NULL, &cfg, &scratch, &err));
    MBT_EQ_MEM(&before, &cfg, sizeof(cfg));
}

static void expect_env_error(char **env, int code, const char *message)
{
    struct test_cfg cfg = defaults(), before = defaults(), scratch;
    MBT_EQ_INT(code, mb_config_load(&test_schema, FIXTURES "full.cfg", env, &cfg, &scratch, &err));
    MBT_EQ_STR(message, error_text());
    MBT_EQ_U64(0, err.line);
    MBT_EQ_MEM(&before, &cfg, sizeof(cfg)); /* the file's values are not kept either */
}

static void test_environment_errors(void)
{
    char *bad_suffix[] = {ENV("GMALLOC_POOL_SIZE=12Q"), NULL};
    expect_env_error(bad_suffix, -EINVAL,
                     "environment: GMALLOC_POOL_SIZE: \"12Q\": unknown size suffix 'Q' (use K, M, G, T or p)");
    MBT_EQ_STR("environment", err.source);
    MBT_EQ_STR("GMALLOC_POOL_SIZE", err.key);
    char *empty[] = {ENV("GMALLOC_PAGE_CEILING="), NULL};
    expect_env_error(empty, -EINVAL, "environment: GMALLOC_PAGE_CEILING: missing value");
    char *range[] = {ENV("GMALLOC_EXTRA_DEBUG_WORDS=99"), NULL};
    expect_env_error(range, -ERANGE,
                     "environment: GMALLOC_EXTRA_DEBUG_WORDS: \"99\": out of range (min 0, max 16)");
    char *twice[] = {ENV("GMALLOC_PAGE_CEILING=1"), ENV("GMALLOC_PAGE_CEILING=2"), NULL};
    expect_env_error(twice, -EINVAL, "environment: GMALLOC_PAGE_CEILING: set twice in the environment");
    char *control[] = {ENV("GMALLOC_DUMP_FILE=a\nb"), NULL};
    expect_env_error(control, -EINVAL,
                     "environment: GMALLOC_DUMP_FILE: control character 0x0a at column 2");
    static char long_value[MB_CONFIG_LINE_MAX + 32];
    put(long_value, "GMALLOC_DUMP_FILE=");
    memset(long_value + 18, 'a', MB_CONFIG_LINE_MAX + 1);
    char *too_long[] = {long_value, NULL};
    expect_env_error(too_long, -EINVAL,
                     "environment: GMALLOC_DUMP_FILE: value longer than 4096 bytes");
    /* A bad file is reported before the environment is looked at. */
    struct test_cfg cfg = defaults(), scratch;
    MBT_EQ_INT(-EINVAL, mb_config_load(&test_schema, FIXTURES "duplicate.cfg", bad_suffix, &cfg,
                                       &scratch, &err));
    MBT_EQ_U64(3, err.line);
}

static void test_long_key_and_no_error_struct(void)
{
    char input[128];
    memset(input, 'K', 100);
    put_str(input + 100, " 1\n");
    struct test_cfg cfg = defaults(), scratch;
    MBT_EQ_INT(-EINVAL, parse(input, &cfg));
    MBT_EQ_U64(MB_CONFIG_NAME_MAX - 1, strlen(err.key)); /* cut to fit */
    MBT_EQ_STR("unknown key", err.message);
    /* err may be NULL: the result is the same, only unexplained. */
    MBT_EQ_INT(-EINVAL, mb_config_parse_buffer(&test_schema, "x", input, strlen(input), &cfg,
                                               &scratch, NULL));
    MBT_EQ_INT(0, mb_config_parse_buffer(&test_schema, "x", "POOL_SIZE 1p", 12, &cfg, &scratch,
                                         NULL));
    MBT_EQ_INT(MB_SIZE_PAGES, cfg.pool_size.unit);
}

static void test_error_format(void)
{
    struct mb_config_error e;
    memset(&e, 0, sizeof(e));
    char buf[64];
    MBT_EQ_INT(0, mb_config_error_format(&e, buf, sizeof(buf)));
    MBT_EQ_STR("no error", buf);
    put_str(e.source, "/etc/gmalloc.cfg");
    e.line = 12;
    put_str(e.key, "POOL_SIZE");
    put_str(e.message, "bad");
    MBT_EQ_INT(0, mb_config_error_format(&e, buf, sizeof(buf)));
    MBT_EQ_STR("/etc/gmalloc.cfg:12: POOL_SIZE: bad", buf);
    MBT_EQ_INT(-ENOSPC, mb_config_error_format(&e, buf, 10));
    MBT_EQ_STR("/etc/gmal", buf);
    e.line = 0;
    e.key[0] = '\0';
    MBT_EQ_INT(0, mb_config_error_format(&e, buf, sizeof(buf)));
    MBT_EQ_STR("/etc/gmalloc.cfg: bad", buf);
}

struct bad_cfg {
    uint32_t small;
    uint64_t big;
    char name[4];
    uint64_t list[2];
    uint16_t count; /* not a size_t on any platform */
    size_t good_count;
    bool present[1];
};

static void expect_schema_error(const struct mb_config_key *key, const char *message)
{
    struct mb_config_schema schema = {
        .keys = key,
        .key_count = 1,
        .struct_size = sizeof(struct bad_cfg),
        .present_offset = offsetof(struct bad_cfg, present),
        .present_size = sizeof(bool),
    };
    MBT_EQ_INT(-EINVAL, mb_config_schema_check(&schema, &err));
    MBT_EQ_STR(message, error_text());
    struct bad_cfg cfg, scratch;
    memset(&cfg, 0, sizeof(cfg));
    MBT_EQ_INT(-EINVAL, mb_config_parse_buffer(&schema, "x", "A 1\n", 4, &cfg, &scratch, &err));
}

static void test_schema_errors(void)
{
    const struct mb_config_key wrong_size = MB_CONFIG_KEY_U64("A", struct bad_cfg, small);
    expect_schema_error(&wrong_size, "A: invalid key table entry 0: destination size does not match the type");
    const struct mb_config_key bad_name = MB_CONFIG_KEY_U64("A B", struct bad_cfg, big);
    expect_schema_error(&bad_name, "invalid key table entry 0: name must be 1-63 letters, digits or '_'");
    const struct mb_config_key no_name = MB_CONFIG_KEY_U64(NULL, struct bad_cfg, big);
    expect_schema_error(&no_name, "invalid key table entry 0: name must be 1-63 letters, digits or '_'");
    const struct mb_config_key zeroed = {.name = "A"};
    expect_schema_error(&zeroed, "A: invalid key table entry 0: unknown type");
    const struct mb_config_key min_max = MB_CONFIG_KEY_U64_RANGE("A", struct bad_cfg, big, 5, 4);
    expect_schema_error(&min_max, "A: invalid key table entry 0: min is larger than max");
    const struct mb_config_key flags = MB_CONFIG_KEY_SIZE("A", struct bad_cfg, big, MB_CONFIG_RANGE);
    expect_schema_error(&flags, "A: invalid key table entry 0: flag not meaningful for this type");
    const struct mb_config_key count = MB_CONFIG_KEY_U64_LIST("A", struct bad_cfg, list, count);
    expect_schema_error(&count, "A: invalid key table entry 0: list count must be a size_t inside the struct");
    const struct mb_config_key strings = MB_CONFIG_KEY_STRING_LIST("A", struct bad_cfg, list, count);
    expect_schema_error(&strings, "A: invalid key table entry 0: list count must be a size_t inside the struct");
    struct mb_config_key no_item = MB_CONFIG_KEY_STRING_LIST("A", struct bad_cfg, list, good_count);
    no_item.item_size = 3;
    expect_schema_error(&no_item, "A: invalid key table entry 0: string list destination is not an array of char arrays");
    const struct mb_config_key list = MB_CONFIG_KEY_U64_LIST("A", struct bad_cfg, name, good_count);
    expect_schema_error(&list, "A: invalid key table entry 0: list destination is not an array of its item type");
    struct mb_config_key outside = MB_CONFIG_KEY_U64("A", struct bad_cfg, big);
    outside.offset = sizeof(struct bad_cfg) - 4;
    expect_schema_error(&outside, "A: invalid key table entry 0: destination outside the struct");

    const struct mb_config_key twice[] = {
        MB_CONFIG_KEY_U64("A", struct bad_cfg, big),
        MB_CONFIG_KEY_STRING("A", struct bad_cfg, name),
    };
    struct mb_config_schema schema = {
        .keys = twice,
        .key_count = 2,
        .struct_size = sizeof(struct bad_cfg),
        .present_offset = offsetof(struct bad_cfg, present),
        .present_size = sizeof(bool),
    };
    MBT_EQ_INT(-EINVAL, mb_config_schema_check(&schema, &err));
    MBT_EQ_STR("invalid key table: present[] must be one bool per key", error_text());
    schema.present_size = 2 * sizeof(bool);
    schema.present_offset = offsetof(struct bad_cfg, good_count);
    MBT_EQ_INT(-EINVAL, mb_config_schema_check(&schema, &err));
    MBT_EQ_STR("A: invalid key table entry 1: name used twice", error_text());

    /* scratch must be separate from dest. */
    struct test_cfg cfg = defaults();
    MBT_EQ_INT(-EINVAL, mb_config_parse_buffer(&test_schema, "x", "", 0, &cfg, &cfg, &err));
    MBT_EQ_STR("invalid key table: scratch overlaps dest", error_text());
    MBT_EQ_INT(-EINVAL, mb_config_parse_buffer(&test_schema, "x", "", 0, &cfg, NULL, &err));
    MBT_EQ_INT(-EINVAL, mb_config_parse_buffer(NULL, "x", "", 0, &cfg, NULL, NULL));
}

int main(void)
{
    put_str(tmpdir, "/tmp/test_config.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    MBT_RUN(test_schema_is_valid);
    MBT_RUN(test_full_file);
    MBT_RUN(test_full_buffer_not_terminated);
    MBT_RUN(test_zero_differs_from_absent);
    MBT_RUN(test_key_prefix_never_matches);
    MBT_RUN(test_line_forms);
    MBT_RUN(test_crlf_file_without_final_newline);
    MBT_RUN(test_value_errors_name_file_line_key);
    MBT_RUN(test_overflow);
    MBT_RUN(test_range);
    MBT_RUN(test_percent_and_all_except_only_where_allowed);
    MBT_RUN(test_empty_value);
    MBT_RUN(test_duplicate_key);
    MBT_RUN(test_lists_and_strings);
    MBT_RUN(test_string_list);
    MBT_RUN(test_control_bytes);
    MBT_RUN(test_line_length_limit_in_buffer);
    MBT_RUN(test_file_streaming);
    MBT_RUN(test_too_many_lines);
    MBT_RUN(test_file_errors);
    MBT_RUN(test_all_or_nothing);
    MBT_RUN(test_environment);
    MBT_RUN(test_environment_errors);
    MBT_RUN(test_long_key_and_no_error_struct);
    MBT_RUN(test_error_format);
    MBT_RUN(test_schema_errors);
    unlink(tmp_path("long.cfg"));
    unlink(tmp_path("huge.cfg"));
    unlink(tmp_path("nul.cfg"));
    unlink(tmp_path("repeat.cfg"));
    rmdir(tmpdir);
    return mbt_finish();
}
