/* test_evidence.c: dumps from the fixture root (tests/fixtures/watch/root):
 * every file present and exactly formed, atomic naming, rotation, leftover
 * temporary directories, a broker that is not there, and no heap use on
 * the collection path. */
#include "watch/evidence.h"

#include "common/proc_read.h"
#include "mbtest.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *fixtures(void)
{
    const char *dir = getenv("MB_FIXTURES");
    return dir != NULL ? dir : "../../tests/fixtures/watch";
}

static char file_buf[1 << 20];
static char other_buf[1 << 20];

static size_t read_into(const char *path, char *buf, size_t size)
{
    size_t len = 0;
    int rc = mb_proc_read(path, buf, size - 1, &len);
    if (!MBT_EQ_INT(0, rc))
        fprintf(stderr, "    reading %s\n", path);
    buf[len] = '\0';
    return len;
}

/* True when dump/name equals root/source byte for byte. */
static bool same_file(const char *dump, const char *name, const char *root, const char *source)
{
    char a[700], b[700];
    snprintf(a, sizeof a, "%s/%s", dump, name);
    snprintf(b, sizeof b, "%s%s", root, source);
    size_t la = read_into(a, file_buf, sizeof file_buf);
    size_t lb = read_into(b, other_buf, sizeof other_buf);
    return la > 0 && la == lb && memcmp(file_buf, other_buf, la) == 0;
}

static const char *dump_file(const char *dump, const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dump, name);
    read_into(path, file_buf, sizeof file_buf);
    return file_buf;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void make_tmp(char *dir, size_t size, const char *tag)
{
    snprintf(dir, size, "/tmp/test_watch_evidence.%ld.%s", (long)getpid(), tag);
}

static void remove_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    MBT_EQ_INT(0, system(cmd));
}

static long count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static void test_dump_from_fixture_root(void)
{
    char root[512], dumps[256];
    snprintf(root, sizeof root, "%s/root", fixtures());
    make_tmp(dumps, sizeof dumps, "a");
    remove_tree(dumps);
    static struct mb_evidence ev;
    struct mb_evidence_options o = {.root = root, .dump_dir = dumps, .no_sync = true};
    MBT_REQUIRE(mb_evidence_init(&ev, &o) == 0);
    struct mb_evidence_trigger t = {.kind = "cgroup-oom", .detail = "limit\nreached",
                                    .cgroup = "/sys/fs/cgroup/memory/app", .pid = 8848};
    MBT_REQUIRE(mb_evidence_collect(&ev, &t) == 0);
    const char *dump = ev.last_dump;
    MBT_TRUE(strncmp(dump, dumps, strlen(dumps)) == 0);
    MBT_TRUE(strstr(dump, "/evidence-") != NULL);
    MBT_TRUE(strlen(dump) == strlen(dumps) + strlen("/evidence-20261129T163429.123Z-0001"));
    MBT_EQ_INT('Z', dump[strlen(dump) - 6]);
    MBT_EQ_STR("-0001", dump + strlen(dump) - 5);

    MBT_TRUE(same_file(dump, "meminfo", root, "/proc/meminfo"));
    MBT_TRUE(same_file(dump, "vmstat", root, "/proc/vmstat"));
    MBT_TRUE(same_file(dump, "buddyinfo", root, "/proc/buddyinfo"));
    /* The largest process by rss + swap is 77; it has no maps file (as if
     * it exited after the scan), so the next one's maps are taken. */
    MBT_EQ_U64(77, ev.last_largest_pid);
    MBT_EQ_U64(8848, ev.last_maps_pid);
    MBT_EQ_INT(MB_EVIDENCE_FILE_OK, ev.last_state[MB_EVIDENCE_MAPS]);
    MBT_TRUE(same_file(dump, "maps", root, "/proc/8848/maps"));
    MBT_EQ_STR("# per-process sums of /proc/<pid>/smaps_rollup, largest first by size = rss + swap\n"
               "# processes=4 listed=3 unreadable=1 left_out=0\n"
               "# pid size_kb rss_kb pss_kb anon_kb private_dirty_kb swap_kb comm\n"
               "77 21000 1000 195 900 108 20000 swapper-user\n"
               "8848 17892 17892 16337 16288 16288 0 tail\n"
               "312 1800 1800 195 108 108 0 my sleep\n",
               dump_file(dump, "processes"));
    MBT_EQ_STR("# no broker: not configured\n", dump_file(dump, "broker"));

    /* kmsg: the report, in the device's own form. */
    const char *kmsg = dump_file(dump, "kmsg");
    MBT_TRUE(starts(kmsg, "# OOM lines of /dev/kmsg: records_read=115 lines=109 reports=1 kills=1 "
                           "dropped=0 lost=0\n4,348,287993667,-;tail invoked oom-killer:"));
    MBT_TRUE(strstr(kmsg, "\n3,456,287993999,-;Memory cgroup out of memory: Killed process 8848 (tail)") != NULL);
    MBT_NULL(strstr(kmsg, "deprecated"));
    size_t lines = 0;
    for (const char *p = kmsg; *p != '\0'; p++)
        lines += *p == '\n';
    MBT_EQ_U64(110, lines);

    const char *trig = dump_file(dump, "trigger");
    MBT_TRUE(starts(trig, "kind=cgroup-oom\ndetail=limit reached\ncgroup=/sys/fs/cgroup/memory/app\n"
                           "pid=8848\nfrozen=\ntime="));
    MBT_TRUE(strstr(trig, "\nsequence=1\nlargest_pid=77\nlargest_comm=swapper-user\nmaps_pid=8848\n") != NULL);
    MBT_TRUE(strstr(trig, "\nfile.meminfo=ok\nfile.vmstat=ok\nfile.buddyinfo=ok\nfile.processes=ok\n"
                          "file.maps=ok\nfile.broker=ok\nfile.kmsg=ok\n") != NULL);
    MBT_TRUE(strlen(trig) > 0 && trig[strlen(trig) - 1] == '\n');
    char collector[64];
    snprintf(collector, sizeof collector, "\ncollector_pid=%ld\n", (long)getpid());
    MBT_TRUE(strstr(trig, collector) != NULL);
    MBT_EQ_I64(0, count_entries(dumps, ".tmp-"));
    MBT_EQ_I64(1, count_entries(dumps, "evidence-"));

    mb_evidence_deinit(&ev);
    mb_evidence_deinit(&ev); /* twice is safe */
    remove_tree(dumps);
}

static void test_rotation_and_leftovers(void)
{
    char root[512], dumps[256], path[400];
    snprintf(root, sizeof root, "%s/root", fixtures());
    make_tmp(dumps, sizeof dumps, "b");
    remove_tree(dumps);
    static struct mb_evidence ev;
    struct mb_evidence_options o = {.root = root, .dump_dir = dumps, .keep = 3, .no_sync = true,
                                    .max_processes = 2, .kmsg_lines = 16, .file_max = 1};
    MBT_REQUIRE(mb_evidence_init(&ev, &o) == 0);
    MBT_EQ_U64(64 * 1024, ev.file_buf_size);
    /* A leftover of a collector that died mid-dump, and an unrelated file. */
    snprintf(path, sizeof path, "%s/.tmp-evidence-19700101T000000.000Z-0001", dumps);
    MBT_REQUIRE(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/.tmp-evidence-19700101T000000.000Z-0001/meminfo", dumps);
    FILE *f = fopen(path, "w");
    MBT_REQUIRE(f != NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/notes.txt", dumps);
    f = fopen(path, "w");
    MBT_REQUIRE(f != NULL);
    fclose(f);

    char first[MB_EVIDENCE_NAME_MAX] = "", names[5][MB_EVIDENCE_NAME_MAX];
    for (int i = 0; i < 5; i++) {
        MBT_REQUIRE(mb_evidence_collect(&ev, NULL) == 0);
        snprintf(names[i], sizeof names[i], "%s", strrchr(ev.last_dump, '/') + 1);
        if (i == 0)
            snprintf(first, sizeof first, "%s", names[0]);
        MBT_EQ_U64(i >= 3 ? 1 : 0, ev.last_removed);
        if (i > 0)
            MBT_TRUE(strcmp(names[i - 1], names[i]) < 0);
    }
    MBT_EQ_I64(3, count_entries(dumps, "evidence-"));
    MBT_EQ_I64(0, count_entries(dumps, ".tmp-"));
    MBT_EQ_I64(1, count_entries(dumps, "notes.txt"));
    char oldest[MB_EVIDENCE_NAME_MAX], newest[MB_EVIDENCE_NAME_MAX];
    MBT_EQ_I64(3, mb_evidence_list(&ev, oldest, newest, sizeof oldest));
    MBT_EQ_STR(names[2], oldest);
    MBT_EQ_STR(names[4], newest);
    /* With a table of 2 processes, the smallest is left out. */
    const char *dump = ev.last_dump;
    MBT_TRUE(strstr(dump_file(dump, "processes"), "# processes=4 listed=2 unreadable=1 left_out=1\n") != NULL);
    MBT_TRUE(strstr(dump_file(dump, "trigger"), "kind=manual\n") != NULL);
    MBT_TRUE(strstr(file_buf, "\nfile.processes=truncated\n") != NULL);
    /* 16 kmsg lines kept of the 109-line report. */
    MBT_TRUE(starts(dump_file(dump, "kmsg"), "# OOM lines of /dev/kmsg: records_read=115 lines=16 reports=1 kills=1 dropped=93 lost=0\n"));
    mb_evidence_deinit(&ev);
    remove_tree(dumps);
}

static void test_errors(void)
{
    static struct mb_evidence ev;
    struct mb_evidence_options o = {0};
    MBT_EQ_INT(-EINVAL, mb_evidence_init(&ev, &o));
    MBT_EQ_INT(-EINVAL, mb_evidence_collect(&ev, NULL));
    o.dump_dir = "/nonexistent-parent/dumps";
    MBT_EQ_INT(-ENOENT, mb_evidence_init(&ev, &o));

    /* A root without /proc: the dump is still written, each file says why. */
    char dumps[256];
    make_tmp(dumps, sizeof dumps, "c");
    remove_tree(dumps);
    o.dump_dir = dumps;
    o.root = "/nonexistent-root";
    o.no_sync = true;
    o.broker_socket = "/nonexistent-dir/socket";
    o.broker_timeout_ms = 200;
    MBT_REQUIRE(mb_evidence_init(&ev, &o) == 0);
    MBT_EQ_INT(0, mb_evidence_collect(&ev, NULL));
    for (unsigned f = 0; f < MB_EVIDENCE_FILE_COUNT; f++)
        if (f != MB_EVIDENCE_BROKER)
            MBT_EQ_INT(f == MB_EVIDENCE_MAPS ? -ESRCH : -ENOENT, ev.last_error[f]);
    MBT_EQ_INT(MB_EVIDENCE_FILE_OK, ev.last_state[MB_EVIDENCE_BROKER]);
    MBT_TRUE(ev.last_error[MB_EVIDENCE_BROKER] < 0);
    const char *broker = dump_file(ev.last_dump, "broker");
    MBT_TRUE(starts(broker, "# no broker: "));
    const char *trig = dump_file(ev.last_dump, "trigger");
    MBT_TRUE(strstr(trig, "\nfile.meminfo=missing: No such file or directory\n") != NULL);
    MBT_TRUE(strstr(trig, "\nfile.maps=error: No such process\n") != NULL);
    MBT_TRUE(strstr(trig, "\nfile.broker=ok: ") != NULL);
    MBT_EQ_STR("broker", mb_evidence_file_name(MB_EVIDENCE_BROKER));
    MBT_EQ_STR("trigger", mb_evidence_file_name(MB_EVIDENCE_FILE_COUNT));
    mb_evidence_deinit(&ev);
    remove_tree(dumps);
}

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

#ifndef TEST_ASAN
/* Every allocation of the process is counted: these replace glibc's entry
 * points in this test program and forward to its internal ones. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
static volatile unsigned long allocations;

void *malloc(size_t size)
{
    allocations++;
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    allocations++;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    allocations++;
    return __libc_realloc(p, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    allocations++;
    return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    allocations++;
    void *p = __libc_memalign(align, size);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}
#endif

/* The collection path allocates nothing: no malloc, calloc, realloc or
 * aligned allocation from the start of a collection of the live system to
 * its end (counted by the wrappers above; ASan replaces the allocator, so
 * the check is skipped there). */
static void test_no_heap_on_collection(void)
{
#ifdef TEST_ASAN
    printf("ASan build: allocation count skipped\n");
#else
    char dumps[256];
    make_tmp(dumps, sizeof dumps, "d");
    remove_tree(dumps);
    static struct mb_evidence ev;
    struct mb_evidence_options o = {.dump_dir = dumps, .no_sync = true, .max_processes = 4096};
    MBT_REQUIRE(mb_evidence_init(&ev, &o) == 0);
    unsigned long before = allocations;
    int rc = mb_evidence_collect(&ev, NULL);
    unsigned long after = allocations;
    MBT_REQUIRE(rc == 0);
    MBT_EQ_U64(0, after - before);
    MBT_TRUE(after > 0 || before == 0);
    /* The live dump has every file. */
    for (unsigned f = 0; f < MB_EVIDENCE_FILE_COUNT; f++)
        if (f != MB_EVIDENCE_BROKER && !MBT_TRUE(ev.last_state[f] == MB_EVIDENCE_FILE_OK ||
                                                 ev.last_state[f] == MB_EVIDENCE_FILE_TRUNCATED))
            fprintf(stderr, "    file %s: %d\n", mb_evidence_file_name(f), ev.last_error[f]);
    MBT_TRUE(ev.last_largest_pid > 0);
    mb_evidence_deinit(&ev);
    /* The counter works: init allocates. */
    unsigned long at_init = allocations;
    MBT_REQUIRE(mb_evidence_init(&ev, &o) == 0);
    MBT_TRUE(allocations > at_init);
    mb_evidence_deinit(&ev);
    remove_tree(dumps);
#endif
}

int main(void)
{
    MBT_RUN(test_dump_from_fixture_root);
    MBT_RUN(test_rotation_and_leftovers);
    MBT_RUN(test_errors);
    MBT_RUN(test_no_heap_on_collection);
    return mbt_finish();
}
