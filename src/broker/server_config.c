/* server_config.c: see server_config.h. */
#include "broker/server_config.h"

#include "common/numparse.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>

#define T struct mbserver_file_config
static const struct mb_config_key mbserver_keys[] = {
    [MBS_TOTAL] = MB_CONFIG_KEY_SIZE("TOTAL", T, total, MB_CONFIG_PERCENT | MB_CONFIG_ALL_EXCEPT),
    [MBS_SOCKET] = MB_CONFIG_KEY_STRING("SOCKET", T, socket),
    [MBS_SOCKET_MODE] = MB_CONFIG_KEY_STRING("SOCKET_MODE", T, socket_mode),
    [MBS_SOCKET_GROUP] = MB_CONFIG_KEY_STRING("SOCKET_GROUP", T, socket_group),
    [MBS_MAX_CLIENTS] = MB_CONFIG_KEY_U64_RANGE("MAX_CLIENTS", T, max_clients, 1,
                                                MB_BROKER_MAX_CLIENTS_LIMIT),
    [MBS_REQUEST_TIMEOUT] = MB_CONFIG_KEY_DURATION_RANGE("REQUEST_TIMEOUT", T, request_timeout_ms,
                                                         MB_DURATION_MS, 1, 3600000),
    [MBS_QUERY_TIMEOUT] = MB_CONFIG_KEY_DURATION_RANGE("QUERY_TIMEOUT", T, query_timeout_ms,
                                                       MB_DURATION_MS, 1, 3600000),
    [MBS_MISSED_DEADLINE_LIMIT] = MB_CONFIG_KEY_U64_RANGE("MISSED_DEADLINE_LIMIT", T,
                                                          missed_deadline_limit, 0, 1000000),
    [MBS_PRESSURE_RESERVE] = MB_CONFIG_KEY_SIZE("PRESSURE_RESERVE", T, pressure_reserve,
                                                MB_CONFIG_PERCENT),
    [MBS_ALLOW_UIDS] = MB_CONFIG_KEY_U64_LIST_RANGE("ALLOW_UIDS", T, allow_uids, allow_uid_count,
                                                    0, UINT32_MAX - 1),
    [MBS_ALLOW_GIDS] = MB_CONFIG_KEY_U64_LIST_RANGE("ALLOW_GIDS", T, allow_gids, allow_gid_count,
                                                    0, UINT32_MAX - 1),
    [MBS_PRIVILEGED_UIDS] = MB_CONFIG_KEY_U64_LIST_RANGE("PRIVILEGED_UIDS", T, privileged_uids,
                                                         privileged_uid_count, 0, UINT32_MAX - 1),
    [MBS_SEND_QUEUE_DEPTH] = MB_CONFIG_KEY_U64_RANGE("SEND_QUEUE_DEPTH", T, send_queue_depth, 1, 64),
    [MBS_LOG_LEVEL] = MB_CONFIG_KEY_STRING("LOG_LEVEL", T, log_level),
};
const struct mb_config_schema mbserver_config_schema =
    MB_CONFIG_SCHEMA(mbserver_keys, T, present, "MBSERVER_");
#undef T

void mbserver_file_config_defaults(struct mbserver_file_config *fc)
{
    memset(fc, 0, sizeof *fc);
    snprintf(fc->socket, sizeof fc->socket, "%s", MB_SERVER_DEFAULT_SOCKET);
    snprintf(fc->socket_mode, sizeof fc->socket_mode, "0660");
    fc->max_clients = 1024;
    fc->request_timeout_ms = 500;
    fc->query_timeout_ms = 200;
    fc->missed_deadline_limit = 0;
    fc->send_queue_depth = 8;
    snprintf(fc->log_level, sizeof fc->log_level, "info");
}

int mbserver_parse_log_level(const char *name)
{
    static const char *const names[] = {"err", "warning", "notice", "info", "debug"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0)
            return i + 3;
    return -1;
}

static int parse_mode(const char *text, unsigned *mode)
{
    size_t len = strlen(text);
    if (len == 0 || len > 4)
        return -EINVAL;
    unsigned value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '7')
            return -EINVAL;
        value = value * 8u + (unsigned)(text[i] - '0');
    }
    if (value > 0777)
        return -EINVAL;
    *mode = value;
    return 0;
}

static int parse_group(const char *text, gid_t *gid)
{
    if (text[0] == '\0') {
        *gid = (gid_t)-1;
        return 0;
    }
    uint64_t number;
    if (mb_parse_u64_exact(text, strlen(text), &number) == 0 && number < UINT32_MAX) {
        *gid = (gid_t)number;
        return 0;
    }
    const struct group *gr = getgrnam(text);
    if (gr == NULL)
        return -ENOENT;
    *gid = gr->gr_gid;
    return 0;
}

static void copy_ids(uint32_t *dst, size_t *dst_count, const uint64_t *src, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dst[i] = (uint32_t)src[i]; /* the key's range keeps them below 2^32 - 1 */
    *dst_count = count;
}

int mbserver_options_from_config(const struct mbserver_file_config *fc, uint64_t memtotal_bytes,
                                 uint64_t page_size, struct mb_server_options *opts, char *why,
                                 size_t why_len)
{
    if (!fc->present[MBS_TOTAL]) {
        snprintf(why, why_len, "no TOTAL: give --total AMOUNT or TOTAL in the config file");
        return -EINVAL;
    }
    uint64_t total_pages = 0;
    int rc = mb_size_resolve_pages(&fc->total, page_size, memtotal_bytes, &total_pages);
    if (rc < 0 || total_pages == 0 || total_pages > MB_PAGES_MAX) {
        snprintf(why, why_len, "TOTAL does not resolve to a usable number of pages (%s)",
                 rc == -ERANGE ? "too large" : rc < 0 ? "larger than this machine's RAM" : "zero");
        return -EINVAL;
    }
    if (page_size > UINT32_MAX) {
        snprintf(why, why_len, "page size %llu is not supported", (unsigned long long)page_size);
        return -EINVAL;
    }
    mb_server_options_defaults(opts, total_pages, (uint32_t)page_size);
    opts->socket_path = fc->socket;
    if (parse_mode(fc->socket_mode, &opts->socket_mode) < 0) {
        snprintf(why, why_len, "SOCKET_MODE \"%s\" is not an octal mode such as 0660",
                 fc->socket_mode);
        return -EINVAL;
    }
    if (parse_group(fc->socket_group, &opts->socket_group) < 0) {
        snprintf(why, why_len, "SOCKET_GROUP \"%s\": no such group", fc->socket_group);
        return -EINVAL;
    }
    opts->broker.max_clients = (uint32_t)fc->max_clients;
    opts->broker.request_timeout_ns = fc->request_timeout_ms * 1000000u;
    opts->broker.query_timeout_ns = fc->query_timeout_ms * 1000000u;
    opts->broker.missed_deadline_limit = (uint32_t)fc->missed_deadline_limit;
    if (fc->present[MBS_PRESSURE_RESERVE]) {
        uint64_t reserve = 0;
        if (mb_size_resolve_pages(&fc->pressure_reserve, page_size, memtotal_bytes, &reserve) < 0 ||
            reserve > total_pages) {
            snprintf(why, why_len, "PRESSURE_RESERVE must resolve to at most TOTAL");
            return -EINVAL;
        }
        opts->broker.pressure_reserve_pages = reserve;
    }
    copy_ids(opts->allow_uids, &opts->allow_uid_count, fc->allow_uids, fc->allow_uid_count);
    copy_ids(opts->allow_gids, &opts->allow_gid_count, fc->allow_gids, fc->allow_gid_count);
    copy_ids(opts->privileged_uids, &opts->privileged_uid_count, fc->privileged_uids,
             fc->privileged_uid_count);
    opts->send_queue_depth = (uint32_t)fc->send_queue_depth;
    if (mbserver_parse_log_level(fc->log_level) < 0) {
        snprintf(why, why_len, "LOG_LEVEL \"%s\" is not one of err, warning, notice, info, debug",
                 fc->log_level);
        return -EINVAL;
    }
    return 0;
}
