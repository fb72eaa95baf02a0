/* Unit tests for status_format.c: the exact table and JSON mbctl prints. */
#include "tools/status_format.h"
#include "mbtest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct mbctl_status st;

static void fill(void)
{
    memset(&st, 0, sizeof st);
    st.page_size = 4096;
    st.summary = (struct mb_client_status_summary){
        .total = 16384, .configured_total = 16384, .pool = 12288, .gathered = 0,
        .requests = 7, .grants_immediate = 6, .requests_timed_out = 1, .queries_sent = 2,
        .answers_late = 1, .clients = 2, .max_clients = 64};
    st.class_count = 1;
    snprintf(st.classes[0].name, sizeof st.classes[0].name, "default");
    st.classes[0].held = 4096;
    st.classes[0].members = 2;
    st.client_count = 2;
    st.clients[0] = (struct mb_client_status_client){
        .id = 1, .pid = 100, .uid = 0, .kind = MB_KIND_BIDIRECTIONAL, .balance = 4096};
    snprintf(st.clients[0].name, sizeof st.clients[0].name, "cache");
    st.clients[1] = (struct mb_client_status_client){
        .id = 2, .pid = 101, .kind = MB_KIND_SIMPLE, .pending_kind = MB_PENDING_REQUEST,
        .pending_pages = 100, .pending_gathered = 40, .queries_outstanding = 1};
    snprintf(st.clients[1].name, sizeof st.clients[1].name, "we\"ird\n");
}

static char *render(void (*print)(FILE *, const struct mbctl_status *))
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    print(f, &st);
    fclose(f);
    return text;
}

static void test_table(void)
{
    fill();
    char *text = render(mbctl_status_print_table);
    const char *expected =
        "total 16384 pages (64 MiB)   pool 12288 pages (48 MiB)   page size 4096\n"
        "gathered 0   lent 0   debt 0   pressure none   clients 2/64\n"
        "requests 7 (immediate 6, timed out 1)   reserves failed 0   queries 2 (late 1, ignored 0, missed 0)\n"
        "\n"
        "CLASS            PRIORITY        LIMIT         HELD  MEMBERS\n"
        "default                 0         none         4096        2\n"
        "\n"
        "   ID     PID NAME             KIND          CLASS         BALANCE WAITING         FOR  QUERIES MISSED\n"
        "    1     100 cache            bidirectional default          4096 -                 -        0      0\n"
        "    2     101 we\"ird?          simple        default             0 request      40/100        1      0\n";
    MBT_EQ_STR(expected, text);
    free(text);
}

static void test_json(void)
{
    fill();
    char *text = render(mbctl_status_print_json);
    const char *expected =
        "{\"page_size\":4096,\"total\":16384,\"configured_total\":16384,\"pool\":12288,"
        "\"gathered\":0,\"lent\":0,\"debt\":0,\"pressure\":\"none\",\"clients_connected\":2,"
        "\"max_clients\":64,\"counters\":{\"requests\":7,\"grants_immediate\":6,"
        "\"requests_timed_out\":1,\"reserves_failed\":0,\"queries_sent\":2,\"answers_late\":1,"
        "\"answers_ignored\":0,\"deadlines_missed\":0},\"classes\":[{\"name\":\"default\","
        "\"priority\":0,\"limit\":0,\"held\":4096,\"members\":2}],\"clients\":[{\"id\":1,"
        "\"pid\":100,\"uid\":0,\"gid\":0,\"name\":\"cache\",\"kind\":\"bidirectional\","
        "\"class\":\"default\",\"balance\":4096,\"lent\":0,\"waiting\":\"-\",\"waiting_pages\":0,"
        "\"waiting_gathered\":0,\"waiting_ms\":0,\"queries_outstanding\":0,\"missed_deadlines\":0,"
        "\"ignored_answers\":0},{\"id\":2,\"pid\":101,\"uid\":0,\"gid\":0,"
        "\"name\":\"we\\\"ird\\u000a\",\"kind\":\"simple\",\"class\":\"default\",\"balance\":0,"
        "\"lent\":0,\"waiting\":\"request\",\"waiting_pages\":100,\"waiting_gathered\":40,"
        "\"waiting_ms\":0,\"queries_outstanding\":1,\"missed_deadlines\":0,\"ignored_answers\":0}],"
        "\"clients_truncated\":false}\n";
    MBT_EQ_STR(expected, text);
    free(text);
}

static void test_names(void)
{
    MBT_EQ_STR("source", mbctl_kind_name(MB_KIND_SOURCE));
    MBT_EQ_STR("?", mbctl_kind_name(9));
    MBT_EQ_STR("reserve", mbctl_pending_name(MB_PENDING_RESERVE));
    MBT_EQ_STR("critical", mbctl_pressure_name(MB_PRESSURE_CRITICAL));
    MBT_EQ_STR("?", mbctl_pressure_name(3));
}

/* trackfs's own figures: the attribute's text parsed exactly, the table
 * section and JSON array printed exactly, a mount without figures shown as
 * unknown. */
static void test_trackfs(void)
{
    static const char stats[] = "mode broker\npage_size 4096\nquota_pages 112\nused_pages 100\n"
                                "free_pages 12\ndata_pages 99\ninodes 2\nxattr_bytes 0\n"
                                "broker_balance 112\nacquired_pages 112\nreleased_pages 0\n"
                                "stalls 8\nstall_ms 41\nenospc 1\n";
    struct mbctl_trackfs t = {.pid = 300};
    MBT_EQ_INT(0, mbctl_trackfs_parse_stats(stats, sizeof stats - 1, &t));
    MBT_TRUE(t.have_stats);
    MBT_EQ_U64(112, t.quota_pages);
    MBT_EQ_U64(100, t.used_pages);
    MBT_EQ_U64(12, t.free_pages);
    MBT_EQ_U64(8, t.stalls);
    MBT_EQ_U64(41, t.stall_ms);
    MBT_EQ_U64(1, t.enospc);
    struct mbctl_trackfs bad = {0};
    MBT_EQ_INT(-EINVAL, mbctl_trackfs_parse_stats("quota_pages 5\n", 14, &bad));
    MBT_FALSE(bad.have_stats);
    MBT_EQ_U64(0, bad.quota_pages);

    fill();
    st.trackfs.count = 2;
    st.trackfs.mounts[0] = t;
    snprintf(st.trackfs.mounts[0].mountpoint, MBCTL_TRACKFS_PATH_MAX, "/run/data");
    st.trackfs.mounts[1] = (struct mbctl_trackfs){.pid = 301};
    char *text = render(mbctl_status_print_table);
    const char *tail =
        "\n"
        "TRACKFS     PID MOUNTPOINT                            QUOTA       USED   STALLS   ENOSPC\n"
        "            300 /run/data                               112        100        8        1\n"
        "            301 ?                                         -          -        -        -\n";
    size_t len = strlen(text), tail_len = strlen(tail);
    MBT_REQUIRE(len > tail_len);
    MBT_EQ_STR(tail, text + len - tail_len);
    free(text);
    text = render(mbctl_status_print_json);
    const char *json_tail =
        "\"clients_truncated\":false,\"trackfs\":[{\"pid\":300,\"mountpoint\":\"/run/data\","
        "\"quota_pages\":112,\"used_pages\":100,\"free_pages\":12,\"stalls\":8,\"stall_ms\":41,"
        "\"enospc\":1},{\"pid\":301,\"mountpoint\":null,\"stats\":null}]}\n";
    len = strlen(text);
    tail_len = strlen(json_tail);
    MBT_REQUIRE(len > tail_len);
    MBT_EQ_STR(json_tail, text + len - tail_len);
    free(text);
}

/* The mount point from a process's command line, absolute or relative to
 * its working directory, against a fixture /proc. */
static void test_trackfs_mountpoint(void)
{
    char dir[] = "/tmp/mbctl-proc.XXXXXX";
    MBT_REQUIRE(mkdtemp(dir) != NULL);
    char path[512], buf[MBCTL_TRACKFS_PATH_MAX];
    static const char abs_cmd[] = "trackfs\0-f\0-o\0broker=/run/s\0/var/back\0/run/data\0";
    static const char rel_cmd[] = "trackfs\0back\0mnt\0";
    static const char bad_cmd[] = "trackfs\0-f\0";
    struct { const char *pid; const char *cmd; size_t len; } procs[] = {
        {"10", abs_cmd, sizeof abs_cmd - 1}, {"11", rel_cmd, sizeof rel_cmd - 1},
        {"12", bad_cmd, sizeof bad_cmd - 1}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, procs[i].pid);
        MBT_REQUIRE(mkdir(path, 0755) == 0);
        snprintf(path, sizeof path, "%s/%s/cmdline", dir, procs[i].pid);
        FILE *f = fopen(path, "w");
        MBT_REQUIRE(f != NULL);
        MBT_REQUIRE(fwrite(procs[i].cmd, 1, procs[i].len, f) == procs[i].len);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/11/cwd", dir);
    MBT_REQUIRE(symlink("/srv/fs", path) == 0);
    MBT_EQ_INT(0, mbctl_trackfs_mountpoint(dir, 10, buf, sizeof buf));
    MBT_EQ_STR("/run/data", buf);
    MBT_EQ_INT(0, mbctl_trackfs_mountpoint(dir, 11, buf, sizeof buf));
    MBT_EQ_STR("/srv/fs/mnt", buf);
    MBT_EQ_INT(-EINVAL, mbctl_trackfs_mountpoint(dir, 12, buf, sizeof buf));
    MBT_EQ_INT(-ENOENT, mbctl_trackfs_mountpoint(dir, 13, buf, sizeof buf));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    MBT_EQ_INT(0, system(cmd));
}

int main(void)
{
    MBT_RUN(test_table);
    MBT_RUN(test_json);
    MBT_RUN(test_names);
    MBT_RUN(test_trackfs);
    MBT_RUN(test_trackfs_mountpoint);
    return mbt_finish();
}
