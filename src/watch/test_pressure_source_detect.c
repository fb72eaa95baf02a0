/* test_pressure_source_detect.c: detection against fixture trees made in a
 * temporary directory (files with the kernel's contents), for a v1 hybrid
 * machine like this one, a pure v2 one, and one with nothing. */
#include "mbtest.h"
#include "watch/pressure_source_detect.h"
#include "watch/pressure_source_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[64];

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", base, rel);
    /* mkdir -p of the parents */
    for (char *p = path + strlen(base) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    }
    if (text == NULL) {
        mkdir(path, 0755);
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    MBT_REQUIRE(fd >= 0);
    MBT_REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    MBT_TRUE(system(cmd) == 0);
}

static const char psi_text[] = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                               "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";

static void test_hybrid_v1(void)
{
    snprintf(base, sizeof base, "/tmp/mbw-detect-XXXXXX");
    MBT_REQUIRE(mkdtemp(base) != NULL);
    put("/proc/pressure/memory", psi_text);
    put("/sys/fs/cgroup/memory/cgroup.event_control", "");
    put("/sys/fs/cgroup/memory/memory.usage_in_bytes", "1234\n");
    put("/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
    put("/sys/fs/cgroup/memory/app/cgroup.event_control", "");
    put("/sys/fs/cgroup/memory/app/memory.pressure_level", "");
    put("/sys/fs/cgroup/memory/app/memory.usage_in_bytes", "4096\n");
    put("/sys/fs/cgroup/memory/app/memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    put("/sys/fs/cgroup/memory/app/memory.limit_in_bytes", "67108864\n");

    struct mbw_kernel_features k;
    MBT_EQ_INT(0, mbw_detect_kernel(base, &k));
    MBT_TRUE(k.psi);
    MBT_TRUE(k.v1_memory);
    char want[256];
    snprintf(want, sizeof want, "%s/sys/fs/cgroup/memory", base);
    MBT_EQ_STR(want, k.v1_root);
    MBT_TRUE(k.v2);
    MBT_FALSE(k.v2_memory);
    snprintf(want, sizeof want, "%s/sys/fs/cgroup/unified", base);
    MBT_EQ_STR(want, k.v2_root);

    struct mbw_cgroup_features c;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/sys/fs/cgroup/memory/app", base);
    MBT_EQ_INT(0, mbw_detect_cgroup(dir, &c));
    MBT_TRUE(c.v1_pressure_level);
    MBT_TRUE(c.v1_usage);
    MBT_TRUE(c.v1_oom);
    MBT_FALSE(c.v2_events);
    MBT_FALSE(c.psi);
    MBT_EQ_U64(67108864, c.limit);

    snprintf(dir, sizeof dir, "%s/sys/fs/cgroup/memory/missing", base);
    MBT_EQ_INT(-ENOENT, mbw_detect_cgroup(dir, &c));
    snprintf(dir, sizeof dir, "%s/proc", base); /* a directory with nothing of use */
    MBT_EQ_INT(-ENOTSUP, mbw_detect_cgroup(dir, &c));
    cleanup();
}

static void test_pure_v2(void)
{
    snprintf(base, sizeof base, "/tmp/mbw-detect-XXXXXX");
    MBT_REQUIRE(mkdtemp(base) != NULL);
    put("/proc/pressure/memory", psi_text);
    put("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    put("/sys/fs/cgroup/app/memory.events", "low 0\nhigh 3\nmax 1\noom 0\noom_kill 0\n");
    put("/sys/fs/cgroup/app/memory.pressure", psi_text);
    put("/sys/fs/cgroup/app/memory.max", "max\n");
    struct mbw_kernel_features k;
    MBT_EQ_INT(0, mbw_detect_kernel(base, &k));
    MBT_TRUE(k.psi);
    MBT_FALSE(k.v1_memory);
    MBT_EQ_STR("", k.v1_root);
    MBT_TRUE(k.v2);
    MBT_TRUE(k.v2_memory);
    struct mbw_cgroup_features c;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/sys/fs/cgroup/app", base);
    MBT_EQ_INT(0, mbw_detect_cgroup(dir, &c));
    MBT_FALSE(c.v1_pressure_level);
    MBT_FALSE(c.v1_usage);
    MBT_TRUE(c.v2_events);
    MBT_TRUE(c.psi);
    MBT_EQ_U64(MBW_CGROUP_UNLIMITED, c.limit);
    cleanup();
}

static void test_nothing(void)
{
    snprintf(base, sizeof base, "/tmp/mbw-detect-XXXXXX");
    MBT_REQUIRE(mkdtemp(base) != NULL);
    /* PSI present but unreadable content (psi=0 gives an error; here: junk). */
    put("/proc/pressure/memory", "garbage\n");
    struct mbw_kernel_features k;
    MBT_EQ_INT(0, mbw_detect_kernel(base, &k));
    MBT_FALSE(k.psi);
    MBT_FALSE(k.v1_memory);
    MBT_FALSE(k.v2);
    MBT_FALSE(k.v2_memory);
    char longroot[400];
    memset(longroot, 'x', sizeof longroot - 1);
    longroot[sizeof longroot - 1] = '\0';
    MBT_EQ_INT(-ENAMETOOLONG, mbw_detect_kernel(longroot, &k));
    cleanup();
}

int main(void)
{
    MBT_RUN(test_hybrid_v1);
    MBT_RUN(test_pure_v2);
    MBT_RUN(test_nothing);
    return mbt_finish();
}
