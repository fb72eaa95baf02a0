/* mbconf_check.h: an audit of the kernel settings membroker depends on.
 *
 * Each check reads files under `root` (see mbfrag_root.h) and adds one
 * finding: a level, a topic, what was found and, when it needs attention,
 * what to do. Whether mbserver answers on its socket is checked by the
 * program (it needs libmbclient) and added with mbconf_add.
 */
#ifndef MB_TOOLS_MBCONF_CHECK_H
#define MB_TOOLS_MBCONF_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum mbconf_level {
    MBCONF_OK,    /* as membroker wants it */
    MBCONF_INFO,  /* worth knowing, nothing to do */
    MBCONF_WARN,  /* needs attention: `mbconf check` exits 1 */
};

#define MBCONF_MAX_FINDINGS 32
#define MBCONF_TEXT_MAX 240

struct mbconf_finding {
    enum mbconf_level level;
    const char *topic; /* a constant: "overcommit", "swap", ... */
    char text[MBCONF_TEXT_MAX];
    char advice[MBCONF_TEXT_MAX]; /* "" when there is nothing to do */
};

struct mbconf_findings {
    size_t count;
    struct mbconf_finding item[MBCONF_MAX_FINDINGS];
};

/* Appends a finding (dropped past MBCONF_MAX_FINDINGS); advice may be NULL. */
void mbconf_add(struct mbconf_findings *f, enum mbconf_level level, const char *topic,
                const char *advice, const char *format, ...) __attribute__((format(printf, 5, 6)));

/* Runs every kernel check in order: overcommit, swap, psi, cgroup, thp,
 * min_free_kbytes, fuse. Blocks only on reads of kernel files. */
void mbconf_check_system(const char *root, struct mbconf_findings *f);

/* mbserver's oom_score_adj from root/proc/PID: pid is the server behind the
 * socket (from SO_PEERCRED), or 0 to take the lowest pid whose comm is
 * "mbserver". -1000 is ok; anything else is a warning; no such process is
 * info. Blocks only on reads of /proc. */
void mbconf_check_mbserver_oom(const char *root, uint64_t pid, struct mbconf_findings *f);

/* Prints each finding as "LEVEL  topic: text" and an indented advice line. */
void mbconf_print_findings(FILE *out, const struct mbconf_findings *f);

/* True when a finding is MBCONF_WARN. */
bool mbconf_needs_attention(const struct mbconf_findings *f);

#endif
