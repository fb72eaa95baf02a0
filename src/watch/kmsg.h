/* kmsg.h: the kernel log as /dev/kmsg gives it, and the lines about OOM.
 *
 * /dev/kmsg returns one record per read(2):
 *     "<prio>,<seq>,<ts_us>,<flags>[,...];<message>\n"
 * followed by optional dictionary lines, each starting with a space
 * (" SUBSYSTEM=...\n"). prio is facility * 8 + level; flags is '-' for a
 * whole record, 'c' for the start and '+' for a fragment of a continued one
 * (older kernels). The kernel escapes unprintable message bytes as "\xNN";
 * they are kept as they are here.
 *
 * The parsers work on buffers (tested against captured records); the reader
 * is the only part that touches the file. A reader opened on a regular file
 * (a fixture tree under a root directory) splits it into records the same
 * way: a record is a line plus the lines after it that start with a space.
 *
 * The OOM log keeps the recent kernel lines about OOM in a ring allocated
 * once: every line of an OOM report (from "... invoked oom-killer" to its
 * "Killed process ..."), and the OOM lines outside a report (oom_reaper,
 * "Out of memory" without a report). Feeding it never allocates.
 */
#ifndef MB_WATCH_KMSG_H
#define MB_WATCH_KMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest record the reader takes (the kernel's own limit is 1 KiB of text
 * plus the dictionary; 8 KiB leaves room). */
#define MB_KMSG_RECORD_MAX 8192u
/* Message bytes kept per line in the OOM log (longer messages are cut). */
#define MB_KMSG_LINE_MAX 256u
/* A report that never reaches its "Killed process" line (no killable task)
 * ends after this many lines. */
#define MB_KMSG_REPORT_MAX_LINES 512u

struct mb_kmsg_record {
    uint8_t level;      /* prio & 7 (syslog level) */
    uint32_t facility;  /* prio >> 3 */
    uint64_t seq;
    uint64_t ts_us;     /* monotonic microseconds since boot */
    char flags;         /* '-', 'c' or '+' */
    const char *text;   /* the message, not NUL-terminated */
    size_t text_len;
    const char *dict;   /* dictionary lines (each " KEY=value\n"), or "" */
    size_t dict_len;
};

/* Parses one record buf[0..len) (with or without its final '\n'). Fields
 * after the fourth before ';' are allowed and ignored. Pointers in *rec
 * point into buf. Returns 0, or -EINVAL when the header is malformed (no
 * ';', a non-number, a prio above 2^31, an empty flags field). Does not
 * block. */
int mb_kmsg_parse_record(const char *buf, size_t len, struct mb_kmsg_record *rec);

/* What a kernel message says about OOM. */
enum mb_kmsg_oom {
    MB_KMSG_OOM_NONE = 0,
    MB_KMSG_OOM_INVOKED,       /* "<comm> invoked oom-killer: gfp_mask=..." (starts a report) */
    MB_KMSG_OOM_CONSTRAINT,    /* "oom-kill:constraint=...,task=...,pid=..." */
    MB_KMSG_OOM_KILLED,        /* "[Memory cgroup ]Out of memory: Killed process <pid> (<comm>) ..."
                                  (also the old "Kill process"); ends a report */
    MB_KMSG_OOM_OUT_OF_MEMORY, /* other "Out of memory" lines ("... and no killable processes") */
    MB_KMSG_OOM_REAPED,        /* "oom_reaper: reaped process <pid> (<comm>) ..." */
    MB_KMSG_OOM_REPORT,        /* any other line inside a report (set by the OOM log only) */
};

/* Classifies a message (not the whole record). Does not block. */
enum mb_kmsg_oom mb_kmsg_classify(const char *text, size_t len);

/* Short name of a kind: "none", "invoked", "constraint", "killed",
 * "out-of-memory", "reaped", "report"; "?" for other values. */
const char *mb_kmsg_oom_name(enum mb_kmsg_oom kind);

/* The figures of a "Killed process" line:
 * "Memory cgroup out of memory: Killed process 8848 (tail) total-vm:35476kB,
 *  anon-rss:32512kB, file-rss:1596kB, shmem-rss:0kB, UID:0 pgtables:112kB
 *  oom_score_adj:0". Figures the kernel did not print stay 0 (their bit in
 * `present` is clear). */
struct mb_kmsg_kill {
    uint64_t pid;
    char comm[64];          /* cut if longer */
    bool memcg;             /* "Memory cgroup out of memory" (a cgroup limit, not the system) */
    uint64_t total_vm_kb, anon_rss_kb, file_rss_kb, shmem_rss_kb, pgtables_kb;
    uint64_t uid;
    int64_t oom_score_adj;
    unsigned present;       /* MB_KMSG_KILL_HAS_* bits */
};
#define MB_KMSG_KILL_HAS_TOTAL_VM 0x01u
#define MB_KMSG_KILL_HAS_ANON_RSS 0x02u
#define MB_KMSG_KILL_HAS_FILE_RSS 0x04u
#define MB_KMSG_KILL_HAS_SHMEM_RSS 0x08u
#define MB_KMSG_KILL_HAS_UID 0x10u
#define MB_KMSG_KILL_HAS_PGTABLES 0x20u
#define MB_KMSG_KILL_HAS_OOM_SCORE_ADJ 0x40u

/* Parses a "Killed process" (or old "Kill process") message. Returns 0,
 * -ENOENT when the message is no such line, -EINVAL when the pid or comm is
 * malformed. Unknown "key:value" figures are skipped. Does not block. */
int mb_kmsg_parse_kill(const char *text, size_t len, struct mb_kmsg_kill *out);

/* The "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,
 * mems_allowed=0,oom_memcg=/g,task_memcg=/g,task=tail,pid=8848,uid=0" line.
 * Strings are cut to their buffers; absent ones are "". */
struct mb_kmsg_constraint {
    char constraint[32];
    char oom_memcg[128];
    char task_memcg[128];
    char task[64];
    uint64_t pid;
    uint64_t uid;
};

/* Returns 0, -ENOENT when the message is not a constraint line, -EINVAL
 * when its pid or uid is not a number. Does not block. */
int mb_kmsg_parse_constraint(const char *text, size_t len, struct mb_kmsg_constraint *out);

/* ---- the OOM log: a ring of recent OOM lines ---- */

struct mb_kmsg_line {
    uint64_t seq;
    uint64_t ts_us;
    uint32_t facility;
    uint8_t level;
    uint8_t kind;      /* enum mb_kmsg_oom */
    uint16_t len;      /* bytes in text (<= MB_KMSG_LINE_MAX) */
    char text[MB_KMSG_LINE_MAX];
};

struct mb_kmsg_oom_log {
    struct mb_kmsg_line *lines; /* capacity slots, allocated by init */
    size_t capacity;
    size_t count;        /* lines held (<= capacity) */
    size_t next;         /* slot the next line goes to */
    bool in_report;      /* between INVOKED and KILLED */
    size_t report_lines; /* lines of the current report so far */
    uint64_t reports;    /* INVOKED lines seen */
    uint64_t kills;      /* KILLED lines seen */
    uint64_t dropped;    /* lines pushed out of the full ring */
    struct mb_kmsg_kill last_kill; /* valid when kills > 0 */
};

/* Allocates `capacity` lines (0: 512). Returns 0 or -ENOMEM. */
int mb_kmsg_oom_log_init(struct mb_kmsg_oom_log *log, size_t capacity);

/* Frees the ring. Safe on a zeroed or already freed log. */
void mb_kmsg_oom_log_deinit(struct mb_kmsg_oom_log *log);

/* Forgets the lines held (counters too). No allocation. */
void mb_kmsg_oom_log_clear(struct mb_kmsg_oom_log *log);

/* Offers a record to the log. Returns the kind it was kept as, or
 * MB_KMSG_OOM_NONE when it is not about OOM (not kept). Continuation
 * fragments ('+') inside a report are kept like other report lines. Never
 * allocates or blocks. */
enum mb_kmsg_oom mb_kmsg_oom_log_feed(struct mb_kmsg_oom_log *log, const struct mb_kmsg_record *rec);

/* The i-th line held, oldest first (i < count), or NULL. */
const struct mb_kmsg_line *mb_kmsg_oom_log_line(const struct mb_kmsg_oom_log *log, size_t i);

/* True when a "Killed process <pid>" line for `pid` is held. */
bool mb_kmsg_oom_log_has_kill(const struct mb_kmsg_oom_log *log, uint64_t pid);

/* ---- reading /dev/kmsg ---- */

struct mb_kmsg_reader {
    int fd;
    bool regular;        /* a regular file (fixture), not the device */
    bool eof;            /* regular file: read(2) returned 0 */
    uint64_t lost;       /* EPIPE: records overwritten before we read them */
    size_t start, have;  /* regular file: unread bytes buf[start..have) */
    char buf[MB_KMSG_RECORD_MAX];
};

/* Opens root + "/dev/kmsg" (root NULL or "" for the live one) non-blocking.
 * from_start: read the oldest record still in the kernel's buffer;
 * otherwise only records logged after the open. Returns 0, or the negative
 * errno of open(2) (-EPERM/-EACCES with dmesg_restrict and no privilege),
 * -ENAMETOOLONG. Does not block. r->fd is pollable (POLLIN) for the device. */
int mb_kmsg_open(struct mb_kmsg_reader *r, const char *root, bool from_start);

/* Reads the next record into *rec (pointing into r->buf until the next
 * call). Returns 1 with a record, 0 when none is waiting (device) or at the
 * end (regular file), -EINVAL for a malformed record (skipped: call again),
 * -EMSGSIZE for a record longer than MB_KMSG_RECORD_MAX (the device stays
 * on it: reopen), or the negative errno of read(2). Records the kernel overwrote before we
 * read them are counted in r->lost and skipped. Never blocks. */
int mb_kmsg_read(struct mb_kmsg_reader *r, struct mb_kmsg_record *rec);

/* Closes the file and marks r not open. Safe after mb_kmsg_reader_init,
 * after any mb_kmsg_open (also a failed one) and twice. Not on a merely
 * zeroed reader: its fd 0 would be closed. */
void mb_kmsg_close(struct mb_kmsg_reader *r);

/* Marks r as not open (fd -1). */
void mb_kmsg_reader_init(struct mb_kmsg_reader *r);

/* Reads every waiting record into `log` (never blocking). Returns the
 * number of records read (kept or not), or a negative errno from
 * mb_kmsg_read other than -EINVAL (malformed records are skipped). */
long mb_kmsg_drain(struct mb_kmsg_reader *r, struct mb_kmsg_oom_log *log);

#endif
