/* evidence.h: what the system looked like when memory ran out, written to a
 * bounded, rotated dump directory.
 *
 * One collection writes one dump, atomically: the files go into
 * "<dump_dir>/.tmp-<name>/", each is fsynced (when `sync`), then the
 * directory is renamed to "<dump_dir>/<name>" and the oldest dumps beyond
 * `keep` are removed. A reader therefore sees a whole dump or none.
 *
 *   <name> = "evidence-YYYYMMDDTHHMMSS.mmmZ-NNNN" (UTC; NNNN counts this
 *            context's dumps, so names sort by time)
 *   trigger     key=value lines: kind, detail, cgroup, pid, frozen (the
 *               freezer group frozen meanwhile, if any), time (UTC),
 *               realtime_ns, monotonic_ns (same clock as the kernel's
 *               kmsg timestamps), collector_pid, sequence, largest_pid,
 *               largest_comm, maps_pid,
 *               then one "file.<name>=ok|missing|truncated|error: <why>" per
 *               file below. Written last.
 *   meminfo     copy of /proc/meminfo
 *   vmstat      copy of /proc/vmstat
 *   buddyinfo   copy of /proc/buddyinfo
 *   processes   "# ..." header lines, then one line per process, largest
 *               first: "pid size_kb rss_kb pss_kb anon_kb private_dirty_kb
 *               swap_kb comm" (size = rss + swap; comm last, may hold
 *               spaces)
 *   maps        copy of /proc/<largest pid>/maps (cut at a line end when
 *               longer than file_max: then file.maps=truncated); when the
 *               largest process exited meanwhile, the next largest's (up to
 *               the 8th): maps_pid says whose
 *   broker      the broker's status as key=value lines ("summary ..." and
 *               one "client ..." per client), or one "# no broker: <why>"
 *               line when there is none or it did not answer
 *   kmsg        "# ..." header, then the recent OOM lines of /dev/kmsg in
 *               the device's own form "prio,seq,ts_us,flags;message"
 *               (readable back with mb_kmsg_parse_record)
 * A file whose source cannot be read is left out and its trigger line says
 * why; the dump is still written.
 *
 * The collection path allocates no heap and forks nothing: every buffer is
 * allocated and touched by mb_evidence_init (the daemon should mlockall
 * after init so they stay resident). Sizes (defaults):
 *   file_max      1 MiB   largest copied /proc file (maps of a big process)
 *   text buffer  64 KiB   formatting, flushed as it fills
 *   processes    1024     kept in the table (the largest ones)
 *   kmsg lines    512     x 256 bytes of message
 * With the defaults a context holds about 1.3 MiB.
 *
 * One context per dump directory: a collection removes leftover ".tmp-"
 * directories in it (from a collector that died mid-dump).
 */
#ifndef MB_WATCH_EVIDENCE_H
#define MB_WATCH_EVIDENCE_H

#include "membroker/client.h"
#include "watch/kmsg.h"
#include "watch/smaps.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_EVIDENCE_PATH_MAX 512u
#define MB_EVIDENCE_NAME_MAX 64u

struct mb_evidence_options {
    const char *root;           /* prefix of /proc and /dev/kmsg; NULL or "": the live system */
    const char *dump_dir;       /* required; created (one level, mode 0700) if missing */
    unsigned keep;              /* newest dumps kept; 0: 8 */
    size_t file_max;            /* 0: 1 MiB; at least 64 KiB is used */
    size_t max_processes;       /* 0: 1024 */
    size_t kmsg_lines;          /* 0: 512 */
    const char *broker_socket;  /* NULL: no broker status ("# no broker: not configured") */
    uint32_t broker_timeout_ms; /* per status page; 0: 500 */
    bool no_sync;               /* skip fsync (tests on slow disks); default: sync */
};

/* Why a dump was taken. Strings are copied into the trigger file (cut at
 * 200 bytes; newlines become spaces). */
struct mb_evidence_trigger {
    const char *kind;   /* "manual", "cgroup-oom", "kernel-oom-kill", "psi-critical",
                           "lamb-killed", ...; NULL: "manual" */
    const char *detail; /* free text or NULL */
    const char *cgroup; /* the group concerned or NULL */
    int64_t pid;        /* the process concerned or 0 */
    const char *frozen; /* the freezer group frozen during collection or NULL */
};

/* Status of one dump file. */
enum mb_evidence_file_state {
    MB_EVIDENCE_FILE_OK = 0,
    MB_EVIDENCE_FILE_MISSING,   /* source absent (-ENOENT): left out */
    MB_EVIDENCE_FILE_TRUNCATED, /* cut at file_max */
    MB_EVIDENCE_FILE_ERROR,     /* other error: left out */
};

/* The files of a dump, in the order they are written. */
enum mb_evidence_file {
    MB_EVIDENCE_MEMINFO,
    MB_EVIDENCE_VMSTAT,
    MB_EVIDENCE_BUDDYINFO,
    MB_EVIDENCE_PROCESSES,
    MB_EVIDENCE_MAPS,
    MB_EVIDENCE_BROKER,
    MB_EVIDENCE_KMSG,
    MB_EVIDENCE_FILE_COUNT /* the trigger file is written after these */
};

/* The file name of each ("meminfo", ...); "trigger" for FILE_COUNT. */
const char *mb_evidence_file_name(enum mb_evidence_file file);

/* A context: create with mb_evidence_init, end with mb_evidence_deinit.
 * Fields are read-only for callers. */
struct mb_evidence {
    char root[MB_EVIDENCE_PATH_MAX];
    char dump_dir[MB_EVIDENCE_PATH_MAX];
    unsigned keep;
    bool sync;
    uint32_t broker_timeout_ms;
    bool broker_configured;
    bool initialised;
    struct mb_client broker;
    struct mb_client_status_page page;
    struct mb_smaps_scan scan;
    struct mb_kmsg_oom_log kmsg_log;
    struct mb_kmsg_reader kmsg;
    char *file_buf;             /* file_max bytes */
    size_t file_buf_size;
    char *text_buf;             /* formatting */
    size_t text_buf_size;
    char *dent_buf;             /* getdents64 for rotation */
    size_t dent_buf_size;
    uint64_t sequence;          /* dumps attempted by this context */
    /* The last collection. */
    char last_dump[MB_EVIDENCE_PATH_MAX + MB_EVIDENCE_NAME_MAX + 1]; /* full path of the last dump written, or "" */
    enum mb_evidence_file_state last_state[MB_EVIDENCE_FILE_COUNT];
    int last_error[MB_EVIDENCE_FILE_COUNT]; /* negative errno per file, 0 when ok */
    uint32_t last_largest_pid;
    uint32_t last_maps_pid;     /* whose maps the dump holds (0: none) */
    unsigned last_removed;      /* old dumps removed by the rotation */
};

/* Allocates and touches every buffer, copies the options, creates
 * dump_dir if missing, and prepares (without connecting) a broker client
 * when broker_socket is set. Returns 0, -EINVAL (no dump_dir),
 * -ENAMETOOLONG, -ENOMEM, or the errno of mkdir(2) / mb_client_init. On
 * failure nothing is left allocated. Does not block. */
int mb_evidence_init(struct mb_evidence *ev, const struct mb_evidence_options *options);

/* Frees everything and disconnects. Safe on a zeroed or already
 * deinitialised context. */
void mb_evidence_deinit(struct mb_evidence *ev);

/* Collects one dump (see the layout above) and rotates. On success
 * ev->last_dump holds its path. Returns 0 when the dump was written (even
 * if some files were left out: see ev->last_state), or the negative errno
 * that stopped it: creating, writing or renaming the dump directory
 * (-ENOSPC, -EROFS, ...). A failed dump leaves no ".tmp-" directory
 * behind. Allocates nothing and forks nothing. Blocks on /proc reads, on
 * the file writes and fsyncs, and on the broker for up to
 * broker_timeout_ms per status page. */
int mb_evidence_collect(struct mb_evidence *ev, const struct mb_evidence_trigger *trigger);

/* Counts the dumps ("evidence-*" directories) in the dump directory and
 * stores the oldest and newest names (either may be NULL). Returns the
 * count or a negative errno. Allocates nothing. */
long mb_evidence_list(struct mb_evidence *ev, char *oldest, char *newest, size_t name_size);

#endif
