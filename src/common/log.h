/* log.h: leveled logging for the daemons and tools.
 *
 * Off until a program calls mb_log_init (library code logs through it and
 * stays silent in programs that did not ask). Levels use syslog numbers.
 * Each message becomes one line written with one write(2), so lines from
 * several threads or processes sharing the fd never interleave. Two forms:
 *   plain:   "2026-11-22T05:30:25.123Z mbserver[412] warning: message\n"
 *   journal: "<4>message\n" (journald adds time, ident and pid itself)
 * A message longer than MB_LOG_LINE_MAX is cut and ends with "...". Newlines
 * and carriage returns inside a message become spaces; trailing ones are
 * dropped.
 *
 * The state is one process-wide logger; mb_log_reset turns it off again so
 * tests start clean. mb_log_init and mb_log_reset must not race with
 * logging threads (call them at start-up and shut-down). errno is preserved
 * across mb_log, so "%m" works and callers may log before returning -errno.
 */
#ifndef MB_COMMON_LOG_H
#define MB_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mb_log_level {
    MB_LOG_ERR = 3,
    MB_LOG_WARNING = 4,
    MB_LOG_NOTICE = 5,
    MB_LOG_INFO = 6,
    MB_LOG_DEBUG = 7,
};

/* Longest line written, newline included. */
#define MB_LOG_LINE_MAX 1024
/* Longest ident kept (longer ones are cut). */
#define MB_LOG_IDENT_MAX 32

struct mb_log_options {
    const char *ident;  /* program name for plain lines (copied); NULL: "" */
    int fd;             /* where lines go, usually STDERR_FILENO */
    int max_level;      /* messages with a level above this are dropped */
    bool journal;       /* journal form; see mb_log_fd_is_journal */
    /* Time source for plain lines (ns since 1970); NULL: mb_clock_realtime_ns. */
    uint64_t (*realtime_ns)(void);
    long pid;           /* pid shown in plain lines; 0: getpid() per message */
};

/* Turns logging on with the given options. Does not block. */
void mb_log_init(const struct mb_log_options *options);

/* Turns logging on for a program: to stderr, journal form when stderr is the
 * journal (the JOURNAL_STREAM environment variable matches it), ident as
 * given. Does not block. */
void mb_log_init_stderr(const char *ident, int max_level);

/* Turns logging off and forgets every option. */
void mb_log_reset(void);

/* True when a message of `level` would be written (logging on and level <= max). */
bool mb_log_enabled(int level);

/* Logs one message at `level` (3..7; 0..2 are accepted as emerg, alert and
 * crit, higher numbers count as debug, negative ones as emerg). Nothing happens while logging is off. Write
 * errors are ignored. May block if the fd is a full pipe. */
void mb_log(int level, const char *format, ...) __attribute__((format(printf, 2, 3)));
void mb_logv(int level, const char *format, va_list args) __attribute__((format(printf, 2, 0)));

/* True when `fd` is the journal stream: journal_stream is the value of
 * JOURNAL_STREAM ("<st_dev>:<st_ino>" in decimal, as systemd sets it; NULL
 * when unset) and it names the file fd refers to. Does not block. */
bool mb_log_fd_is_journal(int fd, const char *journal_stream);

/* Writes realtime_ns as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, 24 characters)
 * with its NUL into buf. Returns 24, or 0 when size < 25. */
size_t mb_log_format_timestamp(uint64_t realtime_ns, char *buf, size_t size);

#endif
