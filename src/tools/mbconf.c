/* mbconf: writes mbserver's configuration from installed RAM and audits the
 * kernel settings membroker depends on. See docs/man/mbconf.8. */
#include "common/config_value.h"
#include "common/proc_meminfo.h"
#include "common/units.h"
#include "membroker/client.h"
#include "tools/mbconf_check.h"
#include "tools/mbconf_generate.h"
#include "tools/mbconf_tune_run.h"
#include "tools/mbfrag_root.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum exit_code { EXIT_OK = 0, EXIT_ATTENTION = 1, EXIT_USAGE = 2 };

/* The longest socket path mbserver accepts (sun_path less its NUL). */
#define SOCKET_PATH_MAX 107

static void usage(FILE *to)
{
    fprintf(to,
        "usage: mbconf generate [--root DIR] [--output FILE] [--socket PATH]\n"
        "                       [--reserve-kernel SIZE] [--reserve-cache SIZE]\n"
        "                       [--reserve-stacks SIZE] [--reserve-dma SIZE]\n"
        "       mbconf check [--root DIR] [--socket PATH]\n"
        "       mbconf tune [--cgroup DIR] [--config FILE] [--start SIZE] [--step SIZE]\n"
        "                   [--max SIZE] [--working-set SIZE] [--margin PERCENT]\n"
        "                   [--window MS] [--timeout S] [--psi-permille N]\n"
        "                   [--majfault-rate N] [--workdir DIR]\n"
        "\n"
        "  generate  an mbserver config whose TOTAL is MemTotal minus the reserves:\n"
        "            kernel (measured from meminfo, +25%%), page cache (12.5%% of MemTotal),\n"
        "            thread stacks (8M), DMA (CmaTotal); each figure explained in comments\n"
        "  check     audits overcommit, swap and zram, PSI, memory cgroups, THP,\n"
        "            min_free_kbytes, FUSE, whether mbserver answers, its oom_score_adj\n"
        "  tune      holds more and more memory (start 50%%, step 5%%, up to 100%% of the\n"
        "            capacity: MemTotal, or the limit of --cgroup) while reading a working\n"
        "            set (12.5%%); at the first window with pressure (PSI some >= 5%%, or\n"
        "            >= 50 major faults/s, or the OOM killer) it recommends the last quiet\n"
        "            amount less a margin (10%%) as TOTAL, and writes it into --config\n"
        "\n"
        "SIZE: bytes with K, M, G or T, pages with p, or a percentage of MemTotal (10%%;\n"
        "tune: of the capacity).\n"
        "--root DIR reads every /proc, /sys and /dev path under DIR.\n"
        "Exit status: 0 done (check: nothing needs attention), 1 generate or tune failed\n"
        "or check found something that needs attention, 2 usage error, 130 tune stopped\n"
        "by a signal (nothing written).\n");
}

static int read_meminfo(const char *root, struct mb_meminfo *mem)
{
    static char buf[16 * 1024];
    size_t len = 0;
    int rc = mbfrag_root_read(root, "/proc/meminfo", buf, sizeof buf, &len);
    if (rc < 0) {
        fprintf(stderr, "mbconf: cannot read meminfo: %s\n", strerror(-rc));
        return rc;
    }
    size_t line = 0;
    rc = mb_meminfo_parse(buf, len, mem, &line);
    if (rc < 0)
        fprintf(stderr, "mbconf: meminfo line %zu: malformed\n", line);
    return rc;
}

static int cmd_generate(const char *root, const char *output, const char *socket,
                        const struct mbconf_overrides *overrides)
{
    static struct mb_meminfo mem;
    if (read_meminfo(root, &mem) < 0)
        return EXIT_ATTENTION;
    struct mbconf_plan plan;
    char why[256];
    if (mbconf_plan_compute(&mem, overrides, mb_page_size(), &plan, why, sizeof why) < 0) {
        fprintf(stderr, "mbconf: %s\n", why);
        return EXIT_ATTENTION;
    }
    FILE *out = stdout;
    if (output != NULL && (out = fopen(output, "w")) == NULL) {
        fprintf(stderr, "mbconf: cannot write %s: %s\n", output, strerror(errno));
        return EXIT_ATTENTION;
    }
    mbconf_write_config(out, &plan, socket);
    if (out != stdout) {
        if (fclose(out) != 0) {
            fprintf(stderr, "mbconf: cannot write %s: %s\n", output, strerror(errno));
            return EXIT_ATTENTION;
        }
        char human[MB_SIZE_STRING_MAX];
        mb_format_size(plan.total, human, sizeof human);
        printf("wrote %s: TOTAL %lluK (%s)\n", output, (unsigned long long)(plan.total / 1024),
               human);
    }
    return EXIT_OK;
}

/* The pid of the process listening on the socket, from SO_PEERCRED: the
 * mbserver that serves this socket, even when several run. 0 if unknown. */
static uint64_t server_pid(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    struct ucred cred = {0};
    socklen_t len = sizeof cred;
    uint64_t pid = 0;
    if (connect(fd, (const struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
        pid = (uint64_t)cred.pid;
    close(fd);
    return pid;
}

static void check_broker(const char *root, const char *socket, struct mbconf_findings *f)
{
    const char *path = socket;
    if (path == NULL)
        path = getenv(MB_CLIENT_SOCKET_ENV);
    if (path == NULL || path[0] == '\0')
        path = MB_CLIENT_DEFAULT_SOCKET;
    static struct mb_client client;
    struct mb_client_options opts;
    mb_client_options_init(&opts);
    opts.socket_path = path;
    opts.name = "mbconf-check";
    struct mb_client_info info;
    int rc = mb_client_init(&client, &opts);
    if (rc == 0)
        rc = mb_client_connect_timeout(&client, 1000);
    if (rc == 0)
        rc = mb_client_get_info_timeout(&client, &info, 1000);
    if (rc == 0)
        mbconf_add(f, MBCONF_OK, "mbserver", NULL,
                   "answers at %s: total %llu pages of %u bytes, %llu in the pool", path,
                   (unsigned long long)info.total, (unsigned)info.page_size,
                   (unsigned long long)info.pool);
    else
        mbconf_add(f, MBCONF_WARN, "mbserver",
                   "start mbserver (systemctl start mbserver), or name its socket with --socket "
                   "or MEMBROKER_SOCKET",
                   "not reachable at %s: %s", path, mb_client_strerror(rc));
    mb_client_destroy(&client);
    mbconf_check_mbserver_oom(root, rc == 0 ? server_pid(path) : 0, f);
}

static int cmd_check(const char *root, const char *socket)
{
    static struct mbconf_findings findings;
    mbconf_check_system(root, &findings);
    check_broker(root, socket, &findings);
    mbconf_print_findings(stdout, &findings);
    bool attention = mbconf_needs_attention(&findings);
    printf("%s\n", attention ? "something needs attention (WARN above)" : "nothing needs attention");
    return attention ? EXIT_ATTENTION : EXIT_OK;
}

/* ---- tune --------------------------------------------------------------- */

enum { TUNE_CGROUP = 300, TUNE_CONFIG, TUNE_START, TUNE_STEP, TUNE_MAX, TUNE_WORKING_SET,
       TUNE_MARGIN, TUNE_WINDOW, TUNE_TIMEOUT, TUNE_PSI, TUNE_MAJFAULT, TUNE_WORKDIR, TUNE_HELP };

/* A number in [min, max] from an option's text; false after a message. */
static bool tune_number(const char *name, const char *text, uint64_t min, uint64_t max,
                        uint64_t *out)
{
    char why_text[160] = "";
    struct mb_strbuf why;
    mb_strbuf_init(&why, why_text, sizeof why_text);
    if (mb_value_parse_u64(text, strlen(text), out, &why) < 0) {
        fprintf(stderr, "mbconf: tune: --%s \"%s\": %s\n", name, text, why_text);
        return false;
    }
    if (*out < min || *out > max) {
        fprintf(stderr, "mbconf: tune: --%s %s: want %llu to %llu\n", name, text,
                (unsigned long long)min, (unsigned long long)max);
        return false;
    }
    return true;
}

static int cmd_tune(int argc, char **argv)
{
    static const struct option options[] = {
        {"cgroup", required_argument, NULL, TUNE_CGROUP},
        {"config", required_argument, NULL, TUNE_CONFIG},
        {"start", required_argument, NULL, TUNE_START},
        {"step", required_argument, NULL, TUNE_STEP},
        {"max", required_argument, NULL, TUNE_MAX},
        {"working-set", required_argument, NULL, TUNE_WORKING_SET},
        {"margin", required_argument, NULL, TUNE_MARGIN},
        {"window", required_argument, NULL, TUNE_WINDOW},
        {"timeout", required_argument, NULL, TUNE_TIMEOUT},
        {"psi-permille", required_argument, NULL, TUNE_PSI},
        {"majfault-rate", required_argument, NULL, TUNE_MAJFAULT},
        {"workdir", required_argument, NULL, TUNE_WORKDIR},
        {"help", no_argument, NULL, TUNE_HELP},
        {NULL, 0, NULL, 0},
    };
    struct mbconf_tune_options opts;
    mbconf_tune_options_init(&opts);
    optind = 2;
    int opt;
    uint64_t number;
    while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
        const char *name = opt >= TUNE_CGROUP && opt <= TUNE_HELP ? options[opt - TUNE_CGROUP].name : "";
        struct mb_size *size = NULL;
        switch (opt) {
        case TUNE_CGROUP: opts.cgroup = optarg; break;
        case TUNE_CONFIG: opts.config = optarg; break;
        case TUNE_WORKDIR: opts.workdir = optarg; break;
        case TUNE_START: size = &opts.start; break;
        case TUNE_STEP: size = &opts.step; break;
        case TUNE_MAX: size = &opts.max; break;
        case TUNE_WORKING_SET: size = &opts.working_set; break;
        case TUNE_MARGIN:
            if (!tune_number(name, optarg, 0, 99, &number))
                return EXIT_USAGE;
            opts.margin_percent = (uint32_t)number;
            break;
        case TUNE_WINDOW:
            if (!tune_number(name, optarg, 100, 600000, &number))
                return EXIT_USAGE;
            opts.window_ms = (unsigned)number;
            break;
        case TUNE_TIMEOUT:
            if (!tune_number(name, optarg, 1, 86400, &number))
                return EXIT_USAGE;
            opts.timeout_s = (unsigned)number;
            break;
        case TUNE_PSI:
            if (!tune_number(name, optarg, 0, 1000, &number))
                return EXIT_USAGE;
            opts.limits.psi_some_permille = (uint32_t)number;
            break;
        case TUNE_MAJFAULT:
            if (!tune_number(name, optarg, 0, 1000000, &number))
                return EXIT_USAGE;
            opts.limits.majfaults_per_second = (uint32_t)number;
            break;
        case TUNE_HELP: usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
        if (size != NULL) {
            char why_text[160] = "";
            struct mb_strbuf why;
            mb_strbuf_init(&why, why_text, sizeof why_text);
            if (mb_value_parse_size(optarg, strlen(optarg), MB_SIZE_ALLOW_PERCENT, size, &why) < 0) {
                fprintf(stderr, "mbconf: tune: --%s \"%s\": %s\n", name, optarg, why_text);
                return EXIT_USAGE;
            }
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mbconf: unexpected argument \"%s\"\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (opts.limits.psi_some_permille == 0 && opts.limits.majfaults_per_second == 0) {
        fprintf(stderr, "mbconf: tune: --psi-permille 0 and --majfault-rate 0 leave only the OOM "
                        "killer to notice pressure; set one of them\n");
        return EXIT_USAGE;
    }
    return mbconf_tune_run(&opts, stdout);
}

enum { OPT_ROOT = 256, OPT_OUTPUT, OPT_SOCKET, OPT_KERNEL, OPT_CACHE, OPT_STACKS, OPT_DMA,
       OPT_HELP };

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *command = argv[1];
    if (strcmp(command, "tune") == 0)
        return cmd_tune(argc, argv);
    bool generate = strcmp(command, "generate") == 0, check = strcmp(command, "check") == 0;
    if (!generate && !check) {
        fprintf(stderr, "mbconf: unknown command \"%s\"\n", command);
        usage(stderr);
        return EXIT_USAGE;
    }
    static const struct option options[] = {
        {"root", required_argument, NULL, OPT_ROOT},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"reserve-kernel", required_argument, NULL, OPT_KERNEL},
        {"reserve-cache", required_argument, NULL, OPT_CACHE},
        {"reserve-stacks", required_argument, NULL, OPT_STACKS},
        {"reserve-dma", required_argument, NULL, OPT_DMA},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *root = NULL, *output = NULL, *socket = NULL;
    struct mbconf_overrides overrides = {0};
    optind = 2;
    int opt;
    while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
        if (check && opt >= OPT_OUTPUT && opt != OPT_SOCKET && opt != OPT_HELP) {
            fprintf(stderr, "mbconf: check: option --%s does not apply\n",
                    options[opt - OPT_ROOT].name);
            return EXIT_USAGE;
        }
        switch (opt) {
        case OPT_ROOT: root = optarg; break;
        case OPT_OUTPUT: output = optarg; break;
        case OPT_SOCKET:
            if (strlen(optarg) == 0 || strlen(optarg) > SOCKET_PATH_MAX || strchr(optarg, '"')) {
                fprintf(stderr, "mbconf: --socket: want a path of 1 to %d bytes without '\"'\n",
                        SOCKET_PATH_MAX);
                return EXIT_USAGE;
            }
            socket = optarg;
            break;
        case OPT_KERNEL:
        case OPT_CACHE:
        case OPT_STACKS:
        case OPT_DMA: {
            int which = opt - OPT_KERNEL;
            char why_text[160] = "";
            struct mb_strbuf why;
            mb_strbuf_init(&why, why_text, sizeof why_text);
            if (mb_value_parse_size(optarg, strlen(optarg), MB_SIZE_ALLOW_PERCENT,
                                    &overrides.size[which], &why) < 0) {
                fprintf(stderr, "mbconf: --%s \"%s\": %s\n", options[opt - OPT_ROOT].name, optarg,
                        why_text);
                return EXIT_USAGE;
            }
            overrides.set[which] = true;
            break;
        }
        case OPT_HELP: usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mbconf: unexpected argument \"%s\"\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (generate)
        return cmd_generate(root, output, socket, &overrides);
    return cmd_check(root, socket);
}
