/* Unit tests for the shared pieces of proc_read.c: the line loop the
 * parsers run, and the named-field helpers of meminfo and vmstat. */
#include "common/proc_read.h"
#include "mbtest.h"

#include <errno.h>
#include <string.h>

struct seen {
    unsigned calls;
    char first[16];
    unsigned fail_at; /* 1-based call that fails with -EINVAL; 0: none */
};

static int note_line(void *ctx, const char *line, size_t len)
{
    struct seen *s = ctx;
    s->calls++;
    if (s->calls == 1 && len < sizeof s->first)
        memcpy(s->first, line, len);
    return s->calls == s->fail_at ? -EINVAL : 0;
}

static void test_each_line_skips_blanks_and_reports_the_failing_line(void)
{
    static const char text[] = "\n  \t\nalpha 1\n\nbeta 2\ngamma 3";
    struct seen s = {0};
    size_t err = 99;
    MBT_EQ_INT(0, mb_each_line(text, sizeof text - 1, note_line, &s, &err));
    MBT_EQ_U64(3, s.calls); /* blank lines are not passed on; a last line without \n is */
    MBT_EQ_STR("alpha 1", s.first);
    MBT_EQ_U64(0, err);

    s = (struct seen){.fail_at = 2};
    MBT_EQ_INT(-EINVAL, mb_each_line(text, sizeof text - 1, note_line, &s, &err));
    MBT_EQ_U64(2, s.calls); /* stops at the failure */
    MBT_EQ_U64(5, err);     /* "beta 2" is the file's fifth line */

    s = (struct seen){.fail_at = 1};
    MBT_EQ_INT(-EINVAL, mb_each_line(text, sizeof text - 1, note_line, &s, NULL));
    MBT_EQ_U64(1, s.calls);

    s = (struct seen){0};
    MBT_EQ_INT(0, mb_each_line("", 0, note_line, &s, &err));
    MBT_EQ_U64(0, s.calls);
    MBT_EQ_U64(0, err);
}

static void test_name_index_is_exact(void)
{
    static const char *const names[] = {"nr_dirty", NULL, "nr_dirty_threshold", "Active"};
    MBT_EQ_INT(0, mb_name_index(names, 4, "nr_dirty", 8));
    MBT_EQ_INT(2, mb_name_index(names, 4, "nr_dirty_threshold", 18));
    MBT_EQ_INT(-1, mb_name_index(names, 4, "nr_dirt", 7));   /* a prefix is not a match */
    MBT_EQ_INT(3, mb_name_index(names, 4, "Active(anon)", 6)); /* only len bytes count */
    MBT_EQ_INT(-1, mb_name_index(names, 3, "Active", 6));      /* beyond count */
    MBT_EQ_INT(-1, mb_name_index(names, 4, "", 0));
}

static void test_fields_keep_the_first_value(void)
{
    uint64_t present = 0, value[3] = {0};
    static const char *const names[] = {"a", "b", "c"};
    mb_field_store(&present, value, 1, 42);
    mb_field_store(&present, value, 1, 7); /* a repeated line does not overwrite */
    MBT_EQ_U64(UINT64_C(1) << 1, present);
    MBT_TRUE(mb_field_has(present, 3, 1));
    MBT_FALSE(mb_field_has(present, 3, 0));
    MBT_FALSE(mb_field_has(present, 1, 1)); /* beyond count */
    MBT_EQ_U64(42, mb_field_get(present, value, 3, 1, 5));
    MBT_EQ_U64(5, mb_field_get(present, value, 3, 2, 5));
    MBT_EQ_U64(5, mb_field_get(present, value, 3, 9, 5));
    MBT_EQ_STR("c", mb_field_name(names, 3, 2));
    MBT_NULL(mb_field_name(names, 3, 3));
}

int main(void)
{
    MBT_RUN(test_each_line_skips_blanks_and_reports_the_failing_line);
    MBT_RUN(test_name_index_is_exact);
    MBT_RUN(test_fields_keep_the_first_value);
    return mbt_finish();
}
