/* Unit tests for strbuf.c. */
#include "common/strbuf.h"
#include "mbtest.h"

#include <errno.h>

static void test_append_and_terminate(void)
{
    char buf[16];
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, buf, sizeof(buf));
    MBT_EQ_STR("", mb_strbuf_str(&sb));
    mb_strbuf_append(&sb, "pages: ");
    mb_strbuf_append_u64(&sb, 42);
    mb_strbuf_append_char(&sb, '!');
    MBT_EQ_STR("pages: 42!", buf);
    MBT_EQ_U64(10, sb.len);
    MBT_FALSE(mb_strbuf_truncated(&sb));
    mb_strbuf_append_n(&sb, "abcdef", 3);
    MBT_EQ_STR("pages: 42!abc", buf);
    mb_strbuf_append(&sb, NULL);
    MBT_EQ_STR("pages: 42!abc(n", buf);
    MBT_TRUE(mb_strbuf_truncated(&sb));
}

static void test_truncation_is_bounded(void)
{
    char buf[8];
    memset(buf, 'x', sizeof(buf));
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, buf, 5);
    mb_strbuf_append(&sb, "abcdefgh");
    MBT_EQ_STR("abcd", buf);
    MBT_EQ_U64(4, sb.len);
    MBT_TRUE(mb_strbuf_truncated(&sb));
    MBT_EQ_INT('x', buf[5]); /* nothing written past the capacity */
    mb_strbuf_append_u64(&sb, 7);
    MBT_EQ_STR("abcd", buf);

    /* Exactly filling is not truncation. */
    mb_strbuf_init(&sb, buf, 5);
    mb_strbuf_append(&sb, "abcd");
    MBT_EQ_STR("abcd", buf);
    MBT_FALSE(mb_strbuf_truncated(&sb));

    /* A capacity of 0 writes nothing at all. */
    mb_strbuf_init(&sb, NULL, 0);
    mb_strbuf_append(&sb, "a");
    MBT_EQ_STR("", mb_strbuf_str(&sb));
    MBT_TRUE(mb_strbuf_truncated(&sb));
    mb_strbuf_init(&sb, buf, 1);
    mb_strbuf_append(&sb, "");
    MBT_FALSE(mb_strbuf_truncated(&sb));
    mb_strbuf_append_u64(&sb, 0);
    MBT_EQ_STR("", buf);
    MBT_TRUE(mb_strbuf_truncated(&sb));
}

static void test_numbers(void)
{
    char buf[96];
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, buf, sizeof(buf));
    mb_strbuf_append_u64(&sb, 0);
    mb_strbuf_append_char(&sb, ' ');
    mb_strbuf_append_u64(&sb, UINT64_MAX);
    mb_strbuf_append_char(&sb, ' ');
    mb_strbuf_append_i64(&sb, -1);
    mb_strbuf_append_char(&sb, ' ');
    mb_strbuf_append_i64(&sb, INT64_MIN);
    mb_strbuf_append_char(&sb, ' ');
    mb_strbuf_append_i64(&sb, INT64_MAX);
    mb_strbuf_append_char(&sb, ' ');
    mb_strbuf_append_u64(&sb, 1000);
    MBT_EQ_STR("0 18446744073709551615 -1 -9223372036854775808 9223372036854775807 1000", buf);
    MBT_FALSE(mb_strbuf_truncated(&sb));
}

static void test_printable(void)
{
    char buf[64];
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, buf, sizeof(buf));
    mb_strbuf_append_printable(&sb, "a\"b\\c\x01\xff", 7, 16);
    MBT_EQ_STR("a\\\"b\\\\c\\x01\\xff", buf);
    mb_strbuf_init(&sb, buf, sizeof(buf));
    mb_strbuf_append_printable(&sb, "abcdefgh", 8, 3);
    MBT_EQ_STR("abc...", buf);
    mb_strbuf_init(&sb, buf, sizeof(buf));
    mb_strbuf_append_printable(&sb, "abc", 3, 3);
    MBT_EQ_STR("abc", buf);
}

static void test_errno_text(void)
{
    char buf[64];
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, buf, sizeof(buf));
    mb_strbuf_append_errno(&sb, ENOENT);
    MBT_EQ_STR("No such file or directory", buf);
    mb_strbuf_init(&sb, buf, sizeof(buf));
    mb_strbuf_append_errno(&sb, EACCES);
    MBT_EQ_STR("Permission denied", buf);
    mb_strbuf_init(&sb, buf, sizeof(buf));
    mb_strbuf_append_errno(&sb, EISDIR);
    MBT_EQ_STR("Is a directory", buf);
    mb_strbuf_init(&sb, buf, sizeof(buf));
    mb_strbuf_append_errno(&sb, 9999);
    MBT_EQ_STR("errno 9999", buf);
    mb_strbuf_init(&sb, buf, sizeof(buf));
    mb_strbuf_append_errno(&sb, -3);
    MBT_EQ_STR("errno -3", buf);
}

int main(void)
{
    MBT_RUN(test_append_and_terminate);
    MBT_RUN(test_truncation_is_bounded);
    MBT_RUN(test_numbers);
    MBT_RUN(test_printable);
    MBT_RUN(test_errno_text);
    return mbt_finish();
}
