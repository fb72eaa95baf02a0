/* mbfrag: external fragmentation per zone and order, one-shot reclaim and
 * compaction with a before/after report, and CSV sampling for plots.
 * See docs/man/mbfrag.8. */
#include "common/clock.h"
#include "common/config_value.h"
#include "common/numparse.h"
#include "common/units.h"
#include "tools/mbfrag_reclaim.h"
#include "tools/mbfrag_report.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum exit_code { EXIT_OK = 0, EXIT_STEP_FAILED = 1, EXIT_USAGE = 2, EXIT_READ = 3 };

static void usage(FILE *to)
{
    fprintf(to,
        "usage: mbfrag [show] [--buddyinfo FILE] [--json] [--root DIR]\n"
        "       mbfrag reclaim [--dry-run] [--drop-caches 0|1|2|3] [--no-sync] [--no-compact]\n"
        "                      [--node-reclaim] [--cgroup PATH] [--passes N] [--threshold SIZE]\n"
        "                      [--root DIR]\n"
        "       mbfrag watch [--interval DURATION] [--count N] [--root DIR]\n"
        "\n"
        "  show     per node and zone: free blocks per order, the kernel's unusable and\n"
        "           fragmentation indices, the level in %%, the average level; free memory\n"
        "  reclaim  sync, drop caches, compact (and optionally reclaim per node or in a\n"
        "           memory cgroup), repeated while a pass gains at least the threshold\n"
        "           (default 1M) up to N passes (default 10); prints before and after\n"
        "  watch    CSV samples every interval (default 1 s; \"500ms\" works)\n"
        "\n"
        "--root DIR reads and writes every /proc and /sys path under DIR.\n"
        "Exit status: 0 done, 1 a reclaim step failed, 2 usage error,\n"
        "3 cannot read /proc/buddyinfo or /proc/meminfo.\n");
}

static int cmd_show(const char *root, const char *buddyinfo, bool json)
{
    static struct mbfrag_snapshot snap;
    char why[256];
    if (mbfrag_snapshot_read(root, buddyinfo, &snap, why, sizeof why) < 0) {
        fprintf(stderr, "mbfrag: %s\n", why);
        return EXIT_READ;
    }
    if (json)
        mbfrag_print_json(stdout, &snap, mb_page_size());
    else
        mbfrag_print_table(stdout, &snap, mb_page_size());
    return EXIT_OK;
}

static int cmd_reclaim(const struct mbfrag_reclaim_options *opts)
{
    static struct mbfrag_snapshot before, after;
    struct mbfrag_reclaim_result result;
    char why[256];
    setvbuf(stdout, NULL, _IOLBF, 0); /* a step's line shows before the next step blocks */
    if (mbfrag_reclaim_run(opts, stdout, &before, &after, &result, why, sizeof why) < 0) {
        fprintf(stderr, "mbfrag: %s\n", why);
        return EXIT_READ;
    }
    if (!opts->dry_run)
        mbfrag_print_reclaim_report(stdout, &before, &after, &result);
    return result.failed_steps > 0 ? EXIT_STEP_FAILED : EXIT_OK;
}

static int cmd_watch(const char *root, uint64_t interval_ms, uint64_t count)
{
    static struct mbfrag_snapshot snap;
    char why[256];
    for (uint64_t i = 0; count == 0 || i < count; i++) {
        if (i > 0) {
            struct timespec ts = mb_ns_to_timespec(mb_ms_to_ns(interval_ms));
            while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
            }
        }
        if (mbfrag_snapshot_read(root, NULL, &snap, why, sizeof why) < 0) {
            fprintf(stderr, "mbfrag: %s\n", why);
            return EXIT_READ;
        }
        if (i == 0)
            mbfrag_print_csv_header(stdout, &snap);
        mbfrag_print_csv_row(stdout, &snap, mb_clock_realtime_ns());
        fflush(stdout);
    }
    return EXIT_OK;
}

static bool parse_count(const char *text, const char *what, uint64_t min, uint64_t *out)
{
    if (mb_parse_u64_exact(text, strlen(text), out) < 0 || *out < min) {
        fprintf(stderr, "mbfrag: %s \"%s\": want a number of at least %llu\n", what, text,
                (unsigned long long)min);
        return false;
    }
    return true;
}

static bool parse_threshold(const char *text, uint64_t *bytes)
{
    char why_text[160] = "";
    struct mb_strbuf why;
    mb_strbuf_init(&why, why_text, sizeof why_text);
    struct mb_size size;
    if (mb_value_parse_size(text, strlen(text), 0, &size, &why) < 0 ||
        mb_size_resolve(&size, mb_page_size(), 0, bytes) < 0) {
        fprintf(stderr, "mbfrag: --threshold \"%s\": %s\n", text,
                why_text[0] != '\0' ? why_text : "too large");
        return false;
    }
    return true;
}

enum { OPT_BUDDYINFO = 256, OPT_JSON, OPT_ROOT, OPT_DRY_RUN, OPT_DROP_CACHES, OPT_NO_SYNC,
       OPT_NO_COMPACT, OPT_NODE_RECLAIM, OPT_CGROUP, OPT_PASSES, OPT_THRESHOLD, OPT_INTERVAL,
       OPT_COUNT, OPT_HELP };

int main(int argc, char **argv)
{
    const char *command = "show";
    int first = 1;
    if (argc > 1 && argv[1][0] != '-') {
        command = argv[1];
        first = 2;
    }
    bool is_show = strcmp(command, "show") == 0, is_reclaim = strcmp(command, "reclaim") == 0,
         is_watch = strcmp(command, "watch") == 0;
    if (strcmp(command, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!is_show && !is_reclaim && !is_watch) {
        fprintf(stderr, "mbfrag: unknown command \"%s\"\n", command);
        usage(stderr);
        return EXIT_USAGE;
    }
    static const struct option options[] = {
        {"buddyinfo", required_argument, NULL, OPT_BUDDYINFO},
        {"json", no_argument, NULL, OPT_JSON},
        {"root", required_argument, NULL, OPT_ROOT},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"drop-caches", required_argument, NULL, OPT_DROP_CACHES},
        {"no-sync", no_argument, NULL, OPT_NO_SYNC},
        {"no-compact", no_argument, NULL, OPT_NO_COMPACT},
        {"node-reclaim", no_argument, NULL, OPT_NODE_RECLAIM},
        {"cgroup", required_argument, NULL, OPT_CGROUP},
        {"passes", required_argument, NULL, OPT_PASSES},
        {"threshold", required_argument, NULL, OPT_THRESHOLD},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"count", required_argument, NULL, OPT_COUNT},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct mbfrag_reclaim_options reclaim;
    mbfrag_reclaim_options_defaults(&reclaim);
    const char *root = NULL, *buddyinfo = NULL;
    bool json = false;
    uint64_t interval_ms = 1000, count = 0, number = 0;
    char why_text[160] = "";
    struct mb_strbuf why;
    mb_strbuf_init(&why, why_text, sizeof why_text);

    optind = first;
    int opt;
    while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
        /* Options that belong to another command are usage errors. */
        bool show_only = opt == OPT_BUDDYINFO || opt == OPT_JSON;
        bool reclaim_only = opt >= OPT_DRY_RUN && opt <= OPT_THRESHOLD;
        bool watch_only = opt == OPT_INTERVAL || opt == OPT_COUNT;
        if ((show_only && !is_show) || (reclaim_only && !is_reclaim) || (watch_only && !is_watch)) {
            const char *name = "?";
            for (const struct option *o = options; o->name != NULL; o++)
                if (o->val == opt)
                    name = o->name;
            fprintf(stderr, "mbfrag: %s: option --%s does not apply\n", command, name);
            return EXIT_USAGE;
        }
        switch (opt) {
        case OPT_BUDDYINFO: buddyinfo = optarg; break;
        case OPT_JSON: json = true; break;
        case OPT_ROOT: root = optarg; reclaim.root = optarg; break;
        case OPT_DRY_RUN: reclaim.dry_run = true; break;
        case OPT_DROP_CACHES:
            if (strlen(optarg) != 1 || optarg[0] < '0' || optarg[0] > '3') {
                fprintf(stderr, "mbfrag: --drop-caches \"%s\": want 0, 1, 2 or 3\n", optarg);
                return EXIT_USAGE;
            }
            reclaim.drop_caches = (unsigned)(optarg[0] - '0');
            break;
        case OPT_NO_SYNC: reclaim.sync = false; break;
        case OPT_NO_COMPACT: reclaim.compact = false; break;
        case OPT_NODE_RECLAIM: reclaim.node_reclaim = true; break;
        case OPT_CGROUP:
            if (optarg[0] != '/') {
                fprintf(stderr, "mbfrag: --cgroup \"%s\": want an absolute path\n", optarg);
                return EXIT_USAGE;
            }
            reclaim.cgroup = optarg;
            break;
        case OPT_PASSES:
            if (!parse_count(optarg, "--passes", 1, &number) || number > 1000) {
                if (number > 1000)
                    fprintf(stderr, "mbfrag: --passes \"%s\": at most 1000\n", optarg);
                return EXIT_USAGE;
            }
            reclaim.passes = (unsigned)number;
            break;
        case OPT_THRESHOLD:
            if (!parse_threshold(optarg, &reclaim.threshold_bytes))
                return EXIT_USAGE;
            break;
        case OPT_INTERVAL:
            if (mb_value_parse_duration(optarg, strlen(optarg), MB_DURATION_S, &interval_ms,
                                        &why) < 0 || interval_ms == 0) {
                fprintf(stderr, "mbfrag: --interval \"%s\": %s\n", optarg,
                        why_text[0] != '\0' ? why_text : "must be more than 0");
                return EXIT_USAGE;
            }
            break;
        case OPT_COUNT:
            if (!parse_count(optarg, "--count", 0, &count))
                return EXIT_USAGE;
            break;
        case OPT_HELP: usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mbfrag: unexpected argument \"%s\"\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (is_show)
        return cmd_show(root, buddyinfo, json);
    if (is_reclaim)
        return cmd_reclaim(&reclaim);
    return cmd_watch(root, interval_ms, count);
}
