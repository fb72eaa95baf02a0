/* Unit tests for mbfrag_reclaim.c: which steps run where (fixture trees),
 * what a dry run says, and what a real pass writes into a scratch tree. */
#include "tools/mbfrag_reclaim.h"
#include "tools/mbfrag_root.h"
#include "mbtest.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIXTURES "../../tests/fixtures/"

static char text[16 * 1024];

static void test_root_path(void)
{
    char buf[32];
    MBT_EQ_INT(0, mbfrag_root_path(NULL, "/proc/meminfo", buf, sizeof buf));
    MBT_EQ_STR("/proc/meminfo", buf);
    MBT_EQ_INT(0, mbfrag_root_path("", "/proc/meminfo", buf, sizeof buf));
    MBT_EQ_STR("/proc/meminfo", buf);
    MBT_EQ_INT(0, mbfrag_root_path("/tmp/r//", "/proc/meminfo", buf, sizeof buf));
    MBT_EQ_STR("/tmp/r/proc/meminfo", buf);
    MBT_EQ_INT(0, mbfrag_root_path("/", "/sys", buf, sizeof buf));
    MBT_EQ_STR("/sys", buf);
    /* 19 bytes and the NUL fit in 20, not in 19. */
    MBT_EQ_INT(0, mbfrag_root_path("/tmp/r", "/proc/meminfo", buf, 20));
    MBT_EQ_INT(-ENAMETOOLONG, mbfrag_root_path("/tmp/r", "/proc/meminfo", buf, 19));
    uint64_t value = 0;
    MBT_EQ_INT(0, mbfrag_root_read_u64(FIXTURES "root-arm256", "/proc/sys/vm/min_free_kbytes", &value));
    MBT_EQ_U64(1997, value);
    MBT_EQ_INT(-EINVAL, mbfrag_root_read_u64(FIXTURES "root-arm256", "/proc/412/comm", &value));
    MBT_EQ_INT(-ENOENT, mbfrag_root_write(FIXTURES "root-arm256", "/proc/sys/vm/none", "1"));
    MBT_FALSE(mbfrag_root_exists(FIXTURES "root-arm256", "/proc/sys/vm/none"));
    MBT_TRUE(mbfrag_root_exists(FIXTURES "root-arm256", "/proc/sys/vm"));
}

static void test_list_nodes(void)
{
    unsigned nodes[MBFRAG_MAX_NODES];
    MBT_EQ_U64(4, mbfrag_list_nodes(FIXTURES "root-numa", nodes, MBFRAG_MAX_NODES));
    MBT_EQ_U64(0, nodes[0]);
    MBT_EQ_U64(3, nodes[3]);
    MBT_EQ_U64(2, mbfrag_list_nodes(FIXTURES "root-numa", nodes, 2));
    MBT_EQ_U64(0, mbfrag_list_nodes(FIXTURES "root-seed", nodes, MBFRAG_MAX_NODES));
}

/* root-numa has drop_caches, per-node compact (no compact_memory), reclaim
 * on nodes 0 and 2, a v2 cgroup "app" and a v1 cgroup "legacy". */
static void test_dry_run_numa(void)
{
    struct mbfrag_reclaim_options opts;
    mbfrag_reclaim_options_defaults(&opts);
    opts.root = FIXTURES "root-numa";
    opts.dry_run = true;
    opts.node_reclaim = true;
    opts.cgroup = "/sys/fs/cgroup/app";
    FILE *out = fmemopen(text, sizeof text, "w");
    MBT_REQUIRE(out != NULL);
    MBT_EQ_U64(0, mbfrag_reclaim_pass(&opts, out));
    fclose(out);
    MBT_EQ_STR("sync: would call sync(2)\n"
               "drop_caches: would write 3 to /proc/sys/vm/drop_caches\n"
               "compact: would write 1 to /sys/devices/system/node/node0/compact\n"
               "compact: would write 1 to /sys/devices/system/node/node1/compact\n"
               "compact: would write 1 to /sys/devices/system/node/node2/compact\n"
               "compact: would write 1 to /sys/devices/system/node/node3/compact\n"
               "node reclaim: would write 1073741824 to /sys/devices/system/node/node0/reclaim\n"
               "node reclaim: would write 3221225472 to /sys/devices/system/node/node2/reclaim\n"
               "cgroup reclaim: would write 8388608 to /sys/fs/cgroup/app/memory.reclaim\n",
               text);

    opts.cgroup = "/sys/fs/cgroup/memory/legacy";
    opts.sync = false;
    opts.drop_caches = 1;
    opts.compact = false;
    opts.node_reclaim = false;
    out = fmemopen(text, sizeof text, "w");
    MBT_REQUIRE(out != NULL);
    MBT_EQ_U64(0, mbfrag_reclaim_pass(&opts, out));
    fclose(out);
    MBT_EQ_STR("sync: skipped (--no-sync)\n"
               "drop_caches: would write 1 to /proc/sys/vm/drop_caches\n"
               "compact: skipped (--no-compact)\n"
               "cgroup force_empty: would write 0 to /sys/fs/cgroup/memory/legacy/memory.force_empty\n",
               text);
}

/* A kernel with none of the knobs: every step says why it is skipped; a
 * cgroup without reclaim files is an error. */
static void test_missing_knobs(void)
{
    struct mbfrag_reclaim_options opts;
    mbfrag_reclaim_options_defaults(&opts);
    opts.root = FIXTURES "root-seed";
    opts.dry_run = true;
    opts.node_reclaim = true;
    opts.cgroup = "/sys/fs/cgroup/none";
    FILE *out = fmemopen(text, sizeof text, "w");
    MBT_REQUIRE(out != NULL);
    MBT_EQ_U64(1, mbfrag_reclaim_pass(&opts, out));
    fclose(out);
    MBT_EQ_STR("sync: would call sync(2)\n"
               "drop_caches: skipped: /proc/sys/vm/drop_caches not available\n"
               "compact: skipped: kernel without compaction (no /proc/sys/vm/compact_memory nor "
               "node compact files)\n"
               "node reclaim: skipped: kernel without /sys/devices/system/node/nodeN/reclaim\n"
               "cgroup reclaim: failed: /sys/fs/cgroup/none has neither memory.reclaim (v2) nor "
               "memory.force_empty (v1)\n",
               text);
}

static void write_file(const char *dir, const char *path, const char *content)
{
    char full[512];
    snprintf(full, sizeof full, "%s%s", dir, path);
    int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    MBT_REQUIRE(fd >= 0);
    MBT_EQ_I64((ssize_t)strlen(content), write(fd, content, strlen(content)));
    close(fd);
}

static void read_back(const char *dir, const char *path, const char *expected)
{
    char buf[64];
    size_t len = 0;
    MBT_REQUIRE(mbfrag_root_read(dir, path, buf, sizeof buf - 1, &len) == 0);
    buf[len] = '\0';
    MBT_EQ_STR(expected, buf);
}

/* A real run in a scratch tree: the knobs get their values, MemFree does
 * not move, so one pass is enough and nothing is recovered. */
static void test_real_run_in_scratch_tree(void)
{
    char dir[] = "/tmp/mbfrag-test.XXXXXX";
    MBT_REQUIRE(mkdtemp(dir) != NULL);
    char sub[600];
    const char *dirs[] = {"/proc", "/proc/sys", "/proc/sys/vm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(sub, sizeof sub, "%s%s", dir, dirs[i]);
        MBT_REQUIRE(mkdir(sub, 0755) == 0);
    }
    write_file(dir, "/proc/buddyinfo", "Node 0, zone Normal 972 352 171 25 0 0 0 0 0 0 0\n");
    write_file(dir, "/proc/meminfo", "MemTotal: 479232 kB\nMemFree: 10240 kB\nCached: 100 kB\n");
    write_file(dir, "/proc/sys/vm/drop_caches", "");
    write_file(dir, "/proc/sys/vm/compact_memory", "");

    struct mbfrag_reclaim_options opts;
    mbfrag_reclaim_options_defaults(&opts);
    opts.root = dir;
    opts.sync = false;
    static struct mbfrag_snapshot before, after;
    struct mbfrag_reclaim_result result;
    char why[128] = "";
    FILE *out = fmemopen(text, sizeof text, "w");
    MBT_REQUIRE(out != NULL);
    MBT_EQ_INT(0, mbfrag_reclaim_run(&opts, out, &before, &after, &result, why, sizeof why));
    mbfrag_print_reclaim_report(out, &before, &after, &result);
    fclose(out);
    read_back(dir, "/proc/sys/vm/drop_caches", "3");
    read_back(dir, "/proc/sys/vm/compact_memory", "1");
    MBT_EQ_U64(1, result.passes_run);
    MBT_EQ_U64(0, result.failed_steps);
    MBT_EQ_I64(0, result.recovered_bytes);
    MBT_TRUE(strstr(text, "pass 1:\nsync: skipped (--no-sync)\n"
                          "drop_caches: wrote 3 to /proc/sys/vm/drop_caches\n"
                          "compact: wrote 1 to /proc/sys/vm/compact_memory\n"
                          "pass 1: MemFree +0 kB\n") == text);
    MBT_TRUE(strstr(text, "MemFree              10240        10240           +0\n") != NULL);
    MBT_TRUE(strstr(text, "Cached                 100          100           +0\n") != NULL);
    MBT_TRUE(strstr(text, "Node 0, zone Normal: 0:0->0 1:37->37 2:65->65 3:92->92 4:100->100") != NULL);
    MBT_TRUE(strstr(text, "; average 81.4% -> 81.4%\n") != NULL);
    MBT_TRUE(strstr(text, "\nrecovered: 0 kB (0 B) in 1 pass, ") != NULL);

    /* A knob that cannot be written is a failed step, and the run goes on. */
    snprintf(sub, sizeof sub, "%s/proc/sys/vm/drop_caches", dir);
    MBT_REQUIRE(unlink(sub) == 0 && mkdir(sub, 0755) == 0);
    out = fmemopen(text, sizeof text, "w");
    MBT_REQUIRE(out != NULL);
    MBT_EQ_U64(1, mbfrag_reclaim_pass(&opts, out));
    fclose(out);
    MBT_TRUE(strstr(text, "drop_caches: failed: /proc/sys/vm/drop_caches: Is a directory\n"
                          "compact: wrote 1 to /proc/sys/vm/compact_memory\n") != NULL);
    rmdir(sub);

    const char *files[] = {"/proc/sys/vm/compact_memory", "/proc/meminfo", "/proc/buddyinfo"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(sub, sizeof sub, "%s%s", dir, files[i]);
        unlink(sub);
    }
    for (size_t i = 3; i-- > 0;) {
        snprintf(sub, sizeof sub, "%s%s", dir, dirs[i]);
        rmdir(sub);
    }
    MBT_EQ_INT(0, rmdir(dir));
}

int main(void)
{
    MBT_RUN(test_root_path);
    MBT_RUN(test_list_nodes);
    MBT_RUN(test_dry_run_numa);
    MBT_RUN(test_missing_knobs);
    MBT_RUN(test_real_run_in_scratch_tree);
    return mbt_finish();
}
