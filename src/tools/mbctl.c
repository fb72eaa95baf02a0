/* mbctl: membroker from the shell. Asks for, holds and returns quota, and
 * shows the broker's books (table, JSON, live). See docs/man/mbctl.1. */
#include "common/config_value.h"
#include "common/units.h"
#include "membroker/client.h"
#include "tools/status_format.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

enum exit_code { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_BROKER = 3 };

static void usage(FILE *to)
{
    fprintf(to,
        "usage: mbctl [--socket PATH] [--timeout MS] COMMAND...\n"
        "\n"
        "  status [--json]              the broker's books: totals, classes, clients\n"
        "  watch [--interval MS] [--count N]\n"
        "                               status redrawn every interval (default 1000 ms)\n"
        "  query                        page size, total and pool as this client sees them\n"
        "  request AMOUNT               ask for up to AMOUNT (the broker may grant less)\n"
        "  reserve AMOUNT [--deadline MS]\n"
        "                               ask for all of AMOUNT or nothing\n"
        "  return AMOUNT                give back AMOUNT of what this mbctl took\n"
        "  hold AMOUNT [--reserve] [--bidirectional] [--keep AMOUNT] [--name NAME]\n"
        "                               take AMOUNT and keep it until SIGINT or SIGTERM;\n"
        "                               bidirectional: give back down to --keep when asked\n"
        "\n"
        "Commands run in order on one connection: `mbctl request 8M return 4M query`.\n"
        "Quota belongs to the connection: what mbctl holds goes back when it exits.\n"
        "AMOUNT: bytes with K, M, G or T (64M), or pages with p (16384p).\n"
        "Socket: --socket, else $MEMBROKER_SOCKET, else " MB_CLIENT_DEFAULT_SOCKET ".\n"
        "Exit status: 0 done, 1 the broker granted less than asked or refused,\n"
        "2 usage error, 3 cannot reach the broker or it broke the protocol.\n");
}

static int exit_for(int err)
{
    if (err <= -MB_CLIENT_ERR_BASE)
        return EXIT_REFUSED; /* a refusal by the broker */
    return EXIT_BROKER;
}

static struct mb_client client;
static bool connected;

static int ensure_connected(uint32_t timeout_ms)
{
    if (connected)
        return 0;
    int rc = mb_client_connect_timeout(&client, timeout_ms);
    if (rc < 0) {
        fprintf(stderr, "mbctl: cannot reach the broker: %s\n", mb_client_strerror(rc));
        return rc;
    }
    connected = true;
    return 0;
}

/* AMOUNT text to pages with the broker's page size. */
static int parse_amount(const char *text, uint64_t *pages)
{
    char why_text[160];
    struct mb_strbuf why;
    mb_strbuf_init(&why, why_text, sizeof why_text);
    struct mb_size size;
    if (mb_value_parse_size(text, strlen(text), 0, &size, &why) < 0) {
        fprintf(stderr, "mbctl: \"%s\": %s\n", text, why_text);
        return -EINVAL;
    }
    uint32_t page_size = mb_client_page_size(&client);
    if (mb_size_resolve_pages(&size, page_size, 0, pages) < 0 || *pages > MB_PAGES_MAX) {
        fprintf(stderr, "mbctl: \"%s\": too large\n", text);
        return -EINVAL;
    }
    return 0;
}

static void print_pages(const char *what, uint64_t pages)
{
    char human[MB_SIZE_STRING_MAX];
    mb_format_pages(pages, mb_client_page_size(&client), human, sizeof human);
    printf("%s %llu pages (%s)\n", what, (unsigned long long)pages, human);
}

/* ---- status ------------------------------------------------------------ */

/* The broker's books, and the figures of the trackfs mounts among its
 * clients (read from each mount's statistics attribute). */
static int fetch_status(struct mbctl_status *st, uint32_t timeout_ms)
{
    int rc = mbctl_status_fetch(&client, st, timeout_ms);
    if (rc == 0)
        mbctl_trackfs_collect(st, "/proc");
    return rc;
}

static int cmd_status(bool json, uint32_t timeout_ms)
{
    static struct mbctl_status st;
    int rc = fetch_status(&st, timeout_ms);
    if (rc < 0) {
        fprintf(stderr, "mbctl: status: %s\n", mb_client_strerror(rc));
        return exit_for(rc);
    }
    if (json)
        mbctl_status_print_json(stdout, &st);
    else
        mbctl_status_print_table(stdout, &st);
    return EXIT_OK;
}

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int cmd_watch(uint32_t interval_ms, unsigned long count, uint32_t timeout_ms)
{
    static struct mbctl_status st;
    bool tty = isatty(STDOUT_FILENO);
    for (unsigned long i = 0; !stop_requested && (count == 0 || i < count); i++) {
        int rc = fetch_status(&st, timeout_ms);
        if (tty)
            fputs("\033[H\033[2J", stdout); /* home and clear */
        if (rc < 0)
            printf("broker unreachable: %s (retrying)\n", mb_client_strerror(rc));
        else
            mbctl_status_print_table(stdout, &st);
        if (!tty)
            puts("");
        fflush(stdout);
        if (count != 0 && i + 1 == count)
            break;
        struct timespec ts = {.tv_sec = interval_ms / 1000, .tv_nsec = (long)(interval_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return EXIT_OK;
}

/* ---- quota ------------------------------------------------------------- */

static int cmd_request(uint64_t pages, uint32_t timeout_ms)
{
    uint64_t granted = 0;
    int rc = mb_client_request_timeout(&client, pages, &granted, timeout_ms);
    if (rc < 0) {
        fprintf(stderr, "mbctl: request: %s\n", mb_client_strerror(rc));
        return exit_for(rc);
    }
    print_pages("granted", granted);
    return granted == pages ? EXIT_OK : EXIT_REFUSED;
}

static int cmd_reserve(uint64_t pages, uint32_t deadline_ms, uint32_t timeout_ms)
{
    int rc = mb_client_reserve_timeout(&client, pages, deadline_ms, timeout_ms);
    if (rc < 0) {
        fprintf(stderr, "mbctl: reserve: %s\n", mb_client_strerror(rc));
        return exit_for(rc);
    }
    print_pages("reserved", pages);
    return EXIT_OK;
}

static int cmd_return(uint64_t pages, uint32_t timeout_ms)
{
    int rc = mb_client_return_timeout(&client, pages, timeout_ms);
    if (rc == MB_CLIENT_ERR(MB_ERR_OVER_BALANCE)) {
        fprintf(stderr,
                "mbctl: return: this mbctl holds %llu pages; it can only give back what it took "
                "itself (e.g. mbctl request 8M return 4M)\n",
                (unsigned long long)mb_client_balance(&client));
        return EXIT_REFUSED;
    }
    if (rc < 0) {
        fprintf(stderr, "mbctl: return: %s\n", mb_client_strerror(rc));
        return exit_for(rc);
    }
    print_pages("returned", pages);
    return EXIT_OK;
}

static int cmd_query(uint32_t timeout_ms)
{
    struct mb_client_info info;
    int rc = mb_client_get_info_timeout(&client, &info, timeout_ms);
    if (rc < 0) {
        fprintf(stderr, "mbctl: query: %s\n", mb_client_strerror(rc));
        return exit_for(rc);
    }
    printf("client %u: page size %u, total %llu, pool %llu, balance %llu pages\n",
           (unsigned)info.client_id, (unsigned)info.page_size, (unsigned long long)info.total,
           (unsigned long long)info.pool, (unsigned long long)info.balance);
    return EXIT_OK;
}

/* hold --bidirectional: what it keeps whatever it is asked. */
static uint64_t hold_keep_pages;

static uint64_t hold_giveback(struct mb_client *c, void *arg, const struct mb_client_giveback *q)
{
    (void)c;
    (void)arg;
    uint64_t spare = q->balance > hold_keep_pages ? q->balance - hold_keep_pages : 0;
    uint64_t give = q->urgency == MB_URGENCY_URGENT ? spare : (q->pages < spare ? q->pages : spare);
    printf("give-back asked: %llu pages (%s), gave %llu, keeping %llu\n",
           (unsigned long long)q->pages, q->urgency == MB_URGENCY_URGENT ? "urgent" : "normal",
           (unsigned long long)give, (unsigned long long)(q->balance - give));
    fflush(stdout);
    return give;
}

static int cmd_hold(uint64_t pages, bool reserve, bool bidirectional, uint32_t timeout_ms)
{
    int rc = reserve ? mb_client_reserve(&client, pages, 0)
                     : mb_client_request_timeout(&client, pages, NULL, timeout_ms);
    if (rc < 0) {
        fprintf(stderr, "mbctl: hold: %s\n", mb_client_strerror(rc));
        return exit_for(rc);
    }
    print_pages("holding", mb_client_balance(&client));
    fflush(stdout);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) {
        perror("mbctl: signalfd");
        return EXIT_BROKER;
    }
    int cfd = bidirectional ? mb_client_get_fd(&client) : -1;
    for (;;) {
        struct pollfd fds[2] = {{.fd = sfd, .events = POLLIN}, {.fd = cfd, .events = POLLIN}};
        int n = poll(fds, cfd >= 0 ? 2 : 1, -1);
        if (n < 0 && errno != EINTR)
            break;
        if (fds[0].revents & POLLIN)
            break;
        if (cfd >= 0 && (fds[1].revents & POLLIN)) {
            rc = mb_client_dispatch(&client);
            if (rc < 0 && rc != -ENOTCONN) {
                fprintf(stderr, "mbctl: hold: %s\n", mb_client_strerror(rc));
                break;
            }
        }
    }
    print_pages("released", mb_client_balance(&client));
    close(sfd);
    return EXIT_OK;
}

/* ---- main -------------------------------------------------------------- */

static bool parse_u32(const char *text, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text || v > UINT32_MAX || text[0] == '-')
        return false;
    *out = (uint32_t)v;
    return true;
}

int main(int argc, char **argv)
{
    static const struct option global_options[] = {
        {"socket", required_argument, NULL, 's'}, {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *socket_path = NULL;
    uint32_t timeout_ms = MB_CLIENT_DEFAULT_TIMEOUT_MS;
    int opt;
    while ((opt = getopt_long(argc, argv, "+s:t:hV", global_options, NULL)) != -1) {
        switch (opt) {
        case 's': socket_path = optarg; break;
        case 't':
            if (!parse_u32(optarg, &timeout_ms) || timeout_ms == 0) {
                fprintf(stderr, "mbctl: --timeout \"%s\": milliseconds, at least 1\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); return EXIT_OK;
        case 'V': printf("mbctl %s (libmbclient %s)\n", MB_VERSION, mb_client_version()); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }

    /* hold --bidirectional needs the callback at init: look for it first. */
    bool bidirectional = false;
    const char *name = "mbctl";
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "--bidirectional") == 0)
            bidirectional = true;
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[i + 1];
    }
    struct mb_client_options copts;
    mb_client_options_init(&copts);
    copts.socket_path = socket_path;
    copts.name = name;
    copts.timeout_ms = timeout_ms;
    if (bidirectional) {
        copts.kind = MB_KIND_BIDIRECTIONAL;
        copts.giveback = hold_giveback;
    }
    int rc = mb_client_init(&client, &copts);
    if (rc < 0) {
        fprintf(stderr, "mbctl: %s\n", mb_client_strerror(rc));
        return EXIT_USAGE;
    }
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int status = EXIT_OK;
    for (int i = optind; i < argc && status != EXIT_USAGE && status != EXIT_BROKER;) {
        const char *cmd = argv[i++];
        bool needs_amount = strcmp(cmd, "request") == 0 || strcmp(cmd, "reserve") == 0 ||
                            strcmp(cmd, "return") == 0 || strcmp(cmd, "hold") == 0;
        bool known = needs_amount || strcmp(cmd, "status") == 0 || strcmp(cmd, "watch") == 0 ||
                     strcmp(cmd, "query") == 0;
        if (!known) {
            fprintf(stderr, "mbctl: unknown command \"%s\"\n", cmd);
            usage(stderr);
            status = EXIT_USAGE;
            break;
        }
        if (ensure_connected(timeout_ms) < 0) {
            status = EXIT_BROKER;
            break;
        }
        uint64_t pages = 0;
        if (needs_amount) {
            if (i >= argc) {
                fprintf(stderr, "mbctl: %s needs an AMOUNT\n", cmd);
                status = EXIT_USAGE;
                break;
            }
            if (parse_amount(argv[i++], &pages) < 0) {
                status = EXIT_USAGE;
                break;
            }
        }
        /* Options of this command, up to the next command word. */
        bool json = false, reserve = false;
        uint32_t interval_ms = 1000, deadline_ms = 0;
        unsigned long count = 0;
        while (i < argc && strncmp(argv[i], "--", 2) == 0) {
            const char *o = argv[i++];
            const char *value = i < argc ? argv[i] : NULL;
            if (strcmp(o, "--json") == 0) {
                json = true;
            } else if (strcmp(o, "--reserve") == 0) {
                reserve = true;
            } else if (strcmp(o, "--bidirectional") == 0) {
                /* taken above */
            } else if (strcmp(o, "--name") == 0 && value) {
                i++;
            } else if (strcmp(o, "--keep") == 0 && value) {
                if (parse_amount(value, &hold_keep_pages) < 0) {
                    status = EXIT_USAGE;
                    break;
                }
                i++;
            } else if ((strcmp(o, "--interval") == 0 || strcmp(o, "--deadline") == 0 ||
                        strcmp(o, "--count") == 0) && value) {
                uint32_t v;
                if (!parse_u32(value, &v) || (strcmp(o, "--interval") == 0 && v == 0)) {
                    fprintf(stderr, "mbctl: %s \"%s\": not a valid number\n", o, value);
                    status = EXIT_USAGE;
                    break;
                }
                if (strcmp(o, "--interval") == 0)
                    interval_ms = v;
                else if (strcmp(o, "--deadline") == 0)
                    deadline_ms = v;
                else
                    count = v;
                i++;
            } else {
                fprintf(stderr, "mbctl: %s: unknown option \"%s\"\n", cmd, o);
                status = EXIT_USAGE;
                break;
            }
        }
        if (status == EXIT_USAGE)
            break;
        int step;
        if (strcmp(cmd, "status") == 0)
            step = cmd_status(json, timeout_ms);
        else if (strcmp(cmd, "watch") == 0)
            step = cmd_watch(interval_ms, count, timeout_ms);
        else if (strcmp(cmd, "query") == 0)
            step = cmd_query(timeout_ms);
        else if (strcmp(cmd, "request") == 0)
            step = cmd_request(pages, timeout_ms);
        else if (strcmp(cmd, "reserve") == 0)
            step = cmd_reserve(pages, deadline_ms, deadline_ms ? deadline_ms + timeout_ms : MB_CLIENT_WAIT_FOREVER);
        else if (strcmp(cmd, "return") == 0)
            step = cmd_return(pages, timeout_ms);
        else
            step = cmd_hold(pages, reserve, bidirectional, timeout_ms);
        if (step > status)
            status = step;
    }
    mb_client_destroy(&client);
    return status;
}
