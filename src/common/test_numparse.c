/* Unit tests for numparse.c. */
#include "common/numparse.h"
#include "mbtest.h"

#include <errno.h>

static void test_prefix(void)
{
    uint64_t v = 7;
    MBT_EQ_INT(3, mb_parse_u64_prefix("123abc", 6, &v));
    MBT_EQ_U64(123, v);
    MBT_EQ_INT(2, mb_parse_u64_prefix("123", 2, &v)); /* never reads past len */
    MBT_EQ_U64(12, v);
    v = 7;
    MBT_EQ_INT(0, mb_parse_u64_prefix("x1", 2, &v));
    MBT_EQ_U64(7, v);
    MBT_EQ_INT(0, mb_parse_u64_prefix("", 0, &v));
    MBT_EQ_INT(20, mb_parse_u64_prefix("18446744073709551615", 20, &v));
    MBT_EQ_U64(UINT64_MAX, v);
    v = 7;
    MBT_EQ_INT(-ERANGE, mb_parse_u64_prefix("18446744073709551616", 20, &v));
    MBT_EQ_U64(7, v);
    MBT_EQ_INT(-ERANGE, mb_parse_u64_prefix("99999999999999999999999", 23, &v));
    MBT_EQ_INT(4, mb_parse_u64_prefix("0007", 4, &v));
    MBT_EQ_U64(7, v);
}

static void test_exact(void)
{
    uint64_t v = 0;
    MBT_EQ_INT(0, mb_parse_u64_exact("42", 2, &v));
    MBT_EQ_U64(42, v);
    MBT_EQ_INT(-EINVAL, mb_parse_u64_exact("", 0, &v));
    MBT_EQ_INT(-EINVAL, mb_parse_u64_exact("4 2", 3, &v));
    MBT_EQ_INT(-EINVAL, mb_parse_u64_exact("-1", 2, &v));
    MBT_EQ_INT(-EINVAL, mb_parse_u64_exact("+1", 2, &v));
    MBT_EQ_INT(-ERANGE, mb_parse_u64_exact("18446744073709551616", 20, &v));
    MBT_EQ_U64(42, v);
}

static void test_checked_arithmetic(void)
{
    uint64_t r = 0;
    MBT_EQ_INT(0, mb_mul_u64(4096, 1024, &r));
    MBT_EQ_U64(4194304, r);
    MBT_EQ_INT(-ERANGE, mb_mul_u64(UINT64_MAX / 2 + 1, 2, &r));
    MBT_EQ_INT(0, mb_add_u64(UINT64_MAX - 1, 1, &r));
    MBT_EQ_U64(UINT64_MAX, r);
    MBT_EQ_INT(-ERANGE, mb_add_u64(UINT64_MAX, 1, &r));
}

int main(void)
{
    MBT_RUN(test_prefix);
    MBT_RUN(test_exact);
    MBT_RUN(test_checked_arithmetic);
    return mbt_finish();
}
