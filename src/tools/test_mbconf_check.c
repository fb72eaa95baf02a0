/* Unit tests for mbconf_check.c: the findings for the fixture machines,
 * exact level, topic and text. */
#include "tools/mbconf_check.h"
#include "mbtest.h"

#define FIXTURES "../../tests/fixtures/"

static struct mbconf_findings findings;

static const struct mbconf_finding *find(const char *topic)
{
    for (size_t i = 0; i < findings.count; i++)
        if (strcmp(findings.item[i].topic, topic) == 0)
            return &findings.item[i];
    return NULL;
}

#define MBT_FINDING(topic, level_, text_)                         \
    do {                                                          \
        const struct mbconf_finding *f_ = find(topic);            \
        if (MBT_NOT_NULL(f_)) {                                   \
            MBT_EQ_INT(level_, f_->level);                        \
            MBT_EQ_STR(text_, f_->text);                          \
        }                                                         \
    } while (0)

/* The small ARM device: overcommit always, zram, no PSI, v1 memcg, no THP,
 * no FUSE, and an mbserver the OOM killer may choose. */
static void test_arm256(void)
{
    findings = (struct mbconf_findings){0};
    mbconf_check_system(FIXTURES "root-arm256", &findings);
    MBT_EQ_U64(7, findings.count);
    mbconf_check_mbserver_oom(FIXTURES "root-arm256", 0, &findings);
    MBT_FINDING("overcommit", MBCONF_WARN,
                "mode 1 (always): no allocation is ever refused; a shortage ends in an OOM kill");
    MBT_FINDING("swap", MBCONF_INFO, "zram only: 1 device, 65532 kB");
    MBT_FINDING("psi", MBCONF_WARN, "no /proc/pressure/memory: the kernel reports no memory pressure");
    MBT_FINDING("cgroup", MBCONF_OK, "v1 memory controller at /sys/fs/cgroup/memory");
    MBT_FINDING("thp", MBCONF_OK, "transparent huge pages are not built in");
    MBT_FINDING("min_free_kbytes", MBCONF_OK, "1997 kB, 0.8% of MemTotal");
    MBT_FINDING("fuse", MBCONF_INFO, "no /dev/fuse");
    MBT_FINDING("oom_score_adj", MBCONF_WARN,
                "mbserver (pid 412) has oom_score_adj 0: the OOM killer may pick it");
    MBT_TRUE(mbconf_needs_attention(&findings));
    MBT_TRUE(find("psi")->advice[0] != '\0');
    MBT_TRUE(find("cgroup")->advice[0] == '\0');
    /* A pid named by the caller (the server behind the socket) wins over the name scan. */
    findings = (struct mbconf_findings){0};
    mbconf_check_mbserver_oom(FIXTURES "root-arm256", 97, &findings);
    MBT_FINDING("oom_score_adj", MBCONF_WARN,
                "mbserver (pid 97) has oom_score_adj 0: the OOM killer may pick it");
    findings = (struct mbconf_findings){0};
    mbconf_check_mbserver_oom(FIXTURES "root-arm256", 98, &findings);
    MBT_FINDING("oom_score_adj", MBCONF_INFO, "mbserver (pid 98): cannot read its oom_score_adj");
}

/* This machine: nothing needs attention. */
static void test_x86(void)
{
    findings = (struct mbconf_findings){0};
    mbconf_check_system(FIXTURES "root-x86", &findings);
    MBT_EQ_U64(7, findings.count);
    mbconf_check_mbserver_oom(FIXTURES "root-x86", 0, &findings);
    MBT_FINDING("overcommit", MBCONF_OK,
                "mode 0 (heuristic): only absurd allocations are refused; mbserver's quota keeps "
                "the rest within RAM");
    MBT_FINDING("swap", MBCONF_OK, "none: anonymous memory stays in RAM, as mbserver's TOTAL assumes");
    MBT_FINDING("psi", MBCONF_OK, "/proc/pressure/memory is available");
    MBT_FINDING("cgroup", MBCONF_OK,
                "v1 memory controller at /sys/fs/cgroup/memory; the v2 hierarchy has no memory "
                "controller");
    MBT_FINDING("thp", MBCONF_OK, "mode madvise");
    MBT_FINDING("min_free_kbytes", MBCONF_OK, "67584 kB, 0.2% of MemTotal");
    MBT_FINDING("fuse", MBCONF_OK, "/dev/fuse is present (trackfs can mount)");
    MBT_FINDING("oom_score_adj", MBCONF_OK,
                "mbserver (pid 1500) is exempt from the OOM killer (-1000)");
    MBT_FALSE(mbconf_needs_attention(&findings));
}

/* A root with nothing in it: every check says what is missing. */
static void test_empty_root(void)
{
    findings = (struct mbconf_findings){0};
    mbconf_check_system(FIXTURES "root-none", &findings);
    mbconf_check_mbserver_oom(FIXTURES "root-none", 0, &findings);
    MBT_FINDING("meminfo", MBCONF_WARN, "cannot read /proc/meminfo");
    MBT_FINDING("overcommit", MBCONF_INFO, "cannot read /proc/sys/vm/overcommit_memory");
    MBT_FINDING("cgroup", MBCONF_WARN,
                "no memory cgroup controller (neither v2 cgroup.controllers with memory nor v1 "
                "/sys/fs/cgroup/memory)");
    MBT_FINDING("oom_score_adj", MBCONF_INFO, "no mbserver process is running");
    MBT_TRUE(mbconf_needs_attention(&findings));
}

static void test_print_and_limit(void)
{
    findings = (struct mbconf_findings){0};
    mbconf_add(&findings, MBCONF_WARN, "thp", "use madvise", "mode %s", "always");
    mbconf_add(&findings, MBCONF_OK, "psi", NULL, "fine");
    char text[512];
    FILE *out = fmemopen(text, sizeof text, "w");
    MBT_REQUIRE(out != NULL);
    mbconf_print_findings(out, &findings);
    fclose(out);
    MBT_EQ_STR("WARN  thp: mode always\n      advice: use madvise\nok    psi: fine\n", text);
    for (int i = 0; i < 40; i++)
        mbconf_add(&findings, MBCONF_OK, "x", NULL, "%d", i);
    MBT_EQ_U64(MBCONF_MAX_FINDINGS, findings.count);
}

int main(void)
{
    MBT_RUN(test_arm256);
    MBT_RUN(test_x86);
    MBT_RUN(test_empty_root);
    MBT_RUN(test_print_and_limit);
    return mbt_finish();
}
