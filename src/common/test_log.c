/* Unit tests for log.c: exact output through a pipe with an injected clock
 * and pid, silence until init and after reset, journal detection. */
#include "common/log.h"
#include "mbtest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* 2026-11-22T05:30:25.123456789Z */
#define FIXED_NS UINT64_C(1795325425123456789)

static uint64_t fixed_clock(void)
{
    return FIXED_NS;
}

static int pipe_fds[2] = {-1, -1};

/* A fresh non-blocking pipe for one test; lines are read back from [0]. */
static bool open_pipe(void)
{
    if (pipe_fds[0] >= 0) {
        close(pipe_fds[0]);
        close(pipe_fds[1]);
    }
    return pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) == 0;
}

/* Everything written to the pipe so far, NUL-terminated. */
static const char *drain(void)
{
    static char text[8192];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(pipe_fds[0], text + len, sizeof(text) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    text[len] = '\0';
    return text;
}

static void init_plain(int max_level)
{
    struct mb_log_options options = {
        .ident = "mbserver",
        .fd = pipe_fds[1],
        .max_level = max_level,
        .realtime_ns = fixed_clock,
        .pid = 412,
    };
    mb_log_init(&options);
}

static void test_off_until_init(void)
{
    MBT_REQUIRE(open_pipe());
    mb_log_reset();
    MBT_FALSE(mb_log_enabled(MB_LOG_ERR));
    mb_log(MB_LOG_ERR, "nobody asked for this");
    MBT_EQ_STR("", drain());
    init_plain(MB_LOG_INFO);
    MBT_CHECK(mb_log_enabled(MB_LOG_ERR));
    mb_log_reset();
    MBT_FALSE(mb_log_enabled(MB_LOG_ERR));
    mb_log(MB_LOG_ERR, "after reset");
    MBT_EQ_STR("", drain());
}

static void test_plain_lines(void)
{
    MBT_REQUIRE(open_pipe());
    init_plain(MB_LOG_DEBUG);
    mb_log(MB_LOG_ERR, "client %d sent %s", 7, "garbage");
    mb_log(MB_LOG_WARNING, "pool low: %" PRIu64 " pages", UINT64_C(5000000000));
    mb_log(MB_LOG_NOTICE, "notice");
    mb_log(MB_LOG_INFO, "info");
    mb_log(MB_LOG_DEBUG, "debug");
    MBT_EQ_STR("2026-11-22T05:30:25.123Z mbserver[412] err: client 7 sent garbage\n"
               "2026-11-22T05:30:25.123Z mbserver[412] warning: pool low: 5000000000 pages\n"
               "2026-11-22T05:30:25.123Z mbserver[412] notice: notice\n"
               "2026-11-22T05:30:25.123Z mbserver[412] info: info\n"
               "2026-11-22T05:30:25.123Z mbserver[412] debug: debug\n",
               drain());
    mb_log_reset();
}

static void test_level_filter(void)
{
    MBT_REQUIRE(open_pipe());
    init_plain(MB_LOG_WARNING);
    MBT_CHECK(mb_log_enabled(MB_LOG_WARNING));
    MBT_FALSE(mb_log_enabled(MB_LOG_NOTICE));
    mb_log(MB_LOG_DEBUG, "dropped");
    mb_log(MB_LOG_INFO, "dropped");
    mb_log(MB_LOG_NOTICE, "dropped");
    mb_log(MB_LOG_WARNING, "kept");
    mb_log(MB_LOG_ERR, "kept too");
    mb_log(2, "crit");
    mb_log(-3, "emerg");
    MBT_EQ_STR("2026-11-22T05:30:25.123Z mbserver[412] warning: kept\n"
               "2026-11-22T05:30:25.123Z mbserver[412] err: kept too\n"
               "2026-11-22T05:30:25.123Z mbserver[412] crit: crit\n"
               "2026-11-22T05:30:25.123Z mbserver[412] emerg: emerg\n",
               drain());
    mb_log_reset();
}

static void test_journal_lines(void)
{
    MBT_REQUIRE(open_pipe());
    struct mb_log_options options = {
        .ident = "mbserver", .fd = pipe_fds[1], .max_level = MB_LOG_DEBUG, .journal = true};
    mb_log_init(&options);
    MBT_CHECK(mb_log_enabled(1000));
    mb_log(MB_LOG_ERR, "e");
    mb_log(MB_LOG_WARNING, "w %d", 4);
    mb_log(MB_LOG_NOTICE, "n");
    mb_log(MB_LOG_INFO, "i");
    mb_log(MB_LOG_DEBUG, "d");
    mb_log(99, "above debug counts as debug");
    MBT_EQ_STR("<3>e\n<4>w 4\n<5>n\n<6>i\n<7>d\n<7>above debug counts as debug\n", drain());
    mb_log_reset();
}

static void test_newlines_and_errno(void)
{
    MBT_REQUIRE(open_pipe());
    init_plain(MB_LOG_DEBUG);
    mb_log(MB_LOG_INFO, "two\nlines\r\n\n");
    errno = ENOENT;
    mb_log(MB_LOG_ERR, "open failed: %m");
    MBT_EQ_INT(ENOENT, errno); /* preserved for the caller */
    mb_log(MB_LOG_INFO, "%s", "");
    MBT_EQ_STR("2026-11-22T05:30:25.123Z mbserver[412] info: two lines\n"
               "2026-11-22T05:30:25.123Z mbserver[412] err: open failed: No such file or directory\n"
               "2026-11-22T05:30:25.123Z mbserver[412] info: \n",
               drain());
    mb_log_reset();
}

static void test_truncation(void)
{
    MBT_REQUIRE(open_pipe());
    init_plain(MB_LOG_DEBUG);
    static char message[3000];
    memset(message, 'x', sizeof(message) - 1);
    mb_log(MB_LOG_INFO, "%s", message);
    const char *text = drain();
    static const char prefix[] = "2026-11-22T05:30:25.123Z mbserver[412] info: ";
    size_t prefix_len = sizeof(prefix) - 1;
    MBT_EQ_U64(MB_LOG_LINE_MAX, strlen(text));
    MBT_EQ_MEM(prefix, text, prefix_len);
    /* x up to the marker, then "...\n". */
    size_t i = prefix_len;
    while (text[i] == 'x')
        i++;
    MBT_EQ_U64(MB_LOG_LINE_MAX - 4, i);
    MBT_EQ_STR("...\n", text + i);

    /* The longest message that fits is not cut. */
    size_t fits = MB_LOG_LINE_MAX - 1 - prefix_len;
    message[fits] = '\0';
    mb_log(MB_LOG_INFO, "%s", message);
    text = drain();
    MBT_EQ_U64(MB_LOG_LINE_MAX, strlen(text));
    MBT_EQ_STR("x\n", text + MB_LOG_LINE_MAX - 2);
    /* One more character is cut. */
    message[fits] = 'x';
    message[fits + 1] = '\0';
    mb_log(MB_LOG_INFO, "%s", message);
    text = drain();
    MBT_EQ_U64(MB_LOG_LINE_MAX, strlen(text));
    MBT_EQ_STR("x...\n", text + MB_LOG_LINE_MAX - 5);
    mb_log_reset();
}

static void test_ident_and_pid(void)
{
    MBT_REQUIRE(open_pipe());
    struct mb_log_options options = {
        .ident = "a-very-long-program-name-that-goes-on-and-on",
        .fd = pipe_fds[1],
        .max_level = MB_LOG_INFO,
        .realtime_ns = fixed_clock,
        .pid = 1,
    };
    mb_log_init(&options);
    mb_log(MB_LOG_INFO, "m");
    MBT_EQ_STR("2026-11-22T05:30:25.123Z a-very-long-program-name-that-go[1] info: m\n", drain());
    /* No ident, pid from getpid(), and the real clock. */
    options.ident = NULL;
    options.pid = 0;
    options.realtime_ns = NULL;
    mb_log_init(&options);
    mb_log(MB_LOG_INFO, "m");
    char expected_tail[64];
    snprintf(expected_tail, sizeof(expected_tail), "Z [%ld] info: m\n", (long)getpid());
    const char *text = drain();
    MBT_EQ_U64(24 + strlen(expected_tail) - 1, strlen(text));
    MBT_EQ_STR(expected_tail, text + 23);
    MBT_EQ_MEM("20", text, 2);
    mb_log_reset();
}

static void test_timestamps(void)
{
    char buf[32];
    static const struct {
        uint64_t ns;
        const char *text;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {999999, "1970-01-01T00:00:00.000Z"},
        {1000000, "1970-01-01T00:00:00.001Z"},
        {UINT64_C(951782400000000000), "2000-02-29T00:00:00.000Z"}, /* 400-year leap day */
        {UINT64_C(951868799999000000), "2000-02-29T23:59:59.999Z"},
        {UINT64_C(951868800000000000), "2000-03-01T00:00:00.000Z"},
        {UINT64_C(4107542400000000000), "2100-03-01T00:00:00.000Z"}, /* 2100 is not leap */
        {UINT64_C(4107542399000000000), "2100-02-28T23:59:59.000Z"},
        {UINT64_C(1795325425123456789), "2026-11-22T05:30:25.123Z"},
        {UINT64_C(2147483647000000000), "2038-01-19T03:14:07.000Z"},
        {UINT64_C(2147483648000000000), "2038-01-19T03:14:08.000Z"}, /* past 32-bit time_t */
        {UINT64_C(1704067199000000000), "2023-12-31T23:59:59.000Z"},
        {UINT64_C(1709164800000000000), "2024-02-29T00:00:00.000Z"},
        {UINT64_MAX, "2554-07-21T23:34:33.709Z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        MBT_EQ_U64(24, mb_log_format_timestamp(cases[i].ns, buf, sizeof(buf)));
        MBT_EQ_STR(cases[i].text, buf);
    }
    MBT_EQ_U64(0, mb_log_format_timestamp(0, buf, 24));
    MBT_EQ_U64(24, mb_log_format_timestamp(0, buf, 25));
}

static void test_journal_detection(void)
{
    char path[] = "/tmp/test_log_XXXXXX";
    int fd = mkstemp(path);
    MBT_REQUIRE(fd >= 0);
    unlink(path);
    struct stat st;
    MBT_REQUIRE(fstat(fd, &st) == 0);
    char value[64];
    snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    MBT_CHECK(mb_log_fd_is_journal(fd, value));
    snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + 1);
    MBT_FALSE(mb_log_fd_is_journal(fd, value));
    snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev + 1,
             (unsigned long long)st.st_ino);
    MBT_FALSE(mb_log_fd_is_journal(fd, value));
    MBT_FALSE(mb_log_fd_is_journal(fd, NULL));
    MBT_FALSE(mb_log_fd_is_journal(fd, ""));
    MBT_FALSE(mb_log_fd_is_journal(fd, ":"));
    MBT_FALSE(mb_log_fd_is_journal(fd, "12"));
    MBT_FALSE(mb_log_fd_is_journal(fd, "12:x"));
    MBT_FALSE(mb_log_fd_is_journal(fd, " 1:2"));
    MBT_FALSE(mb_log_fd_is_journal(fd, "1:2:3"));
    MBT_FALSE(mb_log_fd_is_journal(fd, "99999999999999999999:1"));
    /* A closed fd is never the journal. */
    snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    close(fd);
    MBT_FALSE(mb_log_fd_is_journal(fd, value));
}

static void test_init_stderr(void)
{
    /* Not the journal unless JOURNAL_STREAM names stderr: with it unset
     * the lines are plain. Send stderr to the pipe for the check. */
    MBT_REQUIRE(open_pipe());
    int saved = dup(STDERR_FILENO);
    MBT_REQUIRE(saved >= 0);
    MBT_REQUIRE(dup2(pipe_fds[1], STDERR_FILENO) == STDERR_FILENO);
    struct stat st;
    MBT_REQUIRE(fstat(STDERR_FILENO, &st) == 0);
    char value[64];
    snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    MBT_REQUIRE(setenv("JOURNAL_STREAM", value, 1) == 0);
    mb_log_init_stderr("tool", MB_LOG_INFO);
    mb_log(MB_LOG_NOTICE, "to the journal");
    MBT_REQUIRE(unsetenv("JOURNAL_STREAM") == 0);
    mb_log_init_stderr("tool", MB_LOG_INFO);
    mb_log(MB_LOG_DEBUG, "dropped");
    mb_log(MB_LOG_NOTICE, "plain");
    MBT_REQUIRE(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
    close(saved);
    const char *text = drain();
    MBT_EQ_MEM("<5>to the journal\n", text, 18);
    char tail[64];
    snprintf(tail, sizeof(tail), "Z tool[%ld] notice: plain\n", (long)getpid());
    MBT_EQ_STR(tail, text + 18 + 23);
    mb_log_reset();
}

int main(void)
{
    MBT_RUN(test_off_until_init);
    MBT_RUN(test_plain_lines);
    MBT_RUN(test_level_filter);
    MBT_RUN(test_journal_lines);
    MBT_RUN(test_newlines_and_errno);
    MBT_RUN(test_truncation);
    MBT_RUN(test_ident_and_pid);
    MBT_RUN(test_timestamps);
    MBT_RUN(test_journal_detection);
    MBT_RUN(test_init_stderr);
    return mbt_finish();
}
