/* mbserver: the membroker daemon. Owns the device's memory quota and hands
 * it out to clients over a unix socket. See docs/man/mbserver.8. */
#include "broker/sd_daemon.h"
#include "broker/server.h"
#include "broker/server_config.h"
#include "common/config.h"
#include "common/log.h"
#include "common/proc_meminfo.h"
#include "common/proc_read.h"
#include "common/units.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

enum { EXIT_CONFIG = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3 };

static void usage(FILE *to)
{
    fprintf(to,
            "usage: mbserver [--socket PATH] [--total AMOUNT] [--config FILE] [--foreground]\n"
            "                [--log-level LEVEL]\n"
            "       mbserver --check-config FILE\n"
            "\n"
            "  --socket PATH        listen here (default " MB_SERVER_DEFAULT_SOCKET ")\n"
            "  --total AMOUNT       quota to hand out: 64M, 16384p, 80%%, \"all-except 200M\"\n"
            "  --config FILE        config file (default " MB_SERVER_DEFAULT_CONFIG " if present)\n"
            "  --foreground         do not detach (for systemd and tests)\n"
            "  --log-level LEVEL    err, warning, notice, info (default) or debug\n"
            "  --check-config FILE  parse FILE, print what it resolves to, exit 0 if valid\n"
            "Environment: MBSERVER_<KEY> overrides a config key; LISTEN_FDS for socket activation.\n"
            "Exit status: 0 clean shutdown or valid config, 1 config error, 2 usage, 3 runtime error.\n");
}

static int read_memtotal(uint64_t *bytes)
{
    char buf[8192];
    size_t len = 0;
    int rc = mb_proc_read("/proc/meminfo", buf, sizeof buf, &len);
    if (rc < 0 && rc != -EFBIG)
        return rc;
    struct mb_meminfo info;
    size_t line = 0;
    if (mb_meminfo_parse(buf, len, &info, &line) < 0)
        return -EINVAL;
    *bytes = mb_meminfo_get(&info, MB_MEMINFO_MEM_TOTAL, 0);
    return *bytes > 0 ? 0 : -ENODATA;
}

struct cli {
    const char *socket;
    const char *total;
    const char *config;
    const char *log_level;
    bool foreground;
    bool check_only;
};

/* Loads the file (if any), the environment, then the command line. */
static int load_config(const struct cli *cli, struct mbserver_file_config *fc)
{
    static struct mbserver_file_config scratch;
    struct mb_config_error err;
    const char *path = cli->config;
    if (path == NULL && access(MB_SERVER_DEFAULT_CONFIG, F_OK) == 0)
        path = MB_SERVER_DEFAULT_CONFIG;
    mbserver_file_config_defaults(fc);
    if (mb_config_load(&mbserver_config_schema, path, environ, fc, &scratch, &err) < 0) {
        char text[512];
        mb_config_error_format(&err, text, sizeof text);
        fprintf(stderr, "mbserver: %s\n", text);
        return -EINVAL;
    }
    if (cli->socket != NULL) {
        if (strlen(cli->socket) >= sizeof fc->socket) {
            fprintf(stderr, "mbserver: --socket: path longer than %zu bytes\n", sizeof fc->socket - 1);
            return -EINVAL;
        }
        snprintf(fc->socket, sizeof fc->socket, "%s", cli->socket);
    }
    if (cli->total != NULL) {
        char why_text[160];
        struct mb_strbuf why;
        mb_strbuf_init(&why, why_text, sizeof why_text);
        if (mb_value_parse_size(cli->total, strlen(cli->total),
                                MB_SIZE_ALLOW_PERCENT | MB_SIZE_ALLOW_ALL_EXCEPT, &fc->total,
                                &why) < 0) {
            fprintf(stderr, "mbserver: --total \"%s\": %s\n", cli->total, why_text);
            return -EINVAL;
        }
        fc->present[MBS_TOTAL] = true;
    }
    if (cli->log_level != NULL) {
        if (strlen(cli->log_level) >= sizeof fc->log_level) {
            fprintf(stderr, "mbserver: --log-level: unknown level \"%s\"\n", cli->log_level);
            return -EINVAL;
        }
        snprintf(fc->log_level, sizeof fc->log_level, "%s", cli->log_level);
    }
    return 0;
}

/* Detaches; the parent exits once the child says it serves (or failed). */
static int daemonize(int *ready_fd)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0) {
        close(pipefd[1]);
        char byte = 0;
        ssize_t got = read(pipefd[0], &byte, 1);
        _exit(got == 1 ? 0 : EXIT_RUNTIME);
    }
    close(pipefd[0]);
    if (setsid() < 0)
        return -errno;
    if (chdir("/") < 0)
        return -errno;
    *ready_fd = pipefd[1];
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"socket", required_argument, NULL, 's'},   {"total", required_argument, NULL, 't'},
        {"config", required_argument, NULL, 'c'},   {"foreground", no_argument, NULL, 'f'},
        {"check-config", required_argument, NULL, 'k'}, {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},           {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct cli cli = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "s:t:c:fk:l:hV", long_options, NULL)) != -1) {
        switch (opt) {
        case 's': cli.socket = optarg; break;
        case 't': cli.total = optarg; break;
        case 'c': cli.config = optarg; break;
        case 'f': cli.foreground = true; break;
        case 'k': cli.config = optarg; cli.check_only = true; break;
        case 'l': cli.log_level = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("mbserver %s\n", MB_VERSION); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mbserver: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }

    static struct mbserver_file_config fc;
    if (load_config(&cli, &fc) < 0)
        return EXIT_CONFIG;
    uint64_t memtotal = 0;
    if (read_memtotal(&memtotal) < 0) {
        fprintf(stderr, "mbserver: cannot read MemTotal from /proc/meminfo\n");
        return EXIT_RUNTIME;
    }
    static struct mb_server_options opts;
    char why[256];
    if (mbserver_options_from_config(&fc, memtotal, mb_page_size(), &opts, why, sizeof why) < 0) {
        fprintf(stderr, "mbserver: %s\n", why);
        return EXIT_CONFIG;
    }
    if (cli.check_only) {
        printf("%s: ok: total %llu pages of %u bytes, socket %s, at most %u clients\n", cli.config,
               (unsigned long long)opts.broker.total_pages, (unsigned)opts.broker.page_size,
               opts.socket_path, (unsigned)opts.broker.max_clients);
        static char classes[16384];
        (void)mbserver_format_classes(&opts.broker, classes, sizeof classes);
        fputs(classes, stdout);
        return 0;
    }

    mb_log_init_stderr("mbserver", mbserver_parse_log_level(fc.log_level));
    int activated = mb_sd_listen_fds(getenv("LISTEN_PID"), getenv("LISTEN_FDS"), getpid());
    if (activated < 0) {
        mb_log(MB_LOG_ERR, "LISTEN_PID/LISTEN_FDS are malformed");
        return EXIT_RUNTIME;
    }
    if (activated > 1)
        mb_log(MB_LOG_WARNING, "systemd passed %d sockets; using the first", activated);
    if (activated >= 1) {
        opts.listen_fd = MB_SD_LISTEN_FDS_START;
        (void)fcntl(opts.listen_fd, F_SETFD, FD_CLOEXEC);
        (void)fcntl(opts.listen_fd, F_SETFL, fcntl(opts.listen_fd, F_GETFL) | O_NONBLOCK);
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    opts.notify_socket = getenv("NOTIFY_SOCKET");

    int ready_fd = -1;
    if (!cli.foreground && daemonize(&ready_fd) < 0) {
        mb_log(MB_LOG_ERR, "cannot detach: %m");
        return EXIT_RUNTIME;
    }
    int rc = mb_server_block_signals();
    struct mb_server *server = NULL;
    if (rc == 0)
        rc = mb_server_create(&opts, &server);
    if (rc < 0)
        return EXIT_RUNTIME;
    if (ready_fd >= 0) {
        (void)!write(ready_fd, "1", 1);
        close(ready_fd);
    }
    rc = mb_server_run(server);
    mb_server_destroy(server);
    return rc < 0 ? EXIT_RUNTIME : 0;
}
