/* log.c: see log.h. */
#include "common/log.h"

#include "common/clock.h"
#include "common/fd_write.h"
#include "common/numparse.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct log_state {
    bool enabled;
    bool journal;
    int fd;
    int max_level;
    long pid;
    uint64_t (*realtime_ns)(void);
    char ident[MB_LOG_IDENT_MAX + 1];
};

/* One write(2) of at most PIPE_BUF bytes is atomic on a pipe, which is what
 * keeps lines from several writers whole. */
_Static_assert(MB_LOG_LINE_MAX <= PIPE_BUF, "a log line must fit one atomic pipe write");

static struct log_state log_state;

static const char truncation_marker[] = "...";

void mb_log_init(const struct mb_log_options *options)
{
    struct log_state state = {
        .enabled = true,
        .journal = options->journal,
        .fd = options->fd,
        .max_level = options->max_level,
        .pid = options->pid,
        .realtime_ns = options->realtime_ns != NULL ? options->realtime_ns : mb_clock_realtime_ns,
    };
    if (options->ident != NULL) {
        size_t n = strnlen(options->ident, MB_LOG_IDENT_MAX);
        memcpy(state.ident, options->ident, n);
        state.ident[n] = '\0';
    }
    log_state = state;
}

void mb_log_init_stderr(const char *ident, int max_level)
{
    struct mb_log_options options = {
        .ident = ident,
        .fd = STDERR_FILENO,
        .max_level = max_level,
        .journal = mb_log_fd_is_journal(STDERR_FILENO, getenv("JOURNAL_STREAM")),
    };
    mb_log_init(&options);
}

void mb_log_reset(void)
{
    memset(&log_state, 0, sizeof(log_state));
}

/* Levels past debug count as debug; below 0 as emergency. */
static int clamp_level(int level)
{
    if (level < 0)
        return 0;
    return level > MB_LOG_DEBUG ? MB_LOG_DEBUG : level;
}

bool mb_log_enabled(int level)
{
    return log_state.enabled && clamp_level(level) <= log_state.max_level;
}

bool mb_log_fd_is_journal(int fd, const char *journal_stream)
{
    if (journal_stream == NULL)
        return false;
    size_t len = strlen(journal_stream);
    const char *colon = memchr(journal_stream, ':', len);
    if (colon == NULL)
        return false;
    size_t dev_len = (size_t)(colon - journal_stream);
    uint64_t dev = 0, ino = 0;
    if (mb_parse_u64_exact(journal_stream, dev_len, &dev) != 0 ||
        mb_parse_u64_exact(colon + 1, len - dev_len - 1, &ino) != 0)
        return false;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return false;
    return (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

/* Writes value as exactly `width` decimal digits (zero-padded). */
static void put_digits(char *out, uint64_t value, size_t width)
{
    for (size_t i = width; i > 0; i--) {
        out[i - 1] = (char)('0' + value % 10);
        value /= 10;
    }
}

size_t mb_log_format_timestamp(uint64_t realtime_ns, char *buf, size_t size)
{
    static const size_t length = 24; /* YYYY-MM-DDTHH:MM:SS.mmmZ */
    if (size < length + 1)
        return 0;
    uint64_t seconds = realtime_ns / MB_NSEC_PER_SEC;
    uint64_t millis = realtime_ns % MB_NSEC_PER_SEC / MB_NSEC_PER_MSEC;
    uint64_t days = seconds / 86400;
    uint64_t second_of_day = seconds % 86400;

    /* Days since 1970-01-01 to a proleptic Gregorian date, counting from
     * 0000-03-01 so the leap day ends each 400-year era's year. */
    uint64_t shifted = days + 719468;
    uint64_t era = shifted / 146097;
    uint64_t day_of_era = shifted % 146097;
    uint64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    uint64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    uint64_t month_from_march = (5 * day_of_year + 2) / 153;
    uint64_t day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    uint64_t month = month_from_march < 10 ? month_from_march + 3 : month_from_march - 9;
    uint64_t year = era * 400 + year_of_era + (month <= 2 ? 1 : 0);

    put_digits(buf, year, 4);
    buf[4] = '-';
    put_digits(buf + 5, month, 2);
    buf[7] = '-';
    put_digits(buf + 8, day, 2);
    buf[10] = 'T';
    put_digits(buf + 11, second_of_day / 3600, 2);
    buf[13] = ':';
    put_digits(buf + 14, second_of_day / 60 % 60, 2);
    buf[16] = ':';
    put_digits(buf + 17, second_of_day % 60, 2);
    buf[19] = '.';
    put_digits(buf + 20, millis, 3);
    buf[23] = 'Z';
    buf[24] = '\0';
    return length;
}

static const char *level_name(int level)
{
    static const char *const names[] = {"emerg", "alert", "crit", "err",
                                        "warning", "notice", "info", "debug"};
    return names[level];
}

void mb_logv(int level, const char *format, va_list args)
{
    if (!mb_log_enabled(level))
        return;
    int saved_errno = errno;
    level = clamp_level(level);

    /* The message's NUL terminator becomes its newline, so a full line
     * is exactly MB_LOG_LINE_MAX bytes. */
    char line[MB_LOG_LINE_MAX];
    const size_t last = sizeof(line) - 1;
    int prefix_len;
    if (log_state.journal) {
        prefix_len = snprintf(line, sizeof(line), "<%d>", level);
    } else {
        char stamp[32];
        mb_log_format_timestamp(log_state.realtime_ns(), stamp, sizeof(stamp));
        long pid = log_state.pid != 0 ? log_state.pid : (long)getpid();
        prefix_len = snprintf(line, sizeof(line), "%s %s[%ld] %s: ", stamp, log_state.ident, pid,
                              level_name(level));
    }
    if (prefix_len < 0) {
        errno = saved_errno;
        return;
    }
    size_t len = (size_t)prefix_len < last ? (size_t)prefix_len : last;
    size_t start = len;

    errno = saved_errno; /* for %m */
    int body = vsnprintf(line + len, sizeof(line) - len, format, args);
    if (body > 0) {
        if ((size_t)body >= sizeof(line) - len) {
            len = last;
            size_t marker = sizeof(truncation_marker) - 1;
            memcpy(line + len - marker, truncation_marker, marker);
        } else {
            len += (size_t)body;
        }
    }
    while (len > start && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    for (size_t i = start; i < len; i++) {
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    }
    line[len++] = '\n';
    (void)mb_write_all(log_state.fd, line, len);
    errno = saved_errno;
}

void mb_log(int level, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    mb_logv(level, format, args);
    va_end(args);
}
