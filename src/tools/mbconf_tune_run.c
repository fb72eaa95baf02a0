/* mbconf_tune_run.c: the live loop of `mbconf tune` (see the header). */
#include "tools/mbconf_tune_run.h"

#include "common/proc_meminfo.h"
#include "common/proc_pressure.h"
#include "common/proc_vmstat.h"
#include "common/units.h"
#include "tools/mbconf_generate.h"
#include "tools/mbconf_tune_load.h"
#include "tools/mbfrag_root.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The load gets this long to touch one candidate's memory. */
#define HOLD_TIMEOUT_MS 120000u
/* The largest config file tune rewrites. */
#define CONFIG_MAX (256u * 1024u)

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

void mbconf_tune_options_init(struct mbconf_tune_options *opts)
{
    *opts = (struct mbconf_tune_options){
        .workdir = "/var/tmp",
        .start = {.unit = MB_SIZE_PERCENT, .amount = 5000},
        .step = {.unit = MB_SIZE_PERCENT, .amount = 500},
        .max = {.unit = MB_SIZE_PERCENT, .amount = 10000},
        .working_set = {.unit = MB_SIZE_PERCENT, .amount = MBCONF_DEFAULT_CACHE_HUNDREDTHS},
        .margin_percent = 10,
        .window_ms = 2000,
        .timeout_s = 300,
        .limits = {.psi_some_permille = MBCONF_TUNE_DEFAULT_PSI_PERMILLE,
                   .majfaults_per_second = MBCONF_TUNE_DEFAULT_MAJFAULT_RATE},
    };
}

/* ---- what is measured, and where ---------------------------------------- */

enum cgroup_kind { CGROUP_NONE, CGROUP_V1, CGROUP_V2 };

struct sources {
    enum cgroup_kind kind;
    char procs[4096];    /* where the load's pid goes */
    char majfault[4096]; /* memory.stat or /proc/vmstat */
    const char *majfault_key;
    char psi[4096];      /* a memory.pressure or /proc/pressure/memory; "" none */
    uint64_t capacity;   /* bytes */
    const char *capacity_from;
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The value of `key` in a "key value" per line file (/proc/vmstat, and a
 * cgroup's memory.stat, which has the same form). */
static int read_counter(const char *path, const char *key, uint64_t *value)
{
    static char buf[64 * 1024];
    size_t len = 0;
    int rc = mbfrag_root_read(NULL, path, buf, sizeof buf, &len);
    return rc < 0 ? rc : mb_vmstat_lookup(buf, len, key, value);
}

static int read_psi(const char *path, struct mb_pressure *psi)
{
    char buf[512];
    size_t len = 0;
    int rc = mbfrag_root_read(NULL, path, buf, sizeof buf, &len);
    if (rc == 0)
        rc = mb_pressure_parse(buf, len, psi, NULL);
    return rc;
}

static int path_join(char *dst, size_t cap, const char *dir, const char *name)
{
    return snprintf(dst, cap, "%s/%s", dir, name) >= (int)cap ? -ENAMETOOLONG : 0;
}

static int find_sources(const struct mbconf_tune_options *opts, struct sources *src)
{
    memset(src, 0, sizeof *src);
    static char buf[16 * 1024];
    static struct mb_meminfo mem;
    size_t len = 0;
    uint64_t memtotal = 0;
    if (mbfrag_root_read(NULL, "/proc/meminfo", buf, sizeof buf, &len) == 0 &&
        mb_meminfo_parse(buf, len, &mem, NULL) == 0)
        memtotal = mb_meminfo_get(&mem, MB_MEMINFO_MEM_TOTAL, 0);
    if (memtotal == 0) {
        fprintf(stderr, "mbconf: tune: cannot read MemTotal from /proc/meminfo\n");
        return -EIO;
    }
    src->capacity = memtotal;
    src->capacity_from = "MemTotal";
    snprintf(src->majfault, sizeof src->majfault, "/proc/vmstat");
    src->majfault_key = "pgmajfault";
    if (access("/proc/pressure/memory", R_OK) == 0)
        snprintf(src->psi, sizeof src->psi, "/proc/pressure/memory");
    if (opts->cgroup == NULL)
        return 0;

    char path[4096];
    uint64_t limit = 0;
    int rc = path_join(path, sizeof path, opts->cgroup, "memory.limit_in_bytes");
    if (rc == 0 && access(path, R_OK) == 0) {
        src->kind = CGROUP_V1;
        rc = mbfrag_root_read_u64(NULL, path, &limit);
        src->majfault_key = "total_pgmajfault";
        src->capacity_from = "the cgroup's memory.limit_in_bytes";
    } else if (rc == 0 && path_join(path, sizeof path, opts->cgroup, "memory.max") == 0 &&
               access(path, R_OK) == 0) {
        src->kind = CGROUP_V2;
        char text[64];
        size_t text_len = 0;
        rc = mbfrag_root_read(NULL, path, text, sizeof text - 1, &text_len);
        text[text_len] = '\0';
        if (rc == 0 && strncmp(text, "max", 3) == 0)
            limit = UINT64_MAX;
        else if (rc == 0)
            rc = mbfrag_root_read_u64(NULL, path, &limit);
        src->majfault_key = "pgmajfault";
        src->capacity_from = "the cgroup's memory.max";
        char psi[4096];
        if (path_join(psi, sizeof psi, opts->cgroup, "memory.pressure") == 0 &&
            access(psi, R_OK) == 0)
            snprintf(src->psi, sizeof src->psi, "%s", psi);
    } else {
        fprintf(stderr, "mbconf: tune: %s is not a memory cgroup (no memory.limit_in_bytes or "
                        "memory.max)\n", opts->cgroup);
        return -EINVAL;
    }
    if (rc < 0) {
        fprintf(stderr, "mbconf: tune: cannot read the limit of %s: %s\n", opts->cgroup,
                strerror(-rc));
        return rc;
    }
    if (path_join(src->procs, sizeof src->procs, opts->cgroup, "cgroup.procs") < 0 ||
        path_join(src->majfault, sizeof src->majfault, opts->cgroup, "memory.stat") < 0) {
        fprintf(stderr, "mbconf: tune: cgroup path too long\n");
        return -ENAMETOOLONG;
    }
    if (limit < memtotal) {
        src->capacity = limit;
    } else {
        src->capacity_from = "MemTotal (the cgroup has no lower limit)";
    }
    return 0;
}

/* ---- one window --------------------------------------------------------- */

struct reading {
    bool have_psi, have_majfaults;
    struct mb_pressure psi;
    uint64_t majfaults;
    uint64_t at_us;
};

static void take_reading(const struct sources *src, struct reading *r)
{
    r->have_psi = src->psi[0] != '\0' && read_psi(src->psi, &r->psi) == 0;
    r->have_majfaults = read_counter(src->majfault, src->majfault_key, &r->majfaults) == 0;
    r->at_us = now_us();
}

static void sample_between(const struct reading *a, const struct reading *b,
                           struct mbconf_tune_sample *s)
{
    s->window_us = b->at_us - a->at_us;
    s->have_psi = a->have_psi && b->have_psi;
    if (s->have_psi) {
        s->psi_some_us = b->psi.some.total_us - a->psi.some.total_us;
        s->psi_full_us = b->psi.full.total_us - a->psi.full.total_us;
    }
    s->have_majfaults = a->have_majfaults && b->have_majfaults && b->majfaults >= a->majfaults;
    if (s->have_majfaults)
        s->majfaults = b->majfaults - a->majfaults;
}

/* Sleeps up to ms, waking early for a stop signal or a dead load. */
static void wait_window(struct mbconf_tune_load *load, unsigned ms)
{
    uint64_t end = now_us() + (uint64_t)ms * 1000u;
    while (!stop_signal && mbconf_tune_load_alive(load)) {
        uint64_t now = now_us();
        if (now >= end)
            break;
        uint64_t left = end - now;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(left > 100000 ? 100000 : left) * 1000};
        nanosleep(&ts, NULL);
    }
}

/* ---- writing the result ------------------------------------------------- */

static int rewrite_config(const char *path, uint64_t total, const char *comment)
{
    static char in[CONFIG_MAX], out[CONFIG_MAX + 4096];
    size_t in_len = 0, out_len = 0;
    int rc = mbfrag_root_read(NULL, path, in, sizeof in, &in_len);
    if (rc == -ENOENT)
        in_len = 0, rc = 0;
    if (rc < 0) {
        fprintf(stderr, "mbconf: tune: cannot read %s: %s\n", path, strerror(-rc));
        return rc;
    }
    rc = mbconf_tune_rewrite_total(in, in_len, total, comment, out, sizeof out, &out_len);
    if (rc < 0) {
        fprintf(stderr, "mbconf: tune: %s is too large to rewrite\n", path);
        return rc;
    }
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tune-XXXXXX", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        fprintf(stderr, "mbconf: tune: cannot write next to %s: %s\n", path, strerror(-rc));
        return rc;
    }
    struct stat st;
    if (stat(path, &st) == 0)
        fchmod(fd, st.st_mode & 07777);
    else
        fchmod(fd, 0644);
    size_t done = 0;
    while (done < out_len) {
        ssize_t n = write(fd, out + done, out_len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        done += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        fprintf(stderr, "mbconf: tune: cannot write %s: %s\n", path, strerror(-rc));
    }
    return rc;
}

static const char *reason_text(unsigned reasons, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", (reasons & MBCONF_TUNE_KILLED) ? " oom-killed" : "",
             (reasons & MBCONF_TUNE_PSI) ? " psi" : "",
             (reasons & MBCONF_TUNE_MAJFAULTS) ? " majfaults" : "");
    return buf[0] == ' ' ? buf + 1 : buf;
}

static void mib(uint64_t bytes, char *buf, size_t size)
{
    mb_format_size(bytes, buf, size);
}

/* ---- the loop ----------------------------------------------------------- */

static int resolve(const char *name, const struct mb_size *size, uint64_t capacity,
                   uint64_t *bytes)
{
    int rc = mb_size_resolve(size, (uint64_t)sysconf(_SC_PAGESIZE), capacity, bytes);
    if (rc < 0)
        fprintf(stderr, "mbconf: tune: --%s does not resolve against a capacity of %" PRIu64
                        " bytes\n", name, capacity);
    return rc;
}

int mbconf_tune_run(const struct mbconf_tune_options *opts, FILE *out)
{
    struct sources src;
    if (find_sources(opts, &src) < 0)
        return 1;
    struct mbconf_tune_plan plan = {.margin_percent = opts->margin_percent,
                                    .granule = MBCONF_TOTAL_GRANULE};
    uint64_t working_set = 0;
    if (resolve("start", &opts->start, src.capacity, &plan.start) < 0 ||
        resolve("step", &opts->step, src.capacity, &plan.step) < 0 ||
        resolve("max", &opts->max, src.capacity, &plan.max) < 0 ||
        resolve("working-set", &opts->working_set, src.capacity, &working_set) < 0)
        return 1;
    char why[256];
    if (mbconf_tune_plan_check(&plan, why, sizeof why) < 0) {
        fprintf(stderr, "mbconf: tune: %s\n", why);
        return 1;
    }
    if (opts->window_ms == 0) {
        fprintf(stderr, "mbconf: tune: the window (--window) is 0\n");
        return 1;
    }

    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    struct sigaction old_int, old_term, old_pipe;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &old_pipe);
    stop_signal = 0;

    char cap_h[MB_SIZE_STRING_MAX], ws_h[MB_SIZE_STRING_MAX], a[MB_SIZE_STRING_MAX],
        b[MB_SIZE_STRING_MAX], c[MB_SIZE_STRING_MAX];
    mib(src.capacity, cap_h, sizeof cap_h);
    mib(working_set, ws_h, sizeof ws_h);
    mib(plan.start, a, sizeof a);
    mib(plan.step, b, sizeof b);
    mib(plan.max, c, sizeof c);
    fprintf(out, "capacity %s (%s); load from %s by %s up to %s, working set %s\n", cap_h,
            src.capacity_from, a, b, c, ws_h);
    fprintf(out, "pressure: PSI some >= %u.%u%% of a %u ms window (%s), or >= %u major faults/s "
                 "(%s)\n",
            opts->limits.psi_some_permille / 10, opts->limits.psi_some_permille % 10,
            opts->window_ms, src.psi[0] != '\0' ? src.psi : "no PSI here",
            opts->limits.majfaults_per_second, src.majfault);
    fprintf(out, "%12s %10s %12s %12s %10s  %s\n", "candidate", "window", "psi-some-ms",
            "psi-full-ms", "majflt/s", "verdict");
    fflush(out);

    struct mbconf_tune_load load;
    int rc = mbconf_tune_load_start(&load, opts->workdir, working_set, plan.max,
                                    src.kind != CGROUP_NONE ? src.procs : NULL, why, sizeof why);
    if (rc < 0) {
        fprintf(stderr, "mbconf: tune: %s\n", why);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGPIPE, &old_pipe, NULL);
        return 1;
    }

    uint64_t started = now_us(), deadline = started + (uint64_t)opts->timeout_s * 1000000u;
    uint64_t last_quiet = 0, pressured_at = 0;
    unsigned pressure_reasons = 0;
    bool timed_out = false;
    int status = 0;
    for (uint64_t candidate = mbconf_tune_first(&plan); candidate != 0;
         candidate = mbconf_tune_next(&plan, candidate)) {
        if (stop_signal)
            break;
        if (now_us() >= deadline) {
            timed_out = true;
            break;
        }
        struct mbconf_tune_sample sample = {.candidate = candidate};
        struct reading before, after;
        int hold = mbconf_tune_load_hold(&load, candidate, HOLD_TIMEOUT_MS);
        if (hold == -ETIMEDOUT) {
            /* Touching memory that slowly is thrashing by any measure. */
            fprintf(stderr, "mbconf: tune: the load took over %u s to touch %" PRIu64
                            " bytes: counting it as pressure\n", HOLD_TIMEOUT_MS / 1000, candidate);
            pressure_reasons = MBCONF_TUNE_PSI;
            pressured_at = candidate;
            break;
        }
        if (hold < 0 && hold != -ECHILD) {
            fprintf(stderr, "mbconf: tune: lost the load: %s\n", strerror(-hold));
            status = 1;
            break;
        }
        if (hold == 0) {
            take_reading(&src, &before);
            wait_window(&load, opts->window_ms);
            take_reading(&src, &after);
            sample_between(&before, &after, &sample);
        }
        if (stop_signal)
            break;
        sample.load_killed = !mbconf_tune_load_alive(&load);
        unsigned reasons = mbconf_tune_judge(&opts->limits, &sample);
        char cand_h[MB_SIZE_STRING_MAX], rtext[64];
        mib(candidate, cand_h, sizeof cand_h);
        uint64_t rate = sample.window_us > 0 ? sample.majfaults * 1000000u / sample.window_us : 0;
        fprintf(out, "%12s %8" PRIu64 "ms %12" PRIu64 " %12" PRIu64 " %10" PRIu64 "  %s\n", cand_h,
                sample.window_us / 1000u, sample.psi_some_us / 1000u, sample.psi_full_us / 1000u,
                rate, reasons == 0 ? "quiet" : reason_text(reasons, rtext, sizeof rtext));
        fflush(out);
        if (reasons != 0) {
            pressure_reasons = reasons;
            pressured_at = candidate;
            break;
        }
        last_quiet = candidate;
    }
    mbconf_tune_load_stop(&load);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    if (stop_signal) {
        fprintf(stderr, "mbconf: tune: stopped by signal %d; nothing written\n", (int)stop_signal);
        return 130;
    }
    if (status != 0)
        return status;

    uint64_t total = 0;
    if (mbconf_tune_recommend(&plan, last_quiet, &total) < 0) {
        fprintf(stderr, "mbconf: tune: %s: no quiet candidate to recommend; lower --start\n",
                pressured_at != 0 ? "pressure at the first candidate" : "no candidate measured");
        return 1;
    }
    char total_h[MB_SIZE_STRING_MAX], quiet_h[MB_SIZE_STRING_MAX], rtext[64];
    mib(total, total_h, sizeof total_h);
    mib(last_quiet, quiet_h, sizeof quiet_h);
    char comment[1024];
    if (pressured_at != 0) {
        char at_h[MB_SIZE_STRING_MAX];
        mib(pressured_at, at_h, sizeof at_h);
        snprintf(comment, sizeof comment,
                 "pressure (%s) at %s, last quiet %s of a capacity of %s (%s);\n"
                 "TOTAL is that less a %u%% margin, working set %s, %u ms windows",
                 reason_text(pressure_reasons, rtext, sizeof rtext), at_h, quiet_h, cap_h,
                 src.capacity_from, opts->margin_percent, ws_h, opts->window_ms);
    } else {
        snprintf(comment, sizeof comment,
                 "no pressure up to %s (%s) of a capacity of %s (%s): a lower bound;\n"
                 "TOTAL is that less a %u%% margin, working set %s, %u ms windows",
                 quiet_h, timed_out ? "stopped by --timeout" : "--max", cap_h, src.capacity_from,
                 opts->margin_percent, ws_h, opts->window_ms);
    }
    fprintf(out, "%s\n", comment);
    fprintf(out, "recommended TOTAL %" PRIu64 "K (%s)\n", total / 1024u, total_h);
    if (opts->config != NULL) {
        if (rewrite_config(opts->config, total, comment) < 0)
            status = 1;
        else
            fprintf(out, "wrote TOTAL into %s\n", opts->config);
    }
    return status;
}
