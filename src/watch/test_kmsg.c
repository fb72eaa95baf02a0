/* test_kmsg.c: /dev/kmsg records, OOM classification and figures, the OOM
 * log ring, and the reader, against records captured from a real memory
 * cgroup OOM kill (tests/fixtures/watch). */
#include "watch/kmsg.h"

#include "common/proc_read.h"
#include "mbtest.h"

#include <errno.h>
#include <fcntl.h>
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

static char file_buf[65536];

/* Reads fixtures()/name into file_buf; returns its length. */
static size_t read_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fixtures(), name);
    size_t len = 0;
    int rc = mb_proc_read(path, file_buf, sizeof file_buf, &len);
    if (!MBT_EQ_INT(0, rc))
        fprintf(stderr, "    reading %s\n", path);
    return len;
}

static bool text_is(const struct mb_kmsg_record *rec, const char *want)
{
    return rec->text_len == strlen(want) && memcmp(rec->text, want, rec->text_len) == 0;
}

static void test_parse_record(void)
{
    struct mb_kmsg_record rec;
    const char *r = "4,348,287993667,-;tail invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n";
    MBT_EQ_INT(0, mb_kmsg_parse_record(r, strlen(r), &rec));
    MBT_EQ_U64(4, rec.level);
    MBT_EQ_U64(0, rec.facility);
    MBT_EQ_U64(348, rec.seq);
    MBT_EQ_U64(287993667, rec.ts_us);
    MBT_EQ_INT('-', rec.flags);
    MBT_TRUE(text_is(&rec, "tail invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"));
    MBT_EQ_U64(0, rec.dict_len);

    /* Without the final newline, a facility, and an extra header field. */
    const char *s = "30,5,6,c,caller=T12;hello";
    MBT_EQ_INT(0, mb_kmsg_parse_record(s, strlen(s), &rec));
    MBT_EQ_U64(6, rec.level);
    MBT_EQ_U64(3, rec.facility);
    MBT_EQ_U64(5, rec.seq);
    MBT_EQ_U64(6, rec.ts_us);
    MBT_EQ_INT('c', rec.flags);
    MBT_TRUE(text_is(&rec, "hello"));

    /* An empty message is a record too. */
    MBT_EQ_INT(0, mb_kmsg_parse_record("6,1,2,-;", 8, &rec));
    MBT_EQ_U64(0, rec.text_len);

    const char *bad[] = {"", "no header", "4,348;x", "4,x,1,-;m", "4,1,2,;m", "4,1,2,-x;m",
                         "4,1;2,-;m", "99999999999,1,2,-;m", "4,1,2\n,-;m", "-4,1,2,-;m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!MBT_EQ_INT(-EINVAL, mb_kmsg_parse_record(bad[i], strlen(bad[i]), &rec)))
            fprintf(stderr, "    input \"%s\"\n", bad[i]);
}

static void test_parse_dictionary(void)
{
    size_t len = read_fixture("kmsg-dict.txt");
    const char *first_end = strstr(file_buf, "\n6,198,");
    MBT_REQUIRE(first_end != NULL);
    struct mb_kmsg_record rec;
    MBT_EQ_INT(0, mb_kmsg_parse_record(file_buf, (size_t)(first_end - file_buf) + 1, &rec));
    MBT_EQ_U64(197, rec.seq);
    MBT_EQ_U64(150419, rec.ts_us);
    MBT_EQ_U64(6, rec.level);
    const char *dict = " SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A08:00\n";
    MBT_EQ_U64(strlen(dict), rec.dict_len);
    MBT_EQ_MEM(dict, rec.dict, strlen(dict));
    MBT_TRUE(text_is(&rec, "acpi PNP0A08:00: _OSC: OS supports [ExtendedConfig ASPM ClockPM Segments MSI HPX-Type3]"));
    (void)len;
}

static void test_classify_capture(void)
{
    size_t len = read_fixture("kmsg-memcg-oom.txt");
    MBT_REQUIRE(len > 0);
    unsigned counts[MB_KMSG_OOM_REPORT + 1] = {0};
    size_t records = 0;
    struct mb_lines lines;
    mb_lines_init(&lines, file_buf, len);
    const char *line;
    size_t line_len;
    while (mb_lines_next(&lines, &line, &line_len)) {
        struct mb_kmsg_record rec;
        if (!MBT_EQ_INT(0, mb_kmsg_parse_record(line, line_len, &rec)))
            continue;
        records++;
        counts[mb_kmsg_classify(rec.text, rec.text_len)]++;
    }
    MBT_EQ_U64(109, records);
    MBT_EQ_U64(1, counts[MB_KMSG_OOM_INVOKED]);
    MBT_EQ_U64(1, counts[MB_KMSG_OOM_CONSTRAINT]);
    MBT_EQ_U64(1, counts[MB_KMSG_OOM_KILLED]);
    MBT_EQ_U64(0, counts[MB_KMSG_OOM_OUT_OF_MEMORY]);
    MBT_EQ_U64(0, counts[MB_KMSG_OOM_REAPED]);
    MBT_EQ_U64(106, counts[MB_KMSG_OOM_NONE]);

    const char *oom = "Out of memory and no killable processes...";
    MBT_EQ_INT(MB_KMSG_OOM_OUT_OF_MEMORY, mb_kmsg_classify(oom, strlen(oom)));
    const char *reaped = "oom_reaper: reaped process 8848 (tail), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB";
    MBT_EQ_INT(MB_KMSG_OOM_REAPED, mb_kmsg_classify(reaped, strlen(reaped)));
    const char *old = "Out of memory: Kill process 1234 (my prog) score 999 or sacrifice child";
    MBT_EQ_INT(MB_KMSG_OOM_KILLED, mb_kmsg_classify(old, strlen(old)));
    const char *deprecated = "oom_control is deprecated and will be removed.";
    MBT_EQ_INT(MB_KMSG_OOM_NONE, mb_kmsg_classify(deprecated, strlen(deprecated)));
    MBT_EQ_STR("killed", mb_kmsg_oom_name(MB_KMSG_OOM_KILLED));
    MBT_EQ_STR("report", mb_kmsg_oom_name(MB_KMSG_OOM_REPORT));
}

/* The lamb's death, captured by the live test: the hog invoked the OOM
 * killer, the lamb (oom_score_adj 1000) was killed. */
static void test_lamb_capture(void)
{
    size_t len = read_fixture("kmsg-lamb-kill.txt");
    struct mb_kmsg_oom_log log;
    MBT_REQUIRE(mb_kmsg_oom_log_init(&log, 128) == 0);
    struct mb_lines lines;
    mb_lines_init(&lines, file_buf, len);
    const char *line;
    size_t line_len;
    struct mb_kmsg_constraint constraint;
    memset(&constraint, 0, sizeof constraint);
    while (mb_lines_next(&lines, &line, &line_len)) {
        struct mb_kmsg_record rec;
        if (!MBT_EQ_INT(0, mb_kmsg_parse_record(line, line_len, &rec)))
            continue;
        if (mb_kmsg_oom_log_feed(&log, &rec) == MB_KMSG_OOM_CONSTRAINT)
            MBT_EQ_INT(0, mb_kmsg_parse_constraint(rec.text, rec.text_len, &constraint));
    }
    MBT_EQ_U64(79, log.count);
    MBT_EQ_U64(1, log.reports);
    MBT_EQ_U64(1, log.kills);
    MBT_EQ_U64(29252, log.last_kill.pid);
    MBT_EQ_I64(1000, log.last_kill.oom_score_adj);
    MBT_EQ_U64(49152, log.last_kill.anon_rss_kb);
    MBT_TRUE(log.last_kill.memcg);
    MBT_EQ_U64(29252, constraint.pid);
    MBT_EQ_STR("CONSTRAINT_MEMCG", constraint.constraint);
    MBT_EQ_STR("mbwatch_evidenc", constraint.task);
    const struct mb_kmsg_line *first = mb_kmsg_oom_log_line(&log, 0);
    MBT_TRUE(first->len > 15 && memcmp(first->text, "mbwatch_evidenc invoked oom-killer", 34) == 0);
    mb_kmsg_oom_log_deinit(&log);
}

static void test_parse_kill(void)
{
    struct mb_kmsg_kill k;
    const char *line = "Memory cgroup out of memory: Killed process 8848 (tail) total-vm:35476kB, "
                       "anon-rss:32512kB, file-rss:1596kB, shmem-rss:0kB, UID:0 pgtables:112kB "
                       "oom_score_adj:0";
    MBT_EQ_INT(0, mb_kmsg_parse_kill(line, strlen(line), &k));
    MBT_EQ_U64(8848, k.pid);
    MBT_EQ_STR("tail", k.comm);
    MBT_TRUE(k.memcg);
    MBT_EQ_U64(35476, k.total_vm_kb);
    MBT_EQ_U64(32512, k.anon_rss_kb);
    MBT_EQ_U64(1596, k.file_rss_kb);
    MBT_EQ_U64(0, k.shmem_rss_kb);
    MBT_EQ_U64(0, k.uid);
    MBT_EQ_U64(112, k.pgtables_kb);
    MBT_EQ_I64(0, k.oom_score_adj);
    MBT_EQ_U64(0x7f, k.present);

    const char *sys = "Out of memory: Killed process 77 (a) b) total-vm:1kB, anon-rss:2kB, "
                      "file-rss:3kB, shmem-rss:4kB, UID:1000 pgtables:5kB oom_score_adj:-17";
    MBT_EQ_INT(0, mb_kmsg_parse_kill(sys, strlen(sys), &k));
    MBT_EQ_U64(77, k.pid);
    MBT_EQ_STR("a) b", k.comm);
    MBT_FALSE(k.memcg);
    MBT_EQ_U64(1000, k.uid);
    MBT_EQ_I64(-17, k.oom_score_adj);
    MBT_EQ_U64(4, k.shmem_rss_kb);

    const char *old = "Out of memory: Kill process 1234 (my prog) score 999 or sacrifice child";
    MBT_EQ_INT(0, mb_kmsg_parse_kill(old, strlen(old), &k));
    MBT_EQ_U64(1234, k.pid);
    MBT_EQ_STR("my prog", k.comm);
    MBT_EQ_U64(0, k.present);

    const char *none = "tail invoked oom-killer: gfp_mask=0xcc0";
    MBT_EQ_INT(-ENOENT, mb_kmsg_parse_kill(none, strlen(none), &k));
    const char *bad_pid = "Killed process x (tail)";
    MBT_EQ_INT(-EINVAL, mb_kmsg_parse_kill(bad_pid, strlen(bad_pid), &k));
    const char *no_comm = "Killed process 12 tail";
    MBT_EQ_INT(-EINVAL, mb_kmsg_parse_kill(no_comm, strlen(no_comm), &k));
}

static void test_parse_constraint(void)
{
    struct mb_kmsg_constraint c;
    const char *line = "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
                       "oom_memcg=/watche-capture,task_memcg=/watche-capture,task=tail,pid=8848,uid=0";
    MBT_EQ_INT(0, mb_kmsg_parse_constraint(line, strlen(line), &c));
    MBT_EQ_STR("CONSTRAINT_MEMCG", c.constraint);
    MBT_EQ_STR("/watche-capture", c.oom_memcg);
    MBT_EQ_STR("/watche-capture", c.task_memcg);
    MBT_EQ_STR("tail", c.task);
    MBT_EQ_U64(8848, c.pid);
    MBT_EQ_U64(0, c.uid);
    const char *other = "memory: usage 32768kB";
    MBT_EQ_INT(-ENOENT, mb_kmsg_parse_constraint(other, strlen(other), &c));
    const char *bad = "oom-kill:constraint=CONSTRAINT_NONE,pid=12x";
    MBT_EQ_INT(-EINVAL, mb_kmsg_parse_constraint(bad, strlen(bad), &c));
}

static void test_reader_fixture_root(void)
{
    char root[512];
    snprintf(root, sizeof root, "%s/root", fixtures());
    static struct mb_kmsg_reader r;
    MBT_REQUIRE(mb_kmsg_open(&r, root, true) == 0);
    MBT_TRUE(r.regular);
    struct mb_kmsg_oom_log log;
    MBT_REQUIRE(mb_kmsg_oom_log_init(&log, 0) == 0);
    MBT_EQ_U64(512, log.capacity);
    MBT_EQ_I64(115, mb_kmsg_drain(&r, &log));
    mb_kmsg_close(&r);
    MBT_EQ_INT(-1, r.fd);
    /* The report: from "invoked oom-killer" to "Killed process", nothing
     * before or after it. */
    MBT_EQ_U64(109, log.count);
    MBT_EQ_U64(1, log.reports);
    MBT_EQ_U64(1, log.kills);
    MBT_EQ_U64(0, log.dropped);
    MBT_FALSE(log.in_report);
    const struct mb_kmsg_line *first = mb_kmsg_oom_log_line(&log, 0);
    const struct mb_kmsg_line *last = mb_kmsg_oom_log_line(&log, log.count - 1);
    MBT_REQUIRE(first != NULL && last != NULL);
    MBT_EQ_U64(348, first->seq);
    MBT_EQ_INT(MB_KMSG_OOM_INVOKED, first->kind);
    MBT_EQ_U64(456, last->seq);
    MBT_EQ_U64(3, last->level);
    MBT_EQ_INT(MB_KMSG_OOM_KILLED, last->kind);
    MBT_EQ_INT(MB_KMSG_OOM_REPORT, mb_kmsg_oom_log_line(&log, 1)->kind);
    MBT_NULL(mb_kmsg_oom_log_line(&log, log.count));
    MBT_EQ_U64(8848, log.last_kill.pid);
    MBT_TRUE(mb_kmsg_oom_log_has_kill(&log, 8848));
    MBT_FALSE(mb_kmsg_oom_log_has_kill(&log, 8849));

    /* Opened at the end, a file has nothing to read. */
    MBT_REQUIRE(mb_kmsg_open(&r, root, false) == 0);
    struct mb_kmsg_record rec;
    MBT_EQ_INT(0, mb_kmsg_read(&r, &rec));
    mb_kmsg_close(&r);

    MBT_EQ_INT(-ENOENT, mb_kmsg_open(&r, "/nonexistent-root", true));
    MBT_EQ_INT(-EBADF, mb_kmsg_read(&r, &rec));
    mb_kmsg_oom_log_deinit(&log);
    MBT_NULL(log.lines);
    mb_kmsg_oom_log_deinit(&log); /* twice is safe */
}

/* A temporary root whose dev/kmsg holds `text`. */
static void make_root(char *root, size_t size, const char *text, size_t len)
{
    snprintf(root, size, "/tmp/test_watch_kmsg.%ld", (long)getpid());
    char path[600];
    mkdir(root, 0700);
    snprintf(path, sizeof path, "%s/dev", root);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/dev/kmsg", root);
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fwrite(text, 1, len, f);
        fclose(f);
    }
}

static void remove_root(const char *root)
{
    char path[600];
    snprintf(path, sizeof path, "%s/dev/kmsg", root);
    unlink(path);
    snprintf(path, sizeof path, "%s/dev", root);
    rmdir(path);
    rmdir(root);
}

static void test_reader_dictionary_and_malformed(void)
{
    size_t len = read_fixture("kmsg-dict.txt");
    char text[2048];
    MBT_REQUIRE(len + 64 < sizeof text);
    /* A blank line and a malformed record after the good ones. */
    int printed = snprintf(text, sizeof text, "%.*s\ngarbage line\n4,500,1,-;last", (int)len, file_buf);
    MBT_REQUIRE(printed > 0 && (size_t)printed < sizeof text);
    len = (size_t)printed;
    char root[256];
    make_root(root, sizeof root, text, len);
    static struct mb_kmsg_reader r;
    MBT_REQUIRE(mb_kmsg_open(&r, root, true) == 0);
    struct mb_kmsg_record rec;
    uint64_t seqs[8];
    size_t dict_lens[8];
    int results[8];
    size_t n = 0;
    int rc;
    while (n < 8 && (rc = mb_kmsg_read(&r, &rec)) != 0) {
        results[n] = rc;
        seqs[n] = rc == 1 ? rec.seq : 0;
        dict_lens[n] = rc == 1 ? rec.dict_len : 0;
        n++;
    }
    mb_kmsg_close(&r);
    remove_root(root);
    MBT_REQUIRE(n == 5);
    MBT_EQ_INT(1, results[0]);
    MBT_EQ_U64(197, seqs[0]);
    MBT_EQ_U64(strlen(" SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A08:00\n"), dict_lens[0]);
    MBT_EQ_U64(198, seqs[1]);
    MBT_EQ_U64(199, seqs[2]);
    MBT_EQ_U64(0, dict_lens[2]);
    MBT_EQ_INT(-EINVAL, results[3]);
    MBT_EQ_INT(1, results[4]);
    MBT_EQ_U64(500, seqs[4]);
}

static struct mb_kmsg_record make_record(uint64_t seq, const char *text)
{
    struct mb_kmsg_record rec;
    memset(&rec, 0, sizeof rec);
    rec.seq = seq;
    rec.level = 3;
    rec.flags = '-';
    rec.text = text;
    rec.text_len = strlen(text);
    rec.dict = "";
    return rec;
}

static void test_ring_wraps(void)
{
    struct mb_kmsg_oom_log log;
    MBT_REQUIRE(mb_kmsg_oom_log_init(&log, 4) == 0);
    char text[6][80];
    for (unsigned i = 0; i < 6; i++) {
        snprintf(text[i], sizeof text[i], "Out of memory: Killed process %u (p%u) anon-rss:%ukB", 100 + i, i, i);
        struct mb_kmsg_record rec = make_record(i + 1, text[i]);
        MBT_EQ_INT(MB_KMSG_OOM_KILLED, mb_kmsg_oom_log_feed(&log, &rec));
    }
    struct mb_kmsg_record plain = make_record(7, "nothing to see");
    MBT_EQ_INT(MB_KMSG_OOM_NONE, mb_kmsg_oom_log_feed(&log, &plain));
    MBT_EQ_U64(4, log.count);
    MBT_EQ_U64(2, log.dropped);
    MBT_EQ_U64(6, log.kills);
    MBT_EQ_U64(3, mb_kmsg_oom_log_line(&log, 0)->seq);
    MBT_EQ_U64(6, mb_kmsg_oom_log_line(&log, 3)->seq);
    MBT_EQ_U64(105, log.last_kill.pid);
    MBT_FALSE(mb_kmsg_oom_log_has_kill(&log, 101));
    MBT_TRUE(mb_kmsg_oom_log_has_kill(&log, 102));

    /* A long message is cut to MB_KMSG_LINE_MAX. */
    char long_text[600];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    memcpy(long_text, "oom_reaper: ", 12);
    struct mb_kmsg_record rec = make_record(8, long_text);
    MBT_EQ_INT(MB_KMSG_OOM_REAPED, mb_kmsg_oom_log_feed(&log, &rec));
    MBT_EQ_U64(MB_KMSG_LINE_MAX, mb_kmsg_oom_log_line(&log, 3)->len);

    mb_kmsg_oom_log_clear(&log);
    MBT_EQ_U64(0, log.count);
    MBT_EQ_U64(4, log.capacity);
    MBT_EQ_U64(0, log.kills);
    mb_kmsg_oom_log_deinit(&log);
}

static void test_report_without_kill_ends(void)
{
    struct mb_kmsg_oom_log log;
    MBT_REQUIRE(mb_kmsg_oom_log_init(&log, 8) == 0);
    struct mb_kmsg_record rec = make_record(1, "x invoked oom-killer: gfp_mask=0x0");
    mb_kmsg_oom_log_feed(&log, &rec);
    MBT_TRUE(log.in_report);
    for (unsigned i = 1; i < MB_KMSG_REPORT_MAX_LINES; i++) {
        rec = make_record(1 + i, "Call Trace:");
        MBT_EQ_INT(MB_KMSG_OOM_REPORT, mb_kmsg_oom_log_feed(&log, &rec));
    }
    MBT_FALSE(log.in_report);
    rec = make_record(1000, "Call Trace:");
    MBT_EQ_INT(MB_KMSG_OOM_NONE, mb_kmsg_oom_log_feed(&log, &rec));
    MBT_EQ_U64(8, log.count);
    MBT_EQ_U64(MB_KMSG_REPORT_MAX_LINES - 8, log.dropped);
    mb_kmsg_oom_log_deinit(&log);
}

static void test_live_device(void)
{
    static struct mb_kmsg_reader r;
    int rc = mb_kmsg_open(&r, NULL, true);
    if (rc == -EPERM || rc == -EACCES || rc == -ENOENT) {
        printf("live /dev/kmsg not readable here (%d): skipped\n", rc);
        return;
    }
    MBT_REQUIRE(rc == 0);
    MBT_FALSE(r.regular);
    struct mb_kmsg_record rec;
    MBT_EQ_INT(1, mb_kmsg_read(&r, &rec));
    uint64_t first = rec.seq;
    MBT_EQ_INT(1, mb_kmsg_read(&r, &rec));
    MBT_TRUE(rec.seq > first);
    mb_kmsg_close(&r);
    /* From the end: nothing waits (no blocking). */
    MBT_REQUIRE(mb_kmsg_open(&r, "", false) == 0);
    int got = mb_kmsg_read(&r, &rec);
    MBT_TRUE(got == 0 || got == 1);
    mb_kmsg_close(&r);
}

int main(void)
{
    MBT_RUN(test_parse_record);
    MBT_RUN(test_parse_dictionary);
    MBT_RUN(test_classify_capture);
    MBT_RUN(test_lamb_capture);
    MBT_RUN(test_parse_kill);
    MBT_RUN(test_parse_constraint);
    MBT_RUN(test_reader_fixture_root);
    MBT_RUN(test_reader_dictionary_and_malformed);
    MBT_RUN(test_ring_wraps);
    MBT_RUN(test_report_without_kill_ends);
    MBT_RUN(test_live_device);
    return mbt_finish();
}
