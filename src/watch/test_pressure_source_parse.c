/* test_pressure_source_parse.c: the cgroup value files, cgroup.controllers
 * and PSI trigger text, against captured contents. */
#include "mbtest.h"
#include "watch/pressure_source_parse.h"

#include <errno.h>
#include <string.h>

#define PARSE_VALUE(text, out) mbw_parse_cgroup_value(text, strlen(text), out)

static void test_cgroup_value(void)
{
    uint64_t v = 7;
    /* v1 memory.limit_in_bytes of an unlimited group, as read here. */
    MBT_EQ_INT(0, PARSE_VALUE("9223372036854771712\n", &v));
    MBT_EQ_U64(UINT64_C(9223372036854771712), v);
    MBT_EQ_INT(0, PARSE_VALUE("67108864\n", &v));
    MBT_EQ_U64(67108864, v);
    MBT_EQ_INT(0, PARSE_VALUE("4096", &v)); /* no newline */
    MBT_EQ_U64(4096, v);
    MBT_EQ_INT(0, PARSE_VALUE("max\n", &v)); /* v2 memory.max */
    MBT_EQ_U64(MBW_CGROUP_UNLIMITED, v);
    v = 7;
    MBT_EQ_INT(-EINVAL, PARSE_VALUE("", &v));
    MBT_EQ_INT(-EINVAL, PARSE_VALUE("\n", &v));
    MBT_EQ_INT(-EINVAL, PARSE_VALUE("12k\n", &v));
    MBT_EQ_INT(-EINVAL, PARSE_VALUE("-1\n", &v));
    MBT_EQ_INT(-EINVAL, PARSE_VALUE("1\n2\n", &v));
    MBT_EQ_INT(-EINVAL, PARSE_VALUE("maximum\n", &v));
    MBT_EQ_INT(-ERANGE, PARSE_VALUE("18446744073709551616\n", &v));
    MBT_EQ_U64(7, v); /* untouched on error */
    /* Not NUL-terminated: only len bytes count. */
    MBT_EQ_INT(0, mbw_parse_cgroup_value("123456", 3, &v));
    MBT_EQ_U64(123, v);
}

static void test_controllers(void)
{
    const char *hybrid = "hugetlb\n"; /* this machine's unified mount */
    const char *full = "cpuset cpu io memory hugetlb pids rdma misc\n";
    MBT_FALSE(mbw_controllers_include(hybrid, strlen(hybrid), "memory"));
    MBT_TRUE(mbw_controllers_include(full, strlen(full), "memory"));
    MBT_TRUE(mbw_controllers_include(full, strlen(full), "misc"));
    MBT_TRUE(mbw_controllers_include(full, strlen(full), "cpuset"));
    MBT_FALSE(mbw_controllers_include(full, strlen(full), "mem"));
    MBT_FALSE(mbw_controllers_include("", 0, "memory"));
    MBT_FALSE(mbw_controllers_include("memoryx", 7, "memory"));
    MBT_TRUE(mbw_controllers_include("memoryx", 6, "memory"));
}

static void test_psi_trigger(void)
{
    char buf[64];
    int n = mbw_psi_trigger_format(buf, sizeof buf, false, 100000, 2000000);
    MBT_EQ_INT(20, n); /* the NUL is written too: the kernel wants it */
    MBT_EQ_MEM("some 100000 2000000\0", buf, 20);
    n = mbw_psi_trigger_format(buf, sizeof buf, true, 2000000, 2000000);
    MBT_EQ_INT(21, n);
    MBT_EQ_STR("full 2000000 2000000", buf);
    MBT_EQ_INT(-EINVAL, mbw_psi_trigger_format(buf, sizeof buf, false, 0, 2000000));
    MBT_EQ_INT(-EINVAL, mbw_psi_trigger_format(buf, sizeof buf, false, 3000000, 2000000));
    MBT_EQ_INT(-ENOSPC, mbw_psi_trigger_format(buf, 20, true, 2000000, 2000000));
    MBT_EQ_INT(21, mbw_psi_trigger_format(buf, 21, true, 2000000, 2000000));
}

int main(void)
{
    MBT_RUN(test_cgroup_value);
    MBT_RUN(test_controllers);
    MBT_RUN(test_psi_trigger);
    return mbt_finish();
}
