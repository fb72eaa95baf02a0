/* mbconf_check.c: see mbconf_check.h. The advice follows from the design:
 * a device without swap where an OOM kill is a crash, a broker that must
 * outlive its clients, and pressure signals the broker can act on. */
#include "tools/mbconf_check.h"

#include "common/numparse.h"
#include "common/proc_meminfo.h"
#include "common/proc_read.h"
#include "tools/mbfrag_root.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

void mbconf_add(struct mbconf_findings *f, enum mbconf_level level, const char *topic,
                const char *advice, const char *format, ...)
{
    if (f->count >= MBCONF_MAX_FINDINGS)
        return;
    struct mbconf_finding *item = &f->item[f->count++];
    item->level = level;
    item->topic = topic;
    va_list args;
    va_start(args, format);
    vsnprintf(item->text, sizeof item->text, format, args);
    va_end(args);
    snprintf(item->advice, sizeof item->advice, "%s", advice != NULL ? advice : "");
}

static char file_buffer[16 * 1024];

/* Reads a small text file under root, NUL-terminated. NULL when unreadable. */
static const char *read_text(const char *root, const char *path)
{
    size_t len = 0;
    int rc = mbfrag_root_read(root, path, file_buffer, sizeof file_buffer - 1, &len);
    if (rc < 0 && rc != -EFBIG)
        return NULL;
    file_buffer[len] = '\0';
    return file_buffer;
}

static bool read_meminfo(const char *root, struct mb_meminfo *mem)
{
    size_t len = 0;
    if (mbfrag_root_read(root, "/proc/meminfo", file_buffer, sizeof file_buffer, &len) < 0)
        return false;
    return mb_meminfo_parse(file_buffer, len, mem, NULL) == 0;
}

static void check_overcommit(const char *root, const struct mb_meminfo *mem,
                             struct mbconf_findings *f)
{
    uint64_t mode = 0, ratio = 0;
    if (mbfrag_root_read_u64(root, "/proc/sys/vm/overcommit_memory", &mode) < 0) {
        mbconf_add(f, MBCONF_INFO, "overcommit", NULL, "cannot read /proc/sys/vm/overcommit_memory");
        return;
    }
    bool have_ratio = mbfrag_root_read_u64(root, "/proc/sys/vm/overcommit_ratio", &ratio) == 0;
    uint64_t limit = mb_meminfo_get(mem, MB_MEMINFO_COMMIT_LIMIT, 0) / 1024;
    uint64_t committed = mb_meminfo_get(mem, MB_MEMINFO_COMMITTED_AS, 0) / 1024;
    if (mode == 1) {
        mbconf_add(f, MBCONF_WARN, "overcommit",
                   "set vm.overcommit_memory=0 (heuristic), or 2 with an overcommit_ratio that "
                   "covers mbserver's TOTAL, so absurd allocations fail instead of killing",
                   "mode 1 (always): no allocation is ever refused; a shortage ends in an OOM kill");
    } else if (mode == 2) {
        bool tight = committed > limit / 10 * 9;
        mbconf_add(f, tight ? MBCONF_WARN : MBCONF_OK, "overcommit",
                   tight ? "raise vm.overcommit_ratio: programs will see malloc fail soon" : NULL,
                   "mode 2 (strict), ratio %" PRIu64 "%%: CommitLimit %" PRIu64
                   " kB, Committed_AS %" PRIu64 " kB",
                   have_ratio ? ratio : 0, limit, committed);
    } else {
        mbconf_add(f, MBCONF_OK, "overcommit", NULL,
                   "mode %" PRIu64 " (heuristic): only absurd allocations are refused; mbserver's "
                   "quota keeps the rest within RAM",
                   mode);
    }
}

static void check_swap(const char *root, const struct mb_meminfo *mem, struct mbconf_findings *f)
{
    const char *swaps = read_text(root, "/proc/swaps");
    unsigned zram = 0, other = 0;
    if (swaps != NULL) {
        const char *line = strchr(swaps, '\n'); /* skip the header */
        while (line != NULL && line[1] != '\0') {
            line++;
            if (strncmp(line, "/dev/zram", 9) == 0)
                zram++;
            else if (*line != '\n')
                other++;
            line = strchr(line, '\n');
        }
    }
    uint64_t total = mb_meminfo_get(mem, MB_MEMINFO_SWAP_TOTAL, 0) / 1024;
    if (zram == 0 && other == 0)
        mbconf_add(f, MBCONF_OK, "swap", NULL,
                   "none: anonymous memory stays in RAM, as mbserver's TOTAL assumes");
    else if (other == 0)
        mbconf_add(f, MBCONF_INFO, "swap",
                   "zram's compressed pages live in RAM: keep them out of TOTAL (--reserve-kernel)",
                   "zram only: %u device%s, %" PRIu64 " kB", zram, zram == 1 ? "" : "s", total);
    else
        mbconf_add(f, MBCONF_INFO, "swap",
                   "lock the memory of real-time processes (mlockall) so they never wait for swap-in",
                   "%u swap device%s besides zram, %" PRIu64 " kB in all", other,
                   other == 1 ? "" : "s", total);
}

static void check_psi(const char *root, struct mbconf_findings *f)
{
    /* The file exists but fails to read when PSI is built and disabled at boot. */
    if (read_text(root, "/proc/pressure/memory") != NULL)
        mbconf_add(f, MBCONF_OK, "psi", NULL, "/proc/pressure/memory is available");
    else
        mbconf_add(f, MBCONF_WARN, "psi",
                   "build the kernel with CONFIG_PSI=y (and boot with psi=1 if "
                   "CONFIG_PSI_DEFAULT_DISABLED): mbwatch and PRESSURE_RESERVE need it",
                   "no /proc/pressure/memory: the kernel reports no memory pressure");
}

/* True when the space-separated list has `word`. */
static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

static void check_cgroup(const char *root, struct mbconf_findings *f)
{
    static const char *const v2_paths[] = {"/sys/fs/cgroup/cgroup.controllers",
                                           "/sys/fs/cgroup/unified/cgroup.controllers"};
    bool v1 = mbfrag_root_exists(root, "/sys/fs/cgroup/memory/memory.limit_in_bytes");
    bool v2_memory = false;
    const char *v2_where = NULL;
    for (size_t i = 0; i < 2 && !v2_memory; i++) {
        const char *controllers = read_text(root, v2_paths[i]);
        if (controllers == NULL)
            continue;
        v2_where = v2_paths[i];
        v2_memory = has_word(controllers, "memory");
    }
    if (v2_memory)
        mbconf_add(f, MBCONF_OK, "cgroup", NULL, "v2 with the memory controller (%s)", v2_where);
    else if (v1)
        mbconf_add(f, MBCONF_OK, "cgroup", NULL,
                   "v1 memory controller at /sys/fs/cgroup/memory%s",
                   v2_where != NULL ? "; the v2 hierarchy has no memory controller" : "");
    else
        mbconf_add(f, MBCONF_WARN, "cgroup",
                   "enable CONFIG_MEMCG and mount the memory controller (v2: add +memory to "
                   "cgroup.subtree_control) so limits and OOM events can be watched",
                   "no memory cgroup controller (neither v2 cgroup.controllers with memory nor "
                   "v1 /sys/fs/cgroup/memory)");
}

static void check_thp(const char *root, struct mbconf_findings *f)
{
    const char *enabled = read_text(root, "/sys/kernel/mm/transparent_hugepage/enabled");
    if (enabled == NULL) {
        mbconf_add(f, MBCONF_OK, "thp", NULL, "transparent huge pages are not built in");
        return;
    }
    const char *open = strchr(enabled, '['), *close = open ? strchr(open, ']') : NULL;
    if (open == NULL || close == NULL) {
        mbconf_add(f, MBCONF_INFO, "thp", NULL, "cannot tell the THP mode");
        return;
    }
    int n = (int)(close - open - 1);
    if (strncmp(open + 1, "always", 6) == 0 && n == 6)
        mbconf_add(f, MBCONF_WARN, "thp",
                   "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled: huge pages "
                   "inflate sparse heaps past their quota and compaction stalls add latency",
                   "mode always");
    else
        mbconf_add(f, MBCONF_OK, "thp", NULL, "mode %.*s", n, open + 1);
}

static void check_min_free(const char *root, const struct mb_meminfo *mem,
                           struct mbconf_findings *f)
{
    uint64_t kb = 0;
    if (mbfrag_root_read_u64(root, "/proc/sys/vm/min_free_kbytes", &kb) < 0) {
        mbconf_add(f, MBCONF_INFO, "min_free_kbytes", NULL, "cannot read /proc/sys/vm/min_free_kbytes");
        return;
    }
    uint64_t total_kb = mb_meminfo_get(mem, MB_MEMINFO_MEM_TOTAL, 0) / 1024;
    /* In tenths of a percent of MemTotal, for the message. */
    uint64_t permille = total_kb > 0 ? kb * 1000 / total_kb : 0;
    if (total_kb > 0 && kb * 20 > total_kb)
        mbconf_add(f, MBCONF_WARN, "min_free_kbytes",
                   "lower vm.min_free_kbytes: past 5% of RAM the watermarks make kswapd reclaim "
                   "memory that mbserver counts as usable",
                   "%" PRIu64 " kB, %" PRIu64 ".%" PRIu64 "%% of MemTotal", kb, permille / 10,
                   permille % 10);
    else
        mbconf_add(f, MBCONF_OK, "min_free_kbytes", NULL,
                   "%" PRIu64 " kB, %" PRIu64 ".%" PRIu64 "%% of MemTotal", kb, permille / 10,
                   permille % 10);
}

static void check_fuse(const char *root, struct mbconf_findings *f)
{
    if (mbfrag_root_exists(root, "/dev/fuse"))
        mbconf_add(f, MBCONF_OK, "fuse", NULL, "/dev/fuse is present (trackfs can mount)");
    else
        mbconf_add(f, MBCONF_INFO, "fuse",
                   "only trackfs needs it: CONFIG_FUSE_FS, or modprobe fuse",
                   "no /dev/fuse");
}

/* The first process whose comm is "mbserver", by pid. */
static bool find_mbserver(const char *root, uint64_t *pid_out)
{
    char proc[MBFRAG_PATH_MAX];
    if (mbfrag_root_path(root, "/proc", proc, sizeof proc) < 0)
        return false;
    DIR *dir = opendir(proc);
    if (dir == NULL)
        return false;
    bool found = false;
    uint64_t best = UINT64_MAX;
    const struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        uint64_t pid;
        if (mb_parse_u64_exact(entry->d_name, strlen(entry->d_name), &pid) < 0 || pid >= best)
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%" PRIu64 "/comm", pid);
        const char *comm = read_text(root, path);
        if (comm != NULL && strcmp(comm, "mbserver\n") == 0) {
            best = pid;
            found = true;
        }
    }
    closedir(dir);
    *pid_out = best;
    return found;
}

/* "-1000\n" or "300\n": oom_score_adj is within [-1000, 1000]. */
static bool parse_score(const char *text, long long *score)
{
    bool negative = text[0] == '-';
    const char *digits = text + (negative ? 1 : 0);
    uint64_t magnitude = 0;
    if (mb_parse_u64_prefix(digits, strlen(digits), &magnitude) <= 0 || magnitude > 1000)
        return false;
    *score = negative ? -(long long)magnitude : (long long)magnitude;
    return true;
}

void mbconf_check_mbserver_oom(const char *root, uint64_t pid, struct mbconf_findings *f)
{
    if (pid == 0 && !find_mbserver(root, &pid)) {
        mbconf_add(f, MBCONF_INFO, "oom_score_adj", NULL, "no mbserver process is running");
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%" PRIu64 "/oom_score_adj", pid);
    const char *text = read_text(root, path);
    long long adj = 0;
    if (text == NULL || !parse_score(text, &adj)) {
        mbconf_add(f, MBCONF_INFO, "oom_score_adj", NULL, "mbserver (pid %" PRIu64
                   "): cannot read its oom_score_adj", pid);
        return;
    }
    if (adj <= -1000)
        mbconf_add(f, MBCONF_OK, "oom_score_adj", NULL,
                   "mbserver (pid %" PRIu64 ") is exempt from the OOM killer (-1000)", pid);
    else
        mbconf_add(f, MBCONF_WARN, "oom_score_adj",
                   "start mbserver with OOMScoreAdjust=-1000 (systemd) or write -1000 to its "
                   "/proc/PID/oom_score_adj as root: the broker must outlive its clients",
                   "mbserver (pid %" PRIu64 ") has oom_score_adj %lld: the OOM killer may pick it",
                   pid, adj);
}

void mbconf_check_system(const char *root, struct mbconf_findings *f)
{
    static struct mb_meminfo mem;
    if (!read_meminfo(root, &mem)) {
        mem = (struct mb_meminfo){0};
        mbconf_add(f, MBCONF_WARN, "meminfo", NULL, "cannot read /proc/meminfo");
    }
    check_overcommit(root, &mem, f);
    check_swap(root, &mem, f);
    check_psi(root, f);
    check_cgroup(root, f);
    check_thp(root, f);
    check_min_free(root, &mem, f);
    check_fuse(root, f);
}

void mbconf_print_findings(FILE *out, const struct mbconf_findings *f)
{
    static const char *const names[] = {"ok", "info", "WARN"};
    for (size_t i = 0; i < f->count; i++) {
        const struct mbconf_finding *item = &f->item[i];
        fprintf(out, "%-4s  %s: %s\n", names[item->level], item->topic, item->text);
        if (item->advice[0] != '\0')
            fprintf(out, "      advice: %s\n", item->advice);
    }
}

bool mbconf_needs_attention(const struct mbconf_findings *f)
{
    for (size_t i = 0; i < f->count; i++)
        if (f->item[i].level == MBCONF_WARN)
            return true;
    return false;
}
